//! The entry point for whoever has something to tell people (alert rules): fan a message
//! out to every enabled channel, durably, through the job queue. Sending is the `deliver`
//! job's work (`worker::deliver`).

use openwatch_store::{Delivery, NewMessage, Store, StoreError};

/// How many times a delivery is tried before it becomes a dead letter. The waits between
/// tries double from the worker's retry base (`job_retry_base_secs`).
pub const MAX_ATTEMPTS: i64 = 5;

/// A message for people: a subject, a plain-text and an HTML body (email, Slack) and a JSON
/// payload (webhooks). The dedup key names the event, so reporting it twice sends it once.
pub type Message = NewMessage;

/// Queue `m` to every enabled channel in one transaction (a delivery and a job each);
/// channels that already have this dedup key are skipped. The deliveries queued.
pub async fn queue(store: &dyn Store, m: &Message, now: i64) -> Result<Vec<Delivery>, StoreError> {
    store.queue_deliveries(m, None, MAX_ATTEMPTS, now).await
}
