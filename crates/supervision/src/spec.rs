//! Child specifications and supervisor flags: the static description of a tree, as OTP's
//! `child_spec()` and `sup_flags()` maps are.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix::ArbiterHandle;
use serde::{Serialize, Serializer};

use crate::child::{ChildContext, StartedChild};
use crate::exit::ExitReason;

/// The name of a child inside its supervisor, such as `web_server_cache`.
///
/// Cheap to clone (a shared string), because every dynamic child carries its template's id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildId(Arc<str>);

impl ChildId {
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for ChildId {
    fn from(id: &str) -> Self {
        ChildId(Arc::from(id))
    }
}

impl From<String> for ChildId {
    fn from(id: String) -> Self {
        ChildId(Arc::from(id))
    }
}

impl Serialize for ChildId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// When a child that has exited is started again (OTP's `restart`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Always restarted, whatever the exit reason.
    Permanent,
    /// Restarted only after an abnormal exit (anything but `Normal` or `Shutdown`).
    Transient,
    /// Never restarted; its spec is removed when it exits.
    Temporary,
}

impl Restart {
    /// Whether a child with this restart type is restarted after exiting for `reason`.
    pub fn restarts_after(self, reason: &ExitReason) -> bool {
        match self {
            Restart::Permanent => true,
            Restart::Transient => reason.is_abnormal(),
            Restart::Temporary => false,
        }
    }
}

/// How a supervisor stops a child (OTP's `shutdown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// Killed at once: no `stopping`/`stopped` callbacks run, only `Drop`.
    BrutalKill,
    /// Asked to stop, then killed if it has not exited within the duration.
    Timeout(Duration),
    /// Asked to stop and waited for as long as it takes (the default for supervisors).
    Infinity,
}

impl Serialize for Shutdown {
    /// As OTP prints it: `"brutal_kill"`, `"infinity"` or the timeout in milliseconds.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Shutdown::BrutalKill => serializer.serialize_str("brutal_kill"),
            Shutdown::Infinity => serializer.serialize_str("infinity"),
            Shutdown::Timeout(d) => serializer.serialize_u64(d.as_millis() as u64),
        }
    }
}

/// Whether a child is a worker or a supervisor of its own (OTP's `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildKind {
    /// Does the work; has no children.
    Worker,
    /// Supervises children of its own.
    Supervisor,
}

/// How a supervisor reacts when one child must be restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Restart only the child that exited.
    OneForOne,
    /// Stop every other child too, then restart them all in start order.
    OneForAll,
    /// Stop the children started after the one that exited, then restart it and them.
    RestForOne,
    /// Dynamic children of one template, started at run time (see [`crate::DynamicSupervisor`]).
    SimpleOneForOne,
}

/// A supervisor's strategy and restart intensity (OTP's `sup_flags()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupervisorFlags {
    /// What is restarted when a child must be.
    pub strategy: Strategy,
    /// How many restarts are tolerated within `period`; one more and the supervisor gives up.
    pub intensity: u32,
    /// The sliding window over which restarts are counted.
    pub period: Duration,
    /// Whether a shutdown stops the children all at once rather than one after another in
    /// reverse start order (OTP's only way). For children that are independent of each other,
    /// such as per-thread partitions of one pool: each gets its whole shutdown time from the
    /// same moment, so the supervisor is done within one child's time instead of their sum.
    pub stop_together: bool,
}

impl Default for SupervisorFlags {
    /// OTP's defaults: `one_for_one`, at most 1 restart in 5 seconds.
    fn default() -> Self {
        SupervisorFlags {
            strategy: Strategy::OneForOne,
            intensity: 1,
            period: Duration::from_secs(5),
            stop_together: false,
        }
    }
}

impl SupervisorFlags {
    /// Flags with the given strategy and OTP's default intensity (1 restart in 5 s).
    pub fn new(strategy: Strategy) -> Self {
        SupervisorFlags {
            strategy,
            ..Self::default()
        }
    }

    /// Sets how many restarts are tolerated within `period`.
    pub fn intensity(mut self, intensity: u32, period: Duration) -> Self {
        self.intensity = intensity;
        self.period = period;
        self
    }

    /// Stops the children all at once on shutdown (see [`stop_together`](Self::stop_together)).
    pub fn stop_together(mut self) -> Self {
        self.stop_together = true;
        self
    }
}

/// Why a child could not be started; makes the supervisor's own start fail, as in OTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartError {
    /// Human-readable cause, including the child id when the supervisor adds it.
    message: String,
}

impl StartError {
    /// A start error with the given cause.
    pub fn new(cause: impl fmt::Display) -> Self {
        StartError {
            message: cause.to_string(),
        }
    }

    /// The cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn in_child(self, id: &ChildId) -> Self {
        StartError {
            message: format!("child {id} failed to start: {}", self.message),
        }
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StartError {}

/// The function that builds a fresh child on every (re)start.
///
/// It runs on the child's Arbiter (actors are `!Send`, so they are built where they live) and
/// must start exactly one actor through [`ChildContext::start`] or [`ChildContext::start_with`].
pub type StartFn = Arc<dyn Fn(ChildContext) -> Result<StartedChild, StartError> + Send + Sync>;

/// Everything a supervisor needs to start, restart and stop one child.
#[derive(Clone)]
pub struct ChildSpec {
    /// Unique among its siblings; how the child is found for kills and in snapshots.
    pub(crate) id: ChildId,
    /// Builds fresh state on every start, so a restart never reuses a crashed actor's fields.
    pub(crate) start: StartFn,
    /// Decides whether an exit leads to a restart.
    pub(crate) restart: Restart,
    /// Decides how the child is stopped by its supervisor.
    pub(crate) shutdown: Shutdown,
    /// Shown in snapshots and counted by `count_children`.
    pub(crate) kind: ChildKind,
    /// The thread to start on; `None` is the supervisor's own Arbiter (no cross-thread hop).
    pub(crate) arbiter: Option<ArbiterHandle>,
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .field("own_arbiter", &self.arbiter.is_some())
            .finish()
    }
}

/// OTP's default shutdown for workers: 5 seconds to stop before being killed.
pub const DEFAULT_WORKER_SHUTDOWN: Shutdown = Shutdown::Timeout(Duration::from_secs(5));

impl ChildSpec {
    /// A permanent worker with OTP's default shutdown (5 s), started by `start`.
    pub fn worker<F>(id: impl Into<ChildId>, start: F) -> Self
    where
        F: Fn(ChildContext) -> Result<StartedChild, StartError> + Send + Sync + 'static,
    {
        ChildSpec {
            id: id.into(),
            start: Arc::new(start),
            restart: Restart::Permanent,
            shutdown: DEFAULT_WORKER_SHUTDOWN,
            kind: ChildKind::Worker,
            arbiter: None,
        }
    }

    /// A child built by `start` that is itself a supervisor (shutdown `infinity`).
    ///
    /// Use [`crate::SupervisorSpec::into_child_spec`] or
    /// [`crate::DynamicSupervisorSpec::into_child_spec`] rather than calling this directly.
    pub(crate) fn supervisor_with<F>(id: ChildId, start: F) -> Self
    where
        F: Fn(ChildContext) -> Result<StartedChild, StartError> + Send + Sync + 'static,
    {
        ChildSpec {
            id,
            start: Arc::new(start),
            restart: Restart::Permanent,
            shutdown: Shutdown::Infinity,
            kind: ChildKind::Supervisor,
            arbiter: None,
        }
    }

    /// Sets the restart type.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how the child is stopped.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Starts the child on another Arbiter (thread) instead of the supervisor's.
    pub fn on_arbiter(mut self, arbiter: ArbiterHandle) -> Self {
        self.arbiter = Some(arbiter);
        self
    }

    /// The child's id.
    pub fn id(&self) -> &ChildId {
        &self.id
    }

    /// The child's restart type.
    pub fn restart_type(&self) -> Restart {
        self.restart
    }

    /// The child's shutdown policy.
    pub fn shutdown_policy(&self) -> Shutdown {
        self.shutdown
    }

    /// Worker or supervisor.
    pub fn kind(&self) -> ChildKind {
        self.kind
    }
}
