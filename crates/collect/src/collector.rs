//! One collection pass: plan -> script -> transport -> facts.

use openwatch_core::facts::FactSet;
use openwatch_core::plan::FactPlan;
use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::parse::{ParseError, parse};
use crate::quote::QuoteError;
use crate::script::{Script, build, new_nonce};
use crate::transport::{ScriptOutput, Transport, TransportError};

#[derive(Debug, Error)]
pub enum CollectError {
    #[error(transparent)]
    Quote(#[from] QuoteError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("the collection script failed on {host} (exit {code:?}): {stderr}")]
    Script { host: String, code: Option<i32>, stderr: String },
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
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// A collection pass ready to send: the script and when it was built.
#[derive(Debug)]
pub struct Pending {
    pub script: Script,
    collected_at: String,
}

/// Build the script for `plan` (first half of a pass; any transport, sync or async).
pub fn prepare(plan: &FactPlan) -> Result<Pending, CollectError> {
    let script = build(plan, &new_nonce())?;
    Ok(Pending { script, collected_at: now_rfc3339() })
}

/// Turn what the host printed into facts (second half of a pass).
pub fn finish(pending: Pending, host: &str, out: &ScriptOutput) -> Result<Collected, CollectError> {
    if out.exit_code != Some(0) {
        return Err(CollectError::Script {
            host: host.to_owned(),
            code: out.exit_code,
            stderr: String::from_utf8_lossy(&out.stderr).trim().chars().take(2000).collect(),
        });
    }
    let facts = parse(&pending.script, &out.stdout, pending.collected_at)?;
    Ok(Collected {
        facts,
        round_trips: out.round_trips,
        bytes_transferred: (pending.script.text.len() + out.stdout.len() + out.stderr.len()) as u64,
    })
}

/// Collect every fact of `plan` from the host behind `transport`, in one script run.
pub fn collect(plan: &FactPlan, transport: &mut dyn Transport) -> Result<Collected, CollectError> {
    let pending = prepare(plan)?;
    let out = transport.run_script(&pending.script.text)?;
    finish(pending, &transport.host_name(), &out)
}
