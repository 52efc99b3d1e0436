//! The admin endpoint: its own listener (`admin.bind`), served by the same HTTP stack through a
//! service interceptor, in a small supervision tree of its own beside the seed's
//! (`web_server_admin_sup`), so that the tree it observes stays exactly the seed's.
//!
//! | route | answer |
//! |---|---|
//! | `GET /health` | 200 while the process runs (never needs the token) |
//! | `GET /ready` | 200 when the public listener accepts and the tree runs, else 503 |
//! | `GET /metrics` | Prometheus text |
//! | `GET /admin/tree` | JSON snapshot of the live tree (`?connections=all` lists connections) |
//! | `GET /admin/tree.html` | the tree drawn as Erlang's observer does, refreshing live |
//! | `POST /admin/actors/{id}/kill` | kills that node abnormally (when `admin.allow_kill`) |
//! | `GET /admin/config` | the effective configuration, secrets redacted |
//! | `POST /admin/reload` | re-reads the configuration, as SIGHUP does (see [`crate::reload`]) |
//!
//! With `admin.token` set, every route but the probes (`/health`, `/ready`) needs
//! `Authorization: Bearer <token>`.

mod auth;
mod tree;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix::Arbiter;
use futures_util::future::{self, FutureExt, LocalBoxFuture};
use web_server_http::{Method, Request, Response, Router, StatusCode};
use web_server_supervision::{ChildError, StartError, SupervisorRef};

use crate::reload::Reloader;
use crate::service::{ConnectionOptions, Intercept, Service};
use crate::tcp::acceptor_sup::Partitions;
use crate::tcp::bind;
use crate::tcp::gate::ConnectionGate;
use crate::tcp::listener::ListenerShared;
use crate::tcp::{self, ADMIN};

/// Where and how the admin endpoint runs (`admin.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Its own listening address, loopback by default.
    pub bind: SocketAddr,
    /// When set, every route but `/health` requires it as a bearer token.
    pub token: Option<String>,
    /// Whether `POST /admin/actors/{id}/kill` may kill (chaos drills; off in prod).
    pub allow_kill: bool,
}

/// Admin connections at most: the endpoint is for operators and scrapers, not crowds.
const ADMIN_MAX_CONNECTIONS: usize = 256;

/// What the admin routes read.
pub(crate) struct AdminState {
    /// The seed tree, for snapshots and kills.
    pub(crate) root: SupervisorRef,
    /// The public listener, for `/ready` and the listener node's ranch-like info.
    pub(crate) public: Arc<ListenerShared>,
    /// `admin.token`.
    pub(crate) token: Option<String>,
    /// `admin.allow_kill`.
    pub(crate) allow_kill: bool,
    /// The effective configuration as TOML, secrets already redacted.
    pub(crate) config_text: String,
    /// Applies `POST /admin/reload`.
    pub(crate) reloader: Arc<Reloader>,
    /// Matches `/admin/actors/:id/kill` and decodes the id (ids contain `/` and `#`).
    kill_route: Router,
}

/// A running admin endpoint.
pub(crate) struct AdminEndpoint {
    /// Its own small tree (listener and connections).
    pub(crate) root: SupervisorRef,
    /// Addresses it listens on.
    pub(crate) addrs: Vec<SocketAddr>,
    /// Its sockets, closed when the server stops.
    pub(crate) shared: Arc<ListenerShared>,
}

/// Binds the admin address and starts its tree on the current Arbiter.
pub(crate) async fn start(
    config: &AdminConfig,
    root: SupervisorRef,
    public: Arc<ListenerShared>,
    config_text: String,
    mut options: ConnectionOptions,
    reloader: Arc<Reloader>,
) -> Result<AdminEndpoint, StartError> {
    let sockets = bind::bind_all(&[config.bind], 1, 64)
        .map_err(|err| StartError::new(format!("admin endpoint: {err}")))?;
    let addrs = sockets.addrs.clone();
    let shared = ListenerShared::new(
        sockets,
        vec![Arbiter::current()],
        Partitions::new(1),
        ConnectionGate::new(ADMIN_MAX_CONNECTIONS),
    );
    let mut kill_route = Router::new();
    kill_route
        .post("/admin/actors/:id/kill", |_, _| {
            Response::new(StatusCode::NO_CONTENT)
        })
        .map_err(|err| StartError::new(format!("admin kill route: {err}")))?;
    let state = Arc::new(AdminState {
        root,
        public,
        token: config.token.clone(),
        allow_kill: config.allow_kill,
        config_text,
        reloader,
        kill_route,
    });
    // Scrapes and tree pages are small; a generous keep-alive suits a refreshing page.
    options.keepalive_timeout = options.keepalive_timeout.max(Duration::from_secs(30));
    let service = Service::with_intercept(Router::new(), options, intercept(state));
    let spec = tcp::listener_sup(
        ADMIN,
        &shared,
        &service,
        &shared.partitions,
        Duration::from_secs(1),
    );
    let root = SupervisorRef::start(spec).await?;
    let urls: Vec<String> = addrs
        .iter()
        .map(|a| format!("http://{a}/admin/tree.html"))
        .collect();
    tracing::info!("admin endpoint on {}", urls.join(", "));
    Ok(AdminEndpoint {
        root,
        addrs,
        shared,
    })
}

/// The admin routes, as a service interceptor.
fn intercept(state: Arc<AdminState>) -> Intercept {
    Arc::new(move |request: &Request| route(&state, request))
}

fn route(state: &Arc<AdminState>, request: &Request) -> Option<LocalBoxFuture<'static, Response>> {
    let path = request.path();
    let method = request.method();
    let kill_id = kill_target(state, request);
    let known = kill_id.is_some()
        || matches!(
            path,
            "/health"
                | "/ready"
                | "/metrics"
                | "/admin/tree"
                | "/admin/tree.html"
                | "/admin/config"
                | "/admin/reload"
        );
    if !known {
        return None;
    }
    let answer = |response: Response| Some(future::ready(response).boxed_local());
    if path == "/health" {
        return answer(get_only(method).unwrap_or_else(|| text(StatusCode::OK, "ok\n")));
    }
    if path == "/ready" {
        // Like `/health`, open without the token: orchestrators' HTTP probes cannot send a
        // secret header, and the answer is a single bit.
        return answer(get_only(method).unwrap_or_else(|| {
            let ready = state.public.accepting.load(Ordering::Acquire) && state.root.is_running();
            if ready {
                text(StatusCode::OK, "ready\n")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
            }
        }));
    }
    if let Some(token) = &state.token {
        if !auth::authorized(request, token) {
            return answer(unauthorized(path == "/admin/tree.html"));
        }
    }
    if let Some(id) = kill_id {
        if method != Method::Post {
            return answer(not_allowed("POST"));
        }
        if !state.allow_kill {
            return answer(text(
                StatusCode::FORBIDDEN,
                "killing is disabled (admin.allow_kill = false)\n",
            ));
        }
        let root = state.root.clone();
        return Some(async move { kill(root, id).await }.boxed_local());
    }
    if path == "/admin/reload" {
        if method != Method::Post {
            return answer(not_allowed("POST"));
        }
        return answer(match state.reloader.reload() {
            Ok(report) => typed(
                StatusCode::OK,
                "application/json",
                serde_json::to_string(&report).unwrap_or_default() + "\n",
            ),
            Err(err) => typed(
                StatusCode::UNPROCESSABLE_CONTENT,
                "application/json",
                serde_json::json!({ "error": err }).to_string() + "\n",
            ),
        });
    }
    if let Some(refused) = get_only(method) {
        return answer(refused);
    }
    match path {
        "/metrics" => answer(typed(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            crate::metrics::render(),
        )),
        "/admin/config" => answer(typed(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            state.config_text.clone(),
        )),
        "/admin/tree.html" => answer(typed(
            StatusCode::OK,
            "text/html; charset=utf-8",
            tree::page(state.allow_kill),
        )),
        _ => {
            let all = request
                .query()
                .is_some_and(|q| q.split('&').any(|pair| pair == "connections=all"));
            let state = state.clone();
            Some(async move { tree::json(&state, all).await }.boxed_local())
        }
    }
}

/// The decoded id of `/admin/actors/{id}/kill` (ids contain `/` and `#`, sent encoded).
fn kill_target(state: &AdminState, request: &Request) -> Option<String> {
    if !request.path().starts_with("/admin/actors/") {
        return None;
    }
    // Looked up as POST whatever the method, so other methods get 405 rather than 404.
    match state.kill_route.lookup(Method::Post, request.path()) {
        web_server_http::Route::Handler(_, params) => {
            params.decoded("id").map(std::borrow::Cow::into_owned)
        }
        _ => None,
    }
}

async fn kill(root: SupervisorRef, id: String) -> Response {
    match root.kill_child(&id).await {
        Ok(()) => typed(
            StatusCode::OK,
            "application/json",
            format!("{{\"killed\":{}}}\n", serde_json::Value::String(id)),
        ),
        Err(ChildError::NotFound(_)) => text(StatusCode::NOT_FOUND, &format!("no actor {id}\n")),
        Err(ChildError::NotRunning(_)) => text(
            StatusCode::CONFLICT,
            &format!("{id} is not running (restarting?)\n"),
        ),
        Err(err) => text(StatusCode::SERVICE_UNAVAILABLE, &format!("{err}\n")),
    }
}

/// `None` for GET and HEAD; a 405 otherwise.
fn get_only(method: Method) -> Option<Response> {
    match method {
        Method::Get | Method::Head => None,
        _ => Some(not_allowed("GET, HEAD")),
    }
}

fn not_allowed(allow: &str) -> Response {
    text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        .with_header("Allow", allow.to_owned())
        .expect("a valid Allow value")
}

fn unauthorized(page: bool) -> Response {
    let response = if page {
        typed(
            StatusCode::UNAUTHORIZED,
            "text/html; charset=utf-8",
            tree::sign_in_page(),
        )
    } else {
        text(StatusCode::UNAUTHORIZED, "admin token required\n")
    };
    response
        .with_header(
            "WWW-Authenticate",
            "Bearer realm=\"web_server admin\"".to_owned(),
        )
        .expect("a valid WWW-Authenticate value")
}

fn text(status: StatusCode, body: &str) -> Response {
    typed(status, "text/plain; charset=utf-8", body.to_owned())
}

fn typed(status: StatusCode, content_type: &str, body: String) -> Response {
    Response::new(status)
        .with_header("Content-Type", content_type.to_owned())
        .expect("a valid Content-Type")
        .with_header("Cache-Control", "no-store".to_owned())
        .expect("a valid Cache-Control")
        .with_body(body)
}
