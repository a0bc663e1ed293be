//! Adding and editing a host through the form (the same use cases as the API).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use crate::app::AppState;
use crate::service::ServiceError;
use crate::service::hosts::{self, HostBody};
use crate::web::guard::{HostsWrite, Viewer};
use crate::web::layout::{self, Page, csrf_field, render};

use super::db_error;

/// Where a host form posts and what it says.
struct FormTarget<'a> {
    action: &'a str,
    heading: &'a str,
    submit: &'a str,
    /// The host being edited (none while adding one).
    host_id: Option<i64>,
}

const NEW_HOST: FormTarget<'static> =
    FormTarget { action: "/hosts", heading: "Add a host", submit: "Add host", host_id: None };

fn host_form(
    v: &Viewer<HostsWrite>,
    creds: &[openwatch_store::Credential],
    error: Option<String>,
    f: &HostForm,
    t: &FormTarget<'_>,
) -> Response {
    let body = html! {
        h1 { (t.heading) }
        form method="post" action=(t.action) class="stack" {
            (csrf_field(&v.csrf))
            div.grid {
                label { "Name" input name="name" value=(f.name) required; }
                label { "Address (host name or IP)" input name="address" value=(f.address); }
                label { "SSH port" input name="port" type="number" min="1" max="65535" value=(f.port.as_deref().unwrap_or("22")); }
                label { "User (blank: the credential's user, else root)" input name="username" value=(f.username); }
                label { "Credential" select name="credential_id" {
                    option value="" { "none" }
                    @for c in creds { option value=(c.id) selected[f.credential_id.as_deref() == Some(c.id.to_string().as_str())] { (c.name) " (" (c.kind) ")" } }
                } }
                label { "Groups (comma separated)" input name="groups" value=(f.groups); }
                label { "Host key policy" select name="host_key_policy" {
                    option value="approve" { "approve the first key by hand" }
                    option value="accept_new" selected[f.host_key_policy == "accept_new"] { "trust the first key seen" }
                } }
                label { "Transport" select name="transport" {
                    option value="ssh" { "SSH" }
                    option value="local" selected[f.transport == "local"] { "this machine (local)" }
                } }
            }
            label { span { input type="checkbox" name="sudo" value="1" checked[f.sudo.is_some()]; " become root with sudo" } }
            label { span { input type="checkbox" name="maintenance" value="1" checked[f.maintenance.is_some()]; " in maintenance (not scanned)" } }
            div.actions {
                button type="submit" { (t.submit) }
                a.button.secondary href="/hosts" { "Cancel" }
                @if let Some(id) = t.host_id { a.button.secondary href={"/hosts/" (id) "/delete"} { "Delete host" } }
            }
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: t.heading,
            section: "Hosts",
            live: false,
            flash: error.map(|e| (true, e)),
        },
        body,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct HostForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    port: Option<String>,
    #[serde(default)]
    username: String,
    credential_id: Option<String>,
    #[serde(default)]
    groups: String,
    #[serde(default)]
    host_key_policy: String,
    #[serde(default)]
    transport: String,
    sudo: Option<String>,
    maintenance: Option<String>,
}

impl HostForm {
    fn from_host(h: &openwatch_store::Host) -> HostForm {
        HostForm {
            name: h.name.clone(),
            address: h.address.clone(),
            port: Some(h.port.to_string()),
            username: h.username.clone(),
            credential_id: h.credential_id.map(|c| c.to_string()),
            groups: h.groups.join(", "),
            host_key_policy: h.host_key_policy.as_str().into(),
            transport: h.transport.as_str().into(),
            sudo: h.sudo.then(|| "1".into()),
            maintenance: h.maintenance.then(|| "1".into()),
        }
    }

    /// The form as the API's host body (validated by the same code).
    fn body(&self) -> Result<HostBody, String> {
        let port = match self.port.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => Some(p.parse().map_err(|_| format!("port: `{p}` is not a number"))?),
            None => None,
        };
        Ok(HostBody {
            name: self.name.clone(),
            address: Some(self.address.clone()),
            port,
            username: Some(self.username.clone()),
            transport: Some(if self.transport.is_empty() { "ssh".into() } else { self.transport.clone() }),
            credential_id: self.credential_id.as_deref().and_then(|c| c.parse().ok()),
            sudo: self.sudo.is_some(),
            tags: vec![],
            groups: self.groups.split(',').map(str::to_owned).collect(),
            maintenance: self.maintenance.is_some(),
            host_key_policy: (!self.host_key_policy.is_empty()).then(|| self.host_key_policy.clone()),
        })
    }
}

pub async fn new_form(State(state): State<AppState>, v: Viewer<HostsWrite>) -> Response {
    match state.store().list_credentials().await {
        Ok(c) => host_form(&v, &c, None, &HostForm::default(), &NEW_HOST),
        Err(e) => db_error(&v, e),
    }
}

pub async fn create(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Form(f): Form<HostForm>,
) -> Response {
    let result = match f.body() {
        Ok(b) => hosts::create(&state, &v.grant, b).await,
        Err(e) => Err(ServiceError::BadRequest(e)),
    };
    match result {
        Ok(d) => {
            crate::web::after_post(&v.csrf, &format!("/hosts/{}", d.value.id), "Host added", Ok(d.audit))
        }
        Err(e) => form_failed(&state, &v, e, &f, &NEW_HOST).await,
    }
}

/// Show the form again with what went wrong, marked as a failure for the audit event.
async fn form_failed(
    state: &AppState,
    v: &Viewer<HostsWrite>,
    e: ServiceError,
    f: &HostForm,
    t: &FormTarget<'_>,
) -> Response {
    let creds = match state.store().list_credentials().await {
        Ok(c) => c,
        Err(err) => return crate::web::page_error(&v.caller, &ServiceError::from(err)),
    };
    let mut resp = host_form(v, &creds, Some(e.to_string()), f, t);
    *resp.status_mut() = crate::http::error::classify(&e).status;
    resp.extensions_mut().insert(crate::web::failure(&e));
    resp
}

pub async fn edit_form(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Path(id): Path<i64>,
) -> Response {
    let (Ok(Some(host)), Ok(creds)) = (state.store().host(id).await, state.store().list_credentials().await)
    else {
        return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such host.");
    };
    let action = format!("/hosts/{id}/edit");
    let t = FormTarget { action: &action, heading: "Edit host", submit: "Save", host_id: Some(id) };
    host_form(&v, &creds, None, &HostForm::from_host(&host), &t)
}

pub async fn update(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Path(id): Path<i64>,
    Form(f): Form<HostForm>,
) -> Response {
    let action = format!("/hosts/{id}/edit");
    let t = FormTarget { action: &action, heading: "Edit host", submit: "Save", host_id: Some(id) };
    let result = match f.body() {
        Ok(b) => hosts::update(&state, &v.grant, id, b).await,
        Err(e) => Err(ServiceError::BadRequest(e)),
    };
    match result {
        Ok(d) => crate::web::after_post(&v.csrf, &format!("/hosts/{id}"), "Host saved", Ok(d.audit)),
        Err(e) => form_failed(&state, &v, e, &f, &t).await,
    }
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    v: Viewer<HostsWrite>,
    Path(id): Path<i64>,
) -> Response {
    let host = match state.store().host(id).await {
        Ok(Some(h)) => h,
        Ok(None) => return layout::error_page(&v.caller, &v.csrf, StatusCode::NOT_FOUND, "No such host."),
        Err(e) => return db_error(&v, e),
    };
    crate::web::confirm::page(
        &v,
        crate::web::confirm::Confirm {
            title: "Delete host",
            section: "Hosts",
            question: format!("Delete the host {} ({})?", host.name, host.address),
            consequence: "It leaves the host list, its groups and the fleet figures and is no longer \
                scanned; its past scans and changes stay readable."
                .into(),
            action: format!("/hosts/{id}/delete"),
            button: "Delete host",
            cancel: format!("/hosts/{id}"),
        },
    )
}

pub async fn delete(State(state): State<AppState>, v: Viewer<HostsWrite>, Path(id): Path<i64>) -> Response {
    match hosts::delete(&state, &v.grant, id).await {
        Ok(d) => {
            crate::web::after_post(&v.csrf, "/hosts", &format!("Host {} deleted", d.value.name), Ok(d.audit))
        }
        Err(e) => crate::web::after_post(&v.csrf, &format!("/hosts/{id}"), &e.to_string(), Err(&e)),
    }
}
