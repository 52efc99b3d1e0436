//! Reclaiming connections at `server.max_connections`, as nginx reuses its connection table:
//! when a listener's table is full, a new connection is accepted anyway and the oldest
//! *reusable* connections of the same listener are closed to make room. Reusable means owing
//! nothing: idle between requests, or still waiting for a request head. A connection with a
//! request in progress (content being read, an answer being prepared or written) is never
//! reclaimed.
//!
//! Without this, a flood of silent connections fills the table, the accept loops park, and a
//! real client waits in the kernel backlog behind the flood for as long as the header timeout
//! lets each part of it in.
//!
//! The register is per worker thread (a connection and the accept loops that would reclaim it
//! live on the same thread), and per listener, told apart by its [`ConnectionGate`]: a flood on
//! the public listener never closes an admin connection. A connection is registered once, when
//! it starts, and removed when its actor is dropped; between requests it only flips cells of
//! its [`Drain`], so the request path pays nothing for the register.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use actix::{Addr, Message};
use slab::Slab;
use tokio::time::Instant;

use super::connection::Drain;
use super::ConnectionActor;
use crate::tcp::gate::ConnectionGate;

/// Most connections closed for one new one, as nginx's `ngx_drain_connections`: up to 32, an
/// eighth of the reusable ones, at least one. The closed ones free the slots the following
/// accepts take, so a flood is answered with one scan per batch rather than per connection.
const MAX_BATCH: usize = 32;

/// Asks a connection actor to close if it is still reusable.
#[derive(Debug)]
pub(crate) struct Reclaim;

impl Message for Reclaim {
    type Result = ();
}

/// A registered connection.
struct Entry {
    /// Where the connection is: reusable since when, or busy.
    drain: Rc<Drain>,
    /// Its actor, told to close.
    actor: Addr<ConnectionActor>,
}

/// The connections of one listener on this thread.
struct Listener {
    /// The listener's gate: it identifies the listener and counts the reclaims under way. Kept
    /// here once rather than in every connection's registration.
    gate: Arc<ConnectionGate>,
    /// Its live connections.
    connections: Slab<Entry>,
}

thread_local! {
    /// This worker's connections, per listener. Listeners are never removed: a thread serves a
    /// handful of listeners for its whole life.
    static REGISTER: RefCell<Vec<Listener>> = const { RefCell::new(Vec::new()) };
}

/// A connection's place in the register; dropping it removes the connection. Two indices, so
/// that it adds little to every connection, idle ones included.
pub(crate) struct Registration {
    /// The listener's index in this thread's register.
    listener: usize,
    /// The connection's slot in its listener's slab.
    key: usize,
}

impl Registration {
    /// The connection's actor got its [`Reclaim`]: the mark is cleared and no longer counts.
    pub(crate) fn reclaim_delivered(&self) {
        // `try_*`: during the thread's teardown there is nothing left to count against.
        let _ = REGISTER.try_with(|register| {
            let Ok(listeners) = register.try_borrow() else {
                return;
            };
            let Some(listener) = listeners.get(self.listener) else {
                return;
            };
            if let Some(entry) = listener.connections.get(self.key) {
                if entry.drain.take_reclaim_mark() {
                    listener.gate.reclaim_ended();
                }
            }
        });
    }
}

/// Registers a connection of the listener behind `gate`, on this thread.
pub(crate) fn register(
    gate: &Arc<ConnectionGate>,
    drain: Rc<Drain>,
    actor: Addr<ConnectionActor>,
) -> Registration {
    REGISTER.with_borrow_mut(|listeners| {
        let listener = match listeners.iter().position(|l| Arc::ptr_eq(&l.gate, gate)) {
            Some(index) => index,
            None => {
                listeners.push(Listener {
                    gate: gate.clone(),
                    connections: Slab::new(),
                });
                listeners.len() - 1
            }
        };
        let key = listeners[listener]
            .connections
            .insert(Entry { drain, actor });
        Registration { listener, key }
    })
}

impl Drop for Registration {
    fn drop(&mut self) {
        // A connection that ended before its reclaim reached it frees its slot anyway.
        self.reclaim_delivered();
        let _ = REGISTER.try_with(|register| {
            if let Ok(mut listeners) = register.try_borrow_mut() {
                if let Some(listener) = listeners.get_mut(self.listener) {
                    listener.connections.try_remove(self.key);
                }
            }
        });
    }
}

/// Tells the oldest reusable connections of `gate`'s listener on this thread to close, a
/// batch of them (see [`MAX_BATCH`]), and counts them in the gate's reclaims under way, which
/// admit as many new connections beyond the limit. Returns how many were told; each closes
/// when its actor handles the message, unless a request arrived on it meanwhile.
pub(crate) fn close_oldest(gate: &Arc<ConnectionGate>) -> usize {
    REGISTER.with_borrow(|listeners| {
        let Some(listener) = listeners.iter().find(|l| Arc::ptr_eq(&l.gate, gate)) else {
            return 0;
        };
        let mut reusable: Vec<(Instant, &Entry)> = listener
            .connections
            .iter()
            .filter_map(|(_, entry)| Some((entry.drain.reclaimable_since()?, entry)))
            .collect();
        let batch = (reusable.len() / 8).clamp(1, MAX_BATCH).min(reusable.len());
        if batch == 0 {
            return 0;
        }
        if batch < reusable.len() {
            reusable.select_nth_unstable_by_key(batch - 1, |(since, _)| *since);
        }
        for (_, entry) in &reusable[..batch] {
            entry.drain.mark_reclaimed();
            gate.reclaim_started();
            entry.actor.do_send(Reclaim);
        }
        batch
    })
}
