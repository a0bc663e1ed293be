//! `openwatch report --input SCAN.json --format F [--output FILE]`: a saved scan in another
//! format, from the same pure writers `scan --format` uses (`openwatch_core::export`).

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow};
use openwatch_core::export;
use openwatch_core::report::read_documents;

use crate::cli::{ReportArgs, ReportFormat};

pub fn run(args: &ReportArgs) -> Result<ExitCode> {
    let name = args.input.display().to_string();
    let text = std::fs::read_to_string(&args.input).with_context(|| format!("reading {name}"))?;
    let reports = read_documents(&text).map_err(|e| anyhow!("{name}:{e}"))?;
    let version = env!("CARGO_PKG_VERSION");
    let mut bytes = match args.format {
        ReportFormat::Sarif => serde_json::to_vec_pretty(&export::sarif::write(&reports, version))?,
        ReportFormat::Xccdf => export::xccdf::write(&reports, version).into_bytes(),
        ReportFormat::OscalAr => {
            serde_json::to_vec_pretty(&export::oscal::assessment_results(&reports, version))?
        }
        ReportFormat::OscalPoam => {
            let poam = export::oscal::poam(&reports, version).map_err(|e| anyhow!("{name}: {e}"))?;
            serde_json::to_vec_pretty(&poam)?
        }
    };
    if bytes.last() != Some(&b'\n') {
        bytes.push(b'\n');
    }
    match &args.output {
        Some(path) => write_whole(path, &bytes)?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Write through a temporary file in the same directory and rename it into place, so a
/// reader never sees half a report and a failure leaves any earlier file as it was.
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
