//! Turning command-line filters into a validated rule selection.

use anyhow::{Result, bail};
use openwatch_core::rule::{Rule, Severity, framework_names, is_known_framework};
use openwatch_core::select::Selection;

use crate::cli::Filters;

pub fn parse_severity(s: &str) -> Result<Severity> {
    match Severity::parse(&s.to_ascii_lowercase()) {
        Some(v) => Ok(v),
        None => bail!("unknown severity `{s}`, expected one of low, medium, high, critical"),
    }
}

pub fn check_framework(name: &str) -> Result<()> {
    if !is_known_framework(name) {
        bail!("unknown framework `{name}`, expected one of: {}", framework_names().join(", "));
    }
    Ok(())
}

impl Filters {
    pub fn selection(&self) -> Result<Selection> {
        for f in &self.frameworks {
            check_framework(f)?;
        }
        Ok(Selection {
            rule_ids: self.rules.clone(),
            frameworks: self.frameworks.clone(),
            controls: self.controls.clone(),
            severities: self.severities.iter().map(|s| parse_severity(s)).collect::<Result<_>>()?,
            tags: self.tags.clone(),
        })
    }

    /// The selected rules; an explicitly named rule that does not exist is an error.
    pub fn select<'a>(&self, rules: &'a [Rule]) -> Result<Vec<&'a Rule>> {
        for id in &self.rules {
            if !rules.iter().any(|r| r.id() == id) {
                bail!("no rule with id `{id}` (see `openwatch rules list`)");
            }
        }
        let sel = self.selection()?;
        Ok(rules.iter().filter(|r| sel.matches(r)).collect())
    }
}
