//! Credential secrets: AES-256-GCM with a 32-byte key kept in a file outside the database.
//!
//! Two formats share the layout `version(1) || nonce(12) || ciphertext+tag`:
//! - version 2, at rest: the associated data names the row and field
//!   (`credential:<id>:secret`), so a ciphertext moved to another row or field no longer
//!   decrypts. Only the store seals and opens these.
//! - version 1, in transit: no associated data. Callers hand the store secrets sealed this
//!   way and get them back this way, so plaintext never crosses the `Store` trait; databases
//!   written before row binding also hold this format until they are upgraded.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use crate::StoreError;
use crate::keys::random;

const TRANSIT: u8 = 1;
const BOUND: u8 = 2;
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

/// The associated data binding a stored ciphertext to its credential row and field.
pub(crate) fn binding(credential_id: i64, field: &str) -> String {
    format!("credential:{credential_id}:{field}")
}

/// Whether a stored value predates row binding (version 1).
pub(crate) fn is_unbound(sealed: &[u8]) -> bool {
    sealed.first() == Some(&TRANSIT)
}

impl SecretKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> SecretKey {
        SecretKey { cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*bytes)) }
    }

    pub fn generate() -> Result<([u8; 32], SecretKey), StoreError> {
        let bytes = random::<32>()?;
        Ok((bytes, SecretKey::from_bytes(&bytes)))
    }

    /// Seal for transit to or from the store (version 1, no associated data).
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.seal_as(TRANSIT, plaintext, b"")
    }

    /// Open a value sealed for transit.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.open_as(TRANSIT, sealed, b"").map_err(|()| {
            StoreError::Secret("a credential could not be decrypted: wrong key file or tampered data".into())
        })
    }

    /// Seal for storage in the row and field `ad` names (see [`binding`]).
    pub(crate) fn seal_bound(&self, plaintext: &[u8], ad: &str) -> Result<Vec<u8>, StoreError> {
        self.seal_as(BOUND, plaintext, ad.as_bytes())
    }

    /// Open a stored value, which must have been sealed for the row and field `ad` names.
    pub(crate) fn open_bound(&self, sealed: &[u8], ad: &str) -> Result<Vec<u8>, StoreError> {
        self.open_as(BOUND, sealed, ad.as_bytes()).map_err(|()| {
            StoreError::Secret(format!(
                "{ad} does not decrypt: the stored ciphertext belongs to another row or field, \
                 was tampered with, or the credential key file is not this database's"
            ))
        })
    }

    fn seal_as(&self, version: u8, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce = random::<NONCE_LEN>()?;
        let ct = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad })
            .map_err(|_| StoreError::Secret("encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(version);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    fn open_as(&self, version: u8, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, ()> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != version {
            return Err(());
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| ())?;
        self.cipher.decrypt(&Nonce::from(nonce), Payload { msg: ct, aad }).map_err(|_| ())
    }
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
    fn a_bound_value_opens_only_for_its_own_row_and_field() {
        let (_, k) = SecretKey::generate().unwrap();
        let sealed = k.seal_bound(b"pw", &binding(7, "secret")).unwrap();
        assert_eq!(k.open_bound(&sealed, &binding(7, "secret")).unwrap(), b"pw");
        for other in [binding(8, "secret"), binding(7, "sudo_secret")] {
            let err = k.open_bound(&sealed, &other).unwrap_err().to_string();
            assert!(err.contains(&other) && err.contains("another row or field"), "{err}");
        }
        assert!(k.open(&sealed).is_err(), "a stored value is not a transit value");
        assert!(k.open_bound(&k.seal(b"pw").unwrap(), &binding(7, "secret")).is_err());
    }
}
