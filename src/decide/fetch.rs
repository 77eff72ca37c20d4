//! One download's bookkeeping across its requests, without I/O: what a failed request, an
//! answer and a body cut short mean for the next step. `client/resuming.rs` is the loop
//! that does the I/O around it, as `client/wait_loop.rs` is around `decide::wait`.

use std::time::{Duration, Instant};

use super::resume::{self, Answer, Part};
use super::retry::{Retrier, RetryPolicy};
use crate::wire::error::Error;
use crate::wire::link::DownloadHead;

/// Answers that did not continue the file (a `416`, a range that does not fit) are asked
/// again without a range at most this often: a server that keeps answering so is broken.
pub(crate) const MAX_REFETCHES: u32 = 2;

/// What the loop does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Ask again at once, from wherever the partial file now ends (`Part::range`).
    Again,
    /// Ask again after this delay.
    Sleep(Duration),
    /// Ask for a fresh link for the output (the one in hand expired), then again.
    Refresh,
    /// Stop with the failure in hand; the partial file stays for the next call.
    GiveUp,
}

/// How the answer to a request is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// Its body goes into the partial file from `at` (the file is cut there); `total` is
    /// the whole file's length, when the server said.
    Write { at: u64, total: Option<u64> },
    /// Discarded: the partial file was forgotten, and the whole file is to be asked for.
    Refetch,
    /// The server keeps answering ranges that do not continue the file: give up.
    Refuse,
}

/// The state of one download across its requests: the retry budget, whether the link was
/// refreshed, how many answers did not fit.
pub(crate) struct Fetch<'a> {
    retrier: Retrier<'a>,
    /// A fresh link can be asked for (the download is of a run's output) and was not yet.
    can_refresh: bool,
    refetches: u32,
}

impl<'a> Fetch<'a> {
    /// A download starting at `now`; `refreshable` when a fresh link can be asked for.
    pub fn new(policy: &'a RetryPolicy, refreshable: bool, now: Instant) -> Self {
        Fetch {
            retrier: Retrier::new(policy, now),
            can_refresh: refreshable,
            refetches: 0,
        }
    }

    /// A request that brought no answer to stream: a `416` asks for the whole file again
    /// (a few times), an expired link (403) is refreshed once, a failure worth retrying
    /// waits out the policy's delay while its budget lasts.
    pub fn failed(&mut self, part: &mut Part, error: &Error, now: Instant) -> Next {
        match error.status() {
            Some(416) if self.refetch(part) => Next::Again,
            Some(403) if self.can_refresh => {
                self.can_refresh = false;
                Next::Refresh
            }
            _ => self.cut(error, now),
        }
    }

    /// An answer to a request sent from `asked` (`None`: no range): where its body goes.
    /// `part` takes what the answer says of the whole file.
    pub fn answered(&mut self, part: &mut Part, asked: Option<u64>, head: &DownloadHead) -> Body {
        let validator = resume::validator(head.etag.as_deref(), head.last_modified.as_deref());
        let range = head.content_range.as_deref();
        let at = match part.judge(asked, head.status, range, validator.as_deref()) {
            Answer::Append(at) => at,
            Answer::Whole => 0,
            Answer::Refetch if self.refetch(part) => return Body::Refetch,
            Answer::Refetch => return Body::Refuse,
        };
        let total = resume::total_of(head.status, range, head.content_length);
        part.learn(validator, total);
        part.have = at;
        Body::Write { at, total }
    }

    /// A body started at `at` broke with `error`, the partial file now holding `part.have`
    /// bytes. One that brought bytes is asked for again at once (the link works; the
    /// connection dropped) and starts the budget again: a download is given up only after
    /// the policy's attempts pass without a byte.
    pub fn broke(&mut self, part: &Part, at: u64, error: &Error, now: Instant) -> Next {
        if resume::resumable(error) && part.have > at {
            self.retrier.progressed(now);
            return Next::Again;
        }
        self.cut(error, now)
    }

    /// A failure with no bytes gained: retried after a delay while the budget lasts.
    fn cut(&mut self, error: &Error, now: Instant) -> Next {
        if !resume::resumable(error) {
            return Next::GiveUp;
        }
        match self.retrier.after_cut(now) {
            Some(delay) => Next::Sleep(delay),
            None => Next::GiveUp,
        }
    }

    /// Forgets the partial file to ask for the whole again, if that was not done too often.
    fn refetch(&mut self, part: &mut Part) -> bool {
        if self.refetches >= MAX_REFETCHES {
            return false;
        }
        self.refetches += 1;
        part.reset();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::failure::TransportErrorKind;

    fn reset() -> Error {
        Error::transport("https://x/", TransportErrorKind::ConnectionClosed, None)
    }

    fn status(code: u16) -> Error {
        Error::Api {
            status: code,
            message: String::new(),
            body: String::new(),
            retry_after: None,
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy::new()
            .attempts(2)
            .base_delay(Duration::from_secs(1))
            .max_delay(Duration::from_secs(1))
    }

    fn part(have: u64, total: u64) -> Part {
        Part {
            have,
            validator: Some("\"v1\"".into()),
            total: Some(total),
        }
    }

    #[test]
    fn cuts_with_bytes_never_run_out_and_cuts_without_do() {
        let (policy, t0) = (policy(), Instant::now());
        let mut fetch = Fetch::new(&policy, false, t0);
        let mut p = part(0, 100);
        // Ten rounds of a cut after some bytes (asked again at once) and a cut that brings
        // nothing (a delay): the bytes start the budget of two attempts again each time.
        for i in 0..10u64 {
            p.have = (i + 1) * 5;
            assert_eq!(fetch.broke(&p, i * 5, &reset(), t0), Next::Again);
            assert!(matches!(
                fetch.broke(&p, p.have, &reset(), t0),
                Next::Sleep(_)
            ));
        }
        // Two cuts in a row without a byte: the budget is spent.
        assert_eq!(fetch.broke(&p, p.have, &reset(), t0), Next::GiveUp);
    }

    #[test]
    fn a_failure_not_worth_retrying_gives_up_at_once_even_with_bytes() {
        let (policy, t0) = (policy(), Instant::now());
        let mut fetch = Fetch::new(&policy, false, t0);
        let p = part(50, 100);
        assert_eq!(fetch.broke(&p, 10, &status(404), t0), Next::GiveUp);
        assert_eq!(
            fetch.failed(&mut part(0, 100), &status(404), t0),
            Next::GiveUp
        );
    }

    #[test]
    fn an_expired_link_is_refreshed_once_and_only_when_it_can_be() {
        let (policy, t0) = (policy(), Instant::now());
        let mut fetch = Fetch::new(&policy, true, t0);
        let mut p = part(10, 100);
        assert_eq!(fetch.failed(&mut p, &status(403), t0), Next::Refresh);
        assert_eq!(fetch.failed(&mut p, &status(403), t0), Next::GiveUp);
        let mut fixed = Fetch::new(&policy, false, t0);
        assert_eq!(fixed.failed(&mut p, &status(403), t0), Next::GiveUp);
    }

    /// An answer of `status` with `content_range`, the validator `"v1"` and `length`.
    fn head(status: u16, content_range: Option<&str>, length: u64) -> DownloadHead {
        DownloadHead {
            status,
            content_range: content_range.map(str::to_owned),
            etag: Some("\"v1\"".into()),
            content_length: Some(length),
            ..DownloadHead::default()
        }
    }

    #[test]
    fn ranges_that_do_not_fit_ask_for_the_whole_file_a_few_times_then_refuse() {
        let (policy, t0) = (policy(), Instant::now());
        let mut fetch = Fetch::new(&policy, false, t0);
        let mut p = part(10, 100);
        // A 416: the partial file is forgotten and the whole file asked for.
        assert_eq!(fetch.failed(&mut p, &status(416), t0), Next::Again);
        assert_eq!(p, Part::default());
        // A 206 from the wrong offset: once more, then refused.
        let wrong = head(206, Some("bytes 20-99/100"), 80);
        p = part(10, 100);
        assert_eq!(fetch.answered(&mut p, Some(10), &wrong), Body::Refetch);
        p = part(10, 100);
        assert_eq!(fetch.answered(&mut p, Some(10), &wrong), Body::Refuse);
    }

    #[test]
    fn a_usable_answer_says_where_the_body_goes_and_what_the_whole_is() {
        let (policy, t0) = (policy(), Instant::now());
        let mut fetch = Fetch::new(&policy, false, t0);
        let mut p = part(10, 100);
        let resumed = head(206, Some("bytes 10-99/100"), 90);
        let at_10 = Body::Write {
            at: 10,
            total: Some(100),
        };
        assert_eq!(fetch.answered(&mut p, Some(10), &resumed), at_10);
        assert_eq!(p.have, 10);
        // A 200 starts the file over, and takes the new validator.
        let mut whole = head(200, None, 70);
        whole.etag = Some("\"v2\"".into());
        let from_0 = Body::Write {
            at: 0,
            total: Some(70),
        };
        assert_eq!(fetch.answered(&mut p, Some(10), &whole), from_0);
        assert_eq!((p.have, p.validator.as_deref()), (0, Some("\"v2\"")));
    }
}
