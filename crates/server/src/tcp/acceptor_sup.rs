//! `web_server_tcp_acceptor_sup`: supervises the connection actors. It is partitioned per
//! worker Arbiter, as Ranch has one `ranch_conns_sup` per acceptor: partition `i` is a dynamic
//! (simple_one_for_one) supervisor living on worker `i`, so starting a connection is a message
//! on the same thread, never a hop to another one.

use std::sync::Arc;
use std::time::Duration;

use actix::{Addr, ArbiterHandle};
use tokio::sync::watch;
use web_server_supervision::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, Shutdown, Strategy, SupervisorFlags,
    SupervisorSpec,
};

use super::acceptor::{self, Accepted};
use super::EndpointIds;
use crate::pipeline::Pipeline;

/// The supervision id of the public endpoint's acceptor supervisor.
pub(crate) const ID: &str = "web_server_tcp_acceptor_sup";

/// The current address of each worker's partition, replaced on every (re)start and watched by
/// that worker's accept loops: a loop holding a connection while its partition restarts waits
/// for the new address instead of dropping the connection.
#[derive(Debug, Default)]
pub(crate) struct Partitions {
    /// Indexed by worker; `None` until the partition first starts.
    slots: Vec<watch::Sender<Option<PartitionAddr>>>,
}

/// The address of one partition.
pub(crate) type PartitionAddr = Addr<DynamicSupervisor<Accepted>>;

impl Partitions {
    /// Empty slots for `workers` partitions.
    pub(crate) fn new(workers: usize) -> Arc<Self> {
        Arc::new(Partitions {
            slots: (0..workers).map(|_| watch::Sender::new(None)).collect(),
        })
    }

    /// Watches partition `worker`'s address.
    pub(crate) fn watch(&self, worker: usize) -> watch::Receiver<Option<PartitionAddr>> {
        self.slots[worker].subscribe()
    }

    fn publish(&self, worker: usize, addr: PartitionAddr) {
        self.slots[worker].send_replace(Some(addr));
    }
}

/// The child spec of `web_server_tcp_acceptor_sup` (or the admin endpoint's equivalent), one
/// partition per worker Arbiter.
pub(crate) fn child_spec(
    ids: EndpointIds,
    workers: &[ArbiterHandle],
    pipeline: &Arc<Pipeline>,
    partitions: &Arc<Partitions>,
    shutdown: Duration,
) -> ChildSpec {
    // Partitions are independent: one failing must not drop the others' connections, and on
    // shutdown they drain together, so the server stops within one shutdown timeout whatever
    // the number of workers.
    let flags = SupervisorFlags::new(Strategy::OneForOne)
        .intensity(intensity_for(workers.len()), Duration::from_secs(10))
        .stop_together();
    let mut sup = SupervisorSpec::new(ids.acceptor_sup, flags);
    for (worker, arbiter) in workers.iter().enumerate() {
        let pipeline = pipeline.clone();
        let slots = partitions.clone();
        let partition = DynamicSupervisorSpec::new(
            format!("{}/{worker}", ids.acceptor_sup),
            ids.acceptor,
            move |accepted: Accepted, ctx| acceptor::start(&pipeline, accepted, ctx),
        )
        .child_shutdown(Shutdown::Timeout(shutdown))
        .on_start(move |addr| {
            slots.publish(worker, addr);
        });
        sup = sup.child(partition.into_child_spec().on_arbiter(arbiter.clone()));
    }
    sup.into_child_spec()
}

/// Ranch's pool intensity: `1 + ceil(log2(N))` restarts per period for N children.
pub(crate) fn intensity_for(children: usize) -> u32 {
    1 + (children.max(1) as f64).log2().ceil() as u32
}
