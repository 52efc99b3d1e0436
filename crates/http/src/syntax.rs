//! Character classes and small list parsers shared by the parser, the body decoder and the
//! static-file rules (RFC 9110 §5.6, RFC 3986 §2).

/// `tchar` (RFC 9110 §5.6.2): the characters of a token.
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// `token = 1*tchar`.
pub(crate) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

/// `field-vchar / SP / HTAB` (RFC 9110 §5.5): what a field value may contain. CR, LF, NUL and
/// other controls are excluded.
pub(crate) const fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// `OWS` characters.
pub(crate) const fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `unreserved` (RFC 3986 §2.3).
pub(crate) const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// `sub-delims` (RFC 3986 §2.2).
pub(crate) const fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// `pchar` minus `pct-encoded` (RFC 3986 §3.3); `%` is checked separately.
pub(crate) const fn is_pchar(b: u8) -> bool {
    is_unreserved(b) || is_sub_delim(b) || b == b':' || b == b'@'
}

/// Strips optional whitespace from both ends.
pub(crate) fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = bytes {
        if !is_ows(*first) {
            break;
        }
        bytes = rest;
    }
    while let [rest @ .., last] = bytes {
        if !is_ows(*last) {
            break;
        }
        bytes = rest;
    }
    bytes
}

/// The non-empty elements of a `#rule` list, trimmed of OWS. Empty elements are skipped as
/// RFC 9110 §5.6.1.2 requires of recipients.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

/// Parses `quoted-string` (RFC 9110 §5.6.4) at the start of `bytes`; returns its length including
/// both quotes, or `None` when it is not a well-formed quoted string.
pub(crate) fn quoted_string_len(bytes: &[u8]) -> Option<usize> {
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some(i + 1),
            b'\\' => {
                let escaped = *bytes.get(i + 1)?;
                if !(escaped == b'\t'
                    || escaped == b' '
                    || (0x21..=0x7e).contains(&escaped)
                    || escaped >= 0x80)
                {
                    return None;
                }
                i += 2;
            }
            b if b == b'\t'
                || b == b' '
                || b == 0x21
                || (0x23..=0x5b).contains(&b)
                || (0x5d..=0x7e).contains(&b)
                || b >= 0x80 =>
            {
                i += 1
            }
            _ => return None,
        }
    }
    None
}

/// Value of an ASCII hex digit.
pub(crate) const fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9110_5_6_1_empty_list_elements_are_ignored() {
        let elements: Vec<&[u8]> = list_elements(b" ,a, ,\tb ,,").collect();
        assert_eq!(elements, vec![&b"a"[..], b"b"]);
    }

    #[test]
    fn rfc9110_5_6_4_quoted_string() {
        assert_eq!(quoted_string_len(b"\"abc\"rest"), Some(5));
        assert_eq!(quoted_string_len(b"\"a\\\"b\""), Some(6));
        assert_eq!(quoted_string_len(b"\"unterminated"), None);
        assert_eq!(quoted_string_len(b"\"bad\x01\""), None);
        assert_eq!(quoted_string_len(b"plain"), None);
    }

    #[test]
    fn rfc9110_5_6_2_token_characters() {
        assert!(is_token(b"GET"));
        assert!(is_token(b"x-custom_1.2~"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"a:b"));
        assert!(!is_token(b"a\"b"));
    }
}
