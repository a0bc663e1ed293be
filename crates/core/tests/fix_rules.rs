//! Every remediation in the built-in library plans against a host where none of the files it
//! names exist, or fails for one of the documented reasons below. Keeps the planner and the
//! rule library in step: a new mechanism use that cannot be planned fails here.

mod common;

use std::collections::BTreeMap;

use openwatch_core::fix::{FileState, PlanError, paths_to_capture, plan, unified_diff};
use openwatch_core::library::Library;
use openwatch_core::rule::Mechanism;
use openwatch_core::vars::{Overrides, bindings_for};

/// Steps that cannot be planned when the file they edit is missing, and why that is right.
const EXPECTED_ON_AN_EMPTY_HOST: &[(&str, &str)] = &[
    ("file_permissions", "a missing file has no permissions to set; the check passes or fails on its own"),
    ("mount_option_set", "without /etc/fstab there is no entry to give the options to"),
    (
        "grub_parameter_set",
        "without /etc/default/grub the boot loader is not configured the way the fix edits",
    ),
    ("pam_module_arg", "the PAM service file must exist and call the module; the fix adds an argument only"),
];

fn library() -> Library {
    let (lib, _) = common::builtin_library();
    assert_eq!(lib.errors().count(), 0);
    lib
}

#[test]
fn every_automatic_remediation_plans_on_an_empty_host_or_fails_for_a_documented_reason() {
    let lib = library();
    let (mut planned, mut expected_errors, mut unexpected) = (0, 0, Vec::new());
    for rule in &lib.rules {
        let bindings = bindings_for(rule, &Overrides::default());
        for imp in &rule.raw.implementations {
            let Some(rem) = &imp.value.remediation else { continue };
            if rem.steps.iter().any(|s| matches!(s, Mechanism::Manual { .. })) {
                continue;
            }
            let files: BTreeMap<String, FileState> =
                paths_to_capture(&rem.steps).into_iter().map(|p| (p.clone(), FileState::absent(p))).collect();
            match plan(rule, rem, &bindings, &files) {
                Ok(p) => {
                    planned += 1;
                    assert_eq!(p.rule_id, rule.id());
                    for c in &p.changes {
                        assert!(files.contains_key(&c.path), "{}: {} was not captured", rule.id(), c.path);
                        assert!(c.is_noop() || !unified_diff(c).is_empty());
                    }
                    assert!(p.manual.is_empty());
                }
                Err(e @ (PlanError::MissingFile { .. } | PlanError::Unplannable { .. }))
                    if EXPECTED_ON_AN_EMPTY_HOST.iter().any(|(step, _)| *step == e.step()) =>
                {
                    expected_errors += 1;
                }
                Err(e) => unexpected.push(format!("{}: {e}", rule.id())),
            }
        }
    }
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
    assert!(planned > 100, "only {planned} remediations planned ({expected_errors} expected errors)");
}
