//! Static-file serving against a real temporary document root.

mod common;

use common::{get, TempDir};
use flate2::read::GzDecoder;
use std::io::Read;
use std::time::{Duration, SystemTime};
use web_server_http::{Body, Response, StaticFiles, StaticOptions, StatusCode};

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
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/a/../../secret.txt",
        "/%2E%2E/%2E%2E/secret.txt",
    ] {
        let status = serve(&files, "GET", path, "").status();
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
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
