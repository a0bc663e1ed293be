//! Sending one delivery over its channel: a signed JSON webhook, a Slack-compatible
//! incoming webhook, or email over SMTP. Each returns a short detail (HTTP status, SMTP
//! reply) or why it failed, never a secret: URLs are left out of HTTP errors because a
//! Slack URL is one.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use openwatch_store::{Channel, ChannelKind, Delivery};
use ring::hmac;

use crate::service::channels::{EmailSettings, SmtpSecurity, WebhookSettings};

/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The header a webhook receiver checks: `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-OpenWatch-Signature";
/// The header receivers deduplicate on: the same delivery keeps its id across retries.
pub const DELIVERY_HEADER: &str = "X-OpenWatch-Delivery";

/// `sha256=<hex>` of the HMAC-SHA256 of `body` keyed with `key`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), body);
    format!("sha256={}", hex::encode(tag.as_ref()))
}

pub async fn send(channel: &Channel, secret: Option<&[u8]>, d: &Delivery) -> Result<String, String> {
    match channel.kind {
        ChannelKind::Webhook => webhook(channel, secret, d).await,
        ChannelKind::Slack => slack(secret, d).await,
        ChannelKind::Email => email(channel, secret, d).await,
    }
}

fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("building the HTTP client: {}", e.without_url()))
}

async fn post(req: reqwest::RequestBuilder) -> Result<String, String> {
    let resp = req.send().await.map_err(|e| format!("request failed: {}", error_chain(&e.without_url())))?;
    let status = resp.status();
    let detail = format!("HTTP {}", status.as_u16());
    if status.is_success() { Ok(detail) } else { Err(detail) }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

async fn webhook(channel: &Channel, secret: Option<&[u8]>, d: &Delivery) -> Result<String, String> {
    let settings: WebhookSettings =
        serde_json::from_value(channel.settings.clone()).map_err(|e| format!("bad webhook settings: {e}"))?;
    let key = secret.ok_or("the webhook has no signing secret")?;
    let body = serde_json::to_vec(&d.payload).map_err(|e| e.to_string())?;
    let req = client()?
        .post(&settings.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature(key, &body))
        .header(DELIVERY_HEADER, d.id.to_string())
        .body(body);
    post(req).await
}

async fn slack(secret: Option<&[u8]>, d: &Delivery) -> Result<String, String> {
    let url = std::str::from_utf8(secret.ok_or("the Slack channel has no URL")?)
        .map_err(|_| "the Slack URL is not text".to_owned())?;
    post(client()?.post(url).json(&serde_json::json!({"text": d.text}))).await
}

async fn email(channel: &Channel, secret: Option<&[u8]>, d: &Delivery) -> Result<String, String> {
    let s: EmailSettings =
        serde_json::from_value(channel.settings.clone()).map_err(|e| format!("bad email settings: {e}"))?;
    let mailbox = |a: &str| a.parse::<Mailbox>().map_err(|e| format!("`{a}`: {e}"));
    let mut builder = lettre::Message::builder().from(mailbox(&s.from)?).subject(d.subject.clone());
    for to in &s.to {
        builder = builder.to(mailbox(to)?);
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(d.text.clone(), d.html.clone()))
        .map_err(|e| format!("building the message: {e}"))?;
    let tls = || -> Result<TlsParameters, String> {
        let mut params = TlsParameters::builder(s.host.clone());
        if let Some(pem) = &s.ca_pem {
            let ca = Certificate::from_pem(pem.as_bytes()).map_err(|e| format!("the CA certificate: {e}"))?;
            params = params.add_root_certificate(ca);
        }
        params.build_rustls().map_err(|e| format!("SMTP TLS setup: {e}"))
    };
    let relay = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host);
    let relay = match s.security {
        SmtpSecurity::Starttls => relay.tls(Tls::Required(tls()?)),
        SmtpSecurity::Tls => relay.tls(Tls::Wrapper(tls()?)),
        SmtpSecurity::Plain => relay,
    };
    let mut transport = relay.port(s.port).timeout(Some(TIMEOUT));
    if let (Some(user), Some(password)) = (&s.username, secret) {
        let password =
            String::from_utf8(password.to_vec()).map_err(|_| "the SMTP password is not text".to_owned())?;
        transport = transport.credentials(Credentials::new(user.clone(), password));
    }
    let reply = transport.build().send(message).await.map_err(|e| format!("SMTP: {}", error_chain(&e)))?;
    Ok(format!("SMTP {} {}", reply.code(), reply.message().next().unwrap_or_default()))
}
