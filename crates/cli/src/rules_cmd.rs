//! `openwatch rules list|show|lint|coverage`.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use openwatch_core::catalog::{self, check_references};
use openwatch_core::library::Library;
use openwatch_core::rule::{FindingLevel, Rule};
use serde::Serialize;

use crate::cli::{Format, RulesArgs, RulesCommand};
use crate::library;
use crate::output::{Table, csv_row};
use crate::select::check_framework;

pub fn run(args: &RulesArgs) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match &args.command {
        RulesCommand::List { filters, format } => {
            let lib = library::load(&filters.rule_dirs, true)?;
            list(&mut out, &filters.select(&lib.rules)?, *format)?;
        }
        RulesCommand::Show { id, rule_dirs } => {
            let lib = library::load(rule_dirs, true)?;
            let Some(rule) = lib.get(id) else {
                bail!("no rule with id `{id}` (see `openwatch rules list`)")
            };
            writeln!(
                out,
                "# {} ({})\n# severity {}, category {}",
                rule.raw.title.as_str(),
                rule.source_name,
                rule.raw.severity,
                rule.raw.category
            )?;
            write!(out, "{}", rule.source_text)?;
        }
        RulesCommand::Lint { dirs, deny_warnings } => return lint(&mut out, dirs, *deny_warnings),
        RulesCommand::Coverage { framework, rule_dirs, format } => {
            check_framework(framework)?;
            let lib = library::load(rule_dirs, true)?;
            coverage(&mut out, &lib.rules, framework, *format)?;
        }
        RulesCommand::OscalComponent { rule_dirs, output } => {
            let lib = library::load(rule_dirs, true)?;
            let now = openwatch_collect::collector::now_rfc3339();
            let doc = openwatch_core::export::oscal::component_definition(
                &lib.rules,
                env!("CARGO_PKG_VERSION"),
                &now,
            );
            let write = |w: &mut dyn Write| -> Result<()> {
                serde_json::to_writer_pretty(&mut *w, &doc)?;
                writeln!(w)?;
                Ok(())
            };
            match output {
                Some(path) => crate::report_cmd::write_whole(path, write)?,
                None => write(&mut out)?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Listed<'a> {
    id: &'a str,
    title: &'a str,
    severity: &'a str,
    category: &'a str,
    tags: Vec<&'a str>,
    platforms: Vec<String>,
    references: &'a openwatch_core::rule::References,
}

fn list(out: &mut dyn Write, rules: &[&Rule], format: Format) -> Result<()> {
    let listed: Vec<Listed<'_>> = rules
        .iter()
        .map(|r| Listed {
            id: r.id(),
            title: r.raw.title.as_str(),
            severity: r.raw.severity.as_str(),
            category: r.raw.category.as_str(),
            tags: r.raw.tags.iter().map(|t| t.as_str()).collect(),
            platforms: r.raw.platforms.iter().map(ToString::to_string).collect(),
            references: &r.raw.references,
        })
        .collect();
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&listed)?)?,
        Format::Jsonl => {
            for l in &listed {
                writeln!(out, "{}", serde_json::to_string(l)?)?;
            }
        }
        Format::Csv => {
            writeln!(
                out,
                "{}",
                csv_row(&["id", "severity", "category", "title", "cis_debian12", "nist_800_53"])
            )?;
            for l in &listed {
                let cis = l.references.controls("cis_debian12").join(" ");
                writeln!(
                    out,
                    "{}",
                    csv_row(&[
                        l.id,
                        l.severity,
                        l.category,
                        l.title,
                        &cis,
                        &l.references.nist_800_53.join(" ")
                    ])
                )?;
            }
        }
        Format::Table => {
            let mut t = Table::new(&["ID", "SEVERITY", "CATEGORY", "TITLE"]);
            for l in &listed {
                t.row(vec![
                    l.id.to_owned(),
                    l.severity.to_owned(),
                    l.category.to_owned(),
                    l.title.to_owned(),
                ]);
            }
            t.write(out)?;
            writeln!(out, "\n{} rule(s)", listed.len())?;
        }
    }
    Ok(())
}

fn lint(out: &mut dyn Write, dirs: &[std::path::PathBuf], deny_warnings: bool) -> Result<ExitCode> {
    let sources = if dirs.is_empty() { library::builtin_sources() } else { library::read_dirs(dirs)? };
    if sources.is_empty() {
        bail!("no rule files (*.yml, *.yaml) found");
    }
    let mut lib = Library::load(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    // A reference to a control the framework does not have is a mis-citation.
    lib.findings.extend(check_references(&library::catalogs()?, &lib.rules));
    for f in &lib.findings {
        writeln!(out, "{f}\n")?;
    }
    let errors = lib.findings.iter().filter(|f| f.level == FindingLevel::Error).count();
    let warnings = lib.findings.len() - errors;
    writeln!(
        out,
        "{} file(s), {} rule(s) valid, {errors} error(s), {warnings} warning(s)",
        sources.len(),
        lib.rules.len()
    )?;
    Ok(if errors > 0 || (deny_warnings && warnings > 0) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

#[derive(Serialize)]
struct CitedOnly<'a> {
    framework: &'a str,
    catalog: bool,
    controls: BTreeMap<String, Vec<&'a str>>,
    rules_mapped: usize,
    rules_total: usize,
}

/// Order control ids naturally: 1.2.10 after 1.2.9, AC-6(2) after AC-6.
fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut num = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
        } else {
            if !num.is_empty() {
                out.push((std::mem::take(&mut text), num.parse().unwrap_or(0)));
                num.clear();
            }
            text.push(ch);
        }
    }
    out.push((text, num.parse().unwrap_or(0)));
    out
}

fn coverage(out: &mut dyn Write, rules: &[Rule], framework: &str, format: Format) -> Result<()> {
    let catalogs = library::catalogs()?;
    let Some(catalog) = catalogs.iter().find(|c| c.framework == framework) else {
        return cited_only(out, rules, framework, format);
    };
    let cov = catalog::coverage(catalog, rules);
    match format {
        Format::Json | Format::Jsonl => writeln!(out, "{}", serde_json::to_string_pretty(&cov)?)?,
        Format::Csv => {
            writeln!(out, "{}", csv_row(&["control", "title", "level", "automated", "rules"]))?;
            for r in &cov.controls {
                let level = r
                    .level
                    .map(|l| format!("{l:?}"))
                    .or(r.severity.map(|s| s.as_str().to_owned()))
                    .unwrap_or_default();
                let auto = r.automated.map(|a| a.to_string()).unwrap_or_default();
                writeln!(out, "{}", csv_row(&[r.id, r.title, &level, &auto, &r.rules.join(" ")]))?;
            }
        }
        Format::Table => {
            let mut t = Table::new(&["CONTROL", "LEVEL", "TITLE", "RULES"]);
            for r in &cov.controls {
                let level = match (r.level, r.automated, r.severity) {
                    (Some(l), Some(false), _) => format!("{l:?} manual"),
                    (Some(l), _, _) => format!("{l:?}"),
                    (None, Some(false), _) => "manual".to_owned(),
                    (None, _, Some(s)) => s.as_str().to_owned(),
                    _ => String::new(),
                };
                let rules =
                    if r.rules.is_empty() { "- not covered -".to_owned() } else { r.rules.join(", ") };
                t.row(vec![r.id.to_owned(), level, r.title.to_owned(), rules]);
            }
            t.write(out)?;
            write!(
                out,
                "\n{} ({}): {} of {} controls covered ({:.0}%)",
                framework,
                cov.title,
                cov.covered,
                cov.total,
                100.0 * cov.covered as f64 / cov.total.max(1) as f64,
            )?;
            // Benchmarks mark recommendations manual or automated; only the latter can be scanned.
            if cov.controls.iter().any(|r| r.automated.is_some()) {
                let automated: Vec<_> = cov.controls.iter().filter(|r| r.automated != Some(false)).collect();
                let covered = automated.iter().filter(|r| !r.rules.is_empty()).count();
                write!(out, "; automated: {covered} of {}", automated.len())?;
            }
            writeln!(out)?;
            for (rule, control) in &cov.unknown_references {
                writeln!(out, "warning: {rule} cites `{control}`, which is not in the catalog")?;
            }
        }
    }
    Ok(())
}

/// Without a shipped catalog only the controls the rules cite can be listed.
fn cited_only(out: &mut dyn Write, rules: &[Rule], framework: &str, format: Format) -> Result<()> {
    let mut controls: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut mapped = 0;
    for r in rules {
        let cs = r.raw.references.controls(framework);
        if !cs.is_empty() {
            mapped += 1;
        }
        for c in cs {
            controls.entry(c).or_default().push(r.id());
        }
    }
    let doc =
        CitedOnly { framework, catalog: false, controls, rules_mapped: mapped, rules_total: rules.len() };
    match format {
        Format::Json | Format::Jsonl => writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?,
        Format::Csv => {
            writeln!(out, "{}", csv_row(&["control", "rules"]))?;
            for (c, ids) in &doc.controls {
                writeln!(out, "{}", csv_row(&[c, &ids.join(" ")]))?;
            }
        }
        Format::Table => {
            let mut keys: Vec<&String> = doc.controls.keys().collect();
            keys.sort_by_key(|k| natural_key(k));
            let mut t = Table::new(&["CONTROL", "RULES"]);
            for k in keys {
                t.row(vec![k.clone(), doc.controls[k].join(", ")]);
            }
            t.write(out)?;
            writeln!(
                out,
                "\n{framework}: {} control(s) cited by {mapped} of {} rule(s). No catalog of {framework} is \
                 shipped, so controls no rule cites cannot be listed and no coverage is claimed.",
                doc.controls.len(),
                rules.len()
            )?;
        }
    }
    Ok(())
}
