//! Results from other scanners, read into one shape and tied to OpenWatch's rules, so they
//! can be shown beside OpenWatch's own. Pure: the caller reads the file.
//!
//! A foreign rule is tied to an OpenWatch rule by id: OpenWatch's own XCCDF ids
//! (`xccdf_org.openwatch_rule_<id>`), and ComplianceAsCode's
//! (`xccdf_org.ssgproject.content_rule_<name>`) through each rule's `references.ssg`. Results
//! that name no such id (InSpec, Nessus and Wazuh checks) are related to the OpenWatch rules
//! that cite the same CIS section or NIST SP 800-53 control: the same question asked by
//! another tool, not necessarily answered the same way.

pub mod inspec;
pub mod nessus;
pub mod wazuh;
pub mod xccdf;

use std::collections::HashMap;

use serde::Serialize;

use crate::eval::Status;
use crate::rule::Rule;

/// One host's results from an imported file.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedHost {
    pub target: String,
    pub addresses: Vec<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub profile: Option<String>,
    /// The scanner that produced the results (a CPE for XCCDF), when it says.
    pub test_system: Option<String>,
    pub results: Vec<ImportedResult>,
}

/// One rule's result as the other scanner reported it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedResult {
    /// The other scanner's rule id.
    pub rule: String,
    /// The other scanner's result, verbatim.
    pub result: String,
    pub verdict: Status,
    pub severity: Option<String>,
    pub idents: Vec<String>,
    pub message: Option<String>,
    /// The framework controls the other scanner says the check covers.
    pub references: Vec<ForeignRef>,
}

/// A control another scanner cites: a CIS section (`5.2.1`) or a NIST SP 800-53 control
/// (`AC-7`, `AC-2(3)`); other schemes are kept but relate to nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignRef {
    /// `cis`, `nist_800_53`, or the scanner's own name for another scheme.
    pub scheme: String,
    pub id: String,
}

impl ForeignRef {
    pub fn new(scheme: &str, id: &str) -> ForeignRef {
        ForeignRef { scheme: scheme.to_owned(), id: id.trim().to_owned() }
    }

    /// `scheme:id`, NIST controls written one way (`nist_800_53:AC-7(1)`), as stores keep
    /// and look them up.
    pub fn key(&self) -> String {
        match self.scheme.as_str() {
            "nist_800_53" => format!("nist_800_53:{}", ForeignRef::nist_key(&self.id)),
            _ => format!("{}:{}", self.scheme, self.id),
        }
    }

    /// The key of a framework's control, as [`ForeignRef::key`] writes a foreign reference
    /// to it: CIS benchmarks by section, NIST SP 800-53 by control; `None` for frameworks
    /// other scanners' references do not name.
    pub fn control_key(framework: &str, control: &str) -> Option<String> {
        if framework.starts_with("cis_") {
            Some(ForeignRef::new("cis", control).key())
        } else if framework == "nist_800_53" {
            Some(ForeignRef::new("nist_800_53", control).key())
        } else {
            None
        }
    }

    /// A NIST control as the catalog writes it: `ac-7`, `AC-7 (1)` and `AC-7(1)` alike.
    fn nist_key(id: &str) -> String {
        id.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase()
    }
}

/// The scanners whose results can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// XCCDF 1.2/1.1 results or an ARF report (OpenSCAP, OpenWatch).
    Xccdf,
    /// Chef InSpec's JSON reporter.
    Inspec,
    /// Nessus `.nessus` v2 compliance results.
    Nessus,
    /// Wazuh SCA results from its API.
    Wazuh,
}

impl Source {
    pub const ALL: &'static [Source] = &[Source::Xccdf, Source::Inspec, Source::Nessus, Source::Wazuh];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Xccdf => "xccdf",
            Source::Inspec => "inspec",
            Source::Nessus => "nessus",
            Source::Wazuh => "wazuh",
        }
    }

    /// Which scanner wrote this text, from its first bytes: a Nessus root element, other XML
    /// (XCCDF or ARF), InSpec's `platform`/`profiles`, or Wazuh's checks.
    pub fn detect(text: &str) -> Option<Source> {
        let head: String = text.chars().take(4096).collect();
        let start = head.trim_start_matches('\u{feff}').trim_start();
        if start.starts_with('<') {
            return Some(if head.contains("<NessusClientData_v2") { Source::Nessus } else { Source::Xccdf });
        }
        if start.starts_with('[') || head.contains("\"affected_items\"") {
            return Some(Source::Wazuh);
        }
        (start.starts_with('{') && (head.contains("\"profiles\"") || head.contains("\"platform\"")))
            .then_some(Source::Inspec)
    }

    /// Read the file as this scanner's results; `target` names the host of results that do
    /// not (Wazuh's).
    pub fn parse(
        self,
        file: &str,
        text: &str,
        target: Option<&str>,
    ) -> Result<Vec<ImportedHost>, ImportError> {
        match self {
            Source::Xccdf => xccdf::parse(file, text),
            Source::Inspec => inspec::parse(file, text),
            Source::Nessus => nessus::parse(file, text),
            Source::Wazuh => match target {
                Some(t) => wazuh::parse(file, text, t),
                None => Err(ImportError::new(
                    file,
                    1,
                    1,
                    "Wazuh SCA results do not name their host: give the target host (`--target NAME`; `target` in the API)".to_owned(),
                )),
            },
        }
    }
}

/// Why a file was not imported: what is wrong and where (`file:line:column: what`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {what}")]
pub struct ImportError {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub what: String,
}

impl ImportError {
    pub fn new(file: &str, line: u32, col: u32, what: String) -> ImportError {
        ImportError { file: file.to_owned(), line, col, what }
    }
}

/// Line and column (1-based) of the last of `needles`, each looked for after the one before;
/// the start of the file when one is missing.
pub(crate) fn position(text: &str, needles: &[&str]) -> (u32, u32) {
    let mut at = 0;
    for n in needles {
        match text[at..].find(n) {
            Some(i) => at += i,
            None => return (1, 1),
        }
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(col).unwrap_or(u32::MAX))
}

/// The file parsed as XML, or where it is not well-formed.
pub(crate) fn xml<'t>(file: &str, text: &'t str) -> Result<roxmltree::Document<'t>, ImportError> {
    roxmltree::Document::parse(text).map_err(|e| {
        let pos = e.pos();
        let what = e.to_string();
        let what = what.strip_suffix(&format!(" at {}:{}", pos.row, pos.col)).unwrap_or(&what);
        ImportError::new(file, pos.row, pos.col, format!("not well-formed XML: {what}"))
    })
}

/// A JSON error where serde_json found it, saying what the file is not (`not an InSpec
/// JSON report: ...`).
pub(crate) fn json_error(file: &str, not: &str, e: &serde_json::Error) -> ImportError {
    let what = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    let what = what.strip_suffix(&at).unwrap_or(&what);
    let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    ImportError::new(file, n(e.line()), n(e.column()), format!("{not}: {what}"))
}

/// The XCCDF id prefix of ComplianceAsCode's rules.
pub const SSG_RULE_PREFIX: &str = "xccdf_org.ssgproject.content_rule_";

/// Ties foreign rule ids to OpenWatch rule ids, and foreign controls to the rules citing them.
#[derive(Debug)]
pub struct Correlator<'r> {
    own: HashMap<&'r str, &'r str>,
    ssg: HashMap<&'r str, &'r str>,
    cis: HashMap<String, Vec<&'r str>>,
    nist: HashMap<String, Vec<&'r str>>,
}

impl<'r> Correlator<'r> {
    pub fn new(rules: &'r [Rule]) -> Correlator<'r> {
        let mut own = HashMap::new();
        let mut ssg = HashMap::new();
        let mut cis: HashMap<String, Vec<&'r str>> = HashMap::new();
        let mut nist: HashMap<String, Vec<&'r str>> = HashMap::new();
        for r in rules {
            let refs = &r.raw.references;
            own.insert(r.id(), r.id());
            for name in &refs.ssg {
                ssg.entry(name.as_str()).or_insert(r.id());
            }
            for c in refs.cis.values() {
                let ids = cis.entry(c.section.as_str().to_owned()).or_default();
                if !ids.contains(&r.id()) {
                    ids.push(r.id());
                }
            }
            for c in &refs.nist_800_53 {
                nist.entry(ForeignRef::nist_key(c)).or_default().push(r.id());
            }
        }
        Correlator { own, ssg, cis, nist }
    }

    /// The OpenWatch rules citing any of these controls, sorted.
    pub fn related(&self, refs: &[ForeignRef]) -> Vec<&'r str> {
        let mut out: Vec<&'r str> = refs
            .iter()
            .filter_map(|r| match r.scheme.as_str() {
                "cis" => self.cis.get(r.id.as_str()),
                "nist_800_53" => self.nist.get(&ForeignRef::nist_key(&r.id)),
                _ => None,
            })
            .flatten()
            .copied()
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The OpenWatch rule a foreign rule id stands for, if any.
    pub fn rule(&self, foreign: &str) -> Option<&'r str> {
        if let Some(id) = foreign.strip_prefix(&format!("xccdf_{}_rule_", crate::export::xccdf::NAMESPACE)) {
            return self.own.get(id).copied();
        }
        let name = foreign.strip_prefix(SSG_RULE_PREFIX).unwrap_or(foreign);
        self.ssg.get(name).copied()
    }
}
