//! Framework catalogs: every control of a framework, so coverage can show what no rule
//! covers and lint can refuse a reference to a control that does not exist. CIS and PCI
//! catalogs carry identifiers with our own short titles; NIST titles are public domain.

use serde::Deserialize;

use crate::rule::{CisLevel, Finding, FindingLevel, Rule, Text, is_known_framework};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The framework name used by `--framework`, e.g. `cis_debian12`.
    pub framework: String,
    pub title: Text,
    /// Where the identifiers come from and what the titles are.
    pub source: Text,
    pub controls: Vec<CatalogControl>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogControl {
    pub id: String,
    pub title: Text,
    #[serde(default)]
    pub level: Option<CisLevel>,
    /// False for recommendations the benchmark itself calls manual.
    #[serde(default)]
    pub automated: Option<bool>,
}

impl Catalog {
    /// Parse and check a catalog file: a known framework, unique non-empty ids.
    pub fn parse(file: &str, text: &str) -> Result<Catalog, Finding> {
        let fail = |line: u64, column: u64, message: String| Finding {
            level: FindingLevel::Error,
            file: file.to_owned(),
            line,
            column,
            source_line: text.lines().nth(line.saturating_sub(1) as usize).unwrap_or("").to_owned(),
            message,
        };
        let catalog: Catalog = serde_saphyr::from_str(text).map_err(|e| {
            let (l, c) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            fail(l, c, e.without_snippet().to_string())
        })?;
        if !is_known_framework(&catalog.framework) {
            return Err(fail(1, 1, format!("unknown framework `{}`", catalog.framework)));
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &catalog.controls {
            if c.id.trim().is_empty() || !seen.insert(c.id.as_str()) {
                let line = text.lines().position(|l| {
                    l.contains(&format!("id: \"{}\"", c.id)) || l.contains(&format!("id: {}", c.id))
                });
                return Err(fail(
                    line.map_or(1, |l| l as u64 + 1),
                    1,
                    format!("empty or duplicate control id `{}`", c.id),
                ));
            }
        }
        Ok(catalog)
    }

    pub fn get(&self, id: &str) -> Option<&CatalogControl> {
        self.controls.iter().find(|c| c.id.eq_ignore_ascii_case(id))
    }
}

/// One control of a catalog and the rules that map to it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CoverageRow<'a> {
    pub id: &'a str,
    pub title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<CisLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automated: Option<bool>,
    pub rules: Vec<&'a str>,
}

/// Every control of a catalog with its rules, plus references no catalog control matches.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Coverage<'a> {
    pub framework: &'a str,
    pub title: &'a str,
    pub controls: Vec<CoverageRow<'a>>,
    pub covered: usize,
    pub total: usize,
    /// (rule id, control) pairs citing an id the catalog does not have.
    pub unknown_references: Vec<(&'a str, String)>,
}

pub fn coverage<'a>(catalog: &'a Catalog, rules: &'a [Rule]) -> Coverage<'a> {
    let mut controls: Vec<CoverageRow<'a>> = catalog
        .controls
        .iter()
        .map(|c| CoverageRow {
            id: &c.id,
            title: c.title.as_str(),
            level: c.level,
            automated: c.automated,
            rules: Vec::new(),
        })
        .collect();
    let mut unknown = Vec::new();
    for rule in rules {
        for cited in rule.raw.references.controls(&catalog.framework) {
            match controls.iter_mut().find(|row| row.id.eq_ignore_ascii_case(&cited)) {
                Some(row) => row.rules.push(rule.id()),
                None => unknown.push((rule.id(), cited)),
            }
        }
    }
    let covered = controls.iter().filter(|r| !r.rules.is_empty()).count();
    Coverage {
        framework: &catalog.framework,
        title: catalog.title.as_str(),
        total: controls.len(),
        controls,
        covered,
        unknown_references: unknown,
    }
}

/// Lint findings for rule references to controls a shipped catalog does not list.
pub fn check_references(catalogs: &[Catalog], rules: &[Rule]) -> Vec<Finding> {
    let mut out = Vec::new();
    for catalog in catalogs {
        for rule in rules {
            let cited = rule.raw.references.controls(&catalog.framework);
            // A STIG reference names a rule id and a vulnerability id; one of them suffices.
            let missing: Vec<&String> = if catalog.framework.starts_with("stig_") {
                if cited.iter().any(|c| catalog.get(c).is_some()) {
                    Vec::new()
                } else {
                    cited.iter().take(1).collect()
                }
            } else {
                cited.iter().filter(|c| catalog.get(c).is_none()).collect()
            };
            for c in missing {
                let at =
                    rule.source_text.lines().position(|l| l.contains(c.as_str())).map_or(1, |p| p as u64 + 1);
                out.push(Finding {
                    level: FindingLevel::Error,
                    file: rule.source_name.clone(),
                    line: at,
                    column: 1,
                    source_line: rule.source_text.lines().nth(at as usize - 1).unwrap_or("").to_owned(),
                    message: format!(
                        "`{c}` is not a control of {} ({})",
                        catalog.framework,
                        catalog.title.as_str()
                    ),
                });
            }
        }
    }
    out
}
