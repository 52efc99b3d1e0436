//! `web_server_tcp_listener`: the seed's pool of acceptor processes. It owns one accept loop per
//! worker Arbiter, each on that worker's `SO_REUSEPORT` sockets, handing every connection to
//! the acceptor-supervisor partition on the same thread.
//!
//! The sockets are bound once, before the tree starts, and kept in [`ListenerShared`]: a
//! restarted listener clones them instead of binding again, so its port never changes and
//! connections that arrive during the restart wait in the kernel backlog instead of being
//! refused.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::dev::SendError;
use actix::fut::{wrap_future, ActorFutureExt};
use actix::{Actor, ActorContext, ArbiterHandle, AsyncContext, Context};
use tokio::sync::{mpsc, watch};
use web_server_supervision::{
    ChildSpec, ExitReason, ExitSignal, Shutdown, StartDynamicChild, StartError,
};

use super::acceptor::{reclaim, Accepted};
use super::acceptor_sup::{PartitionAddr, Partitions};
use super::bind::BoundSockets;
use super::gate::{ConnectionGate, ConnectionPermit};
use super::EndpointIds;
use crate::tls::Tls;

/// The supervision id of the public endpoint's listener.
pub(crate) const ID: &str = "web_server_tcp_listener";

/// How long an accept loop pauses after an error such as EMFILE before trying again (Ranch
/// sleeps 100 ms on `emfile`).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long an accept loop holds an accepted connection for a restarting partition. A restart
/// takes microseconds; this bounds the wait when the partition's supervisor has given up and the
/// tree above is restarting everything.
const HAND_OFF_WAIT: Duration = Duration::from_secs(10);

/// One listening socket and what its connections speak.
struct Endpoint {
    /// The bound socket (one of its worker's `SO_REUSEPORT` group).
    socket: std::net::TcpListener,
    /// Set for HTTPS sockets: connections start with a TLS handshake.
    tls: Option<Arc<Tls>>,
    /// Set for plain sockets when plain HTTP is redirected: the HTTPS port to send clients to.
    redirect_https: Option<u16>,
}

/// A clone of an [`Endpoint`] for one accept loop.
struct ClonedEndpoint {
    /// A descriptor of the same listening socket.
    socket: std::net::TcpListener,
    /// As [`Endpoint::tls`].
    tls: Option<Arc<Tls>>,
    /// As [`Endpoint::redirect_https`].
    redirect_https: Option<u16>,
}

/// What outlives listener restarts: the bound sockets and where to hand connections.
pub(crate) struct ListenerShared {
    /// The addresses actually bound (port 0 resolved).
    pub(crate) addrs: Vec<SocketAddr>,
    /// The HTTPS addresses actually bound, when TLS is on.
    pub(crate) tls_addrs: Vec<SocketAddr>,
    /// Bound sockets, per worker; `None` once closed for shutdown, so that no file descriptor
    /// keeps a listening socket open and new connections are refused.
    sockets: std::sync::Mutex<Option<Vec<Vec<Endpoint>>>>,
    /// Set when the server stops accepting for good (graceful shutdown).
    closing: watch::Sender<bool>,
    /// Accept loops running now; each holds a listening descriptor until it ends.
    loops: watch::Sender<usize>,
    /// The worker Arbiters, in partition order.
    pub(crate) workers: Vec<ArbiterHandle>,
    /// The acceptor partitions' current addresses.
    pub(crate) partitions: Arc<Partitions>,
    /// Live-connection count and `max_connections` back-pressure.
    pub(crate) gate: Arc<ConnectionGate>,
    /// True while a listener runs its accept loops (readiness).
    pub(crate) accepting: AtomicBool,
}

impl ListenerShared {
    /// Shared state over freshly bound plain sockets.
    pub(crate) fn new(
        sockets: BoundSockets,
        workers: Vec<ArbiterHandle>,
        partitions: Arc<Partitions>,
        gate: Arc<ConnectionGate>,
    ) -> Arc<Self> {
        Self::with_tls(sockets, None, workers, partitions, gate)
    }

    /// Shared state over plain sockets and, optionally, HTTPS sockets with their terminator.
    pub(crate) fn with_tls(
        plain: BoundSockets,
        tls: Option<(BoundSockets, Arc<Tls>)>,
        workers: Vec<ArbiterHandle>,
        partitions: Arc<Partitions>,
        gate: Arc<ConnectionGate>,
    ) -> Arc<Self> {
        let redirect_https = tls.as_ref().and_then(|(sockets, tls)| {
            (tls.config().redirect_http)
                .then(|| sockets.addrs.first().map(|a| a.port()))
                .flatten()
        });
        let tls_addrs = tls
            .as_ref()
            .map(|(s, _)| s.addrs.clone())
            .unwrap_or_default();
        let mut per_worker: Vec<Vec<Endpoint>> = plain
            .per_worker
            .into_iter()
            .map(|sockets| {
                sockets
                    .into_iter()
                    .map(|socket| Endpoint {
                        socket,
                        tls: None,
                        redirect_https,
                    })
                    .collect()
            })
            .collect();
        if let Some((sockets, tls)) = tls {
            for (worker, sockets) in sockets.per_worker.into_iter().enumerate() {
                per_worker[worker].extend(sockets.into_iter().map(|socket| Endpoint {
                    socket,
                    tls: Some(tls.clone()),
                    redirect_https: None,
                }));
            }
        }
        Arc::new(ListenerShared {
            addrs: plain.addrs,
            tls_addrs,
            sockets: std::sync::Mutex::new(Some(per_worker)),
            closing: watch::channel(false).0,
            loops: watch::channel(0).0,
            workers,
            partitions,
            gate,
            accepting: AtomicBool::new(false),
        })
    }

    /// Stops accepting for good: readiness goes false at once, the accept loops end, and the
    /// listening sockets close, so new connections are refused while live ones drain. Resolves
    /// once every loop has let go of its descriptor (loops on busy workers get a few seconds).
    pub(crate) async fn close(&self) {
        self.accepting.store(false, Ordering::Release);
        self.closing.send_replace(true);
        if let Ok(mut sockets) = self.sockets.lock() {
            sockets.take();
        }
        let mut loops = self.loops.subscribe();
        let ended = loops.wait_for(|running| *running == 0);
        if tokio::time::timeout(Duration::from_secs(5), ended)
            .await
            .is_err()
        {
            tracing::warn!("accept loops still running 5 s after the listener closed");
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    /// Clones of worker `worker`'s sockets, for a (re)started listener; `None` once closed.
    fn clone_sockets(&self, worker: usize) -> io::Result<Option<Vec<ClonedEndpoint>>> {
        let sockets = self
            .sockets
            .lock()
            .map_err(|_| io::Error::other("listener state poisoned"))?;
        match sockets.as_ref() {
            None => Ok(None),
            Some(per_worker) => per_worker[worker]
                .iter()
                .map(|endpoint| {
                    Ok(ClonedEndpoint {
                        socket: endpoint.socket.try_clone()?,
                        tls: endpoint.tls.clone(),
                        redirect_https: endpoint.redirect_https,
                    })
                })
                .collect::<io::Result<Vec<_>>>()
                .map(Some),
        }
    }
}

/// The listener actor; see the module documentation.
pub(crate) struct Listener {
    /// Dropped with the actor, which ends every accept loop.
    _stop: watch::Sender<()>,
    /// Reports from accept loops that ended on their own.
    loop_exits: Option<mpsc::UnboundedReceiver<String>>,
    /// Lets the listener exit abnormally when an accept loop fails.
    exit: ExitSignal,
    /// Clears readiness when the listener stops.
    shared: Arc<ListenerShared>,
}

impl Actor for Listener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let closing = self.shared.is_closing();
        self.shared.accepting.store(!closing, Ordering::Release);
        let mut exits = self.loop_exits.take().expect("started once");
        let shared = self.shared.clone();
        let first_exit = async move {
            let why = exits.recv().await;
            if why.is_none() && shared.is_closing() {
                // The loops ended because the server stopped accepting: nothing failed, and the
                // listener stays until the tree stops it.
                std::future::pending::<()>().await;
            }
            why
        };
        ctx.spawn(
            wrap_future::<_, Self>(first_exit).map(|why, listener, ctx| {
                let why = why.unwrap_or_else(|| "accept loops ended".to_owned());
                listener.exit.exit(ExitReason::error(why));
                ctx.stop();
            }),
        );
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.shared.accepting.store(false, Ordering::Release);
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.shared.accepting.store(false, Ordering::Release);
    }
}

/// The listener's child spec: a permanent worker, killed at once on shutdown (it holds no
/// request state; the sockets it serves stay bound in `shared`).
pub(crate) fn child_spec(ids: EndpointIds, shared: Arc<ListenerShared>) -> ChildSpec {
    ChildSpec::worker(ids.listener, move |ctx| {
        let (stop, stopped) = watch::channel(());
        let (exit_tx, exits) = mpsc::unbounded_channel();
        for (worker, arbiter) in shared.workers.iter().enumerate() {
            let sockets = shared
                .clone_sockets(worker)
                .map_err(|err| StartError::new(format!("cannot clone listening socket: {err}")))?;
            for endpoint in sockets.unwrap_or_default() {
                let accept = AcceptLoop {
                    worker,
                    shared: shared.clone(),
                    partition: shared.partitions.watch(worker),
                    stopped: stopped.clone(),
                    closing: shared.closing.subscribe(),
                    exits: exit_tx.clone(),
                    tls: endpoint.tls,
                    redirect_https: endpoint.redirect_https,
                };
                let running = LoopGuard::enter(&shared);
                if !arbiter.spawn(accept.run(endpoint.socket, running)) {
                    return Err(StartError::new(format!("worker {worker} is not running")));
                }
            }
        }
        let exit = ctx.exit_signal();
        let listener = Listener {
            _stop: stop,
            loop_exits: Some(exits),
            exit,
            shared: shared.clone(),
        };
        Ok(ctx.start(listener).into())
    })
    .shutdown(Shutdown::BrutalKill)
}

/// One accept loop, on one worker, for one socket.
struct AcceptLoop {
    /// Which worker (and so which partition) it serves.
    worker: usize,
    /// Gate and partitions.
    shared: Arc<ListenerShared>,
    /// This worker's partition address, replaced when the partition restarts.
    partition: watch::Receiver<Option<PartitionAddr>>,
    /// Closed when the listener that started this loop is gone.
    stopped: watch::Receiver<()>,
    /// Turns true when the server stops accepting for good.
    closing: watch::Receiver<bool>,
    /// Where to report an unexpected end.
    exits: mpsc::UnboundedSender<String>,
    /// Set on HTTPS sockets.
    tls: Option<Arc<Tls>>,
    /// Set on plain sockets whose requests are redirected to HTTPS.
    redirect_https: Option<u16>,
}

impl AcceptLoop {
    /// `_running` was taken when the loop was spawned, with its socket already cloned.
    async fn run(mut self, socket: std::net::TcpListener, _running: LoopGuard) {
        let listener = match tokio::net::TcpListener::from_std(socket) {
            Ok(listener) => listener,
            Err(err) => {
                let _ = self.exits.send(format!("worker {}: {err}", self.worker));
                return;
            }
        };
        loop {
            let accepted = tokio::select! {
                biased;
                _ = self.stopped.changed() => return,
                _ = self.closing.wait_for(|closing| *closing) => return,
                () = self.shared.gate.reclaim_wanted() => {
                    // Another worker is at the limit with nothing of its own to reclaim.
                    reclaim::close_oldest(&self.shared.gate);
                    continue;
                }
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    // `limits.max_connections_per_ip` first: a refused connection takes no
                    // slot and waits for nothing. Closing it unread is the refusal (nginx's
                    // limit_conn answers 503 once a request arrives; here no request is read).
                    let Ok(ip_slot) = self.shared.gate.per_ip_slot(peer.ip()) else {
                        crate::metrics::client_connection_refused();
                        tracing::debug!(%peer, "connection refused: limits.max_connections_per_ip");
                        drop(stream);
                        continue;
                    };
                    // From here on the connection is ours: a listener restart must not drop it
                    // (the new listener cannot see it), so only the server closing for good
                    // stops the admission and the hand-off.
                    let Some(mut permit) = self.admit().await else {
                        return;
                    };
                    permit.hold(ip_slot);
                    self.hand_off(Accepted {
                        stream,
                        peer,
                        permit,
                        tls: self.tls.clone(),
                        redirect_https: self.redirect_https,
                    })
                    .await;
                }
                Err(err) if is_per_connection(&err) => continue,
                Err(err) => {
                    tracing::warn!(worker = self.worker, %err, "accept failed; retrying in 100 ms");
                    tokio::select! {
                        _ = self.stopped.changed() => return,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            }
        }
    }

    /// Counts a connection just accepted. At `max_connections` the oldest reusable connections
    /// of this worker are told to close and the new one is admitted at once, in the room their
    /// reclaims make; when this worker has none, the others are asked, and the new connection
    /// waits, unserved, until a slot frees (back-pressure: later ones wait in the kernel
    /// backlog). `None` when the server closes meanwhile.
    async fn admit(&mut self) -> Option<ConnectionPermit> {
        let gate = self.shared.gate.clone();
        let mut ask_others = true;
        loop {
            // Registered before looking, so that a slot freed meanwhile is not missed.
            let mut freed = std::pin::pin!(gate.slot_freed());
            freed.as_mut().enable();
            if let Some(permit) = gate.try_admit().or_else(|| gate.try_admit_reclaimed()) {
                return Some(permit);
            }
            if reclaim::close_oldest(&gate) > 0 {
                if let Some(permit) = gate.try_admit_reclaimed() {
                    return Some(permit);
                }
            }
            // Every connection of this worker is busy, or already told to close: other workers
            // may have reusable ones. Asked again only after a slot was freed, so that two
            // workers with nothing to reclaim do not wake each other forever.
            if ask_others {
                gate.ask_workers_to_reclaim();
            }
            gate.set_waiting(true);
            let woken = tokio::select! {
                biased;
                _ = self.closing.wait_for(|closing| *closing) => None,
                () = freed => Some(true),
                () = gate.reclaim_wanted() => Some(false),
            };
            gate.set_waiting(false);
            ask_others = woken?;
        }
    }

    /// Gives the connection to this worker's partition. While the partition restarts (killed,
    /// or restarted with its supervisor) the loop holds the connection and waits for the new
    /// one, so a partition's death closes only the connections it already had; the loop accepts
    /// nothing meanwhile, and later connections wait in the kernel backlog (back-pressure).
    async fn hand_off(&mut self, mut accepted: Accepted) {
        let waited = tokio::time::timeout(HAND_OFF_WAIT, async {
            loop {
                let partition = tokio::select! {
                    biased;
                    _ = self.closing.wait_for(|closing| *closing) => return Err(accepted),
                    partition = self.partition.wait_for(|slot| {
                        slot.as_ref().is_some_and(actix::Addr::connected)
                    }) => match partition {
                        Ok(slot) => slot.clone().expect("the predicate saw an address"),
                        // The partitions' owner is gone: the server is being torn down.
                        Err(_) => return Err(accepted),
                    },
                };
                match partition.try_send(StartDynamicChild(accepted)) {
                    Ok(()) => return Ok(()),
                    // Connections are never refused for a busy mailbox: the gate bounds them.
                    Err(SendError::Full(start)) => {
                        partition.do_send(start);
                        return Ok(());
                    }
                    // Died between the check and the send: wait for its successor.
                    Err(SendError::Closed(start)) => accepted = start.0,
                }
            }
        })
        .await;
        match waited {
            Ok(Ok(())) => {}
            Ok(Err(accepted)) => {
                tracing::debug!(worker = self.worker, peer = %accepted.peer, "server closing; accepted connection dropped");
            }
            Err(_) => {
                tracing::warn!(
                    worker = self.worker,
                    wait_ms = HAND_OFF_WAIT.as_millis() as u64,
                    "no acceptor supervisor came back; connection dropped"
                );
            }
        }
    }
}

/// Counts a running accept loop; uncounts it however the loop ends.
struct LoopGuard(Arc<ListenerShared>);

impl LoopGuard {
    fn enter(shared: &Arc<ListenerShared>) -> Self {
        shared.loops.send_modify(|running| *running += 1);
        LoopGuard(shared.clone())
    }
}

impl Drop for LoopGuard {
    fn drop(&mut self) {
        self.0.loops.send_modify(|running| *running -= 1);
    }
}

/// Errors that concern only the connection being accepted, not the listening socket.
fn is_per_connection(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}
