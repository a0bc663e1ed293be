//! The rule model. [`RawRule`] is what a YAML file says, checked for shape and value syntax
//! while parsing; [`Rule`] is a rule that also passed the cross-field checks in [`validate`].

mod check;
mod gate;
mod platform;
mod references;
mod remediation;
mod sensitive;
mod types;
mod validate;
mod value;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

pub use check::*;
pub use gate::Gate;
pub use platform::{FAMILIES, Family, HostPlatform, PlatformSpec, Version};
pub use references::{
    CisLevel, CisRef, PLATFORM_KEYS, References, StigCategory, StigRef, control_matches, framework_names,
    is_known_framework,
};
pub use remediation::{Mechanism, Remediation};
pub use types::{AbsPath, Comparator, GlobPath, Ident, Mode, Pattern, Severity, Text, Token, WhenMissing};
pub use validate::{Finding, FindingLevel, RuleError, parse_rule};
pub use value::{Bindings, Param, SpannedParam, Value, VarType, VariableDecl};

/// A rule as written in its YAML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub id: Spanned<Ident>,
    pub title: Text,
    pub description: Text,
    pub rationale: Text,
    pub severity: Severity,
    pub category: Ident,
    #[serde(default)]
    pub tags: Vec<Ident>,
    #[serde(default)]
    pub references: References,
    pub platforms: Vec<PlatformSpec>,
    #[serde(default)]
    pub variables: BTreeMap<Ident, VariableDecl>,
    pub implementations: Vec<Spanned<Implementation>>,
    /// The checks read text that can hold secrets (passwords, hashes, keys, tokens): evidence
    /// and reasons keep what was decided and withhold what was read.
    #[serde(default)]
    pub sensitive: Option<Spanned<bool>>,
}

/// One way to check (and fix) a rule, chosen when its capability gate matches the host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Implementation {
    #[serde(default)]
    pub when: Option<Gate>,
    #[serde(default)]
    pub default: bool,
    pub check: Check,
    #[serde(default)]
    pub remediation: Option<Remediation>,
}

/// A validated rule, with the file it came from and its source text (for `rules show`).
#[derive(Debug, Clone)]
pub struct Rule {
    pub raw: RawRule,
    pub source_name: String,
    pub source_text: String,
}

impl Rule {
    pub fn id(&self) -> &str {
        self.raw.id.value.as_str()
    }

    /// Is the rule marked `sensitive: true`?
    pub fn sensitive(&self) -> bool {
        self.raw.sensitive.as_ref().is_some_and(|s| s.value)
    }

    /// Default values of the variables this rule declares.
    pub fn variable_defaults(&self) -> impl Iterator<Item = (&str, &VariableDecl)> {
        self.raw.variables.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The first implementation whose gate matches the host's capabilities.
    pub fn select_implementation(&self, caps: &crate::capability::CapabilitySet) -> Option<&Implementation> {
        self.raw.implementations.iter().map(|i| &i.value).find(|i| match &i.when {
            Some(gate) => gate.matches(caps),
            None => i.default,
        })
    }

    /// Does any implementation's check walk the whole filesystem?
    pub fn needs_walk(&self) -> bool {
        self.raw
            .implementations
            .iter()
            .any(|i| i.value.check.leaves().iter().any(|c| matches!(c, Check::FilesystemSearch(_))))
    }
}
