//! Other scanners' results in the browser: upload a file (OpenSCAP XCCDF/ARF, InSpec JSON,
//! Nessus, Wazuh SCA) and see the imports; each host's page shows its results beside
//! OpenWatch's. Adapters over `service::foreign`, like the API.

use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::guard::{HostsRead, HostsWrite, Viewer};
use super::layout::{Page, pager, render, when};
use crate::app::AppState;
use crate::auth::rbac::Permission;
use crate::service::ServiceError;
use crate::service::foreign::{self, ListFilter, Upload};

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    page: Option<i64>,
    flash: Option<String>,
    sig: Option<String>,
    error: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    v: Viewer<HostsRead>,
    Query(q): Query<ListQuery>,
) -> Response {
    let page = match foreign::list(&state, &v.grant, &ListFilter { page: q.page, per_page: Some(50) }).await {
        Ok(p) => p,
        Err(e) => return super::page_error(&v.caller, &e),
    };
    let body = html! {
        h1 { "Imports" }
        p.muted {
            "Results from other scanners, kept beside OpenWatch's own: OpenSCAP XCCDF or ARF results, "
            "InSpec JSON reports, Nessus compliance results (.nessus) and Wazuh SCA results. Each host of "
            "a file is matched to a host here by name or address, and each result to the OpenWatch rule "
            "it stands for or the rules citing the same CIS section or NIST control; a host's page shows them."
        }
        @if v.caller.can(Permission::HostsWrite) {
            // Multipart: the same-origin check stands in for the form's CSRF field.
            form.import method="post" action="/imports" enctype="multipart/form-data" {
                label { "Results file" input type="file" name="file" required; }
                label { "Scanner"
                    select name="source" {
                        option value="" { "recognise from the file" }
                        option value="xccdf" { "OpenSCAP XCCDF / ARF" }
                        option value="inspec" { "InSpec JSON" }
                        option value="nessus" { "Nessus (.nessus)" }
                        option value="wazuh" { "Wazuh SCA" }
                    }
                }
                label { "Host (for Wazuh results, which name none)" input type="text" name="target"; }
                button type="submit" { "Import" }
            }
        }
        @if page.items.is_empty() { p.muted { "Nothing imported yet." } }
        @else {
            table #imports {
                thead { tr { th { "#" } th { "File" } th { "Scanner" } th { "Hosts" } th { "Matched" } th { "Results" } th { "Imported" } } }
                tbody {
                    @for i in &page.items {
                        tr {
                            td { "#" (i.id) }
                            td.mono { (i.filename) }
                            td { (i.source.as_str()) }
                            td { (i.hosts) }
                            td { (i.matched_hosts) }
                            td { (i.results) }
                            td { (i.imported_by) " · " span.muted { (when(Some(i.imported_at))) } }
                        }
                    }
                }
            }
            (pager("/imports", &[], page.page, page.per_page, page.total))
        }
    };
    let flash = super::flash_message(&v.csrf, q.flash, q.error, q.sig.as_deref());
    render(
        &Page { caller: &v.caller, csrf: &v.csrf, title: "Imports", section: "Imports", live: false, flash },
        body,
    )
}

/// The upload's parts: the file's name and bytes, and the form's choices.
async fn parts(mut form: Multipart) -> Result<(Upload, Vec<u8>), ServiceError> {
    let bad = |e: axum::extract::multipart::MultipartError| ServiceError::invalid("file", e.body_text());
    let (mut up, mut bytes) = (Upload::default(), Vec::new());
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "file" => {
                up.filename = field.file_name().map(str::to_owned);
                bytes = field.bytes().await.map_err(bad)?.to_vec();
            }
            "source" => up.source = Some(field.text().await.map_err(bad)?),
            "target" => up.target = Some(field.text().await.map_err(bad)?),
            _ => {}
        }
    }
    Ok((up, bytes))
}

pub async fn upload(State(state): State<AppState>, v: Viewer<HostsWrite>, form: Multipart) -> Response {
    let done = match parts(form).await {
        Ok((up, bytes)) => foreign::import(&state, &v.grant, up, &bytes).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(d) => {
            let i = &d.value;
            let msg = format!(
                "Import #{}: {} results of {} host(s), {} matched to hosts here",
                i.id, i.results, i.hosts, i.matched_hosts
            );
            super::after_post(&v.csrf, "/imports", &msg, Ok(d.audit))
        }
        Err(e) => super::after_post(&v.csrf, "/imports", &e.to_string(), Err(&e)),
    }
}
