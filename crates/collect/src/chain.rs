//! Several scripts in one round trip: each runs in its own subshell, in order, and its
//! standard output, standard error and exit status come back apart, as if it had been run
//! alone. A fix uses it to commit one rule, apply the next and collect the facts that verify
//! it over a single exec instead of three.
//!
//! Parts are separated by frames carrying a per-run random nonce, which no part can print.

use std::fmt::Write as _;

use thiserror::Error;

use crate::quote::{QuoteError, quote};
use crate::script::new_nonce;
use crate::transport::ScriptOutput;

/// The combined script and the nonce its frames carry.
#[derive(Debug, Clone)]
pub struct Chain {
    pub text: String,
    nonce: String,
    parts: usize,
}

#[derive(Debug, Error)]
pub enum ChainError {
    #[error(
        "the host's output of a combined script is incomplete: part {part} of {parts} never ended (exit status {code:?})"
    )]
    Incomplete { part: usize, parts: usize, code: Option<i32> },
    #[error(transparent)]
    Quote(#[from] QuoteError),
}

/// One part's bytes on one stream, and the exit status its frame carries.
type Part = (Vec<u8>, Option<i32>);

fn frame(nonce: &str) -> String {
    format!("\n@@OWCHAIN:{nonce}:")
}

/// One script running `parts` in order, each in a subshell (an `exit` or a trap in one part
/// ends only that part) reading nothing: the script itself arrives on standard input.
pub fn chain(parts: &[&str]) -> Result<Chain, ChainError> {
    let nonce = new_nonce();
    let mut text = String::from("#!/bin/sh\n");
    let _ = writeln!(text, "ow_chain={}", quote(&nonce)?);
    for part in parts {
        let _ = writeln!(
            text,
            "(\n{part}\n) </dev/null\now_chain_rc=$?\n\
             printf '\\n@@OWCHAIN:%s:%s\\n' \"$ow_chain\" \"$ow_chain_rc\"\n\
             printf '\\n@@OWCHAIN:%s:%s\\n' \"$ow_chain\" \"$ow_chain_rc\" >&2"
        );
    }
    text.push_str("exit 0\n");
    Ok(Chain { text, nonce, parts: parts.len() })
}

impl Chain {
    /// Each part's output, in order, as [`ScriptOutput`]s of their own. The round trip is
    /// counted once, on the first part.
    pub fn split(&self, out: &ScriptOutput) -> Result<Vec<ScriptOutput>, ChainError> {
        let incomplete =
            |part: usize| ChainError::Incomplete { part: part + 1, parts: self.parts, code: out.exit_code };
        let marker = frame(&self.nonce);
        let cut = |bytes: &[u8]| -> Result<Vec<Part>, ChainError> {
            let mut rest = bytes;
            let mut found = Vec::with_capacity(self.parts);
            for part in 0..self.parts {
                let at = find(rest, marker.as_bytes()).ok_or_else(|| incomplete(part))?;
                let body = rest[..at].to_vec();
                let after = &rest[at + marker.len()..];
                let end = after.iter().position(|b| *b == b'\n').ok_or_else(|| incomplete(part))?;
                let code = std::str::from_utf8(&after[..end]).ok().and_then(|c| c.parse().ok());
                found.push((body, code));
                rest = &after[end + 1..];
            }
            Ok(found)
        };
        let stdout = cut(&out.stdout)?;
        let stderr = cut(&out.stderr)?;
        Ok(stdout
            .into_iter()
            .zip(stderr)
            .enumerate()
            .map(|(i, ((stdout, exit_code), (stderr, _)))| ScriptOutput {
                stdout,
                stderr,
                exit_code,
                round_trips: if i == 0 { out.round_trips } else { 0 },
            })
            .collect())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalTransport;
    use crate::transport::Transport;

    #[test]
    fn parts_come_back_apart_with_their_own_status() {
        let c = chain(&[
            "echo one; echo err-one >&2; exit 3",
            "trap 'echo bye' EXIT\nprintf 'no newline'",
            "echo \"@@OWCHAIN:forged:0\"; exit 0",
        ])
        .unwrap();
        let out = LocalTransport.run_script(&c.text).unwrap();
        let parts = c.split(&out).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].stdout, b"one\n");
        assert_eq!(parts[0].stderr, b"err-one\n");
        assert_eq!(parts[0].exit_code, Some(3));
        assert_eq!(parts[1].stdout, b"no newlinebye\n");
        assert_eq!(parts[1].exit_code, Some(0));
        assert_eq!(parts[2].stdout, b"@@OWCHAIN:forged:0\n");
        assert_eq!(parts[0].round_trips + parts[1].round_trips + parts[2].round_trips, out.round_trips);
    }

    #[test]
    fn a_cut_short_run_is_an_error_not_a_part() {
        let c = chain(&["echo one", "kill -9 $$"]).unwrap();
        let out = LocalTransport.run_script(&c.text).unwrap();
        assert!(matches!(c.split(&out), Err(ChainError::Incomplete { part: 2, parts: 2, .. })), "{out:?}");
    }
}
