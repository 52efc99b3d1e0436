//! Temporary directories for tests: unique and empty when made, removed when dropped, and kept
//! (their path printed) when the test fails, so that what it left can be inspected.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under [`std::env::temp_dir`], removed on drop unless the thread panics.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A new, empty directory whose name starts with `web_server_{label}_`: unique per process
    /// and per call.
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "web_server_{label}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // A process id can repeat, and a failed test keeps its directory: start empty, or a
        // file a test creates later (a 404 that must turn into a 200) would be there at once.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        // Canonical, so that paths the server reports compare equal to ours.
        let path = path.canonicalize().unwrap();
        TempDir { path }
    }

    /// A new directory holding `files` (name relative to it, content).
    pub fn with_files(label: &str, files: &[(&str, &[u8])]) -> TempDir {
        let dir = TempDir::new(label);
        for (name, content) in files {
            dir.write(name, content);
        }
        dir
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `content` to `name` (relative to the directory, parents created); its path.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, content).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        path
    }

    /// Creates the directory `name` (relative, parents too); its path.
    pub fn mkdir(&self, name: &str) -> PathBuf {
        let path = self.path.join(name);
        std::fs::create_dir_all(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        path
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "test failed; keeping {} for inspection",
                self.path.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
