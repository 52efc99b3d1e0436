//! The static-file cache over real sockets: hits, misses, eviction by count and by bytes,
//! invalidation on change and delete, one load for concurrent misses, and the cache actor
//! killed under load (ETS-like: its table dies with it).

mod support;

use std::io::Write;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use support::http::{exchange, read_reply};
use support::temp::TempDir;
use support::{docroot, eventually, TestServer, WAIT};
use web_server::config::CacheOptions;
use web_server::http::Router;
use web_server::server::ServerConfig;

/// A configuration serving `files`, and the directory holding them (keep it while serving).
fn config(files: &[(&str, &[u8])], cache: CacheOptions) -> (ServerConfig, TempDir) {
    let root = docroot(files);
    let config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        workers: 2,
        cache,
        admin: Some(support::admin_on_loopback(None, true)),
        ..ServerConfig::default()
    };
    (config, root)
}

fn options(max_entries: usize, max_bytes: u64, revalidate_ms: u64) -> CacheOptions {
    CacheOptions {
        max_bytes,
        max_entries,
        revalidate: Duration::from_millis(revalidate_ms),
        max_negative_entries: 64,
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

#[test]
fn a_second_request_is_a_hit() {
    let (config, _root) = config(&[("a.txt", b"alpha")], options(100, 1 << 20, 60_000));
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
    let (config, _root) = config(&[("a.txt", b"0123456789")], options(100, 1 << 20, 60_000));
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
    let (config, _root) = config(&files, options(2, 1 << 20, 60_000));
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
    let (config, _root) = config(&files, options(100, 25_000, 60_000));
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
    eventually("the new content is served", WAIT, || {
        get(&server, "/a.txt").1 == b"version two, longer"
    });
}

#[test]
fn a_deleted_file_stops_being_served() {
    let (config, root) = config(&[("a.txt", b"here")], options(100, 1 << 20, 100));
    let server = TestServer::start(config, Router::new);
    assert_eq!(get(&server, "/a.txt").0, 200);
    std::fs::remove_file(root.join("a.txt")).unwrap();
    eventually("the file is gone", WAIT, || get(&server, "/a.txt").0 == 404);
    eventually("its entry is dropped", WAIT, || server.cache().entries == 0);
}

#[test]
fn concurrent_misses_for_one_file_load_it_once() {
    let body = vec![b'y'; 200_000];
    let (config, _root) = config(&[("big.txt", &body)], options(100, 1 << 24, 60_000));
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
    let (config, _root) = config(&files, options(100, 1 << 20, 60_000));
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
        "POST /admin/actors/web_server_cache/kill HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nContent-Length: 0\r\n\r\n",
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

#[test]
fn a_missing_path_is_remembered_until_the_file_appears() {
    let (config, root) = config(&[("a.txt", b"alpha")], options(100, 1 << 20, 100));
    let server = TestServer::start(config, Router::new);
    assert_eq!(get(&server, "/later.txt"), (404, b"not found\n".to_vec()));
    assert_eq!(get(&server, "/later.txt"), (404, b"not found\n".to_vec()));
    let stats = server.cache();
    assert_eq!(
        (stats.negative_entries, stats.entries, stats.loads),
        (1, 0, 0),
        "a 404 is a negative entry, not a file: {stats:?}"
    );
    assert!(
        stats.hits >= 1,
        "the second 404 came from memory: {stats:?}"
    );
    std::fs::write(root.join("later.txt"), b"here now").unwrap();
    eventually("the new file is served", WAIT, || {
        get(&server, "/later.txt") == (200, b"here now".to_vec())
    });
    assert_eq!(server.cache().negative_entries, 0);
}

#[test]
fn a_scan_of_missing_paths_never_evicts_cached_files() {
    let files: [(&str, &[u8]); 2] = [("a.txt", b"a"), ("b.txt", b"b")];
    let (config, _root) = config(&files, options(2, 1 << 20, 60_000));
    let server = TestServer::start(config, Router::new);
    for path in ["/a.txt", "/b.txt"] {
        assert_eq!(get(&server, path).0, 200);
    }
    let mut conn = server.connect();
    for n in 0..300 {
        let reply = exchange(
            &mut conn,
            &format!("GET /scan/{n}.php HTTP/1.1\r\nHost: t\r\n\r\n"),
        );
        assert_eq!(reply.status, 404);
    }
    let stats = server.cache();
    assert_eq!(stats.entries, 2, "{stats:?}");
    assert_eq!(stats.negative_entries, 64, "the negative bound holds");
    assert_eq!(stats.keys.len(), 2);
    assert_eq!(get(&server, "/a.txt"), (200, b"a".to_vec()));
    assert_eq!(
        server.cache().loads,
        2,
        "a.txt was never evicted nor reloaded"
    );
}

/// Large cached bodies leave through `sendfile` from the open file: the bytes on the wire must
/// be exactly the file's, whole and in ranges, request after request on one connection, with
/// HEAD and small answers interleaved (a sent file must not swallow or reorder what follows);
/// and a file rewritten in place is never sent under the old version's head.
#[test]
fn a_large_cached_file_is_sent_from_the_open_file_byte_for_byte() {
    let big: Vec<u8> = (0..200_000u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let files: [(&str, &[u8]); 2] = [("big.bin", &big), ("small.txt", b"small")];
    let (config, root) = config(&files, options(100, 16 << 20, 60_000));
    let server = TestServer::start(config, Router::new);
    let mut conn = server.connect();
    for round in 0..3 {
        let whole = exchange(&mut conn, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(whole.status, 200);
        assert!(whole.body == big, "round {round}: the whole body differs");
        let range = exchange(
            &mut conn,
            "GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=100000-199999\r\n\r\n",
        );
        assert_eq!(range.status, 206);
        assert!(
            range.body == big[100_000..200_000],
            "round {round}: the range differs"
        );
        let small = exchange(&mut conn, "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!((small.status, small.body.as_slice()), (200, &b"small"[..]));
        conn.write_all(b"HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let head = read_reply(&mut conn, true);
        assert_eq!(head.header("content-length"), Some("200000"));
    }
    assert!(
        server.cache().open_files >= 1,
        "the entry keeps its file open"
    );
    let stats = server.cache();
    assert_eq!(stats.loads, 2);
    // Rewritten in place, same length, within the revalidation period: the answer must still
    // be one version, the cached one its ETag names, not new bytes under the old head.
    let first = exchange(&mut conn, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut rewrite = std::fs::OpenOptions::new()
        .write(true)
        .open(root.join("big.bin"))
        .unwrap();
    rewrite.write_all(&vec![0xEE; 200_000]).unwrap();
    rewrite
        .set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    let after = exchange(&mut conn, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(after.header("etag"), first.header("etag"));
    assert!(
        after.body == big,
        "the cached version, whole, under its own validators"
    );
}
