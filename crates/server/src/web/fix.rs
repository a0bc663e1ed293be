//! "How to fix": a rule's remediation steps as numbered sentences, with the variable values
//! in force (a host's tailoring) and, when known, the implementation its capabilities pick.

use maud::{Markup, html};
use openwatch_core::capability::CapabilitySet;
use openwatch_core::guidance::remediation_steps;
use openwatch_core::rule::Rule;
use openwatch_core::vars::Overrides;

use super::layout::prose;

pub fn steps(rule: &Rule, capabilities: Option<&CapabilitySet>, overrides: &Overrides) -> Markup {
    let steps = remediation_steps(rule, capabilities, overrides);
    html! {
        @if steps.is_empty() { p.muted { "This rule has no remediation steps." } }
        @else { ol.steps { @for s in &steps { li { (prose(s)) } } } }
    }
}
