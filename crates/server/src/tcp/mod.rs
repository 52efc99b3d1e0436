//! The TCP layer: the seed's `web_server_tcp_listener_sup` subtree, and what it stands on.
//!
//! # Layout
//!
//! - `listener_sup`: `web_server_tcp_listener_sup`, rest_for_one over the two below.
//! - `acceptor_sup`: `web_server_tcp_acceptor_sup`, one partition per worker Arbiter.
//! - `acceptor`: `web_server_tcp_acceptor`, the per-connection actor and its state machine.
//! - `listener`: `web_server_tcp_listener`, the pool of accept loops.
//! - `bind`: the `SO_REUSEPORT` sockets, bound once before the tree starts.
//! - `gate`: `server.max_connections` as back-pressure.
//!
//! The same machinery serves the public listener and the admin endpoint's (a small tree of its
//! own), told apart by [`EndpointIds`].

pub(crate) mod acceptor;
pub(crate) mod acceptor_sup;
pub(crate) mod bind;
pub(crate) mod gate;
pub(crate) mod listener;
pub(crate) mod listener_sup;

/// The supervision ids of one listening endpoint's subtree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EndpointIds {
    /// The supervisor over the acceptor supervisor and the listener.
    pub(crate) listener_sup: &'static str,
    /// The supervisor of the per-worker connection partitions.
    pub(crate) acceptor_sup: &'static str,
    /// The connection actors.
    pub(crate) acceptor: &'static str,
    /// The accept loops' owner.
    pub(crate) listener: &'static str,
}

/// The seed's public endpoint.
pub(crate) const PUBLIC: EndpointIds = EndpointIds {
    listener_sup: listener_sup::ID,
    acceptor_sup: acceptor_sup::ID,
    acceptor: acceptor::ID,
    listener: listener::ID,
};
