//! Tailoring: what a group of hosts, or one host, changes about the rule library for itself:
//! which frameworks' rules apply, which rules are left out, and the values of rule variables
//! (what the CLI's `--var` sets for one scan). Layers resolve in a fixed order, so a host's
//! effective tailoring never depends on storage order: its groups by name, then the host.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::rule::{Rule, is_known_framework};
use crate::vars::{Overrides, parse_overrides};

/// One group's or one host's tailoring, as stored and as the API takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tailoring {
    /// Only rules citing one of these frameworks apply, and only these frameworks are
    /// counted. Empty: every rule and framework. A host's own list replaces its groups'.
    #[serde(default)]
    pub frameworks: Vec<String>,
    /// Rules left out of the scan and of every figure.
    #[serde(default)]
    pub exclude_rules: Vec<String>,
    /// Variable values as text (`sshd_max_auth_tries` = `3`), typed against the rules'
    /// declarations.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

impl Tailoring {
    pub fn is_empty(&self) -> bool {
        self.frameworks.is_empty() && self.exclude_rules.is_empty() && self.variables.is_empty()
    }

    /// Every problem with this tailoring against the library: unknown frameworks, rules
    /// and variables, and values of the wrong type.
    pub fn check(&self, rules: &[Rule]) -> Vec<String> {
        let mut problems = Vec::new();
        for f in &self.frameworks {
            if !is_known_framework(f) {
                problems.push(format!("unknown framework `{f}`"));
            }
        }
        for r in &self.exclude_rules {
            if !rules.iter().any(|x| x.id() == r) {
                problems.push(format!("unknown rule `{r}`"));
            }
        }
        for (name, value) in &self.variables {
            if let Err(e) = parse_overrides(rules, &[(name.clone(), value.clone())]) {
                problems.push(e);
            }
        }
        problems
    }
}

/// Where an effective setting comes from: `group NAME` or `host`.
pub type Source = String;

/// A host's tailoring after its layers are applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Effective {
    /// Empty: every framework.
    pub frameworks: Vec<String>,
    pub frameworks_from: Option<Source>,
    pub exclude_rules: BTreeMap<String, Source>,
    /// Each variable's text and the layer that set it.
    pub variables: BTreeMap<String, (String, Source)>,
}

impl Effective {
    /// Resolve a host's layers: `groups` as (name, tailoring) in any order, then the host's
    /// own. Groups apply in name order, so the last group by name wins a variable both set;
    /// the host wins over every group. Framework lists of several groups are joined.
    pub fn resolve(groups: &[(String, Tailoring)], host: Option<&Tailoring>) -> Effective {
        let mut sorted: Vec<&(String, Tailoring)> = groups.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut e = Effective::default();
        let layers = sorted
            .iter()
            .map(|(name, t)| (format!("group {name}"), t))
            .chain(host.map(|t| ("host".to_owned(), t)));
        let mut group_frameworks: BTreeSet<String> = BTreeSet::new();
        let mut group_sources: Vec<String> = Vec::new();
        for (source, t) in layers {
            if !t.frameworks.is_empty() {
                if source == "host" {
                    e.frameworks = t.frameworks.clone();
                    e.frameworks_from = Some(source.clone());
                } else {
                    group_frameworks.extend(t.frameworks.iter().cloned());
                    group_sources.push(source.clone());
                }
            }
            for r in &t.exclude_rules {
                e.exclude_rules.entry(r.clone()).or_insert_with(|| source.clone());
            }
            for (k, v) in &t.variables {
                e.variables.insert(k.clone(), (v.clone(), source.clone()));
            }
        }
        if e.frameworks_from.is_none() && !group_frameworks.is_empty() {
            e.frameworks = group_frameworks.into_iter().collect();
            e.frameworks_from = Some(group_sources.join(", "));
        }
        e
    }

    /// Whether a rule is scanned and counted for this host.
    pub fn selects(&self, rule: &Rule) -> bool {
        !self.exclude_rules.contains_key(rule.id())
            && (self.frameworks.is_empty()
                || self.frameworks.iter().any(|f| !rule.raw.references.controls(f).is_empty()))
    }

    /// Whether a framework's figures are kept for this host.
    pub fn counts(&self, framework: &str) -> bool {
        self.frameworks.is_empty() || self.frameworks.iter().any(|f| f == framework)
    }

    /// The typed variable values (checked when each layer was saved; a rule or variable
    /// removed from the library since is reported here).
    pub fn overrides(&self, rules: &[Rule]) -> Result<Overrides, String> {
        let pairs: Vec<(String, String)> =
            self.variables.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect();
        parse_overrides(rules, &pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(frameworks: &[&str], exclude: &[&str], vars: &[(&str, &str)]) -> Tailoring {
        Tailoring {
            frameworks: frameworks.iter().map(|s| (*s).to_owned()).collect(),
            exclude_rules: exclude.iter().map(|s| (*s).to_owned()).collect(),
            variables: vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        }
    }

    #[test]
    fn groups_apply_by_name_and_the_host_wins() {
        let groups = vec![
            ("web".to_owned(), t(&["pci_dss_4"], &["a"], &[("x", "5"), ("y", "1")])),
            ("dmz".to_owned(), t(&["cis_debian12"], &["b"], &[("x", "3")])),
        ];
        let e = Effective::resolve(&groups, None);
        assert_eq!(e.frameworks, ["cis_debian12", "pci_dss_4"], "groups' lists are joined");
        assert_eq!(e.variables["x"], ("5".to_owned(), "group web".to_owned()), "web sorts after dmz");
        assert_eq!(e.exclude_rules.keys().collect::<Vec<_>>(), ["a", "b"]);
        let host = t(&["nist_800_53"], &[], &[("x", "2")]);
        let e = Effective::resolve(&groups, Some(&host));
        assert_eq!(e.frameworks, ["nist_800_53"], "the host's list replaces the groups'");
        assert_eq!(e.frameworks_from.as_deref(), Some("host"));
        assert_eq!(e.variables["x"], ("2".to_owned(), "host".to_owned()));
        assert_eq!(e.variables["y"].1, "group web");
        assert!(Effective::resolve(&[], None).frameworks.is_empty());
    }
}
