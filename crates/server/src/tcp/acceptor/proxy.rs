//! `server.proxy_protocol`: the PROXY protocol header a TCP balancer sends first, read before
//! anything else of the connection (and before a TLS handshake), without reading one byte past
//! it, so that what follows is the forwarded connection's, untouched.
//!
//! No header is shorter than [`MIN_LEN`] bytes, so those are read at once. A v2 header then
//! says its own length. A v1 line ends at its LF: the bytes queued in the socket are peeked,
//! and only those up to the LF (or all of them, when no LF came yet: they are all the line's)
//! are read. The parser ([`web_server_http::proxy_protocol`]) decides every byte; the whole
//! read is bounded by the caller's timeout.

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use web_server_http::proxy_protocol::{
    parse, ProxyHeader, ProxyParse, MIN_LEN, V1_MAX, V2_MAX, V2_SIGNATURE,
};

/// Reads the PROXY header at the start of `stream`. `Err` says why the connection is to be
/// closed: no header, a malformed one, or the client going away.
pub(super) async fn read_header(stream: &mut TcpStream) -> Result<ProxyHeader, String> {
    // Allocated only on connections that carry a header, and only for the header's time.
    let mut header = vec![0; V2_MAX];
    let mut have = MIN_LEN;
    stream
        .read_exact(&mut header[..have])
        .await
        .map_err(|err| format!("reading the PROXY header: {err}"))?;
    loop {
        let more = match parse(&header[..have]).map_err(|err| err.to_string())? {
            ProxyParse::Complete { header, len } => {
                debug_assert_eq!(len, have, "nothing is read past the header");
                return Ok(header);
            }
            ProxyParse::Partial if header.starts_with(&V2_SIGNATURE) => {
                if have < 16 {
                    16 - have
                } else {
                    // The parser checked the length against the family and the limit.
                    let length = usize::from(u16::from_be_bytes([header[14], header[15]]));
                    16 + length - have
                }
            }
            ProxyParse::Partial => {
                let room = V1_MAX - have;
                let peeked = stream
                    .peek(&mut header[have..have + room])
                    .await
                    .map_err(|err| format!("reading the PROXY header: {err}"))?;
                if peeked == 0 {
                    return Err("the connection closed inside the PROXY header".to_owned());
                }
                let queued = &header[have..have + peeked];
                queued
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(peeked, |lf| lf + 1)
            }
        };
        stream
            .read_exact(&mut header[have..have + more])
            .await
            .map_err(|err| format!("reading the PROXY header: {err}"))?;
        have += more;
    }
}
