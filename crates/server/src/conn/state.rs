//! The connection state machine: one request at a time, responses in request order, every
//! wait bounded by a configured timeout.
//!
//! ```text
//!             ┌──────────────── keep-alive ─────────────────┐
//!             ▼                                             │
//!   Idle ─▶ ReadingHead ─▶ ReadingBody ─▶ Handling ─▶ Writing ─▶ Closing
//!             │  ▲ pipelined bytes already buffered        │
//!             │  └─────────────────────────────────────────┘
//!             └─ parse error / timeout ─▶ Writing (error answer) ─▶ Closing
//! ```
//!
//! The read buffer is released while the connection is idle between requests, so thousands
//! of idle keep-alive connections cost little memory.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;
use tokio::time::Instant;
use web_server_http::response::CONTINUE;
use web_server_http::static_files::{ContentReader, FileContent};
use web_server_http::{
    BodyDecoder, Method, ParseError, Parsed, Prepared, Request, RequestHead, RequestInfo,
    RequestParser, Response, ResponseEncoder, ResponseFraming, StatusCode,
};

use super::io::{self, ReadOutcome};
use super::transport::Transport;
use crate::cache::{Fresh, StaticEntry};
use crate::service::{ConnectionOptions, Service};
use crate::tcp::gate::ConnectionPermit;

/// Bytes of file content read and written at a time when streaming.
const STREAM_CHUNK: usize = 64 * 1024;

/// Tells a connection to finish the request in progress and close (graceful shutdown).
#[derive(Debug, Default)]
pub(crate) struct Drain {
    /// Set once; checked between requests.
    requested: Cell<bool>,
    /// Wakes a connection waiting idle, so it closes at once.
    wake: Notify,
}

impl Drain {
    pub(crate) fn request(&self) {
        self.requested.set(true);
        self.wake.notify_one();
    }

    fn is_requested(&self) -> bool {
        self.requested.get()
    }
}

/// Where a connection is. Each state holds exactly what the next step needs.
enum State {
    /// Between requests (or before the first): waiting for bytes with the buffer released.
    Idle,
    /// Bytes of a request head are arriving; `started` is when its first byte came, and the
    /// header timeout counts from there, whatever trickles in after.
    ReadingHead { started: Instant },
    /// The head is parsed; its content is being read and decoded.
    ReadingBody {
        head: RequestHead,
        head_bytes: Bytes,
        decoder: BodyDecoder,
        body: BytesMut,
    },
    /// A whole request, to answer.
    Handling(Request),
    /// An answer, to encode and write; large file content follows the head in chunks, and a
    /// large cached body may be sent from its entry's open file.
    Writing {
        response: Response,
        request: RequestInfo,
        content: Option<FileContent>,
        entry: Option<Arc<Fresh<StaticEntry>>>,
    },
    /// Done: close politely.
    Closing,
}

/// One client connection: its socket, buffers and progress.
pub(crate) struct Connection<T: Transport> {
    /// The client's byte stream (plain TCP or TLS).
    io: T,
    /// For logs.
    peer: SocketAddr,
    /// What to answer requests with.
    service: Arc<Service>,
    /// Limits and timeouts, as of the service generation below; refreshed between requests.
    options: Arc<ConnectionOptions>,
    /// The service generation `options` came from.
    generation: u64,
    /// Bytes read but not yet consumed; empty and unallocated while idle.
    buf: BytesMut,
    /// Incremental head parser, remembering how far it scanned `buf`.
    parser: RequestParser,
    /// Writes response heads (and owns the once-a-second `Date`).
    encoder: ResponseEncoder,
    /// Encoded response heads, reused from response to response.
    out: Vec<u8>,
    /// Requests answered so far, against `max_keepalive_requests`.
    served: u64,
    /// Graceful-shutdown request from the actor.
    drain: Rc<Drain>,
    /// When the current request's first byte arrived, for the latency histogram.
    request_started: Instant,
    /// The current request's method for the metrics; `None` until known, or if unrecognised.
    request_method: Option<Method>,
    /// Counts this connection against `server.max_connections` until dropped.
    _permit: ConnectionPermit,
    /// Set when plain HTTP is redirected to HTTPS on this port.
    redirect_https: Option<u16>,
    /// The request being answered, kept (its head is shared bytes, no copy) until its response
    /// is written, for the access log.
    answered: Option<Request>,
    /// The client asked to close the connection with its last request (`Connection: close`,
    /// or HTTP/1.0 without keep-alive), or closed its side between requests: it sends nothing
    /// more, so the close need not linger unless bytes are already waiting.
    client_closes: bool,
}

impl<T: Transport> Connection<T> {
    pub(crate) fn new(
        io: T,
        peer: SocketAddr,
        service: Arc<Service>,
        drain: Rc<Drain>,
        permit: ConnectionPermit,
        redirect_https: Option<u16>,
    ) -> Self {
        let generation = service.generation();
        let options = service.options();
        let encoder = ResponseEncoder::new(options.server_header.as_deref())
            .unwrap_or_else(|_| ResponseEncoder::new(None).expect("no Server header is valid"));
        Connection {
            io,
            peer,
            parser: RequestParser::new(options.limits),
            service,
            options,
            generation,
            buf: BytesMut::new(),
            encoder,
            out: Vec::with_capacity(256),
            served: 0,
            drain,
            request_started: Instant::now(),
            request_method: None,
            _permit: permit,
            redirect_https,
            answered: None,
            client_closes: false,
        }
    }

    /// Runs the connection to its end.
    pub(crate) async fn run(mut self) {
        let mut state = State::Idle;
        loop {
            state = match state {
                State::Idle => self.idle().await,
                State::ReadingHead { started } => self.read_head(started).await,
                State::ReadingBody {
                    head,
                    head_bytes,
                    decoder,
                    body,
                } => self.read_body(head, head_bytes, decoder, body).await,
                State::Handling(request) => self.handle(request).await,
                State::Writing {
                    response,
                    request,
                    content,
                    entry,
                } => self.write(response, request, content, entry).await,
                State::Closing => break,
            };
        }
        let quick = self.client_closes && self.buf.is_empty();
        io::close(&mut self.io, quick).await;
    }

    async fn idle(&mut self) -> State {
        if !self.buf.is_empty() {
            return State::ReadingHead {
                started: Instant::now(),
            };
        }
        if self.drain.is_requested() {
            return State::Closing;
        }
        // Give the buffer back while nothing is expected; the next read allocates anew.
        self.buf = BytesMut::new();
        let options = &self.options;
        let wait = if self.served == 0 {
            options.header_timeout
        } else {
            options.keepalive_timeout
        };
        tokio::select! {
            ready = Transport::readable(&mut self.io) => {
                if ready.is_err() {
                    return State::Closing;
                }
            }
            () = tokio::time::sleep(wait) => return State::Closing,
            () = self.drain.wake.notified() => return State::Closing,
        }
        let started = Instant::now();
        match io::read_some(
            &mut self.io,
            &mut self.buf,
            started + options.header_timeout,
        )
        .await
        {
            ReadOutcome::Data => State::ReadingHead { started },
            ReadOutcome::Eof => {
                // The client closed between requests: nothing is owed and nothing will come.
                self.client_closes = true;
                State::Closing
            }
            ReadOutcome::Failed | ReadOutcome::TimedOut => State::Closing,
        }
    }

    async fn read_head(&mut self, started: Instant) -> State {
        if self.service.generation() != self.generation {
            // A reload changed limits or timeouts: they apply from this request on (the parser
            // rescans what is buffered under the new limits).
            self.generation = self.service.generation();
            self.options = self.service.options();
            self.parser = RequestParser::new(self.options.limits);
        }
        (self.request_started, self.request_method) = (started, None);
        let deadline = started + self.options.header_timeout;
        loop {
            match self.parser.parse(&self.buf) {
                Ok(Parsed::Complete { head, consumed }) => {
                    let head_bytes = self.buf.split_to(consumed).freeze();
                    return self.start_body(head, head_bytes).await;
                }
                Ok(Parsed::Partial) => {}
                Err(error) => return self.reject(&error),
            }
            match io::read_some(&mut self.io, &mut self.buf, deadline).await {
                ReadOutcome::Data => {}
                ReadOutcome::TimedOut => return self.timed_out(),
                ReadOutcome::Eof | ReadOutcome::Failed => return State::Closing,
            }
        }
    }

    async fn start_body(&mut self, head: RequestHead, head_bytes: Bytes) -> State {
        self.request_method = Some(head.method());
        let framing = head.body_framing();
        if !framing.has_content() {
            return State::Handling(head.into_request(head_bytes, Bytes::new()));
        }
        if head.expect_continue() && self.buf.is_empty() {
            // The client waits for this before sending the content (RFC 9110 §10.1.1).
            let stall = self.options.send_timeout;
            if io::write_all(&mut self.io, CONTINUE, &[], stall)
                .await
                .is_err()
            {
                return State::Closing;
            }
        }
        let decoder = BodyDecoder::new(framing, &self.options.limits);
        State::ReadingBody {
            head,
            head_bytes,
            decoder,
            body: BytesMut::new(),
        }
    }

    async fn read_body(
        &mut self,
        head: RequestHead,
        head_bytes: Bytes,
        mut decoder: BodyDecoder,
        mut body: BytesMut,
    ) -> State {
        // The whole body must arrive within `body_timeout` of its head: like the header
        // timeout, trickled bytes do not extend it (a per-read timer let a byte every second
        // hold the connection, and up to `max_body_bytes` of buffer, for days).
        let deadline = Instant::now() + self.options.body_timeout;
        loop {
            // One `decode` call yields at most one piece of data: decode what is buffered until
            // the decoder needs more input (`consumed == 0`), then read. A chunked body that
            // arrived whole would otherwise wait for bytes that never come (408 at the timeout).
            while !self.buf.is_empty() {
                match decoder.decode(&self.buf) {
                    Ok(step) => {
                        body.extend_from_slice(&self.buf[step.data.clone()]);
                        let _ = self.buf.split_to(step.consumed);
                        if step.done {
                            return State::Handling(head.into_request(head_bytes, body.freeze()));
                        }
                        if step.consumed == 0 {
                            break;
                        }
                    }
                    Err(error) => return self.reject(&error),
                }
            }
            match io::read_some(&mut self.io, &mut self.buf, deadline).await {
                ReadOutcome::Data => {}
                ReadOutcome::TimedOut => return self.timed_out(),
                ReadOutcome::Eof | ReadOutcome::Failed => return State::Closing,
            }
        }
    }

    async fn handle(&mut self, request: Request) -> State {
        self.served += 1;
        let mut info = RequestInfo::of(&request);
        self.client_closes = !info.keep_alive;
        if self.served >= self.options.max_keepalive_requests || self.drain.is_requested() {
            info.keep_alive = false;
        }
        let answered = match self.redirect_https {
            Some(port) => {
                let response = redirect_to_https(&request, port);
                (request, Prepared::from(response)).into()
            }
            None => self.service.respond(request).await,
        };
        self.answered = Some(answered.request);
        State::Writing {
            response: answered.prepared.response,
            request: info,
            content: answered.prepared.content,
            entry: answered.entry,
        }
    }

    async fn write(
        &mut self,
        response: Response,
        request: RequestInfo,
        content: Option<FileContent>,
        entry: Option<Arc<Fresh<StaticEntry>>>,
    ) -> State {
        self.out.clear();
        let encoded = self.encoder.encode(&response, &request, &mut self.out);
        let body: &[u8] = encoded.body.as_deref().unwrap_or(&[]);
        let stall = self.options.send_timeout;
        let socket = self.io.plain_socket();
        let source = match (&entry, socket) {
            (Some(entry), Some(_)) => entry.value.sendfile_source(body),
            _ => None,
        };
        let sent = match (source, socket) {
            (Some((file, offset)), Some(socket)) => {
                let body = (file.fd(), offset, body.len());
                // Boxed: only large bodies take this path, and inline its future would be part
                // of every connection's, idle ones included.
                Box::pin(io::write_head_and_send_file(socket, &self.out, body, stall)).await
            }
            _ => io::write_all(&mut self.io, &self.out, body, stall).await,
        };
        if let Err(err) = sent {
            tracing::debug!(peer = %self.peer, %err, "write failed; closing");
            self.request_done(&response, 0);
            return State::Closing;
        }
        let mut written = (self.out.len() + body.len()) as u64;
        let streams = matches!(encoded.framing, ResponseFraming::Length(n) if n > 0)
            && encoded.body.is_none();
        if let (true, Some(content)) = (streams, content) {
            if let Err(err) = self.stream(content).await {
                // The head promised a length that can no longer be honoured: only closing
                // tells the client the response is incomplete.
                tracing::debug!(peer = %self.peer, %err, "streaming failed; closing");
                self.request_done(&response, written);
                return State::Closing;
            }
            if let ResponseFraming::Length(length) = encoded.framing {
                written += length;
            }
        }
        self.request_done(&response, written);
        if encoded.close {
            State::Closing
        } else {
            State::Idle
        }
    }

    /// Writes large file content chunk by chunk: each chunk is read on the blocking pool and
    /// written before the next is read, so a connection holds at most one chunk in memory.
    async fn stream(&mut self, content: FileContent) -> std::io::Result<()> {
        let stall = self.options.send_timeout;
        let opened = tokio::task::spawn_blocking(move || content.open()).await;
        let mut reader: ContentReader = opened.map_err(std::io::Error::other)??;
        loop {
            let read = tokio::task::spawn_blocking(move || {
                let chunk = reader.next_chunk(STREAM_CHUNK);
                (reader, chunk)
            })
            .await
            .map_err(std::io::Error::other)?;
            reader = read.0;
            match read.1? {
                Some(chunk) => io::write_all(&mut self.io, &chunk, &[], stall).await?,
                None => return Ok(()),
            }
        }
    }

    /// Records an answered request (or one whose answer could not be written in full): its
    /// metrics, and its access-log line when the access log is on.
    fn request_done(&mut self, response: &Response, bytes: u64) {
        let elapsed = self.request_started.elapsed();
        let status = response.status().as_u16();
        crate::metrics::request_done(self.request_method, status, elapsed, bytes);
        let answered = self.answered.take();
        if crate::access_log::enabled() {
            // A rejected request has no parsed target: it is logged with `-` fields.
            let method = self
                .request_method
                .map_or("-", web_server_http::Method::as_str);
            let entry = crate::access_log::AccessEntry {
                peer: self.peer,
                method,
                target: answered.as_ref().map_or("-", Request::target),
                version: answered.as_ref().map_or("-", |r| r.version().as_str()),
                status,
                bytes,
                duration: elapsed,
                user_agent: answered.as_ref().and_then(|r| r.header_str("user-agent")),
                referer: answered.as_ref().and_then(|r| r.header_str("referer")),
            };
            crate::access_log::record(&entry);
        }
    }

    /// Answers a rejected request with the status its error calls for.
    fn reject(&mut self, error: &ParseError) -> State {
        tracing::debug!(peer = %self.peer, %error, "rejected request");
        self.request_method = self
            .request_method
            .or(error.resume().and_then(|r| r.method));
        let mut request = RequestInfo::for_error(error);
        match error.resume() {
            // The rejected request's content would have to be skipped; closing is simpler and
            // always allowed.
            Some(resume) if !resume.body.has_content() => {
                let _ = self.buf.split_to(resume.consumed.min(self.buf.len()));
            }
            _ => request.keep_alive = false,
        }
        State::Writing {
            response: Response::for_parse_error(error),
            request,
            content: None,
            entry: None,
        }
    }

    /// A request that did not arrive in time: 408 and close (RFC 9110 §15.5.9).
    fn timed_out(&mut self) -> State {
        tracing::debug!(peer = %self.peer, "request timed out");
        State::Writing {
            response: Response::text(StatusCode::REQUEST_TIMEOUT, "request timeout\n").closing(),
            request: RequestInfo {
                method: web_server_http::Method::Get,
                version: web_server_http::Version::Http11,
                keep_alive: false,
            },
            content: None,
            entry: None,
        }
    }
}

/// The 301 that sends a plain-HTTP request to the same resource over HTTPS.
fn redirect_to_https(request: &Request, port: u16) -> Response {
    let Some(authority) = request.host().filter(|host| !host.is_empty()) else {
        return Response::text(
            StatusCode::BAD_REQUEST,
            "a Host is needed to redirect to HTTPS\n",
        )
        .closing();
    };
    let host = match authority.rfind(':') {
        // An IPv6 literal keeps its brackets; a trailing `:port` goes.
        Some(colon) if !authority[colon..].contains(']') => &authority[..colon],
        _ => authority,
    };
    let port = if port == 443 {
        String::new()
    } else {
        format!(":{port}")
    };
    let query = request.query().map(|q| format!("?{q}")).unwrap_or_default();
    let location = format!("https://{host}{port}{}{query}", request.path());
    Response::text(StatusCode::MOVED_PERMANENTLY, "moved to HTTPS\n")
        .with_header("Location", location)
        .expect("a Location built from a parsed request is a valid field value")
}
