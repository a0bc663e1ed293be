//! What a report for people says, computed once for every way it is drawn (the HTML page,
//! the PDF): the executive summary (scores per framework with and without exceptions, hosts
//! worst first, the top risks, the accepted risks, the trend) and the technical part (every
//! failing, accepted or undecided rule per host with its evidence and how to fix it).
//! Serializable, so a layout engine can read it as data: nothing is pasted into markup.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::eval::Status;
use crate::guidance::remediation_steps;
use crate::posture::{FrameworkPosture, by_framework, framework_applies};
use crate::report::{RuleResult, ScanReport};
use crate::rule::{References, Rule, Severity};
use crate::vars::Overrides;

/// How many failing rules the executive summary lists.
const TOP_RISKS: usize = 15;

/// Which parts a report has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// The executive summary only (for a large fleet, a few pages).
    Executive,
    /// The summary and the findings of every host.
    #[default]
    Full,
}

/// What to report on, besides the hosts' results.
#[derive(Debug, Clone, Default)]
pub struct Scope<'a> {
    /// Only the rules that cite this framework (`cis_debian12`, `nist_800_53`, ...).
    pub framework: Option<&'a str>,
    /// Who the report is about, in words (`group web`, `the fleet`); the host count when
    /// absent.
    pub subject: Option<&'a str>,
    pub detail: Detail,
    /// Earlier daily figures (oldest first), from a store that keeps history.
    pub trend: Vec<TrendPoint>,
    /// What other scanners said about these hosts, from a store that keeps imports.
    pub other_sources: Vec<OtherSource>,
}

/// One host's results from another scanner, counted.
#[derive(Debug, Clone, Serialize)]
pub struct OtherSource {
    pub host: String,
    pub scanner: String,
    pub pass: u32,
    pub fail: u32,
    pub other: u32,
    /// When they were imported (readable text).
    pub imported: String,
}

/// A percentage to one decimal, written the same way everywhere (`87.5%`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Percent(pub f64);

impl std::fmt::Display for Percent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1}%", self.0)
    }
}

impl Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Verdict counts and the scores they give.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub name: String,
    pub pass: u32,
    pub fail: u32,
    pub excepted: u32,
    pub error: u32,
    /// Share of decided checks that pass.
    pub score: Percent,
    /// The same with accepted risks counted as passing.
    pub score_with_exceptions: Percent,
    /// `score` as a fraction of 1, for bars.
    pub ratio: f64,
    pub ratio_with_exceptions: f64,
}

impl Figures {
    fn of(p: &FrameworkPosture) -> Self {
        let (without, with) = (score(p, false), score(p, true));
        Figures {
            name: p.framework.clone(),
            pass: p.pass,
            fail: p.fail,
            excepted: p.excepted,
            error: p.error,
            score: Percent(without),
            score_with_exceptions: Percent(with),
            ratio: without / 100.0,
            ratio_with_exceptions: with / 100.0,
        }
    }
}

/// One day of history.
#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    pub day: String,
    pub score: Percent,
    pub score_with_exceptions: Percent,
    pub ratio: f64,
    pub ratio_with_exceptions: f64,
}

impl TrendPoint {
    /// A day's point from its counts.
    pub fn new(day: String, pass: u32, fail: u32, excepted: u32, error: u32) -> Self {
        let p = FrameworkPosture { pass, fail, excepted, error, ..FrameworkPosture::default() };
        let f = Figures::of(&p);
        TrendPoint {
            day,
            score: f.score,
            score_with_exceptions: f.score_with_exceptions,
            ratio: f.ratio,
            ratio_with_exceptions: f.ratio_with_exceptions,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HostLine {
    pub name: String,
    pub address: String,
    /// Why the host has no results, when it could not be scanned.
    pub not_scanned: Option<String>,
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize)]
pub struct Risk {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub hosts_failing: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub host: String,
    pub rule_id: String,
    pub exception_id: String,
    pub expires: String,
    pub justification: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvidenceLine {
    pub source: String,
    pub expected: String,
    pub actual: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub verdict: Status,
    pub title: String,
    pub rule_id: String,
    pub severity: Severity,
    pub reason: String,
    /// `Accepted risk ID until DATE: justification`, when an exception accepts it.
    pub exception: Option<String>,
    pub evidence: Vec<EvidenceLine>,
    pub fix: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostFindings {
    pub name: String,
    pub address: String,
    pub findings: Vec<Finding>,
}

/// The whole report, as data.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub title: String,
    /// `3 hosts scanned between A and B, by OpenWatch V.`
    pub subtitle: String,
    pub framework: Option<String>,
    pub hosts_count: usize,
    pub overall: Figures,
    pub frameworks: Vec<Figures>,
    /// Worst first.
    pub hosts: Vec<HostLine>,
    pub top_risks: Vec<Risk>,
    pub accepted: Vec<Accepted>,
    pub trend: Vec<TrendPoint>,
    pub other_sources: Vec<OtherSource>,
    /// Empty for an executive report.
    pub findings: Vec<HostFindings>,
}

/// Every framework a reference names (`cis_debian12`, `stig_rhel9`, `nist_800_53`, ...).
pub fn frameworks(refs: &References) -> Vec<String> {
    let mut out: Vec<String> = refs.cis.keys().map(|p| format!("cis_{p}")).collect();
    out.extend(refs.stig.keys().map(|p| format!("stig_{p}")));
    for (name, ids) in [
        ("nist_800_53", &refs.nist_800_53),
        ("nist_800_171", &refs.nist_800_171),
        ("pci_dss_4", &refs.pci_dss_4),
        ("iso_27001_2022", &refs.iso_27001_2022),
    ] {
        if !ids.is_empty() {
            out.push(name.to_owned());
        }
    }
    out
}

/// `2026-12-07T15:00:27.694946825Z` as `2026-12-07 15:00:27 UTC`; other text as it is.
fn readable_time(t: &str) -> String {
    match (t.get(..19), t.ends_with('Z')) {
        (Some(head), true) if t.as_bytes().get(10) == Some(&b'T') => {
            format!("{} UTC", head.replacen('T', " ", 1))
        }
        _ => t.to_owned(),
    }
}

/// Keep only the results that cite `framework` (their summaries counted again); false when
/// no result cited it, since an empty report would look like a clean one.
pub fn keep_framework(reports: &mut [ScanReport], framework: &str) -> bool {
    let cited = |r: &RuleResult| frameworks(&r.references).iter().any(|f| f == framework);
    let any = reports.iter().flat_map(|r| &r.results).any(cited);
    for r in reports.iter_mut() {
        r.results.retain(cited);
        r.summary = crate::report::summarize(&r.results);
    }
    any
}

/// Percent of decided results that pass: with exceptions, accepted risks count as passing.
fn score(p: &FrameworkPosture, with_exceptions: bool) -> f64 {
    let total = p.pass + p.fail + p.excepted + p.error;
    if total == 0 {
        return 100.0;
    }
    let good = p.pass + if with_exceptions { p.excepted } else { 0 };
    f64::from(good) * 100.0 / f64::from(total)
}

/// The report on these hosts, written by OpenWatch `version`; `rules` supplies the fix
/// guidance (a rule not in it is reported without).
pub fn build(reports: &[ScanReport], rules: &[Rule], version: &str, scope: Scope<'_>) -> Summary {
    let rules: HashMap<&str, &Rule> = rules.iter().map(|r| (r.id(), r)).collect();
    let in_scope = |r: &RuleResult| match scope.framework {
        Some(f) => frameworks(&r.references).iter().any(|x| x == f),
        None => true,
    };
    let (start, end) = super::period(reports);
    let (start, end) = (readable_time(start), readable_time(end));
    let plural = if reports.len() == 1 { "" } else { "s" };
    let subject = scope.subject.map(|s| format!("{s}: ")).unwrap_or_default();
    let subtitle = format!(
        "{subject}{} host{plural} scanned between {start} and {end}, by OpenWatch {version}.",
        reports.len()
    );
    let title = match scope.framework {
        Some(f) => format!("OpenWatch compliance report: {f}"),
        None => "OpenWatch compliance report".to_owned(),
    };

    // Frameworks, each counted on the hosts it applies to.
    let mut totals: BTreeMap<String, FrameworkPosture> = BTreeMap::new();
    for rep in reports {
        let p = &rep.host.platform;
        let results: Vec<&RuleResult> = rep.results.iter().filter(|r| in_scope(r)).collect();
        let fws: Vec<String> = results
            .iter()
            .flat_map(|r| frameworks(&r.references))
            .filter(|f| scope.framework.is_none_or(|only| only == f))
            .filter(|f| framework_applies(f, p.family.as_deref(), p.version.as_deref()))
            .collect();
        for fp in
            by_framework(fws.iter().map(String::as_str), results.iter().map(|r| (&r.references, r.verdict)))
        {
            match totals.get_mut(&fp.framework) {
                Some(t) => t.add(&fp),
                None => {
                    totals.insert(fp.framework.clone(), fp);
                }
            }
        }
    }
    // A framework none of whose checks was decided here says nothing: left out.
    totals.retain(|_, p| p.pass + p.fail + p.excepted + p.error > 0);

    let host_posture = |rep: &ScanReport| {
        let mut p = FrameworkPosture { framework: rep.host.name.clone(), ..FrameworkPosture::default() };
        for r in rep.results.iter().filter(|r| in_scope(r)) {
            p.count(r.verdict);
        }
        p
    };
    let mut hosts: Vec<(&ScanReport, FrameworkPosture)> =
        reports.iter().map(|r| (r, host_posture(r))).collect();
    hosts.sort_by(|a, b| {
        score(&a.1, false).total_cmp(&score(&b.1, false)).then(a.0.host.name.cmp(&b.0.host.name))
    });
    let mut all = FrameworkPosture { framework: "all".to_owned(), ..FrameworkPosture::default() };
    for (_, p) in &hosts {
        all.add(p);
    }

    // Top risks: failing rules by severity, then by how many hosts fail them.
    let mut failing: BTreeMap<&str, (&RuleResult, usize)> = BTreeMap::new();
    for r in reports.iter().flat_map(|r| &r.results).filter(|r| r.verdict == Status::Fail && in_scope(r)) {
        failing.entry(&r.rule_id).or_insert((r, 0)).1 += 1;
    }
    let mut top: Vec<_> = failing.into_values().collect();
    top.sort_by(|a, b| {
        b.0.severity.cmp(&a.0.severity).then(b.1.cmp(&a.1)).then(a.0.rule_id.cmp(&b.0.rule_id))
    });
    let top_risks = top
        .into_iter()
        .take(TOP_RISKS)
        .map(|(r, n)| Risk {
            rule_id: r.rule_id.clone(),
            title: r.title.clone(),
            severity: r.severity,
            hosts_failing: n,
        })
        .collect();

    let accepted = reports
        .iter()
        .flat_map(|rep| rep.results.iter().filter(|r| in_scope(r)).map(move |r| (rep, r)))
        .filter_map(|(rep, r)| {
            r.exception.as_ref().map(|e| Accepted {
                host: rep.host.name.clone(),
                rule_id: r.rule_id.clone(),
                exception_id: e.id.clone(),
                expires: e.expires.to_string(),
                justification: e.justification.clone(),
            })
        })
        .collect();

    let findings = match scope.detail {
        Detail::Executive => Vec::new(),
        Detail::Full => hosts
            .iter()
            .map(|(rep, _)| {
                let mut open: Vec<&RuleResult> = rep
                    .results
                    .iter()
                    .filter(|r| {
                        matches!(r.verdict, Status::Fail | Status::Excepted | Status::Error) && in_scope(r)
                    })
                    .collect();
                open.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule_id.cmp(&b.rule_id)));
                HostFindings {
                    name: rep.host.name.clone(),
                    address: rep.host.address.clone(),
                    findings: open
                        .into_iter()
                        .map(|r| finding(rep, r, rules.get(r.rule_id.as_str()).copied()))
                        .collect(),
                }
            })
            .collect(),
    };

    Summary {
        title,
        subtitle,
        framework: scope.framework.map(str::to_owned),
        hosts_count: reports.len(),
        overall: Figures::of(&all),
        frameworks: totals.values().map(Figures::of).collect(),
        hosts: hosts
            .iter()
            .map(|(rep, p)| HostLine {
                name: rep.host.name.clone(),
                address: rep.host.address.clone(),
                not_scanned: rep.error.as_ref().map(|e| e.message.clone()),
                figures: Figures::of(p),
            })
            .collect(),
        top_risks,
        accepted,
        trend: scope.trend,
        other_sources: scope.other_sources,
        findings,
    }
}

fn finding(rep: &ScanReport, r: &RuleResult, rule: Option<&Rule>) -> Finding {
    Finding {
        verdict: r.verdict,
        title: r.title.clone(),
        rule_id: r.rule_id.clone(),
        severity: r.severity,
        reason: r.reason.clone(),
        exception: r
            .exception
            .as_ref()
            .map(|e| format!("Accepted risk {} until {}: {}", e.id, e.expires, e.justification)),
        evidence: r
            .evidence
            .iter()
            .map(|e| EvidenceLine {
                source: e.source.clone(),
                expected: e.expected.clone(),
                actual: e.actual.clone(),
            })
            .collect(),
        fix: rule
            .map(|rule| {
                remediation_steps(rule, Some(&rep.host.capabilities), &Overrides::default())
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_well() {
        assert_eq!(super::readable_time("2026-12-07T15:00:27.694946825Z"), "2026-12-07 15:00:27 UTC");
        assert_eq!(super::readable_time("2026-12-07T15:00:27+01:00"), "2026-12-07T15:00:27+01:00");
        assert_eq!(super::readable_time(""), "");
    }
}
