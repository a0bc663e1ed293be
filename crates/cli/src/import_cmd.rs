//! `openwatch import FILE`: another scanner's results (XCCDF/ARF, InSpec JSON, Nessus
//! compliance, Wazuh SCA), each tied to the OpenWatch rule it stands for or related to those
//! citing the same CIS section or NIST control (`openwatch_core::import`). A bad file is
//! refused whole with file:line:column; nothing is printed from it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow};
use openwatch_core::eval::Status;
use openwatch_core::import::{Correlator, ImportedHost, Source};
use serde_json::json;

use crate::cli::{Format, ImportArgs, ImportSource};
use crate::library;
use crate::output::{Table, csv_row};

pub fn run(args: &ImportArgs) -> Result<ExitCode> {
    let name = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {name}"))?;
    let source = match args.from {
        Some(ImportSource::Xccdf) => Source::Xccdf,
        Some(ImportSource::Inspec) => Source::Inspec,
        Some(ImportSource::Nessus) => Source::Nessus,
        Some(ImportSource::Wazuh) => Source::Wazuh,
        None => Source::detect(&text).ok_or_else(|| {
            anyhow!("{name}: not results OpenWatch reads (XCCDF/ARF, InSpec JSON, Nessus v2, Wazuh SCA); say which with --from")
        })?,
    };
    let hosts = source.parse(&name, &text, args.target.as_deref())?;
    let lib = library::load(&args.rule_dirs, true)?;
    let correlator = Correlator::new(&lib.rules);
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json | Format::Jsonl => {
            let hosts = hosts.iter().map(|h| host_json(h, &correlator)).collect::<Result<Vec<_>>>()?;
            let doc = json!({"schema": "openwatch.import/v1", "source": source.as_str(), "file": name, "hosts": hosts});
            if args.format == Format::Json {
                serde_json::to_writer_pretty(&mut out, &doc)?;
            } else {
                serde_json::to_writer(&mut out, &doc)?;
            }
            writeln!(out)?;
        }
        Format::Csv => {
            writeln!(
                out,
                "{}",
                csv_row(&["target", "rule", "result", "verdict", "openwatch_rule", "related_rules"])
            )?;
            for h in &hosts {
                for r in &h.results {
                    let own = correlator.rule(&r.rule).unwrap_or("");
                    let related = correlator.related(&r.references).join(" ");
                    writeln!(
                        out,
                        "{}",
                        csv_row(&[&h.target, &r.rule, &r.result, r.verdict.as_str(), own, &related])
                    )?;
                }
            }
        }
        Format::Table => {
            let mut t = Table::new(&[
                "TARGET",
                "RESULTS",
                "PASS",
                "FAIL",
                "OTHER",
                "TIED TO A RULE",
                "RELATED BY CONTROL",
            ]);
            for h in &hosts {
                let count = |s: Status| h.results.iter().filter(|r| r.verdict == s).count();
                let (pass, fail) = (count(Status::Pass), count(Status::Fail));
                let tied = h.results.iter().filter(|r| correlator.rule(&r.rule).is_some()).count();
                let related =
                    h.results.iter().filter(|r| !correlator.related(&r.references).is_empty()).count();
                t.row(vec![
                    h.target.clone(),
                    h.results.len().to_string(),
                    pass.to_string(),
                    fail.to_string(),
                    (h.results.len() - pass - fail).to_string(),
                    tied.to_string(),
                    related.to_string(),
                ]);
            }
            t.write(&mut out)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn host_json(h: &ImportedHost, correlator: &Correlator) -> Result<serde_json::Value> {
    let mut summary = BTreeMap::<&str, usize>::new();
    let mut results = Vec::with_capacity(h.results.len());
    for r in &h.results {
        *summary.entry(r.verdict.as_str()).or_default() += 1;
        let mut v = serde_json::to_value(r)?;
        v["openwatch_rule"] = json!(correlator.rule(&r.rule));
        v["related_rules"] = json!(correlator.related(&r.references));
        results.push(v);
    }
    let tied = h.results.iter().filter(|r| correlator.rule(&r.rule).is_some()).count();
    Ok(json!({
        "target": h.target, "addresses": h.addresses, "started_at": h.started_at, "finished_at": h.finished_at,
        "profile": h.profile, "test_system": h.test_system, "summary": summary, "tied": tied, "results": results,
    }))
}
