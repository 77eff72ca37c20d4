//! Time arithmetic that cannot overflow. Durations come from callers (`Duration::MAX` is a
//! fine way to say "no limit") and from servers (`Retry-After`); `Instant + Duration` and
//! `Duration::mul_f64` panic past their range, so every sum and product of them goes
//! through here and saturates instead.

use std::time::{Duration, Instant};

/// About 30 years: later than any deadline means anything, early enough for every clock.
const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// `start + d`, or (when that is past what an `Instant` holds) a moment about 30 years
/// after `start`, which no wait or request lives to see.
pub(crate) fn later(start: Instant, d: Duration) -> Instant {
    start
        .checked_add(d)
        .or_else(|| start.checked_add(FAR))
        .unwrap_or(start)
}

/// `d`, at most about 30 years: what a timeout handed to an HTTP backend may be (ureq
/// adds it to `Instant::now()`, which overflows past that).
pub(crate) fn cap(d: Duration) -> Duration {
    d.min(FAR)
}

/// `d * factor` for a factor of at least 0 (NaN and negative factors give `d`), at most
/// `Duration::MAX`.
pub(crate) fn scale(d: Duration, factor: f64) -> Duration {
    if factor.is_nan() || factor < 0.0 {
        return d;
    }
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_products_saturate() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > later(now, Duration::from_secs(3600)));
        assert_eq!(
            later(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert_eq!(scale(Duration::MAX, 1.5), Duration::MAX);
        assert_eq!(
            scale(Duration::MAX, 0.99999),
            Duration::try_from_secs_f64(Duration::MAX.as_secs_f64() * 0.99999)
                .unwrap_or(Duration::MAX)
        );
        assert_eq!(scale(Duration::from_secs(2), 1.5), Duration::from_secs(3));
        assert_eq!(
            scale(Duration::from_secs(2), f64::NAN),
            Duration::from_secs(2)
        );
        assert_eq!(scale(Duration::from_secs(2), f64::INFINITY), Duration::MAX);
    }
}
