//! Allocations per cache hit, counted by a global allocator on the answering thread: a hit
//! allocates nothing, whatever it answers, once the thread has answered one response before
//! (whose field list it keeps as a spare, `spare.rs`).

mod common;

use common::{get, TempDir};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use web_server_http::{Body, StaticFiles, StaticOptions, StatusCode};

/// The system allocator, counting allocations made by threads that asked for it.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread's allocations are counted (const-initialised: reading it never
    /// allocates).
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded unchanged to `System`; counting has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System::dealloc`'s.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is `System::realloc`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTED.with(|counted| counted.set(true));
    let value = f();
    COUNTED.with(|counted| counted.set(false));
    (value, ALLOCATIONS.load(Ordering::Relaxed) - before)
}

#[test]
fn a_hit_allocates_nothing_once_the_thread_has_a_spare_field_list() {
    let dir = TempDir::new("cached-alloc");
    let text = "allocation-free hits, one field list each\n".repeat(200);
    dir.write("page.html", text.as_bytes());
    let options = StaticOptions {
        cache_control: Some("public, max-age=60".to_owned()),
        ..StaticOptions::default()
    };
    let files = StaticFiles::new(dir.path(), options).unwrap();
    let entry = files.load("/page.html", 1 << 20).unwrap();
    assert!(files.precompress(&entry));
    let plain = get("GET", "/page.html", "Accept-Encoding: identity\r\n");
    // The first response on this thread allocates its field list, and leaves it as a spare.
    let etag = files
        .respond_cached(&entry, &plain)
        .header("etag")
        .unwrap()
        .to_owned();
    let conditional = get("GET", "/page.html", &format!("If-None-Match: {etag}\r\n"));
    let gzip = get(
        "GET",
        "/page.html",
        "Accept-Encoding: gzip, deflate, br\r\n",
    );
    let head = get("HEAD", "/page.html", "");

    for (name, request, status) in [
        ("plain 200", &plain, StatusCode::OK),
        ("304", &conditional, StatusCode::NOT_MODIFIED),
        ("gzip 200", &gzip, StatusCode::OK),
        ("HEAD", &head, StatusCode::OK),
    ] {
        let (response, count) = allocations(|| files.respond_cached(&entry, request));
        assert_eq!(response.status(), status, "{name}");
        assert_eq!(count, 0, "{name}: allocations");
        if status == StatusCode::OK && name != "HEAD" {
            assert!(matches!(response.body(), Body::Full(_)), "{name}");
        }
        let (_, freed) = allocations(|| drop(response));
        assert_eq!(freed, 0, "{name}: dropping allocates nothing");
    }
}
