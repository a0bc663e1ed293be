//! A person's own sign-in factors and sessions: enrol and remove an authenticator app, new
//! recovery codes, a fresh second-factor check, sessions listed and ended, and an
//! administrator's reset of someone's factors. Adding or removing a factor, like creating an
//! API token, needs a second factor checked in this session within the last ten minutes
//! whenever the account has one.

use openwatch_store::{Millis, SecurityKey, SignInMethod, SsoIdentity, User};
use serde::Serialize;
use serde_json::json;

use super::{Done, ServiceError, ServiceResult, note};
use crate::app::{AppState, now_ms};
use crate::auth::need::{SignedIn, UsersWrite};
use crate::auth::second_factor::{self, Context, FRESH_MS, Refused, enrolled};
use crate::auth::{Caller, Via, lookup_role, recovery, totp, webauthn};
use crate::http::guard::Grant;

/// An authenticator app being enrolled: what the person scans or types. Shown once.
#[derive(Serialize)]
pub struct TotpEnrolment {
    pub secret: String,
    pub uri: String,
    pub qr_svg: String,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment")
    }
}

/// A session as its owner sees it.
#[derive(Debug, Serialize)]
pub struct SessionView {
    /// A prefix of the stored hash: enough to name it, useless as a credential.
    pub id: String,
    pub method: SignInMethod,
    pub provider: Option<String>,
    pub source: String,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub current: bool,
}

/// Everything the profile shows about how an account signs in.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub totp: bool,
    pub recovery_codes_left: i64,
    pub security_keys: Vec<SecurityKey>,
    pub required: bool,
    pub sessions: Vec<SessionView>,
    pub identities: Vec<SsoIdentity>,
}

fn refused(e: Refused) -> ServiceError {
    match e {
        Refused::RateLimited(secs) => ServiceError::RateLimited(secs),
        Refused::Invalid => ServiceError::invalid("code", "wrong, expired or already used code"),
        Refused::Internal(e) => ServiceError::internal(e),
    }
}

/// Does the policy require this role to use a second factor?
pub fn required(state: &AppState, role: &str) -> bool {
    state.config.second_factor_roles.iter().any(|r| r == role)
}

/// Refuse unless a second factor was checked in this session within [`FRESH_MS`], when
/// the account has one (or must have one). Tokens cannot prove one.
pub async fn require_fresh(state: &AppState, caller: &Caller, what: &str) -> ServiceResult<()> {
    let has = enrolled(state.store(), caller.user_id).await?.any() || required(state, &caller.role);
    if !has {
        return Ok(());
    }
    match &caller.via {
        Via::Session { id_hash, .. } => {
            // Read now, not from the request's snapshot: a check may have just passed.
            let at = state.store().session(id_hash).await?.and_then(|s| s.second_factor_at);
            if at.is_some_and(|at| now_ms() - at <= FRESH_MS) {
                return Ok(());
            }
            Err(ServiceError::FreshSecondFactor(format!(
                "{what} needs your second factor checked within the last {} minutes: confirm a code first",
                FRESH_MS / 60_000
            )))
        }
        Via::Token { .. } => Err(ServiceError::FreshSecondFactor(format!(
            "{what} needs a second factor, which an API token cannot give: sign in"
        ))),
    }
}

async fn user_of(state: &AppState, caller: &Caller) -> ServiceResult<User> {
    state.store().user(caller.user_id).await?.ok_or(ServiceError::NotFound("user"))
}

pub async fn overview(state: &AppState, g: &Grant<SignedIn>) -> ServiceResult<Overview> {
    let id = g.caller().user_id;
    let e = enrolled(state.store(), id).await?;
    let current = match &g.caller().via {
        Via::Session { id_hash, .. } => id_hash.as_str(),
        Via::Token { .. } => "",
    };
    let sessions = state
        .store()
        .user_sessions(id)
        .await?
        .into_iter()
        .filter(|s| s.stage == openwatch_store::SessionStage::Full)
        .map(|s| SessionView {
            id: s.id_hash[..16].to_owned(),
            current: s.id_hash == current,
            method: s.method,
            provider: s.provider,
            source: s.source,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
        })
        .collect();
    Ok(Overview {
        totp: e.totp,
        recovery_codes_left: e.recovery_codes,
        security_keys: state.store().security_keys(id).await?,
        required: required(state, &g.caller().role),
        sessions,
        identities: state.store().sso_identities(id).await?,
    })
}

/// New recovery codes for an account, replacing any it had; the codes, to show once.
pub async fn replace_recovery_codes(
    state: &AppState,
    user_id: i64,
) -> Result<Vec<String>, openwatch_store::StoreError> {
    let codes = recovery::generate();
    let hashes: Vec<String> = codes.iter().map(|c| recovery::hash(c)).collect();
    state.store().replace_recovery_codes(user_id, &hashes, now_ms()).await?;
    Ok(codes)
}

/// Start enrolling an authenticator app for `user`; while unconfirmed for ten minutes the
/// same secret is shown again, so reloading the page keeps the scanned code valid.
pub async fn begin_totp(state: &AppState, user: &User) -> ServiceResult<TotpEnrolment> {
    let existing = state.store().totp(user.id).await?;
    let secret = match existing {
        Some(f) if f.confirmed_at.is_some() => {
            return Err(ServiceError::Conflict(
                "an authenticator app is already enrolled; remove it first".into(),
            ));
        }
        Some(f) if now_ms() - f.created_at < 10 * 60_000 => state.key.open(&f.sealed_secret)?,
        _ => {
            let secret = totp::new_secret();
            state.store().begin_totp(user.id, &state.key.seal(&secret)?, now_ms()).await?;
            secret
        }
    };
    let uri = totp::provisioning_uri(&secret, &user.username).map_err(ServiceError::internal)?;
    let qr_svg = totp::qr_svg(&uri).map_err(ServiceError::internal)?;
    Ok(TotpEnrolment { secret: totp::base32(&secret), uri, qr_svg })
}

/// Finish enrolling with the app's first code; the new recovery codes, shown once.
pub async fn confirm_totp(
    state: &AppState,
    user: &User,
    code: &str,
    ctx: &Context<'_>,
) -> ServiceResult<Done<Vec<String>>> {
    second_factor::check_code(state, user, code, ctx).await.map_err(refused)?;
    let codes = replace_recovery_codes(state, user.id).await?;
    let audit =
        note(format!("user:{}", user.username), json!({"factor": "totp", "recovery_codes": codes.len()}));
    Ok(Done::new(codes, audit))
}

/// Start enrolling an app from a signed-in session.
pub async fn begin_own_totp(state: &AppState, g: &Grant<SignedIn>) -> ServiceResult<Done<TotpEnrolment>> {
    require_fresh(state, g.caller(), "adding a second factor").await?;
    let enrolment = begin_totp(state, &user_of(state, g.caller()).await?).await?;
    Ok(Done::new(enrolment, note(format!("user:{}", g.username()), json!({"factor": "totp"}))))
}

pub async fn confirm_own_totp(
    state: &AppState,
    g: &Grant<SignedIn>,
    code: &str,
    ctx: &Context<'_>,
) -> ServiceResult<Done<Vec<String>>> {
    let done = confirm_totp(state, &user_of(state, g.caller()).await?, code, ctx).await?;
    mark_fresh(state, g.caller()).await?;
    Ok(done)
}

/// A check in this session just passed: it is fresh from now.
async fn mark_fresh(state: &AppState, caller: &Caller) -> ServiceResult<()> {
    if let Via::Session { id_hash, .. } = &caller.via {
        state.store().second_factor_checked(id_hash, now_ms()).await?;
    }
    Ok(())
}

/// Refuse leaving `left` factors to an account whose role requires one.
fn keep_one(state: &AppState, caller: &Caller, left: usize) -> ServiceResult<()> {
    if required(state, &caller.role) && left == 0 {
        return Err(ServiceError::Conflict(format!(
            "your role ({}) requires a second factor: enrol another before removing this one",
            caller.role
        )));
    }
    Ok(())
}

pub async fn remove_totp(state: &AppState, g: &Grant<SignedIn>) -> ServiceResult<Done<()>> {
    require_fresh(state, g.caller(), "removing a second factor").await?;
    keep_one(state, g.caller(), enrolled(state.store(), g.caller().user_id).await?.security_keys)?;
    if !state.store().delete_totp(g.caller().user_id).await? {
        return Err(ServiceError::NotFound("authenticator app"));
    }
    if state.store().security_keys(g.caller().user_id).await?.is_empty() {
        state.store().delete_recovery_codes(g.caller().user_id).await?;
    }
    Ok(Done::new((), note(format!("user:{}", g.username()), json!({"factor": "totp"}))))
}

pub async fn new_recovery_codes(state: &AppState, g: &Grant<SignedIn>) -> ServiceResult<Done<Vec<String>>> {
    require_fresh(state, g.caller(), "new recovery codes").await?;
    if !enrolled(state.store(), g.caller().user_id).await?.any() {
        return Err(ServiceError::Conflict(
            "recovery codes stand in for a second factor: enrol one first".into(),
        ));
    }
    let codes = replace_recovery_codes(state, g.caller().user_id).await?;
    Ok(Done::new(
        codes.clone(),
        note(format!("user:{}", g.username()), json!({"recovery_codes": codes.len()})),
    ))
}

/// Check a code now, so sensitive changes in the next minutes are allowed.
pub async fn verify(
    state: &AppState,
    g: &Grant<SignedIn>,
    code: &str,
    ctx: &Context<'_>,
) -> ServiceResult<Done<Millis>> {
    if !matches!(g.caller().via, Via::Session { .. }) {
        return Err(ServiceError::BadRequest(
            "a second factor is checked in a session, not with a token".into(),
        ));
    }
    let user = user_of(state, g.caller()).await?;
    let method = second_factor::check_code(state, &user, code, ctx).await.map_err(refused)?;
    mark_fresh(state, g.caller()).await?;
    let until = now_ms() + FRESH_MS;
    Ok(Done::new(until, note(format!("user:{}", user.username), json!({"method": method.as_str()}))))
}

/// End one of the caller's own sessions, named by its id as listed.
pub async fn end_session(state: &AppState, g: &Grant<SignedIn>, id: &str) -> ServiceResult<Done<()>> {
    let sessions = state.store().user_sessions(g.caller().user_id).await?;
    let found = sessions.iter().find(|s| id.len() >= 16 && s.id_hash.starts_with(id));
    let Some(s) = found else { return Err(ServiceError::NotFound("session")) };
    state.store().delete_session(&s.id_hash).await?;
    Ok(Done::new((), note(format!("user:{}", g.username()), json!({"session": id}))))
}

/// An administrator clears someone's second factors (a lost phone): they enrol again at
/// their next sign-in if their role requires it. Their sessions end.
pub async fn reset(state: &AppState, g: &Grant<UsersWrite>, user_id: i64) -> ServiceResult<Done<()>> {
    let user = state.store().user(user_id).await?.ok_or(ServiceError::NotFound("user"))?;
    let theirs = lookup_role(state.store(), &user.role).await?.unwrap_or_default();
    if !theirs.is_subset(&g.caller().permissions) {
        return Err(ServiceError::Forbidden(format!("{} holds permissions you lack", user.username)));
    }
    if user_id == g.caller().user_id {
        return Err(ServiceError::Conflict("reset your own factors from your profile".into()));
    }
    require_fresh(state, g.caller(), "resetting someone's second factors").await?;
    let totp = state.store().delete_totp(user_id).await?;
    let mut keys = 0;
    for k in state.store().security_keys(user_id).await? {
        keys += usize::from(state.store().delete_security_key(user_id, k.id).await?.is_some());
    }
    state.store().delete_recovery_codes(user_id).await?;
    state.store().delete_user_sessions(user_id).await?;
    let audit = note(format!("user:{}", user.username), json!({"totp": totp, "security_keys": keys}));
    Ok(Done::new((), audit))
}

/// Start registering a security key for the caller; `origin` is where the browser is.
pub async fn begin_own_key(
    state: &AppState,
    g: &Grant<SignedIn>,
    origin: &str,
) -> ServiceResult<Done<webauthn::Ceremony<webauthn_rs::prelude::CreationChallengeResponse>>> {
    require_fresh(state, g.caller(), "adding a second factor").await?;
    let rp = webauthn::relying_party(state, origin)?;
    let ceremony = webauthn::begin_registration(state, &rp, &user_of(state, g.caller()).await?).await?;
    Ok(Done::new(ceremony, note(format!("user:{}", g.username()), json!({"factor": "security_key"}))))
}

/// A key just registered, and recovery codes (shown once) when the account had none.
#[derive(Debug, Serialize)]
pub struct KeyAdded {
    pub key: SecurityKey,
    pub recovery_codes: Option<Vec<String>>,
}

pub async fn finish_own_key(
    state: &AppState,
    g: &Grant<SignedIn>,
    origin: &str,
    challenge_id: &str,
    name: &str,
    answer: &webauthn_rs::prelude::RegisterPublicKeyCredential,
) -> ServiceResult<Done<KeyAdded>> {
    let rp = webauthn::relying_party(state, origin)?;
    let user = user_of(state, g.caller()).await?;
    let key = webauthn::finish_registration(state, &rp, &user, challenge_id, name, answer).await?;
    let recovery_codes = if state.store().recovery_codes_left(user.id).await? == 0 {
        Some(replace_recovery_codes(state, user.id).await?)
    } else {
        None
    };
    let audit = note(format!("user:{}", user.username), json!({"factor": "security_key", "name": key.name}));
    Ok(Done::new(KeyAdded { key, recovery_codes }, audit))
}

pub async fn remove_key(state: &AppState, g: &Grant<SignedIn>, id: i64) -> ServiceResult<Done<()>> {
    require_fresh(state, g.caller(), "removing a second factor").await?;
    let e = enrolled(state.store(), g.caller().user_id).await?;
    keep_one(state, g.caller(), usize::from(e.totp) + e.security_keys.saturating_sub(1))?;
    let Some(k) = state.store().delete_security_key(g.caller().user_id, id).await? else {
        return Err(ServiceError::NotFound("security key"));
    };
    if !enrolled(state.store(), g.caller().user_id).await?.any() {
        state.store().delete_recovery_codes(g.caller().user_id).await?;
    }
    Ok(Done::new(
        (),
        note(format!("user:{}", g.username()), json!({"factor": "security_key", "name": k.name})),
    ))
}
