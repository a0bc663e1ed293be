//! Results from other scanners, read into one shape and tied to OpenWatch's rules, so they
//! can be shown beside OpenWatch's own. Pure: the caller reads the file.
//!
//! A foreign rule is tied to an OpenWatch rule by id: OpenWatch's own XCCDF ids
//! (`xccdf_org.openwatch_rule_<id>`), and ComplianceAsCode's
//! (`xccdf_org.ssgproject.content_rule_<name>`) through each rule's `references.ssg`, which
//! also carries the CIS sections and NIST controls the rule maps to.

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

/// The XCCDF id prefix of ComplianceAsCode's rules.
pub const SSG_RULE_PREFIX: &str = "xccdf_org.ssgproject.content_rule_";

/// Ties foreign rule ids to OpenWatch rule ids.
#[derive(Debug)]
pub struct Correlator<'r> {
    own: HashMap<&'r str, &'r str>,
    ssg: HashMap<&'r str, &'r str>,
}

impl<'r> Correlator<'r> {
    pub fn new(rules: &'r [Rule]) -> Correlator<'r> {
        let mut own = HashMap::new();
        let mut ssg = HashMap::new();
        for r in rules {
            own.insert(r.id(), r.id());
            for name in &r.raw.references.ssg {
                ssg.entry(name.as_str()).or_insert(r.id());
            }
        }
        Correlator { own, ssg }
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
