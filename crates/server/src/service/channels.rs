//! Notification channels: create, change, delete, send a test message, read deliveries.
//! Settings are checked per kind; the secret (webhook signing key, Slack incoming-webhook
//! URL, SMTP password) is sealed before it reaches the store and never returned.

use openwatch_store::{Channel, ChannelKind, Delivery, DeliveryQuery, DeliveryStatus, NewChannel, Page};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::notify::{MAX_ATTEMPTS, Message};
use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::ChannelsManage;
use crate::http::guard::Grant;

/// A channel as given by a caller. `secret` is write-only: on update, absent or empty keeps
/// the stored one.
#[derive(Deserialize, Default)]
pub struct ChannelInput {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub settings: Value,
    pub secret: Option<String>,
    pub enabled: Option<bool>,
}

impl std::fmt::Debug for ChannelInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelInput")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A webhook's settings: where the signed JSON goes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: String,
}

/// How the SMTP connection is protected: STARTTLS, TLS from the first byte, or nothing
/// (only for a relay on the same machine or a test server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    Plain,
}

/// An email channel's settings; the password is the channel's secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    /// A CA certificate (PEM) to trust besides the public ones, for a relay whose
    /// certificate an internal CA issued (starttls and tls only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

fn http_url(field: &'static str, url: &str) -> ServiceResult<()> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(ServiceError::invalid(field, "must be an http:// or https:// URL")),
    }
}

fn mailbox(field: &'static str, addr: &str) -> ServiceResult<()> {
    addr.parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|e| ServiceError::invalid(field, format!("`{addr}` is not an email address: {e}")))
}

/// Check a channel's input; the channel to store (secret sealed) and its settings as stored.
fn checked(state: &AppState, input: ChannelInput, creating: bool) -> ServiceResult<NewChannel> {
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        return Err(ServiceError::invalid("name", "must not be empty"));
    }
    let kind = ChannelKind::parse(&input.kind).ok_or_else(|| {
        ServiceError::invalid("kind", format!("`{}` is not webhook, slack or email", input.kind))
    })?;
    let secret = input.secret.filter(|s| !s.is_empty());
    let settings = match kind {
        ChannelKind::Webhook => {
            let s: WebhookSettings = serde_json::from_value(input.settings).map_err(|e| {
                ServiceError::invalid("settings", format!("a webhook needs {{\"url\"}}: {e}"))
            })?;
            http_url("settings.url", &s.url)?;
            if creating && secret.is_none() {
                return Err(ServiceError::invalid("secret", "a webhook needs a signing secret"));
            }
            json!(s)
        }
        ChannelKind::Slack => {
            if !matches!(&input.settings, Value::Null) && input.settings != json!({}) {
                return Err(ServiceError::invalid(
                    "settings",
                    "a Slack channel has none: its URL is the secret",
                ));
            }
            match &secret {
                Some(url) => http_url("secret", url)?,
                None if creating => {
                    return Err(ServiceError::invalid("secret", "the incoming-webhook URL is required"));
                }
                None => {}
            }
            json!({})
        }
        ChannelKind::Email => {
            let s: EmailSettings = serde_json::from_value(input.settings).map_err(|e| {
                ServiceError::invalid("settings", format!("email needs host, port, security, from, to: {e}"))
            })?;
            if s.host.trim().is_empty() {
                return Err(ServiceError::invalid("settings.host", "must not be empty"));
            }
            mailbox("settings.from", &s.from)?;
            if s.to.is_empty() {
                return Err(ServiceError::invalid("settings.to", "name at least one recipient"));
            }
            for to in &s.to {
                mailbox("settings.to", to)?;
            }
            if let Some(pem) = &s.ca_pem {
                if s.security == SmtpSecurity::Plain {
                    return Err(ServiceError::invalid("settings.ca_pem", "only with starttls or tls"));
                }
                lettre::transport::smtp::client::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                    ServiceError::invalid("settings.ca_pem", format!("not a PEM certificate: {e}"))
                })?;
            }
            json!(s)
        }
    };
    let sealed_secret = secret.map(|s| state.key.seal(s.as_bytes())).transpose()?;
    Ok(NewChannel { name, kind, settings, sealed_secret, enabled: input.enabled.unwrap_or(true) })
}

fn channel_note(c: &Channel, secret_changed: bool) -> super::AuditNote {
    note(
        format!("channel:{}", c.name),
        json!({"kind": c.kind, "enabled": c.enabled, "secret_changed": secret_changed}),
    )
}

pub async fn list(state: &AppState, _: &Grant<ChannelsManage>) -> ServiceResult<Vec<Channel>> {
    Ok(state.store().list_channels().await?)
}

pub async fn get(state: &AppState, _: &Grant<ChannelsManage>, id: i64) -> ServiceResult<Channel> {
    state.store().channel(id).await?.ok_or(ServiceError::NotFound("channel"))
}

pub async fn create(
    state: &AppState,
    _: &Grant<ChannelsManage>,
    input: ChannelInput,
) -> ServiceResult<Done<Channel>> {
    let c = checked(state, input, true)?;
    let channel = state.store().create_channel(&c, now_ms()).await?;
    let audit = channel_note(&channel, true);
    Ok(Done::new(channel, audit))
}

pub async fn update(
    state: &AppState,
    _: &Grant<ChannelsManage>,
    id: i64,
    input: ChannelInput,
) -> ServiceResult<Done<Channel>> {
    let old = state.store().channel(id).await?.ok_or(ServiceError::NotFound("channel"))?;
    // A new kind needs its own secret: the stored one was another kind's.
    let kind_changed = ChannelKind::parse(&input.kind) != Some(old.kind);
    let c = checked(state, input, kind_changed)?;
    let secret_changed = c.sealed_secret.is_some();
    let channel =
        state.store().update_channel(id, &c, now_ms()).await?.ok_or(ServiceError::NotFound("channel"))?;
    let audit = channel_note(&channel, secret_changed);
    Ok(Done::new(channel, audit))
}

pub async fn delete(state: &AppState, _: &Grant<ChannelsManage>, id: i64) -> ServiceResult<Done<Channel>> {
    let c = state.store().channel(id).await?.ok_or(ServiceError::NotFound("channel"))?;
    if !state.store().delete_channel(id).await? {
        return Err(ServiceError::NotFound("channel"));
    }
    let audit = channel_note(&c, false);
    Ok(Done::new(c, audit))
}

/// Queue a test message to one channel (enabled or not), delivered like any other.
pub async fn send_test(
    state: &AppState,
    g: &Grant<ChannelsManage>,
    id: i64,
) -> ServiceResult<Done<Delivery>> {
    let c = state.store().channel(id).await?.ok_or(ServiceError::NotFound("channel"))?;
    let now = now_ms();
    let by = g.username().to_owned();
    let text = format!("This is a test message from OpenWatch to the channel {}, sent by {by}.", c.name);
    let m = Message {
        dedup_key: format!("test:{}", crate::auth::secret::random_token("")),
        subject: format!("OpenWatch test message ({})", c.name),
        html: format!("<p>{}</p>", maud::html! { (text) }.into_string()),
        payload: json!({"event": "test", "channel": c.name, "sent_by": by, "at": now, "text": text}),
        text,
    };
    let d = state
        .store()
        .queue_deliveries(&m, Some(&[id]), MAX_ATTEMPTS, now)
        .await?
        .pop()
        .ok_or_else(|| ServiceError::internal("a test delivery was not queued"))?;
    let audit = note(format!("channel:{}", c.name), json!({"delivery_id": d.id}));
    Ok(Done::new(d, audit))
}

/// Which deliveries to list.
#[derive(Debug, Default, Deserialize)]
pub struct DeliveryFilter {
    pub channel_id: Option<i64>,
    pub status: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

pub async fn deliveries(
    state: &AppState,
    _: &Grant<ChannelsManage>,
    f: &DeliveryFilter,
) -> ServiceResult<Page<Delivery>> {
    let status = match f.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            DeliveryStatus::parse(s)
                .ok_or_else(|| ServiceError::invalid("status", "one of queued, delivered, dead"))?,
        ),
    };
    let q = DeliveryQuery { channel_id: f.channel_id, status };
    Ok(state.store().list_deliveries(&q, super::page(f.page, f.per_page)?).await?)
}
