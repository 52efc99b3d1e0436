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
//! | `GET /admin/tree.html`, `GET /admin/` | the observer page: live charts of the last 15 minutes, the tree drawn as Erlang's observer does, crash reports of a clicked node |
//! | `GET /admin/crashes` | every supervisor's last abnormal exits, newest first |
//! | `GET /admin/stats` | the last 15 minutes, one sample a second (`?since=<unix ms>` for newer ones) |
//! | `POST /admin/actors/{id}/kill` | kills that node abnormally (when `admin.allow_kill`) |
//! | `GET /admin/config` | the effective configuration, secrets redacted |
//! | `POST /admin/reload` | re-reads the configuration, as SIGHUP does (see [`crate::reload`]) |
//!
//! With `admin.token` set, every route but the probes (`/health`, `/ready`) needs
//! `Authorization: Bearer <token>`. `/metrics` also takes `admin.metrics_token`, a read-only
//! token for scrapers that opens no other route; with only that one set, `/metrics` needs it. Every route but the probes also refuses what a web page in
//! the operator's browser could send ([`cross_site`]): another site's `Origin`, a state change
//! sent as a plain form and, without a token, a `Host` that is not this endpoint's.
//!
//! The routes are the pipeline's deferred routes, so the admin endpoint's requests take the
//! same path as the site's: one lookup, and 404, 405 with `Allow` and OPTIONS from the router.

mod auth;
mod cross_site;
mod tree;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix::Arbiter;
use futures_util::future::FutureExt;
use web_server_http::{Method, Params, Request, Response, RouteError, StatusCode};
use web_server_supervision::{ChildError, StartError, SupervisorRef};

use crate::config::AdminConfig;
use crate::metrics;
use crate::pipeline::{Answer, ConnectionOptions, Pipeline, RouteHandler, Routes};
use crate::reload::Reloader;
use crate::tcp::acceptor_sup::Partitions;
use crate::tcp::bind;
use crate::tcp::gate::ConnectionGate;
use crate::tcp::listener::ListenerShared;
use crate::tcp::{listener_sup, EndpointIds};

/// The admin endpoint's supervision ids: a tree of its own beside the seed's.
pub(crate) const IDS: EndpointIds = EndpointIds {
    listener_sup: "web_server_admin_sup",
    acceptor_sup: "web_server_admin_acceptor_sup",
    acceptor: "web_server_admin_acceptor",
    listener: "web_server_admin_listener",
};

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
    /// `admin.metrics_token`: opens `/metrics` only.
    pub(crate) metrics_token: Option<String>,
    /// `admin.allow_kill`.
    pub(crate) allow_kill: bool,
    /// `admin.allowed_hosts`.
    pub(crate) allowed_hosts: Vec<String>,
    /// Applies `POST /admin/reload`.
    pub(crate) reloader: Arc<Reloader>,
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
    // Its connections count in the active-connections gauge like any listener's.
    metrics::watch_connections(shared.gate.clone());
    let state = Arc::new(AdminState {
        root,
        public,
        token: config.token.clone(),
        metrics_token: config.metrics_token.clone(),
        allow_kill: config.allow_kill,
        allowed_hosts: config.allowed_hosts.clone(),
        reloader,
    });
    let routes = routes(&state).map_err(|err| StartError::new(format!("admin routes: {err}")))?;
    // Scrapes and tree pages are small; a generous keep-alive suits a refreshing page.
    options.keepalive_timeout = options.keepalive_timeout.max(Duration::from_secs(30));
    let pipeline = Pipeline::new(routes, None, options);
    let spec = listener_sup::spec(
        IDS,
        &shared,
        &pipeline,
        &shared.partitions,
        Duration::from_secs(1),
    );
    let root = SupervisorRef::start(spec).await?;
    let urls: Vec<String> = addrs.iter().map(|a| format!("http://{a}/admin/")).collect();
    tracing::info!("admin endpoint on {}", urls.join(", "));
    Ok(AdminEndpoint {
        root,
        addrs,
        shared,
    })
}

/// What an admin route answers, from the state, the request and its path parameters.
type AdminAnswer = fn(&Arc<AdminState>, &Request, &Params<'_>) -> Answer;

/// The admin routes. GET routes answer HEAD too; the router answers other methods 405.
fn routes(state: &Arc<AdminState>) -> Result<Routes, RouteError> {
    let mut routes = Routes::default();
    // The probes are open without the token: orchestrators' HTTP probes cannot send a secret
    // header, and each answer is a single bit.
    routes
        .insert(Method::Get, "/health", open(state, health))?
        .insert(Method::Get, "/ready", open(state, ready))?
        .insert(
            Method::Get,
            "/metrics",
            guarded(state, SCRAPE, metrics_text),
        )?
        .insert(Method::Get, "/admin/tree", guarded(state, READ, tree_json))?
        .insert(
            Method::Get,
            "/admin/stats",
            guarded(state, READ, stats_json),
        )?
        .insert(
            Method::Get,
            "/admin/crashes",
            guarded(state, READ, crashes_json),
        )?
        .insert(
            Method::Get,
            "/admin/tree.html",
            guarded(state, PAGE, tree_page),
        )?
        .insert(Method::Get, "/admin/", guarded(state, PAGE, tree_page))?
        .insert(
            Method::Get,
            "/admin/config",
            guarded(state, READ, config_text),
        )?
        .insert(
            Method::Post,
            "/admin/reload",
            guarded(state, CHANGE, reload),
        )?
        .insert(
            Method::Post,
            "/admin/actors/:id/kill",
            guarded(state, CHANGE, kill),
        )?;
    Ok(routes)
}

/// A route anyone may call.
fn open(state: &Arc<AdminState>, answer: AdminAnswer) -> RouteHandler {
    let state = state.clone();
    RouteHandler::Deferred(Box::new(move |request, params| {
        answer(&state, request, params)
    }))
}

/// What a guarded route is.
#[derive(Clone, Copy)]
struct Guard {
    /// Answers a missing token with the sign-in page rather than a bare 401.
    page: bool,
    /// Changes the server (kill, reload): must not be sendable by a plain form.
    changes_state: bool,
    /// Also opens to `admin.metrics_token` (`/metrics` alone: a scraper's token reads the
    /// series and nothing else).
    scrape: bool,
}

const READ: Guard = Guard {
    page: false,
    changes_state: false,
    scrape: false,
};
const SCRAPE: Guard = Guard {
    scrape: true,
    ..READ
};
const PAGE: Guard = Guard { page: true, ..READ };
const CHANGE: Guard = Guard {
    changes_state: true,
    ..READ
};

/// A route that no other web site may drive ([`cross_site`]) and that needs the token, when one
/// is set.
fn guarded(state: &Arc<AdminState>, guard: Guard, answer: AdminAnswer) -> RouteHandler {
    let state = state.clone();
    RouteHandler::Deferred(Box::new(move |request, params| {
        let checked = cross_site::check(
            request,
            &state.allowed_hosts,
            state.token.is_some(),
            guard.changes_state,
        );
        if let Err(refusal) = checked {
            return Answer::Now(text(StatusCode::FORBIDDEN, refusal.message()));
        }
        let scrape_token = state.metrics_token.as_deref().filter(|_| guard.scrape);
        let tokens: [Option<&str>; 2] = [state.token.as_deref(), scrape_token];
        let required = tokens.iter().any(Option::is_some);
        let given = tokens
            .iter()
            .flatten()
            .any(|token| auth::authorized(request, token));
        if required && !given {
            Answer::Now(unauthorized(guard.page))
        } else {
            answer(&state, request, params)
        }
    }))
}

fn health(_: &Arc<AdminState>, _: &Request, _: &Params<'_>) -> Answer {
    Answer::Now(text(StatusCode::OK, "ok\n"))
}

fn ready(state: &Arc<AdminState>, _: &Request, _: &Params<'_>) -> Answer {
    let ready = state.public.accepting.load(Ordering::Acquire) && state.root.is_running();
    Answer::Now(if ready {
        text(StatusCode::OK, "ready\n")
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    })
}

fn metrics_text(_: &Arc<AdminState>, _: &Request, _: &Params<'_>) -> Answer {
    Answer::Now(typed(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        metrics::render(),
    ))
}

fn tree_json(state: &Arc<AdminState>, request: &Request, _: &Params<'_>) -> Answer {
    let all = request
        .query()
        .is_some_and(|q| q.split('&').any(|pair| pair == "connections=all"));
    let state = state.clone();
    Answer::Later(async move { tree::json(&state, all).await }.boxed_local())
}

fn crashes_json(state: &Arc<AdminState>, _: &Request, _: &Params<'_>) -> Answer {
    let state = state.clone();
    Answer::Later(async move { tree::crashes_json(&state).await }.boxed_local())
}

/// `GET /admin/stats[?since=<unix ms>]`: the metrics actor's last 15 minutes, or the samples
/// taken after `since`.
fn stats_json(_: &Arc<AdminState>, request: &Request, _: &Params<'_>) -> Answer {
    let since = request.query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("since="))
            .and_then(|value| value.parse::<u64>().ok())
    });
    Answer::Now(typed(
        StatusCode::OK,
        "application/json",
        metrics::stats_json(since),
    ))
}

fn tree_page(state: &Arc<AdminState>, _: &Request, _: &Params<'_>) -> Answer {
    Answer::Now(typed(
        StatusCode::OK,
        "text/html; charset=utf-8",
        tree::page(state.allow_kill),
    ))
}

/// The configuration in force: what a reload applied, and the start-up values of what it
/// could not.
fn config_text(state: &Arc<AdminState>, _: &Request, _: &Params<'_>) -> Answer {
    Answer::Now(typed(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        state.reloader.config_text(),
    ))
}

fn reload(state: &Arc<AdminState>, _: &Request, _: &Params<'_>) -> Answer {
    Answer::Now(match state.reloader.reload() {
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
    })
}

/// `POST /admin/actors/{id}/kill`: ids contain `/` and `#`, sent percent-encoded.
fn kill(state: &Arc<AdminState>, _: &Request, params: &Params<'_>) -> Answer {
    if !state.allow_kill {
        return Answer::Now(text(
            StatusCode::FORBIDDEN,
            "killing is disabled (admin.allow_kill = false)\n",
        ));
    }
    let Some(id) = params.decoded("id").map(std::borrow::Cow::into_owned) else {
        return Answer::Now(text(StatusCode::NOT_FOUND, "no such actor\n"));
    };
    let root = state.root.clone();
    Answer::Later(async move { kill_child(root, id).await }.boxed_local())
}

async fn kill_child(root: SupervisorRef, id: String) -> Response {
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
