//! The file-system side of static serving: reading the bytes a [`Decision`] asks for and gzip
//! compression. Blocking I/O, kept apart from the rules so the server can run it off its event
//! loop and tests can check the rules without files.

use super::plan::{Content, Decision, FileFacts, Variant};
use crate::response::{Body, Response};
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
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

/// Reads the content a decision asks for. For HEAD nothing is read unless the length can only be
/// known by compressing.
pub fn execute(
    decision: Decision,
    head: bool,
    sources: &Sources<'_>,
    gzip_level: u32,
) -> io::Result<Response> {
    let Decision {
        mut response,
        content,
    } = decision;
    let body = match content {
        Content::None => return Ok(response),
        Content::Whole(Variant::Gzip) => {
            let compressed = gzip(&std::fs::read(sources.file)?, gzip_level)?;
            if head {
                Body::LengthOnly(compressed.len() as u64)
            } else {
                Body::Full(Bytes::from(compressed))
            }
        }
        Content::Whole(variant) => {
            let (path, facts) = source(variant, sources)?;
            if head {
                Body::LengthOnly(facts.len)
            } else {
                Body::Full(Bytes::from(std::fs::read(path)?))
            }
        }
        Content::Range(variant, range) => {
            if head {
                Body::LengthOnly(range.len())
            } else {
                let (path, _) = source(variant, sources)?;
                let mut file = File::open(path)?;
                Body::Full(Bytes::from(read_range(
                    &mut file,
                    range.start,
                    range.len(),
                )?))
            }
        }
        Content::Multipart(variant, parts, end) => {
            let total = parts
                .iter()
                .map(|part| part.header.len() as u64 + part.range.len() + 2)
                .sum::<u64>()
                + end.len() as u64;
            if head {
                Body::LengthOnly(total)
            } else {
                let (path, _) = source(variant, sources)?;
                let mut file = File::open(path)?;
                let mut body = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
                for part in parts {
                    body.extend_from_slice(&part.header);
                    body.extend_from_slice(&read_range(
                        &mut file,
                        part.range.start,
                        part.range.len(),
                    )?);
                    body.extend_from_slice(b"\r\n");
                }
                body.extend_from_slice(&end);
                Body::Full(Bytes::from(body))
            }
        }
    };
    response.set_body(body);
    Ok(response)
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

/// Reads exactly `len` bytes at `start`; a file that shrank since its metadata was read is an
/// error rather than a short response.
fn read_range(file: &mut File, start: u64, len: u64) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut buf)?;
    if buf.len() as u64 != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank while serving",
        ));
    }
    Ok(buf)
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
