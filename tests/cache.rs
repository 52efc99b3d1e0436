//! The static-file cache over real sockets: hits, misses, eviction by count and by bytes,
//! invalidation on change and delete, one load for concurrent misses, and the cache actor
//! killed under load (ETS-like: its table dies with it).

mod support;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use support::{docroot, exchange, TestServer, WAIT};
use web_server::admin::AdminConfig;
use web_server::cache::CacheOptions;
use web_server::http::Router;
use web_server::server::ServerConfig;

fn config(files: &[(&str, &[u8])], cache: CacheOptions) -> (ServerConfig, std::path::PathBuf) {
    let root = docroot(files);
    let config = ServerConfig {
        docroot: Some(root.clone()),
        workers: 2,
        cache,
        admin: Some(AdminConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            token: None,
            allow_kill: true,
        }),
        ..ServerConfig::default()
    };
    (config, root)
}

fn options(max_entries: usize, max_bytes: u64, revalidate_ms: u64) -> CacheOptions {
    CacheOptions {
        max_bytes,
        max_entries,
        revalidate: Duration::from_millis(revalidate_ms),
    }
}

fn get(server: &TestServer, path: &str) -> (u16, Vec<u8>) {
    let mut conn = server.connect();
    let reply = exchange(
        &mut conn,
        &format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"),
    );
    (reply.status, reply.body)
}

/// Probes until `condition` holds, failing after [`WAIT`].
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let began = Instant::now();
    while !condition() {
        assert!(began.elapsed() < WAIT, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_request_is_a_hit() {
    let (config, _) = config(&[("a.txt", b"alpha")], options(100, 1 << 20, 60_000));
    let server = TestServer::start(config, Router::new);
    assert_eq!(get(&server, "/a.txt"), (200, b"alpha".to_vec()));
    assert_eq!(get(&server, "/a.txt"), (200, b"alpha".to_vec()));
    let stats = server.cache();
    assert_eq!(
        (stats.misses, stats.hits, stats.loads, stats.entries),
        (1, 1, 1, 1)
    );
    assert_eq!(stats.keys, vec!["/a.txt".to_owned()]);
}

#[test]
fn conditional_and_range_requests_are_answered_from_the_cache() {
    let (config, _) = config(&[("a.txt", b"0123456789")], options(100, 1 << 20, 60_000));
    let server = TestServer::start(config, Router::new);
    let mut conn = server.connect();
    let first = exchange(&mut conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let etag = first.header("etag").unwrap().to_owned();
    let not_modified = exchange(
        &mut conn,
        &format!("GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n"),
    );
    assert_eq!(not_modified.status, 304);
    let ranged = exchange(
        &mut conn,
        "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=2-4\r\n\r\n",
    );
    assert_eq!((ranged.status, ranged.body.as_slice()), (206, &b"234"[..]));
    assert_eq!(server.cache().hits, 2);
}

#[test]
fn eviction_by_count_keeps_the_most_recently_used() {
    let files: [(&str, &[u8]); 3] = [("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c")];
    let (config, _) = config(&files, options(2, 1 << 20, 60_000));
    let server = TestServer::start(config, Router::new);
    for path in ["/a.txt", "/b.txt", "/a.txt", "/c.txt"] {
        assert_eq!(get(&server, path).0, 200);
    }
    let stats = server.cache();
    assert_eq!((stats.entries, stats.evictions), (2, 1));
    assert!(
        !stats.keys.contains(&"/b.txt".to_owned()),
        "b was least recently used: {:?}",
        stats.keys
    );
}

#[test]
fn eviction_by_bytes_respects_the_byte_bound() {
    let body = vec![b'x'; 10_000];
    let files: [(&str, &[u8]); 3] = [("a.bin", &body), ("b.bin", &body), ("c.bin", &body)];
    let (config, _) = config(&files, options(100, 25_000, 60_000));
    let server = TestServer::start(config, Router::new);
    for path in ["/a.bin", "/b.bin", "/c.bin"] {
        assert_eq!(get(&server, path).0, 200);
    }
    let stats = server.cache();
    assert_eq!(stats.entries, 2, "{stats:?}");
    assert!(stats.bytes <= 25_000);
    assert_eq!(stats.evictions, 1);
}

#[test]
fn a_changed_file_is_noticed_within_the_revalidation_period() {
    let (config, root) = config(&[("a.txt", b"version 1")], options(100, 1 << 20, 100));
    let server = TestServer::start(config, Router::new);
    assert_eq!(get(&server, "/a.txt").1, b"version 1");
    std::fs::write(root.join("a.txt"), b"version two, longer").unwrap();
    eventually("the new content is served", || {
        get(&server, "/a.txt").1 == b"version two, longer"
    });
}

#[test]
fn a_deleted_file_stops_being_served() {
    let (config, root) = config(&[("a.txt", b"here")], options(100, 1 << 20, 100));
    let server = TestServer::start(config, Router::new);
    assert_eq!(get(&server, "/a.txt").0, 200);
    std::fs::remove_file(root.join("a.txt")).unwrap();
    eventually("the file is gone", || get(&server, "/a.txt").0 == 404);
    eventually("its entry is dropped", || server.cache().entries == 0);
}

#[test]
fn concurrent_misses_for_one_file_load_it_once() {
    let body = vec![b'y'; 200_000];
    let (config, _) = config(&[("big.txt", &body)], options(100, 1 << 24, 60_000));
    let server = Arc::new(TestServer::start(config, Router::new));
    let start = Arc::new(Barrier::new(16));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (server, start) = (server.clone(), start.clone());
            std::thread::spawn(move || {
                let mut conn = server.connect();
                start.wait();
                exchange(&mut conn, "GET /big.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            })
        })
        .collect();
    for client in clients {
        let reply = client.join().unwrap();
        assert_eq!((reply.status, reply.body.len()), (200, 200_000));
    }
    let stats = server.cache();
    assert_eq!(
        stats.loads, 1,
        "one load for every concurrent miss: {stats:?}"
    );
    assert_eq!(stats.hits + stats.misses, 16);
}

#[test]
fn killing_the_cache_under_load_loses_no_request_and_empties_the_table() {
    let files: [(&str, &[u8]); 2] = [("a.txt", b"alpha"), ("b.txt", b"beta")];
    let (config, _) = config(&files, options(100, 1 << 20, 60_000));
    let server = Arc::new(TestServer::start(config, Router::new));
    assert_eq!(get(&server, "/b.txt").0, 200);
    assert!(server.cache().keys.contains(&"/b.txt".to_owned()));

    let client = {
        let server = server.clone();
        std::thread::spawn(move || {
            let mut conn = server.connect();
            (0..400)
                .map(|_| exchange(&mut conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status)
                .filter(|&status| status != 200)
                .count()
        })
    };
    let mut admin = server.connect_admin();
    let killed = exchange(
        &mut admin,
        "POST /admin/actors/web_server_cache/kill HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(killed.status, 200);
    assert_eq!(
        client.join().unwrap(),
        0,
        "every request during the kill succeeded"
    );
    let tree = server.snapshot();
    assert_eq!(tree.find("web_server_cache").unwrap().restarts_total, 1);
    let stats = server.cache();
    assert!(
        !stats.keys.contains(&"/b.txt".to_owned()),
        "the old table died with its owner: {stats:?}"
    );
    assert!(
        stats.entries <= 1,
        "only what was requested since: {stats:?}"
    );
}
