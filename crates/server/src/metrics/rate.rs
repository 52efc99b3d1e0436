//! Requests per second over a sliding window, from a monotonic total sampled at intervals.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Samples of a monotonic total, kept for one window; the rate is the total's increase from
/// the oldest sample kept to the newest, divided by the time between them.
#[derive(Debug)]
pub(crate) struct RateWindow {
    /// How far back the rate looks.
    span: Duration,
    /// (when, total) pairs, oldest first; the oldest is at most `span` before the newest.
    samples: VecDeque<(Instant, u64)>,
}

impl RateWindow {
    /// An empty window `span` long.
    pub(crate) fn new(span: Duration) -> Self {
        RateWindow {
            span,
            samples: VecDeque::new(),
        }
    }

    /// Adds the total seen at `now` and returns the rate per second over the window, or `None`
    /// until there are two samples at different times. A total lower than an earlier one
    /// (which a monotonic counter never gives) counts as no increase.
    pub(crate) fn observe(&mut self, now: Instant, total: u64) -> Option<f64> {
        self.samples.push_back((now, total));
        while let Some(&(oldest, _)) = self.samples.front() {
            if now.duration_since(oldest) > self.span {
                self.samples.pop_front();
            } else {
                break;
            }
        }
        let (Some(&(from, first)), Some(&(to, last))) = (self.samples.front(), self.samples.back())
        else {
            return None;
        };
        let elapsed = to.duration_since(from).as_secs_f64();
        if elapsed <= 0.0 {
            return None;
        }
        Some(last.saturating_sub(first) as f64 / elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn first_sample_gives_no_rate() {
        let mut window = RateWindow::new(10 * SECOND);
        assert_eq!(window.observe(Instant::now(), 500), None);
    }

    #[test]
    fn steady_traffic_gives_its_rate() {
        let start = Instant::now();
        let mut window = RateWindow::new(10 * SECOND);
        let mut rate = None;
        for s in 0..30 {
            rate = window.observe(start + s * SECOND, 1_000 + 50 * u64::from(s));
        }
        assert_eq!(rate, Some(50.0));
        assert!(window.samples.len() <= 11, "only one window is kept");
    }

    #[test]
    fn the_rate_covers_only_the_window() {
        let start = Instant::now();
        let mut window = RateWindow::new(10 * SECOND);
        // 100 requests in the first second, then none.
        window.observe(start, 0);
        assert_eq!(window.observe(start + SECOND, 100), Some(100.0));
        assert_eq!(window.observe(start + 5 * SECOND, 100), Some(20.0));
        assert_eq!(window.observe(start + 10 * SECOND, 100), Some(10.0));
        // The burst's first sample leaves the window: only flat samples remain.
        assert_eq!(window.observe(start + 12 * SECOND, 100), Some(0.0));
    }

    #[test]
    fn irregular_samples_are_weighted_by_time() {
        let start = Instant::now();
        let mut window = RateWindow::new(10 * SECOND);
        window.observe(start, 0);
        window.observe(start + Duration::from_millis(500), 10);
        assert_eq!(window.observe(start + 4 * SECOND, 40), Some(10.0));
    }

    #[test]
    fn a_total_going_down_counts_as_no_increase() {
        let start = Instant::now();
        let mut window = RateWindow::new(10 * SECOND);
        window.observe(start, 100);
        assert_eq!(window.observe(start + SECOND, 40), Some(0.0));
    }

    #[test]
    fn samples_at_the_same_instant_give_no_rate() {
        let now = Instant::now();
        let mut window = RateWindow::new(10 * SECOND);
        window.observe(now, 0);
        assert_eq!(window.observe(now, 10), None);
    }
}
