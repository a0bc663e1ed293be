//! `openwatch`: scan hosts against hardening rules and inspect the rule library.
//! Exit codes: 0 nothing failed, 1 something failed (at or above `--fail-on`), 2 usage or
//! runtime error.

mod bench;
mod cli;
mod facts_file;
mod fleet_cmd;
mod library;
mod output;
mod resources;
mod rules_cmd;
mod scan;
mod select;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Rules(args) => rules_cmd::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("openwatch: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
