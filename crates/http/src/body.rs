//! Request content framing (RFC 9112 §6) and a decoder for `Content-Length` and `chunked`
//! content (RFC 9112 §7.1) that works on the caller's buffer without copying.

use crate::error::{ParseError, ParseErrorKind};
use crate::limits::Limits;
use crate::syntax::{
    hex_value, is_field_value_byte, is_ows, is_tchar, is_token, quoted_string_len,
};
use bytes::{Buf, Bytes, BytesMut};
use std::ops::Range;

/// How the content of a request is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// Neither `Content-Length` nor `Transfer-Encoding`: a request without content.
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// `Transfer-Encoding: chunked`: chunks until a zero-size chunk and trailers.
    Chunked,
}

impl BodyFraming {
    /// Whether any content may follow the head.
    pub const fn has_content(self) -> bool {
        !matches!(self, BodyFraming::None | BodyFraming::Length(0))
    }
}

/// The result of one [`BodyDecoder::decode`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeStep {
    /// Bytes of the input the decoder is finished with (framing and data); the caller drops them.
    pub consumed: usize,
    /// Content bytes within the input, always inside `0..consumed`; empty when none were found.
    pub data: Range<usize>,
    /// The body (including trailers) is complete; what follows `consumed` is the next request.
    pub done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Content-Length body with this many bytes left.
    Length(u64),
    /// Expecting a chunk-size line.
    ChunkSize,
    /// Inside chunk data with this many bytes left.
    ChunkData(u64),
    /// Expecting the CRLF that ends chunk data.
    ChunkDataEnd,
    /// Reading trailer field lines until the empty line.
    Trailers,
    /// Body complete.
    Done,
}

/// Incremental decoder for one request body.
///
/// It never buffers: a chunk-size or trailer line is consumed only once it is complete in the
/// input, so the caller keeps partial lines in its own buffer, bounded by the limits.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    /// Where in the framing grammar the decoder is.
    state: State,
    /// Bounds on content, chunk lines, extensions and trailers.
    limits: Limits,
    /// Content announced by chunk sizes so far, checked against `max_body_bytes` before the data
    /// arrives.
    announced: u64,
    /// Chunk-extension bytes so far, against `max_chunk_extensions`.
    extension_bytes: usize,
    /// Trailer bytes so far, against `max_trailer_bytes`.
    trailer_bytes: usize,
    /// Trailer fields so far, against `max_headers`.
    trailer_fields: usize,
}

impl BodyDecoder {
    /// A decoder for content framed as `framing`.
    pub fn new(framing: BodyFraming, limits: &Limits) -> Self {
        let state = match framing {
            BodyFraming::None | BodyFraming::Length(0) => State::Done,
            BodyFraming::Length(n) => State::Length(n),
            BodyFraming::Chunked => State::ChunkSize,
        };
        BodyDecoder {
            state,
            limits: *limits,
            announced: 0,
            extension_bytes: 0,
            trailer_bytes: 0,
            trailer_fields: 0,
        }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from the start of `input` up to and including the next run of content bytes.
    ///
    /// `consumed == 0 && !done` means more input is needed; the caller appends to the same buffer
    /// (after dropping `consumed` bytes) and calls again. Every error is fatal to the connection.
    pub fn decode(&mut self, input: &[u8]) -> Result<DecodeStep, ParseError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.state {
                State::Done => {
                    return Ok(DecodeStep {
                        consumed: pos,
                        data: pos..pos,
                        done: true,
                    })
                }
                State::Length(remaining) | State::ChunkData(remaining) => {
                    let take = remaining.min(rest.len() as u64) as usize;
                    if take == 0 {
                        return Ok(DecodeStep {
                            consumed: pos,
                            data: pos..pos,
                            done: false,
                        });
                    }
                    let left = remaining - take as u64;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => State::Done,
                        (State::Length(_), _) => State::Length(left),
                        (_, 0) => State::ChunkDataEnd,
                        _ => State::ChunkData(left),
                    };
                    let done = self.state == State::Done;
                    return Ok(DecodeStep {
                        consumed: pos + take,
                        data: pos..pos + take,
                        done,
                    });
                }
                State::ChunkSize => {
                    let window = &rest[..rest.len().min(self.limits.max_chunk_line)];
                    let Some(lf) = memchr::memchr(b'\n', window) else {
                        if rest.len() >= self.limits.max_chunk_line {
                            return Err(fatal(ParseErrorKind::ChunkExtensionsTooLarge));
                        }
                        return Ok(DecodeStep {
                            consumed: pos,
                            data: pos..pos,
                            done: false,
                        });
                    };
                    let line = line_without_crlf(&rest[..lf])?;
                    let size = self.chunk_size_line(line)?;
                    pos += lf + 1;
                    if size == 0 {
                        self.state = State::Trailers;
                    } else {
                        self.announced = self
                            .announced
                            .checked_add(size)
                            .filter(|&total| total <= self.limits.max_body_bytes)
                            .ok_or(fatal(ParseErrorKind::BodyTooLarge))?;
                        self.state = State::ChunkData(size);
                    }
                }
                State::ChunkDataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        pos += 2;
                        self.state = State::ChunkSize;
                    }
                    [] | [b'\r'] => {
                        return Ok(DecodeStep {
                            consumed: pos,
                            data: pos..pos,
                            done: false,
                        })
                    }
                    _ => return Err(fatal(ParseErrorKind::InvalidChunkTerminator)),
                },
                State::Trailers => {
                    let budget = self
                        .limits
                        .max_trailer_bytes
                        .saturating_sub(self.trailer_bytes);
                    let window = &rest[..rest.len().min(budget)];
                    let Some(lf) = memchr::memchr(b'\n', window) else {
                        if rest.len() >= budget {
                            return Err(fatal(ParseErrorKind::TrailersTooLarge));
                        }
                        return Ok(DecodeStep {
                            consumed: pos,
                            data: pos..pos,
                            done: false,
                        });
                    };
                    let line = line_without_crlf(&rest[..lf])?;
                    pos += lf + 1;
                    if line.is_empty() {
                        self.state = State::Done;
                        continue;
                    }
                    validate_trailer(line)?;
                    self.trailer_bytes += lf + 1;
                    self.trailer_fields += 1;
                    if self.trailer_fields > self.limits.max_headers {
                        return Err(fatal(ParseErrorKind::TrailersTooLarge));
                    }
                }
            }
        }
    }

    /// Convenience over [`decode`](Self::decode) for a `BytesMut` read buffer: drops framing from
    /// `buf` and returns the next run of content as `Bytes` without copying. `Ok(None)` means more
    /// input is needed, or the body is complete when [`is_done`](Self::is_done) says so.
    pub fn next_data(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, ParseError> {
        loop {
            let step = self.decode(buf)?;
            if step.consumed == 0 {
                return Ok(None);
            }
            let mut taken = buf.split_to(step.consumed);
            if !step.data.is_empty() {
                taken.truncate(step.data.end);
                taken.advance(step.data.start);
                return Ok(Some(taken.freeze()));
            }
            if step.done {
                return Ok(None);
            }
        }
    }

    /// `chunk-size [ chunk-ext ]` (RFC 9112 §7.1, §7.1.1): hex digits with overflow checking,
    /// then extensions that are validated and counted but otherwise ignored.
    fn chunk_size_line(&mut self, line: &[u8]) -> Result<u64, ParseError> {
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return Err(fatal(ParseErrorKind::InvalidChunkSize));
        }
        let mut size: u64 = 0;
        for &digit in &line[..digits] {
            let value = hex_value(digit).map(u64::from).unwrap_or_default();
            size = size
                .checked_mul(16)
                .and_then(|s| s.checked_add(value))
                .ok_or(fatal(ParseErrorKind::ChunkSizeOverflow))?;
        }
        let extensions = &line[digits..];
        if !extensions.is_empty() {
            self.extension_bytes += extensions.len();
            if self.extension_bytes > self.limits.max_chunk_extensions {
                return Err(fatal(ParseErrorKind::ChunkExtensionsTooLarge));
            }
            validate_chunk_extensions(extensions)?;
        }
        Ok(size)
    }
}

const fn fatal(kind: ParseErrorKind) -> ParseError {
    ParseError::fatal(kind)
}

/// Strips the CR of a line whose LF was found; a missing CR is a bare LF (RFC 9112 §7.1 and
/// §2.2: chunk lines end in CRLF).
fn line_without_crlf(line_with_cr: &[u8]) -> Result<&[u8], ParseError> {
    match line_with_cr {
        [line @ .., b'\r'] if !line.contains(&b'\r') => Ok(line),
        _ => Err(fatal(ParseErrorKind::BareLineEnding)),
    }
}

/// `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`.
fn validate_chunk_extensions(mut rest: &[u8]) -> Result<(), ParseError> {
    let skip_ows = |bytes: &[u8]| -> usize { bytes.iter().take_while(|&&b| is_ows(b)).count() };
    while !rest.is_empty() {
        rest = &rest[skip_ows(rest)..];
        match rest.first() {
            Some(b';') => rest = &rest[1..],
            // Trailing whitespace or junk after the size is not an extension.
            _ => return Err(fatal(ParseErrorKind::InvalidChunkSize)),
        }
        rest = &rest[skip_ows(rest)..];
        let name = rest.iter().take_while(|&&b| is_tchar(b)).count();
        if name == 0 {
            return Err(fatal(ParseErrorKind::InvalidChunkExtension));
        }
        rest = &rest[name..];
        let after_ows = skip_ows(rest);
        if rest.get(after_ows) == Some(&b'=') {
            rest = &rest[after_ows + 1..];
            rest = &rest[skip_ows(rest)..];
            let value = match rest.first() {
                Some(b'"') => {
                    quoted_string_len(rest).ok_or(fatal(ParseErrorKind::InvalidChunkExtension))?
                }
                _ => rest.iter().take_while(|&&b| is_tchar(b)).count(),
            };
            if value == 0 {
                return Err(fatal(ParseErrorKind::InvalidChunkExtension));
            }
            rest = &rest[value..];
        }
    }
    Ok(())
}

/// `field-name ":" OWS field-value OWS` with the same strictness as header fields.
fn validate_trailer(line: &[u8]) -> Result<(), ParseError> {
    let invalid = || fatal(ParseErrorKind::InvalidTrailer);
    let colon = memchr::memchr(b':', line).ok_or_else(invalid)?;
    if !is_token(&line[..colon]) {
        return Err(invalid());
    }
    if !line[colon + 1..].iter().all(|&b| is_field_value_byte(b)) {
        return Err(invalid());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(framing: BodyFraming, input: &[u8]) -> Result<(Vec<u8>, usize), ParseError> {
        decode_all_with(framing, input, &Limits::default())
    }

    fn decode_all_with(
        framing: BodyFraming,
        input: &[u8],
        limits: &Limits,
    ) -> Result<(Vec<u8>, usize), ParseError> {
        let mut decoder = BodyDecoder::new(framing, limits);
        let mut pos = 0;
        let mut body = Vec::new();
        loop {
            let step = decoder.decode(&input[pos..])?;
            body.extend_from_slice(&input[pos..][step.data.clone()]);
            pos += step.consumed;
            if step.done {
                return Ok((body, pos));
            }
            assert!(
                step.consumed > 0,
                "decoder stalled on complete input at {pos}"
            );
        }
    }

    fn error_kind(framing: BodyFraming, input: &[u8]) -> ParseErrorKind {
        let err = decode_all(framing, input).unwrap_err();
        assert!(err.must_close());
        err.kind()
    }

    #[test]
    fn rfc9112_6_2_content_length_body_stops_at_length() {
        let (body, used) = decode_all(BodyFraming::Length(5), b"helloGET / HTTP/1.1").unwrap();
        assert_eq!(body, b"hello");
        assert_eq!(used, 5);
    }

    #[test]
    fn rfc9112_7_1_chunked_body_decodes_and_stops_after_trailers() {
        let input = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT";
        let (body, used) = decode_all(BodyFraming::Chunked, input).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(&input[used..], b"NEXT");
    }

    #[test]
    fn rfc9112_7_1_chunk_size_is_hex_and_case_insensitive() {
        let mut input = b"A\r\n0123456789\r\na\r\n0123456789\r\n".to_vec();
        input.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(
            decode_all(BodyFraming::Chunked, &input).unwrap().0.len(),
            20
        );
    }

    #[test]
    fn rfc9112_7_1_chunk_size_must_be_hex_digits() {
        for bad in [
            &b"\r\n"[..],
            b"x\r\n",
            b"-1\r\n",
            b"+5\r\n",
            b"0x5\r\n",
            b" 5\r\n",
            b"5 \r\n",
            b"5\t\r\n",
        ] {
            let mut input = bad.to_vec();
            input.extend_from_slice(b"hello\r\n0\r\n\r\n");
            assert_eq!(
                error_kind(BodyFraming::Chunked, &input),
                ParseErrorKind::InvalidChunkSize,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rfc9112_7_1_chunk_size_overflow_is_400() {
        let input = b"10000000000000000\r\n";
        assert_eq!(
            error_kind(BodyFraming::Chunked, input),
            ParseErrorKind::ChunkSizeOverflow
        );
        let limits = Limits {
            max_body_bytes: u64::MAX,
            ..Limits::default()
        };
        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, &limits);
        let step = decoder.decode(b"ffffffffffffffff\r\n").unwrap();
        assert_eq!(step.consumed, 18, "the largest u64 chunk size parses");
    }

    #[test]
    fn rfc9112_7_1_bare_lf_in_chunk_lines_is_400() {
        assert_eq!(
            error_kind(BodyFraming::Chunked, b"5\nhello\r\n0\r\n\r\n"),
            ParseErrorKind::BareLineEnding
        );
        assert_eq!(
            error_kind(BodyFraming::Chunked, b"5\r\nhello\r\n0\n\r\n"),
            ParseErrorKind::BareLineEnding
        );
        assert_eq!(
            error_kind(BodyFraming::Chunked, b"5\r\nhello\r\n0\r\n\n"),
            ParseErrorKind::BareLineEnding
        );
        assert_eq!(
            error_kind(BodyFraming::Chunked, b"5\r\r\nhello\r\n0\r\n\r\n"),
            ParseErrorKind::BareLineEnding
        );
    }

    #[test]
    fn rfc9112_7_1_chunk_data_must_end_with_crlf() {
        assert_eq!(
            error_kind(BodyFraming::Chunked, b"5\r\nhelloX\r\n0\r\n\r\n"),
            ParseErrorKind::InvalidChunkTerminator
        );
        assert_eq!(
            error_kind(BodyFraming::Chunked, b"5\r\nhello\n0\r\n\r\n"),
            ParseErrorKind::InvalidChunkTerminator
        );
        assert_eq!(
            error_kind(BodyFraming::Chunked, b"5\r\nhello\rX0\r\n\r\n"),
            ParseErrorKind::InvalidChunkTerminator
        );
    }

    #[test]
    fn rfc9112_7_1_1_chunk_extensions_are_tolerated() {
        let input = b"5;a=b ; c = \"q\\\"s\" ;flag\r\nhello\r\n0;last\r\n\r\n";
        assert_eq!(decode_all(BodyFraming::Chunked, input).unwrap().0, b"hello");
        // A quoted value may hold the delimiters `;` and `=`.
        let input = b"1;name=\"a;b=c\"\r\nx\r\n0;n=\"=;\\\";\"\r\n\r\n";
        assert_eq!(decode_all(BodyFraming::Chunked, input).unwrap().0, b"x");
    }

    #[test]
    fn rfc9112_7_1_1_malformed_chunk_extensions_are_400() {
        for bad in [
            &b"5;\r\n"[..],
            b"5;=x\r\n",
            b"5;a=\r\n",
            b"5;a=\"open\r\n",
            b"5;a b\r\n",
            b"5;a=b c\r\n",
        ] {
            let mut input = bad.to_vec();
            input.extend_from_slice(b"hello\r\n0\r\n\r\n");
            let kind = error_kind(BodyFraming::Chunked, &input);
            assert!(
                matches!(
                    kind,
                    ParseErrorKind::InvalidChunkExtension | ParseErrorKind::InvalidChunkSize
                ),
                "{bad:?}: {kind:?}"
            );
        }
    }

    #[test]
    fn rfc9112_7_1_1_chunk_extensions_are_bounded() {
        let limits = Limits {
            max_chunk_line: 64,
            max_chunk_extensions: 100,
            ..Limits::default()
        };
        let mut long_line = b"5;".to_vec();
        long_line.extend_from_slice(&[b'a'; 100]);
        let err = decode_all_with(BodyFraming::Chunked, &long_line, &limits).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::ChunkExtensionsTooLarge);

        let mut many = Vec::new();
        for _ in 0..20 {
            many.extend_from_slice(b"1;abcdefgh\r\nx\r\n");
        }
        many.extend_from_slice(b"0\r\n\r\n");
        let err = decode_all_with(BodyFraming::Chunked, &many, &limits).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::ChunkExtensionsTooLarge);
    }

    #[test]
    fn rfc9112_7_1_2_trailers_are_read_and_validated() {
        let input = b"1\r\nx\r\n0\r\nChecksum: abc\r\nX-T: 1\r\n\r\nNEXT";
        let (body, used) = decode_all(BodyFraming::Chunked, input).unwrap();
        assert_eq!(body, b"x");
        assert_eq!(&input[used..], b"NEXT");
        for bad in [
            &b"0\r\nNoColon\r\n\r\n"[..],
            b"0\r\nBad Name: x\r\n\r\n",
            b"0\r\nX: a\x01b\r\n\r\n",
            b"0\r\n folded\r\n\r\n",
        ] {
            assert_eq!(
                error_kind(BodyFraming::Chunked, bad),
                ParseErrorKind::InvalidTrailer,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rfc9112_7_1_2_trailers_are_bounded() {
        let limits = Limits {
            max_trailer_bytes: 32,
            ..Limits::default()
        };
        let input = b"0\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        let err = decode_all_with(BodyFraming::Chunked, input, &limits).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::TrailersTooLarge);
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        let input = b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        let err = decode_all_with(BodyFraming::Chunked, input, &limits).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::TrailersTooLarge);
    }

    #[test]
    fn rfc9110_15_5_14_chunked_body_over_limit_is_413_before_data_arrives() {
        let limits = Limits {
            max_body_bytes: 8,
            ..Limits::default()
        };
        let err =
            decode_all_with(BodyFraming::Chunked, b"5\r\nhello\r\n5\r\n", &limits).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::BodyTooLarge);
        assert_eq!(err.status().as_u16(), 413);
    }

    #[test]
    fn partial_input_needs_more_without_consuming_partial_lines() {
        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, &Limits::default());
        let step = decoder.decode(b"5\r").unwrap();
        assert_eq!(
            step,
            DecodeStep {
                consumed: 0,
                data: 0..0,
                done: false
            }
        );
        let step = decoder.decode(b"5\r\nhel").unwrap();
        assert_eq!(
            step,
            DecodeStep {
                consumed: 6,
                data: 3..6,
                done: false
            }
        );
        let step = decoder.decode(b"lo\r").unwrap();
        assert_eq!(
            step,
            DecodeStep {
                consumed: 2,
                data: 0..2,
                done: false
            }
        );
        let step = decoder.decode(b"\r").unwrap();
        assert_eq!(step.consumed, 0);
        let step = decoder.decode(b"\r\n0\r\n\r").unwrap();
        assert_eq!(
            step,
            DecodeStep {
                consumed: 5,
                data: 5..5,
                done: false
            }
        );
        let step = decoder.decode(b"\r\n").unwrap();
        assert_eq!(
            step,
            DecodeStep {
                consumed: 2,
                data: 2..2,
                done: true
            }
        );
        assert!(decoder.is_done());
    }

    #[test]
    fn next_data_returns_content_without_framing() {
        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, &Limits::default());
        let mut buf = BytesMut::from(&b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nrest"[..]);
        let mut body = Vec::new();
        while let Some(data) = decoder.next_data(&mut buf).unwrap() {
            body.extend_from_slice(&data);
        }
        assert!(decoder.is_done());
        assert_eq!(body, b"abcde");
        assert_eq!(&buf[..], b"rest");
    }

    #[test]
    fn empty_framings_are_done_immediately() {
        assert!(BodyDecoder::new(BodyFraming::None, &Limits::default()).is_done());
        assert!(BodyDecoder::new(BodyFraming::Length(0), &Limits::default()).is_done());
        assert!(!BodyFraming::Length(0).has_content());
        assert!(BodyFraming::Chunked.has_content());
    }
}
