//! Saved facts (`--save-facts` / `--facts`): everything collected from a host, replayable
//! offline to reproduce a scan exactly.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use openwatch_core::facts::FactSet;
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "openwatch.facts/v1";

#[derive(Debug, Serialize, Deserialize)]
pub struct SavedFacts {
    pub schema: String,
    pub host: String,
    pub address: String,
    pub facts: FactSet,
}

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};

pub fn save(path: &Path, host: &str, address: &str, facts: &FactSet) -> Result<()> {
    let doc = SavedFacts {
        schema: SCHEMA.into(),
        host: host.into(),
        address: address.into(),
        facts: facts.clone(),
    };
    let text = serde_json::to_string_pretty(&doc)?;
    // Write then rename, so a crash never leaves a half-written file under the final name.
    // Facts hold whole files read on the host (a .netrc, a GRUB password hash), so the file
    // is readable by its owner only, from its creation.
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", tmp.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("writing {}", tmp.display()))?;
    drop(file);
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub fn load(path: &Path) -> Result<SavedFacts> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: SavedFacts = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an OpenWatch facts file", path.display()))?;
    if doc.schema != SCHEMA {
        bail!("{} has schema `{}`, expected `{SCHEMA}`", path.display(), doc.schema);
    }
    Ok(doc)
}
