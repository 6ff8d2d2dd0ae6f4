//! `Range: bytes=…` for media responses (RFC 9110 §14): what players send to start playing
//! before the whole file arrives, and to seek. One range is served as `206 Partial Content`;
//! a range past the end is `416`; anything else (no header, several ranges, another unit,
//! bad syntax) gets the whole file, as the RFC lets a server ignore a Range it does not serve.

/// What to answer for a representation of `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// The whole representation (200).
    Full,
    /// Bytes `start..=end` (206, `Content-Range: bytes start-end/len`).
    Part { start: u64, end: u64 },
    /// No byte of the range exists (416, `Content-Range: bytes */len`).
    Unsatisfiable,
}

impl ByteRange {
    pub fn of(header: Option<&str>, len: u64) -> Self {
        header.and_then(|h| parse(h, len)).unwrap_or(Self::Full)
    }
}

/// `None` for a header to ignore.
fn parse(header: &str, len: u64) -> Option<ByteRange> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if last.contains(',') {
        return None;
    }
    if first.is_empty() {
        // bytes=-N: the last N bytes.
        let n = number(last)?;
        return Some(if n == 0 || len == 0 {
            ByteRange::Unsatisfiable
        } else {
            ByteRange::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            }
        });
    }
    let start = number(first)?;
    let end = match last {
        "" => u64::MAX,
        _ => number(last)?,
    };
    if end < start {
        return None;
    }
    Some(if start >= len {
        ByteRange::Unsatisfiable
    } else {
        ByteRange::Part {
            start,
            end: end.min(len - 1),
        }
    })
}

/// Digits only; more than a u64 holds is still a number (past any end).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<u64>().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::ByteRange::{self, Full, Part, Unsatisfiable};

    fn of(h: &str) -> ByteRange {
        ByteRange::of(Some(h), 1000)
    }

    #[test]
    fn one_range_is_served_and_the_rest_is_the_whole_file() {
        assert_eq!(ByteRange::of(None, 1000), Full);
        assert_eq!(of("bytes=0-1"), Part { start: 0, end: 1 });
        assert_eq!(of("bytes=0-"), Part { start: 0, end: 999 });
        assert_eq!(
            of("bytes=500-"),
            Part {
                start: 500,
                end: 999
            }
        );
        assert_eq!(
            of("bytes=990-5000"),
            Part {
                start: 990,
                end: 999
            }
        );
        assert_eq!(
            of("bytes=-100"),
            Part {
                start: 900,
                end: 999
            }
        );
        assert_eq!(of("bytes=-5000"), Part { start: 0, end: 999 });
        assert_eq!(of("bytes=1000-"), Unsatisfiable);
        assert_eq!(of("bytes=99999999999999999999999-"), Unsatisfiable);
        assert_eq!(of("bytes=-0"), Unsatisfiable);
        assert_eq!(ByteRange::of(Some("bytes=0-"), 0), Unsatisfiable);
        // Ignored: other units, several ranges, bad syntax, a backwards range.
        for h in [
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=abc",
            "bytes=5",
            "bytes=-",
            "bytes=9-3",
            "bytes=+1-2",
        ] {
            assert_eq!(of(h), Full, "{h}");
        }
    }
}
