//! Keeps one timer pending on each worker thread, so that arming a new connection's timer does
//! not wake the worker's runtime.
//!
//! Tokio's timer wheel wakes its driver (a write to an eventfd, and one more turn of the event
//! loop) whenever a timer is armed earlier than the driver's next planned wake-up, and *always*
//! when no timer was pending when the driver last went to sleep. With short connections
//! (`Connection: close`) every connection is opened and closed between two sleeps, so the wheel
//! is empty at each sleep and every new connection's header timeout would cost that wake-up: one
//! more system call per short connection. A one-second interval
//! that is always pending gives the driver a next wake-up at most a second away, earlier than
//! any connection's timeout (a second or more), so arming one never needs the wake-up.

use std::cell::Cell;
use std::time::Duration;

/// The anchor's period: no longer than the shortest timeout a connection normally arms.
const PERIOD: Duration = Duration::from_secs(1);

thread_local! {
    /// Whether this thread's runtime has its anchor.
    static ANCHORED: Cell<bool> = const { Cell::new(false) };
}

/// Clears [`ANCHORED`] when the anchor task is dropped (its runtime shut down), so a later
/// runtime on the same thread gets an anchor of its own.
struct Anchored;

impl Drop for Anchored {
    fn drop(&mut self) {
        ANCHORED.with(|anchored| anchored.set(false));
    }
}

/// Spawns this thread's anchor task unless it has one; call on a worker's runtime.
pub(crate) fn ensure() {
    if ANCHORED.with(|anchored| anchored.replace(true)) {
        return;
    }
    let anchored = Anchored;
    actix_rt::spawn(async move {
        let _anchored = anchored;
        let mut interval = tokio::time::interval(PERIOD);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_gets_one_anchor_and_a_new_runtime_gets_a_new_one() {
        for _ in 0..2 {
            let runtime = actix_rt::Runtime::new().expect("runtime");
            runtime.block_on(async {
                ensure();
                assert!(ANCHORED.with(Cell::get));
                // A second call spawns nothing more (the flag was already set).
                ensure();
                assert!(ANCHORED.with(Cell::get));
            });
            drop(runtime);
            // Dropping the runtime dropped the task, and with it the flag.
            assert!(!ANCHORED.with(Cell::get));
        }
    }
}
