//! The rows of notification channels and their deliveries (see `ChannelStore`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AttemptOutcome, ChannelKind, DeliveryStatus, Millis};

/// A channel to create or replace. `sealed_secret` is sealed for transit with the store's
/// credential key; on update, `None` keeps the stored secret.
#[derive(Clone)]
pub struct NewChannel {
    pub name: String,
    pub kind: ChannelKind,
    /// Non-secret settings (URL, SMTP host and recipients, ...), by kind.
    pub settings: Value,
    pub sealed_secret: Option<Vec<u8>>,
    pub enabled: bool,
}

impl std::fmt::Debug for NewChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewChannel")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A stored channel; its secret never leaves the store this way.
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    pub kind: ChannelKind,
    pub settings: Value,
    pub has_secret: bool,
    pub enabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// One message, fanned out to channels. The dedup key names the event it reports, so the
/// same event queued twice reaches each channel once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewMessage {
    pub dedup_key: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The machine-readable form, the body of webhook deliveries.
    pub payload: Value,
}

/// One message to one channel, with its attempts (when read through a list).
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub channel_id: i64,
    pub channel_name: String,
    pub channel_kind: ChannelKind,
    pub dedup_key: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub payload: Value,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub delivered_at: Option<Millis>,
    pub attempt_log: Vec<DeliveryAttempt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryAttempt {
    pub attempt: i64,
    pub at: Millis,
    pub outcome: AttemptOutcome,
    /// The HTTP status or SMTP reply, or why there was none; never a secret.
    pub detail: String,
}

/// How one attempt ended.
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub outcome: AttemptOutcome,
    pub detail: String,
    pub at: Millis,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeliveryQuery {
    pub channel_id: Option<i64>,
    pub status: Option<DeliveryStatus>,
}
