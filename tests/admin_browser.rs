//! A real browser (headless Chromium, from Debian's `chromium` package) opens the admin tree
//! page, waits until all nine seed nodes are drawn, and saves a screenshot under `target/`.
//! Where Chromium is not installed, the test says so and what to install, and does nothing else.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::temp::TempDir;
use support::{docroot, TestServer};
use web_server::http::Router;
use web_server::server::ServerConfig;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let found = Command::new("which").arg(name).output().ok()?;
            found
                .status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&found.stdout).trim()))
        })
}

fn headless(browser: &PathBuf, profile: &std::path::Path) -> Command {
    let mut command = Command::new(browser);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--window-size=1500,660",
        // Lets the page's fetches and first refresh complete before the DOM is read.
        "--virtual-time-budget=4000",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

#[test]
fn tree_page_draws_the_nine_seed_nodes() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED tree_page_draws_the_nine_seed_nodes: no chromium on this machine \
             (install Debian's `chromium` package; .ci/run does)"
        );
        return;
    };
    let root = docroot(&[("a.txt", b"alpha")]);
    let server = TestServer::start(
        ServerConfig {
            docroot: Some(root.to_path_buf()),
            workers: 2,
            admin: Some(support::admin_on_loopback(None, true)),
            ..ServerConfig::default()
        },
        Router::new,
    );
    let url = format!("http://{}/admin/tree.html", server.admin.unwrap());
    let profile = TempDir::new("chromium");

    let dom = headless(&browser, &profile)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("data-drawn=\"true\""),
        "the page drew the tree:\n{dom}"
    );
    for id in support::SEED_PROCESS_IDS {
        assert!(dom.contains(&format!("data-id=\"{id}\"")), "{id} is drawn");
    }
    assert!(dom.contains("data-status=\"running\""));

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    std::fs::create_dir_all(&target).unwrap();
    let shot = target.join("admin-tree.png");
    let _ = std::fs::remove_file(&shot);
    let status = headless(&browser, &profile)
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let png = std::fs::read(&shot).expect("a screenshot was saved");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    eprintln!("screenshot of the tree page: {}", shot.display());
}
