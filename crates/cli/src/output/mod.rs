//! Printing scan reports and rule listings in the formats users ask for.

mod csv;
mod table;

use std::io::Write;

use anyhow::Result;
use openwatch_core::report::ScanReport;

use crate::cli::Format;

pub use csv::csv_row;
pub use table::Table;

pub fn write_report(out: &mut dyn Write, doc: &ScanReport, format: Format) -> Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, doc)?;
            writeln!(out)?;
        }
        Format::Jsonl => {
            serde_json::to_writer(&mut *out, doc)?;
            writeln!(out)?;
        }
        Format::Csv => csv::write_report(out, doc)?,
        Format::Table => table::write_report(out, doc)?,
    }
    Ok(())
}
