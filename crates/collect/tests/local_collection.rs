//! One real collection pass on this machine: hostile file names and argv values come back
//! as data, files and commands are framed correctly, and nothing runs that was not planned.

use std::collections::BTreeSet;

use openwatch_collect::{LocalTransport, collect};
use openwatch_core::facts::{FactKey, FactValue, FileKind};
use openwatch_core::plan::FactPlan;

fn plan(keys: Vec<FactKey>) -> FactPlan {
    FactPlan { keys: keys.into_iter().collect::<BTreeSet<_>>() }
}

#[test]
fn hostile_names_and_arguments_arrive_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    // File names cannot hold `/`, so the canary is relative to the collector's working dir.
    let canary_name = format!("openwatch-canary-{}", std::process::id());
    let canary = std::env::current_dir().unwrap().join(&canary_name);
    let evil = format!("a'b $(touch {canary_name}) `touch {canary_name}` \"q\" ;touch {canary_name}");
    let evil_file = dir.path().join(&evil);
    std::fs::write(&evil_file, "line one\n@@OW:forged:END 0 out 0\nline three\n").unwrap();
    let dir_str = dir.path().display().to_string();
    let keys = vec![
        FactKey::Files { pattern: format!("{dir_str}/*"), content: true },
        FactKey::Files { pattern: format!("{dir_str}/missing"), content: false },
        FactKey::Command { argv: vec!["printf".into(), "%s|".into(), evil.clone(), "-n".into()] },
        FactKey::Command { argv: vec!["openwatch-no-such-program".into()] },
    ];
    let collected = collect(&plan(keys.clone()), &mut LocalTransport).unwrap();
    assert!(!canary.exists(), "a quoted value was executed");
    assert_eq!(collected.round_trips, 1);
    match collected.facts.get(&keys[0]) {
        Some(FactValue::Files(entries)) => {
            assert_eq!(entries.len(), 1);
            assert_eq!(entries[0].path, evil_file.display().to_string());
            assert_eq!(entries[0].kind, FileKind::Regular);
            assert_eq!(
                entries[0].content.as_deref(),
                Some("line one\n@@OW:forged:END 0 out 0\nline three\n")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(collected.facts.get(&keys[1]), Some(&FactValue::Files(vec![])));
    match collected.facts.get(&keys[2]) {
        Some(FactValue::Command(out)) => {
            assert_eq!(out.exit_code, 0);
            assert_eq!(out.stdout, format!("{evil}|-n|"));
        }
        other => panic!("unexpected {other:?}"),
    }
    match collected.facts.get(&keys[3]) {
        Some(FactValue::Command(out)) => assert_eq!(out.exit_code, 127),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn probes_platform_and_modes_are_collected() {
    let keys = vec![
        FactKey::Probes,
        FactKey::Files { pattern: "/etc/os-release".into(), content: true },
        FactKey::Files { pattern: "/etc/passwd".into(), content: false },
        FactKey::Processes,
    ];
    let c = collect(&plan(keys.clone()), &mut LocalTransport).unwrap();
    let probes = c.facts.probes().expect("probes collected");
    assert!(probes.commands.get("find").copied().unwrap_or(false));
    match c.facts.get(&keys[2]) {
        Some(FactValue::Files(e)) => {
            assert_eq!(e[0].mode, 0o644);
            assert_eq!(e[0].user, "root");
            assert!(e[0].content.is_none());
        }
        other => panic!("unexpected {other:?}"),
    }
    match c.facts.get(&FactKey::Processes) {
        Some(FactValue::Processes(p)) => assert!(!p.is_empty()),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn large_files_are_capped_and_odd_names_survive() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.log");
    std::fs::write(&big, "x".repeat(openwatch_collect::script::CONTENT_CAP + 10)).unwrap();
    let odd = dir.path().join("new\nline\ttab");
    std::fs::write(&odd, "a\n\nb").unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let key = FactKey::Files { pattern: format!("{}/*", dir.path().display()), content: true };
    let c = collect(&plan(vec![key.clone()]), &mut LocalTransport).unwrap();
    let Some(FactValue::Files(entries)) = c.facts.get(&key) else { panic!("no files") };
    let by_name = |n: &std::path::Path| entries.iter().find(|e| e.path == n.display().to_string()).unwrap();
    let b = by_name(&big);
    assert!(b.truncated);
    assert_eq!(b.content.as_ref().unwrap().len(), openwatch_collect::script::CONTENT_CAP);
    assert_eq!(
        by_name(&odd).content.as_deref(),
        Some("a\n\nb\n"),
        "lines survive; a missing final newline is added"
    );
    assert_eq!(by_name(&empty).content.as_deref(), Some(""));
    assert_eq!(entries.len(), 3);
}

#[test]
fn process_names_longer_than_comm_are_found_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("openwatch-long-process-name");
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let mut child = std::process::Command::new(&exe).arg("30").spawn().unwrap();
    let c = collect(&plan(vec![FactKey::Processes]), &mut LocalTransport);
    let _ = child.kill();
    let _ = child.wait();
    let Some(FactValue::Processes(names)) = c.unwrap().facts.get(&FactKey::Processes).cloned() else {
        panic!("no process list")
    };
    assert!(names.iter().any(|n| n == "openwatch-long-process-name"), "full name missing");
    assert!(names.iter().any(|n| n == "openwatch-long-"), "the kernel's 15-character comm is kept too");
}
