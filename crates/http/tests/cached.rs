//! Files answered from memory (`StaticFiles::load` + `respond_cached`) against the same files
//! answered from disk (`StaticFiles::serve`): a differential test that the two paths agree on
//! status, fields and content for every request, plus what must not be cached, revalidation and
//! the gzip variant being computed once.

mod common;

use common::{get, TempDir};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use web_server_http::static_files::resolve::Rejection;
use web_server_http::{
    Body, CachedFile, NotCacheable, Request, Response, StaticFiles, StaticOptions, StatusCode,
};

/// Large enough for every file of the test root.
const MAX: u64 = 1024 * 1024;

fn set_mtime(path: &Path, time: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(time)
        .unwrap();
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

fn text(len: usize) -> Vec<u8> {
    let line = b"the quick brown fox jumps over the lazy dog 0123456789\n";
    line.iter().copied().cycle().take(len).collect()
}

fn binary(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// html, css, a 100 KiB text file, a binary, scripts with a fresh and a stale `.gz` sibling, an
/// empty file, a name that needs percent-encoding and a directory index.
fn docroot() -> TempDir {
    let dir = TempDir::new("cached");
    let base = SystemTime::now() - Duration::from_secs(3600);
    let mut html = b"<!doctype html><title>docs</title>\n".to_vec();
    html.extend(text(2000));
    for (name, data) in [
        ("docs/index.html", html),
        ("style.css", b"body { margin: 0 }\n".to_vec()),
        ("big.txt", text(100 * 1024)),
        ("image.png", binary(5000)),
        ("app.js", text(3000)),
        ("stale.js", text(4000)),
        ("empty.txt", Vec::new()),
        ("a b.txt", text(1500)),
    ] {
        let path = dir.write(name, &data);
        set_mtime(&path, base);
    }
    let fresh = dir.write("app.js.gz", &gzip(&text(3000)));
    set_mtime(&fresh, base + Duration::from_secs(60));
    let stale = dir.write("stale.js.gz", &gzip(&text(4000)));
    set_mtime(&stale, base - Duration::from_secs(60));
    dir
}

const TAILS: [&str; 10] = [
    "/docs/",
    "/docs/index.html",
    "/style.css",
    "/big.txt",
    "/image.png",
    "/app.js",
    "/stale.js",
    "/empty.txt",
    "/a%20b.txt",
    "/x/../style.css",
];

/// The request matrix for one file, using validators of its identity and gzip responses.
fn matrix(files: &StaticFiles, tail: &str) -> Vec<(&'static str, String)> {
    let identity = files.serve(&get("GET", tail, ""), tail);
    let etag = identity.header("etag").unwrap().to_owned();
    let date = identity.header("last-modified").unwrap().to_owned();
    let gzipped = files.serve(&get("GET", tail, "Accept-Encoding: gzip\r\n"), tail);
    let gzip_etag = gzipped.header("etag").unwrap_or(&etag).to_owned();
    let old = "Sun, 06 Nov 1994 08:49:37 GMT";
    let mut requests = vec![
        ("GET", String::new()),
        ("HEAD", String::new()),
        ("GET", format!("If-None-Match: {etag}\r\n")),
        ("HEAD", format!("If-None-Match: {etag}\r\n")),
        ("GET", "If-None-Match: \"nope\"\r\n".to_owned()),
        ("GET", "If-None-Match: *\r\n".to_owned()),
        ("GET", format!("If-None-Match: \"a\", W/{etag}\r\n")),
        ("GET", format!("If-Modified-Since: {date}\r\n")),
        ("HEAD", format!("If-Modified-Since: {date}\r\n")),
        ("GET", format!("If-Modified-Since: {old}\r\n")),
        ("GET", "If-Match: \"nope\"\r\n".to_owned()),
        ("GET", format!("If-Match: {etag}\r\n")),
        ("GET", format!("If-Unmodified-Since: {old}\r\n")),
        ("GET", format!("If-Unmodified-Since: {date}\r\n")),
        ("GET", "Range: bytes=0-9\r\n".to_owned()),
        ("GET", "Range: bytes=-5\r\n".to_owned()),
        ("GET", "Range: bytes=10-\r\n".to_owned()),
        ("GET", "Range: bytes=0-1,5-9\r\n".to_owned()),
        ("GET", "Range: bytes=0-1, 3-4, 20-29\r\n".to_owned()),
        ("GET", "Range: bytes=0-5,3-9\r\n".to_owned()),
        ("GET", "Range: bytes=999999-\r\n".to_owned()),
        ("GET", "Range: items=0-1\r\n".to_owned()),
        ("HEAD", "Range: bytes=0-9\r\n".to_owned()),
        ("GET", format!("Range: bytes=0-9\r\nIf-Range: {etag}\r\n")),
        (
            "GET",
            "Range: bytes=0-9\r\nIf-Range: \"nope\"\r\n".to_owned(),
        ),
        ("GET", format!("Range: bytes=0-9\r\nIf-Range: {date}\r\n")),
        ("GET", format!("Range: bytes=0-9\r\nIf-Range: {old}\r\n")),
        ("GET", "Accept-Encoding: gzip\r\n".to_owned()),
        ("HEAD", "Accept-Encoding: gzip\r\n".to_owned()),
        ("GET", "Accept-Encoding: gzip, deflate, br\r\n".to_owned()),
        ("GET", "Accept-Encoding: x-gzip\r\n".to_owned()),
        (
            "GET",
            format!("Accept-Encoding: gzip\r\nIf-None-Match: {gzip_etag}\r\n"),
        ),
        (
            "GET",
            format!("Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n"),
        ),
        (
            "GET",
            "Accept-Encoding: gzip\r\nRange: bytes=0-9\r\n".to_owned(),
        ),
        (
            "GET",
            "Accept-Encoding: gzip\r\nRange: bytes=0-1,5-9\r\n".to_owned(),
        ),
        (
            "GET",
            format!("Accept-Encoding: gzip\r\nRange: bytes=0-9\r\nIf-Range: {gzip_etag}\r\n"),
        ),
        ("GET", "Accept-Encoding: identity\r\n".to_owned()),
        ("GET", "Accept-Encoding: identity;q=0\r\n".to_owned()),
        ("HEAD", "Accept-Encoding: identity;q=0\r\n".to_owned()),
        ("GET", "Accept-Encoding: *;q=0\r\n".to_owned()),
        ("GET", "Accept-Encoding: gzip;q=0\r\n".to_owned()),
        (
            "GET",
            "Accept-Encoding: gzip;q=0.5, identity\r\n".to_owned(),
        ),
        ("GET", "Accept-Encoding: gzip, identity;q=0\r\n".to_owned()),
        (
            "GET",
            "Accept-Encoding: identity;q=0\r\nAccept-Encoding: gzip\r\n".to_owned(),
        ),
        (
            "GET",
            "Range: bytes=0-9\r\nRange: bytes=20-29\r\n".to_owned(),
        ),
        ("OPTIONS", String::new()),
        ("POST", "Content-Length: 0\r\n".to_owned()),
        ("PUT", "Content-Length: 0\r\n".to_owned()),
        ("DELETE", String::new()),
    ];
    requests.push(("GET", "Range: bytes=0-0,2-2,4-4\r\n".to_owned()));
    requests
}

fn body_bytes(response: &Response) -> Option<&[u8]> {
    match response.body() {
        Body::Full(bytes) => Some(bytes),
        _ => None,
    }
}

/// Asserts that both answers are the same, with a short message naming the request.
fn assert_same(cached: &Response, served: &Response, what: &str) {
    assert_eq!(cached.status(), served.status(), "status of {what}");
    assert_eq!(
        cached.headers().collect::<Vec<_>>(),
        served.headers().collect::<Vec<_>>(),
        "fields of {what}"
    );
    match (body_bytes(cached), body_bytes(served)) {
        (Some(ours), Some(theirs)) => assert!(
            ours == theirs,
            "content of {what}: {} bytes from memory, {} from disk",
            ours.len(),
            theirs.len()
        ),
        _ => assert_eq!(cached.body(), served.body(), "body of {what}"),
    }
    assert_eq!(
        cached.wants_close(),
        served.wants_close(),
        "close of {what}"
    );
    assert!(cached == served, "{what}");
}

/// What kind of answer a response is, to show which cases a run covered.
fn kind(response: &Response) -> String {
    let multipart = response
        .header("content-type")
        .is_some_and(|value| value.starts_with("multipart/"));
    let coding = match (
        response.header("content-encoding"),
        response.header("accept-ranges"),
    ) {
        (Some(_), None) => " gzip",
        (Some(_), Some(_)) => " precompressed",
        _ => "",
    };
    let body = match response.body() {
        Body::LengthOnly(_) => " head",
        _ => "",
    };
    let multipart = if multipart { " multipart" } else { "" };
    format!("{}{coding}{multipart}{body}", response.status().as_u16())
}

/// Runs the matrix for every tail under `options`; returns the kinds of answers compared and
/// how many requests were.
fn differential(options: StaticOptions) -> (std::collections::BTreeSet<String>, usize) {
    let dir = docroot();
    let files = StaticFiles::new(dir.path(), options).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    let mut compared = 0;
    for tail in TAILS {
        let entry = files
            .load(tail, MAX)
            .unwrap_or_else(|why| panic!("{tail}: {why}"));
        for (method, fields) in matrix(&files, tail) {
            let request = get(method, tail, &fields);
            let served = files.serve(&request, tail);
            let cached = files.respond_cached(&entry, &request);
            assert_same(&cached, &served, &format!("{method} {tail} {fields:?}"));
            kinds.insert(kind(&cached));
            compared += 1;
        }
    }
    (kinds, compared)
}

#[test]
fn memory_and_disk_agree_with_default_options() {
    let (kinds, compared) = differential(StaticOptions::default());
    assert!(compared >= 10 * 45, "{compared}");
    for expected in [
        "200",
        "200 head",
        "200 gzip",
        "200 gzip head",
        "200 precompressed",
        "200 precompressed head",
        "204",
        "206",
        "206 multipart",
        "206 precompressed",
        "206 precompressed multipart",
        "304",
        "405",
        "406",
        "412",
        "416",
    ] {
        assert!(
            kinds.contains(expected),
            "{expected} not covered: {kinds:?}"
        );
    }
}

#[test]
fn memory_and_disk_agree_with_cache_control_a_low_level_and_few_ranges() {
    differential(StaticOptions {
        cache_control: Some("public, max-age=60".to_owned()),
        gzip_level: 1,
        max_ranges: 2,
        ..StaticOptions::default()
    });
}

#[test]
fn memory_and_disk_agree_without_gzip_or_precompressed_files() {
    differential(StaticOptions {
        gzip: false,
        precompressed: false,
        ..StaticOptions::default()
    });
}

#[test]
fn memory_and_disk_agree_when_files_exceed_max_inline_bytes() {
    // Files above 4 KiB are not compressed on the fly by either path (the disk path would
    // stream them), and a 2 KiB minimum leaves the smaller ones as identity.
    differential(StaticOptions {
        max_inline_bytes: 4096,
        gzip_min_bytes: 2048,
        ..StaticOptions::default()
    });
}

#[test]
fn the_rules_show_through_the_cached_answers() {
    let dir = docroot();
    let files = StaticFiles::new(dir.path(), StaticOptions::default()).unwrap();
    let big = files.load("/big.txt", MAX).unwrap();
    let request = |fields: &str| get("GET", "/big.txt", fields);
    let gzipped = files.respond_cached(&big, &request("Accept-Encoding: gzip\r\n"));
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert_eq!(gzipped.header("vary"), Some("Accept-Encoding"));
    assert!(gzipped.header("etag").unwrap().ends_with("-gzip\""));
    assert_eq!(gunzip(body_bytes(&gzipped).unwrap()), text(100 * 1024));

    let app = files.load("/app.js", MAX).unwrap();
    let sibling = files.respond_cached(&app, &get("GET", "/app.js", "Accept-Encoding: gzip\r\n"));
    assert_eq!(
        body_bytes(&sibling).unwrap(),
        &std::fs::read(dir.path().join("app.js.gz")).unwrap()[..],
        "the precompressed sibling is sent as it is"
    );
    assert!(app.precompressed().is_some());
    assert!(
        files
            .load("/stale.js", MAX)
            .unwrap()
            .precompressed()
            .is_none(),
        "a stale sibling is not held"
    );

    let range = files.respond_cached(&big, &request("Range: bytes=100-199\r\n"));
    assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(body_bytes(&range).unwrap(), &text(100 * 1024)[100..200]);
    let head = files.respond_cached(&big, &get("HEAD", "/big.txt", ""));
    assert_eq!(head.body(), &Body::LengthOnly(100 * 1024));
    let options = files.respond_cached(&big, &get("OPTIONS", "/big.txt", ""));
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(options.header("allow"), Some("GET, HEAD, OPTIONS"));
    let post = files.respond_cached(&big, &get("POST", "/big.txt", "Content-Length: 0\r\n"));
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn contents_are_shared_with_the_entry_not_copied() {
    let dir = docroot();
    let files = StaticFiles::new(dir.path(), StaticOptions::default()).unwrap();
    let entry = files.load("/image.png", MAX).unwrap();
    let whole = files.respond_cached(&entry, &get("GET", "/image.png", ""));
    assert_eq!(
        body_bytes(&whole).unwrap().as_ptr(),
        entry.body().as_ptr(),
        "a 200 sends the entry's own bytes"
    );
    let range = files.respond_cached(&entry, &get("GET", "/image.png", "Range: bytes=10-19\r\n"));
    assert_eq!(
        body_bytes(&range).unwrap().as_ptr(),
        entry.body()[10..].as_ptr(),
        "a range is a slice of them"
    );
}

#[test]
fn the_gzip_variant_is_computed_once_and_shared() {
    let dir = docroot();
    let files = StaticFiles::new(dir.path(), StaticOptions::default()).unwrap();
    let entry = Arc::new(files.load("/big.txt", MAX).unwrap());
    let plain_bytes = entry.memory_bytes();
    assert!(
        entry.gzip().is_none(),
        "nothing compressed before it is asked for"
    );
    files.respond_cached(&entry, &get("GET", "/big.txt", ""));
    files.respond_cached(
        &entry,
        &get("GET", "/big.txt", "Accept-Encoding: identity\r\n"),
    );
    assert!(entry.gzip().is_none(), "identity requests do not compress");

    let gzip_request = get("GET", "/big.txt", "Accept-Encoding: gzip\r\n");
    let first = files.respond_cached(&entry, &gzip_request);
    let held = entry
        .gzip()
        .expect("computed by the first gzip request")
        .clone();
    assert_eq!(body_bytes(&first).unwrap().as_ptr(), held.as_ptr());
    assert_eq!(entry.memory_bytes(), plain_bytes + held.len() as u64);

    let files = Arc::new(files);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (files, entry) = (files.clone(), entry.clone());
            std::thread::spawn(move || {
                let request = get("GET", "/big.txt", "Accept-Encoding: gzip\r\n");
                let response = files.respond_cached(&entry, &request);
                body_bytes(&response).unwrap().as_ptr() as usize
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(
            thread.join().unwrap(),
            held.as_ptr() as usize,
            "every later gzip response shares the one compressed copy"
        );
    }
    let head = files.respond_cached(
        &entry,
        &get("HEAD", "/big.txt", "Accept-Encoding: gzip\r\n"),
    );
    assert_eq!(head.body(), &Body::LengthOnly(held.len() as u64));
    assert_eq!(entry.gzip().unwrap().as_ptr(), held.as_ptr());
}

#[test]
fn concurrent_first_gzip_requests_compress_once() {
    let dir = docroot();
    let files = Arc::new(StaticFiles::new(dir.path(), StaticOptions::default()).unwrap());
    let entry = Arc::new(files.load("/big.txt", MAX).unwrap());
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (files, entry, barrier) = (files.clone(), entry.clone(), barrier.clone());
            std::thread::spawn(move || {
                let request = get("GET", "/big.txt", "Accept-Encoding: gzip\r\n");
                barrier.wait();
                let response = files.respond_cached(&entry, &request);
                body_bytes(&response).unwrap().as_ptr() as usize
            })
        })
        .collect();
    let pointers: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(pointers
        .iter()
        .all(|&p| p == entry.gzip().unwrap().as_ptr() as usize));
}

#[test]
fn precompress_computes_the_variant_only_where_the_rules_use_it() {
    let dir = docroot();
    let files = StaticFiles::new(dir.path(), StaticOptions::default()).unwrap();
    let load = |tail| files.load(tail, MAX).unwrap();
    let big = load("/big.txt");
    assert!(files.precompress(&big));
    let held = big.gzip().unwrap().as_ptr();
    assert!(files.precompress(&big), "still held, not recomputed");
    assert_eq!(big.gzip().unwrap().as_ptr(), held);
    let response = files.respond_cached(&big, &get("GET", "/big.txt", "Accept-Encoding: gzip\r\n"));
    assert_eq!(body_bytes(&response).unwrap().as_ptr(), held);

    for (tail, why) in [
        ("/image.png", "not a compressible type"),
        ("/style.css", "below gzip_min_bytes"),
        ("/app.js", "the precompressed sibling is served instead"),
        ("/empty.txt", "empty"),
    ] {
        let entry = load(tail);
        assert!(!files.precompress(&entry), "{tail}: {why}");
        assert!(entry.gzip().is_none(), "{tail}");
    }
    assert!(
        files.precompress(&load("/stale.js")),
        "a stale sibling does not count"
    );
}

#[test]
fn load_refuses_what_must_not_be_cached() {
    let dir = docroot();
    dir.write(".env", b"SECRET=1");
    std::fs::create_dir_all(dir.path().join("bare")).unwrap();
    let files = StaticFiles::new(dir.path(), StaticOptions::default()).unwrap();
    let refused = |tail: &str, max: u64| match files.load(tail, max) {
        Ok(entry) => panic!("{tail} loaded as {}", entry.path().display()),
        Err(why) => why,
    };

    assert!(matches!(
        refused("/big.txt", 100 * 1024 - 1),
        NotCacheable::TooLarge { len } if len == 100 * 1024
    ));
    assert!(
        files.load("/big.txt", 100 * 1024).is_ok(),
        "max_bytes is inclusive"
    );
    assert!(matches!(
        refused("/docs", MAX),
        NotCacheable::RedirectToDirectory
    ));
    for (tail, rejection) in [
        ("/.env", Rejection::NotFound),
        ("/%2eenv", Rejection::NotFound),
        ("/missing.txt", Rejection::NotFound),
        ("/bare/", Rejection::NotFound),
        ("/big.txt/", Rejection::NotFound),
        ("/a%2fb", Rejection::BadRequest),
        ("/%C0%AE%C0%AE/x", Rejection::BadRequest),
    ] {
        match refused(tail, MAX) {
            NotCacheable::Rejected(found) => assert_eq!(found, rejection, "{tail}"),
            other => panic!("{tail}: {other}"),
        }
    }

    // A fresh sibling is part of what is served, so it must fit as well; a stale one does not
    // matter.
    dir.write("fresh_big.js", &text(1500));
    let big_sibling = dir.write("fresh_big.js.gz", &binary(3000));
    set_mtime(&big_sibling, SystemTime::now() + Duration::from_secs(60));
    let small_file_big_sibling = refused("/fresh_big.js", 2000);
    assert!(
        matches!(small_file_big_sibling, NotCacheable::TooLarge { len: 3000 }),
        "{small_file_big_sibling}"
    );
    let stale_len = std::fs::metadata(dir.path().join("stale.js.gz"))
        .unwrap()
        .len();
    assert!(files.load("/stale.js", 4000).is_ok() && stale_len < 4000);
    dir.write("stale_big.js", &text(1500));
    let big_sibling = dir.write("stale_big.js.gz", &binary(3000));
    set_mtime(&big_sibling, SystemTime::now() - Duration::from_secs(7200));
    assert!(files.load("/stale_big.js", 2000).is_ok());
}

#[cfg(unix)]
#[test]
fn load_refuses_symlinks_out_of_the_root_and_special_files() {
    let outer = TempDir::new("cached-symlink");
    outer.write("secret.txt", b"secret");
    outer.write("root/inside.txt", b"inside");
    let root = outer.path().join("root");
    std::os::unix::fs::symlink(outer.path().join("secret.txt"), root.join("escape.txt")).unwrap();
    std::os::unix::fs::symlink(root.join("inside.txt"), root.join("alias.txt")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(root.join("pipe"))
        .status()
        .expect("mkfifo (coreutils) is needed to make a FIFO");
    assert!(status.success());
    let files = StaticFiles::new(&root, StaticOptions::default()).unwrap();
    assert!(matches!(
        files.load("/escape.txt", MAX),
        Err(NotCacheable::Rejected(Rejection::Forbidden))
    ));
    assert!(matches!(
        files.load("/pipe", MAX),
        Err(NotCacheable::Rejected(Rejection::NotFound))
    ));
    let alias = files.load("/alias.txt", MAX).unwrap();
    assert_eq!(
        alias.path(),
        root.canonicalize().unwrap().join("inside.txt")
    );
    assert_eq!(alias.body().as_ref(), b"inside");
}

#[test]
fn an_entry_records_what_it_was_loaded_from() {
    let dir = docroot();
    let files = StaticFiles::new(dir.path(), StaticOptions::default()).unwrap();
    let entry: CachedFile = files.load("/docs/", MAX).unwrap();
    assert_eq!(entry.tail(), "/docs/");
    assert_eq!(entry.path(), files.root().join("docs/index.html"));
    assert_eq!(entry.content_type(), "text/html; charset=utf-8");
    assert_eq!(entry.facts().len, entry.body().len() as u64);
    let on_disk = std::fs::metadata(dir.path().join("docs/index.html")).unwrap();
    assert_eq!(
        entry.facts(),
        web_server_http::static_files::plan::FileFacts::from_metadata(&on_disk)
    );
}

#[test]
fn a_hit_never_touches_the_file_system() {
    let dir = docroot();
    let files = StaticFiles::new(dir.path(), StaticOptions::default()).unwrap();
    let entries: Vec<(&str, CachedFile)> = ["/big.txt", "/app.js", "/docs/"]
        .into_iter()
        .map(|tail| (tail, files.load(tail, MAX).unwrap()))
        .collect();
    let expected: Vec<Vec<Response>> = entries
        .iter()
        .map(|(tail, entry)| {
            matrix(&files, tail)
                .into_iter()
                .map(|(method, fields)| files.respond_cached(entry, &get(method, tail, &fields)))
                .collect()
        })
        .collect();
    let requests: Vec<Vec<Request>> = entries
        .iter()
        .map(|(tail, _)| {
            matrix(&files, tail)
                .into_iter()
                .map(|(method, fields)| get(method, tail, &fields))
                .collect()
        })
        .collect();
    std::fs::remove_dir_all(dir.path()).unwrap();
    for (((tail, entry), expected), requests) in entries.iter().zip(&expected).zip(&requests) {
        for (request, expected) in requests.iter().zip(expected) {
            assert_eq!(&files.respond_cached(entry, request), expected, "{tail}");
        }
        assert!(!files.is_current(entry), "{tail} is gone");
    }
    let big = &entries[0].1;
    let response = files.respond_cached(big, &get("GET", "/big.txt", ""));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_bytes(&response).unwrap(), &text(100 * 1024)[..]);
}

#[test]
fn is_current_notices_changes_to_the_file_and_its_sibling() {
    let dir = docroot();
    let files = StaticFiles::new(dir.path(), StaticOptions::default()).unwrap();
    let load = |tail| files.load(tail, MAX).unwrap();

    let css = load("/style.css");
    assert!(files.is_current(&css));
    set_mtime(&dir.path().join("style.css"), SystemTime::now());
    assert!(!files.is_current(&css), "touched");
    let css = load("/style.css");
    dir.write("style.css", b"body { margin: 1 }\n");
    assert!(!files.is_current(&css), "rewritten with the same length");
    let css = load("/style.css");
    std::fs::remove_file(dir.path().join("style.css")).unwrap();
    assert!(!files.is_current(&css), "deleted");

    let app = load("/app.js");
    assert!(files.is_current(&app));
    std::fs::remove_file(dir.path().join("app.js.gz")).unwrap();
    assert!(!files.is_current(&app), "sibling deleted");
    let app = load("/app.js");
    assert!(app.precompressed().is_none());
    let sibling = dir.write("app.js.gz", &gzip(&text(3000)));
    set_mtime(&sibling, SystemTime::now());
    assert!(!files.is_current(&app), "sibling appeared");
    let app = load("/app.js");
    assert!(app.precompressed().is_some());

    let stale = load("/stale.js");
    set_mtime(&dir.path().join("stale.js.gz"), SystemTime::now());
    assert!(!files.is_current(&stale), "stale sibling refreshed");
    assert!(load("/stale.js").precompressed().is_some());

    let docs = load("/docs/");
    std::fs::rename(
        dir.path().join("docs/index.html"),
        dir.path().join("docs/old.html"),
    )
    .unwrap();
    dir.write("docs/index.html", b"<p>new</p>");
    assert!(!files.is_current(&docs), "index replaced");
}

#[cfg(unix)]
#[test]
fn is_current_notices_a_symlink_pointing_elsewhere() {
    let dir = TempDir::new("cached-relink");
    dir.write("one.txt", b"one");
    dir.write("two.txt", b"two");
    let link = dir.path().join("current.txt");
    std::os::unix::fs::symlink(dir.path().join("one.txt"), &link).unwrap();
    let files = StaticFiles::new(dir.path(), StaticOptions::default()).unwrap();
    let entry = files.load("/current.txt", MAX).unwrap();
    assert_eq!(entry.body().as_ref(), b"one");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(dir.path().join("two.txt"), &link).unwrap();
    assert!(!files.is_current(&entry));
}

/// A negative cache entry (a remembered 404) answers as the disk path does, for every method
/// and whatever the request carries, and is dropped as soon as the file appears.
#[test]
fn a_refused_tail_answers_from_memory_as_from_disk_until_the_file_appears() {
    let dir = docroot();
    let files = StaticFiles::new(dir.path(), StaticOptions::default()).unwrap();
    let cases = [
        ("/missing.txt", Rejection::NotFound),
        ("/.hidden", Rejection::NotFound),
        ("/docs/nope/deeper.html", Rejection::NotFound),
    ];
    std::fs::write(dir.path().join(".hidden"), b"secret").unwrap();
    for (tail, expected) in cases {
        let rejection = match files.load(tail, MAX) {
            Err(NotCacheable::Rejected(rejection)) => rejection,
            other => panic!("{tail}: {other:?}"),
        };
        assert_eq!(rejection, expected, "{tail}");
        assert!(files.still_refused(tail, rejection), "{tail}");
        for (method, fields) in [
            ("GET", ""),
            ("HEAD", ""),
            ("GET", "Accept-Encoding: gzip\r\n"),
            ("GET", "Range: bytes=0-9\r\n"),
            ("GET", "If-None-Match: *\r\n"),
            ("OPTIONS", ""),
            ("POST", "Content-Length: 0\r\n"),
            ("DELETE", ""),
        ] {
            let request = get(method, tail, fields);
            assert_eq!(
                files.respond_refused(rejection, &request),
                files.serve(&request, tail),
                "{method} {tail} {fields:?}"
            );
        }
    }
    std::fs::write(dir.path().join("missing.txt"), b"here now").unwrap();
    assert!(!files.still_refused("/missing.txt", Rejection::NotFound));
    assert!(!files.still_refused("/missing.txt", Rejection::Forbidden));
}
