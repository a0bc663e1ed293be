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

pub fn save(path: &Path, host: &str, address: &str, facts: &FactSet) -> Result<()> {
    let doc = SavedFacts {
        schema: SCHEMA.into(),
        host: host.into(),
        address: address.into(),
        facts: facts.clone(),
    };
    let text = serde_json::to_string_pretty(&doc)?;
    // Write then rename, so a crash never leaves a half-written file under the final name.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
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
