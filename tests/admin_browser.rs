//! A real browser (headless Chromium, from Debian's `chromium` package) opens the admin page:
//! it draws all nine seed nodes with labels inside their boxes, charts with data from a server
//! under load, and a killed actor's crash report; screenshots are saved under `target/`. Where
//! Chromium is not installed, each test says so and what to install, and does nothing else.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use support::http::{exchange, try_send};
use support::temp::TempDir;
use support::{docroot, eventually, TestServer, WAIT};
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

fn headless(browser: &PathBuf, profile: &Path) -> Command {
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
        "--window-size=1500,1500",
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

    let shot = output_dir().join("admin-tree.png");
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

/// Where screenshots go: the target directory, which CI keeps as the tests' output.
fn output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    std::fs::create_dir_all(&target).unwrap();
    target
}

/// The opening tags of every `<tag ...>` element of `dom`, as (attribute, value) lists.
fn elements<'d>(dom: &'d str, tag: &str) -> Vec<Vec<(&'d str, &'d str)>> {
    let open = format!("<{tag} ");
    dom.match_indices(&open)
        .map(|(at, _)| {
            let rest = &dom[at + open.len()..];
            let end = rest.find('>').unwrap_or(rest.len());
            let mut attributes = Vec::new();
            let mut text = &rest[..end];
            while let Some(eq) = text.find("=\"") {
                let name = text[..eq].trim();
                let value_start = eq + 2;
                let Some(len) = text[value_start..].find('"') else {
                    break;
                };
                attributes.push((name, &text[value_start..value_start + len]));
                text = &text[value_start + len + 1..];
            }
            attributes
        })
        .collect()
}

fn attribute<'d>(element: &[(&'d str, &'d str)], name: &str) -> Option<&'d str> {
    element.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn dashboard_draws_live_charts_and_a_killed_actors_crash_report() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED dashboard_draws_live_charts_and_a_killed_actors_crash_report: no chromium \
             on this machine (install Debian's `chromium` package; .ci/run does)"
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
    let admin = server.admin.unwrap();

    // Kill the cache through the admin endpoint, as the page's button does.
    let mut conn = server.connect_admin();
    let killed = exchange(
        &mut conn,
        "POST /admin/actors/web_server_cache/kill HTTP/1.1\r\nHost: localhost\r\n\
         X-Requested-By: tests\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(killed.status, 200, "{}", killed.text());

    // Load until the test ends: cache hits, and a miss and a 404 in every ten requests.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (stop, site) = (stop.clone(), server.addr);
        std::thread::spawn(move || {
            let mut answered = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let path = if answered.is_multiple_of(10) {
                    "/missing"
                } else {
                    "/a.txt"
                };
                let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
                let reply = try_send(site, &request).expect("the site answers under load");
                assert!(reply.status == 200 || reply.status == 404, "{path}");
                answered += 1;
            }
            answered
        })
    };
    // The charts need a few samples with this load in them: one a second.
    let began = unix_ms();
    eventually("three samples of the load", WAIT, || {
        let mut conn = server.connect_admin();
        let stats = exchange(
            &mut conn,
            &format!("GET /admin/stats?since={began} HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        )
        .json();
        stats["samples"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["requests_per_second"]["2xx"].as_f64().unwrap() > 0.0)
            .count()
            >= 3
    });

    let url = format!("http://{admin}/admin/#web_server_cache");
    let profile = TempDir::new("chromium");
    let dom = headless(&browser, &profile)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("data-charts-drawn=\"true\""),
        "the page drew its charts:\n{dom}"
    );
    // Every chart with a series that is always present has a drawn line: several points.
    let paths = elements(&dom, "path");
    for series in [
        "2xx", "4xx", "p50", "p99", "open", "cached", "hits", "restarts",
    ] {
        let path = paths
            .iter()
            .find(|p| attribute(p, "data-series") == Some(series))
            .unwrap_or_else(|| panic!("a path for {series}:\n{dom}"));
        let points: usize = attribute(path, "data-points").unwrap().parse().unwrap();
        let d = attribute(path, "d").unwrap();
        assert!(
            points >= 2 && d.starts_with('M') && d.contains('L'),
            "{series} drawn with data: {path:?}"
        );
    }
    if cfg!(target_os = "linux") {
        let memory = paths
            .iter()
            .find(|p| attribute(p, "data-series") == Some("resident"))
            .unwrap();
        assert!(attribute(memory, "d").unwrap().contains('L'), "{memory:?}");
    }
    // The killed actor, selected by the address's fragment, shows its crash report.
    let crash = elements(&dom, "tr")
        .into_iter()
        .find(|row| attribute(row, "class") == Some("crash"))
        .unwrap_or_else(|| panic!("a crash report row:\n{dom}"));
    assert_eq!(attribute(&crash, "data-reason"), Some("killed"));
    let details = &dom[dom.find("id=\"details\"").unwrap()..];
    for shown in [
        "web_server_cache_sup",
        "killed",
        "restarted: web_server_cache",
    ] {
        assert!(
            details.contains(shown),
            "{shown} in the details:\n{details}"
        );
    }
    // Every label fits its box, long ids cut with an ellipsis (their title keeps them whole).
    assert!(
        dom.contains("data-labels-overflowing=\"0\""),
        "no label crosses its box:\n{dom}"
    );
    let truncated: Vec<_> = elements(&dom, "text")
        .into_iter()
        .filter(|t| attribute(t, "data-truncated") == Some("true"))
        .collect();
    assert!(
        !truncated.is_empty(),
        "web_server_tcp_acceptor_sup/N does not fit a box unshortened"
    );

    let shot = output_dir().join("admin-dashboard.png");
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
    eprintln!("screenshot of the dashboard: {}", shot.display());
    stop.store(true, Ordering::Relaxed);
    assert!(load.join().unwrap() > 0);
}
