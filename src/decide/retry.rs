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
/// attempt.
///
/// Never retried: `execute_workflow` (a repeated upload could start a second paid run), and
/// downloads (`download_outputs` and friends report the failure; a second call resumes
/// nothing but is safe).
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

/// The retry state of one call.
pub(crate) struct Retrier<'a> {
    policy: &'a RetryPolicy,
    attempt: u32,
    started: Instant,
}

impl<'a> Retrier<'a> {
    pub fn new(policy: &'a RetryPolicy) -> Self {
        Retrier {
            policy,
            attempt: 1,
            started: Instant::now(),
        }
    }

    /// After a failed attempt: the delay before the next one, or `None` to give up.
    pub fn after_failure(&mut self, error: &Error, idempotence: Idempotence) -> Option<Duration> {
        if idempotence == Idempotence::Unsafe || !error.is_retryable() {
            return None;
        }
        self.next_delay(error.retry_after())
    }

    /// After a failure the caller knows another attempt can heal (a download body cut
    /// short, to be resumed): the delay before the next attempt, or `None` to give up.
    pub fn after_cut(&mut self) -> Option<Duration> {
        self.next_delay(None)
    }

    fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
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
        if self.started.elapsed().saturating_add(delay) > self.policy.max_total {
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
        let mut r = Retrier::new(&endless);
        let asked = api(429, Some(Duration::MAX));
        assert_eq!(
            r.after_failure(&asked, Idempotence::Safe),
            Some(Duration::MAX)
        );
        // Backoff without Retry-After, past every doubling.
        for _ in 0..40 {
            assert!(
                r.after_failure(&api(503, None), Idempotence::Safe)
                    .is_some()
            );
        }
    }

    #[test]
    fn only_safe_calls_meeting_healable_failures_are_retried() {
        let policy = RetryPolicy::new().base_delay(Duration::from_millis(100));
        let mut r = Retrier::new(&policy);
        let first = r.after_failure(&api(502, None), Idempotence::Safe).unwrap();
        assert!(first < Duration::from_millis(100), "full jitter: {first:?}");
        let second = r.after_failure(&api(503, None), Idempotence::Safe).unwrap();
        assert!(second < Duration::from_millis(200));
        assert_eq!(
            r.after_failure(&api(503, None), Idempotence::Safe),
            None,
            "3 in all"
        );

        let mut r = Retrier::new(&policy);
        assert_eq!(r.after_failure(&api(500, None), Idempotence::Unsafe), None);
        assert_eq!(r.after_failure(&api(404, None), Idempotence::Safe), None);
        assert_eq!(r.after_failure(&api(501, None), Idempotence::Safe), None);

        let capped = RetryPolicy::new().max_delay(Duration::from_secs(2));
        let mut r = Retrier::new(&capped);
        let asked = api(429, Some(Duration::from_secs(30)));
        assert_eq!(
            r.after_failure(&asked, Idempotence::Safe),
            Some(Duration::from_secs(2))
        );
        let short = RetryPolicy::new().max_total(Duration::from_secs(1));
        let mut r = Retrier::new(&short);
        // A retry that would start past max_total is not made.
        assert_eq!(
            r.after_failure(&api(429, Some(Duration::from_secs(5))), Idempotence::Safe),
            None
        );
        assert_eq!(
            Retrier::new(&RetryPolicy::none()).after_failure(&api(502, None), Idempotence::Safe),
            None
        );
    }
}
