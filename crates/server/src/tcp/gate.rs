//! `server.max_connections` as back-pressure: at the limit the accept loops stop accepting (new
//! connections wait in the kernel backlog) and resume as soon as one closes, as Ranch's
//! acceptors sleep until their connection supervisor has room.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Counts live connections across all workers.
#[derive(Debug)]
pub struct ConnectionGate {
    /// Live connections now.
    active: AtomicUsize,
    /// Connections accepted since start.
    accepted: AtomicUsize,
    /// `server.max_connections`; a configuration reload may change it.
    limit: AtomicUsize,
    /// Wakes accept loops parked at the limit.
    room: Notify,
}

impl ConnectionGate {
    /// A gate admitting at most `limit` live connections.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(ConnectionGate {
            active: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            limit: AtomicUsize::new(limit.max(1)),
            room: Notify::new(),
        })
    }

    /// Live connections.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Connections accepted since start.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// A new limit (configuration reload). Raising it wakes parked accept loops; lowering it
    /// closes nothing, it only stops admitting until the count falls below it.
    pub fn set_limit(&self, limit: usize) {
        self.limit.store(limit.max(1), Ordering::Relaxed);
        self.room.notify_waiters();
    }

    /// Resolves once a connection may be accepted.
    pub async fn room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.active() < self.limit() {
                return;
            }
            notified.await;
        }
    }

    /// Counts a newly accepted connection if there is room (atomically: several accept loops
    /// race for the last slot); the permit uncounts it when dropped.
    pub fn try_admit(self: &Arc<Self>) -> Option<ConnectionPermit> {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |active| {
                (active < self.limit()).then_some(active + 1)
            })
            .ok()?;
        self.accepted.fetch_add(1, Ordering::Relaxed);
        crate::metrics::connection_opened();
        Some(ConnectionPermit { gate: self.clone() })
    }

    /// Waits for room, then counts a newly accepted connection.
    pub async fn admit(self: &Arc<Self>) -> ConnectionPermit {
        loop {
            if let Some(permit) = self.try_admit() {
                return permit;
            }
            self.room().await;
        }
    }
}

impl crate::metrics::ConnectionCount for ConnectionGate {
    fn active(&self) -> usize {
        ConnectionGate::active(self)
    }
}

/// Held by a connection for its whole life: it is the one place a connection is counted open
/// and closed, whatever path it ends by (closed, killed, dropped unserved), so accepted − closed
/// always equals the live count.
#[derive(Debug)]
pub struct ConnectionPermit {
    /// The gate to give the slot back to.
    gate: Arc<ConnectionGate>,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        crate::metrics::connection_closed();
        let before = self.gate.active.fetch_sub(1, Ordering::Relaxed);
        if before >= self.gate.limit() {
            self.gate.room.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn room_waits_until_a_permit_is_dropped() {
        let gate = ConnectionGate::new(1);
        let first = gate.try_admit().unwrap();
        assert!(gate.try_admit().is_none(), "no second slot");
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.room().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        waiting.await.unwrap();
        assert_eq!((gate.active(), gate.accepted()), (0, 1));
    }
}
