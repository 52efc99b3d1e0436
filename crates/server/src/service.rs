//! The request pipeline every connection runs: one linear path from a parsed request to a
//! response, reading top to bottom. It knows no sockets; the connection state machine feeds it
//! requests and writes what it returns.
//!
//! 1. An interceptor, when the service has one, may claim the request and answer it
//!    asynchronously (the admin endpoint's routes, which ask the supervision tree).
//! 2. The router picks a handler, a static mount, or an automatic 204/404/405 answer.
//! 3. Handlers run inline, inside `catch_unwind`: a panic answers 500, closes the connection and
//!    is logged with its message, and nothing else notices.
//! 4. Static files: a cache hit is answered from memory on the worker's own thread; a miss asks
//!    the cache owner, which loads the file once on the blocking pool; what the cache does not
//!    take (too large, redirects, errors) is decided on the blocking pool, and content larger than
//!    `max_inline_bytes` comes back for the connection to stream.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;

use web_server_http::{Limits, Method, Prepared, Request, Response, Route, Router, StatusCode};

use crate::cache::StaticCache;

/// What a connection needs to know besides the router: limits and timeouts from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// Request size limits (`limits.*`).
    pub limits: Limits,
    /// From the first byte of a request to the end of its head; not reset by trickled bytes.
    pub header_timeout: Duration,
    /// Between two reads of a request body.
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
    pub async fn respond(self: &Arc<Self>, request: Request) -> (Request, Prepared) {
        if let Some(answer) = self.intercept.as_ref().and_then(|claim| claim(&request)) {
            return match AssertUnwindSafe(answer).catch_unwind().await {
                Ok(response) => (request, response.into()),
                Err(payload) => {
                    let message = panic_message(payload);
                    tracing::error!(path = %request.path(), panic = %message, "async handler panicked");
                    (request, internal_error().into())
                }
            };
        }
        if let Route::Static(files, _) = self.router.lookup(request.method(), request.path()) {
            let cacheable = matches!(request.method(), Method::Get | Method::Head);
            if let (Some(cache), true) = (&self.cache, cacheable) {
                if let Some(entry) = cache.hit(request.path()) {
                    crate::metrics::cache_hit();
                    let response = files.respond_cached(&entry.value, &request);
                    return (request, response.into());
                }
                crate::metrics::cache_miss();
                if let Some(entry) = cache.miss(request.path()).await {
                    let response = files.respond_cached(&entry.value, &request);
                    return (request, response.into());
                }
            }
            let service = self.clone();
            let blocking = tokio::task::spawn_blocking(move || {
                let prepared = service.router.prepare(&request);
                (request, prepared)
            });
            return match blocking.await {
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
            };
        }
        let answered = catch_unwind(AssertUnwindSafe(|| self.router.handle(&request)));
        match answered {
            Ok(response) => (request, response.into()),
            Err(payload) => {
                let message = panic_message(payload);
                tracing::error!(
                    method = %request.method(),
                    path = %request.path(),
                    panic = %message,
                    "route handler panicked; answering 500 and closing the connection"
                );
                (request, internal_error().into())
            }
        }
    }
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
