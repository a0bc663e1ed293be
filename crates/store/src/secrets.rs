//! Credential secrets at rest: AES-256-GCM with a 32-byte key kept in a file created 0600
//! at first start. A sealed value is `version(1) || nonce(12) || ciphertext+tag`.

use std::io::Write as _;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use crate::StoreError;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// The key that seals credentials. Its Debug output never shows the key.
#[derive(Clone)]
pub struct SecretKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| StoreError::Secret(format!("no randomness: {e}")))?;
    Ok(b)
}

impl SecretKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> SecretKey {
        SecretKey { cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*bytes)) }
    }

    pub fn generate() -> Result<([u8; 32], SecretKey), StoreError> {
        let bytes = random::<32>()?;
        Ok((bytes, SecretKey::from_bytes(&bytes)))
    }

    /// Load the key file, creating it (mode 0600, 32 random bytes, hex) when absent. A key
    /// file readable by group or others is refused.
    pub fn load_or_create(path: &Path) -> Result<SecretKey, StoreError> {
        let err =
            |what: &str, e: std::io::Error| StoreError::Secret(format!("{what} {}: {e}", path.display()));
        if !path.exists() {
            let (bytes, key) = SecretKey::generate()?;
            write_key_file(path, &bytes).map_err(|e| err("creating", e))?;
            return Ok(key);
        }
        check_mode(path)?;
        let text = std::fs::read_to_string(path).map_err(|e| err("reading", e))?;
        parse_key(text.trim()).ok_or_else(|| {
            StoreError::Secret(format!("{}: expected 64 hex digits (a 32-byte key)", path.display()))
        })
    }

    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce = random::<NONCE_LEN>()?;
        let ct = self
            .cipher
            .encrypt(&Nonce::from(nonce), plaintext)
            .map_err(|_| StoreError::Secret("encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(StoreError::Secret("sealed secret has an unknown format".into()));
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
        self.cipher.decrypt(&Nonce::from(nonce), ct).map_err(|_| {
            StoreError::Secret("a credential could not be decrypted: wrong key file or tampered data".into())
        })
    }
}

pub fn parse_key(hex_text: &str) -> Option<SecretKey> {
    let bytes: [u8; 32] = hex::decode(hex_text).ok()?.try_into().ok()?;
    Some(SecretKey::from_bytes(&bytes))
}

/// Write a key file atomically with mode 0600 (a temporary file renamed into place).
pub fn write_key_file(path: &Path, bytes: &[u8; 32]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    f.write_all(hex::encode(bytes).as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn check_mode(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|e| StoreError::Secret(format!("{}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::Secret(format!(
            "{} has mode {mode:04o}; the credential key must be readable by its owner only (chmod 600)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip() {
        let (_, k) = SecretKey::generate().unwrap();
        let sealed = k.seal(b"hunter2").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(k.open(&sealed).unwrap(), b"hunter2");
    }

    #[test]
    fn nonces_differ() {
        let (_, k) = SecretKey::generate().unwrap();
        assert_ne!(k.seal(b"x").unwrap(), k.seal(b"x").unwrap());
    }

    #[test]
    fn wrong_key_and_tampering_are_refused() {
        let (_, k) = SecretKey::generate().unwrap();
        let (_, other) = SecretKey::generate().unwrap();
        let mut sealed = k.seal(b"secret").unwrap();
        assert!(other.open(&sealed).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(k.open(&sealed).is_err());
    }

    #[test]
    fn key_file_is_created_0600_and_reloaded() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credential.key");
        let k1 = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let k2 = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(k2.open(&k1.seal(b"v").unwrap()).unwrap(), b"v");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(SecretKey::load_or_create(&path).unwrap_err().to_string().contains("chmod 600"));
    }
}
