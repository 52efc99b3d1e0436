//! Content the server writes itself after a response head.
//!
//! [`StaticFiles::prepare`](super::StaticFiles::prepare) decides a response from metadata alone;
//! when the bytes to send exceed [`StaticOptions::max_inline_bytes`](super::StaticOptions) the
//! body is [`Body::Deferred`] and a [`FileContent`] says what to send: [`Segment`]s of literal
//! bytes (multipart boundaries and part fields) and of file ranges, whose lengths add up to the
//! `Content-Length` exactly. The server reads them in bounded chunks with a [`ContentReader`], on
//! a blocking thread:
//!
//! ```no_run
//! # use web_server_http::static_files::FileContent;
//! # fn send(_: bytes::Bytes) -> std::io::Result<()> { Ok(()) }
//! # fn stream(content: &FileContent) -> std::io::Result<()> {
//! let mut reader = content.open()?; // fails with `FileChanged` if the file was replaced
//! while let Some(chunk) = reader.next_chunk(64 * 1024)? {
//!     send(chunk)?;
//! }
//! # Ok(()) }
//! ```
//!
//! Any error after the head was written means fewer bytes than promised will follow: the server
//! must close the connection (RFC 9112 §6.3 lets the client see the response as incomplete).
//!
//! # The file changing under the response
//!
//! The status, `ETag`, `Content-Length` and `Content-Range` were computed from the
//! [`FileFacts`] (size, modification time, inode) read when deciding. [`FileContent::open`]
//! compares them with the facts of the opened handle and every chunk of file data is checked
//! again after it is read, so a file that was replaced, truncated, extended or rewritten is
//! reported as [`FileChanged`] instead of being sent under a length and validator that no longer
//! describe it. A chunk read while the file changed is never returned.
//!
//! The path is opened again for the content, so a directory on the way swapped for a symlink in
//! between would open a file outside the root: [`open_located`] also checks that the handle is
//! the file at that very path (on Linux, through `/proc/self/fd`), or fails with [`FileChanged`].

use super::plan::{FileFacts, Part};
use crate::response::{Body, Response};
use bytes::Bytes;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// A decided response for a static file, and the content the server writes after its head
/// when that content is too large to hold in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Status, fields and body. The body is `Body::Deferred(n)` exactly when `content` is
    /// present, with `n == content.len()`; otherwise it is complete (`Full`, `Empty` or, for
    /// HEAD, `LengthOnly`).
    pub response: Response,
    /// What to write after the head for a `Body::Deferred` response; `None` when the response
    /// is complete as it is.
    pub content: Option<FileContent>,
}

impl Prepared {
    /// Reads deferred content into memory, giving a response with `Body::Full`; a response
    /// without deferred content is returned as it is. This is what [`super::StaticFiles::serve`]
    /// does; a server streaming large files does not call it.
    pub fn into_inline(self) -> io::Result<Response> {
        let Prepared {
            mut response,
            content,
        } = self;
        if let Some(content) = content {
            response.set_body(Body::Full(Bytes::from(content.read_all()?)));
        }
        Ok(response)
    }
}

impl From<Response> for Prepared {
    fn from(response: Response) -> Self {
        Prepared {
            response,
            content: None,
        }
    }
}

/// One piece of deferred content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Bytes sent as they are: multipart boundary lines and part fields.
    Literal(Bytes),
    /// A range of the file.
    File {
        /// Position of the first byte in the file.
        offset: u64,
        /// Number of bytes.
        len: u64,
    },
}

impl Segment {
    /// Number of bytes this segment contributes to the content.
    pub fn len(&self) -> u64 {
        match self {
            Segment::Literal(bytes) => bytes.len() as u64,
            Segment::File { len, .. } => *len,
        }
    }

    /// Whether the segment contributes no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The segments of a `multipart/byteranges` body: each part's fields, its data, and the CRLF
/// that ends the data sent together with the next delimiter or the closing one. The one layout
/// of such a body, whether the data then comes from the file or from memory.
pub(crate) fn multipart_segments(parts: Vec<Part>, end: Vec<u8>) -> Vec<Segment> {
    let mut segments = Vec::with_capacity(parts.len() * 2 + 1);
    let mut delimiter = Vec::new();
    for part in parts {
        delimiter.extend_from_slice(&part.header);
        segments.push(Segment::Literal(Bytes::from(std::mem::take(
            &mut delimiter,
        ))));
        segments.push(Segment::File {
            offset: part.range.start,
            len: part.range.len(),
        });
        delimiter.extend_from_slice(b"\r\n");
    }
    delimiter.extend_from_slice(&end);
    segments.push(Segment::Literal(Bytes::from(delimiter)));
    segments
}

/// Deferred content: segments of one file, and the metadata the response was decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    /// The file to read: the requested file or its precompressed `.gz` sibling, canonical and
    /// inside the document root.
    pub path: PathBuf,
    /// Size, modification time and inode when the response was decided: its `Content-Length`,
    /// `Content-Range` and `ETag` are only true of a file that still has these facts.
    pub facts: FileFacts,
    /// What to send, in order; their lengths add up to the `Content-Length`.
    pub segments: Vec<Segment>,
}

impl FileContent {
    /// Total number of bytes: the `Content-Length` of the response.
    pub fn len(&self) -> u64 {
        self.segments.iter().map(Segment::len).sum()
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens the file for streaming, failing with [`FileChanged`] when it no longer has the
    /// facts the response was decided on. Blocking.
    pub fn open(&self) -> io::Result<ContentReader> {
        let file = open_located(&self.path)?;
        verify(&file, &self.facts)?;
        Ok(ContentReader {
            file,
            facts: self.facts,
            segments: self.segments.clone(),
            index: 0,
            position: 0,
            remaining: self.len(),
        })
    }

    /// Reads the whole content into memory, with the same checks as [`FileContent::open`] and
    /// [`ContentReader::next_chunk`]. Blocking.
    pub fn read_all(&self) -> io::Result<Vec<u8>> {
        let file = open_located(&self.path)?;
        verify(&file, &self.facts)?;
        let mut out = Vec::with_capacity(usize::try_from(self.len()).unwrap_or(0));
        for segment in &self.segments {
            match segment {
                Segment::Literal(bytes) => out.extend_from_slice(bytes),
                Segment::File { offset, len } => {
                    let start = out.len();
                    let len = usize::try_from(*len).map_err(|_| {
                        io::Error::new(io::ErrorKind::OutOfMemory, "segment too large")
                    })?;
                    out.resize(start + len, 0);
                    read_file_at(&file, *offset, &mut out[start..])?;
                }
            }
        }
        verify(&file, &self.facts)?;
        Ok(out)
    }
}

/// Reads [`FileContent`] in chunks of bounded size. `Send`, so the server can move it to a
/// blocking thread for each read.
#[derive(Debug)]
pub struct ContentReader {
    /// The open file; reads are positional, so nothing depends on its cursor.
    file: File,
    /// The facts every read is checked against.
    facts: FileFacts,
    /// What to send, in order.
    segments: Vec<Segment>,
    /// The segment being sent.
    index: usize,
    /// Bytes of the current segment already returned.
    position: u64,
    /// Bytes not yet returned, for the server's bookkeeping.
    remaining: u64,
}

impl ContentReader {
    /// The next at most `max_len` bytes (at least one byte is asked for even when `max_len` is
    /// 0), or `None` once everything was returned. A chunk never spans two segments, so literal
    /// segments are returned without copying. Blocking for file segments.
    ///
    /// Fails with [`FileChanged`] when the file no longer has the facts the response was
    /// decided on (checked after each read, so changed data is never returned) and with other
    /// I/O errors as they occur; either way the reader should be dropped and the connection
    /// closed.
    pub fn next_chunk(&mut self, max_len: usize) -> io::Result<Option<Bytes>> {
        let max_len = max_len.max(1) as u64;
        loop {
            let Some(segment) = self.segments.get(self.index) else {
                return Ok(None);
            };
            let left = segment.len() - self.position;
            if left == 0 {
                self.index += 1;
                self.position = 0;
                continue;
            }
            let take = left.min(max_len);
            let chunk = match segment {
                Segment::Literal(bytes) => {
                    // `take <= left <= bytes.len()`, so both ends fit in usize.
                    let start = self.position as usize;
                    bytes.slice(start..start + take as usize)
                }
                Segment::File { offset, .. } => {
                    let mut buf = vec![0; usize::try_from(take).unwrap_or(usize::MAX)];
                    read_file_at(&self.file, offset + self.position, &mut buf)?;
                    verify(&self.file, &self.facts)?;
                    Bytes::from(buf)
                }
            };
            self.position += take;
            self.remaining -= take;
            return Ok(Some(chunk));
        }
    }

    /// Bytes not yet returned by [`ContentReader::next_chunk`].
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

/// The file behind [`FileContent`] no longer has the size, modification time or inode the
/// response was decided on. Carried inside an [`io::Error`] of kind `Other`; recognise it with
/// [`FileChanged::is`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileChanged;

impl FileChanged {
    /// Whether `error` reports a changed file.
    pub fn is(error: &io::Error) -> bool {
        error
            .get_ref()
            .is_some_and(|inner| inner.is::<FileChanged>())
    }
}

impl fmt::Display for FileChanged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("file changed after the response was decided")
    }
}

impl std::error::Error for FileChanged {}

/// Opens the located file at `path` (canonical, found inside the root when the response was
/// decided) and checks that the handle is the file at that path: if a directory on the way was
/// swapped for a symlink since, the open followed it out of the root, and this fails with
/// [`FileChanged`]. Linux only; where `/proc/self/fd` cannot be read the facts alone protect.
pub(crate) fn open_located(path: &Path) -> io::Result<File> {
    let file = File::open(path)?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let handle = format!("/proc/self/fd/{}", file.as_raw_fd());
        if let Ok(real) = std::fs::read_link(handle) {
            if real != path {
                return Err(io::Error::other(FileChanged));
            }
        }
    }
    Ok(file)
}

/// Fails with [`FileChanged`] unless the open `file` still has `facts`.
pub(crate) fn verify(file: &File, facts: &FileFacts) -> io::Result<()> {
    if FileFacts::from_metadata(&file.metadata()?) == *facts {
        Ok(())
    } else {
        Err(io::Error::other(FileChanged))
    }
}

/// Fills `buf` from `file` at `offset`; running out of file is [`FileChanged`], since the facts
/// promised those bytes.
pub(crate) fn read_file_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    read_exact_at(file, offset, buf).map_err(|error| match error.kind() {
        io::ErrorKind::UnexpectedEof => io::Error::other(FileChanged),
        _ => error,
    })
}

/// Fills `buf` with the bytes of `file` starting at `offset`, without using or moving the file's
/// cursor on Unix (`pread`), so one handle may be shared. Fails with `UnexpectedEof` when the file
/// ends first. Blocking. [`ContentReader`] uses this; it is public for servers that keep their
/// own file handles.
pub fn read_exact_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut handle = file;
        handle.seek(SeekFrom::Start(offset))?;
        handle.read_exact(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A file under the system temp dir, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(label: &str, contents: &[u8]) -> TempFile {
            let path = std::env::temp_dir().join(format!(
                "web_server_http-content-{label}-{}",
                std::process::id()
            ));
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn content_of(file: &TempFile, segments: Vec<Segment>) -> FileContent {
        FileContent {
            path: file.path().to_owned(),
            facts: FileFacts::from_metadata(&std::fs::metadata(file.path()).unwrap()),
            segments,
        }
    }

    #[test]
    fn chunks_are_bounded_never_span_segments_and_add_up() {
        let file = TempFile::new("chunks", b"0123456789abcdefghij");
        let content = content_of(
            &file,
            vec![
                Segment::Literal(Bytes::from_static(b"<head>")),
                Segment::File { offset: 2, len: 9 },
                Segment::Literal(Bytes::new()),
                Segment::File { offset: 15, len: 0 },
                Segment::Literal(Bytes::from_static(b"<end>")),
            ],
        );
        assert_eq!(content.len(), 20);
        let mut reader = content.open().unwrap();
        let mut chunks = Vec::new();
        while let Some(chunk) = reader.next_chunk(4).unwrap() {
            chunks.push(chunk);
        }
        assert_eq!(reader.remaining(), 0);
        let chunks: Vec<&[u8]> = chunks.iter().map(|chunk| &chunk[..]).collect();
        assert_eq!(
            chunks,
            [&b"<hea"[..], b"d>", b"2345", b"6789", b"a", b"<end", b">"]
        );
        assert_eq!(content.read_all().unwrap(), b"<head>23456789a<end>");
        assert_eq!(
            reader.next_chunk(4).unwrap(),
            None,
            "stays finished after the end"
        );
    }

    #[test]
    fn a_zero_chunk_size_still_makes_progress() {
        let file = TempFile::new("zero-chunk", b"ab");
        let content = content_of(&file, vec![Segment::File { offset: 0, len: 2 }]);
        let mut reader = content.open().unwrap();
        assert_eq!(reader.next_chunk(0).unwrap().unwrap(), &b"a"[..]);
        assert_eq!(reader.remaining(), 1);
    }

    #[test]
    fn a_file_changed_before_opening_or_while_reading_is_reported() {
        let file = TempFile::new("changed", b"0123456789");
        let content = content_of(&file, vec![Segment::File { offset: 0, len: 10 }]);
        let mut reader = content.open().unwrap();
        assert_eq!(reader.next_chunk(4).unwrap().unwrap(), &b"0123"[..]);

        std::fs::write(file.path(), b"01234").unwrap();
        let error = reader.next_chunk(4).unwrap_err();
        assert!(FileChanged::is(&error), "{error}");
        let error = content.open().unwrap_err();
        assert!(FileChanged::is(&error), "{error}");
        assert!(FileChanged::is(&content.read_all().unwrap_err()));
        assert!(!FileChanged::is(&io::Error::other("something else")));
    }

    #[test]
    fn reading_past_the_end_is_a_changed_file() {
        let file = TempFile::new("past-end", b"0123");
        let mut content = content_of(&file, vec![Segment::File { offset: 2, len: 5 }]);
        assert!(FileChanged::is(&content.read_all().unwrap_err()));
        content.segments = vec![Segment::File { offset: 2, len: 2 }];
        assert_eq!(content.read_all().unwrap(), b"23");
        let mut buf = [0; 3];
        let error = read_exact_at(&File::open(file.path()).unwrap(), 2, &mut buf).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn prepared_without_content_is_returned_unchanged_by_into_inline() {
        let response = Response::text(crate::StatusCode::OK, "x");
        let prepared = Prepared::from(response.clone());
        assert_eq!(prepared.content, None);
        assert_eq!(prepared.into_inline().unwrap(), response);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_directory_swapped_for_a_symlink_is_a_changed_file() {
        let base = std::env::temp_dir().join(format!(
            "web_server_http-content-swap-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&base);
        for dir in ["root/dir", "outside"] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
        }
        std::fs::write(base.join("root/dir/x"), b"inside").unwrap();
        std::fs::write(base.join("outside/x"), b"secret").unwrap();
        let located = std::fs::canonicalize(base.join("root/dir/x")).unwrap();
        assert!(open_located(&located).is_ok());
        // Between the decision and the read, the directory becomes a link out of the root.
        std::fs::rename(base.join("root/dir"), base.join("root/parked")).unwrap();
        std::os::unix::fs::symlink(base.join("outside"), base.join("root/dir")).unwrap();
        let error = open_located(&located).unwrap_err();
        assert!(FileChanged::is(&error), "{error}");
        let _ = std::fs::remove_dir_all(&base);
    }
}
