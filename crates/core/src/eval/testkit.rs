//! Fixture facts for unit tests of check methods.

use crate::capability::CapabilitySet;
use crate::facts::{CommandOutput, FactKey, FactSet, FactValue, FileEntry, FileKind};
use crate::rule::{Bindings, Check, HostPlatform, Value};

use crate::eval::{Context, Outcome, Status, evaluate};

#[derive(Debug, Default)]
pub struct Fixture {
    pub facts: FactSet,
    pub caps: CapabilitySet,
    pub platform: HostPlatform,
    pub bindings: Bindings,
    pub no_walks: bool,
    /// Evaluate as a rule marked `sensitive`.
    pub sensitive: bool,
}

pub fn entry(path: &str, mode: u32, content: Option<&str>) -> FileEntry {
    FileEntry {
        path: path.to_owned(),
        kind: if content.is_some() { FileKind::Regular } else { FileKind::Directory },
        mode,
        uid: 0,
        gid: 0,
        user: "root".into(),
        group: "root".into(),
        size: content.map_or(4096, |c| c.len() as u64),
        content: content.map(str::to_owned),
        truncated: false,
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        let mut f = Fixture::default();
        f.facts.collected_at = "2026-01-01T00:00:00Z".into();
        f.platform = HostPlatform::from_os_release("ID=debian\nVERSION_ID=\"12\"\n");
        f
    }

    /// A regular file with content, owned by root.
    pub fn file(self, path: &str, mode: u32, content: &str) -> Fixture {
        self.entries(path, vec![entry(path, mode, Some(content))])
    }

    /// The entries a (glob) pattern resolved to.
    pub fn entries(mut self, pattern: &str, entries: Vec<FileEntry>) -> Fixture {
        self.facts
            .facts
            .insert(FactKey::Files { pattern: pattern.to_owned(), content: true }, FactValue::Files(entries));
        self
    }

    /// Nothing exists at these patterns.
    pub fn absent(self, patterns: &[&str]) -> Fixture {
        patterns.iter().fold(self, |f, p| f.entries(p, Vec::new()))
    }

    fn output(self, key: FactKey, exit_code: i32, stdout: &str) -> Fixture {
        let out =
            CommandOutput { exit_code, stdout: stdout.to_owned(), stderr: String::new(), truncated: false };
        self.fact(key, FactValue::Command(out))
    }

    pub fn command(self, argv: &[&str], exit_code: i32, stdout: &str) -> Fixture {
        self.output(
            FactKey::Command { argv: argv.iter().map(|s| (*s).to_owned()).collect() },
            exit_code,
            stdout,
        )
    }

    pub fn module_index(self, exit_code: i32, stdout: &str) -> Fixture {
        self.output(FactKey::ModuleIndex, exit_code, stdout)
    }

    pub fn fact(mut self, key: FactKey, value: FactValue) -> Fixture {
        self.facts.facts.insert(key, value);
        self
    }

    pub fn cap(mut self, name: &str) -> Fixture {
        self.caps.insert(name.to_owned());
        self
    }

    /// Evaluate checks as those of a rule marked `sensitive`.
    pub fn sensitive(mut self) -> Fixture {
        self.sensitive = true;
        self
    }

    pub fn var(mut self, name: &str, value: Value) -> Fixture {
        self.bindings.insert(name.to_owned(), value);
        self
    }

    pub fn eval(&self, check_yaml: &str) -> Outcome {
        let check: Check = serde_saphyr::from_str(check_yaml)
            .unwrap_or_else(|e| panic!("fixture check does not parse: {e}"));
        let ctx = Context {
            facts: &self.facts,
            capabilities: &self.caps,
            platform: &self.platform,
            bindings: &self.bindings,
            walks_enabled: !self.no_walks,
            sensitive: self.sensitive,
        };
        evaluate(&check, &ctx)
    }

    /// Evaluate and assert the status, returning the outcome for further checks.
    #[track_caller]
    pub fn expect(&self, check_yaml: &str, status: Status) -> Outcome {
        let out = self.eval(check_yaml);
        assert_eq!(out.status, status, "reason: {}", out.reason);
        assert!(!out.reason.is_empty(), "every verdict has a reason");
        out
    }

    /// Evaluate and assert `secret` shows nowhere: not in the reason, not in any evidence.
    #[track_caller]
    pub fn expect_hidden(&self, check_yaml: &str, status: Status, secret: &str) -> Outcome {
        let out = self.expect(check_yaml, status);
        assert!(!out.reason.contains(secret), "reason shows {secret:?}: {}", out.reason);
        for e in &out.evidence {
            let shown = [&e.source, &e.expected, &e.actual, &e.observed];
            assert!(shown.iter().all(|t| !t.contains(secret)), "evidence shows {secret:?}: {e:?}");
        }
        out
    }
}
