//! Capturing the pre-state of the files a fix will touch, in one script per host: for each
//! path whether it exists and what it is, and for a regular file its mode, owner, group and
//! exact bytes (base64 on the wire, so no content can forge a frame or lose a byte). A fix
//! is planned from this, and a rollback restores it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use thiserror::Error;

use crate::quote::{QuoteError, quote};
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
"#;

/// The capture script for `paths`, its frames marked with `nonce`.
pub fn script(paths: &[String], nonce: &str) -> Result<String, CaptureError> {
    let mut s = PRELUDE.replace("__CAP__", &CAPTURE_CAP.to_string());
    let _ = writeln!(s, "ow_n={}", quote(nonce)?);
    for (i, p) in paths.iter().enumerate() {
        let _ = writeln!(s, "ow_cap {i} {}", quote(p)?);
    }
    Ok(s)
}

/// Read the capture script's output back into each path's state.
pub fn parse(
    stdout: &[u8],
    nonce: &str,
    paths: &[String],
) -> Result<BTreeMap<String, PathState>, CaptureError> {
    let text = String::from_utf8_lossy(stdout);
    let mut out = BTreeMap::new();
    for (i, path) in paths.iter().enumerate() {
        let bad = |problem: &str| CaptureError::Malformed { path: path.clone(), problem: problem.to_owned() };
        let begin = format!("\n@@OW:{nonce}:BEGIN {i}\n");
        let end = format!("\n@@OW:{nonce}:END {i}\n");
        let start = text.find(&begin).ok_or_else(|| bad("no section"))? + begin.len();
        let stop = start + text[start..].find(&end).ok_or_else(|| bad("the section never ended"))?;
        let mut lines = text[start..stop].lines();
        let head = lines.next().ok_or_else(|| bad("an empty section"))?;
        let words: Vec<&str> = head.split(' ').collect();
        let state = match words.as_slice() {
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
        };
        out.insert(path.clone(), state);
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
