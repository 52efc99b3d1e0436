//! The client behind trusted proxies: `Forwarded` (RFC 7239), `X-Forwarded-For` and
//! `X-Forwarded-Proto`, read only when the TCP peer is a trusted proxy.
//!
//! The rules, as nginx's `realip` module with `real_ip_recursive on`:
//!
//! - From a peer outside [`TrustedProxies`] the headers are ignored: anyone can send them, so
//!   the client is the peer.
//! - From a trusted peer, the hops of `Forwarded` (its `for=` parameters; when the request has
//!   no `Forwarded` field, the entries of `X-Forwarded-For`) are walked from the right, the
//!   nearest proxy's end: trusted addresses are skipped, and the first untrusted one is the
//!   client. When every hop is trusted, the leftmost is. A hop that is not an address
//!   (`unknown`, an obfuscated `_name`, garbage) ends the walk: nothing to its left can be
//!   believed, so the client is the trusted hop to its right (or the peer).
//! - The scheme is the `proto=` of the `Forwarded` element that named the client; without
//!   `Forwarded`, the last `X-Forwarded-Proto` value (the nearest proxy sets it; nginx's
//!   `proxy_set_header X-Forwarded-Proto $scheme` and cloud balancers replace what came in).
//!
//! Nothing here allocates: the fields are walked in place, left to right, remembering only
//! what the right-to-left rule needs.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::Request;

/// An address block, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a block of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The block's first address (host bits cleared).
    network: IpAddr,
    /// Leading bits that must match.
    prefix: u8,
}

impl Cidr {
    /// Whether `addr` is inside the block. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, as a
    /// dual-stack socket reports IPv4 peers) is compared as the IPv4 address it maps.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, canonical(addr)) {
            (IpAddr::V4(network), IpAddr::V4(addr)) => {
                mask_v4(addr, self.prefix) == u32::from(network)
            }
            (IpAddr::V6(network), IpAddr::V6(addr)) => {
                mask_v6(addr, self.prefix) == u128::from(network)
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an address block such as \"10.0.0.0/8\""))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => match prefix.parse::<u8>() {
                Ok(bits) if bits <= max => bits,
                _ => {
                    return Err(format!(
                        "{text:?}: the prefix length must be a number from 0 to {max}"
                    ))
                }
            },
        };
        let network = match addr {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(mask_v4(v4, prefix))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(mask_v6(v6, prefix))),
        };
        if network != addr {
            // `10.1.2.3/8` is almost always a typo for `10.1.2.3/32` or `10.0.0.0/8`: trusting
            // a whole /8 by accident would let its every host forge client addresses.
            return Err(format!(
                "{text:?} has host bits set; write \"{network}/{prefix}\" for the block or \
                 \"{addr}\" for the one address"
            ));
        }
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn mask_v4(addr: Ipv4Addr, prefix: u8) -> u32 {
    let bits = u32::from(addr);
    match prefix {
        0 => 0,
        p => bits & (u32::MAX << (32 - u32::from(p.min(32)))),
    }
}

fn mask_v6(addr: Ipv6Addr, prefix: u8) -> u128 {
    let bits = u128::from(addr);
    match prefix {
        0 => 0,
        p => bits & (u128::MAX << (128 - u32::from(p.min(128)))),
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; every other address as it is.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The proxies whose forwarding headers are believed (`server.trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Trusts the peers inside `blocks`.
    pub fn new(blocks: Vec<Cidr>) -> Self {
        TrustedProxies(blocks)
    }

    /// Whether no proxy is trusted (the headers are then never read).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The blocks, in configuration order.
    pub fn blocks(&self) -> &[Cidr] {
        &self.0
    }

    /// Whether `addr` is a trusted proxy.
    pub fn trusts(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(addr))
    }
}

/// Who sent a request, as far as the trusted proxies tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The client's address: the peer's, or the one the trusted proxies reported.
    pub addr: IpAddr,
    /// The scheme the client used, when a trusted proxy said (`Some(true)` for `https`).
    pub https: Option<bool>,
    /// Whether `addr` came from a forwarding header rather than the TCP peer.
    pub forwarded: bool,
}

impl Client {
    /// The TCP peer itself, with nothing forwarded.
    pub fn direct(peer: IpAddr) -> Self {
        Client {
            addr: canonical(peer),
            https: None,
            forwarded: false,
        }
    }
}

/// The client of `request`, received from `peer`; see the module documentation for the rules.
pub fn client_of(request: &Request, peer: IpAddr, trusted: &TrustedProxies) -> Client {
    let direct = Client::direct(peer);
    if trusted.is_empty() || !trusted.trusts(direct.addr) {
        return direct;
    }
    let mut walk = Walk::new(trusted);
    let mut has_forwarded = false;
    let mut unnamed_proto = None;
    for value in request.header_values("forwarded") {
        has_forwarded = true;
        for element in split_list(value) {
            let mut node = None;
            let mut proto = None;
            for pair in split_outside_quotes(element, b';') {
                let Some((name, value)) = split_pair(pair) else {
                    continue;
                };
                if name.eq_ignore_ascii_case(b"for") {
                    node = Some(value);
                } else if name.eq_ignore_ascii_case(b"proto") {
                    proto = Some(value.eq_ignore_ascii_case(b"https"));
                }
            }
            match node {
                Some(node) => walk.hop(node_address(node), proto),
                // An element without `for=` names no hop; its scheme still counts.
                None => unnamed_proto = proto.or(unnamed_proto),
            }
        }
    }
    let mut https = unnamed_proto;
    if !has_forwarded {
        for value in request.header_values("x-forwarded-for") {
            for entry in split_list(value) {
                walk.hop(node_address(entry), None);
            }
        }
        for value in request.header_values("x-forwarded-proto") {
            if let Some(last) = split_list(value).last() {
                https = Some(last.eq_ignore_ascii_case(b"https"));
            }
        }
    }
    match walk.result() {
        Some((addr, proto)) => Client {
            addr,
            https: if has_forwarded {
                proto.or(https)
            } else {
                https
            },
            forwarded: true,
        },
        None => Client { https, ..direct },
    }
}

/// The longest `X-Request-Id` kept from a trusted proxy; longer ones are replaced.
pub const MAX_REQUEST_ID: usize = 128;

/// The `X-Request-Id` a trusted proxy sent, if it is one to keep: 1 to [`MAX_REQUEST_ID`]
/// bytes of letters, digits and `-._:+/=` (UUIDs, nginx's `$request_id`, AWS trace ids), so
/// that echoing it can forge neither a header nor a log line. Only call this for a request
/// from a trusted peer: anyone else's id is replaced, never believed.
pub fn request_id_of(request: &Request) -> Option<&str> {
    let id = request.header_str("x-request-id")?.trim();
    let fits = !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:+/=".contains(&b));
    fits.then_some(id)
}

/// The right-to-left rule, computed left to right: what is left of a hop that is not an
/// address does not count, so such a hop starts over.
struct Walk<'a> {
    trusted: &'a TrustedProxies,
    /// The rightmost untrusted hop since the last restart, with its scheme.
    untrusted: Option<(IpAddr, Option<bool>)>,
    /// The leftmost trusted hop since the last restart, with its scheme.
    leftmost_trusted: Option<(IpAddr, Option<bool>)>,
}

impl<'a> Walk<'a> {
    fn new(trusted: &'a TrustedProxies) -> Self {
        Walk {
            trusted,
            untrusted: None,
            leftmost_trusted: None,
        }
    }

    fn hop(&mut self, addr: Option<IpAddr>, proto: Option<bool>) {
        match addr {
            None => {
                self.untrusted = None;
                self.leftmost_trusted = None;
            }
            Some(addr) if self.trusted.trusts(addr) => {
                self.leftmost_trusted.get_or_insert((addr, proto));
            }
            Some(addr) => self.untrusted = Some((addr, proto)),
        }
    }

    fn result(&self) -> Option<(IpAddr, Option<bool>)> {
        self.untrusted.or(self.leftmost_trusted)
    }
}

/// The address of a `Forwarded` node or an `X-Forwarded-For` entry: `192.0.2.1`,
/// `192.0.2.1:4711`, `2001:db8::1`, `"[2001:db8::1]:4711"`, quoted or not. `None` for
/// `unknown`, obfuscated names and anything else.
fn node_address(node: &[u8]) -> Option<IpAddr> {
    let node = trim(node);
    let node = node
        .strip_prefix(b"\"")
        .and_then(|n| n.strip_suffix(b"\""))
        .unwrap_or(node);
    let text = std::str::from_utf8(node).ok()?;
    if let Some(bracketed) = text.strip_prefix('[') {
        let (v6, rest) = bracketed.split_once(']')?;
        if !(rest.is_empty() || valid_port(rest.strip_prefix(':')?)) {
            return None;
        }
        return v6
            .parse::<Ipv6Addr>()
            .ok()
            .map(|v6| canonical(IpAddr::V6(v6)));
    }
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(canonical(addr));
    }
    let (v4, port) = text.split_once(':')?;
    if !valid_port(port) {
        return None;
    }
    v4.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// A port number, or an obfuscated port (`_abc`, RFC 7239 §6.3).
fn valid_port(port: &str) -> bool {
    port.parse::<u16>().is_ok()
        || (port.starts_with('_')
            && port.len() > 1
            && port[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'))
}

/// `name=value` with the value's quotes kept (node addresses are unquoted by
/// [`node_address`]; `proto` values are tokens).
fn split_pair(pair: &[u8]) -> Option<(&[u8], &[u8])> {
    let pair = trim(pair);
    let eq = pair.iter().position(|&b| b == b'=')?;
    let value = trim(&pair[eq + 1..]);
    let value = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .filter(|v| !v.starts_with(b"["))
        .unwrap_or(value);
    Some((trim(&pair[..eq]), value))
}

/// The non-empty members of a comma-separated list field, commas inside quoted strings kept.
fn split_list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    split_outside_quotes(value, b',')
        .map(trim)
        .filter(|member| !member.is_empty())
}

/// `value` split at `separator`s outside double quotes (a quoted string's `\"` does not end
/// it).
fn split_outside_quotes(value: &[u8], separator: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let text = rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (i, &b) in text.iter().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                b if b == separator && !quoted => {
                    rest = Some(&text[i + 1..]);
                    return Some(&text[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(text)
    })
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_request, Limits};

    fn request(headers: &str) -> Request {
        let raw = format!("GET / HTTP/1.1\r\nHost: a\r\n{headers}\r\n");
        parse_request(raw.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    fn trusted(blocks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(blocks.iter().map(|b| b.parse().unwrap()).collect())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn request_ids_are_kept_only_when_they_are_plain_tokens() {
        let kept = request("X-Request-Id: 4f1c-9a:b/c+d=\r\n");
        assert_eq!(request_id_of(&kept), Some("4f1c-9a:b/c+d="));
        for bad in ["a b", "x\"y", "", &"a".repeat(129)] {
            let req = request(&format!("X-Request-Id: {bad}\r\n"));
            assert_eq!(request_id_of(&req), None, "{bad:?}");
        }
    }

    #[test]
    fn blocks_parse_and_match() {
        let block: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(block.contains(ip("10.255.0.1")));
        assert!(!block.contains(ip("11.0.0.1")));
        assert!(block.contains(ip("::ffff:10.0.0.1")), "IPv4-mapped peers");
        let one: Cidr = "::1".parse().unwrap();
        assert_eq!(one.to_string(), "::1/128");
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")) && !all.contains(ip("::1")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        for bad in [
            "10.0.0.0/33",
            "10.1.0.0/8",
            "localhost",
            "10.0.0.0/",
            "::/129",
            "",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let req = request(
            "X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\nForwarded: for=5.6.7.8\r\n",
        );
        let client = client_of(&req, ip("192.0.2.7"), &trusted(&["10.0.0.0/8"]));
        assert_eq!(client, Client::direct(ip("192.0.2.7")));
        let nobody = client_of(&req, ip("10.0.0.1"), &TrustedProxies::default());
        assert_eq!(nobody.addr, ip("10.0.0.1"));
    }

    #[test]
    fn x_forwarded_for_gives_the_rightmost_untrusted_hop() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let req = request("X-Forwarded-For: 6.6.6.6, 203.0.113.5, 10.0.0.2\r\n");
        let client = client_of(&req, ip("10.0.0.1"), &proxies);
        assert_eq!(
            client.addr,
            ip("203.0.113.5"),
            "the spoofed 6.6.6.6 is ignored"
        );
        assert!(client.forwarded);
        // Split over two lines, the list is one list.
        let req = request("X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.5\r\n");
        assert_eq!(
            client_of(&req, ip("10.0.0.1"), &proxies).addr,
            ip("203.0.113.5")
        );
        // Every hop trusted: the leftmost.
        let req = request("X-Forwarded-For: 10.1.1.1, 10.2.2.2\r\n");
        assert_eq!(
            client_of(&req, ip("10.0.0.1"), &proxies).addr,
            ip("10.1.1.1")
        );
        // Garbage ends the walk at the trusted hop to its right.
        let req = request("X-Forwarded-For: 1.1.1.1, garbage, 10.2.2.2\r\n");
        assert_eq!(
            client_of(&req, ip("10.0.0.1"), &proxies).addr,
            ip("10.2.2.2")
        );
        let req = request("X-Forwarded-For: 1.1.1.1, garbage\r\n");
        let client = client_of(&req, ip("10.0.0.1"), &proxies);
        assert_eq!((client.addr, client.forwarded), (ip("10.0.0.1"), false));
        // Ports and IPv6.
        let req = request("X-Forwarded-For: [2001:db8::7]:443, 198.51.100.1:80\r\n");
        assert_eq!(
            client_of(&req, ip("10.0.0.1"), &proxies).addr,
            ip("198.51.100.1")
        );
        let req = request("X-Forwarded-For: 2001:db8::7\r\n");
        assert_eq!(
            client_of(&req, ip("10.0.0.1"), &proxies).addr,
            ip("2001:db8::7")
        );
    }

    #[test]
    fn x_forwarded_proto_is_the_nearest_proxys() {
        let proxies = trusted(&["127.0.0.1"]);
        let req = request("X-Forwarded-Proto: http, https\r\n");
        let client = client_of(&req, ip("127.0.0.1"), &proxies);
        assert_eq!((client.https, client.forwarded), (Some(true), false));
        let req = request("X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: http\r\n");
        assert_eq!(
            client_of(&req, ip("127.0.0.1"), &proxies).https,
            Some(false)
        );
    }

    #[test]
    fn forwarded_elements_give_address_and_scheme() {
        let proxies = trusted(&["10.0.0.0/8", "::1/128"]);
        let req = request(
            "Forwarded: for=6.6.6.6;proto=http, for=\"[2001:db8:cafe::17]:4711\";proto=https;by=10.0.0.1\r\nForwarded: for=10.0.0.9;proto=http\r\n",
        );
        let client = client_of(&req, ip("::1"), &proxies);
        assert_eq!(client.addr, ip("2001:db8:cafe::17"));
        assert_eq!(client.https, Some(true));
        // `Forwarded` wins over X-Forwarded-*.
        let req = request(
            "X-Forwarded-For: 7.7.7.7\r\nX-Forwarded-Proto: https\r\nFORWARDED: For=192.0.2.60 ; Proto=http\r\n",
        );
        let client = client_of(&req, ip("10.0.0.1"), &proxies);
        assert_eq!((client.addr, client.https), (ip("192.0.2.60"), Some(false)));
        // `unknown` and obfuscated nodes end the walk.
        let req = request("Forwarded: for=1.1.1.1, for=unknown, for=10.3.3.3\r\n");
        assert_eq!(
            client_of(&req, ip("10.0.0.1"), &proxies).addr,
            ip("10.3.3.3")
        );
        let req = request("Forwarded: for=_hidden\r\n");
        assert!(!client_of(&req, ip("10.0.0.1"), &proxies).forwarded);
        // A comma inside a quoted value does not split the element.
        let req = request("Forwarded: for=192.0.2.1;ext=\"a,b\"\r\n");
        assert_eq!(
            client_of(&req, ip("10.0.0.1"), &proxies).addr,
            ip("192.0.2.1")
        );
    }
}
