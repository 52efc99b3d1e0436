//! The connection state machine: one request at a time, responses in request order, every
//! wait bounded by a configured timeout.
//!
//! ```text
//!             ┌──────────────────── keep-alive ─────────────────────┐
//!             ▼                                                     │
//!   Idle ─▶ ReadingHead ─▶ HeadRead ─▶ ReadingBody ─▶ Handling ─▶ Answering ─▶ Writing ─▶ Closing
//!             │  ▲ pipelined bytes already buffered                │
//!             │  └─────────────────────────────────────────────────┘
//!             └─ parse error / timeout ─▶ Writing (error answer) ─▶ Closing
//! ```
//!
//! Two speeds. When a request's head arrives whole in one read, has no content, is answered
//! without waiting (a cache hit, a plain handler) and the socket takes the answer in full,
//! the connection goes from `Idle` to `Idle` in plain function calls
//! ([`answer_buffered`](Connection::answer_buffered)). At the first step that must wait, the
//! state so far continues in a boxed future ([`finish_request`](Connection::finish_request)).
//! So the future an idle keep-alive connection holds is little more than its socket, its
//! keep-alive timer and the fields below (a test keeps it under 512 bytes), and the read
//! buffer, parser, encoder and head buffer belong to the worker thread ([`super::buffers`]).

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::io::IoSlice;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use tokio::time::{Instant, Sleep};
use web_server_http::forwarded::{client_of, request_id_of, Client};
use web_server_http::response::CONTINUE;
use web_server_http::static_files::{ContentReader, FileContent};
use web_server_http::{
    BodyDecoder, BodyFraming, Encoded, Method, ParseError, Parsed, Request, RequestHead,
    RequestInfo, RequestParser, Response, ResponseFraming, StatusCode,
};

use super::buffers;
use super::io::{self, ReadOutcome};
use super::transport::Transport;
use crate::pipeline::{
    new_request_id, Answered, BodySource, ConnectionOptions, Exchange, Pipeline, Respond, Waiting,
};
use crate::tcp::gate::ConnectionPermit;

/// Bytes of file content read and written at a time when streaming.
const STREAM_CHUNK: usize = 64 * 1024;

/// Tells a connection to finish the request in progress and close (graceful shutdown), and
/// says whether it owes anything (for reclaims at the connection limit).
#[derive(Debug)]
pub(crate) struct Drain {
    /// Set once; checked between requests.
    requested: Cell<bool>,
    /// Set while the connection waits for a next request, owing nothing: then the actor stops
    /// at once, and dropping the connection's future closes it. No waker is needed for that,
    /// so an idle connection keeps none.
    idle: Cell<bool>,
    /// Since when the connection owes nothing: idle between requests, or waiting for a request
    /// head. `None` while a request is in progress. At `max_connections` the oldest of these
    /// are closed to admit new connections ([`super::reclaim`]).
    reusable_since: Cell<Option<Instant>>,
    /// Told to close by a reclaim: not picked again while the message is on its way.
    reclaimed: Cell<bool>,
}

impl Drain {
    /// A connection just accepted: it owes nothing yet. It is reusable from now on, even before
    /// its first poll, so that connections accepted in a burst are never invisible to a
    /// reclaim (the oldest go first, so the newest, a client's request maybe waiting unread
    /// in its socket, go last).
    pub(crate) fn accepted() -> Self {
        Drain {
            requested: Cell::new(false),
            idle: Cell::new(false),
            reusable_since: Cell::new(Some(Instant::now())),
            reclaimed: Cell::new(false),
        }
    }

    pub(crate) fn request(&self) {
        self.requested.set(true);
    }

    fn is_requested(&self) -> bool {
        self.requested.get()
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.idle.get()
    }

    /// Whether the connection owes nothing (see `reusable_since`).
    pub(crate) fn is_reusable(&self) -> bool {
        self.reusable_since.get().is_some()
    }

    /// Since when the connection is reusable, unless a reclaim already picked it.
    pub(crate) fn reclaimable_since(&self) -> Option<Instant> {
        self.reusable_since.get().filter(|_| !self.reclaimed.get())
    }

    /// A reclaim picked this connection.
    pub(crate) fn mark_reclaimed(&self) {
        self.reclaimed.set(true);
    }

    /// Clears the reclaim mark; whether there was one.
    pub(crate) fn take_reclaim_mark(&self) -> bool {
        self.reclaimed.replace(false)
    }

    /// The connection waits for a request (head) since `since`, owing nothing. A wait that
    /// goes on (an idle connection receiving the first bytes of a head) keeps its start.
    fn reusable_from(&self, since: Instant) {
        if self.reusable_since.get().is_none() {
            self.reusable_since.set(Some(since));
        }
    }

    /// A request (or a TLS handshake) is in progress: the connection owes its answer.
    pub(crate) fn busy(&self) {
        self.reusable_since.set(None);
    }
}

/// Where a connection is, when its request needs more than one step. Each state holds exactly
/// what the next step needs.
enum State {
    /// Between requests (or before the first): waiting for bytes with the buffer released.
    Idle,
    /// Bytes of a request head are arriving; `started` is when its first byte came, and the
    /// header timeout counts from there, whatever trickles in after. The parser remembers how
    /// far it scanned.
    ReadingHead {
        started: Instant,
        parser: RequestParser,
    },
    /// The head is parsed, content follows, and the route reads it.
    HeadRead(Request),
    /// The head is parsed; its content is being read and decoded.
    ReadingBody {
        request: Request,
        decoder: BodyDecoder,
        body: BytesMut,
    },
    /// A whole request, to answer.
    Handling(Request),
    /// The answer waits for something: the cache owner, the blocking pool, a handler's future.
    Answering { waiting: Waiting, info: RequestInfo },
    /// An answer, to write: `sending` holds its encoded head and how much of it and the body
    /// went out already, once it was encoded. Large file content follows the head in chunks,
    /// and a large cached body may be sent from its entry's open file.
    Writing {
        reply: Reply,
        sending: Option<Sending>,
    },
    /// Done: close politely.
    Closing,
}

/// An answer and what it answers.
struct Reply {
    response: Response,
    /// What the encoder needs to know of the request.
    info: RequestInfo,
    /// Where the body is sent from: the response, content to stream, or an open file.
    body: BodySource,
    /// The request, kept (its head is shared bytes, no copy) for the access log; `None` for a
    /// rejected one.
    request: Option<Request>,
}

impl Reply {
    fn new(answered: Answered, info: RequestInfo) -> Self {
        Reply {
            response: answered.response,
            info,
            body: answered.body,
            request: Some(answered.request),
        }
    }

    /// An answer to a request that was not accepted (a parse error, a timeout).
    fn refusal(response: Response, info: RequestInfo) -> Self {
        Reply {
            response,
            info,
            body: BodySource::Response,
            request: None,
        }
    }
}

/// A reply's encoded head, on its way out.
struct Sending {
    /// The head, in a buffer taken from the thread ([`buffers`]).
    head: Vec<u8>,
    /// The body and framing that go with it.
    encoded: Encoded,
    /// Bytes of head and body written so far.
    sent: usize,
}

impl Sending {
    fn body(&self) -> &[u8] {
        self.encoded.body.as_deref().unwrap_or(&[])
    }

    /// What is left to write of head and body.
    fn unsent(&self) -> (&[u8], &[u8]) {
        let body = self.body();
        let from_head = self.sent.min(self.head.len());
        (&self.head[from_head..], &body[self.sent - from_head..])
    }

    fn len(&self) -> usize {
        self.head.len() + self.body().len()
    }
}

/// One client connection: its socket, and where it is between requests.
///
/// Everything a request needs only while it is worked on (read buffer, parser, encoder, head
/// buffer) is taken from the worker thread when the request arrives and given back when it is
/// answered ([`buffers`]); an idle connection holds none of it. The common request (a whole
/// head in one read, an answer at once, a write the socket takes in full) is answered without
/// an `await`; a request that waits continues in a boxed future of its own
/// ([`finish_request`](Self::finish_request)). Both keep the future an idle connection holds
/// small.
pub(crate) struct Connection<T: Transport> {
    /// The client's byte stream (plain TCP or TLS).
    io: T,
    /// The TCP peer: the client, or a proxy in front of it.
    peer: SocketAddr,
    /// The current request's client: the peer, or who trusted proxies say sent the request.
    /// Worked out once per request head, before anything looks at it.
    client: Client,
    /// The current request's id (`server.request_id`), until it moves into its answer.
    request_id: Option<String>,
    /// What to answer requests with.
    pipeline: Arc<Pipeline>,
    /// Limits and timeouts, as of the pipeline generation below; refreshed between requests.
    options: Arc<ConnectionOptions>,
    /// The pipeline generation `options` came from.
    generation: u64,
    /// Bytes read but not yet consumed; empty and unallocated while idle.
    buf: BytesMut,
    /// Requests answered so far, against `max_keepalive_requests`.
    served: u64,
    /// Graceful-shutdown request from the actor.
    drain: Rc<Drain>,
    /// When the current request's first byte arrived, for the latency histogram; while idle,
    /// when the last answer was written, for the keep-alive timeout.
    request_started: Instant,
    /// The current request's method for the metrics; `None` until known, or if unrecognised.
    request_method: Option<Method>,
    /// Counts this connection against `server.max_connections` until dropped.
    permit: ConnectionPermit,
    /// Set when plain HTTP is redirected to HTTPS on this port.
    redirect_https: Option<u16>,
    /// The client asked to close the connection with its last request (`Connection: close`,
    /// or HTTP/1.0 without keep-alive), or closed its side between requests: it sends nothing
    /// more, so the close need not linger unless bytes are already waiting.
    client_closes: bool,
    /// The request being answered came with content that was not read (its answer did not
    /// depend on it): the connection closes after the answer.
    content_unread: bool,
    /// Nagle's algorithm is off (`TCP_NODELAY`). It is turned off before a write that could be
    /// held back, not at accept: a connection's first response written in one call cannot be
    /// (nothing of ours is unacknowledged before it, and Linux holds a short segment only
    /// behind an unacknowledged short one), so a client that closes after one answer costs no
    /// `setsockopt`.
    nodelay: bool,
}

impl<T: Transport> Connection<T> {
    pub(crate) fn new(
        io: T,
        peer: SocketAddr,
        pipeline: Arc<Pipeline>,
        drain: Rc<Drain>,
        permit: ConnectionPermit,
        redirect_https: Option<u16>,
    ) -> Self {
        let generation = pipeline.generation();
        let options = pipeline.options();
        Connection {
            io,
            peer,
            client: Client::direct(peer.ip()),
            request_id: None,
            pipeline,
            options,
            generation,
            buf: BytesMut::new(),
            served: 0,
            drain,
            request_started: Instant::now(),
            request_method: None,
            permit,
            redirect_https,
            client_closes: false,
            content_unread: false,
            nodelay: false,
        }
    }

    /// The HTTPS port to redirect the current request to: none when this listener does not
    /// redirect, or when a trusted proxy says the client came over HTTPS already (it
    /// terminated TLS; redirecting would loop).
    fn redirect_https(&self) -> Option<u16> {
        self.redirect_https
            .filter(|_| self.client.https != Some(true))
    }

    /// Turns Nagle's algorithm off before a write that could otherwise wait for an ACK: any
    /// write after the connection's first, and any response that takes more than one write.
    /// TLS sockets have it off from the accept (the handshake is several writes).
    fn no_delay_from_now(&mut self) {
        if !self.nodelay {
            self.nodelay = true;
            if let Some(socket) = self.io.plain_socket() {
                // Failing only costs latency, never correctness.
                let _ = socket.set_nodelay(true);
            }
        }
    }

    /// Runs the connection to its end.
    ///
    /// Not an `async fn`: one would keep its argument and the local it moves into both for the
    /// future's whole life, twice the connection in every idle connection's future.
    pub(crate) fn run(self) -> impl Future<Output = ()> {
        let mut connection = self;
        async move {
            let mut timer = pin!(tokio::time::sleep(connection.options.header_timeout));
            loop {
                let next = match connection.idle(timer.as_mut()).await {
                    State::Idle => continue,
                    State::Closing => break,
                    // Boxed: this future lives only while a request waits; inline, its size
                    // would be every connection's, idle ones included.
                    waiting => Box::pin(connection.finish_request(waiting)).await,
                };
                if matches!(next, State::Closing) {
                    break;
                }
            }
            let quick = connection.client_closes && connection.buf.is_empty();
            if !io::closes_at_once(&connection.io, quick) {
                Box::pin(io::linger_close(&mut connection.io)).await;
            }
            if connection.buf.is_empty() {
                buffers::give_back_read_buffer(std::mem::take(&mut connection.buf));
            }
        }
    }

    /// Waits for the next request's first bytes, then answers what it can at once.
    ///
    /// `timer` is the connection's one idle timer. It is moved only when it would fire too late
    /// for this wait; when it fires too early (armed for an earlier wait), it is moved then, so
    /// a connection with requests coming faster than its keep-alive timeout re-arms its timer
    /// once per timeout, not once per request.
    async fn idle(&mut self, mut timer: Pin<&mut Sleep>) -> State {
        if self.buf.is_empty() {
            if self.drain.is_requested() {
                return State::Closing;
            }
            // Give the buffer back while nothing is expected.
            buffers::give_back_read_buffer(std::mem::take(&mut self.buf));
            // Idle since `request_started`: the end of the last answer (`request_done` set it),
            // or the accept for a new connection. Not read again here: a clock read costs
            // about 1 % of a small request's CPU.
            // Computed twice rather than kept in a local: the local would stay in the future.
            if timer.deadline() > self.idle_deadline() {
                timer.as_mut().reset(self.idle_deadline());
            }
            self.drain.idle.set(true);
            self.drain.reusable_from(self.request_started);
            self.permit.gate().connection_reusable();
            let this = &mut *self;
            let ready = poll_fn(move |cx| {
                if let Poll::Ready(ready) = this.io.poll_readable(cx) {
                    return Poll::Ready(ready.is_ok());
                }
                while timer.as_mut().poll(cx).is_ready() {
                    let deadline = this.idle_deadline();
                    if timer.deadline() >= deadline {
                        return Poll::Ready(false);
                    }
                    timer.as_mut().reset(deadline);
                }
                Poll::Pending
            })
            .await;
            self.drain.idle.set(false);
            if !ready {
                return State::Closing;
            }
            if self.buf.capacity() == 0 {
                self.buf = buffers::take_read_buffer();
            }
            match io::read_ready(&mut self.io, &mut self.buf) {
                Some(ReadOutcome::Data) => {}
                Some(ReadOutcome::Eof) => {
                    // The client closed between requests: nothing is owed and nothing will come.
                    self.client_closes = true;
                    return State::Closing;
                }
                Some(ReadOutcome::Failed | ReadOutcome::TimedOut) => return State::Closing,
                // The readiness was stale: wait again.
                None => return State::Idle,
            }
        }
        self.answer_buffered(Instant::now())
    }

    /// When the wait for the next request ends: the header timeout before the first request,
    /// the keep-alive timeout after one, counted from the end of the last answer.
    fn idle_deadline(&self) -> Instant {
        let wait = if self.served == 0 {
            self.options.header_timeout
        } else {
            self.options.keepalive_timeout
        };
        self.request_started + wait
    }

    /// Answers the requests in the buffer for as long as each can be answered at once, and
    /// returns the state of the first that cannot (or `Idle` when the buffer is used up).
    fn answer_buffered(&mut self, mut started: Instant) -> State {
        loop {
            if self.pipeline.generation() != self.generation {
                // A reload changed limits or timeouts: they apply from this request on.
                self.generation = self.pipeline.generation();
                self.options = self.pipeline.options();
            }
            (self.request_started, self.request_method) = (started, None);
            let mut parser = RequestParser::new(self.options.limits);
            let parsed = match parser.parse(&self.buf) {
                Ok(Parsed::Complete { head, consumed }) => self.parsed(head, consumed),
                Ok(Parsed::Partial) => {
                    self.drain.reusable_from(started);
                    return State::ReadingHead { started, parser };
                }
                Err(error) => return self.reject(&error),
            };
            let State::Handling(request) = parsed else {
                return parsed;
            };
            let answer = self.answer(request);
            let State::Writing { reply, .. } = answer else {
                return answer;
            };
            match self.write_now(reply) {
                // A pipelined request was waiting since before the last answer was written;
                // it starts when that answer ended (`request_done` read the clock then).
                State::Idle if !self.buf.is_empty() => started = self.request_started,
                next => return next,
            }
        }
    }

    /// Goes on with a request that has to wait, until it is answered.
    async fn finish_request(&mut self, mut state: State) -> State {
        loop {
            state = match state {
                State::Idle | State::Closing => return state,
                State::ReadingHead { started, parser } => self.read_head(started, parser).await,
                State::HeadRead(request) => self.start_body(request).await,
                State::ReadingBody {
                    request,
                    decoder,
                    body,
                } => self.read_body(request, decoder, body).await,
                State::Handling(request) => self.answer(request),
                State::Answering { waiting, info } => {
                    let answered = self.pipeline.finish(waiting).await;
                    State::Writing {
                        reply: self.reply(answered, info),
                        sending: None,
                    }
                }
                State::Writing { reply, sending } => self.write(reply, sending).await,
            };
        }
    }

    /// A head was parsed from the first `consumed` bytes of the buffer.
    ///
    /// A request with content is routed by its head first. Only a handler reads content; any
    /// other answer (404, 405, 501, a static file, a redirect) is decided already, so it is
    /// given at once, without `100 Continue` and without waiting for content that may be slow
    /// to come or never come (RFC 9110 §10.1.1). Content that is not read leaves the
    /// connection's framing unknown, so it then closes; content already buffered whole is
    /// skipped and the connection stays.
    fn parsed(&mut self, head: RequestHead, consumed: usize) -> State {
        self.drain.busy();
        let head_bytes = self.buf.split_to(consumed).freeze();
        self.request_method = Some(head.method());
        let framing = head.body_framing();
        let request = head.into_request(head_bytes, Bytes::new());
        self.client = if self.options.trusted_proxies.is_empty() {
            Client::direct(self.peer.ip())
        } else {
            client_of(&request, self.peer.ip(), &self.options.trusted_proxies)
        };
        if self.options.request_id {
            // A trusted proxy's id is kept (its log already names the request by it); anyone
            // else's is replaced.
            let from_proxy = self
                .options
                .trusted_proxies
                .trusts(Client::direct(self.peer.ip()).addr);
            self.request_id = Some(
                request_id_of(&request)
                    .filter(|_| from_proxy)
                    .map_or_else(new_request_id, str::to_owned),
            );
        }
        if !framing.has_content() {
            return State::Handling(request);
        }
        if self.pipeline.reads_content(&request, self.redirect_https()) {
            return State::HeadRead(request);
        }
        match framing {
            BodyFraming::Length(length) if length <= self.buf.len() as u64 => {
                let _ = self.buf.split_to(length as usize);
            }
            _ => self.content_unread = true,
        }
        State::Handling(request)
    }

    /// The rest of a head that did not arrive in one read.
    async fn read_head(&mut self, started: Instant, mut parser: RequestParser) -> State {
        let deadline = started + self.options.header_timeout;
        loop {
            match io::read_some(&mut self.io, &mut self.buf, deadline).await {
                ReadOutcome::Data => {}
                ReadOutcome::TimedOut => return self.timed_out(),
                ReadOutcome::Eof | ReadOutcome::Failed => return State::Closing,
            }
            match parser.parse(&self.buf) {
                Ok(Parsed::Complete { head, consumed }) => return self.parsed(head, consumed),
                Ok(Parsed::Partial) => {}
                Err(error) => return self.reject(&error),
            }
        }
    }

    async fn start_body(&mut self, request: Request) -> State {
        let head = request.head();
        if head.expect_continue() && self.buf.is_empty() {
            // The client waits for this before sending the content (RFC 9110 §10.1.1).
            let stall = self.options.send_timeout;
            // The final response will be a second write.
            self.no_delay_from_now();
            if io::write_all(&mut self.io, CONTINUE, &[], stall)
                .await
                .is_err()
            {
                return State::Closing;
            }
        }
        let decoder = BodyDecoder::new(head.body_framing(), &self.options.limits);
        State::ReadingBody {
            request,
            decoder,
            body: BytesMut::new(),
        }
    }

    async fn read_body(
        &mut self,
        mut request: Request,
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
                            request.set_body(body.freeze());
                            return State::Handling(request);
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

    /// Answers `request` if that needs no wait (`Writing`, with nothing encoded yet);
    /// otherwise returns the state that waits.
    fn answer(&mut self, request: Request) -> State {
        self.served += 1;
        let mut info = RequestInfo::of(&request);
        self.client_closes = !info.keep_alive;
        if self.served >= self.options.max_keepalive_requests
            || self.drain.is_requested()
            || std::mem::take(&mut self.content_unread)
        {
            info.keep_alive = false;
        }
        let answered = match self.pipeline.respond_now(
            request,
            self.client.addr,
            self.options.request_rate,
            self.redirect_https(),
        ) {
            Respond::Now(answered) => answered,
            Respond::Later(waiting) => return State::Answering { waiting, info },
        };
        State::Writing {
            reply: self.reply(answered, info),
            sending: None,
        }
    }

    /// The reply to `answered`, with the request's id when `server.request_id` is on (moved
    /// into the header: the access log reads it back from there).
    fn reply(&mut self, mut answered: Answered, info: RequestInfo) -> Reply {
        if let Some(id) = self.request_id.take() {
            if answered.response.append_header("X-Request-Id", id).is_err() {
                tracing::debug!("request id not sent: not a valid field value");
            }
        }
        Reply::new(answered, info)
    }

    fn encode(&self, reply: &Reply) -> Sending {
        let mut head = buffers::take_head_buffer();
        let server = self.options.server_header.as_deref();
        let encoded = buffers::encode(server, &reply.response, &reply.info, &mut head);
        Sending {
            head,
            encoded,
            sent: 0,
        }
    }

    /// Writes `reply` as far as the socket takes it without waiting. A reply that needs more
    /// (a partial write, a file to send or stream, TLS) continues as `Writing`.
    fn write_now(&mut self, reply: Reply) -> State {
        let mut sending = self.encode(&reply);
        let from_file = !matches!(reply.body, BodySource::Response);
        let Some(socket) = self.io.plain_socket().filter(|_| !from_file) else {
            return State::Writing {
                reply,
                sending: Some(sending),
            };
        };
        while sending.sent < sending.len() {
            let (head, body) = sending.unsent();
            match socket.try_write_vectored(&[IoSlice::new(head), IoSlice::new(body)]) {
                Ok(0) => return self.write_failed(&reply, sending, &"the socket took nothing"),
                Ok(written) => sending.sent += written,
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                    return State::Writing {
                        reply,
                        sending: Some(sending),
                    }
                }
                Err(err) => return self.write_failed(&reply, sending, &err),
            }
        }
        self.written(&reply, sending, 0)
    }

    /// Writes `reply` (or what is left of it), waiting for the socket as long as it makes
    /// progress within `send_timeout`.
    async fn write(&mut self, mut reply: Reply, sending: Option<Sending>) -> State {
        // Whatever comes here may take several writes (a partial one, a file, a stream, TLS).
        self.no_delay_from_now();
        let mut sending = sending.unwrap_or_else(|| self.encode(&reply));
        let stall = self.options.send_timeout;
        let socket = self.io.plain_socket();
        // The file is sent only when the body going out is the one it holds (not a HEAD's
        // empty one) and the file is still the version the body was read from.
        let file = match (&reply.body, socket) {
            (BodySource::File(range), Some(_))
                if sending.sent == 0
                    && sending.body().len() as u64 == range.len()
                    && range.unchanged() =>
            {
                Some(range)
            }
            _ => None,
        };
        let sent = match (file, socket) {
            (Some(range), Some(socket)) => {
                let body = (range.fd(), range.offset(), sending.body().len());
                io::write_head_and_send_file(socket, &sending.head, body, stall).await
            }
            _ => {
                let (head, body) = sending.unsent();
                io::write_all(&mut self.io, head, body, stall).await
            }
        };
        if let Err(err) = sent {
            return self.write_failed(&reply, sending, &err);
        }
        sending.sent = sending.len();
        let streams = matches!(sending.encoded.framing, ResponseFraming::Length(n) if n > 0)
            && sending.encoded.body.is_none();
        let mut streamed = 0;
        let body = std::mem::replace(&mut reply.body, BodySource::Response);
        if let (true, BodySource::Stream(content)) = (streams, body) {
            if let Err(err) = self.stream(content).await {
                // The head promised a length that can no longer be honoured: only closing
                // tells the client the response is incomplete.
                tracing::debug!(peer = %self.peer, %err, "streaming failed; closing");
                self.request_done(&reply, sending.len() as u64, sending.head.len() as u64);
                buffers::give_back_head_buffer(sending.head);
                return State::Closing;
            }
            if let ResponseFraming::Length(length) = sending.encoded.framing {
                streamed = length;
            }
        }
        self.written(&reply, sending, streamed)
    }

    /// `reply` is written in full (`streamed` bytes of content after head and body).
    fn written(&mut self, reply: &Reply, sending: Sending, streamed: u64) -> State {
        self.request_done(
            reply,
            sending.len() as u64 + streamed,
            sending.head.len() as u64,
        );
        let close = sending.encoded.close;
        buffers::give_back_head_buffer(sending.head);
        if close {
            State::Closing
        } else {
            // The next response may find this one's last segment unacknowledged.
            self.no_delay_from_now();
            State::Idle
        }
    }

    fn write_failed(
        &mut self,
        reply: &Reply,
        sending: Sending,
        err: &dyn std::fmt::Display,
    ) -> State {
        tracing::debug!(peer = %self.peer, %err, "write failed; closing");
        self.request_done(reply, 0, 0);
        buffers::give_back_head_buffer(sending.head);
        State::Closing
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

    /// Hands an answered request (or one whose answer could not be written in full) to the
    /// pipeline's after-exchange step.
    /// `bytes` were written, `head_bytes` of them the head.
    fn request_done(&mut self, reply: &Reply, bytes: u64, head_bytes: u64) {
        let ended = Instant::now();
        let elapsed = ended.saturating_duration_since(self.request_started);
        // From here on the connection is idle since `ended` (see `idle_deadline`).
        self.request_started = ended;
        self.pipeline.completed(&Exchange {
            peer: self.peer,
            // A rejected request's headers were not read: its client is the peer.
            client: match reply.request {
                Some(_) => self.client.addr,
                None => Client::direct(self.peer.ip()).addr,
            },
            method: self.request_method,
            request: reply.request.as_ref(),
            status: reply.response.status().as_u16(),
            bytes,
            body_bytes: bytes.saturating_sub(head_bytes),
            request_id: if self.options.request_id {
                reply.response.header("x-request-id")
            } else {
                None
            },
            elapsed,
        });
    }

    /// Answers a rejected request with the status its error calls for.
    fn reject(&mut self, error: &ParseError) -> State {
        self.drain.busy();
        tracing::debug!(peer = %self.peer, %error, "rejected request");
        self.request_method = self
            .request_method
            .or(error.resume().and_then(|r| r.method));
        let mut info = RequestInfo::for_error(error);
        match error.resume() {
            // The rejected request's content would have to be skipped; closing is simpler and
            // always allowed.
            Some(resume) if !resume.body.has_content() && !error.must_close() => {
                let _ = self.buf.split_to(resume.consumed.min(self.buf.len()));
            }
            _ => info.keep_alive = false,
        }
        State::Writing {
            reply: Reply::refusal(Response::for_parse_error(error), info),
            sending: None,
        }
    }

    /// A request that did not arrive in time: 408 and close (RFC 9110 §15.5.9).
    fn timed_out(&mut self) -> State {
        self.drain.busy();
        tracing::debug!(peer = %self.peer, "request timed out");
        let response = Response::text(StatusCode::REQUEST_TIMEOUT, "request timeout\n").closing();
        let info = RequestInfo {
            method: web_server_http::Method::Get,
            version: web_server_http::Version::Http11,
            keep_alive: false,
        };
        State::Writing {
            reply: Reply::refusal(response, info),
            sending: None,
        }
    }
}
