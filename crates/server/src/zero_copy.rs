//! Zero-copy bodies for large cached files.
//!
//! Writing a cached 1 MiB body with `writev` makes the kernel copy it from our heap into socket
//! buffers, which is about half the CPU such a request costs. nginx avoids that copy with
//! `sendfile`, which hands the file's page-cache pages to TCP. So do we:
//! when the cache loads a file of at least [`MIN_BYTES`], it keeps the file open beside the
//! bytes it read, and a plain-TCP connection sends a whole-file or single-range answer from that
//! descriptor.
//!
//! The bytes sent must be the version the head describes. The descriptor is the inode that was
//! read (checked when it is opened), so a file replaced by rename, the usual way to deploy,
//! keeps sending the old version until revalidation drops the entry, exactly like the in-memory
//! copy. A file rewritten *in place* changes under any open descriptor: each send first compares
//! the descriptor's size, modification time and inode with the entry's (one `statx`), and any
//! difference sends the in-memory copy instead. (A rewrite racing with the send itself, after the
//! check, is the one window left; nginx does not check at all.)
//!
//! Why not a sealed in-memory copy (memfd), which removes the copy as well: shmem pages are
//! 4 KiB each, and walking them costs more CPU per MiB than `sendfile` from a file system's
//! large folios.
//!
//! The heap copy stays: ranges of several parts, gzip and TLS connections are answered from it.
//! Each kept file holds a descriptor, and at most [`MAX_OPEN`] are kept at a time, so cached
//! files never compete with connections for descriptors; past that, entries are served by
//! copying.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use web_server_http::static_files::plan::FileFacts;

/// Bodies shorter than this are written from memory: below it, the `statx`, one `sendfile` call
/// and the separate head cost about as much as the copy they save.
pub const MIN_BYTES: u64 = 32 * 1024;

/// Files kept open at most (one descriptor each).
pub const MAX_OPEN: usize = 256;

/// Files kept open now.
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// A cached file's descriptor, for `sendfile`.
#[derive(Debug)]
pub struct FileBody {
    /// The file the entry's bytes were read from.
    file: File,
    /// What the entry's bytes and validators describe.
    facts: FileFacts,
}

impl FileBody {
    /// Opens `path` again for an entry loaded from it with `facts`; `None` when the entry is
    /// shorter than [`MIN_BYTES`], when [`MAX_OPEN`] files are kept already, or when the file
    /// at `path` is no longer the one described (replaced, changed, gone, or a symlink swapped
    /// in): the body is then written from memory, as any other. Blocking: `open` and `statx`.
    pub fn open(path: &Path, facts: FileFacts) -> Option<FileBody> {
        if facts.len < MIN_BYTES {
            return None;
        }
        OPEN.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < MAX_OPEN).then_some(n + 1)
        })
        .ok()?;
        let Ok(file) = File::open(path) else {
            OPEN.fetch_sub(1, Ordering::AcqRel);
            return None;
        };
        // From here the slot is the body's: dropping it gives the slot back.
        let body = FileBody { file, facts };
        if body.unchanged() {
            Some(body)
        } else {
            tracing::debug!(path = %path.display(), "file changed since it was read; copied");
            None
        }
    }

    /// Whether the open file is still exactly what the entry describes (one `statx`).
    pub fn unchanged(&self) -> bool {
        self.file.metadata().is_ok_and(|metadata| {
            metadata.is_file() && FileFacts::from_metadata(&metadata) == self.facts
        })
    }

    /// The descriptor to send from.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl Drop for FileBody {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body the kernel can send from an open file: the file, and where in it the body
/// starts. The cache hands one out with an answer whose body is (a slice of) a kept file's
/// content; the connection sends the body from it when nothing stands between it and the
/// socket, and from memory otherwise.
#[derive(Debug, Clone)]
pub struct FileRange {
    /// The open file (shared with the cache entry, which keeps it open).
    file: Arc<FileBody>,
    /// Where the body starts in the file.
    offset: u64,
    /// The body's length.
    len: u64,
}

impl FileRange {
    /// The `len` bytes of `file` from `offset`.
    pub fn new(file: Arc<FileBody>, offset: u64, len: u64) -> Self {
        FileRange { file, offset, len }
    }

    /// Whether the file still holds the version the body was read from (one `statx`).
    pub fn unchanged(&self) -> bool {
        self.file.unchanged()
    }

    /// The descriptor to send from.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.fd()
    }

    /// Where the body starts in the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the body is empty (never sent from the file).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Files kept open now (for tests and operators).
pub(crate) fn open_bodies() -> usize {
    OPEN.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file of `len` bytes in a directory of its own per test (`label`): the tests of this
    /// binary run in parallel.
    fn file_with(label: &str, len: usize) -> (std::path::PathBuf, FileFacts) {
        let dir = std::env::temp_dir().join(format!(
            "web_server-zero-copy-{}-{label}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("body.bin");
        std::fs::write(&path, vec![7u8; len]).unwrap();
        let facts = FileFacts::from_metadata(&std::fs::metadata(&path).unwrap());
        (path, facts)
    }

    #[test]
    fn a_file_rewritten_in_place_is_no_longer_sent() {
        let (path, facts) = file_with("rewritten", MIN_BYTES as usize * 2);
        let body = FileBody::open(&path, facts).expect("opens the described file");
        assert!(body.unchanged());
        let mut rewrite = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        rewrite.write_all(b"changed").unwrap();
        rewrite
            .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        assert!(
            !body.unchanged(),
            "the same inode, but no longer the same version"
        );
    }

    #[test]
    fn a_replaced_or_short_file_is_not_opened() {
        let (path, facts) = file_with("replaced", MIN_BYTES as usize * 2);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, vec![7u8; MIN_BYTES as usize * 2]).unwrap();
        assert!(FileBody::open(&path, facts).is_none(), "another inode");
        let (short, facts) = file_with("short", MIN_BYTES as usize - 1);
        assert!(FileBody::open(&short, facts).is_none());
    }
}
