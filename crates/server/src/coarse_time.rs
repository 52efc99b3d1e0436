//! Clock reads on the request path that need no more than millisecond precision: the kernel's
//! coarse clocks.
//!
//! `CLOCK_REALTIME_COARSE` and `CLOCK_MONOTONIC_COARSE` are the time of the last timer tick (a
//! few milliseconds old at most). The vDSO returns them without reading the CPU's time-stamp
//! counter, which the precise clocks do; the precise reads cost about 1 % of a small request's
//! CPU. Two readers need no better:
//! - the `Date` header, whose resolution is one second (RFC 9110 §5.6.7);
//! - the file cache's revalidation period, configured in milliseconds.
//!
//! Request latency is measured with the precise clock. The coarse clocks are Linux's; elsewhere
//! the precise ones stand in (same results, a little more CPU).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::time::{clock_gettime, ClockId};
use web_server_http::Clock;

#[cfg(target_os = "linux")]
const WALL: ClockId = ClockId::RealtimeCoarse;
#[cfg(not(target_os = "linux"))]
const WALL: ClockId = ClockId::Realtime;

#[cfg(target_os = "linux")]
const MONOTONIC: ClockId = ClockId::MonotonicCoarse;
#[cfg(not(target_os = "linux"))]
const MONOTONIC: ClockId = ClockId::Monotonic;

/// [`Clock`] for the `Date` header, reading `CLOCK_REALTIME_COARSE`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CoarseWallClock;

impl Clock for CoarseWallClock {
    fn now(&self) -> SystemTime {
        let now = clock_gettime(WALL);
        // A real-time clock set before 1970 dates responses at the epoch, as `DateCache` does.
        match (u64::try_from(now.tv_sec), u32::try_from(now.tv_nsec)) {
            (Ok(secs), Ok(nanos)) => UNIX_EPOCH + Duration::new(secs, nanos),
            _ => UNIX_EPOCH,
        }
    }
}

/// Milliseconds of `CLOCK_MONOTONIC_COARSE`: only differences between two readings mean
/// anything.
pub(crate) fn monotonic_millis() -> u64 {
    let now = clock_gettime(MONOTONIC);
    // The monotonic clock counts from boot: never negative.
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let millis = u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000_000;
    secs.saturating_mul(1000).saturating_add(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_wall_clock_is_within_a_second_of_the_precise_one() {
        let precise = SystemTime::now();
        let coarse = CoarseWallClock.now();
        let apart = precise
            .duration_since(coarse)
            .unwrap_or_else(|early| early.duration());
        // The coarse clock lags by one timer tick (1–10 ms) at most; a second is the `Date`
        // header's resolution.
        assert!(apart < Duration::from_secs(1), "{apart:?} apart");
    }

    #[test]
    fn coarse_monotonic_millis_never_go_back_and_advance_with_the_timer_tick() {
        let first = monotonic_millis();
        let give_up = std::time::Instant::now() + Duration::from_secs(5);
        let mut last = first;
        // Waits for the next timer tick: the coarse clock moves only then.
        while last == first && std::time::Instant::now() < give_up {
            std::thread::yield_now();
            let now = monotonic_millis();
            assert!(now >= last, "went back from {last} to {now}");
            last = now;
        }
        assert!(last > first, "no tick in 5 s");
        // A tick is 1–10 ms; a second would mean the clock is not the coarse monotonic one.
        assert!(last - first < 1000, "jumped {} ms", last - first);
    }
}
