//! What the static-file cache holds: a file in memory (and, when large, kept open for
//! `sendfile`), or a remembered refusal. Entries are keyed by request path and remember the
//! mount they were loaded from, so neither loading nor revalidating looks a route up.

use std::sync::Arc;

use web_server_http::response::Body;
use web_server_http::static_files::resolve::Rejection;
use web_server_http::static_files::{CachedFile, NotCacheable};
use web_server_http::{Request, Response, StaticFiles};

use super::{CacheHandle, Loader, Weighed};
use crate::zero_copy::{FileBody, FileRange};

/// Where a missed request path's file is: the static mount it was routed to, and where the
/// path below the mount starts.
pub struct StaticSource {
    /// The mount.
    pub files: Arc<StaticFiles>,
    /// The byte offset in the request path where the part below the mount begins.
    pub tail_start: usize,
}

impl StaticSource {
    /// The part of `key` (the request path) below the mount.
    fn tail<'k>(&self, key: &'k str) -> &'k str {
        key.get(self.tail_start..).unwrap_or_default()
    }
}

/// Loads static files into the cache.
pub struct StaticLoader {
    /// Larger files are streamed, never cached (`cache.max_file_bytes`).
    max_file_bytes: u64,
}

impl StaticLoader {
    /// A loader that caches files of at most `max_file_bytes`.
    pub fn new(max_file_bytes: u64) -> Arc<Self> {
        Arc::new(StaticLoader { max_file_bytes })
    }
}

/// What the static cache holds for a request path.
// Every entry lives in its own `Arc`, allocated once per load: a small `Refused` wastes a few
// hundred bytes per remembered 404 (at most `cache.max_negative_entries` of them), where boxing
// the file would cost every hit an indirection.
#[allow(clippy::large_enum_variant)]
pub enum StaticEntry {
    /// The file (or directory index) in memory.
    File {
        /// The mount it was loaded from, for revalidation.
        source: StaticSource,
        /// Content, validators and variants.
        file: CachedFile,
        /// The file kept open for `sendfile`, when it is large (see [`crate::zero_copy`]).
        sendable: Option<Arc<FileBody>>,
    },
    /// A negative entry: the path is refused (missing, hidden, outside the root …), so requests
    /// for it are answered without touching the file system until it changes, as nginx's
    /// `open_file_cache_errors` does.
    Refused {
        /// The mount it was refused by, for revalidation.
        source: StaticSource,
        /// Why.
        rejection: Rejection,
    },
}

impl StaticEntry {
    /// Answers `request` from the entry, as `files` would from disk, with the open file to send
    /// the body from when the body is (a slice of) the kept file's content: a 200 or a single
    /// range. Any other answer (a compressed variant, several ranges, 304) is sent from memory.
    pub fn answer(&self, files: &StaticFiles, request: &Request) -> (Response, Option<FileRange>) {
        match self {
            StaticEntry::File { file, sendable, .. } => {
                let response = files.respond_cached(file, request);
                let range = sendable
                    .as_ref()
                    .and_then(|open| file_range(open, file, response.body()));
                (response, range)
            }
            StaticEntry::Refused { rejection, .. } => {
                (files.respond_refused(*rejection, request), None)
            }
        }
    }
}

/// Where `body` lies in `open`, when it is a non-empty slice of `file`'s identity content.
fn file_range(open: &Arc<FileBody>, file: &CachedFile, body: &Body) -> Option<FileRange> {
    let Body::Full(body) = body else {
        return None;
    };
    let whole = file.body().as_ref();
    let start = (body.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let inside = !body.is_empty() && start + body.len() <= whole.len();
    inside.then(|| FileRange::new(open.clone(), start as u64, body.len() as u64))
}

impl Weighed for StaticEntry {
    fn weight(&self) -> u64 {
        match self {
            // The open file's pages are the kernel's page cache, not this process's memory.
            StaticEntry::File { file, .. } => file.memory_bytes(),
            StaticEntry::Refused { .. } => 0,
        }
    }

    fn negative(&self) -> bool {
        matches!(self, StaticEntry::Refused { .. })
    }
}

impl Loader for StaticLoader {
    type Entry = StaticEntry;
    type Source = StaticSource;

    fn load(&self, key: &str, source: StaticSource) -> Option<Self::Entry> {
        match source.files.load(source.tail(key), self.max_file_bytes) {
            Ok(file) => {
                // Compress now, off the event loop: browsers nearly always accept gzip, no hit
                // then ever compresses, and the entry's weight already counts the variant.
                source.files.precompress(&file);
                let sendable = FileBody::open(file.path(), file.facts()).map(Arc::new);
                Some(StaticEntry::File {
                    source,
                    file,
                    sendable,
                })
            }
            Err(NotCacheable::Rejected(rejection)) => {
                Some(StaticEntry::Refused { source, rejection })
            }
            Err(_) => None,
        }
    }

    fn unchanged(&self, key: &str, entry: &Self::Entry) -> bool {
        match entry {
            StaticEntry::File { source, file, .. } => source.files.is_current(file),
            StaticEntry::Refused { source, rejection } => {
                source.files.still_refused(source.tail(key), *rejection)
            }
        }
    }
}

/// The cache handle of a server's static files.
pub type StaticCache = CacheHandle<StaticLoader>;
