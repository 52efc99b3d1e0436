//! OTP supervisors on actix 0.13.
//!
//! actix restarts an actor only when it stops, never after a panic, and has no strategies, no
//! restart intensity and no escalation. This crate adds what makes a tree of actors an OTP
//! system: child specs with a start function that builds fresh state on every restart; restart
//! types (`permanent`, `transient`, `temporary`); shutdown policies (`brutal_kill`, a timeout,
//! `infinity`); the strategies `one_for_one`, `one_for_all`, `rest_for_one` and dynamic
//! `simple_one_for_one` children; restart intensity with escalation to the parent; ordered start
//! and reverse-ordered shutdown; and introspection (`which_children`, `count_children`, a
//! serialisable snapshot of a subtree, and kills by id for chaos drills).
//!
//! It knows nothing of HTTP.
//!
//! # Layout
//!
//! - [`spec`]: child specs, restart types, shutdown policies, strategies and flags.
//! - [`child`]: the run-time side of one child: the control block, the context a start
//!   function receives, and the wrapper future that runs the actor, catches its panics and
//!   reports every kind of exit to the supervisor.
//! - [`supervisor`]: the static supervisor (`one_for_one`, `one_for_all`, `rest_for_one`).
//! - [`dynamic`]: the dynamic supervisor (`simple_one_for_one`).
//! - [`restart`]: restart intensity over a sliding period, and restart observers
//!   ([`add_restart_observer`]) for metrics.
//! - [`exit`]: exit reasons and the panic hook.
//! - [`snapshot`]: `which_children`, `count_children` and tree snapshots.
//! - [`root`]: starting a root supervisor and the handle applications hold.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use actix::prelude::*;
//! use web_server_supervision::{ChildSpec, Strategy, SupervisorFlags, SupervisorRef, SupervisorSpec};
//!
//! /// A worker with work of its own (an interval), so it lives without anyone holding its
//! /// address; an actor with neither stops at once, as any actix actor does.
//! struct Ticker;
//! impl Actor for Ticker {
//!     type Context = Context<Self>;
//!     fn started(&mut self, ctx: &mut Context<Self>) {
//!         ctx.run_interval(Duration::from_secs(1), |_, _| {});
//!     }
//! }
//!
//! # actix::System::new().block_on(async {
//! let spec = SupervisorSpec::new("app_sup", SupervisorFlags::new(Strategy::OneForOne))
//!     .child(ChildSpec::worker("ticker", |ctx| Ok(ctx.start(Ticker).into())));
//! let root = SupervisorRef::start(spec).await.expect("tree starts");
//! assert_eq!(root.count_children().await.unwrap().active, 1);
//! root.shutdown().await;
//! # });
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod child;
pub mod dynamic;
pub mod exit;
pub mod restart;
pub mod root;
pub mod snapshot;
pub mod spec;
pub mod supervisor;

pub use child::{ChildContext, ExitSignal, Started, StartedChild};
pub use dynamic::{
    DynamicChildRef, DynamicStartFn, DynamicSupervisor, DynamicSupervisorSpec, StartDynamicChild,
    TerminateDynamicChild,
};
pub use exit::ExitReason;
pub use restart::{add_restart_observer, RestartObserver};
pub use root::SupervisorRef;
pub use snapshot::{
    ChildCounts, ChildInfo, ChildStatus, CountChildren, CrashOutcome, CrashReport, DynamicSummary,
    NodeSnapshot, SupervisorInfo, SupervisorView, TakeSnapshot, WhichChildren, CRASH_REPORTS_KEPT,
};
pub use spec::{
    ChildId, ChildKind, ChildSpec, Restart, Shutdown, StartError, StartFn, Strategy,
    SupervisorFlags,
};
pub use supervisor::{
    ChildError, DeleteChild, KillChild, RestartChild, StartChild, Supervisor, SupervisorSpec,
    TerminateChild,
};
