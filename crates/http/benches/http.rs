//! Benchmarks for the per-request hot paths: parsing a browser request, routing, and encoding a
//! response head.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use web_server_http::{
    Limits, Method, Params, Parsed, Request, RequestInfo, RequestParser, Response, ResponseEncoder,
    Router, StatusCode, Version,
};

const BROWSER_REQUEST: &[u8] = b"GET /static/css/site.css?v=42 HTTP/1.1\r\n\
Host: www.example.com\r\n\
Connection: keep-alive\r\n\
sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n\
sec-ch-ua-mobile: ?0\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
sec-ch-ua-platform: \"Linux\"\r\n\
Accept: text/css,*/*;q=0.1\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Sec-Fetch-Dest: style\r\n\
Referer: https://www.example.com/\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en;q=0.9,fr;q=0.8\r\n\
Cookie: session=3f2a9c1e7b6d4a5f8e0c; theme=dark; _ga=GA1.1.123456789.1700000000\r\n\
If-None-Match: \"1a2b3c-65f00000.0-1f40\"\r\n\
\r\n";

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(BROWSER_REQUEST.len() as u64));
    let mut parser = RequestParser::new(Limits::default());
    group.bench_function("browser_get", |b| {
        b.iter(|| match parser.parse(black_box(BROWSER_REQUEST)) {
            Ok(Parsed::Complete { consumed, .. }) => consumed,
            other => panic!("{other:?}"),
        })
    });
    group.finish();
}

fn ok(_request: &Request, _params: &Params<'_>) -> Response {
    Response::new(StatusCode::OK)
}

fn route(c: &mut Criterion) {
    let mut router = Router::new();
    for resource in [
        "users", "posts", "comments", "tags", "orders", "products", "carts", "sessions",
    ] {
        router.get(&format!("/api/{resource}"), ok).unwrap();
        router.post(&format!("/api/{resource}"), ok).unwrap();
        router.get(&format!("/api/{resource}/:id"), ok).unwrap();
        router.delete(&format!("/api/{resource}/:id"), ok).unwrap();
    }
    router.get("/api/users/:id/posts/:post", ok).unwrap();
    router.get("/assets/*path", ok).unwrap();
    let mut group = c.benchmark_group("route");
    for (name, method, path) in [
        ("literal", Method::Get, "/api/sessions"),
        ("two_params", Method::Get, "/api/users/42/posts/7"),
        ("tail", Method::Get, "/assets/js/app/main.js"),
        ("not_found", Method::Get, "/nowhere/at/all"),
        ("method_not_allowed", Method::Put, "/api/tags/3"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| match router.lookup(black_box(method), black_box(path)) {
                web_server_http::Route::Handler(_, params) => params.len(),
                _ => 0,
            })
        });
    }
    group.finish();
}

fn respond(c: &mut Criterion) {
    let mut encoder = ResponseEncoder::new(Some("web_server")).unwrap();
    let info = RequestInfo {
        method: Method::Get,
        version: Version::Http11,
        keep_alive: true,
    };
    let mut out = Vec::with_capacity(512);
    let mut group = c.benchmark_group("response");
    group.bench_function("build_and_encode_text", |b| {
        b.iter(|| {
            out.clear();
            let response = Response::text(StatusCode::OK, "hello, world\n")
                .with_header("Cache-Control", "no-cache")
                .unwrap();
            let encoded = encoder.encode(black_box(&response), &info, &mut out);
            (out.len(), encoded.close)
        })
    });
    group.finish();
}

criterion_group!(benches, parse, route, respond);
criterion_main!(benches);
