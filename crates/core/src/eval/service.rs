//! service: a systemd unit's enabled/active/masked state. Enablement comes from unit files
//! (works without a running systemd); activity from systemd. When systemd is not the init
//! system (containers), a unit is active only if one of its `process` names runs.

use crate::facts::{FactKey, FactValue};
use crate::rule::{ServiceCheck, WhenMissing};

use super::{Context, Outcome};

pub const UNITS: &[&str] =
    &["systemctl", "list-units", "--all", "--full", "--no-legend", "--no-pager", "--plain"];

pub fn needs(c: &ServiceCheck, out: &mut Vec<FactKey>) {
    out.push(FactKey::UnitFile { unit: unit_name(c.name.as_str()) });
    if c.active.is_some() {
        out.push(FactKey::Command { argv: UNITS.iter().map(|s| (*s).to_owned()).collect() });
        out.push(FactKey::Processes);
    }
}

pub fn unit_name(name: &str) -> String {
    if name.contains('.') { name.to_owned() } else { format!("{name}.service") }
}

pub fn evaluate(c: &ServiceCheck, ctx: &Context<'_>) -> Outcome {
    let unit = unit_name(c.name.as_str());
    let state = match ctx.facts.get(&FactKey::UnitFile { unit: unit.clone() }) {
        Some(FactValue::UnitFile(state)) => state.clone(),
        Some(FactValue::Error(e)) => return Outcome::error(format!("unit file state of {unit}: {e}")),
        _ => return Outcome::error(format!("the unit file state of {unit} was not collected")),
    };
    let mut expected = Vec::new();
    if let Some(e) = c.enabled {
        expected.push(if e { "enabled" } else { "not enabled" });
    }
    if let Some(a) = c.active {
        expected.push(if a { "active" } else { "inactive" });
    }
    if let Some(m) = c.masked {
        expected.push(if m { "masked" } else { "not masked" });
    }
    let expected = expected.join(", ");
    let Some(state) = state else {
        let wants_it = c.enabled == Some(true) || c.active == Some(true) || c.masked == Some(true);
        let missing = c.missing.unwrap_or(if wants_it { WhenMissing::Fail } else { WhenMissing::Pass });
        return Outcome::new(missing.into(), format!("unit {unit} does not exist")).with(ctx.evidence(
            "service",
            "systemctl list-unit-files",
            expected,
            "no such unit",
            "",
        ));
    };
    let masked = state.starts_with("masked");
    let enabled = matches!(
        state.as_str(),
        // `indirect` units are only pulled in through another unit's Also=: not enabled.
        "enabled" | "enabled-runtime" | "static" | "generated" | "alias" | "linked" | "linked-runtime"
    );
    let mut problems = Vec::new();
    let mut actual = vec![format!("unit file {state}")];
    if c.enabled.is_some_and(|want| want != enabled) {
        problems.push(format!("{unit} is {state}"));
    }
    if c.masked.is_some_and(|want| want != masked) {
        problems.push(format!("{unit} is {}", if masked { "masked" } else { "not masked" }));
    }
    let mut observed = format!("{unit} {state}");
    if let Some(want_active) = c.active {
        match active(c, &unit, ctx) {
            Ok((is_active, how)) => {
                actual.push(format!("{} ({how})", if is_active { "active" } else { "inactive" }));
                observed.push_str(&format!("\n{how}"));
                if is_active != want_active {
                    problems
                        .push(format!("{unit} is {} ({how})", if is_active { "active" } else { "inactive" }));
                }
            }
            Err(e) => return Outcome::error(e),
        }
    }
    let actual = actual.join(", ");
    let ev = ctx.evidence("service", "systemctl", &expected, &actual, &observed);
    Outcome::judge(problems.is_empty(), format!("{unit}: {actual}"), problems.join("; ")).with(ev)
}

fn active(c: &ServiceCheck, unit: &str, ctx: &Context<'_>) -> Result<(bool, String), String> {
    if ctx.has("systemd") {
        let units = ctx.facts.command(UNITS)?;
        if units.exit_code == 0 {
            let state = units.stdout.lines().find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.first() == Some(&unit)).then(|| f.get(2).copied().unwrap_or("").to_owned())
            });
            let state = state.unwrap_or_else(|| "inactive".to_owned());
            return Ok((state == "active", format!("systemd reports {state}")));
        }
    }
    if c.process.is_empty() {
        // Activity is systemd's notion: with no systemd running, no unit is active. Daemons
        // that may run under another supervisor are judged by `process` instead.
        return Ok((false, "systemd is not running, so no unit is active".to_owned()));
    }
    let procs = match ctx.facts.get(&FactKey::Processes) {
        Some(FactValue::Processes(p)) => p,
        _ => return Err("the process list was not collected".to_owned()),
    };
    let running: Vec<&str> =
        c.process.iter().map(|p| p.as_str()).filter(|p| procs.iter().any(|q| q == p)).collect();
    let names = c.process.iter().map(|p| p.as_str()).collect::<Vec<_>>().join("/");
    Ok(if running.is_empty() {
        (false, format!("systemd not running; no {names} process"))
    } else {
        (true, format!("systemd not running; process {} runs", running.join(",")))
    })
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::testkit::Fixture;

    fn units(f: Fixture) -> Fixture {
        [("cron", "enabled"), ("rsync", "disabled"), ("autofs", "masked"), ("systemd-journald", "static")]
            .into_iter()
            .fold(f, |f, (u, s)| {
                f.fact(
                    FactKey::UnitFile { unit: format!("{u}.service") },
                    FactValue::UnitFile(Some(s.into())),
                )
            })
            .fact(FactKey::UnitFile { unit: "auditd.service".into() }, FactValue::UnitFile(None))
            .fact(FactKey::UnitFile { unit: "telnet.socket".into() }, FactValue::UnitFile(None))
    }

    #[test]
    fn enabled_masked_and_missing_units() {
        let f = units(Fixture::new());
        f.expect("service: {name: cron, enabled: true}", Status::Pass);
        f.expect("service: {name: rsync, enabled: false}", Status::Pass);
        f.expect("service: {name: rsync, enabled: true}", Status::Fail);
        f.expect("service: {name: autofs, masked: true}", Status::Pass);
        f.expect("service: {name: autofs, enabled: false}", Status::Pass);
        f.expect("service: {name: systemd-journald, enabled: true}", Status::Pass);
        f.expect("service: {name: auditd, enabled: true}", Status::Fail);
        f.expect("service: {name: telnet.socket, enabled: false}", Status::Pass);
        f.expect("service: {name: auditd, enabled: true, missing: not_applicable}", Status::NotApplicable);
    }

    #[test]
    fn active_from_systemd_or_processes() {
        let with_systemd = units(Fixture::new()).cap("systemd").command(
            UNITS,
            0,
            "cron.service loaded active running Regular background program\n",
        );
        with_systemd.expect("service: {name: cron, enabled: true, active: true}", Status::Pass);
        with_systemd.expect("service: {name: rsync, active: true}", Status::Fail);
        let no_systemd = units(Fixture::new())
            .command(UNITS, 1, "")
            .fact(FactKey::Processes, FactValue::Processes(vec!["cron".into(), "sshd".into()]));
        no_systemd.expect("service: {name: cron, active: true, process: [cron, crond]}", Status::Pass);
        no_systemd.expect("service: {name: rsync, active: true, process: [rsync]}", Status::Fail);
        let out = no_systemd.expect("service: {name: rsync, active: true}", Status::Fail);
        assert!(out.reason.contains("systemd is not running"), "{}", out.reason);
    }

    #[test]
    fn systemctl_failure_is_an_error() {
        let unit = FactKey::UnitFile { unit: "cron.service".into() };
        let f = Fixture::new().fact(unit, FactValue::Error("systemctl is not installed".into()));
        f.expect("service: {name: cron, enabled: true}", Status::Error);
        Fixture::new().expect("service: {name: cron, enabled: true}", Status::Error);
    }

    #[test]
    fn unknown_unit_states_are_not_enabled() {
        let f = Fixture::new().fact(
            FactKey::UnitFile { unit: "odd.service".into() },
            FactValue::UnitFile(Some("bad-setting".into())),
        );
        f.expect("service: {name: odd, enabled: true}", Status::Fail);
        f.expect("service: {name: odd, enabled: false}", Status::Pass);
    }

    #[test]
    fn indirect_units_are_not_enabled() {
        let unit = FactKey::UnitFile { unit: "systemd-journal-remote.service".into() };
        let f = Fixture::new().fact(unit, FactValue::UnitFile(Some("indirect".into())));
        f.expect("service: {name: systemd-journal-remote, enabled: false}", Status::Pass);
    }
}
