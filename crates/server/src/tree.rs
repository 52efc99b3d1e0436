//! The seed's supervision tree, with each supervisor's strategy and intensity (justified in
//! docs/architecture.md).

use std::sync::Arc;
use std::time::Duration;

use web_server_supervision::{Strategy, SupervisorFlags, SupervisorSpec};

use crate::cache::{StaticCache, StaticLoader};
use crate::service::Service;
use crate::tcp::acceptor_sup::Partitions;
use crate::tcp::listener::ListenerShared;
use crate::{cache, metrics, tcp};

/// The supervision id of the root.
pub const ROOT_ID: &str = "web_server_sup";

/// Builds `web_server_sup` and everything below it.
pub fn web_server_sup(
    shared: &Arc<ListenerShared>,
    service: &Arc<Service>,
    partitions: &Arc<Partitions>,
    shutdown: Duration,
    cache: &Arc<StaticCache>,
    loader: &Arc<StaticLoader>,
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
    // one_for_one: TCP, cache and metrics fail independently; readers survive an empty cache
    // and a restarted metrics collector.
    SupervisorSpec::new(
        ROOT_ID,
        SupervisorFlags::new(Strategy::OneForOne).intensity(3, Duration::from_secs(10)),
    )
    .child(listener_sup.into_child_spec())
    .child(cache::child_spec(cache.clone(), loader.clone()))
    .child(metrics::child_spec(shared.gate.clone(), Some(cache_stats)))
}
