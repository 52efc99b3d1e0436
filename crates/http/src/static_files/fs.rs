//! The file-system side of static serving: carrying out a [`Decision`], which means reading
//! small content, describing large content for the server to stream, and gzip compression.
//! Blocking I/O, kept apart from the rules so the server can run it off its event loop and tests
//! can check the rules without files.

use super::content::{multipart_segments, FileContent, Prepared, Segment};
use super::plan::{Content, Decision, FileFacts, Variant};
use crate::response::Body;
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::{self, Write};
use std::path::Path;

/// The file behind a variant: the file itself or its precompressed sibling.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// The requested file.
    pub file: &'a Path,
    /// `file.gz` and its metadata, when it was found.
    pub precompressed: Option<(&'a Path, FileFacts)>,
    /// The requested file's metadata.
    pub facts: FileFacts,
}

/// Carries out a decision: content of at most `max_inline_bytes` is read into a `Body::Full`;
/// longer content of the file or its precompressed sibling becomes `Body::Deferred` with a
/// [`FileContent`] saying what to send, and nothing of it is read. For HEAD nothing is read
/// unless the length can only be known by compressing. On-the-fly gzip output is always inline:
/// [`super::plan::decide`] only chooses it for files of at most `max_inline_bytes`.
pub fn prepare(
    decision: Decision,
    head: bool,
    sources: &Sources<'_>,
    gzip_level: u32,
    max_inline_bytes: u64,
) -> io::Result<Prepared> {
    let Decision {
        mut response,
        content,
    } = decision;
    let (variant, segments) = match content {
        Content::None => return Ok(Prepared::from(response)),
        Content::Whole(Variant::Gzip) => {
            // Read like any content: through the located handle, checked against the facts.
            let whole = FileContent {
                path: sources.file.to_owned(),
                facts: sources.facts,
                segments: vec![Segment::File {
                    offset: 0,
                    len: sources.facts.len,
                }],
            };
            let compressed = gzip(&whole.read_all()?, gzip_level)?;
            response.set_body(if head {
                Body::LengthOnly(compressed.len() as u64)
            } else {
                Body::Full(Bytes::from(compressed))
            });
            return Ok(Prepared::from(response));
        }
        Content::Whole(variant) => {
            let (_, facts) = source(variant, sources)?;
            let whole = Segment::File {
                offset: 0,
                len: facts.len,
            };
            (variant, vec![whole])
        }
        Content::Range(variant, range) => {
            let range = Segment::File {
                offset: range.start,
                len: range.len(),
            };
            (variant, vec![range])
        }
        Content::Multipart(variant, parts, end) => (variant, multipart_segments(parts, end)),
    };
    let (path, facts) = source(variant, sources)?;
    let content = FileContent {
        path: path.to_owned(),
        facts,
        segments,
    };
    let length = content.len();
    if head {
        response.set_body(Body::LengthOnly(length));
        Ok(Prepared::from(response))
    } else if length > max_inline_bytes {
        response.set_body(Body::Deferred(length));
        Ok(Prepared {
            response,
            content: Some(content),
        })
    } else {
        response.set_body(Body::Full(Bytes::from(content.read_all()?)));
        Ok(Prepared::from(response))
    }
}

fn source<'a>(variant: Variant, sources: &Sources<'a>) -> io::Result<(&'a Path, FileFacts)> {
    match (variant, sources.precompressed) {
        (Variant::Precompressed, Some((path, facts))) => Ok((path, facts)),
        (Variant::Precompressed, None) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "precompressed sibling vanished",
        )),
        _ => Ok((sources.file, sources.facts)),
    }
}

/// gzip with a zero modification time in the header, so that the same input always yields the
/// same output and the `-gzip` ETag stays strong.
pub fn gzip(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(data.len() / 3 + 64),
        Compression::new(level.min(9)),
    );
    encoder.write_all(data)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    #[test]
    fn gzip_round_trips_and_is_deterministic() {
        let data = b"hello hello hello hello hello".repeat(20);
        let compressed = gzip(&data, 6).unwrap();
        assert_eq!(compressed, gzip(&data, 6).unwrap());
        assert!(compressed.len() < data.len());
        let mut decoded = Vec::new();
        GzDecoder::new(&compressed[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, data);
    }
}
