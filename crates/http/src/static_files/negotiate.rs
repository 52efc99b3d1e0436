//! `Accept-Encoding` negotiation (RFC 9110 §12.5.3) between gzip and identity.

use crate::syntax::{list_elements, trim_ows};

/// The content coding chosen for a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// No content coding.
    Identity,
    /// gzip (RFC 9110 §8.4.1.3).
    Gzip,
}

/// The q-values an `Accept-Encoding` field gives the codings this server knows, in thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AcceptEncoding {
    /// Whether the field was sent at all: without it, only identity is used.
    present: bool,
    /// q of `gzip` or `x-gzip`, when listed.
    gzip: Option<u16>,
    /// q of `identity`, when listed.
    identity: Option<u16>,
    /// q of `*`, when listed: applies to every coding not listed by name.
    any: Option<u16>,
}

impl AcceptEncoding {
    /// Parses every `Accept-Encoding` field line. Elements with malformed q-values are ignored;
    /// when a coding is listed twice the highest q wins.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut accept = AcceptEncoding::default();
        for value in values {
            accept.present = true;
            for element in list_elements(value) {
                let mut params = element.split(|&b| b == b';');
                let coding = trim_ows(params.next().unwrap_or_default());
                let mut q = Some(1000);
                for param in params {
                    let param = trim_ows(param);
                    if param.len() >= 2 && param[..2].eq_ignore_ascii_case(b"q=") {
                        q = parse_qvalue(&param[2..]);
                    }
                }
                let Some(q) = q else { continue };
                let slot = if coding.eq_ignore_ascii_case(b"gzip")
                    || coding.eq_ignore_ascii_case(b"x-gzip")
                {
                    &mut accept.gzip
                } else if coding.eq_ignore_ascii_case(b"identity") {
                    &mut accept.identity
                } else if coding == b"*" {
                    &mut accept.any
                } else {
                    continue;
                };
                *slot = Some(slot.map_or(q, |previous| previous.max(q)));
            }
        }
        accept
    }

    /// The q-value for gzip: named, else `*`, else not acceptable.
    pub fn gzip_q(&self) -> u16 {
        self.gzip.or(self.any).unwrap_or(0)
    }

    /// The q-value identity was given: named, else through `*`; `None` when the field does not
    /// mention it.
    fn identity_listed(&self) -> Option<u16> {
        self.identity.or(self.any)
    }

    /// Picks a coding among those the server can send, by q-value (RFC 9110 §12.5.3); codings
    /// it does not implement were skipped while parsing. Identity, when the field does not
    /// mention it, stays acceptable but ranks below every coding the client listed: a client
    /// sending `gzip;q=0.8` asks for gzip. A tie goes to gzip. `None` when nothing the server
    /// can send is acceptable (→ 406); without an `Accept-Encoding` field the answer is
    /// identity.
    pub fn choose(&self, gzip_available: bool) -> Option<Coding> {
        if !self.present {
            return Some(Coding::Identity);
        }
        let gzip = if gzip_available { self.gzip_q() } else { 0 };
        let identity = self.identity_listed();
        if gzip > 0 && identity.is_none_or(|identity| gzip >= identity) {
            Some(Coding::Gzip)
        } else if identity.is_none_or(|identity| identity > 0) {
            Some(Coding::Identity)
        } else {
            None
        }
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` (RFC 9110 §12.4.2), in
/// thousandths.
fn parse_qvalue(value: &[u8]) -> Option<u16> {
    let (int, frac) = match value {
        [int] => (*int, &[][..]),
        [int, b'.', frac @ ..] if frac.len() <= 3 => (*int, frac),
        _ => return None,
    };
    if !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int {
        b'0' => Some(thousandths),
        b'1' if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(value: &str, gzip_available: bool) -> Option<Coding> {
        AcceptEncoding::parse([value.as_bytes()]).choose(gzip_available)
    }

    #[test]
    fn rfc9110_12_5_3_no_field_means_identity() {
        assert_eq!(
            AcceptEncoding::parse(std::iter::empty()).choose(true),
            Some(Coding::Identity)
        );
    }

    #[test]
    fn rfc9110_12_5_3_empty_field_means_identity_only() {
        assert_eq!(choose("", true), Some(Coding::Identity));
    }

    #[test]
    fn rfc9110_12_5_3_gzip_when_listed() {
        assert_eq!(choose("gzip, deflate, br", true), Some(Coding::Gzip));
        assert_eq!(choose("GZIP", true), Some(Coding::Gzip));
        assert_eq!(choose("x-gzip", true), Some(Coding::Gzip));
        assert_eq!(choose("br", true), Some(Coding::Identity));
        assert_eq!(choose("gzip", false), Some(Coding::Identity));
    }

    #[test]
    fn rfc9110_12_4_2_q_values_order_codings() {
        assert_eq!(choose("gzip;q=0.5, identity", true), Some(Coding::Identity));
        assert_eq!(
            choose("gzip;q=0.5, identity;q=0.4", true),
            Some(Coding::Gzip)
        );
        assert_eq!(choose("gzip ; Q=1.000", true), Some(Coding::Gzip));
        assert_eq!(choose("gzip;q=0", true), Some(Coding::Identity));
        assert_eq!(choose("gzip;q=0.001", true), Some(Coding::Gzip));
    }

    #[test]
    fn rfc9110_12_5_3_unknown_codings_are_skipped_and_the_rest_ranked_by_q() {
        assert_eq!(choose("foo;q=0.9, gzip;q=0.8", true), Some(Coding::Gzip));
        assert_eq!(choose("br;q=1, zstd, gzip;q=0.1", true), Some(Coding::Gzip));
        assert_eq!(
            choose("foo, gzip;q=0.5, identity;q=0.6", true),
            Some(Coding::Identity)
        );
        assert_eq!(
            choose("foo;q=0.9, gzip;q=0.8", false),
            Some(Coding::Identity)
        );
        assert_eq!(choose("foo", true), Some(Coding::Identity));
    }

    #[test]
    fn rfc9110_12_5_3_star_matches_unlisted_codings() {
        assert_eq!(choose("*", true), Some(Coding::Gzip));
        assert_eq!(choose("*;q=0.5, identity", true), Some(Coding::Identity));
        assert_eq!(choose("gzip;q=0, *", true), Some(Coding::Identity));
    }

    #[test]
    fn rfc9110_12_5_3_identity_excluded_by_q0_or_star_q0() {
        assert_eq!(choose("identity;q=0", true), None);
        assert_eq!(choose("identity;q=0", false), None);
        assert_eq!(choose("*;q=0", false), None);
        assert_eq!(choose("*;q=0, identity", false), Some(Coding::Identity));
        assert_eq!(choose("gzip, identity;q=0", true), Some(Coding::Gzip));
    }

    #[test]
    fn rfc9110_12_4_2_malformed_q_values_are_ignored() {
        assert_eq!(parse_qvalue(b"1"), Some(1000));
        assert_eq!(parse_qvalue(b"0.25"), Some(250));
        assert_eq!(parse_qvalue(b"1.001"), None);
        assert_eq!(parse_qvalue(b"0.2345"), None);
        assert_eq!(parse_qvalue(b"2"), None);
        assert_eq!(parse_qvalue(b""), None);
        assert_eq!(choose("gzip;q=high", true), Some(Coding::Identity));
    }
}
