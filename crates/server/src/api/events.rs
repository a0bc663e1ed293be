//! Server-sent events: `scan.queued`, `scan.started`, `scan.completed`, `host.changed`.
//! Events are read from the store, so every process's events reach every client; a client
//! resumes after a disconnect with `Last-Event-ID`. A stream outlives the request that
//! opened it, so it re-checks its session or token every `events_recheck_secs` and ends when
//! that is gone (signed out, expired, revoked, permission withdrawn); each user may hold at most
//! [`STREAMS_PER_USER`] streams at once.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use crate::app::{AppState, now_ms};
use crate::auth::need::EventsRead;
use crate::auth::rbac::Permission;
use crate::http::error::{ApiError, ApiResult};
use crate::http::guard::Grant;

const POLL: Duration = Duration::from_secs(1);
const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Open streams per user; more are refused with 429.
pub const STREAMS_PER_USER: usize = 8;

/// Open streams per user.
#[derive(Debug, Default, Clone)]
pub struct StreamSlots(Arc<Mutex<HashMap<i64, usize>>>);

/// One held slot, given back when the stream ends (the client left or was cut off).
#[derive(Debug)]
pub struct Slot {
    slots: StreamSlots,
    user_id: i64,
}

impl StreamSlots {
    fn take(&self, user_id: i64) -> Option<Slot> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(user_id).or_default();
        if *n >= STREAMS_PER_USER {
            return None;
        }
        *n += 1;
        Some(Slot { slots: self.clone(), user_id })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self.slots.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.user_id);
            }
        }
    }
}

/// Whether the stream's credentials still allow it, checked without counting as activity.
async fn still_allowed(state: &AppState, headers: &HeaderMap, user_id: i64) -> bool {
    match crate::auth::recheck(state.store(), headers, state.session_limits(), now_ms()).await {
        Ok(Some(c)) => c.user_id == user_id && c.can(Permission::EventsRead),
        _ => false,
    }
}

struct Cursor {
    state: AppState,
    headers: HeaderMap,
    user_id: i64,
    last: i64,
    pending: Vec<Event>,
    checked: Instant,
    _slot: Slot,
}

pub async fn stream(
    State(state): State<AppState>,
    g: Grant<EventsRead>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let user_id = g.caller().user_id;
    let slot = state.streams.take(user_id).ok_or_else(|| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
            format!("at most {STREAMS_PER_USER} event streams per user; close another first"),
        )
    })?;
    let resume =
        headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    let start = match resume {
        Some(id) => id,
        None => state.store().last_event_id().await?,
    };
    let cursor = Cursor {
        state,
        headers,
        user_id,
        last: start,
        pending: Vec::new(),
        checked: Instant::now(),
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(e) = c.pending.pop() {
                return Some((Ok(e), c));
            }
            if c.state.shutting_down() {
                return None;
            }
            if c.checked.elapsed() >= Duration::from_secs(c.state.config.events_recheck_secs) {
                if !still_allowed(&c.state, &c.headers, c.user_id).await {
                    return None;
                }
                c.checked = Instant::now();
            }
            match c.state.store().events_after(c.last, 100).await {
                Ok(events) if !events.is_empty() => {
                    c.last = events.last().map_or(c.last, |e| e.id);
                    c.pending = events
                        .into_iter()
                        .rev()
                        .map(|e| Event::default().id(e.id.to_string()).event(e.kind).data(e.data.to_string()))
                        .collect();
                }
                Ok(_) => {
                    let _ = tokio::time::timeout(POLL, c.state.events_stored.notified()).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading events for a stream");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    });
    // A closed connection is only noticed when something is written: a short keep-alive
    // frees a departed client's slot quickly.
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
