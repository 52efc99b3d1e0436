//! Conditional requests (RFC 9110 §13): validators and the evaluation order of §13.2.2.

use crate::method::Method;
use crate::request::Request;
use crate::syntax::is_ows;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The validators of the selected representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validators<'a> {
    /// Strong entity-tag including its quotes, e.g. `"1f-6553f100-2a"`; borrowed, because the
    /// same text also goes into the response's `ETag` field (a cached file holds it once).
    pub etag: &'a str,
    /// Modification time, when the file system reports one.
    pub last_modified: Option<SystemTime>,
}

/// The outcome of evaluating preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Perform the method as usual.
    Proceed,
    /// `304 Not Modified` (GET/HEAD whose cached copy is current).
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and `If-Modified-Since` in the
/// order RFC 9110 §13.2.2 prescribes. `now` rejects `If-Modified-Since` dates in the future
/// (§13.1.3).
pub fn evaluate(request: &Request, validators: &Validators<'_>, now: SystemTime) -> Precondition {
    evaluate_at(request, validators, || now)
}

/// [`evaluate`] reading the clock only when an `If-Modified-Since` date has to be checked, which
/// saves a clock read on almost every request.
pub(crate) fn evaluate_at(
    request: &Request,
    validators: &Validators<'_>,
    now: impl FnOnce() -> SystemTime,
) -> Precondition {
    let method = request.method();
    let get_or_head = matches!(method, Method::Get | Method::Head);
    // Only when a date condition is present.
    let last_modified = || validators.last_modified.map(truncate_to_second);

    let mut if_match = request.header_values("if-match").peekable();
    if if_match.peek().is_some() {
        if !list_matches(if_match, validators.etag, Comparison::Strong) {
            return Precondition::Failed;
        }
    } else if let Some((date, modified)) = single_date(request, "if-unmodified-since")
        .and_then(|date| last_modified().map(|modified| (date, modified)))
    {
        if modified > date {
            return Precondition::Failed;
        }
    }

    let mut if_none_match = request.header_values("if-none-match").peekable();
    if if_none_match.peek().is_some() {
        if list_matches(if_none_match, validators.etag, Comparison::Weak) {
            return if get_or_head {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if get_or_head {
        if let Some((date, modified)) = single_date(request, "if-modified-since")
            .and_then(|date| last_modified().map(|modified| (date, modified)))
        {
            if modified <= date && date <= now() {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

/// `If-Range` (RFC 9110 §13.1.5): true when the range request may be honoured, i.e. the
/// entity-tag matches strongly or the date equals `Last-Modified` exactly.
pub fn if_range_allows(request: &Request, validators: &Validators<'_>) -> bool {
    let Some(value) = request.header("if-range") else {
        return true;
    };
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        return parse_entity_tag(value).is_some_and(|(tag, weak, rest)| {
            !weak && rest.is_empty() && tag == validators.etag.as_bytes()
        });
    }
    match (parse_date(value), validators.last_modified) {
        (Some(date), Some(modified)) => truncate_to_second(modified) == date,
        _ => false,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Comparison {
    /// Both tags strong and identical (If-Match, If-Range).
    Strong,
    /// Opaque tags identical, weakness ignored (If-None-Match).
    Weak,
}

/// Matches `"*" / #entity-tag` across every field line. A malformed list matches nothing.
fn list_matches<'a>(
    values: impl Iterator<Item = &'a [u8]>,
    etag: &str,
    comparison: Comparison,
) -> bool {
    let ours = etag.as_bytes();
    for value in values {
        if value == b"*" {
            return true;
        }
        let mut rest = value;
        loop {
            rest = skip_list_separators(rest);
            if rest.is_empty() {
                break;
            }
            let Some((tag, weak, after)) = parse_entity_tag(rest) else {
                return false;
            };
            if tag == ours && (comparison == Comparison::Weak || !weak) {
                return true;
            }
            rest = after;
        }
    }
    false
}

fn skip_list_separators(mut bytes: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = bytes {
        if *first != b',' && !is_ows(*first) {
            break;
        }
        bytes = rest;
    }
    bytes
}

/// `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE` (RFC 9110 §8.8.3): returns the quoted tag, whether
/// it was weak, and the rest of the input.
fn parse_entity_tag(bytes: &[u8]) -> Option<(&[u8], bool, &[u8])> {
    let (weak, quoted) = match bytes.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    if quoted.first() != Some(&b'"') {
        return None;
    }
    let close = 1 + quoted[1..].iter().position(|&b| b == b'"')?;
    // etagc = %x21 / %x23-7E / obs-text
    if !quoted[1..close]
        .iter()
        .all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
    {
        return None;
    }
    Some((&quoted[..=close], weak, &quoted[close + 1..]))
}

/// A date condition is ignored unless there is exactly one valid HTTP-date (RFC 9110 §13.1.3-4).
fn single_date(request: &Request, name: &str) -> Option<SystemTime> {
    let mut values = request.header_values(name);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    parse_date(value)
}

fn parse_date(value: &[u8]) -> Option<SystemTime> {
    httpdate::parse_http_date(std::str::from_utf8(value).ok()?).ok()
}

/// HTTP dates have one-second resolution; file times usually do not.
pub(crate) fn truncate_to_second(time: SystemTime) -> SystemTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(elapsed) => UNIX_EPOCH + Duration::from_secs(elapsed.as_secs()),
        Err(_) => time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_request, Limits};

    const ETAG: &str = "\"abc-1\"";
    const MODIFIED: u64 = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT

    fn validators() -> Validators<'static> {
        Validators {
            etag: ETAG,
            last_modified: Some(UNIX_EPOCH + Duration::from_millis(MODIFIED * 1000 + 500)),
        }
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(MODIFIED + 86_400)
    }

    fn request(method: &str, fields: &str) -> Request {
        let raw = format!("{method} / HTTP/1.1\r\nHost: a\r\n{fields}\r\n");
        parse_request(raw.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    fn eval(method: &str, fields: &str) -> Precondition {
        evaluate(&request(method, fields), &validators(), now())
    }

    #[test]
    fn rfc9110_13_1_2_if_none_match_hit_is_304_for_get_and_head() {
        assert_eq!(
            eval("GET", "If-None-Match: \"abc-1\"\r\n"),
            Precondition::NotModified
        );
        assert_eq!(
            eval("HEAD", "If-None-Match: \"x\", W/\"abc-1\"\r\n"),
            Precondition::NotModified
        );
        assert_eq!(
            eval("GET", "If-None-Match: *\r\n"),
            Precondition::NotModified
        );
        assert_eq!(
            eval(
                "GET",
                "If-None-Match: \"x\"\r\nIf-None-Match: \"abc-1\"\r\n"
            ),
            Precondition::NotModified
        );
        assert_eq!(
            eval("GET", "If-None-Match: \"other\"\r\n"),
            Precondition::Proceed
        );
        assert_eq!(
            eval("POST", "If-None-Match: \"abc-1\"\r\n"),
            Precondition::Failed
        );
    }

    #[test]
    fn rfc9110_13_1_3_if_modified_since() {
        assert_eq!(
            eval(
                "GET",
                "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            ),
            Precondition::NotModified
        );
        assert_eq!(
            eval(
                "GET",
                "If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n"
            ),
            Precondition::Proceed
        );
        assert_eq!(
            eval("GET", "If-Modified-Since: garbage\r\n"),
            Precondition::Proceed
        );
        assert_eq!(
            eval(
                "POST",
                "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            ),
            Precondition::Proceed
        );
        assert_eq!(
            eval(
                "GET",
                "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n"
            ),
            Precondition::Proceed,
            "future dates are invalid"
        );
    }

    #[test]
    fn rfc9110_13_2_2_if_none_match_takes_precedence_over_if_modified_since() {
        let fields =
            "If-None-Match: \"other\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
        assert_eq!(eval("GET", fields), Precondition::Proceed);
    }

    #[test]
    fn rfc9110_13_1_1_if_match_failure_is_412() {
        assert_eq!(eval("PUT", "If-Match: \"other\"\r\n"), Precondition::Failed);
        assert_eq!(eval("GET", "If-Match: \"other\"\r\n"), Precondition::Failed);
        assert_eq!(
            eval("GET", "If-Match: \"abc-1\"\r\n"),
            Precondition::Proceed
        );
        assert_eq!(eval("GET", "If-Match: *\r\n"), Precondition::Proceed);
        assert_eq!(
            eval("GET", "If-Match: W/\"abc-1\"\r\n"),
            Precondition::Failed,
            "weak tags never match strongly"
        );
        assert_eq!(
            eval("GET", "If-Match: \"unterminated\r\n"),
            Precondition::Failed
        );
    }

    #[test]
    fn rfc9110_13_1_4_if_unmodified_since_failure_is_412() {
        assert_eq!(
            eval(
                "GET",
                "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n"
            ),
            Precondition::Failed
        );
        assert_eq!(
            eval(
                "GET",
                "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            ),
            Precondition::Proceed
        );
        assert_eq!(
            eval("GET", "If-Unmodified-Since: nonsense\r\n"),
            Precondition::Proceed
        );
        let both = "If-Match: \"abc-1\"\r\nIf-Unmodified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n";
        assert_eq!(
            eval("GET", both),
            Precondition::Proceed,
            "If-Match present: If-Unmodified-Since is ignored"
        );
    }

    #[test]
    fn rfc9110_13_1_5_if_range() {
        let check = |fields: &str| if_range_allows(&request("GET", fields), &validators());
        assert!(check(""));
        assert!(check("If-Range: \"abc-1\"\r\n"));
        assert!(!check("If-Range: \"other\"\r\n"));
        assert!(!check("If-Range: W/\"abc-1\"\r\n"));
        assert!(check("If-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
        assert!(!check("If-Range: Sun, 06 Nov 1994 08:49:38 GMT\r\n"));
        assert!(!check("If-Range: not a date\r\n"));
    }
}
