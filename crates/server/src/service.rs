//! The request pipeline every connection runs: one linear path from a parsed request to a
//! response, reading top to bottom. It knows no sockets; the connection state machine feeds it
//! requests and writes what it returns.
//!
//! 1. An interceptor, when the service has one, may claim the request and answer it
//!    asynchronously (the admin endpoint's routes, which ask the supervision tree).
//! 2. The router picks a handler, a static mount, or an automatic 204/404/405 answer.
//! 3. Handlers run inline, inside `catch_unwind`: a panic answers 500, closes the connection and
//!    is logged with its message, and nothing else notices. A *deferred* handler (an embedder's
//!    async or actor route, made by `deferred`) is a router entry like any other; when it matches
//!    it leaves a future on its thread and answers with a marker, and the future, awaited here
//!    on the connection's worker thread (also under `catch_unwind`), gives the response. Plain
//!    handlers pay one status comparison for this; static files nothing.
//! 4. Static files: a cache hit is answered from memory on the worker's own thread; a miss asks
//!    the cache owner, which loads the file once on the blocking pool; what the cache does not
//!    take (too large, redirects, errors) is decided on the blocking pool, and content larger than
//!    `max_inline_bytes` comes back for the connection to stream.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;

use web_server_http::{
    Limits, Method, Params, Prepared, Request, Response, Route, Router, StatusCode,
};

use crate::cache::{Fresh, StaticCache, StaticEntry};

/// What a connection needs to know besides the router: limits and timeouts from the config.
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
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        ConnectionOptions {
            limits: Limits::default(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(30),
            max_keepalive_requests: 1000,
            server_header: Some("web_server".to_owned()),
        }
    }
}

/// Claims a request before the router sees it and answers it asynchronously; `None` passes
/// the request on. It runs on the connection's worker thread, so the future need not be `Send`.
pub type Intercept =
    Arc<dyn Fn(&Request) -> Option<LocalBoxFuture<'static, Response>> + Send + Sync>;

/// What a deferred handler decides synchronously, from the borrowed request.
pub(crate) enum Answer {
    /// The response is known at once (a rejected input, an actor that is not running).
    Now(Response),
    /// The response comes from this future, awaited on the connection's worker thread.
    Later(LocalBoxFuture<'static, Response>),
}

/// The status of the marker a deferred handler returns through the router: 102 is an interim
/// status no handler may answer with as final (RFC 9110 §15.2), so it cannot be mistaken.
const DEFERRED: StatusCode = match StatusCode::from_u16(102) {
    Some(status) => status,
    None => panic!("102 is a valid status code"),
};

thread_local! {
    /// The future a deferred handler just produced, taken by [`Service::respond`] right after
    /// the router returned on the same thread (no await in between, so nothing else runs).
    static PARKED: Cell<Option<LocalBoxFuture<'static, Response>>> = const { Cell::new(None) };
}

/// Turns `decide` into a plain router handler whose answer may come later: an embedder's async
/// and actor routes are registered in the same [`Router`] as plain ones, so precedence, `HEAD`,
/// `OPTIONS` and `405`'s `Allow` treat every kind alike. Only [`Service::respond`] may call the
/// result (it alone collects the future); the router is never handed to anything else that
/// runs handlers.
pub(crate) fn deferred<F>(decide: F) -> impl Fn(&Request, &Params<'_>) -> Response + Send + Sync
where
    F: Fn(&Request, &Params<'_>) -> Answer + Send + Sync + 'static,
{
    move |request, params| match decide(request, params) {
        Answer::Now(response) => response,
        Answer::Later(future) => {
            PARKED.with(|parked| parked.set(Some(future)));
            Response::new(DEFERRED)
        }
    }
}

/// The application a connection serves: the router and the connection options.
pub struct Service {
    /// Routes and static mounts (shared with the cache's loader).
    router: Arc<Router>,
    /// The static-file cache, when enabled.
    cache: Option<Arc<StaticCache>>,
    /// Limits and timeouts; replaced as a whole by a configuration reload.
    options: std::sync::RwLock<Arc<ConnectionOptions>>,
    /// Bumped on every reload, so connections notice with one atomic load per request.
    generation: std::sync::atomic::AtomicU64,
    /// Asynchronous routes answered before the router (the admin endpoint's).
    intercept: Option<Intercept>,
}

impl Service {
    /// A service answering with `router` under `options`.
    pub fn new(router: Router, options: ConnectionOptions) -> Arc<Self> {
        Arc::new(Service {
            router: Arc::new(router),
            cache: None,
            options: std::sync::RwLock::new(Arc::new(options)),
            generation: std::sync::atomic::AtomicU64::new(0),
            intercept: None,
        })
    }

    /// A service answering with `router`, serving its static mounts through `cache`.
    pub fn with_cache(
        router: Arc<Router>,
        options: ConnectionOptions,
        cache: Option<Arc<StaticCache>>,
    ) -> Arc<Self> {
        Arc::new(Service {
            router,
            cache,
            options: std::sync::RwLock::new(Arc::new(options)),
            generation: std::sync::atomic::AtomicU64::new(0),
            intercept: None,
        })
    }

    /// A service whose `intercept` may answer requests before `router` does.
    pub fn with_intercept(
        router: Router,
        options: ConnectionOptions,
        intercept: Intercept,
    ) -> Arc<Self> {
        Arc::new(Service {
            router: Arc::new(router),
            cache: None,
            options: std::sync::RwLock::new(Arc::new(options)),
            generation: std::sync::atomic::AtomicU64::new(0),
            intercept: Some(intercept),
        })
    }

    /// The current connection options.
    pub fn options(&self) -> Arc<ConnectionOptions> {
        self.options
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Which options are current; changes on every [`set_options`](Self::set_options).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Replaces the options (configuration reload). Connections pick them up before their next
    /// request; a request in progress keeps the options it started with.
    pub fn set_options(&self, options: ConnectionOptions) {
        *self
            .options
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(options);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Answers one request. Returns the request back so the caller can log it.
    pub async fn respond(self: &Arc<Self>, request: Request) -> Answered {
        match self.respond_now(request) {
            Respond::Now(answered) => answered,
            Respond::Later(waiting) => self.finish(waiting).await,
        }
    }

    /// Answers one request if that needs no wait: a cache hit (a remembered 404 included), a
    /// plain handler, an automatic answer. Otherwise says what must be waited for, and
    /// [`finish`](Self::finish) waits. The connection answers the common case without an
    /// `await`, so the future it keeps while idle need not hold this pipeline's state.
    pub fn respond_now(self: &Arc<Self>, request: Request) -> Respond {
        if let Some(answer) = self.intercept.as_ref().and_then(|claim| claim(&request)) {
            return Respond::Later(Waiting::Settle(request, answer));
        }
        if let Route::Static(files, _) = self.router.lookup(request.method(), request.path()) {
            let cacheable = matches!(request.method(), Method::Get | Method::Head);
            if let (Some(cache), true) = (&self.cache, cacheable) {
                if let Some(entry) = cache.hit(request.path()) {
                    crate::metrics::cache_hit();
                    let response = entry.value.respond(files, &request);
                    return Respond::Now(Answered::from_entry(request, response, entry));
                }
                crate::metrics::cache_miss();
                return Respond::Later(Waiting::Miss(request));
            }
            return Respond::Later(Waiting::Blocking(request));
        }
        let answered = catch_unwind(AssertUnwindSafe(|| self.router.handle(&request)));
        match answered {
            Ok(response) if response.status() == DEFERRED => match PARKED.with(Cell::take) {
                Some(answer) => Respond::Later(Waiting::Settle(request, answer)),
                None => {
                    tracing::error!(
                        method = %request.method(),
                        path = %request.path(),
                        "route handler answered with the interim status 102; answering 500"
                    );
                    Respond::Now((request, internal_error().into()).into())
                }
            },
            Ok(response) => Respond::Now((request, response.into()).into()),
            Err(payload) => Respond::Now(panicked(request, payload, "route handler").into()),
        }
    }

    /// Waits for what [`respond_now`](Self::respond_now) could not answer at once. Nothing in
    /// here is boxed: the connection awaits this inside the boxed future it makes for requests
    /// that wait, so another box per wait would be a second allocation for the same request.
    pub async fn finish(self: &Arc<Self>, waiting: Waiting) -> Answered {
        match waiting {
            Waiting::Settle(request, answer) => settle(request, answer).await.into(),
            Waiting::Miss(request) => {
                let cache = self
                    .cache
                    .as_ref()
                    .expect("only a service with a cache misses");
                if let Some(entry) = cache.miss(request.path()).await {
                    if let Route::Static(files, _) =
                        self.router.lookup(request.method(), request.path())
                    {
                        let response = entry.value.respond(files, &request);
                        return Answered::from_entry(request, response, entry);
                    }
                }
                self.prepare_static(request).await.into()
            }
            Waiting::Blocking(request) => self.prepare_static(request).await.into(),
        }
    }

    /// What the cache does not hold (too large, a redirect, a read error), or every static
    /// request when there is no cache: decided, and short content read, on the blocking pool.
    async fn prepare_static(self: &Arc<Self>, request: Request) -> (Request, Prepared) {
        let service = self.clone();
        let blocking = tokio::task::spawn_blocking(move || {
            let prepared = service.router.prepare(&request);
            (request, prepared)
        });
        match blocking.await {
            Ok(answered) => answered,
            Err(err) => {
                // The request moved into the failed task; answer without it.
                let message = if err.is_panic() {
                    panic_message(err.into_panic())
                } else {
                    "cancelled".to_owned()
                };
                tracing::error!(panic = %message, "static file handler panicked");
                (empty_request(), internal_error().into())
            }
        }
    }
}

/// An answer now, or what it waits for.
pub enum Respond {
    /// Answered without a wait.
    Now(Answered),
    /// To be answered by [`Service::finish`].
    Later(Waiting),
}

/// What a request waits for before it has an answer (see [`Service::respond_now`]).
pub enum Waiting {
    /// An interceptor's or a deferred handler's future.
    Settle(Request, LocalBoxFuture<'static, Response>),
    /// A static file the cache does not hold yet: the cache owner loads it.
    Miss(Request),
    /// A static file decided on the blocking pool (no cache, or a method the cache skips).
    Blocking(Request),
}

/// A request's answer, as the connection writes it.
pub struct Answered {
    /// The request, given back for the access log.
    pub request: Request,
    /// The response, and the content to stream after its head if it is a large file.
    pub prepared: Prepared,
    /// The cache entry the answer came from: the connection may send the body from the entry's
    /// open file without copying it (see [`crate::zero_copy`]).
    pub entry: Option<Arc<Fresh<StaticEntry>>>,
}

impl Answered {
    fn from_entry(request: Request, response: Response, entry: Arc<Fresh<StaticEntry>>) -> Self {
        Answered {
            request,
            prepared: response.into(),
            entry: Some(entry),
        }
    }
}

impl From<(Request, Prepared)> for Answered {
    fn from((request, prepared): (Request, Prepared)) -> Self {
        Answered {
            request,
            prepared,
            entry: None,
        }
    }
}

/// Awaits an asynchronous answer on this thread; a panic while it runs answers 500 and closes
/// the connection, as a plain handler's does.
async fn settle(
    request: Request,
    answer: LocalBoxFuture<'static, Response>,
) -> (Request, Prepared) {
    match AssertUnwindSafe(answer).catch_unwind().await {
        Ok(response) => (request, response.into()),
        Err(payload) => panicked(request, payload, "async handler"),
    }
}

/// A handler panicked: the panic is logged with its message, and the request is answered 500
/// with the connection closed; nothing else notices.
fn panicked(request: Request, payload: Box<dyn Any + Send>, handler: &str) -> (Request, Prepared) {
    tracing::error!(
        method = %request.method(),
        path = %request.path(),
        panic = %panic_message(payload),
        "{handler} panicked; answering 500 and closing the connection"
    );
    (request, internal_error().into())
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
