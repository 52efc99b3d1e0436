//! The admin endpoint over real sockets: auth, the tree JSON, kills, readiness, config.

mod support;

use std::io::Write;

use support::http::{exchange, read_reply, Reply};
use support::{docroot, find_node, TestServer};
use web_server::http::Router;
use web_server::server::ServerConfig;

const TOKEN: &str = "test-admin-token-0123456789";

/// A server with the admin endpoint, serving `a.txt`.
fn start(token: Option<&str>, allow_kill: bool) -> TestServer {
    let root = docroot(&[("a.txt", b"alpha")]);
    let config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        workers: 2,
        admin: Some(support::admin_on_loopback(token, allow_kill)),
        config_text: "[admin]\ntoken = \"<redacted>\"\n".to_owned(),
        ..ServerConfig::default()
    };
    TestServer::start(config, Router::new).keeping(root)
}

fn admin_get(server: &TestServer, path: &str, auth: Option<&str>) -> Reply {
    let mut conn = server.connect_admin();
    let header = auth.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    exchange(
        &mut conn,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{header}\r\n"),
    )
}

fn admin_post(server: &TestServer, path: &str, auth: Option<&str>) -> Reply {
    let mut conn = server.connect_admin();
    let header = auth.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    exchange(
        &mut conn,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nContent-Length: 0\r\n{header}\r\n"
        ),
    )
}

fn tree_json(server: &TestServer, query: &str) -> serde_json::Value {
    let reply = admin_get(server, &format!("/admin/tree{query}"), None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    serde_json::from_slice(&reply.body).unwrap()
}

#[test]
fn tree_json_has_every_seed_node_and_listener_info() {
    let server = start(None, true);
    let tree = tree_json(&server, "");
    for id in [
        "web_server_sup",
        "web_server_tcp_listener_sup",
        "web_server_tcp_listener",
        "web_server_tcp_acceptor_sup",
        "web_server_cache_sup",
        "web_server_cache",
        "web_server_metrics_sup",
        "web_server_metrics",
    ] {
        let node = find_node(&tree, id).unwrap_or_else(|| panic!("{id} in {tree}"));
        for field in [
            "kind",
            "status",
            "restart",
            "restarts_total",
            "restarts_in_window",
            "started_unix_ms",
            "arbiter",
        ] {
            assert!(!node[field].is_null(), "{id}.{field}");
        }
    }
    let partition = find_node(&tree, "web_server_tcp_acceptor_sup/0").unwrap();
    assert_eq!(partition["dynamic"]["child_id"], "web_server_tcp_acceptor");
    assert_eq!(partition["supervisor"]["strategy"], "simple_one_for_one");
    let root = &tree["supervisor"];
    assert_eq!(
        (root["strategy"].as_str(), root["intensity"].as_u64()),
        (Some("one_for_one"), Some(3))
    );
    let listener = &find_node(&tree, "web_server_tcp_listener").unwrap()["listener"];
    assert_eq!(listener["addresses"][0], server.addr.to_string());
    assert_eq!(
        listener["max_connections"],
        ServerConfig::default().max_connections,
        "default.toml's server.max_connections"
    );
    assert!(listener["accepting"].as_bool().unwrap());
}

#[test]
fn connections_are_summarised_unless_all_are_asked_for() {
    let server = start(None, true);
    let mut conns: Vec<_> = (0..3).map(|_| server.connect()).collect();
    for conn in &mut conns {
        assert_eq!(
            exchange(conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status,
            200
        );
    }
    let tree = tree_json(&server, "");
    let count = |tree: &serde_json::Value| -> u64 {
        (0..2)
            .map(|w| {
                find_node(tree, &format!("web_server_tcp_acceptor_sup/{w}")).unwrap()["dynamic"]
                    ["count"]
                    .as_u64()
                    .unwrap()
            })
            .sum()
    };
    assert_eq!(count(&tree), 3);
    assert!(
        find_node(&tree, "web_server_tcp_acceptor_sup/0").unwrap()["children"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let all = tree_json(&server, "?connections=all");
    let listed: usize = (0..2)
        .map(|w| {
            find_node(&all, &format!("web_server_tcp_acceptor_sup/{w}")).unwrap()["children"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(listed, 3);
}

#[test]
fn kill_restarts_the_actor_and_the_tree_shows_it() {
    let server = start(None, true);
    let killed = admin_post(&server, "/admin/actors/web_server_cache/kill", None);
    assert_eq!(
        killed.status,
        200,
        "{}",
        String::from_utf8_lossy(&killed.body)
    );
    let tree = tree_json(&server, "");
    assert_eq!(
        find_node(&tree, "web_server_cache").unwrap()["restarts_total"],
        1
    );
    assert_eq!(
        find_node(&tree, "web_server_cache").unwrap()["status"],
        "running"
    );
    let encoded = admin_post(
        &server,
        "/admin/actors/web_server_tcp_acceptor_sup%2F1/kill",
        None,
    );
    assert_eq!(
        encoded.status, 200,
        "ids with a slash are sent percent-encoded"
    );
    assert_eq!(
        admin_post(&server, "/admin/actors/nobody/kill", None).status,
        404
    );
    let wrong_method = admin_get(&server, "/admin/actors/web_server_cache/kill", None);
    // The admin routes are answered by the same router as the site's: OPTIONS is answered too.
    assert_eq!(
        (wrong_method.status, wrong_method.header("allow")),
        (405, Some("POST, OPTIONS"))
    );
}

#[test]
fn kill_is_forbidden_when_not_allowed() {
    let server = start(None, false);
    assert_eq!(
        admin_post(&server, "/admin/actors/web_server_cache/kill", None).status,
        403
    );
    let tree = tree_json(&server, "");
    assert_eq!(
        find_node(&tree, "web_server_cache").unwrap()["restarts_total"],
        0
    );
}

#[test]
fn token_guards_every_route_but_the_probes() {
    let server = start(Some(TOKEN), true);
    assert_eq!(admin_get(&server, "/health", None).status, 200);
    assert_eq!(
        admin_get(&server, "/ready", None).status,
        200,
        "probes cannot send secrets"
    );
    for path in [
        "/admin/tree",
        "/admin/tree.html",
        "/admin/",
        "/admin/stats",
        "/admin/crashes",
        "/metrics",
        "/admin/config",
    ] {
        let refused = admin_get(&server, path, None);
        assert_eq!(refused.status, 401, "{path}");
        assert!(refused
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer"));
        assert_eq!(
            admin_get(&server, path, Some("wrong-token-0123456789012")).status,
            401,
            "{path}"
        );
        assert_eq!(admin_get(&server, path, Some(TOKEN)).status, 200, "{path}");
    }
    assert_eq!(
        admin_post(&server, "/admin/actors/web_server_cache/kill", None).status,
        401
    );
    assert_eq!(
        admin_post(&server, "/admin/actors/web_server_cache/kill", Some(TOKEN)).status,
        200
    );
    let mut conn = server.connect_admin();
    conn.write_all(
        format!(
            "GET /admin/tree HTTP/1.1\r\nHost: localhost\r\nCookie: web_server_admin_token={TOKEN}\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        read_reply(&mut conn, false).status,
        200,
        "the sign-in cookie works too"
    );
}

const METRICS_TOKEN: &str = "scraper-token-0123456789";

/// A server with `admin.metrics_token` and, when given, `admin.token`.
fn start_with_metrics_token(token: Option<&str>) -> TestServer {
    let mut admin = support::admin_on_loopback(token, true);
    admin.metrics_token = Some(METRICS_TOKEN.to_owned());
    let root = docroot(&[("a.txt", b"alpha")]);
    let config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        admin: Some(admin),
        ..ServerConfig::default()
    };
    TestServer::start(config, Router::new).keeping(root)
}

#[test]
fn the_metrics_token_reads_metrics_and_nothing_else() {
    let server = start_with_metrics_token(Some(TOKEN));
    let scraped = admin_get(&server, "/metrics", Some(METRICS_TOKEN));
    assert_eq!(scraped.status, 200);
    assert!(scraped.text().contains("web_server_requests_total"));
    assert_eq!(admin_get(&server, "/metrics", Some(TOKEN)).status, 200);
    assert_eq!(admin_get(&server, "/metrics", None).status, 401);
    for path in ["/admin/tree", "/admin/stats", "/admin/config", "/admin/"] {
        assert_eq!(
            admin_get(&server, path, Some(METRICS_TOKEN)).status,
            401,
            "{path} is not the scraper's"
        );
    }
    assert_eq!(
        admin_post(
            &server,
            "/admin/actors/web_server_cache/kill",
            Some(METRICS_TOKEN)
        )
        .status,
        401,
        "a scraper's token kills nothing"
    );
    assert_eq!(
        server
            .snapshot()
            .find("web_server_cache")
            .unwrap()
            .restarts_total,
        0
    );

    // With only the metrics token set, /metrics needs it and the rest stays as without tokens.
    let server = start_with_metrics_token(None);
    assert_eq!(admin_get(&server, "/metrics", None).status, 401);
    assert_eq!(
        admin_get(&server, "/metrics", Some(METRICS_TOKEN)).status,
        200
    );
    assert_eq!(admin_get(&server, "/admin/tree", None).status, 200);
}

#[test]
fn ready_health_and_config() {
    let server = start(None, true);
    let health = admin_get(&server, "/health", None);
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok\n"[..]));
    assert_eq!(admin_get(&server, "/ready", None).status, 200);
    let config = admin_get(&server, "/admin/config", None);
    assert!(String::from_utf8_lossy(&config.body).contains("<redacted>"));
    assert_eq!(admin_get(&server, "/nope", None).status, 404);
    let page = admin_get(&server, "/admin/tree.html", None);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(String::from_utf8_lossy(&page.body).contains("const ALLOW_KILL = true"));
}

#[test]
fn ready_comes_back_after_a_listener_restart() {
    let server = start(None, true);
    // Readiness is read from the listener's live flag: after a kill it must come back.
    assert_eq!(
        admin_post(&server, "/admin/actors/web_server_tcp_listener/kill", None).status,
        200
    );
    let began = std::time::Instant::now();
    while admin_get(&server, "/ready", None).status != 200 {
        assert!(
            began.elapsed() < support::WAIT,
            "ready again after the restart"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One raw request to the admin endpoint.
fn admin_raw(server: &TestServer, request: &str) -> Reply {
    let mut conn = server.connect_admin();
    exchange(&mut conn, request)
}

#[test]
fn without_a_token_a_rebound_host_name_is_refused() {
    let server = start(None, true);
    let rebound = admin_raw(
        &server,
        "GET /admin/config HTTP/1.1\r\nHost: attacker.example:9901\r\n\r\n",
    );
    assert_eq!(rebound.status, 403, "{}", rebound.text());
    assert!(
        !rebound.text().contains("[server]"),
        "nothing of the config leaks"
    );
    for host in ["localhost:9901", "127.0.0.1", "[::1]:9901"] {
        let own = admin_raw(
            &server,
            &format!("GET /admin/config HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        );
        assert_eq!(own.status, 200, "Host: {host}");
    }
    // The probes answer whatever the Host: orchestrators' probes use pod addresses or names.
    let probe = admin_raw(
        &server,
        "GET /health HTTP/1.1\r\nHost: attacker.example\r\n\r\n",
    );
    assert_eq!(probe.status, 200);
}

#[test]
fn a_cross_site_form_cannot_kill_or_reload() {
    let server = start(None, true);
    // What an HTML form on another site sends: a simple POST with that site's Origin.
    let form = admin_raw(
        &server,
        "POST /admin/actors/web_server_cache/kill HTTP/1.1\r\nHost: 127.0.0.1:9901\r\n\
         Origin: http://attacker.example\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 0\r\n\r\n",
    );
    assert_eq!(form.status, 403, "{}", form.text());
    // Even without an Origin (a form with a no-referrer policy in an old browser), a simple
    // request does not change state.
    let simple = admin_raw(
        &server,
        "POST /admin/actors/web_server_cache/kill HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(simple.status, 403, "{}", simple.text());
    let reload = admin_raw(
        &server,
        "POST /admin/reload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(reload.status, 403, "{}", reload.text());
    let tree = server.snapshot();
    let cache = tree.find("web_server_cache").unwrap();
    assert_eq!(cache.restarts_total, 0, "nothing was killed");
    // The admin page's own request (a custom header, its own origin) is allowed.
    let own = admin_raw(
        &server,
        "POST /admin/actors/web_server_cache/kill HTTP/1.1\r\nHost: localhost:9901\r\n\
         Origin: http://localhost:9901\r\nX-Requested-By: web_server-admin\r\n\
         Content-Length: 0\r\n\r\n",
    );
    assert_eq!(own.status, 200, "{}", own.text());
}

#[test]
fn stats_sample_requests_latency_and_connections_every_second() {
    let server = start(None, false);
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut site = server.connect();
    let mut served = 0;
    // Requests keep coming until a sample taken after they began shows them: the sampling is
    // the metrics actor's, once a second.
    support::eventually("a sample with this test's requests", support::WAIT, || {
        for _ in 0..20 {
            let reply = exchange(&mut site, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
            assert_eq!(reply.status, 200);
            served += 1;
        }
        let stats = admin_get(&server, &format!("/admin/stats?since={started_ms}"), None);
        assert_eq!(stats.status, 200);
        assert_eq!(stats.header("content-type"), Some("application/json"));
        let stats = stats.json();
        assert_eq!(stats["interval_ms"], 1000);
        assert_eq!(stats["history"], 900);
        stats["samples"].as_array().unwrap().iter().any(|sample| {
            sample["unix_ms"].as_u64().unwrap() > started_ms
                && sample["requests_per_second"]["2xx"].as_f64().unwrap() > 0.0
                && sample["latency_seconds"]["p99"].as_f64().is_some()
                && sample["connections_open"].as_u64().unwrap() >= 1
        })
    });
    assert!(served > 0);
    let all = admin_get(&server, "/admin/stats", None).json();
    let samples = all["samples"].as_array().unwrap();
    assert!(samples.len() <= 900, "bounded");
    let last = samples.last().unwrap();
    for field in ["cache_bytes", "cache_entries", "restarts", "unix_ms"] {
        assert!(last[field].is_u64(), "{field} in {last}");
    }
    if cfg!(target_os = "linux") {
        assert!(last["resident_memory_bytes"].as_u64().unwrap() > 0);
    }
    let later = admin_get(&server, "/admin/stats?since=99999999999999", None).json();
    assert_eq!(
        later["samples"],
        serde_json::json!([]),
        "nothing after `since`"
    );
}

#[test]
fn a_killed_actor_leaves_a_crash_report_with_its_reason() {
    let server = start(None, true);
    let before = admin_get(&server, "/admin/crashes", None).json();
    assert_eq!(before["crashes"], serde_json::json!([]), "no crash yet");
    let killed = admin_post(&server, "/admin/actors/web_server_cache/kill", None);
    assert_eq!(killed.status, 200, "{}", killed.text());

    let crashes = admin_get(&server, "/admin/crashes", None).json();
    let crashes = crashes["crashes"].as_array().unwrap();
    assert_eq!(crashes.len(), 1, "{crashes:?}");
    let report = &crashes[0];
    assert_eq!(report["supervisor"], "web_server_cache_sup");
    assert_eq!(report["child"], "web_server_cache");
    assert_eq!(report["reason"]["kind"], "killed");
    assert_eq!(report["outcome"], "restarted");
    assert_eq!(report["restarted"], serde_json::json!(["web_server_cache"]));
    assert!(report["unix_ms"].as_u64().unwrap() > 0);

    // The tree carries the same report under the supervisor that kept it.
    let tree = tree_json(&server, "");
    let sup = find_node(&tree, "web_server_cache_sup").unwrap();
    assert_eq!(sup["supervisor"]["crashes"][0]["reason"]["kind"], "killed");
    assert_eq!(
        find_node(&tree, "web_server_sup").unwrap()["supervisor"]["crashes"],
        serde_json::json!([]),
        "only the supervisor that saw the exit reports it"
    );
}
