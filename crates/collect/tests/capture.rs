//! The capture script run by a real shell on real files: every byte and the mode, owner and
//! group come back exactly, names with quotes, spaces, newlines and `$(...)` are only names,
//! and absent, unreadable-by-size, directory and symlink paths are told apart.

use std::os::unix::fs::{PermissionsExt, symlink};

use openwatch_collect::LocalTransport;
use openwatch_collect::capture::{CAPTURE_CAP, PathState, capture};

#[test]
fn files_come_back_byte_for_byte_with_mode_owner_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let canary = d.join("canary");
    let names = ["plain.conf", "it's here", "new\nline", "$(touch canary)", " lead"];
    let binary: Vec<u8> = (0..=255u8).chain(b"\n@@OW:x:END 0\n".iter().copied()).collect();
    for (i, n) in names.iter().enumerate() {
        let p = d.join(n);
        std::fs::write(&p, if i == 0 { binary.clone() } else { format!("line {i}\n").into_bytes() }).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    std::fs::write(d.join("empty"), b"").unwrap();
    std::fs::create_dir(d.join("dir")).unwrap();
    symlink(d.join("plain.conf"), d.join("link")).unwrap();
    std::fs::write(d.join("big"), vec![b'x'; CAPTURE_CAP as usize + 1]).unwrap();

    let mut paths: Vec<String> = names.iter().map(|n| d.join(n).display().to_string()).collect();
    for extra in ["empty", "dir", "link", "big", "missing"] {
        paths.push(d.join(extra).display().to_string());
    }
    let got = capture(&paths, &mut LocalTransport).unwrap();
    let me = |id: &str| {
        String::from_utf8(std::process::Command::new("id").arg(id).output().unwrap().stdout).unwrap()
    };
    let (owner, group) = (me("-un").trim().to_owned(), me("-gn").trim().to_owned());
    match &got[&paths[0]] {
        PathState::Regular { mode, owner: o, group: g, content } => {
            assert_eq!((*mode, o, g), (0o640, &owner, &group));
            assert_eq!(content, &binary, "every byte, frame-like text included");
        }
        other => panic!("{other:?}"),
    }
    for (i, p) in paths.iter().enumerate().take(names.len()).skip(1) {
        let PathState::Regular { content, .. } = &got[p] else { panic!("{p:?}: {:?}", got[p]) };
        assert_eq!(content, format!("line {i}\n").as_bytes(), "{p:?}");
    }
    assert!(!canary.exists(), "a file name is never run");
    assert!(matches!(&got[&paths[5]], PathState::Regular { content, .. } if content.is_empty()));
    assert_eq!(got[&paths[6]], PathState::Other { kind: "directory".into() });
    assert_eq!(got[&paths[7]], PathState::Other { kind: "symlink".into() }, "links are not followed");
    assert_eq!(got[&paths[8]], PathState::TooLarge { size: CAPTURE_CAP + 1 });
    assert_eq!(got[&paths[9]], PathState::Absent);
}

#[test]
fn a_glob_captures_every_file_it_matches_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("10-a.conf"), "a = 1\n").unwrap();
    std::fs::write(d.join("90-b.conf"), "b = 2\n").unwrap();
    std::fs::write(d.join("c.txt"), "not matched\n").unwrap();
    std::fs::write(d.join("new\nline.conf"), "left out: a name spanning lines\n").unwrap();
    std::fs::write(d.join("$(touch canary).conf"), "only a name\n").unwrap();
    std::fs::create_dir(d.join("sub.conf")).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let paths = vec![
        format!("{}/*.conf", d.display()),
        format!("{}/*.conf", empty.path().display()),
        d.join("10-a.conf").display().to_string(),
    ];
    let got = capture(&paths, &mut LocalTransport).unwrap();
    let names: Vec<String> =
        got.keys().map(|k| k.strip_prefix(&format!("{}/", d.display())).unwrap().to_owned()).collect();
    assert_eq!(names, ["$(touch canary).conf", "10-a.conf", "90-b.conf", "sub.conf"]);
    assert!(
        matches!(&got[&d.join("90-b.conf").display().to_string()], PathState::Regular { content, .. } if content == b"b = 2\n")
    );
    assert_eq!(got[&d.join("sub.conf").display().to_string()], PathState::Other { kind: "directory".into() });
    assert!(!d.join("canary").exists(), "a file name ran a command");
}
