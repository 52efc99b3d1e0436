//! Turning a URL path into a file under the document root.
//!
//! [`normalize`] is pure: percent-decoding, rejection of encodings that smuggle separators or
//! malformed UTF-8, and RFC 3986 §5.2.4 dot-segment removal, producing segments that cannot name
//! anything above the root. [`locate`] then consults the file system: it canonicalises the
//! candidate (resolving symlinks) and checks the result is still inside the canonical root.

use super::StaticOptions;
use crate::status::StatusCode;
use percent_encoding::percent_decode;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Malformed: NUL, encoded `/` or `\`, raw `\`, bad percent-encoding or invalid UTF-8
    /// (which includes overlong forms such as `%C0%AE`) → 400.
    BadRequest,
    /// Does not exist, is hidden (a dot-file) or is not a regular file → 404.
    NotFound,
    /// Resolves outside the document root (through a symlink) or cannot be read → 403.
    Forbidden,
}

impl Rejection {
    /// The status to answer with.
    pub const fn status(self) -> StatusCode {
        match self {
            Rejection::BadRequest => StatusCode::BAD_REQUEST,
            Rejection::NotFound => StatusCode::NOT_FOUND,
            Rejection::Forbidden => StatusCode::FORBIDDEN,
        }
    }
}

/// A decoded path with dot-segments removed; every segment is a plain file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPath {
    /// Decoded segments from the root, none empty, `.` or `..`.
    segments: Vec<String>,
    /// The URL named a directory (ended in `/`, or in a dot-segment).
    directory_form: bool,
}

impl NormalizedPath {
    /// The decoded segments.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether the URL ended in `/` (directories are only served in this form).
    pub fn is_directory_form(&self) -> bool {
        self.directory_form
    }

    /// Whether a segment starts with `.` (hidden unless dot-files are shown).
    pub fn has_hidden_segment(&self) -> bool {
        self.segments.iter().any(|segment| segment.starts_with('.'))
    }

    /// The path relative to the document root; it has only normal components.
    pub fn relative_path(&self) -> PathBuf {
        self.segments.iter().collect()
    }
}

/// Decodes and normalises the (still percent-encoded) path below a static mount.
pub fn normalize(encoded: &str) -> Result<NormalizedPath, Rejection> {
    let bytes = encoded.as_bytes();
    if bytes.contains(&b'\\') || bytes.contains(&0) {
        return Err(Rejection::BadRequest);
    }
    // Separators must not be smuggled in encoded form: `%2F` would otherwise become a path
    // separator after decoding, `%5C` one on Windows, `%00` a C string terminator.
    for window in bytes.windows(3) {
        if window[0] == b'%'
            && (window[1..].eq_ignore_ascii_case(b"2f")
                || window[1..].eq_ignore_ascii_case(b"5c")
                || window[1..] == *b"00")
        {
            return Err(Rejection::BadRequest);
        }
    }
    let mut segments: Vec<String> = Vec::new();
    let mut directory_form = false;
    for raw in encoded.split('/') {
        if raw.is_empty() {
            continue;
        }
        if raw
            .as_bytes()
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'%' && !is_pct_encoded(&raw.as_bytes()[i..]))
        {
            return Err(Rejection::BadRequest);
        }
        let decoded = percent_decode(raw.as_bytes())
            .decode_utf8()
            .map_err(|_| Rejection::BadRequest)?;
        if decoded
            .chars()
            .any(|c| c == '\0' || c == '/' || c == '\\' || c.is_control())
        {
            return Err(Rejection::BadRequest);
        }
        directory_form = false;
        match decoded.as_ref() {
            "." => directory_form = true,
            ".." => {
                // RFC 3986 §5.2.4: `..` above the root stays at the root.
                segments.pop();
                directory_form = true;
            }
            _ => segments.push(decoded.into_owned()),
        }
    }
    if encoded.ends_with('/') {
        directory_form = true;
    }
    Ok(NormalizedPath {
        segments,
        directory_form,
    })
}

fn is_pct_encoded(bytes: &[u8]) -> bool {
    bytes.len() >= 3 && bytes[1].is_ascii_hexdigit() && bytes[2].is_ascii_hexdigit()
}

/// What a normalised path names on disk.
#[derive(Debug)]
pub enum Located {
    /// A regular file (possibly a directory's index), by canonical path.
    File {
        /// Canonical path, inside the root.
        path: PathBuf,
        /// Its metadata.
        metadata: fs::Metadata,
    },
    /// A directory asked for without the trailing slash: redirect to the slash form so that
    /// relative links in its index resolve correctly.
    RedirectToDirectory,
}

/// Finds the file a normalised path names below `root`, which must be canonical.
pub fn locate(
    root: &Path,
    path: &NormalizedPath,
    options: &StaticOptions,
) -> Result<Located, Rejection> {
    if !options.show_dotfiles && path.has_hidden_segment() {
        return Err(Rejection::NotFound);
    }
    let canonical = canonical_inside(root, &root.join(path.relative_path()), options)?;
    let metadata = fs::metadata(&canonical).map_err(io_rejection)?;
    if metadata.is_dir() {
        if !path.is_directory_form() {
            return Ok(Located::RedirectToDirectory);
        }
        let index = canonical_inside(root, &canonical.join(&options.index_file), options)?;
        let metadata = fs::metadata(&index).map_err(io_rejection)?;
        if !metadata.is_file() {
            return Err(Rejection::NotFound);
        }
        return Ok(Located::File {
            path: index,
            metadata,
        });
    }
    if !metadata.is_file() || path.is_directory_form() {
        return Err(Rejection::NotFound);
    }
    Ok(Located::File {
        path: canonical,
        metadata,
    })
}

/// Canonicalises `candidate` and checks it did not leave `root`, nor (through a symlink) land on
/// a hidden file.
pub(crate) fn canonical_inside(
    root: &Path,
    candidate: &Path,
    options: &StaticOptions,
) -> Result<PathBuf, Rejection> {
    let canonical = fs::canonicalize(candidate).map_err(io_rejection)?;
    let Ok(inside) = canonical.strip_prefix(root) else {
        return Err(Rejection::Forbidden);
    };
    let hidden = inside
        .components()
        .any(|component| matches!(component, Component::Normal(name) if name.to_string_lossy().starts_with('.')));
    if hidden && !options.show_dotfiles {
        return Err(Rejection::NotFound);
    }
    Ok(canonical)
}

fn io_rejection(error: io::Error) -> Rejection {
    match error.kind() {
        io::ErrorKind::PermissionDenied => Rejection::Forbidden,
        _ => Rejection::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(encoded: &str) -> Vec<String> {
        normalize(encoded).unwrap().segments().to_vec()
    }

    #[test]
    fn rfc3986_2_1_percent_decoding() {
        assert_eq!(segments("/a%20b/c%C3%A9.txt"), vec!["a b", "c\u{e9}.txt"]);
    }

    #[test]
    fn rfc3986_5_2_4_dot_segments_are_removed_and_clamped_at_the_root() {
        assert_eq!(segments("/a/./b/../c"), vec!["a", "c"]);
        assert_eq!(segments("/../../etc/passwd"), vec!["etc", "passwd"]);
        assert_eq!(segments("/a/%2e%2e/%2E%2E/%2e/b"), vec!["b"]);
        assert!(normalize("/a/..").unwrap().is_directory_form());
        assert!(normalize("/a/.").unwrap().is_directory_form());
        assert!(!normalize("/a/..b").unwrap().is_directory_form());
        assert_eq!(segments("/a/..b"), vec!["a", "..b"]);
    }

    #[test]
    fn empty_segments_collapse_and_the_trailing_slash_is_kept() {
        let path = normalize("//a///b/").unwrap();
        assert_eq!(path.segments(), ["a", "b"]);
        assert!(path.is_directory_form());
        assert!(
            !normalize("").unwrap().is_directory_form(),
            "the bare mount point redirects to its slash form"
        );
        assert!(!normalize("/a").unwrap().is_directory_form());
    }

    #[test]
    fn static_encoded_separators_nul_and_backslash_are_400() {
        for bad in [
            "/a%2fb",
            "/a%2Fb",
            "/a%5cb",
            "/a%5Cb",
            "/a%00b",
            "/a\\b",
            "/%2e%2e%2f",
            "/a\0b",
        ] {
            assert_eq!(normalize(bad), Err(Rejection::BadRequest), "{bad}");
        }
    }

    #[test]
    fn static_overlong_and_invalid_utf8_is_400() {
        for bad in [
            "/%C0%AE%C0%AE/x",
            "/%c0%af",
            "/%E0%80%AE",
            "/%FF",
            "/%C3",
            "/%ED%A0%80",
        ] {
            assert_eq!(normalize(bad), Err(Rejection::BadRequest), "{bad}");
        }
    }

    #[test]
    fn static_bad_percent_encoding_and_controls_are_400() {
        for bad in ["/a%", "/a%4", "/a%zz", "/a%0a", "/a%7f"] {
            assert_eq!(normalize(bad), Err(Rejection::BadRequest), "{bad}");
        }
    }

    #[test]
    fn relative_path_has_only_normal_components() {
        let path = normalize("/x/../../y/z").unwrap().relative_path();
        assert!(path.components().all(|c| matches!(c, Component::Normal(_))));
        assert_eq!(path, PathBuf::from("y/z"));
    }

    #[test]
    fn dotfiles_are_detected_in_any_segment() {
        assert!(normalize("/.git/config").unwrap().has_hidden_segment());
        assert!(normalize("/a/.env").unwrap().has_hidden_segment());
        assert!(!normalize("/a/b.env").unwrap().has_hidden_segment());
    }
}
