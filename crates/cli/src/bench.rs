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
        // Alternate the two so neither gets a warmer cache; the first round warms both.
        let roots = walk_roots()?;
        let (mut walks, mut finds, mut stats, mut bytes) = (Vec::new(), Vec::new(), Vec::new(), 0);
        for round in 0..=args.iterations.max(1) {
            let t0 = Instant::now();
            let c = collect(&plan, &mut LocalTransport).context("collecting the filesystem walk")?;
            let walk = t0.elapsed();
            let t0 = Instant::now();
            bare_find(&roots, &[])?;
            let find = t0.elapsed();
            let t0 = Instant::now();
            bare_find(&roots, &["-perm", "-0"])?;
            let stat = t0.elapsed();
            if round > 0 {
                walks.push(walk);
                finds.push(find);
                stats.push(stat);
                bytes = c.bytes_transferred;
            }
        }
        let (walk, find, stat) = (median(walks), median(finds), median(stats));
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
        println!(
            "filesystem walk (for {} rules), median of {}: {:.1} ms, {bytes} bytes; over the same {} roots, bare `find -xdev -printf ''`: {:.1} ms (walk/find {:.2}x); find that stats every file (`-perm -0`, the floor of any owner or mode check): {:.1} ms (walk/that {:.2}x)",
            walk_rules.len(),
            args.iterations.max(1),
            ms(walk),
            roots.len(),
            ms(find),
            ratio(walk, find),
            ms(stat),
            ratio(walk, stat),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The mount points the walk visits: those of the file system types it walks.
fn walk_roots() -> Result<Vec<String>> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").context("reading /proc/self/mounts")?;
    let mut roots: Vec<String> = mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.len() > 2 && openwatch_collect::script::WALK_FSTYPES.contains(&f[2]))
                .then(|| f[1].replace("\\040", " "))
        })
        .collect();
    roots.sort();
    roots.dedup();
    Ok(roots)
}

/// The baselines: find visiting the same files with the same pruning, printing nothing,
/// with `tests` before the (empty) output.
fn bare_find(roots: &[String], tests: &[&str]) -> Result<()> {
    for r in roots {
        std::process::Command::new("find")
            .args([
                r.as_str(),
                "-xdev",
                "(",
                "-path",
                "/proc",
                "-o",
                "-path",
                "/sys",
                "-o",
                "-path",
                "/dev",
                ")",
            ])
            .args(["-prune", "-o"])
            .args(tests)
            .args(["-printf", ""])
            .stderr(std::process::Stdio::null())
            .status()
            .context("running find")?;
    }
    Ok(())
}
