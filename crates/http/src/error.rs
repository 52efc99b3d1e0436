//! Every way a request can be rejected while parsing, with the status code the RFCs prescribe and
//! whether the connection can survive it.

use crate::body::BodyFraming;
use crate::method::Method;
use crate::status::StatusCode;
use std::fmt;

/// Why a request was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Request line longer than `Limits::max_request_line` → 414 (RFC 9112 §3).
    RequestLineTooLong,
    /// Header section larger than `Limits::max_header_bytes` → 431 (RFC 6585 §5).
    HeaderSectionTooLarge,
    /// More field lines than `Limits::max_headers` → 431 (RFC 6585 §5).
    TooManyHeaders,
    /// A line ended in LF without CR, or a CR was not followed by LF (RFC 9112 §2.2).
    BareLineEnding,
    /// Request line not `method SP request-target SP HTTP-version` (RFC 9112 §3).
    MalformedRequestLine,
    /// Method is not a token (RFC 9110 §9.1).
    InvalidMethod,
    /// Method is a token the server does not implement → 501 (RFC 9110 §9.1).
    UnknownMethod,
    /// Request-target does not match any form of RFC 9112 §3.2.
    InvalidTarget,
    /// The path's dot-segments climb above the root (`/..`, `/a/../..`; RFC 3986 §5.2.4).
    PathAboveRoot,
    /// `*` used with a method other than OPTIONS, or authority-form without CONNECT, or CONNECT
    /// without authority-form (RFC 9112 §3.2.3-4).
    TargetFormNotAllowed,
    /// Version not `HTTP/` DIGIT `.` DIGIT (RFC 9112 §2.3).
    MalformedVersion,
    /// Major version other than 1 → 505 (RFC 9110 §15.6.6).
    UnsupportedVersion,
    /// Whitespace between a field name and its colon (RFC 9112 §5.1).
    WhitespaceBeforeColon,
    /// A field line starting with whitespace: obsolete line folding (RFC 9112 §5.2).
    ObsoleteLineFolding,
    /// Field name is not a token, or a field line has no colon (RFC 9110 §5.1).
    InvalidHeaderName,
    /// Field value contains CR, LF, NUL or another control (RFC 9110 §5.5).
    InvalidHeaderValue,
    /// HTTP/1.1 request without `Host` (RFC 9112 §3.2).
    MissingHost,
    /// More than one `Host` field line (RFC 9112 §3.2).
    DuplicateHost,
    /// `Host` value is not `uri-host [ ":" port ]` (RFC 9112 §3.2).
    InvalidHost,
    /// `Content-Length` is not a list of identical `1*DIGIT` values, or overflows (RFC 9110 §8.6).
    InvalidContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` (RFC 9112 §6.1): smuggling vector.
    ContentLengthWithTransferEncoding,
    /// `Transfer-Encoding` whose final coding is not `chunked`, or that applies `chunked` twice
    /// (RFC 9112 §6.1, §6.3).
    TransferEncodingNotChunked,
    /// A transfer coding other than `chunked` before the final `chunked` → 501 (RFC 9112 §6.1).
    UnsupportedTransferCoding,
    /// `Transfer-Encoding` in an HTTP/1.0 request: framing is faulty (RFC 9112 §6.1).
    TransferEncodingInHttp10,
    /// Content larger than `Limits::max_body_bytes` → 413 (RFC 9110 §15.5.14).
    BodyTooLarge,
    /// `Expect` with an expectation other than `100-continue` → 417 (RFC 9110 §10.1.1).
    UnsupportedExpectation,
    /// Chunk size not `1*HEXDIG`, or followed by anything but extensions and CRLF (RFC 9112 §7.1).
    InvalidChunkSize,
    /// Chunk size does not fit in 64 bits.
    ChunkSizeOverflow,
    /// Chunk-size line longer than `Limits::max_chunk_line`, or extensions beyond
    /// `Limits::max_chunk_extensions` in total.
    ChunkExtensionsTooLarge,
    /// Chunk extension not `;name[=value]` with token name and token or quoted-string value
    /// (RFC 9112 §7.1.1).
    InvalidChunkExtension,
    /// Chunk data not followed by CRLF (RFC 9112 §7.1).
    InvalidChunkTerminator,
    /// Trailer field line malformed (RFC 9112 §7.1.2).
    InvalidTrailer,
    /// Trailer section beyond `Limits::max_trailer_bytes` or `Limits::max_headers` fields.
    TrailersTooLarge,
}

impl ParseErrorKind {
    /// The status code to answer with.
    pub const fn status(self) -> StatusCode {
        use ParseErrorKind::*;
        match self {
            RequestLineTooLong => StatusCode::URI_TOO_LONG,
            HeaderSectionTooLarge | TooManyHeaders => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            UnknownMethod | UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
            UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            BodyTooLarge => StatusCode::CONTENT_TOO_LARGE,
            UnsupportedExpectation => StatusCode::EXPECTATION_FAILED,
            BareLineEnding
            | MalformedRequestLine
            | InvalidMethod
            | InvalidTarget
            | PathAboveRoot
            | TargetFormNotAllowed
            | MalformedVersion
            | WhitespaceBeforeColon
            | ObsoleteLineFolding
            | InvalidHeaderName
            | InvalidHeaderValue
            | MissingHost
            | DuplicateHost
            | InvalidHost
            | InvalidContentLength
            | ContentLengthWithTransferEncoding
            | TransferEncodingNotChunked
            | TransferEncodingInHttp10
            | InvalidChunkSize
            | ChunkSizeOverflow
            | ChunkExtensionsTooLarge
            | InvalidChunkExtension
            | InvalidChunkTerminator
            | InvalidTrailer
            | TrailersTooLarge => StatusCode::BAD_REQUEST,
        }
    }

    /// A short English description for logs and error bodies.
    pub const fn description(self) -> &'static str {
        use ParseErrorKind::*;
        match self {
            RequestLineTooLong => "request line too long",
            HeaderSectionTooLarge => "header section too large",
            TooManyHeaders => "too many header fields",
            BareLineEnding => "line not terminated by CRLF",
            MalformedRequestLine => "malformed request line",
            InvalidMethod => "invalid method",
            UnknownMethod => "method not implemented",
            InvalidTarget => "invalid request target",
            PathAboveRoot => "path climbs above the root",
            TargetFormNotAllowed => "request-target form not allowed with this method",
            MalformedVersion => "malformed HTTP version",
            UnsupportedVersion => "HTTP version not supported",
            WhitespaceBeforeColon => "whitespace between field name and colon",
            ObsoleteLineFolding => "obsolete line folding",
            InvalidHeaderName => "invalid field name",
            InvalidHeaderValue => "invalid field value",
            MissingHost => "missing Host",
            DuplicateHost => "more than one Host",
            InvalidHost => "invalid Host",
            InvalidContentLength => "invalid Content-Length",
            ContentLengthWithTransferEncoding => "both Content-Length and Transfer-Encoding",
            TransferEncodingNotChunked => "Transfer-Encoding does not end in chunked",
            UnsupportedTransferCoding => "transfer coding not implemented",
            TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 request",
            BodyTooLarge => "content too large",
            UnsupportedExpectation => "expectation not supported",
            InvalidChunkSize => "invalid chunk size",
            ChunkSizeOverflow => "chunk size overflows",
            ChunkExtensionsTooLarge => "chunk extensions too large",
            InvalidChunkExtension => "invalid chunk extension",
            InvalidChunkTerminator => "chunk data not followed by CRLF",
            InvalidTrailer => "invalid trailer field",
            TrailersTooLarge => "trailer section too large",
        }
    }
}

/// Where the next request starts after a rejected one whose framing was fully understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// Bytes of the rejected head to drop from the buffer.
    pub consumed: usize,
    /// Content that follows the head and must be read (and discarded) before the next request.
    pub body: BodyFraming,
    /// The request's method when it is implemented: an error answer to HEAD carries no content.
    pub method: Option<Method>,
}

/// A rejected request: what went wrong and whether the connection can go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    /// Decides the status code and the message.
    kind: ParseErrorKind,
    /// Present only when the head was complete and its framing valid, so the server may answer
    /// and keep the connection; absent whenever the byte stream can no longer be trusted to be in
    /// step with message boundaries.
    resume: Option<Resume>,
}

impl ParseError {
    /// An error after which the connection must close.
    pub(crate) const fn fatal(kind: ParseErrorKind) -> Self {
        ParseError { kind, resume: None }
    }

    /// An error found once the head's length and body framing were already known.
    pub(crate) const fn recoverable(kind: ParseErrorKind, resume: Resume) -> Self {
        ParseError {
            kind,
            resume: Some(resume),
        }
    }

    /// What went wrong.
    pub const fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// The status code to answer with.
    pub const fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// True when the server must send `Connection: close` and close after the response: the
    /// error desynchronises framing, or the request's content is refused unread (RFC 9112 §2.2,
    /// §6.1, §9.6), or the head is invalid (400). An invalid head says the peer does not speak
    /// HTTP as this server reads it, so nothing after it on the connection is trusted: a request
    /// without `Host`, or with two, answered and then followed by another on the same
    /// connection is a request-smuggling foothold.
    pub const fn must_close(&self) -> bool {
        self.resume.is_none() || self.kind.status().as_u16() == 400
    }

    /// How to skip the rejected request and continue, when the connection may stay open.
    pub const fn resume(&self) -> Option<Resume> {
        self.resume
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.kind.description(), self.status())
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fatal_errors_close_and_recoverable_ones_do_not() {
        let fatal = ParseError::fatal(ParseErrorKind::ContentLengthWithTransferEncoding);
        assert!(fatal.must_close());
        assert_eq!(fatal.status(), StatusCode::BAD_REQUEST);
        let resume = Resume {
            consumed: 10,
            body: BodyFraming::Length(3),
            method: None,
        };
        let recoverable = ParseError::recoverable(ParseErrorKind::UnknownMethod, resume);
        assert!(!recoverable.must_close());
        for invalid_head in [
            ParseErrorKind::MissingHost,
            ParseErrorKind::DuplicateHost,
            ParseErrorKind::InvalidHost,
        ] {
            assert!(ParseError::recoverable(invalid_head, resume).must_close());
        }
        assert_eq!(recoverable.resume(), Some(resume));
        assert_eq!(recoverable.status(), StatusCode::NOT_IMPLEMENTED);
        assert_eq!(
            recoverable.to_string(),
            "method not implemented (501 Not Implemented)"
        );
    }
}
