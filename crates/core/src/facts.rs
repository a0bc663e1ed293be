//! Facts: everything collected from a host in one pass, keyed by what was asked. The engine
//! plans [`FactKey`]s, a transport fills a [`FactSet`], and evaluation reads only the set.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::capability::{CAPABILITIES, CapabilitySet, Probe};
use crate::rule::SearchKind;

/// One thing to collect. Keys are deduplicated across all rules of a scan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FactKey {
    /// Stat every path matching `pattern` (an absolute path, `*`/`?` allowed), following
    /// symlinks; with `content`, also read regular files (capped).
    Files { pattern: String, content: bool },
    /// Run a program by argv (no shell) and keep its exit code and output.
    Command { argv: Vec<String> },
    /// Capability probes: commands on the PATH, paths that exist, effective UID.
    Probes,
    /// /etc/shadow reduced on the host to the password state and aging fields; hashes never
    /// leave the host.
    ShadowSummary,
    /// Stat of every home directory named in /etc/passwd.
    HomeDirs,
    /// One walk over every local filesystem for all filesystem-wide searches.
    FilesystemWalk,
    /// Names of running processes.
    Processes,
    /// The unit-file state systemd reports for one unit (`enabled`, `disabled`, `masked`,
    /// `static`...). All units of a scan are listed by one `systemctl list-unit-files`.
    UnitFile { unit: String },
    /// Modules the running kernel ships (`available NAME`) or has built in (`builtin NAME`),
    /// from modules.dep and modules.builtin, as command output.
    ModuleIndex,
}

/// The type of a file system object, after following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Regular,
    Directory,
    Symlink,
    Other,
}

/// One stat'ed (and maybe read) path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub kind: FileKind,
    /// Permission bits including setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub user: String,
    pub group: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// 127 when the program does not exist.
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl CommandOutput {
    pub fn not_found(&self) -> bool {
        self.exit_code == 127
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Command name -> whether it is on the PATH.
    pub commands: BTreeMap<String, bool>,
    /// Path -> whether it exists.
    pub paths: BTreeMap<String, bool>,
    pub euid: u32,
}

impl ProbeResult {
    /// The capabilities these probes show.
    pub fn capabilities(&self) -> CapabilitySet {
        CAPABILITIES
            .iter()
            .filter(|(_, probe, _)| match probe {
                Probe::Command(names) => {
                    names.iter().any(|n| self.commands.get(*n).copied().unwrap_or(false))
                }
                Probe::Path(paths) => paths.iter().any(|p| self.paths.get(*p).copied().unwrap_or(false)),
                Probe::Root => self.euid == 0,
            })
            .map(|(name, _, _)| (*name).to_owned())
            .collect()
    }

    /// Every command and path that must be probed.
    pub fn wanted() -> (BTreeSet<&'static str>, BTreeSet<&'static str>) {
        let mut commands = BTreeSet::new();
        let mut paths = BTreeSet::new();
        for (_, probe, _) in CAPABILITIES {
            match probe {
                Probe::Command(names) => commands.extend(names.iter().copied()),
                Probe::Path(ps) => paths.extend(ps.iter().copied()),
                Probe::Root => {}
            }
        }
        (commands, paths)
    }
}

/// Password state from /etc/shadow, classified on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordState {
    /// Empty password field: anyone may log in without a password.
    Empty,
    /// `!` or `*` prefixed: password login disabled.
    Locked,
    /// A crypt hash.
    Hashed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowEntry {
    pub user: String,
    pub state: PasswordState,
    pub last_change: Option<i64>,
    pub min_days: Option<i64>,
    pub max_days: Option<i64>,
    pub warn_days: Option<i64>,
    pub inactive_days: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkEntry {
    pub kind: SearchKind,
    pub path: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkResult {
    /// Mount points walked.
    pub roots: Vec<String>,
    pub entries: Vec<WalkEntry>,
}

/// The collected value of one [`FactKey`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum FactValue {
    Files(Vec<FileEntry>),
    Command(CommandOutput),
    Probes(ProbeResult),
    Shadow(Vec<ShadowEntry>),
    Walk(WalkResult),
    Processes(Vec<String>),
    /// A unit's file state; `None` when systemd knows no such unit.
    UnitFile(Option<String>),
    /// The fact could not be collected; the text says why.
    Error(String),
}

/// Everything collected from one host in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactSet {
    /// RFC 3339 time the collection pass ran.
    pub collected_at: String,
    #[serde(with = "entries")]
    pub facts: BTreeMap<FactKey, FactValue>,
}

impl FactSet {
    pub fn get(&self, key: &FactKey) -> Option<&FactValue> {
        self.facts.get(key)
    }

    /// Entries of a Files fact, whether collected with or without content.
    pub fn files(&self, pattern: &str, content: bool) -> Result<&[FileEntry], String> {
        let with = FactKey::Files { pattern: pattern.to_owned(), content: true };
        let without = FactKey::Files { pattern: pattern.to_owned(), content: false };
        let value = if content {
            self.facts.get(&with)
        } else {
            self.facts.get(&without).or_else(|| self.facts.get(&with))
        };
        match value {
            Some(FactValue::Files(entries)) => Ok(entries),
            Some(FactValue::Error(e)) => Err(format!("could not collect {pattern}: {e}")),
            Some(_) => Err(format!("fact for {pattern} has the wrong type")),
            None => Err(format!("fact for {pattern} was not collected")),
        }
    }

    /// The single file at `path`, if it exists (content collected).
    pub fn file(&self, path: &str) -> Result<Option<&FileEntry>, String> {
        Ok(self.files(path, true)?.first())
    }

    pub fn command(&self, argv: &[&str]) -> Result<&CommandOutput, String> {
        let key = FactKey::Command { argv: argv.iter().map(|s| (*s).to_owned()).collect() };
        match self.facts.get(&key) {
            Some(FactValue::Command(out)) => Ok(out),
            Some(FactValue::Error(e)) => Err(format!("could not run {}: {e}", argv.join(" "))),
            Some(_) => Err("command fact has the wrong type".to_owned()),
            None => Err(format!("`{}` was not collected", argv.join(" "))),
        }
    }

    pub fn probes(&self) -> Option<&ProbeResult> {
        match self.facts.get(&FactKey::Probes) {
            Some(FactValue::Probes(p)) => Some(p),
            _ => None,
        }
    }
}

/// Serialize the fact map as a list of `{key, value}` (JSON maps need string keys).
mod entries {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{FactKey, FactValue};

    #[derive(Serialize, Deserialize)]
    struct Entry {
        key: FactKey,
        value: FactValue,
    }

    #[derive(Serialize)]
    struct EntryRef<'a> {
        key: &'a FactKey,
        value: &'a FactValue,
    }

    pub fn serialize<S: Serializer>(map: &BTreeMap<FactKey, FactValue>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter().map(|(key, value)| EntryRef { key, value }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<FactKey, FactValue>, D::Error> {
        Ok(Vec::<Entry>::deserialize(d)?.into_iter().map(|e| (e.key, e.value)).collect())
    }
}
