//! The local transport: runs the collection script with this machine's /bin/sh.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::transport::{ScriptOutput, Transport, TransportError};

#[derive(Debug, Default)]
pub struct LocalTransport;

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

impl Transport for LocalTransport {
    fn host_name(&self) -> String {
        hostname()
    }

    fn address(&self) -> String {
        "local".to_owned()
    }

    fn run_script(&mut self, script: &str) -> Result<ScriptOutput, TransportError> {
        let host = self.host_name();
        let mut child = Command::new("/bin/sh")
            .arg("-s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| TransportError::Spawn { host: host.clone(), source })?;
        let mut stdin = child.stdin.take().expect("stdin was piped");
        let script = script.to_owned();
        // Feed stdin from a thread so a large output cannot deadlock against our write.
        let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
        let out =
            child.wait_with_output().map_err(|source| TransportError::Io { host: host.clone(), source })?;
        writer
            .join()
            .expect("stdin writer does not panic")
            .map_err(|source| TransportError::Io { host, source })?;
        Ok(ScriptOutput {
            stdout: out.stdout,
            stderr: out.stderr,
            exit_code: out.status.code(),
            round_trips: 1,
        })
    }
}
