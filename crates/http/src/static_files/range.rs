//! Byte-range requests (RFC 9110 §14).

use crate::syntax::{list_elements, trim_ows};

/// An inclusive range of byte positions within a representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte position.
    pub start: u64,
    /// Last byte position (inclusive, as in `Content-Range`).
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes in the range.
    pub const fn len(self) -> u64 {
        self.end - self.start + 1
    }

    /// Always false: a satisfiable range holds at least one byte.
    pub const fn is_empty(self) -> bool {
        false
    }

    /// The `Content-Range` value for this range of a `complete_length`-byte representation.
    pub fn content_range(self, complete_length: u64) -> String {
        format!("bytes {}-{}/{}", self.start, self.end, complete_length)
    }
}

/// What to do with a `Range` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeDecision {
    /// Send the whole representation with 200: the field is absent, malformed, uses another unit,
    /// asks for too many or overlapping ranges, or the representation is empty (RFC 9110 §14.2
    /// lets a server ignore Range).
    Full,
    /// Send these ranges with 206, in the order requested.
    Partial(Vec<ByteRange>),
    /// 416 with `Content-Range: bytes */length` (RFC 9110 §15.5.17).
    NotSatisfiable,
}

/// Evaluates a `Range` value against a representation of `length` bytes.
pub fn evaluate(value: &[u8], length: u64, max_ranges: usize) -> RangeDecision {
    let Some(set) = value.strip_prefix(b"bytes=").or_else(|| {
        (value.len() > 6 && value[..6].eq_ignore_ascii_case(b"bytes=")).then(|| &value[6..])
    }) else {
        return RangeDecision::Full;
    };
    if length == 0 {
        return RangeDecision::Full;
    }
    let mut ranges = Vec::new();
    let mut specs = 0;
    for spec in list_elements(set) {
        specs += 1;
        if specs > max_ranges {
            return RangeDecision::Full;
        }
        let Some(dash) = spec.iter().position(|&b| b == b'-') else {
            return RangeDecision::Full;
        };
        let (first, last) = (trim_ows(&spec[..dash]), trim_ows(&spec[dash + 1..]));
        let range = if first.is_empty() {
            // suffix-range: the last N bytes.
            let Some(suffix) = parse_position(last) else {
                return RangeDecision::Full;
            };
            (suffix > 0).then(|| ByteRange {
                start: length.saturating_sub(suffix),
                end: length - 1,
            })
        } else {
            let Some(start) = parse_position(first) else {
                return RangeDecision::Full;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match parse_position(last) {
                    Some(end) if end >= start => end,
                    _ => return RangeDecision::Full,
                }
            };
            (start < length).then(|| ByteRange {
                start,
                end: end.min(length - 1),
            })
        };
        ranges.extend(range);
    }
    if specs == 0 {
        return RangeDecision::Full;
    }
    if ranges.is_empty() {
        return RangeDecision::NotSatisfiable;
    }
    // Overlapping ranges are an amplification vector (RFC 9110 §17.15); serve them whole.
    let mut sorted = ranges.clone();
    sorted.sort_by_key(|range| range.start);
    if sorted.windows(2).any(|pair| pair[1].start <= pair[0].end) {
        return RangeDecision::Full;
    }
    RangeDecision::Partial(ranges)
}

/// `1*DIGIT` without overflow.
fn parse_position(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(value: &str, length: u64) -> RangeDecision {
        evaluate(value.as_bytes(), length, 16)
    }

    fn partial(ranges: &[(u64, u64)]) -> RangeDecision {
        RangeDecision::Partial(
            ranges
                .iter()
                .map(|&(start, end)| ByteRange { start, end })
                .collect(),
        )
    }

    #[test]
    fn rfc9110_14_1_2_single_ranges() {
        assert_eq!(eval("bytes=0-499", 1000), partial(&[(0, 499)]));
        assert_eq!(eval("bytes=500-", 1000), partial(&[(500, 999)]));
        assert_eq!(eval("bytes=-200", 1000), partial(&[(800, 999)]));
        assert_eq!(eval("bytes=-2000", 1000), partial(&[(0, 999)]));
        assert_eq!(eval("bytes=900-5000", 1000), partial(&[(900, 999)]));
        assert_eq!(eval("BYTES=0-0", 1000), partial(&[(0, 0)]));
    }

    #[test]
    fn rfc9110_14_1_2_multiple_ranges() {
        assert_eq!(
            eval("bytes=0-9, 20-29,-5", 1000),
            partial(&[(0, 9), (20, 29), (995, 999)])
        );
        assert_eq!(
            eval("bytes=0-9, 5000-6000", 1000),
            partial(&[(0, 9)]),
            "unsatisfiable members are dropped"
        );
    }

    #[test]
    fn rfc9110_15_5_17_unsatisfiable_ranges_are_416() {
        assert_eq!(eval("bytes=1000-", 1000), RangeDecision::NotSatisfiable);
        assert_eq!(
            eval("bytes=1000-2000, 3000-", 1000),
            RangeDecision::NotSatisfiable
        );
        assert_eq!(eval("bytes=-0", 1000), RangeDecision::NotSatisfiable);
        assert_eq!(
            ByteRange { start: 0, end: 9 }.content_range(1000),
            "bytes 0-9/1000"
        );
    }

    #[test]
    fn rfc9110_14_2_invalid_or_foreign_ranges_are_ignored() {
        for value in [
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=0-1x",
            "bytes=",
            "bytes=1",
            "bytes 0-1",
            "bytes=--1",
            "bytes=99999999999999999999-",
        ] {
            assert_eq!(eval(value, 1000), RangeDecision::Full, "{value}");
        }
    }

    #[test]
    fn rfc9110_17_15_overlapping_or_excessive_ranges_are_ignored() {
        assert_eq!(eval("bytes=0-10,5-20", 1000), RangeDecision::Full);
        assert_eq!(eval("bytes=-10,995-999", 1000), RangeDecision::Full);
        let many = (0..17)
            .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(eval(&format!("bytes={many}"), 1000), RangeDecision::Full);
    }

    #[test]
    fn empty_representation_ignores_range() {
        assert_eq!(eval("bytes=0-1", 0), RangeDecision::Full);
        assert_eq!(eval("bytes=-1", 0), RangeDecision::Full);
    }
}
