//! Finishing a sign-in that waits for a second factor, or for one to be enrolled because the
//! account's role requires it, shared by the API (`POST /api/v1/auth/second-factor`) and the
//! sign-in page. A waiting sign-in allows five wrong codes; then it ends and the password
//! is asked again (the account-wide limit of [`second_factor`] applies as well).

use openwatch_store::{Session, SessionStage, User};
use serde_json::json;

use super::second_factor::{self, Context, Purpose, Refused, SESSION_FAILURES};
use crate::app::{AppState, now_ms};
use crate::service::factors;

/// A finished sign-in; after an enrolment, the recovery codes to show once.
#[derive(Debug)]
pub struct Finished {
    pub recovery_codes: Option<Vec<String>>,
}

#[derive(Debug)]
pub enum NotYet {
    RateLimited(u64),
    /// A wrong code; `ended` when that was the last one this sign-in allowed.
    Invalid {
        ended: bool,
    },
    Internal(String),
}

impl From<openwatch_store::StoreError> for NotYet {
    fn from(e: openwatch_store::StoreError) -> NotYet {
        NotYet::Internal(e.to_string())
    }
}

/// Check `code` against a waiting session of `user`.
pub async fn finish(
    state: &AppState,
    session: &Session,
    user: &User,
    code: &str,
    source: &str,
    correlation_id: &str,
    via: &str,
) -> Result<Finished, NotYet> {
    let enrolling = session.stage == SessionStage::Enrol;
    let purpose = if enrolling { Purpose::Enrolment } else { Purpose::SignIn };
    let ctx = Context { source, correlation_id, via, purpose };
    match second_factor::check_code(state, user, code, &ctx).await {
        Ok(_) => {
            // The first code of the app being enrolled finishes the enrolment too.
            let codes =
                if enrolling { Some(factors::replace_recovery_codes(state, user.id).await?) } else { None };
            state.store().second_factor_checked(&session.id_hash, now_ms()).await?;
            if enrolling {
                let details = json!({"factor": "totp", "via": via, "at_sign_in": true});
                let e = super::attempt_event(
                    "factor.enrol",
                    &user.username,
                    source,
                    correlation_id,
                    "success",
                    details,
                );
                state.store().append_audit(&e).await?;
            }
            Ok(Finished { recovery_codes: codes })
        }
        Err(Refused::RateLimited(s)) => Err(NotYet::RateLimited(s)),
        Err(Refused::Internal(e)) => Err(NotYet::Internal(e)),
        Err(Refused::Invalid) => {
            let n = state.store().count_second_factor_failure(&session.id_hash).await?;
            let ended = n >= SESSION_FAILURES;
            if ended {
                state.store().delete_session(&session.id_hash).await?;
            }
            Err(NotYet::Invalid { ended })
        }
    }
}
