//! Bearer-token checks for the admin endpoint.
//!
//! The comparison takes the same time whatever bytes differ, so the token cannot be guessed one
//! byte at a time from response timings. It is six lines, so it is written here rather than
//! adding a crate for it; only the token's length can leak, which tokens of a fixed length
//! (the prod profile requires at least 16 characters) make worthless.

use web_server_http::Request;

/// The cookie the tree page's sign-in form sets, for browsers that cannot send a header on a
/// page load.
pub const TOKEN_COOKIE: &str = "web_server_admin_token";

/// Whether `request` carries `token`, as `Authorization: Bearer <token>` or in the cookie.
pub fn authorized(request: &Request, token: &str) -> bool {
    let bearer = request
        .header_str("authorization")
        .and_then(|value| {
            let (scheme, credentials) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| credentials.trim())
        })
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()));
    bearer
        || cookie(request, TOKEN_COOKIE)
            .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

fn cookie<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .header_values("cookie")
        .filter_map(|value| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Compares in time independent of where the inputs differ.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |diff, (a, b)| diff | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use web_server_http::{parse_request, Limits};

    fn request(extra: &str) -> Request {
        let raw = format!("GET /admin/tree HTTP/1.1\r\nHost: x\r\n{extra}\r\n");
        parse_request(raw.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn bearer_token_is_accepted_and_others_refused() {
        let token = "s3cret-token-0123456789";
        assert!(authorized(
            &request(&format!("Authorization: Bearer {token}\r\n")),
            token
        ));
        assert!(authorized(
            &request(&format!("Authorization: bearer {token}\r\n")),
            token
        ));
        assert!(!authorized(
            &request("Authorization: Bearer wrong\r\n"),
            token
        ));
        assert!(!authorized(
            &request(&format!("Authorization: Basic {token}\r\n")),
            token
        ));
        assert!(!authorized(&request(""), token));
    }

    #[test]
    fn cookie_token_is_accepted() {
        let token = "s3cret-token-0123456789";
        let header = format!("Cookie: theme=dark; {TOKEN_COOKIE}={token}\r\n");
        assert!(authorized(&request(&header), token));
        assert!(!authorized(
            &request("Cookie: web_server_admin_token=nope\r\n"),
            token
        ));
    }

    #[test]
    fn comparison_needs_equal_length_and_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
