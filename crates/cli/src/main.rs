//! `openwatch`: scan hosts against hardening rules, inspect the rule library, and run the
//! platform server.
//! Exit codes: 0 nothing failed, 1 something failed (at or above `--fail-on`), 2 usage or
//! runtime error.

mod backup_cmd;
mod bench;
mod cli;
mod docs_cmd;
mod exceptions_file;
mod facts_file;
mod fix_cmd;
mod fleet_cmd;
mod import_cmd;
mod library;
mod output;
mod report_cmd;
mod resources;
mod rules_cmd;
mod scan;
mod select;
mod server_cmd;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Fix(args) => fix_cmd::run(&args),
        Command::Rules(args) => rules_cmd::run(&args),
        Command::Import(args) => import_cmd::run(&args),
        Command::Report(args) => report_cmd::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Serve(args) => server_cmd::run_server(&args, openwatch_server::serve::Role::Serve),
        Command::Worker(args) => server_cmd::run_server(&args, openwatch_server::serve::Role::Worker),
        Command::Migrate(args) => server_cmd::migrate(&args),
        Command::Admin(args) => server_cmd::admin(&args),
        Command::Audit(args) => server_cmd::audit(&args),
        Command::Backup(args) => backup_cmd::backup(&args),
        Command::Restore(args) => backup_cmd::restore(&args),
        Command::BenchServer(args) => server_cmd::bench(&args),
        Command::BenchAlerts(args) => server_cmd::bench_alerts(&args),
        Command::Completions { shell } => docs_cmd::completions(shell),
        Command::Man { out } => docs_cmd::man(&out),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("openwatch: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
