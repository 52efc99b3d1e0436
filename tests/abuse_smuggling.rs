//! Request smuggling (issue 9, "Abuse"; RFC 9112 §6): every ambiguous or malformed framing is
//! rejected with 400 (501 for an unknown transfer coding, which RFC 9112 §6.1 allows) and the
//! connection is closed, and a second request hidden in the body is never read out of it.
//!
//! Each attack hides `GET /smuggled` where a lenient or differently-parsing server would take it
//! for the next request. That route answers a unique marker and counts its calls: the test fails
//! if the marker appears in any answer or the route ever runs.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::abuse::{send_and_receive, Received};
use support::http::{connect, find, read_reply, split_replies, Reply};
use support::TestServer;
use web_server::http::{Response, Router, StatusCode};
use web_server::server::ServerConfig;

/// The hidden second request.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
/// What `/smuggled` answers: it must never show up.
const MARKER: &[u8] = b"SMUGGLED-REQUEST-WAS-EXECUTED-7c1e9b";

struct Target {
    server: TestServer,
    smuggled_calls: Arc<AtomicUsize>,
}

fn start() -> Target {
    let smuggled_calls = Arc::new(AtomicUsize::new(0));
    let calls = smuggled_calls.clone();
    let config = ServerConfig {
        workers: 2,
        shutdown_timeout: std::time::Duration::from_secs(1),
        ..ServerConfig::default()
    };
    let server = TestServer::start(config, move || {
        let mut router = Router::new();
        router
            .post("/submit", |_req, _params| {
                Response::text(StatusCode::OK, "submitted\n")
            })
            .unwrap();
        router
            .get("/smuggled", move |_req, _params| {
                calls.fetch_add(1, Ordering::SeqCst);
                Response::text(StatusCode::OK, String::from_utf8(MARKER.to_vec()).unwrap())
            })
            .unwrap();
        router
    });
    Target {
        server,
        smuggled_calls,
    }
}

/// `POST /submit` (or `version`) with `fields` (each line ending in CRLF) and `body`.
fn post(version: &str, fields: &str, body: &str) -> Vec<u8> {
    let host = if version == "HTTP/1.1" {
        "Host: t\r\n"
    } else {
        ""
    };
    format!("POST /submit {version}\r\n{host}{fields}\r\n{body}").into_bytes()
}

/// The body a Transfer-Encoding-reading server ends early, leaving [`SMUGGLED`] as the next
/// request (the CL.TE shape).
fn last_chunk_then_smuggled() -> String {
    format!("0\r\n\r\n{SMUGGLED}")
}

/// A chunked body whose one chunk is [`SMUGGLED`] (the TE.CL shape: a Content-Length reader
/// stops after the size line and takes the chunk for the next request).
fn smuggled_in_a_chunk() -> String {
    format!("{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len())
}

/// Asserts `received` is exactly one answer and the hidden request neither ran nor was answered;
/// returns the answers and the received bytes as text, for messages.
fn one_answer_nothing_smuggled(
    target: &Target,
    name: &str,
    received: &Received,
) -> (Vec<Reply>, String) {
    let (responses, rest) = split_replies(&received.bytes);
    let shown = String::from_utf8_lossy(&received.bytes).into_owned();
    assert!(
        find(&received.bytes, MARKER).is_none(),
        "{name}: the smuggled request was answered: {shown}"
    );
    assert_eq!(
        target.smuggled_calls.load(Ordering::SeqCst),
        0,
        "{name}: the smuggled request ran"
    );
    assert_eq!(responses.len(), 1, "{name}: expected one answer: {shown}");
    assert!(rest.is_empty(), "{name}: bytes after the answer: {shown}");
    (responses, shown)
}

/// Asserts the attack was rejected with one of `allowed`, the connection closed, and nothing
/// of the hidden request executed; returns the status.
fn assert_rejected(target: &Target, name: &str, request: Vec<u8>, allowed: &[u16]) -> u16 {
    let received: Received = send_and_receive(target.server.addr, request, false);
    let (responses, shown) = one_answer_nothing_smuggled(target, name, &received);
    let status = responses[0].status;
    assert!(
        allowed.contains(&status),
        "{name}: answered {status}, expected one of {allowed:?}: {shown}"
    );
    assert_eq!(
        responses[0].header("connection"),
        Some("close"),
        "{name}: the answer announces the close"
    );
    assert!(
        received.closed,
        "{name}: the server kept the connection open after {status}"
    );
    status
}

/// Asserts a well-framed request whose body holds [`SMUGGLED`] was answered once with
/// `expected`, as data: the hidden request never ran.
fn assert_body_is_data(target: &Target, name: &str, request: Vec<u8>, expected: u16) {
    let received = send_and_receive(target.server.addr, request, true);
    let (responses, shown) = one_answer_nothing_smuggled(target, name, &received);
    assert_eq!(responses[0].status, expected, "{name}: {shown}");
    assert!(received.closed, "{name}: closed after the client's FIN");
}

#[test]
fn the_smuggled_route_answers_when_asked_directly() {
    // The detector works: asked for directly, /smuggled answers the marker.
    let target = start();
    let received = send_and_receive(target.server.addr, SMUGGLED.as_bytes().to_vec(), true);
    assert!(find(&received.bytes, MARKER).is_some());
    assert_eq!(target.smuggled_calls.load(Ordering::SeqCst), 1);
}

#[test]
fn cl_te_and_te_cl_are_400_and_close() {
    let target = start();
    let body = last_chunk_then_smuggled();
    let cl_te = format!(
        "Content-Length: {}\r\nTransfer-Encoding: chunked\r\n",
        body.len()
    );
    assert_rejected(&target, "CL.TE", post("HTTP/1.1", &cl_te, &body), &[400]);

    let body = smuggled_in_a_chunk();
    let size_line = format!("{:x}\r\n", SMUGGLED.len());
    let te_cl = format!(
        "Transfer-Encoding: chunked\r\nContent-Length: {}\r\n",
        size_line.len()
    );
    assert_rejected(&target, "TE.CL", post("HTTP/1.1", &te_cl, &body), &[400]);

    // Content-Length beside any Transfer-Encoding, whatever the coding.
    let body = last_chunk_then_smuggled();
    let te_identity_cl = format!(
        "Transfer-Encoding: identity\r\nContent-Length: {}\r\n",
        body.len()
    );
    assert_rejected(
        &target,
        "TE identity + CL",
        post("HTTP/1.1", &te_identity_cl, &body),
        &[400],
    );
}

/// Obfuscated `Transfer-Encoding` lines, each a full field line (or lines) with its CRLF, and
/// whether the result is still exactly one `chunked` coding (RFC 9110 §5.5 strips OWS;
/// RFC 9112 §7 makes coding names case-insensitive; RFC 9110 §5.6.1 ignores empty list
/// elements).
const OBFUSCATED: &[(&str, &str, bool)] = &[
    ("case Chunked", "Transfer-Encoding: Chunked\r\n", true),
    ("case CHUNKED", "Transfer-Encoding: CHUNKED\r\n", true),
    ("case in the name", "transfer-ENCODING: chunked\r\n", true),
    ("two spaces", "Transfer-Encoding:  chunked\r\n", true),
    ("trailing space", "Transfer-Encoding: chunked \r\n", true),
    ("tab", "Transfer-Encoding:\tchunked\r\n", true),
    ("tabs around", "Transfer-Encoding: \tchunked\t\r\n", true),
    (
        "empty list element",
        "Transfer-Encoding: ,chunked,\r\n",
        true,
    ),
    (
        "space before colon",
        "Transfer-Encoding : chunked\r\n",
        false,
    ),
    (
        "tab before colon",
        "Transfer-Encoding\t: chunked\r\n",
        false,
    ),
    (
        "leading space (obs-fold)",
        " Transfer-Encoding: chunked\r\n",
        false,
    ),
    ("folded value", "Transfer-Encoding:\r\n chunked\r\n", false),
    (
        "folded second coding",
        "Transfer-Encoding: x\r\n\tchunked\r\n",
        false,
    ),
    (
        "duplicate lines",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        false,
    ),
    (
        "duplicate in a list",
        "Transfer-Encoding: chunked, chunked\r\n",
        false,
    ),
    (
        "chunked, identity",
        "Transfer-Encoding: chunked, identity\r\n",
        false,
    ),
    (
        "chunked then identity lines",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
        false,
    ),
    (
        "identity, chunked",
        "Transfer-Encoding: identity, chunked\r\n",
        false,
    ),
    ("identity", "Transfer-Encoding: identity\r\n", false),
    (
        "vertical tab before",
        "Transfer-Encoding: \x0bchunked\r\n",
        false,
    ),
    (
        "vertical tab after",
        "Transfer-Encoding: chunked\x0b\r\n",
        false,
    ),
    (
        "vertical tab for the space",
        "Transfer-Encoding:\x0bchunked\r\n",
        false,
    ),
    ("form feed", "Transfer-Encoding: \x0cchunked\r\n", false),
    ("NUL", "Transfer-Encoding: chunked\x00\r\n", false),
    ("double-quoted", "Transfer-Encoding: \"chunked\"\r\n", false),
    ("single-quoted", "Transfer-Encoding: 'chunked'\r\n", false),
    ("prefixed", "Transfer-Encoding: xchunked\r\n", false),
    ("suffixed", "Transfer-Encoding: chunkedx\r\n", false),
    (
        "Kelvin sign K",
        "Transfer-Encoding: chun\u{212a}ed\r\n",
        false,
    ),
    (
        "parameter",
        "Transfer-Encoding: chunked;q=1, identity\r\n",
        false,
    ),
    ("underscore name", "Transfer_Encoding: chunked\r\n", false),
];

#[test]
fn obfuscated_transfer_encoding_with_content_length_is_400_and_close() {
    let target = start();
    let body = last_chunk_then_smuggled();
    for (name, te, _) in OBFUSCATED {
        if name == &"underscore name" {
            // Not a Transfer-Encoding at all: the Content-Length frames the body (below).
            continue;
        }
        // 501 only where RFC 9112 §6.1 allows it: an unknown coding before `chunked`.
        let allowed: &[u16] = match *name {
            "identity, chunked" => &[400, 501],
            _ => &[400],
        };
        let fields = format!("Content-Length: {}\r\n{te}", body.len());
        assert_rejected(
            &target,
            &format!("CL + TE {name}"),
            post("HTTP/1.1", &fields, &body),
            allowed,
        );
        let fields = format!("{te}Content-Length: {}\r\n", body.len());
        assert_rejected(
            &target,
            &format!("TE {name} + CL"),
            post("HTTP/1.1", &fields, &body),
            allowed,
        );
    }
    // `Transfer_Encoding` is some other field: the Content-Length frames the whole body,
    // hidden request included, as data.
    let fields = format!(
        "Content-Length: {}\r\nTransfer_Encoding: chunked\r\n",
        body.len()
    );
    assert_body_is_data(
        &target,
        "CL + Transfer_Encoding",
        post("HTTP/1.1", &fields, &body),
        200,
    );
}

#[test]
fn obfuscated_transfer_encoding_alone_is_rejected_or_decoded_exactly() {
    let target = start();
    let mut statuses = Vec::new();
    for (name, te, still_chunked) in OBFUSCATED {
        if *still_chunked {
            // Exactly `chunked` after OWS stripping and case folding: a valid chunked body,
            // whose chunk (the hidden request) is data.
            assert_body_is_data(
                &target,
                &format!("TE {name}"),
                post("HTTP/1.1", te, &smuggled_in_a_chunk()),
                200,
            );
        } else if name == &"underscore name" {
            // No framing at all: no body, so the bytes after the head are the next request,
            // as the client sent them; nothing ambiguous about it.
            continue;
        } else {
            let status = assert_rejected(
                &target,
                &format!("TE {name}"),
                post("HTTP/1.1", te, &last_chunk_then_smuggled()),
                &[400, 501],
            );
            statuses.push((name, status));
        }
    }
    // 501 only where RFC 9112 §6.1 allows it: an unknown coding before `chunked`.
    for (name, status) in statuses {
        if status == 501 {
            assert_eq!(*name, "identity, chunked", "501 for {name}");
        }
    }
}

#[test]
fn duplicate_and_invalid_content_length_is_400_and_close() {
    let target = start();
    let n = SMUGGLED.len();
    // The hidden request right after the head: a server taking the length as 0 would read it.
    let cases: Vec<(String, String)> = vec![
        (
            "0 then n".into(),
            format!("Content-Length: 0\r\nContent-Length: {n}\r\n"),
        ),
        (
            "n then 0".into(),
            format!("Content-Length: {n}\r\nContent-Length: 0\r\n"),
        ),
        ("list 0, n".into(), format!("Content-Length: 0, {n}\r\n")),
        ("list n, 0".into(), format!("Content-Length: {n}, 0\r\n")),
        ("plus sign".into(), "Content-Length: +0\r\n".into()),
        ("minus sign".into(), "Content-Length: -0\r\n".into()),
        ("negative".into(), "Content-Length: -1\r\n".into()),
        ("hex".into(), "Content-Length: 0x0\r\n".into()),
        ("decimal point".into(), "Content-Length: 0.0\r\n".into()),
        ("exponent".into(), "Content-Length: 0e1\r\n".into()),
        ("empty".into(), "Content-Length: \r\n".into()),
        ("inner space".into(), format!("Content-Length: 0 {n}\r\n")),
        ("quoted".into(), "Content-Length: \"0\"\r\n".into()),
        ("vertical tab".into(), "Content-Length: 0\x0b\r\n".into()),
        (
            "2^64 (wraps to 0)".into(),
            "Content-Length: 18446744073709551616\r\n".into(),
        ),
        (
            "overflow".into(),
            "Content-Length: 99999999999999999999999999\r\n".into(),
        ),
        ("space before colon".into(), "Content-Length : 0\r\n".into()),
        ("folded".into(), format!("Content-Length: 0\r\n {n}\r\n")),
    ];
    for (name, fields) in cases {
        assert_rejected(
            &target,
            &format!("Content-Length {name}"),
            post("HTTP/1.1", &fields, SMUGGLED),
            &[400],
        );
    }
}

#[test]
fn malformed_chunk_sizes_are_400_and_close() {
    let target = start();
    let chunked = "Transfer-Encoding: chunked\r\n";
    // Each body is one a lenient decoder would end early, leaving the hidden request next.
    let cases: Vec<(&str, String)> = vec![
        ("bare LF after the last chunk", format!("0\n\n{SMUGGLED}")),
        (
            "bare LF after a size",
            format!("5\nhello\r\n0\r\n\r\n{SMUGGLED}"),
        ),
        (
            "bare LF after data",
            format!("5\r\nhello\n0\r\n\r\n{SMUGGLED}"),
        ),
        ("bare CR", format!("0\r\r\n\r\n{SMUGGLED}")),
        (
            "2^64 (wraps to 0)",
            format!("10000000000000000\r\n\r\n{SMUGGLED}"),
        ),
        (
            "2^64 + 5 (wraps to 5)",
            format!("10000000000000005\r\nhello\r\n0\r\n\r\n{SMUGGLED}"),
        ),
        (
            "far overflow",
            format!("fffffffffffffffffffff\r\n\r\n{SMUGGLED}"),
        ),
        ("plus sign", format!("+0\r\n\r\n{SMUGGLED}")),
        ("minus sign", format!("-0\r\n\r\n{SMUGGLED}")),
        ("negative", format!("-1\r\n\r\n{SMUGGLED}")),
        ("0x prefix", format!("0x0\r\n\r\n{SMUGGLED}")),
        (
            "0x prefix on data",
            format!("0x5\r\nhello\r\n0\r\n\r\n{SMUGGLED}"),
        ),
        ("leading space", format!(" 0\r\n\r\n{SMUGGLED}")),
        ("trailing space", format!("0 \r\n\r\n{SMUGGLED}")),
        ("trailing tab", format!("0\t\r\n\r\n{SMUGGLED}")),
        ("vertical tab", format!("0\x0b\r\n\r\n{SMUGGLED}")),
        ("empty size", format!("\r\n\r\n{SMUGGLED}")),
        ("not hex", format!("g\r\n\r\n{SMUGGLED}")),
        ("underscore", format!("0_0\r\n\r\n{SMUGGLED}")),
        ("decimal point", format!("0.0\r\n\r\n{SMUGGLED}")),
        (
            "size larger than its data",
            format!("3\r\nhello\r\n0\r\n\r\n{SMUGGLED}"),
        ),
        ("extension without a name", format!("0;\r\n\r\n{SMUGGLED}")),
    ];
    for (name, body) in cases {
        assert_rejected(
            &target,
            &format!("chunk size {name}"),
            post("HTTP/1.1", chunked, &body),
            &[400],
        );
    }
}

#[test]
fn transfer_encoding_in_http_1_0_is_400_and_close() {
    let target = start();
    let body = last_chunk_then_smuggled();
    assert_rejected(
        &target,
        "HTTP/1.0 + TE",
        post("HTTP/1.0", "Transfer-Encoding: chunked\r\n", &body),
        &[400],
    );
    assert_rejected(
        &target,
        "HTTP/1.0 keep-alive + TE",
        post(
            "HTTP/1.0",
            "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n",
            &body,
        ),
        &[400],
    );
    let fields = format!(
        "Transfer-Encoding: chunked\r\nContent-Length: {}\r\n",
        body.len()
    );
    assert_rejected(
        &target,
        "HTTP/1.0 + TE + CL",
        post("HTTP/1.0", &fields, &body),
        &[400],
    );
}

#[test]
fn well_framed_bodies_holding_a_request_are_data() {
    // The control group: correctly framed bodies are read whole, whatever they contain.
    let target = start();
    let cl = format!("Content-Length: {}\r\n", SMUGGLED.len());
    assert_body_is_data(&target, "CL body", post("HTTP/1.1", &cl, SMUGGLED), 200);
    assert_body_is_data(
        &target,
        "chunked body",
        post(
            "HTTP/1.1",
            "Transfer-Encoding: chunked\r\n",
            &smuggled_in_a_chunk(),
        ),
        200,
    );
    // A GET with a body: the body is read (RFC 9110 §9.3.1 gives it no meaning), then 405.
    let get = format!("GET /submit HTTP/1.1\r\nHost: t\r\n{cl}\r\n{SMUGGLED}");
    assert_body_is_data(&target, "GET with a body", get.into_bytes(), 405);
    // A rejected request whose body cannot be skipped safely closes (Host errors keep the
    // connection only when nothing must be skipped).
    let no_host = format!("POST /submit HTTP/1.1\r\n{cl}\r\n{SMUGGLED}");
    assert_rejected(&target, "no Host, CL body", no_host.into_bytes(), &[400]);
    let two_hosts =
        format!("POST /submit HTTP/1.1\r\nHost: localhost\r\nHost: b\r\n{cl}\r\n{SMUGGLED}");
    assert_rejected(
        &target,
        "two Hosts, CL body",
        two_hosts.into_bytes(),
        &[400],
    );
    let unknown = format!("BREW /submit HTTP/1.1\r\nHost: t\r\n{cl}\r\n{SMUGGLED}");
    assert_rejected(
        &target,
        "unknown method, CL body",
        unknown.into_bytes(),
        &[501],
    );
}

#[test]
fn a_chunked_body_sent_in_one_write_is_answered_at_once_and_the_connection_kept() {
    // Regression: the connection decoded one piece of a chunked body per socket read, so a body
    // that arrived whole waited for bytes that never came and was answered 408 at the body
    // timeout (or not at all after a half-close).
    let target = start();
    let mut conn = connect(target.server.addr);
    let request = post(
        "HTTP/1.1",
        "Transfer-Encoding: chunked\r\n",
        "5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer-Field: x\r\n\r\n",
    );
    let began = std::time::Instant::now();
    for _ in 0..3 {
        std::io::Write::write_all(&mut conn, &request).unwrap();
        let reply = read_reply(&mut conn, false);
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (200, &b"submitted\n"[..])
        );
    }
    assert!(
        began.elapsed() < std::time::Duration::from_secs(2),
        "answered in {:?}, not at a timeout",
        began.elapsed()
    );
}
