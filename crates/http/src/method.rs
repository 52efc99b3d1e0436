//! Request methods (RFC 9110 §9): the standard set, matched case-sensitively.

use std::fmt;

/// A request method the server understands.
///
/// Methods are case-sensitive (RFC 9110 §9.1): `get` is a valid token but not `GET`, so the parser
/// answers it with 501 like any other unknown method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// RFC 9110 §9.3.1.
    Get,
    /// RFC 9110 §9.3.2.
    Head,
    /// RFC 9110 §9.3.3.
    Post,
    /// RFC 9110 §9.3.4.
    Put,
    /// RFC 9110 §9.3.5.
    Delete,
    /// RFC 9110 §9.3.6.
    Connect,
    /// RFC 9110 §9.3.7.
    Options,
    /// RFC 9110 §9.3.8.
    Trace,
    /// RFC 5789.
    Patch,
}

impl Method {
    /// Every method, in the order `Allow` lists them.
    pub const ALL: [Method; 9] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Connect,
        Method::Options,
        Method::Trace,
        Method::Patch,
    ];

    /// Recognises a method token exactly as sent; `None` for anything else, including other cases.
    pub fn from_token(token: &[u8]) -> Option<Method> {
        Some(match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            _ => return None,
        })
    }

    /// The method's token as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
        }
    }

    /// Position in [`Method::ALL`], used for compact method sets.
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9110_9_1_methods_are_case_sensitive() {
        assert_eq!(Method::from_token(b"GET"), Some(Method::Get));
        assert_eq!(Method::from_token(b"get"), None);
        assert_eq!(Method::from_token(b"Get"), None);
    }

    #[test]
    fn every_method_round_trips_through_its_token() {
        for (i, method) in Method::ALL.iter().enumerate() {
            assert_eq!(
                Method::from_token(method.as_str().as_bytes()),
                Some(*method)
            );
            assert_eq!(method.index(), i);
        }
    }
}
