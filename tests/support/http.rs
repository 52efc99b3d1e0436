//! The one HTTP/1.1 client of the system tests: a response parser (status line, fields, and a
//! body framed by Content-Length, chunked coding or the close, none for HEAD, 1xx, 204 and 304),
//! a reader that takes responses one after another off a stream, and the conveniences built on
//! them (send a request and read its answer, split what a connection received into responses).
//!
//! Everything is parsed by [`parse`]: a reader asks it how many more bytes a response needs, so
//! that [`ReplyReader::exact`] never reads past one response and a pipelined stream can be read
//! by several readers in turn.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::WAIT;

/// One response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    pub status: u16,
    /// The reason phrase (possibly empty).
    pub reason: String,
    pub headers: Vec<(String, String)>,
    /// The content, with any chunked coding removed.
    pub body: Vec<u8>,
    /// How many bytes the response took on the wire, head and framed body.
    pub wire_len: usize,
}

impl Reply {
    /// The first field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text; fails the test otherwise.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body)
            .unwrap_or_else(|err| panic!("a UTF-8 body expected ({err}): {:?}", self.body))
    }

    /// The body as JSON; fails the test otherwise.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("JSON expected ({err}): {:?}", self.text()))
    }

    /// `HTTP/1.1 200 OK`.
    pub fn status_line(&self) -> String {
        format!("{} {} {}", self.version, self.status, self.reason)
    }

    /// Whether the server announced it closes the connection after this response.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

// ---------------------------------------------------------------------------------------------
// The parser.

/// What [`parse`] made of the start of a buffer.
#[derive(Debug)]
pub enum Parsed {
    /// A whole response, and how many bytes of the buffer it took.
    Done(Reply, usize),
    /// The response is incomplete: at least this many more bytes belong to it (`usize::MAX`
    /// when everything until the connection closes does).
    More(usize),
}

/// Parses the response at the start of `bytes`. `head_request` says the request was HEAD (so
/// there is no body whatever the fields say); `closed` says no more bytes will come, which ends a
/// body framed by the close.
pub fn parse(bytes: &[u8], head_request: bool, closed: bool) -> std::io::Result<Parsed> {
    let Some(head_end) = find(bytes, b"\r\n\r\n").map(|at| at + 4) else {
        return Ok(Parsed::More(bytes_to_end_of_head(bytes)));
    };
    let mut reply = parse_head(&bytes[..head_end])?;
    let no_body = head_request || reply.status < 200 || reply.status == 204 || reply.status == 304;
    let chunked = reply.header("transfer-encoding").is_some_and(|codings| {
        codings
            .rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
    });
    let end = if no_body {
        head_end
    } else if chunked {
        match dechunk(&bytes[head_end..])? {
            Ok((body, used)) => {
                reply.body = body;
                head_end + used
            }
            Err(more) => return Ok(Parsed::More(more)),
        }
    } else if let Some(length) = reply.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| invalid(format!("Content-Length {length:?}")))?;
        let end = head_end + length;
        if bytes.len() < end {
            return Ok(Parsed::More(end - bytes.len()));
        }
        reply.body = bytes[head_end..end].to_vec();
        end
    } else if closed {
        reply.body = bytes[head_end..].to_vec();
        bytes.len()
    } else {
        return Ok(Parsed::More(usize::MAX));
    };
    reply.wire_len = end;
    Ok(Parsed::Done(reply, end))
}

/// The fewest bytes that can complete the `\r\n\r\n` ending a head `bytes` starts.
fn bytes_to_end_of_head(bytes: &[u8]) -> usize {
    let terminator = b"\r\n\r\n";
    let matched = (1..terminator.len())
        .rev()
        .find(|&n| bytes.ends_with(&terminator[..n]))
        .unwrap_or(0);
    terminator.len() - matched
}

/// The status line and fields of `head` (which ends with the empty line); no body.
fn parse_head(head: &[u8]) -> std::io::Result<Reply> {
    let text = std::str::from_utf8(head).map_err(|_| invalid(format!("head {head:?}")))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts.next().and_then(|s| s.parse().ok());
    let (Some(status), true) = (status, version.starts_with("HTTP/1.")) else {
        return Err(invalid(format!("status line {status_line:?}")));
    };
    let headers = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| invalid(format!("field line {line:?}")))?;
            Ok((name.to_owned(), value.trim().to_owned()))
        })
        .collect::<std::io::Result<_>>()?;
    Ok(Reply {
        version: version.to_owned(),
        status,
        reason: parts.next().unwrap_or_default().to_owned(),
        headers,
        body: Vec::new(),
        wire_len: head.len(),
    })
}

/// Decodes a chunked body at the start of `bytes`: the content and the bytes used (through the
/// trailer section), or how many more bytes it needs at least.
fn dechunk(bytes: &[u8]) -> std::io::Result<Result<(Vec<u8>, usize), usize>> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(line_len) = find(&bytes[at..], b"\r\n") else {
            return Ok(Err(1));
        };
        let line = String::from_utf8_lossy(&bytes[at..at + line_len]);
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("chunk size line {line:?}")))?;
        at += line_len + 2;
        if size == 0 {
            // Trailer fields, up to the empty line.
            loop {
                let Some(line_len) = find(&bytes[at..], b"\r\n") else {
                    return Ok(Err(1));
                };
                at += line_len + 2;
                if line_len == 0 {
                    return Ok(Ok((body, at)));
                }
            }
        }
        if bytes.len() < at + size + 2 {
            return Ok(Err(at + size + 2 - bytes.len()));
        }
        if &bytes[at + size..at + size + 2] != b"\r\n" {
            return Err(invalid("a chunk not followed by CRLF".to_owned()));
        }
        body.extend_from_slice(&bytes[at..at + size]);
        at += size + 2;
    }
}

fn invalid(what: String) -> std::io::Error {
    std::io::Error::new(
        ErrorKind::InvalidData,
        format!("not an HTTP response: {what}"),
    )
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// Reading from a stream.

/// Reads responses one after another from a stream.
pub struct ReplyReader<R: Read> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    closed: bool,
    /// Read no byte beyond the response being read, so that the stream can be handed on.
    exact: bool,
}

impl<R: Read> ReplyReader<R> {
    /// A reader that reads ahead, for many responses in a row; bytes read past the last one are
    /// in [`leftover`](Self::leftover).
    pub fn new(inner: R) -> Self {
        ReplyReader {
            inner,
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
            closed: false,
            exact: false,
        }
    }

    /// A reader that never reads past the response it is asked for.
    pub fn exact(inner: R) -> Self {
        ReplyReader {
            exact: true,
            buf: Vec::new(),
            ..ReplyReader::new(inner)
        }
    }

    /// The next response to a request other than HEAD.
    pub fn next_reply(&mut self) -> std::io::Result<Reply> {
        self.next_reply_to(false)
    }

    /// The next response; `head_request` says it answers HEAD (so it has no body).
    pub fn next_reply_to(&mut self, head_request: bool) -> std::io::Result<Reply> {
        loop {
            match parse(&self.buf[self.start..], head_request, self.closed)? {
                Parsed::Done(reply, used) => {
                    self.start += used;
                    return Ok(reply);
                }
                Parsed::More(_) if self.closed => {
                    return Err(std::io::Error::new(
                        ErrorKind::UnexpectedEof,
                        format!(
                            "connection closed before a whole response; got {:?}",
                            String::from_utf8_lossy(self.leftover())
                        ),
                    ))
                }
                Parsed::More(needed) => self.fill(needed)?,
            }
        }
    }

    /// Reads at least one more byte (at most `needed` when exact), or notes the close.
    fn fill(&mut self, needed: usize) -> std::io::Result<()> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        let want = if self.exact {
            needed.min(chunk.len())
        } else {
            chunk.len()
        };
        let n = loop {
            match self.inner.read(&mut chunk[..want]) {
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        if n == 0 {
            self.closed = true;
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Bytes received but not yet parsed.
    pub fn leftover(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

/// Reads exactly one response from `stream` (nothing past it); fails the test if none comes.
pub fn read_reply<R: Read>(stream: &mut R, head_request: bool) -> Reply {
    ReplyReader::exact(stream)
        .next_reply_to(head_request)
        .unwrap_or_else(|err| panic!("reading a response: {err}"))
}

/// Reads the status line and fields of the next response, leaving its body in `stream`.
pub fn read_head<R: Read>(stream: &mut R) -> Reply {
    read_reply(stream, true)
}

/// Sends `request` and reads one response (none of a body when it is a HEAD request).
pub fn exchange(stream: &mut TcpStream, request: &str) -> Reply {
    stream.write_all(request.as_bytes()).unwrap();
    read_reply(stream, request.starts_with("HEAD "))
}

/// The one response that is all of `bytes` (what a connection received until the server closed
/// it); fails the test if there is anything else.
pub fn parse_whole(bytes: &[u8], head_request: bool) -> Reply {
    match parse(bytes, head_request, true) {
        Ok(Parsed::Done(reply, used)) if used == bytes.len() => reply,
        other => panic!(
            "one whole response expected ({other:?}) in {:?}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

/// Splits everything a connection received until it closed into responses (none to HEAD); the
/// unparsable rest is returned too.
pub fn split_replies(mut bytes: &[u8]) -> (Vec<Reply>, Vec<u8>) {
    let mut replies = Vec::new();
    while let Ok(Parsed::Done(reply, used)) = parse(bytes, false, true) {
        replies.push(reply);
        bytes = &bytes[used..];
    }
    (replies, bytes.to_vec())
}

/// Every status code at the start of a status line in `bytes` (a rough scan, for statistics).
pub fn status_codes(bytes: &[u8]) -> Vec<u16> {
    let mut codes = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&bytes[at..], b"HTTP/1.1 ") {
        let begin = at + found + 9;
        if let Some(code) = bytes
            .get(begin..begin + 3)
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| c.parse().ok())
        {
            codes.push(code);
        }
        at = begin;
    }
    codes
}

// ---------------------------------------------------------------------------------------------
// Connections.

/// A connection with read and write timeouts of [`WAIT`].
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connects");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// One request on a fresh connection and its response, without failing the test: for clients
/// that count failures.
pub fn try_send(addr: SocketAddr, request: &str) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect_timeout(&addr, WAIT)?;
    stream.set_read_timeout(Some(WAIT))?;
    stream.write_all(request.as_bytes())?;
    ReplyReader::new(stream).next_reply_to(request.starts_with("HEAD "))
}

/// `GET path` on a fresh connection: its response.
pub fn get(addr: SocketAddr, path: &str) -> Reply {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    try_send(addr, &request).unwrap_or_else(|err| panic!("GET {path}: {err}"))
}

/// Sends `request` on a fresh connection, reads until the server closes it (the request asks
/// for that with `Connection: close`) and returns the one response received.
pub fn send_closing(addr: SocketAddr, request: &str) -> Reply {
    let mut stream = connect(addr);
    stream.write_all(request.as_bytes()).unwrap();
    read_whole(&mut stream, request.starts_with("HEAD "))
}

/// Reads `stream` until the peer closes it and parses the one response it sent. A read error
/// after some bytes ends the reading too: a TLS peer may close without `close_notify` once it
/// answered `Connection: close`.
pub fn read_whole<R: Read>(stream: &mut R, head_request: bool) -> Reply {
    let mut raw = Vec::new();
    if let Err(err) = stream.read_to_end(&mut raw) {
        assert!(!raw.is_empty(), "reading a response: {err}");
    }
    parse_whole(&raw, head_request)
}

/// `METHOD path` with `Connection: close` and `body` (with its Content-Length). The
/// `X-Requested-By` header lets it change state on the admin endpoint, which refuses what an
/// HTML form could send (docs/security.md).
pub fn closing_request(method: &str, path: &str, body: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// True when the peer closed the connection (reads EOF) within the wait.
pub fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).is_ok() && rest.is_empty()
}

/// Fails the test unless `GET path` on a fresh connection answers 200 with `body`.
pub fn assert_serves(addr: SocketAddr, path: &str, body: &[u8]) {
    let reply = get(addr, path);
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, body),
        "GET {path}"
    );
}
