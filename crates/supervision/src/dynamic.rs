//! The dynamic supervisor (OTP's `simple_one_for_one`): many children of one template, started
//! at run time with arguments, such as one connection actor per accepted socket.
//!
//! Starting a child is the hot path of a server, so it costs one message from the caller (or
//! none when called on the supervisor's own Arbiter) and a slab slot: no ordered list, no spec
//! clone, no cross-thread round trip. Children run on the supervisor's own Arbiter.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::fut::{wrap_future, ActorFutureExt};
use actix::{
    Actor, ActorContext, Addr, AsyncContext, Context, Handler, Message, MessageResult, Recipient,
    ResponseFuture, Running,
};
use futures_util::future;
use slab::Slab;

use crate::child::{
    self, ChildContext, ChildControl, ChildExited, ExitNotice, ExitSignal, StartedChild,
};
use crate::exit::{self, ExitReason};
use crate::restart::{count_within, RestartTracker};
use crate::snapshot::{
    self, ChildCounts, ChildInfo, ChildStatus, CountChildren, CrashLog, CrashOutcome,
    DynamicSummary, NodeSnapshot, SupervisorInfo, SupervisorView, TakeSnapshot, WhichChildren,
};
use crate::spec::{
    ChildId, ChildKind, ChildSpec, Restart, Shutdown, StartError, Strategy, DEFAULT_WORKER_SHUTDOWN,
};
use crate::supervisor::{ChildError, KillChild, OnStart, SupervisorLink};

/// Builds one dynamic child from its start arguments.
pub type DynamicStartFn<Args> =
    Arc<dyn Fn(Args, ChildContext) -> Result<StartedChild, StartError> + Send + Sync>;

/// The description of a dynamic supervisor and of the template its children share.
pub struct DynamicSupervisorSpec<Args: Send + Unpin + 'static> {
    /// The supervisor's own id.
    id: ChildId,
    /// The id every child shares (instances are told apart as `id#slot`).
    child_id: ChildId,
    /// Restarts tolerated within `period` (only non-temporary children restart).
    intensity: u32,
    /// The restart-intensity window.
    period: Duration,
    /// Builds a child from its arguments.
    start: DynamicStartFn<Args>,
    /// The children's restart type (temporary by default, as connections are).
    restart: Restart,
    /// How the children are stopped; all at once, as OTP stops simple_one_for_one children.
    shutdown: Shutdown,
    /// Keeps a copy of the arguments of restartable children, to start them again.
    clone_args: Option<fn(&Args) -> Args>,
    /// Lets callers learn the address of every incarnation of the supervisor.
    on_start: Option<OnStart<DynamicSupervisor<Args>>>,
}

impl<Args: Send + Unpin + 'static> Clone for DynamicSupervisorSpec<Args> {
    fn clone(&self) -> Self {
        DynamicSupervisorSpec {
            id: self.id.clone(),
            child_id: self.child_id.clone(),
            intensity: self.intensity,
            period: self.period,
            start: self.start.clone(),
            restart: self.restart,
            shutdown: self.shutdown,
            clone_args: self.clone_args,
            on_start: self.on_start.clone(),
        }
    }
}

impl<Args: Send + Unpin + 'static> fmt::Debug for DynamicSupervisorSpec<Args> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicSupervisorSpec")
            .field("id", &self.id)
            .field("child_id", &self.child_id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .finish()
    }
}

impl<Args: Send + Unpin + 'static> DynamicSupervisorSpec<Args> {
    /// A dynamic supervisor `id` whose temporary children `child_id` are built by `start`.
    pub fn new<F>(id: impl Into<ChildId>, child_id: impl Into<ChildId>, start: F) -> Self
    where
        F: Fn(Args, ChildContext) -> Result<StartedChild, StartError> + Send + Sync + 'static,
    {
        DynamicSupervisorSpec {
            id: id.into(),
            child_id: child_id.into(),
            intensity: 1,
            period: Duration::from_secs(5),
            start: Arc::new(start),
            restart: Restart::Temporary,
            shutdown: DEFAULT_WORKER_SHUTDOWN,
            clone_args: None,
            on_start: None,
        }
    }

    /// Sets the restart intensity.
    pub fn intensity(mut self, intensity: u32, period: Duration) -> Self {
        self.intensity = intensity;
        self.period = period;
        self
    }

    /// Sets how the children are stopped when the supervisor shuts down.
    pub fn child_shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Calls `on_start` with the supervisor's address every time it (re)starts.
    pub fn on_start(
        mut self,
        on_start: impl Fn(Addr<DynamicSupervisor<Args>>) + Send + Sync + 'static,
    ) -> Self {
        self.on_start = Some(Arc::new(on_start));
        self
    }

    /// The supervisor's id.
    pub fn id(&self) -> &ChildId {
        &self.id
    }

    /// This supervisor as a child of another (permanent, shutdown `infinity`).
    pub fn into_child_spec(self) -> ChildSpec {
        let id = self.id.clone();
        ChildSpec::supervisor_with(id, move |ctx| Ok(self.start(ctx).into()))
    }

    /// Starts the supervisor actor in `ctx` (on the current Arbiter).
    pub fn start(&self, ctx: ChildContext) -> crate::Started<DynamicSupervisor<Args>> {
        let spec = self.clone();
        let exit = ctx.exit_signal();
        let started = ctx.start_with(move |actor_ctx: &mut Context<DynamicSupervisor<Args>>| {
            if let Some(on_start) = &spec.on_start {
                on_start(actor_ctx.address());
            }
            DynamicSupervisor::new(spec, exit)
        });
        let link = SupervisorLink {
            snapshot: started.addr().clone().recipient(),
            kill: started.addr().clone().recipient(),
        };
        started.set_link(link)
    }
}

impl<Args: Clone + Send + Unpin + 'static> DynamicSupervisorSpec<Args> {
    /// Makes the children permanent or transient; they are restarted with a copy of their
    /// original arguments, which is why this needs `Args: Clone`.
    pub fn child_restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self.clone_args = match restart {
            Restart::Temporary => None,
            _ => Some(<Args as Clone>::clone),
        };
        self
    }
}

/// Which running child a start returned; used to terminate that one child later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DynamicChildRef {
    /// Its slot in the supervisor's table.
    pub slot: usize,
    /// Which start it was, so a reused slot is not mistaken for it.
    pub incarnation: u64,
}

/// Starts one dynamic child with these arguments (OTP's `start_child/2` on simple_one_for_one).
pub struct StartDynamicChild<Args>(pub Args);

impl<Args: 'static> Message for StartDynamicChild<Args> {
    type Result = Result<DynamicChildRef, ChildError>;
}

/// Stops one dynamic child by its shutdown policy (OTP's `terminate_child/2` with a pid).
#[derive(Clone, Copy, Debug)]
pub struct TerminateDynamicChild(pub DynamicChildRef);

impl Message for TerminateDynamicChild {
    type Result = Result<(), ChildError>;
}

/// One running dynamic child.
struct DynamicChild<Args> {
    /// Stops, kills and awaits it.
    control: Arc<ChildControl>,
    /// Which start it is.
    incarnation: u64,
    /// For "oldest child" in summaries.
    started_at: SystemTime,
    /// Kept only for restartable children.
    args: Option<Args>,
}

/// Whether the dynamic supervisor still takes children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    Terminating,
    Stopped,
}

/// A dynamic (simple_one_for_one) supervisor actor. Build it with [`DynamicSupervisorSpec`].
pub struct DynamicSupervisor<Args: Send + Unpin + 'static> {
    /// Template and flags.
    spec: DynamicSupervisorSpec<Args>,
    /// Running children by slot.
    children: Slab<DynamicChild<Args>>,
    /// Decides when restarting restartable children has failed.
    tracker: RestartTracker,
    /// Restart times in the period, for snapshots.
    restart_times: std::collections::VecDeque<Instant>,
    /// Source of incarnation numbers.
    incarnations: u64,
    /// Whether it still takes children.
    phase: Phase,
    /// Lets it exit abnormally when it gives up.
    exit: ExitSignal,
    /// Its own address, given to every child for exit messages.
    myself: Option<Recipient<ChildExited>>,
    /// Its children's last abnormal exits.
    crashes: CrashLog,
}

impl<Args: Send + Unpin + 'static> DynamicSupervisor<Args> {
    fn new(spec: DynamicSupervisorSpec<Args>, exit: ExitSignal) -> Self {
        DynamicSupervisor {
            tracker: RestartTracker::new(spec.intensity, spec.period),
            spec,
            children: Slab::new(),
            restart_times: Default::default(),
            incarnations: 0,
            phase: Phase::Running,
            exit,
            myself: None,
            crashes: CrashLog::default(),
        }
    }

    /// Starts a child now, on this Arbiter. Cheap: a slab slot and the actor itself.
    fn start_child(&mut self, args: Args) -> Result<DynamicChildRef, ChildError> {
        if self.phase != Phase::Running {
            return Err(ChildError::ShuttingDown);
        }
        self.incarnations += 1;
        let incarnation = self.incarnations;
        let entry = self.children.vacant_entry();
        let slot = entry.key();
        let notice = ExitNotice {
            parent: self.myself.clone(),
            slot,
            incarnation,
        };
        let ctx = ChildContext::new(self.spec.child_id.clone(), notice);
        let kept = self.spec.clone_args.map(|clone| clone(&args));
        let start = &self.spec.start;
        let started = exit::supervised(|| catch_unwind(AssertUnwindSafe(|| start(args, ctx))));
        let child = match started {
            Ok(Ok(child)) => child,
            Ok(Err(err)) => return Err(ChildError::Start(err.in_child(&self.spec.child_id))),
            Err(payload) => {
                let err = StartError::new(exit::panic_reason(payload));
                return Err(ChildError::Start(err.in_child(&self.spec.child_id)));
            }
        };
        entry.insert(DynamicChild {
            control: child.control,
            incarnation,
            started_at: SystemTime::now(),
            args: kept,
        });
        Ok(DynamicChildRef { slot, incarnation })
    }

    fn shut_down(&mut self, reason: ExitReason, ctx: &mut Context<Self>) {
        if self.phase != Phase::Running {
            return;
        }
        self.phase = Phase::Terminating;
        let controls: Vec<_> = self.children.drain().map(|c| c.control).collect();
        let stopping = child::terminate_all(controls, self.spec.shutdown);
        ctx.wait(wrap_future::<_, Self>(stopping).map(move |(), act, ctx| {
            act.phase = Phase::Stopped;
            if reason.is_abnormal() {
                act.exit.exit(reason);
            }
            ctx.stop();
        }));
    }

    fn counts(&self) -> ChildCounts {
        ChildCounts {
            specs: self.children.len(),
            active: self.children.len(),
            supervisors: 0,
            workers: self.children.len(),
        }
    }

    fn instance_id(&self, slot: usize) -> String {
        format!("{}#{slot}", self.spec.child_id)
    }
}

impl<Args: Send + Unpin + 'static> Actor for DynamicSupervisor<Args> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        exit::install_panic_hook();
        self.myself = Some(ctx.address().recipient());
    }

    fn stopping(&mut self, ctx: &mut Context<Self>) -> Running {
        if self.phase == Phase::Stopped {
            return Running::Stop;
        }
        self.shut_down(ExitReason::Shutdown, ctx);
        Running::Continue
    }
}

impl<Args: Send + Unpin + 'static> Drop for DynamicSupervisor<Args> {
    /// A killed supervisor takes its children with it.
    fn drop(&mut self) {
        for (_, child) in self.children.iter() {
            child.control.kill();
        }
    }
}

impl<Args: Send + Unpin + 'static> Handler<StartDynamicChild<Args>> for DynamicSupervisor<Args> {
    type Result = Result<DynamicChildRef, ChildError>;

    fn handle(&mut self, msg: StartDynamicChild<Args>, _: &mut Context<Self>) -> Self::Result {
        self.start_child(msg.0)
    }
}

impl<Args: Send + Unpin + 'static> Handler<TerminateDynamicChild> for DynamicSupervisor<Args> {
    type Result = ResponseFuture<Result<(), ChildError>>;

    fn handle(&mut self, msg: TerminateDynamicChild, _: &mut Context<Self>) -> Self::Result {
        let child = msg.0;
        let found = self
            .children
            .get(child.slot)
            .is_some_and(|c| c.incarnation == child.incarnation);
        if !found {
            let id = self.instance_id(child.slot);
            return Box::pin(future::ready(Err(ChildError::NotFound(id))));
        }
        let removed = self.children.remove(child.slot);
        let stopping = child::terminate(removed.control, self.spec.shutdown);
        Box::pin(async move {
            stopping.await;
            Ok(())
        })
    }
}

impl<Args: Send + Unpin + 'static> Handler<ChildExited> for DynamicSupervisor<Args> {
    type Result = ();

    fn handle(&mut self, msg: ChildExited, ctx: &mut Context<Self>) {
        let current = self
            .children
            .get(msg.slot)
            .is_some_and(|c| c.incarnation == msg.incarnation);
        if !current {
            return;
        }
        let child = self.children.remove(msg.slot);
        let supervisor = self.spec.id.clone();
        let instance = self.instance_id(msg.slot);
        let reason = &msg.reason;
        match reason {
            ExitReason::Normal | ExitReason::Shutdown => {}
            ExitReason::Panic { .. } => {
                tracing::error!(%supervisor, child = %instance, %reason, "child panicked")
            }
            _ => tracing::warn!(%supervisor, child = %instance, %reason, "child exited abnormally"),
        }
        let shared_id = &self.spec.child_id;
        if self.phase != Phase::Running {
            let outcome = CrashOutcome::ShuttingDown;
            self.crashes.record(shared_id, reason, outcome, Vec::new());
            return;
        }
        let Some(args) = child
            .args
            .filter(|_| self.spec.restart.restarts_after(reason))
        else {
            let outcome = CrashOutcome::NotRestarted;
            self.crashes.record(shared_id, reason, outcome, Vec::new());
            return;
        };
        let now = Instant::now();
        if !self.tracker.record(now) {
            let outcome = CrashOutcome::Escalated;
            self.crashes.record(shared_id, reason, outcome, Vec::new());
            tracing::error!(%supervisor, "reached maximum restart intensity; shutting down and escalating");
            self.shut_down(ExitReason::error("reached_max_restart_intensity"), ctx);
            return;
        }
        self.restart_times.push_back(now);
        while self.restart_times.len() > self.spec.intensity as usize + 1 {
            self.restart_times.pop_front();
        }
        tracing::info!(%supervisor, child = %instance, "restarting child");
        let restarted = vec![shared_id.clone()];
        self.crashes
            .record(shared_id, reason, CrashOutcome::Restarted, restarted);
        crate::restart::notify_restart(&supervisor, &self.spec.child_id);
        if let Err(err) = self.start_child(args) {
            tracing::error!(%supervisor, error = %err, "restart failed");
        }
    }
}

impl<Args: Send + Unpin + 'static> Handler<WhichChildren> for DynamicSupervisor<Args> {
    type Result = MessageResult<WhichChildren>;

    fn handle(&mut self, _: WhichChildren, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.children
                .iter()
                .map(|_| ChildInfo {
                    id: self.spec.child_id.clone(),
                    status: ChildStatus::Running,
                    kind: ChildKind::Worker,
                    restart: self.spec.restart,
                })
                .collect(),
        )
    }
}

impl<Args: Send + Unpin + 'static> Handler<CountChildren> for DynamicSupervisor<Args> {
    type Result = MessageResult<CountChildren>;

    fn handle(&mut self, _: CountChildren, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.counts())
    }
}

impl<Args: Send + Unpin + 'static> Handler<TakeSnapshot> for DynamicSupervisor<Args> {
    type Result = ResponseFuture<SupervisorView>;

    fn handle(&mut self, msg: TakeSnapshot, _: &mut Context<Self>) -> Self::Result {
        let thread = Some(crate::snapshot::thread_label());
        let children = if msg.all_dynamic {
            self.children
                .iter()
                .map(|(slot, child)| NodeSnapshot {
                    id: ChildId::from(self.instance_id(slot)),
                    kind: ChildKind::Worker,
                    status: ChildStatus::Running,
                    restart: self.spec.restart,
                    shutdown: self.spec.shutdown,
                    restarts_in_window: 0,
                    restarts_total: 0,
                    started_unix_ms: Some(snapshot::unix_ms(child.started_at)),
                    arbiter: thread.clone(),
                    supervisor: None,
                    dynamic: None,
                    children: Vec::new(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let view = SupervisorView {
            info: SupervisorInfo {
                strategy: Strategy::SimpleOneForOne,
                intensity: self.spec.intensity,
                period_ms: self.spec.period.as_millis() as u64,
                restarts_in_window: count_within(
                    &self.restart_times,
                    self.spec.period,
                    Instant::now(),
                ),
                counts: self.counts(),
                crashes: self.crashes.reports(),
            },
            dynamic: Some(DynamicSummary {
                child_id: self.spec.child_id.clone(),
                count: self.children.len(),
                oldest_started_unix_ms: self
                    .children
                    .iter()
                    .map(|(_, c)| c.started_at)
                    .min()
                    .map(snapshot::unix_ms),
                started_total: self.incarnations,
            }),
            children,
        };
        Box::pin(future::ready(view))
    }
}

impl<Args: Send + Unpin + 'static> Handler<KillChild> for DynamicSupervisor<Args> {
    type Result = Result<(), ChildError>;

    /// Kills the instance named `child_id#slot`.
    fn handle(&mut self, msg: KillChild, _: &mut Context<Self>) -> Self::Result {
        let slot = msg
            .id
            .strip_prefix(self.spec.child_id.as_str())
            .and_then(|rest| rest.strip_prefix('#'))
            .and_then(|slot| slot.parse::<usize>().ok());
        match slot.and_then(|slot| self.children.get(slot)) {
            Some(child) => {
                child.control.kill();
                Ok(())
            }
            None => Err(ChildError::NotFound(msg.id)),
        }
    }
}
