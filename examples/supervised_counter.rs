//! A stateful actor under a supervisor: it counts, crashes, and comes back with fresh state,
//! while the supervisor's snapshot records the restart.
//!
//! Run with `cargo run --example supervised_counter`.

use actix::prelude::*;
use web_server::supervision::{
    ChildSpec, Strategy, SupervisorFlags, SupervisorRef, SupervisorSpec,
};

/// Counts the increments it was sent since its last (re)start.
struct Counter {
    /// Starts at zero in every incarnation: the supervisor builds a fresh `Counter` each time.
    value: u64,
}

impl Actor for Counter {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "u64")]
struct Increment;

impl Handler<Increment> for Counter {
    type Result = u64;
    fn handle(&mut self, _: Increment, _: &mut Context<Self>) -> u64 {
        self.value += 1;
        self.value
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Crash;

impl Handler<Crash> for Counter {
    type Result = ();
    fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("counter crashed at {}", self.value);
    }
}

#[actix::main]
async fn main() {
    // The start function publishes every new incarnation's address on a watch channel, where
    // the application finds the current one (and can wait for the next).
    let (publish, mut counter) = tokio::sync::watch::channel::<Option<Addr<Counter>>>(None);
    let spec = SupervisorSpec::new("example_sup", SupervisorFlags::new(Strategy::OneForOne)).child(
        ChildSpec::worker("counter", move |ctx| {
            let started = ctx.start(Counter { value: 0 });
            publish.send_replace(Some(started.addr().clone()));
            Ok(started.into())
        }),
    );
    let root = SupervisorRef::start(spec).await.expect("the tree starts");
    let current = |counter: &tokio::sync::watch::Receiver<Option<Addr<Counter>>>| {
        counter.borrow().clone().expect("started")
    };
    counter.mark_unchanged();

    for _ in 0..3 {
        current(&counter).send(Increment).await.unwrap();
    }
    let before = current(&counter).send(Increment).await.unwrap();
    println!("count before the crash: {before}");
    let _ = current(&counter).send(Crash).await; // the caller sees the mailbox close
    counter
        .changed()
        .await
        .expect("the supervisor restarts the counter");
    let after = current(&counter).send(Increment).await.unwrap();
    println!("count after the restart: {after}");
    let tree = root.snapshot(false).await;
    println!("{}", serde_json::to_string_pretty(&tree).unwrap());
    root.shutdown().await;
}
