//! `openwatch scan`: collect facts in one pass, evaluate, report, exit as a CI gate.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use openwatch_collect::{LocalTransport, Scan};
use openwatch_core::eval::Status;
use openwatch_core::plan::FactPlan;
use openwatch_core::report::{EvalOptions, RuleResult};
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
    if !args.ssh.targets.is_empty() || args.ssh.inventory.is_some() {
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
    let exceptions = match &args.exceptions {
        Some(path) => crate::exceptions_file::load(path, &lib.rules)?,
        None => Vec::new(),
    };
    let walks = !args.no_walk;
    let scanned = match &args.facts {
        Some(path) => {
            let mut scan =
                Scan::new(rules.iter().copied(), [], EvalOptions { overrides, walks_enabled: walks });
            let saved = facts_file::load(path)?;
            scan.replay(saved.facts);
            scan.finish(saved.host, saved.address)
        }
        None => {
            let plan = FactPlan::for_rules(rules.iter().copied(), walks);
            let eval = EvalOptions { overrides, walks_enabled: walks };
            openwatch_collect::scan(rules.iter().copied(), &plan, eval, &mut LocalTransport)
                .context("collecting facts on this machine")?
        }
    };
    if let Some(path) = &args.save_facts {
        facts_file::save(path, &scanned.report.host.name, &scanned.report.host.address, &scanned.facts)?;
    }
    let mut doc = scanned.report;
    crate::exceptions_file::apply(std::slice::from_mut(&mut doc), &exceptions);
    let failed = gate_fails(&doc.results, fail_on, args.fail_on_error);
    let mut stdout = std::io::stdout().lock();
    output::write_report(&mut stdout, &doc, args.format)?;
    stdout.flush()?;
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
