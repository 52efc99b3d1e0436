//! Introspection: OTP's `which_children` and `count_children`, and a serialisable snapshot of a
//! whole subtree for admin endpoints (an observer-like view).

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::Message;
use serde::Serialize;

use crate::exit::ExitReason;
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
    /// Its children's last abnormal exits, oldest first (at most [`CRASH_REPORTS_KEPT`]).
    pub crashes: Vec<CrashReport>,
}

/// Crash reports a supervisor keeps, the oldest dropped first.
pub const CRASH_REPORTS_KEPT: usize = 10;

/// Characters of an exit reason's message kept in a crash report: a panic message can be
/// anything, and the reports are kept in memory.
pub const CRASH_MESSAGE_LIMIT: usize = 1024;

/// One abnormal exit of a child and what its supervisor did about it, as the crash and
/// supervisor reports an Erlang node logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CrashReport {
    /// The child that exited (for a dynamic supervisor, the id its children share).
    pub child: ChildId,
    /// When its supervisor learned of the exit, in Unix milliseconds.
    pub unix_ms: u64,
    /// Why it exited: the panic message and location, or the exit reason.
    pub reason: ExitReason,
    /// What its supervisor did.
    pub outcome: CrashOutcome,
    /// The children restarted because of it (under `one_for_all` or `rest_for_one`, siblings
    /// too), in start order.
    pub restarted: Vec<ChildId>,
}

/// What a supervisor did after a child's abnormal exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashOutcome {
    /// It restarted the child (and the siblings its strategy names).
    Restarted,
    /// The child's restart type did not ask for a restart (a temporary child).
    NotRestarted,
    /// One restart too many within the period: the supervisor gave up and exited itself.
    Escalated,
    /// The supervisor was already shutting down.
    ShuttingDown,
}

/// A supervisor's last [`CRASH_REPORTS_KEPT`] crash reports: bounded in count and in size.
#[derive(Clone, Debug, Default)]
pub(crate) struct CrashLog {
    /// Oldest first.
    reports: VecDeque<CrashReport>,
}

impl CrashLog {
    /// Records an exit; a normal one (or a requested shutdown) is no crash and is not kept.
    pub(crate) fn record(
        &mut self,
        child: &ChildId,
        reason: &ExitReason,
        outcome: CrashOutcome,
        restarted: Vec<ChildId>,
    ) {
        if !reason.is_abnormal() {
            return;
        }
        if self.reports.len() == CRASH_REPORTS_KEPT {
            self.reports.pop_front();
        }
        self.reports.push_back(CrashReport {
            child: child.clone(),
            unix_ms: unix_ms(SystemTime::now()),
            reason: bounded(reason),
            outcome,
            restarted,
        });
    }

    /// The reports, oldest first.
    pub(crate) fn reports(&self) -> Vec<CrashReport> {
        self.reports.iter().cloned().collect()
    }
}

/// `reason` with its message cut to [`CRASH_MESSAGE_LIMIT`] characters.
fn bounded(reason: &ExitReason) -> ExitReason {
    let cut = |message: &String| -> String {
        match message.char_indices().nth(CRASH_MESSAGE_LIMIT) {
            Some((end, _)) => format!("{}…", &message[..end]),
            None => message.clone(),
        }
    };
    match reason {
        ExitReason::Panic { message, location } => ExitReason::Panic {
            message: cut(message),
            location: location.clone(),
        },
        ExitReason::Error { message } => ExitReason::Error {
            message: cut(message),
        },
        other => other.clone(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crash_log_keeps_the_last_abnormal_exits_only() {
        let mut log = CrashLog::default();
        let child = ChildId::from("worker");
        log.record(
            &child,
            &ExitReason::Normal,
            CrashOutcome::NotRestarted,
            vec![],
        );
        log.record(
            &child,
            &ExitReason::Shutdown,
            CrashOutcome::NotRestarted,
            vec![],
        );
        assert!(log.reports().is_empty(), "normal exits are no crashes");
        for n in 0..CRASH_REPORTS_KEPT + 3 {
            log.record(
                &child,
                &ExitReason::error(format!("failure {n}")),
                CrashOutcome::Restarted,
                vec![child.clone()],
            );
        }
        let reports = log.reports();
        assert_eq!(reports.len(), CRASH_REPORTS_KEPT);
        assert_eq!(reports[0].reason, ExitReason::error("failure 3"));
        assert_eq!(
            reports.last().unwrap().reason,
            ExitReason::error(format!("failure {}", CRASH_REPORTS_KEPT + 2))
        );
    }

    #[test]
    fn a_long_panic_message_is_cut() {
        let mut log = CrashLog::default();
        let reason = ExitReason::Panic {
            message: "é".repeat(CRASH_MESSAGE_LIMIT * 4),
            location: Some("src/lib.rs:1:1".to_owned()),
        };
        log.record(
            &ChildId::from("w"),
            &reason,
            CrashOutcome::Escalated,
            vec![],
        );
        let ExitReason::Panic { message, location } = &log.reports()[0].reason else {
            panic!("still a panic");
        };
        assert_eq!(
            message.chars().count(),
            CRASH_MESSAGE_LIMIT + 1,
            "cut, with an ellipsis"
        );
        assert_eq!(location.as_deref(), Some("src/lib.rs:1:1"));
    }
}
