//! The embedding API over real sockets: each route kind, static directories, the application's
//! own children in the tree (restarts per OTP, 503 from an actor route while its actor
//! restarts), configuration loaded with the binary's layering, and a graceful shutdown that
//! resolves after the tree stopped. Every test runs its own actix System on the test thread and
//! talks to the server with async sockets; waits are on events and bounded.

mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use support::http::{closing_request, parse_whole, Reply};
use support::temp::TempDir;
use support::WAIT;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use web_server::config::{Cli, Profile};
use web_server::http::{Method, Response, StatusCode};
use web_server::server::ServerConfig;
use web_server::supervision::{
    ChildSpec, ChildStatus, Shutdown, Strategy, SupervisorFlags, SupervisorSpec,
};
use web_server::{ActorSlot, WebServer};

/// Runs `test` in a fresh actix System on this thread.
fn in_system<F: Future<Output = ()>>(test: F) {
    actix::System::new().block_on(test);
}

fn config() -> ServerConfig {
    ServerConfig {
        workers: 2,
        docroot: None,
        admin: None,
        ..ServerConfig::default()
    }
}

/// Sends `method path` (with `body`, if any) on a new connection, `Connection: close`, and
/// reads the response.
async fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> Reply {
    let request = closing_request(method, path, body);
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        raw
    };
    let raw = tokio::time::timeout(WAIT, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path} answered within {WAIT:?}"));
    parse_whole(&raw, method == "HEAD")
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    call(addr, "GET", path, "").await
}

/// Counts the bumps since its last (re)start.
#[derive(Default)]
struct Counter {
    /// Zero in every incarnation: a restart shows as the count starting over.
    count: u64,
}

impl Actor for Counter {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "u64")]
struct Bump(u64);

impl Handler<Bump> for Counter {
    type Result = u64;
    fn handle(&mut self, Bump(by): Bump, _: &mut Context<Self>) -> u64 {
        self.count += by;
        self.count
    }
}

/// `POST /count` with an optional number in the body bumps the counter by it.
fn count_route(
    builder: web_server::WebServerBuilder,
    counter: &ActorSlot<Counter>,
) -> web_server::WebServerBuilder {
    builder.route_actor(
        Method::Post,
        "/count",
        counter.clone(),
        |request, _| {
            let body = std::str::from_utf8(request.body()).unwrap_or("");
            match body.trim() {
                "" => Ok(Bump(1)),
                number => number.parse().map(Bump).map_err(|_| {
                    Response::text(StatusCode::BAD_REQUEST, "the body must be a number\n")
                }),
            }
        },
        |count| Response::text(StatusCode::OK, format!("{count}")),
    )
}

fn site() -> TempDir {
    TempDir::with_files("embed", &[("hello.txt", b"static hello\n")])
}

#[test]
fn every_route_kind_answers_over_real_sockets() {
    let files = site();
    in_system(async {
        let counter = ActorSlot::<Counter>::new();
        let builder = WebServer::builder(config())
            .route(Method::Get, "/plain/:name", |_, params| {
                let name = params.decoded("name").unwrap_or_default();
                Response::text(StatusCode::OK, format!("plain {name}"))
            })
            .route_async(Method::Post, "/plain/:name", |request, params| async move {
                actix_rt::task::yield_now().await;
                let name = params.get("name").unwrap_or_default().to_owned();
                let body = String::from_utf8_lossy(request.body()).into_owned();
                Response::text(StatusCode::CREATED, format!("async {name} {body}"))
            })
            .route_async(Method::Get, "/async/:n", |_, params| async move {
                let n: u64 = params.get("n").and_then(|n| n.parse().ok()).unwrap_or(0);
                actix_rt::time::sleep(Duration::from_millis(n)).await;
                Response::text(StatusCode::OK, format!("waited {n}"))
            })
            .route_async(Method::Get, "/panics", |_, _| async {
                actix_rt::task::yield_now().await;
                panic!("an async handler fails")
            })
            .route(Method::Get, "/interim", |_, _| {
                Response::new(StatusCode::from_u16(102).unwrap())
            })
            .static_dir("/files", files.to_path_buf())
            .child(counter.worker("counter", Counter::default));
        let server = count_route(builder, &counter)
            .start()
            .await
            .expect("starts");
        let addr = server.addrs()[0];

        let plain = get(addr, "/plain/J%C3%BCrgen").await;
        assert_eq!((plain.status, plain.text()), (200, "plain Jürgen"));

        let posted = call(addr, "POST", "/plain/J%C3%BCrgen", "body").await;
        assert_eq!(
            (posted.status, posted.text()),
            (201, "async Jürgen body"),
            "async routes get the owned request and decoded parameters"
        );
        let waited = get(addr, "/async/5").await;
        assert_eq!((waited.status, waited.text()), (200, "waited 5"));
        let head = call(addr, "HEAD", "/async/1", "").await;
        assert_eq!(head.status, 200, "an async GET route answers HEAD");
        assert_eq!(head.header("content-length"), Some("8"));
        assert_eq!(head.text(), "");

        let put = call(addr, "PUT", "/plain/x", "").await;
        assert_eq!(put.status, 405);
        assert_eq!(
            put.header("allow"),
            Some("GET, HEAD, POST, OPTIONS"),
            "plain and async routes share one table"
        );

        for expected in ["1", "2", "12"] {
            let body = if expected == "12" { "10" } else { "" };
            let counted = call(addr, "POST", "/count", body).await;
            assert_eq!((counted.status, counted.text()), (200, expected));
        }
        let rejected = call(addr, "POST", "/count", "many").await;
        assert_eq!(rejected.status, 400, "to_message may reject the request");

        let interim = get(addr, "/interim").await;
        assert_eq!(interim.status, 500, "an interim status is no final answer");

        let panicked = get(addr, "/panics").await;
        assert_eq!(panicked.status, 500);
        assert_eq!(
            get(addr, "/plain/after").await.status,
            200,
            "the worker survives"
        );

        let file = get(addr, "/files/hello.txt").await;
        assert_eq!((file.status, file.text()), (200, "static hello\n"));
        assert_eq!(get(addr, "/files/missing.txt").await.status, 404);
        assert_eq!(get(addr, "/elsewhere").await.status, 404);

        server.shutdown().await;
    });
}

/// Holds up its own shutdown until released, the first time only: while it does, its
/// `one_for_all` supervisor cannot restart the sibling that crashed.
struct Blocker {
    /// Taken by the first incarnation that is asked to stop; later ones stop at once.
    release: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
    /// Tells the test the supervisor is waiting for this actor to stop.
    events: mpsc::UnboundedSender<&'static str>,
    /// Set once it has decided to hold up its stop; the next stop request is its own.
    holding: bool,
}

impl Actor for Blocker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Work of its own, so the actor lives without anyone holding its address.
        ctx.run_interval(Duration::from_secs(3600), |_, _| {});
    }

    fn stopping(&mut self, ctx: &mut Context<Self>) -> Running {
        if self.holding {
            return Running::Stop;
        }
        let Some(release) = self.release.lock().unwrap().take() else {
            return Running::Stop;
        };
        self.holding = true;
        let _ = self.events.send("holding");
        ctx.spawn(actix::fut::wrap_future(release).map(|_, _, ctx: &mut Context<Self>| ctx.stop()));
        Running::Continue
    }
}

#[test]
fn actor_route_answers_503_while_its_actor_restarts() {
    in_system(async {
        let counter = ActorSlot::<Counter>::new();
        let (release, released) = oneshot::channel();
        let (events, mut event) = mpsc::unbounded_channel();
        let release_slot = Arc::new(Mutex::new(Some(released)));
        let blocker = ChildSpec::worker("blocker", move |ctx| {
            let actor = Blocker {
                release: release_slot.clone(),
                events: events.clone(),
                holding: false,
            };
            Ok(ctx.start(actor).into())
        })
        .shutdown(Shutdown::Timeout(WAIT * 3));
        // one_for_all: when the counter crashes the blocker is stopped first, and the counter
        // starts again only once it has.
        let app_sup = SupervisorSpec::new(
            "app_sup",
            SupervisorFlags::new(Strategy::OneForAll).intensity(3, Duration::from_secs(10)),
        )
        .child(counter.worker("counter", Counter::default))
        .child(blocker);
        let builder = WebServer::builder(config()).child(app_sup.into_child_spec());
        let server = count_route(builder, &counter)
            .start()
            .await
            .expect("starts");
        let addr = server.addrs()[0];
        assert_eq!(call(addr, "POST", "/count", "5").await.text(), "5");

        let mut incarnations = counter.subscribe();
        incarnations.mark_unchanged();
        server
            .supervisor()
            .kill_child("counter")
            .await
            .expect("killed");
        let held = tokio::time::timeout(WAIT, event.recv()).await;
        assert_eq!(
            held.expect("the supervisor stops the blocker"),
            Some("holding")
        );
        let unavailable = call(addr, "POST", "/count", "").await;
        assert_eq!(unavailable.status, 503, "{}", unavailable.text());
        assert_eq!(unavailable.header("retry-after"), Some("1"));

        release.send(()).unwrap();
        tokio::time::timeout(WAIT, incarnations.changed())
            .await
            .expect("restarted in time")
            .unwrap();
        let fresh = call(addr, "POST", "/count", "").await;
        assert_eq!(
            (fresh.status, fresh.text()),
            (200, "1"),
            "a fresh incarnation"
        );
        let tree = server.snapshot().await;
        let app = tree.find("app_sup").expect("app_sup in the tree");
        for id in ["counter", "blocker"] {
            let node = app.find(id).unwrap();
            assert_eq!(
                (node.status, node.restarts_total),
                (ChildStatus::Running, 1),
                "{id}"
            );
        }
        server.shutdown().await;
    });
}

/// Does nothing but live (an interval), so restarts can be watched.
struct Idle;

impl Actor for Idle {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_secs(3600), |_, _| {});
    }
}

#[test]
fn children_run_under_web_server_sup_and_restart_per_otp() {
    in_system(async {
        let counter = ActorSlot::<Counter>::new();
        // rest_for_one: killing `first` restarts `second` too, not the other way round.
        let app_sup = SupervisorSpec::new(
            "app_sup",
            SupervisorFlags::new(Strategy::RestForOne).intensity(5, Duration::from_secs(10)),
        )
        .child(ChildSpec::worker("first", |ctx| Ok(ctx.start(Idle).into())))
        .child(ChildSpec::worker("second", |ctx| {
            Ok(ctx.start(Idle).into())
        }));
        let builder = WebServer::builder(config())
            .child(counter.worker("counter", Counter::default))
            .child(app_sup.into_child_spec());
        let server = count_route(builder, &counter)
            .start()
            .await
            .expect("starts");
        let addr = server.addrs()[0];

        let tree = server.snapshot().await;
        assert_eq!(tree.id.as_str(), "web_server_sup");
        let ids: Vec<&str> = tree.children.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "counter",
                "app_sup",
                "web_server_tcp_listener_sup",
                "web_server_cache_sup",
                "web_server_metrics_sup"
            ],
            "the application's children first, then the built-in ones"
        );

        assert_eq!(call(addr, "POST", "/count", "41").await.text(), "41");
        let mut incarnations = counter.subscribe();
        incarnations.mark_unchanged();
        server.supervisor().kill_child("counter").await.unwrap();
        tokio::time::timeout(WAIT, incarnations.changed())
            .await
            .expect("restarted in time")
            .unwrap();
        assert_eq!(
            call(addr, "POST", "/count", "").await.text(),
            "1",
            "state reset"
        );

        server.supervisor().kill_child("first").await.unwrap();
        let tree = server.snapshot().await;
        let restarts = |id: &str| tree.find(id).unwrap().restarts_total;
        assert_eq!(restarts("counter"), 1);
        assert_eq!(
            (restarts("first"), restarts("second")),
            (1, 1),
            "rest_for_one"
        );
        for seed in [
            "web_server_tcp_listener_sup",
            "web_server_cache",
            "web_server_metrics",
        ] {
            assert_eq!(
                restarts(seed),
                0,
                "one_for_one at the top leaves {seed} alone"
            );
        }
        assert!(tree.walk().iter().all(|n| n.status == ChildStatus::Running));
        server.shutdown().await;
    });
}

/// Reports its own stop, so the test can tell the tree stopped before `shutdown` resolved.
struct Witness {
    /// Receives "stopped" when the actor stops.
    events: std::sync::mpsc::Sender<&'static str>,
}

impl Actor for Witness {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_secs(3600), |_, _| {});
    }
    fn stopped(&mut self, _: &mut Context<Self>) {
        let _ = self.events.send("stopped");
    }
}

#[test]
fn shutdown_drains_requests_then_resolves_after_the_tree_stopped() {
    in_system(async {
        let counter = ActorSlot::<Counter>::new();
        let (stops, stopped) = std::sync::mpsc::channel();
        let witness = ChildSpec::worker("witness", move |ctx| {
            let events = stops.clone();
            Ok(ctx.start(Witness { events }).into())
        });
        // A request that is in progress when the shutdown begins: it waits for the test, then
        // asks the counter actor, which must still run while connections drain.
        let (entered_tx, entered) = oneshot::channel::<()>();
        let (release, released) = oneshot::channel::<()>();
        let gate = Arc::new(Mutex::new(Some((entered_tx, released))));
        let slot = counter.clone();
        let server = WebServer::builder(config())
            .child(counter.worker("counter", Counter::default))
            .child(witness)
            .route_async(Method::Get, "/slow", move |_, _| {
                let gate = gate.lock().unwrap().take();
                let slot = slot.clone();
                async move {
                    let (entered, released) = gate.expect("called once");
                    let _ = entered.send(());
                    let _ = released.await;
                    let count = match slot.get() {
                        Some(addr) => addr.send(Bump(7)).await.ok(),
                        None => None,
                    };
                    Response::text(StatusCode::OK, format!("{count:?}"))
                }
            })
            .start()
            .await
            .expect("starts");
        let addr = server.addrs()[0];

        let in_flight = actix_rt::spawn(async move { get(addr, "/slow").await });
        tokio::time::timeout(WAIT, entered).await.unwrap().unwrap();
        let shutdown = actix_rt::spawn(server.shutdown());
        // The listener closes first: new connections are refused from then on.
        let refused = async {
            while TcpStream::connect(addr).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        };
        tokio::time::timeout(WAIT, refused)
            .await
            .expect("stops accepting");
        assert!(
            stopped.try_recv().is_err(),
            "the tree still runs while draining"
        );
        release.send(()).unwrap();

        let reply = tokio::time::timeout(WAIT, in_flight)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (reply.status, reply.text()),
            (200, "Some(7)"),
            "the request in progress finishes, and the application's actors still answer"
        );
        let reason = tokio::time::timeout(WAIT, shutdown).await.unwrap().unwrap();
        assert!(!reason.is_abnormal(), "{reason}");
        assert_eq!(
            stopped.try_recv(),
            Ok("stopped"),
            "the tree had stopped when shutdown resolved"
        );
        assert!(counter.get().is_none(), "the counter stopped with the tree");
    });
}

#[test]
fn registration_errors_and_clashing_ids_fail_the_start() {
    in_system(async {
        let bad_pattern = WebServer::builder(config())
            .route(Method::Get, "no-slash", |_, _| {
                Response::new(StatusCode::OK)
            })
            .start()
            .await;
        let err = bad_pattern.err().expect("refused").to_string();
        assert!(err.contains("no-slash"), "{err}");

        let twice = WebServer::builder(config())
            .route(Method::Get, "/a", |_, _| Response::new(StatusCode::OK))
            .route_async(Method::Get, "/a", |_, _| async {
                Response::new(StatusCode::OK)
            })
            .start()
            .await;
        assert!(twice.is_err(), "one table for every kind of route");

        let clash = WebServer::builder(config())
            .child(ChildSpec::worker("web_server_cache_sup", |ctx| {
                Ok(ctx.start(Idle).into())
            }))
            .start()
            .await;
        let err = clash.err().expect("refused").to_string();
        assert!(err.contains("web_server_cache_sup"), "{err}");

        let missing = WebServer::builder(config())
            .static_dir("/files", "/nonexistent/web_server/dir")
            .start()
            .await;
        assert!(missing.is_err());

        let failing_child = WebServer::builder(config())
            .child(ChildSpec::worker("fragile", |_| {
                Err(web_server::supervision::StartError::new("no database"))
            }))
            .start()
            .await;
        let err = failing_child.err().expect("refused").to_string();
        assert!(
            err.contains("fragile") && err.contains("no database"),
            "{err}"
        );
    });
}

#[test]
fn config_loaded_like_the_binary_serves_the_bundled_site_and_admin() {
    in_system(async {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let cli = Cli {
            profile: Some(Profile::Test),
            ..Cli::default()
        };
        let env = [("WEB_SERVER__SERVER__WORKERS", "1")];
        let config = WebServer::load_config_from(&cli, env, &root).expect("loads");
        assert_eq!(config.workers, 1, "environment layer");
        let server = WebServer::builder(config).start().await.expect("starts");
        let site = get(server.addrs()[0], "/").await;
        assert_eq!(site.status, 200);
        assert!(site.text().contains("<html"), "the bundled site");
        let admin = server.admin_addrs()[0];
        let tree = get(admin, "/admin/tree").await;
        assert_eq!(tree.status, 200);
        assert!(tree.text().contains("web_server_sup"));
        let reload = call(admin, "POST", "/admin/reload", "").await;
        assert_eq!(
            reload.status,
            200,
            "reloads read the same layers: {}",
            reload.text()
        );
        server.shutdown().await;
    });
}
