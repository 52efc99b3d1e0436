//! Per-request cost of a static-file cache hit in the server crate, on a warm cache owned by a
//! running `web_server_cache` actor (the real table, found through its slot, as connections find
//! it). What the pipeline and the connection do for a hit, short of the socket:
//!
//! - `table_hit`: `StaticCache::hit` alone (slot read lock, LRU lock, freshness check);
//! - `request_1k`: parse the request wrk sends, route it, hit, `respond_cached`, record the
//!   metrics and encode the head, for a 1 KiB file;
//! - `request_1k_gzip`: the same with `Accept-Encoding: gzip` (the cached compressed variant).
//!
//! `cargo bench --bench cache_hit`; the per-request figures are what docs/performance.md sets
//! beside the server's CPU time per request under load.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use web_server::bench_internals::{
    cache_child_spec, CacheOptions, StaticCache, StaticLoader, StaticSource,
};
use web_server::http::{
    parse_request, Limits, Method, RequestInfo, ResponseEncoder, Route, Router, StaticFiles,
    StaticOptions,
};
use web_server::supervision::{Strategy, SupervisorFlags, SupervisorRef, SupervisorSpec};

/// A document root removed on drop.
struct Root(PathBuf);

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn request_bytes(path: &str, extra: &str) -> Vec<u8> {
    // What wrk sends.
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n{extra}\r\n").into_bytes()
}

fn cache_hit(c: &mut Criterion) {
    let root = Root(
        std::env::temp_dir().join(format!("web_server-bench-cache-hit-{}", std::process::id())),
    );
    std::fs::create_dir_all(&root.0).unwrap();
    std::fs::write(root.0.join("1k.bin"), vec![0x5a; 1024]).unwrap();
    let text = "static file server keep alive request response cache\n".repeat(20);
    std::fs::write(root.0.join("1k.txt"), &text.as_bytes()[..1024]).unwrap();

    let options = StaticOptions {
        max_inline_bytes: 1 << 20,
        ..StaticOptions::default()
    };
    let mut router = Router::new();
    router
        .mount("/", StaticFiles::new(&root.0, options).unwrap())
        .unwrap();
    let router = Arc::new(router);
    let handle: Arc<StaticCache> = StaticCache::new(CacheOptions {
        max_bytes: 64 << 20,
        max_entries: 10_000,
        // Long enough that no hit in the measurement needs the owner.
        revalidate: Duration::from_secs(3600),
        max_negative_entries: 1_024,
    });
    let loader = StaticLoader::new(1 << 20);

    let system = actix::System::new();
    let _tree = system.block_on(async {
        let spec = SupervisorSpec::new("bench_sup", SupervisorFlags::new(Strategy::OneForOne))
            .child(cache_child_spec(handle.clone(), loader));
        let tree = SupervisorRef::start(spec).await.unwrap();
        for key in ["/1k.bin", "/1k.txt"] {
            let Route::Static(files, tail) = router.lookup(Method::Get, key) else {
                unreachable!("everything is below the static mount");
            };
            let source = StaticSource {
                files: files.clone(),
                tail_start: key.len() - tail.len(),
            };
            assert!(
                handle.miss(key, source).await.is_some(),
                "{key} is cacheable"
            );
        }
        tree
    });

    let limits = Limits::default();
    let mut encoder = ResponseEncoder::new(Some("web_server")).unwrap();
    let mut head = Vec::with_capacity(256);
    let mut serve = |raw: &[u8]| -> usize {
        let (request, _) = parse_request(raw, &limits).unwrap().unwrap();
        let info = RequestInfo::of(&request);
        let response = match router.lookup(request.method(), request.path()) {
            Route::Static(files, _) => {
                let entry = handle.hit(request.path()).expect("a warm cache");
                web_server::metrics::cache_hit();
                entry.value.answer(files, &request).0
            }
            _ => unreachable!("everything is below the static mount"),
        };
        let status = response.status().as_u16();
        head.clear();
        let encoded = encoder.encode(&response, &info, &mut head);
        let body = encoded.body.as_ref().map_or(0, |b| b.len());
        web_server::metrics::request_done(
            Some(Method::Get),
            status,
            Duration::from_micros(20),
            (head.len() + body) as u64,
        );
        head.len() + body
    };

    let mut group = c.benchmark_group("cache_hit");
    group.bench_function("table_hit", |b| {
        b.iter(|| handle.hit(black_box("/1k.bin")).is_some())
    });
    let plain = request_bytes("/1k.bin", "");
    group.bench_function("request_1k", |b| b.iter(|| serve(black_box(&plain))));
    let gzip = request_bytes("/1k.txt", "Accept-Encoding: gzip\r\n");
    group.bench_function("request_1k_gzip", |b| b.iter(|| serve(black_box(&gzip))));
    group.finish();
    drop(root);
}

criterion_group!(benches, cache_hit);
criterion_main!(benches);
