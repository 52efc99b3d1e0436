//! One test per supervision rule, named after the rule. Tests wait on events sent by the test
//! children (started, stopped gracefully, dropped), never on sleeps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::mpsc;
use web_server_supervision::{
    ChildError, ChildSpec, ChildStatus, CountChildren, DynamicSupervisor, DynamicSupervisorSpec,
    ExitReason, ExitSignal, Restart, Shutdown, StartDynamicChild, StartError, Strategy,
    SupervisorFlags, SupervisorRef, SupervisorSpec, TerminateDynamicChild,
};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Started(String),
    /// `stopped()` ran: the child was stopped gracefully.
    Stopped(String),
    /// The actor was dropped (after any kind of exit).
    Gone(String),
}

use Event::{Gone, Started, Stopped};

fn started(name: &str) -> Event {
    Started(name.to_owned())
}
fn stopped(name: &str) -> Event {
    Stopped(name.to_owned())
}
fn gone(name: &str) -> Event {
    Gone(name.to_owned())
}

/// Records events and the latest address of every test child.
#[derive(Clone)]
struct Harness {
    events: mpsc::UnboundedSender<Event>,
    addrs: Arc<Mutex<HashMap<String, Addr<TestChild>>>>,
}

struct Events(mpsc::UnboundedReceiver<Event>);

impl Events {
    /// The next event, or a failed test if none comes within 10 s (a hang, not a slow machine).
    async fn next(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(10), self.0.recv())
            .await
            .expect("timed out waiting for a supervision event")
            .expect("event channel closed")
    }

    async fn take(&mut self, n: usize) -> Vec<Event> {
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            events.push(self.next().await);
        }
        events
    }

    /// The next `n` events, ignoring `Stopped` ones (which only some exits produce).
    async fn take_lifecycle(&mut self, n: usize) -> Vec<Event> {
        let mut events = Vec::with_capacity(n);
        while events.len() < n {
            match self.next().await {
                Stopped(_) => {}
                event => events.push(event),
            }
        }
        events
    }

    fn assert_quiet(&mut self) {
        assert!(
            self.0.try_recv().is_err(),
            "no further supervision events were expected"
        );
    }
}

fn harness() -> (Harness, Events) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Harness {
            events: tx,
            addrs: Arc::default(),
        },
        Events(rx),
    )
}

impl Harness {
    fn addr(&self, name: &str) -> Addr<TestChild> {
        self.addrs.lock().unwrap()[name].clone()
    }

    /// A permanent worker named `name` that keeps its address in the harness.
    fn worker(&self, name: &str) -> ChildSpec {
        self.worker_with(name, false)
    }

    /// A worker whose `stopping` refuses to stop, so only a kill ends it.
    fn stubborn_worker(&self, name: &str) -> ChildSpec {
        self.worker_with(name, true)
    }

    fn worker_with(&self, name: &str, stubborn: bool) -> ChildSpec {
        let harness = self.clone();
        let name = name.to_owned();
        ChildSpec::worker(name.clone(), move |ctx| {
            let child = TestChild {
                name: name.clone(),
                events: harness.events.clone(),
                handled: 0,
                stubborn,
                exit: ctx.exit_signal(),
            };
            let started = ctx.start(child);
            harness
                .addrs
                .lock()
                .unwrap()
                .insert(name.clone(), started.addr().clone());
            Ok(started.into())
        })
    }

    /// A worker whose start function fails.
    fn failing_worker(&self, name: &str) -> ChildSpec {
        ChildSpec::worker(name, |_ctx| Err(StartError::new("no resources")))
    }

    fn forget(&self, name: &str) {
        self.addrs.lock().unwrap().remove(name);
    }
}

/// A child that counts the messages it handled, so a restart is seen as a reset count.
struct TestChild {
    name: String,
    events: mpsc::UnboundedSender<Event>,
    handled: u32,
    stubborn: bool,
    exit: ExitSignal,
}

impl Actor for TestChild {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {
        let _ = self.events.send(Started(self.name.clone()));
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        if self.stubborn {
            Running::Continue
        } else {
            Running::Stop
        }
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        let _ = self.events.send(Stopped(self.name.clone()));
    }
}

impl Drop for TestChild {
    fn drop(&mut self) {
        let _ = self.events.send(Gone(self.name.clone()));
    }
}

/// Counts one more handled message and returns the count.
#[derive(Message)]
#[rtype(result = "u32")]
struct Bump;

impl Handler<Bump> for TestChild {
    type Result = u32;
    fn handle(&mut self, _: Bump, _: &mut Context<Self>) -> u32 {
        self.handled += 1;
        self.handled
    }
}

/// Panics inside a handler.
#[derive(Message)]
#[rtype(result = "()")]
struct Crash;

impl Handler<Crash> for TestChild {
    type Result = ();
    fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("{} was told to crash", self.name);
    }
}

/// Stops normally.
#[derive(Message)]
#[rtype(result = "()")]
struct StopNormally;

impl Handler<StopNormally> for TestChild {
    type Result = ();
    fn handle(&mut self, _: StopNormally, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Stops with a declared abnormal reason.
#[derive(Message)]
#[rtype(result = "()")]
struct Fail;

impl Handler<Fail> for TestChild {
    type Result = ();
    fn handle(&mut self, _: Fail, ctx: &mut Context<Self>) {
        self.exit.exit(ExitReason::error("failed on purpose"));
        ctx.stop();
    }
}

fn flags(strategy: Strategy, intensity: u32) -> SupervisorFlags {
    SupervisorFlags::new(strategy).intensity(intensity, Duration::from_secs(60))
}

async fn start_tree(spec: SupervisorSpec, events: &mut Events, children: usize) -> SupervisorRef {
    let root = SupervisorRef::start(spec).await.expect("the tree starts");
    events.take(children).await;
    root
}

fn three_children(h: &Harness, strategy: Strategy) -> SupervisorSpec {
    SupervisorSpec::new("sup", flags(strategy, 5))
        .child(h.worker("a"))
        .child(h.worker("b"))
        .child(h.worker("c"))
}

#[actix::test]
async fn children_start_in_spec_order() {
    let (h, mut events) = harness();
    let root = SupervisorRef::start(three_children(&h, Strategy::OneForOne))
        .await
        .unwrap();
    assert_eq!(
        events.take(3).await,
        vec![started("a"), started("b"), started("c")]
    );
    root.shutdown().await;
}

#[actix::test]
async fn one_for_one_restarts_only_the_failed_child() {
    let (h, mut events) = harness();
    let root = start_tree(three_children(&h, Strategy::OneForOne), &mut events, 3).await;
    h.addr("a").send(Bump).await.unwrap();
    h.addr("c").send(Bump).await.unwrap();

    h.addr("b").do_send(Crash);
    assert_eq!(events.take(2).await, vec![gone("b"), started("b")]);

    assert_eq!(h.addr("a").send(Bump).await.unwrap(), 2, "a kept its state");
    assert_eq!(h.addr("c").send(Bump).await.unwrap(), 2, "c kept its state");
    events.assert_quiet();
    root.shutdown().await;
}

#[actix::test]
async fn one_for_all_restarts_all_children() {
    let (h, mut events) = harness();
    let root = start_tree(three_children(&h, Strategy::OneForAll), &mut events, 3).await;
    h.addr("a").send(Bump).await.unwrap();

    h.addr("b").do_send(Crash);
    assert_eq!(
        events.take(8).await,
        vec![
            gone("b"),
            stopped("c"),
            gone("c"),
            stopped("a"),
            gone("a"),
            started("a"),
            started("b"),
            started("c"),
        ],
        "the others stop in reverse start order, then all start in order"
    );
    assert_eq!(h.addr("a").send(Bump).await.unwrap(), 1, "a was restarted");
    root.shutdown().await;
}

#[actix::test]
async fn rest_for_one_restarts_later_children() {
    let (h, mut events) = harness();
    let root = start_tree(three_children(&h, Strategy::RestForOne), &mut events, 3).await;
    h.addr("a").send(Bump).await.unwrap();

    h.addr("b").do_send(Crash);
    assert_eq!(
        events.take(5).await,
        vec![
            gone("b"),
            stopped("c"),
            gone("c"),
            started("b"),
            started("c")
        ]
    );
    assert_eq!(
        h.addr("a").send(Bump).await.unwrap(),
        2,
        "a, started before b, kept its state"
    );
    root.shutdown().await;
}

#[actix::test]
async fn permanent_child_restarts_after_normal_exit() {
    let (h, mut events) = harness();
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5)).child(h.worker("p"));
    let root = start_tree(spec, &mut events, 1).await;
    h.addr("p").do_send(StopNormally);
    assert_eq!(
        events.take(3).await,
        vec![stopped("p"), gone("p"), started("p")]
    );
    root.shutdown().await;
}

#[actix::test]
async fn permanent_child_restarts_after_abnormal_exit() {
    let (h, mut events) = harness();
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5)).child(h.worker("p"));
    let root = start_tree(spec, &mut events, 1).await;
    h.addr("p").do_send(Fail);
    assert_eq!(
        events.take(3).await,
        vec![stopped("p"), gone("p"), started("p")]
    );
    root.shutdown().await;
}

#[actix::test]
async fn transient_child_is_not_restarted_after_normal_exit() {
    let (h, mut events) = harness();
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5))
        .child(h.worker("t").restart(Restart::Transient));
    let root = start_tree(spec, &mut events, 1).await;
    h.addr("t").do_send(StopNormally);
    assert_eq!(events.take(2).await, vec![stopped("t"), gone("t")]);
    let children = root.which_children().await.unwrap();
    assert_eq!(
        children[0].status,
        ChildStatus::Stopped,
        "the spec stays, stopped"
    );
    events.assert_quiet();
    root.shutdown().await;
}

#[actix::test]
async fn transient_child_restarts_after_abnormal_exit() {
    let (h, mut events) = harness();
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5))
        .child(h.worker("t").restart(Restart::Transient));
    let root = start_tree(spec, &mut events, 1).await;
    h.addr("t").do_send(Fail);
    assert_eq!(
        events.take(3).await,
        vec![stopped("t"), gone("t"), started("t")]
    );
    h.addr("t").do_send(Crash);
    assert_eq!(events.take(2).await, vec![gone("t"), started("t")]);
    root.shutdown().await;
}

#[actix::test]
async fn temporary_child_is_never_restarted_and_its_spec_is_removed() {
    let (h, mut events) = harness();
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5))
        .child(h.worker("keep"))
        .child(h.worker("tmp").restart(Restart::Temporary));
    let root = start_tree(spec, &mut events, 2).await;
    h.addr("tmp").do_send(Crash);
    assert_eq!(events.next().await, gone("tmp"));
    let ids: Vec<String> = root
        .which_children()
        .await
        .unwrap()
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(ids, vec!["keep"]);
    events.assert_quiet();
    root.shutdown().await;
}

#[actix::test]
async fn exit_when_all_addresses_are_dropped_is_normal() {
    let (h, mut events) = harness();
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5))
        .child(h.worker("t").restart(Restart::Transient));
    let root = start_tree(spec, &mut events, 1).await;
    h.forget("t");
    assert_eq!(events.take(2).await, vec![stopped("t"), gone("t")]);
    let children = root.which_children().await.unwrap();
    assert_eq!(
        children[0].status,
        ChildStatus::Stopped,
        "a normal exit: not restarted"
    );
    root.shutdown().await;
}

#[actix::test]
async fn panic_in_handler_restarts_child_with_fresh_state() {
    let (h, mut events) = harness();
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5)).child(h.worker("w"));
    let root = start_tree(spec, &mut events, 1).await;
    assert_eq!(h.addr("w").send(Bump).await.unwrap(), 1);
    assert_eq!(h.addr("w").send(Bump).await.unwrap(), 2);

    let old = h.addr("w");
    assert!(
        old.send(Crash).await.is_err(),
        "the caller sees the mailbox close"
    );
    assert_eq!(events.take(2).await, vec![gone("w"), started("w")]);
    assert_eq!(
        h.addr("w").send(Bump).await.unwrap(),
        1,
        "fresh state after restart"
    );
    root.shutdown().await;
}

#[actix::test]
async fn intensity_exceeded_escalates_through_two_levels() {
    let (h, mut events) = harness();
    let mid = SupervisorSpec::new("mid", flags(Strategy::OneForOne, 1)).child(h.worker("w"));
    let top =
        SupervisorSpec::new("top", flags(Strategy::OneForOne, 1)).child(mid.into_child_spec());
    let root = start_tree(top, &mut events, 1).await;

    // First crash: within mid's intensity, mid restarts w.
    h.addr("w").do_send(Crash);
    assert_eq!(events.take(2).await, vec![gone("w"), started("w")]);
    // Second crash: mid gives up and exits abnormally; top restarts mid, which starts a fresh w.
    h.addr("w").do_send(Crash);
    assert_eq!(events.take(2).await, vec![gone("w"), started("w")]);
    let snapshot = root.snapshot(false).await;
    let mid_node = snapshot.find("mid").unwrap();
    assert_eq!(mid_node.restarts_total, 1, "top restarted mid once");
    assert_eq!(
        mid_node.find("w").unwrap().restarts_total,
        0,
        "w belongs to a fresh mid"
    );

    // Two more crashes: mid gives up again, which is one restart too many for top.
    h.addr("w").do_send(Crash);
    assert_eq!(events.take(2).await, vec![gone("w"), started("w")]);
    h.addr("w").do_send(Crash);
    assert_eq!(events.next().await, gone("w"));
    let reason = root.exited().await;
    assert_eq!(reason, ExitReason::error("reached_max_restart_intensity"));
    assert!(!root.is_running());
    events.assert_quiet();
}

#[actix::test]
async fn shutdown_stops_children_in_reverse_start_order() {
    let (h, mut events) = harness();
    let root = start_tree(three_children(&h, Strategy::OneForOne), &mut events, 3).await;
    assert_eq!(root.shutdown().await, ExitReason::Shutdown);
    assert_eq!(
        events.take(6).await,
        vec![
            stopped("c"),
            gone("c"),
            stopped("b"),
            gone("b"),
            stopped("a"),
            gone("a")
        ]
    );
}

#[actix::test]
async fn shutdown_kills_a_slow_child_at_its_timeout() {
    let (h, mut events) = harness();
    let timeout = Duration::from_millis(100);
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5))
        .child(h.worker("first"))
        .child(
            h.stubborn_worker("slow")
                .shutdown(Shutdown::Timeout(timeout)),
        );
    let root = start_tree(spec, &mut events, 2).await;
    let began = Instant::now();
    root.shutdown().await;
    assert!(
        began.elapsed() >= timeout,
        "the slow child was given its timeout"
    );
    assert_eq!(
        events.take(3).await,
        vec![gone("slow"), stopped("first"), gone("first")],
        "killed (no stopped callback), then the next child in reverse order"
    );
}

#[actix::test]
async fn stop_together_asks_every_child_at_once_so_a_slow_one_delays_no_other() {
    let (h, mut events) = harness();
    let timeout = Duration::from_millis(100);
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5).stop_together())
        .child(h.worker("quick"))
        .child(
            h.stubborn_worker("slow")
                .shutdown(Shutdown::Timeout(timeout)),
        );
    let root = start_tree(spec, &mut events, 2).await;
    assert_eq!(root.shutdown().await, ExitReason::Shutdown);
    // In reverse order the slow child would be stopped (and killed at its timeout) first, and
    // only then the quick one. Together, the quick one is gone before the slow one's timeout.
    assert_eq!(
        events.take(3).await,
        vec![stopped("quick"), gone("quick"), gone("slow")],
    );
}

#[actix::test]
async fn brutal_kill_child_is_dropped_without_callbacks() {
    let (h, mut events) = harness();
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5))
        .child(h.worker("k").shutdown(Shutdown::BrutalKill));
    let root = start_tree(spec, &mut events, 1).await;
    root.shutdown().await;
    assert_eq!(events.next().await, gone("k"));
    events.assert_quiet();
}

#[actix::test]
async fn start_failure_fails_the_supervisor_start() {
    let (h, mut events) = harness();
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5))
        .child(h.worker("a"))
        .child(h.failing_worker("b"))
        .child(h.worker("c"));
    let err = match SupervisorRef::start(spec).await {
        Ok(_) => panic!("the start must fail"),
        Err(err) => err,
    };
    assert!(
        err.message()
            .contains("child b failed to start: no resources"),
        "{err}"
    );
    assert_eq!(
        events.take(3).await,
        vec![started("a"), stopped("a"), gone("a")],
        "a was stopped again and c never started"
    );
}

#[actix::test]
async fn start_failure_of_a_nested_supervisor_fails_the_parent() {
    let (h, mut events) = harness();
    let nested =
        SupervisorSpec::new("nested", flags(Strategy::OneForOne, 5)).child(h.failing_worker("bad"));
    let spec = SupervisorSpec::new("top", flags(Strategy::OneForOne, 5))
        .child(h.worker("a"))
        .child(nested.into_child_spec());
    let err = SupervisorRef::start(spec).await.err().expect("start fails");
    assert!(err.message().contains("nested"), "{err}");
    assert!(err.message().contains("bad"), "{err}");
    assert_eq!(
        events.take_lifecycle(2).await,
        vec![started("a"), gone("a")]
    );
}

#[actix::test]
async fn panic_in_start_function_is_a_start_failure() {
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5))
        .child(ChildSpec::worker("p", |_ctx| panic!("cannot build")));
    let err = SupervisorRef::start(spec).await.err().expect("start fails");
    assert!(err.message().contains("cannot build"), "{err}");
}

#[actix::test]
async fn kill_child_by_id_restarts_it_anywhere_in_the_tree() {
    let (h, mut events) = harness();
    let mid = SupervisorSpec::new("mid", flags(Strategy::OneForOne, 5)).child(h.worker("deep"));
    let spec = SupervisorSpec::new("top", flags(Strategy::OneForOne, 5))
        .child(h.worker("shallow"))
        .child(mid.into_child_spec());
    let root = start_tree(spec, &mut events, 2).await;

    root.kill_child("deep").await.unwrap();
    assert_eq!(events.take(2).await, vec![gone("deep"), started("deep")]);
    root.kill_child("shallow").await.unwrap();
    assert_eq!(
        events.take(2).await,
        vec![gone("shallow"), started("shallow")]
    );
    root.kill_child("mid").await.unwrap();
    assert_eq!(
        events.take(2).await,
        vec![gone("deep"), started("deep")],
        "a killed supervisor takes its children with it and comes back with fresh ones"
    );
    assert_eq!(
        root.kill_child("nobody").await,
        Err(ChildError::NotFound("nobody".into()))
    );
    let snapshot = root.snapshot(false).await;
    assert_eq!(snapshot.find("shallow").unwrap().restarts_total, 1);
    assert_eq!(snapshot.find("mid").unwrap().restarts_total, 1);
    root.shutdown().await;
}

#[actix::test]
async fn child_runs_on_the_arbiter_its_spec_names() {
    let (h, mut events) = harness();
    let worker_thread = Arbiter::new();
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5))
        .child(h.worker("local"))
        .child(h.worker("remote").on_arbiter(worker_thread.handle()));
    let root = start_tree(spec, &mut events, 2).await;
    let snapshot = root.snapshot(false).await;
    let local = snapshot.find("local").unwrap().arbiter.clone().unwrap();
    let remote = snapshot.find("remote").unwrap().arbiter.clone().unwrap();
    assert_ne!(local, remote, "the remote child runs on its own thread");
    h.addr("remote").do_send(Crash);
    assert_eq!(
        events.take(2).await,
        vec![gone("remote"), started("remote")]
    );
    let again = root.snapshot(false).await;
    assert_eq!(
        again.find("remote").unwrap().arbiter.as_deref(),
        Some(remote.as_str())
    );
    root.shutdown().await;
    worker_thread.stop();
}

#[actix::test]
async fn snapshot_reports_shape_status_and_restarts() {
    let (h, mut events) = harness();
    let dyn_sup: DynamicSupervisorSpec<u32> =
        DynamicSupervisorSpec::new("conns_sup", "conn", |n: u32, ctx| {
            struct Conn(#[allow(dead_code)] u32, Option<Addr<Conn>>);
            impl Actor for Conn {
                type Context = Context<Self>;
                fn started(&mut self, ctx: &mut Context<Self>) {
                    // Holds its own address so it lives until told otherwise.
                    self.1 = Some(ctx.address());
                }
            }
            Ok(ctx.start(Conn(n, None)).into())
        });
    let dyn_addr: Arc<Mutex<Option<Addr<DynamicSupervisor<u32>>>>> = Arc::default();
    let slot = dyn_addr.clone();
    let dyn_sup = dyn_sup.on_start(move |addr| *slot.lock().unwrap() = Some(addr));
    let mid = SupervisorSpec::new("mid", flags(Strategy::RestForOne, 3))
        .child(h.worker("w1"))
        .child(dyn_sup.into_child_spec());
    let spec = SupervisorSpec::new("top", flags(Strategy::OneForAll, 2))
        .child(mid.into_child_spec())
        .child(h.worker("w2").restart(Restart::Transient));
    let root = start_tree(spec, &mut events, 2).await;
    let conns = dyn_addr.lock().unwrap().clone().unwrap();
    for n in 0..3 {
        conns.send(StartDynamicChild(n)).await.unwrap().unwrap();
    }
    h.addr("w1").do_send(Crash);
    assert_eq!(events.take(2).await, vec![gone("w1"), started("w1")]);

    let tree = root.snapshot(false).await;
    let ids: Vec<&str> = tree.walk().iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, vec!["top", "mid", "w1", "conns_sup", "w2"]);
    assert_eq!(
        tree.supervisor.as_ref().unwrap().strategy,
        Strategy::OneForAll
    );
    let mid_node = tree.find("mid").unwrap();
    let mid_info = mid_node.supervisor.as_ref().unwrap();
    assert_eq!(
        (mid_info.strategy, mid_info.intensity),
        (Strategy::RestForOne, 3)
    );
    assert_eq!(mid_info.restarts_in_window, 1);
    assert_eq!(mid_info.counts.specs, 2);
    assert_eq!(mid_info.counts.supervisors, 1);
    let w1 = tree.find("w1").unwrap();
    assert_eq!((w1.restarts_total, w1.restarts_in_window), (1, 1));
    assert_eq!(w1.status, ChildStatus::Running);
    assert!(w1.started_unix_ms.is_some() && w1.arbiter.is_some());
    let conns_node = tree.find("conns_sup").unwrap();
    assert_eq!(
        conns_node.restarts_total, 1,
        "rest_for_one restarted conns_sup, started after w1"
    );
    assert_eq!(
        conns_node.dynamic.as_ref().unwrap().count,
        0,
        "with its table of children"
    );
    assert_eq!(tree.find("w2").unwrap().restart, Restart::Transient);
    assert_eq!(
        tree.find("w2").unwrap().restarts_total,
        0,
        "w2 is outside mid"
    );

    let conns = dyn_addr.lock().unwrap().clone().unwrap();
    for n in 0..2 {
        conns.send(StartDynamicChild(n)).await.unwrap().unwrap();
    }
    let tree = root.snapshot(false).await;
    let summary = tree.find("conns_sup").unwrap().dynamic.clone().unwrap();
    assert_eq!((summary.count, summary.started_total), (2, 2));
    assert!(summary.oldest_started_unix_ms.is_some());
    assert!(
        tree.find("conns_sup").unwrap().children.is_empty(),
        "summarised, not listed"
    );

    let json = serde_json::to_value(&tree).unwrap();
    assert_eq!(
        json["children"][0]["supervisor"]["strategy"],
        "rest_for_one"
    );
    assert_eq!(json["children"][1]["restart"], "transient");
    assert_eq!(json["children"][1]["shutdown"], 5000);

    let all = root.snapshot(true).await;
    let listed: Vec<&str> = all
        .find("conns_sup")
        .unwrap()
        .children
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(listed, vec!["conn#0", "conn#1"]);
    root.shutdown().await;
}

#[actix::test]
async fn dynamic_children_start_and_stop_by_the_thousand() {
    const N: usize = 5_000;
    let (tx, mut gone_rx) = mpsc::unbounded_channel::<usize>();
    struct Conn(usize, mpsc::UnboundedSender<usize>, Option<Addr<Conn>>);
    impl Actor for Conn {
        type Context = Context<Self>;
        fn started(&mut self, ctx: &mut Context<Self>) {
            self.2 = Some(ctx.address());
        }
    }
    impl Drop for Conn {
        fn drop(&mut self) {
            let _ = self.1.send(self.0);
        }
    }
    #[derive(Message)]
    #[rtype(result = "()")]
    struct Close;
    impl Handler<Close> for Conn {
        type Result = ();
        fn handle(&mut self, _: Close, ctx: &mut Context<Self>) {
            self.2 = None;
            ctx.stop();
        }
    }
    let addrs: Arc<Mutex<Vec<Addr<Conn>>>> = Arc::default();
    let kept = addrs.clone();
    let sup_addr: Arc<Mutex<Option<Addr<DynamicSupervisor<usize>>>>> = Arc::default();
    let slot = sup_addr.clone();
    let spec = DynamicSupervisorSpec::new("conns_sup", "conn", move |n: usize, ctx| {
        let started = ctx.start(Conn(n, tx.clone(), None));
        kept.lock().unwrap().push(started.addr().clone());
        Ok(started.into())
    })
    .on_start(move |addr| *slot.lock().unwrap() = Some(addr));
    let root = SupervisorRef::start(
        SupervisorSpec::new("top", SupervisorFlags::default()).child(spec.into_child_spec()),
    )
    .await
    .unwrap();
    let sup = sup_addr.lock().unwrap().clone().unwrap();

    let mut refs = Vec::with_capacity(N);
    for n in 0..N {
        refs.push(sup.send(StartDynamicChild(n)).await.unwrap().unwrap());
    }
    assert_eq!(sup.send(CountChildren).await.unwrap().active, N);

    // Half stop by themselves, half are terminated through the supervisor.
    let conns: Vec<_> = addrs.lock().unwrap().drain(..).collect();
    for conn in &conns[..N / 2] {
        conn.do_send(Close);
    }
    for child in &refs[N / 2..] {
        sup.send(TerminateDynamicChild(*child))
            .await
            .unwrap()
            .unwrap();
    }
    let mut seen = vec![false; N];
    for _ in 0..N {
        let n = tokio::time::timeout(Duration::from_secs(10), gone_rx.recv())
            .await
            .expect("every child goes")
            .unwrap();
        assert!(!seen[n], "child {n} dropped twice");
        seen[n] = true;
    }
    assert_eq!(sup.send(CountChildren).await.unwrap().active, 0);
    assert!(
        matches!(
            sup.send(TerminateDynamicChild(refs[0])).await.unwrap(),
            Err(ChildError::NotFound(_))
        ),
        "a stopped child cannot be terminated twice"
    );
    root.shutdown().await;
}

#[actix::test]
async fn dynamic_supervisor_shutdown_stops_every_child() {
    let (tx, mut gone_rx) = mpsc::unbounded_channel::<u32>();
    struct Conn(u32, mpsc::UnboundedSender<u32>, Option<Addr<Conn>>);
    impl Actor for Conn {
        type Context = Context<Self>;
        fn started(&mut self, ctx: &mut Context<Self>) {
            self.2 = Some(ctx.address());
        }
    }
    impl Drop for Conn {
        fn drop(&mut self) {
            let _ = self.1.send(self.0);
        }
    }
    let sup_addr: Arc<Mutex<Option<Addr<DynamicSupervisor<u32>>>>> = Arc::default();
    let slot = sup_addr.clone();
    let spec = DynamicSupervisorSpec::new("conns_sup", "conn", move |n: u32, ctx| {
        Ok(ctx.start(Conn(n, tx.clone(), None)).into())
    })
    .on_start(move |addr| *slot.lock().unwrap() = Some(addr));
    let root = SupervisorRef::start(
        SupervisorSpec::new("top", SupervisorFlags::default()).child(spec.into_child_spec()),
    )
    .await
    .unwrap();
    let sup = sup_addr.lock().unwrap().clone().unwrap();
    for n in 0..100 {
        sup.send(StartDynamicChild(n)).await.unwrap().unwrap();
    }
    assert_eq!(root.shutdown().await, ExitReason::Shutdown);
    let mut count = 0;
    while gone_rx.try_recv().is_ok() {
        count += 1;
    }
    assert_eq!(
        count, 100,
        "every child was gone before the root reported its exit"
    );
}

#[actix::test]
async fn permanent_dynamic_children_restart_with_their_arguments() {
    let (h, mut events) = harness();
    let hh = h.clone();
    let sup_addr: Arc<Mutex<Option<Addr<DynamicSupervisor<String>>>>> = Arc::default();
    let slot = sup_addr.clone();
    let spec = DynamicSupervisorSpec::new("workers_sup", "worker", move |name: String, ctx| {
        let exit = ctx.exit_signal();
        let started = ctx.start(TestChild {
            name: name.clone(),
            events: hh.events.clone(),
            handled: 0,
            stubborn: false,
            exit,
        });
        hh.addrs
            .lock()
            .unwrap()
            .insert(name, started.addr().clone());
        Ok(started.into())
    })
    .child_restart(Restart::Permanent)
    .intensity(5, Duration::from_secs(60))
    .on_start(move |addr| *slot.lock().unwrap() = Some(addr));
    let root = SupervisorRef::start(
        SupervisorSpec::new("top", SupervisorFlags::default()).child(spec.into_child_spec()),
    )
    .await
    .unwrap();
    let sup = sup_addr.lock().unwrap().clone().unwrap();
    sup.send(StartDynamicChild("d1".to_owned()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(events.next().await, started("d1"));
    h.addr("d1").send(Bump).await.unwrap();
    h.addr("d1").do_send(Crash);
    assert_eq!(events.take(2).await, vec![gone("d1"), started("d1")]);
    assert_eq!(
        h.addr("d1").send(Bump).await.unwrap(),
        1,
        "restarted fresh, same arguments"
    );
    assert_eq!(sup.send(CountChildren).await.unwrap().active, 1);
    root.shutdown().await;
}

#[actix::test]
async fn run_time_child_operations_follow_otp() {
    let (h, mut events) = harness();
    let spec = SupervisorSpec::new("sup", flags(Strategy::OneForOne, 5)).child(h.worker("a"));
    let root = start_tree(spec, &mut events, 1).await;

    root.start_child(h.worker("b")).await.unwrap();
    assert_eq!(events.next().await, started("b"));
    assert_eq!(
        root.start_child(h.worker("b")).await,
        Err(ChildError::AlreadyPresent("b".into()))
    );
    let err = root.start_child(h.failing_worker("bad")).await.unwrap_err();
    assert!(matches!(err, ChildError::Start(_)), "{err}");
    assert_eq!(
        root.count_children().await.unwrap().specs,
        2,
        "a failed start_child leaves no spec"
    );

    root.terminate_child("b").await.unwrap();
    assert_eq!(events.take(2).await, vec![stopped("b"), gone("b")]);
    assert_eq!(
        root.delete_child("a").await,
        Err(ChildError::Running("a".into()))
    );
    root.restart_child("b").await.unwrap();
    assert_eq!(events.next().await, started("b"));
    root.terminate_child("b").await.unwrap();
    events.take(2).await;
    root.delete_child("b").await.unwrap();
    let counts = root.count_children().await.unwrap();
    assert_eq!((counts.specs, counts.active, counts.workers), (1, 1, 1));
    root.shutdown().await;
}
