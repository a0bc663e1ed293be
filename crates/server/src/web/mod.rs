//! The web UI: server-rendered pages (maud), organised by feature, with our own CSS and a
//! small script for live updates. Pages reach data through the same store and rules as
//! the API; signed-out visitors are sent to the login form; every form post checks the
//! session's CSRF token and writes an audit event.

mod admin;
mod dashboard;
mod guard;
mod hosts;
mod layout;
mod login;
mod rules;
mod scans;
pub mod svg;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::app::AppState;

pub use guard::Viewer;

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");

fn asset(body: &'static str, kind: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=3600")], body)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(|| async { asset(CSS, "text/css; charset=utf-8") }))
        .route("/static/app.js", get(|| async { asset(JS, "text/javascript; charset=utf-8") }))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/", get(dashboard::page))
        .route("/hosts", get(hosts::list).post(hosts::create))
        .route("/hosts/new", get(hosts::new_form))
        .route("/hosts/import", get(hosts::import_form).post(hosts::import))
        .route("/hosts/scan", post(hosts::scan_selected))
        .route("/hosts/{id}/edit", get(hosts::edit_form).post(hosts::update))
        .route("/hosts/{id}/{file}", get(hosts::export))
        .route("/groups/scan", post(hosts::scan_group))
        .route("/hosts/{id}", get(hosts::detail))
        .route("/hosts/{id}/scan", post(hosts::scan_now))
        .route("/hosts/{id}/test", post(hosts::test))
        .route("/hosts/{id}/keys/{key_id}/approve", post(hosts::approve_key))
        .route("/scans", get(scans::list))
        .route("/scans/{id}", get(scans::detail))
        .route("/scans/{id}/results.csv", get(scans::export_csv))
        .route("/scans/{id}/results.json", get(scans::export_json))
        .route("/rules", get(rules::list))
        .route("/frameworks", get(rules::frameworks))
        .route("/frameworks/{id}", get(rules::framework))
        .route("/frameworks/{id}/controls/{control}", get(rules::control))
        .route("/admin", get(admin::page))
        .route("/admin/credentials", post(admin::create_credential))
        .route("/admin/users", post(admin::create_user))
        .route("/admin/users/{id}", post(admin::update_user))
        .route("/admin/tokens", post(admin::create_token))
        .route("/admin/roles", post(admin::put_role))
        .route("/admin/tokens/{id}/revoke", post(admin::revoke_token))
}
