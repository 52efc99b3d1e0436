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
    /// The listener's gate, as an address: it identifies the listener.
    gate: usize,
    /// Its live connections.
    connections: Slab<Entry>,
}

thread_local! {
    /// This worker's connections, per listener.
    static REGISTER: RefCell<Vec<Listener>> = const { RefCell::new(Vec::new()) };
}

fn gate_id(gate: &ConnectionGate) -> usize {
    gate as *const ConnectionGate as usize
}

/// A connection's place in the register; dropping it removes the connection.
pub(crate) struct Registration {
    /// The listener's gate: counts the reclaims under way.
    gate: Arc<ConnectionGate>,
    /// The connection's drain, whose reclaim mark this registration clears.
    drain: Rc<Drain>,
    /// The slot in its slab.
    key: usize,
}

impl Registration {
    /// The connection's actor got its [`Reclaim`]: the mark is cleared and no longer counts.
    pub(crate) fn reclaim_delivered(&self) {
        if self.drain.take_reclaim_mark() {
            self.gate.reclaim_ended();
        }
    }
}

/// Registers a connection of the listener behind `gate`, on this thread.
pub(crate) fn register(
    gate: &Arc<ConnectionGate>,
    drain: Rc<Drain>,
    actor: Addr<ConnectionActor>,
) -> Registration {
    let id = gate_id(gate);
    let key = REGISTER.with_borrow_mut(|listeners| {
        let index = match listeners.iter().position(|l| l.gate == id) {
            Some(index) => index,
            None => {
                listeners.push(Listener {
                    gate: id,
                    connections: Slab::new(),
                });
                listeners.len() - 1
            }
        };
        listeners[index].connections.insert(Entry {
            drain: drain.clone(),
            actor,
        })
    });
    Registration {
        gate: gate.clone(),
        drain,
        key,
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // A connection that ended before its reclaim reached it frees its slot anyway.
        self.reclaim_delivered();
        let id = gate_id(&self.gate);
        // `try_with`: a connection dropped while the thread's locals are torn down has nothing
        // left to be removed from.
        let _ = REGISTER.try_with(|register| {
            if let Ok(mut listeners) = register.try_borrow_mut() {
                if let Some(listener) = listeners.iter_mut().find(|l| l.gate == id) {
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
pub(crate) fn close_oldest(gate: &ConnectionGate) -> usize {
    let id = gate_id(gate);
    REGISTER.with_borrow(|listeners| {
        let Some(listener) = listeners.iter().find(|l| l.gate == id) else {
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
