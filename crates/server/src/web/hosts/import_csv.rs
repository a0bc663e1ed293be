//! Importing hosts from CSV: a preview of every row, then the import.

use axum::Form;
use axum::extract::State;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use crate::app::AppState;
use crate::service::{Done, import};
use crate::web::guard::{HostsWrite, Viewer};
use crate::web::layout::{Page, csrf_field, plural, render};

#[derive(Debug, Deserialize, Default)]
pub struct ImportForm {
    #[serde(default)]
    csv: String,
    confirm: Option<String>,
}

fn import_page(
    v: &Viewer<HostsWrite>,
    csv: &str,
    rows: Option<&[import::RowResult]>,
    problem: Option<String>,
) -> Response {
    let errors = rows.map_or(0, |r| r.iter().filter(|x| !x.ok).count());
    let body = html! {
        h1 { "Import hosts from CSV" }
        p.muted { "A header row naming columns among: name (required), address, port, username, transport, \
            credential (a credential's name), sudo, groups and tags (separated by ;), host_key_policy. \
            A host's username wins over its credential's; without one the credential's is used, else root. \
            Nothing is written until every row is valid and you confirm." }
        form method="post" action="/hosts/import" class="stack" {
            (csrf_field(&v.csrf))
            label { "CSV" textarea #csv name="csv" spellcheck="false" required { (csv) } }
            div.actions { button type="submit" { "Preview" } }
        }
        @if let Some(rows) = rows {
            section.card aria-labelledby="preview-h" {
                h2 #preview-h { "Preview: " (rows.len()) " rows, " (errors) " with errors" }
                table #preview {
                    thead { tr { th { "Line" } th { "Host" } th { "Logs in as" } th { "Result" } } }
                    tbody { @for r in rows { tr {
                        td { (r.line) } td { (r.name) }
                        td { @if let Some(u) = &r.user { (u) " " span.muted { "(" (r.user_from.as_deref().unwrap_or("")) ")" } } }
                        td { @if let Some(e) = &r.error { span class="verdict v-fail" { "error" } " " (e) } @else { span class="verdict v-pass" { "ok" } } }
                    } } }
                }
                @if errors == 0 && !rows.is_empty() {
                    form method="post" action="/hosts/import" {
                        (csrf_field(&v.csrf))
                        input type="hidden" name="csv" value=(csv);
                        input type="hidden" name="confirm" value="1";
                        button type="submit" { "Import " (plural(rows.len() as i64, "host", "hosts")) }
                    }
                }
            }
        }
    };
    let flash = problem.map(|m| (true, m));
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Import hosts",
            section: "Hosts",
            live: false,
            flash,
        },
        body,
    )
}

pub async fn import_form(v: Viewer<HostsWrite>) -> Response {
    import_page(&v, "name,address,groups,credential\n", None, None)
}

pub async fn import(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Form(f): Form<ImportForm>,
) -> Response {
    let csv = f.csv.replace("\r\n", "\n");
    match import::import_csv(&state, &v.grant, &csv, f.confirm.is_none()).await {
        Ok(Done { value: (true, rows), audit }) => crate::web::after_post(
            &v.csrf,
            "/hosts",
            &format!("{} imported", plural(rows.len() as i64, "host", "hosts")),
            Ok(audit),
        ),
        Ok(Done { value: (false, rows), audit }) => {
            let mut resp = import_page(&v, &csv, Some(&rows), None);
            resp.extensions_mut().insert(audit);
            resp
        }
        Err(e) => {
            let mut resp = import_page(&v, &csv, None, Some(e.to_string()));
            resp.extensions_mut().insert(crate::web::failure(&e));
            resp
        }
    }
}
