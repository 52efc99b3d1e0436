//! The pure part of serving a file: given the request and the file's metadata, decide the
//! status, the fields and which bytes to send. No I/O happens here; [`super::fs`] carries the
//! decision out.

use super::conditional::{self, Precondition, Validators};
use super::mime::is_compressible;
use super::negotiate::{AcceptEncoding, Coding};
use super::range::{self, ByteRange, RangeDecision};
use super::StaticOptions;
use crate::method::Method;
use crate::request::Request;
use crate::response::{field_text, FieldTable, FieldValue, Response};
use crate::status::StatusCode;
use std::hash::{Hash, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// The metadata decisions depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    /// Size in bytes.
    pub len: u64,
    /// Modification time, when the platform reports one.
    pub modified: Option<SystemTime>,
    /// Inode number (0 where the platform has none): a file replaced by another of equal size and
    /// time still gets a new ETag.
    pub inode: u64,
}

impl FileFacts {
    /// Facts from file-system metadata.
    pub fn from_metadata(metadata: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(metadata);
        #[cfg(not(unix))]
        let inode = 0;
        FileFacts {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            inode,
        }
    }

    /// A strong entity-tag from inode, modification time (to the nanosecond) and size, with a
    /// suffix distinguishing encoded variants (RFC 9110 §8.8.3: each representation needs its
    /// own tag).
    pub fn etag(&self, suffix: &str) -> String {
        let modified = self
            .modified
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        format!(
            "\"{:x}-{:x}.{:x}-{:x}{suffix}\"",
            self.inode,
            modified.as_secs(),
            modified.subsec_nanos(),
            self.len
        )
    }
}

/// Which bytes represent the resource in this response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The file itself.
    Identity,
    /// The precompressed sibling `file.gz`.
    Precompressed,
    /// The file, gzip-compressed while serving.
    Gzip,
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Boundary line and part fields, ending with the empty line.
    pub header: Vec<u8>,
    /// The bytes of the representation this part carries.
    pub range: ByteRange,
}

/// The content to send once the file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Nothing (304, 412, 416, 406).
    None,
    /// The whole variant.
    Whole(Variant),
    /// One range of the variant (206).
    Range(Variant, ByteRange),
    /// Several ranges as `multipart/byteranges` (206): each part, then the closing delimiter.
    Multipart(Variant, Vec<Part>, Vec<u8>),
}

/// A decided response whose content still has to be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Status and fields, without content.
    pub response: Response,
    /// What to read into the content.
    pub content: Content,
}

/// The file being served and what is known about it.
#[derive(Debug, Clone, Copy)]
pub struct FileInfo<'a> {
    /// The file's own metadata.
    pub facts: FileFacts,
    /// Its `Content-Type`.
    pub content_type: &'a str,
    /// Metadata of the `file.gz` sibling when one exists inside the root.
    pub precompressed: Option<FileFacts>,
}

/// The header values of a file's representations, as a decision puts them into a response.
///
/// This is the only thing the two ways of answering differ in while deciding: for a file on disk
/// they are formatted from its metadata for this request ([`Computed`]); a
/// [`CachedFile`](super::CachedFile) formatted them once when it was loaded, into a table the
/// response shares. Every rule lives in [`decide_with`], used by both.
pub(crate) trait Fields {
    /// Whether the file's type is worth compressing ([`is_compressible`] of its type).
    fn compressible(&self) -> bool;
    /// The table [`FieldValue::Table`] values returned below refer to, if any.
    fn table(&self) -> Option<FieldTable>;
    /// The file's `Content-Type` (the same for every variant).
    fn content_type(&self) -> FieldValue;
    /// The configured `Cache-Control`, if any.
    fn cache_control(&self) -> Option<FieldValue>;
    /// The `ETag` of `variant`: the file's, with `-gzip` for the compressed variants, the
    /// precompressed one from the sibling's own metadata.
    fn etag(&self, variant: Variant) -> FieldValue;
    /// The `Last-Modified` of `variant`, when its file has a modification time.
    fn last_modified(&self, variant: Variant) -> Option<FieldValue>;
    /// The text of a value returned above.
    fn text<'a>(&'a self, value: &'a FieldValue) -> &'a str;
}

/// Header values formatted from a [`FileInfo`] when a decision asks for them.
pub(crate) struct Computed<'a> {
    /// The file and its sibling's metadata.
    pub file: &'a FileInfo<'a>,
    /// The configured `Cache-Control`.
    pub cache_control: Option<&'a str>,
}

impl Fields for Computed<'_> {
    fn compressible(&self) -> bool {
        is_compressible(self.file.content_type)
    }

    fn table(&self) -> Option<FieldTable> {
        None
    }

    fn content_type(&self) -> FieldValue {
        FieldValue::Owned(self.file.content_type.to_owned())
    }

    fn cache_control(&self) -> Option<FieldValue> {
        self.cache_control
            .map(|value| FieldValue::Owned(value.to_owned()))
    }

    fn etag(&self, variant: Variant) -> FieldValue {
        FieldValue::Owned(match variant {
            Variant::Identity => self.file.facts.etag(""),
            Variant::Gzip => self.file.facts.etag(GZIP_SUFFIX),
            Variant::Precompressed => self.sibling().etag(GZIP_SUFFIX),
        })
    }

    fn last_modified(&self, variant: Variant) -> Option<FieldValue> {
        let facts = match variant {
            Variant::Precompressed => self.sibling(),
            Variant::Identity | Variant::Gzip => self.file.facts,
        };
        facts
            .modified
            .map(|modified| FieldValue::Owned(httpdate::fmt_http_date(modified)))
    }

    fn text<'a>(&'a self, value: &'a FieldValue) -> &'a str {
        field_text(value, None)
    }
}

impl Computed<'_> {
    /// The sibling's metadata; [`decide_with`] only asks for the precompressed variant when
    /// there is one.
    fn sibling(&self) -> FileFacts {
        self.file.precompressed.unwrap_or(self.file.facts)
    }
}

/// The request fields the rules read, found in one pass over the field lines, so that absent
/// ones (most of them, on most requests) cost no search of their own and the common single
/// `Accept-Encoding` and `Range` lines are not searched for again.
#[derive(Debug, Clone, Copy, Default)]
struct Present<'r> {
    /// The first `Accept-Encoding` value.
    accept_encoding: Option<&'r [u8]>,
    /// Whether `Accept-Encoding` came on more than one line (the lines form one list).
    more_accept_encoding: bool,
    /// Whether any of `If-Match`, `If-None-Match`, `If-Modified-Since` or
    /// `If-Unmodified-Since` is present.
    conditional: bool,
    /// The first `Range` value (`If-Range` only matters with one).
    range: Option<&'r [u8]>,
}

impl<'r> Present<'r> {
    fn of(request: &'r Request) -> Present<'r> {
        let mut present = Present::default();
        for (name, value) in request.field_bytes() {
            let is = |expected: &str| name.eq_ignore_ascii_case(expected.as_bytes());
            match name.len() {
                5 if present.range.is_none() && is("range") => present.range = Some(value),
                8 => present.conditional |= is("if-match"),
                13 => present.conditional |= is("if-none-match"),
                15 if is("accept-encoding") => {
                    present.more_accept_encoding |= present.accept_encoding.is_some();
                    present.accept_encoding.get_or_insert(value);
                }
                17 => present.conditional |= is("if-modified-since"),
                19 => present.conditional |= is("if-unmodified-since"),
                _ => {}
            }
        }
        present
    }

    /// The `Accept-Encoding` preferences.
    fn accept_encoding(&self, request: &Request) -> AcceptEncoding {
        match self.accept_encoding {
            None => AcceptEncoding::default(),
            Some(value) if !self.more_accept_encoding => AcceptEncoding::parse([value]),
            Some(_) => AcceptEncoding::parse(request.header_values("accept-encoding")),
        }
    }
}

/// Suffix of the compressed variants' entity-tags (RFC 9110 §8.8.3: each representation needs
/// its own tag).
pub(crate) const GZIP_SUFFIX: &str = "-gzip";

/// The representations the rules allow for a file, whatever the request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Offer {
    /// The precompressed sibling's metadata, when it may be served.
    pub precompressed: Option<FileFacts>,
    /// Whether the file may be compressed while serving.
    pub on_the_fly: bool,
    /// Whether responses carry `Vary: Accept-Encoding`.
    pub varies: bool,
}

impl Offer {
    /// What may be offered for `file`, whose type is `compressible` or not.
    pub(crate) fn of(file: &FileInfo<'_>, compressible: bool, options: &StaticOptions) -> Offer {
        let precompressed = file
            .precompressed
            .filter(|sibling| sibling_usable(&file.facts, sibling, compressible, options));
        let gzip_eligible = options.gzip
            && compressible
            && (options.gzip_min_bytes..=options.gzip_max_bytes).contains(&file.facts.len);
        // Compressing needs the whole file in memory, so content the server would stream
        // instead (above `max_inline_bytes`) is sent as it is. `Vary` still follows
        // `gzip_eligible`: whether the response is negotiated should not depend on a memory
        // threshold.
        Offer {
            precompressed,
            on_the_fly: gzip_eligible && file.facts.len <= options.max_inline_bytes,
            varies: precompressed.is_some() || gzip_eligible,
        }
    }

    /// Whether a request can get the gzip variant chosen while serving: it is allowed and no
    /// precompressed sibling takes its place.
    pub(crate) fn compresses(&self) -> bool {
        self.on_the_fly && self.precompressed.is_none()
    }
}

/// nginx gzip_static: a sibling `file.gz` is served when enabled for a compressible type and not
/// older than the file (an older one is stale and ignored).
pub(crate) fn sibling_usable(
    file: &FileFacts,
    sibling: &FileFacts,
    compressible: bool,
    options: &StaticOptions,
) -> bool {
    options.precompressed && compressible && sibling.modified >= file.modified
}

/// Decides how to answer a GET or HEAD for a file.
///
/// Order: pick the representation (content negotiation), then evaluate preconditions against its
/// validators (RFC 9110 §13.2.2), then ranges (GET only, RFC 9110 §14.2).
pub fn decide(
    request: &Request,
    file: &FileInfo<'_>,
    options: &StaticOptions,
    now: SystemTime,
) -> Decision {
    let fields = Computed {
        file,
        cache_control: options.cache_control.as_deref(),
    };
    decide_with(request, file, &fields, options, || now)
}

/// [`decide`] with the header values taken from `fields`: the one implementation of the rules,
/// for files on disk and in memory alike.
pub(crate) fn decide_with(
    request: &Request,
    file: &FileInfo<'_>,
    fields: &impl Fields,
    options: &StaticOptions,
    now: impl FnOnce() -> SystemTime,
) -> Decision {
    let offer = Offer::of(file, fields.compressible(), options);
    let present = Present::of(request);
    let accept = present.accept_encoding(request);

    // At most Vary, Cache-Control, ETag, Last-Modified, Accept-Ranges, Content-Encoding,
    // Content-Type and Content-Range: one allocation for all of them.
    let mut response = Response::with_field_capacity(StatusCode::OK, 8);
    response.set_field_table(fields.table());
    if offer.varies {
        response.push_unchecked("Vary", "Accept-Encoding");
    }
    if let Some(cache_control) = fields.cache_control() {
        response.push_unchecked("Cache-Control", cache_control);
    }
    let negotiable = offer.precompressed.is_some() || offer.on_the_fly;
    let Some(coding) = accept.choose(negotiable) else {
        let mut refusal =
            Response::text(StatusCode::NOT_ACCEPTABLE, "no acceptable content coding\n");
        if offer.varies {
            refusal.push_unchecked("Vary", "Accept-Encoding");
        }
        return Decision {
            response: refusal,
            content: Content::None,
        };
    };
    let (variant, facts) = match (coding, offer.precompressed) {
        (Coding::Identity, _) => (Variant::Identity, file.facts),
        (Coding::Gzip, Some(sibling)) => (Variant::Precompressed, sibling),
        (Coding::Gzip, None) => (Variant::Gzip, file.facts),
    };
    let etag = fields.etag(variant);
    let validators = Validators {
        etag: fields.text(&etag),
        last_modified: facts.modified,
    };

    let precondition = if present.conditional {
        conditional::evaluate_at(request, &validators, now)
    } else {
        Precondition::Proceed
    };
    match precondition {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            // RFC 9110 §15.4.5: ETag, Vary and Cache-Control as a 200 would have them.
            let mut not_modified = response;
            not_modified.set_status(StatusCode::NOT_MODIFIED);
            not_modified.push_unchecked("ETag", etag);
            return Decision {
                response: not_modified,
                content: Content::None,
            };
        }
        Precondition::Failed => {
            return Decision {
                response: Response::new(StatusCode::PRECONDITION_FAILED),
                content: Content::None,
            };
        }
    }

    let ranges = match present.range {
        // Range applies to GET only; on-the-fly gzip output is not seekable, so it is sent whole.
        Some(value) if request.method() == Method::Get && variant != Variant::Gzip => {
            if conditional::if_range_allows(request, &validators) {
                range::evaluate(value, facts.len, options.max_ranges)
            } else {
                RangeDecision::Full
            }
        }
        _ => RangeDecision::Full,
    };
    let boundary = match &ranges {
        RangeDecision::Partial(ranges) if ranges.len() > 1 => boundary(validators.etag, ranges),
        _ => String::new(),
    };

    // The validators are done with: the tag moves into the response.
    response.push_unchecked("ETag", etag);
    if let Some(last_modified) = fields.last_modified(variant) {
        response.push_unchecked("Last-Modified", last_modified);
    }
    if variant != Variant::Gzip {
        response.push_unchecked("Accept-Ranges", "bytes");
    }
    if variant != Variant::Identity {
        response.push_unchecked("Content-Encoding", "gzip");
    }
    match ranges {
        RangeDecision::Full => {
            response.push_unchecked("Content-Type", fields.content_type());
            Decision {
                response,
                content: Content::Whole(variant),
            }
        }
        RangeDecision::NotSatisfiable => {
            let mut unsatisfiable = Response::new(StatusCode::RANGE_NOT_SATISFIABLE);
            unsatisfiable.push_unchecked("Content-Range", format!("bytes */{}", facts.len));
            Decision {
                response: unsatisfiable,
                content: Content::None,
            }
        }
        RangeDecision::Partial(ranges) if ranges.len() == 1 => {
            response.set_status(StatusCode::PARTIAL_CONTENT);
            response.push_unchecked("Content-Type", fields.content_type());
            response.push_unchecked("Content-Range", ranges[0].content_range(facts.len));
            Decision {
                response,
                content: Content::Range(variant, ranges[0]),
            }
        }
        RangeDecision::Partial(ranges) => {
            response.set_status(StatusCode::PARTIAL_CONTENT);
            response.push_unchecked(
                "Content-Type",
                format!("multipart/byteranges; boundary={boundary}"),
            );
            let parts = ranges
                .iter()
                .map(|range| Part {
                    header: format!(
                        "--{boundary}\r\nContent-Type: {}\r\nContent-Range: {}\r\n\r\n",
                        file.content_type,
                        range.content_range(facts.len)
                    )
                    .into_bytes(),
                    range: *range,
                })
                .collect();
            Decision {
                response,
                content: Content::Multipart(
                    variant,
                    parts,
                    format!("--{boundary}--\r\n").into_bytes(),
                ),
            }
        }
    }
}

/// A multipart boundary derived from the representation and the ranges: deterministic (so
/// responses are reproducible) and, at 64 bits of hash, not going to occur in the content
/// (RFC 2046 §5.1.1).
fn boundary(etag: &str, ranges: &[ByteRange]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    etag.hash(&mut hasher);
    for range in ranges {
        (range.start, range.end).hash(&mut hasher);
    }
    format!("web_server-{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_request, Limits};
    use std::time::Duration;

    const MODIFIED: u64 = 1_700_000_000;

    fn facts(len: u64, modified: u64, inode: u64) -> FileFacts {
        FileFacts {
            len,
            modified: Some(UNIX_EPOCH + Duration::from_secs(modified)),
            inode,
        }
    }

    fn request(method: &str, fields: &str) -> Request {
        let raw = format!("{method} /f HTTP/1.1\r\nHost: a\r\n{fields}\r\n");
        parse_request(raw.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    fn decide_for(method: &str, fields: &str, file: &FileInfo<'_>) -> Decision {
        decide(
            &request(method, fields),
            file,
            &StaticOptions::default(),
            UNIX_EPOCH + Duration::from_secs(MODIFIED + 10),
        )
    }

    fn text_file(len: u64) -> FileInfo<'static> {
        FileInfo {
            facts: facts(len, MODIFIED, 7),
            content_type: "text/plain; charset=utf-8",
            precompressed: None,
        }
    }

    fn png_file(len: u64) -> FileInfo<'static> {
        FileInfo {
            facts: facts(len, MODIFIED, 7),
            content_type: "image/png",
            precompressed: None,
        }
    }

    #[test]
    fn rfc9110_8_8_3_etag_is_strong_and_changes_with_size_time_and_inode() {
        let tag = facts(10, MODIFIED, 1).etag("");
        assert!(tag.starts_with('"') && tag.ends_with('"') && !tag.starts_with("W/"));
        assert_ne!(tag, facts(11, MODIFIED, 1).etag(""));
        assert_ne!(tag, facts(10, MODIFIED + 1, 1).etag(""));
        assert_ne!(tag, facts(10, MODIFIED, 2).etag(""));
        assert!(facts(10, MODIFIED, 1).etag("-gzip").ends_with("-gzip\""));
    }

    #[test]
    fn rfc9110_8_8_plain_get_has_validators_and_type() {
        let decision = decide_for("GET", "", &png_file(100));
        let response = &decision.response;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.header("content-type"), Some("image/png"));
        assert_eq!(
            response.header("etag"),
            Some(facts(100, MODIFIED, 7).etag("").as_str())
        );
        assert_eq!(
            response.header("last-modified"),
            Some("Tue, 14 Nov 2023 22:13:20 GMT")
        );
        assert_eq!(response.header("accept-ranges"), Some("bytes"));
        assert_eq!(
            response.header("vary"),
            None,
            "not compressible: nothing varies"
        );
        assert_eq!(decision.content, Content::Whole(Variant::Identity));
    }

    #[test]
    fn rfc9110_12_5_3_gzip_is_negotiated_with_its_own_etag_and_vary() {
        let decision = decide_for("GET", "Accept-Encoding: gzip\r\n", &text_file(5000));
        let response = &decision.response;
        assert_eq!(decision.content, Content::Whole(Variant::Gzip));
        assert_eq!(response.header("content-encoding"), Some("gzip"));
        assert_eq!(response.header("vary"), Some("Accept-Encoding"));
        assert_eq!(
            response.header("etag"),
            Some(facts(5000, MODIFIED, 7).etag("-gzip").as_str())
        );
        assert_eq!(response.header("accept-ranges"), None);

        let identity = decide_for("GET", "Accept-Encoding: identity\r\n", &text_file(5000));
        assert_eq!(identity.content, Content::Whole(Variant::Identity));
        assert_eq!(
            identity.response.header("vary"),
            Some("Accept-Encoding"),
            "Vary on every compressible response"
        );
        assert_eq!(identity.response.header("content-encoding"), None);
    }

    #[test]
    fn rfc9110_5_3_accept_encoding_lines_form_one_list() {
        let fields = "Accept-Encoding: identity;q=0\r\nAccept-Encoding: gzip\r\n";
        let decision = decide_for("GET", fields, &text_file(5000));
        assert_eq!(decision.content, Content::Whole(Variant::Gzip));
        let refused = decide_for("GET", fields, &png_file(5000));
        assert_eq!(
            refused.response.status(),
            StatusCode::NOT_ACCEPTABLE,
            "the first line still counts"
        );
    }

    #[test]
    fn tiny_and_already_compressed_files_are_not_gzipped() {
        let tiny = decide_for("GET", "Accept-Encoding: gzip\r\n", &text_file(10));
        assert_eq!(tiny.content, Content::Whole(Variant::Identity));
        let png = decide_for("GET", "Accept-Encoding: gzip\r\n", &png_file(100_000));
        assert_eq!(png.content, Content::Whole(Variant::Identity));
        assert_eq!(png.response.header("vary"), None);
    }

    #[test]
    fn gzip_on_the_fly_is_not_chosen_above_max_inline_bytes() {
        let large = StaticOptions::default().max_inline_bytes + 1;
        let decision = decide_for("GET", "Accept-Encoding: gzip\r\n", &text_file(large));
        assert_eq!(decision.content, Content::Whole(Variant::Identity));
        assert_eq!(decision.response.header("content-encoding"), None);
        assert_eq!(
            decision.response.header("vary"),
            Some("Accept-Encoding"),
            "still negotiated for this type"
        );
        assert_eq!(
            decision.response.header("etag"),
            Some(facts(large, MODIFIED, 7).etag("").as_str())
        );
        assert_eq!(decision.response.header("accept-ranges"), Some("bytes"));

        let mut with_sibling = text_file(large);
        with_sibling.precompressed = Some(facts(large / 4, MODIFIED + 5, 9));
        let decision = decide_for("GET", "Accept-Encoding: gzip\r\n", &with_sibling);
        assert_eq!(
            decision.content,
            Content::Whole(Variant::Precompressed),
            "a precompressed sibling needs no compression and is still used"
        );
    }

    #[test]
    fn rfc9110_12_5_3_identity_excluded_and_no_gzip_is_406() {
        let decision = decide_for("GET", "Accept-Encoding: identity;q=0\r\n", &png_file(100));
        assert_eq!(decision.response.status(), StatusCode::NOT_ACCEPTABLE);
        assert_eq!(decision.content, Content::None);
    }

    #[test]
    fn precompressed_sibling_is_served_when_newer() {
        let mut file = text_file(5000);
        file.precompressed = Some(facts(1200, MODIFIED + 5, 9));
        let decision = decide_for("GET", "Accept-Encoding: gzip\r\n", &file);
        assert_eq!(decision.content, Content::Whole(Variant::Precompressed));
        assert_eq!(
            decision.response.header("etag"),
            Some(facts(1200, MODIFIED + 5, 9).etag("-gzip").as_str())
        );
        assert_eq!(decision.response.header("accept-ranges"), Some("bytes"));

        file.precompressed = Some(facts(1200, MODIFIED - 5, 9));
        let stale = decide_for("GET", "Accept-Encoding: gzip\r\n", &file);
        assert_eq!(
            stale.content,
            Content::Whole(Variant::Gzip),
            "stale sibling ignored"
        );

        let mut tiny = text_file(10);
        tiny.precompressed = Some(facts(30, MODIFIED + 5, 9));
        let decision = decide_for("GET", "Accept-Encoding: gzip\r\n", &tiny);
        assert_eq!(
            decision.content,
            Content::Whole(Variant::Precompressed),
            "size limits apply to on-the-fly gzip only"
        );
    }

    #[test]
    fn rfc9110_15_4_5_not_modified_keeps_etag_and_vary() {
        let etag = facts(5000, MODIFIED, 7).etag("");
        let decision = decide_for(
            "GET",
            &format!("If-None-Match: {etag}\r\n"),
            &text_file(5000),
        );
        assert_eq!(decision.response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(decision.response.header("etag"), Some(etag.as_str()));
        assert_eq!(decision.response.header("vary"), Some("Accept-Encoding"));
        assert_eq!(decision.content, Content::None);
        let gzip = decide_for(
            "GET",
            &format!("If-None-Match: {etag}\r\nAccept-Encoding: gzip\r\n"),
            &text_file(5000),
        );
        assert_eq!(
            gzip.response.status(),
            StatusCode::OK,
            "the gzip variant has another tag"
        );
    }

    #[test]
    fn rfc9110_13_1_1_if_match_mismatch_is_412() {
        let decision = decide_for("GET", "If-Match: \"nope\"\r\n", &png_file(100));
        assert_eq!(decision.response.status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(decision.content, Content::None);
    }

    #[test]
    fn rfc9110_14_2_single_range_is_206_with_content_range() {
        let decision = decide_for("GET", "Range: bytes=10-19\r\n", &png_file(100));
        assert_eq!(decision.response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            decision.response.header("content-range"),
            Some("bytes 10-19/100")
        );
        assert_eq!(
            decision.content,
            Content::Range(Variant::Identity, ByteRange { start: 10, end: 19 })
        );
    }

    #[test]
    fn rfc9110_14_2_range_is_ignored_for_head() {
        let decision = decide_for("HEAD", "Range: bytes=10-19\r\n", &png_file(100));
        assert_eq!(decision.response.status(), StatusCode::OK);
    }

    #[test]
    fn rfc9110_15_5_17_unsatisfiable_range_is_416_with_star_content_range() {
        let decision = decide_for("GET", "Range: bytes=100-\r\n", &png_file(100));
        assert_eq!(
            decision.response.status(),
            StatusCode::RANGE_NOT_SATISFIABLE
        );
        assert_eq!(
            decision.response.header("content-range"),
            Some("bytes */100")
        );
    }

    #[test]
    fn rfc9110_14_6_multiple_ranges_are_multipart_byteranges() {
        let decision = decide_for("GET", "Range: bytes=0-1,10-11\r\n", &png_file(100));
        assert_eq!(decision.response.status(), StatusCode::PARTIAL_CONTENT);
        let content_type = decision.response.header("content-type").unwrap();
        let boundary = content_type
            .strip_prefix("multipart/byteranges; boundary=")
            .unwrap();
        let Content::Multipart(Variant::Identity, parts, end) = &decision.content else {
            panic!("multipart")
        };
        assert_eq!(parts.len(), 2);
        assert_eq!(
            String::from_utf8(parts[1].header.clone()).unwrap(),
            format!(
                "--{boundary}\r\nContent-Type: image/png\r\nContent-Range: bytes 10-11/100\r\n\r\n"
            )
        );
        assert_eq!(end, format!("--{boundary}--\r\n").as_bytes());
        assert_eq!(decision.response.header("content-range"), None);
    }

    #[test]
    fn rfc9110_13_1_5_if_range_mismatch_sends_whole_file() {
        let decision = decide_for(
            "GET",
            "Range: bytes=0-1\r\nIf-Range: \"old\"\r\n",
            &png_file(100),
        );
        assert_eq!(decision.response.status(), StatusCode::OK);
        let etag = facts(100, MODIFIED, 7).etag("");
        let decision = decide_for(
            "GET",
            &format!("Range: bytes=0-1\r\nIf-Range: {etag}\r\n"),
            &png_file(100),
        );
        assert_eq!(decision.response.status(), StatusCode::PARTIAL_CONTENT);
    }

    #[test]
    fn range_is_not_applied_to_on_the_fly_gzip() {
        let decision = decide_for(
            "GET",
            "Range: bytes=0-1\r\nAccept-Encoding: gzip\r\n",
            &text_file(5000),
        );
        assert_eq!(decision.response.status(), StatusCode::OK);
        assert_eq!(decision.content, Content::Whole(Variant::Gzip));
    }
}
