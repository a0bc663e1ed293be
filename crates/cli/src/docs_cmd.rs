//! Shell completions and manual pages, generated from the command-line definition itself so
//! they never drift from it (packages install them; see README, "Packaging").

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::CommandFactory as _;

use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "openwatch", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

pub fn man(out: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    clap_mangen::generate_to(Cli::command(), out)
        .with_context(|| format!("writing manual pages to {}", out.display()))?;
    let pages = std::fs::read_dir(out)?
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "1")))
        .count();
    println!("{pages} manual pages in {}", out.display());
    Ok(ExitCode::SUCCESS)
}
