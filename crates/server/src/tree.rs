//! The seed's supervision tree, with each supervisor's strategy and intensity (justified in
//! docs/architecture.md).

use std::sync::Arc;
use std::time::Duration;

use web_server_supervision::{Strategy, SupervisorFlags, SupervisorSpec};

use crate::service::Service;
use crate::tcp::acceptor_sup::{self, Partitions};
use crate::tcp::listener::{self, ListenerShared};
use crate::{cache, metrics};

/// The supervision id of the root.
pub const ROOT_ID: &str = "web_server_sup";
/// The supervision id of the TCP listener supervisor.
pub const LISTENER_SUP_ID: &str = "web_server_tcp_listener_sup";

/// Builds `web_server_sup` and everything below it.
pub fn web_server_sup(
    shared: &Arc<ListenerShared>,
    service: &Arc<Service>,
    partitions: &Arc<Partitions>,
    shutdown: Duration,
) -> SupervisorSpec {
    // rest_for_one, as Ranch's listener supervisor: the connection side starts first; if it
    // dies, the listener that hands it connections restarts too, while a listener crash leaves
    // live connections alone.
    let listener_sup = SupervisorSpec::new(
        LISTENER_SUP_ID,
        SupervisorFlags::new(Strategy::RestForOne).intensity(5, Duration::from_secs(10)),
    )
    .child(acceptor_sup::child_spec(
        &shared.workers,
        service,
        partitions,
        shutdown,
    ))
    .child(listener::child_spec(shared.clone()));
    // one_for_one: TCP, cache and metrics fail independently; readers survive an empty cache
    // and a restarted metrics collector.
    SupervisorSpec::new(
        ROOT_ID,
        SupervisorFlags::new(Strategy::OneForOne).intensity(3, Duration::from_secs(10)),
    )
    .child(listener_sup.into_child_spec())
    .child(cache::child_spec())
    .child(metrics::child_spec(shared.gate.clone()))
}
