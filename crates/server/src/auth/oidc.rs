//! Single sign-on through OpenID Connect providers: the authorization code flow with PKCE,
//! state and nonce, the ID token's signature, issuer, audience and expiry verified by the
//! `openidconnect` crate. Discovery documents (with their JWKS) are cached for an hour and
//! fetched again at once when a token is signed by a key the cache does not know, so a
//! provider's key rotation costs one failed check, never a failed sign-in.
//!
//! A sign-in in flight is kept in the store (any server process can finish it) under the
//! hash of its `state`, and bound to the browser that began it by a cookie whose hash it
//! records, so a stolen callback address cannot be replayed in another browser.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata, RedirectUrl, Scope, TokenResponse as _,
};
use openwatch_store::{AuthChallenge, ChallengeKind};
use serde::{Deserialize, Serialize};

use super::secret::{random_token, token_hash};
use crate::app::{AppState, now_ms};
use crate::config::OidcProvider;

/// Discovery documents are fetched again after this long.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// A sign-in must come back from the provider within this long.
const FLOW_MS: i64 = 10 * 60_000;
/// The cookie binding a sign-in in flight to its browser.
pub const BINDING_COOKIE: &str = "openwatch_sso";

/// RP-initiated logout's `end_session_endpoint`, which the core metadata does not carry.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct LogoutMetadata {
    end_session_endpoint: Option<String>,
}
impl AdditionalProviderMetadata for LogoutMetadata {}

type Metadata = ProviderMetadata<
    LogoutMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Why a sign-in through a provider failed. The text is shown to the person signing in
/// and recorded in the audit trail; nothing in it is secret.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("no identity provider is named `{0}`")]
    UnknownProvider(String),
    #[error("the identity provider could not be reached or answered wrongly: {0}")]
    Provider(String),
    #[error("this sign-in is unknown or expired; start again")]
    UnknownState,
    #[error("this sign-in was started in another browser; start again")]
    Binding,
    #[error("the identity provider returned an error: {0}")]
    Denied(String),
    #[error("the ID token was refused: {0}")]
    Token(String),
    #[error("the ID token has no `{0}` claim")]
    MissingClaim(String),
    #[error("{0}")]
    Account(String),
    #[error("signing in failed; see the server log")]
    Internal(String),
}

/// What a verified ID token says about the person.
#[derive(Debug, Clone)]
pub struct Identity {
    pub provider: String,
    pub subject: String,
    pub username: String,
    pub groups: Vec<String>,
}

/// A sign-in sent to the provider: where the browser goes, and the binding cookie's value.
#[derive(Debug)]
pub struct Redirect {
    pub url: String,
    pub binding: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Flow {
    provider: String,
    verifier: String,
    nonce: String,
    next: String,
    binding_hash: String,
    redirect_uri: String,
}

/// The configured providers' discovery documents, cached, and the HTTP client that fetches
/// them (redirects not followed, so a provider cannot point the server elsewhere).
#[derive(Debug)]
pub struct Providers {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (Metadata, Instant)>>,
}

impl Providers {
    pub fn new() -> Result<Providers, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("HTTP client for identity providers: {e}"))?;
        Ok(Providers { http, cache: Mutex::new(HashMap::new()) })
    }

    async fn metadata(&self, p: &OidcProvider, fresh: bool) -> Result<Metadata, SsoError> {
        if !fresh
            && let Some((m, at)) = self.cache.lock().expect("oidc cache lock").get(&p.name)
            && at.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let issuer = IssuerUrl::new(p.issuer.clone()).map_err(|e| SsoError::Provider(e.to_string()))?;
        let m = Metadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| SsoError::Provider(error_chain(&e)))?;
        self.cache.lock().expect("oidc cache lock").insert(p.name.clone(), (m.clone(), Instant::now()));
        Ok(m)
    }

    /// The provider's end-session address, if it offers one (from the cached document).
    pub async fn end_session(&self, p: &OidcProvider) -> Option<String> {
        self.metadata(p, false).await.ok()?.additional_metadata().end_session_endpoint.clone()
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// This server as the provider's client, for one sign-in's redirect address.
type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

fn relying_party(
    p: &OidcProvider,
    metadata: Metadata,
    secret: Option<ClientSecret>,
    redirect: RedirectUrl,
) -> Rp {
    CoreClient::from_provider_metadata(metadata, ClientId::new(p.client_id.clone()), secret)
        .set_redirect_uri(redirect)
}

pub fn provider<'a>(state: &'a AppState, name: &str) -> Result<&'a OidcProvider, SsoError> {
    state
        .config
        .oidc_providers
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| SsoError::UnknownProvider(name.into()))
}

fn client_secret(p: &OidcProvider) -> Result<Option<ClientSecret>, SsoError> {
    let Some(path) = &p.client_secret_file else { return Ok(None) };
    let text = std::fs::read_to_string(path)
        .map_err(|e| SsoError::Internal(format!("reading {}: {e}", path.display())))?;
    Ok(Some(ClientSecret::new(text.trim().to_owned())))
}

/// Send the browser to provider `name`; `origin` is this server's public origin.
pub async fn begin(state: &AppState, name: &str, origin: &str, next: &str) -> Result<Redirect, SsoError> {
    let p = provider(state, name)?;
    let metadata = state.oidc.metadata(p, false).await?;
    let redirect_uri = format!("{origin}/auth/oidc/{}/callback", p.name);
    let redirect = RedirectUrl::new(redirect_uri.clone()).map_err(|e| SsoError::Internal(e.to_string()))?;
    let client = relying_party(p, metadata, client_secret(p)?, redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for s in p.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(s.clone()));
    }
    let (url, csrf, nonce) = request.url();
    let binding = random_token("");
    let flow = Flow {
        provider: p.name.clone(),
        verifier: verifier.secret().clone(),
        nonce: nonce.secret().clone(),
        next: next.to_owned(),
        binding_hash: token_hash(&binding),
        redirect_uri,
    };
    let now = now_ms();
    let challenge = AuthChallenge {
        id_hash: token_hash(csrf.secret()),
        kind: ChallengeKind::Sso,
        user_id: None,
        state: serde_json::to_string(&flow).map_err(|e| SsoError::Internal(e.to_string()))?,
        expires_at: now + FLOW_MS,
    };
    state.store().put_challenge(&challenge, now).await.map_err(|e| SsoError::Internal(e.to_string()))?;
    Ok(Redirect { url: url.to_string(), binding })
}

/// What the provider sent back to the callback address.
#[derive(Debug, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Finish a sign-in: the identity the provider vouched for, and where to go next.
pub async fn finish(
    state: &AppState,
    name: &str,
    cb: &Callback,
    binding: Option<&str>,
) -> Result<(Identity, String), SsoError> {
    let p = provider(state, name)?;
    let Some(state_param) = cb.state.as_deref() else { return Err(SsoError::UnknownState) };
    let taken = state
        .store()
        .take_challenge(&token_hash(state_param), ChallengeKind::Sso, now_ms())
        .await
        .map_err(|e| SsoError::Internal(e.to_string()))?;
    let Some(taken) = taken else { return Err(SsoError::UnknownState) };
    let flow: Flow = serde_json::from_str(&taken.state).map_err(|e| SsoError::Internal(e.to_string()))?;
    if flow.provider != p.name {
        return Err(SsoError::UnknownState);
    }
    let bound = binding.is_some_and(|b| {
        crate::http::guard::constant_time_eq(token_hash(b).as_bytes(), flow.binding_hash.as_bytes())
    });
    if !bound {
        return Err(SsoError::Binding);
    }
    if let Some(e) = &cb.error {
        return Err(SsoError::Denied(
            format!("{e} {}", cb.error_description.as_deref().unwrap_or("")).trim().to_owned(),
        ));
    }
    let Some(code) = cb.code.clone() else { return Err(SsoError::Denied("no authorization code".into())) };
    let metadata = state.oidc.metadata(p, false).await?;
    // RFC 9207: a provider that names itself must be the one this sign-in went to.
    if let Some(iss) = &cb.iss
        && iss.trim_end_matches('/') != metadata.issuer().as_str().trim_end_matches('/')
    {
        return Err(SsoError::Denied(format!("the response came from another issuer ({iss})")));
    }
    let secret = client_secret(p)?;
    let redirect =
        RedirectUrl::new(flow.redirect_uri.clone()).map_err(|e| SsoError::Internal(e.to_string()))?;
    let client = relying_party(p, metadata.clone(), secret.clone(), redirect.clone());
    let response = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| SsoError::Provider(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
        .request_async(&state.oidc.http)
        .await
        .map_err(|e| SsoError::Provider(error_chain(&e)))?;
    let id_token =
        response.id_token().ok_or_else(|| SsoError::Token("the provider sent no ID token".into()))?;
    let nonce = Nonce::new(flow.nonce.clone());
    let subject_by =
        |client: &Rp| id_token.claims(&client.id_token_verifier(), &nonce).map(|c| c.subject().to_string());
    let mut verified = subject_by(&client);
    if let Err(ClaimsVerificationError::SignatureVerification(_)) = &verified {
        // Perhaps the provider rotated its keys since the document was cached: fetch it again.
        let fresh = state.oidc.metadata(p, true).await?;
        verified = subject_by(&relying_party(p, fresh, secret, redirect));
    }
    let subject = verified.map_err(|e| SsoError::Token(token_error(&e)))?;
    // The signature is verified: the payload's other claims can be read as they are.
    let payload = id_token.to_string();
    let claims = payload
        .split('.')
        .nth(1)
        .and_then(|p| base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .ok_or_else(|| SsoError::Token("the ID token's claims are not JSON".into()))?;
    let username = claims[&p.username_claim]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SsoError::MissingClaim(p.username_claim.clone()))?
        .to_owned();
    let groups = match &claims[&p.groups_claim] {
        serde_json::Value::Array(a) => a.iter().filter_map(|g| g.as_str().map(str::to_owned)).collect(),
        serde_json::Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    };
    Ok((Identity { provider: p.name.clone(), subject, username, groups }, flow.next))
}

/// A verification failure in words a person can act on.
fn token_error(e: &ClaimsVerificationError) -> String {
    match e {
        ClaimsVerificationError::SignatureVerification(_) => "its signature is not valid".into(),
        ClaimsVerificationError::InvalidAudience(_) => "it was issued for another client (audience)".into(),
        ClaimsVerificationError::Expired(_) => "it has expired".into(),
        ClaimsVerificationError::InvalidIssuer(_) => "it was issued by another provider".into(),
        ClaimsVerificationError::InvalidNonce(_) => "its nonce does not match this sign-in".into(),
        other => other.to_string(),
    }
}
