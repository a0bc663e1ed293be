//! "How to fix": a rule's remediation steps as numbered sentences, with the variable values
//! in force (a host's tailoring) and, when known, the implementation its capabilities pick.

use maud::{Markup, html};
use openwatch_core::capability::CapabilitySet;
use openwatch_core::guidance::remediation_steps;
use openwatch_core::rule::Rule;
use openwatch_core::vars::Overrides;

use super::layout::{csrf_field, prose};

pub fn steps(rule: &Rule, capabilities: Option<&CapabilitySet>, overrides: &Overrides) -> Markup {
    let steps = remediation_steps(rule, capabilities, overrides);
    html! {
        @if steps.is_empty() { p.muted { "This rule has no remediation steps." } }
        @else { ol.steps { @for s in &steps { li { (prose(s)) } } } }
    }
}

/// Whether a rule has anything `openwatch fix` can apply (some implementation remediates).
pub fn fixable(rule: &Rule) -> bool {
    rule.raw.implementations.iter().any(|i| i.value.remediation.is_some())
}

/// The Fix button: a remediation request for one rule on one host, or (without a host) on
/// every host failing it. It only asks for a preview; nothing changes before approval.
pub fn button(csrf: &str, host_id: Option<i64>, rule_id: &str, back: &str) -> Markup {
    html! {
        form.fix-request method="post" action="/remediations" {
            (csrf_field(csrf))
            input type="hidden" name="rule_id" value=(rule_id);
            input type="hidden" name="back" value=(back);
            @match host_id {
                Some(h) => {
                    input type="hidden" name="host_id" value=(h);
                    button type="submit" aria-label={"Fix " (rule_id) " on this host"} { "Fix…" }
                }
                None => {
                    input type="hidden" name="failing_hosts" value="1";
                    button type="submit" aria-label={"Fix " (rule_id) " on every failing host"} { "Fix on every failing host…" }
                }
            }
            span.muted { " Previews the change first; nothing changes until it is approved." }
        }
    }
}
