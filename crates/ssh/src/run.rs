//! Running a collection script on one channel, reading at most a fixed amount of output.

use openwatch_collect::ScriptOutput;
use russh::ChannelMsg;

use crate::session::{FailureKind, SshError, SshSession, Sudo, err};
use crate::sudo::{Step, SudoRun};

/// Most standard output a script run may write. A scan's facts stay far below it (every file
/// read is capped at 1 MiB and only named files are read); a host that writes more, such as
/// a login shell or forced command printing endlessly, is stopped here instead of filling
/// the scanner's memory.
pub const MAX_STDOUT_BYTES: usize = 64 * 1024 * 1024;

/// Most standard error a script run may write. The script captures each step's standard
/// error inside its frames, so only the shell's and sudo's own messages arrive here.
pub const MAX_STDERR_BYTES: usize = 1024 * 1024;

impl SshSession {
    /// Run `script` with /bin/sh (as root through sudo when asked) on one channel: one round
    /// trip. The script travels on stdin, never on a command line.
    pub async fn run_script(&mut self, script: &str) -> Result<ScriptOutput, SshError> {
        let name = self.name.clone();
        let proto = |e: russh::Error| {
            err(FailureKind::Protocol, &name, format!("running the collection script: {e}"))
        };
        let mut sudo = SudoRun::new(&self.sudo);
        let sudo_deadline = tokio::time::Instant::now() + self.timeouts.connect;
        let handle = &self.handle;
        let run = async {
            let mut channel = handle.channel_open_session().await.map_err(proto)?;
            channel.exec(true, sudo.command()).await.map_err(proto)?;
            if sudo.script_at_once() {
                channel.data_bytes(script.to_owned().into_bytes()).await.map_err(proto)?;
                channel.eof().await.map_err(proto)?;
            }
            let (mut stdout, mut stderr, mut code) = (Vec::new(), Vec::new(), None);
            loop {
                let msg = if sudo.waiting() {
                    match tokio::time::timeout_at(sudo_deadline, channel.wait()).await {
                        Ok(msg) => msg,
                        Err(_) => return Err(sudo_stalled(&name, &sudo, &stderr, self.timeouts.connect)),
                    }
                } else {
                    channel.wait().await
                };
                let Some(msg) = msg else { break };
                match msg {
                    ChannelMsg::Data { data } => {
                        append(&mut stdout, &data, MAX_STDOUT_BYTES, "standard output", &name)?;
                    }
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        append(&mut stderr, &data, MAX_STDERR_BYTES, "standard error", &name)?;
                        loop {
                            match sudo.next_step(&stderr) {
                                Step::Wait => break,
                                Step::Password(pw) => {
                                    channel
                                        .data_bytes(format!("{pw}\n").into_bytes())
                                        .await
                                        .map_err(proto)?;
                                }
                                Step::Script => {
                                    channel
                                        .data_bytes(script.to_owned().into_bytes())
                                        .await
                                        .map_err(proto)?;
                                    channel.eof().await.map_err(proto)?;
                                }
                                Step::EndInput => channel.eof().await.map_err(proto)?,
                            }
                        }
                    }
                    ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status as i32),
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            Ok::<_, SshError>(ScriptOutput { stdout, stderr, exit_code: code, round_trips: 1 })
        };
        let mut out = tokio::time::timeout(self.timeouts.command, run).await.map_err(|_| {
            err(
                FailureKind::Timeout,
                &self.name,
                format!("the collection script did not finish within {:?}", self.timeouts.command),
            )
        })??;
        let stderr = sudo.clean(&String::from_utf8_lossy(&out.stderr));
        if self.sudo != Sudo::None && out.exit_code != Some(0) && stderr.contains("sudo:") {
            let first = stderr.lines().find(|l| l.contains("sudo:")).unwrap_or("").trim().to_owned();
            let message = if sudo.rejected() {
                format!("sudo did not accept the password (it asked again, so it was not repeated): {first}")
            } else {
                format!("sudo refused: {first}")
            };
            return Err(err(FailureKind::Sudo, &self.name, message));
        }
        out.stderr = stderr.into_bytes();
        Ok(out)
    }
}

/// Keep `data` unless it would take `buf` past `cap`; then the run stops with an error.
fn append(buf: &mut Vec<u8>, data: &[u8], cap: usize, stream: &str, host: &str) -> Result<(), SshError> {
    if buf.len() + data.len() > cap {
        return Err(err(
            FailureKind::OutputLimit,
            host,
            format!(
                "the host wrote more than {} MiB to {stream}, so OpenWatch stopped reading; does the account's shell or a forced command print on its own?",
                cap / (1024 * 1024)
            ),
        ));
    }
    buf.extend_from_slice(data);
    Ok(())
}

fn sudo_stalled(host: &str, sudo: &SudoRun, stderr: &[u8], limit: std::time::Duration) -> SshError {
    let said = sudo.clean(&String::from_utf8_lossy(stderr));
    let said: String = said.trim().chars().take(200).collect();
    err(
        FailureKind::Sudo,
        host,
        format!(
            "sudo neither asked for the password with OpenWatch's prompt nor started the shell within {}s (it wrote: {said:?}); OpenWatch answers only its own prompt",
            limit.as_secs_f64()
        ),
    )
}
