//! One host's scan through `Scan` on this machine: one plan is one round trip, passes merge
//! into the same verdicts, replayed facts cost none, and failures keep the report's shape.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::Path;

use openwatch_collect::{CollectError, LocalTransport, Scan, ScriptOutput, scan};
use openwatch_core::eval::Status;
use openwatch_core::plan::FactPlan;
use openwatch_core::report::{EvalOptions, HostError, ScanReport};
use openwatch_core::rule::{Rule, parse_rule};

/// The shipped SSH rules: real rules, a small plan.
fn rules() -> Vec<Rule> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/ssh");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            parse_rule(name, &std::fs::read_to_string(p).unwrap()).rule.expect("shipped rules are valid")
        })
        .collect()
}

fn verdicts(report: &ScanReport) -> Vec<(String, Status)> {
    report.results.iter().map(|r| (r.rule_id.clone(), r.verdict)).collect()
}

#[test]
fn one_plan_is_one_round_trip_and_a_complete_report() {
    let rules = rules();
    let plan = FactPlan::for_rules(&rules, false);
    let done = scan(&rules, &plan, EvalOptions::default(), &mut LocalTransport).unwrap();
    let r = &done.report;
    assert!(r.error.is_none());
    assert_eq!(r.host.address, "local");
    assert_eq!(r.stats.round_trips, 1);
    assert_eq!(r.stats.rules_evaluated, rules.len());
    assert_eq!(r.results.len(), rules.len());
    assert_eq!(r.stats.facts_collected, done.facts.facts.len());
    assert!(r.stats.facts_collected > 0 && r.stats.bytes_transferred > 0);
    assert_eq!(r.summary.values().sum::<usize>(), rules.len());
}

#[test]
fn passes_add_round_trips_and_merge_into_the_same_verdicts() {
    let rules = rules();
    let plan = FactPlan::for_rules(&rules, false);
    let keys: Vec<_> = plan.keys.iter().cloned().collect();
    let (a, b) = keys.split_at(keys.len() / 2);
    let halves = [a, b].map(|k| Cow::Owned(FactPlan { keys: k.iter().cloned().collect::<BTreeSet<_>>() }));
    let mut split = Scan::new(&rules, halves, EvalOptions::default());
    split.collect(&mut LocalTransport).unwrap();
    let split = split.finish("h".into(), "a".into());
    let whole = scan(&rules, &plan, EvalOptions::default(), &mut LocalTransport).unwrap();
    assert_eq!(split.report.stats.round_trips, 2);
    assert_eq!(split.facts.facts.keys().collect::<Vec<_>>(), whole.facts.facts.keys().collect::<Vec<_>>());
    assert_eq!(verdicts(&split.report), verdicts(&whole.report));
}

#[test]
fn replayed_facts_give_the_same_verdicts_without_a_round_trip() {
    let rules = rules();
    let plan = FactPlan::for_rules(&rules, false);
    let live = scan(&rules, &plan, EvalOptions::default(), &mut LocalTransport).unwrap();
    let mut replay = Scan::new(&rules, [], EvalOptions { walks_enabled: true, ..EvalOptions::default() });
    assert!(replay.next_script().unwrap().is_none());
    replay.replay(live.facts);
    let replayed = replay.finish("saved".into(), "10.0.0.1:22".into());
    assert_eq!(replayed.report.stats.round_trips, 0);
    assert_eq!(replayed.report.stats.bytes_transferred, 0);
    assert_eq!(
        (replayed.report.host.name.as_str(), replayed.report.host.address.as_str()),
        ("saved", "10.0.0.1:22")
    );
    assert_eq!(verdicts(&replayed.report), verdicts(&live.report));
}

#[test]
fn a_failing_script_names_the_host_and_an_unreachable_host_keeps_the_report_shape() {
    let rules = rules();
    let plan = FactPlan::for_rules(&rules, false);
    let mut s = Scan::new(&rules, [Cow::Borrowed(&plan)], EvalOptions::default());
    assert!(s.next_script().unwrap().is_some());
    let out =
        ScriptOutput { stdout: Vec::new(), stderr: b"sh: boom".to_vec(), exit_code: Some(2), round_trips: 1 };
    match s.record("web1", &out) {
        Err(CollectError::Script { host, code, stderr }) => {
            assert_eq!((host.as_str(), code, stderr.as_str()), ("web1", Some(2), "sh: boom"));
        }
        other => panic!("expected a script failure, got {other:?}"),
    }
    let error = HostError { kind: "unreachable".into(), message: "web1: no route".into() };
    let report = s.failed("web1".into(), "10.0.0.5:22".into(), error);
    assert_eq!(report.error.as_ref().map(|e| e.kind.as_str()), Some("unreachable"));
    assert!(report.results.is_empty());
    assert_eq!((report.stats.round_trips, report.stats.rules_evaluated), (0, 0));
}
