//! File transactions on a host: apply a fix's file changes with the pre-state journaled
//! first, and roll them back from the journal alone. The journal is a root-only directory on
//! the host (`<journal>/<transaction id>/`): a manifest (each path with its state and
//! SHA-256 before and after), a copy of every file as it was, and the transaction's state,
//! each synced to disk before the next step. So a rollback needs nothing but the transaction
//! id, survives the caller dying mid-change, and refuses, naming the path, to overwrite a
//! file that changed after the fix.
//!
//! Steps that are not file edits ([`Action`]s, see [`crate::actions`]) join the same
//! transaction: their pre-state is captured into the journal (`act/<i>.*`) with the files',
//! each action's undo is stored beside it (`act/<i>.undo`, listed in `actions`), and they run
//! after the files change. A rollback restores the files first, then runs the undo of every
//! action that started, last first (so a service restarts on its restored configuration).
//! Journals without an `actions` file (file-only transactions) roll back as before.
//!
//! Every path and value reaches the shell through [`quote`]; contents travel as base64.

use std::fmt::Write as _;

use base64::Engine as _;
use openwatch_core::fix::Action;
use thiserror::Error;

use crate::actions::{self, ActionError};
use crate::capture::PathState;
use crate::quote::{QuoteError, quote};
use crate::transport::{ScriptOutput, Transport, TransportError};

/// Where journals live on a host unless told otherwise.
pub const JOURNAL_DIR: &str = "/var/lib/openwatch/journal";

/// A file as a fix leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    Absent,
    File { content: Vec<u8>, mode: u32, owner: String, group: String },
}

/// One path a transaction changes: its captured pre-state and what it becomes.
#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: String,
    pub before: PathState,
    pub after: After,
}

#[derive(Debug, Error)]
pub enum TxnError {
    #[error(transparent)]
    Quote(#[from] QuoteError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{path}: only absent or regular files can be changed, not {what}")]
    Unsupported { path: String, what: String },
    #[error("`{0}` is not a transaction id (letters, digits and `-` only)")]
    BadId(String),
    #[error("{0:?}: paths with a newline cannot be journaled")]
    BadPath(String),
    #[error("transaction {0} already exists on the host")]
    Exists(String),
    #[error("no transaction {0} on the host")]
    Unknown(String),
    #[error("changed since {when}, left untouched: {}", paths.join(", "))]
    Conflict { when: &'static str, paths: Vec<String> },
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error("nothing was changed: {0}")]
    Refused(String),
    #[error("{0}")]
    ActionFailed(String),
    #[error("the transaction script failed (exit {code:?}): {stderr}")]
    Failed { code: Option<i32>, stderr: String },
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(b))
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn check_id(id: &str) -> Result<(), TxnError> {
    let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok { Ok(()) } else { Err(TxnError::BadId(id.to_owned())) }
}

const PRELUDE: &str = r#"export LC_ALL=C
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 077
# ow_state PATH: "absent", or the SHA-256 of a regular file, or "other".
ow_state() {
  if [ -L "$1" ]; then echo other
  elif [ -f "$1" ]; then ow_h=$(sha256sum < "$1") || exit 74; echo "${ow_h%% *}"
  elif [ -e "$1" ]; then echo other
  else echo absent; fi
}
# ow_meta PATH: mode, owner and group ("absent" when there is none), kept beside the content
# hash so a rollback also notices a file whose permissions were changed after the fix.
ow_meta() { stat -c '%a %U %G' -- "$1" 2>/dev/null || echo absent; }
ow_sync() { sync -f "$1" 2>/dev/null || sync; }
# ow_put SOURCE PATH: replace PATH with a copy of SOURCE (mode and owner kept) by a rename in
# PATH's own directory, so readers see the old file or the new one, never a mix.
ow_put() {
  ow_t="$(dirname -- "$2")/.openwatch-$ow_tx.tmp"
  cp -p -- "$1" "$ow_t" && ow_sync "$ow_t" && mv -f -- "$ow_t" "$2" || { rm -f -- "$ow_t"; exit 74; }
}
"#;

/// The script applying `changes` as transaction `id`, journal first. It refuses (exit 77,
/// naming each path) when a file no longer matches the pre-state the fix was planned from.
pub fn apply_script(journal: &str, id: &str, changes: &[FileChange]) -> Result<String, TxnError> {
    apply_all_script(journal, id, changes, &[])
}

/// [`apply_script`] with the plan's actions after the file changes. An action that cannot
/// capture its pre-state stops the script before anything changed (exit 79, journal
/// removed); one that fails after the files changed stops it with exit 78, and the caller
/// rolls the transaction back.
pub fn apply_all_script(
    journal: &str,
    id: &str,
    changes: &[FileChange],
    actions: &[Action],
) -> Result<String, TxnError> {
    check_id(id)?;
    let shells =
        actions.iter().enumerate().map(|(i, a)| actions::shell(i, a)).collect::<Result<Vec<_>, _>>()?;
    let mut s = PRELUDE.to_owned();
    s.push_str(actions::PRELUDE);
    let j = quote(&format!("{journal}/{id}"))?;
    let _ = writeln!(s, "ow_tx={}\now_j={j}", quote(id)?);
    let _ = writeln!(
        s,
        "[ -e \"$ow_j\" ] && {{ echo exists; exit 75; }}\n\
         mkdir -p -m 0700 {jr} && chmod 0700 {jr} || exit 74\n\
         mkdir -m 0700 \"$ow_j\" \"$ow_j/pre\" \"$ow_j/new\" \"$ow_j/post\" || exit 74\n\
         ow_conflict=0",
        jr = quote(journal)?
    );
    let mut manifest = String::new();
    for (i, c) in changes.iter().enumerate() {
        if c.path.contains('\n') {
            return Err(TxnError::BadPath(c.path.clone()));
        }
        let p = quote(&c.path)?;
        let before = match &c.before {
            PathState::Absent => "absent".to_owned(),
            PathState::Regular { content, .. } => sha256_hex(content),
            other => return Err(TxnError::Unsupported { path: c.path.clone(), what: format!("{other:?}") }),
        };
        let after = match &c.after {
            After::Absent => "absent".to_owned(),
            After::File { content, .. } => sha256_hex(content),
        };
        // Unchanged since the capture the fix was planned from?
        let _ = writeln!(
            s,
            "[ \"$(ow_state {p})\" = {before} ] || {{ printf 'conflict %s\\n' {pb}; ow_conflict=1; }}",
            pb = quote(&b64(c.path.as_bytes()))?
        );
        let _ = writeln!(manifest, "{i} {before} {after} {}", b64(c.path.as_bytes()));
    }
    let _ = writeln!(s, "[ $ow_conflict = 0 ] || {{ rm -rf -- \"$ow_j\"; exit 77; }}");
    // The journal: the pre-state copies and the new files, then the manifest, all synced.
    for (i, c) in changes.iter().enumerate() {
        let p = quote(&c.path)?;
        let _ = writeln!(s, "ow_meta {p} > \"$ow_j/pre/{i}.meta\" || exit 74");
        if matches!(c.before, PathState::Regular { .. }) {
            let _ = writeln!(s, "cp -p -- {p} \"$ow_j/pre/{i}\" || exit 74");
        }
        if let After::File { content, mode, owner, group } = &c.after {
            let _ = writeln!(
                s,
                "printf '%s' {data} | base64 -d > \"$ow_j/new/{i}\" || exit 74\n\
                 chmod {mode:o} \"$ow_j/new/{i}\" && chown -- {og} \"$ow_j/new/{i}\" || exit 74",
                data = quote(&b64(content))?,
                og = quote(&format!("{owner}:{group}"))?
            );
        }
    }
    // Each action's undo and pre-state, before anything changes.
    if !shells.is_empty() {
        let _ = writeln!(s, "mkdir -m 0700 \"$ow_j/act\" || exit 74");
    }
    for (i, sh) in shells.iter().enumerate() {
        let _ = writeln!(
            s,
            "ow_A=\"$ow_j/act/{i}\"\nprintf '%s' {undo} > \"$ow_A.undo\" || exit 74\n{capture}",
            undo = quote(&sh.undo)?,
            capture = sh.capture
        );
        // What was captured also goes back to the caller, for its own record.
        let _ = writeln!(
            s,
            "for ow_f in {PRE_STATE_FILES}; do [ ! -f \"$ow_A.$ow_f\" ] || printf 'prestate {i} %s %s\\n' \"$ow_f\" \"$(base64 < \"$ow_A.$ow_f\" | tr -d '\\n')\"; done"
        );
    }
    if !shells.is_empty() {
        let list: String = (0..shells.len()).map(|i| format!("{i}\n")).collect();
        let _ = writeln!(s, "printf '%s' {} > \"$ow_j/actions\" || exit 74", quote(&list)?);
    }
    let _ = writeln!(
        s,
        "printf '%s' {m} > \"$ow_j/manifest\" && ow_sync \"$ow_j/manifest\" || exit 74\n\
         echo applying > \"$ow_j/state\" && ow_sync \"$ow_j/state\" || exit 74",
        m = quote(&manifest)?
    );
    for (i, c) in changes.iter().enumerate() {
        let p = quote(&c.path)?;
        match &c.after {
            After::Absent => {
                let _ = writeln!(s, "rm -f -- {p} || exit 74");
            }
            After::File { .. } => {
                let _ = writeln!(
                    s,
                    "[ -d \"$(dirname -- {p})\" ] || {{ mkdir -p -m 0755 -- \"$(dirname -- {p})\" && echo {i} >> \"$ow_j/dirs\"; }} || exit 74\n\
                     ow_put \"$ow_j/new/{i}\" {p}"
                );
            }
        }
        let _ = writeln!(s, "ow_meta {p} > \"$ow_j/post/{i}.meta\" || exit 74");
    }
    // Package scripts and boot loader tools create files of their own: not with the
    // journal's umask.
    if !shells.is_empty() {
        s.push_str("umask 022\n");
    }
    for (i, sh) in shells.iter().enumerate() {
        let _ = writeln!(
            s,
            "ow_A=\"$ow_j/act/{i}\"\n: > \"$ow_A.started\" && ow_sync \"$ow_A.started\" || exit 74\n{apply}: > \"$ow_A.done\"",
            apply = sh.apply
        );
    }
    let _ = writeln!(s, "echo applied > \"$ow_j/state\" && ow_sync \"$ow_j/state\" || exit 74\necho applied");
    Ok(s)
}

/// The script restoring transaction `id`'s pre-state from the journal alone. It first checks
/// that every path is still as the fix left it; if any is not, it changes nothing and lists
/// them (exit 77).
pub fn rollback_script(journal: &str, id: &str) -> Result<String, TxnError> {
    check_id(id)?;
    let mut s = PRELUDE.to_owned();
    s.push_str(actions::PRELUDE);
    let _ = writeln!(s, "ow_tx={}\now_j={}", quote(id)?, quote(&format!("{journal}/{id}"))?);
    s.push_str(
        r#"[ -f "$ow_j/manifest" ] || { echo unknown; exit 76; }
ow_conflict=0
# Each path is as the fix left it (restore it), or still as before (an interrupted apply
# never reached it, or an interrupted rollback already restored it), or else it changed:
# content, or mode, owner or group (journals of older versions record content only).
ow_same() { [ ! -f "$1" ] || [ "$(cat "$1")" = "$ow_nm" ]; }
while read -r ow_i ow_pre ow_post ow_pb; do
  ow_p=$(printf '%s' "$ow_pb" | base64 -d) || exit 74
  ow_now=$(ow_state "$ow_p"); ow_nm=$(ow_meta "$ow_p")
  { [ "$ow_now" = "$ow_post" ] && ow_same "$ow_j/post/$ow_i.meta"; } ||
    { [ "$ow_now" = "$ow_pre" ] && ow_same "$ow_j/pre/$ow_i.meta"; } ||
    { printf 'conflict %s\n' "$ow_pb"; ow_conflict=1; }
done < "$ow_j/manifest"
[ $ow_conflict = 0 ] || exit 77
echo rolling_back > "$ow_j/state" && ow_sync "$ow_j/state" || exit 74
while read -r ow_i ow_pre ow_post ow_pb; do
  ow_p=$(printf '%s' "$ow_pb" | base64 -d) || exit 74
  [ "$(ow_state "$ow_p")" = "$ow_pre" ] && [ "$ow_pre" != "$ow_post" ] && continue
  if [ "$ow_pre" = absent ]; then rm -f -- "$ow_p" || exit 74
  else ow_put "$ow_j/pre/$ow_i" "$ow_p"; fi
done < "$ow_j/manifest"
if [ -f "$ow_j/dirs" ]; then
  while read -r ow_i; do
    ow_pb=$(awk -v i="$ow_i" '$1 == i { print $4 }' "$ow_j/manifest")
    rmdir -- "$(dirname -- "$(printf '%s' "$ow_pb" | base64 -d)")" 2>/dev/null
  done < "$ow_j/dirs"
fi
if [ -f "$ow_j/actions" ]; then
  umask 022
  for ow_i in $(sort -rn "$ow_j/actions"); do
    ow_A="$ow_j/act/$ow_i"
    [ ! -e "$ow_A.started" ] || . "$ow_A.undo"
  done
fi
echo rolled_back > "$ow_j/state" && ow_sync "$ow_j/state" || exit 74
echo rolled_back
"#,
    );
    Ok(s)
}

/// The script marking transaction `id` committed: the fix was verified and is kept; its
/// journal stays so the change can still be rolled back on request.
pub fn commit_script(journal: &str, id: &str) -> Result<String, TxnError> {
    check_id(id)?;
    let mut s = PRELUDE.to_owned();
    let _ = writeln!(s, "ow_j={}", quote(&format!("{journal}/{id}"))?);
    s.push_str(
        "[ -f \"$ow_j/manifest\" ] || { echo unknown; exit 76; }\n\
         echo committed > \"$ow_j/state\" && ow_sync \"$ow_j/state\" || exit 74\n",
    );
    Ok(s)
}

/// What the host answered to a transaction script (`when` names what a conflicting file
/// changed since, for the message).
pub fn read_outcome(id: &str, when: &'static str, out: ScriptOutput) -> Result<(), TxnError> {
    let conflicts = || {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("conflict "))
            .map(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_or_else(|_| b.to_owned(), |p| String::from_utf8_lossy(&p).into_owned())
            })
            .collect::<Vec<_>>()
    };
    match out.exit_code {
        Some(0) => Ok(()),
        Some(75) => Err(TxnError::Exists(id.to_owned())),
        Some(76) => Err(TxnError::Unknown(id.to_owned())),
        Some(77) => Err(TxnError::Conflict { when, paths: conflicts() }),
        Some(78) => Err(TxnError::ActionFailed(String::from_utf8_lossy(&out.stderr).trim().to_owned())),
        Some(79) => Err(TxnError::Refused(String::from_utf8_lossy(&out.stderr).trim().to_owned())),
        code => {
            Err(TxnError::Failed { code, stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned() })
        }
    }
}

/// The journal files in which an action keeps its pre-state: the running value or package
/// version (`pre`), a value kept beside it (`side`), and a unit's `enabled` and `active` state.
const PRE_STATE_FILES: &str = "pre side enabled active";

/// One action's captured pre-state, as the apply script reported it: the action's index in
/// the transaction, the journal file's name and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPreState {
    pub index: usize,
    pub name: String,
    pub value: String,
}

/// The pre-state of every action, from the apply script's `prestate` lines.
pub fn action_pre_states(out: &ScriptOutput) -> Vec<ActionPreState> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.strip_prefix("prestate ")?.splitn(3, ' ');
            let index = f.next()?.parse().ok()?;
            let name = f.next()?.to_owned();
            let bytes = base64::engine::general_purpose::STANDARD.decode(f.next().unwrap_or("")).ok()?;
            Some(ActionPreState { index, name, value: String::from_utf8_lossy(&bytes).trim_end().to_owned() })
        })
        .collect()
}

/// What a rollback could not restore exactly (its `note` lines), in the order it undid.
pub fn notes(out: &ScriptOutput) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("note "))
        .map(str::to_owned)
        .collect()
}

/// Apply `changes` on the host as transaction `id`.
pub fn apply(
    transport: &mut dyn Transport,
    journal: &str,
    id: &str,
    changes: &[FileChange],
) -> Result<(), TxnError> {
    let out = transport.run_script(&apply_script(journal, id, changes)?)?;
    read_outcome(id, "the fix was planned", out)
}

/// Apply `changes`, then `actions`, on the host as transaction `id`.
pub fn apply_all(
    transport: &mut dyn Transport,
    journal: &str,
    id: &str,
    changes: &[FileChange],
    actions: &[Action],
) -> Result<(), TxnError> {
    let out = transport.run_script(&apply_all_script(journal, id, changes, actions)?)?;
    read_outcome(id, "the fix was planned", out)
}

/// Roll transaction `id` back on the host; returns what could not be restored exactly.
pub fn rollback(transport: &mut dyn Transport, journal: &str, id: &str) -> Result<Vec<String>, TxnError> {
    let out = transport.run_script(&rollback_script(journal, id)?)?;
    let notes = notes(&out);
    read_outcome(id, "the fix", out)?;
    Ok(notes)
}
