//! `server.max_connections`: at the limit, a new connection is admitted by closing the oldest
//! reusable (idle or head-waiting) connections ([`crate::tcp::acceptor::reclaim`]), as nginx
//! does; only when none is reusable do the accept loops wait for room (new connections then
//! wait in the kernel backlog), as Ranch's acceptors sleep until their connection supervisor
//! has room.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use web_server_http::forwarded::canonical;
use web_server_http::TrustedProxies;

use crate::client_limits::ConnectionsPerIp;

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
    /// Wakes accept loops to reclaim a connection for another worker at the limit.
    reclaim_wanted: Notify,
    /// Connections told to close for room whose actors have not handled it yet.
    reclaiming: AtomicUsize,
    /// Accepted connections waiting for a slot: every connection was busy when they came.
    waiting: AtomicUsize,
    /// `limits.max_connections_per_ip`; 0 = no limit. A reload may change it.
    per_ip_limit: AtomicUsize,
    /// Open connections per peer address, counted only while `per_ip_limit` is set. A
    /// mutex-sharded map touched once when a connection opens and once when it closes (never
    /// per request): cheaper than a message to an owner, and bounded by the live connections.
    per_ip: ConnectionsPerIp,
    /// `server.trusted_proxies`: their connections carry many clients, so they are not
    /// limited per address. Read once per accepted connection (a reload may replace it).
    trusted_proxies: RwLock<TrustedProxies>,
}

impl ConnectionGate {
    /// A gate admitting at most `limit` live connections.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(ConnectionGate {
            active: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            limit: AtomicUsize::new(limit.max(1)),
            room: Notify::new(),
            reclaim_wanted: Notify::new(),
            reclaiming: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            per_ip_limit: AtomicUsize::new(0),
            per_ip: ConnectionsPerIp::default(),
            trusted_proxies: RwLock::new(TrustedProxies::default()),
        })
    }

    /// Sets `limits.max_connections_per_ip` (0 = off) and the proxies exempt from it (start
    /// and configuration reload). Connections counted before keep their count; lowering the
    /// limit closes none, it only refuses new ones until the count falls below it.
    pub fn set_per_ip_limit(&self, limit: usize, trusted_proxies: TrustedProxies) {
        *self
            .trusted_proxies
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = trusted_proxies;
        self.per_ip_limit.store(limit, Ordering::Relaxed);
    }

    /// `limits.max_connections_per_ip` now (0 = off).
    pub fn per_ip_limit(&self) -> usize {
        self.per_ip_limit.load(Ordering::Relaxed)
    }

    /// Counts a connection just accepted from `peer` against `limits.max_connections_per_ip`:
    /// `Ok(None)` when the limit is off or the peer is a trusted proxy, `Ok(Some(slot))` when it
    /// is counted (the slot uncounts it when dropped), `Err(())` when the peer has as many open
    /// as allowed: the connection is to be refused.
    #[allow(clippy::result_unit_err)]
    pub fn per_ip_slot(self: &Arc<Self>, peer: IpAddr) -> Result<Option<IpSlot>, ()> {
        let limit = self.per_ip_limit();
        if limit == 0 {
            return Ok(None);
        }
        let peer = canonical(peer);
        let trusted = self
            .trusted_proxies
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .trusts(peer);
        if trusted {
            return Ok(None);
        }
        if self.per_ip.try_open(peer, limit) {
            Ok(Some(IpSlot {
                gate: self.clone(),
                peer,
            }))
        } else {
            Err(())
        }
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

    /// Resolves when a connection closed while the gate was full, so that a connection waiting
    /// for a slot may look again. `enable` it before looking, or a slot freed in between is
    /// missed.
    pub fn slot_freed(&self) -> Notified<'_> {
        self.room.notified()
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
        Some(ConnectionPermit {
            gate: self.clone(),
            ip_slot: None,
        })
    }

    /// Counts a newly accepted connection beyond the limit, as long as connections told to
    /// close for room ([`crate::tcp::acceptor::reclaim`]) will bring the count back: the count
    /// exceeds the limit by at most the reclaims under way, and only until they are done.
    pub fn try_admit_reclaimed(self: &Arc<Self>) -> Option<ConnectionPermit> {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |active| {
                let room = self.limit() + self.reclaiming.load(Ordering::Acquire);
                (active < room).then_some(active + 1)
            })
            .ok()?;
        self.accepted.fetch_add(1, Ordering::Relaxed);
        crate::metrics::connection_opened();
        Some(ConnectionPermit {
            gate: self.clone(),
            ip_slot: None,
        })
    }

    /// An accepted connection starts or stops waiting for a slot.
    pub(crate) fn set_waiting(&self, waiting: bool) {
        if waiting {
            self.waiting.fetch_add(1, Ordering::AcqRel);
        } else {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// A connection turned reusable (idle): if accepted connections wait for a slot, they look
    /// again, and may reclaim it. One load of a rarely written counter per idle turn.
    pub(crate) fn connection_reusable(&self) {
        if self.waiting.load(Ordering::Acquire) > 0 {
            self.room.notify_waiters();
        }
    }

    /// A connection was told to close for room.
    pub(crate) fn reclaim_started(&self) {
        self.reclaiming.fetch_add(1, Ordering::AcqRel);
    }

    /// A connection told to close for room got the message (it closed, or turned out busy).
    pub(crate) fn reclaim_ended(&self) {
        self.reclaiming.fetch_sub(1, Ordering::AcqRel);
    }

    /// Asks the accept loops of every worker to reclaim a connection of theirs: the caller's
    /// worker has none to reclaim, and waits for [`admit`](Self::admit).
    pub fn ask_workers_to_reclaim(&self) {
        self.reclaim_wanted.notify_waiters();
    }

    /// Resolves when another worker asked for room ([`ask_workers_to_reclaim`](Self::ask_workers_to_reclaim)).
    pub async fn reclaim_wanted(&self) {
        self.reclaim_wanted.notified().await;
    }
}

impl crate::metrics::ConnectionCount for ConnectionGate {
    fn active(&self) -> usize {
        ConnectionGate::active(self)
    }
}

impl ConnectionPermit {
    /// The gate this connection counts against: it identifies the listener.
    pub fn gate(&self) -> &Arc<ConnectionGate> {
        &self.gate
    }

    /// Keeps the connection counted against its peer's address for as long as it lives.
    pub(crate) fn hold(&mut self, ip_slot: Option<IpSlot>) {
        self.ip_slot = ip_slot;
    }
}

/// One connection counted against its peer's address (`limits.max_connections_per_ip`);
/// uncounted when dropped.
#[derive(Debug)]
pub struct IpSlot {
    gate: Arc<ConnectionGate>,
    peer: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        self.gate.per_ip.close(self.peer);
    }
}

/// Held by a connection for its whole life: it is the one place a connection is counted open
/// and closed, whatever path it ends by (closed, killed, dropped unserved), so accepted − closed
/// always equals the live count.
#[derive(Debug)]
pub struct ConnectionPermit {
    /// The gate to give the slot back to.
    gate: Arc<ConnectionGate>,
    /// The connection's count against its peer address, when that is limited.
    ip_slot: Option<IpSlot>,
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
    async fn a_slot_freed_at_the_limit_is_announced() {
        let gate = ConnectionGate::new(1);
        let first = gate.try_admit().unwrap();
        assert!(gate.try_admit().is_none(), "no second slot");
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.slot_freed().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        waiting.await.unwrap();
        assert_eq!((gate.active(), gate.accepted()), (0, 1));
    }
}
