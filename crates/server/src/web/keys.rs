//! Host keys waiting for approval across the fleet, approved several at once. Approving a
//! key queues its host's scan (`service::hosts::approve_keys`), and the message says so.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use openwatch_store::{HostQuery, PageRequest};

use super::FlashQuery;
use super::guard::{HostsRead, KeysApprove, Viewer};
use super::layout::{Page, csrf_field, plural, render, when};
use crate::app::AppState;
use crate::auth::rbac::Permission;
use crate::service::hosts;

pub async fn pending(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Query(q): Query<FlashQuery>,
) -> Response {
    let loaded = async {
        let keys = hosts::pending_keys(&state, &v.grant).await?;
        let all = PageRequest::new(None, Some(PageRequest::MAX_PER_PAGE));
        let names: HashMap<i64, String> = state
            .store()
            .list_hosts(&HostQuery::default(), all)
            .await?
            .items
            .into_iter()
            .map(|h| (h.id, h.name))
            .collect();
        Ok::<_, crate::service::ServiceError>((keys, names))
    };
    let (keys, names) = match loaded.await {
        Ok(x) => x,
        Err(e) => return super::page_error(&v.caller, &e),
    };
    let approve = v.caller.can(Permission::HostKeysApprove);
    let body = html! {
        h1 { "Pending host keys" }
        p.muted { "A host's key is recorded on the first attempt to reach it. Compare each fingerprint with the one the host shows (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) before approving; each approved host is scanned right away." }
        section.card aria-labelledby="pending-h" {
            h2 #pending-h { (plural(keys.len() as i64, "key", "keys")) " waiting" }
            form method="post" action="/hosts/keys/approve" {
                (csrf_field(&v.csrf))
                table #pending-keys {
                    thead { tr { @if approve { th { span.skip { "Choose" } } } th { "Host" } th { "Type" } th { "Fingerprint" } th { "First seen" } } }
                    tbody { @for k in &keys {
                        @let host = names.get(&k.host_id).map_or("?", String::as_str);
                        tr {
                            @if approve { td { input type="checkbox" name="key_id" value=(k.id) aria-label={"Approve the key of " (host)}; } }
                            td { a href={"/hosts/" (k.host_id)} { (host) } }
                            td.mono { (k.algorithm) }
                            td.mono { (k.fingerprint) }
                            td.muted { (when(Some(k.first_seen_at))) }
                        }
                    } }
                }
                @if approve && !keys.is_empty() { div.actions { button type="submit" { "Approve selected" } } }
            }
        }
    };
    let flash = q.message(&v.csrf);
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Pending host keys",
            section: "Hosts",
            live: false,
            flash,
        },
        body,
    )
}

pub async fn approve(State(state): State<AppState>, v: Viewer<KeysApprove>, body: String) -> Response {
    let ids: Vec<i64> = super::form::pairs(&body)
        .into_iter()
        .filter(|(k, _)| k == "key_id")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    match hosts::approve_keys(&state, &v.grant, &ids).await {
        Ok(d) => {
            let scans = d.value.iter().filter(|a| a.scan_id.is_some()).count() as i64;
            let message = format!(
                "{} approved; {} queued ({})",
                plural(d.value.len() as i64, "host key", "host keys"),
                plural(scans, "scan", "scans"),
                d.value.iter().map(|a| a.host.as_str()).collect::<Vec<_>>().join(", ")
            );
            super::after_post(&v.csrf, "/hosts/keys", &message, Ok(d.audit))
        }
        Err(e) => super::after_post(&v.csrf, "/hosts/keys", &e.to_string(), Err(&e)),
    }
}
