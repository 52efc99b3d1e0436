//! Size limits, read from the server's configuration and enforced by the parser and body decoder
//! before the buffer grows past them.

/// Upper bounds on what one request may make the server buffer.
///
/// Every limit is checked while scanning, so a peer can never make the connection hold more than
/// `max_request_line + max_header_bytes` bytes of head, or more than the chunk-line and trailer
/// limits of framing, before it is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line in bytes, excluding its CRLF (and counting any empty lines that
    /// precede it); longer → 414 URI Too Long (RFC 9112 §3, RFC 9110 §15.5.15).
    pub max_request_line: usize,
    /// Largest header section in bytes: field lines with their CRLFs plus the final empty line;
    /// larger → 431 Request Header Fields Too Large (RFC 6585 §5).
    pub max_header_bytes: usize,
    /// Most field lines in a header section (also bounds the trailer section); more → 431.
    pub max_headers: usize,
    /// Largest request content in bytes, however framed; larger → 413 Content Too Large
    /// (RFC 9110 §15.5.14).
    pub max_body_bytes: u64,
    /// Longest chunk-size line (size, extensions and CRLF). Extensions are tolerated
    /// (RFC 9112 §7.1.1) but must not let a peer make the server buffer without bound.
    pub max_chunk_line: usize,
    /// Total bytes of chunk extensions across one body: a stream of tiny chunks each carrying a
    /// maximal extension would otherwise cost unbounded CPU for little content.
    pub max_chunk_extensions: usize,
    /// Largest trailer section in bytes (RFC 9112 §7.1.2).
    pub max_trailer_bytes: usize,
}

impl Default for Limits {
    /// Defaults close to nginx and hyper: 8 KiB request line, 32 KiB and 100 header fields,
    /// 1 MiB body, 4 KiB chunk lines, 16 KiB of extensions and of trailers.
    fn default() -> Self {
        Limits {
            max_request_line: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            max_body_bytes: 1024 * 1024,
            max_chunk_line: 4 * 1024,
            max_chunk_extensions: 16 * 1024,
            max_trailer_bytes: 16 * 1024,
        }
    }
}
