//! Embedding web_server in another actix application: the public API re-exported at the crate
//! root ([`WebServer`], [`WebServerBuilder`], [`ActorSlot`], [`CurrentAddr`], [`PathParams`]).
//! Everything it starts is the server's own machinery ([`Server`], the tree, the service);
//! only the way in is new.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix::{Actor, Addr, Context, Handler, Message};
use futures_util::FutureExt;
use tokio::sync::watch;
use web_server_http::{Method, Params, Request, Response, StaticFiles, StatusCode};
use web_server_supervision::{ChildSpec, ExitReason, NodeSnapshot, StartError, SupervisorRef};

use crate::config::{
    AdminConfig, Cli, ConfigError, ConfigSource, ServerConfig, Settings, TlsConfig,
};
use crate::pipeline::{Answer, RouteHandler, Routes};
use crate::server::Server;

/// A running web_server started by [`WebServerBuilder::start`]: its addresses, its supervision
/// tree, and a graceful [`shutdown`](WebServer::shutdown).
///
/// Dropping the handle does not stop the server; call [`shutdown`](WebServer::shutdown) (or
/// stop the actix `System`).
///
/// # Embedding
///
/// The whole tree starts inside the caller's running `actix::System`, with the application's
/// own routes and its own actors supervised in the same tree.
///
/// - [`WebServer::builder`] takes a [`ServerConfig`] (built in code, or loaded with the binary's
///   profile/file/environment layering by [`WebServer::load_config`]) and adds routes of three
///   kinds, static directories and supervised children; [`WebServerBuilder::start`] binds and
///   starts everything and returns this handle.
/// - Plain routes ([`WebServerBuilder::route`]) are functions of the borrowed request, run
///   inline on the connection's worker thread. Async routes ([`WebServerBuilder::route_async`])
///   get an owned request and return a future, awaited on that same thread (it need not be
///   `Send`). Actor routes ([`WebServerBuilder::route_actor`]) turn a request into a message,
///   send it to the actor's current address and turn the reply into a response; they answer
///   `503` while the actor is not running (a supervisor is restarting it).
/// - [`ActorSlot`] is where a supervised actor publishes the address of each incarnation, so
///   routes and the rest of the application always reach the live one.
/// - [`WebServerBuilder::child`] adds the application's own workers or whole subtrees under
///   `web_server_sup`: they restart by OTP's rules and appear in `/admin/tree` beside the
///   built-in nodes.
///
/// A walk-through for new users is in docs/embedding.md; runnable programs are
/// `examples/embed_in_actix_app.rs`, `examples/custom_routes.rs` and `examples/tls.rs`.
///
/// ```no_run
/// use actix::prelude::*;
/// use web_server::http::{Method, Response, StatusCode};
/// use web_server::server::ServerConfig;
/// use web_server::{ActorSlot, WebServer};
///
/// /// A counter whose state lives as long as one incarnation.
/// #[derive(Default)]
/// struct Counter(u64);
/// impl Actor for Counter {
///     type Context = Context<Self>;
/// }
///
/// #[derive(Message)]
/// #[rtype(result = "u64")]
/// struct Bump;
/// impl Handler<Bump> for Counter {
///     type Result = u64;
///     fn handle(&mut self, _: Bump, _: &mut Context<Self>) -> u64 {
///         self.0 += 1;
///         self.0
///     }
/// }
///
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let counter = ActorSlot::<Counter>::new();
///     let server = WebServer::builder(ServerConfig::default())
///         .route(Method::Get, "/hello/:name", |_, params| {
///             let name = params.decoded("name").unwrap_or_default();
///             Response::text(StatusCode::OK, format!("hello, {name}\n"))
///         })
///         .route_async(Method::Get, "/later", |_request, _params| async {
///             actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
///             Response::text(StatusCode::OK, "done\n")
///         })
///         .route_actor(
///             Method::Post,
///             "/count",
///             counter.clone(),
///             |_, _| Ok(Bump),
///             |n| Response::text(StatusCode::OK, format!("{n}\n")),
///         )
///         .child(counter.worker("counter", Counter::default))
///         .start()
///         .await?;
///     println!("listening on http://{}", server.addrs()[0]);
///     web_server::shutdown_signal().await;
///     server.shutdown().await;
///     Ok(())
/// }
/// ```
pub struct WebServer {
    /// The server itself (worker threads, sockets, tree, admin endpoint); the handle adds the
    /// embedding API on top and keeps everything else reachable through [`WebServer::server`].
    server: Server,
}

impl WebServer {
    /// A builder for a server with `config`; add routes and children, then
    /// [`start`](WebServerBuilder::start) it.
    ///
    /// ```
    /// use web_server::server::ServerConfig;
    /// use web_server::WebServer;
    ///
    /// let config = ServerConfig {
    ///     bind: vec!["127.0.0.1:0".parse().unwrap()],
    ///     workers: 1,
    ///     ..ServerConfig::default()
    /// };
    /// let builder = WebServer::builder(config).admin(None);
    /// # drop(builder);
    /// ```
    pub fn builder(config: ServerConfig) -> WebServerBuilder {
        WebServerBuilder {
            config,
            router: Routes::default(),
            mounts: Vec::new(),
            error: None,
        }
    }

    /// Loads a configuration exactly as the `web_server` binary does: `config/default.toml`,
    /// the profile's file, `--config FILE`, `WEB_SERVER__SECTION__KEY` variables of this
    /// process, then the flags set in `cli` (see [`crate::config`]). Reloads (`POST
    /// /admin/reload`) read the same layers again.
    ///
    /// `cli` is the binary's command line; build it in code or parse your own program's
    /// arguments with it. The returned configuration carries the log settings in
    /// [`ServerConfig::log`]; pass them to [`crate::logging::init`] to log as the binary does,
    /// or set the field to `None` if your application installs its own logger.
    ///
    /// ```no_run
    /// use web_server::config::{Cli, Profile};
    /// use web_server::WebServer;
    ///
    /// let cli = Cli {
    ///     profile: Some(Profile::Dev),
    ///     bind: vec!["127.0.0.1:0".parse()?],
    ///     ..Cli::default()
    /// };
    /// let config = WebServer::load_config(&cli)?;
    /// assert_eq!(config.bind.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_config(cli: &Cli) -> Result<ServerConfig, ConfigError> {
        let settings = Settings::load(cli)?;
        let mut config = ServerConfig::from_settings(&settings);
        let cli = cli.clone();
        config.config_source = Some(ConfigSource::new(move || {
            Settings::load(&cli).map_err(|err| err.to_string())
        }));
        Ok(config)
    }

    /// [`load_config`](WebServer::load_config) with an explicit environment and current
    /// directory instead of the process's (tests, or applications that keep their own). Only
    /// variables with the `WEB_SERVER` prefixes in `env` are read; reloads read the same `env`
    /// and `cwd` again.
    ///
    /// ```
    /// use web_server::config::{Cli, Profile};
    /// use web_server::WebServer;
    ///
    /// let cli = Cli { profile: Some(Profile::Test), ..Cli::default() };
    /// let env = [("WEB_SERVER__SERVER__WORKERS", "2")];
    /// let config = WebServer::load_config_from(&cli, env, &std::env::current_dir()?)?;
    /// assert_eq!(config.workers, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_config_from<I, K, V>(
        cli: &Cli,
        env: I,
        cwd: &Path,
    ) -> Result<ServerConfig, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let env: Vec<(String, String)> =
            env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let settings = Settings::load_from(cli, env.clone(), cwd)?;
        let mut config = ServerConfig::from_settings(&settings);
        let (cli, cwd) = (cli.clone(), cwd.to_path_buf());
        config.config_source = Some(ConfigSource::new(move || {
            Settings::load_from(&cli, env.clone(), &cwd).map_err(|err| err.to_string())
        }));
        Ok(config)
    }

    /// The addresses the site listens on (port 0 resolved to the real port).
    pub fn addrs(&self) -> &[SocketAddr] {
        self.server.addrs()
    }

    /// The HTTPS addresses (empty without TLS).
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        self.server.tls_addrs()
    }

    /// The admin endpoint's addresses (empty when it does not run).
    pub fn admin_addrs(&self) -> &[SocketAddr] {
        self.server.admin_addrs()
    }

    /// The top supervisor, `web_server_sup`: its actor address ([`SupervisorRef::addr`]),
    /// OTP's `which_children`, `start_child`, `terminate_child`, `restart_child`, kills by id
    /// anywhere in the tree, and snapshots.
    pub fn supervisor(&self) -> &SupervisorRef {
        self.server.root()
    }

    /// A snapshot of the whole tree, as `/admin/tree` shows it (connections summarised).
    ///
    /// ```no_run
    /// # async fn demo(server: &web_server::WebServer) {
    /// let tree = server.snapshot().await;
    /// let mine = tree.find("my_worker").expect("my child is in the tree");
    /// println!("restarted {} times", mine.restarts_total);
    /// # }
    /// ```
    pub async fn snapshot(&self) -> NodeSnapshot {
        self.server.root().snapshot(false).await
    }

    /// Stops the server as SIGTERM does: stops accepting at once, lets open connections finish
    /// the request in progress (within `shutdown_timeout`), stops the tree in reverse start
    /// order (the application's children last), then the admin endpoint and the worker
    /// threads. Resolves with the root's exit reason once all of it has stopped.
    ///
    /// ```
    /// use web_server::server::ServerConfig;
    /// use web_server::WebServer;
    ///
    /// # actix::System::new().block_on(async {
    /// let config = ServerConfig { workers: 1, ..ServerConfig::default() }; // 127.0.0.1:0
    /// let server = WebServer::builder(config).start().await.unwrap();
    /// let tree = server.supervisor().clone();
    /// let reason = server.shutdown().await;
    /// assert!(!reason.is_abnormal());
    /// assert!(!tree.is_running(), "the whole tree has stopped");
    /// # });
    /// ```
    pub async fn shutdown(self) -> ExitReason {
        self.server.stop().await
    }

    /// Resolves if the tree gives up by itself (restart intensity exceeded at the root), with
    /// the reason; pair it with your shutdown signal in a `select!`.
    ///
    /// ```no_run
    /// # async fn demo(server: web_server::WebServer) {
    /// tokio::select! {
    ///     () = web_server::shutdown_signal() => {
    ///         server.shutdown().await;
    ///     }
    ///     reason = server.exited() => {
    ///         eprintln!("the supervision tree gave up: {reason}");
    ///         std::process::exit(1);
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn exited(&self) -> ExitReason {
        self.server.exited().await
    }

    /// The underlying [`Server`], for what the handle does not wrap (cache statistics,
    /// configuration reloads, connection counts).
    pub fn server(&self) -> &Server {
        &self.server
    }
}

/// Collects routes, static directories and children for a [`WebServer`]; made by
/// [`WebServer::builder`], consumed by [`start`](WebServerBuilder::start).
///
/// Registration errors (a bad pattern, the same method and pattern twice, a bad mount prefix)
/// are kept and returned by `start`, so a chain of calls needs no `?` at every step.
///
/// ```no_run
/// use web_server::http::{Method, Response, StatusCode};
/// use web_server::{server::ServerConfig, WebServer};
///
/// # async fn demo() -> Result<(), web_server::supervision::StartError> {
/// let server = WebServer::builder(ServerConfig::default())
///     .route(Method::Get, "/", |_, _| Response::text(StatusCode::OK, "home\n"))
///     .static_dir("/assets", "assets")
///     .admin(None)
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
pub struct WebServerBuilder {
    /// The server's configuration; the builder adds children, admin and TLS choices to it.
    config: ServerConfig,
    /// Plain, async and actor routes in one table, so precedence, `HEAD`, `OPTIONS` and `405`
    /// treat every kind alike.
    router: Routes,
    /// Static directories below prefixes other than `/`, mounted at start so they get the final
    /// static-file options.
    mounts: Vec<(String, PathBuf)>,
    /// The first registration error, returned by `start`.
    error: Option<String>,
}

impl WebServerBuilder {
    /// Adds a plain route: `handler` runs inline on the connection's worker thread with the
    /// borrowed request and its path parameters (`/users/:id`, `/files/*path`). GET routes also
    /// answer HEAD; a panic answers 500.
    ///
    /// ```
    /// use web_server::http::{Method, Response, StatusCode};
    /// use web_server::{server::ServerConfig, WebServer};
    ///
    /// let builder = WebServer::builder(ServerConfig::default()).route(
    ///     Method::Get,
    ///     "/users/:id",
    ///     |_request, params| {
    ///         let id = params.decoded("id").unwrap_or_default();
    ///         Response::text(StatusCode::OK, format!("user {id}\n"))
    ///     },
    /// );
    /// # drop(builder);
    /// ```
    pub fn route<F>(self, method: Method, pattern: &str, handler: F) -> Self
    where
        F: Fn(&Request, &Params<'_>) -> Response + Send + Sync + 'static,
    {
        self.insert(method, pattern, RouteHandler::Plain(Box::new(handler)))
    }

    /// Registers a route of any kind, keeping the first error for `start`.
    fn insert(mut self, method: Method, pattern: &str, handler: RouteHandler) -> Self {
        if let Err(err) = self.router.insert(method, pattern, handler) {
            self.fail(format!("route {method} {pattern}: {err}"));
        }
        self
    }

    /// Adds an async route: `handler` gets an owned copy of the request and the decoded path
    /// parameters and returns a future, awaited on the connection's worker thread (so it need
    /// not be `Send`: it may hold `Rc`s or actix addresses). A panic while it runs answers 500.
    ///
    /// ```
    /// use std::time::Duration;
    /// use web_server::http::{Method, Response, StatusCode};
    /// use web_server::{server::ServerConfig, WebServer};
    ///
    /// let builder = WebServer::builder(ServerConfig::default()).route_async(
    ///     Method::Get,
    ///     "/slow/:ms",
    ///     |_request, params| async move {
    ///         let ms: u64 = params.get("ms").and_then(|v| v.parse().ok()).unwrap_or(0);
    ///         actix_rt::time::sleep(Duration::from_millis(ms.min(1_000))).await;
    ///         Response::text(StatusCode::OK, format!("waited {ms} ms\n"))
    ///     },
    /// );
    /// # drop(builder);
    /// ```
    pub fn route_async<F, Fut>(self, method: Method, pattern: &str, handler: F) -> Self
    where
        F: Fn(Request, PathParams) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + 'static,
    {
        self.insert(
            method,
            pattern,
            RouteHandler::Deferred(Box::new(move |request: &Request, params: &Params<'_>| {
                let future = handler(request.clone(), PathParams::from(params));
                Answer::Later(future.boxed_local())
            })),
        )
    }

    /// Adds a route answered by an actor: `to_message` turns the request into a message (or
    /// rejects it with a response, e.g. 400 for a bad body), the message goes to the address
    /// `actor` holds now, and `to_response` turns the reply into the response. While the actor
    /// is not running (between a crash and its restart, or stopped) the route answers
    /// `503 Service Unavailable` with `Retry-After: 1`.
    ///
    /// `actor` is anything that yields the current address ([`CurrentAddr`]): an [`ActorSlot`]
    /// filled by the actor's child spec (the usual case: the actor is supervised and each
    /// restart has a new address), a `watch::Receiver<Option<Addr<A>>>`, or a plain `Addr<A>`.
    ///
    /// ```
    /// use actix::prelude::*;
    /// use web_server::http::{Method, Response, StatusCode};
    /// use web_server::{server::ServerConfig, ActorSlot, WebServer};
    ///
    /// #[derive(Default)]
    /// struct Greeter;
    /// impl Actor for Greeter {
    ///     type Context = Context<Self>;
    /// }
    /// #[derive(Message)]
    /// #[rtype(result = "String")]
    /// struct Greet(String);
    /// impl Handler<Greet> for Greeter {
    ///     type Result = String;
    ///     fn handle(&mut self, Greet(name): Greet, _: &mut Context<Self>) -> String {
    ///         format!("hello, {name}\n")
    ///     }
    /// }
    ///
    /// let greeter = ActorSlot::<Greeter>::new();
    /// let builder = WebServer::builder(ServerConfig::default())
    ///     .route_actor(
    ///         Method::Get,
    ///         "/greet/:name",
    ///         greeter.clone(),
    ///         |_request, params| match params.decoded("name") {
    ///             Some(name) if !name.is_empty() => Ok(Greet(name.into_owned())),
    ///             _ => Err(Response::text(StatusCode::BAD_REQUEST, "a name, please\n")),
    ///         },
    ///         |greeting| Response::text(StatusCode::OK, greeting),
    ///     )
    ///     .child(greeter.worker("greeter", Greeter::default));
    /// # drop(builder);
    /// ```
    pub fn route_actor<A, M, S, T, R>(
        self,
        method: Method,
        pattern: &str,
        actor: S,
        to_message: T,
        to_response: R,
    ) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<M>,
        M: Message + Send + 'static,
        M::Result: Send,
        S: CurrentAddr<A>,
        T: Fn(&Request, &Params<'_>) -> Result<M, Response> + Send + Sync + 'static,
        R: Fn(M::Result) -> Response + Send + Sync + 'static,
    {
        let to_response = Arc::new(to_response);
        self.insert(
            method,
            pattern,
            RouteHandler::Deferred(Box::new(move |request: &Request, params: &Params<'_>| {
                let message = match to_message(request, params) {
                    Ok(message) => message,
                    Err(rejected) => return Answer::Now(rejected),
                };
                let Some(addr) = actor.current() else {
                    return Answer::Now(actor_unavailable());
                };
                let to_response = to_response.clone();
                Answer::Later(
                    async move {
                        match addr.send(message).await {
                            Ok(reply) => to_response(reply),
                            // The actor died with the message in its mailbox.
                            Err(_) => actor_unavailable(),
                        }
                    }
                    .boxed_local(),
                )
            })),
        )
    }

    /// Serves the files below `dir` at `prefix` (`/assets` serves `dir/app.js` as
    /// `/assets/app.js`), through the same cache and static-file rules as the docroot. Routes
    /// take precedence over static files; among mounts the longest prefix wins. A `prefix` of
    /// `/` replaces the configuration's docroot ([`ServerConfig::docroot`]). The directory must
    /// exist when the server starts.
    ///
    /// ```
    /// use web_server::{server::ServerConfig, WebServer};
    ///
    /// let builder = WebServer::builder(ServerConfig::default())
    ///     .static_dir("/", "public")
    ///     .static_dir("/downloads", "/srv/downloads");
    /// # drop(builder);
    /// ```
    pub fn static_dir(mut self, prefix: &str, dir: impl Into<PathBuf>) -> Self {
        if prefix == "/" {
            self.config.docroot = Some(dir.into());
        } else {
            self.mounts.push((prefix.to_owned(), dir.into()));
        }
        self
    }

    /// Adds one of the application's own children under `web_server_sup`: a worker
    /// ([`ChildSpec::worker`], or [`ActorSlot::worker`] to publish its address) or a whole
    /// subtree ([`SupervisorSpec::into_child_spec`](crate::supervision::SupervisorSpec::into_child_spec)).
    /// Children start in the order added, before the built-in ones (so routes never find them
    /// not yet started), and stop after the listener has drained its connections. They restart
    /// by OTP's rules, can be killed from `/admin/tree`, and count against `web_server_sup`'s
    /// restart intensity (3 in 10 s, after which the whole server stops): give a child that may
    /// crash often a supervisor of its own, whose intensity absorbs its restarts.
    ///
    /// Their ids must differ from each other and from the built-in children's.
    ///
    /// ```
    /// use std::time::Duration;
    /// use actix::prelude::*;
    /// use web_server::supervision::{ChildSpec, Strategy, SupervisorFlags, SupervisorSpec};
    /// use web_server::{server::ServerConfig, WebServer};
    ///
    /// struct Janitor;
    /// impl Actor for Janitor {
    ///     type Context = Context<Self>;
    ///     fn started(&mut self, ctx: &mut Context<Self>) {
    ///         ctx.run_interval(Duration::from_secs(60), |_, _| { /* sweep something */ });
    ///     }
    /// }
    ///
    /// let app_sup = SupervisorSpec::new(
    ///     "app_sup",
    ///     SupervisorFlags::new(Strategy::OneForOne).intensity(10, Duration::from_secs(60)),
    /// )
    /// .child(ChildSpec::worker("janitor", |ctx| Ok(ctx.start(Janitor).into())));
    /// let builder = WebServer::builder(ServerConfig::default()).child(app_sup.into_child_spec());
    /// # drop(builder);
    /// ```
    pub fn child(mut self, spec: ChildSpec) -> Self {
        self.config.children.push(spec);
        self
    }

    /// Runs the admin endpoint with `admin` (its own listener: `/admin/tree`, kills,
    /// `/metrics`, `/health`, `/ready`), or none with `None`. Replaces what the configuration
    /// said.
    ///
    /// ```
    /// use web_server::config::AdminConfig;
    /// use web_server::{server::ServerConfig, WebServer};
    ///
    /// let builder = WebServer::builder(ServerConfig::default()).admin(Some(AdminConfig {
    ///     bind: "127.0.0.1:9901".parse().unwrap(),
    ///     token: Some("a long random secret token".to_owned()),
    ///     metrics_token: None,
    ///     allow_kill: false,
    ///     allowed_hosts: Vec::new(),
    /// }));
    /// # drop(builder);
    /// ```
    pub fn admin(mut self, admin: Option<AdminConfig>) -> Self {
        self.config.admin = admin;
        self
    }

    /// Serves HTTPS as `tls` says (certificate and key files, addresses), or plain HTTP only
    /// with `None`. Replaces what the configuration said. See `examples/tls.rs`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use web_server::config::TlsConfig;
    /// use web_server::{server::ServerConfig, WebServer};
    ///
    /// let builder = WebServer::builder(ServerConfig::default()).tls(Some(TlsConfig {
    ///     bind: vec!["0.0.0.0:8443".parse().unwrap()],
    ///     cert: "/etc/web_server/cert.pem".into(),
    ///     key: "/etc/web_server/key.pem".into(),
    ///     handshake_timeout: Duration::from_secs(10),
    ///     redirect_http: false,
    /// }));
    /// # drop(builder);
    /// ```
    pub fn tls(mut self, tls: Option<TlsConfig>) -> Self {
        self.config.tls = tls;
        self
    }

    /// Binds every address, starts the worker threads and the supervision tree (the
    /// application's children first), then the admin endpoint, and resolves once the server
    /// accepts connections. Must run inside an actix `System` (`#[actix::main]`,
    /// `System::new().block_on`, or an `actix-web` application's runtime).
    ///
    /// Fails with the first registration error, a static directory that cannot be served, an
    /// address that cannot be bound, or a child that does not start (named in the error).
    ///
    /// ```
    /// use web_server::http::{Method, Response, StatusCode};
    /// use web_server::{server::ServerConfig, WebServer};
    ///
    /// # actix::System::new().block_on(async {
    /// let refused = WebServer::builder(ServerConfig::default())
    ///     .route(Method::Get, "no-leading-slash", |_, _| Response::new(StatusCode::OK))
    ///     .start()
    ///     .await;
    /// assert!(refused.err().unwrap().to_string().contains("no-leading-slash"));
    /// # });
    /// ```
    pub async fn start(self) -> Result<WebServer, StartError> {
        let WebServerBuilder {
            config,
            mut router,
            mounts,
            error,
        } = self;
        if let Some(error) = error {
            return Err(StartError::new(error));
        }
        check_child_ids(&config.children)?;
        for (prefix, dir) in mounts {
            let files = StaticFiles::new(&dir, config.static_options.clone()).map_err(|err| {
                StartError::new(format!("static directory {}: {err}", dir.display()))
            })?;
            router
                .mount(&prefix, files)
                .map_err(|err| StartError::new(format!("static directory at {prefix}: {err}")))?;
        }
        let server = Server::start_with_routes(config, router).await?;
        Ok(WebServer { server })
    }

    /// Keeps the first registration error for `start`.
    fn fail(&mut self, error: String) {
        self.error.get_or_insert(error);
    }
}

/// Siblings need distinct ids: among the application's children and against the built-in ones.
fn check_child_ids(children: &[ChildSpec]) -> Result<(), StartError> {
    let mut seen: Vec<&str> = crate::sup::SEED_CHILD_IDS.to_vec();
    for spec in children {
        let id = spec.id().as_str();
        if seen.contains(&id) {
            return Err(StartError::new(format!(
                "child id {id:?} is used twice under {}",
                crate::sup::ID
            )));
        }
        seen.push(id);
    }
    Ok(())
}

/// What an actor route answers while its actor is not running.
fn actor_unavailable() -> Response {
    Response::text(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily unavailable (restarting), retry shortly\n",
    )
    .with_header("Retry-After", "1")
    .expect("a valid Retry-After field")
}

/// The path parameters of an async route, percent-decoded and owned, so the handler's future
/// can keep them.
///
/// ```
/// use web_server::PathParams;
///
/// // What a handler for `/users/:id/posts/:post` gets for `/users/7/posts/first%20one`:
/// let params = PathParams::from_iter([("id", "7"), ("post", "first one")]);
/// let pairs: Vec<(&str, &str)> = params.iter().collect();
/// assert_eq!(pairs, [("id", "7"), ("post", "first one")]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams {
    /// `(name, decoded value)` in pattern order; a handful at most, so a list beats a map.
    entries: Vec<(String, String)>,
}

impl PathParams {
    /// The percent-decoded value of `name` (invalid UTF-8 replaced with U+FFFD).
    ///
    /// ```
    /// use web_server::PathParams;
    /// let params = PathParams::from_iter([("name", "Zoë")]);
    /// assert_eq!(params.get("name"), Some("Zoë"));
    /// assert_eq!(params.get("id"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every `(name, decoded value)` pair, in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl From<&Params<'_>> for PathParams {
    fn from(params: &Params<'_>) -> Self {
        PathParams {
            entries: params
                .iter()
                .map(|(name, _)| {
                    let value = params.decoded(name).unwrap_or_default().into_owned();
                    (name.to_owned(), value)
                })
                .collect(),
        }
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for PathParams {
    /// Parameters from already-decoded pairs (for testing handlers without a server).
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        PathParams {
            entries: pairs
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        }
    }
}

/// Yields the address an actor route should send to now, or `None` while the actor is not
/// running (the route then answers 503).
///
/// ```
/// use actix::prelude::*;
/// use tokio::sync::watch;
/// use web_server::CurrentAddr;
///
/// struct Worker;
/// impl Actor for Worker {
///     type Context = Context<Self>;
/// }
///
/// # actix::System::new().block_on(async {
/// // A start function of your own publishes each incarnation on a watch channel.
/// let (publish, current) = watch::channel::<Option<Addr<Worker>>>(None);
/// assert!(current.current().is_none());
/// publish.send_replace(Some(Worker.start()));
/// assert!(current.current().is_some());
/// # });
/// ```
pub trait CurrentAddr<A: Actor>: Send + Sync + 'static {
    /// The live address, if the actor runs.
    fn current(&self) -> Option<Addr<A>>;
}

impl<A: Actor> CurrentAddr<A> for ActorSlot<A> {
    fn current(&self) -> Option<Addr<A>> {
        self.get()
    }
}

/// A fixed address: for an actor that is not restarted (once it stops, the route answers 503).
impl<A: Actor> CurrentAddr<A> for Addr<A> {
    fn current(&self) -> Option<Addr<A>> {
        self.connected().then(|| self.clone())
    }
}

/// The receiving end of a channel the actor's start function publishes each incarnation on
/// (as `examples/supervised_counter.rs` does).
impl<A: Actor> CurrentAddr<A> for watch::Receiver<Option<Addr<A>>> {
    fn current(&self) -> Option<Addr<A>> {
        self.borrow().clone().filter(Addr::connected)
    }
}

/// Where a supervised actor's current address is found: its child spec
/// ([`ActorSlot::worker`]) publishes each new incarnation's address here, and routes and the
/// rest of the application read it. Cheap to clone; every clone sees the same address.
///
/// ```
/// use actix::prelude::*;
/// use web_server::supervision::{Strategy, SupervisorFlags, SupervisorRef, SupervisorSpec};
/// use web_server::ActorSlot;
///
/// #[derive(Default)]
/// struct Store;
/// impl Actor for Store {
///     type Context = Context<Self>;
/// }
///
/// # actix::System::new().block_on(async {
/// let store = ActorSlot::<Store>::new();
/// assert!(store.get().is_none(), "not started yet");
/// let spec = SupervisorSpec::new("app_sup", SupervisorFlags::new(Strategy::OneForOne))
///     .child(store.worker("store", Store::default));
/// let root = SupervisorRef::start(spec).await.unwrap();
/// assert!(store.get().is_some(), "the running incarnation");
/// root.shutdown().await;
/// assert!(store.get().is_none(), "stopped");
/// # });
/// ```
pub struct ActorSlot<A: Actor> {
    /// The latest incarnation's address (`None` before the first start); a watch channel so
    /// the application can also wait for the next incarnation ([`ActorSlot::subscribe`]).
    current: Arc<watch::Sender<Option<Addr<A>>>>,
}

impl<A: Actor> ActorSlot<A> {
    /// An empty slot; give it to the actor's child spec with [`worker`](ActorSlot::worker).
    pub fn new() -> Self {
        ActorSlot {
            current: Arc::new(watch::Sender::new(None)),
        }
    }

    /// Publishes a new incarnation's address (for start functions written by hand; the spec
    /// from [`worker`](ActorSlot::worker) does it itself).
    pub fn set(&self, addr: Addr<A>) {
        self.current.send_replace(Some(addr));
    }

    /// The running incarnation's address, or `None` before the first start, while a
    /// supervisor restarts the actor, and after it stopped.
    pub fn get(&self) -> Option<Addr<A>> {
        self.current.borrow().clone().filter(Addr::connected)
    }

    /// A receiver that sees every new incarnation's address: `changed().await` resolves when
    /// the actor has been (re)started.
    pub fn subscribe(&self) -> watch::Receiver<Option<Addr<A>>> {
        self.current.subscribe()
    }

    /// A permanent worker with id `id` that runs `make()`'s actor, fresh on every (re)start, and
    /// publishes each incarnation's address in this slot. Change its restart type, shutdown
    /// or Arbiter with the [`ChildSpec`] methods.
    pub fn worker<F>(&self, id: &str, make: F) -> ChildSpec
    where
        A: Actor<Context = Context<A>>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let slot = self.clone();
        ChildSpec::worker(id, move |ctx| {
            let started = ctx.start(make());
            slot.set(started.addr().clone());
            Ok(started.into())
        })
    }
}

impl<A: Actor> Clone for ActorSlot<A> {
    fn clone(&self) -> Self {
        ActorSlot {
            current: self.current.clone(),
        }
    }
}

impl<A: Actor> Default for ActorSlot<A> {
    fn default() -> Self {
        ActorSlot::new()
    }
}

impl<A: Actor> std::fmt::Debug for ActorSlot<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorSlot")
            .field("running", &self.get().is_some())
            .finish()
    }
}
