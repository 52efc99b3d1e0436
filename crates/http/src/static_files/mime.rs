//! Content-Type from the file name (`mime_guess`) and which types are worth compressing.

use std::borrow::Cow;
use std::path::Path;

/// Types without a better guess are sent as opaque bytes (RFC 9110 §8.3).
const FALLBACK: &str = "application/octet-stream";

/// The `Content-Type` for a file: `mime_guess`'s first guess, with `charset=utf-8` for text types
/// (including JavaScript) so browsers do not sniff an encoding.
pub fn content_type(path: &Path) -> Cow<'static, str> {
    let essence = mime_guess::from_path(path).first_raw().unwrap_or(FALLBACK);
    if essence.starts_with("text/") || essence == "application/javascript" {
        Cow::Owned(format!("{essence}; charset=utf-8"))
    } else {
        Cow::Borrowed(essence)
    }
}

/// Whether gzip is likely to shrink content of this type. Images, audio, video, archives and
/// fonts other than the uncompressed formats are already compressed; compressing them again
/// wastes CPU and can grow them.
pub fn is_compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/javascript"
                | "application/json"
                | "application/ld+json"
                | "application/manifest+json"
                | "application/xml"
                | "application/xhtml+xml"
                | "application/rss+xml"
                | "application/atom+xml"
                | "application/wasm"
                | "application/x-javascript"
                | "image/svg+xml"
                | "image/x-icon"
                | "image/vnd.microsoft.icon"
                | "image/bmp"
                | "font/ttf"
                | "font/otf"
                | "application/vnd.ms-fontobject"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9110_8_3_text_types_get_utf8_charset() {
        assert_eq!(
            content_type(Path::new("a.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("a.css")), "text/css; charset=utf-8");
        assert_eq!(
            content_type(Path::new("a.txt")),
            "text/plain; charset=utf-8"
        );
        assert!(content_type(Path::new("a.js")).ends_with("; charset=utf-8"));
        assert_eq!(content_type(Path::new("a.png")), "image/png");
        assert_eq!(content_type(Path::new("a.json")), "application/json");
        assert_eq!(
            content_type(Path::new("no_extension")),
            "application/octet-stream"
        );
    }

    #[test]
    fn already_compressed_types_are_not_compressed_again() {
        assert!(is_compressible("text/html; charset=utf-8"));
        assert!(is_compressible("application/json"));
        assert!(is_compressible("image/svg+xml"));
        for compressed in [
            "image/png",
            "image/jpeg",
            "video/mp4",
            "application/zip",
            "application/gzip",
            "font/woff2",
        ] {
            assert!(!is_compressible(compressed), "{compressed}");
        }
    }
}
