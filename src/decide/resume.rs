//! Resuming a download where it stopped, without I/O: what to ask for (`Range` and
//! `If-Range`), and what the answer means for the partial file (continue it, start it over,
//! or ask again without a range).

use serde::{Deserialize, Serialize};

use crate::wire::error::Error;
use crate::wire::failure::TransportErrorKind;

/// What is known of a partial download: the bytes its file holds, and what the server said
/// of the whole (its validator for `If-Range`, its length). Kept beside the partial file, so
/// that a later process can resume it too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Part {
    /// Bytes in the partial file (not stored: the file's own length is the truth).
    #[serde(skip)]
    pub have: u64,
    /// A strong `ETag`, else `Last-Modified`: what `If-Range` sends.
    pub validator: Option<String>,
    /// The whole file's length, when the server said.
    pub total: Option<u64>,
}

/// How the answer to a download request is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A `206` continuing the partial file at this offset.
    Append(u64),
    /// The whole file (`200`): the partial file starts over.
    Whole,
    /// A range that does not fit (another range, another file's length): ask again for
    /// the whole file, discarding this body.
    Refetch,
}

impl Part {
    /// The `Range` start and `If-Range` value to ask with, if this part can be resumed: it
    /// has bytes, and a validator or at least the whole file's length (without a validator
    /// a `206` is taken only when its length is the one recorded, as `curl -C -` resumes
    /// with a length check added). A partial file already whole asks for its last byte
    /// again, so that the server still confirms that it is the same file.
    pub fn range(&self) -> Option<(u64, Option<&str>)> {
        let validator = self.validator.as_deref();
        if validator.is_none() && self.total.is_none() {
            return None;
        }
        match self.total {
            _ if self.have == 0 => None,
            Some(total) if self.have > total => None,
            Some(total) if self.have == total => Some((total - 1, validator)),
            _ => Some((self.have, validator)),
        }
    }

    /// What an answer (`status`, its `Content-Range`, `ETag` and `Last-Modified`) to a
    /// request sent from `asked` (`None`: no range) means, given this part.
    pub fn judge(
        &self,
        asked: Option<u64>,
        status: u16,
        content_range: Option<&str>,
        validator: Option<&str>,
    ) -> Answer {
        if status != 206 {
            return Answer::Whole;
        }
        let (Some(asked), Some(range)) = (asked, content_range.and_then(ContentRange::parse))
        else {
            return Answer::Refetch;
        };
        let fits = match (self.validator.as_deref(), validator) {
            // `If-Range` was sent: a 206 says it matched (a server may leave the ETag out).
            (Some(known), now) => now.is_none_or(|now| now == known),
            // No validator to send: the length alone must say it is the same file.
            (None, None) => self.total.is_some() && range.total == self.total,
            // The server names a version now that it did not before: not the same answer.
            (None, Some(_)) => false,
        };
        let same_length = match (self.total, range.total) {
            (Some(known), Some(now)) => known == now,
            _ => true,
        };
        match range.start == asked && fits && same_length {
            true => Answer::Append(asked),
            false => Answer::Refetch,
        }
    }

    /// Whether there is anything worth recording for a later process (a validator or the
    /// whole length: what `range` needs).
    pub fn resumable(&self) -> bool {
        self.validator.is_some() || self.total.is_some()
    }

    /// Takes what a response that is used says of the whole file.
    pub fn learn(&mut self, validator: Option<String>, total: Option<u64>) {
        self.validator = validator;
        self.total = total;
    }

    /// Forgets the partial file's bytes and what they were of: the next request asks for
    /// the whole file.
    pub fn reset(&mut self) {
        *self = Part::default();
    }
}

/// The validator `If-Range` may carry: a strong `ETag` (a weak one, `W/"..."`, may not be
/// used there), else `Last-Modified`.
pub(crate) fn validator(etag: Option<&str>, last_modified: Option<&str>) -> Option<String> {
    etag.map(str::trim)
        .filter(|e| e.starts_with('"') && e.len() >= 2)
        .or(last_modified.map(str::trim).filter(|d| !d.is_empty()))
        .map(str::to_owned)
}

/// The whole length a response gives: from `Content-Range` for a `206`, else its
/// `Content-Length`.
pub(crate) fn total_of(
    status: u16,
    content_range: Option<&str>,
    length: Option<u64>,
) -> Option<u64> {
    match status {
        206 => content_range
            .and_then(ContentRange::parse)
            .and_then(|r| r.total),
        _ => length,
    }
}

/// Whether a failure while fetching a download can be healed by asking again (from where
/// the body stopped): the retryable ones, and a body that ended before its announced length.
pub(crate) fn resumable(error: &Error) -> bool {
    match error {
        Error::Transport {
            kind: TransportErrorKind::Truncated { received, expected },
            ..
        } => received < expected,
        other => other.is_retryable(),
    }
}

/// `Content-Range: bytes START-END/TOTAL` (`TOTAL` may be `*`).
#[derive(Debug, PartialEq, Eq)]
struct ContentRange {
    start: u64,
    total: Option<u64>,
}

impl ContentRange {
    fn parse(value: &str) -> Option<Self> {
        let spec = value.trim().strip_prefix("bytes")?.trim_start();
        let (range, total) = spec.split_once('/')?;
        let (start, end) = range.split_once('-')?;
        let (start, end): (u64, u64) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
        let total = match total.trim() {
            "*" => None,
            t => Some(t.parse().ok()?),
        };
        let fits = start <= end && total.is_none_or(|t| end < t);
        fits.then_some(ContentRange { start, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(have: u64, total: u64) -> Part {
        Part {
            have,
            validator: Some("\"abc\"".into()),
            total: Some(total),
        }
    }

    #[test]
    fn asks_from_where_the_file_ends() {
        assert_eq!(part(0, 10).range(), None);
        assert_eq!(part(4, 10).range(), Some((4, Some("\"abc\""))));
        assert_eq!(
            part(10, 10).range(),
            Some((9, Some("\"abc\""))),
            "whole: ask for the last byte"
        );
        assert_eq!(part(11, 10).range(), None, "longer than the file: not ours");
        let nothing_known = Part {
            have: 4,
            ..Part::default()
        };
        assert_eq!(nothing_known.range(), None);
        let length_only = Part {
            have: 4,
            validator: None,
            total: Some(10),
        };
        assert_eq!(length_only.range(), Some((4, None)));
        assert_eq!(
            length_only.judge(Some(4), 206, Some("bytes 4-9/10"), None),
            Answer::Append(4)
        );
        assert_eq!(
            length_only.judge(Some(4), 206, Some("bytes 4-10/11"), None),
            Answer::Refetch,
            "another length: another file"
        );
        assert_eq!(
            length_only.judge(Some(4), 206, Some("bytes 4-9/*"), None),
            Answer::Refetch,
            "no length to check against"
        );
    }

    #[test]
    fn a_matching_206_continues_and_anything_else_starts_over() {
        let p = part(4, 10);
        let judge = |status, range, etag| p.judge(Some(4), status, range, etag);
        assert_eq!(
            judge(206, Some("bytes 4-9/10"), Some("\"abc\"")),
            Answer::Append(4)
        );
        assert_eq!(judge(206, Some("bytes 4-9/*"), None), Answer::Append(4));
        assert_eq!(
            judge(200, None, Some("\"abc\"")),
            Answer::Whole,
            "Range ignored"
        );
        assert_eq!(
            judge(206, Some("bytes 0-9/10"), Some("\"abc\"")),
            Answer::Refetch
        );
        assert_eq!(
            judge(206, Some("bytes 4-10/11"), Some("\"abc\"")),
            Answer::Refetch
        );
        assert_eq!(
            judge(206, Some("bytes 4-9/10"), Some("\"new\"")),
            Answer::Refetch
        );
        assert_eq!(judge(206, None, None), Answer::Refetch);
        assert_eq!(
            p.judge(None, 206, Some("bytes 4-9/10"), None),
            Answer::Refetch
        );
    }

    #[test]
    fn content_ranges_are_read_strictly() {
        let parse = ContentRange::parse;
        assert_eq!(parse("bytes 0-0/1").unwrap().total, Some(1));
        assert_eq!(parse("bytes 5-9/*").unwrap().start, 5);
        for bad in [
            "bytes 9-5/10",
            "bytes 0-10/10",
            "bytes */10",
            "items 0-1/2",
            "bytes x-1/2",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(total_of(206, Some("bytes 4-9/10"), Some(6)), Some(10));
        assert_eq!(total_of(200, None, Some(6)), Some(6));
    }

    #[test]
    fn validators() {
        assert_eq!(validator(Some("\"x\""), Some("date")), Some("\"x\"".into()));
        assert_eq!(
            validator(Some("W/\"x\""), Some("date")),
            Some("date".into())
        );
        assert_eq!(validator(Some("W/\"x\""), None), None);
        assert_eq!(validator(None, None), None);
    }
}
