//! Restart intensity: how a supervisor notices that restarting is not helping; and restart
//! observers, through which the rest of the process learns of every restart.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::spec::ChildId;

/// Told of every restart a supervisor makes: the supervisor's id, then the restarted child's id
/// (for a dynamic supervisor, the id its children share). A plain function, so it can only
/// reach process-wide state: it is meant for counters (metrics), not for control.
pub type RestartObserver = fn(supervisor: &ChildId, child: &ChildId);

/// The observers added so far, called in the order they were added.
static OBSERVERS: RwLock<Vec<RestartObserver>> = RwLock::new(Vec::new());

/// Adds a process-wide observer of restarts, as a `telemetry` handler or a `logger` handler
/// attached to supervisor progress reports would be in Erlang. It is called synchronously by
/// the supervisor when it decides to restart a child (so once per restarted child: under
/// `one_for_all` a failure restarts, and reports, every running sibling too), before the new
/// incarnation starts; the counts it sees match the `restarts_total` of tree snapshots.
///
/// Observers cannot be removed and should be added once per process (say, from a `OnceLock`);
/// each call adds one more. They must be quick and must not block: they run inside the
/// supervisor's message handling. A panicking observer is caught and logged, never taking the
/// supervisor down.
pub fn add_restart_observer(observer: RestartObserver) {
    OBSERVERS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .push(observer);
}

/// Tells every observer that `supervisor` is restarting `child`.
pub(crate) fn notify_restart(supervisor: &ChildId, child: &ChildId) {
    let observers = OBSERVERS.read().unwrap_or_else(PoisonError::into_inner);
    for observer in observers.iter() {
        if catch_unwind(AssertUnwindSafe(|| observer(supervisor, child))).is_err() {
            tracing::error!(%supervisor, %child, "a restart observer panicked");
        }
    }
}

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
