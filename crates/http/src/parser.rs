//! Incremental request-head parser (RFC 9112 §2-§6) on top of `httparse`.
//!
//! The parser first scans the caller's buffer line by line, enforcing the limits and the line
//! structure httparse is lenient about (bare LF, obsolete folding, whitespace before the colon).
//! Only once the whole head is present does it parse the request line itself (httparse does not
//! distinguish 505 from 400, nor accept HTTP/1.2) and hand the field lines to httparse, then
//! derives framing, host and persistence with the RFCs' strictness.

use crate::body::{BodyDecoder, BodyFraming};
use crate::error::{ParseError, ParseErrorKind, Resume};
use crate::limits::Limits;
use crate::method::Method;
use crate::request::{span, span_of, FieldSpan, Request, RequestHead};
use crate::syntax::{is_ows, is_token, list_elements, trim_ows};
use crate::target::{is_authority, parse_target, remove_dot_segments, DotSegments, TargetForm};
use crate::version::{Version, VersionToken};
use bytes::{Bytes, BytesMut};

/// Outcome of [`RequestParser::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole head was found in the first `consumed` bytes of the buffer; its content (if any)
    /// follows immediately.
    Complete {
        /// The parsed head; its spans are relative to the start of the buffer.
        head: RequestHead,
        /// Length of the head in bytes.
        consumed: usize,
    },
    /// The head is not complete yet: append more input to the same buffer and call again.
    Partial,
}

/// Resumable scan state, so that repeated calls on a growing buffer look at each byte once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Scan {
    /// First byte not yet searched for LF.
    next: usize,
    /// Start of the line being scanned.
    line_start: usize,
    /// Request line bounds (without CRLF), once found.
    request_line: Option<(usize, usize)>,
    /// Start of the first field line, once the request line is found.
    fields_start: usize,
    /// Field lines seen so far.
    field_lines: usize,
}

/// Incremental parser for request heads; one per connection.
///
/// Call [`parse`](Self::parse) with the connection's read buffer each time it grows. The buffer
/// must start at the first unconsumed byte and keep its earlier contents between calls (append
/// only). Nothing is copied; after `Complete`, drop `consumed` bytes and the parser is ready for
/// the next (possibly already buffered, pipelined) request.
#[derive(Debug, Clone)]
pub struct RequestParser {
    /// Limits enforced while scanning.
    limits: Limits,
    /// Progress through the current head.
    scan: Scan,
}

/// Field lines parsed into a stack array when there are at most this many; more use the heap.
const INLINE_FIELDS: usize = 64;

impl RequestParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            scan: Scan::default(),
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Forgets any partial progress, for a buffer that was replaced rather than appended to.
    pub fn reset(&mut self) {
        self.scan = Scan::default();
    }

    /// Looks for a complete request head at the start of `buf`.
    ///
    /// Limits are checked on every call, so `Partial` also means the buffered bytes are still
    /// within them. After an error the parser resets; see [`ParseError::must_close`].
    pub fn parse(&mut self, buf: &[u8]) -> Result<Parsed, ParseError> {
        if buf.len() < self.scan.next {
            self.scan = Scan::default();
        }
        let result = self.scan_and_parse(buf);
        if !matches!(result, Ok(Parsed::Partial)) {
            self.scan = Scan::default();
        }
        result
    }

    fn scan_and_parse(&mut self, buf: &[u8]) -> Result<Parsed, ParseError> {
        let limits = self.limits;
        let scan = &mut self.scan;
        loop {
            let Some(lf) = memchr::memchr(b'\n', &buf[scan.next..]).map(|i| scan.next + i) else {
                scan.next = buf.len();
                return match scan.request_line {
                    // +1: the request line's CR may already be buffered.
                    None if buf.len() > limits.max_request_line + 1 => {
                        Err(fatal(ParseErrorKind::RequestLineTooLong))
                    }
                    Some(_) if buf.len() - scan.fields_start > limits.max_header_bytes => {
                        Err(fatal(ParseErrorKind::HeaderSectionTooLarge))
                    }
                    _ => Ok(Parsed::Partial),
                };
            };
            if lf == scan.line_start || buf[lf - 1] != b'\r' {
                return Err(fatal(ParseErrorKind::BareLineEnding));
            }
            let line = &buf[scan.line_start..lf - 1];
            if line.contains(&b'\r') {
                return Err(fatal(ParseErrorKind::BareLineEnding));
            }
            match scan.request_line {
                // RFC 9112 §2.2: ignore empty lines before the request line (they count
                // towards the request-line limit).
                None if line.is_empty() => {}
                None => {
                    if lf - 1 > limits.max_request_line {
                        return Err(fatal(ParseErrorKind::RequestLineTooLong));
                    }
                    scan.request_line = Some((scan.line_start, lf - 1));
                    scan.fields_start = lf + 1;
                }
                Some(request_line) => {
                    if lf + 1 - scan.fields_start > limits.max_header_bytes {
                        return Err(fatal(ParseErrorKind::HeaderSectionTooLarge));
                    }
                    if line.is_empty() {
                        let fields = (scan.fields_start, lf + 1);
                        let field_lines = scan.field_lines;
                        return parse_head(buf, request_line, fields, field_lines, &limits);
                    }
                    scan.field_lines += 1;
                    if scan.field_lines > limits.max_headers {
                        return Err(fatal(ParseErrorKind::TooManyHeaders));
                    }
                    check_field_line(line)?;
                }
            }
            scan.line_start = lf + 1;
            scan.next = lf + 1;
        }
    }
}

const fn fatal(kind: ParseErrorKind) -> ParseError {
    ParseError::fatal(kind)
}

/// Structure httparse would accept but RFC 9112 §5 forbids.
fn check_field_line(line: &[u8]) -> Result<(), ParseError> {
    if is_ows(line[0]) {
        // RFC 9112 §5.2: obs-fold is rejected (also covers whitespace before the first field,
        // §2.2).
        return Err(fatal(ParseErrorKind::ObsoleteLineFolding));
    }
    match memchr::memchr(b':', line) {
        None | Some(0) => Err(fatal(ParseErrorKind::InvalidHeaderName)),
        Some(colon) if is_ows(line[colon - 1]) => Err(fatal(ParseErrorKind::WhitespaceBeforeColon)),
        Some(_) => Ok(()),
    }
}

/// What the request line contains, before the header fields are known.
struct RequestLine {
    method: Option<Method>,
    version: Version,
    target: (usize, usize),
    parts: crate::target::TargetParts,
    /// The path with its dot-segments removed, when it had any.
    resolved_path: Option<Box<str>>,
}

/// `request-line = method SP request-target SP HTTP-version` with single spaces (RFC 9112 §3).
fn parse_request_line(buf: &[u8], (start, end): (usize, usize)) -> Result<RequestLine, ParseError> {
    let line = &buf[start..end];
    let sp1 = memchr::memchr(b' ', line).ok_or(fatal(ParseErrorKind::MalformedRequestLine))?;
    let sp2 = memchr::memrchr(b' ', line)
        .filter(|&sp2| sp2 > sp1 + 1)
        .ok_or(fatal(ParseErrorKind::MalformedRequestLine))?;
    let (method, target, version) = (&line[..sp1], &line[sp1 + 1..sp2], &line[sp2 + 1..]);
    if method.is_empty() || target.contains(&b' ') {
        return Err(fatal(ParseErrorKind::MalformedRequestLine));
    }
    if !is_token(method) {
        return Err(fatal(ParseErrorKind::InvalidMethod));
    }
    let version = match Version::classify(version) {
        VersionToken::Malformed => return Err(fatal(ParseErrorKind::MalformedVersion)),
        VersionToken::Unsupported => None,
        VersionToken::Supported(version) => Some(version),
    };
    let parts = parse_target(target).ok_or(fatal(ParseErrorKind::InvalidTarget))?;
    let version = version.ok_or(fatal(ParseErrorKind::UnsupportedVersion))?;
    let method = Method::from_token(method);
    let form_allowed = match (method, parts.form) {
        (Some(Method::Connect), form) => form == TargetForm::Authority,
        (_, TargetForm::Authority) => false,
        (Some(Method::Options), TargetForm::Asterisk) => true,
        (_, TargetForm::Asterisk) => false,
        _ => true,
    };
    if !form_allowed {
        return Err(fatal(ParseErrorKind::TargetFormNotAllowed));
    }
    let resolved_path = match remove_dot_segments(&target[parts.path.clone()]) {
        DotSegments::None => None,
        DotSegments::Resolved(path) => Some(path),
        DotSegments::AboveRoot => return Err(fatal(ParseErrorKind::PathAboveRoot)),
    };
    let target_start = start + sp1 + 1;
    Ok(RequestLine {
        method,
        version,
        target: (target_start, start + sp2),
        parts,
        resolved_path,
    })
}

fn parse_head(
    buf: &[u8],
    request_line: (usize, usize),
    (fields_start, head_end): (usize, usize),
    field_lines: usize,
    limits: &Limits,
) -> Result<Parsed, ParseError> {
    let line = parse_request_line(buf, request_line)?;
    let fields = parse_fields(&buf[..head_end], fields_start, field_lines)?;
    let semantics = FieldSemantics::collect(buf, &fields, line.version)?;
    let body = semantics.framing(limits)?;
    let resume = Resume {
        consumed: head_end,
        body,
        method: line.method,
    };
    let recoverable = |kind| Err(ParseError::recoverable(kind, resume));

    let offset = |range: std::ops::Range<usize>| {
        span(line.target.0 + range.start..line.target.0 + range.end)
    };
    let host = match (semantics.host_lines, line.version) {
        (0, Version::Http11) => return recoverable(ParseErrorKind::MissingHost),
        (0, _) => None,
        (1, _) => {
            let (start, end) = semantics.host.unwrap_or_default();
            if !is_authority(&buf[start..end], false) {
                return recoverable(ParseErrorKind::InvalidHost);
            }
            (end > start).then_some((start, end))
        }
        _ => return recoverable(ParseErrorKind::DuplicateHost),
    };
    // RFC 9112 §3.2.2: the target's authority wins over Host.
    let host = line.parts.authority.clone().map(offset).or(host);
    let Some(method) = line.method else {
        return recoverable(ParseErrorKind::UnknownMethod);
    };
    if semantics.unsupported_expectation {
        return recoverable(ParseErrorKind::UnsupportedExpectation);
    }
    let keep_alive = !semantics.connection_close
        && (line.version == Version::Http11 || semantics.connection_keep_alive);
    let head = RequestHead {
        method,
        version: line.version,
        form: line.parts.form,
        target: line.target,
        path: offset(line.parts.path.clone()),
        resolved_path: line.resolved_path,
        query: line.parts.query.clone().map(offset),
        host,
        fields,
        body,
        keep_alive,
        // RFC 9110 §10.1.1: a 100-continue expectation in HTTP/1.0 is ignored.
        expect_continue: semantics.expect_continue && line.version == Version::Http11,
        len: head_end,
    };
    Ok(Parsed::Complete {
        head,
        consumed: head_end,
    })
}

/// Runs httparse over the field lines; names and values come back as spans into `head`.
fn parse_fields(
    head: &[u8],
    fields_start: usize,
    field_lines: usize,
) -> Result<Vec<FieldSpan>, ParseError> {
    let mut inline = [httparse::EMPTY_HEADER; INLINE_FIELDS];
    let mut heap;
    let slots: &mut [httparse::Header<'_>] = if field_lines <= INLINE_FIELDS {
        &mut inline[..field_lines]
    } else {
        heap = vec![httparse::EMPTY_HEADER; field_lines];
        &mut heap
    };
    match httparse::parse_headers(&head[fields_start..], slots) {
        Ok(httparse::Status::Complete((_, parsed))) => {
            let mut spans = crate::spare::take_spans(parsed.len());
            spans.extend(parsed.iter().map(|field| FieldSpan {
                name: span_of(head, field.name.as_bytes()),
                value: span_of(head, trim_ows(field.value)),
            }));
            Ok(spans)
        }
        Err(httparse::Error::HeaderValue) => Err(fatal(ParseErrorKind::InvalidHeaderValue)),
        // The scan already found the end of the section, so anything else is a malformed name.
        Err(_) | Ok(httparse::Status::Partial) => Err(fatal(ParseErrorKind::InvalidHeaderName)),
    }
}

/// What the framing, host, persistence and expectation fields say, gathered in one pass.
#[derive(Debug, Default)]
struct FieldSemantics {
    /// Number of `Host` field lines (RFC 9112 §3.2 allows exactly one).
    host_lines: usize,
    /// The `Host` value, when there is one.
    host: Option<(usize, usize)>,
    /// The agreed `Content-Length`, if any was sent.
    content_length: Option<u64>,
    /// Whether any `Transfer-Encoding` line was present.
    transfer_encoding: bool,
    /// Whether the last transfer coding listed is `chunked`.
    final_coding_chunked: bool,
    /// How many times `chunked` is listed (more than once is invalid).
    chunked_count: usize,
    /// Whether a coding other than `chunked` is listed.
    other_coding: bool,
    /// `Connection: close` seen.
    connection_close: bool,
    /// `Connection: keep-alive` seen (HTTP/1.0 persistence).
    connection_keep_alive: bool,
    /// `Expect: 100-continue` seen.
    expect_continue: bool,
    /// An expectation other than `100-continue` seen.
    unsupported_expectation: bool,
}

impl FieldSemantics {
    fn collect(buf: &[u8], fields: &[FieldSpan], version: Version) -> Result<Self, ParseError> {
        let mut semantics = FieldSemantics::default();
        for field in fields {
            let name = &buf[field.name.0..field.name.1];
            let value = &buf[field.value.0..field.value.1];
            if name.eq_ignore_ascii_case(b"host") {
                semantics.host_lines += 1;
                semantics.host = Some(field.value);
            } else if name.eq_ignore_ascii_case(b"content-length") {
                semantics.content_length(value)?;
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                if version == Version::Http10 {
                    // RFC 9112 §6.1: faulty framing, even if Content-Length is present.
                    return Err(fatal(ParseErrorKind::TransferEncodingInHttp10));
                }
                semantics.transfer_encoding(value)?;
            } else if name.eq_ignore_ascii_case(b"connection") {
                for token in list_elements(value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        semantics.connection_close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        semantics.connection_keep_alive = true;
                    }
                }
            } else if name.eq_ignore_ascii_case(b"expect") {
                for expectation in list_elements(value) {
                    if expectation.eq_ignore_ascii_case(b"100-continue") {
                        semantics.expect_continue = true;
                    } else {
                        semantics.unsupported_expectation = true;
                    }
                }
            }
        }
        Ok(semantics)
    }

    /// `Content-Length = 1*DIGIT`; a list of identical values is accepted as one, differing
    /// values are invalid (RFC 9110 §8.6).
    fn content_length(&mut self, value: &[u8]) -> Result<(), ParseError> {
        let invalid = fatal(ParseErrorKind::InvalidContentLength);
        let mut any = false;
        for element in value.split(|&b| b == b',').map(trim_ows) {
            if element.is_empty() || !element.iter().all(u8::is_ascii_digit) {
                return Err(invalid);
            }
            let length = element
                .iter()
                .try_fold(0u64, |n, &d| {
                    n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                })
                .ok_or(invalid)?;
            if self
                .content_length
                .is_some_and(|previous| previous != length)
            {
                return Err(invalid);
            }
            self.content_length = Some(length);
            any = true;
        }
        if any {
            Ok(())
        } else {
            Err(invalid)
        }
    }

    /// `Transfer-Encoding = #transfer-coding` (RFC 9112 §6.1); codings are case-insensitive and
    /// may carry parameters.
    fn transfer_encoding(&mut self, value: &[u8]) -> Result<(), ParseError> {
        self.transfer_encoding = true;
        for element in list_elements(value) {
            let coding = trim_ows(element.split(|&b| b == b';').next().unwrap_or_default());
            if !is_token(coding) {
                return Err(fatal(ParseErrorKind::TransferEncodingNotChunked));
            }
            let chunked = coding.eq_ignore_ascii_case(b"chunked");
            self.final_coding_chunked = chunked;
            if chunked {
                self.chunked_count += 1;
            } else {
                self.other_coding = true;
            }
        }
        Ok(())
    }

    /// RFC 9112 §6.3: Transfer-Encoding overrides, but together with Content-Length it is
    /// rejected outright because the two framings disagree about where the next request starts.
    fn framing(&self, limits: &Limits) -> Result<BodyFraming, ParseError> {
        if self.transfer_encoding {
            if self.content_length.is_some() {
                return Err(fatal(ParseErrorKind::ContentLengthWithTransferEncoding));
            }
            if !self.final_coding_chunked || self.chunked_count != 1 {
                return Err(fatal(ParseErrorKind::TransferEncodingNotChunked));
            }
            if self.other_coding {
                return Err(fatal(ParseErrorKind::UnsupportedTransferCoding));
            }
            return Ok(BodyFraming::Chunked);
        }
        match self.content_length {
            Some(length) if length > limits.max_body_bytes => {
                Err(fatal(ParseErrorKind::BodyTooLarge))
            }
            Some(length) => Ok(BodyFraming::Length(length)),
            None => Ok(BodyFraming::None),
        }
    }
}

/// Parses one whole request (head and content) from `raw`, copying it into owned buffers.
///
/// Returns `Ok(None)` when `raw` does not yet hold a complete request, otherwise the request and
/// how many bytes of `raw` it used. Meant for tests and simple callers; a server loop uses
/// [`RequestParser`] and [`BodyDecoder`] on its own buffer instead.
pub fn parse_request(raw: &[u8], limits: &Limits) -> Result<Option<(Request, usize)>, ParseError> {
    let mut parser = RequestParser::new(*limits);
    let (head, consumed) = match parser.parse(raw)? {
        Parsed::Complete { head, consumed } => (head, consumed),
        Parsed::Partial => return Ok(None),
    };
    let mut decoder = BodyDecoder::new(head.body_framing(), limits);
    let mut rest = BytesMut::from(&raw[consumed..]);
    let before = rest.len();
    let mut body = BytesMut::new();
    while let Some(data) = decoder.next_data(&mut rest)? {
        body.extend_from_slice(&data);
    }
    if !decoder.is_done() {
        return Ok(None);
    }
    let used = consumed + before - rest.len();
    let request = head.into_request(Bytes::copy_from_slice(&raw[..consumed]), body.freeze());
    Ok(Some((request, used)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Request, ParseError> {
        parse_with(raw, &Limits::default())
    }

    fn parse_with(raw: &[u8], limits: &Limits) -> Result<Request, ParseError> {
        let (request, used) = parse_request(raw, limits)?.expect("complete request");
        assert_eq!(used, raw.len(), "request must use all input");
        Ok(request)
    }

    fn rejected(raw: &[u8]) -> ParseError {
        parse(raw).expect_err("request must be rejected")
    }

    fn assert_rejected(raw: &[u8], kind: ParseErrorKind, status: u16, must_close: bool) {
        let err = rejected(raw);
        assert_eq!(err.kind(), kind, "{:?}", String::from_utf8_lossy(raw));
        assert_eq!(err.status().as_u16(), status);
        assert_eq!(err.must_close(), must_close, "must_close for {kind:?}");
    }

    #[test]
    fn rfc9112_3_simple_get_parses() {
        let request =
            parse(b"GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")
                .unwrap();
        assert_eq!(request.method(), Method::Get);
        assert_eq!(request.version(), Version::Http11);
        assert_eq!(request.target(), "/index.html?x=1");
        assert_eq!(request.path(), "/index.html");
        assert_eq!(request.query(), Some("x=1"));
        assert_eq!(request.host(), Some("example.com"));
        assert_eq!(request.header("accept"), Some(&b"*/*"[..]));
        assert_eq!(request.head().body_framing(), BodyFraming::None);
        assert!(request.keep_alive());
        assert!(request.body().is_empty());
    }

    #[test]
    fn incremental_parse_returns_partial_until_complete() {
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut parser = RequestParser::new(Limits::default());
        for end in 0..raw.len() {
            assert_eq!(
                parser.parse(&raw[..end]).unwrap(),
                Parsed::Partial,
                "at {end}"
            );
        }
        let Parsed::Complete { consumed, .. } = parser.parse(raw).unwrap() else {
            panic!("complete")
        };
        assert_eq!(consumed, raw.len());
    }

    #[test]
    fn pipelined_requests_are_parsed_one_after_another() {
        let raw = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: h\r\n\r\n";
        let mut offset = 0;
        let mut paths = Vec::new();
        while offset < raw.len() {
            let (request, used) = parse_request(&raw[offset..], &Limits::default())
                .unwrap()
                .unwrap();
            paths.push((request.path().to_owned(), request.body().clone()));
            offset += used;
        }
        assert_eq!(
            paths,
            vec![
                ("/a".into(), Bytes::new()),
                ("/b".into(), Bytes::from_static(b"abc")),
                ("/c".into(), Bytes::new())
            ]
        );
    }

    #[test]
    fn rfc9112_2_2_leading_empty_lines_are_ignored() {
        let request = parse(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(request.path(), "/");
        assert_eq!(request.head().len(), 31);
    }

    #[test]
    fn rfc9112_2_2_bare_lf_is_400() {
        assert_rejected(
            b"GET / HTTP/1.1\nHost: a\r\n\r\n",
            ParseErrorKind::BareLineEnding,
            400,
            true,
        );
        assert_rejected(
            b"GET / HTTP/1.1\r\nHost: a\n\r\n",
            ParseErrorKind::BareLineEnding,
            400,
            true,
        );
        assert_rejected(
            b"GET / HTTP/1.1\r\nHost: a\r\n\n",
            ParseErrorKind::BareLineEnding,
            400,
            true,
        );
        assert_rejected(
            b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            ParseErrorKind::BareLineEnding,
            400,
            true,
        );
    }

    #[test]
    fn rfc9112_2_2_bare_cr_is_400() {
        assert_rejected(
            b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            ParseErrorKind::BareLineEnding,
            400,
            true,
        );
        assert_rejected(
            b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
            ParseErrorKind::BareLineEnding,
            400,
            true,
        );
    }

    #[test]
    fn rfc9112_2_2_whitespace_before_first_field_is_400() {
        assert_rejected(
            b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
            ParseErrorKind::ObsoleteLineFolding,
            400,
            true,
        );
    }

    #[test]
    fn rfc9112_3_request_line_needs_single_spaces() {
        for raw in [
            &b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
            b" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /\r\nHost: a\r\n\r\n",
            b"GET\r\nHost: a\r\n\r\n",
        ] {
            let err = rejected(raw);
            assert_eq!(
                err.status().as_u16(),
                400,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
            assert!(err.must_close());
        }
    }

    #[test]
    fn rfc9112_3_request_line_too_long_is_414_before_it_completes() {
        let limits = Limits {
            max_request_line: 32,
            ..Limits::default()
        };
        let mut parser = RequestParser::new(limits);
        let long = format!("GET /{} HTTP/1.1", "a".repeat(40));
        let err = parser.parse(long.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::RequestLineTooLong);
        assert_eq!(err.status().as_u16(), 414);
        assert!(err.must_close());
        let exact = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(32 - 14));
        assert!(
            parse_with(exact.as_bytes(), &limits).is_ok(),
            "exactly at the limit is accepted"
        );
        let over = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(32 - 13));
        assert_eq!(
            parse_with(over.as_bytes(), &limits).unwrap_err().kind(),
            ParseErrorKind::RequestLineTooLong
        );
    }

    #[test]
    fn rfc6585_5_header_section_too_large_is_431_before_it_completes() {
        let limits = Limits {
            max_header_bytes: 64,
            ..Limits::default()
        };
        let mut parser = RequestParser::new(limits);
        let raw = format!("GET / HTTP/1.1\r\nX-Big: {}", "a".repeat(100));
        let err = parser.parse(raw.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::HeaderSectionTooLarge);
        assert_eq!(err.status().as_u16(), 431);
        let raw = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "a".repeat(60));
        assert_eq!(
            parse_with(raw.as_bytes(), &limits).unwrap_err().kind(),
            ParseErrorKind::HeaderSectionTooLarge
        );
    }

    #[test]
    fn rfc6585_5_too_many_headers_is_431() {
        let limits = Limits {
            max_headers: 3,
            ..Limits::default()
        };
        let ok = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
        assert!(parse_with(ok, &limits).is_ok());
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n";
        let err = RequestParser::new(limits).parse(raw).unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::TooManyHeaders);
        assert_eq!(err.status().as_u16(), 431);
    }

    #[test]
    fn many_headers_beyond_the_inline_array_are_parsed() {
        let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..80 {
            raw.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        let request = parse(&raw).unwrap();
        assert_eq!(request.headers().count(), 81);
        assert_eq!(request.header("x-79"), Some(&b"79"[..]));
    }

    #[test]
    fn rfc9112_5_1_whitespace_before_colon_is_400() {
        assert_rejected(
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            ParseErrorKind::WhitespaceBeforeColon,
            400,
            true,
        );
        assert_rejected(
            b"GET / HTTP/1.1\r\nHost: a\r\nX\t: b\r\n\r\n",
            ParseErrorKind::WhitespaceBeforeColon,
            400,
            true,
        );
    }

    #[test]
    fn rfc9112_5_2_obs_fold_is_400() {
        assert_rejected(
            b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
            ParseErrorKind::ObsoleteLineFolding,
            400,
            true,
        );
        assert_rejected(
            b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n",
            ParseErrorKind::ObsoleteLineFolding,
            400,
            true,
        );
    }

    #[test]
    fn rfc9110_5_1_invalid_field_names_are_400() {
        for raw in [
            &b"GET / HTTP/1.1\r\nHost: a\r\nX\"Y: b\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX(Y): b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX\x00Y: b\r\n\r\n",
        ] {
            let err = rejected(raw);
            assert_eq!(
                err.kind(),
                ParseErrorKind::InvalidHeaderName,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
            assert!(err.must_close());
        }
    }

    #[test]
    fn rfc9110_5_5_control_characters_in_values_are_400() {
        for control in [0x00u8, 0x01, 0x0b, 0x1f, 0x7f] {
            let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\nX: a".to_vec();
            raw.push(control);
            raw.extend_from_slice(b"b\r\n\r\n");
            assert_rejected(&raw, ParseErrorKind::InvalidHeaderValue, 400, true);
        }
    }

    #[test]
    fn rfc9110_5_5_obs_text_and_tabs_in_values_are_accepted() {
        let request = parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\ta\r\n\r\n").unwrap();
        assert_eq!(request.header("x"), Some(&b"caf\xc3\xa9\ta"[..]));
    }

    #[test]
    fn rfc9110_5_5_optional_whitespace_around_values_is_stripped() {
        let request = parse(b"GET / HTTP/1.1\r\nHost:a\r\nX: \t value with  spaces \t \r\nEmpty:\r\nEmpty2: \t \r\n\r\n").unwrap();
        assert_eq!(request.header("x"), Some(&b"value with  spaces"[..]));
        assert_eq!(request.header("empty"), Some(&b""[..]));
        assert_eq!(request.header("empty2"), Some(&b""[..]));
        assert_eq!(request.host(), Some("a"));
    }

    #[test]
    fn rfc9110_5_3_repeated_fields_are_kept_in_order() {
        let request =
            parse(b"GET / HTTP/1.1\r\nHost: a\r\nAccept: a\r\naccept: b\r\n\r\n").unwrap();
        let values: Vec<&[u8]> = request.header_values("ACCEPT").collect();
        assert_eq!(values, vec![&b"a"[..], b"b"]);
    }

    #[test]
    fn rfc9112_3_2_http11_without_host_is_400() {
        assert_rejected(
            b"GET / HTTP/1.1\r\n\r\n",
            ParseErrorKind::MissingHost,
            400,
            true,
        );
        let request = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(request.host(), None);
    }

    #[test]
    fn rfc9112_3_2_two_host_fields_is_400() {
        assert_rejected(
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
            ParseErrorKind::DuplicateHost,
            400,
            true,
        );
        assert_rejected(
            b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
            ParseErrorKind::DuplicateHost,
            400,
            true,
        );
    }

    #[test]
    fn rfc9112_3_2_invalid_host_is_400() {
        for host in [
            &b"a b"[..],
            b"a/b",
            b"user@a",
            b"a:b",
            b"[::1",
            b"a:70000",
            b"a\tb",
        ] {
            let mut raw = b"GET / HTTP/1.1\r\nHost: ".to_vec();
            raw.extend_from_slice(host);
            raw.extend_from_slice(b"\r\n\r\n");
            assert_rejected(&raw, ParseErrorKind::InvalidHost, 400, true);
        }
    }

    #[test]
    fn rfc9112_3_2_empty_host_is_valid() {
        let request = parse(b"GET / HTTP/1.1\r\nHost:\r\n\r\n").unwrap();
        assert_eq!(request.host(), None);
    }

    #[test]
    fn rfc9112_3_2_recoverable_error_reports_where_the_next_request_starts() {
        let raw = b"GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.1\r\n";
        let err = RequestParser::new(Limits::default())
            .parse(raw)
            .unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::MissingHost);
        assert_eq!(
            err.resume(),
            Some(Resume {
                consumed: 37,
                body: BodyFraming::Length(2),
                method: Some(Method::Get)
            })
        );
    }

    #[test]
    fn rfc9112_3_2_2_absolute_form_authority_wins_over_host() {
        let request =
            parse(b"GET http://origin.example:8080/p?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n")
                .unwrap();
        assert_eq!(request.target_form(), TargetForm::Absolute);
        assert_eq!(request.host(), Some("origin.example:8080"));
        assert_eq!(request.path(), "/p");
        assert_eq!(request.query(), Some("q=1"));
        let request =
            parse(b"GET http://origin.example HTTP/1.1\r\nHost: origin.example\r\n\r\n").unwrap();
        assert_eq!(request.path(), "/");
    }

    #[test]
    fn rfc9112_3_2_invalid_targets_are_400() {
        for target in [
            &b"/a#f"[..],
            b"/a\x01",
            b"/%2",
            b"ftp://h/",
            b"http:///x",
            b"http://u@h/",
            b"relative",
        ] {
            let mut raw = b"GET ".to_vec();
            raw.extend_from_slice(target);
            raw.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
            let err = rejected(&raw);
            assert_eq!(
                err.status().as_u16(),
                400,
                "{:?}",
                String::from_utf8_lossy(target)
            );
            assert!(err.must_close());
        }
    }

    #[test]
    fn rfc9112_3_2_4_asterisk_only_with_options() {
        let request = parse(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(request.target_form(), TargetForm::Asterisk);
        assert_eq!(request.path(), "*");
        assert_rejected(
            b"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
            ParseErrorKind::TargetFormNotAllowed,
            400,
            true,
        );
    }

    #[test]
    fn rfc9112_3_2_3_authority_form_only_with_connect() {
        let request =
            parse(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").unwrap();
        assert_eq!(request.target_form(), TargetForm::Authority);
        assert_eq!(request.host(), Some("example.com:443"));
        assert_eq!(request.path(), "");
        assert_rejected(
            b"GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n",
            ParseErrorKind::TargetFormNotAllowed,
            400,
            true,
        );
        assert_rejected(
            b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n",
            ParseErrorKind::TargetFormNotAllowed,
            400,
            true,
        );
    }

    #[test]
    fn rfc9110_9_1_methods_are_case_sensitive_and_unknown_is_501() {
        assert_rejected(
            b"get / HTTP/1.1\r\nHost: a\r\n\r\n",
            ParseErrorKind::UnknownMethod,
            501,
            false,
        );
        assert_rejected(
            b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n",
            ParseErrorKind::UnknownMethod,
            501,
            false,
        );
    }

    #[test]
    fn rfc9110_9_1_invalid_method_token_is_400() {
        assert_rejected(
            b"G(ET / HTTP/1.1\r\nHost: a\r\n\r\n",
            ParseErrorKind::InvalidMethod,
            400,
            true,
        );
        assert_rejected(
            b"GE\x01T / HTTP/1.1\r\nHost: a\r\n\r\n",
            ParseErrorKind::InvalidMethod,
            400,
            true,
        );
    }

    #[test]
    fn rfc9112_2_3_http_1x_minor_versions_are_handled_as_1_1() {
        let request = parse(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(request.version(), Version::Http11);
        let request = parse(b"GET / HTTP/1.7\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(request.version(), Version::Http11);
        let request = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(request.version(), Version::Http10);
    }

    #[test]
    fn rfc9110_15_6_6_major_version_2_or_more_is_505() {
        assert_rejected(
            b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            ParseErrorKind::UnsupportedVersion,
            505,
            true,
        );
        assert_rejected(
            b"GET / HTTP/3.1\r\nHost: a\r\n\r\n",
            ParseErrorKind::UnsupportedVersion,
            505,
            true,
        );
    }

    #[test]
    fn rfc9112_2_3_malformed_version_is_400() {
        for version in [
            "HTTP/1",
            "HTTP/1.1.1",
            "http/1.1",
            "HTTP/11",
            "HTTP/1.x",
            "HTTPS/1.1",
        ] {
            let raw = format!("GET / {version}\r\nHost: a\r\n\r\n");
            assert_rejected(raw.as_bytes(), ParseErrorKind::MalformedVersion, 400, true);
        }
    }

    #[test]
    fn rfc9110_8_6_content_length_body_is_read() {
        let request =
            parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!(request.head().body_framing(), BodyFraming::Length(5));
        assert_eq!(&request.body()[..], b"hello");
    }

    #[test]
    fn rfc9110_8_6_content_length_must_be_digits() {
        for value in [
            "-1",
            "+5",
            "5a",
            "0x5",
            "",
            "5 5",
            "1.0",
            "99999999999999999999",
        ] {
            let raw = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\n");
            assert_rejected(
                raw.as_bytes(),
                ParseErrorKind::InvalidContentLength,
                400,
                true,
            );
        }
    }

    #[test]
    fn rfc9110_8_6_differing_content_lengths_are_400() {
        assert_rejected(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            ParseErrorKind::InvalidContentLength,
            400,
            true,
        );
        assert_rejected(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!",
            ParseErrorKind::InvalidContentLength,
            400,
            true,
        );
        assert_rejected(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\nhello",
            ParseErrorKind::InvalidContentLength,
            400,
            true,
        );
    }

    #[test]
    fn rfc9110_8_6_identical_content_lengths_are_accepted() {
        let request = parse(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello",
        )
        .unwrap();
        assert_eq!(request.head().body_framing(), BodyFraming::Length(5));
    }

    #[test]
    fn rfc9112_6_1_te_and_cl_is_400_and_close() {
        assert_rejected(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            ParseErrorKind::ContentLengthWithTransferEncoding,
            400,
            true,
        );
        assert_rejected(
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
            ParseErrorKind::ContentLengthWithTransferEncoding,
            400,
            true,
        );
    }

    #[test]
    fn rfc9112_6_1_final_coding_not_chunked_is_400_and_close() {
        for te in [
            "gzip",
            "chunked, gzip",
            "chunked;q=1, identity",
            "",
            ",",
            "chunked, chunked",
            "chun ked",
            "\"chunked\"",
        ] {
            let raw = format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {te}\r\n\r\n");
            assert_rejected(
                raw.as_bytes(),
                ParseErrorKind::TransferEncodingNotChunked,
                400,
                true,
            );
        }
        assert_rejected(
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
            ParseErrorKind::TransferEncodingNotChunked,
            400,
            true,
        );
    }

    #[test]
    fn rfc9112_6_1_unknown_coding_before_chunked_is_501_and_close() {
        assert_rejected(
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            ParseErrorKind::UnsupportedTransferCoding,
            501,
            true,
        );
    }

    #[test]
    fn rfc9112_6_1_chunked_is_case_insensitive_and_may_span_lines() {
        let request = parse(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n3\r\nabc\r\n0\r\n\r\n").unwrap();
        assert_eq!(request.head().body_framing(), BodyFraming::Chunked);
        assert_eq!(&request.body()[..], b"abc");
        let err = rejected(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(err.kind(), ParseErrorKind::UnsupportedTransferCoding);
    }

    #[test]
    fn rfc9112_6_1_transfer_encoding_in_http10_is_400_and_close() {
        assert_rejected(
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            ParseErrorKind::TransferEncodingInHttp10,
            400,
            true,
        );
    }

    #[test]
    fn rfc9110_15_5_14_content_length_over_limit_is_413_and_close() {
        let limits = Limits {
            max_body_bytes: 4,
            ..Limits::default()
        };
        let err = RequestParser::new(limits)
            .parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")
            .unwrap_err();
        assert_eq!(err.kind(), ParseErrorKind::BodyTooLarge);
        assert_eq!(err.status().as_u16(), 413);
        assert!(err.must_close());
    }

    #[test]
    fn rfc9110_10_1_1_expect_100_continue() {
        let request = parse(
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx",
        )
        .unwrap();
        assert!(request.head().expect_continue());
        let request =
            parse(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx")
                .unwrap();
        assert!(!request.head().expect_continue(), "ignored in HTTP/1.0");
        assert_rejected(
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n",
            ParseErrorKind::UnsupportedExpectation,
            417,
            false,
        );
    }

    #[test]
    fn rfc9112_9_3_keep_alive_defaults_and_connection_tokens() {
        let cases: [(&[u8], bool); 7] = [
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                false,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (
                b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
                false,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
                true,
            ),
        ];
        for (raw, keep_alive) in cases {
            assert_eq!(
                parse(raw).unwrap().keep_alive(),
                keep_alive,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn parser_resets_after_complete_and_after_errors() {
        let mut parser = RequestParser::new(Limits::default());
        assert_eq!(
            parser.parse(b"GET / HTTP/1.1\r\nHo").unwrap(),
            Parsed::Partial
        );
        assert!(matches!(
            parser.parse(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap(),
            Parsed::Complete { .. }
        ));
        assert_eq!(parser.parse(b"GET").unwrap(), Parsed::Partial);
        assert!(parser.parse(b"GET / HTTP/1.1\nX").is_err());
        assert!(matches!(
            parser.parse(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap(),
            Parsed::Complete { .. }
        ));
    }
}
