//! Protocol versions (RFC 9112 §2.3).

use std::fmt;

/// The HTTP/1.x version a request was sent with.
///
/// HTTP/1.2 and later minor versions are handled as 1.1 (RFC 9110 §2.5: a recipient processes a
/// higher minor version as the highest it implements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// HTTP/1.0: connections close by default, no chunked coding.
    Http10,
    /// HTTP/1.1.
    Http11,
}

/// Outcome of reading an `HTTP-version` token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VersionToken {
    /// A 1.x version the server speaks.
    Supported(Version),
    /// Well-formed but with a major version other than 1 → 505.
    Unsupported,
    /// Not `HTTP/` DIGIT `.` DIGIT → 400.
    Malformed,
}

impl Version {
    /// The version as written in a status line or request line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }

    /// Classifies a version token. `HTTP-version = HTTP-name "/" DIGIT "." DIGIT` and
    /// `HTTP-name` is case-sensitive (RFC 9112 §2.3).
    pub(crate) fn classify(token: &[u8]) -> VersionToken {
        match token {
            [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
                if major.is_ascii_digit() && minor.is_ascii_digit() =>
            {
                match (major, minor) {
                    (b'1', b'0') => VersionToken::Supported(Version::Http10),
                    (b'1', _) => VersionToken::Supported(Version::Http11),
                    _ => VersionToken::Unsupported,
                }
            }
            _ => VersionToken::Malformed,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9112_2_3_version_grammar() {
        assert_eq!(
            Version::classify(b"HTTP/1.1"),
            VersionToken::Supported(Version::Http11)
        );
        assert_eq!(
            Version::classify(b"HTTP/1.0"),
            VersionToken::Supported(Version::Http10)
        );
        assert_eq!(
            Version::classify(b"HTTP/1.9"),
            VersionToken::Supported(Version::Http11)
        );
        assert_eq!(Version::classify(b"HTTP/2.0"), VersionToken::Unsupported);
        assert_eq!(Version::classify(b"HTTP/0.9"), VersionToken::Unsupported);
        for bad in [
            &b"http/1.1"[..],
            b"HTTP/1",
            b"HTTP/1.10",
            b"HTTP/11",
            b"HTTP/1.x",
            b"HTTP/",
        ] {
            assert_eq!(Version::classify(bad), VersionToken::Malformed, "{bad:?}");
        }
    }
}
