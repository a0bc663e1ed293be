//! The deadman for changes that can cut the scanner's own access (sshd, PAM, sudoers,
//! firewall): before such a transaction is applied, a timer is armed on the host that rolls
//! it back after N seconds unless a *fresh* SSH connection (new handshake, new
//! authentication) has confirmed access by then. If the change locks everyone out, the host
//! restores itself.
//!
//! The timer is a detached shell holding a copy of the transaction's rollback script. It
//! does nothing if the transaction was confirmed, committed or already rolled back, or never
//! started, so it is armed before the apply and left to expire harmlessly.

use std::fmt::Write as _;

use crate::quote::quote;
use crate::txn::{TxnError, rollback_script};

/// Seconds a fresh connection has to confirm access unless told otherwise.
pub const DEFAULT_SECS: u32 = 60;

/// The script arming the deadman for transaction `id`: roll it back after `secs` seconds
/// unless confirmed.
pub fn arm_script(journal: &str, id: &str, secs: u32) -> Result<String, TxnError> {
    let rollback = rollback_script(journal, id)?;
    let mut timer = String::new();
    // The timer removes its own file when it ends, whichever way.
    let _ = writeln!(
        timer,
        "trap 'rm -f -- \"$0\"' EXIT\nsleep {secs}\now_j={}",
        quote(&format!("{journal}/{id}"))?
    );
    timer.push_str(
        "[ -f \"$ow_j/confirmed\" ] && exit 0\n\
         case \"$(cat \"$ow_j/state\" 2>/dev/null)\" in applying|applied|rolling_back) ;; *) exit 0 ;; esac\n\
         echo deadman > \"$ow_j/deadman\"\n",
    );
    timer.push_str(&rollback);
    let mut s = String::from(
        "export LC_ALL=C\nexport PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\numask 077\n",
    );
    let jr = quote(journal)?;
    let file = quote(&format!("{journal}/.deadman-{id}.sh"))?;
    let _ = writeln!(
        s,
        "mkdir -p -m 0700 {jr} && chmod 0700 {jr} || exit 74\n\
         printf '%s' {body} > {file} || exit 74\n\
         setsid sh {file} </dev/null >/dev/null 2>&1 &\n\
         echo armed",
        body = quote(&timer)?
    );
    Ok(s)
}

/// The script a fresh connection runs to confirm access: the deadman stands down.
pub fn confirm_script(journal: &str, id: &str) -> Result<String, TxnError> {
    let j = quote(&format!("{journal}/{id}"))?;
    Ok(format!(
        "[ -d {j} ] || {{ echo unknown; exit 76; }}\ntouch {j}/confirmed || exit 74\necho confirmed\n"
    ))
}
