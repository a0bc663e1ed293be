//! Actions on hosts from their pages: scan (one, chosen, a group), connection test, key
//! approval and the compliance export.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::app::AppState;
use crate::service::compliance::{Scope, StateParams};
use crate::service::exports::{self, Format};
use crate::service::hosts::{self};
use crate::service::scans::{self, BatchScan, Initiator};
use crate::service::{AuditNote, ServiceError};
use crate::web::guard::{HostsRead, HostsScan, HostsWrite, KeysApprove, Viewer};
use crate::web::layout::{self};

fn back(csrf: &str, id: i64, message: &str, result: Result<AuditNote, &ServiceError>) -> Response {
    crate::web::after_post(csrf, &format!("/hosts/{id}"), message, result)
}

/// What a form post that scans reports back.
fn queued_message(b: &BatchScan) -> String {
    let mut m = format!("{} queued", layout::plural(b.scan_ids.len() as i64, "scan", "scans"));
    if !b.skipped_maintenance.is_empty() {
        let skipped = layout::plural(b.skipped_maintenance.len() as i64, "host", "hosts");
        m.push_str(&format!(", {skipped} in maintenance skipped"));
    }
    m
}

pub async fn scan_now(State(state): State<AppState>, v: Viewer<HostsScan>, Path(id): Path<i64>) -> Response {
    match scans::scan_host(&state, &Initiator::person(&v.grant), id).await {
        Ok(d) => back(&v.csrf, id, &format!("Scan #{} queued", d.value.scan.id), Ok(d.audit)),
        Err(e) => back(&v.csrf, id, &e.to_string(), Err(&e)),
    }
}

pub async fn test(State(state): State<AppState>, v: Viewer<HostsWrite>, Path(id): Path<i64>) -> Response {
    match hosts::test_connection(&state, &v.grant, id).await {
        Ok(d) => {
            let msg = format!("Connection test: {} ({})", d.value.status, d.value.message);
            back(&v.csrf, id, &msg, Ok(d.audit))
        }
        Err(e) => back(&v.csrf, id, &e.to_string(), Err(&e)),
    }
}

pub async fn approve_key(
    State(state): State<AppState>,
    v: Viewer<KeysApprove>,
    Path((id, key_id)): Path<(i64, i64)>,
) -> Response {
    match hosts::approve_key(&state, &v.grant, id, key_id).await {
        Ok(d) => back(&v.csrf, id, &d.value.message(), Ok(d.audit)),
        Err(e) => back(&v.csrf, id, &e.to_string(), Err(&e)),
    }
}

#[derive(Debug, Deserialize)]
pub struct GroupScanForm {
    group_id: i64,
}

pub async fn scan_group(
    State(state): State<AppState>,
    v: Viewer<HostsScan>,
    Form(f): Form<GroupScanForm>,
) -> Response {
    match scans::scan_group(&state, &Initiator::person(&v.grant), f.group_id).await {
        Ok(d) => crate::web::after_post(&v.csrf, "/hosts", &queued_message(&d.value), Ok(d.audit)),
        Err(e) => crate::web::after_post(&v.csrf, "/hosts", &e.to_string(), Err(&e)),
    }
}

pub async fn scan_selected(State(state): State<AppState>, v: Viewer<HostsScan>, body: String) -> Response {
    let pairs = crate::web::form::pairs(&body);
    let ids: Vec<i64> =
        pairs.iter().filter(|(k, _)| k == "host_id").filter_map(|(_, v)| v.parse().ok()).collect();
    match scans::scan_hosts(&state, &Initiator::person(&v.grant), &ids).await {
        Ok(d) => crate::web::after_post(&v.csrf, "/hosts", &queued_message(&d.value), Ok(d.audit)),
        Err(e) => crate::web::after_post(&v.csrf, "/hosts", &e.to_string(), Err(&e)),
    }
}

/// A host's current compliance table as CSV or JSON (`compliance.csv`, `compliance.json`).
pub async fn export(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Path((id, file)): Path<(i64, String)>,
    Query(filters): Query<StateParams>,
) -> Response {
    let format = match file.as_str() {
        "compliance.csv" => Format::Csv,
        "compliance.json" => Format::Json,
        _ => return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such page."),
    };
    match exports::current_state(&state, &v.grant, &Scope::Host(id), &filters, format).await {
        Ok(e) => crate::http::download(e),
        Err(e) => crate::web::page_error(&v.caller, &e),
    }
}
