//! Transports run a collection script on a host. The engine never sees them: it plans facts
//! and reads a fact set, so a new transport (SSH) needs no engine change.

use thiserror::Error;

/// What running a script produced.
#[derive(Debug, Clone)]
pub struct ScriptOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// `None` when the process was killed by a signal.
    pub exit_code: Option<i32>,
    /// How many request/response exchanges the run cost.
    pub round_trips: u32,
}

#[derive(Debug, Error)]
pub enum TransportError {
    #[error("could not start the shell on {host}: {source}")]
    Spawn { host: String, source: std::io::Error },
    #[error("lost the shell on {host}: {source}")]
    Io { host: String, source: std::io::Error },
}

/// Runs a shell script on one host with the script on standard input.
pub trait Transport {
    /// The host's name, for reports.
    fn host_name(&self) -> String;
    /// The address reached, for reports.
    fn address(&self) -> String;
    fn run_script(&mut self, script: &str) -> Result<ScriptOutput, TransportError>;
}
