//! The root of a tree: starting a top supervisor outside any parent, and the handle through
//! which an application (or an admin endpoint) talks to the running tree.

use std::sync::Arc;
use std::time::SystemTime;

use actix::{Addr, System};

use crate::child::{ChildContext, ChildControl, ExitNotice};
use crate::exit::{self, ExitReason};
use crate::snapshot::{
    self, ChildCounts, ChildInfo, ChildStatus, CountChildren, NodeSnapshot, TakeSnapshot,
    WhichChildren,
};
use crate::spec::{ChildId, ChildKind, ChildSpec, Restart, Shutdown, StartError};
use crate::supervisor::{
    ChildError, DeleteChild, KillChild, RestartChild, StartChild, Supervisor, SupervisorSpec,
    TerminateChild,
};

/// A handle on a running root supervisor. Cheap to clone.
#[derive(Clone)]
pub struct SupervisorRef {
    /// The root's id.
    id: ChildId,
    /// The root supervisor actor.
    addr: Addr<Supervisor>,
    /// Stops, kills and awaits the root.
    control: Arc<ChildControl>,
    /// For the root node of snapshots.
    started_at: SystemTime,
    /// The Arbiter thread the root runs on.
    arbiter: Option<String>,
}

impl SupervisorRef {
    /// Starts `spec` as a root supervisor on the current Arbiter and waits until every child
    /// has started. If a child fails to start, the children already started are stopped in
    /// reverse order and the error names the child.
    pub async fn start(spec: SupervisorSpec) -> Result<SupervisorRef, StartError> {
        exit::install_panic_hook();
        let notice = ExitNotice {
            parent: None,
            slot: 0,
            incarnation: 0,
        };
        let ctx = ChildContext::new(spec.id().clone(), notice);
        let control = ctx.control.clone();
        let mut started = spec.start(ctx);
        let addr = started.addr().clone();
        let ready = started.take_ready();
        if let Some(ready) = ready {
            match ready.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => return Err(err),
                Err(_) => {
                    return Err(StartError::new(
                        "the root supervisor exited during its start",
                    ))
                }
            }
        }
        Ok(SupervisorRef {
            id: spec.id().clone(),
            addr,
            control,
            started_at: SystemTime::now(),
            arbiter: Some(crate::snapshot::thread_label()),
        })
    }

    /// The root's id.
    pub fn id(&self) -> &ChildId {
        &self.id
    }

    /// The root supervisor's address, for messages this handle does not wrap.
    pub fn addr(&self) -> &Addr<Supervisor> {
        &self.addr
    }

    /// Whether the root is still running.
    pub fn is_running(&self) -> bool {
        !self.control.has_exited()
    }

    /// OTP's `which_children` on the root.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, ChildError> {
        self.addr
            .send(WhichChildren)
            .await
            .map_err(|_| ChildError::ShuttingDown)
    }

    /// OTP's `count_children` on the root.
    pub async fn count_children(&self) -> Result<ChildCounts, ChildError> {
        self.addr
            .send(CountChildren)
            .await
            .map_err(|_| ChildError::ShuttingDown)
    }

    /// A snapshot of the whole tree. Dynamic children are summarised unless `all_dynamic`.
    pub async fn snapshot(&self, all_dynamic: bool) -> NodeSnapshot {
        let view = self.addr.send(TakeSnapshot { all_dynamic }).await.ok();
        let running = self.is_running() && view.is_some();
        let (supervisor, dynamic, children) = match view {
            Some(view) => (Some(view.info), view.dynamic, view.children),
            None => (None, None, Vec::new()),
        };
        NodeSnapshot {
            id: self.id.clone(),
            kind: ChildKind::Supervisor,
            status: if running {
                ChildStatus::Running
            } else {
                ChildStatus::Stopped
            },
            restart: Restart::Permanent,
            shutdown: Shutdown::Infinity,
            restarts_in_window: 0,
            restarts_total: 0,
            started_unix_ms: Some(snapshot::unix_ms(self.started_at)),
            arbiter: self.arbiter.clone(),
            supervisor,
            dynamic,
            children,
        }
    }

    /// Kills the node with this id anywhere in the tree, abnormally (OTP's `exit(Pid, kill)`).
    /// Killing the root itself stops the whole tree.
    pub async fn kill_child(&self, id: &str) -> Result<(), ChildError> {
        if id == self.id.as_str() {
            self.kill();
            return Ok(());
        }
        self.addr
            .send(KillChild { id: id.to_owned() })
            .await
            .map_err(|_| ChildError::ShuttingDown)?
    }

    /// Adds a child under the root and starts it (OTP's `start_child/2`).
    pub async fn start_child(&self, spec: ChildSpec) -> Result<(), ChildError> {
        self.addr
            .send(StartChild(spec))
            .await
            .map_err(|_| ChildError::ShuttingDown)?
    }

    /// Stops a child of the root (OTP's `terminate_child/2`).
    pub async fn terminate_child(&self, id: &str) -> Result<(), ChildError> {
        let msg = TerminateChild { id: id.to_owned() };
        self.addr
            .send(msg)
            .await
            .map_err(|_| ChildError::ShuttingDown)?
    }

    /// Starts a stopped child of the root again (OTP's `restart_child/2`).
    pub async fn restart_child(&self, id: &str) -> Result<(), ChildError> {
        let msg = RestartChild { id: id.to_owned() };
        self.addr
            .send(msg)
            .await
            .map_err(|_| ChildError::ShuttingDown)?
    }

    /// Removes a stopped child's spec from the root (OTP's `delete_child/2`).
    pub async fn delete_child(&self, id: &str) -> Result<(), ChildError> {
        let msg = DeleteChild { id: id.to_owned() };
        self.addr
            .send(msg)
            .await
            .map_err(|_| ChildError::ShuttingDown)?
    }

    /// Stops the tree gracefully (children in reverse start order, each by its shutdown
    /// policy) and resolves with the root's exit reason once everything has stopped.
    pub async fn shutdown(&self) -> ExitReason {
        self.control.stop();
        self.control.exited().await
    }

    /// Kills the root at once; its children are killed with it.
    pub fn kill(&self) {
        self.control.kill();
    }

    /// Resolves when the root has exited, with its reason.
    pub async fn exited(&self) -> ExitReason {
        self.control.exited().await
    }

    /// Stops the actix `System` when the root exits: with code 0 after a normal shutdown, or
    /// with code 1 and an error log naming the reason when the tree gave up (escalation
    /// reached the root).
    pub fn stop_system_on_exit(&self) {
        let root = self.clone();
        actix_rt::spawn(async move {
            let reason = root.exited().await;
            if reason.is_abnormal() {
                tracing::error!(application = %root.id, %reason, "root supervisor exited; stopping the application");
                System::current().stop_with_code(1);
            } else {
                tracing::info!(application = %root.id, %reason, "root supervisor stopped");
                System::current().stop();
            }
        });
    }
}
