//! `openwatch scan HOST...` and `openwatch scan --inventory FILE`: many hosts over SSH.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use openwatch_core::rule::Rule;
use openwatch_core::vars::parse_overrides;
use openwatch_fleet::inventory::target;
use openwatch_fleet::{ExecMode, FleetJob, FleetOptions, HostSettings, Inventory, ResolvedHost, scan_fleet};

use crate::cli::{ScanArgs, ScanFormat, SshArgs};
use crate::scan::parse_vars;
use crate::select::parse_severity;
use crate::{library, output};

fn cli_settings(args: &SshArgs) -> HostSettings {
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    HostSettings {
        identity_file: path(&args.identity),
        identity_passphrase_env: args.identity_passphrase_env.clone(),
        password_env: args.password_env.clone(),
        sudo: args.sudo.then_some(true),
        sudo_password_env: args.sudo_password_env.clone(),
        known_hosts: path(&args.known_hosts),
        accept_new_host_keys: args.accept_new_host_keys.then_some(true),
        jump: args.jump.clone(),
        connect_timeout: args.connect_timeout,
        ..HostSettings::default()
    }
}

/// The hosts named on the command line or in the inventory, each with its typed variables
/// (the inventory's, then `--var`).
pub fn jobs(args: &SshArgs, all_rules: &[Rule], vars: &[String]) -> Result<Vec<FleetJob>> {
    let hosts = resolve_hosts(args)?;
    if hosts.is_empty() {
        bail!("the inventory lists no hosts");
    }
    let cli_vars = parse_vars(vars)?;
    hosts
        .into_iter()
        .map(|host| {
            let mut pairs = host.vars.clone();
            pairs.extend(cli_vars.iter().cloned());
            let overrides = parse_overrides(all_rules.iter(), &pairs)
                .map_err(|e| anyhow!("host {}: {e}", host.target.name))?;
            Ok(FleetJob { host, overrides })
        })
        .collect()
}

fn resolve_hosts(args: &SshArgs) -> Result<Vec<ResolvedHost>> {
    let cli = cli_settings(args);
    if let Some(path) = &args.inventory {
        let (inv, base) = Inventory::load(path)?;
        return Ok(inv.resolve(&path.display().to_string(), &base, &cli)?);
    }
    let cwd = std::env::current_dir()?;
    args.targets
        .iter()
        .map(|t| {
            let mut s = cli.clone();
            s.address = Some(t.clone());
            let target = target(t, &s, &cwd).map_err(|e| anyhow!("{t}: {e}"))?;
            Ok(ResolvedHost { target, vars: Vec::new() })
        })
        .collect()
}

/// Progress over `hosts` on standard error when it is a terminal (hidden otherwise).
pub fn progress_bar(hosts: usize) -> ProgressBar {
    let progress = ProgressBar::new(hosts as u64);
    if std::io::stderr().is_terminal() {
        progress.set_draw_target(ProgressDrawTarget::stderr());
        progress.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} hosts {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    } else {
        progress.set_draw_target(ProgressDrawTarget::hidden());
    }
    progress
}

pub fn run(args: &ScanArgs) -> Result<ExitCode> {
    let fail_on = parse_severity(&args.fail_on)?;
    let lib = library::load(&args.filters.rule_dirs, true)?;
    let selected = args.filters.select(&lib.rules)?;
    if selected.is_empty() {
        bail!("no rule matches the filters");
    }
    let jobs = jobs(&args.ssh, &lib.rules, &args.vars)?;
    let exceptions = match &args.exceptions {
        Some(path) => crate::exceptions_file::load(path, &lib.rules)?,
        None => Vec::new(),
    };
    let single = args.ssh.inventory.is_none() && jobs.len() == 1;
    let rules: Arc<[Rule]> = selected.iter().map(|r| (*r).clone()).collect();
    let opts = FleetOptions {
        concurrency: args.ssh.concurrency.max(1),
        mode: if args.exec_per_check { ExecMode::PerCheck } else { ExecMode::Batched },
        walks: !args.no_walk,
        keep_facts: args.save_facts.is_some(),
    };
    if args.save_facts.is_some() && !single {
        bail!("--save-facts records one host: name a single target");
    }
    let progress = progress_bar(jobs.len());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let started = Instant::now();
    let jsonl = args.format == ScanFormat::Jsonl;
    let today = crate::exceptions_file::today();
    let scans = runtime.block_on(scan_fleet(jobs, rules, opts, |report| {
        progress.inc(1);
        progress.set_message(report.host.name.clone());
        if let Some(e) = &report.error {
            progress.suspend(|| {
                eprintln!("openwatch: {} not scanned ({}): {}", report.host.name, e.kind, e.message)
            });
        }
        let excepted = (!exceptions.is_empty()).then(|| {
            let mut r = report.clone();
            r.apply_exceptions(&exceptions, today);
            r
        });
        if jsonl && let Ok(line) = serde_json::to_string(excepted.as_ref().unwrap_or(report)) {
            progress.suspend(|| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            });
        }
    }));
    progress.finish_and_clear();
    if let (Some(path), Some(scan)) = (&args.save_facts, scans.first())
        && let Some(facts) = &scan.facts
    {
        crate::facts_file::save(path, &scan.report.host.name, &scan.report.host.address, facts)?;
    }
    let mut reports: Vec<_> = scans.into_iter().map(|s| s.report).collect();
    crate::exceptions_file::apply(&mut reports, &exceptions);
    let wall_ms = started.elapsed().as_millis() as u64;
    let mut stdout = std::io::stdout().lock();
    if !jsonl {
        if single {
            output::write_report(&mut stdout, &reports[0], args.format)?;
        } else {
            output::write_fleet(&mut stdout, &reports, wall_ms, args.format)?;
        }
    }
    stdout.flush()?;
    let unscanned = reports.iter().any(|r| r.error.is_some());
    let failed =
        crate::scan::gate_fails(reports.iter().flat_map(|r| &r.results), fail_on, args.fail_on_error);
    Ok(if unscanned {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
