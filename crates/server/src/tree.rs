//! The seed's supervision tree, with each supervisor's strategy and intensity (justified in
//! docs/architecture.md), and the place an embedding application's own children take in it.

use std::sync::Arc;
use std::time::Duration;

use web_server_supervision::{ChildSpec, Strategy, SupervisorFlags, SupervisorSpec};

use crate::cache::{StaticCache, StaticLoader};
use crate::service::Service;
use crate::tcp::acceptor_sup::Partitions;
use crate::tcp::listener::ListenerShared;
use crate::{cache, metrics, tcp};

/// The supervision id of the root.
pub const ROOT_ID: &str = "web_server_sup";

/// The ids of the root's own children, which an embedding application's children must not
/// reuse (siblings need distinct ids, and kills find nodes by id).
pub(crate) const SEED_CHILD_IDS: [&str; 3] = [
    tcp::PUBLIC.listener_sup,
    crate::cache::CACHE_SUP_ID,
    metrics::METRICS_SUP_ID,
];

/// Builds `web_server_sup` and everything below it.
///
/// `embedded` are an embedding application's own children (workers or whole subtrees, see
/// [`crate::WebServerBuilder::child`]). They come first: OTP starts children in order and stops
/// them in reverse, and a child may depend only on those started before it. Routes send to the
/// application's actors, so those start before the listener accepts anything and stop only
/// after it has drained the last connection.
pub fn web_server_sup(
    shared: &Arc<ListenerShared>,
    service: &Arc<Service>,
    partitions: &Arc<Partitions>,
    shutdown: Duration,
    cache: &Arc<StaticCache>,
    loader: &Arc<StaticLoader>,
    embedded: &[ChildSpec],
) -> SupervisorSpec {
    let slot = cache.slot.clone();
    let cache_stats: metrics::CacheStatsSource = Arc::new(move || match slot.table() {
        Some(owned) => metrics::CacheStatsSnapshot {
            entries: owned.table.len() as u64,
            bytes: owned.table.bytes(),
        },
        None => metrics::CacheStatsSnapshot::default(),
    });
    let listener_sup = tcp::listener_sup(tcp::PUBLIC, shared, service, partitions, shutdown);
    // one_for_one: the application's children, TCP, cache and metrics fail independently;
    // readers survive an empty cache and a restarted metrics collector.
    let root = SupervisorSpec::new(
        ROOT_ID,
        SupervisorFlags::new(Strategy::OneForOne).intensity(3, Duration::from_secs(10)),
    );
    embedded
        .iter()
        .cloned()
        .fold(root, SupervisorSpec::child)
        .child(listener_sup.into_child_spec())
        .child(cache::child_spec(cache.clone(), loader.clone()))
        .child(metrics::child_spec(shared.gate.clone(), Some(cache_stats)))
}
