//! Static-file serving against a real temporary document root.

mod common;

use common::{get, TempDir};
use flate2::read::GzDecoder;
use std::io::Read;
use std::time::{Duration, SystemTime};
use web_server_http::static_files::{FileChanged, FileContent, Prepared, Segment};
use web_server_http::{Body, ParseErrorKind, Response, StaticFiles, StaticOptions, StatusCode};

fn files(dir: &TempDir) -> StaticFiles {
    StaticFiles::new(dir.path(), StaticOptions::default()).unwrap()
}

fn serve(files: &StaticFiles, method: &str, path: &str, fields: &str) -> Response {
    files.serve(&get(method, path, fields), path)
}

fn content(response: &Response) -> Vec<u8> {
    match response.body() {
        Body::Full(bytes) => bytes.to_vec(),
        Body::Empty => Vec::new(),
        other => panic!("unexpected body {other:?}"),
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

fn set_mtime(path: &std::path::Path, time: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(time)
        .unwrap();
}

#[test]
fn serves_a_file_with_type_and_validators() {
    let dir = TempDir::new("static-basic");
    dir.write("hello.txt", b"hello world");
    let response = serve(&files(&dir), "GET", "/hello.txt", "");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content(&response), b"hello world");
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(response.header("etag").unwrap().starts_with('"'));
    assert!(response.header("last-modified").is_some());
    assert_eq!(response.header("accept-ranges"), Some("bytes"));
}

#[test]
fn rfc9110_9_3_2_head_has_the_length_without_reading() {
    let dir = TempDir::new("static-head");
    dir.write("data.bin", &[7u8; 300]);
    let files = files(&dir);
    let head = serve(&files, "HEAD", "/data.bin", "");
    let get = serve(&files, "GET", "/data.bin", "");
    assert_eq!(head.body(), &Body::LengthOnly(300));
    assert_eq!(
        head.headers().collect::<Vec<_>>(),
        get.headers().collect::<Vec<_>>()
    );
}

#[test]
fn directories_serve_their_index_and_redirect_to_the_slash_form() {
    let dir = TempDir::new("static-index");
    dir.write("docs/index.html", b"<h1>docs</h1>");
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    let files = files(&dir);
    let response = serve(&files, "GET", "/docs/", "");
    assert_eq!(content(&response), b"<h1>docs</h1>");
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );

    let request = get("GET", "/docs?x=1", "");
    let redirect = files.serve(&request, "/docs");
    assert_eq!(redirect.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(redirect.header("location"), Some("/docs/?x=1"));

    assert_eq!(
        serve(&files, "GET", "/empty/", "").status(),
        StatusCode::NOT_FOUND,
        "no directory listings"
    );
    assert_eq!(
        serve(&files, "GET", "/", "").status(),
        StatusCode::NOT_FOUND
    );
    dir.write("index.html", b"root");
    assert_eq!(content(&serve(&files, "GET", "/", "")), b"root");
}

#[test]
fn a_file_with_a_trailing_slash_is_404() {
    let dir = TempDir::new("static-file-slash");
    dir.write("a.txt", b"a");
    assert_eq!(
        serve(&files(&dir), "GET", "/a.txt/", "").status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn missing_files_are_404() {
    let dir = TempDir::new("static-missing");
    assert_eq!(
        serve(&files(&dir), "GET", "/nope.txt", "").status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn dotfiles_are_hidden_by_default() {
    let dir = TempDir::new("static-dotfiles");
    dir.write(".env", b"SECRET=1");
    dir.write(".git/config", b"[core]");
    let hidden = files(&dir);
    assert_eq!(
        serve(&hidden, "GET", "/.env", "").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        serve(&hidden, "GET", "/.git/config", "").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        serve(&hidden, "GET", "/%2eenv", "").status(),
        StatusCode::NOT_FOUND
    );
    let shown = StaticFiles::new(
        dir.path(),
        StaticOptions {
            show_dotfiles: true,
            ..StaticOptions::default()
        },
    )
    .unwrap();
    assert_eq!(content(&serve(&shown, "GET", "/.env", "")), b"SECRET=1");
}

#[test]
fn traversal_never_leaves_the_root() {
    let outer = TempDir::new("static-traversal");
    outer.write("secret.txt", b"secret");
    outer.write("root/public.txt", b"public");
    let files = StaticFiles::new(outer.path().join("root"), StaticOptions::default()).unwrap();
    // Dot-segments above the root never reach the files: the parser refuses them with 400.
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/a/../../secret.txt",
        "/%2E%2E/%2E%2E/secret.txt",
    ] {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n");
        let error = web_server_http::parse_request(raw.as_bytes(), &Default::default())
            .expect_err("a path above the root is refused");
        assert_eq!(error.kind(), ParseErrorKind::PathAboveRoot, "{path}");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    for path in [
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/public.txt%00",
    ] {
        assert_eq!(
            serve(&files, "GET", path, "").status(),
            StatusCode::BAD_REQUEST,
            "{path}"
        );
    }
    assert_eq!(
        content(&serve(&files, "GET", "/x/../public.txt", "")),
        b"public"
    );
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_root_are_403() {
    let outer = TempDir::new("static-symlink");
    outer.write("secret.txt", b"secret");
    outer.write("root/inside.txt", b"inside");
    outer.write("root/.hidden", b"hidden");
    let root = outer.path().join("root");
    std::os::unix::fs::symlink(outer.path().join("secret.txt"), root.join("escape.txt")).unwrap();
    std::os::unix::fs::symlink(outer.path(), root.join("escape_dir")).unwrap();
    std::os::unix::fs::symlink(root.join("inside.txt"), root.join("alias.txt")).unwrap();
    std::os::unix::fs::symlink(root.join(".hidden"), root.join("visible")).unwrap();
    let files = StaticFiles::new(&root, StaticOptions::default()).unwrap();
    assert_eq!(
        serve(&files, "GET", "/escape.txt", "").status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        serve(&files, "GET", "/escape_dir/secret.txt", "").status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(content(&serve(&files, "GET", "/alias.txt", "")), b"inside");
    assert_eq!(
        serve(&files, "GET", "/visible", "").status(),
        StatusCode::NOT_FOUND,
        "a link to a dotfile is hidden too"
    );
}

#[test]
fn rfc9110_13_1_2_if_none_match_round_trip_is_304() {
    let dir = TempDir::new("static-inm");
    dir.write("a.css", b"body{}");
    let files = files(&dir);
    let first = serve(&files, "GET", "/a.css", "");
    let etag = first.header("etag").unwrap().to_owned();
    let second = serve(
        &files,
        "GET",
        "/a.css",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(second.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(second.header("etag"), Some(etag.as_str()));
    let last_modified = first.header("last-modified").unwrap().to_owned();
    let third = serve(
        &files,
        "GET",
        "/a.css",
        &format!("If-Modified-Since: {last_modified}\r\n"),
    );
    assert_eq!(third.status(), StatusCode::NOT_MODIFIED);
    let changed = serve(&files, "GET", "/a.css", "If-Match: \"other\"\r\n");
    assert_eq!(changed.status(), StatusCode::PRECONDITION_FAILED);
}

#[test]
fn rfc9110_14_ranges_read_the_right_bytes() {
    let dir = TempDir::new("static-range");
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    dir.write("data.bin", &data);
    let files = files(&dir);
    let single = serve(&files, "GET", "/data.bin", "Range: bytes=100-199\r\n");
    assert_eq!(single.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(single.header("content-range"), Some("bytes 100-199/1000"));
    assert_eq!(content(&single), &data[100..200]);

    let suffix = serve(&files, "GET", "/data.bin", "Range: bytes=-10\r\n");
    assert_eq!(content(&suffix), &data[990..]);

    let unsatisfiable = serve(&files, "GET", "/data.bin", "Range: bytes=5000-\r\n");
    assert_eq!(unsatisfiable.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(unsatisfiable.header("content-range"), Some("bytes */1000"));

    let multi = serve(&files, "GET", "/data.bin", "Range: bytes=0-1, 998-\r\n");
    let boundary = multi
        .header("content-type")
        .unwrap()
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap()
        .to_owned();
    let mut expected = format!("--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-1/1000\r\n\r\n").into_bytes();
    expected.extend_from_slice(&data[0..2]);
    expected.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 998-999/1000\r\n\r\n").as_bytes());
    expected.extend_from_slice(&data[998..]);
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(content(&multi), expected);

    let head = serve(&files, "HEAD", "/data.bin", "Range: bytes=0-1, 998-\r\n");
    assert_eq!(head.body(), &Body::LengthOnly(1000), "HEAD ignores Range");
}

#[test]
fn rfc9110_8_4_gzip_on_the_fly_round_trips() {
    let dir = TempDir::new("static-gzip");
    let text = "all work and no play makes jack a dull boy\n".repeat(100);
    dir.write("jack.txt", text.as_bytes());
    let files = files(&dir);
    let response = serve(
        &files,
        "GET",
        "/jack.txt",
        "Accept-Encoding: gzip, deflate\r\n",
    );
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert_eq!(response.header("vary"), Some("Accept-Encoding"));
    let compressed = content(&response);
    assert!(compressed.len() < text.len());
    assert_eq!(gunzip(&compressed), text.as_bytes());
    let head = serve(&files, "HEAD", "/jack.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(head.body(), &Body::LengthOnly(compressed.len() as u64));

    let etag = response.header("etag").unwrap().to_owned();
    let revalidated = serve(
        &files,
        "GET",
        "/jack.txt",
        &format!("Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n"),
    );
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
}

#[test]
fn precompressed_sibling_is_used_only_when_not_older() {
    let dir = TempDir::new("static-gzip-static");
    let text = "precompressed ".repeat(200);
    let file = dir.write("app.js", text.as_bytes());
    let sibling_bytes = b"not really gzip, but the server must not care".to_vec();
    let sibling = dir.write("app.js.gz", &sibling_bytes);
    let base = SystemTime::now() - Duration::from_secs(3600);
    set_mtime(&file, base);
    set_mtime(&sibling, base + Duration::from_secs(60));
    let files = files(&dir);
    let fresh = serve(&files, "GET", "/app.js", "Accept-Encoding: gzip\r\n");
    assert_eq!(content(&fresh), sibling_bytes);
    assert_eq!(fresh.header("content-encoding"), Some("gzip"));
    assert!(fresh.header("content-type").unwrap().contains("javascript"));

    set_mtime(&sibling, base - Duration::from_secs(60));
    let stale = serve(&files, "GET", "/app.js", "Accept-Encoding: gzip\r\n");
    assert_eq!(
        gunzip(&content(&stale)),
        text.as_bytes(),
        "stale sibling ignored, compressed on the fly"
    );

    let identity = serve(&files, "GET", "/app.js", "");
    assert_eq!(content(&identity), text.as_bytes());
}

#[test]
fn write_methods_are_405_with_allow() {
    let dir = TempDir::new("static-405");
    dir.write("a.txt", b"a");
    let files = files(&dir);
    for method in ["PUT", "DELETE", "POST"] {
        let response = serve(&files, method, "/a.txt", "Content-Length: 0\r\n");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
    }
    assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"a");
}

#[test]
fn invalid_options_are_refused_at_construction() {
    let dir = TempDir::new("static-options");
    for index in ["../index.html", "a/b.html", "", "/etc/passwd"] {
        let options = StaticOptions {
            index_file: index.to_owned(),
            ..StaticOptions::default()
        };
        assert!(StaticFiles::new(dir.path(), options).is_err(), "{index}");
    }
    let options = StaticOptions {
        cache_control: Some("max-age=60\r\nX: y".to_owned()),
        ..StaticOptions::default()
    };
    assert!(StaticFiles::new(dir.path(), options).is_err());
    let file = dir.write("f", b"");
    assert!(StaticFiles::new(file, StaticOptions::default()).is_err());
}

#[test]
fn cache_control_is_added_when_configured() {
    let dir = TempDir::new("static-cache-control");
    dir.write("a.txt", b"a");
    let options = StaticOptions {
        cache_control: Some("public, max-age=60".to_owned()),
        ..StaticOptions::default()
    };
    let files = StaticFiles::new(dir.path(), options).unwrap();
    assert_eq!(
        serve(&files, "GET", "/a.txt", "").header("cache-control"),
        Some("public, max-age=60")
    );
}

/// Above `StaticOptions::default().max_inline_bytes` (256 KiB).
const LARGE: usize = 300 * 1024;

fn prepare(files: &StaticFiles, method: &str, path: &str, fields: &str) -> Prepared {
    files.prepare(&get(method, path, fields), path)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Reads deferred content the way the server does, in chunks of at most 64 KiB.
fn stream(content: &FileContent) -> Vec<u8> {
    let mut reader = content.open().unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = reader.next_chunk(64 * 1024).unwrap() {
        assert!(!chunk.is_empty() && chunk.len() <= 64 * 1024);
        out.extend_from_slice(&chunk);
    }
    assert_eq!(reader.remaining(), 0);
    out
}

#[test]
fn large_files_are_deferred_as_one_file_segment() {
    let dir = TempDir::new("static-large");
    let data = pattern(LARGE);
    dir.write("big.bin", &data);
    let files = files(&dir);
    let prepared = prepare(&files, "GET", "/big.bin", "");
    assert_eq!(prepared.response.status(), StatusCode::OK);
    assert_eq!(prepared.response.body(), &Body::Deferred(LARGE as u64));
    let deferred = prepared.content.as_ref().expect("deferred content");
    assert_eq!(deferred.path, files.root().join("big.bin"));
    assert_eq!(deferred.facts.len, LARGE as u64);
    assert_eq!(
        deferred.segments,
        [Segment::File {
            offset: 0,
            len: LARGE as u64
        }]
    );
    assert_eq!(stream(deferred), data);

    let served = serve(&files, "GET", "/big.bin", "");
    assert_eq!(
        served.headers().collect::<Vec<_>>(),
        prepared.response.headers().collect::<Vec<_>>(),
        "serve and prepare share one decision"
    );
    assert_eq!(content(&served), data, "serve still reads it whole");
}

#[test]
fn max_inline_bytes_is_the_threshold() {
    let dir = TempDir::new("static-threshold");
    dir.write("at.bin", &pattern(100));
    dir.write("above.bin", &pattern(101));
    let options = StaticOptions {
        max_inline_bytes: 100,
        ..StaticOptions::default()
    };
    let files = StaticFiles::new(dir.path(), options).unwrap();
    let at = prepare(&files, "GET", "/at.bin", "");
    assert_eq!(at.content, None);
    assert_eq!(at.response.body(), &Body::Full(pattern(100).into()));
    let above = prepare(&files, "GET", "/above.bin", "");
    assert_eq!(above.response.body(), &Body::Deferred(101));
    assert_eq!(stream(above.content.as_ref().unwrap()), pattern(101));
}

#[test]
fn rfc9110_14_2_a_range_of_a_large_file_is_deferred_only_when_it_is_large() {
    let dir = TempDir::new("static-large-range");
    let data = pattern(LARGE);
    dir.write("big.bin", &data);
    let files = files(&dir);
    let prepared = prepare(&files, "GET", "/big.bin", "Range: bytes=1000-\r\n");
    let len = (LARGE - 1000) as u64;
    assert_eq!(prepared.response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        prepared.response.header("content-range"),
        Some(format!("bytes 1000-{}/{LARGE}", LARGE - 1).as_str())
    );
    assert_eq!(prepared.response.body(), &Body::Deferred(len));
    let content = prepared.content.as_ref().unwrap();
    assert_eq!(content.segments, [Segment::File { offset: 1000, len }]);
    assert_eq!(stream(content), &data[1000..]);

    let small = prepare(&files, "GET", "/big.bin", "Range: bytes=-100\r\n");
    assert_eq!(small.response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(small.content, None, "100 bytes are read, not streamed");
    assert_eq!(
        small.response.body(),
        &Body::Full(data[LARGE - 100..].to_vec().into())
    );
}

#[test]
fn rfc9110_14_6_multipart_of_a_large_file_is_deferred_with_exact_length() {
    let dir = TempDir::new("static-large-multipart");
    let data = pattern(400 * 1024);
    dir.write("big.bin", &data);
    let files = files(&dir);
    let ranges = [(0usize, 199_999usize), (300_000, 400 * 1024 - 1)];
    let prepared = prepare(
        &files,
        "GET",
        "/big.bin",
        "Range: bytes=0-199999, 300000-\r\n",
    );
    assert_eq!(prepared.response.status(), StatusCode::PARTIAL_CONTENT);
    let boundary = prepared
        .response
        .header("content-type")
        .unwrap()
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap()
        .to_owned();
    let deferred = prepared.content.as_ref().unwrap();
    let Body::Deferred(length) = *prepared.response.body() else {
        panic!("expected deferred content")
    };
    assert_eq!(deferred.len(), length);
    assert_eq!(
        deferred.segments.iter().map(Segment::len).sum::<u64>(),
        length
    );
    assert!(matches!(
        deferred.segments.as_slice(),
        [
            Segment::Literal(_),
            Segment::File {
                offset: 0,
                len: 200_000
            },
            Segment::Literal(_),
            Segment::File {
                offset: 300_000,
                ..
            },
            Segment::Literal(_),
        ]
    ));
    let body = stream(deferred);
    assert_eq!(body.len() as u64, length);

    // Parse it back as multipart/byteranges (RFC 2046 §5.1.1, RFC 9110 §14.6).
    let delimiter = format!("--{boundary}");
    let mut rest = body.as_slice();
    for &(first, last) in &ranges {
        rest = rest.strip_prefix(delimiter.as_bytes()).unwrap();
        rest = rest.strip_prefix(b"\r\n").unwrap();
        let fields_end = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let fields = std::str::from_utf8(&rest[..fields_end]).unwrap();
        assert_eq!(
            fields,
            format!(
                "Content-Type: application/octet-stream\r\nContent-Range: bytes {first}-{last}/{}",
                data.len()
            )
        );
        rest = &rest[fields_end + 4..];
        assert_eq!(&rest[..=last - first], &data[first..=last]);
        rest = rest[last - first + 1..].strip_prefix(b"\r\n").unwrap();
    }
    assert_eq!(rest, format!("{delimiter}--\r\n").as_bytes());

    let served = serve(
        &files,
        "GET",
        "/big.bin",
        "Range: bytes=0-199999, 300000-\r\n",
    );
    assert_eq!(content(&served), body, "serve sends the same bytes");
}

#[test]
fn rfc9110_9_3_2_head_on_a_large_file_has_no_content() {
    let dir = TempDir::new("static-large-head");
    dir.write("big.bin", &pattern(LARGE));
    let files = files(&dir);
    let head = prepare(&files, "HEAD", "/big.bin", "");
    let get = prepare(&files, "GET", "/big.bin", "");
    assert_eq!(head.content, None);
    assert_eq!(head.response.body(), &Body::LengthOnly(LARGE as u64));
    assert_eq!(
        head.response.headers().collect::<Vec<_>>(),
        get.response.headers().collect::<Vec<_>>()
    );
}

#[test]
fn gzip_is_not_used_above_max_inline_bytes() {
    let dir = TempDir::new("static-large-gzip");
    let text = "all work and no play makes jack a dull boy\n".repeat(LARGE / 40);
    assert!(text.len() > LARGE);
    dir.write("jack.txt", text.as_bytes());
    let files = files(&dir);
    let prepared = prepare(&files, "GET", "/jack.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(prepared.response.header("content-encoding"), None);
    assert_eq!(prepared.response.header("vary"), Some("Accept-Encoding"));
    assert_eq!(prepared.response.header("accept-ranges"), Some("bytes"));
    assert_eq!(prepared.response.body(), &Body::Deferred(text.len() as u64));
    assert_eq!(stream(prepared.content.as_ref().unwrap()), text.as_bytes());
    let head = prepare(&files, "HEAD", "/jack.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(
        head.response.body(),
        &Body::LengthOnly(text.len() as u64),
        "HEAD does not compress either"
    );
}

#[test]
fn a_large_precompressed_sibling_is_deferred() {
    let dir = TempDir::new("static-large-gzip-static");
    let file = dir.write("app.js", "x".repeat(LARGE * 2).as_bytes());
    let sibling_bytes = pattern(LARGE);
    let sibling = dir.write("app.js.gz", &sibling_bytes);
    let base = SystemTime::now() - Duration::from_secs(3600);
    set_mtime(&file, base);
    set_mtime(&sibling, base + Duration::from_secs(60));
    let files = files(&dir);
    let prepared = prepare(&files, "GET", "/app.js", "Accept-Encoding: gzip\r\n");
    assert_eq!(prepared.response.header("content-encoding"), Some("gzip"));
    assert_eq!(
        prepared.response.body(),
        &Body::Deferred(sibling_bytes.len() as u64)
    );
    let content = prepared.content.as_ref().unwrap();
    assert_eq!(content.path, files.root().join("app.js.gz"));
    assert_eq!(stream(content), sibling_bytes);
}

#[test]
fn small_files_and_contentless_answers_are_unchanged() {
    let dir = TempDir::new("static-small-prepare");
    dir.write("hello.txt", b"hello world");
    dir.write("big.bin", &pattern(LARGE));
    let files = files(&dir);
    for (path, fields) in [
        ("/hello.txt", ""),
        ("/hello.txt", "Range: bytes=0-4\r\n"),
        ("/hello.txt", "Range: bytes=0-1,4-5\r\n"),
        ("/nope.txt", ""),
        ("/big.bin", "Range: bytes=999999-\r\n"),
        ("/big.bin", "If-Match: \"other\"\r\n"),
        ("/big.bin", "Accept-Encoding: identity;q=0\r\n"),
    ] {
        let prepared = prepare(&files, "GET", path, fields);
        assert_eq!(prepared.content, None, "{path} {fields}");
        assert!(
            matches!(prepared.response.body(), Body::Full(_) | Body::Empty),
            "{path} {fields}"
        );
        assert_eq!(
            prepared.response,
            serve(&files, "GET", path, fields),
            "{path} {fields}"
        );
    }
    let etag = prepare(&files, "GET", "/big.bin", "")
        .response
        .header("etag")
        .unwrap()
        .to_owned();
    let not_modified = prepare(
        &files,
        "GET",
        "/big.bin",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(not_modified.response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(not_modified.content, None);
    let options = prepare(&files, "OPTIONS", "/big.bin", "");
    assert_eq!(options.response.status(), StatusCode::NO_CONTENT);
    assert_eq!(options.content, None);
}

#[test]
fn a_large_file_replaced_after_the_decision_is_detected() {
    let dir = TempDir::new("static-large-changed");
    let path = dir.write("big.bin", &pattern(LARGE));
    let files = files(&dir);
    let prepared = prepare(&files, "GET", "/big.bin", "");
    let content = prepared.content.unwrap();

    // Replaced by rename, same size: a new inode.
    let replacement = dir.write("new.bin", &pattern(LARGE));
    std::fs::rename(&replacement, &path).unwrap();
    let error = content.open().unwrap_err();
    assert!(FileChanged::is(&error), "{error}");

    // Truncated while being read: the next chunk fails instead of coming up short.
    let prepared = prepare(&files, "GET", "/big.bin", "");
    let content = prepared.content.unwrap();
    let mut reader = content.open().unwrap();
    assert_eq!(reader.next_chunk(1024).unwrap().unwrap().len(), 1024);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(2048)
        .unwrap();
    let error = reader.next_chunk(1024).unwrap_err();
    assert!(FileChanged::is(&error), "{error}");
}
