//! Turning a fact plan into one POSIX shell script whose output is framed by markers that
//! carry a per-scan random nonce, so file contents cannot forge a frame.

use std::fmt::Write as _;

use openwatch_core::facts::{FactKey, ProbeResult};
use openwatch_core::plan::FactPlan;

use crate::quote::{QuoteError, quote, quote_glob};

/// Largest file content or command output kept per item; one more byte is read to detect
/// truncation.
pub const CONTENT_CAP: usize = 1 << 20;
pub const STDERR_CAP: usize = 16 << 10;

/// File system types the walk covers: local, persistent file systems (and tmpfs, which CIS
/// includes). Network, pseudo and read-only image file systems are skipped.
pub const WALK_FSTYPES: &[&str] = &[
    "ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "jfs", "reiserfs", "vfat", "exfat", "tmpfs",
    "overlay",
];

/// The script and the nonce its frames carry.
#[derive(Debug, Clone)]
pub struct Script {
    pub text: String,
    pub nonce: String,
    /// The fact each section index stands for; index `keys.len()` holds the stat and content
    /// of every file named by any fact.
    pub keys: Vec<FactKey>,
    /// The section holding the one `systemctl list-unit-files` run for every unit key.
    pub unit_section: Option<usize>,
}

const PRELUDE: &str = r#"export LC_ALL=C
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 077
ow_tmp=$(mktemp -d 2>/dev/null) || { echo "mktemp failed" >&2; exit 70; }
trap 'rm -rf "$ow_tmp"' EXIT
trap 'exit 71' INT TERM HUP
if command -v timeout >/dev/null 2>&1; then ow_to="timeout 120"; else ow_to=""; fi
ow_begin() { printf '\n@@OW:%s:BEGIN %s %s\n' "$ow_n" "$1" "$2"; }
ow_end() { printf '\n@@OW:%s:END %s %s %s\n' "$ow_n" "$1" "$2" "$3"; }
# ow_files INDEX CONTENT PATH...: name the existing paths (shell builtins only, no process);
# they are stat'ed and read all at once by ow_files_finish.
ow_files() {
  ow_i=$1; ow_c=$2; shift 2
  ow_begin "$ow_i" names
  for ow_f in "$@"; do
    if [ -e "$ow_f" ] || [ -L "$ow_f" ]; then
      printf '%s\0' "$ow_f"
      printf '%s\0' "$ow_f" >> "$ow_tmp/stat"
      if [ "$ow_c" = 1 ] && [ -f "$ow_f" ]; then
        if [ -r "$ow_f" ]; then printf '%s\0' "$ow_f" >> "$ow_tmp/read"
        else printf '%s\0' "$ow_f" >> "$ow_tmp/unreadable"; fi
      fi
    fi
  done
  ow_end "$ow_i" names 0
}
# One stat for every named path; one grep (NUL after each path, then the line) for every
# readable file up to the cap; head for the few larger ones.
ow_files_finish() {
  ow_g=$1
  ow_begin "$ow_g" stat
  if [ -s "$ow_tmp/stat" ]; then
    sort -zu "$ow_tmp/stat" | xargs -0 stat -L --printf '%f\t%u\t%g\t%U\t%G\t%s\t%F\t%n\0' -- 2>/dev/null
  fi
  ow_end "$ow_g" stat 0
  [ -s "$ow_tmp/read" ] || return 0
  sort -zu "$ow_tmp/read" > "$ow_tmp/readu"
  xargs -0 sh -c 'find "$@" -maxdepth 0 -size -__CAP1__c -print0' _ < "$ow_tmp/readu" > "$ow_tmp/small" 2>/dev/null
  xargs -0 sh -c 'find "$@" -maxdepth 0 -size +__CAP__c -print0' _ < "$ow_tmp/readu" > "$ow_tmp/big" 2>/dev/null
  ow_begin "$ow_g" content
  [ -s "$ow_tmp/small" ] && xargs -0 grep -a --null -H -e '' -- < "$ow_tmp/small" 2>/dev/null
  ow_end "$ow_g" content 0
  if [ -s "$ow_tmp/big" ]; then
    xargs -0 -n 1 sh -c 'printf "\n@@OW:%s:BEGIN %s big\n%s\0" "$0" "$1" "$2"; head -c __CAP1__ -- "$2"; printf "\n@@OW:%s:END %s big 0\n" "$0" "$1"' "$ow_n" "$ow_g" < "$ow_tmp/big"
  fi
  if [ -s "$ow_tmp/unreadable" ]; then
    ow_begin "$ow_g" unreadable; cat "$ow_tmp/unreadable"; ow_end "$ow_g" unreadable 0
  fi
}
ow_cmd() {
  ow_i=$1; shift
  $ow_to "$@" </dev/null >"$ow_tmp/out" 2>"$ow_tmp/err"; ow_rc=$?
  ow_begin "$ow_i" out; head -c __CAP1__ "$ow_tmp/out"; ow_end "$ow_i" out "$ow_rc"
  ow_begin "$ow_i" err; [ -s "$ow_tmp/err" ] && head -c __ERRCAP__ "$ow_tmp/err"; ow_end "$ow_i" err "$ow_rc"
}
"#;

const SHADOW: &str = r#"awk -F: 'NF>=2 { p=$2; c=substr(p,1,1);
  s = (p=="") ? "empty" : ((c=="!" || c=="*") ? "locked" : "hashed");
  print $1 "\t" s "\t" $3 "\t" $4 "\t" $5 "\t" $6 "\t" $7 }' /etc/shadow"#;

const HOMES: &str = r#"awk -F: '{print $6}' /etc/passwd | sort -u > "$ow_tmp/homes"
  set --
  while IFS= read -r ow_h; do
    [ -n "$ow_h" ] && set -- "$@" "$ow_h"
  done < "$ow_tmp/homes"
  ow_files "$ow_i" 0 "$@""#;

/// Process names: the kernel's `comm` (cut to 15 characters) and the full executable name
/// from each command line, so `systemd-journald` is found as itself.
const PROCESSES: &str = r#"cat /proc/[0-9]*/comm 2>/dev/null
  ps -eo args= 2>/dev/null | awk '$1 !~ /^\[/ { n = split($1, p, "/"); print p[n] }'
  exit 0"#;

const MODULES: &str = r#"ow_d=/lib/modules/$(uname -r)
  [ -r "$ow_d/modules.dep" ] || { echo "no $ow_d/modules.dep" >&2; exit 1; }
  sed -e 's/:.*//' -e 's#.*/##' -e 's/\.ko.*$//' -e 's/^/available /' "$ow_d/modules.dep"
  if [ -r "$ow_d/modules.builtin" ]; then
    sed -e 's#.*/##' -e 's/\.ko.*$//' -e 's/^/builtin /' "$ow_d/modules.builtin"
  fi"#;

const WALK: &str = r#"while read -r ow_dev ow_mp ow_type ow_rest; do
    case " __FSTYPES__ " in *" $ow_type "*) printf '%b\n' "$ow_mp" ;; esac
  done < /proc/self/mounts | sort -u > "$ow_tmp/roots"
  printf 'R\t' ; tr '\n' '\t' < "$ow_tmp/roots"; printf '\0'
  # Every file is stat()ed once (owner and mode are needed); the tests after that are
  # ordered so the common file, root's with ordinary permissions, is dismissed by three
  # integer tests. -nouser and -nogroup ask the account databases (NSS) about each file they
  # see, which cost seven times the walk itself: owners listed in /etc/passwd or /etc/group
  # (digits only, so the unquoted lists below are safe words) are dismissed by numeric tests
  # first; only the rest reach -nouser/-nogroup, which still decide, so accounts from LDAP
  # and the like count as before.
  set -f
  ow_uids=$(awk -F: '$3 ~ /^[0-9]+$/ && $3 != 0 { print "! -uid " $3 }' /etc/passwd 2>/dev/null | sort -u)
  ow_gids=$(awk -F: '$3 ~ /^[0-9]+$/ && $3 != 0 { print "! -gid " $3 }' /etc/group 2>/dev/null | sort -u)
  ow_find() {
    find "$1" -xdev \( -path /proc -o -path /sys -o -path /dev -o -path "$2" \) -prune -o \
      \( -perm /6002 -o ! -uid 0 -o ! -gid 0 \) \( \
      \( -type f -perm -0002 -printf 'W\t%m\t%U\t%G\t%p\0' \) , \
      \( -type d -perm -0002 ! -perm -1000 -printf 'D\t%m\t%U\t%G\t%p\0' \) , \
      \( ! -uid 0 $ow_uids -nouser -printf 'U\t%m\t%U\t%G\t%p\0' \) , \
      \( ! -gid 0 $ow_gids -nogroup -printf 'G\t%m\t%U\t%G\t%p\0' \) , \
      \( -type f -perm -4000 -printf 'S\t%m\t%U\t%G\t%p\0' \) , \
      \( -type f -perm -2000 -printf 's\t%m\t%U\t%G\t%p\0' \) \) 2>/dev/null
  }
  # /usr, on the root's own file system, is walked beside the rest (a second core halves
  # the wait); each entry is still seen exactly once, /usr itself by its own walk.
  ow_d1=$(stat -c %d / 2>/dev/null); ow_d2=$(stat -c %d /usr 2>/dev/null)
  while IFS= read -r ow_r; do
    if [ "$ow_r" = / ] && [ -d /usr ] && [ ! -L /usr ] && [ -n "$ow_d1" ] && [ "$ow_d1" = "$ow_d2" ]; then
      ow_find /usr /proc > "$ow_tmp/walk-usr" &
      ow_find / /usr
      wait
      cat "$ow_tmp/walk-usr"
    else
      ow_find "$ow_r" /proc
    fi
  done < "$ow_tmp/roots"
  exit 0"#;

/// Run a block in a subshell as section `i`, capturing stdout, stderr and status.
fn block(out: &mut String, i: usize, body: &str) {
    let _ = writeln!(
        out,
        "( {body}\n) </dev/null >\"$ow_tmp/out\" 2>\"$ow_tmp/err\"; ow_rc=$?\n\
         ow_begin {i} out; cat \"$ow_tmp/out\"; ow_end {i} out $ow_rc\n\
         ow_begin {i} err; head -c {STDERR_CAP} \"$ow_tmp/err\"; ow_end {i} err $ow_rc"
    );
}

/// Build the collection script for `plan`.
pub fn build(plan: &FactPlan, nonce: &str) -> Result<Script, QuoteError> {
    let mut text = String::from("#!/bin/sh\n");
    let _ = writeln!(text, "ow_n={}", quote(nonce)?);
    text.push_str(
        &PRELUDE
            .replace("__CAP1__", &(CONTENT_CAP + 1).to_string())
            .replace("__CAP__", &CONTENT_CAP.to_string())
            .replace("__ERRCAP__", &STDERR_CAP.to_string()),
    );
    let mut keys = Vec::new();
    let mut units = Vec::new();
    for (i, key) in plan.keys.iter().enumerate() {
        keys.push(key.clone());
        match key {
            FactKey::UnitFile { unit } => units.push((i, quote(unit)?)),
            FactKey::Files { pattern, content } => {
                let _ = writeln!(text, "ow_files {i} {} {}", u8::from(*content), quote_glob(pattern)?);
            }
            FactKey::Command { argv } => {
                let args: Result<Vec<String>, _> = argv.iter().map(|a| quote(a)).collect();
                let _ = writeln!(text, "ow_cmd {i} {}", args?.join(" "));
            }
            FactKey::Probes => {
                let (commands, paths) = ProbeResult::wanted();
                let mut body = String::new();
                for c in commands {
                    let q = quote(c)?;
                    let _ = writeln!(
                        body,
                        "  if command -v {q} >/dev/null 2>&1; then echo \"C 1 \"{q}; else echo \"C 0 \"{q}; fi"
                    );
                }
                for p in paths {
                    let q = quote(p)?;
                    let _ =
                        writeln!(body, "  if [ -e {q} ]; then echo \"P 1 \"{q}; else echo \"P 0 \"{q}; fi");
                }
                body.push_str("  echo \"U $(id -u)\"");
                block(&mut text, i, &body);
            }
            FactKey::ShadowSummary => block(&mut text, i, SHADOW),
            FactKey::HomeDirs => {
                let _ = writeln!(text, "ow_i={i}; {HOMES}");
            }
            FactKey::Processes => block(&mut text, i, PROCESSES),
            FactKey::ModuleIndex => block(&mut text, i, MODULES),
            FactKey::FilesystemWalk => {
                block(&mut text, i, &WALK.replace("__FSTYPES__", &WALK_FSTYPES.join(" ")));
            }
        }
    }
    // Naming the units keeps systemctl from loading every unit file (5 ms instead of 150).
    let unit_section = units.first().map(|(i, _)| *i);
    if let Some(i) = unit_section {
        let names: Vec<&str> = units.iter().map(|(_, q)| q.as_str()).collect();
        let _ = writeln!(
            text,
            "ow_cmd {i} systemctl list-unit-files --full --no-legend --no-pager -- {}",
            names.join(" ")
        );
    }
    let _ = writeln!(text, "ow_files_finish {}", keys.len());
    text.push_str("exit 0\n");
    Ok(Script { text, nonce: nonce.to_owned(), keys, unit_section })
}

/// A fresh random nonce (128 bits, hex).
pub fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
