//! The `Date` header value (RFC 9110 §6.6.1), formatted at most once per second.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Source of the current time, injectable so tests can control it.
pub trait Clock: Send + Sync {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Length of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
const IMF_FIXDATE_LEN: usize = 29;

/// Caches the formatted `Date` value for the current second.
pub struct DateCache {
    /// Where the time comes from.
    clock: Box<dyn Clock>,
    /// The whole second `value` was rendered for; `u64::MAX` before the first render.
    second: u64,
    /// The rendered IMF-fixdate.
    value: [u8; IMF_FIXDATE_LEN],
    /// How many times the value was formatted, so tests can prove the once-per-second bound.
    renders: u64,
}

impl std::fmt::Debug for DateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DateCache")
            .field("value", &self.value())
            .field("renders", &self.renders)
            .finish()
    }
}

impl Default for DateCache {
    fn default() -> Self {
        DateCache::new(Box::new(SystemClock))
    }
}

impl DateCache {
    /// A cache reading time from `clock`.
    pub fn new(clock: Box<dyn Clock>) -> Self {
        DateCache {
            clock,
            second: u64::MAX,
            value: [b' '; IMF_FIXDATE_LEN],
            renders: 0,
        }
    }

    /// The `Date` value for now, re-formatted only when the second changed.
    pub fn now(&mut self) -> &[u8] {
        let now = self.clock.now();
        let second = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        if second != self.second {
            let mut out = &mut self.value[..];
            // An IMF-fixdate is always exactly 29 bytes for years 1970..=9999, which
            // `httpdate` guarantees to render; a write error would leave the previous value.
            if write!(out, "{}", httpdate::HttpDate::from(now)).is_ok() {
                self.second = second;
                self.renders += 1;
            }
        }
        &self.value
    }

    /// The last rendered value (spaces before the first call to [`now`](Self::now)).
    pub fn value(&self) -> &str {
        std::str::from_utf8(&self.value).unwrap_or_default()
    }

    /// How many times the value has been formatted.
    pub fn renders(&self) -> u64 {
        self.renders
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// A clock tests move by hand, in milliseconds since the epoch.
    #[derive(Clone, Default)]
    pub(crate) struct ManualClock(pub Arc<AtomicU64>);

    impl Clock for ManualClock {
        fn now(&self) -> SystemTime {
            UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::SeqCst))
        }
    }

    #[test]
    fn rfc9110_6_6_1_date_is_imf_fixdate() {
        let clock = ManualClock::default();
        clock.0.store(784_111_777_000, Ordering::SeqCst);
        let mut cache = DateCache::new(Box::new(clock));
        assert_eq!(cache.now(), b"Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn date_is_formatted_at_most_once_per_second() {
        let clock = ManualClock::default();
        clock.0.store(1_000_000_000_000, Ordering::SeqCst);
        let mut cache = DateCache::new(Box::new(clock.clone()));
        let first = cache.now().to_vec();
        clock.0.fetch_add(999, Ordering::SeqCst);
        assert_eq!(cache.now(), &first[..]);
        assert_eq!(cache.renders(), 1);
        clock.0.fetch_add(1, Ordering::SeqCst);
        assert_ne!(cache.now(), &first[..]);
        assert_eq!(cache.renders(), 2);
    }
}
