//! The core must stay pure: no async runtime, network, database, SSH, process or file I/O.
//! This test fails when a dependency or an import brings any of them in.
#![allow(clippy::disallowed_methods)] // the test reads the crate's own sources

use std::path::{Path, PathBuf};

const ALLOWED_DEPENDENCIES: &[&str] =
    &["serde", "serde_json", "serde-saphyr", "regex", "roxmltree", "thiserror", "uuid"];
const FORBIDDEN_IN_SOURCE: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "std::time::SystemTime",
    "std::time::Instant",
    "tokio",
    "sqlx",
    "russh",
    "reqwest",
    "std::io::stdin",
    "File::open",
];

fn section<'a>(manifest: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("[{name}]");
    manifest
        .lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter_map(|l| l.split(['=', '.']).next().map(str::trim))
        .filter(|k| !k.is_empty() && !k.starts_with('#'))
        .collect()
}

#[test]
fn core_depends_only_on_pure_crates() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let deps = section(&manifest, "dependencies");
    assert!(!deps.is_empty(), "could not find the [dependencies] section");
    for dep in deps {
        assert!(
            ALLOWED_DEPENDENCIES.contains(&dep),
            "openwatch-core must not depend on `{dep}`: the core is pure"
        );
    }
    assert!(!manifest.contains("[features]"), "features could pull impure dependencies into the core");
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn core_sources_do_no_io() {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    assert!(files.len() > 10);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for bad in FORBIDDEN_IN_SOURCE {
            assert!(!text.contains(bad), "{} uses `{bad}`: the core must stay free of I/O", f.display());
        }
    }
}
