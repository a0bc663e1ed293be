//! accounts: local user and group integrity from /etc/passwd, /etc/group, a hash-free
//! shadow summary and the stat of home directories.

use std::collections::BTreeMap;

use crate::facts::{FactKey, FactValue, FileEntry, PasswordState, ShadowEntry};
use crate::rule::{AccountAssertion as A, Accounts};

use super::files::content_key;
use super::{Context, Outcome};

pub const PASSWD: &str = "/etc/passwd";
pub const GROUP: &str = "/etc/group";

pub fn needs(c: &Accounts, out: &mut Vec<FactKey>) {
    out.push(content_key(PASSWD));
    out.push(content_key(GROUP));
    match c.assert {
        A::NoEmptyPasswords
        | A::PasswordMaxDays
        | A::PasswordMinDays
        | A::PasswordWarnDays
        | A::InactiveDays => out.push(FactKey::ShadowSummary),
        A::HomeDirsExist | A::HomeDirsOwned | A::HomeDirsMode => out.push(FactKey::HomeDirs),
        _ => {}
    }
}

#[derive(Debug)]
struct User<'a> {
    name: &'a str,
    password: &'a str,
    uid: Option<u32>,
    gid: Option<u32>,
    home: &'a str,
    shell: &'a str,
}

impl User<'_> {
    fn interactive(&self) -> bool {
        !["nologin", "false", "sync", "shutdown", "halt"].iter().any(|s| self.shell.ends_with(s))
            && !self.shell.is_empty()
    }
}

fn users(text: &str) -> Vec<User<'_>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("");
            User {
                name: get(0),
                password: get(1),
                uid: get(2).parse().ok(),
                gid: get(3).parse().ok(),
                home: get(5),
                shell: get(6),
            }
        })
        .collect()
}

/// (name, gid, members)
fn groups(text: &str) -> Vec<(&str, Option<u32>, Vec<&str>)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let members =
                f.get(3).map(|m| m.split(',').filter(|s| !s.is_empty()).collect()).unwrap_or_default();
            (f[0], f.get(2).and_then(|g| g.parse().ok()), members)
        })
        .collect()
}

/// A numeric id for messages; `invalid` when the field is not a number.
fn id_text(id: Option<u32>) -> String {
    id.map_or_else(|| "invalid".to_owned(), |i| i.to_string())
}

/// An ageing field for evidence; `-` when unset.
fn days(d: Option<i64>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| d.to_string())
}

fn duplicates<'a>(items: impl Iterator<Item = String> + 'a) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for i in items {
        *seen.entry(i).or_default() += 1;
    }
    seen.into_iter().filter(|(_, n)| *n > 1).map(|(k, n)| format!("{k} (x{n})")).collect()
}

fn text<'a>(ctx: &'a Context<'_>, path: &str) -> Result<&'a str, String> {
    match ctx.facts.file(path)? {
        Some(FileEntry { content: Some(c), .. }) => Ok(c),
        Some(_) => Err(format!("{path} could not be read")),
        None => Err(format!("{path} does not exist")),
    }
}

fn shadow<'a>(ctx: &'a Context<'_>) -> Result<&'a [ShadowEntry], String> {
    match ctx.facts.get(&FactKey::ShadowSummary) {
        Some(FactValue::Shadow(s)) => Ok(s),
        Some(FactValue::Error(e)) => Err(format!("could not read /etc/shadow: {e}")),
        _ => Err("the shadow summary was not collected".to_owned()),
    }
}

fn homes<'a>(ctx: &'a Context<'_>) -> Result<&'a [FileEntry], String> {
    match ctx.facts.get(&FactKey::HomeDirs) {
        Some(FactValue::Files(f)) => Ok(f),
        Some(FactValue::Error(e)) => Err(format!("could not stat home directories: {e}")),
        _ => Err("home directories were not collected".to_owned()),
    }
}

pub fn evaluate(c: &Accounts, ctx: &Context<'_>) -> Outcome {
    match judge(c, ctx) {
        Ok((offenders, what, source, observed)) => {
            let ev = ctx.evidence(
                "accounts",
                source,
                format!("no {what}"),
                if offenders.is_empty() { "none".to_owned() } else { offenders.join(", ") },
                &observed,
            );
            Outcome::judge(
                offenders.is_empty(),
                format!("no {what}"),
                format!("{what}: {}", offenders.join(", ")),
            )
            .with(ev)
        }
        Err(e) => Outcome::error(e),
    }
}

type Judgement = (Vec<String>, String, String, String);

fn judge(c: &Accounts, ctx: &Context<'_>) -> Result<Judgement, String> {
    let passwd = text(ctx, PASSWD)?;
    let group = text(ctx, GROUP)?;
    let us = users(passwd);
    let gs = groups(group);
    let bound = || -> Result<i64, String> {
        let v = c.value.as_ref().ok_or("no bound given")?;
        let v = ctx.resolve(v)?;
        v.to_text().parse::<i64>().map_err(|_| format!("bound `{v}` is not an integer"))
    };
    let aged = |f: &dyn Fn(&ShadowEntry) -> bool, what: &str| -> Result<Judgement, String> {
        let s = shadow(ctx)?;
        let bad: Vec<String> =
            s.iter().filter(|e| e.state == PasswordState::Hashed && f(e)).map(|e| e.user.clone()).collect();
        let observed = s
            .iter()
            .map(|e| {
                format!(
                    "{} {:?} min={} max={} warn={} inactive={}",
                    e.user,
                    e.state,
                    days(e.min_days),
                    days(e.max_days),
                    days(e.warn_days),
                    days(e.inactive_days)
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        Ok((bad, what.to_owned(), "/etc/shadow (summary)".to_owned(), observed))
    };
    let p = |v: Vec<String>, what: &str| Ok((v, what.to_owned(), PASSWD.to_owned(), passwd.to_owned()));
    let g = |v: Vec<String>, what: &str| Ok((v, what.to_owned(), GROUP.to_owned(), group.to_owned()));
    match c.assert {
        A::OnlyRootUidZero => p(
            us.iter().filter(|u| u.uid == Some(0) && u.name != "root").map(|u| u.name.to_owned()).collect(),
            "account other than root with UID 0",
        ),
        A::RootGidZero => p(
            us.iter()
                .filter(|u| u.name == "root" && u.gid != Some(0))
                .map(|u| format!("root has GID {}", id_text(u.gid)))
                .collect(),
            "root primary group other than GID 0",
        ),
        A::ShadowedPasswords => p(
            us.iter().filter(|u| u.password != "x").map(|u| u.name.to_owned()).collect(),
            "account with a password outside /etc/shadow",
        ),
        A::UniqueUids => {
            p(duplicates(us.iter().filter_map(|u| u.uid).map(|i| i.to_string())), "duplicate UID")
        }
        A::UniqueUserNames => p(duplicates(us.iter().map(|u| u.name.to_owned())), "duplicate user name"),
        A::UniqueGids => g(duplicates(gs.iter().filter_map(|x| x.1).map(|i| i.to_string())), "duplicate GID"),
        A::UniqueGroupNames => g(duplicates(gs.iter().map(|x| x.0.to_owned())), "duplicate group name"),
        A::GroupsExist => p(
            us.iter()
                .filter(|u| !gs.iter().any(|x| x.1 == u.gid))
                .map(|u| format!("{} (GID {})", u.name, id_text(u.gid)))
                .collect(),
            "account whose primary group does not exist",
        ),
        A::ShadowGroupEmpty => {
            let mut bad = Vec::new();
            for (_, gid, members) in gs.iter().filter(|x| x.0 == "shadow") {
                bad.extend(members.iter().map(|m| format!("member {m}")));
                bad.extend(
                    us.iter()
                        .filter(|u| gid.is_some() && u.gid == *gid)
                        .map(|u| format!("primary group of {}", u.name)),
                );
            }
            g(bad, "user in the shadow group")
        }
        A::NoEmptyPasswords => {
            let s = shadow(ctx)?;
            let mut bad: Vec<String> =
                s.iter().filter(|e| e.state == PasswordState::Empty).map(|e| e.user.clone()).collect();
            bad.extend(
                us.iter().filter(|u| u.password.is_empty()).map(|u| format!("{} (in passwd)", u.name)),
            );
            let observed =
                s.iter().map(|e| format!("{} {:?}", e.user, e.state)).collect::<Vec<_>>().join("\n");
            Ok((
                bad,
                "account with an empty password".to_owned(),
                "/etc/shadow (summary)".to_owned(),
                observed,
            ))
        }
        A::PasswordMaxDays => {
            let b = bound()?;
            aged(
                &|e| e.max_days.is_none_or(|d| d > b || d < 0),
                &format!("password account with maximum age above {b} days"),
            )
        }
        A::PasswordMinDays => {
            let b = bound()?;
            aged(
                &|e| e.min_days.is_none_or(|d| d < b),
                &format!("password account with minimum age below {b} days"),
            )
        }
        A::PasswordWarnDays => {
            let b = bound()?;
            aged(
                &|e| e.warn_days.is_none_or(|d| d < b),
                &format!("password account warned fewer than {b} days ahead"),
            )
        }
        A::InactiveDays => {
            let b = bound()?;
            aged(
                &|e| e.inactive_days.is_none_or(|d| d > b || d < 0),
                &format!("password account with inactivity lock above {b} days"),
            )
        }
        A::HomeDirsExist | A::HomeDirsOwned | A::HomeDirsMode => {
            let hs = homes(ctx)?;
            let mut bad = Vec::new();
            for u in us.iter().filter(|u| u.interactive()) {
                let Some(h) = hs.iter().find(|h| h.path == u.home) else {
                    if c.assert == A::HomeDirsExist {
                        bad.push(format!("{} ({} missing)", u.name, u.home));
                    }
                    continue;
                };
                match c.assert {
                    A::HomeDirsOwned if Some(h.uid) != u.uid => {
                        bad.push(format!("{} ({} owned by {})", u.name, u.home, h.user))
                    }
                    A::HomeDirsMode => {
                        let max = c.mode.map_or(0o750, |m| m.0);
                        if h.mode & 0o7777 & !max != 0 {
                            bad.push(format!("{} ({} mode {:04o})", u.name, u.home, h.mode));
                        }
                    }
                    _ => {}
                }
            }
            let what = match c.assert {
                A::HomeDirsExist => "interactive user without a home directory".to_owned(),
                A::HomeDirsOwned => "home directory not owned by its user".to_owned(),
                _ => format!("home directory more permissive than {:04o}", c.mode.map_or(0o750, |m| m.0)),
            };
            let observed = hs.iter().map(super::files::describe_entry).collect::<Vec<_>>().join("\n");
            Ok((bad, what, "home directories".to_owned(), observed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::testkit::{Fixture, entry};

    const PW: &str = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/bash\n";
    const GR: &str = "root:x:0:\ndaemon:x:1:\nshadow:x:42:\nalice:x:1000:\n";

    fn shadow_entry(user: &str, state: PasswordState, max: Option<i64>) -> ShadowEntry {
        ShadowEntry {
            user: user.into(),
            state,
            last_change: Some(19000),
            min_days: Some(1),
            max_days: max,
            warn_days: Some(7),
            inactive_days: Some(30),
        }
    }

    fn host(pw: &str, gr: &str) -> Fixture {
        let mut alice_home = entry("/home/alice", 0o750, None);
        alice_home.uid = 1000;
        alice_home.user = "alice".into();
        Fixture::new()
            .file(PASSWD, 0o644, pw)
            .file(GROUP, 0o644, gr)
            .fact(
                FactKey::ShadowSummary,
                FactValue::Shadow(vec![
                    shadow_entry("root", PasswordState::Locked, None),
                    shadow_entry("alice", PasswordState::Hashed, Some(365)),
                ]),
            )
            .fact(FactKey::HomeDirs, FactValue::Files(vec![entry("/root", 0o700, None), alice_home]))
    }

    #[test]
    fn integrity_assertions_pass_on_a_clean_host() {
        let f = host(PW, GR);
        for a in [
            "only_root_uid_zero",
            "root_gid_zero",
            "shadowed_passwords",
            "unique_uids",
            "unique_gids",
            "unique_user_names",
            "unique_group_names",
            "groups_exist",
            "shadow_group_empty",
            "no_empty_passwords",
            "home_dirs_exist",
            "home_dirs_owned",
        ] {
            f.expect(&format!("accounts: {{assert: {a}}}"), Status::Pass);
        }
        f.expect("accounts: {assert: home_dirs_mode, mode: '0750'}", Status::Pass);
        f.expect("accounts: {assert: password_max_days, value: 365}", Status::Pass);
    }

    #[test]
    fn integrity_assertions_fail_on_a_broken_host() {
        let pw = format!("{PW}toor:x:0:0::/root:/bin/bash\nbob::1000:4242::/home/bob:/bin/sh\n");
        let gr = format!("{GR}shadow:x:42:bob\n");
        let f = host(&pw, &gr);
        f.expect("accounts: {assert: only_root_uid_zero}", Status::Fail);
        f.expect("accounts: {assert: shadowed_passwords}", Status::Fail);
        f.expect("accounts: {assert: unique_uids}", Status::Fail);
        f.expect("accounts: {assert: unique_group_names}", Status::Fail);
        f.expect("accounts: {assert: groups_exist}", Status::Fail);
        f.expect("accounts: {assert: shadow_group_empty}", Status::Fail);
        f.expect("accounts: {assert: no_empty_passwords}", Status::Fail);
        f.expect("accounts: {assert: home_dirs_exist}", Status::Fail);
        f.expect("accounts: {assert: home_dirs_mode, mode: '0700'}", Status::Fail);
        f.expect("accounts: {assert: password_max_days, value: 90}", Status::Fail);
    }

    #[test]
    fn missing_facts_are_errors() {
        Fixture::new().expect("accounts: {assert: unique_uids}", Status::Error);
        Fixture::new()
            .file(PASSWD, 0o644, PW)
            .file(GROUP, 0o644, GR)
            .expect("accounts: {assert: no_empty_passwords}", Status::Error);
    }

    #[test]
    fn malformed_account_lines_do_not_count_as_root() {
        let pw = format!("{PW}broken\nx:y\nweird:x:notanumber:0::/:/bin/sh\n");
        let f = host(&pw, GR);
        f.expect("accounts: {assert: only_root_uid_zero}", Status::Pass);
        f.expect("accounts: {assert: unique_uids}", Status::Pass);
        f.expect("accounts: {assert: shadowed_passwords}", Status::Fail);
    }
}
