//! Finding transactions a dead caller left open on a host: applied (or being applied, or
//! being rolled back) but never verified and committed. The next contact rolls each back
//! from its journal (see [`crate::txn::rollback_script`]) and says so.

use std::fmt::Write as _;

use crate::quote::{QuoteError, quote};

/// The script listing open transactions as `open ID STATE` lines.
pub fn list_script(journal: &str) -> Result<String, QuoteError> {
    let mut s = String::from("export LC_ALL=C\n");
    let _ = writeln!(s, "ow_jr={}", quote(journal)?);
    s.push_str(
        r#"[ -d "$ow_jr" ] || exit 0
for ow_d in "$ow_jr"/*/; do
  [ -f "$ow_d/state" ] || continue
  ow_st=$(cat "$ow_d/state")
  case "$ow_st" in applying|applied|rolling_back) printf 'open %s %s\n' "$(basename -- "$ow_d")" "$ow_st" ;; esac
done
exit 0
"#,
    );
    Ok(s)
}

/// The open transactions in the list script's output: (id, state).
pub fn parse_open(stdout: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("open ")?.split(' ');
            Some((w.next()?.to_owned(), w.next()?.to_owned()))
        })
        .collect()
}
