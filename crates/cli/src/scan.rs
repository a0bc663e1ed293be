//! `openwatch scan`: collect facts in one pass, evaluate, report, exit as a CI gate.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use openwatch_collect::{LocalTransport, Transport, collect, now_rfc3339};
use openwatch_core::eval::Status;
use openwatch_core::plan::FactPlan;
use openwatch_core::report::{self, EvalOptions, HostInfo, RuleResult, ScanReport, Stats};
use openwatch_core::rule::Severity;
use openwatch_core::vars::parse_overrides;

use crate::cli::ScanArgs;
use crate::select::parse_severity;
use crate::{facts_file, library, output};

pub fn parse_vars(vars: &[String]) -> Result<Vec<(String, String)>> {
    vars.iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) if !k.is_empty() => Ok((k.to_owned(), val.to_owned())),
            _ => bail!("--var `{v}` is not KEY=VALUE"),
        })
        .collect()
}

/// Whether a scan fails the CI gate: a failure (or, when asked, an undecided rule) at or
/// above the severity threshold.
pub fn gate_fails<'a>(
    results: impl IntoIterator<Item = &'a RuleResult>,
    fail_on: Severity,
    errors_fail: bool,
) -> bool {
    results.into_iter().any(|r| {
        r.severity >= fail_on && (r.verdict == Status::Fail || (errors_fail && r.verdict == Status::Error))
    })
}

pub fn run(args: &ScanArgs) -> Result<ExitCode> {
    if !args.targets.is_empty() || args.inventory.is_some() {
        return crate::fleet_cmd::run(args);
    }
    if !args.local && args.facts.is_none() {
        bail!(
            "nothing to scan: give hosts ([user@]host[:port]), --inventory FILE, --local (this machine) or --facts FILE"
        );
    }
    let fail_on = parse_severity(&args.fail_on)?;
    let lib = library::load(&args.filters.rule_dirs, true)?;
    let rules = args.filters.select(&lib.rules)?;
    if rules.is_empty() {
        bail!("no rule matches the filters");
    }
    let overrides =
        parse_overrides(lib.rules.iter(), &parse_vars(&args.vars)?).map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let started_at = now_rfc3339();
    let (facts, name, address, round_trips, bytes, walks) = match &args.facts {
        Some(path) => {
            let saved = facts_file::load(path)?;
            let walked = saved.facts.facts.contains_key(&openwatch_core::facts::FactKey::FilesystemWalk);
            (saved.facts, saved.host, saved.address, 0, 0, walked && !args.no_walk)
        }
        None => {
            let plan = FactPlan::for_rules(rules.iter().copied(), !args.no_walk);
            let mut transport = LocalTransport;
            let collected = collect(&plan, &mut transport).context("collecting facts on this machine")?;
            (
                collected.facts,
                transport.host_name(),
                transport.address(),
                collected.round_trips,
                collected.bytes_transferred,
                !args.no_walk,
            )
        }
    };
    let collect_ms = started.elapsed().as_millis() as u64;
    if let Some(path) = &args.save_facts {
        facts_file::save(path, &name, &address, &facts)?;
    }
    let eval_start = Instant::now();
    let host = report::host_facts(&facts);
    let opts = EvalOptions { overrides, walks_enabled: walks };
    let results = report::evaluate(rules.iter().copied(), &facts, &host, &opts);
    let evaluate_ms = eval_start.elapsed().as_millis() as u64;
    let failed = gate_fails(&results, fail_on, args.fail_on_error);
    let stats = Stats {
        facts_collected: facts.facts.len(),
        round_trips,
        bytes_transferred: bytes,
        duration_ms: started.elapsed().as_millis() as u64,
        collect_ms,
        evaluate_ms,
        ..Stats::default()
    };
    let doc = ScanReport::new(HostInfo::new(name, address, &host), started_at, now_rfc3339(), stats, results);
    let mut stdout = std::io::stdout().lock();
    output::write_report(&mut stdout, &doc, args.format)?;
    stdout.flush()?;
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
