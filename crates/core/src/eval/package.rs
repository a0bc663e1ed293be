//! package: installed or absent, from one dpkg or rpm listing per scan.

use crate::facts::FactKey;
use crate::rule::{PackageCheck, PackageState};

use super::{Context, Outcome};

pub const DPKG: &[&str] = &["dpkg-query", "-W", "-f=${db:Status-Abbrev}\t${Package}\t${Version}\n"];
pub const RPM: &[&str] = &["rpm", "-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\n"];

pub fn needs(out: &mut Vec<FactKey>) {
    for argv in [DPKG, RPM] {
        out.push(FactKey::Command { argv: argv.iter().map(|s| (*s).to_owned()).collect() });
    }
}

/// The installed version of `name`, if installed.
fn installed(ctx: &Context<'_>, name: &str) -> Result<(Option<String>, &'static str), String> {
    if ctx.has("dpkg") {
        let out = ctx.facts.command(DPKG)?;
        if out.exit_code != 0 {
            return Err(format!("dpkg-query failed: {}", out.stderr.trim()));
        }
        // `ii ` is installed; `rc ` (removed, config files left) and others are not.
        let version = out.stdout.lines().find_map(|l| {
            let mut f = l.split('\t');
            let (status, pkg, ver) = (f.next()?, f.next()?, f.next()?);
            let pkg = pkg.split(':').next().unwrap_or(pkg);
            (pkg == name && status.starts_with("ii")).then(|| ver.to_owned())
        });
        return Ok((version, "dpkg"));
    }
    if ctx.has("rpm") {
        let out = ctx.facts.command(RPM)?;
        if out.exit_code != 0 {
            return Err(format!("rpm -qa failed: {}", out.stderr.trim()));
        }
        let version = out.stdout.lines().find_map(|l| {
            let (pkg, ver) = l.split_once('\t')?;
            (pkg == name).then(|| ver.to_owned())
        });
        return Ok((version, "rpm"));
    }
    Err("no supported package manager (dpkg or rpm) on this host".to_owned())
}

pub fn evaluate(c: &PackageCheck, ctx: &Context<'_>) -> Outcome {
    let name = c.name.as_str();
    let (version, source) = match installed(ctx, name) {
        Ok(v) => v,
        Err(e) => return Outcome::error(e),
    };
    let expected = match c.state {
        PackageState::Installed => "installed",
        PackageState::Absent => "absent",
    };
    let actual = version.as_ref().map_or("absent".to_owned(), |v| format!("installed {v}"));
    let ok = version.is_some() == (c.state == PackageState::Installed);
    let ev = ctx.evidence("package", source, expected, &actual, &actual);
    Outcome::judge(
        ok,
        format!("package {name} is {actual}"),
        format!("package {name} is {actual}, expected {expected}"),
    )
    .with(ev)
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::testkit::Fixture;

    #[test]
    fn dpkg_status_matters() {
        let f = Fixture::new().cap("dpkg").command(
            DPKG,
            0,
            "ii \tauditd\t1:3.0.9-1\nrc \ttelnet\t0.17\nii \tlibc6:amd64\t2.36\n",
        );
        f.expect("package: {name: auditd, state: installed}", Status::Pass);
        f.expect("package: {name: telnet, state: absent}", Status::Pass);
        f.expect("package: {name: telnet, state: installed}", Status::Fail);
        f.expect("package: {name: libc6, state: installed}", Status::Pass);
        f.expect("package: {name: auditd, state: absent}", Status::Fail);
    }

    #[test]
    fn rpm_and_no_package_manager() {
        let f = Fixture::new().cap("rpm").command(RPM, 0, "audit\t3.1.2-1.el9\n");
        f.expect("package: {name: audit, state: installed}", Status::Pass);
        f.expect("package: {name: telnet-server, state: absent}", Status::Pass);
        Fixture::new().expect("package: {name: audit, state: installed}", Status::Error);
        Fixture::new()
            .cap("dpkg")
            .command(DPKG, 2, "")
            .expect("package: {name: x, state: absent}", Status::Error);
    }

    #[test]
    fn malformed_listing_lines_are_ignored() {
        let f = Fixture::new().cap("dpkg").command(DPKG, 0, "garbage\nii \n\tauditd\nii \tauditd\n");
        f.expect("package: {name: auditd, state: installed}", Status::Fail);
        f.expect("package: {name: auditd, state: absent}", Status::Pass);
    }
}
