//! One supervised child at run time: the control block its supervisor holds, the context its
//! start function receives, and the future that runs the actor and reports its exit.
//!
//! Every child actor runs inside [`SupervisedActor`], a future wrapped around actix's own
//! `ContextFut`. Owning that future is what makes OTP semantics possible on actix 0.13: the
//! wrapper can stop the actor gracefully (`ctx.stop()`), kill it (drop it without callbacks),
//! catch a panic from any handler, and always tell the parent how the actor ended, whether it
//! stopped by itself, lost all its addresses, panicked, was killed, or lost its Arbiter.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use actix::dev::ContextFut;
use actix::{Actor, ActorContext, Addr, AsyncContext, Context, Message, Recipient};
use futures_util::task::AtomicWaker;
use tokio::sync::{oneshot, Notify};

use crate::exit::{self, ExitReason};
use crate::spec::{ChildId, Shutdown, StartError};
use crate::supervisor::SupervisorLink;

const RUN: u8 = 0;
const STOP: u8 = 1;
const KILL: u8 = 2;

/// Shared between a running child and whoever supervises it: one small allocation per child.
pub(crate) struct ChildControl {
    /// What the supervisor asks of the child: run, stop gracefully, or die now.
    request: AtomicU8,
    /// Wakes the child's task so it sees a new request even while it is idle.
    child_waker: AtomicWaker,
    /// Set once, when the child's task has finished and its actor has been dropped.
    exited: AtomicBool,
    /// Wakes everyone waiting for the exit (the supervisor stopping it, a root handle).
    exit_notify: Notify,
    /// A reason the actor declared for itself before stopping (see [`ExitSignal`]).
    declared: OnceLock<ExitReason>,
    /// The final reason, written once by the wrapper before `exited` is set.
    reason: OnceLock<ExitReason>,
}

impl ChildControl {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ChildControl {
            request: AtomicU8::new(RUN),
            child_waker: AtomicWaker::new(),
            exited: AtomicBool::new(false),
            exit_notify: Notify::new(),
            declared: OnceLock::new(),
            reason: OnceLock::new(),
        })
    }

    /// Asks the child to stop gracefully (its `stopping`/`stopped` run).
    pub(crate) fn stop(&self) {
        let _ = self
            .request
            .compare_exchange(RUN, STOP, Ordering::AcqRel, Ordering::Acquire);
        self.child_waker.wake();
    }

    /// Kills the child: its actor is dropped without callbacks at its task's next poll.
    pub(crate) fn kill(&self) {
        self.request.store(KILL, Ordering::Release);
        self.child_waker.wake();
    }

    pub(crate) fn has_exited(&self) -> bool {
        self.exited.load(Ordering::Acquire)
    }

    /// The final exit reason, once the child has exited.
    pub(crate) fn exit_reason(&self) -> Option<ExitReason> {
        if self.has_exited() {
            self.reason.get().cloned()
        } else {
            None
        }
    }

    /// Resolves when the child has exited, with its reason.
    pub(crate) async fn exited(&self) -> ExitReason {
        loop {
            let notified = self.exit_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(reason) = self.exit_reason() {
                return reason;
            }
            notified.await;
        }
    }

    fn finish(&self, reason: ExitReason) {
        let _ = self.reason.set(reason);
        self.exited.store(true, Ordering::Release);
        self.exit_notify.notify_waiters();
    }
}

/// Stops a child according to its shutdown policy and resolves once it is gone.
pub(crate) async fn terminate(control: Arc<ChildControl>, shutdown: Shutdown) {
    match shutdown {
        Shutdown::BrutalKill => control.kill(),
        Shutdown::Infinity => control.stop(),
        Shutdown::Timeout(limit) => {
            control.stop();
            if tokio::time::timeout(limit, control.exited()).await.is_ok() {
                return;
            }
            control.kill();
        }
    }
    control.exited().await;
}

/// Stops many children at once (a dynamic supervisor's shutdown): all are asked together, and
/// those still alive when the shared timeout expires are killed.
pub(crate) async fn terminate_all(controls: Vec<Arc<ChildControl>>, shutdown: Shutdown) {
    let all_exited = |controls: Vec<Arc<ChildControl>>| async move {
        for control in controls {
            control.exited().await;
        }
    };
    match shutdown {
        Shutdown::BrutalKill => controls.iter().for_each(|c| c.kill()),
        Shutdown::Infinity => controls.iter().for_each(|c| c.stop()),
        Shutdown::Timeout(limit) => {
            controls.iter().for_each(|c| c.stop());
            if tokio::time::timeout(limit, all_exited(controls.clone()))
                .await
                .is_ok()
            {
                return;
            }
            controls.iter().for_each(|c| c.kill());
        }
    }
    all_exited(controls).await;
}

/// Sent by a child's wrapper to its supervisor when the child has exited (OTP's `'EXIT'`).
#[derive(Debug)]
pub(crate) struct ChildExited {
    /// Where the child sits in a dynamic supervisor's table; unused by static supervisors.
    pub(crate) slot: usize,
    /// Which start of the child exited; a stale number means the supervisor already let it go.
    pub(crate) incarnation: u64,
    /// How it ended.
    pub(crate) reason: ExitReason,
}

impl Message for ChildExited {
    type Result = ();
}

/// Where a child reports its exit.
pub(crate) struct ExitNotice {
    /// The parent supervisor; `None` for a root, whose exit is only awaited through its control.
    pub(crate) parent: Option<Recipient<ChildExited>>,
    /// Copied into [`ChildExited::slot`].
    pub(crate) slot: usize,
    /// Copied into [`ChildExited::incarnation`].
    pub(crate) incarnation: u64,
}

/// Lets an actor end its own life with an abnormal reason, so that a transient child is
/// restarted and the reason shows in logs: `signal.exit(ExitReason::error("…")); ctx.stop();`.
#[derive(Clone)]
pub struct ExitSignal {
    /// The child's control block, where the declared reason is kept.
    control: Arc<ChildControl>,
}

impl ExitSignal {
    /// Declares the reason this child will exit with when it next stops. The first call wins.
    pub fn exit(&self, reason: ExitReason) {
        let _ = self.control.declared.set(reason);
    }
}

/// Given to a child's start function: where the child lives in the tree, and how to start it.
pub struct ChildContext {
    /// The child's id, for logs and for the actor's own use.
    pub(crate) id: ChildId,
    /// The control block the supervisor keeps for this start of the child.
    pub(crate) control: Arc<ChildControl>,
    /// Where to report the exit.
    pub(crate) notice: ExitNotice,
}

impl ChildContext {
    pub(crate) fn new(id: ChildId, notice: ExitNotice) -> Self {
        ChildContext {
            id,
            control: ChildControl::new(),
            notice,
        }
    }

    /// The id of the child being started.
    pub fn id(&self) -> &ChildId {
        &self.id
    }

    /// A handle the actor can keep to declare an abnormal exit reason for itself.
    pub fn exit_signal(&self) -> ExitSignal {
        ExitSignal {
            control: self.control.clone(),
        }
    }

    /// Starts `actor` on the current Arbiter under supervision.
    pub fn start<A>(self, actor: A) -> Started<A>
    where
        A: Actor<Context = Context<A>>,
    {
        self.start_with(|_| actor)
    }

    /// Starts the actor built by `build`, which gets its context first (as `Actor::create`).
    pub fn start_with<A, F>(self, build: F) -> Started<A>
    where
        A: Actor<Context = Context<A>>,
        F: FnOnce(&mut Context<A>) -> A,
    {
        let mut ctx = Context::new();
        let actor = build(&mut ctx);
        let addr = ctx.address();
        let wrapper = SupervisedActor {
            actor: Some(ctx.into_future(actor)),
            control: self.control.clone(),
            notice: self.notice,
            id: self.id,
            stop_requested: false,
        };
        actix_rt::spawn(wrapper);
        Started {
            addr,
            child: StartedChild {
                control: self.control,
                link: None,
                ready: None,
            },
        }
    }
}

/// A started child whose actor type is still known, so its address can be kept.
pub struct Started<A: Actor> {
    /// The new actor's address.
    addr: Addr<A>,
    /// The type-erased part the supervisor keeps.
    child: StartedChild,
}

impl<A: Actor> Started<A> {
    /// The new actor's address.
    pub fn addr(&self) -> &Addr<A> {
        &self.addr
    }

    /// Marks the child as a supervisor reachable through `link`.
    pub(crate) fn set_link(mut self, link: SupervisorLink) -> Self {
        self.child.link = Some(link);
        self
    }

    /// Takes the readiness report, for a root that awaits it itself.
    pub(crate) fn take_ready(&mut self) -> Option<oneshot::Receiver<Result<(), StartError>>> {
        self.child.ready.take()
    }

    /// Makes the parent wait for `ready` before it counts the child as started.
    pub(crate) fn set_ready(mut self, ready: oneshot::Receiver<Result<(), StartError>>) -> Self {
        self.child.ready = Some(ready);
        self
    }
}

impl<A: Actor> From<Started<A>> for StartedChild {
    fn from(started: Started<A>) -> Self {
        started.child
    }
}

/// What a start function returns: the supervisor's handle on the new child.
pub struct StartedChild {
    /// Stops, kills and awaits the child.
    pub(crate) control: Arc<ChildControl>,
    /// Set when the child is itself a supervisor, to recurse into it for snapshots and kills.
    pub(crate) link: Option<SupervisorLink>,
    /// Set when the child reports start-up completion later (a supervisor starting its children).
    pub(crate) ready: Option<oneshot::Receiver<Result<(), StartError>>>,
}

/// Runs one child actor and reports how it ended. See the module documentation.
struct SupervisedActor<A: Actor<Context = Context<A>>> {
    /// actix's own actor future; `None` once the actor has been dropped.
    actor: Option<ContextFut<A, Context<A>>>,
    /// Requests from the supervisor, and where the exit is published.
    control: Arc<ChildControl>,
    /// Where to send the exit message.
    notice: ExitNotice,
    /// For the log line when a panic cannot be reported to a parent.
    id: ChildId,
    /// Whether `ctx.stop()` was already called for a stop request (it is called once).
    stop_requested: bool,
}

impl<A: Actor<Context = Context<A>>> SupervisedActor<A> {
    /// Drops the actor without running `stopping`/`stopped`; a panic in its `Drop` is contained.
    fn drop_actor(&mut self) {
        if let Some(mut actor) = self.actor.take() {
            actor.ctx().terminate();
            let _ = catch_unwind(AssertUnwindSafe(move || drop(actor)));
        }
    }

    fn report(&mut self, reason: ExitReason) {
        self.control.finish(reason.clone());
        let exited = ChildExited {
            slot: self.notice.slot,
            incarnation: self.notice.incarnation,
            reason,
        };
        match self.notice.parent.take() {
            // `do_send` ignores the mailbox capacity: an exit notice must never be dropped.
            Some(parent) if parent.connected() => parent.do_send(exited),
            Some(_) => {
                // The parent is gone (it was killed): nobody else will log this exit.
                if exited.reason.is_abnormal() {
                    tracing::warn!(child = %self.id, reason = %exited.reason, "orphaned child exited");
                }
            }
            None => {
                if let ExitReason::Panic { .. } = exited.reason {
                    tracing::error!(child = %self.id, reason = %exited.reason, "root panicked");
                }
            }
        }
    }
}

impl<A: Actor<Context = Context<A>>> Future for SupervisedActor<A> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(actor) = this.actor.as_mut() else {
            return Poll::Ready(());
        };
        this.control.child_waker.register(cx.waker());
        match this.control.request.load(Ordering::Acquire) {
            KILL => {
                this.drop_actor();
                this.report(ExitReason::Killed);
                return Poll::Ready(());
            }
            STOP if !this.stop_requested => {
                this.stop_requested = true;
                actor.ctx().stop();
            }
            _ => {}
        }
        let polled =
            exit::supervised(|| catch_unwind(AssertUnwindSafe(|| Pin::new(actor).poll(cx))));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => {
                this.actor = None;
                let reason = match this.control.declared.get() {
                    Some(declared) => declared.clone(),
                    None if this.stop_requested => ExitReason::Shutdown,
                    None => ExitReason::Normal,
                };
                this.report(reason);
                Poll::Ready(())
            }
            Err(payload) => {
                let reason = exit::panic_reason(payload);
                this.drop_actor();
                this.report(reason);
                Poll::Ready(())
            }
        }
    }
}

impl<A: Actor<Context = Context<A>>> Drop for SupervisedActor<A> {
    /// Reached with the actor still present only when the task itself is dropped, which happens
    /// when its Arbiter stops: that is a kill.
    fn drop(&mut self) {
        if self.actor.is_some() {
            self.drop_actor();
            self.report(ExitReason::Killed);
        }
    }
}

/// How long a snapshot waits for a busy nested supervisor before reporting it without children.
pub(crate) const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(2);
