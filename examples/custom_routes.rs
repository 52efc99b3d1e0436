//! Custom routes on an embedded web_server: path parameters, a small JSON API over shared
//! state, an async route, and a static directory mounted below `/static`. The configuration is
//! built in code (no admin endpoint, no docroot).
//!
//! ```sh
//! cargo run --example custom_routes                       # http://127.0.0.1:8080
//! cargo run --example custom_routes -- --bind 127.0.0.1:3000
//! curl http://127.0.0.1:8080/hello/Ada
//! curl http://127.0.0.1:8080/api/users/1
//! curl -X POST http://127.0.0.1:8080/api/users -d '{"name": "Grace"}'
//! curl http://127.0.0.1:8080/api/delay/250
//! curl http://127.0.0.1:8080/static/index.html
//! ```
//!
//! Ctrl-C or SIGTERM stops it gracefully. Walk-through: docs/embedding.md.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use clap::Parser;
use serde::{Deserialize, Serialize};
use serde_json::json;
use web_server::http::{Method, Response, StatusCode};
use web_server::server::ServerConfig;
use web_server::WebServer;

/// The example's flags.
#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
}

/// A user of the JSON API.
#[derive(Clone, Serialize)]
struct User {
    /// Assigned on creation, from 1.
    id: u64,
    /// As given by the client.
    name: String,
}

/// The body of `POST /api/users`.
#[derive(Deserialize)]
struct NewUser {
    /// The new user's name; must not be blank.
    name: String,
}

/// The longest `/api/delay/:ms` waits, so a request cannot hold a connection for long.
const MAX_DELAY_MS: u64 = 5_000;

/// A JSON response.
fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let mut text = serde_json::to_string(body).expect("JSON values serialise");
    text.push('\n');
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .expect("a valid Content-Type")
        .with_body(text)
}

fn error(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

#[actix::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = ServerConfig {
        bind: vec![args.bind],
        ..ServerConfig::default()
    };

    // Plain handlers run on every worker thread at once: shared state is behind a lock.
    let users = Arc::new(RwLock::new(vec![User {
        id: 1,
        name: "Ada".to_owned(),
    }]));
    let (list, one, create) = (users.clone(), users.clone(), users);
    let site = concat!(env!("CARGO_MANIFEST_DIR"), "/crates/server/site");

    let started = WebServer::builder(config)
        // A path parameter, percent-decoded: /hello/J%C3%BCrgen greets Jürgen.
        .route(Method::Get, "/hello/:name", |_, params| {
            let name = params.decoded("name").unwrap_or_default();
            Response::text(StatusCode::OK, format!("Hello, {name}!\n"))
        })
        // A JSON API.
        .route(Method::Get, "/api/users", move |_, _| {
            json_response(StatusCode::OK, &*list.read().unwrap())
        })
        .route(Method::Get, "/api/users/:id", move |_, params| {
            let Some(id) = params.get("id").and_then(|id| id.parse::<u64>().ok()) else {
                return error(StatusCode::BAD_REQUEST, "the id must be a number");
            };
            match one.read().unwrap().iter().find(|user| user.id == id) {
                Some(user) => json_response(StatusCode::OK, user),
                None => error(StatusCode::NOT_FOUND, "no such user"),
            }
        })
        .route(Method::Post, "/api/users", move |request, _| {
            let new: NewUser = match serde_json::from_slice(request.body()) {
                Ok(new) => new,
                Err(err) => return error(StatusCode::BAD_REQUEST, &err.to_string()),
            };
            if new.name.trim().is_empty() {
                return error(StatusCode::UNPROCESSABLE_CONTENT, "the name is blank");
            }
            let mut users = create.write().unwrap();
            let user = User {
                id: users.iter().map(|user| user.id).max().unwrap_or(0) + 1,
                name: new.name,
            };
            users.push(user.clone());
            json_response(StatusCode::CREATED, &user)
                .with_header("Location", format!("/api/users/{}", user.id))
                .expect("a valid Location")
        })
        // An async route: its future runs on the connection's worker thread while that thread
        // serves other connections.
        .route_async(
            Method::Get,
            "/api/delay/:ms",
            |_request, params| async move {
                let Some(ms) = params.get("ms").and_then(|ms| ms.parse::<u64>().ok()) else {
                    return error(StatusCode::BAD_REQUEST, "the delay must be a number");
                };
                let ms = ms.min(MAX_DELAY_MS);
                actix_rt::time::sleep(Duration::from_millis(ms)).await;
                json_response(StatusCode::OK, &json!({ "waited_ms": ms }))
            },
        )
        // The bundled sample site, below /static.
        .static_dir("/static", site)
        .start()
        .await;
    let server = match started {
        Ok(server) => server,
        Err(err) => {
            eprintln!("custom_routes: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    for addr in server.addrs() {
        println!("listening on http://{addr}");
    }

    web_server::shutdown_signal().await;
    println!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}
