//! A self-contained HTML report for people (auditors, owners), drawn from the
//! [`Summary`](super::summary::Summary) the PDF is drawn from too: an executive summary
//! (scores per framework with and without exceptions as a vector bar chart, the trend,
//! hosts worst first, the top risks, the accepted risks) and a technical part (every
//! failing, accepted or undecided rule per host with its evidence and how to fix it). One
//! file, no scripts, no external resources; it prints as it shows.

use std::fmt::Write as _;

use super::escape as esc;
use super::summary::{Figures, Finding, Summary, TrendPoint};
use crate::rule::Severity;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;color:#1b1f24;margin:2rem auto;max-width:60rem;padding:0 1rem}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:1px solid #ccd;padding-bottom:.2rem;margin-top:2rem}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #e3e6ea;vertical-align:top}\
.fail{color:#b42318}.pass{color:#067647}.excepted{color:#9a6700}.error{color:#6941c6}code{background:#f3f4f6;padding:0 .2rem}\
.meta{color:#555}section.host{page-break-before:always}dl.ev{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:.3rem 0}";

/// The page for this summary.
pub fn write(sum: &Summary) -> String {
    let mut x = String::new();
    let _ = write!(
        x,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body><h1>{}</h1><p class=\"meta\">{}</p>",
        esc(&sum.title),
        esc(&sum.title),
        esc(&sum.subtitle)
    );
    let all = &sum.overall;
    let _ = write!(
        x,
        "<h2>Executive summary</h2><p>Across all hosts: <b>{}</b> of decided checks pass with accepted risks \
         counted as passing, <b>{}</b> without. {} pass, <span class=\"fail\">{} fail</span>, \
         <span class=\"excepted\">{} accepted risks</span>, <span class=\"error\">{} undecided</span>.</p>",
        all.score_with_exceptions, all.score, all.pass, all.fail, all.excepted, all.error
    );
    chart(&mut x, &sum.frameworks);
    x.push_str("<table><tr><th>Framework</th><th>Score with exceptions</th><th>Without</th><th>Pass</th><th>Fail</th><th>Accepted</th><th>Undecided</th></tr>");
    for p in &sum.frameworks {
        let _ = write!(
            x,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.name),
            p.score_with_exceptions,
            p.score,
            p.pass,
            p.fail,
            p.excepted,
            p.error
        );
    }
    x.push_str("</table>");
    trend(&mut x, &sum.trend);

    x.push_str("<h3>Hosts, worst first</h3><table><tr><th>Host</th><th>Score</th><th>Fail</th><th>Accepted</th><th>Undecided</th></tr>");
    for h in &sum.hosts {
        let name = match &h.not_scanned {
            Some(e) => format!("{} (not scanned: {})", esc(&h.name), esc(e)),
            None => esc(&h.name),
        };
        let f = &h.figures;
        let _ = write!(
            x,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.score, f.fail, f.excepted, f.error
        );
    }
    x.push_str("</table>");

    x.push_str("<h3>Top risks</h3><table><tr><th>Rule</th><th>Severity</th><th>Hosts failing</th></tr>");
    for r in &sum.top_risks {
        let _ = write!(
            x,
            "<tr><td>{} <code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&r.title),
            esc(&r.rule_id),
            r.severity.as_str(),
            r.hosts_failing
        );
    }
    x.push_str("</table>");

    x.push_str("<h3>Accepted risks</h3>");
    if sum.accepted.is_empty() {
        x.push_str("<p>None.</p>");
    } else {
        x.push_str("<table><tr><th>Host</th><th>Rule</th><th>Exception</th><th>Until</th><th>Justification</th></tr>");
        for a in &sum.accepted {
            let _ = write!(
                x,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.host),
                esc(&a.rule_id),
                esc(&a.exception_id),
                esc(&a.expires),
                esc(&a.justification)
            );
        }
        x.push_str("</table>");
    }

    if !sum.other_sources.is_empty() {
        x.push_str("<h3>Results from other scanners</h3><table><tr><th>Host</th><th>Scanner</th><th>Pass</th><th>Fail</th><th>Other</th><th>Imported</th></tr>");
        for o in &sum.other_sources {
            let _ = write!(
                x,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&o.host),
                esc(&o.scanner),
                o.pass,
                o.fail,
                o.other,
                esc(&o.imported)
            );
        }
        x.push_str("</table>");
    }

    if !sum.findings.is_empty() {
        x.push_str("<h2>Findings by host</h2>");
    }
    for host in &sum.findings {
        let _ = write!(
            x,
            "<section class=\"host\"><h3>{} <span class=\"meta\">{}</span></h3>",
            esc(&host.name),
            esc(&host.address)
        );
        if host.findings.is_empty() {
            x.push_str("<p>No failing, accepted or undecided rule.</p>");
        }
        for f in &host.findings {
            finding(&mut x, f);
        }
        x.push_str("</section>");
    }
    x.push_str("</body></html>\n");
    x
}

fn finding(x: &mut String, f: &Finding) {
    let verdict = f.verdict.as_str();
    let _ = write!(
        x,
        "<h4><span class=\"{verdict}\">{verdict}</span> {} <code>{}</code> <span class=\"meta\">{}</span></h4><p>{}</p>",
        esc(&f.title),
        esc(&f.rule_id),
        severity_word(f.severity),
        esc(&f.reason)
    );
    if let Some(e) = &f.exception {
        let _ = write!(x, "<p class=\"excepted\">{}</p>", esc(e));
    }
    if !f.evidence.is_empty() {
        x.push_str("<dl class=\"ev\">");
        for e in &f.evidence {
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
    if !f.fix.is_empty() {
        x.push_str("<p>How to fix:</p><ol>");
        for s in &f.fix {
            let _ = write!(x, "<li>{}</li>", esc(s));
        }
        x.push_str("</ol>");
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

/// The daily score as a polyline (with exceptions dashed above it), when there is history.
fn trend(x: &mut String, points: &[TrendPoint]) {
    if points.len() < 2 {
        return;
    }
    let (w, h) = (600.0, 120.0);
    let step = w / (points.len() - 1) as f64;
    let line = |ratio: fn(&TrendPoint) -> f64| {
        points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", i as f64 * step + 20.0, 10.0 + (1.0 - ratio(p)) * h))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let first = &points[0];
    let last = &points[points.len() - 1];
    let _ = write!(
        x,
        "<h3>Trend</h3><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"Daily score\" width=\"640\" height=\"160\" viewBox=\"0 0 640 160\">\
         <rect x=\"20\" y=\"10\" width=\"{w}\" height=\"{h}\" fill=\"#f6f7f9\"/>\
         <polyline fill=\"none\" stroke=\"#f5c451\" stroke-width=\"2\" stroke-dasharray=\"4 3\" points=\"{}\"/>\
         <polyline fill=\"none\" stroke=\"#2e9f62\" stroke-width=\"2\" points=\"{}\"/>\
         <text x=\"20\" y=\"150\" font-size=\"12\">{}</text><text x=\"620\" y=\"150\" font-size=\"12\" text-anchor=\"end\">{}</text></svg>\
         <p class=\"meta\">Score from {} ({}) to {} ({}); dashed: with accepted risks.</p>",
        line(|p| p.ratio_with_exceptions),
        line(|p| p.ratio),
        esc(&first.day),
        esc(&last.day),
        first.score,
        esc(&first.day),
        last.score,
        esc(&last.day)
    );
}

/// Horizontal bars per framework, as SVG (vectors; scales and prints sharply): the score
/// without exceptions, and the part accepted risks add.
fn chart(x: &mut String, postures: &[Figures]) {
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
        let without = p.ratio * width;
        let with = p.ratio_with_exceptions * width;
        let _ = write!(
            x,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>\
             <rect x=\"{label}\" y=\"{y}\" width=\"{width}\" height=\"18\" fill=\"#eef0f3\"/>\
             <rect x=\"{label}\" y=\"{y}\" width=\"{with:.1}\" height=\"18\" fill=\"#f5c451\"/>\
             <rect x=\"{label}\" y=\"{y}\" width=\"{without:.1}\" height=\"18\" fill=\"#2e9f62\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 13,
            esc(&p.name),
            label + width + 8.0,
            y + 13,
            p.score
        );
    }
    x.push_str("</svg><p class=\"meta\">Green: passing; yellow: accepted risks on top.</p>");
}
