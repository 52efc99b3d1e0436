//! Responses and their serialisation: the status line and header section are written into a
//! reusable buffer, the content stays a separate `Bytes` so the server can send both with one
//! vectored write.

use crate::date::DateCache;
use crate::error::ParseError;
use crate::method::Method;
use crate::spare;
use crate::status::StatusCode;
use crate::syntax::{is_field_value_byte, is_ows, is_token};
use crate::version::Version;
use bytes::Bytes;
use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::sync::Arc;

/// Fields the encoder writes itself because they decide framing or persistence; a handler
/// setting them could desynchronise the connection.
const RESERVED_FIELDS: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "date",
    "server",
];

/// The content of a response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Body {
    /// No content (`Content-Length: 0` where content is allowed).
    #[default]
    Empty,
    /// The whole content, framed by `Content-Length`.
    Full(Bytes),
    /// The length of content that is deliberately not included: the answer to a HEAD request,
    /// which must carry the same `Content-Length` as GET (RFC 9110 §9.3.2) without reading it.
    LengthOnly(u64),
    /// Content of unknown length that the server streams after the head: chunked for HTTP/1.1
    /// (see [`write_chunk_prefix`]), delimited by closing the connection for HTTP/1.0.
    Streamed,
    /// Content of this known length that the server writes itself after the head, typically a
    /// large file read in chunks (see [`crate::static_files::Prepared`]). Framed by
    /// `Content-Length` like [`Body::Full`], so the connection stays persistent; the encoder
    /// reports [`ResponseFraming::Length`] and no `body`, and the server must then write exactly
    /// this many bytes, or close the connection if it cannot. Answering HEAD, it behaves like
    /// [`Body::LengthOnly`]: the same `Content-Length`, no content.
    Deferred(u64),
}

/// Why a header could not be added to a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The name is not a token (RFC 9110 §5.1).
    InvalidName(String),
    /// The value has CR, LF, NUL, another control, or leading/trailing whitespace
    /// (RFC 9110 §5.5); refusing it prevents response splitting.
    InvalidValue(String),
    /// The field is written by the encoder from the body and connection state.
    Reserved(String),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::InvalidName(name) => write!(f, "invalid header name {name:?}"),
            HeaderError::InvalidValue(name) => write!(f, "invalid value for header {name:?}"),
            HeaderError::Reserved(name) => write!(f, "header {name:?} is set by the encoder"),
        }
    }
}

impl std::error::Error for HeaderError {}

/// Field values computed once and shared by many responses (a cached file's `Content-Type`,
/// `ETag`s, `Last-Modified`, `Cache-Control`), as one reference-counted table: a response that
/// uses any number of them holds one reference, so building it costs one reference-count
/// increment instead of an allocation and a copy per value (or an increment per value, each on
/// its own cache line, contended when many threads answer with the same file).
pub(crate) type FieldTable = Arc<[Box<str>]>;

/// A stored field value. Not comparable on its own: a table entry's text depends on the table.
#[derive(Debug, Clone)]
pub(crate) enum FieldValue {
    /// A constant.
    Static(&'static str),
    /// Built for this response.
    Owned(String),
    /// Entry of the response's [`FieldTable`].
    Table(u8),
}

impl From<&'static str> for FieldValue {
    fn from(value: &'static str) -> Self {
        FieldValue::Static(value)
    }
}

impl From<String> for FieldValue {
    fn from(value: String) -> Self {
        FieldValue::Owned(value)
    }
}

impl From<Cow<'static, str>> for FieldValue {
    fn from(value: Cow<'static, str>) -> Self {
        match value {
            Cow::Borrowed(value) => FieldValue::Static(value),
            Cow::Owned(value) => FieldValue::Owned(value),
        }
    }
}

/// The text of `value`, whose [`FieldValue::Table`] entries are in `table`.
pub(crate) fn field_text<'a>(value: &'a FieldValue, table: Option<&'a FieldTable>) -> &'a str {
    match value {
        FieldValue::Static(text) => text,
        FieldValue::Owned(text) => text,
        FieldValue::Table(index) => table
            .and_then(|table| table.get(usize::from(*index)))
            .map_or("", |text| text),
    }
}

/// One field of a response: its name and value.
pub(crate) type ResponseField = (Cow<'static, str>, FieldValue);

/// A response: status, fields and content. Framing, `Date`, `Server` and `Connection` are added
/// by [`ResponseEncoder`].
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    status: StatusCode,
    /// Fields in the order they will be written, validated on insertion.
    headers: Vec<ResponseField>,
    /// Where [`FieldValue::Table`] values are, when the response has any.
    table: Option<FieldTable>,
    /// The content.
    body: Body,
    /// The handler wants the connection closed after this response.
    close: bool,
}

/// Responses compare by what they say: how a field value is stored is not part of it.
impl PartialEq for Response {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status
            && self.headers().eq(other.headers())
            && self.body == other.body
            && self.close == other.close
    }
}

impl Eq for Response {}

impl Drop for Response {
    fn drop(&mut self) {
        spare::give_back_fields(std::mem::take(&mut self.headers));
    }
}

impl Response {
    /// A response with no fields and no content.
    pub fn new(status: StatusCode) -> Self {
        Response::with_field_capacity(status, 0)
    }

    /// A response with room for `fields` fields, so that adding them allocates at most once (and
    /// not at all with a spare list from an earlier response on this thread).
    pub(crate) fn with_field_capacity(status: StatusCode, fields: usize) -> Self {
        Response {
            status,
            headers: spare::take_fields(fields),
            table: None,
            body: Body::Empty,
            close: false,
        }
    }

    /// A `text/plain; charset=utf-8` response.
    pub fn text(status: StatusCode, text: impl Into<String>) -> Self {
        let mut response = Response::new(status);
        response.push_unchecked("Content-Type", "text/plain; charset=utf-8");
        response.body = Body::Full(Bytes::from(text.into()));
        response
    }

    /// A plain-text error page for a rejected request, closing the connection when the error
    /// requires it.
    pub fn for_parse_error(error: &ParseError) -> Self {
        let mut response =
            Response::text(error.status(), format!("{}\n", error.kind().description()));
        response.close = error.must_close();
        response
    }

    /// Appends a field, validating name and value.
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Result<Self, HeaderError> {
        self.append_header(name, value)?;
        Ok(self)
    }

    /// Appends a field, validating name and value.
    pub fn append_header(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Result<(), HeaderError> {
        let (name, value) = (name.into(), value.into());
        if !is_token(name.as_bytes()) {
            return Err(HeaderError::InvalidName(name.into_owned()));
        }
        if RESERVED_FIELDS
            .iter()
            .any(|reserved| name.eq_ignore_ascii_case(reserved))
        {
            return Err(HeaderError::Reserved(name.into_owned()));
        }
        let bytes = value.as_bytes();
        let trimmed = !matches!(bytes.first(), Some(&b) if is_ows(b))
            && !matches!(bytes.last(), Some(&b) if is_ows(b));
        if !trimmed || !bytes.iter().all(|&b| is_field_value_byte(b)) {
            return Err(HeaderError::InvalidValue(name.into_owned()));
        }
        self.headers.push((name, value.into()));
        Ok(())
    }

    /// Gives the response the table its [`FieldValue::Table`] values refer to.
    pub(crate) fn set_field_table(&mut self, table: Option<FieldTable>) {
        self.table = table;
    }

    /// Appends a field known to be valid (crate-internal constants, formatted validators and
    /// entries of the response's table, which must be set first).
    pub(crate) fn push_unchecked(&mut self, name: &'static str, value: impl Into<FieldValue>) {
        let value = value.into();
        debug_assert!(is_token(name.as_bytes()));
        debug_assert!(field_text(&value, self.table.as_ref())
            .bytes()
            .all(is_field_value_byte));
        debug_assert!(match value {
            FieldValue::Table(index) => self
                .table
                .as_ref()
                .is_some_and(|table| usize::from(index) < table.len()),
            _ => true,
        });
        self.headers.push((Cow::Borrowed(name), value));
    }

    /// Changes the status code.
    pub fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }

    /// Replaces the content.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Body::Full(body.into());
        self
    }

    /// Replaces the content with any kind of [`Body`].
    pub fn set_body(&mut self, body: Body) {
        self.body = body;
    }

    /// Asks for the connection to be closed after this response.
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The fields set so far.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|(name, value)| (name.as_ref(), field_text(value, self.table.as_ref())))
    }

    /// The first value of field `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The content.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Whether the handler asked for the connection to close.
    pub fn wants_close(&self) -> bool {
        self.close
    }
}

/// What the encoder must know about the request being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestInfo {
    /// HEAD responses carry no content; 2xx answers to CONNECT carry no framing.
    pub method: Method,
    /// HTTP/1.0 peers cannot receive chunked content.
    pub version: Version,
    /// What the request's own `Connection` handling allowed.
    pub keep_alive: bool,
}

impl RequestInfo {
    /// The facts of a parsed request.
    pub fn of(request: &crate::Request) -> Self {
        RequestInfo {
            method: request.method(),
            version: request.version(),
            keep_alive: request.keep_alive(),
        }
    }

    /// Facts for answering a rejected request: HTTP/1.1, not HEAD unless the method was known
    /// to be HEAD, and persistent only when the error allows it.
    pub fn for_error(error: &ParseError) -> Self {
        let method = error
            .resume()
            .and_then(|resume| resume.method)
            .unwrap_or(Method::Get);
        RequestInfo {
            method,
            version: Version::Http11,
            keep_alive: !error.must_close(),
        }
    }
}

/// How the content following an encoded head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No content may follow (1xx, 204, 304, HEAD answers, 2xx to CONNECT).
    NoContent,
    /// `Content-Length` bytes follow.
    Length(u64),
    /// Chunks follow; finish with [`LAST_CHUNK`].
    Chunked,
    /// Content follows until the connection closes (HTTP/1.0 streaming).
    UntilClose,
}

/// The result of encoding a response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Content to write right after the head, if any.
    pub body: Option<Bytes>,
    /// How what follows the head is framed (for streamed bodies, what the server must do next).
    /// For [`Body::Deferred`] it is `Length(n)` with no `body`: the server writes the `n` bytes.
    pub framing: ResponseFraming,
    /// Close the connection once the response is written.
    pub close: bool,
}

/// Writes response heads. One per connection or per worker thread: it owns the `Date` cache.
#[derive(Debug)]
pub struct ResponseEncoder {
    /// Cached `Date` value.
    date: DateCache,
    /// `Server` value, or none to omit the field.
    server: Option<Box<str>>,
}

impl ResponseEncoder {
    /// An encoder with the system clock and an optional `Server` value.
    pub fn new(server: Option<&str>) -> Result<Self, HeaderError> {
        Self::with_date_cache(server, DateCache::default())
    }

    /// An encoder using a given date cache (tests inject a clock through it).
    pub fn with_date_cache(server: Option<&str>, date: DateCache) -> Result<Self, HeaderError> {
        if let Some(value) = server {
            let bytes = value.as_bytes();
            let valid = !bytes.is_empty()
                && !is_ows(bytes[0])
                && !is_ows(bytes[bytes.len() - 1])
                && bytes.iter().all(|&b| is_field_value_byte(b));
            if !valid {
                return Err(HeaderError::InvalidValue("Server".to_owned()));
            }
        }
        Ok(ResponseEncoder {
            date,
            server: server.map(Box::from),
        })
    }

    /// Writes the status line and header section of `response` to `out` (appending) and says
    /// what content follows and whether to close.
    ///
    /// Rules: never both `Content-Length` and `Transfer-Encoding`; no framing fields and no
    /// content for 1xx, 204 and 304 (RFC 9110 §6.4.1, §8.6); HEAD answers get GET's fields but
    /// no content (RFC 9110 §9.3.2); `Connection: close` whenever the connection will close
    /// (RFC 9112 §9.6); `Connection: keep-alive` for persistent HTTP/1.0 peers.
    pub fn encode(
        &mut self,
        response: &Response,
        request: &RequestInfo,
        out: &mut Vec<u8>,
    ) -> Encoded {
        let status = response.status;
        let head_request = request.method == Method::Head;
        let mut close = response.close || !request.keep_alive;
        let tunnel = request.method == Method::Connect && (200..300).contains(&status.as_u16());
        let (framing, content_length, body) = if !status.permits_content() || tunnel {
            (ResponseFraming::NoContent, None, None)
        } else {
            match &response.body {
                Body::Empty => (ResponseFraming::Length(0), Some(0), None),
                Body::Full(bytes) => (
                    ResponseFraming::Length(bytes.len() as u64),
                    Some(bytes.len() as u64),
                    Some(bytes),
                ),
                Body::LengthOnly(length) => {
                    // Content was promised but will not follow unless this is HEAD.
                    close |= !head_request;
                    (ResponseFraming::Length(*length), Some(*length), None)
                }
                // The server writes the content after the head; HEAD is handled below.
                Body::Deferred(length) => (ResponseFraming::Length(*length), Some(*length), None),
                Body::Streamed if request.version == Version::Http11 => {
                    (ResponseFraming::Chunked, None, None)
                }
                Body::Streamed => {
                    close = true;
                    (ResponseFraming::UntilClose, None, None)
                }
            }
        };

        // Digits by `itoa` rather than `write!`: the formatting machinery costs a measurable part
        // of a small response's CPU. A status code has three digits.
        let mut digits = itoa::Buffer::new();
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(digits.format(status.as_u16()).as_bytes());
        out.push(b' ');
        out.extend_from_slice(status.reason().as_bytes());
        out.extend_from_slice(b"\r\n");
        if !status.is_informational() {
            out.extend_from_slice(b"Date: ");
            out.extend_from_slice(self.date.now());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(server) = &self.server {
            out.extend_from_slice(b"Server: ");
            out.extend_from_slice(server.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(length) = content_length {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(digits.format(length).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if framing == ResponseFraming::Chunked {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if request.version == Version::Http10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        for (name, value) in response.headers() {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");

        let (framing, body) = if head_request {
            (ResponseFraming::NoContent, None)
        } else {
            (framing, body.filter(|bytes| !bytes.is_empty()).cloned())
        };
        Encoded {
            body,
            framing,
            close,
        }
    }
}

/// The interim response sent before reading content the client is holding back with
/// `Expect: 100-continue` (RFC 9110 §10.1.1).
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Ends chunked content: the last chunk and an empty trailer section (RFC 9112 §7.1).
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Ends the data of one chunk.
pub const CHUNK_END: &[u8] = b"\r\n";

/// Writes the size line of a chunk of `len` bytes; the server then writes the data and
/// [`CHUNK_END`]. Nothing is written for `len == 0`, because a zero-size chunk would end the
/// content: use [`LAST_CHUNK`] for that.
pub fn write_chunk_prefix(len: usize, out: &mut Vec<u8>) {
    if len > 0 {
        let _ = write!(out, "{len:X}\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::tests::ManualClock;
    use crate::error::ParseErrorKind;
    use std::sync::atomic::Ordering;

    fn encoder() -> ResponseEncoder {
        let clock = ManualClock::default();
        clock.0.store(784_111_777_000, Ordering::SeqCst);
        ResponseEncoder::with_date_cache(Some("web_server"), DateCache::new(Box::new(clock)))
            .unwrap()
    }

    fn info(method: Method, version: Version, keep_alive: bool) -> RequestInfo {
        RequestInfo {
            method,
            version,
            keep_alive,
        }
    }

    fn encode(response: &Response, request: RequestInfo) -> (String, Encoded) {
        let mut out = Vec::new();
        let encoded = encoder().encode(response, &request, &mut out);
        (String::from_utf8(out).unwrap(), encoded)
    }

    #[test]
    fn rfc9112_4_status_line_and_fields() {
        let response = Response::text(StatusCode::OK, "hi")
            .with_header("X-A", "1")
            .unwrap();
        let (head, encoded) = encode(&response, info(Method::Get, Version::Http11, true));
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: web_server\r\nContent-Length: 2\r\n\
             Content-Type: text/plain; charset=utf-8\r\nX-A: 1\r\n\r\n"
        );
        assert_eq!(
            encoded,
            Encoded {
                body: Some(Bytes::from_static(b"hi")),
                framing: ResponseFraming::Length(2),
                close: false
            }
        );
    }

    #[test]
    fn rfc9110_9_3_2_head_gets_same_fields_and_no_content() {
        let response = Response::text(StatusCode::OK, "hello");
        let (get_head, _) = encode(&response, info(Method::Get, Version::Http11, true));
        let (head_head, encoded) = encode(&response, info(Method::Head, Version::Http11, true));
        assert_eq!(get_head, head_head);
        assert_eq!(encoded.body, None);
        assert_eq!(encoded.framing, ResponseFraming::NoContent);
        let mut length_only = Response::new(StatusCode::OK);
        length_only.set_body(Body::LengthOnly(1234));
        let (head, encoded) = encode(&length_only, info(Method::Head, Version::Http11, true));
        assert!(head.contains("Content-Length: 1234\r\n"));
        assert!(!encoded.close);
    }

    #[test]
    fn length_only_answering_get_closes_because_content_never_follows() {
        let mut response = Response::new(StatusCode::OK);
        response.set_body(Body::LengthOnly(10));
        let (head, encoded) = encode(&response, info(Method::Get, Version::Http11, true));
        assert!(encoded.close);
        assert!(head.contains("Connection: close\r\n"));
        let invalid_head = ParseError::recoverable(
            ParseErrorKind::MissingHost,
            crate::error::Resume {
                consumed: 20,
                body: crate::BodyFraming::None,
                method: Some(Method::Get),
            },
        );
        let (head, encoded) = encode(
            &Response::for_parse_error(&invalid_head),
            RequestInfo::for_error(&invalid_head),
        );
        assert!(encoded.close, "an invalid head closes the connection");
        assert!(head.contains("Connection: close\r\n"));
    }

    #[test]
    fn rfc9110_8_6_deferred_content_has_its_content_length_and_keeps_the_connection() {
        let mut response = Response::new(StatusCode::OK);
        response.set_body(Body::Deferred(5_000_000));
        let (head, encoded) = encode(&response, info(Method::Get, Version::Http11, true));
        assert!(head.contains("Content-Length: 5000000\r\n"), "{head}");
        assert!(!head.contains("Transfer-Encoding"), "{head}");
        assert!(!head.contains("Connection: close"), "{head}");
        assert_eq!(
            encoded,
            Encoded {
                body: None,
                framing: ResponseFraming::Length(5_000_000),
                close: false
            }
        );
        let (head, encoded) = encode(&response, info(Method::Get, Version::Http10, true));
        assert!(head.contains("Content-Length: 5000000\r\n"), "{head}");
        assert!(head.contains("Connection: keep-alive\r\n"), "{head}");
        assert_eq!(encoded.framing, ResponseFraming::Length(5_000_000));
        assert!(!encoded.close);
    }

    #[test]
    fn rfc9110_9_3_2_deferred_content_answering_head_is_length_only() {
        let mut deferred = Response::new(StatusCode::OK);
        deferred.set_body(Body::Deferred(1234));
        let mut length_only = Response::new(StatusCode::OK);
        length_only.set_body(Body::LengthOnly(1234));
        let (deferred_head, encoded) = encode(&deferred, info(Method::Head, Version::Http11, true));
        let (length_only_head, _) = encode(&length_only, info(Method::Head, Version::Http11, true));
        assert_eq!(deferred_head, length_only_head);
        assert!(deferred_head.contains("Content-Length: 1234\r\n"));
        assert_eq!(
            encoded,
            Encoded {
                body: None,
                framing: ResponseFraming::NoContent,
                close: false
            }
        );
    }

    #[test]
    fn rfc9110_8_6_deferred_content_is_dropped_for_304() {
        let mut response = Response::new(StatusCode::NOT_MODIFIED);
        response.set_body(Body::Deferred(10));
        let (head, encoded) = encode(&response, info(Method::Get, Version::Http11, true));
        assert!(!head.contains("Content-Length"), "{head}");
        assert_eq!(encoded.framing, ResponseFraming::NoContent);
    }

    #[test]
    fn rfc9110_8_6_no_content_length_for_1xx_204_304() {
        for status in [
            StatusCode::NO_CONTENT,
            StatusCode::NOT_MODIFIED,
            StatusCode::CONTINUE,
        ] {
            let response = Response::new(status).with_body("ignored");
            let (head, encoded) = encode(&response, info(Method::Get, Version::Http11, true));
            assert!(!head.contains("Content-Length"), "{head}");
            assert!(!head.contains("Transfer-Encoding"), "{head}");
            assert_eq!(encoded.body, None);
            assert_eq!(encoded.framing, ResponseFraming::NoContent);
        }
        let (head, _) = encode(
            &Response::new(StatusCode::CONTINUE),
            info(Method::Get, Version::Http11, true),
        );
        assert!(!head.contains("Date"), "1xx carries no Date");
    }

    #[test]
    fn rfc9110_8_6_empty_content_has_content_length_zero() {
        let (head, encoded) = encode(
            &Response::new(StatusCode::NOT_FOUND),
            info(Method::Get, Version::Http11, true),
        );
        assert!(head.contains("Content-Length: 0\r\n"));
        assert_eq!(encoded.body, None);
    }

    #[test]
    fn rfc9112_6_1_streamed_content_is_chunked_and_never_has_content_length() {
        let mut response = Response::new(StatusCode::OK);
        response.set_body(Body::Streamed);
        let (head, encoded) = encode(&response, info(Method::Get, Version::Http11, true));
        assert!(head.contains("Transfer-Encoding: chunked\r\n"));
        assert!(!head.contains("Content-Length"));
        assert_eq!(encoded.framing, ResponseFraming::Chunked);
        assert!(!encoded.close);
    }

    #[test]
    fn rfc9112_6_1_streamed_content_to_http10_is_close_delimited() {
        let mut response = Response::new(StatusCode::OK);
        response.set_body(Body::Streamed);
        let (head, encoded) = encode(&response, info(Method::Get, Version::Http10, true));
        assert!(!head.contains("Transfer-Encoding"));
        assert!(!head.contains("Content-Length"));
        assert!(head.contains("Connection: close\r\n"));
        assert_eq!(encoded.framing, ResponseFraming::UntilClose);
        assert!(encoded.close);
    }

    #[test]
    fn rfc9112_9_6_connection_close_when_closing() {
        let (head, encoded) = encode(
            &Response::new(StatusCode::OK),
            info(Method::Get, Version::Http11, false),
        );
        assert!(head.contains("Connection: close\r\n"));
        assert!(encoded.close);
        let (head, encoded) = encode(
            &Response::new(StatusCode::OK).closing(),
            info(Method::Get, Version::Http11, true),
        );
        assert!(head.contains("Connection: close\r\n"));
        assert!(encoded.close);
        let (head, encoded) = encode(
            &Response::new(StatusCode::OK),
            info(Method::Get, Version::Http10, true),
        );
        assert!(head.contains("Connection: keep-alive\r\n"));
        assert!(!encoded.close);
    }

    #[test]
    fn rfc9110_9_3_6_successful_connect_has_no_framing() {
        let (head, encoded) = encode(
            &Response::new(StatusCode::OK),
            info(Method::Connect, Version::Http11, true),
        );
        assert!(!head.contains("Content-Length"));
        assert_eq!(encoded.framing, ResponseFraming::NoContent);
    }

    #[test]
    fn server_header_is_configurable() {
        let mut encoder = ResponseEncoder::new(None).unwrap();
        let mut out = Vec::new();
        encoder.encode(
            &Response::new(StatusCode::OK),
            &info(Method::Get, Version::Http11, true),
            &mut out,
        );
        assert!(!String::from_utf8(out).unwrap().contains("Server:"));
        assert!(ResponseEncoder::new(Some("bad\r\nX: y")).is_err());
        assert!(ResponseEncoder::new(Some("")).is_err());
    }

    #[test]
    fn rfc9110_5_5_response_header_validation_prevents_splitting() {
        let response = Response::new(StatusCode::OK);
        assert!(matches!(
            response.clone().with_header("X", "a\r\nSet-Cookie: x"),
            Err(HeaderError::InvalidValue(_))
        ));
        assert!(matches!(
            response.clone().with_header("X", "a\0"),
            Err(HeaderError::InvalidValue(_))
        ));
        assert!(matches!(
            response.clone().with_header("X", " padded"),
            Err(HeaderError::InvalidValue(_))
        ));
        assert!(matches!(
            response.clone().with_header("Bad Name", "v"),
            Err(HeaderError::InvalidName(_))
        ));
        assert!(matches!(
            response.clone().with_header("", "v"),
            Err(HeaderError::InvalidName(_))
        ));
        for reserved in [
            "Content-Length",
            "transfer-encoding",
            "Connection",
            "Date",
            "Server",
        ] {
            assert!(
                matches!(
                    response.clone().with_header(reserved, "1"),
                    Err(HeaderError::Reserved(_))
                ),
                "{reserved}"
            );
        }
        assert!(response.with_header("X", "").is_ok());
    }

    #[test]
    fn parse_errors_become_responses_that_close_when_required() {
        let fatal = ParseError::fatal(ParseErrorKind::ContentLengthWithTransferEncoding);
        let response = Response::for_parse_error(&fatal);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let (head, encoded) = encode(&response, RequestInfo::for_error(&fatal));
        assert!(encoded.close);
        assert!(head.contains("Connection: close\r\n"));

        let resume = crate::error::Resume {
            consumed: 20,
            body: crate::BodyFraming::None,
            method: Some(Method::Head),
        };
        let recoverable = ParseError::recoverable(ParseErrorKind::UnsupportedExpectation, resume);
        let (_, encoded) = encode(
            &Response::for_parse_error(&recoverable),
            RequestInfo::for_error(&recoverable),
        );
        assert!(!encoded.close);
        assert_eq!(
            encoded.body, None,
            "a HEAD request never gets content, even for errors"
        );
    }

    #[test]
    fn rfc9112_7_1_chunk_prefix_is_hex_and_skips_empty_chunks() {
        let mut out = Vec::new();
        write_chunk_prefix(255, &mut out);
        assert_eq!(out, b"FF\r\n");
        out.clear();
        write_chunk_prefix(0, &mut out);
        assert!(out.is_empty());
    }
}
