//! The TCP layer: binding, back-pressure, the listener (the pool of accept loops) and the
//! acceptor supervisor partitions that own the connection actors.
//!
//! The same machinery serves the public listener (`web_server_tcp_listener_sup` in the seed's
//! tree) and the admin endpoint's (a small tree of its own), told apart by [`EndpointIds`].

pub mod acceptor_sup;
pub mod bind;
pub mod gate;
pub mod listener;

use std::sync::Arc;
use std::time::Duration;

use web_server_supervision::{Strategy, SupervisorFlags, SupervisorSpec};

use crate::service::Service;
use acceptor_sup::Partitions;
use listener::ListenerShared;

/// The supervision ids of one listening endpoint's subtree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointIds {
    /// The supervisor over the acceptor supervisor and the listener.
    pub listener_sup: &'static str,
    /// The supervisor of the per-worker connection partitions.
    pub acceptor_sup: &'static str,
    /// The connection actors.
    pub acceptor: &'static str,
    /// The accept loops' owner.
    pub listener: &'static str,
}

/// The seed's public endpoint.
pub const PUBLIC: EndpointIds = EndpointIds {
    listener_sup: "web_server_tcp_listener_sup",
    acceptor_sup: "web_server_tcp_acceptor_sup",
    acceptor: "web_server_tcp_acceptor",
    listener: "web_server_tcp_listener",
};

/// The admin endpoint, a tree of its own beside the seed's.
pub const ADMIN: EndpointIds = EndpointIds {
    listener_sup: "web_server_admin_sup",
    acceptor_sup: "web_server_admin_acceptor_sup",
    acceptor: "web_server_admin_acceptor",
    listener: "web_server_admin_listener",
};

/// An endpoint's listener supervisor: `rest_for_one` over [acceptor_sup, listener], as Ranch's
/// listener supervisor orders its connection supervisor before its acceptors. If the
/// connection side dies, the listener handing it connections restarts after it; a listener
/// crash restarts only the listener and leaves live connections alone.
pub fn listener_sup(
    ids: EndpointIds,
    shared: &Arc<ListenerShared>,
    service: &Arc<Service>,
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
        service,
        partitions,
        shutdown,
    ))
    .child(listener::child_spec(ids, shared.clone()))
}
