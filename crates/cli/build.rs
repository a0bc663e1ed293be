//! Embeds the built-in rule library (`rules/`) and framework catalogs (`catalogs/`) into the
//! binary.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

/// `pub static NAME: &[(&str, &str)]` holding (path relative to `root`, text) of every
/// YAML file under `root`.
fn embed(name: &str, root: &Path, code: &mut String) {
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(root, &mut files);
    files.sort();
    let _ = writeln!(code, "pub static {name}: &[(&str, &str)] = &[");
    for f in &files {
        let rel = f.strip_prefix(root).expect("under root").display().to_string();
        let _ = writeln!(code, "    ({rel:?}, include_str!({:?})),", f.display().to_string());
    }
    code.push_str("];\n");
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = manifest.join("../..").canonicalize().expect("the repository root exists");
    let mut code = String::from("/// (path, YAML text) of every built-in rule and framework catalog.\n");
    embed("RULES", &repo.join("rules"), &mut code);
    embed("CATALOGS", &repo.join("catalogs"), &mut code);
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("builtin_rules.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
