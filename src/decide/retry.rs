//! Retrying single calls: [`RetryPolicy`], and the bookkeeping that decides whether and
//! when a failed request is sent again (no I/O here: `Client::send` does the sending).

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime};

use crate::decide::clock;
use crate::wire::error::Error;
use crate::wire::request::Idempotence;

/// Default attempts in all (the first try and two retries).
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 3;

/// Which single calls are sent again after a transient failure, how often and how late.
///
/// Retried, by default: GET requests (health, queue, runs, a run, an output) and
/// `cancel_run` (cancelling twice is harmless), after a failure that
/// [`Error::is_retryable`](crate::Error::is_retryable) calls healable: a connection
/// failure, a timeout waiting for the answer, or an answer of 425, 429, 500, 502, 503 or
/// 504. The delay before
/// attempt *n* is random between zero and `base_delay * 2^(n-1)` (exponential backoff with
/// full jitter), at most `max_delay`; a `Retry-After` header (seconds or an HTTP date) is
/// honoured up to `max_delay`. No retry starts once `max_total` has passed since the first
/// attempt. A download body cut short is resumed under the same policy, counted from its
/// last progress: a download that keeps bringing bytes is resumed as often as it is cut.
///
/// Never retried: `execute_workflow` (a repeated upload could start a second paid run).
///
/// Inside a wait (`execute_workflow_and_wait`, `wait_for_run`) each poll is one attempt:
/// the wait's own rules ([`WaitOptions::max_poll_failures`](crate::WaitOptions::max_poll_failures),
/// its interval and deadline) decide about retries, so the two never multiply.
///
/// ```
/// use std::time::Duration;
/// use flowscale::RetryPolicy;
/// let patient = RetryPolicy::new()
///     .attempts(5)
///     .base_delay(Duration::from_millis(500))
///     .max_delay(Duration::from_secs(10))
///     .max_total(Duration::from_secs(60));
/// let once = RetryPolicy::none();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a RetryPolicy does nothing until given to a client builder"]
pub struct RetryPolicy {
    attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: DEFAULT_RETRY_ATTEMPTS,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_total: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The default: 3 attempts in all, 250 ms base delay, 8 s maximum delay, 30 s in all.
    pub fn new() -> Self {
        Self::default()
    }

    /// No retries: every call is one attempt.
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            ..Self::default()
        }
    }

    /// Attempts in all, the first included (at least 1).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The backoff's starting delay.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest delay before one retry, `Retry-After` included.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// No retry starts later than this after the first attempt.
    pub fn max_total(mut self, total: Duration) -> Self {
        self.max_total = total;
        self
    }
}

/// The retry state of one call. The time is an input (`now`), never read here.
pub(crate) struct Retrier<'a> {
    policy: &'a RetryPolicy,
    attempt: u32,
    /// Since when the attempts are counted: the first attempt, or the last progress.
    since: Instant,
}

impl<'a> Retrier<'a> {
    /// The state of a call whose first attempt starts `now`.
    pub fn new(policy: &'a RetryPolicy, now: Instant) -> Self {
        Retrier {
            policy,
            attempt: 1,
            since: now,
        }
    }

    /// After a failed attempt at `now`: the delay before the next one, or `None` to give up.
    pub fn after_failure(
        &mut self,
        error: &Error,
        idempotence: Idempotence,
        now: Instant,
    ) -> Option<Duration> {
        if idempotence == Idempotence::Unsafe || !error.is_retryable() {
            return None;
        }
        self.next_delay(error.retry_after(), now)
    }

    /// After a failure the caller knows another attempt can heal (a download body cut
    /// short, to be resumed): the delay before the next attempt, or `None` to give up.
    pub fn after_cut(&mut self, now: Instant) -> Option<Duration> {
        self.next_delay(None, now)
    }

    /// The last attempt made progress (a cut body brought bytes before it broke): the
    /// budget starts again from `now`. A download is given up only after the policy's
    /// attempts (and `max_total`) pass without a byte, not after the call's age.
    pub fn progressed(&mut self, now: Instant) {
        self.attempt = 1;
        self.since = now;
    }

    fn next_delay(&mut self, retry_after: Option<Duration>, now: Instant) -> Option<Duration> {
        if self.attempt >= self.policy.attempts {
            return None;
        }
        let backoff = self
            .policy
            .base_delay
            .saturating_mul(1u32 << (self.attempt - 1).min(16))
            .min(self.policy.max_delay);
        let delay = match retry_after {
            Some(asked) => asked.min(self.policy.max_delay),
            None => clock::scale(backoff, jitter()),
        };
        let spent = now.saturating_duration_since(self.since);
        if spent.saturating_add(delay) > self.policy.max_total {
            return None;
        }
        self.attempt += 1;
        Some(delay)
    }
}

/// A random factor in [0, 1), from the standard library's randomly seeded hasher.
fn jitter() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, retry_after: Option<Duration>) -> Error {
        Error::Api {
            status,
            message: String::new(),
            body: String::new(),
            retry_after,
        }
    }

    #[test]
    fn the_largest_delays_saturate_instead_of_overflowing() {
        let endless = RetryPolicy::new()
            .base_delay(Duration::MAX)
            .max_delay(Duration::MAX)
            .max_total(Duration::MAX)
            .attempts(u32::MAX);
        let t0 = Instant::now();
        let mut r = Retrier::new(&endless, t0);
        let asked = api(429, Some(Duration::MAX));
        assert_eq!(
            r.after_failure(&asked, Idempotence::Safe, t0),
            Some(Duration::MAX)
        );
        // Backoff without Retry-After, past every doubling.
        for _ in 0..40 {
            assert!(
                r.after_failure(&api(503, None), Idempotence::Safe, t0)
                    .is_some()
            );
        }
    }

    #[test]
    fn only_safe_calls_meeting_healable_failures_are_retried() {
        let t0 = Instant::now();
        let policy = RetryPolicy::new().base_delay(Duration::from_millis(100));
        let mut r = Retrier::new(&policy, t0);
        let first = r
            .after_failure(&api(502, None), Idempotence::Safe, t0)
            .unwrap();
        assert!(first < Duration::from_millis(100), "full jitter: {first:?}");
        let second = r
            .after_failure(&api(503, None), Idempotence::Safe, t0)
            .unwrap();
        assert!(second < Duration::from_millis(200));
        assert_eq!(
            r.after_failure(&api(503, None), Idempotence::Safe, t0),
            None,
            "3 in all"
        );

        let mut r = Retrier::new(&policy, t0);
        assert_eq!(
            r.after_failure(&api(500, None), Idempotence::Unsafe, t0),
            None
        );
        assert_eq!(
            r.after_failure(&api(404, None), Idempotence::Safe, t0),
            None
        );
        assert_eq!(
            r.after_failure(&api(501, None), Idempotence::Safe, t0),
            None
        );

        let capped = RetryPolicy::new().max_delay(Duration::from_secs(2));
        let mut r = Retrier::new(&capped, t0);
        let asked = api(429, Some(Duration::from_secs(30)));
        assert_eq!(
            r.after_failure(&asked, Idempotence::Safe, t0),
            Some(Duration::from_secs(2))
        );
        let short = RetryPolicy::new().max_total(Duration::from_secs(1));
        let mut r = Retrier::new(&short, t0);
        // A retry that would start past max_total is not made.
        assert_eq!(
            r.after_failure(
                &api(429, Some(Duration::from_secs(5))),
                Idempotence::Safe,
                t0
            ),
            None
        );
        assert_eq!(
            Retrier::new(&RetryPolicy::none(), t0).after_failure(
                &api(502, None),
                Idempotence::Safe,
                t0
            ),
            None
        );
    }

    #[test]
    fn a_cut_download_is_given_up_only_after_the_budget_passes_without_progress() {
        let t0 = Instant::now();
        let policy = RetryPolicy::new()
            .attempts(3)
            .base_delay(Duration::from_millis(10))
            .max_total(Duration::from_secs(30));
        let mut r = Retrier::new(&policy, t0);
        // Cut every 10 s for 10 minutes, each time after new bytes: resumed every time.
        for minute_tenths in 1..=60 {
            let now = t0 + Duration::from_secs(10 * minute_tenths);
            r.progressed(now);
            assert!(r.after_cut(now).is_some(), "at {minute_tenths}0 s");
        }
        // Then cut with nothing new: the policy's attempts, no more.
        let stuck = t0 + Duration::from_secs(601);
        assert!(r.after_cut(stuck).is_some());
        assert!(
            r.after_cut(stuck).is_none(),
            "3 attempts in all without progress"
        );
        // And no retry starts past max_total without progress.
        let mut r = Retrier::new(&policy, t0);
        r.progressed(t0 + Duration::from_secs(100));
        assert!(r.after_cut(t0 + Duration::from_secs(131)).is_none());
    }
}
