//! Server-sent events: `scan.queued`, `scan.started`, `scan.completed`, `host.changed`.
//! Events are read from the store, so every process's events reach every client; a client
//! resumes after a disconnect with `Last-Event-ID`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use crate::app::AppState;
use crate::http::error::ApiResult;

const POLL: Duration = Duration::from_secs(1);

pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let resume =
        headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    let start = match resume {
        Some(id) => id,
        None => state.store().last_event_id().await?,
    };
    let stream = futures_util::stream::unfold(
        (state, start, Vec::new()),
        |(state, mut last, mut pending)| async move {
            loop {
                if let Some(e) = pending.pop() {
                    return Some((Ok(e), (state, last, pending)));
                }
                if state.shutting_down() {
                    return None;
                }
                match state.store().events_after(last, 100).await {
                    Ok(events) if !events.is_empty() => {
                        last = events.last().map_or(last, |e| e.id);
                        pending = events
                            .into_iter()
                            .rev()
                            .map(|e| {
                                Event::default().id(e.id.to_string()).event(e.kind).data(e.data.to_string())
                            })
                            .collect();
                    }
                    Ok(_) => {
                        let _ = tokio::time::timeout(POLL, state.events_stored.notified()).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading events for a stream");
                        tokio::time::sleep(POLL).await;
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
