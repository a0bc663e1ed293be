//! Choosing which rules a scan runs: by id, framework, control, severity and tag.

use crate::rule::{Rule, Severity, control_matches};

/// Every filter is optional; a rule must pass all that are set. Several values of one
/// filter are alternatives.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub rule_ids: Vec<String>,
    pub frameworks: Vec<String>,
    pub controls: Vec<String>,
    pub severities: Vec<Severity>,
    pub tags: Vec<String>,
}

impl Selection {
    pub fn matches(&self, rule: &Rule) -> bool {
        let r = &rule.raw;
        let any_or_empty = |v: &[String], f: &dyn Fn(&String) -> bool| v.is_empty() || v.iter().any(f);
        any_or_empty(&self.rule_ids, &|id| id == rule.id())
            && any_or_empty(&self.frameworks, &|fw| !r.references.controls(fw).is_empty())
            && any_or_empty(&self.controls, &|filter| {
                let frameworks: Vec<String> = if self.frameworks.is_empty() {
                    crate::rule::framework_names()
                } else {
                    self.frameworks.clone()
                };
                frameworks
                    .iter()
                    .any(|fw| r.references.controls(fw).iter().any(|c| control_matches(c, filter)))
            })
            && (self.severities.is_empty() || self.severities.contains(&r.severity))
            && any_or_empty(&self.tags, &|t| {
                r.tags.iter().any(|x| x.as_str() == t) || r.category.as_str() == t
            })
    }
}
