//! Capturing the pre-state of the files a fix will touch, in one script per host: for each
//! path whether it exists and what it is, and for a regular file its mode, owner, group and
//! exact bytes (base64 on the wire, so no content can forge a frame or lose a byte). A fix
//! is planned from this, and a rollback restores it. A path with `*` or `?` is a glob: every
//! file it matches on the host is captured (a drop-in directory whose other files can
//! override the one a fix writes).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use thiserror::Error;

use crate::quote::{QuoteError, quote, quote_glob};
use crate::script::new_nonce;
use crate::transport::{ScriptOutput, Transport, TransportError};

/// Largest file captured; a fix never rewrites a larger one.
pub const CAPTURE_CAP: u64 = 1 << 20;

/// What a path was on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathState {
    Absent,
    Regular {
        mode: u32,
        owner: String,
        group: String,
        content: Vec<u8>,
    },
    /// A regular file above [`CAPTURE_CAP`] bytes.
    TooLarge {
        size: u64,
    },
    /// A regular file the capturing user may not read.
    Unreadable,
    /// A directory, symbolic link, device or other non-regular file.
    Other {
        kind: String,
    },
}

#[derive(Debug, Error)]
pub enum CaptureError {
    #[error(transparent)]
    Quote(#[from] QuoteError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("capturing files on {host} failed (exit {code:?}): {stderr}")]
    Failed { host: String, code: Option<i32>, stderr: String },
    #[error("the capture of {path} is incomplete or malformed: {problem}")]
    Malformed { path: String, problem: String },
}

const PRELUDE: &str = r#"export LC_ALL=C
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ow_cap() {
  printf '\n@@OW:%s:BEGIN %s\n' "$ow_n" "$1"
  if [ -L "$2" ]; then printf 'other symlink\n'
  elif [ -f "$2" ]; then
    if [ ! -r "$2" ]; then printf 'unreadable\n'
    else
      ow_s=$(stat -c '%s' -- "$2") || exit 72
      if [ "$ow_s" -gt __CAP__ ]; then printf 'toolarge %s\n' "$ow_s"
      else stat -c 'regular %a %U %G' -- "$2" && base64 -w 0 -- "$2" || exit 72; printf '\n'; fi
    fi
  elif [ -d "$2" ]; then printf 'other directory\n'
  elif [ -e "$2" ]; then printf 'other special\n'
  else printf 'absent\n'; fi
  printf '\n@@OW:%s:END %s\n' "$ow_n" "$1"
}
# ow_glob ID MATCHES...: the names that exist (one per line; names spanning lines are left
# out), then each one's capture as section ID.K.
ow_glob() {
  ow_g=$1; shift
  printf '\n@@OW:%s:BEGIN %s\n' "$ow_n" "$ow_g"
  for ow_f in "$@"; do
    case $ow_f in *"$ow_nl"*) continue ;; esac
    if [ -e "$ow_f" ] || [ -L "$ow_f" ]; then printf '%s\n' "$ow_f"; fi
  done
  printf '\n@@OW:%s:END %s\n' "$ow_n" "$ow_g"
  ow_k=0
  for ow_f in "$@"; do
    case $ow_f in *"$ow_nl"*) continue ;; esac
    if [ -e "$ow_f" ] || [ -L "$ow_f" ]; then ow_cap "$ow_g.$ow_k" "$ow_f"; ow_k=$((ow_k + 1)); fi
  done
}
ow_nl='
'
"#;

/// Whether a capture path is a glob (matched on the host).
pub fn is_glob(path: &str) -> bool {
    path.contains(['*', '?'])
}

/// The capture script for `paths`, its frames marked with `nonce`.
pub fn script(paths: &[String], nonce: &str) -> Result<String, CaptureError> {
    let mut s = PRELUDE.replace("__CAP__", &CAPTURE_CAP.to_string());
    let _ = writeln!(s, "ow_n={}", quote(nonce)?);
    for (i, p) in paths.iter().enumerate() {
        if is_glob(p) {
            let _ = writeln!(s, "ow_glob {i} {}", quote_glob(p)?);
        } else {
            let _ = writeln!(s, "ow_cap {i} {}", quote(p)?);
        }
    }
    Ok(s)
}

/// The text of section `id`.
fn section<'t>(text: &'t str, nonce: &str, id: &str, path: &str) -> Result<&'t str, CaptureError> {
    let bad = |problem: &str| CaptureError::Malformed { path: path.to_owned(), problem: problem.to_owned() };
    let begin = format!("\n@@OW:{nonce}:BEGIN {id}\n");
    let end = format!("\n@@OW:{nonce}:END {id}\n");
    let start = text.find(&begin).ok_or_else(|| bad("no section"))? + begin.len();
    let stop = start + text[start..].find(&end).ok_or_else(|| bad("the section never ended"))?;
    Ok(&text[start..stop])
}

/// One path's state from its section.
fn state(body: &str, path: &str) -> Result<PathState, CaptureError> {
    let bad = |problem: &str| CaptureError::Malformed { path: path.to_owned(), problem: problem.to_owned() };
    let mut lines = body.lines();
    let head = lines.next().ok_or_else(|| bad("an empty section"))?;
    let words: Vec<&str> = head.split(' ').collect();
    Ok(match words.as_slice() {
        ["absent"] => PathState::Absent,
        ["unreadable"] => PathState::Unreadable,
        ["other", kind] => PathState::Other { kind: (*kind).to_owned() },
        ["toolarge", size] => PathState::TooLarge { size: size.parse().map_err(|_| bad("a size"))? },
        ["regular", mode, owner, group] => {
            let content = base64::engine::general_purpose::STANDARD
                .decode(lines.next().unwrap_or("").trim_end())
                .map_err(|e| bad(&format!("content: {e}")))?;
            PathState::Regular {
                mode: u32::from_str_radix(mode, 8).map_err(|_| bad("a mode"))?,
                owner: (*owner).to_owned(),
                group: (*group).to_owned(),
                content,
            }
        }
        _ => return Err(bad(&format!("unexpected `{head}`"))),
    })
}

/// Read the capture script's output back into each path's state; a glob gives each file it
/// matched (and nothing for itself).
pub fn parse(
    stdout: &[u8],
    nonce: &str,
    paths: &[String],
) -> Result<BTreeMap<String, PathState>, CaptureError> {
    let text = String::from_utf8_lossy(stdout);
    let mut out = BTreeMap::new();
    for (i, path) in paths.iter().enumerate() {
        let body = section(&text, nonce, &i.to_string(), path)?;
        if !is_glob(path) {
            out.insert(path.clone(), state(body, path)?);
            continue;
        }
        for (k, name) in body.lines().filter(|l| !l.is_empty()).enumerate() {
            let s = state(section(&text, nonce, &format!("{i}.{k}"), name)?, name)?;
            out.insert(name.to_owned(), s);
        }
    }
    Ok(out)
}

/// Capture `paths` on the host behind `transport`, in one round trip.
pub fn capture(
    paths: &[String],
    transport: &mut dyn Transport,
) -> Result<BTreeMap<String, PathState>, CaptureError> {
    let nonce = new_nonce();
    let out = transport.run_script(&script(paths, &nonce)?)?;
    read(&transport.host_name(), &out, &nonce, paths)
}

/// What the capture script run on `host` answered: each path's state, or why not.
pub fn read(
    host: &str,
    out: &ScriptOutput,
    nonce: &str,
    paths: &[String],
) -> Result<BTreeMap<String, PathState>, CaptureError> {
    if out.exit_code != Some(0) {
        return Err(CaptureError::Failed {
            host: host.to_owned(),
            code: out.exit_code,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    parse(&out.stdout, nonce, paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_by_their_nonce_and_index() {
        let paths = vec!["/a".to_owned(), "/b".to_owned(), "/c".to_owned()];
        let out = "\n@@OW:n1:BEGIN 0\nregular 640 root adm\naGk=\n\n@@OW:n1:END 0\n\
                   \n@@OW:n1:BEGIN 1\nabsent\n\n@@OW:n1:END 1\n\
                   \n@@OW:n1:BEGIN 2\nother directory\n\n@@OW:n1:END 2\n";
        let got = parse(out.as_bytes(), "n1", &paths).unwrap();
        assert_eq!(
            got["/a"],
            PathState::Regular {
                mode: 0o640,
                owner: "root".into(),
                group: "adm".into(),
                content: b"hi".to_vec()
            }
        );
        assert_eq!(got["/b"], PathState::Absent);
        assert_eq!(got["/c"], PathState::Other { kind: "directory".into() });
        assert!(parse(out.as_bytes(), "other-nonce", &paths).is_err(), "frames of another run are not read");
    }
}
