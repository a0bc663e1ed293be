//! One collection pass: plan -> script -> transport -> facts.

use openwatch_core::facts::FactSet;
use openwatch_core::plan::FactPlan;
use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::parse::{ParseError, parse};
use crate::quote::QuoteError;
use crate::script::{build, new_nonce};
use crate::transport::{Transport, TransportError};

#[derive(Debug, Error)]
pub enum CollectError {
    #[error(transparent)]
    Quote(#[from] QuoteError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("the collection script failed on {host} (exit {code:?}): {stderr}")]
    Script {
        host: String,
        code: Option<i32>,
        stderr: String,
    },
}

/// Facts from one host and what collecting them cost.
#[derive(Debug)]
pub struct Collected {
    pub facts: FactSet,
    pub round_trips: u32,
    pub bytes_transferred: u64,
}

/// The current time in RFC 3339, UTC.
pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Collect every fact of `plan` from the host behind `transport`, in one script run.
pub fn collect(plan: &FactPlan, transport: &mut dyn Transport) -> Result<Collected, CollectError> {
    let nonce = new_nonce();
    let script = build(plan, &nonce)?;
    let collected_at = now_rfc3339();
    let out = transport.run_script(&script.text)?;
    if out.exit_code != Some(0) {
        return Err(CollectError::Script {
            host: transport.host_name(),
            code: out.exit_code,
            stderr: String::from_utf8_lossy(&out.stderr)
                .trim()
                .chars()
                .take(2000)
                .collect(),
        });
    }
    let facts = parse(&script, &out.stdout, collected_at)?;
    Ok(Collected {
        facts,
        round_trips: out.round_trips,
        bytes_transferred: (script.text.len() + out.stdout.len() + out.stderr.len()) as u64,
    })
}
