//! `web_server_metrics_sup`: supervises the metrics collector ([`super::Metrics`]). Its
//! intensity is generous: a restart loses nothing recorded (the recorder belongs to the
//! process), only the requests-per-second window starts again.

use std::sync::Arc;
use std::time::Duration;

use web_server_supervision::{ChildSpec, Strategy, SupervisorFlags, SupervisorSpec};

use super::{recorder, watch_cache, watch_connections, CacheStatsSource, ConnectionCount, Metrics};

/// The supervision id of the metrics supervisor.
pub const ID: &str = "web_server_metrics_sup";

/// `web_server_metrics_sup` with its one child, sampling `connections` for active connections
/// and `cache`, when given, for the cache gauges (which read 0 without one).
///
/// Installs the process's recorder now, if no earlier call did, so that restarts are counted
/// from the moment the tree starts.
pub(crate) fn child_spec(
    connections: Arc<dyn ConnectionCount>,
    cache: Option<CacheStatsSource>,
) -> ChildSpec {
    recorder::installed();
    watch_connections(connections.clone());
    if let Some(cache) = &cache {
        watch_cache(cache);
    }
    SupervisorSpec::new(
        ID,
        SupervisorFlags::new(Strategy::OneForOne).intensity(5, Duration::from_secs(10)),
    )
    .child(ChildSpec::worker(super::ID, move |ctx| {
        Ok(ctx
            .start(Metrics::new(connections.clone(), cache.clone()))
            .into())
    }))
    .into_child_spec()
}
