//! Serving files from a document root.
//!
//! - [`resolve`]: URL path → file under the root, or a rejection (pure normalisation, then a
//!   canonical-path containment check).
//! - [`conditional`]: validators and preconditions (RFC 9110 §13).
//! - [`range`]: byte ranges (RFC 9110 §14).
//! - [`negotiate`]: `Accept-Encoding` (RFC 9110 §12.5.3).
//! - [`mime`]: `Content-Type` and compressibility.
//! - [`plan`]: the pure decision combining all of the above from metadata.
//! - [`fs`]: the blocking reads and gzip compression that carry a decision out.
//! - [`content`]: large content left for the server to stream, and the chunked reads that
//!   check the file did not change since the decision.
//! - [`cached`]: files held in a server's cache, answered from memory with the same decision.
//!
//! [`StaticFiles::prepare`] is the entry point for a server that streams: it reads content of
//! at most [`StaticOptions::max_inline_bytes`] and describes anything longer as a
//! [`FileContent`]. [`StaticFiles::serve`] is `prepare` followed by reading that description
//! into memory. A server with a file cache loads entries with [`StaticFiles::load`] and answers
//! hits with [`StaticFiles::respond_cached`]: the same decision, with the bytes taken from
//! memory.

pub mod cached;
pub mod conditional;
pub mod content;
pub mod fs;
pub mod mime;
pub mod negotiate;
pub mod plan;
pub mod range;
pub mod resolve;

pub use cached::{CachedFile, NotCacheable};
pub use content::{ContentReader, FileChanged, FileContent, Prepared, Segment};

use crate::method::Method;
use crate::request::Request;
use crate::response::Response;
use crate::status::StatusCode;
use plan::{Computed, FileFacts, FileInfo};
use resolve::{Located, Rejection};
use std::borrow::Cow;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

/// The methods a static mount answers; anything else is 405 without touching the file system.
pub const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";

/// Settings for a static mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticOptions {
    /// File served for a directory URL ending in `/`.
    pub index_file: String,
    /// Serve files and directories whose name starts with `.`; off by default so `.git` or `.env`
    /// in a document root are never exposed.
    pub show_dotfiles: bool,
    /// Compress compressible files on the fly when the client accepts gzip.
    pub gzip: bool,
    /// Files smaller than this are not compressed on the fly: gzip's overhead outweighs the gain.
    pub gzip_min_bytes: u64,
    /// Files larger than this are not compressed on the fly, bounding CPU and memory per request;
    /// a precompressed sibling is still used. Compression also needs the file in memory, so the
    /// effective limit is the smaller of this and `max_inline_bytes`.
    pub gzip_max_bytes: u64,
    /// gzip level 0-9.
    pub gzip_level: u32,
    /// Serve `file.gz` instead of compressing when it exists and is not older than `file`.
    pub precompressed: bool,
    /// Most ranges honoured in one request; more are answered with the whole file.
    pub max_ranges: usize,
    /// `Cache-Control` value added to file responses, if any.
    pub cache_control: Option<String>,
    /// Content (whole file, range or multipart body) longer than this is never read into
    /// memory: [`StaticFiles::prepare`] answers with [`Body::Deferred`](crate::Body::Deferred)
    /// and leaves it to the server to stream, and it is never compressed on the fly. Default
    /// 256 KiB: typical pages, scripts and stylesheets go out in one write, while a thousand
    /// concurrent responses hold at most 256 MiB of content between them (streamed ones only
    /// the server's chunk buffers).
    pub max_inline_bytes: u64,
}

impl Default for StaticOptions {
    fn default() -> Self {
        StaticOptions {
            index_file: "index.html".to_owned(),
            show_dotfiles: false,
            gzip: true,
            gzip_min_bytes: 1024,
            gzip_max_bytes: 8 * 1024 * 1024,
            gzip_level: 6,
            precompressed: true,
            max_ranges: 16,
            cache_control: None,
            max_inline_bytes: 256 * 1024,
        }
    }
}

/// A document root and how to serve it.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    /// Canonical document root; every served path must stay below it.
    root: PathBuf,
    /// Serving options.
    options: StaticOptions,
}

/// The file a path tail names, and what deciding needs to know of it.
struct Target {
    /// Canonical path, inside the root.
    path: PathBuf,
    /// Its metadata when it was located.
    facts: FileFacts,
    /// Its `Content-Type`, from the file name.
    content_type: Cow<'static, str>,
    /// `file.gz` and its metadata, when the type could use one and it exists inside the root.
    sibling: Option<(PathBuf, FileFacts)>,
}

/// Why a tail names no file to serve.
enum Unresolved {
    /// A directory without the trailing slash: 301 to the slash form.
    RedirectToDirectory,
    /// Malformed, missing, hidden or outside the root.
    Rejected(Rejection),
}

impl StaticFiles {
    /// Serves `root`, which must be an existing directory. Fails with `InvalidInput` when the index
    /// name is not a plain file name or the `Cache-Control` value is not a valid field value.
    pub fn new(root: impl AsRef<Path>, options: StaticOptions) -> io::Result<Self> {
        let root = std::fs::canonicalize(root)?;
        if !std::fs::metadata(&root)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "document root is not a directory",
            ));
        }
        let mut index = Path::new(&options.index_file).components();
        if !matches!(
            (index.next(), index.next()),
            (Some(Component::Normal(_)), None)
        ) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "index file must be a plain file name",
            ));
        }
        if let Some(cache_control) = &options.cache_control {
            Response::new(StatusCode::OK)
                .with_header("Cache-Control", cache_control.clone())
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        }
        Ok(StaticFiles { root, options })
    }

    /// The canonical document root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The serving options.
    pub fn options(&self) -> &StaticOptions {
        &self.options
    }

    /// Answers `request` for `tail`, the still-encoded part of the path below the mount point
    /// (empty or starting with `/`), with the whole content in memory. Performs blocking
    /// file-system reads for GET and HEAD only. The same decision as [`StaticFiles::prepare`],
    /// whose deferred content is then read: a server that streams large files calls `prepare`.
    pub fn serve(&self, request: &Request, tail: &str) -> Response {
        self.prepare(request, tail)
            .into_inline()
            .unwrap_or_else(|_| internal_error())
    }

    /// Answers `request` for `tail` (as for [`StaticFiles::serve`]) without reading content
    /// longer than [`StaticOptions::max_inline_bytes`]: such a response has
    /// [`Body::Deferred`](crate::Body::Deferred) and [`Prepared::content`] says which bytes the
    /// server must write after the head (see [`content`] for how to read them and for what
    /// happens when the file changes in between). Shorter content is read into `Body::Full` and
    /// HEAD gets `Body::LengthOnly`, as from `serve`. Blocking: metadata for every GET and HEAD,
    /// reads for short content only.
    pub fn prepare(&self, request: &Request, tail: &str) -> Prepared {
        match request.method() {
            Method::Get | Method::Head => {}
            Method::Options => return allow(StatusCode::NO_CONTENT).into(),
            _ => return allow(StatusCode::METHOD_NOT_ALLOWED).into(),
        }
        let target = match self.target(tail) {
            Ok(target) => target,
            Err(Unresolved::RedirectToDirectory) => return redirect_to_directory(request).into(),
            Err(Unresolved::Rejected(rejection)) => return rejected(rejection).into(),
        };
        let info = FileInfo {
            facts: target.facts,
            content_type: &target.content_type,
            precompressed: target.sibling.as_ref().map(|(_, facts)| *facts),
        };
        let fields = Computed {
            file: &info,
            cache_control: self.options.cache_control.as_deref(),
        };
        let decision = plan::decide_with(request, &info, &fields, &self.options, SystemTime::now);
        let sources = fs::Sources {
            file: &target.path,
            precompressed: target
                .sibling
                .as_ref()
                .map(|(path, facts)| (path.as_path(), *facts)),
            facts: target.facts,
        };
        fs::prepare(
            decision,
            request.method() == Method::Head,
            &sources,
            self.options.gzip_level,
            self.options.max_inline_bytes,
        )
        .unwrap_or_else(|_| internal_error().into())
    }

    /// Resolves `tail` to a file: decoding and normalisation, dot-files, containment in the
    /// root, a directory's index, and the precompressed sibling when the type could use one.
    /// Blocking: metadata only.
    fn target(&self, tail: &str) -> Result<Target, Unresolved> {
        let located = resolve::normalize(tail)
            .and_then(|path| resolve::locate(&self.root, &path, &self.options));
        let (path, metadata) = match located {
            Ok(Located::File { path, metadata }) => (path, metadata),
            Ok(Located::RedirectToDirectory) => return Err(Unresolved::RedirectToDirectory),
            Err(rejection) => return Err(Unresolved::Rejected(rejection)),
        };
        let content_type = mime::content_type(&path);
        let sibling = if self.options.precompressed && mime::is_compressible(&content_type) {
            self.precompressed_sibling(&path)
        } else {
            None
        };
        Ok(Target {
            facts: FileFacts::from_metadata(&metadata),
            path,
            content_type,
            sibling,
        })
    }

    /// `file.gz` next to `file`, if it is a regular file inside the root.
    fn precompressed_sibling(&self, file: &Path) -> Option<(PathBuf, FileFacts)> {
        let mut name = file.as_os_str().to_owned();
        name.push(".gz");
        let path = resolve::canonical_inside(&self.root, Path::new(&name), &self.options).ok()?;
        let metadata = std::fs::metadata(&path).ok()?;
        metadata
            .is_file()
            .then(|| (path, FileFacts::from_metadata(&metadata)))
    }
}

fn internal_error() -> Response {
    Response::text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n")
}

fn allow(status: StatusCode) -> Response {
    let mut response = Response::new(status);
    response.push_unchecked("Allow", ALLOWED_METHODS);
    response
}

fn rejected(rejection: Rejection) -> Response {
    // Static bodies: a server answering a scan of missing paths from its cache allocates no
    // text per 404.
    let text: &'static str = match rejection {
        Rejection::BadRequest => "bad request\n",
        Rejection::NotFound => "not found\n",
        Rejection::Forbidden => "forbidden\n",
    };
    let mut response = Response::new(rejection.status());
    response.push_unchecked("Content-Type", "text/plain; charset=utf-8");
    response.set_body(crate::response::Body::Full(bytes::Bytes::from_static(
        text.as_bytes(),
    )));
    response
}

/// 301 to the same path with `/` appended, query preserved (the path is the validated,
/// still-encoded request path, so it is a valid field value).
fn redirect_to_directory(request: &Request) -> Response {
    let location = match request.query() {
        Some(query) => format!("{}/?{query}", request.path()),
        None => format!("{}/", request.path()),
    };
    let mut response = Response::text(StatusCode::MOVED_PERMANENTLY, "moved permanently\n");
    response.push_unchecked("Location", location);
    response
}
