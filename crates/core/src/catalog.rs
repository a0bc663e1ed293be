//! Framework catalogs: every control of a framework, so coverage can show what no rule
//! covers and lint can refuse a reference to a control that does not exist. CIS and PCI
//! catalogs carry identifiers with our own short titles; NIST titles are public domain, and
//! so are DISA STIG titles (US government work). A STIG catalog is keyed by STIG id and
//! records each requirement's vulnerability id and severity where they are known.

use serde::Deserialize;

use crate::rule::{CisLevel, Finding, FindingLevel, Rule, StigCategory, Text, is_known_framework};

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
    /// STIG catalogs: the requirement's vulnerability id (`V-...`), when published.
    #[serde(default)]
    pub vuln_id: Option<String>,
    /// STIG catalogs: the requirement's severity category.
    #[serde(default)]
    pub severity: Option<StigCategory>,
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

    fn stig_platform(&self) -> Option<&str> {
        self.framework.strip_prefix("stig_")
    }

    /// The control ids `rule` cites in this catalog. A STIG reference is matched by its STIG
    /// id; its vulnerability id is checked against the catalog row instead.
    fn cited(&self, rule: &Rule) -> Vec<String> {
        match self.stig_platform() {
            Some(p) => rule.raw.references.stig(p).iter().map(|r| r.stig_id.as_str().to_owned()).collect(),
            None => rule.raw.references.controls(&self.framework),
        }
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vuln_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<StigCategory>,
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
            vuln_id: c.vuln_id.as_deref(),
            severity: c.severity,
            rules: Vec::new(),
        })
        .collect();
    let mut unknown = Vec::new();
    for rule in rules {
        for cited in catalog.cited(rule) {
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

/// Lint findings for rule references to controls a shipped catalog does not list, and for
/// STIG references whose vulnerability id or severity disagrees with the catalog, or that
/// omit a vulnerability id the catalog has.
pub fn check_references(catalogs: &[Catalog], rules: &[Rule]) -> Vec<Finding> {
    let mut out = Vec::new();
    for catalog in catalogs {
        for rule in rules {
            let error = |needle: &str, message: String| {
                let at =
                    rule.source_text.lines().position(|l| l.contains(needle)).map_or(1, |p| p as u64 + 1);
                Finding {
                    level: FindingLevel::Error,
                    file: rule.source_name.clone(),
                    line: at,
                    column: 1,
                    source_line: rule.source_text.lines().nth(at as usize - 1).unwrap_or("").to_owned(),
                    message,
                }
            };
            let name = format!("{} ({})", catalog.framework, catalog.title.as_str());
            for c in catalog.cited(rule) {
                if catalog.get(&c).is_none() {
                    out.push(error(&c, format!("`{c}` is not a control of {name}")));
                }
            }
            let Some(platform) = catalog.stig_platform() else { continue };
            for r in rule.raw.references.stig(platform) {
                let id = r.stig_id.as_str();
                let Some(row) = catalog.get(id) else { continue };
                // A reference may omit the vulnerability id only where the catalog has none.
                match (row.vuln_id.as_deref(), r.vuln_id.as_ref().map(|v| v.as_str())) {
                    (Some(want), Some(got)) if !want.eq_ignore_ascii_case(got) => {
                        out.push(error(id, format!("`{id}` is {want} in {name}, not {got}")));
                    }
                    (Some(want), None) => {
                        out.push(error(id, format!("`{id}` is {want} in {name}: give its vuln_id")));
                    }
                    _ => {}
                }
                if let Some(want) = row.severity
                    && want != r.severity
                {
                    out.push(error(
                        id,
                        format!("`{id}` is {} in {name}, not {}", want.as_str(), r.severity.as_str()),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::parse_rule;

    const STIG: &str = "framework: stig_rhel9\ntitle: RHEL 9 STIG\nsource: test\ncontrols:\n  \
        - {id: RHEL-09-000010, vuln_id: V-1, severity: CAT II, title: One}\n  \
        - {id: RHEL-09-000020, vuln_id: V-2, severity: CAT I, title: Two}\n  \
        - {id: RHEL-09-000030, vuln_id: V-3, severity: CAT III, title: Three}\n";

    /// A release whose source publishes no vulnerability ids.
    const STIG_NO_VULN: &str = "framework: stig_ubuntu2404\ntitle: Ubuntu 24.04 STIG\nsource: test\n\
        controls:\n  \
        - {id: UBTU-24-000010, severity: CAT II, title: One}\n  \
        - {id: UBTU-24-000020, severity: CAT I, title: Two}\n";

    fn rule_on(platform: &str, id: &str, stig: &str) -> Rule {
        let text = format!(
            "id: {id}\ntitle: T\ndescription: D\nrationale: R\nseverity: low\ncategory: test\n\
             references:\n  nist_800_53: [CM-6]\n  stig:\n    {platform}: {stig}\n\
             platforms: [{{family: rhel}}]\nimplementations:\n  - default: true\n    \
             check: {{file_exists: {{path: /etc/passwd}}}}\n"
        );
        let parsed = parse_rule("", &text);
        parsed.rule.unwrap_or_else(|| panic!("{:?}", parsed.findings))
    }

    fn rule(id: &str, stig: &str) -> Rule {
        rule_on("rhel9", id, stig)
    }

    fn messages(catalog: &str, rules: &[Rule]) -> Vec<String> {
        let catalog = Catalog::parse("catalog.yml", catalog).unwrap();
        check_references(&[catalog], rules).into_iter().map(|f| f.message).collect()
    }

    #[test]
    fn stig_coverage_matches_by_stig_id_and_lists_every_requirement() {
        let catalog = Catalog::parse("stig_rhel9.yml", STIG).unwrap();
        let rules = [
            rule("a", "{vuln_id: V-1, stig_id: RHEL-09-000010, severity: CAT II}"),
            rule(
                "b",
                "[{vuln_id: V-1, stig_id: RHEL-09-000010, severity: CAT II}, \
                 {vuln_id: V-2, stig_id: rhel-09-000020, severity: CAT I}]",
            ),
        ];
        let cov = coverage(&catalog, &rules);
        assert_eq!((cov.covered, cov.total), (2, 3));
        assert_eq!(cov.controls[0].rules, ["a", "b"]);
        assert_eq!(cov.controls[1].rules, ["b"]);
        assert_eq!(cov.controls[1].severity, Some(StigCategory::CatI));
        assert!(cov.controls[2].rules.is_empty());
        // Vulnerability ids are not controls of their own: nothing is unknown.
        assert!(cov.unknown_references.is_empty());
        assert!(check_references(&[catalog], &rules).is_empty());
    }

    #[test]
    fn lint_rejects_stig_ids_the_catalog_lacks_and_disagreeing_vuln_ids_or_severities() {
        let rules = [
            rule("unknown", "{vuln_id: V-1, stig_id: RHEL-09-999999, severity: CAT II}"),
            // The right vulnerability id does not excuse a wrong STIG id.
            rule("wrong_vuln", "{vuln_id: V-9, stig_id: RHEL-09-000010, severity: CAT II}"),
            rule("wrong_cat", "[{vuln_id: V-3, stig_id: RHEL-09-000030, severity: CAT I}]"),
            // Where the catalog knows the vulnerability id, the reference must give it.
            rule("no_vuln", "{stig_id: RHEL-09-000020, severity: CAT I}"),
        ];
        let messages = messages(STIG, &rules);
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[0].contains("`RHEL-09-999999` is not a control of stig_rhel9"), "{messages:?}");
        assert!(messages[1].contains("`RHEL-09-000010` is V-1 in stig_rhel9"), "{messages:?}");
        assert!(messages[2].contains("`RHEL-09-000030` is CAT III in stig_rhel9"), "{messages:?}");
        assert!(
            messages[3].contains("`RHEL-09-000020` is V-2 in stig_rhel9") && messages[3].contains("vuln_id")
        );
    }

    #[test]
    fn stig_references_without_vuln_ids_match_a_catalog_without_them_and_are_still_linted() {
        let ok = [
            rule_on("ubuntu2404", "a", "{stig_id: UBTU-24-000010, severity: CAT II}"),
            rule_on(
                "ubuntu2404",
                "b",
                "[{stig_id: ubtu-24-000010, severity: CAT II}, {stig_id: UBTU-24-000020, severity: CAT I}]",
            ),
        ];
        let catalog = Catalog::parse("stig_ubuntu2404.yml", STIG_NO_VULN).unwrap();
        let cov = coverage(&catalog, &ok);
        assert_eq!((cov.covered, cov.total), (2, 2));
        assert_eq!(cov.controls[0].rules, ["a", "b"]);
        assert!(cov.controls[0].vuln_id.is_none() && cov.unknown_references.is_empty());
        assert!(messages(STIG_NO_VULN, &ok).is_empty());
        let bad = [
            rule_on("ubuntu2404", "unknown", "{stig_id: UBTU-24-999999, severity: CAT II}"),
            rule_on("ubuntu2404", "wrong_cat", "{stig_id: UBTU-24-000020, severity: CAT III}"),
        ];
        let messages = messages(STIG_NO_VULN, &bad);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("`UBTU-24-999999` is not a control of stig_ubuntu2404"), "{messages:?}");
        assert!(messages[1].contains("`UBTU-24-000020` is CAT I in stig_ubuntu2404"), "{messages:?}");
    }

    #[test]
    fn stig_ids_cited_twice_for_one_platform_are_an_error() {
        for (first, repeat) in [
            (
                "{vuln_id: V-1, stig_id: RHEL-09-000010, severity: CAT II}",
                "{vuln_id: V-1, stig_id: RHEL-09-000010, severity: CAT II}",
            ),
            // Without vulnerability ids too.
            ("{stig_id: RHEL-09-000010, severity: CAT II}", "{stig_id: rhel-09-000010, severity: CAT II}"),
        ] {
            let text = format!(
                "id: x\ntitle: T\ndescription: D\nrationale: R\nseverity: low\ncategory: test\n\
                 references:\n  nist_800_53: [CM-6]\n  stig:\n    rhel9:\n      \
                 - {first}\n      - {repeat}\n\
                 platforms: [{{family: rhel}}]\nimplementations:\n  - default: true\n    \
                 check: {{file_exists: {{path: /etc/passwd}}}}\n"
            );
            let parsed = parse_rule("", &text);
            assert!(parsed.rule.is_none());
            let f = &parsed.findings[0];
            assert!(f.message.contains("cited twice"), "{}", f.message);
            assert_eq!(f.line, 12, "points at the repeat");
        }
    }
}
