//! The rule library a command works with: the built-in rules embedded at build time, plus
//! any extra directories the user names.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use openwatch_core::catalog::Catalog;
use openwatch_core::library::Library;

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));
}

/// Every `.yml`/`.yaml` file under `dir` (or `dir` itself when it is a file), sorted.
pub fn rule_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if dir.is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    if !dir.is_dir() {
        bail!("{} is neither a rule file nor a directory", dir.display());
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Read rule files from directories as (display name, text).
pub fn read_dirs(dirs: &[PathBuf]) -> Result<Vec<(String, String)>> {
    let mut texts = Vec::new();
    for dir in dirs {
        for path in rule_files(dir)? {
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            texts.push((path.display().to_string(), text));
        }
    }
    Ok(texts)
}

/// The built-in rules as (display name, text).
pub fn builtin_sources() -> Vec<(String, String)> {
    builtin::RULES.iter().map(|(p, t)| (format!("rules/{p}"), (*t).to_owned())).collect()
}

/// The framework catalogs shipped in the binary.
pub fn catalogs() -> Result<Vec<Catalog>> {
    builtin::CATALOGS
        .iter()
        .map(|(p, t)| Catalog::parse(&format!("catalogs/{p}"), t).map_err(|f| anyhow::anyhow!("{f}")))
        .collect()
}

/// Load the built-in library (unless `builtin` is false) and the extra directories; any
/// rule error stops the command, with every finding printed.
pub fn load(extra: &[PathBuf], builtin: bool) -> Result<Library> {
    let mut sources = if builtin { builtin_sources() } else { Vec::new() };
    sources.extend(read_dirs(extra)?);
    let lib = Library::load(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let errors: Vec<String> = lib.errors().map(ToString::to_string).collect();
    if !errors.is_empty() {
        bail!(
            "{} rule error(s):\n{}\n(run `openwatch rules lint` for details)",
            errors.len(),
            errors.join("\n\n")
        );
    }
    Ok(lib)
}
