//! Keep-alive markers: one empty file per process, named by its pid, in the agent's keep-alive directory
//! (`NBF_KEEPALIVE_DIR`). While a marked process lives the agent writes a heartbeat of kind `keepalive`,
//! whatever Jupyter says; a marker whose process is gone is removed at the next check.

use std::path::{Path, PathBuf};

/// Whether any marked process is alive; removes the markers of processes that are gone. A missing or
/// unreadable directory holds no marker.
pub fn any_alive(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    let mut alive = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if Path::new("/proc").join(pid.to_string()).exists() {
            alive = true;
        } else {
            // Best effort: a marker that cannot be removed is looked at again next time.
            let _ = std::fs::remove_file(entry.path());
        }
    }
    alive
}

/// Marks `pid` as a process to keep the notebook alive for; returns the marker's path.
pub fn mark(dir: &Path, pid: u32) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(pid.to_string());
    std::fs::write(&path, b"")?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_process_counts_and_a_dead_one_is_forgotten() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        assert!(!any_alive(dir.path()), "an empty directory holds no marker");
        assert!(!any_alive(&dir.path().join("missing")), "neither does a missing one");

        let mut child = std::process::Command::new("true").spawn().expect("true runs");
        let dead = child.id();
        child.wait().expect("true exits");
        let stale = mark(dir.path(), dead).expect("marked");
        std::fs::write(dir.path().join("not-a-pid"), b"").expect("written");
        assert!(!any_alive(dir.path()), "the process of the only pid marker is gone");
        assert!(!stale.exists(), "its marker is removed");

        mark(dir.path(), std::process::id()).expect("marked");
        assert!(any_alive(dir.path()), "this test's own process is alive");
    }
}
