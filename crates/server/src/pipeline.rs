//! The request pipeline: one path from a parsed request to its answer, and one place for the
//! work after the answer is written. It knows no sockets; the connection
//! ([`crate::tcp::acceptor`]) reads requests, hands each to [`Pipeline::respond_now`], writes
//! what comes back and reports the exchange to [`Pipeline::completed`].
//!
//! For each request, top to bottom:
//!
//! 0. **Limit.** A client over `limits.requests_per_second` (and its burst) is answered 429
//!    with `Retry-After` and goes no further. The client is the address trusted proxies
//!    report, else the peer ([`web_server_http::forwarded`]); the connection works it out.
//! 1. **Redirect.** A plain listener that sends everyone to HTTPS answers 301 and stops here.
//! 2. **Route, once.** The router finds a handler, a static mount, or answers by itself (204
//!    for OPTIONS, 404, 405, 501). Nothing later looks the route up again.
//! 3. **Answer.**
//!    - A plain handler runs inline, inside `catch_unwind`: a panic answers 500 and closes.
//!    - A deferred handler (an embedder's async or actor route, the admin endpoint's routes)
//!      decides from the borrowed request; when it must wait, its future is awaited on the
//!      connection's worker thread, also under `catch_unwind`.
//!    - A static file: a cache hit answers from memory on this thread; a miss asks the cache
//!      owner, which loads the file once, from the mount the route found; what the cache does
//!      not take (too large, a redirect, an error) is decided on the blocking pool. The answer
//!      says what to send: bytes, content to stream, or an open file for `sendfile`.
//! 4. *(The connection writes the answer.)*
//! 5. **After the exchange**: metrics and the access-log line ([`Pipeline::completed`]).
//!
//! Requests answered without a wait (steps 1-3 without the cache owner, the blocking pool or a
//! handler's future) never leave the plain call of [`Pipeline::respond_now`]; the rest continue
//! in [`Pipeline::finish`].

use std::any::Any;
use std::net::{IpAddr, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;

use web_server_http::static_files::FileContent;
use web_server_http::{
    Limits, Method, Params, Prepared, Request, Response, Route, Router, StaticFiles, StatusCode,
    TrustedProxies,
};

use crate::access_log;
use crate::cache::{StaticCache, StaticSource};
use crate::client_limits::{RateLimit, RequestRates};
use crate::coarse_time;
use crate::metrics;
use crate::zero_copy::FileRange;

/// What a connection needs to know besides the routes: limits and timeouts from the config.
/// Its `Default` is the compiled-in `config/default.toml`'s (implemented in
/// `config/server_config.rs`, beside the other in-code defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// Request size limits (`limits.*`).
    pub limits: Limits,
    /// From the first byte of a request to the end of its head; not reset by trickled bytes.
    pub header_timeout: Duration,
    /// From the end of a request head to the end of its body; trickled bytes do not extend it.
    pub body_timeout: Duration,
    /// Idle between two requests on a kept-alive connection.
    pub keepalive_timeout: Duration,
    /// A write making no progress for this long means the peer stopped reading.
    pub send_timeout: Duration,
    /// Requests served on one connection before it is closed (`limits.max_keepalive_requests`).
    pub max_keepalive_requests: u64,
    /// The `Server` header value, or none to omit it.
    pub server_header: Option<String>,
    /// Peers whose forwarding headers give the client's address and scheme
    /// (`server.trusted_proxies`).
    pub trusted_proxies: TrustedProxies,
    /// Requests per client and second, with a burst (`limits.requests_per_second`,
    /// `limits.request_burst`); off when `per_second` is 0.
    pub request_rate: RateLimit,
    /// Whether responses carry an `X-Request-Id` (`server.request_id`).
    pub request_id: bool,
    /// Whether connections start with a PROXY protocol header (`server.proxy_protocol`);
    /// read when a connection is accepted.
    pub proxy_protocol: bool,
}

/// A new request id: 32 hex digits, a per-process random half and a counter, so ids are unique
/// within a process and unlikely to meet another process's (as nginx's `$request_id`, which
/// is 32 random hex digits). Not secret: it names a request, it grants nothing.
pub(crate) fn new_request_id() -> String {
    use std::hash::BuildHasher;
    use std::sync::OnceLock;
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let process = *PROCESS.get_or_init(|| {
        std::hash::RandomState::new().hash_one((std::process::id(), std::time::SystemTime::now()))
    });
    format!(
        "{process:016x}{:016x}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A plain handler: runs inline and answers at once.
pub(crate) type PlainHandler = web_server_http::Handler;

/// A deferred handler: decides from the borrowed request, at once or with a future.
pub(crate) type DeferredHandler = dyn Fn(&Request, &Params<'_>) -> Answer + Send + Sync;

/// What a route runs. The kind is known when the route is registered, so the pipeline never
/// has to guess it from a response.
pub(crate) enum RouteHandler {
    /// Answers at once ([`web_server_http::Router::route`]'s handlers, an embedder's plain
    /// routes).
    Plain(Box<PlainHandler>),
    /// May answer later: an embedder's async and actor routes, the admin endpoint's routes.
    Deferred(Box<DeferredHandler>),
}

/// The routes a pipeline serves, plain and deferred in one table, so precedence, `HEAD`,
/// `OPTIONS` and `405`'s `Allow` treat every kind alike.
pub(crate) type Routes = Router<RouteHandler>;

/// Turns a router of plain handlers into the pipeline's routes.
pub(crate) fn plain_routes(router: Router) -> Routes {
    router.map_handlers(RouteHandler::Plain)
}

/// What a deferred handler decides synchronously, from the borrowed request.
pub(crate) enum Answer {
    /// The response is known at once (a rejected input, an actor that is not running).
    Now(Response),
    /// The response comes from this future, awaited on the connection's worker thread.
    Later(LocalBoxFuture<'static, Response>),
}

/// What a connection serves: the routes, the static-file cache and the connection options.
pub(crate) struct Pipeline {
    /// Routes and static mounts.
    routes: Routes,
    /// The static-file cache, when enabled.
    cache: Option<Arc<StaticCache>>,
    /// Limits and timeouts; replaced as a whole by a configuration reload.
    options: RwLock<Arc<ConnectionOptions>>,
    /// Bumped on every reload, so connections notice with one atomic load per request.
    generation: AtomicU64,
    /// Token buckets per client address, for `limits.requests_per_second`.
    rates: RequestRates,
}

impl Pipeline {
    /// A pipeline answering with `routes`, serving their static mounts through `cache`.
    pub(crate) fn new(
        routes: Routes,
        cache: Option<Arc<StaticCache>>,
        options: ConnectionOptions,
    ) -> Arc<Self> {
        Arc::new(Pipeline {
            routes,
            cache,
            options: RwLock::new(Arc::new(options)),
            generation: AtomicU64::new(0),
            rates: RequestRates::default(),
        })
    }

    /// The current connection options.
    pub(crate) fn options(&self) -> Arc<ConnectionOptions> {
        self.options
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Which options are current; changes on every [`set_options`](Self::set_options).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Replaces the options (configuration reload). Connections pick them up before their next
    /// request; a request in progress keeps the options it started with.
    pub(crate) fn set_options(&self, options: ConnectionOptions) {
        *self
            .options
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(options);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether `request`'s answer depends on its content: only a handler reads content. Asked
    /// for requests that come with content, before it is read; the answer is then routed again
    /// once the content is in, the one case where a request is looked up twice.
    pub(crate) fn reads_content(&self, request: &Request, redirect_https: Option<u16>) -> bool {
        redirect_https.is_none() && matches!(self.routes.route_request(request), Route::Handler(..))
    }

    /// Steps 1 to 3 for `request`, as far as they go without waiting: a redirect, an automatic
    /// answer, a plain handler, a deferred handler that answers at once, a cache hit (a
    /// remembered 404 included). Otherwise says what must be waited for, and
    /// [`finish`](Self::finish) waits. The connection answers the common case without an
    /// `await`, so the future it keeps while idle need not hold this pipeline's state.
    ///
    /// `client` is the request's client address, limited by `rate`; `redirect_https` is set
    /// when plain HTTP goes to HTTPS (and the client did not come over HTTPS to a trusted
    /// proxy).
    pub(crate) fn respond_now(
        &self,
        request: Request,
        client: IpAddr,
        rate: RateLimit,
        redirect_https: Option<u16>,
    ) -> Respond {
        if rate.is_on() {
            if let Err(wait) = self
                .rates
                .check(client, rate, coarse_time::monotonic_millis())
            {
                metrics::client_request_limited();
                return Respond::Now(Answered::new(request, too_many_requests(wait)));
            }
        }
        if let Some(port) = redirect_https {
            let response = redirect_to_https(&request, port);
            return Respond::Now(Answered::new(request, response));
        }
        match self.routes.route_request(&request) {
            Route::Static(files, tail) => {
                let tail_start = request.path().len() - tail.len();
                let Some(cache) = &self.cache else {
                    let files = files.clone();
                    return Respond::Later(Waiting::Uncached(request, files, tail_start));
                };
                if let Some(entry) = cache.hit(request.path()) {
                    metrics::cache_hit();
                    let (response, file) = entry.value.answer(files, &request);
                    return Respond::Now(Answered::with_file(request, response, file));
                }
                metrics::cache_miss();
                let files = files.clone();
                Respond::Later(Waiting::Miss(request, files, tail_start))
            }
            Route::Handler(RouteHandler::Plain(handler), params) => {
                match catch_unwind(AssertUnwindSafe(|| handler(&request, &params))) {
                    Ok(response) => Respond::Now(handler_answer(request, response)),
                    Err(payload) => Respond::Now(panicked(request, payload, "route handler")),
                }
            }
            Route::Handler(RouteHandler::Deferred(decide), params) => {
                match catch_unwind(AssertUnwindSafe(|| decide(&request, &params))) {
                    Ok(Answer::Now(response)) => Respond::Now(handler_answer(request, response)),
                    Ok(Answer::Later(future)) => Respond::Later(Waiting::Handler(request, future)),
                    Err(payload) => Respond::Now(panicked(request, payload, "route handler")),
                }
            }
            automatic => {
                let response = automatic
                    .automatic_response()
                    .expect("the router answers every other route itself");
                Respond::Now(Answered::new(request, response))
            }
        }
    }

    /// Step 3 for what [`respond_now`](Self::respond_now) could not answer at once. Nothing in
    /// here is boxed: the connection awaits this inside the boxed future it makes for requests
    /// that wait, so another box per wait would be a second allocation for the same request.
    pub(crate) async fn finish(&self, waiting: Waiting) -> Answered {
        match waiting {
            Waiting::Handler(request, future) => {
                match AssertUnwindSafe(future).catch_unwind().await {
                    Ok(response) => handler_answer(request, response),
                    Err(payload) => panicked(request, payload, "async handler"),
                }
            }
            Waiting::Miss(request, files, tail_start) => {
                let cache = self
                    .cache
                    .as_ref()
                    .expect("only a pipeline with a cache misses");
                let source = StaticSource {
                    files: files.clone(),
                    tail_start,
                };
                match cache.miss(request.path(), source).await {
                    Some(entry) => {
                        let (response, file) = entry.value.answer(&files, &request);
                        Answered::with_file(request, response, file)
                    }
                    None => prepare_uncached(request, files, tail_start).await,
                }
            }
            Waiting::Uncached(request, files, tail_start) => {
                prepare_uncached(request, files, tail_start).await
            }
        }
    }

    /// Step 5: what follows every written answer (or one that could not be written in full):
    /// the request metrics, and the access-log line when the access log is on.
    pub(crate) fn completed(&self, exchange: &Exchange<'_>) {
        metrics::request_done(
            exchange.method,
            exchange.status,
            exchange.elapsed,
            exchange.bytes,
        );
        if access_log::enabled() {
            // A rejected request has no parsed target: it is logged with `-` fields.
            let request = exchange.request;
            access_log::record(&access_log::AccessEntry {
                peer: exchange.peer,
                client: exchange.client,
                method: exchange.method.map_or("-", Method::as_str),
                target: request.map_or("-", Request::target),
                version: request.map_or("-", |r| r.version().as_str()),
                status: exchange.status,
                bytes: exchange.bytes,
                body_bytes: exchange.body_bytes,
                duration: exchange.elapsed,
                user_agent: request.and_then(|r| r.header_str("user-agent")),
                referer: request.and_then(|r| r.header_str("referer")),
                host: request.and_then(Request::host),
                request_id: exchange.request_id,
            });
        }
    }
}

/// One finished exchange, as the connection saw it, for [`Pipeline::completed`].
pub(crate) struct Exchange<'a> {
    /// The TCP peer.
    pub(crate) peer: SocketAddr,
    /// The client's address: what trusted proxies reported, else the peer's.
    pub(crate) client: IpAddr,
    /// The request's method; `None` when it was not recognised (or never parsed).
    pub(crate) method: Option<Method>,
    /// The request, or `None` for one that was rejected before it was whole.
    pub(crate) request: Option<&'a Request>,
    /// The response's status code.
    pub(crate) status: u16,
    /// Bytes written for it, head and body.
    pub(crate) bytes: u64,
    /// Of `bytes`, the body's.
    pub(crate) body_bytes: u64,
    /// The `X-Request-Id` sent with the answer, when `server.request_id` is on.
    pub(crate) request_id: Option<&'a str>,
    /// From the request's first byte to the end of its answer.
    pub(crate) elapsed: Duration,
}

/// An answer now, or what it waits for.
pub(crate) enum Respond {
    /// Answered without a wait.
    Now(Answered),
    /// To be answered by [`Pipeline::finish`].
    Later(Waiting),
}

/// What a request waits for before it has an answer (see [`Pipeline::respond_now`]).
pub(crate) enum Waiting {
    /// A deferred handler's future.
    Handler(Request, LocalBoxFuture<'static, Response>),
    /// A static file the cache does not hold yet: the cache owner loads it from this mount
    /// (the path below it starts at this offset of the request path).
    Miss(Request, Arc<StaticFiles>, usize),
    /// A static file served without the cache, decided on the blocking pool.
    Uncached(Request, Arc<StaticFiles>, usize),
}

/// A request's answer, as the connection writes it.
pub(crate) struct Answered {
    /// The request, given back for the access log.
    pub(crate) request: Request,
    /// The response.
    pub(crate) response: Response,
    /// Where the body comes from when it is not (only) in the response.
    pub(crate) body: BodySource,
}

/// Where an answer's body is sent from.
pub(crate) enum BodySource {
    /// The response holds it (or it has none).
    Response,
    /// A large file the cache does not hold: streamed after the head in chunks.
    Stream(FileContent),
    /// A cached file kept open: the body may be sent from it with `sendfile` (the response
    /// also holds it, for connections that cannot, or a file that changed since).
    File(FileRange),
}

impl Answered {
    fn new(request: Request, response: Response) -> Self {
        Answered {
            request,
            response,
            body: BodySource::Response,
        }
    }

    fn with_file(request: Request, response: Response, file: Option<FileRange>) -> Self {
        Answered {
            request,
            response,
            body: file.map_or(BodySource::Response, BodySource::File),
        }
    }

    fn prepared(request: Request, prepared: Prepared) -> Self {
        Answered {
            request,
            response: prepared.response,
            body: prepared
                .content
                .map_or(BodySource::Response, BodySource::Stream),
        }
    }
}

/// A static file the cache does not hold (too large, a redirect, a read error), or every static
/// request when there is no cache: decided, and short content read, on the blocking pool.
async fn prepare_uncached(
    request: Request,
    files: Arc<StaticFiles>,
    tail_start: usize,
) -> Answered {
    let blocking = tokio::task::spawn_blocking(move || {
        let tail = request.path().get(tail_start..).unwrap_or_default();
        let prepared = files.prepare(&request, tail);
        (request, prepared)
    });
    match blocking.await {
        Ok((request, prepared)) => Answered::prepared(request, prepared),
        Err(err) => {
            // The request moved into the failed task; answer without it.
            let message = if err.is_panic() {
                panic_message(err.into_panic())
            } else {
                "cancelled".to_owned()
            };
            tracing::error!(panic = %message, "static file handler panicked");
            Answered::new(empty_request(), internal_error())
        }
    }
}

/// A handler's response, unless it is an interim one: a 1xx status is never a final answer
/// (RFC 9110 §15.2), so a handler that gives one is a bug, answered 500 and logged.
fn handler_answer(request: Request, response: Response) -> Answered {
    if response.status().is_informational() {
        tracing::error!(
            method = %request.method(),
            path = %request.path(),
            status = response.status().as_u16(),
            "route handler answered with an interim status; answering 500"
        );
        return Answered::new(request, internal_error());
    }
    Answered::new(request, response)
}

/// A handler panicked: the panic is logged with its message, and the request is answered 500
/// with the connection closed; nothing else notices.
fn panicked(request: Request, payload: Box<dyn Any + Send>, handler: &str) -> Answered {
    tracing::error!(
        method = %request.method(),
        path = %request.path(),
        panic = %panic_message(payload),
        "{handler} panicked; answering 500 and closing the connection"
    );
    Answered::new(request, internal_error())
}

/// 429 for a client over its request rate (RFC 6585 §4), with when to try again: whole
/// seconds (RFC 9110 §10.2.3), rounded up so that a client that waits that long is served.
fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_millis().div_ceil(1000).max(1);
    // An allocation on the refusal path only.
    Response::text(StatusCode::TOO_MANY_REQUESTS, "too many requests\n")
        .with_header("Retry-After", seconds.to_string())
        .expect("digits are a valid field value")
}

fn internal_error() -> Response {
    Response::text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n").closing()
}

/// A placeholder request for the rare answer whose request was lost with a panicking task.
fn empty_request() -> Request {
    let raw = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    web_server_http::parse_request(raw, &Limits::default())
        .ok()
        .flatten()
        .map(|(request, _)| request)
        .expect("a fixed valid request parses")
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
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
