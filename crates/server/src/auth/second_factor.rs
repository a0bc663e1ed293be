//! Checking a second factor typed by a person: a code from an authenticator app (each time
//! step accepted once) or a recovery code (each used once). Shared by sign-in, enrolment and
//! the fresh checks that guard sensitive changes, over the API and the web. Every attempt is
//! audited (`auth.second_factor`); failures are limited per account, whatever the source,
//! because whoever guesses codes already holds the password.

use std::time::Instant;

use openwatch_store::{Store, StoreError, User};
use serde_json::json;

use super::{recovery, totp};
use crate::app::{AppState, now_ms};

/// Failed codes per account per 15 minutes.
pub const MAX_FAILURES: u32 = 10;
/// Failed codes one waiting sign-in may make before it is ended (the password again).
pub const SESSION_FAILURES: i64 = 5;
/// How recent a second-factor check must be for a sensitive change (tokens, factors).
pub const FRESH_MS: i64 = 10 * 60_000;

/// The second factors an account has.
#[derive(Debug, Clone, Copy, Default)]
pub struct Enrolled {
    pub totp: bool,
    pub security_keys: usize,
    pub recovery_codes: i64,
}

impl Enrolled {
    pub fn any(&self) -> bool {
        self.totp || self.security_keys > 0
    }
}

pub async fn enrolled(store: &dyn Store, user_id: i64) -> Result<Enrolled, StoreError> {
    Ok(Enrolled {
        totp: store.totp(user_id).await?.is_some_and(|t| t.confirmed_at.is_some()),
        security_keys: store.security_keys(user_id).await?.len(),
        recovery_codes: store.recovery_codes_left(user_id).await?,
    })
}

/// Which factor a check used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Totp,
    RecoveryCode,
    SecurityKey,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Totp => "totp",
            Method::RecoveryCode => "recovery_code",
            Method::SecurityKey => "security_key",
        }
    }
}

/// What a check is for, as audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    Enrolment,
    FreshCheck,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Enrolment => "enrolment",
            Purpose::FreshCheck => "fresh_check",
        }
    }
}

/// Who is checking, from where, through which surface.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub source: &'a str,
    pub correlation_id: &'a str,
    /// `api` or `web`.
    pub via: &'a str,
    pub purpose: Purpose,
}

#[derive(Debug)]
pub enum Refused {
    /// Too many failed codes for this account; retry after this many seconds.
    RateLimited(u64),
    /// A wrong, expired or already used code.
    Invalid,
    Internal(String),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Refused {
        Refused::Internal(e.to_string())
    }
}

/// Record one attempt.
pub async fn audit(
    state: &AppState,
    user: &User,
    ctx: &Context<'_>,
    method: Option<Method>,
    outcome: &str,
    reason: &str,
) -> Result<(), StoreError> {
    let mut details = json!({"via": ctx.via, "purpose": ctx.purpose.as_str()});
    if let Some(m) = method {
        details["method"] = json!(m.as_str());
    }
    if !reason.is_empty() {
        details["reason"] = json!(reason);
    }
    let e = super::attempt_event(
        "auth.second_factor",
        &user.username,
        ctx.source,
        ctx.correlation_id,
        outcome,
        details,
    );
    state.store().append_audit(&e).await.map(|_| ())
}

/// Check `code` for `user`: six digits from their authenticator app (for enrolment, the
/// app being enrolled), or one of their recovery codes.
pub async fn check_code(
    state: &AppState,
    user: &User,
    code: &str,
    ctx: &Context<'_>,
) -> Result<Method, Refused> {
    let key = format!("user:{}", user.username);
    let attempt = match state.factor_limiter.begin(&key, &user.username, Instant::now()) {
        Ok(a) => a,
        Err(wait) => {
            audit(state, user, ctx, None, "denied", "rate limited").await?;
            return Err(Refused::RateLimited(wait));
        }
    };
    let checked = if recovery::looks_like(code) && ctx.purpose != Purpose::Enrolment {
        let ok = state.store().use_recovery_code(user.id, &recovery::hash(code), now_ms()).await;
        ok.map(|ok| (Method::RecoveryCode, if ok { "" } else { "wrong or used recovery code" }))
    } else {
        totp_code(state, user, code, ctx.purpose == Purpose::Enrolment).await.map(|why| (Method::Totp, why))
    };
    let (method, why) = match checked {
        Ok(c) => c,
        Err(e) => {
            state.factor_limiter.take_back(attempt);
            return Err(e.into());
        }
    };
    if why.is_empty() {
        state.factor_limiter.succeeded(attempt);
        audit(state, user, ctx, Some(method), "success", "").await?;
        Ok(method)
    } else {
        audit(state, user, ctx, Some(method), "failure", why).await?;
        Err(Refused::Invalid)
    }
}

/// Check an app code; empty when accepted, else why not.
async fn totp_code(
    state: &AppState,
    user: &User,
    code: &str,
    enrolling: bool,
) -> Result<&'static str, StoreError> {
    let Some(factor) = state.store().totp(user.id).await? else { return Ok("no authenticator app enrolled") };
    if factor.confirmed_at.is_some() == enrolling {
        return Ok(if enrolling {
            "the authenticator app is already enrolled"
        } else {
            "enrolment not finished"
        });
    }
    let secret = state.key.open(&factor.sealed_secret)?;
    let now = now_ms() / 1000;
    let Some(step) = totp::matching_step(&secret, code, now.max(0) as u64) else { return Ok("wrong code") };
    if !state.store().use_totp_step(user.id, step, now_ms()).await? {
        return Ok("code already used");
    }
    Ok("")
}
