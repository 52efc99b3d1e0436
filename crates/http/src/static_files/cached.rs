//! Files held in memory by a server's file cache, answered without touching the file system.
//!
//! On a cache miss the server calls [`StaticFiles::load`] on a blocking thread. It resolves the
//! tail exactly as [`StaticFiles::prepare`] does and, for a regular file of at most `max_bytes`,
//! reads it into a [`CachedFile`] together with everything a response needs that does not depend
//! on the request: the metadata the validators come from, the `Content-Type`, `ETag` (identity
//! and gzip), `Last-Modified` and `Cache-Control` values formatted once, and the fresh
//! precompressed `file.gz` sibling when there is one. What cannot be cached comes back as a
//! [`NotCacheable`] reason, and the server answers those requests with `prepare` as before.
//!
//! A hit is [`StaticFiles::respond_cached`]: the decision of [`plan::decide`](super::plan::decide)
//! (one implementation of the rules, shared with `prepare`), with content taken from memory.
//! It performs no file-system access at all, so it can run on the event loop. A plain 200
//! allocates once (the response's field list): its body and its field values are shared with the
//! entry, at the cost of two reference-count increments (one for the body, one for the table of
//! precomputed values).
//!
//! # Keys
//!
//! The cache key is the request's still-encoded path tail, the same string `prepare` takes, so a
//! hit needs no decoding or resolution. Two tails naming the same file (`/%61.txt` and `/a.txt`,
//! `/x/../f` and `/f`, `/docs/` and `/docs/index.html`) are two entries holding the same bytes;
//! that costs memory, never correctness, since each entry answers exactly as `prepare` would for
//! its own tail. A tail is relative to its mount: with several static mounts, key by the whole
//! request path (prefix and tail) or keep one cache per mount.
//!
//! # Staleness
//!
//! An entry describes the file when it was loaded. [`StaticFiles::is_current`] resolves the tail
//! again and compares path, size, modification time and inode of the file and of its `.gz`
//! sibling; the server calls it (blocking) every so often and drops entries it rejects.
//!
//! # gzip
//!
//! The gzip variant is compressed at most once per entry, by the first request that needs it
//! (or ahead of time by [`StaticFiles::precompress`] on a blocking thread, which keeps that
//! one compression off the event loop), and shared by every later response. The rules for when
//! it is used are the same as for files on disk; the output is used even in the rare case it is
//! not smaller than the file, because the gzip `ETag` a client holds must mean the same thing
//! whether or not the server has the file cached.

use super::content::{self, multipart_segments, FileChanged, Segment};
use super::plan::{self, Content, Decision, Fields, FileFacts, FileInfo, Offer, Variant};
use super::resolve::Rejection;
use super::{allow, fs, mime, StaticFiles, Unresolved};
use crate::method::Method;
use crate::request::Request;
use crate::response::{field_text, Body, FieldTable, FieldValue, Response};
use crate::status::StatusCode;
use bytes::Bytes;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

/// A static file held in memory, with the response fields that do not depend on the request.
///
/// Made by [`StaticFiles::load`] and answered by [`StaticFiles::respond_cached`] of the same
/// `StaticFiles` (its options decide the answers; an entry must not be answered by a mount
/// configured differently). `Send + Sync`: one entry serves concurrent requests on any thread.
#[derive(Debug)]
pub struct CachedFile {
    /// The tail it was loaded for (the cache key), so that revalidation can resolve it again.
    tail: Box<str>,
    /// Canonical path of the file inside the root: what revalidation compares against.
    path: PathBuf,
    /// Size, modification time and inode of the bytes in `body`: the validators come from them,
    /// and revalidation notices a change by them.
    facts: FileFacts,
    /// Whether the type is worth compressing, decided once rather than per request.
    compressible: bool,
    /// `Content-Type` (at `CONTENT_TYPE`), the `ETag`s of the file (`ETAG`) and of its gzip
    /// variant (`GZIP_ETAG`, its own tag: RFC 9110 §8.8.3), then `Last-Modified`,
    /// `Cache-Control` and the sibling's values where there are any: formatted once, and shared
    /// by every response with a single reference count.
    fields: FieldTable,
    /// Position of `Last-Modified` in `fields`, when the file system reports a modification time.
    last_modified: Option<u8>,
    /// Position of the mount's `Cache-Control` in `fields`, if configured.
    cache_control: Option<u8>,
    /// The file's content; responses get reference-counted clones and slices of it.
    body: Bytes,
    /// The gzip-compressed content, computed by the first request that needs it and then shared.
    gzip: OnceLock<Bytes>,
    /// The precompressed sibling, when it exists, is fresh and was read.
    precompressed: Option<CachedSibling>,
    /// Metadata of `file.gz` when it was looked for, fresh or stale: revalidation notices one
    /// appearing, changing or disappearing.
    sibling_seen: Option<FileFacts>,
}

/// A precompressed `file.gz` held in memory (nginx gzip_static).
#[derive(Debug)]
struct CachedSibling {
    /// Its canonical path, for diagnostics.
    path: PathBuf,
    /// Its metadata: the precompressed variant's validators and length.
    facts: FileFacts,
    /// Its content.
    body: Bytes,
    /// Position of its `ETag` (from its own metadata) in the file's `fields`.
    etag: u8,
    /// Position of its `Last-Modified` in the file's `fields`.
    last_modified: Option<u8>,
}

/// Position of `Content-Type` in a cached file's field table.
const CONTENT_TYPE: u8 = 0;
/// Position of the file's `ETag`.
const ETAG: u8 = 1;
/// Position of the gzip variant's `ETag`.
const GZIP_ETAG: u8 = 2;

/// Why a tail was not loaded into memory. The server answers such requests with
/// [`StaticFiles::prepare`], which gives the redirect, the error page or the streamed file.
#[derive(Debug)]
pub enum NotCacheable {
    /// A directory named without its trailing slash: the answer is a 301 whose `Location`
    /// depends on the request's query.
    RedirectToDirectory,
    /// Refused, as `prepare` refuses it: malformed (400); missing, hidden (a dot-file), or not a
    /// regular file such as a directory without index, a FIFO or a device (404); outside the
    /// root through a symlink (403).
    Rejected(Rejection),
    /// The file, or its fresh precompressed sibling, is longer than `max_bytes`.
    TooLarge {
        /// Its length.
        len: u64,
    },
    /// The file or its sibling changed while it was being read.
    Changed,
    /// Reading failed (for example a file without read permission); `prepare` answers such a
    /// file with 500.
    Io(io::Error),
}

impl fmt::Display for NotCacheable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotCacheable::RedirectToDirectory => f.write_str("directory without trailing slash"),
            NotCacheable::Rejected(rejection) => write!(f, "rejected: {}", rejection.status()),
            NotCacheable::TooLarge { len } => write!(f, "too large to cache ({len} bytes)"),
            NotCacheable::Changed => f.write_str("file changed while being read"),
            NotCacheable::Io(error) => write!(f, "read failed: {error}"),
        }
    }
}

impl std::error::Error for NotCacheable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NotCacheable::Io(error) => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for NotCacheable {
    fn from(error: io::Error) -> Self {
        if FileChanged::is(&error) {
            NotCacheable::Changed
        } else {
            NotCacheable::Io(error)
        }
    }
}

impl CachedFile {
    /// The still-encoded path tail it was loaded for: its cache key.
    pub fn tail(&self) -> &str {
        &self.tail
    }

    /// The canonical path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size, modification time and inode of the content held.
    pub fn facts(&self) -> FileFacts {
        self.facts
    }

    /// The `Content-Type`.
    pub fn content_type(&self) -> &str {
        &self.fields[usize::from(CONTENT_TYPE)]
    }

    /// The file's content.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The gzip variant, once a request (or [`StaticFiles::precompress`]) computed it.
    pub fn gzip(&self) -> Option<&Bytes> {
        self.gzip.get()
    }

    /// The precompressed sibling's path, metadata and content, when one is held.
    pub fn precompressed(&self) -> Option<(&Path, FileFacts, &Bytes)> {
        self.precompressed
            .as_ref()
            .map(|sibling| (sibling.path.as_path(), sibling.facts, &sibling.body))
    }

    /// Bytes of content held: the file, the sibling and the gzip variant once computed. The
    /// last grows once, on the first gzip request, so a cache bounded by bytes should count
    /// an entry again after answering with it, or call [`StaticFiles::precompress`] before
    /// inserting it.
    pub fn memory_bytes(&self) -> u64 {
        let sibling = self
            .precompressed
            .as_ref()
            .map_or(0, |sibling| sibling.body.len());
        let gzip = self.gzip.get().map_or(0, Bytes::len);
        (self.body.len() + sibling + gzip) as u64
    }

    /// What the rules need to know of the file.
    fn info(&self) -> FileInfo<'_> {
        FileInfo {
            facts: self.facts,
            content_type: self.content_type(),
            precompressed: self.precompressed.as_ref().map(|sibling| sibling.facts),
        }
    }

    /// The gzip variant, compressing it if no request did yet. Concurrent first requests wait
    /// for one compression rather than each doing their own.
    fn gzip_bytes(&self, level: u32) -> &Bytes {
        self.gzip.get_or_init(|| {
            // Compressing into a Vec has no I/O that could fail.
            let compressed = fs::gzip(&self.body, level).expect("gzip into memory cannot fail");
            Bytes::from_owner(compressed)
        })
    }

    /// The bytes of `variant`.
    fn variant_bytes(&self, variant: Variant, gzip_level: u32) -> Bytes {
        match (variant, &self.precompressed) {
            (Variant::Identity, _) => self.body.clone(),
            (Variant::Gzip, _) => self.gzip_bytes(gzip_level).clone(),
            (Variant::Precompressed, Some(sibling)) => sibling.body.clone(),
            // The rules only choose this variant when a sibling is held.
            (Variant::Precompressed, None) => self.body.clone(),
        }
    }
}

/// The entry's precomputed values: entries of its table, which the response shares.
impl Fields for CachedFile {
    fn compressible(&self) -> bool {
        self.compressible
    }

    fn table(&self) -> Option<FieldTable> {
        Some(self.fields.clone())
    }

    fn content_type(&self) -> FieldValue {
        FieldValue::Table(CONTENT_TYPE)
    }

    fn cache_control(&self) -> Option<FieldValue> {
        self.cache_control.map(FieldValue::Table)
    }

    fn etag(&self, variant: Variant) -> FieldValue {
        FieldValue::Table(match (variant, &self.precompressed) {
            (Variant::Identity, _) => ETAG,
            (Variant::Precompressed, Some(sibling)) => sibling.etag,
            (Variant::Gzip | Variant::Precompressed, _) => GZIP_ETAG,
        })
    }

    fn last_modified(&self, variant: Variant) -> Option<FieldValue> {
        match (variant, &self.precompressed) {
            (Variant::Precompressed, Some(sibling)) => sibling.last_modified,
            _ => self.last_modified,
        }
        .map(FieldValue::Table)
    }

    fn text<'a>(&'a self, value: &'a FieldValue) -> &'a str {
        field_text(value, Some(&self.fields))
    }
}

impl StaticFiles {
    /// Loads the file `tail` names into memory for a file cache, when it can be answered from
    /// memory: a regular file (or a directory's index) of at most `max_bytes`, whose fresh
    /// precompressed sibling, if any, is also at most `max_bytes`. `tail` is resolved exactly as
    /// by [`StaticFiles::prepare`] (percent-decoding, dot-segments, dot-files, symlink
    /// containment, index file); anything `prepare` would answer otherwise than with the file's
    /// content is a [`NotCacheable`] reason. Blocking: run it off the event loop.
    ///
    /// The content is checked against the metadata of the open file after reading, so an entry
    /// never pairs bytes with validators of another version of the file.
    pub fn load(&self, tail: &str, max_bytes: u64) -> Result<CachedFile, NotCacheable> {
        let target = self.target(tail).map_err(|unresolved| match unresolved {
            Unresolved::RedirectToDirectory => NotCacheable::RedirectToDirectory,
            Unresolved::Rejected(rejection) => NotCacheable::Rejected(rejection),
        })?;
        let (body, facts) = read_whole(&target.path, target.facts.len, max_bytes)?;
        let compressible = mime::is_compressible(&target.content_type);
        let mut fields: Vec<Box<str>> = vec![
            target.content_type.as_ref().into(),
            facts.etag("").into(),
            facts.etag(plan::GZIP_SUFFIX).into(),
        ];
        let mut add = |value: String| {
            fields.push(value.into());
            u8::try_from(fields.len() - 1).expect("at most seven values")
        };
        let last_modified = facts
            .modified
            .map(|time| add(httpdate::fmt_http_date(time)));
        let cache_control = self.options.cache_control.clone().map(&mut add);
        let sibling_seen = target.sibling.as_ref().map(|(_, facts)| *facts);
        let precompressed = match target.sibling {
            Some((path, sibling))
                if plan::sibling_usable(&facts, &sibling, compressible, &self.options) =>
            {
                let (body, sibling) = read_whole(&path, sibling.len, max_bytes)?;
                if !plan::sibling_usable(&facts, &sibling, compressible, &self.options)
                    || Some(sibling) != sibling_seen
                {
                    return Err(NotCacheable::Changed);
                }
                Some(CachedSibling {
                    path,
                    etag: add(sibling.etag(plan::GZIP_SUFFIX)),
                    last_modified: sibling
                        .modified
                        .map(|time| add(httpdate::fmt_http_date(time))),
                    facts: sibling,
                    body,
                })
            }
            _ => None,
        };
        Ok(CachedFile {
            tail: tail.into(),
            path: target.path,
            compressible,
            fields: fields.into(),
            last_modified,
            cache_control,
            facts,
            body,
            gzip: OnceLock::new(),
            precompressed,
            sibling_seen,
        })
    }

    /// Answers `request` from `file`, a [`StaticFiles::load`] result of this `StaticFiles`,
    /// exactly as [`StaticFiles::serve`] answers it for the file's tail while the file is
    /// unchanged: preconditions (304/412), ranges (206 with one range or
    /// `multipart/byteranges`, 416), gzip negotiation with its own `ETag` and `Vary`, the
    /// precompressed sibling, 406, HEAD (`Body::LengthOnly`), and OPTIONS/405 for other methods.
    ///
    /// Never touches the file system. The body of a 200 is the entry's own `Bytes` and that of a
    /// single range a slice of it, neither copied; a multipart body is assembled. The first
    /// request that gets the gzip variant compresses the file (at most
    /// [`StaticOptions::max_inline_bytes`](super::StaticOptions) and `gzip_max_bytes`) unless
    /// [`StaticFiles::precompress`] did it already.
    pub fn respond_cached(&self, file: &CachedFile, request: &Request) -> Response {
        let head = match request.method() {
            Method::Get => false,
            Method::Head => true,
            Method::Options => return allow(StatusCode::NO_CONTENT),
            _ => return allow(StatusCode::METHOD_NOT_ALLOWED),
        };
        let decision =
            plan::decide_with(request, &file.info(), file, &self.options, SystemTime::now);
        self.materialize(decision, head, file)
    }

    /// Answers `request` for a tail that [`StaticFiles::load`] refused with
    /// [`NotCacheable::Rejected`], exactly as [`StaticFiles::prepare`] answers it while the
    /// tail is still refused the same way (see [`StaticFiles::still_refused`]): OPTIONS and
    /// other methods as for any tail, GET and HEAD with the rejection's status. This lets a cache
    /// remember a 404 (a negative entry, as nginx's `open_file_cache_errors`) and answer it
    /// without touching the file system. Never touches the file system.
    pub fn respond_refused(&self, rejection: Rejection, request: &Request) -> Response {
        match request.method() {
            Method::Get | Method::Head => super::rejected(rejection),
            Method::Options => allow(StatusCode::NO_CONTENT),
            _ => allow(StatusCode::METHOD_NOT_ALLOWED),
        }
    }

    /// Whether `tail` is still refused with `rejection` (the file is still missing, hidden,
    /// outside the root …): the check that keeps a negative cache entry. Blocking: metadata
    /// only.
    pub fn still_refused(&self, tail: &str, rejection: Rejection) -> bool {
        matches!(self.target(tail), Err(Unresolved::Rejected(now)) if now == rejection)
    }

    /// Compresses `file`'s gzip variant now, if the rules can ever serve it (gzip enabled, a
    /// compressible type, a size within the gzip limits and no precompressed sibling taking its
    /// place). Returns whether the entry holds a gzip variant afterwards. Call it on a blocking
    /// thread after [`StaticFiles::load`] to keep even the first gzip hit from compressing on
    /// the event loop, and to know [`CachedFile::memory_bytes`] before inserting the entry.
    pub fn precompress(&self, file: &CachedFile) -> bool {
        let offer = Offer::of(&file.info(), file.compressible, &self.options);
        if offer.compresses() {
            file.gzip_bytes(self.options.gzip_level);
        }
        file.gzip.get().is_some()
    }

    /// Whether `file` still describes what its tail names on disk: the tail resolves to the
    /// same path, whose size, modification time and inode are unchanged, and the `.gz` sibling
    /// is as it was (absent, or with the same metadata). False for a deleted, replaced, touched
    /// or no longer reachable file. Blocking: metadata only.
    pub fn is_current(&self, file: &CachedFile) -> bool {
        match self.target(&file.tail) {
            Ok(target) => {
                target.path == file.path
                    && target.facts == file.facts
                    && target.sibling.map(|(_, facts)| facts) == file.sibling_seen
            }
            Err(_) => false,
        }
    }

    /// Puts the content a decision asks for into its response, from memory.
    fn materialize(&self, decision: Decision, head: bool, file: &CachedFile) -> Response {
        let Decision {
            mut response,
            content,
        } = decision;
        let level = self.options.gzip_level;
        let body = match content {
            Content::None => return response,
            Content::Whole(variant) => file.variant_bytes(variant, level),
            Content::Range(variant, range) => {
                // The range was evaluated against this variant's length, which is the
                // length of these bytes.
                let start = range.start as usize;
                file.variant_bytes(variant, level)
                    .slice(start..start + range.len() as usize)
            }
            Content::Multipart(variant, parts, end) => {
                let data = file.variant_bytes(variant, level);
                let segments = multipart_segments(parts, end);
                let len = segments.iter().map(Segment::len).sum::<u64>() as usize;
                let mut out = Vec::with_capacity(len);
                for segment in &segments {
                    match segment {
                        Segment::Literal(bytes) => out.extend_from_slice(bytes),
                        Segment::File { offset, len } => {
                            let start = *offset as usize;
                            out.extend_from_slice(&data[start..start + *len as usize]);
                        }
                    }
                }
                Bytes::from(out)
            }
        };
        response.set_body(if head {
            Body::LengthOnly(body.len() as u64)
        } else {
            Body::Full(body)
        });
        response
    }
}

/// Reads the whole regular file at `path`, located with length `located_len`, when it holds at
/// most `max_bytes`; its content and the metadata of the handle it was read through, checked
/// again after reading.
fn read_whole(
    path: &Path,
    located_len: u64,
    max_bytes: u64,
) -> Result<(Bytes, FileFacts), NotCacheable> {
    if located_len > max_bytes {
        return Err(NotCacheable::TooLarge { len: located_len });
    }
    let file = content::open_located(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        // It was a regular file when located: it has been replaced since.
        return Err(NotCacheable::Changed);
    }
    let facts = FileFacts::from_metadata(&metadata);
    if facts.len > max_bytes {
        return Err(NotCacheable::TooLarge { len: facts.len });
    }
    let len = usize::try_from(facts.len).map_err(|_| NotCacheable::TooLarge { len: facts.len })?;
    let mut data = vec![0; len];
    content::read_file_at(&file, 0, &mut data)?;
    content::verify(&file, &facts)?;
    Ok((Bytes::from_owner(data), facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<CachedFile>();
        shared::<NotCacheable>();
    }
}
