//! Property tests: incremental parsing is split-invariant, serialisation round-trips, and path
//! resolution never leaves the document root.

mod common;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use std::path::Component;
use web_server_http::date::DateCache;
use web_server_http::static_files::resolve::{self, Located};
use web_server_http::{
    parse_request, Body, BodyDecoder, Limits, Method, Parsed, RequestInfo, RequestParser, Response,
    ResponseEncoder, StaticOptions, StatusCode, Version,
};

/// A request as generated, independent of the parser.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Generated {
    method: Method,
    target: String,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
    /// Chunk sizes for a chunked body; `None` for Content-Length.
    chunks: Option<Vec<usize>>,
}

impl Generated {
    fn serialise(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nHost: example.test\r\n",
            self.method, self.target
        )
        .into_bytes();
        for (name, value) in &self.fields {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        match &self.chunks {
            None if self.body.is_empty() => out.extend_from_slice(b"\r\n"),
            None => {
                out.extend_from_slice(
                    format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes(),
                );
                out.extend_from_slice(&self.body);
            }
            Some(sizes) => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                let mut rest = &self.body[..];
                for &size in sizes {
                    let size = size.min(rest.len());
                    if size == 0 {
                        continue;
                    }
                    out.extend_from_slice(format!("{size:x};ext=1\r\n").as_bytes());
                    out.extend_from_slice(&rest[..size]);
                    out.extend_from_slice(b"\r\n");
                    rest = &rest[size..];
                }
                if !rest.is_empty() {
                    out.extend_from_slice(format!("{:X}\r\n", rest.len()).as_bytes());
                    out.extend_from_slice(rest);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\nTrailer-Field: t\r\n\r\n");
            }
        }
        out
    }
}

/// What the parser reported for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observed {
    method: Method,
    target: String,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Options,
    ])
}

fn target() -> impl Strategy<Value = String> {
    (
        "(/[a-zA-Z0-9._~!$&'()*+,;=:@-]{0,8}|/%[0-9A-F]{2}){1,4}",
        proptest::option::of("[a-zA-Z0-9=&/?%20-]{0,12}"),
    )
        .prop_map(|(path, query)| {
            let path = without_dot_segments(&path);
            match query {
                Some(query) => format!("{path}?{}", query.replace('%', "%25")),
                None => path,
            }
        })
}

/// Replaces dot-segments (`.`, `..`, also written `%2E`): the parser resolves them, and refuses
/// a path they take above the root, while these properties are about framing.
fn without_dot_segments(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let decoded = segment.replace("%2E", ".").replace("%2e", ".");
            if decoded == "." || decoded == ".." {
                "_"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn field() -> impl Strategy<Value = (String, String)> {
    ("X-[A-Za-z0-9-]{1,10}", "[!-~]([ -~]{0,20}[!-~])?")
}

fn generated() -> impl Strategy<Value = Generated> {
    (
        method(),
        target(),
        prop::collection::vec(field(), 0..6),
        prop::collection::vec(any::<u8>(), 0..200),
        proptest::option::of(prop::collection::vec(1usize..64, 0..8)),
    )
        .prop_map(|(method, target, fields, body, chunks)| Generated {
            method,
            target,
            fields,
            body,
            chunks,
        })
}

fn expected(generated: &Generated) -> Observed {
    Observed {
        method: generated.method,
        target: generated.target.clone(),
        fields: generated.fields.clone(),
        body: generated.body.clone(),
    }
}

/// A server-style read loop: bytes arrive in `pieces`, requests are parsed from one buffer.
fn drive(pieces: &[&[u8]]) -> Vec<Observed> {
    let limits = Limits::default();
    let mut parser = RequestParser::new(limits);
    let mut buf = BytesMut::new();
    let mut observed = Vec::new();
    let mut pending: Option<(web_server_http::RequestHead, Bytes, BodyDecoder, BytesMut)> = None;
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            if let Some((head, head_bytes, mut decoder, mut body)) = pending.take() {
                while let Some(data) = decoder.next_data(&mut buf).unwrap() {
                    body.extend_from_slice(&data);
                }
                if !decoder.is_done() {
                    pending = Some((head, head_bytes, decoder, body));
                    break;
                }
                let request = head.into_request(head_bytes, body.freeze());
                observed.push(Observed {
                    method: request.method(),
                    target: request.target().to_owned(),
                    fields: request
                        .headers()
                        .filter(|(name, _)| name.starts_with("X-"))
                        .map(|(name, value)| {
                            (name.to_owned(), String::from_utf8(value.to_vec()).unwrap())
                        })
                        .collect(),
                    body: request.body().to_vec(),
                });
                continue;
            }
            match parser.parse(&buf).unwrap() {
                Parsed::Partial => break,
                Parsed::Complete { head, consumed } => {
                    let head_bytes = buf.split_to(consumed).freeze();
                    let decoder = BodyDecoder::new(head.body_framing(), &limits);
                    pending = Some((head, head_bytes, decoder, BytesMut::new()));
                }
            }
        }
    }
    assert!(pending.is_none(), "stream ended inside a request");
    assert!(
        buf.is_empty(),
        "unconsumed bytes: {:?}",
        String::from_utf8_lossy(&buf)
    );
    observed
}

fn split_at_points<'a>(stream: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = points.iter().map(|p| p % (stream.len() + 1)).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts {
        pieces.push(&stream[start..cut]);
        start = cut;
    }
    pieces.push(&stream[start..]);
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn pipelined_stream_split_anywhere_parses_to_the_same_requests(
        requests in prop::collection::vec(generated(), 1..5),
        points in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let stream: Vec<u8> = requests.iter().flat_map(Generated::serialise).collect();
        let whole = drive(&[&stream]);
        let expected: Vec<Observed> = requests.iter().map(expected).collect();
        prop_assert_eq!(&whole, &expected);
        let pieces = split_at_points(&stream, &points);
        prop_assert_eq!(drive(&pieces), expected);
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        prop_assert_eq!(drive(&bytewise), whole);
    }

    #[test]
    fn serialised_request_round_trips(request in generated()) {
        let raw = request.serialise();
        let (parsed, used) = parse_request(&raw, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(used, raw.len());
        prop_assert_eq!(parsed.method(), request.method);
        prop_assert_eq!(parsed.target(), request.target.as_str());
        prop_assert_eq!(parsed.version(), Version::Http11);
        prop_assert_eq!(parsed.host(), Some("example.test"));
        prop_assert_eq!(&parsed.body()[..], &request.body[..]);
        for (name, value) in &request.fields {
            prop_assert!(parsed.header_values(name).any(|v| v == value.as_bytes()));
        }
    }

    #[test]
    fn encoded_response_round_trips_through_httparse(
        status in 200u16..600,
        fields in prop::collection::vec(field(), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..300),
        head_request in any::<bool>(),
        keep_alive in any::<bool>(),
    ) {
        let status = StatusCode::from_u16(status).unwrap();
        let mut response = Response::new(status).with_body(body.clone());
        for (name, value) in &fields {
            response.append_header(name.clone(), value.clone()).unwrap();
        }
        let mut encoder = ResponseEncoder::with_date_cache(Some("test"), DateCache::default()).unwrap();
        let method = if head_request { Method::Head } else { Method::Get };
        let mut out = Vec::new();
        let encoded = encoder.encode(&response, &RequestInfo { method, version: Version::Http11, keep_alive }, &mut out);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(head_len) = parsed.parse(&out).unwrap() else { panic!("incomplete head") };
        prop_assert_eq!(head_len, out.len());
        prop_assert_eq!(parsed.code, Some(status.as_u16()));
        let lengths: Vec<&[u8]> = parsed.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("content-length")).map(|h| h.value).collect();
        let chunked = parsed.headers.iter().any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"));
        prop_assert!(!chunked, "full bodies are never chunked");
        if status.permits_content() {
            let expected_length = body.len().to_string();
            prop_assert_eq!(lengths, vec![expected_length.as_bytes()]);
        } else {
            prop_assert!(lengths.is_empty());
        }
        for (name, value) in &fields {
            prop_assert!(parsed.headers.iter().any(|h| h.name == name && h.value == value.as_bytes()));
        }
        let closes = parsed.headers.iter().any(|h| h.name == "Connection" && h.value == b"close");
        prop_assert_eq!(closes, !keep_alive);
        prop_assert_eq!(encoded.close, !keep_alive);
        let sends_body = !head_request && status.permits_content() && !body.is_empty();
        prop_assert_eq!(encoded.body.clone().map(|b| b.to_vec()), sends_body.then_some(body.clone()));

        // The same content written by the server itself: the same head, framing and persistence.
        let mut deferred = response.clone();
        deferred.set_body(Body::Deferred(body.len() as u64));
        let mut deferred_out = Vec::new();
        let deferred_encoded = encoder.encode(&deferred, &RequestInfo { method, version: Version::Http11, keep_alive }, &mut deferred_out);
        let without_date = |head: &[u8]| String::from_utf8_lossy(head).lines().filter(|line| !line.starts_with("Date:")).collect::<Vec<_>>().join("\n");
        prop_assert_eq!(without_date(&deferred_out), without_date(&out));
        prop_assert_eq!(deferred_encoded.framing, encoded.framing);
        prop_assert_eq!(deferred_encoded.close, encoded.close);
        prop_assert_eq!(deferred_encoded.body, None);
    }

    #[test]
    fn chunked_decoding_is_split_invariant(
        body in prop::collection::vec(any::<u8>(), 0..500),
        sizes in prop::collection::vec(1usize..100, 0..10),
        points in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let generated = Generated { method: Method::Post, target: "/".into(), fields: vec![], body: body.clone(), chunks: Some(sizes) };
        let raw = generated.serialise();
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let encoded = &raw[head_end..];
        let mut decoder = BodyDecoder::new(web_server_http::BodyFraming::Chunked, &Limits::default());
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        for piece in split_at_points(encoded, &points) {
            buf.extend_from_slice(piece);
            while let Some(data) = decoder.next_data(&mut buf).unwrap() {
                decoded.extend_from_slice(&data);
            }
        }
        prop_assert!(decoder.is_done());
        prop_assert!(buf.is_empty());
        prop_assert_eq!(decoded, body);
    }

    #[test]
    fn normalized_paths_never_climb_above_the_root(input in "(/|\\.|\\.\\.|%2e|%2E|%2f|%5c|%00|%c0%ae|a|b|\\\\|%|%41|é|\\x00)*") {
        if let Ok(path) = resolve::normalize(&input) {
            let relative = path.relative_path();
            prop_assert!(relative.components().all(|c| matches!(c, Component::Normal(_))), "{:?}", relative);
            for segment in path.segments() {
                prop_assert!(segment != "." && segment != ".." && !segment.contains('/') && !segment.contains('\\') && !segment.contains('\0'));
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_resolve_outside_the_root(input in "\\PC{0,40}") {
        if let Ok(path) = resolve::normalize(&input) {
            prop_assert!(path.relative_path().components().all(|c| matches!(c, Component::Normal(_))));
        }
    }
}

#[cfg(unix)]
#[test]
fn located_files_are_always_inside_the_canonical_root() {
    let outer = common::TempDir::new("prop-locate");
    outer.write("secret", b"s");
    outer.write("root/a/b", b"b");
    outer.write("root/c", b"c");
    let root = std::fs::canonicalize(outer.path().join("root")).unwrap();
    std::os::unix::fs::symlink(outer.path().join("secret"), root.join("out")).unwrap();
    std::os::unix::fs::symlink(outer.path(), root.join("up")).unwrap();
    let options = StaticOptions {
        show_dotfiles: true,
        ..StaticOptions::default()
    };
    let alphabet = prop::collection::vec(
        prop::sample::select(vec![
            "/", "..", ".", "%2e%2e", "a", "b", "c", "out", "up", "secret", "root", "%2e", "//",
        ]),
        0..12,
    );
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 2000,
        ..ProptestConfig::default()
    });
    runner
        .run(&alphabet, |parts| {
            let input: String = parts.concat();
            if let Ok(path) = resolve::normalize(&input) {
                if let Ok(Located::File { path, .. }) = resolve::locate(&root, &path, &options) {
                    prop_assert!(path.starts_with(&root), "{input:?} resolved to {path:?}");
                }
            }
            Ok(())
        })
        .unwrap();
}

/// The PROXY protocol parser on arbitrary input, and on headers mutated a byte at a time:
/// it never panics, a complete header never claims more bytes than it was given (nor more than
/// the spec allows), and every prefix of a header is partial, never an error or a different
/// header.
#[test]
fn proxy_protocol_parser_is_total_and_prefix_consistent() {
    use web_server_http::proxy_protocol::{parse, v2_header, ProxyParse, V1_MAX, V2_MAX};
    let check = |bytes: &[u8]| {
        if let Ok(ProxyParse::Complete { len, .. }) = parse(bytes) {
            assert!(len <= bytes.len() && len <= V2_MAX.max(V1_MAX), "{bytes:?}");
            for end in 0..len {
                assert_eq!(
                    parse(&bytes[..end]),
                    Ok(ProxyParse::Partial),
                    "prefix {end} of {bytes:?}"
                );
            }
            assert_eq!(
                parse(&bytes[..len]),
                parse(bytes),
                "what follows the header changes nothing"
            );
        }
    };
    let headers = prop_oneof![
        Just(b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n".to_vec()),
        Just(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n".to_vec()),
        Just(b"PROXY UNKNOWN\r\n".to_vec()),
        Just(v2_header(
            "192.0.2.1:1".parse().unwrap(),
            "198.51.100.2:2".parse().unwrap(),
            &[]
        )),
        Just(v2_header(
            "[2001:db8::1]:1".parse().unwrap(),
            "[::1]:2".parse().unwrap(),
            &[1, 0, 1, b'x']
        )),
    ];
    let mutated = (
        headers,
        any::<usize>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(mut header, at, byte, tail)| {
            let at = at % header.len();
            header[at] = byte;
            header.extend_from_slice(&tail);
            header
        });
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 4000,
        ..ProptestConfig::default()
    });
    runner
        .run(&mutated, |bytes| {
            check(&bytes);
            Ok(())
        })
        .unwrap();
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..300), |bytes| {
            check(&bytes);
            Ok(())
        })
        .unwrap();
}
