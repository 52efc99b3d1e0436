//! Restart intensity: how a supervisor notices that restarting is not helping.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Counts restarts in a sliding window, as OTP's supervisor does with `intensity` and `period`.
#[derive(Debug, Clone)]
pub(crate) struct RestartTracker {
    /// Restarts tolerated within `period`.
    intensity: u32,
    /// Length of the sliding window.
    period: Duration,
    /// When each restart in the window happened, oldest first; never longer than intensity + 1.
    recent: VecDeque<Instant>,
}

impl RestartTracker {
    pub(crate) fn new(intensity: u32, period: Duration) -> Self {
        RestartTracker {
            intensity,
            period,
            recent: VecDeque::with_capacity(intensity as usize + 1),
        }
    }

    /// Records a restart at `now`; returns false when it is one too many for the window.
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        self.forget_before(now);
        self.recent.push_back(now);
        self.recent.len() as u64 <= u64::from(self.intensity)
    }

    fn forget_before(&mut self, now: Instant) {
        while let Some(&oldest) = self.recent.front() {
            if now.duration_since(oldest) >= self.period {
                self.recent.pop_front();
            } else {
                break;
            }
        }
    }
}

/// Counts the instants of `times` that fall within `period` before `now`.
pub(crate) fn count_within(times: &VecDeque<Instant>, period: Duration, now: Instant) -> u32 {
    times
        .iter()
        .filter(|t| now.duration_since(**t) < period)
        .count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intensity_one_allows_one_restart_per_period() {
        let start = Instant::now();
        let mut tracker = RestartTracker::new(1, Duration::from_secs(5));
        assert!(tracker.record(start));
        assert!(!tracker.record(start + Duration::from_secs(1)));
    }

    #[test]
    fn restarts_older_than_the_period_are_forgotten() {
        let start = Instant::now();
        let mut tracker = RestartTracker::new(1, Duration::from_secs(5));
        assert!(tracker.record(start));
        assert!(tracker.record(start + Duration::from_secs(6)));
    }

    #[test]
    fn intensity_zero_allows_no_restart() {
        let mut tracker = RestartTracker::new(0, Duration::from_secs(5));
        assert!(!tracker.record(Instant::now()));
    }
}
