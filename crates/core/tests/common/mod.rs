//! The repository's rule files, read once per test binary.
#![allow(clippy::disallowed_methods)] // a test may read files; the library itself may not

use std::path::{Path, PathBuf};

use openwatch_core::library::Library;

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("rules/ is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

/// The built-in library loaded from `rules/`, and how many rule files it read.
pub fn builtin_library() -> (Library, usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|p| (p.display().to_string(), std::fs::read_to_string(p).expect("rule file is UTF-8")))
        .collect();
    (Library::load(texts.iter().map(|(n, t)| (n.as_str(), t.as_str()))), files.len())
}
