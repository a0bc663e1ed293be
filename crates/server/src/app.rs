//! The state every handler and worker shares.

use std::sync::Arc;

use openwatch_core::catalog::Catalog;
use openwatch_core::rule::Rule;
use openwatch_store::Store;
use openwatch_store::secrets::SecretKey;
use tokio::sync::{Notify, watch};

use crate::auth::SessionLimits;
use crate::auth::limiter::LoginLimiter;
use crate::config::Config;
use crate::metrics::Metrics;

/// The rule library and framework catalogs the server evaluates and reports against.
#[derive(Debug)]
pub struct Library {
    pub rules: Arc<[Rule]>,
    pub catalogs: Vec<Catalog>,
}

impl Library {
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id() == id)
    }

    /// The frameworks posture is tracked for: those we ship a catalog of.
    pub fn frameworks(&self) -> impl Iterator<Item = &str> {
        self.catalogs.iter().map(|c| c.framework.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub store: Arc<dyn Store>,
    pub config: Config,
    pub library: Arc<Library>,
    pub key: SecretKey,
    pub limiter: LoginLimiter,
    /// Second-factor attempts per account (a guesser already holds the password).
    pub factor_limiter: LoginLimiter,
    /// Identity providers' cached discovery documents.
    pub oidc: crate::auth::oidc::Providers,
    pub metrics: Metrics,
    /// Woken when this process queues a job (PostgreSQL also wakes other processes).
    pub jobs_queued: Notify,
    /// Woken when this process stores stream events (SSE clients poll otherwise).
    pub events_stored: Notify,
    pub shutdown: watch::Receiver<bool>,
    /// A name unique to this process, used as the job lock owner prefix.
    pub instance: String,
    /// This process's lock in the data directory, which tells others it is alive.
    pub liveness: crate::instances::Liveness,
    /// Open event streams per user (capped).
    pub streams: crate::api::events::StreamSlots,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }

    pub fn store(&self) -> &dyn Store {
        &*self.0.store
    }

    pub fn session_limits(&self) -> SessionLimits {
        SessionLimits {
            idle_ms: self.config.session_idle_minutes as i64 * 60_000,
            absolute_ms: self.config.session_absolute_hours as i64 * 3_600_000,
        }
    }

    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
