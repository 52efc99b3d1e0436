//! A panic inside a supervised actor is logged exactly once, with the child id and the panic
//! message, and nothing is printed by the default panic hook; its supervisor keeps a crash
//! report with the message and location. In a file of its own because it
//! installs a process-wide tracing subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::mpsc;
use web_server_supervision::{
    ChildId, ChildSpec, CrashOutcome, ExitReason, Strategy, SupervisorFlags, SupervisorRef,
    SupervisorSpec,
};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Fragile(mpsc::UnboundedSender<()>);

impl Actor for Fragile {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        let _ = self.0.send(());
        ctx.run_interval(Duration::from_secs(3600), |_, _| {});
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Crash;

impl Handler<Crash> for Fragile {
    type Result = ();
    fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("disk on fire");
    }
}

#[actix::test]
async fn panic_is_logged_once_with_child_id_and_message() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let (tx, mut started) = mpsc::unbounded_channel();
    let addr: Arc<Mutex<Option<Addr<Fragile>>>> = Arc::default();
    let slot = addr.clone();
    let spec = SupervisorSpec::new("sup", SupervisorFlags::new(Strategy::OneForOne)).child(
        ChildSpec::worker("fragile_worker", move |ctx| {
            let started = ctx.start(Fragile(tx.clone()));
            *slot.lock().unwrap() = Some(started.addr().clone());
            Ok(started.into())
        }),
    );
    let root = SupervisorRef::start(spec).await.unwrap();
    started.recv().await.unwrap();
    let first = addr.lock().unwrap().clone().unwrap();
    first.do_send(Crash);
    started.recv().await.unwrap();
    // The supervisor keeps a crash report: the reason with its message and location, and what
    // it did about it.
    let snapshot = root.snapshot(false).await;
    let crashes = &snapshot.supervisor.as_ref().expect("a supervisor").crashes;
    assert_eq!(crashes.len(), 1, "{crashes:?}");
    let report = &crashes[0];
    assert_eq!(report.child.as_str(), "fragile_worker");
    assert_eq!(report.outcome, CrashOutcome::Restarted);
    assert_eq!(report.restarted, vec![ChildId::from("fragile_worker")]);
    let ExitReason::Panic { message, location } = &report.reason else {
        panic!("a panic: {:?}", report.reason);
    };
    assert_eq!(message, "disk on fire");
    assert!(
        location
            .as_deref()
            .is_some_and(|l| l.contains("panic_log.rs")),
        "{location:?}"
    );
    assert!(report.unix_ms > 0);
    root.shutdown().await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let panic_lines: Vec<&str> = log.lines().filter(|l| l.contains("disk on fire")).collect();
    assert_eq!(panic_lines.len(), 1, "logged once:\n{log}");
    assert!(
        panic_lines[0].contains("fragile_worker"),
        "{}",
        panic_lines[0]
    );
    assert!(
        panic_lines[0].contains("panic_log.rs"),
        "with its location: {}",
        panic_lines[0]
    );
}
