//! One host's scan, from plan to report, written once for every transport. A transport's
//! only part is "run this script, give me its output": the local scan, the fleet runner and
//! the server's worker drive the same [`Scan`], so reports, stats and round trips agree.

use std::borrow::Cow;
use std::time::Instant;

use openwatch_core::facts::{FactKey, FactSet};
use openwatch_core::plan::FactPlan;
use openwatch_core::report::{self, EvalOptions, HostError, HostFacts, HostInfo, ScanReport, Stats};
use openwatch_core::rule::Rule;

use crate::collector::{CollectError, Pending, finish, now_rfc3339, prepare};
use crate::transport::{ScriptOutput, Transport};

/// A finished scan: the report, and the facts it was evaluated on (for `--save-facts`).
#[derive(Debug)]
pub struct Scanned {
    pub report: ScanReport,
    pub facts: FactSet,
}

/// One host's scan in progress. Its clock starts at [`Scan::new`]; collection is one
/// script per plan (one plan: one round trip), each run by the caller's transport between
/// [`Scan::next_script`] and [`Scan::record`]; [`Scan::finish`] evaluates and reports.
#[derive(Debug)]
pub struct Scan<'a> {
    rules: Vec<&'a Rule>,
    eval: EvalOptions,
    plans: Vec<Cow<'a, FactPlan>>,
    next: usize,
    pending: Option<Pending>,
    facts: FactSet,
    round_trips: u32,
    bytes: u64,
    started: Instant,
    started_at: String,
    collect_started: Option<Instant>,
    collect_ms: u64,
}

impl<'a> Scan<'a> {
    /// A scan of `rules` collecting the facts of each of `plans` in turn.
    pub fn new(
        rules: impl IntoIterator<Item = &'a Rule>,
        plans: impl IntoIterator<Item = Cow<'a, FactPlan>>,
        eval: EvalOptions,
    ) -> Scan<'a> {
        Scan {
            rules: rules.into_iter().collect(),
            eval,
            plans: plans.into_iter().collect(),
            next: 0,
            pending: None,
            facts: FactSet::default(),
            round_trips: 0,
            bytes: 0,
            started: Instant::now(),
            started_at: now_rfc3339(),
            collect_started: None,
            collect_ms: 0,
        }
    }

    /// The script of the next collection pass, or `None` when every plan is collected.
    pub fn next_script(&mut self) -> Result<Option<&str>, CollectError> {
        self.collect_started.get_or_insert_with(Instant::now);
        let Some(plan) = self.plans.get(self.next) else { return Ok(None) };
        self.next += 1;
        let pending = self.pending.insert(prepare(plan)?);
        Ok(Some(&pending.script.text))
    }

    /// What `host` printed for the script [`Scan::next_script`] gave last.
    pub fn record(&mut self, host: &str, out: &ScriptOutput) -> Result<(), CollectError> {
        let pending = self.pending.take().expect("record follows next_script");
        let collected = finish(pending, host, out)?;
        self.facts.collected_at = collected.facts.collected_at;
        self.facts.facts.extend(collected.facts.facts);
        self.round_trips += collected.round_trips;
        self.bytes += collected.bytes_transferred;
        self.collect_ms = self.collect_started.map_or(0, |t| t.elapsed().as_millis() as u64);
        Ok(())
    }

    /// Run every pass through a synchronous transport.
    pub fn collect(&mut self, transport: &mut dyn Transport) -> Result<(), CollectError> {
        let host = transport.host_name();
        while let Some(script) = self.next_script()? {
            let out = transport.run_script(script)?;
            self.record(&host, &out)?;
        }
        Ok(())
    }

    /// Evaluate facts collected earlier instead (a replayed `--save-facts` file); collection
    /// time is then the time since [`Scan::new`]. Walk rules are evaluated only when the
    /// saved facts hold a walk, since no walk was collected otherwise.
    pub fn replay(&mut self, facts: FactSet) {
        self.eval.walks_enabled &= facts.facts.contains_key(&FactKey::FilesystemWalk);
        self.facts = facts;
        self.collect_ms = self.started.elapsed().as_millis() as u64;
    }

    /// Evaluate the collected facts and assemble the report.
    pub fn finish(self, name: String, address: String) -> Scanned {
        let t = Instant::now();
        let host = report::host_facts(&self.facts);
        let results = report::evaluate(self.rules.iter().copied(), &self.facts, &host, &self.eval);
        let stats = Stats {
            facts_collected: self.facts.facts.len(),
            round_trips: self.round_trips,
            bytes_transferred: self.bytes,
            duration_ms: self.started.elapsed().as_millis() as u64,
            collect_ms: self.collect_ms,
            evaluate_ms: t.elapsed().as_millis() as u64,
            ..Stats::default()
        };
        let host = HostInfo::new(name, address, &host);
        let report = ScanReport::new(host, self.started_at, now_rfc3339(), stats, results);
        Scanned { report, facts: self.facts }
    }

    /// The report of a host that could not be scanned, timed from [`Scan::new`].
    pub fn failed(self, name: String, address: String, error: HostError) -> ScanReport {
        let host = HostInfo::new(name, address, &HostFacts::default());
        let duration_ms = self.started.elapsed().as_millis() as u64;
        ScanReport::failed(host, self.started_at, now_rfc3339(), duration_ms, error)
    }
}

/// Scan the host behind a synchronous transport with one plan: one round trip.
pub fn scan<'a>(
    rules: impl IntoIterator<Item = &'a Rule>,
    plan: &'a FactPlan,
    eval: EvalOptions,
    transport: &mut dyn Transport,
) -> Result<Scanned, CollectError> {
    let mut scan = Scan::new(rules, [Cow::Borrowed(plan)], eval);
    scan.collect(transport)?;
    Ok(scan.finish(transport.host_name(), transport.address()))
}
