//! `web_server_metrics` under `web_server_metrics_sup`. The Prometheus series arrive with
//! issue 5; today the actor samples the connection gauge once a second and logs it at debug.

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, AsyncContext, Context};
use web_server_supervision::{ChildSpec, Strategy, SupervisorFlags, SupervisorSpec};

use crate::tcp::gate::ConnectionGate;

/// The supervision id of the metrics supervisor.
pub const METRICS_SUP_ID: &str = "web_server_metrics_sup";
/// The supervision id of the metrics collector.
pub const METRICS_ID: &str = "web_server_metrics";

/// The metrics collector.
pub struct Metrics {
    /// Source of the active/accepted connection counts.
    gate: Arc<ConnectionGate>,
}

impl Actor for Metrics {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_secs(1), |metrics, _| {
            tracing::debug!(
                active = metrics.gate.active(),
                accepted = metrics.gate.accepted(),
                "connections"
            );
        });
    }
}

/// `web_server_metrics_sup` with its one child.
pub fn child_spec(gate: Arc<ConnectionGate>) -> ChildSpec {
    SupervisorSpec::new(
        METRICS_SUP_ID,
        SupervisorFlags::new(Strategy::OneForOne).intensity(5, Duration::from_secs(10)),
    )
    .child(ChildSpec::worker(METRICS_ID, move |ctx| {
        Ok(ctx.start(Metrics { gate: gate.clone() }).into())
    }))
    .into_child_spec()
}

/// Prometheus text for `GET /metrics` (replaced by the recorder's rendering with issue 5).
pub fn render() -> String {
    String::new()
}
