//! `openwatch report --input SCAN.json --format F [--output FILE]`: a saved scan in another
//! format, from the same pure writers `scan --format` uses (`openwatch_core::export`),
//! streamed to the output.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow};
use openwatch_core::export;
use openwatch_core::export::summary::{self, Detail, Scope, Summary};
use openwatch_core::report::{ScanReport, read_documents};
use serde::Serialize;

use crate::cli::{ReportArgs, ReportDetail, ReportFormat};

pub fn run(args: &ReportArgs) -> Result<ExitCode> {
    let name = args.input.display().to_string();
    let text = std::fs::read_to_string(&args.input).with_context(|| format!("reading {name}"))?;
    let mut reports = read_documents(&text).map_err(|e| anyhow!("{name}:{e}"))?;
    drop(text);
    if let Some(framework) = &args.framework {
        only_framework(&mut reports, framework).map_err(|e| anyhow!("{name}: {e}"))?;
    }
    let version = env!("CARGO_PKG_VERSION");
    let summary = || -> Result<Summary> {
        let lib = crate::library::load(&args.rule_dirs, true)?;
        let detail = match args.detail {
            ReportDetail::Executive => Detail::Executive,
            ReportDetail::Full => Detail::Full,
        };
        let scope = Scope { framework: args.framework.as_deref(), detail, ..Scope::default() };
        Ok(summary::build(&reports, &lib.rules, version, scope))
    };
    match args.format {
        ReportFormat::Sarif => emit(args, |out| json(out, &export::sarif::write(&reports, version))),
        ReportFormat::Xccdf => {
            emit(args, |out| Ok(out.write_all(export::xccdf::write(&reports, version).as_bytes())?))
        }
        ReportFormat::OscalAr => {
            emit(args, |out| json(out, &export::oscal::assessment_results(&reports, version)))
        }
        ReportFormat::Html => {
            let page = export::html::write(&summary()?);
            emit(args, |out| Ok(out.write_all(page.as_bytes())?))
        }
        ReportFormat::Pdf => {
            let pdf = openwatch_pdf::render(&summary()?)?;
            emit(args, |out| Ok(out.write_all(&pdf)?))
        }
        ReportFormat::OscalPoam => {
            // Refused (nothing to plan) before any file is touched.
            let poam = export::oscal::poam(&reports, version).map_err(|e| anyhow!("{name}: {e}"))?;
            emit(args, |out| json(out, &poam))
        }
    }?;
    Ok(ExitCode::SUCCESS)
}

/// Keep only the results that cite `framework`; a name no result cites is refused with the
/// ones that are cited.
fn only_framework(reports: &mut [ScanReport], framework: &str) -> Result<()> {
    let mut known: Vec<String> =
        reports.iter().flat_map(|r| &r.results).flat_map(|r| summary::frameworks(&r.references)).collect();
    if !summary::keep_framework(reports, framework) {
        known.sort();
        known.dedup();
        return Err(anyhow!("no result cites framework {framework} (cited: {})", known.join(", ")));
    }
    Ok(())
}

fn json(out: &mut dyn Write, doc: &impl Serialize) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc)?;
    writeln!(out)?;
    Ok(())
}

/// To `--output` (replaced whole) or standard output.
fn emit(args: &ReportArgs, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    match &args.output {
        Some(path) => write_whole(path, write),
        None => {
            let mut out = BufWriter::new(std::io::stdout().lock());
            write(&mut out)?;
            Ok(out.flush()?)
        }
    }
}

/// Write through a temporary file in the same directory and rename it into place, so a
/// reader never sees half a file and a failure leaves any earlier file as it was.
pub fn write_whole(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
    let mut out = BufWriter::new(tmp);
    write(&mut out)?;
    let tmp = out.into_inner().map_err(|e| anyhow!("writing {}: {}", path.display(), e.error()))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
