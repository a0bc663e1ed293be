//! Charts as SVG, rendered on the server: a compliance donut, horizontal bars and a trend
//! line. Pure functions of their numbers; labels are escaped.

use std::fmt::Write as _;

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Percentage of `pass` among decided rules (pass + fail), or None with nothing decided.
pub fn score(pass: i64, fail: i64) -> Option<f64> {
    (pass + fail > 0).then(|| pass as f64 * 100.0 / (pass + fail) as f64)
}

/// What exceptions do to a figure: " · N excepted (P% without exceptions)", or nothing.
/// The donut counts an excepted failure as accepted; this says how it reads without.
pub fn excepted_note(pass: i64, fail: i64, excepted: i64) -> String {
    match score(pass, fail + excepted) {
        Some(p) if excepted > 0 => format!(" · {excepted} excepted ({p:.0}% without exceptions)"),
        _ => String::new(),
    }
}

/// A donut of pass vs fail with the score in the middle.
pub fn donut(pass: i64, fail: i64, label: &str) -> String {
    let r = 40.0;
    let c = 2.0 * std::f64::consts::PI * r;
    let pct = score(pass, fail);
    let filled = pct.unwrap_or(0.0) / 100.0 * c;
    let text = pct.map_or("n/a".to_owned(), |p| format!("{p:.0}%"));
    format!(
        "<svg class=\"donut\" viewBox=\"0 0 100 100\" role=\"img\" aria-label=\"{label}: {text} passing\">\
         <circle cx=\"50\" cy=\"50\" r=\"{r}\" class=\"donut-fail\"/>\
         <circle cx=\"50\" cy=\"50\" r=\"{r}\" class=\"donut-pass\" stroke-dasharray=\"{filled:.2} {c:.2}\" transform=\"rotate(-90 50 50)\"/>\
         <text x=\"50\" y=\"55\" text-anchor=\"middle\" class=\"donut-text\">{text}</text></svg>",
        label = escape(label)
    )
}

/// Horizontal bars, one per (label, value, css class).
pub fn bars(items: &[(&str, i64, &str)]) -> String {
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    let h = 22;
    let mut out = format!(
        "<svg class=\"bars\" viewBox=\"0 0 320 {}\" role=\"img\" aria-label=\"failures by severity\">",
        items.len() * h + 4
    );
    for (i, (label, value, class)) in items.iter().enumerate() {
        let y = i * h + 2;
        let w = (*value as f64 / max) * 200.0;
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{}\" class=\"bar-label\">{}</text><rect x=\"70\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" class=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{}\" class=\"bar-value\">{value}</text>",
            y + 13,
            escape(label),
            escape(class),
            75.0 + w,
            y + 13
        );
    }
    out.push_str("</svg>");
    out
}

/// One line of a trend chart: percentages by day.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub class: &'static str,
    pub points: Vec<(i64, f64)>,
}

/// A line per series over days.
pub fn trend(series: &[Series]) -> String {
    let days: Vec<i64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
    let (Some(lo), Some(hi)) = (days.iter().min(), days.iter().max()) else {
        return "<p class=\"muted\">No trend yet: it appears after the first day of scans.</p>".to_owned();
    };
    if lo == hi {
        return "<p class=\"muted\">One day of results so far; the trend line starts tomorrow.</p>"
            .to_owned();
    }
    let span = (hi - lo) as f64;
    let (w, h, pad) = (600.0, 160.0, 30.0);
    let x = |d: i64| pad + (d - lo) as f64 / span * (w - 2.0 * pad);
    let y = |p: f64| h - pad + -(p / 100.0) * (h - 2.0 * pad);
    let mut out = format!(
        "<svg class=\"trend\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"compliance trend\">\
         <line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axis\"/>\
         <text x=\"2\" y=\"{}\" class=\"tick\">100%</text><text x=\"2\" y=\"{}\" class=\"tick\">0%</text>",
        h - pad,
        w - pad,
        h - pad,
        y(100.0) + 4.0,
        y(0.0)
    );
    for (i, Series { name, class, points }) in series.iter().enumerate() {
        let path: Vec<String> = points.iter().map(|(d, p)| format!("{:.1},{:.1}", x(*d), y(*p))).collect();
        let _ = write!(
            out,
            "<polyline points=\"{}\" class=\"line {}\"/><text x=\"{}\" y=\"{}\" class=\"legend {}\">{}</text>",
            path.join(" "),
            escape(class),
            pad + 150.0 * i as f64,
            h - 6.0,
            escape(class),
            escape(name)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn donut_shows_the_score_and_escapes_labels() {
        let s = donut(3, 1, "<cis>");
        assert!(s.contains(">75%<"));
        assert!(s.contains("&lt;cis&gt;"));
        assert!(!s.contains("<cis>"));
        assert!(donut(0, 0, "x").contains("n/a"));
    }

    #[test]
    fn bars_scale_to_the_largest() {
        let s = bars(&[("high", 10, "sev-high"), ("low", 5, "sev-low")]);
        assert!(s.contains("width=\"200.0\""));
        assert!(s.contains("width=\"100.0\""));
    }

    #[test]
    fn trend_needs_points() {
        assert!(trend(&[]).contains("No trend yet"));
        let s = trend(&[Series { name: "cis".into(), class: "s0", points: vec![(1, 50.0), (2, 100.0)] }]);
        assert!(s.contains("<polyline points=\"30.0,80.0 570.0,30.0\""));
    }
}
