//! `web_server_sup`: the root of the seed's supervision tree, and the place an embedding
//! application's own children take in it. Each supervisor's strategy and intensity is justified
//! in docs/architecture.md.
//!
//! This is a composition root: it wires the subtrees together and hands each what it needs
//! (the metrics collector gets the connection gate and the cache's size as plain sources, and
//! the ids of the supervisors to count from zero), so the subtrees need not know each other.

use std::sync::Arc;
use std::time::Duration;

use web_server_supervision::{ChildSpec, Strategy, SupervisorFlags, SupervisorSpec};

use crate::cache::{self, StaticCache, StaticLoader};
use crate::metrics;
use crate::pipeline::Pipeline;
use crate::tcp::acceptor_sup::Partitions;
use crate::tcp::listener::ListenerShared;
use crate::tcp::{self, listener_sup};

/// The supervision id of the root.
pub const ID: &str = "web_server_sup";

/// The ids of the root's own children, which an embedding application's children must not
/// reuse (siblings need distinct ids, and kills find nodes by id).
pub(crate) const SEED_CHILD_IDS: [&str; 3] = [listener_sup::ID, cache::sup::ID, metrics::sup::ID];

/// The seed tree's supervisors, whose restart counters start at zero.
const SEED_SUPERVISORS: [&str; 5] = [
    ID,
    listener_sup::ID,
    tcp::acceptor_sup::ID,
    cache::sup::ID,
    metrics::sup::ID,
];

/// What the root wires together.
pub(crate) struct Parts<'a> {
    /// Gate, sockets and workers of the public listener.
    pub(crate) listener: &'a Arc<ListenerShared>,
    /// What connections serve.
    pub(crate) pipeline: &'a Arc<Pipeline>,
    /// Where the acceptor partitions publish their addresses.
    pub(crate) partitions: &'a Arc<Partitions>,
    /// How long connections get to finish when the tree stops.
    pub(crate) shutdown: Duration,
    /// The static-file cache's handle and loader.
    pub(crate) cache: &'a Arc<StaticCache>,
    /// Loads what the cache misses.
    pub(crate) loader: &'a Arc<StaticLoader>,
    /// An embedding application's own children (workers or whole subtrees, see
    /// [`crate::WebServerBuilder::child`]).
    pub(crate) embedded: &'a [ChildSpec],
}

/// Builds `web_server_sup` and everything below it.
///
/// The embedding application's children come first: OTP starts children in order and stops
/// them in reverse, and a child may depend only on those started before it. Routes send to the
/// application's actors, so those start before the listener accepts anything and stop only
/// after it has drained the last connection.
pub(crate) fn spec(parts: Parts<'_>) -> SupervisorSpec {
    let slot = parts.cache.slot.clone();
    let cache_stats: metrics::CacheStatsSource = Arc::new(move || match slot.table() {
        Some(owned) => metrics::CacheStatsSnapshot {
            entries: owned.table.len() as u64,
            bytes: owned.table.bytes(),
        },
        None => metrics::CacheStatsSnapshot::default(),
    });
    metrics::count_restarts_from_zero(&SEED_SUPERVISORS);
    let listener_sup = listener_sup::spec(
        tcp::PUBLIC,
        parts.listener,
        parts.pipeline,
        parts.partitions,
        parts.shutdown,
    );
    // one_for_one: the application's children, TCP, cache and metrics fail independently;
    // readers survive an empty cache and a restarted metrics collector.
    let root = SupervisorSpec::new(
        ID,
        SupervisorFlags::new(Strategy::OneForOne).intensity(3, Duration::from_secs(10)),
    );
    parts
        .embedded
        .iter()
        .cloned()
        .fold(root, SupervisorSpec::child)
        .child(listener_sup.into_child_spec())
        .child(cache::sup::child_spec(
            parts.cache.clone(),
            parts.loader.clone(),
        ))
        .child(metrics::sup::child_spec(
            parts.listener.gate.clone(),
            Some(cache_stats),
        ))
}
