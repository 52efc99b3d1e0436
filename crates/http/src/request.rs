//! A parsed request: the head as spans into the received bytes, plus the decoded content.

use crate::body::BodyFraming;
use crate::method::Method;
use crate::target::TargetForm;
use crate::version::Version;
use bytes::Bytes;
use std::ops::Range;

/// One header field: where its name and its (OWS-trimmed) value lie in the head bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldSpan {
    /// Field name, a validated token.
    pub name: (usize, usize),
    /// Field value without surrounding whitespace.
    pub value: (usize, usize),
}

/// The head of a request as the parser found it: decisions (method, framing, persistence) plus
/// offsets into the bytes it was parsed from. Attach those bytes with
/// [`into_request`](RequestHead::into_request) to read targets and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, already known to be implemented.
    pub(crate) method: Method,
    /// 1.0 or 1.1; decides persistence defaults and whether chunked is allowed.
    pub(crate) version: Version,
    /// Which request-target form was used.
    pub(crate) form: TargetForm,
    /// The whole request-target.
    pub(crate) target: (usize, usize),
    /// The path part of the target (empty for authority-form; empty absolute-form paths mean `/`).
    pub(crate) path: (usize, usize),
    /// The path with its dot-segments removed (RFC 3986 §5.2.4), when it had any; what routing
    /// and the static files see.
    pub(crate) resolved_path: Option<Box<str>>,
    /// The query without `?`.
    pub(crate) query: Option<(usize, usize)>,
    /// The effective host: the target's authority when present (RFC 9112 §3.2.2), otherwise a
    /// non-empty `Host` value.
    pub(crate) host: Option<(usize, usize)>,
    /// Every field line in order, duplicates kept.
    pub(crate) fields: Vec<FieldSpan>,
    /// How the content that follows is delimited.
    pub(crate) body: BodyFraming,
    /// Whether the connection may carry another request after this one.
    pub(crate) keep_alive: bool,
    /// The client waits for `100 Continue` before sending content (HTTP/1.1 only).
    pub(crate) expect_continue: bool,
    /// Bytes the head occupies, including empty lines before it.
    pub(crate) len: usize,
}

impl Drop for RequestHead {
    fn drop(&mut self) {
        crate::spare::give_back_spans(std::mem::take(&mut self.fields));
    }
}

impl RequestHead {
    /// The request method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// How the content is framed; feed it to [`BodyDecoder::new`](crate::BodyDecoder::new).
    pub fn body_framing(&self) -> BodyFraming {
        self.body
    }

    /// Whether the connection may be reused after the response (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Whether the client sent `Expect: 100-continue` in HTTP/1.1 and awaits an interim
    /// `100 Continue` before the content (RFC 9110 §10.1.1). Only meaningful when
    /// [`body_framing`](Self::body_framing) has content; a server that will reject the request
    /// anyway answers with the final status instead and never reads the content.
    pub fn expect_continue(&self) -> bool {
        self.expect_continue
    }

    /// Length of the head in bytes: what the parser consumed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a head has at least a request line. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Joins the head with the bytes it was parsed from and the decoded content.
    ///
    /// # Panics
    ///
    /// If `head_bytes` is not exactly [`len`](Self::len) bytes long: spans would point at the
    /// wrong bytes.
    pub fn into_request(self, head_bytes: Bytes, body: Bytes) -> Request {
        assert_eq!(
            head_bytes.len(),
            self.len,
            "head bytes do not match the parsed head"
        );
        Request {
            head: self,
            bytes: head_bytes,
            body,
        }
    }
}

/// A complete request: head fields are read from the received bytes without copying.
#[derive(Debug, Clone)]
pub struct Request {
    /// Decisions and spans.
    head: RequestHead,
    /// The received head the spans point into.
    bytes: Bytes,
    /// Decoded content (chunked framing removed).
    body: Bytes,
}

impl Request {
    fn slice(&self, (start, end): (usize, usize)) -> &[u8] {
        &self.bytes[start..end]
    }

    /// Spans given to this function cover bytes the parser validated as ASCII, so the conversion
    /// cannot fail for a request built by [`RequestHead::into_request`].
    fn text(&self, span: (usize, usize)) -> &str {
        std::str::from_utf8(self.slice(span)).unwrap_or_default()
    }

    /// Attaches the decoded content, once it has been read: a request with content is first
    /// routed by its head alone, so an answer that does not depend on the content (404, 405, a
    /// static file) need not wait for it.
    pub fn set_body(&mut self, body: Bytes) {
        self.body = body;
    }

    /// The parsed head.
    pub fn head(&self) -> &RequestHead {
        &self.head
    }

    /// The request method.
    pub fn method(&self) -> Method {
        self.head.method
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The request-target form.
    pub fn target_form(&self) -> TargetForm {
        self.head.form
    }

    /// The request-target exactly as received.
    pub fn target(&self) -> &str {
        self.text(self.head.target)
    }

    /// The path, still percent-encoded, with its dot-segments removed: `/` for an absolute-form
    /// target without a path (RFC 9112 §3.2.2), `*` for asterisk-form and empty for
    /// authority-form. [`target`](Self::target) has it as received.
    pub fn path(&self) -> &str {
        if let Some(resolved) = &self.head.resolved_path {
            return resolved;
        }
        if self.head.form == TargetForm::Absolute && self.head.path.0 == self.head.path.1 {
            return "/";
        }
        self.text(self.head.path)
    }

    /// The query string without `?`, still percent-encoded.
    pub fn query(&self) -> Option<&str> {
        self.head.query.map(|span| self.text(span))
    }

    /// The host the request is for: the absolute-form authority, else the `Host` value; `None`
    /// for an HTTP/1.0 request without `Host` or an empty `Host`.
    pub fn host(&self) -> Option<&str> {
        self.head.host.map(|span| self.text(span))
    }

    /// The value of the first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        let field = self
            .head
            .fields
            .iter()
            .find(|field| self.slice(field.name).eq_ignore_ascii_case(name.as_bytes()))?;
        Some(self.slice(field.value))
    }

    /// The first `name` value as text, when it is valid UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name)
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// Every value of fields named `name`, in order (list fields may be split across lines).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.head
            .fields
            .iter()
            .filter(move |field| self.slice(field.name).eq_ignore_ascii_case(name.as_bytes()))
            .map(move |field| self.slice(field.value))
    }

    /// Every field as `(name, value)` bytes, without converting names to text.
    pub(crate) fn field_bytes(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.head
            .fields
            .iter()
            .map(move |field| (self.slice(field.name), self.slice(field.value)))
    }

    /// All fields as `(name, value)` in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.head
            .fields
            .iter()
            .map(move |field| (self.text(field.name), self.slice(field.value)))
    }

    /// The decoded content.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Whether the connection may be reused after the response.
    pub fn keep_alive(&self) -> bool {
        self.head.keep_alive
    }
}

/// Converts a sub-slice's position inside `outer` into a span; both must come from the same
/// buffer, which is how httparse hands back names and values.
pub(crate) fn span_of(outer: &[u8], inner: &[u8]) -> (usize, usize) {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    (start, start + inner.len())
}

/// A range as a span.
pub(crate) fn span(range: Range<usize>) -> (usize, usize) {
    (range.start, range.end)
}
