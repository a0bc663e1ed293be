//! Notification channels: the list with a Test button each, the form to add one (its secret
//! is write-only) and the recent deliveries with their attempts, all through the same use
//! cases as the API (`service::channels`).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use openwatch_store::{Channel, Delivery, DeliveryStatus, Page as StorePage};
use serde::Deserialize;
use serde_json::json;

use super::guard::{ChannelsManage, Viewer};
use super::layout::{Page, csrf_field, plural, render};
use crate::app::AppState;
use crate::service::ServiceError;
use crate::service::channels::{self, ChannelInput, DeliveryFilter};

const BACK: &str = "/admin/channels";
/// Deliveries shown under the channels.
const RECENT: i64 = 25;

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    flash: Option<String>,
    sig: Option<String>,
    error: Option<String>,
}

/// The form as posted; the fields of the other kinds are ignored.
#[derive(Deserialize, Default)]
pub struct ChannelForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    security: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    from: String,
    /// Recipients, separated by commas or new lines.
    #[serde(default)]
    to: String,
}

impl std::fmt::Debug for ChannelForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelForm")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl ChannelForm {
    /// The form as the API's channel body (checked by the same use case).
    fn input(self) -> Result<ChannelInput, ServiceError> {
        let settings = match self.kind.as_str() {
            "webhook" => json!({"url": self.url.trim()}),
            "email" => {
                let port: u16 =
                    self.port.trim().parse().map_err(|_| {
                        ServiceError::invalid("settings.port", "give the SMTP port, e.g. 587")
                    })?;
                let to: Vec<&str> =
                    self.to.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()).collect();
                let username = Some(self.username.trim()).filter(|u| !u.is_empty());
                json!({"host": self.host.trim(), "port": port, "security": self.security, "username": username,
                       "from": self.from.trim(), "to": to})
            }
            _ => json!({}),
        };
        Ok(ChannelInput {
            name: self.name,
            kind: self.kind,
            settings,
            secret: Some(self.secret),
            enabled: Some(true),
        })
    }
}

pub async fn list(
    State(state): State<AppState>,
    v: Viewer<ChannelsManage>,
    Query(q): Query<ListQuery>,
) -> Response {
    let flash = super::flash_message(&v.csrf, q.flash, q.error, q.sig.as_deref());
    let loaded = match channels::list(&state, &v.grant).await {
        Ok(c) => {
            let f = DeliveryFilter { per_page: Some(RECENT), ..DeliveryFilter::default() };
            channels::deliveries(&state, &v.grant, &f).await.map(|d| (c, d))
        }
        Err(e) => Err(e),
    };
    match loaded {
        Ok((c, d)) => page(&v, &c, &d, flash),
        Err(e) => super::page_error(&v.caller, &e),
    }
}

pub async fn create(
    State(state): State<AppState>,
    v: Viewer<ChannelsManage>,
    Form(f): Form<ChannelForm>,
) -> Response {
    let result = match f.input() {
        Ok(input) => channels::create(&state, &v.grant, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(d) => super::after_post(&v.csrf, BACK, &format!("Channel {} added", d.value.name), Ok(d.audit)),
        Err(e) => super::after_post(&v.csrf, BACK, &e.to_string(), Err(&e)),
    }
}

pub async fn test(State(state): State<AppState>, v: Viewer<ChannelsManage>, Path(id): Path<i64>) -> Response {
    match channels::send_test(&state, &v.grant, id).await {
        Ok(d) => {
            let msg = format!("Test message queued to {} (delivery #{})", d.value.channel_name, d.value.id);
            super::after_post(&v.csrf, BACK, &msg, Ok(d.audit))
        }
        Err(e) => super::after_post(&v.csrf, BACK, &e.to_string(), Err(&e)),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    v: Viewer<ChannelsManage>,
    Path(id): Path<i64>,
) -> Response {
    match channels::delete(&state, &v.grant, id).await {
        Ok(d) => super::after_post(&v.csrf, BACK, &format!("Channel {} deleted", d.value.name), Ok(d.audit)),
        Err(e) => super::after_post(&v.csrf, BACK, &e.to_string(), Err(&e)),
    }
}

/// Where a channel sends, without its secret.
fn target(c: &Channel) -> String {
    match c.kind {
        openwatch_store::ChannelKind::Webhook => c.settings["url"].as_str().unwrap_or_default().to_owned(),
        openwatch_store::ChannelKind::Slack => "incoming webhook (URL kept secret)".to_owned(),
        openwatch_store::ChannelKind::Email => {
            let to: Vec<&str> =
                c.settings["to"].as_array().into_iter().flatten().filter_map(|t| t.as_str()).collect();
            format!(
                "{} via {}:{}",
                to.join(", "),
                c.settings["host"].as_str().unwrap_or_default(),
                c.settings["port"]
            )
        }
    }
}

fn status(d: &Delivery) -> Markup {
    match d.status {
        DeliveryStatus::Delivered => html! { span.badge.b-succeeded { "delivered" } },
        DeliveryStatus::Queued => html! { span.badge { "queued" } },
        DeliveryStatus::Dead => html! { span.badge.b-failed { "dead" } },
    }
}

fn page(
    v: &Viewer<ChannelsManage>,
    channels: &[Channel],
    deliveries: &StorePage<Delivery>,
    flash: Option<(bool, String)>,
) -> Response {
    let body = html! {
        h1 { "Notification channels" }
        div.stack {
            p.muted { (plural(channels.len() as i64, "channel", "channels")) ". Secrets are stored encrypted and never shown." }
            table #channels {
                thead { tr { th { "Name" } th { "Kind" } th { "Sends to" } th { "State" } th {} } }
                tbody {
                    @for c in channels {
                        tr {
                            td { (c.name) }
                            td { (c.kind.as_str()) }
                            td { (target(c)) }
                            td { @if c.enabled { "enabled" } @else { span.muted { "disabled" } } }
                            td.actions {
                                form method="post" action={"/admin/channels/" (c.id) "/test"} {
                                    (csrf_field(&v.csrf))
                                    button type="submit" aria-label={"Send a test message to " (c.name)} { "Test" }
                                }
                                form method="post" action={"/admin/channels/" (c.id) "/delete"} data-confirm={"Delete channel " (c.name) " and its deliveries?"} {
                                    (csrf_field(&v.csrf))
                                    button.secondary type="submit" aria-label={"Delete " (c.name)} { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
            @if channels.is_empty() { p.muted { "No channels yet." } }
            (form(v))
            section.card aria-labelledby="deliveries-h" {
                h2 #deliveries-h { "Recent deliveries" }
                p.muted { (plural(deliveries.total, "delivery", "deliveries")) " in all; the newest " (RECENT) " here. A delivery is tried up to " (crate::service::notify::MAX_ATTEMPTS) " times, waiting longer each time, then kept as dead." }
                table #deliveries {
                    thead { tr { th { "#" } th { "Channel" } th { "Subject" } th { "Status" } th { "Attempts" } } }
                    tbody {
                        @for d in &deliveries.items {
                            tr {
                                td { (d.id) }
                                td { (d.channel_name) }
                                td { (d.subject) }
                                td { (status(d)) }
                                td {
                                    ol.attempts {
                                        @for a in &d.attempt_log {
                                            li { (super::layout::when(Some(a.at))) " " (a.outcome.as_str()) ": " (a.detail) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Notification channels",
            section: "Administration",
            live: false,
            flash,
        },
        body,
    )
}

fn form(v: &Viewer<ChannelsManage>) -> Markup {
    html! {
        section.card aria-labelledby="new-h" {
            h2 #new-h { "Add a channel" }
            form.stack method="post" action="/admin/channels" {
                (csrf_field(&v.csrf))
                div.grid {
                    label { "Name" input name="name" required; }
                    label { "Kind" select name="kind" required {
                        option value="webhook" { "Webhook (signed JSON)" }
                        option value="slack" { "Slack-compatible incoming webhook" }
                        option value="email" { "Email (SMTP)" }
                    } }
                }
                label { "Webhook URL (webhook only)" input name="url" type="url" placeholder="https://example.org/openwatch"; }
                label { "Secret: the webhook's signing key, the Slack URL, or the SMTP password" input name="secret" type="password" autocomplete="off"; }
                fieldset {
                    legend { "Email only" }
                    div.grid {
                        label { "SMTP host" input name="host"; }
                        label { "Port" input name="port" type="number" placeholder="587"; }
                        label { "Security" select name="security" {
                            option value="starttls" { "STARTTLS" }
                            option value="tls" { "TLS" }
                            option value="plain" { "none (local relay only)" }
                        } }
                        label { "SMTP user (optional)" input name="username" autocomplete="off"; }
                    }
                    label { "From" input name="from" placeholder="OpenWatch <openwatch@example.org>"; }
                    label { "To (comma separated)" input name="to" placeholder="ops@example.org, security@example.org"; }
                }
                div.actions { button type="submit" { "Add channel" } }
            }
        }
    }
}
