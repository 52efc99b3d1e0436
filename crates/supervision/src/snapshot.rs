//! Introspection: OTP's `which_children` and `count_children`, and a serialisable snapshot of a
//! whole subtree for admin endpoints (an observer-like view).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::Message;
use serde::Serialize;

use crate::spec::{ChildId, ChildKind, Restart, Shutdown, Strategy};

/// Whether a child is alive, being restarted, or not running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildStatus {
    /// Started and not known to have exited.
    Running,
    /// Exited and waiting for its supervisor to start it again (OTP's `restarting`).
    Restarting,
    /// Not running and not about to be (a transient child that ended normally, or one that was
    /// terminated through the API; OTP's `undefined`).
    Stopped,
}

/// One row of `which_children`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChildInfo {
    /// The child's id.
    pub id: ChildId,
    /// Running, restarting or stopped.
    pub status: ChildStatus,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Its restart type.
    pub restart: Restart,
}

/// The answer to `count_children`, with OTP's four counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChildCounts {
    /// Child specs held (for a dynamic supervisor: children alive).
    pub specs: usize,
    /// Children currently running.
    pub active: usize,
    /// Children that are supervisors.
    pub supervisors: usize,
    /// Children that are workers.
    pub workers: usize,
}

/// A supervisor's own part of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SupervisorInfo {
    /// Its restart strategy.
    pub strategy: Strategy,
    /// Restarts tolerated per period.
    pub intensity: u32,
    /// The period, in milliseconds.
    pub period_ms: u64,
    /// Restarts it has made within the current period.
    pub restarts_in_window: u32,
    /// Its `count_children`.
    pub counts: ChildCounts,
}

/// Summary of a dynamic supervisor's children, given instead of listing thousands of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DynamicSummary {
    /// The id every dynamic child shares.
    pub child_id: ChildId,
    /// How many are alive.
    pub count: usize,
    /// When the oldest alive child started, in Unix milliseconds.
    pub oldest_started_unix_ms: Option<u64>,
    /// Dynamic children started since this supervisor started.
    pub started_total: u64,
}

/// A node of the live tree, with everything an observer-like view shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeSnapshot {
    /// The node's id.
    pub id: ChildId,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Running, restarting or stopped.
    pub status: ChildStatus,
    /// Its restart type.
    pub restart: Restart,
    /// How its supervisor stops it.
    pub shutdown: Shutdown,
    /// Restarts of this child within its supervisor's current period.
    pub restarts_in_window: u32,
    /// Restarts of this child since its supervisor started.
    pub restarts_total: u64,
    /// When it last started, in Unix milliseconds.
    pub started_unix_ms: Option<u64>,
    /// The name of the Arbiter thread it runs on.
    pub arbiter: Option<String>,
    /// For a supervisor: its strategy, intensity, period and counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<SupervisorInfo>,
    /// For a dynamic supervisor: a summary of its children.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<DynamicSummary>,
    /// Its children, in start order (dynamic ones only when asked for).
    pub children: Vec<NodeSnapshot>,
}

impl NodeSnapshot {
    /// Finds the first node with this id in the subtree (depth first, this node included).
    pub fn find(&self, id: &str) -> Option<&NodeSnapshot> {
        if self.id.as_str() == id {
            return Some(self);
        }
        self.children.iter().find_map(|child| child.find(id))
    }

    /// Every node of the subtree, depth first, this node first.
    pub fn walk(&self) -> Vec<&NodeSnapshot> {
        let mut nodes = vec![self];
        for child in &self.children {
            nodes.extend(child.walk());
        }
        nodes
    }
}

/// A supervisor's description of itself and its subtree; its parent adds what only the parent
/// knows (restart type, restart counts, start time) to make the [`NodeSnapshot`].
#[derive(Clone, Debug)]
pub struct SupervisorView {
    /// Strategy, intensity, period and counts.
    pub info: SupervisorInfo,
    /// Present for dynamic supervisors.
    pub dynamic: Option<DynamicSummary>,
    /// The children's nodes.
    pub children: Vec<NodeSnapshot>,
}

/// Asks a supervisor for its [`SupervisorView`].
#[derive(Clone, Copy, Debug)]
pub struct TakeSnapshot {
    /// List every dynamic child instead of summarising them.
    pub all_dynamic: bool,
}

impl Message for TakeSnapshot {
    type Result = SupervisorView;
}

/// Asks a supervisor for OTP's `which_children`.
#[derive(Clone, Copy, Debug)]
pub struct WhichChildren;

impl Message for WhichChildren {
    type Result = Vec<ChildInfo>;
}

/// Asks a supervisor for OTP's `count_children`.
#[derive(Clone, Copy, Debug)]
pub struct CountChildren;

impl Message for CountChildren {
    type Result = ChildCounts;
}

pub(crate) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

/// The current thread's name (actix names Arbiter threads), or its id when it has none.
pub(crate) fn thread_label() -> String {
    let thread = std::thread::current();
    match thread.name() {
        Some(name) => name.to_owned(),
        None => format!("{:?}", thread.id()),
    }
}
