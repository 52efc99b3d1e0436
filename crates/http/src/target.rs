//! Request-target forms (RFC 9112 §3.2) and `Host` / authority syntax (RFC 9110 §7.2,
//! RFC 3986 §3.2). Pure functions over bytes: the parser turns their results into spans.

use crate::syntax::{hex_value, is_pchar, is_sub_delim, is_unreserved};
use std::ops::Range;

/// Which of the four request-target forms a request used (RFC 9112 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`, the ordinary form.
    Origin,
    /// `http://authority/path?query`, as sent to proxies; servers must accept it too.
    Absolute,
    /// `host:port`, only with CONNECT.
    Authority,
    /// `*`, only with OPTIONS.
    Asterisk,
}

/// Where the parts of a request-target lie, relative to the start of the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetParts {
    /// The form decides which methods may use this target.
    pub form: TargetForm,
    /// Path bytes; empty for authority-form, and for an absolute-form URI without a path (which
    /// means `/`).
    pub path: Range<usize>,
    /// Query without its `?`, when present.
    pub query: Option<Range<usize>>,
    /// Authority of absolute-form and authority-form targets; it overrides `Host`.
    pub authority: Option<Range<usize>>,
}

/// Splits and validates a request-target. Returns `None` for anything RFC 3986 does not allow,
/// including fragments, raw spaces and non-ASCII bytes, bad percent-encodings, userinfo, schemes
/// other than `http`/`https` and empty hosts in `http` URIs (RFC 9110 §4.2.1).
pub(crate) fn parse_target(target: &[u8]) -> Option<TargetParts> {
    match target.first()? {
        b'/' => {
            let (path, query) = path_and_query(target, 0)?;
            Some(TargetParts {
                form: TargetForm::Origin,
                path,
                query,
                authority: None,
            })
        }
        b'*' if target.len() == 1 => Some(TargetParts {
            form: TargetForm::Asterisk,
            path: 0..1,
            query: None,
            authority: None,
        }),
        _ => match scheme_end(target) {
            Some(colon) => absolute_form(target, colon),
            None => {
                if !is_authority(target, true) {
                    return None;
                }
                Some(TargetParts {
                    form: TargetForm::Authority,
                    path: 0..0,
                    query: None,
                    authority: Some(0..target.len()),
                })
            }
        },
    }
}

/// Index of the `:` ending a scheme that is followed by `//`, if the target starts with one.
fn scheme_end(target: &[u8]) -> Option<usize> {
    let colon = target.iter().position(|&b| b == b':')?;
    let scheme = &target[..colon];
    let well_formed = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    (well_formed && target[colon..].starts_with(b"://")).then_some(colon)
}

fn absolute_form(target: &[u8], colon: usize) -> Option<TargetParts> {
    let scheme = &target[..colon];
    if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
        return None;
    }
    let authority_start = colon + 3;
    let authority_end = target[authority_start..]
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .map_or(target.len(), |i| authority_start + i);
    let authority = &target[authority_start..authority_end];
    // An http(s) URI must have a non-empty host; userinfo makes `is_authority` fail.
    if authority.is_empty() || authority.starts_with(b":") || !is_authority(authority, false) {
        return None;
    }
    let (path, query) = if authority_end == target.len() {
        (authority_end..authority_end, None)
    } else if target[authority_end] == b'?' {
        let (_, query) = path_and_query(target, authority_end)?;
        (authority_end..authority_end, query)
    } else {
        path_and_query(target, authority_end)?
    };
    Some(TargetParts {
        form: TargetForm::Absolute,
        path,
        query,
        authority: Some(authority_start..authority_end),
    })
}

/// Validates `path-abempty [ "?" query ]` starting at `start` and returns the two ranges.
fn path_and_query(target: &[u8], start: usize) -> Option<(Range<usize>, Option<Range<usize>>)> {
    let mut i = start;
    let mut path_end = target.len();
    let mut query_start = None;
    while i < target.len() {
        let b = target[i];
        if b == b'%' {
            let hi = target.get(i + 1).copied().and_then(hex_value);
            let lo = target.get(i + 2).copied().and_then(hex_value);
            if hi.is_none() || lo.is_none() {
                return None;
            }
            i += 3;
            continue;
        }
        let in_query = query_start.is_some();
        if b == b'?' && !in_query {
            path_end = i;
            query_start = Some(i + 1);
        } else if !(is_pchar(b) || b == b'/' || (in_query && b == b'?')) {
            return None;
        }
        i += 1;
    }
    Some((start..path_end, query_start.map(|q| q..target.len())))
}

/// What removing the dot-segments of a path (RFC 3986 §5.2.4) gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DotSegments {
    /// The path has none: it is used as received (the common case, and no allocation).
    None,
    /// The path without them, still percent-encoded.
    Resolved(Box<str>),
    /// A `..` climbs above the root (`/..`, `/a/../..`): refused with 400, as nginx does, rather
    /// than clamped to the root, which would answer for a resource the client did not name.
    AboveRoot,
}

/// Whether `segment` is `.` or `..`, with each dot possibly percent-encoded (`%2e`): RFC 3986
/// §6.2.2.2 makes `%2E` and `.` equivalent, so an encoded dot-segment is one too.
fn dot_segment(segment: &[u8]) -> Option<usize> {
    let mut rest = segment;
    let mut dots = 0;
    while !rest.is_empty() {
        if rest[0] == b'.' {
            rest = &rest[1..];
        } else if rest.len() >= 3 && rest[0] == b'%' && rest[1..3].eq_ignore_ascii_case(b"2e") {
            rest = &rest[3..];
        } else {
            return None;
        }
        dots += 1;
    }
    (1..=2).contains(&dots).then_some(dots)
}

/// Removes the dot-segments of an absolute path (one starting with `/`). Empty segments are
/// kept, as RFC 3986 keeps them; a path ending in a dot-segment keeps its final `/`.
pub(crate) fn remove_dot_segments(path: &[u8]) -> DotSegments {
    let has_dot_segment = path
        .split(|&b| b == b'/')
        .skip(1)
        .any(|segment| dot_segment(segment).is_some());
    if !has_dot_segment {
        return DotSegments::None;
    }
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut ends_in_slash = false;
    for segment in path.split(|&b| b == b'/').skip(1) {
        match dot_segment(segment) {
            Some(1) => ends_in_slash = true,
            Some(_) => {
                if kept.pop().is_none() {
                    return DotSegments::AboveRoot;
                }
                ends_in_slash = true;
            }
            None => {
                kept.push(segment);
                ends_in_slash = false;
            }
        }
    }
    let mut resolved = String::with_capacity(path.len());
    for segment in &kept {
        resolved.push('/');
        // The target was validated as ASCII before this runs.
        resolved.push_str(std::str::from_utf8(segment).unwrap_or_default());
    }
    if ends_in_slash || kept.is_empty() {
        resolved.push('/');
    }
    DotSegments::Resolved(resolved.into_boxed_str())
}

/// `uri-host [ ":" port ]` (RFC 3986 §3.2.2-3). An empty host is allowed here (an empty `Host`
/// value is valid when the target has no authority, RFC 9112 §3.2); a port, when required, must be
/// present and non-empty. Ports above 65535 are rejected.
pub(crate) fn is_authority(authority: &[u8], port_required: bool) -> bool {
    let (host, port) = if authority.first() == Some(&b'[') {
        let Some(close) = authority.iter().position(|&b| b == b']') else {
            return false;
        };
        if !is_ip_literal(&authority[1..close]) {
            return false;
        }
        match &authority[close + 1..] {
            [] => (&authority[..=close], None),
            [b':', port @ ..] => (&authority[..=close], Some(port)),
            _ => return false,
        }
    } else {
        match authority.iter().rposition(|&b| b == b':') {
            Some(colon) => (&authority[..colon], Some(&authority[colon + 1..])),
            None => (authority, None),
        }
    };
    if host.first() != Some(&b'[') && !is_reg_name(host) {
        return false;
    }
    match port {
        None | Some([]) => !port_required,
        Some(port) => {
            port.len() <= 5
                && port.iter().all(u8::is_ascii_digit)
                && port.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= 65535
        }
    }
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`; covers IPv4 addresses too.
fn is_reg_name(host: &[u8]) -> bool {
    let mut i = 0;
    while i < host.len() {
        let b = host[i];
        if b == b'%' {
            let valid = host.get(i + 1).copied().and_then(hex_value).is_some()
                && host.get(i + 2).copied().and_then(hex_value).is_some();
            if !valid {
                return false;
            }
            i += 3;
        } else if is_unreserved(b) || is_sub_delim(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// `IPv6address / IPvFuture` between the brackets of an IP-literal. Zone identifiers are not
/// accepted.
fn is_ip_literal(inner: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = inner {
        let Some(dot) = rest.iter().position(|&b| b == b'.') else {
            return false;
        };
        return dot > 0
            && rest[..dot].iter().all(u8::is_ascii_hexdigit)
            && rest.len() > dot + 1
            && rest[dot + 1..]
                .iter()
                .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
    }
    is_ipv6(inner)
}

fn is_ipv6(address: &[u8]) -> bool {
    let compression = address.windows(2).position(|w| w == b"::");
    let (head, tail) = match compression {
        Some(i) => (&address[..i], &address[i + 2..]),
        None => (address, &address[..0]),
    };
    if tail.windows(2).any(|w| w == b"::") {
        return false;
    }
    let Some(head_groups) = ipv6_groups(head, compression.is_none() || tail.is_empty()) else {
        return false;
    };
    let Some(tail_groups) = ipv6_groups(tail, true) else {
        return false;
    };
    let groups = head_groups + tail_groups;
    if compression.is_some() {
        groups <= 7
    } else {
        groups == 8
    }
}

/// Counts the 16-bit groups of one side of an IPv6 address; an IPv4 suffix counts as two and is
/// allowed only where `ipv4_allowed_last` says the side ends the address.
fn ipv6_groups(side: &[u8], ipv4_allowed_last: bool) -> Option<usize> {
    if side.is_empty() {
        return Some(0);
    }
    let parts: Vec<&[u8]> = side.split(|&b| b == b':').collect();
    let mut groups = 0;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if last && ipv4_allowed_last && part.contains(&b'.') {
            if !is_ipv4(part) {
                return None;
            }
            groups += 2;
        } else if (1..=4).contains(&part.len()) && part.iter().all(u8::is_ascii_hexdigit) {
            groups += 1;
        } else {
            return None;
        }
    }
    Some(groups)
}

/// Dotted-quad `IPv4address` with RFC 3986 `dec-octet`s (no leading zeros).
fn is_ipv4(address: &[u8]) -> bool {
    let mut octets = 0;
    for octet in address.split(|&b| b == b'.') {
        octets += 1;
        let valid = match octet {
            [d] => d.is_ascii_digit(),
            [b'0', ..] => false,
            _ => {
                octet.len() <= 3
                    && octet.iter().all(u8::is_ascii_digit)
                    && octet
                        .iter()
                        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
                        <= 255
            }
        };
        if !valid {
            return false;
        }
    }
    octets == 4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice<'a>(target: &'a [u8], range: &Range<usize>) -> &'a [u8] {
        &target[range.clone()]
    }

    #[test]
    fn rfc9112_3_2_1_origin_form_splits_path_and_query() {
        let target = b"/a/b%20c?x=1&y=/?z";
        let parts = parse_target(target).unwrap();
        assert_eq!(parts.form, TargetForm::Origin);
        assert_eq!(slice(target, &parts.path), b"/a/b%20c");
        assert_eq!(slice(target, parts.query.as_ref().unwrap()), b"x=1&y=/?z");
    }

    #[test]
    fn rfc3986_3_3_invalid_target_characters_are_rejected() {
        for bad in [
            &b"/a b"[..],
            b"/a#frag",
            b"/%zz",
            b"/%4",
            b"/\x7f",
            b"/caf\xc3\xa9",
            b"/a\\b",
            b"/<x>",
            b"/a\"b",
            b"",
            b"**",
            b"/a{b}",
        ] {
            assert!(
                parse_target(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn rfc9112_3_2_2_absolute_form() {
        let target = b"http://Example.com:8080/p?q";
        let parts = parse_target(target).unwrap();
        assert_eq!(parts.form, TargetForm::Absolute);
        assert_eq!(
            slice(target, parts.authority.as_ref().unwrap()),
            b"Example.com:8080"
        );
        assert_eq!(slice(target, &parts.path), b"/p");
        assert_eq!(slice(target, parts.query.as_ref().unwrap()), b"q");

        let bare = b"HTTPS://example.com";
        let parts = parse_target(bare).unwrap();
        assert!(parts.path.is_empty());
        let query_only = b"http://h?q=1";
        let parts = parse_target(query_only).unwrap();
        assert!(parts.path.is_empty());
        assert_eq!(slice(query_only, parts.query.as_ref().unwrap()), b"q=1");
    }

    #[test]
    fn rfc9110_4_2_1_absolute_form_rejects_empty_host_userinfo_and_other_schemes() {
        for bad in [
            &b"http:///path"[..],
            b"http://:80/",
            b"http://user@host/",
            b"ftp://host/",
            b"http://ho st/",
            b"http://host/#f",
        ] {
            assert!(
                parse_target(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn rfc9112_3_2_3_authority_form_requires_a_port() {
        let parts = parse_target(b"example.com:443").unwrap();
        assert_eq!(parts.form, TargetForm::Authority);
        assert!(parse_target(b"example.com").is_none());
        assert!(parse_target(b"example.com:").is_none());
        assert!(parse_target(b"[::1]:443").is_some());
    }

    #[test]
    fn rfc9112_3_2_4_asterisk_form() {
        assert_eq!(parse_target(b"*").unwrap().form, TargetForm::Asterisk);
    }

    #[test]
    fn rfc3986_3_2_2_host_syntax() {
        for good in [
            &b""[..],
            b"example.com",
            b"example.com:80",
            b"127.0.0.1",
            b"[::1]",
            b"[::1]:8080",
            b"[2001:db8::7]",
            b"[1:2:3:4:5:6:7:8]",
            b"[::ffff:192.0.2.1]",
            b"[v1.fe]",
            b"xn--bcher-kva.example",
            b"a%41b",
            b"h:",
        ] {
            assert!(
                is_authority(good, false),
                "{:?}",
                String::from_utf8_lossy(good)
            );
        }
        for bad in [
            &b"exa mple.com"[..],
            b"a/b",
            b"user@host",
            b"host:port",
            b"host:99999",
            b"host:123456",
            b"[::1",
            b"[::g]",
            b"[1:2:3:4:5:6:7:8:9]",
            b"[1::2::3]",
            b"[::1]x",
            b"a%4",
            b"h\x00",
            b"[::1%25eth0]",
            b"[1:2]",
        ] {
            assert!(
                !is_authority(bad, false),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn resolved(path: &str) -> DotSegments {
        remove_dot_segments(path.as_bytes())
    }

    #[test]
    fn rfc3986_5_2_4_dot_segments_inside_the_root_are_resolved() {
        assert_eq!(resolved("/a/b/c"), DotSegments::None);
        assert_eq!(resolved("/a/..b/.c"), DotSegments::None);
        for (path, expected) in [
            ("/a/../index.html", "/index.html"),
            ("/a/b/../c", "/a/c"),
            ("/./a", "/a"),
            ("/a/.", "/a/"),
            ("/a/..", "/"),
            ("/.", "/"),
            ("/a/%2e%2E/b", "/b"),
            ("/a/.%2e/b/%2e", "/b/"),
            ("/a//../b", "/a/b"),
        ] {
            assert_eq!(
                resolved(path),
                DotSegments::Resolved(expected.into()),
                "{path}"
            );
        }
    }

    #[test]
    fn rfc3986_5_2_4_dot_segments_above_the_root_are_refused() {
        for path in [
            "/..",
            "/../a",
            "/a/../..",
            "/./..",
            "/%2e%2e",
            "/a/%2E./../b",
        ] {
            assert_eq!(resolved(path), DotSegments::AboveRoot, "{path}");
        }
    }

    #[test]
    fn rfc3986_3_2_2_ipv4_dec_octets() {
        assert!(is_ipv4(b"192.0.2.255"));
        assert!(!is_ipv4(b"192.0.2.256"));
        assert!(!is_ipv4(b"192.0.02.1"));
        assert!(!is_ipv4(b"1.2.3"));
    }
}
