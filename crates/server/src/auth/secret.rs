//! Passwords (argon2id) and opaque random tokens (session ids, API tokens, CSRF tokens),
//! of which the database keeps only SHA-256 hashes.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;

/// A random token: 32 bytes, URL-safe base64, prefixed so leaked tokens are recognisable.
pub fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the OS random generator works");
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hash a password (argon2id, random salt). Slow on purpose: call from a blocking thread.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Check a password against a stored hash; a malformed hash never verifies.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// A hash that no password matches, verified against when a user does not exist so that
/// unknown and known user names take the same time.
/// Computed on first use: call from a blocking thread.
pub fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token("")).expect("hashing works"))
}

/// Bounds the password checks running at once. Each argon2id run holds a core and 19 MiB for
/// tens of milliseconds, so unbounded parallel sign-ins (anyone may send them) would starve
/// every other request and could exhaust memory. A check waits for a slot, fairly, up to
/// `wait`; then the sign-in is refused as busy (503 with `Retry-After`) rather than queued
/// without end.
#[derive(Debug)]
pub struct PasswordGate {
    slots: Arc<Semaphore>,
    wait: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("every password check slot stayed busy for {0:?}")]
    Busy(Duration),
    #[error("the password check did not finish: {0}")]
    Failed(String),
}

impl PasswordGate {
    pub fn new(slots: usize, wait: Duration) -> PasswordGate {
        PasswordGate { slots: Arc::new(Semaphore::new(slots.max(1))), wait }
    }

    /// The process's gate: one slot per CPU, five seconds' wait.
    pub fn global() -> &'static PasswordGate {
        static GATE: OnceLock<PasswordGate> = OnceLock::new();
        GATE.get_or_init(|| {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            PasswordGate::new(cpus, Duration::from_secs(5))
        })
    }

    /// Run `check` on a blocking thread once a slot is free. The slot goes with the check,
    /// so a caller that gives up (a client that hangs up) does not free it early.
    pub async fn run<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, GateError> {
        let slot = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| GateError::Busy(self.wait))?
            .map_err(|e| GateError::Failed(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            check()
        })
        .await
        .map_err(|e| GateError::Failed(e.to_string()))
    }
}

/// Minimum password rules for accounts created through the API and `admin`.
pub fn check_password_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < 12 {
        return Err("passwords must be at least 12 characters long".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(!verify_password("", decoy_hash()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_gate_bounds_checks_running_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let gate = Arc::new(PasswordGate::new(2, Duration::from_secs(600)));
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let (gate, running, peak) = (gate.clone(), running.clone(), peak.clone());
            tasks.spawn(async move {
                gate.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    let ok = verify_password("guess", decoy_hash());
                    running.fetch_sub(1, Ordering::SeqCst);
                    ok
                })
                .await
            });
        }
        while let Some(r) = tasks.join_next().await {
            assert!(!r.unwrap().unwrap());
        }
        assert!(peak.load(Ordering::SeqCst) <= 2, "peak {}", peak.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_full_gate_refuses_after_its_wait() {
        let gate = Arc::new(PasswordGate::new(1, Duration::from_millis(20)));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let holder = {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.run(move || {
                    started_tx.send(()).unwrap();
                    held.recv().unwrap();
                })
                .await
            })
        };
        started.await.unwrap();
        assert!(matches!(gate.run(|| ()).await, Err(GateError::Busy(_))));
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        gate.run(|| ()).await.expect("a free slot again");
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = random_token("owt_");
        assert!(a.starts_with("owt_") && a.len() > 40);
        assert_ne!(a, random_token("owt_"));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
