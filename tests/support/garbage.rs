//! The garbage generator of the abuse suite (`tests/abuse_garbage.rs`,
//! `tests/abuse_listeners.rs`): seeded pseudo-random or mutated requests from a deterministic
//! PRNG, so every run sends the same bytes.

use super::abuse::Xorshift;

/// Well-formed requests the mutations start from: routes, static files, bodies both ways,
/// conditionals, ranges, gzip, pipelining, the odd request-target forms.
pub const TEMPLATES: &[&[u8]] = &[
    b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /index.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, deflate\r\nIf-None-Match: \"x\"\r\n\r\n",
    b"GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1,3-\r\nIf-Range: \"x\"\r\n\r\n",
    b"HEAD /sub/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
    b"PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET http://t:80/hello/x?y=z HTTP/1.1\r\nHost: other\r\n\r\n",
    b"CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET /hello/a HTTP/1.1\r\nHost: t\r\n\r\nGET /hello/b HTTP/1.1\r\nHost: t\r\n\r\n",
];

/// Bytes that make parsers take unusual paths.
pub const INTERESTING: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\0",
    b" ",
    b"\t",
    b":",
    b"%",
    b"%00",
    b"%2e%2e/",
    b"../",
    b"\\",
    b"\xff",
    b"\xc0\xae",
    b"\x0b",
    b"\r\n\r\n",
    b" HTTP/1.1",
    b"HTTP/2.0",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 18446744073709551616\r\n",
    b"Content-Length: 3\r\n",
    b"Host: a\r\n",
    b"Expect: 100-continue\r\n",
    b"Range: bytes=-0,0-,5-1\r\n",
    b"fffffffffffffffff\r\n",
    b"0\r\n\r\n",
];

/// One garbage request: 10 % uniform random bytes, 10 % random printable lines, 80 % one of
/// [`TEMPLATES`] with one to six mutations.
pub fn generate(rng: &mut Xorshift) -> Vec<u8> {
    generate_from(rng, TEMPLATES)
}

/// One garbage request as [`generate`] makes them, mutating `templates`.
pub fn generate_from(rng: &mut Xorshift, templates: &[&[u8]]) -> Vec<u8> {
    match rng.below(10) {
        0 => (0..rng.below(1024)).map(|_| rng.byte()).collect(),
        1 => {
            let mut out = Vec::new();
            for _ in 0..rng.below(12) {
                for _ in 0..rng.below(60) {
                    out.push(b' ' + (rng.below(95) as u8));
                }
                out.extend_from_slice(if rng.percent(80) { b"\r\n" } else { b"\n" });
            }
            out
        }
        _ => {
            let mut out = rng.pick(templates).to_vec();
            for _ in 0..1 + rng.below(6) {
                mutate(rng, &mut out);
            }
            out
        }
    }
}

/// Applies one random mutation to `bytes`.
pub fn mutate(rng: &mut Xorshift, bytes: &mut Vec<u8>) {
    if bytes.is_empty() {
        let insert: &&[u8] = rng.pick(INTERESTING);
        bytes.extend_from_slice(insert);
        return;
    }
    let at = rng.below(bytes.len());
    match rng.below(8) {
        0 => bytes[at] ^= 1 << rng.below(8),
        1 => bytes[at] = rng.byte(),
        2 => {
            let insert = rng.pick(INTERESTING).to_vec();
            bytes.splice(at..at, insert);
        }
        3 => {
            let end = (at + 1 + rng.below(16)).min(bytes.len());
            bytes.drain(at..end);
        }
        4 => {
            let end = (at + 1 + rng.below(32)).min(bytes.len());
            let copy = bytes[at..end].to_vec();
            let to = rng.below(bytes.len());
            bytes.splice(to..to, copy);
        }
        5 => bytes.truncate(at),
        6 => {
            let end = (at + 1 + rng.below(8)).min(bytes.len());
            for b in &mut bytes[at..end] {
                b.make_ascii_uppercase();
            }
        }
        _ => {
            let random: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.byte()).collect();
            bytes.splice(at..at, random);
        }
    }
}

/// `WEB_SERVER_ABUSE_SEED` (decimal or `0x` hex) when set, else `default`: a failure prints the
/// seed and the case to replay.
pub fn seed(default: u64) -> u64 {
    std::env::var("WEB_SERVER_ABUSE_SEED")
        .ok()
        .and_then(|s| {
            s.strip_prefix("0x")
                .map_or_else(|| s.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
        })
        .unwrap_or(default)
}
