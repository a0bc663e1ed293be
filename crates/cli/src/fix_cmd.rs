//! `openwatch fix HOST...`: fix failing rules over SSH. A dry run shows every file change as
//! a unified diff and every other step; otherwise the preview is shown and confirmed (or
//! `--yes`), then each failing rule is applied as a journaled transaction, verified by
//! scanning it again, and kept or rolled back. `--rollback ID` undoes a transaction.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use openwatch_core::rule::Rule;
use openwatch_core::vars::parse_overrides;
use openwatch_fleet::fix::{
    FixOptions, FixProgress, FixTarget, HostFix, Outcome, fix_fleet, fix_host, rollback_host,
};

use crate::cli::{FixArgs, FixFormat};
use crate::{fleet_cmd, library};

pub fn run(args: &FixArgs) -> Result<ExitCode> {
    if !args.local && args.ssh.targets.is_empty() && args.ssh.inventory.is_none() {
        bail!("nothing to fix: give hosts ([user@]host[:port]), --inventory FILE or --local (this machine)");
    }
    let lib = library::load(&args.filters.rule_dirs, true)?;
    let (jobs, local) = if args.local {
        let vars = crate::scan::parse_vars(&args.vars)?;
        (Vec::new(), Some(parse_overrides(lib.rules.iter(), &vars).map_err(anyhow::Error::msg)?))
    } else {
        (fleet_cmd::jobs(&args.ssh, &lib.rules, &args.vars)?, None)
    };
    let targets: Vec<FixTarget<'_>> = match &local {
        Some(overrides) => vec![FixTarget::Local { overrides }],
        None => jobs.iter().map(FixTarget::Ssh).collect(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Some(id) = &args.rollback {
        let mut failed = false;
        for (target, name) in targets.iter().zip(names(&targets)) {
            match runtime.block_on(rollback_host(*target, &args.journal_dir, id)) {
                Ok(notes) => {
                    println!("{name}: transaction {id} rolled back");
                    for n in notes {
                        println!("  {n}");
                    }
                }
                Err(e) => {
                    eprintln!("openwatch: {name}: {e}");
                    failed = true;
                }
            }
        }
        return Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS });
    }
    let rules: Vec<Rule> = args.filters.select(&lib.rules)?.into_iter().cloned().collect();
    if rules.is_empty() {
        bail!("no rule matches the filters");
    }
    let opts = |dry_run| FixOptions {
        dry_run,
        journal: args.journal_dir.clone(),
        walks: !args.no_walk,
        deadman_secs: args.deadman_secs,
        approved: None,
        progress: None,
    };
    let shared: Arc<[Rule]> = rules.iter().cloned().collect();
    let run_all = |mut o: FixOptions| -> Vec<HostFix> {
        let progress = fleet_cmd::progress_bar(targets.len());
        // The bar names the rule each host is on; it is hidden when stderr is no terminal.
        let (tx, mut steps) = tokio::sync::mpsc::unbounded_channel::<FixProgress>();
        o.progress = Some(tx);
        let bar = progress.clone();
        let shown = runtime.spawn(async move {
            while let Some(p) = steps.recv().await {
                bar.set_message(format!("{}: rule {} of {} ({})", p.host, p.done + 1, p.total, p.rule_id));
            }
        });
        let done = if local.is_some() {
            let done = targets.iter().map(|t| runtime.block_on(fix_host(*t, &rules, &o))).collect();
            progress.inc(1);
            done
        } else {
            runtime.block_on(fix_fleet(jobs.clone(), shared.clone(), o.clone(), args.ssh.concurrency, |h| {
                progress.inc(1);
                progress.set_message(h.host.clone());
            }))
        };
        drop(o);
        // The display task ends once the last sender (the options) is gone.
        if let Err(e) = runtime.block_on(shown) {
            eprintln!("openwatch: the progress display stopped: {e}");
        }
        progress.finish_and_clear();
        done
    };
    let mut apply = opts(args.dry_run);
    if !args.dry_run && !args.yes {
        // Show the preview and ask; then apply exactly what was shown.
        let preview = run_all(opts(true));
        write(&preview, FixFormat::Table)?;
        let planned =
            preview.iter().flat_map(|h| &h.rules).filter(|r| matches!(r.outcome, Outcome::Planned)).count();
        if planned == 0 {
            return Ok(exit_code(&preview));
        }
        if !std::io::stdin().is_terminal() {
            bail!("not applying without confirmation: run again with --yes (or --dry-run to only look)");
        }
        eprint!("Apply these fixes? [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("Nothing changed.");
            return Ok(ExitCode::SUCCESS);
        }
        apply = apply.approving(&preview);
    }
    let done = run_all(apply);
    write(&done, args.format)?;
    Ok(exit_code(&done))
}

/// The targets' names, for messages.
fn names(targets: &[FixTarget<'_>]) -> Vec<String> {
    targets
        .iter()
        .map(|t| match t {
            FixTarget::Ssh(job) => job.host.target.name.clone(),
            FixTarget::Local { .. } => "this machine".to_owned(),
        })
        .collect()
}

/// As `scan`: 2 when a host could not be worked on, 1 when a failing rule is left failing
/// (not applied or rolled back), 0 otherwise. A dry run exits 0 unless a host failed.
fn exit_code(hosts: &[HostFix]) -> ExitCode {
    if hosts.iter().any(|h| h.error.is_some()) {
        return ExitCode::from(2);
    }
    let left = hosts.iter().flat_map(|h| &h.rules).any(|r| {
        matches!(r.outcome, Outcome::NotApplied { .. } | Outcome::RolledBack { .. } | Outcome::Failed { .. })
    });
    if left { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn write(hosts: &[HostFix], format: FixFormat) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        FixFormat::Json => serde_json::to_writer_pretty(&mut out, hosts)?,
        FixFormat::Table => {
            for h in hosts {
                writeln!(out, "{} ({})", h.host, h.address)?;
                for r in &h.recovered {
                    writeln!(
                        out,
                        "  transaction {} was left {} by an earlier run: {}",
                        r.transaction_id, r.found, r.result
                    )?;
                }
                if let Some(e) = &h.error {
                    writeln!(out, "  not reached ({}): {}", e.kind, e.message)?;
                    continue;
                }
                if h.rules.is_empty() {
                    writeln!(out, "  no selected rule fails")?;
                }
                for r in &h.rules {
                    let status = match &r.outcome {
                        Outcome::Planned => "would fix".to_owned(),
                        Outcome::Fixed { transaction_id } => {
                            format!("fixed, verified (transaction {transaction_id})")
                        }
                        Outcome::RolledBack { transaction_id, verdict, reason } => format!(
                            "rolled back (transaction {transaction_id}): still {} after the fix: {reason}",
                            verdict.as_str()
                        ),
                        Outcome::NotApplied { reason } => format!("not applied: {reason}"),
                        Outcome::Failed { transaction_id, message } => format!(
                            "FAILED{}: {message}",
                            transaction_id
                                .as_ref()
                                .map(|t| format!(" (transaction {t})"))
                                .unwrap_or_default()
                        ),
                    };
                    let tier = match (r.risk, r.deadman) {
                        (Some(risk), true) => format!(" [risk {}, under the deadman]", risk.as_str()),
                        (Some(risk), false) => format!(" [risk {}]", risk.as_str()),
                        (None, _) => String::new(),
                    };
                    writeln!(out, "  {}: {status}{tier}", r.rule_id)?;
                    if matches!(r.outcome, Outcome::Planned) {
                        for line in r.diff.lines() {
                            writeln!(out, "    {line}")?;
                        }
                        for a in &r.actions {
                            writeln!(out, "    + {a}")?;
                        }
                        for m in &r.manual {
                            writeln!(out, "    manual: {m}")?;
                        }
                        if r.reboot_required {
                            writeln!(out, "    (takes effect after a reboot)")?;
                        }
                    }
                }
                writeln!(out, "  {} SSH round trips", h.round_trips)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
