//! The deadman run by a real shell: armed before a transaction, it rolls the transaction
//! back when its time is up and nobody confirmed access, and stands down once confirmed.

use std::time::{Duration, Instant};

use openwatch_collect::LocalTransport;
use openwatch_collect::Transport;
use openwatch_collect::capture::capture;
use openwatch_collect::deadman::{arm_script, confirm_script};
use openwatch_collect::txn::{After, FileChange, apply};

fn me(flag: &str) -> String {
    let out = std::process::Command::new("id").arg(flag).output().unwrap().stdout;
    String::from_utf8(out).unwrap().trim().to_owned()
}

/// Arm a 1-second deadman, apply a change to `conf`; the journal path.
fn armed_change(d: &std::path::Path, id: &str) -> (String, std::path::PathBuf) {
    let journal = d.join("journal").display().to_string();
    let conf = d.join("sshd_config");
    std::fs::write(&conf, b"PermitRootLogin yes\n").unwrap();
    let paths = vec![conf.display().to_string()];
    let pre = capture(&paths, &mut LocalTransport).unwrap();
    let out = LocalTransport.run_script(&arm_script(&journal, id, 1).unwrap()).unwrap();
    assert_eq!(out.exit_code, Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let change = FileChange {
        path: paths[0].clone(),
        before: pre[&paths[0]].clone(),
        after: After::File {
            content: b"PermitRootLogin no\n".to_vec(),
            mode: 0o600,
            owner: me("-un"),
            group: me("-gn"),
        },
    };
    apply(&mut LocalTransport, &journal, id, &[change]).unwrap();
    assert_eq!(std::fs::read(&conf).unwrap(), b"PermitRootLogin no\n");
    (journal, conf)
}

fn state(d: &std::path::Path, id: &str) -> String {
    std::fs::read_to_string(d.join("journal").join(id).join("state")).unwrap_or_default()
}

#[test]
fn unconfirmed_the_deadman_rolls_the_change_back() {
    let dir = tempfile::tempdir().unwrap();
    let (_, conf) = armed_change(dir.path(), "tx-d");
    let t = Instant::now();
    while state(dir.path(), "tx-d") != "rolled_back\n" {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the deadman never fired: {}",
            state(dir.path(), "tx-d")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(std::fs::read(&conf).unwrap(), b"PermitRootLogin yes\n");
    assert!(dir.path().join("journal/tx-d/deadman").exists(), "the journal says who rolled it back");
}

#[test]
fn confirmed_the_deadman_stands_down() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, conf) = armed_change(dir.path(), "tx-e");
    let out = LocalTransport.run_script(&confirm_script(&journal, "tx-e").unwrap()).unwrap();
    assert_eq!(out.exit_code, Some(0));
    // Well past the deadline: nothing happened.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(state(dir.path(), "tx-e"), "applied\n");
    assert_eq!(std::fs::read(&conf).unwrap(), b"PermitRootLogin no\n");
}
