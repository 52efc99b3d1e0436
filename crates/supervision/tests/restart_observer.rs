//! Restart observers: every restart a supervisor makes is reported once per restarted child,
//! with the supervisor's id, and a panicking observer cannot hurt the supervisor.
//!
//! Observers are process-wide, so this file has a binary of its own and each test uses
//! supervisor ids no other test uses.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use actix::prelude::*;
use web_server_supervision::{
    add_restart_observer, ChildId, ChildSpec, DynamicSupervisorSpec, ExitReason, ExitSignal,
    Restart, StartDynamicChild, Strategy, SupervisorFlags, SupervisorRef, SupervisorSpec,
};

/// Every restart reported so far, as (supervisor, child).
static SEEN: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

fn record(supervisor: &ChildId, child: &ChildId) {
    SEEN.lock()
        .unwrap()
        .push((supervisor.to_string(), child.to_string()));
}

fn panic_for_panicky_sup(supervisor: &ChildId, _child: &ChildId) {
    if supervisor.as_str() == "panicky_sup" {
        panic!("this observer is broken");
    }
}

fn observe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The broken observer comes first: the one after it must still be called.
        add_restart_observer(panic_for_panicky_sup);
        add_restart_observer(record);
    });
}

/// The restarts reported for `supervisor`, once there are at least `n` (or a failed test after
/// 10 s).
async fn seen_for(supervisor: &str, n: usize) -> Vec<String> {
    let began = Instant::now();
    loop {
        let seen: Vec<String> = SEEN
            .lock()
            .unwrap()
            .iter()
            .filter(|(sup, _)| sup == supervisor)
            .map(|(_, child)| child.clone())
            .collect();
        if seen.len() >= n {
            return seen;
        }
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "{n} restarts of {supervisor} reported; saw {seen:?}"
        );
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A worker that lives until killed; when `fail_first` counts zero starts so far, its first
/// incarnation exits abnormally at once.
struct Worker {
    /// Counts starts, to fail only the first one.
    fail_first: Option<&'static AtomicUsize>,
    /// Declares the abnormal exit.
    exit: ExitSignal,
}

impl Actor for Worker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(starts) = self.fail_first {
            if starts.fetch_add(1, Ordering::SeqCst) == 0 {
                self.exit.exit(ExitReason::error("first start fails"));
                ctx.stop();
                return;
            }
        }
        ctx.run_interval(Duration::from_secs(60), |_, _| {});
    }
}

fn worker(id: &str) -> ChildSpec {
    ChildSpec::worker(id, |ctx| {
        let exit = ctx.exit_signal();
        Ok(ctx
            .start(Worker {
                fail_first: None,
                exit,
            })
            .into())
    })
}

fn flags(strategy: Strategy) -> SupervisorFlags {
    SupervisorFlags::new(strategy).intensity(5, Duration::from_secs(60))
}

#[actix::test]
async fn one_for_one_reports_the_restarted_child() {
    observe();
    let spec = SupervisorSpec::new("ofo_sup", flags(Strategy::OneForOne))
        .child(worker("ofo_a"))
        .child(worker("ofo_b"));
    let root = SupervisorRef::start(spec).await.unwrap();
    root.kill_child("ofo_b").await.unwrap();
    assert_eq!(seen_for("ofo_sup", 1).await, vec!["ofo_b"]);
    let snapshot = root.snapshot(false).await;
    assert_eq!(snapshot.find("ofo_b").unwrap().restarts_total, 1);
    assert_eq!(snapshot.find("ofo_a").unwrap().restarts_total, 0);
    root.shutdown().await;
}

#[actix::test]
async fn one_for_all_reports_every_restarted_sibling() {
    observe();
    let spec = SupervisorSpec::new("ofa_sup", flags(Strategy::OneForAll))
        .child(worker("ofa_x"))
        .child(worker("ofa_y"));
    let root = SupervisorRef::start(spec).await.unwrap();
    root.kill_child("ofa_x").await.unwrap();
    assert_eq!(seen_for("ofa_sup", 2).await, vec!["ofa_x", "ofa_y"]);
    root.shutdown().await;
}

#[actix::test]
async fn rest_for_one_reports_the_child_and_those_after_it() {
    observe();
    let spec = SupervisorSpec::new("rfo_sup", flags(Strategy::RestForOne))
        .child(worker("rfo_1"))
        .child(worker("rfo_2"))
        .child(worker("rfo_3"));
    let root = SupervisorRef::start(spec).await.unwrap();
    root.kill_child("rfo_2").await.unwrap();
    assert_eq!(seen_for("rfo_sup", 2).await, vec!["rfo_2", "rfo_3"]);
    root.shutdown().await;
}

#[actix::test]
async fn nested_supervisors_report_under_their_own_id() {
    observe();
    let inner = SupervisorSpec::new("inner_sup", flags(Strategy::OneForOne)).child(worker("deep"));
    let spec =
        SupervisorSpec::new("outer_sup", flags(Strategy::OneForOne)).child(inner.into_child_spec());
    let root = SupervisorRef::start(spec).await.unwrap();
    root.kill_child("deep").await.unwrap();
    assert_eq!(seen_for("inner_sup", 1).await, vec!["deep"]);
    root.kill_child("inner_sup").await.unwrap();
    assert_eq!(seen_for("outer_sup", 1).await, vec!["inner_sup"]);
    root.shutdown().await;
}

#[actix::test]
async fn dynamic_supervisors_report_the_shared_child_id() {
    observe();
    static STARTS: AtomicUsize = AtomicUsize::new(0);
    let dynamic = DynamicSupervisorSpec::new("dyn_sup", "dyn_child", |(), ctx| {
        let exit = ctx.exit_signal();
        Ok(ctx
            .start(Worker {
                fail_first: Some(&STARTS),
                exit,
            })
            .into())
    })
    .child_restart(Restart::Transient)
    .intensity(5, Duration::from_secs(60));
    let addr = std::sync::Arc::new(Mutex::new(None));
    let dynamic = {
        let addr = addr.clone();
        dynamic.on_start(move |a| *addr.lock().unwrap() = Some(a))
    };
    let spec = SupervisorSpec::new("dyn_root_sup", flags(Strategy::OneForOne))
        .child(dynamic.into_child_spec());
    let root = SupervisorRef::start(spec).await.unwrap();
    let sup = addr
        .lock()
        .unwrap()
        .clone()
        .expect("the dynamic supervisor started");
    sup.send(StartDynamicChild(())).await.unwrap().unwrap();
    assert_eq!(seen_for("dyn_sup", 1).await, vec!["dyn_child"]);
    assert_eq!(STARTS.load(Ordering::SeqCst), 2, "restarted once, then ran");
    root.shutdown().await;
}

#[actix::test]
async fn a_panicking_observer_does_not_hurt_the_supervisor() {
    observe();
    let spec = SupervisorSpec::new("panicky_sup", flags(Strategy::OneForOne))
        .child(worker("panicky_child"));
    let root = SupervisorRef::start(spec).await.unwrap();
    for restarts in 1..=2 {
        root.kill_child("panicky_child").await.unwrap();
        assert_eq!(seen_for("panicky_sup", restarts).await.len(), restarts);
    }
    assert!(root.is_running());
    let snapshot = root.snapshot(false).await;
    assert_eq!(snapshot.find("panicky_child").unwrap().restarts_total, 2);
    root.shutdown().await;
}
