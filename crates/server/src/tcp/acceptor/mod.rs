//! `web_server_tcp_acceptor`: one actor per client connection, a temporary dynamic child of its
//! worker's `web_server_tcp_acceptor_sup` partition.
//!
//! The actor is the connection's place in the supervision tree (it can be stopped, killed and
//! counted like any process); the work is the state machine in [`connection`], spawned into the
//! actor's own context, so no message crosses a thread on the request path. A graceful stop lets
//! the request in progress finish; a kill drops the socket at once.
//!
//! # Layout
//!
//! - `connection`: the connection's explicit state machine (read, hand to the pipeline, write).
//! - `io`: bounded reads and writes, `sendfile`, the lingering or quick close.
//! - `buffers`: read buffers, head buffer and encoder per worker thread.
//! - `transport`: plain TCP and TLS streams behind one trait.
//! - `proxy`: the PROXY protocol header, read first when `server.proxy_protocol` is on.
//! - `reclaim`: closing the oldest idle connections to admit new ones at `max_connections`.
//! - `wheel_anchor`: one timer kept pending per worker.

mod buffers;
mod connection;
mod io;
mod proxy;
pub(crate) mod reclaim;
mod transport;
mod wheel_anchor;

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use actix::fut::{wrap_future, ActorFutureExt};
use actix::{Actor, ActorContext, AsyncContext, Context, Handler, Running};
use tokio::net::TcpStream;
use web_server_http::forwarded::canonical;
use web_server_http::proxy_protocol::ProxyHeader;
use web_server_supervision::{ChildContext, StartError, StartedChild};

use crate::pipeline::Pipeline;
use crate::tcp::gate::ConnectionPermit;
use crate::tls::Tls;
use connection::{Connection, Drain};

/// The supervision id of a connection actor.
pub const ID: &str = "web_server_tcp_acceptor";

/// A connection handed from an accept loop to its worker's acceptor supervisor.
#[derive(Debug)]
pub struct Accepted {
    /// The socket, already registered with the worker's reactor.
    pub stream: TcpStream,
    /// The client's address.
    pub peer: SocketAddr,
    /// Counts the connection against `server.max_connections`.
    pub permit: ConnectionPermit,
    /// Set for HTTPS: the connection starts with a handshake.
    pub tls: Option<Arc<Tls>>,
    /// Set when plain HTTP is redirected: every request gets a 301 to this HTTPS port.
    pub redirect_https: Option<u16>,
}

/// The connection actor.
pub struct ConnectionActor {
    /// Asks the state machine to finish the current request and close.
    drain: Rc<Drain>,
    /// The state machine has ended; the actor may stop.
    finished: bool,
    /// Closed by a reclaim: it owed nothing, so it stops at once.
    reclaimed: bool,
    /// Its place among the worker's reclaimable connections, left when the actor is dropped.
    registration: reclaim::Registration,
}

impl Actor for ConnectionActor {
    type Context = Context<Self>;

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        // An idle connection owes nothing: stopping drops its future, which closes it.
        if self.finished || self.reclaimed || self.drain.is_idle() {
            Running::Stop
        } else {
            self.drain.request();
            Running::Continue
        }
    }
}

impl Handler<reclaim::Reclaim> for ConnectionActor {
    type Result = ();

    /// Closes the connection if it still owes nothing; a request that arrived since the reclaim
    /// picked it keeps it open.
    fn handle(&mut self, _: reclaim::Reclaim, ctx: &mut Context<Self>) {
        self.registration.reclaim_delivered();
        if self.finished || self.reclaimed || !self.drain.is_reusable() {
            return;
        }
        self.reclaimed = true;
        crate::metrics::connection_reclaimed();
        ctx.stop();
    }
}

/// Runs one HTTPS connection: the handshake first, bounded by its timeout (failures are
/// counted and logged at debug, never more), then the state machine.
async fn serve_tls(
    stream: TcpStream,
    peer: SocketAddr,
    pipeline: Arc<Pipeline>,
    drain: Rc<Drain>,
    permit: ConnectionPermit,
    tls: Arc<Tls>,
) {
    let handshake = async {
        // A silent connection stays reclaimable at the connection limit; one whose client
        // started the handshake is not, as nginx stops reusing a connection once its TLS
        // handshake begins: the handshake takes round trips, and a real client in the middle
        // of one would otherwise be the oldest connection a flood reclaims.
        stream.readable().await?;
        drain.busy();
        tls.acceptor().accept(stream).await
    };
    match tokio::time::timeout(tls.handshake_timeout(), handshake).await {
        Ok(Ok(stream)) => {
            crate::metrics::tls_handshake(true);
            Connection::new(stream, peer, pipeline, drain, permit, None)
                .run()
                .await;
        }
        Ok(Err(err)) => {
            crate::metrics::tls_handshake(false);
            tracing::debug!(%peer, %err, "TLS handshake failed");
        }
        Err(_) => {
            crate::metrics::tls_handshake(false);
            tracing::debug!(%peer, "TLS handshake timed out");
        }
    }
}

/// Runs one connection behind a PROXY protocol balancer (`server.proxy_protocol`): the header
/// first, within the header timeout; a missing or malformed one closes the connection unread.
/// The header's client becomes the connection's peer when the balancer is a trusted proxy
/// (the configuration requires the list), and is then counted against
/// `limits.max_connections_per_ip` in the balancer's stead.
async fn serve_proxied(
    mut stream: TcpStream,
    balancer: SocketAddr,
    pipeline: Arc<Pipeline>,
    drain: Rc<Drain>,
    mut permit: ConnectionPermit,
    tls: Option<Arc<Tls>>,
    redirect_https: Option<u16>,
) {
    let options = pipeline.options();
    let read = tokio::time::timeout(options.header_timeout, proxy::read_header(&mut stream));
    let header = match read.await {
        Ok(Ok(header)) => header,
        Ok(Err(err)) => {
            tracing::debug!(peer = %balancer, %err, "closing: PROXY protocol header");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = %balancer, "closing: no PROXY protocol header in time");
            return;
        }
    };
    let peer = match header {
        ProxyHeader::Proxied { source, .. }
            if options.trusted_proxies.trusts(canonical(balancer.ip())) =>
        {
            let Ok(ip_slot) = permit.gate().per_ip_slot(source.ip()) else {
                crate::metrics::client_connection_refused();
                tracing::debug!(peer = %source, "connection refused: limits.max_connections_per_ip");
                return;
            };
            permit.hold(ip_slot);
            source
        }
        _ => balancer,
    };
    drop(options);
    match tls {
        None => {
            Connection::new(stream, peer, pipeline, drain, permit, redirect_https)
                .run()
                .await;
        }
        Some(tls) => serve_tls(stream, peer, pipeline, drain, permit, tls).await,
    }
}

/// Starts the connection actor for `accepted` (the acceptor supervisor's start function).
pub(crate) fn start(
    pipeline: &Arc<Pipeline>,
    accepted: Accepted,
    ctx: ChildContext,
) -> Result<StartedChild, StartError> {
    if accepted.tls.is_some() {
        // Plain connections turn Nagle off when a write could wait for it (`Connection`'s
        // `nodelay`); a TLS handshake is several writes from the start.
        let _ = accepted.stream.set_nodelay(true);
    }
    let pipeline = pipeline.clone();
    let started = ctx.start_with(move |actor_ctx: &mut Context<ConnectionActor>| {
        wheel_anchor::ensure();
        let drain = Rc::new(Drain::accepted());
        let registration =
            reclaim::register(accepted.permit.gate(), drain.clone(), actor_ctx.address());
        let Accepted {
            stream,
            peer,
            permit,
            tls,
            redirect_https,
        } = accepted;
        // Separate spawns rather than one future with a TLS branch: a future is as large as
        // its largest branch, and a TLS stream with its handshake would make every plain
        // connection's future several times its size.
        if pipeline.options().proxy_protocol {
            let serving = serve_proxied(
                stream,
                peer,
                pipeline,
                drain.clone(),
                permit,
                tls,
                redirect_https,
            );
            spawn_serving(actor_ctx, serving);
            return ConnectionActor {
                drain,
                finished: false,
                reclaimed: false,
                registration,
            };
        }
        match tls {
            None => {
                let connection = Connection::new(
                    stream,
                    peer,
                    pipeline,
                    drain.clone(),
                    permit,
                    redirect_https,
                );
                spawn_serving(actor_ctx, connection.run());
            }
            Some(tls) => {
                let serving = serve_tls(stream, peer, pipeline, drain.clone(), permit, tls);
                spawn_serving(actor_ctx, serving);
            }
        }
        ConnectionActor {
            drain,
            finished: false,
            reclaimed: false,
            registration,
        }
    });
    Ok(started.into())
}

/// Runs `serving` in the connection actor's context; the actor stops when it ends.
fn spawn_serving(
    ctx: &mut Context<ConnectionActor>,
    serving: impl std::future::Future<Output = ()> + 'static,
) {
    ctx.spawn(
        wrap_future::<_, ConnectionActor>(serving).map(|(), actor, ctx| {
            actor.finished = true;
            ctx.stop();
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::connection::Connection;
    use tokio::net::TcpStream;

    /// Every connection holds its whole future for its whole life, idle ones included, so its
    /// size is most of an idle keep-alive connection's memory.
    #[test]
    fn a_plain_connection_future_stays_small() {
        fn future_size<A, F>(_: impl Fn(A) -> F) -> usize {
            std::mem::size_of::<F>()
        }
        let size = future_size(Connection::<TcpStream>::run);
        eprintln!("a plain connection's future: {size} bytes");
        assert!(
            size <= 512,
            "a plain connection's future grew to {size} bytes"
        );
    }
}
