//! The static supervisor: an ordered list of child specs under `one_for_one`, `one_for_all` or
//! `rest_for_one`, with restart intensity and escalation (OTP's `supervisor` behaviour).
//!
//! Like OTP's supervisor process, it does one thing at a time. Every operation (the initial
//! start, a restart under some strategy, a shutdown) is a queue of [`Step`]s. Synchronous steps
//! run at once; a step that must wait (a child on another Arbiter starting, a child stopping
//! within its shutdown timeout) runs under `ctx.wait`, which pauses the mailbox, so exit messages
//! that arrive meanwhile are handled after the operation, against the tree it left behind.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use actix::fut::{wrap_future, ActorFutureExt};
use actix::{
    Actor, ActorContext, Addr, AsyncContext, Context, Handler, Message, MessageResult, Recipient,
    ResponseFuture, Running,
};
use futures_util::future::{self, LocalBoxFuture};
use tokio::sync::oneshot;

use crate::child::{
    self, ChildContext, ChildControl, ChildExited, ExitNotice, ExitSignal, Started, StartedChild,
    SNAPSHOT_TIMEOUT,
};
use crate::exit::{self, ExitReason};
use crate::restart::{count_within, RestartTracker};
use crate::snapshot::{
    self, ChildCounts, ChildInfo, ChildStatus, CountChildren, CrashLog, CrashOutcome, NodeSnapshot,
    SupervisorInfo, SupervisorView, TakeSnapshot, WhichChildren,
};
use crate::spec::{ChildId, ChildKind, ChildSpec, Restart, StartError, Strategy, SupervisorFlags};

/// How a supervisor reaches a child that is itself a supervisor, to recurse into its subtree.
#[derive(Clone)]
pub(crate) struct SupervisorLink {
    /// Asks the child supervisor for its view.
    pub(crate) snapshot: Recipient<TakeSnapshot>,
    /// Asks the child supervisor to kill a descendant.
    pub(crate) kill: Recipient<KillChild>,
}

/// An error from a run-time child operation (`start_child`, `terminate_child`, kills …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildError {
    /// No child with this id in the supervisor (or, for kills, anywhere below it).
    NotFound(String),
    /// A child with this id already exists.
    AlreadyPresent(String),
    /// The operation needs the child stopped, and it is running.
    Running(String),
    /// The operation needs the child running, and it is not.
    NotRunning(String),
    /// The child's start function failed.
    Start(StartError),
    /// The supervisor is shutting down (or already gone) and takes no more requests.
    ShuttingDown,
}

impl fmt::Display for ChildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildError::NotFound(id) => write!(f, "no child {id}"),
            ChildError::AlreadyPresent(id) => write!(f, "child {id} already exists"),
            ChildError::Running(id) => write!(f, "child {id} is running"),
            ChildError::NotRunning(id) => write!(f, "child {id} is not running"),
            ChildError::Start(err) => write!(f, "{err}"),
            ChildError::ShuttingDown => f.write_str("the supervisor is shutting down"),
        }
    }
}

impl std::error::Error for ChildError {}

type Reply = oneshot::Sender<Result<(), ChildError>>;

/// Kills the child with this id, abnormally, anywhere in the subtree (as `exit(Pid, kill)`).
#[derive(Clone, Debug)]
pub struct KillChild {
    /// The id of the child to kill.
    pub id: String,
}

impl Message for KillChild {
    type Result = Result<(), ChildError>;
}

/// Adds a child spec at run time and starts it (OTP's `start_child/2`).
pub struct StartChild(pub ChildSpec);

impl Message for StartChild {
    type Result = Result<(), ChildError>;
}

/// Stops a child, keeping its spec unless it is temporary (OTP's `terminate_child/2`).
#[derive(Clone, Debug)]
pub struct TerminateChild {
    /// The child's id.
    pub id: String,
}

impl Message for TerminateChild {
    type Result = Result<(), ChildError>;
}

/// Starts a stopped child again from its spec (OTP's `restart_child/2`).
#[derive(Clone, Debug)]
pub struct RestartChild {
    /// The child's id.
    pub id: String,
}

impl Message for RestartChild {
    type Result = Result<(), ChildError>;
}

/// Removes the spec of a stopped child (OTP's `delete_child/2`).
#[derive(Clone, Debug)]
pub struct DeleteChild {
    /// The child's id.
    pub id: String,
}

impl Message for DeleteChild {
    type Result = Result<(), ChildError>;
}

/// Called with a supervisor's address each time it starts, so callers can reach it after restarts.
pub type OnStart<A> = Arc<dyn Fn(Addr<A>) + Send + Sync>;

/// The description of a static supervisor: id, flags and children in start order.
#[derive(Clone)]
pub struct SupervisorSpec {
    /// The supervisor's own id.
    pub(crate) id: ChildId,
    /// Strategy and intensity.
    pub(crate) flags: SupervisorFlags,
    /// Children in start order.
    pub(crate) children: Vec<ChildSpec>,
    /// Lets callers learn the address of every incarnation.
    pub(crate) on_start: Option<OnStart<Supervisor>>,
}

impl fmt::Debug for SupervisorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorSpec")
            .field("id", &self.id)
            .field("flags", &self.flags)
            .field("children", &self.children)
            .finish()
    }
}

impl SupervisorSpec {
    /// A supervisor with no children yet.
    ///
    /// `Strategy::SimpleOneForOne` belongs to [`crate::DynamicSupervisorSpec`]; here it is
    /// treated as `one_for_one`.
    pub fn new(id: impl Into<ChildId>, flags: SupervisorFlags) -> Self {
        SupervisorSpec {
            id: id.into(),
            flags,
            children: Vec::new(),
            on_start: None,
        }
    }

    /// Appends a child; children start in the order they are added and stop in reverse.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Calls `on_start` with the supervisor's address every time it (re)starts.
    pub fn on_start(mut self, on_start: impl Fn(Addr<Supervisor>) + Send + Sync + 'static) -> Self {
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

    /// Starts the supervisor actor in `ctx`; it reports through `ready` once its children run.
    pub(crate) fn start(&self, ctx: ChildContext) -> Started<Supervisor> {
        let (ready_tx, ready_rx) = oneshot::channel();
        let spec = self.clone();
        let exit = ctx.exit_signal();
        let started = ctx.start_with(move |actor_ctx: &mut Context<Supervisor>| {
            if let Some(on_start) = &spec.on_start {
                on_start(actor_ctx.address());
            }
            Supervisor::new(spec, exit, ready_tx)
        });
        let link = SupervisorLink {
            snapshot: started.addr().clone().recipient(),
            kill: started.addr().clone().recipient(),
        };
        started.set_link(link).set_ready(ready_rx)
    }
}

/// Where the supervisor is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Starting its children in order; no restarts yet.
    Initialising,
    /// Supervising.
    Running,
    /// Stopping its children in reverse order before exiting.
    Terminating,
    /// Done; the next `stopping` lets the actor stop.
    Stopped,
}

/// Why a child is being started, which decides what a failure means.
enum Purpose {
    /// Part of the supervisor's own start: a failure fails the supervisor.
    Init,
    /// A restart: a failure counts as another restart and is retried.
    Restart,
    /// Added by `start_child`: a failure removes the spec and is returned.
    Added(Reply),
    /// Started again by `restart_child`: a failure is returned.
    Manual(Reply),
}

/// One unit of a supervisor operation.
enum Step {
    /// Start the child with this key.
    Start { key: u64, purpose: Purpose },
    /// Stop the child with this key; a temporary one is then deleted when `delete_temporary`.
    Terminate {
        key: u64,
        delete_temporary: bool,
        reply: Option<Reply>,
    },
    /// Stop every running child, in reverse start order, or all at once with
    /// [`SupervisorFlags::stop_together`] (expanded when reached, so that it covers children
    /// whose start finished after it was queued).
    TerminateAll,
    /// Report the end of the initial start.
    InitDone,
    /// Stop the supervisor itself with this reason.
    Exit(ExitReason),
}

/// A child that is running now.
struct RunningChild {
    /// Stops, kills and awaits it.
    control: Arc<ChildControl>,
    /// Which start this is; exit messages from earlier starts are ignored.
    incarnation: u64,
    /// Set for child supervisors.
    link: Option<SupervisorLink>,
}

/// Everything the supervisor knows about one child spec.
struct ChildRecord {
    /// Stable identity of the spec inside this supervisor, used by queued steps.
    key: u64,
    /// How to start and stop it.
    spec: ChildSpec,
    /// Shown in snapshots.
    status: ChildStatus,
    /// Present while it runs.
    running: Option<RunningChild>,
    /// Restarts since the supervisor started.
    restarts_total: u64,
    /// Recent restart times, for "restarts in the current window".
    restart_times: VecDeque<Instant>,
    /// When it last started.
    started_at: Option<SystemTime>,
    /// The Arbiter thread it last started on.
    arbiter: Option<String>,
}

/// A static supervisor actor. Build it with [`SupervisorSpec`]; see the module documentation.
pub struct Supervisor {
    /// Its own id, for logs.
    id: ChildId,
    /// Strategy and intensity.
    flags: SupervisorFlags,
    /// Children in start order.
    children: Vec<ChildRecord>,
    /// Decides when to give up restarting.
    tracker: RestartTracker,
    /// Restart times within the period, for its own snapshot node.
    restart_times: VecDeque<Instant>,
    /// The operation in progress, as steps.
    steps: VecDeque<Step>,
    /// A step is waiting under `ctx.wait`.
    busy: bool,
    /// Where it is in its life.
    phase: Phase,
    /// Source of incarnation numbers and record keys.
    counter: u64,
    /// Lets it exit abnormally (escalation, failed start).
    exit: ExitSignal,
    /// Tells its starter that all children are running, or why they are not.
    ready: Option<oneshot::Sender<Result<(), StartError>>>,
    /// Its own address, given to every child for exit messages.
    myself: Option<Recipient<ChildExited>>,
    /// Its children's last abnormal exits.
    crashes: CrashLog,
}

impl Supervisor {
    fn new(
        spec: SupervisorSpec,
        exit: ExitSignal,
        ready: oneshot::Sender<Result<(), StartError>>,
    ) -> Self {
        let mut counter = 0;
        let children = spec
            .children
            .into_iter()
            .map(|spec| {
                counter += 1;
                ChildRecord::new(counter, spec)
            })
            .collect();
        Supervisor {
            id: spec.id,
            flags: spec.flags,
            children,
            tracker: RestartTracker::new(spec.flags.intensity, spec.flags.period),
            restart_times: VecDeque::new(),
            steps: VecDeque::new(),
            busy: false,
            phase: Phase::Initialising,
            counter,
            exit,
            ready: Some(ready),
            myself: None,
            crashes: CrashLog::default(),
        }
    }

    fn next_number(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn position(&self, key: u64) -> Option<usize> {
        self.children.iter().position(|c| c.key == key)
    }

    fn position_of_id(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| c.spec.id.as_str() == id)
    }

    /// Runs queued steps until one has to wait or none are left.
    fn drive(&mut self, ctx: &mut Context<Self>) {
        while !self.busy {
            let Some(step) = self.steps.pop_front() else {
                return;
            };
            match step {
                Step::Start { key, purpose } => self.start_step(key, purpose, ctx),
                Step::Terminate {
                    key,
                    delete_temporary,
                    reply,
                } => self.terminate_step(key, delete_temporary, reply, ctx),
                Step::TerminateAll if self.flags.stop_together => self.terminate_together(ctx),
                Step::TerminateAll => {
                    for child in self.children.iter().filter(|c| c.running.is_some()) {
                        self.steps.push_front(Step::Terminate {
                            key: child.key,
                            delete_temporary: false,
                            reply: None,
                        });
                    }
                }
                Step::InitDone => {
                    self.phase = Phase::Running;
                    tracing::debug!(supervisor = %self.id, "supervisor started");
                    if let Some(ready) = self.ready.take() {
                        let _ = ready.send(Ok(()));
                    }
                }
                Step::Exit(reason) => {
                    self.phase = Phase::Stopped;
                    if reason.is_abnormal() {
                        self.exit.exit(reason);
                    }
                    ctx.stop();
                    return;
                }
            }
        }
    }

    fn start_step(&mut self, key: u64, purpose: Purpose, ctx: &mut Context<Self>) {
        let incarnation = self.next_number();
        let Some(index) = self.position(key) else {
            return; // A temporary child deleted while this restart was queued.
        };
        let record = &self.children[index];
        let notice = ExitNotice {
            parent: self.myself.clone(),
            slot: 0,
            incarnation,
        };
        let child_ctx = ChildContext::new(record.spec.id.clone(), notice);
        let start = record.spec.start.clone();
        let starting: LocalBoxFuture<'static, Result<(StartedChild, Option<String>), StartError>> =
            match &record.spec.arbiter {
                None => Box::pin(future::ready(call_start(&start, child_ctx))),
                Some(arbiter) => {
                    let (tx, rx) = oneshot::channel();
                    let sent = arbiter.spawn_fn(move || {
                        let _ = tx.send(call_start(&start, child_ctx));
                    });
                    Box::pin(async move {
                        if !sent {
                            return Err(StartError::new("its Arbiter is not running"));
                        }
                        rx.await.unwrap_or_else(|_| {
                            Err(StartError::new("its Arbiter stopped during the start"))
                        })
                    })
                }
            };
        let started = async move {
            let (mut child, thread) = starting.await?;
            if let Some(ready) = child.ready.take() {
                match ready.await {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => return Err(err),
                    Err(_) => return Err(StartError::new("it exited during its start")),
                }
            }
            Ok((child, thread))
        };
        self.busy = true;
        ctx.wait(
            wrap_future::<_, Self>(started).map(move |result, act, ctx| {
                act.busy = false;
                act.on_started(key, incarnation, purpose, result);
                act.drive(ctx);
            }),
        );
    }

    fn on_started(
        &mut self,
        key: u64,
        incarnation: u64,
        purpose: Purpose,
        result: Result<(StartedChild, Option<String>), StartError>,
    ) {
        let Some(index) = self.position(key) else {
            if let Ok((child, _)) = result {
                child.control.kill(); // Its spec was deleted meanwhile.
            }
            return;
        };
        match result {
            Ok((child, thread)) => {
                let record = &mut self.children[index];
                record.running = Some(RunningChild {
                    control: child.control,
                    incarnation,
                    link: child.link,
                });
                record.status = ChildStatus::Running;
                record.started_at = Some(SystemTime::now());
                record.arbiter = thread;
                tracing::info!(supervisor = %self.id, child = %record.spec.id, "child started");
                if let Purpose::Added(reply) | Purpose::Manual(reply) = purpose {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(err) => {
                let err = err.in_child(&self.children[index].spec.id);
                tracing::error!(supervisor = %self.id, error = %err, "start failed");
                match purpose {
                    Purpose::Init => {
                        self.phase = Phase::Terminating;
                        self.steps.clear();
                        self.steps.push_back(Step::TerminateAll);
                        self.steps
                            .push_back(Step::Exit(ExitReason::error(err.message())));
                        if let Some(ready) = self.ready.take() {
                            let _ = ready.send(Err(err));
                        }
                    }
                    Purpose::Restart => {
                        self.children[index].status = ChildStatus::Restarting;
                        if self.tracker.record(Instant::now()) {
                            self.steps.push_front(Step::Start {
                                key,
                                purpose: Purpose::Restart,
                            });
                        } else {
                            self.escalate();
                        }
                    }
                    Purpose::Added(reply) => {
                        self.children.remove(index);
                        let _ = reply.send(Err(ChildError::Start(err)));
                    }
                    Purpose::Manual(reply) => {
                        self.children[index].status = ChildStatus::Stopped;
                        let _ = reply.send(Err(ChildError::Start(err)));
                    }
                }
            }
        }
    }

    fn terminate_step(
        &mut self,
        key: u64,
        delete_temporary: bool,
        reply: Option<Reply>,
        ctx: &mut Context<Self>,
    ) {
        let Some(index) = self.position(key) else {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(()));
            }
            return;
        };
        let record = &mut self.children[index];
        let Some(running) = record.running.take() else {
            self.after_terminate(key, delete_temporary, reply);
            return;
        };
        if record.status == ChildStatus::Running {
            record.status = ChildStatus::Stopped;
        }
        tracing::debug!(supervisor = %self.id, child = %record.spec.id, "stopping child");
        let stopping = child::terminate(running.control, record.spec.shutdown);
        self.busy = true;
        ctx.wait(wrap_future::<_, Self>(stopping).map(move |(), act, ctx| {
            act.busy = false;
            act.after_terminate(key, delete_temporary, reply);
            act.drive(ctx);
        }));
    }

    /// Stops every running child at once, each by its own shutdown policy, and waits for all.
    fn terminate_together(&mut self, ctx: &mut Context<Self>) {
        let mut stopping = Vec::new();
        for record in self.children.iter_mut() {
            let Some(running) = record.running.take() else {
                continue;
            };
            if record.status == ChildStatus::Running {
                record.status = ChildStatus::Stopped;
            }
            tracing::debug!(supervisor = %self.id, child = %record.spec.id, "stopping child");
            stopping.push(child::terminate(running.control, record.spec.shutdown));
        }
        if stopping.is_empty() {
            return;
        }
        self.busy = true;
        let all = futures_util::future::join_all(stopping);
        ctx.wait(wrap_future::<_, Self>(all).map(|_, act, ctx| {
            act.busy = false;
            act.drive(ctx);
        }));
    }

    fn after_terminate(&mut self, key: u64, delete_temporary: bool, reply: Option<Reply>) {
        if let Some(index) = self.position(key) {
            if delete_temporary && self.children[index].spec.restart == Restart::Temporary {
                self.children.remove(index);
            }
        }
        if let Some(reply) = reply {
            let _ = reply.send(Ok(()));
        }
    }

    /// Gives up: stop every child, then exit abnormally so the parent applies its strategy.
    fn escalate(&mut self) {
        tracing::error!(
            supervisor = %self.id,
            intensity = self.flags.intensity,
            period_ms = self.flags.period.as_millis() as u64,
            "reached maximum restart intensity; shutting down and escalating"
        );
        self.phase = Phase::Terminating;
        self.steps.clear();
        self.steps.push_back(Step::TerminateAll);
        self.steps.push_back(Step::Exit(ExitReason::error(
            "reached_max_restart_intensity",
        )));
    }

    fn begin_shutdown(&mut self, ctx: &mut Context<Self>) {
        if matches!(self.phase, Phase::Terminating | Phase::Stopped) {
            return;
        }
        self.phase = Phase::Terminating;
        self.steps.clear();
        self.steps.push_back(Step::TerminateAll);
        self.steps.push_back(Step::Exit(ExitReason::Shutdown));
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Err(StartError::new("shut down during its start")));
        }
        self.drive(ctx);
    }

    /// Queues the restart of the child at `index` and of the siblings its strategy names;
    /// returns their ids, in start order.
    fn plan_restart(&mut self, index: usize) -> Vec<ChildId> {
        let now = Instant::now();
        self.restart_times.push_back(now);
        trim(&mut self.restart_times, self.flags, now);
        let affected: Vec<usize> = match self.flags.strategy {
            Strategy::OneForOne | Strategy::SimpleOneForOne => vec![index],
            Strategy::OneForAll => (0..self.children.len())
                .filter(|&i| i == index || self.children[i].running.is_some())
                .collect(),
            Strategy::RestForOne => (index..self.children.len())
                .filter(|&i| i == index || self.children[i].running.is_some())
                .collect(),
        };
        for &i in affected.iter().rev() {
            let record = &mut self.children[i];
            if i != index {
                self.steps.push_back(Step::Terminate {
                    key: record.key,
                    delete_temporary: true,
                    reply: None,
                });
            }
        }
        for &i in &affected {
            let record = &mut self.children[i];
            record.status = ChildStatus::Restarting;
            record.restarts_total += 1;
            record.restart_times.push_back(now);
            trim(&mut record.restart_times, self.flags, now);
            tracing::info!(supervisor = %self.id, child = %record.spec.id, "restarting child");
            crate::restart::notify_restart(&self.id, &record.spec.id);
            self.steps.push_back(Step::Start {
                key: record.key,
                purpose: Purpose::Restart,
            });
        }
        affected
            .iter()
            .map(|&i| self.children[i].spec.id.clone())
            .collect()
    }

    fn counts(&self) -> ChildCounts {
        let mut counts = ChildCounts {
            specs: self.children.len(),
            ..ChildCounts::default()
        };
        for child in &self.children {
            if child.running.is_some() {
                counts.active += 1;
            }
            match child.spec.kind {
                ChildKind::Supervisor => counts.supervisors += 1,
                ChildKind::Worker => counts.workers += 1,
            }
        }
        counts
    }

    pub(crate) fn info(&self) -> SupervisorInfo {
        SupervisorInfo {
            strategy: self.flags.strategy,
            intensity: self.flags.intensity,
            period_ms: self.flags.period.as_millis() as u64,
            restarts_in_window: count_within(
                &self.restart_times,
                self.flags.period,
                Instant::now(),
            ),
            counts: self.counts(),
            crashes: self.crashes.reports(),
        }
    }
}

fn trim(times: &mut VecDeque<Instant>, flags: SupervisorFlags, now: Instant) {
    while times.len() > flags.intensity as usize + 1
        || times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= flags.period)
    {
        times.pop_front();
    }
}

/// Runs a start function, turning a panic in it into a start error.
fn call_start(
    start: &crate::spec::StartFn,
    ctx: ChildContext,
) -> Result<(StartedChild, Option<String>), StartError> {
    let started = exit::supervised(|| catch_unwind(AssertUnwindSafe(|| start(ctx))));
    let thread = Some(crate::snapshot::thread_label());
    match started {
        Ok(result) => result.map(|child| (child, thread)),
        Err(payload) => Err(StartError::new(exit::panic_reason(payload))),
    }
}

impl ChildRecord {
    fn new(key: u64, spec: ChildSpec) -> Self {
        ChildRecord {
            key,
            spec,
            status: ChildStatus::Stopped,
            running: None,
            restarts_total: 0,
            restart_times: VecDeque::new(),
            started_at: None,
            arbiter: None,
        }
    }

    fn node(&self, period: std::time::Duration, view: Option<SupervisorView>) -> NodeSnapshot {
        let (supervisor, dynamic, children) = match view {
            Some(view) => (Some(view.info), view.dynamic, view.children),
            None => (None, None, Vec::new()),
        };
        NodeSnapshot {
            id: self.spec.id.clone(),
            kind: self.spec.kind,
            status: self.status,
            restart: self.spec.restart,
            shutdown: self.spec.shutdown,
            restarts_in_window: count_within(&self.restart_times, period, Instant::now()),
            restarts_total: self.restarts_total,
            started_unix_ms: self.started_at.map(snapshot::unix_ms),
            arbiter: self.arbiter.clone(),
            supervisor,
            dynamic,
            children,
        }
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        exit::install_panic_hook();
        self.myself = Some(ctx.address().recipient());
        for child in &self.children {
            self.steps.push_back(Step::Start {
                key: child.key,
                purpose: Purpose::Init,
            });
        }
        self.steps.push_back(Step::InitDone);
        self.drive(ctx);
    }

    fn stopping(&mut self, ctx: &mut Context<Self>) -> Running {
        self.begin_shutdown(ctx);
        // With nothing left to stop, the shutdown finished inside `begin_shutdown`; a
        // `ctx.stop()` made there would be undone by returning `Continue`.
        if self.phase == Phase::Stopped {
            Running::Stop
        } else {
            Running::Continue
        }
    }
}

impl Drop for Supervisor {
    /// A killed supervisor takes its children with it, as linked processes die together.
    fn drop(&mut self) {
        for child in &self.children {
            if let Some(running) = &child.running {
                running.control.kill();
            }
        }
    }
}

impl Handler<ChildExited> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ChildExited, ctx: &mut Context<Self>) {
        let Some(index) = self.children.iter().position(|c| {
            c.running
                .as_ref()
                .is_some_and(|r| r.incarnation == msg.incarnation)
        }) else {
            return; // An exit the supervisor caused itself, or of a replaced incarnation.
        };
        let record = &mut self.children[index];
        record.running = None;
        record.status = ChildStatus::Stopped;
        let (supervisor, child, reason) = (&self.id, &record.spec.id, &msg.reason);
        match reason {
            ExitReason::Normal | ExitReason::Shutdown => {
                tracing::info!(%supervisor, %child, %reason, "child exited")
            }
            ExitReason::Panic { .. } => {
                tracing::error!(%supervisor, %child, %reason, "child panicked")
            }
            _ => tracing::warn!(%supervisor, %child, %reason, "child exited abnormally"),
        }
        let child = child.clone();
        if self.phase != Phase::Running {
            let outcome = CrashOutcome::ShuttingDown;
            self.crashes
                .record(&child, &msg.reason, outcome, Vec::new());
            return;
        }
        if !record.spec.restart.restarts_after(&msg.reason) {
            if record.spec.restart == Restart::Temporary {
                self.children.remove(index);
            }
            let outcome = CrashOutcome::NotRestarted;
            self.crashes
                .record(&child, &msg.reason, outcome, Vec::new());
            return;
        }
        if self.tracker.record(Instant::now()) {
            let restarted = self.plan_restart(index);
            let outcome = CrashOutcome::Restarted;
            self.crashes.record(&child, &msg.reason, outcome, restarted);
        } else {
            let outcome = CrashOutcome::Escalated;
            self.crashes
                .record(&child, &msg.reason, outcome, Vec::new());
            self.escalate();
        }
        self.drive(ctx);
    }
}

impl Handler<WhichChildren> for Supervisor {
    type Result = MessageResult<WhichChildren>;

    fn handle(&mut self, _: WhichChildren, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.children
                .iter()
                .map(|c| ChildInfo {
                    id: c.spec.id.clone(),
                    status: c.status,
                    kind: c.spec.kind,
                    restart: c.spec.restart,
                })
                .collect(),
        )
    }
}

impl Handler<CountChildren> for Supervisor {
    type Result = MessageResult<CountChildren>;

    fn handle(&mut self, _: CountChildren, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.counts())
    }
}

impl Handler<TakeSnapshot> for Supervisor {
    type Result = ResponseFuture<SupervisorView>;

    fn handle(&mut self, msg: TakeSnapshot, _: &mut Context<Self>) -> Self::Result {
        let info = self.info();
        let period = self.flags.period;
        let pending: Vec<_> = self
            .children
            .iter()
            .map(|c| {
                let link = c.running.as_ref().and_then(|r| r.link.clone());
                let node = c.node(period, None);
                async move {
                    let Some(link) = link else {
                        return node;
                    };
                    let asked = tokio::time::timeout(SNAPSHOT_TIMEOUT, link.snapshot.send(msg));
                    match asked.await {
                        Ok(Ok(view)) => NodeSnapshot {
                            supervisor: Some(view.info),
                            dynamic: view.dynamic,
                            children: view.children,
                            ..node
                        },
                        _ => node,
                    }
                }
            })
            .collect();
        Box::pin(async move {
            SupervisorView {
                info,
                dynamic: None,
                children: future::join_all(pending).await,
            }
        })
    }
}

impl Handler<KillChild> for Supervisor {
    type Result = ResponseFuture<Result<(), ChildError>>;

    fn handle(&mut self, msg: KillChild, _: &mut Context<Self>) -> Self::Result {
        if let Some(index) = self.position_of_id(&msg.id) {
            let result = match &self.children[index].running {
                Some(running) => {
                    tracing::warn!(supervisor = %self.id, child = %msg.id, "killing child on request");
                    running.control.kill();
                    Ok(())
                }
                None => Err(ChildError::NotRunning(msg.id)),
            };
            return Box::pin(future::ready(result));
        }
        let links: Vec<SupervisorLink> = self
            .children
            .iter()
            .filter_map(|c| c.running.as_ref().and_then(|r| r.link.clone()))
            .collect();
        Box::pin(async move {
            for link in links {
                match link.kill.send(msg.clone()).await {
                    Ok(Err(ChildError::NotFound(_))) | Err(_) => continue,
                    Ok(result) => return result,
                }
            }
            Err(ChildError::NotFound(msg.id))
        })
    }
}

fn reply_channel() -> (Reply, ResponseFuture<Result<(), ChildError>>) {
    let (tx, rx) = oneshot::channel();
    let answer = async move { rx.await.unwrap_or(Err(ChildError::ShuttingDown)) };
    (tx, Box::pin(answer))
}

fn answer(result: Result<(), ChildError>) -> ResponseFuture<Result<(), ChildError>> {
    Box::pin(future::ready(result))
}

impl Handler<StartChild> for Supervisor {
    type Result = ResponseFuture<Result<(), ChildError>>;

    fn handle(&mut self, StartChild(spec): StartChild, ctx: &mut Context<Self>) -> Self::Result {
        if self.phase != Phase::Running {
            return answer(Err(ChildError::ShuttingDown));
        }
        if self.position_of_id(spec.id.as_str()).is_some() {
            return answer(Err(ChildError::AlreadyPresent(spec.id.to_string())));
        }
        let key = self.next_number();
        self.children.push(ChildRecord::new(key, spec));
        let (reply, answer) = reply_channel();
        self.steps.push_back(Step::Start {
            key,
            purpose: Purpose::Added(reply),
        });
        self.drive(ctx);
        answer
    }
}

impl Handler<TerminateChild> for Supervisor {
    type Result = ResponseFuture<Result<(), ChildError>>;

    fn handle(&mut self, msg: TerminateChild, ctx: &mut Context<Self>) -> Self::Result {
        if self.phase != Phase::Running {
            return answer(Err(ChildError::ShuttingDown));
        }
        let Some(index) = self.position_of_id(&msg.id) else {
            return answer(Err(ChildError::NotFound(msg.id)));
        };
        let (reply, answer) = reply_channel();
        self.steps.push_back(Step::Terminate {
            key: self.children[index].key,
            delete_temporary: true,
            reply: Some(reply),
        });
        self.drive(ctx);
        answer
    }
}

impl Handler<RestartChild> for Supervisor {
    type Result = ResponseFuture<Result<(), ChildError>>;

    fn handle(&mut self, msg: RestartChild, ctx: &mut Context<Self>) -> Self::Result {
        if self.phase != Phase::Running {
            return answer(Err(ChildError::ShuttingDown));
        }
        let Some(index) = self.position_of_id(&msg.id) else {
            return answer(Err(ChildError::NotFound(msg.id)));
        };
        if self.children[index].running.is_some() {
            return answer(Err(ChildError::Running(msg.id)));
        }
        let (reply, answer) = reply_channel();
        self.steps.push_back(Step::Start {
            key: self.children[index].key,
            purpose: Purpose::Manual(reply),
        });
        self.drive(ctx);
        answer
    }
}

impl Handler<DeleteChild> for Supervisor {
    type Result = Result<(), ChildError>;

    fn handle(&mut self, msg: DeleteChild, _: &mut Context<Self>) -> Self::Result {
        let Some(index) = self.position_of_id(&msg.id) else {
            return Err(ChildError::NotFound(msg.id));
        };
        if self.children[index].running.is_some()
            || self
                .steps
                .iter()
                .any(|s| matches!(s, Step::Start { key, .. } if *key == self.children[index].key))
        {
            return Err(ChildError::Running(msg.id));
        }
        self.children.remove(index);
        Ok(())
    }
}
