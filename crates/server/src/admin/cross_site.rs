//! What keeps web pages from driving the admin endpoint through the developer's browser.
//!
//! Without a token (the dev and test profiles), the admin endpoint would answer any page the
//! developer visits: a cross-site form could POST a kill or a reload, and a page that rebinds
//! its own DNS name to 127.0.0.1 could read `/admin/config`. Three checks close that:
//!
//! 1. **Host** (without a token): only IP addresses, `localhost` names and
//!    `admin.allowed_hosts`. DNS rebinding needs the attacker's own name in `Host`; an IP
//!    literal cannot be rebound. Ports are not compared: the name is what rebinding forges.
//! 2. **Origin** (always): a request a browser sends from a page carries `Origin`; one from
//!    another origin than the admin endpoint's own is refused. Non-browser clients send none.
//! 3. **Non-simple state changes** (always): kill and reload need a header no HTML form can
//!    send: `Authorization`, `Content-Type: application/json` or `X-Requested-By`. A browser
//!    sends such a request across sites only after a CORS preflight, which this endpoint never
//!    approves.
//!
//! The probes (`/health`, `/ready`) are exempt: they change nothing and reveal one bit.

use std::net::IpAddr;

use web_server_http::Request;

/// Why a request is refused, for the 403's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `Host` names something other than this endpoint.
    Host,
    /// `Origin` is another site.
    Origin,
    /// A state change sent as a simple (form-like) request.
    SimpleRequest,
}

impl Refusal {
    /// The explanation sent with the 403.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::Host => {
                "admin: this Host is not allowed without an admin token; use an IP address or \
                 localhost, or list the name in admin.allowed_hosts\n"
            }
            Refusal::Origin => "admin: requests from other sites are refused\n",
            Refusal::SimpleRequest => {
                "admin: a state change needs Authorization, Content-Type: application/json or an \
                 X-Requested-By header (no HTML form can send one)\n"
            }
        }
    }
}

/// The checks for one admin request; `token_set` says whether `admin.token` guards the
/// endpoint, `changes_state` whether the route kills or reloads.
pub(crate) fn check(
    request: &Request,
    allowed_hosts: &[String],
    token_set: bool,
    changes_state: bool,
) -> Result<(), Refusal> {
    let host = request.host().unwrap_or_default();
    if !token_set && !host.is_empty() && !host_allowed(host, allowed_hosts) {
        return Err(Refusal::Host);
    }
    if let Some(origin) = request.header_str("origin") {
        if !same_origin(origin, host) {
            return Err(Refusal::Origin);
        }
    }
    if changes_state && !non_simple(request) {
        return Err(Refusal::SimpleRequest);
    }
    Ok(())
}

/// The host part of a `Host` value (`name`, `1.2.3.4`, `[::1]`), without its port.
fn host_part(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(inside, _)| &inside[1..]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn host_allowed(host: &str, allowed_hosts: &[String]) -> bool {
    let name = host_part(host);
    let name = name.strip_suffix('.').unwrap_or(name);
    name.parse::<IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || allowed_hosts
            .iter()
            .any(|allowed| host_part(allowed).eq_ignore_ascii_case(name))
}

/// Whether `origin` is `http://<host>` (the admin endpoint speaks plain HTTP).
fn same_origin(origin: &str, host: &str) -> bool {
    origin
        .strip_prefix("http://")
        .is_some_and(|rest| !host.is_empty() && rest.eq_ignore_ascii_case(host))
}

fn non_simple(request: &Request) -> bool {
    let json = request.header_str("content-type").is_some_and(|value| {
        let media = value.split(';').next().unwrap_or_default().trim();
        media.eq_ignore_ascii_case("application/json")
    });
    json || request.header("authorization").is_some() || request.header("x-requested-by").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use web_server_http::{parse_request, Limits};

    fn request(method: &str, host: &str, extra: &str) -> Request {
        let raw = format!("{method} /admin/reload HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n");
        parse_request(raw.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn without_a_token_only_addresses_localhost_and_listed_names_are_answered() {
        let listed = ["admin.internal".to_owned()];
        for host in [
            "127.0.0.1:9901",
            "[::1]:9901",
            "10.0.0.7",
            "localhost:9901",
            "LOCALHOST",
            "app.localhost:9901",
            "admin.internal:9901",
        ] {
            let get = request("GET", host, "");
            assert_eq!(check(&get, &listed, false, false), Ok(()), "{host}");
        }
        for host in [
            "evil.example:9901",
            "127.0.0.1.nip.io",
            "localhost.evil.example",
        ] {
            let get = request("GET", host, "");
            assert_eq!(
                check(&get, &listed, false, false),
                Err(Refusal::Host),
                "{host}"
            );
            // With a token, the token is what protects: any name may be used.
            assert_eq!(check(&get, &listed, true, false), Ok(()), "{host}");
        }
    }

    #[test]
    fn another_sites_origin_is_refused() {
        let own = request("GET", "127.0.0.1:9901", "Origin: http://127.0.0.1:9901\r\n");
        assert_eq!(check(&own, &[], false, false), Ok(()));
        for origin in ["http://evil.example", "null", "https://127.0.0.1:9901"] {
            let other = request("GET", "127.0.0.1:9901", &format!("Origin: {origin}\r\n"));
            assert_eq!(
                check(&other, &[], false, false),
                Err(Refusal::Origin),
                "{origin}"
            );
            assert_eq!(
                check(&other, &[], true, false),
                Err(Refusal::Origin),
                "{origin}"
            );
        }
    }

    #[test]
    fn a_state_change_must_be_a_request_no_form_can_send() {
        let form = request(
            "POST",
            "127.0.0.1:9901",
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n",
        );
        assert_eq!(check(&form, &[], false, true), Err(Refusal::SimpleRequest));
        for header in [
            "Content-Type: application/json\r\n",
            "Content-Type: Application/JSON; charset=utf-8\r\n",
            "X-Requested-By: curl\r\n",
            "Authorization: Bearer secret\r\n",
        ] {
            let post = request("POST", "127.0.0.1:9901", header);
            assert_eq!(check(&post, &[], false, true), Ok(()), "{header}");
        }
    }
}
