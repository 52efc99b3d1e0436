//! Path normalisation must never panic and never produce a path that climbs out of the root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Component;
use web_server_http::static_files::resolve::normalize;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    if let Ok(path) = normalize(input) {
        let relative = path.relative_path();
        assert!(relative.components().all(|c| matches!(c, Component::Normal(_))), "{input:?} -> {relative:?}");
        for segment in path.segments() {
            assert!(!segment.is_empty() && segment != "." && segment != "..");
            assert!(!segment.contains(['/', '\\', '\0']));
        }
    }
});
