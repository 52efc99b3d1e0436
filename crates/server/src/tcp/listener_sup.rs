//! `web_server_tcp_listener_sup`: `rest_for_one` over [acceptor_sup, listener], as Ranch's
//! listener supervisor orders its connection supervisor before its acceptors. If the
//! connection side dies, the listener handing it connections restarts after it; a listener
//! crash restarts only the listener and leaves live connections alone.

use std::sync::Arc;
use std::time::Duration;

use web_server_supervision::{Strategy, SupervisorFlags, SupervisorSpec};

use super::acceptor_sup::{self, Partitions};
use super::listener::{self, ListenerShared};
use super::EndpointIds;
use crate::pipeline::Pipeline;

/// The supervision id of the public endpoint's listener supervisor.
pub(crate) const ID: &str = "web_server_tcp_listener_sup";

/// An endpoint's listener supervisor (`ids.listener_sup`) over its acceptor supervisor and
/// its listener; connections get `shutdown` to finish when the tree stops.
pub(crate) fn spec(
    ids: EndpointIds,
    shared: &Arc<ListenerShared>,
    pipeline: &Arc<Pipeline>,
    partitions: &Arc<Partitions>,
    shutdown: Duration,
) -> SupervisorSpec {
    SupervisorSpec::new(
        ids.listener_sup,
        SupervisorFlags::new(Strategy::RestForOne).intensity(5, Duration::from_secs(10)),
    )
    .child(acceptor_sup::child_spec(
        ids,
        &shared.workers,
        pipeline,
        partitions,
        shutdown,
    ))
    .child(listener::child_spec(ids, shared.clone()))
}
