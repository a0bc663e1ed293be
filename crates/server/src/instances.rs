//! Which OpenWatch processes sharing this data directory are alive. Each holds an exclusive
//! lock on `instances/<name>.lock` for its lifetime; the kernel drops the lock when the
//! process ends, even on SIGKILL. A lock another process can take therefore belongs to a
//! dead process, whose running jobs are taken back at once instead of after their lease
//! runs out (processes on other machines are still caught by the lease).

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::app::{AppState, now_ms};

/// This process's lock; the file is removed on a clean exit.
#[derive(Debug)]
pub struct Liveness {
    _file: File,
    path: PathBuf,
}

impl Drop for Liveness {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::debug!(path = %self.path.display(), error = %e, "removing this process's lock file");
        }
    }
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("instances")
}

/// Take this process's lock (`name` is its job lock owner prefix).
pub fn register(data_dir: &Path, name: &str) -> std::io::Result<Liveness> {
    let dir = dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.lock"));
    let file = File::create(&path)?;
    file.try_lock().map_err(std::io::Error::other)?;
    Ok(Liveness { _file: file, path })
}

/// Processes that registered here and are gone: their names and lock files.
fn dead(data_dir: &Path, own: &str) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir(data_dir)) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".lock"))
        else {
            continue;
        };
        if name == own {
            continue;
        }
        let Ok(file) = File::open(&path) else { continue };
        match file.try_lock() {
            Ok(()) => out.push((name.to_owned(), path)),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                tracing::warn!(path = %path.display(), error = %e, "checking a process lock")
            }
        }
    }
    out
}

/// Expire the leases of the running jobs of dead processes that shared this data directory,
/// so the next reap requeues them now; returns how many.
pub async fn reclaim(state: &AppState) -> anyhow::Result<u64> {
    let mut n = 0;
    for (name, path) in dead(&state.config.data_dir, &state.instance) {
        let taken = state.store().expire_leases(&format!("{name}-w"), now_ms()).await?;
        if taken > 0 {
            tracing::warn!(instance = name, jobs = taken, "taking back the jobs of a process that died");
        }
        n += taken;
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(n)
}
