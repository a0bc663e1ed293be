//! `openwatch bench`: full-library local scan time and evaluation throughput, measured on
//! this machine and printed (never asserted).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use openwatch_collect::{LocalTransport, collect};
use openwatch_core::plan::FactPlan;
use openwatch_core::report::{self, EvalOptions};

use crate::cli::BenchArgs;
use crate::library;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let lib = library::load(&[], true)?;
    let rules: Vec<_> = lib.rules.iter().collect();
    let plan = FactPlan::for_rules(rules.iter().copied(), false);
    println!("library: {} rules, plan: {} facts (walks excluded)", rules.len(), plan.keys.len());
    let (mut total, mut coll, mut eval) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..args.iterations.max(1) {
        let t0 = Instant::now();
        let collected = collect(&plan, &mut LocalTransport).context("collecting facts")?;
        let t1 = Instant::now();
        let host = report::host_facts(&collected.facts);
        let results =
            report::evaluate(rules.iter().copied(), &collected.facts, &host, &EvalOptions::default());
        let t2 = Instant::now();
        total.push(t2 - t0);
        coll.push(t1 - t0);
        eval.push(t2 - t1);
        last = Some((collected, results.len()));
    }
    let (collected, n) = last.expect("at least one iteration");
    println!(
        "full local scan (no walk), median of {}: {:.1} ms wall (collect {:.1} ms in {} round trip, {} bytes; evaluate {:.2} ms for {n} rules)",
        total.len(),
        ms(median(total)),
        ms(median(coll)),
        collected.round_trips,
        collected.bytes_transferred,
        ms(median(eval)),
    );
    let replay = args.facts.as_deref().map(crate::facts_file::load).transpose()?;
    let facts = replay.as_ref().map_or(&collected.facts, |saved| &saved.facts);
    let source =
        replay.as_ref().map_or("this machine's facts".to_owned(), |s| format!("facts of {}", s.host));
    let host = report::host_facts(facts);
    let deadline = Instant::now() + Duration::from_secs_f64(args.eval_seconds.max(0.1));
    let start = Instant::now();
    let mut evaluated = 0usize;
    while Instant::now() < deadline {
        evaluated += report::evaluate(rules.iter().copied(), facts, &host, &EvalOptions::default()).len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "evaluation throughput over {source}: {:.0} rules/s ({evaluated} rule evaluations in {secs:.2} s)",
        evaluated as f64 / secs
    );
    if args.with_walk {
        let walk_rules: Vec<_> = rules.iter().copied().filter(|r| r.needs_walk()).collect();
        let plan = FactPlan::for_rules(walk_rules.iter().copied(), true);
        let t0 = Instant::now();
        let c = collect(&plan, &mut LocalTransport).context("collecting the filesystem walk")?;
        println!(
            "filesystem walk (once, for {} rules): {:.1} ms, {} bytes",
            walk_rules.len(),
            ms(t0.elapsed()),
            c.bytes_transferred
        );
    }
    Ok(ExitCode::SUCCESS)
}
