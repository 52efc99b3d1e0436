//! The `web_server` binary, run as a user runs it: until the HTTP server lands it runs a
//! supervised demo tree. The test waits on its log lines (events), never on sleeps, and every
//! wait is bounded.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn demo_tree_restarts_a_panicking_worker_and_stops_on_sigint() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_web_server"))
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let (lines_tx, lines) = mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = lines_tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let mut seen = Vec::new();
    let wait_for = |needle: &str, seen: &mut Vec<String>| loop {
        let line = lines
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("no line containing {needle:?}; saw:\n{}", seen.join("\n")));
        seen.push(line.clone());
        if line.contains(needle) {
            return line;
        }
    };

    wait_for("flaky_worker started with fresh state", &mut seen);
    let panic_line = wait_for("flaky_worker gives up", &mut seen);
    assert!(panic_line.contains("ERROR"), "{panic_line}");
    assert!(panic_line.contains("child=flaky_worker"), "{panic_line}");
    let restarted = wait_for("flaky_worker started with fresh state", &mut seen);
    assert!(restarted.contains("ticks=0"), "fresh state: {restarted}");
    let panics = seen.iter().filter(|l| l.contains("gives up")).count();
    assert_eq!(panics, 1, "the panic is logged once:\n{}", seen.join("\n"));

    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(status.success());
    wait_for("stopping the tree", &mut seen);
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let exit = done
        .recv_timeout(LIMIT)
        .expect("exits after SIGINT")
        .unwrap();
    assert!(exit.success(), "graceful stop exits 0: {exit:?}");
}
