//! A self-contained HTML report for people (auditors, owners): an executive summary (scores
//! per framework with and without exceptions as a vector bar chart, hosts worst first, the
//! top risks, the accepted risks) and a technical part (every failing, accepted or undecided
//! rule per host with its evidence and how to fix it). One file, no scripts, no external
//! resources; it prints as it shows.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::escape as esc;
use crate::eval::Status;
use crate::guidance::remediation_steps;
use crate::posture::{FrameworkPosture, by_framework, framework_applies};
use crate::report::{RuleResult, ScanReport};
use crate::rule::{References, Rule, Severity};
use crate::vars::Overrides;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;color:#1b1f24;margin:2rem auto;max-width:60rem;padding:0 1rem}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:1px solid #ccd;padding-bottom:.2rem;margin-top:2rem}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #e3e6ea;vertical-align:top}\
.fail{color:#b42318}.pass{color:#067647}.excepted{color:#9a6700}.error{color:#6941c6}code{background:#f3f4f6;padding:0 .2rem}\
.meta{color:#555}section.host{page-break-before:always}dl.ev{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:.3rem 0}";

/// Every framework a reference names (`cis_debian12`, `stig_rhel9`, `nist_800_53`, ...).
fn frameworks(refs: &References) -> Vec<String> {
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

/// Percent of decided results that pass: with exceptions, accepted risks count as passing.
fn score(p: &FrameworkPosture, with_exceptions: bool) -> f64 {
    let total = p.pass + p.fail + p.excepted + p.error;
    if total == 0 {
        return 100.0;
    }
    let good = p.pass + if with_exceptions { p.excepted } else { 0 };
    f64::from(good) * 100.0 / f64::from(total)
}

fn host_posture(rep: &ScanReport) -> FrameworkPosture {
    let mut p = FrameworkPosture::default();
    for r in &rep.results {
        p.count(r.verdict);
    }
    p
}

/// The report for these hosts, written by OpenWatch `version`; `rules` supplies the fix
/// guidance (a rule not in it is reported without).
pub fn write(reports: &[ScanReport], rules: &[Rule], version: &str) -> String {
    let rules: HashMap<&str, &Rule> = rules.iter().map(|r| (r.id(), r)).collect();
    let (start, end) = super::period(reports);
    let mut x = String::new();
    let _ = write!(
        x,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>OpenWatch compliance report</title>\
         <style>{STYLE}</style></head><body><h1>OpenWatch compliance report</h1>\
         <p class=\"meta\">{} host{} scanned between {} and {}, by OpenWatch {}.</p>",
        reports.len(),
        if reports.len() == 1 { "" } else { "s" },
        esc(start),
        esc(end),
        esc(version)
    );

    // Frameworks, each counted on the hosts it applies to.
    let mut totals: BTreeMap<String, FrameworkPosture> = BTreeMap::new();
    for rep in reports {
        let p = &rep.host.platform;
        let fws: Vec<String> = rep
            .results
            .iter()
            .flat_map(|r| frameworks(&r.references))
            .filter(|f| framework_applies(f, p.family.as_deref(), p.version.as_deref()))
            .collect();
        for fp in by_framework(
            fws.iter().map(String::as_str),
            rep.results.iter().map(|r| (&r.references, r.verdict)),
        ) {
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
    let all = reports.iter().map(host_posture).fold(FrameworkPosture::default(), |mut a, p| {
        a.add(&p);
        a
    });
    let _ = write!(
        x,
        "<h2>Executive summary</h2><p>Across all hosts: <b>{:.1}%</b> of decided checks pass with accepted risks \
         counted as passing, <b>{:.1}%</b> without. {} pass, <span class=\"fail\">{} fail</span>, \
         <span class=\"excepted\">{} accepted risks</span>, <span class=\"error\">{} undecided</span>.</p>",
        score(&all, true),
        score(&all, false),
        all.pass,
        all.fail,
        all.excepted,
        all.error
    );
    chart(&mut x, totals.values().collect());
    x.push_str("<table><tr><th>Framework</th><th>Score with exceptions</th><th>Without</th><th>Pass</th><th>Fail</th><th>Accepted</th><th>Undecided</th></tr>");
    for p in totals.values() {
        let _ = write!(
            x,
            "<tr><td>{}</td><td>{:.1}%</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.framework),
            score(p, true),
            score(p, false),
            p.pass,
            p.fail,
            p.excepted,
            p.error
        );
    }
    x.push_str("</table>");

    // Hosts, worst first.
    let mut hosts: Vec<(&ScanReport, FrameworkPosture)> =
        reports.iter().map(|r| (r, host_posture(r))).collect();
    hosts.sort_by(|a, b| {
        score(&a.1, false).total_cmp(&score(&b.1, false)).then(a.0.host.name.cmp(&b.0.host.name))
    });
    x.push_str("<h3>Hosts, worst first</h3><table><tr><th>Host</th><th>Score</th><th>Fail</th><th>Accepted</th><th>Undecided</th></tr>");
    for (rep, p) in &hosts {
        let name = match &rep.error {
            Some(e) => format!("{} (not scanned: {})", esc(&rep.host.name), esc(&e.message)),
            None => esc(&rep.host.name),
        };
        let _ = write!(
            x,
            "<tr><td>{name}</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            score(p, false),
            p.fail,
            p.excepted,
            p.error
        );
    }
    x.push_str("</table>");

    // Top risks: failing rules by severity, then by how many hosts fail them.
    let mut failing: BTreeMap<&str, (&RuleResult, usize)> = BTreeMap::new();
    for r in reports.iter().flat_map(|r| &r.results).filter(|r| r.verdict == Status::Fail) {
        failing.entry(&r.rule_id).or_insert((r, 0)).1 += 1;
    }
    let mut top: Vec<_> = failing.values().collect();
    top.sort_by(|a, b| {
        b.0.severity.cmp(&a.0.severity).then(b.1.cmp(&a.1)).then(a.0.rule_id.cmp(&b.0.rule_id))
    });
    x.push_str("<h3>Top risks</h3><table><tr><th>Rule</th><th>Severity</th><th>Hosts failing</th></tr>");
    for (r, n) in top.iter().take(15) {
        let _ = write!(
            x,
            "<tr><td>{} <code>{}</code></td><td>{}</td><td>{n}</td></tr>",
            esc(&r.title),
            esc(&r.rule_id),
            r.severity.as_str()
        );
    }
    x.push_str("</table>");

    // Accepted risks.
    x.push_str("<h3>Accepted risks</h3>");
    let excepted: Vec<(&ScanReport, &RuleResult)> = reports
        .iter()
        .flat_map(|rep| rep.results.iter().map(move |r| (rep, r)))
        .filter(|(_, r)| r.exception.is_some())
        .collect();
    if excepted.is_empty() {
        x.push_str("<p>None.</p>");
    } else {
        x.push_str("<table><tr><th>Host</th><th>Rule</th><th>Exception</th><th>Until</th><th>Justification</th></tr>");
        for (rep, r) in excepted {
            if let Some(e) = &r.exception {
                let _ = write!(
                    x,
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&rep.host.name),
                    esc(&r.rule_id),
                    esc(&e.id),
                    e.expires,
                    esc(&e.justification)
                );
            }
        }
        x.push_str("</table>");
    }

    // Technical part.
    x.push_str("<h2>Findings by host</h2>");
    for (rep, _) in &hosts {
        let open: Vec<&RuleResult> = rep
            .results
            .iter()
            .filter(|r| matches!(r.verdict, Status::Fail | Status::Excepted | Status::Error))
            .collect();
        let _ = write!(
            x,
            "<section class=\"host\"><h3>{} <span class=\"meta\">{}</span></h3>",
            esc(&rep.host.name),
            esc(&rep.host.address)
        );
        if open.is_empty() {
            x.push_str("<p>No failing, accepted or undecided rule.</p></section>");
            continue;
        }
        let mut open = open;
        open.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule_id.cmp(&b.rule_id)));
        for r in open {
            finding(&mut x, rep, r, rules.get(r.rule_id.as_str()).copied());
        }
        x.push_str("</section>");
    }
    x.push_str("</body></html>\n");
    x
}

fn finding(x: &mut String, rep: &ScanReport, r: &RuleResult, rule: Option<&Rule>) {
    let verdict = r.verdict.as_str();
    let _ = write!(
        x,
        "<h4><span class=\"{verdict}\">{verdict}</span> {} <code>{}</code> <span class=\"meta\">{}</span></h4><p>{}</p>",
        esc(&r.title),
        esc(&r.rule_id),
        severity_word(r.severity),
        esc(&r.reason)
    );
    if let Some(e) = &r.exception {
        let _ = write!(
            x,
            "<p class=\"excepted\">Accepted risk {} until {}: {}</p>",
            esc(&e.id),
            e.expires,
            esc(&e.justification)
        );
    }
    if !r.evidence.is_empty() {
        x.push_str("<dl class=\"ev\">");
        for e in &r.evidence {
            let _ = write!(
                x,
                "<dt>{}</dt><dd>expected <code>{}</code>, found <code>{}</code></dd>",
                esc(&e.source),
                esc(&e.expected),
                esc(&e.actual)
            );
        }
        x.push_str("</dl>");
    }
    if let Some(rule) = rule {
        let steps = remediation_steps(rule, Some(&rep.host.capabilities), &Overrides::default());
        if !steps.is_empty() {
            x.push_str("<p>How to fix:</p><ol>");
            for s in steps {
                let _ = write!(x, "<li>{}</li>", esc(&s.to_string()));
            }
            x.push_str("</ol>");
        }
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical severity",
        Severity::High => "high severity",
        Severity::Medium => "medium severity",
        Severity::Low => "low severity",
    }
}

/// Horizontal bars per framework, as SVG (vectors; scales and prints sharply): the score
/// without exceptions, and the part accepted risks add.
fn chart(x: &mut String, postures: Vec<&FrameworkPosture>) {
    if postures.is_empty() {
        return;
    }
    let (row, label, width) = (26, 150.0, 420.0);
    let height = postures.len() * row + 10;
    let _ = write!(
        x,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"Score per framework\" width=\"640\" height=\"{height}\" viewBox=\"0 0 640 {height}\">"
    );
    for (i, p) in postures.iter().enumerate() {
        let y = i * row + 5;
        let without = score(p, false) / 100.0 * width;
        let with = score(p, true) / 100.0 * width;
        let _ = write!(
            x,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>\
             <rect x=\"{label}\" y=\"{y}\" width=\"{width}\" height=\"18\" fill=\"#eef0f3\"/>\
             <rect x=\"{label}\" y=\"{y}\" width=\"{with:.1}\" height=\"18\" fill=\"#f5c451\"/>\
             <rect x=\"{label}\" y=\"{y}\" width=\"{without:.1}\" height=\"18\" fill=\"#2e9f62\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\">{:.1}%</text>",
            y + 13,
            esc(&p.framework),
            label + width + 8.0,
            y + 13,
            score(p, false)
        );
    }
    x.push_str("</svg><p class=\"meta\">Green: passing; yellow: accepted risks on top.</p>");
}
