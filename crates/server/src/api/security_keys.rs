//! Security keys over JSON, for the pages' script and API clients: registering one to your
//! account, and signing in with one (as the second factor of a waiting sign-in, or without
//! a password). Adapters over `auth::webauthn` and `service::factors`.

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openwatch_store::{SessionStage, SignInMethod};
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::auth_routes::signed_in_body;
use crate::app::{AppState, now_ms};
use crate::auth::need::SignedIn;
use crate::auth::second_factor::{self, Context, Method, Purpose};
use crate::auth::secret::random_token;
use crate::auth::sign_in::{SessionStart, session_cookie, start_session};
use crate::auth::{pending, record_attempt, webauthn};
use crate::http::client_addr::client_ip;
use crate::http::error::{ApiResult, bad_request, forbidden};
use crate::http::guard::{Grant, csrf_header_or_origin};
use crate::http::json::ApiJson;
use crate::http::{done, origin, respond};
use crate::service::{ServiceError, factors};

pub async fn begin_registration(
    State(state): State<AppState>,
    g: Grant<SignedIn>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, factors::begin_own_key(&state, &g, &origin(&state, &headers)).await?))
}

#[derive(Debug, Deserialize)]
pub struct Registration {
    challenge_id: String,
    name: String,
    credential: RegisterPublicKeyCredential,
}

pub async fn finish_registration(
    State(state): State<AppState>,
    g: Grant<SignedIn>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<Registration>,
) -> ApiResult<Response> {
    let d = factors::finish_own_key(
        &state,
        &g,
        &origin(&state, &headers),
        &b.challenge_id,
        &b.name,
        &b.credential,
    )
    .await?;
    Ok(respond(StatusCode::CREATED, d))
}

pub async fn remove(
    State(state): State<AppState>,
    g: Grant<SignedIn>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(done(factors::remove_key(&state, &g, id).await?.audit))
}

#[derive(Debug, Deserialize, Default)]
pub struct Begin {
    #[serde(default)]
    username: Option<String>,
}

/// Start signing in with a key: for the waiting sign-in of this browser, or, without one,
/// for the account named (no password).
pub async fn begin_sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let b: Begin = if body.is_empty() {
        Begin::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| bad_request(format!("expected {{\"username\"}} or nothing: {e}")))?
    };
    let rp = webauthn::relying_party(&state, &origin(&state, &headers))?;
    let user = match pending(state.store(), &headers, now_ms()).await? {
        Some((session, user)) if session.stage == SessionStage::SecondFactor => user,
        _ => {
            let name = b.username.unwrap_or_default();
            let user = state.store().user_by_name(name.trim()).await?.filter(|u| !u.disabled);
            // The same answer for an unknown account as for one without keys.
            user.ok_or_else(|| {
                ServiceError::BadRequest("no security key is registered for this account".into())
            })?
        }
    };
    Ok(Json(webauthn::begin_authentication(&state, &rp, &user).await?).into_response())
}

#[derive(Debug, Deserialize)]
pub struct Answer {
    challenge_id: String,
    credential: PublicKeyCredential,
}

/// Finish signing in with a key; every attempt is audited.
pub async fn finish_sign_in(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<Answer>,
) -> ApiResult<Response> {
    let source = client_ip(addr.ip(), &headers, &state.config.trusted_proxies).to_string();
    let rid = random_token("")[..22].to_owned();
    let rp = webauthn::relying_party(&state, &origin(&state, &headers))?;
    let waiting = pending(state.store(), &headers, now_ms()).await?;
    if let Some((session, _)) = &waiting
        && !csrf_header_or_origin(&state, &headers, &session.csrf_token)
    {
        return Err(forbidden("send the X-CSRF-Token header the sign-in returned").with_code("csrf_failed"));
    }
    let proved = webauthn::finish_authentication(&state, &rp, &b.challenge_id, &b.credential).await;
    let user_id = match proved {
        Ok(id) => id,
        Err(e) => {
            if let Some((_, user)) = &waiting {
                let ctx =
                    Context { source: &source, correlation_id: &rid, via: "api", purpose: Purpose::SignIn };
                second_factor::audit(
                    &state,
                    user,
                    &ctx,
                    Some(Method::SecurityKey),
                    "failure",
                    &e.to_string(),
                )
                .await?;
            } else {
                let details = json!({"passwordless": true, "reason": e.to_string()});
                record_attempt(&state, "auth.security_key", "", &source, &rid, "failure", details).await;
            }
            return Err(e.into());
        }
    };
    let user = state.store().user(user_id).await?.filter(|u| !u.disabled);
    let Some(user) = user else {
        return Err(ServiceError::Forbidden("the account is disabled".into()).into());
    };
    match waiting {
        Some((session, waiting_user)) if waiting_user.id == user.id => {
            state.store().second_factor_checked(&session.id_hash, now_ms()).await?;
            let ctx = Context { source: &source, correlation_id: &rid, via: "api", purpose: Purpose::SignIn };
            second_factor::audit(&state, &user, &ctx, Some(Method::SecurityKey), "success", "").await?;
            Ok(Json(signed_in_body(&state, &user, &session.csrf_token, session.expires_at).await?)
                .into_response())
        }
        _ => {
            let how = SessionStart {
                method: SignInMethod::SecurityKey,
                provider: None,
                source: &source,
                second_factor: true,
            };
            let s = start_session(&state, user, how).await?;
            let details = json!({"passwordless": true});
            record_attempt(&state, "auth.security_key", &s.user.username, &source, &rid, "success", details)
                .await;
            let mut resp =
                Json(signed_in_body(&state, &s.user, &s.csrf, s.expires_at).await?).into_response();
            let cookie = session_cookie(&state, &s.token, state.session_limits().absolute_ms / 1000);
            resp.headers_mut().insert(header::SET_COOKIE, cookie.parse().expect("cookie text is ASCII"));
            Ok(resp)
        }
    }
}
