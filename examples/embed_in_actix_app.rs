//! An actix application that embeds web_server: its own stateful actor (a key-value store)
//! supervised inside web_server's tree, exposed as a JSON API next to the bundled static site.
//! Kill the store through the admin endpoint and watch its supervisor restart it, empty.
//!
//! ```sh
//! cargo run --example embed_in_actix_app
//! # then, in another terminal:
//! curl -X PUT http://127.0.0.1:8080/api/kv/greeting -d '"hello"'
//! curl http://127.0.0.1:8080/api/kv/greeting
//! curl -X POST -H "X-Requested-By: me" http://127.0.0.1:9901/admin/actors/kv_store/kill
//! curl http://127.0.0.1:8080/api/kv              # {} : a fresh store
//! open http://127.0.0.1:9901/admin/tree.html      # kv_sup > kv_store, restarted once
//! ```
//!
//! It takes the `web_server` binary's flags and configuration layers (`--profile`, `--bind`,
//! `--admin-bind`, `--config`, `WEB_SERVER__…` variables; see docs/configuration.md); the
//! default `dev` profile serves on 127.0.0.1:8080 with the admin endpoint on 127.0.0.1:9901.
//! Ctrl-C or SIGTERM stops it gracefully. Walk-through: docs/embedding.md.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use actix::prelude::*;
use clap::Parser;
use serde::Serialize;
use serde_json::{json, Value};
use web_server::config::Cli;
use web_server::http::{Method, Params, Request, Response, StatusCode};
use web_server::supervision::{Strategy, SupervisorFlags, SupervisorSpec};
use web_server::{ActorSlot, WebServer};

/// The application's state: a key-value store of JSON values. It lives as long as one
/// incarnation: when it crashes or is killed, its supervisor starts a fresh, empty one.
#[derive(Default)]
struct KvStore {
    /// Keys in order, so listings are stable.
    entries: BTreeMap<String, Value>,
}

impl Actor for KvStore {
    type Context = Context<Self>;
}

/// Every key and value.
#[derive(Message)]
#[rtype(result = "BTreeMap<String, Value>")]
struct List;

/// The value under a key.
#[derive(Message)]
#[rtype(result = "Option<Value>")]
struct Get(String);

/// Sets a key; answers with the value it replaced, if any.
#[derive(Message)]
#[rtype(result = "Option<Value>")]
struct Put(String, Value);

/// Removes a key; answers whether it was there.
#[derive(Message)]
#[rtype(result = "bool")]
struct Delete(String);

impl Handler<List> for KvStore {
    type Result = MessageResult<List>;
    fn handle(&mut self, _: List, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.entries.clone())
    }
}

impl Handler<Get> for KvStore {
    type Result = Option<Value>;
    fn handle(&mut self, Get(key): Get, _: &mut Context<Self>) -> Option<Value> {
        self.entries.get(&key).cloned()
    }
}

impl Handler<Put> for KvStore {
    type Result = Option<Value>;
    fn handle(&mut self, Put(key, value): Put, _: &mut Context<Self>) -> Option<Value> {
        self.entries.insert(key, value)
    }
}

impl Handler<Delete> for KvStore {
    type Result = bool;
    fn handle(&mut self, Delete(key): Delete, _: &mut Context<Self>) -> bool {
        self.entries.remove(&key).is_some()
    }
}

/// A JSON response.
fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let mut text = serde_json::to_string(body).expect("JSON values serialise");
    text.push('\n');
    Response::new(status)
        .with_header("Content-Type", "application/json")
        .expect("a valid Content-Type")
        .with_body(text)
}

/// The `:key` parameter, decoded.
fn key(params: &Params<'_>) -> String {
    params.decoded("key").unwrap_or_default().into_owned()
}

/// The request body as JSON, or a 400 saying why not.
fn json_body(request: &Request) -> Result<Value, Response> {
    serde_json::from_slice(request.body()).map_err(|err| {
        json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": format!("the body must be JSON: {err}") }),
        )
    })
}

fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, &json!({ "error": "no such key" }))
}

#[actix::main]
async fn main() -> ExitCode {
    // The binary's configuration layers: config/default.toml, the profile, --config FILE,
    // WEB_SERVER__* variables, then these flags.
    let cli = Cli::parse();
    let config = match WebServer::load_config(&cli) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("embed_in_actix_app: {err}");
            return ExitCode::from(2);
        }
    };
    if let Some(log) = &config.log {
        web_server::logging::init(log);
    }

    // The store runs under a supervisor of its own inside web_server's tree: its restarts
    // count against kv_sup's intensity, not web_server_sup's. Every incarnation publishes its
    // address in `store`, where the routes find the live one.
    let store = ActorSlot::<KvStore>::new();
    let kv_sup = SupervisorSpec::new(
        "kv_sup",
        SupervisorFlags::new(Strategy::OneForOne).intensity(5, Duration::from_secs(10)),
    )
    .child(store.worker("kv_store", KvStore::default));

    let started = WebServer::builder(config)
        .route_actor(
            Method::Get,
            "/api/kv",
            store.clone(),
            |_, _| Ok(List),
            |entries| json_response(StatusCode::OK, &entries),
        )
        .route_actor(
            Method::Get,
            "/api/kv/:key",
            store.clone(),
            |_, params| Ok(Get(key(params))),
            |value| match value {
                Some(value) => json_response(StatusCode::OK, &value),
                None => not_found(),
            },
        )
        .route_actor(
            Method::Put,
            "/api/kv/:key",
            store.clone(),
            |request, params| Ok(Put(key(params), json_body(request)?)),
            |previous| match previous {
                Some(previous) => json_response(StatusCode::OK, &json!({ "replaced": previous })),
                None => json_response(StatusCode::CREATED, &json!({ "created": true })),
            },
        )
        .route_actor(
            Method::Delete,
            "/api/kv/:key",
            store.clone(),
            |_, params| Ok(Delete(key(params))),
            |found| {
                if found {
                    Response::new(StatusCode::NO_CONTENT)
                } else {
                    not_found()
                }
            },
        )
        .child(kv_sup.into_child_spec())
        .start()
        .await;
    let server = match started {
        Ok(server) => server,
        Err(err) => {
            eprintln!("embed_in_actix_app: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };

    for addr in server.addrs() {
        println!("listening on http://{addr}");
    }
    for addr in server.admin_addrs() {
        println!("admin on http://{addr}");
    }
    let site = server.addrs()[0];
    println!("try: curl -X PUT http://{site}/api/kv/greeting -d '\"hello\"'");
    if let Some(admin) = server.admin_addrs().first() {
        println!(
            "     curl -X POST -H 'X-Requested-By: me' http://{admin}/admin/actors/kv_store/kill"
        );
        println!("     open http://{admin}/admin/tree.html");
    }

    let gave_up = tokio::select! {
        () = web_server::shutdown_signal() => None,
        reason = server.exited() => Some(reason),
    };
    if let Some(reason) = gave_up {
        eprintln!("embed_in_actix_app: the supervision tree stopped: {reason}");
        return ExitCode::FAILURE;
    }
    println!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}
