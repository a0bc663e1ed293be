//! The dashboard: compliance per framework, failures by severity, the trend, top failing
//! rules and hosts, hosts needing attention and recent changes. Updates live.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use maud::html;

use super::guard::{FleetRead, Viewer};
use openwatch_store::{Host, Reachability, ScanStatus};

use super::layout::{Page, badge, plural, render, svg, verdict, when};
use super::svg::{Series, bars, donut, excepted_note, score, trend};
use crate::app::{AppState, now_ms};
use openwatch_store::{Change, FirstScan};

pub async fn page(State(state): State<AppState>, v: Viewer<FleetRead>) -> Response {
    let store = state.store();
    let loaded = (
        store.fleet_summary(now_ms()).await,
        store.recent_changes(10).await,
        store.first_scans(None, 10).await,
    );
    let (summary, changes, firsts) = match loaded {
        (Ok(s), Ok(c), Ok(f)) => (s, c, f),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return super::page_error(&v.caller, &e.into()),
    };
    // Each host needing attention with why, read from its record (at most 20 hosts).
    let mut attention = Vec::with_capacity(summary.needs_attention.len());
    for r in &summary.needs_attention {
        match store.host(r.id.parse().unwrap_or_default()).await {
            Ok(Some(h)) => attention.push(h),
            Ok(None) => {}
            Err(e) => return super::page_error(&v.caller, &e.into()),
        }
    }
    let f = &summary.failing_by_severity;
    let mut series: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for t in &summary.trend {
        // With exceptions, as today's live point below.
        if let Some(p) = score(t.pass + t.excepted, t.fail) {
            series.entry(t.framework.clone()).or_default().push((t.day, p));
        }
    }
    // Today's point is live: the daily roll-up may not have run since the latest scans.
    let today = now_ms().div_euclid(86_400_000);
    for fw in &summary.frameworks {
        if let Some(p) = score(fw.pass + fw.excepted, fw.fail) {
            let points = series.entry(fw.framework.clone()).or_default();
            points.retain(|(d, _)| *d != today);
            points.push((today, p));
        }
    }
    let classes = ["s0", "s1", "s2", "s3", "s4", "s5"];
    let series: Vec<Series> = series
        .into_iter()
        .enumerate()
        .map(|(i, (name, points))| Series { name, class: classes[i % classes.len()], points })
        .collect();
    let title = |id: &str| state.library.rule(id).map_or(id.to_owned(), |r| r.raw.title.as_str().to_owned());
    let body = html! {
        h1 { "Fleet compliance" }
        p.muted #fleet-counts { (plural(summary.hosts, "host", "hosts")) ", " (summary.scanned_hosts) " scanned successfully" }
        div.stack {
            section.card aria-labelledby="fw-h" {
                h2 #fw-h { "By framework" }
                @if summary.frameworks.is_empty() {
                    p.muted { "No results yet. Add a host and scan it." }
                }
                div.frameworks {
                    @for fw in &summary.frameworks {
                        div.framework {
                            (svg(donut(fw.pass + fw.excepted, fw.fail, &fw.framework)))
                            div { a href={"/frameworks/" (fw.framework)} { (fw.framework) } }
                            div.muted { (fw.pass) " pass · " (fw.fail) " fail · " (plural(fw.hosts, "host", "hosts")) (excepted_note(fw.pass, fw.fail, fw.excepted)) }
                        }
                    }
                }
            }
            div.grid {
                section.card aria-labelledby="sev-h" {
                    h2 #sev-h { "Failing checks by severity" }
                    (svg(bars(&[("critical", f.critical, "sev-critical"), ("high", f.high, "sev-high"),
                        ("medium", f.medium, "sev-medium"), ("low", f.low, "sev-low")])))
                }
                section.card aria-labelledby="trend-h" {
                    h2 #trend-h { "Trend (share of decided checks passing)" }
                    (svg(trend(&series)))
                }
            }
            div.grid {
                section.card aria-labelledby="rules-h" {
                    h2 #rules-h { "Top failing rules" }
                    table {
                        thead { tr { th { "Rule" } th.right { "Hosts failing" } } }
                        tbody {
                            @for r in &summary.top_failing_rules {
                                tr { td { a href={"/rules/" (super::form::urlencode(&r.id))} { (title(&r.id)) } } td.right { (r.failing) } }
                            }
                        }
                    }
                }
                section.card aria-labelledby="hosts-h" {
                    h2 #hosts-h { "Top failing hosts" }
                    table {
                        thead { tr { th { "Host" } th.right { "Failing rules" } } }
                        tbody {
                            @for h in &summary.top_failing_hosts {
                                tr { td { a href={"/hosts/" (h.id)} { (h.name) } } td.right { (h.failing) } }
                            }
                        }
                    }
                }
            }
            div.grid {
                section.card aria-labelledby="attn-h" {
                    h2 #attn-h { "Needs attention" }
                    @if attention.is_empty() { p.muted { "Nothing: every host was reached." } }
                    ul.attention { @for h in &attention { li {
                        a href={"/hosts/" (h.id)} title=(h.name) { (h.name) } " " (badge(h.reachability.as_str()))
                        div.muted.reason { (attention_reason(h)) }
                    } } }
                }
                section.card aria-labelledby="chg-h" {
                    h2 #chg-h { "Recent changes" }
                    table {
                        thead { tr { th { "When" } th { "Host" } th { "Rule" } th { "Now" } } }
                        tbody {
                            @for a in recent(&changes, &firsts, 10) {
                                @match a {
                                    Activity::Change(c) => tr {
                                        td.muted { (when(Some(c.changed_at))) }
                                        td { a href={"/hosts/" (c.host_id)} { (c.host_name) } }
                                        td { a href={"/rules/" (super::form::urlencode(&c.rule_id))} { (title(&c.rule_id)) } }
                                        td { (verdict(c.new_verdict)) }
                                    },
                                    Activity::FirstScan(f) => tr.baseline {
                                        td.muted { (when(Some(f.at))) }
                                        td { a href={"/hosts/" (f.host_id)} { (f.host_name) } }
                                        td { "First scan: every rule's verdict recorded as the baseline" }
                                        td { a href={"/scans/" (f.scan_id)} { "results" } }
                                    },
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: "Dashboard",
            section: "Dashboard",
            live: true,
            flash: None,
        },
        body,
    )
}

/// Why a host is on the "needs attention" list, in words: what went wrong, since when, and
/// what the last contact reported.
fn attention_reason(h: &Host) -> String {
    let what = match h.reachability {
        Reachability::HostKeyPending => "Its SSH host key waits for approval on the host page".to_owned(),
        Reachability::HostKeyChanged => {
            "Its SSH host key changed: check why, then approve the new key on the host page".to_owned()
        }
        Reachability::AuthFailed => "Sign-in was refused".to_owned(),
        Reachability::Unreachable => match h.last_scan_at {
            Some(t) => format!("Unreachable since the scan at {}", when(Some(t))),
            None => "Unreachable".to_owned(),
        },
        _ if h.last_scan_status == Some(ScanStatus::Failed) => {
            format!("The last scan failed ({})", when(h.last_scan_at))
        }
        r => format!("Reachability: {}", r.as_str().replace('_', " ")),
    };
    match h.last_error.as_deref().filter(|e| !e.is_empty()) {
        Some(e) => format!("{what}: {e}"),
        None => format!("{what}."),
    }
}

/// One line of "Recent changes": a rule's verdict changing on a host, or a host's first scan
/// (its baseline, one line instead of one per rule).
enum Activity<'a> {
    Change(&'a Change),
    FirstScan(&'a FirstScan),
}

/// The newest `n` of both kinds, newest first.
fn recent<'a>(changes: &'a [Change], firsts: &'a [FirstScan], n: usize) -> Vec<Activity<'a>> {
    let mut all: Vec<(i64, Activity<'a>)> = changes
        .iter()
        .map(|c| (c.changed_at, Activity::Change(c)))
        .chain(firsts.iter().map(|f| (f.at, Activity::FirstScan(f))))
        .collect();
    all.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    all.into_iter().take(n).map(|(_, a)| a).collect()
}
