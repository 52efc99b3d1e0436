//! Per-hit cost of answering from the file cache (`StaticFiles::respond_cached`): a plain 200,
//! a 304 and a gzip 200 of a 16 KiB page, with browser-like requests; the same 200 with its
//! head encoded (what the server does per hit); and, for scale, the same file served from disk.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::path::PathBuf;
use web_server_http::{
    parse_request, Limits, Request, RequestInfo, ResponseEncoder, StaticFiles, StaticOptions,
};

const FIELDS: &str = "Host: www.example.com\r\n\
Connection: keep-alive\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-GB,en;q=0.9,fr;q=0.8\r\n\
Sec-Fetch-Site: none\r\n\
Sec-Fetch-Mode: navigate\r\n";

fn request(extra: &str) -> Request {
    let raw = format!("GET /index.html HTTP/1.1\r\n{FIELDS}{extra}\r\n");
    parse_request(raw.as_bytes(), &Limits::default())
        .unwrap()
        .unwrap()
        .0
}

/// A document root removed on drop.
struct Root(PathBuf);

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cached_hit(c: &mut Criterion) {
    let root = Root(std::env::temp_dir().join(format!(
        "web_server_http-bench-cached-{}",
        std::process::id()
    )));
    std::fs::create_dir_all(&root.0).unwrap();
    let page = "<p>the quick brown fox jumps over the lazy dog</p>\n".repeat(16 * 1024 / 51);
    std::fs::write(root.0.join("index.html"), &page).unwrap();
    let options = StaticOptions {
        cache_control: Some("public, max-age=60".to_owned()),
        ..StaticOptions::default()
    };
    let files = StaticFiles::new(&root.0, options).unwrap();
    let entry = files.load("/index.html", 1 << 20).unwrap();
    files.precompress(&entry);

    let plain = request("Accept-Encoding: identity\r\n");
    let etag = files
        .respond_cached(&entry, &plain)
        .header("etag")
        .unwrap()
        .to_owned();
    let not_modified = request(&format!(
        "Accept-Encoding: identity\r\nIf-None-Match: {etag}\r\n"
    ));
    let gzip = request("Accept-Encoding: gzip, deflate, br, zstd\r\n");

    let mut group = c.benchmark_group("cached_hit");
    for (name, request) in [
        ("plain_200", &plain),
        ("not_modified_304", &not_modified),
        ("gzip_200", &gzip),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| files.respond_cached(black_box(&entry), black_box(request)))
        });
    }
    let mut encoder = ResponseEncoder::new(Some("web_server")).unwrap();
    let info = RequestInfo::of(&plain);
    let mut head = Vec::with_capacity(512);
    group.bench_function("plain_200_encoded", |b| {
        b.iter(|| {
            head.clear();
            let response = files.respond_cached(black_box(&entry), black_box(&plain));
            let encoded = encoder.encode(&response, &info, &mut head);
            (head.len(), encoded.body.map(|body| body.len()))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("disk");
    group.bench_function("plain_200_serve", |b| {
        b.iter(|| files.serve(black_box(&plain), black_box("/index.html")))
    });
    group.finish();
}

criterion_group!(benches, cached_hit);
criterion_main!(benches);
