//! The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a TCP balancer sends
//! before the first byte of the connection it forwards, naming the client it accepted.
//!
//! The parser is strict: whatever is not exactly a header the spec allows is an error, and a
//! connection configured for the protocol is closed on one (never read as HTTP, which would let
//! a client that reaches the port directly skip the header):
//!
//! - **v1** is one text line, at most [`V1_MAX`] bytes with its CRLF:
//!   `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n` or `PROXY UNKNOWN[ <anything>]\r\n`.
//!   Single spaces, addresses of the named family (no zone ids, no leading zeros in IPv4),
//!   ports in decimal from 0 to 65535 without leading zeros, no bare CR or LF.
//! - **v2** is a 16-byte binary header (signature, version 2 with command LOCAL or PROXY,
//!   family and protocol, a big-endian length) and that many bytes of addresses and TLVs; the
//!   whole header at most [`V2_MAX`] bytes (nginx's limit). PROXY over TCP/IPv4 or TCP/IPv6
//!   names the client; LOCAL (the balancer's own health check), an unspecified family and
//!   UNIX sockets name none. UDP is refused: this is an HTTP server. TLVs are skipped.
//!
//! [`parse`] is given the bytes received so far and says whether they hold a whole header
//! (and its length: the bytes after it are the forwarded connection's), could still become
//! one, or cannot.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The longest v1 header, CRLF included (the spec's 107).
pub const V1_MAX: usize = 107;

/// The longest v2 header accepted, fixed part included (nginx's `NGX_PROXY_PROTOCOL_MAX_HEADER`).
pub const V2_MAX: usize = 4096;

/// The shortest header of either version (`PROXY UNKNOWN\r\n`, 15 bytes; v2 takes 16).
pub const MIN_LEN: usize = 15;

/// The v2 signature.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// What a header says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// The balancer accepted a connection from `source` to `destination`.
    Proxied {
        /// The client, as the balancer saw it.
        source: SocketAddr,
        /// The address the client connected to (the balancer's).
        destination: SocketAddr,
    },
    /// No client is named: v1 `UNKNOWN`, v2 `LOCAL` (the balancer's own connection, such as a
    /// health check), an unspecified family or a UNIX socket. The TCP peer stands.
    Unnamed,
}

/// The outcome of [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyParse {
    /// A whole header, the first `len` bytes.
    Complete {
        /// What it says.
        header: ProxyHeader,
        /// Its length in bytes; what follows belongs to the forwarded connection.
        len: usize,
    },
    /// Not enough bytes yet; what came so far can still be a header.
    Partial,
}

/// Why bytes are not a PROXY header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyError {
    /// Neither signature: the connection did not start with a header.
    Missing,
    /// A v1 line longer than [`V1_MAX`] bytes.
    V1TooLong,
    /// A v1 line that breaks the grammar (the reason).
    V1Malformed(&'static str),
    /// A v2 header with another version or an unknown command.
    V2Version,
    /// A v2 family or protocol this server does not take (UDP, unknown values).
    V2Family,
    /// A v2 length too short for its addresses, or the header over [`V2_MAX`].
    V2Length,
}

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyError::Missing => f.write_str("no PROXY protocol header"),
            ProxyError::V1TooLong => write!(f, "PROXY v1 line longer than {V1_MAX} bytes"),
            ProxyError::V1Malformed(why) => write!(f, "malformed PROXY v1 line: {why}"),
            ProxyError::V2Version => f.write_str("PROXY v2 header with a bad version or command"),
            ProxyError::V2Family => f.write_str("PROXY v2 header with an unsupported family"),
            ProxyError::V2Length => f.write_str("PROXY v2 header with a bad length"),
        }
    }
}

impl std::error::Error for ProxyError {}

/// Parses the header at the start of `bytes`; see the module documentation.
pub fn parse(bytes: &[u8]) -> Result<ProxyParse, ProxyError> {
    const V1_PREFIX: &[u8] = b"PROXY ";
    let common = bytes.len().min(V2_SIGNATURE.len());
    if bytes[..common] == V2_SIGNATURE[..common] {
        return if bytes.len() < 16 {
            Ok(ProxyParse::Partial)
        } else {
            parse_v2(bytes)
        };
    }
    let common = bytes.len().min(V1_PREFIX.len());
    if bytes[..common] != V1_PREFIX[..common] {
        return Err(ProxyError::Missing);
    }
    let searched = &bytes[..bytes.len().min(V1_MAX)];
    match searched.iter().position(|&b| b == b'\n') {
        Some(lf) if lf > 0 && searched[lf - 1] == b'\r' => {
            let header = parse_v1_line(&bytes[..lf - 1])?;
            Ok(ProxyParse::Complete {
                header,
                len: lf + 1,
            })
        }
        Some(_) => Err(ProxyError::V1Malformed("a bare LF")),
        None if bytes.len() >= V1_MAX => Err(ProxyError::V1TooLong),
        None if searched[..searched.len().saturating_sub(1)].contains(&b'\r') => {
            Err(ProxyError::V1Malformed("a bare CR"))
        }
        None => Ok(ProxyParse::Partial),
    }
}

/// A v1 line without its CRLF.
fn parse_v1_line(line: &[u8]) -> Result<ProxyHeader, ProxyError> {
    let malformed = ProxyError::V1Malformed;
    let line = std::str::from_utf8(line).map_err(|_| malformed("not ASCII"))?;
    if !line.is_ascii() || line.contains('\r') {
        return Err(malformed("not ASCII"));
    }
    let rest = line.strip_prefix("PROXY ").ok_or(malformed("no PROXY"))?;
    if rest == "UNKNOWN" || rest.starts_with("UNKNOWN ") {
        return Ok(ProxyHeader::Unnamed);
    }
    let mut fields = rest.split(' ');
    let family = fields.next().ok_or(malformed("no protocol"))?;
    let (source, destination, sport, dport) = match (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) {
        (Some(s), Some(d), Some(sp), Some(dp), None) => (s, d, sp, dp),
        _ => return Err(malformed("not five fields separated by single spaces")),
    };
    let address = |text: &str| -> Result<IpAddr, ProxyError> {
        match family {
            "TCP4" => text
                .parse::<Ipv4Addr>()
                .map(IpAddr::V4)
                .map_err(|_| malformed("not an IPv4 address")),
            "TCP6" => text
                .parse::<Ipv6Addr>()
                .map(IpAddr::V6)
                .map_err(|_| malformed("not an IPv6 address")),
            _ => Err(malformed("the protocol is not TCP4, TCP6 or UNKNOWN")),
        }
    };
    let port = |text: &str| -> Result<u16, ProxyError> {
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        if !digits || (text.len() > 1 && text.starts_with('0')) {
            return Err(malformed(
                "a port is not a decimal number without leading zeros",
            ));
        }
        text.parse().map_err(|_| malformed("a port over 65535"))
    };
    Ok(ProxyHeader::Proxied {
        source: SocketAddr::new(address(source)?, port(sport)?),
        destination: SocketAddr::new(address(destination)?, port(dport)?),
    })
}

/// A v2 header whose 16 fixed bytes are in `bytes`.
fn parse_v2(bytes: &[u8]) -> Result<ProxyParse, ProxyError> {
    let version_command = bytes[12];
    let family = bytes[13];
    let length = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    let len = 16 + length;
    if version_command >> 4 != 2 {
        return Err(ProxyError::V2Version);
    }
    let local = match version_command & 0x0f {
        0 => true,
        1 => false,
        _ => return Err(ProxyError::V2Version),
    };
    if len > V2_MAX {
        return Err(ProxyError::V2Length);
    }
    // Family (high nibble) and protocol (low): unspecified, TCP over IPv4 or IPv6, or a UNIX
    // stream; datagrams are not HTTP.
    let needed = match family {
        0x00 => 0,
        0x11 => 12,
        0x21 => 36,
        0x31 => 216,
        _ => return Err(ProxyError::V2Family),
    };
    if length < needed {
        return Err(ProxyError::V2Length);
    }
    if bytes.len() < len {
        return Ok(ProxyParse::Partial);
    }
    let body = &bytes[16..len];
    let header = match family {
        _ if local => ProxyHeader::Unnamed,
        0x11 => {
            let ip = |at: usize| Ipv4Addr::new(body[at], body[at + 1], body[at + 2], body[at + 3]);
            let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
            ProxyHeader::Proxied {
                source: SocketAddr::new(IpAddr::V4(ip(0)), port(8)),
                destination: SocketAddr::new(IpAddr::V4(ip(4)), port(10)),
            }
        }
        0x21 => {
            let ip = |at: usize| {
                let mut octets = [0; 16];
                octets.copy_from_slice(&body[at..at + 16]);
                Ipv6Addr::from(octets)
            };
            let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
            ProxyHeader::Proxied {
                source: SocketAddr::new(IpAddr::V6(ip(0)), port(32)),
                destination: SocketAddr::new(IpAddr::V6(ip(16)), port(34)),
            }
        }
        _ => ProxyHeader::Unnamed,
    };
    Ok(ProxyParse::Complete { header, len })
}

/// A v2 PROXY header over TCP from `source` to `destination` (same family), followed by
/// `tlvs` (already encoded); for balancers in tests and tools.
pub fn v2_header(source: SocketAddr, destination: SocketAddr, tlvs: &[u8]) -> Vec<u8> {
    let mut header = V2_SIGNATURE.to_vec();
    header.push(0x21);
    let mut addresses = Vec::new();
    match (source, destination) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            header.push(0x11);
            addresses.extend_from_slice(&s.ip().octets());
            addresses.extend_from_slice(&d.ip().octets());
        }
        (s, d) => {
            header.push(0x21);
            let v6 = |a: SocketAddr| match a.ip() {
                IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                IpAddr::V6(v6) => v6.octets(),
            };
            addresses.extend_from_slice(&v6(s));
            addresses.extend_from_slice(&v6(d));
        }
    }
    addresses.extend_from_slice(&source.port().to_be_bytes());
    addresses.extend_from_slice(&destination.port().to_be_bytes());
    addresses.extend_from_slice(tlvs);
    let length = u16::try_from(addresses.len()).expect("a header under 64 KiB");
    header.extend_from_slice(&length.to_be_bytes());
    header.extend_from_slice(&addresses);
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn v1_tcp4_tcp6_and_unknown() {
        let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n";
        assert_eq!(
            parse(line),
            Ok(ProxyParse::Complete {
                header: ProxyHeader::Proxied {
                    source: addr("192.0.2.1:56324"),
                    destination: addr("198.51.100.2:443"),
                },
                len: 45,
            })
        );
        let line = b"PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n";
        assert!(matches!(
            parse(line),
            Ok(ProxyParse::Complete { header: ProxyHeader::Proxied { source, .. }, len: 44 })
                if source == addr("[2001:db8::1]:0")
        ));
        for unknown in [
            &b"PROXY UNKNOWN\r\n"[..],
            b"PROXY UNKNOWN ffff:f::1 x y z\r\n",
        ] {
            assert!(matches!(
                parse(unknown),
                Ok(ProxyParse::Complete { header: ProxyHeader::Unnamed, len }) if len == unknown.len()
            ));
        }
    }

    #[test]
    fn v1_partial_lines_wait_and_bad_ones_are_errors() {
        for partial in [
            &b""[..],
            b"P",
            b"PROXY",
            b"PROXY TCP4 1.2.3.4",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r",
        ] {
            assert_eq!(parse(partial), Ok(ProxyParse::Partial), "{partial:?}");
        }
        let too_long = [b"PROXY UNKNOWN ".as_slice(), &[b'a'; 100]].concat();
        assert_eq!(parse(&too_long), Err(ProxyError::V1TooLong));
        for bad in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r2\r\n",
            b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
            b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
            b"PROXY \xff\r\n",
            b"PROXY\r\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn v2_addresses_local_and_tlvs() {
        let header = v2_header(addr("192.0.2.1:56324"), addr("198.51.100.2:443"), &[]);
        assert_eq!(header.len(), 28);
        let mut bytes = header.clone();
        bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(
            parse(&bytes),
            Ok(ProxyParse::Complete {
                header: ProxyHeader::Proxied {
                    source: addr("192.0.2.1:56324"),
                    destination: addr("198.51.100.2:443"),
                },
                len: 28,
            })
        );
        // TLVs (here an ALPN one) are counted in the length and skipped.
        let with_tlv = v2_header(
            addr("[2001:db8::1]:1"),
            addr("[2001:db8::2]:2"),
            &[0x01, 0, 2, b'h', b'2'],
        );
        assert!(matches!(
            parse(&with_tlv),
            Ok(ProxyParse::Complete { header: ProxyHeader::Proxied { .. }, len }) if len == with_tlv.len()
        ));
        // LOCAL: the balancer's own connection.
        let mut local = header.clone();
        local[12] = 0x20;
        assert!(matches!(
            parse(&local),
            Ok(ProxyParse::Complete {
                header: ProxyHeader::Unnamed,
                len: 28
            })
        ));
        // Every prefix is partial.
        for end in 0..header.len() {
            assert_eq!(parse(&header[..end]), Ok(ProxyParse::Partial), "{end}");
        }
    }

    #[test]
    fn malformed_v2_headers_are_errors() {
        let header = v2_header(addr("192.0.2.1:1"), addr("198.51.100.2:2"), &[]);
        let with = |at: usize, byte: u8| {
            let mut bad = header.clone();
            bad[at] = byte;
            parse(&bad)
        };
        assert_eq!(with(12, 0x11), Err(ProxyError::V2Version), "version 1");
        assert_eq!(with(12, 0x22), Err(ProxyError::V2Version), "command 2");
        assert_eq!(with(13, 0x12), Err(ProxyError::V2Family), "UDP over IPv4");
        assert_eq!(with(13, 0x41), Err(ProxyError::V2Family), "family 4");
        assert_eq!(with(15, 11), Err(ProxyError::V2Length), "short for IPv4");
        let mut huge = header.clone();
        huge[14..16].copy_from_slice(&5000u16.to_be_bytes());
        assert_eq!(parse(&huge), Err(ProxyError::V2Length));
        assert_eq!(
            with(11, b'X'),
            Err(ProxyError::Missing),
            "a broken signature"
        );
    }
}
