//! File transactions run by a real shell on real files: apply journals the pre-state and
//! changes exactly what was planned; rollback restores every byte, the mode and the owner
//! from the journal alone (a created directory removed again); a file changed after the fix
//! is reported and left untouched, with nothing else rolled back; a file changed between
//! capture and apply stops the apply before anything is written.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use openwatch_collect::LocalTransport;
use openwatch_collect::capture::{PathState, capture};
use openwatch_collect::recover::{list_script, parse_open};
use openwatch_collect::txn::{After, FileChange, TxnError, apply, apply_script, rollback};
use openwatch_collect::{ScriptOutput, Transport};

/// What a rollback must restore: bytes, mode, owner and group, or absence.
fn snapshot(p: &Path) -> Option<(Vec<u8>, u32, u32, u32)> {
    let m = std::fs::symlink_metadata(p).ok()?;
    Some((std::fs::read(p).unwrap(), m.permissions().mode() & 0o7777, m.uid(), m.gid()))
}

/// A file the fix writes, owned by whoever runs the test (root on the test machines).
fn file(content: &str, mode: u32) -> After {
    let id = |flag: &str| {
        let out = std::process::Command::new("id").arg(flag).output().unwrap().stdout;
        String::from_utf8(out).unwrap().trim().to_owned()
    };
    After::File { content: content.as_bytes().to_vec(), mode, owner: id("-un"), group: id("-gn") }
}

/// `a.conf` and `b.conf` in `d`, each with one setting.
fn two_files(d: &Path) -> (PathBuf, PathBuf) {
    let (a, b) = (d.join("a.conf"), d.join("b.conf"));
    std::fs::write(&a, b"a=1\n").unwrap();
    std::fs::write(&b, b"b=1\n").unwrap();
    (a, b)
}

/// Every path, from its captured pre-state, becomes `fixed` with `mode`.
fn all_fixed(paths: &[String], pre: &BTreeMap<String, PathState>, mode: u32) -> Vec<FileChange> {
    paths
        .iter()
        .map(|p| FileChange { path: p.clone(), before: pre[p].clone(), after: file("fixed\n", mode) })
        .collect()
}

#[test]
fn apply_then_rollback_restores_the_exact_pre_state() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let journal = d.join("journal").display().to_string();
    let conf = d.join("sshd_config");
    std::fs::write(&conf, b"# keep me\nMaxAuthTries 6\n\x00binary\xff\n").unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
    let gone = d.join("it's gone");
    std::fs::write(&gone, b"old\n").unwrap();
    let dropin = d.join("sshd_config.d/00-openwatch.conf");
    let paths: Vec<String> = [&conf, &gone, &dropin].iter().map(|p| p.display().to_string()).collect();
    let before: Vec<_> = [&conf, &gone, &dropin].iter().map(|p| snapshot(p)).collect();

    let pre = capture(&paths, &mut LocalTransport).unwrap();
    let changes = vec![
        FileChange {
            path: paths[0].clone(),
            before: pre[&paths[0]].clone(),
            after: file("MaxAuthTries 4\n", 0o600),
        },
        FileChange { path: paths[1].clone(), before: pre[&paths[1]].clone(), after: After::Absent },
        FileChange {
            path: paths[2].clone(),
            before: pre[&paths[2]].clone(),
            after: file("MaxAuthTries 4\n", 0o644),
        },
    ];
    apply(&mut LocalTransport, &journal, "tx-1", &changes).unwrap();
    assert_eq!(std::fs::read(&conf).unwrap(), b"MaxAuthTries 4\n");
    assert_eq!(snapshot(&conf).unwrap().1, 0o600);
    assert!(!gone.exists());
    assert_eq!(std::fs::read(&dropin).unwrap(), b"MaxAuthTries 4\n");
    let jmode = std::fs::metadata(d.join("journal/tx-1")).unwrap().permissions().mode() & 0o777;
    assert_eq!(jmode, 0o700, "the journal is root-only");
    assert_eq!(std::fs::read_to_string(d.join("journal/tx-1/state")).unwrap(), "applied\n");
    let again = apply(&mut LocalTransport, &journal, "tx-1", &changes);
    assert!(matches!(again, Err(TxnError::Exists(_))), "{again:?}");

    rollback(&mut LocalTransport, &journal, "tx-1").unwrap();
    let after: Vec<_> = [&conf, &gone, &dropin].iter().map(|p| snapshot(p)).collect();
    assert_eq!(after, before, "bytes, mode, owner and group, and absence, as before");
    assert!(!d.join("sshd_config.d").exists(), "the directory the fix created is gone");
    assert_eq!(std::fs::read_to_string(d.join("journal/tx-1/state")).unwrap(), "rolled_back\n");
    let unknown = rollback(&mut LocalTransport, &journal, "tx-2");
    assert!(matches!(unknown, Err(TxnError::Unknown(_))), "{unknown:?}");
}

#[test]
fn a_file_changed_after_the_fix_is_reported_and_nothing_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let journal = d.join("journal").display().to_string();
    let (a, b) = two_files(d);
    let paths = vec![a.display().to_string(), b.display().to_string()];
    let pre = capture(&paths, &mut LocalTransport).unwrap();
    let changes = all_fixed(&paths, &pre, 0o644);
    apply(&mut LocalTransport, &journal, "tx-c", &changes).unwrap();
    std::fs::write(&b, b"someone else's edit\n").unwrap();
    match rollback(&mut LocalTransport, &journal, "tx-c") {
        Err(TxnError::Conflict { paths: p, .. }) => assert_eq!(p, vec![paths[1].clone()]),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&b).unwrap(), b"someone else's edit\n", "the edited file is untouched");
    assert_eq!(std::fs::read(&a).unwrap(), b"fixed\n", "and nothing else was rolled back");
}

/// Permissions are part of what the fix left: a mode changed afterwards is a conflict too,
/// and the file keeps the mode someone gave it.
#[test]
fn a_mode_changed_after_the_fix_is_reported_and_nothing_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let journal = d.join("journal").display().to_string();
    let (a, b) = two_files(d);
    let paths = vec![a.display().to_string(), b.display().to_string()];
    let pre = capture(&paths, &mut LocalTransport).unwrap();
    apply(&mut LocalTransport, &journal, "tx-m", &all_fixed(&paths, &pre, 0o600)).unwrap();
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o666)).unwrap();
    match rollback(&mut LocalTransport, &journal, "tx-m") {
        Err(TxnError::Conflict { paths: p, .. }) => assert_eq!(p, vec![paths[0].clone()]),
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(&a).unwrap().1, 0o666, "the changed mode is left alone");
    assert_eq!(std::fs::read(&b).unwrap(), b"fixed\n", "and nothing else was rolled back");
    // Put back as the fix left it, the rollback goes through.
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o600)).unwrap();
    rollback(&mut LocalTransport, &journal, "tx-m").unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), b"a=1\n");
}

#[test]
fn a_file_changed_since_the_capture_stops_the_apply() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let journal = d.join("journal").display().to_string();
    let a = d.join("a.conf");
    std::fs::write(&a, b"a=1\n").unwrap();
    let paths = vec![a.display().to_string(), d.join("new.conf").display().to_string()];
    let pre = capture(&paths, &mut LocalTransport).unwrap();
    std::fs::write(&a, b"a=2\n").unwrap();
    let changes = all_fixed(&paths, &pre, 0o644);
    match apply(&mut LocalTransport, &journal, "tx-s", &changes) {
        Err(TxnError::Conflict { paths: p, .. }) => assert_eq!(p, vec![paths[0].clone()]),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&a).unwrap(), b"a=2\n");
    assert!(!d.join("new.conf").exists(), "nothing was written");
    assert!(!d.join("journal/tx-s").exists(), "no journal is left for a transaction that never started");
    assert!(matches!(pre[&paths[1]], PathState::Absent));
}

/// A caller killed mid-apply leaves the transaction open with some files replaced and some
/// not; the next contact finds it and rolls it back to the exact pre-state.
#[test]
fn an_apply_killed_midway_is_found_open_and_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let journal = d.join("journal").display().to_string();
    let (a, b) = two_files(d);
    let before = (snapshot(&a), snapshot(&b));
    let paths = vec![a.display().to_string(), b.display().to_string()];
    let pre = capture(&paths, &mut LocalTransport).unwrap();
    let changes = all_fixed(&paths, &pre, 0o600);
    // The script as far as the first file's replacement: what a SIGKILL right after it leaves.
    let script = apply_script(&journal, "tx-k", &changes).unwrap();
    let cut = script.find("ow_put \"$ow_j/new/0\"").unwrap();
    let cut = cut + script[cut..].find('\n').unwrap();
    let out: ScriptOutput = LocalTransport.run_script(&script[..cut]).unwrap();
    assert_eq!(out.exit_code, Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&a).unwrap(), b"fixed\n");
    assert_eq!(std::fs::read(&b).unwrap(), b"b=1\n", "the kill came before the second file");

    let listed = LocalTransport.run_script(&list_script(&journal).unwrap()).unwrap();
    assert_eq!(parse_open(&listed.stdout), vec![("tx-k".to_owned(), "applying".to_owned())]);
    rollback(&mut LocalTransport, &journal, "tx-k").unwrap();
    assert_eq!((snapshot(&a), snapshot(&b)), before, "both as before");
    let listed = LocalTransport.run_script(&list_script(&journal).unwrap()).unwrap();
    assert!(parse_open(&listed.stdout).is_empty(), "nothing open any more");
}
