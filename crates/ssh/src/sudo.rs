//! Becoming root so that the sudo password only ever answers sudo's own prompt.
//!
//! `sudo -S` reads the password from standard input only when it needs one. Writing it
//! blindly ahead of the script hands it to `/bin/sh` as a command whenever sudo does not ask
//! (NOPASSWD, a cached credential), and its text then lands in error output. So each run
//! uses a prompt and a "shell started" marker carrying a fresh random nonce: the password is
//! written only after the prompt appears on standard error, once, and the script only after
//! the marker shows that the root shell is reading its input.

use openwatch_collect::script::new_nonce;

use crate::session::Sudo;

/// What the run should do next, given what sudo wrote so far.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    /// Nothing to do until more standard error arrives.
    Wait,
    /// sudo asked for the password: write it and a newline.
    Password(&'a str),
    /// The root shell is reading standard input: write the script and end the input.
    Script,
    /// sudo asked again (the password was wrong): end the input instead of repeating it.
    EndInput,
}

/// The sudo part of one script run.
#[derive(Debug)]
pub(crate) struct SudoRun<'a> {
    /// `Some` while waiting for sudo with a password; `None` when the script goes at once.
    exchange: Option<Exchange<'a>>,
    command: String,
}

#[derive(Debug)]
struct Exchange<'a> {
    password: &'a str,
    prompt: String,
    ready: String,
    /// Standard error before this offset holds no marker still to be acted on.
    from: usize,
    asked: bool,
    /// sudo asked a second time: the password was wrong.
    rejected: bool,
    started: bool,
}

impl<'a> SudoRun<'a> {
    pub(crate) fn new(sudo: &'a Sudo) -> SudoRun<'a> {
        match sudo {
            Sudo::None => SudoRun { exchange: None, command: "/bin/sh -s".to_owned() },
            Sudo::NoPassword => SudoRun { exchange: None, command: "sudo -n -- /bin/sh -s".to_owned() },
            Sudo::Password(password) => {
                let nonce = new_nonce();
                let prompt = format!("[openwatch sudo password {nonce}]");
                let ready = format!("openwatch-root-shell-{nonce}");
                // The nonces are hex, so neither marker needs quoting beyond the single quotes.
                let command =
                    format!("sudo -S -p '{prompt}' -- /bin/sh -c 'echo {ready} >&2; exec /bin/sh -s'");
                let exchange = Exchange {
                    password,
                    prompt,
                    ready,
                    from: 0,
                    asked: false,
                    rejected: false,
                    started: false,
                };
                SudoRun { exchange: Some(exchange), command }
            }
        }
    }

    /// The remote command line; it never contains a secret.
    pub(crate) fn command(&self) -> &str {
        &self.command
    }

    /// Whether the script can be written as soon as the command starts.
    pub(crate) fn script_at_once(&self) -> bool {
        self.exchange.is_none()
    }

    /// Whether the run still waits for sudo to ask for the password or start the shell.
    pub(crate) fn waiting(&self) -> bool {
        self.exchange.as_ref().is_some_and(|e| !e.started)
    }

    /// The next step, given all of standard error so far; call until it says `Wait`.
    pub(crate) fn next_step(&mut self, stderr: &[u8]) -> Step<'a> {
        let Some(e) = self.exchange.as_mut().filter(|e| !e.started) else {
            return Step::Wait;
        };
        let prompt = find(stderr, e.prompt.as_bytes(), e.from);
        let ready = find(stderr, e.ready.as_bytes(), e.from);
        match (prompt, ready) {
            (Some(p), r) if r.is_none_or(|r| p < r) => {
                e.from = p + e.prompt.len();
                if e.asked {
                    e.rejected = true;
                    Step::EndInput
                } else {
                    e.asked = true;
                    Step::Password(e.password)
                }
            }
            (_, Some(r)) => {
                e.from = r + e.ready.len();
                e.started = true;
                Step::Script
            }
            _ => {
                // A marker split across chunks starts within the last `len - 1` bytes.
                let longest = e.prompt.len().max(e.ready.len());
                e.from = e.from.max(stderr.len().saturating_sub(longest - 1));
                Step::Wait
            }
        }
    }

    /// Whether sudo asked again after being given the password.
    pub(crate) fn rejected(&self) -> bool {
        self.exchange.as_ref().is_some_and(|e| e.rejected)
    }

    /// Standard error without the markers, which are OpenWatch's, not the host's.
    pub(crate) fn clean(&self, stderr: &str) -> String {
        match &self.exchange {
            Some(e) => stderr.replace(&e.prompt, "").replace(&format!("{}\n", e.ready), ""),
            None => stderr.to_owned(),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markers(run: &SudoRun) -> (String, String) {
        let e = run.exchange.as_ref().unwrap();
        (e.prompt.clone(), e.ready.clone())
    }

    #[test]
    fn without_a_prompt_the_password_is_never_offered() {
        let sudo = Sudo::Password("hunter2".into());
        let mut run = SudoRun::new(&sudo);
        assert!(!run.command().contains("hunter2"));
        let (_, ready) = markers(&run);
        let mut stderr = b"some lecture\n".to_vec();
        assert_eq!(run.next_step(&stderr), Step::Wait);
        stderr.extend_from_slice(format!("{ready}\n").as_bytes());
        assert_eq!(run.next_step(&stderr), Step::Script);
        assert!(!run.waiting());
        // After the shell started, nothing on standard error is a prompt any more.
        let (prompt, _) = markers(&run);
        stderr.extend_from_slice(prompt.as_bytes());
        assert_eq!(run.next_step(&stderr), Step::Wait);
    }

    #[test]
    fn the_password_answers_the_first_prompt_only() {
        let sudo = Sudo::Password("hunter2".into());
        let mut run = SudoRun::new(&sudo);
        let (prompt, ready) = markers(&run);
        // The prompt arrives split across two chunks.
        let (a, b) = prompt.split_at(7);
        let mut stderr = a.as_bytes().to_vec();
        assert_eq!(run.next_step(&stderr), Step::Wait);
        stderr.extend_from_slice(b.as_bytes());
        assert_eq!(run.next_step(&stderr), Step::Password("hunter2"));
        assert_eq!(run.next_step(&stderr), Step::Wait);
        assert!(!run.rejected());
        stderr.extend_from_slice(format!("Sorry, try again.\n{prompt}").as_bytes());
        assert_eq!(run.next_step(&stderr), Step::EndInput);
        assert!(run.waiting() && run.rejected());
        let text = format!("{prompt}{ready}\nsh: warning\n");
        assert_eq!(run.clean(&text), "sh: warning\n");
    }

    #[test]
    fn each_run_has_its_own_prompt_and_no_sudo_means_no_waiting() {
        let sudo = Sudo::Password("x".into());
        assert_ne!(markers(&SudoRun::new(&sudo)), markers(&SudoRun::new(&sudo)));
        for sudo in [Sudo::None, Sudo::NoPassword] {
            let mut run = SudoRun::new(&sudo);
            assert!(run.script_at_once() && !run.waiting());
            assert_eq!(run.next_step(b"[openwatch sudo password"), Step::Wait);
        }
    }
}
