//! The store's key files, kept outside the database so that someone who can write the
//! database alone can neither read credentials nor rewrite the audit log unnoticed. Each is
//! 32 random bytes in hex, created with mode 0600 at first start; a file readable by group
//! or others is refused.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::StoreError;

/// Where the store's two keys live.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    /// Seals credential secrets (AES-256-GCM).
    pub credential: PathBuf,
    /// Keys the audit hash chain (HMAC-SHA256).
    pub audit: PathBuf,
}

impl KeyFiles {
    /// `credential.key` and `audit.key` in `dir`.
    pub fn in_dir(dir: &Path) -> KeyFiles {
        KeyFiles { credential: dir.join("credential.key"), audit: dir.join("audit.key") }
    }
}

/// The keys a store was opened with.
#[derive(Debug)]
pub(crate) struct StoreKeys {
    pub credential: crate::secrets::SecretKey,
    pub audit: crate::audit::AuditKey,
    pub files: KeyFiles,
}

/// `<path>.new`: a key written before the database change that needs it, moved into place
/// after that change commits, so a crash in between is finished at the next start.
pub(crate) fn pending_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".new");
    PathBuf::from(p)
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| StoreError::Secret(format!("no randomness: {e}")))?;
    Ok(b)
}

/// Read a key file, refusing one that others may read or that is not 64 hex digits.
pub(crate) fn read_key_file(path: &Path) -> Result<[u8; 32], StoreError> {
    check_mode(path)?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| StoreError::Secret(format!("reading {}: {e}", path.display())))?;
    hex::decode(text.trim()).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| {
        StoreError::Secret(format!("{}: expected 64 hex digits (a 32-byte key)", path.display()))
    })
}

/// The key in `path`, or a new random one written there (mode 0600) when it is absent.
/// Processes starting at once agree on one key: a new file is linked into place only while
/// `path` is still absent, and a process that loses reads the winner's.
pub(crate) fn load_or_create(path: &Path) -> Result<[u8; 32], StoreError> {
    if path.exists() {
        return read_key_file(path);
    }
    let bytes = random::<32>()?;
    let tmp = write_temporary(path, &bytes)
        .map_err(|e| StoreError::Secret(format!("creating {}: {e}", path.display())))?;
    let linked = std::fs::hard_link(&tmp, path);
    remove_if_present(&tmp)?;
    match linked {
        Ok(()) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(e) => Err(StoreError::Secret(format!("creating {}: {e}", path.display()))),
    }
}

/// Write a key file atomically with mode 0600, replacing any file there.
pub(crate) fn write_key_file(path: &Path, bytes: &[u8; 32]) -> std::io::Result<()> {
    let tmp = write_temporary(path, bytes)?;
    std::fs::rename(&tmp, path)
}

/// A new file beside `path`, mode 0600, holding the key, flushed to disk.
fn write_temporary(path: &Path, bytes: &[u8; 32]) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let nonce = random::<8>().map_err(std::io::Error::other)?;
    let tmp = path.with_extension(format!("tmp-{}", hex::encode(nonce)));
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    f.write_all(hex::encode(bytes).as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(tmp)
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(StoreError::Secret(format!("removing {}: {e}", path.display())))
        }
        _ => Ok(()),
    }
}

/// Move a pending key into place, replacing the old one (a finished rotation).
pub(crate) fn install(pending: &Path, path: &Path) -> Result<(), StoreError> {
    std::fs::rename(pending, path)
        .map_err(|e| StoreError::Secret(format!("installing {}: {e}", path.display())))
}

/// Move a pending first key into place unless another process installed one first; returns
/// the key now in `path`.
pub(crate) fn install_first(pending: &Path, path: &Path) -> Result<[u8; 32], StoreError> {
    match std::fs::hard_link(pending, path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.exists() => {}
        Err(e) => return Err(StoreError::Secret(format!("installing {}: {e}", path.display()))),
        Ok(()) => {}
    }
    remove_if_present(pending)?;
    read_key_file(path)
}

fn check_mode(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|e| StoreError::Secret(format!("{}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::Secret(format!(
            "{} has mode {mode:04o}; a key file must be readable by its owner only (chmod 600)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_0600_reloaded_and_refused_when_others_may_read_it() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("some.key");
        let k1 = load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load_or_create(&path).unwrap(), k1);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(&path).unwrap_err().to_string().contains("chmod 600"));
    }

    #[test]
    fn processes_creating_a_key_at_once_agree_on_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("some.key");
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| load_or_create(&path).unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]));
        assert_eq!(read_key_file(&path).unwrap(), keys[0]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary files left");
    }

    #[test]
    fn a_first_key_installed_meanwhile_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mine, theirs) =
            (dir.path().join("a.key"), dir.path().join("a.key.new"), dir.path().join("b"));
        let ours = load_or_create(&mine).unwrap();
        let winner = load_or_create(&theirs).unwrap();
        std::fs::rename(&theirs, &path).unwrap();
        assert_eq!(install_first(&mine, &path).unwrap(), winner);
        assert_ne!(ours, winner);
        assert!(!mine.exists());
    }
}
