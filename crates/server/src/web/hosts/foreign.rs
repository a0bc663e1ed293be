//! The host page's card of results from other scanners: per scanner, the newest import's
//! results, failures first, each with the OpenWatch rule it stands for or the rules citing
//! the same controls, so the two can be read side by side.

use maud::{Markup, html};
use openwatch_core::eval::Status;
use openwatch_store::HostForeignResult;

use crate::web::layout::{verdict, when};

/// Rows shown; the API has them all.
const SHOWN: usize = 200;

pub fn section(results: &[HostForeignResult]) -> Markup {
    let mut sorted: Vec<&HostForeignResult> = results.iter().collect();
    sorted.sort_by_key(|r| (r.source.as_str(), r.result.verdict != Status::Fail));
    let mut sources: Vec<(&str, usize, usize, i64)> = Vec::new();
    for r in results {
        match sources.iter_mut().find(|s| s.0 == r.source.as_str()) {
            Some(s) => {
                s.1 += 1;
                s.2 += usize::from(r.result.verdict == Status::Fail);
            }
            None => sources.push((
                r.source.as_str(),
                1,
                usize::from(r.result.verdict == Status::Fail),
                r.imported_at,
            )),
        }
    }
    html! {
        section.card #foreign aria-labelledby="foreign-h" {
            h2 #foreign-h { "Other scanners" }
            p.muted {
                @for (i, (source, n, fail, at)) in sources.iter().enumerate() {
                    @if i > 0 { " · " }
                    (source) ": " (n) " results, " (fail) " failing (imported " (when(Some(*at))) ")"
                }
            }
            table {
                thead { tr { th { "Scanner" } th { "Check" } th { "Verdict" } th { "OpenWatch" } } }
                tbody {
                    @for r in sorted.iter().take(SHOWN) {
                        tr {
                            td { (r.source.as_str()) }
                            td {
                                span.mono { (r.result.rule) }
                                @if let Some(m) = &r.result.message { br; span.muted { (m) } }
                            }
                            td { (verdict(r.result.verdict)) " " span.muted { (r.result.result) } }
                            td {
                                @if let Some(own) = &r.result.openwatch_rule {
                                    a.mono href={"/rules/" (crate::web::form::urlencode(own))} { (own) }
                                } @else if !r.result.related_rules.is_empty() {
                                    span.muted { "related: " }
                                    @for (i, rule) in r.result.related_rules.iter().enumerate() {
                                        @if i > 0 { ", " }
                                        a.mono href={"/rules/" (crate::web::form::urlencode(rule))} { (rule) }
                                    }
                                } @else { span.muted { "none" } }
                            }
                        }
                    }
                }
            }
            @if results.len() > SHOWN { p.muted { (results.len() - SHOWN) " more in the API (/api/v1/hosts/{id}/foreign-results)" } }
        }
    }
}
