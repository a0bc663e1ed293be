//! config_value: `key <delimiter> value` files with drop-ins, and the shared parsing used by
//! sysctl, modprobe and sshd.

use std::collections::BTreeMap;

use crate::facts::{FactKey, FileEntry, FileKind};
use crate::rule::{ConfigValue, MatchOrder};

use super::compare::{compare, describe};
use super::files::content_key;
use super::{Context, Outcome, Status};

/// One `key value` line found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub value: String,
}

impl Setting {
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// Split a line into key and value. `None` delimiter means the first run of whitespace.
pub fn split_line<'a>(line: &'a str, delimiter: Option<&str>) -> Option<(&'a str, &'a str)> {
    let (k, v) = match delimiter {
        None => {
            let i = line.find(char::is_whitespace)?;
            (&line[..i], &line[i..])
        }
        Some(d) => line.split_once(d)?,
    };
    let v = v.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
        .unwrap_or(v);
    Some((k.trim(), v))
}

/// Every setting in `files`, in order, skipping blank and comment lines.
pub fn settings(files: &[&FileEntry], delimiter: Option<&str>, comment: &str) -> Vec<Setting> {
    let mut out = Vec::new();
    for f in files {
        let Some(text) = &f.content else { continue };
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || (!comment.is_empty() && line.starts_with(comment)) {
                continue;
            }
            if let Some((k, v)) = split_line(line, delimiter) {
                out.push(Setting {
                    file: f.path.clone(),
                    line: i + 1,
                    key: k.to_owned(),
                    value: v.to_owned(),
                });
            }
        }
    }
    out
}

/// Files of several drop-in directories in effective order: sorted by file name, and a file
/// name present in an earlier directory hides the same name in later ones (systemd and
/// modprobe semantics: /etc overrides /run overrides /usr/lib).
pub fn merge_dirs<'a>(dirs: &[&'a [FileEntry]]) -> Vec<&'a FileEntry> {
    let mut by_name: BTreeMap<&str, &FileEntry> = BTreeMap::new();
    for entries in dirs {
        for e in entries.iter().filter(|e| e.kind == FileKind::Regular) {
            let name = e.path.rsplit('/').next().unwrap_or(&e.path);
            by_name.entry(name).or_insert(e);
        }
    }
    by_name.into_values().collect()
}

pub fn needs(c: &ConfigValue, out: &mut Vec<FactKey>) {
    out.push(content_key(c.path.as_str()));
    out.extend(c.dropins.iter().map(|d| content_key(d.as_str())));
}

pub fn evaluate(c: &ConfigValue, ctx: &Context<'_>) -> Outcome {
    let path = c.path.as_str();
    let main: Vec<&FileEntry> = match ctx.facts.files(path, true) {
        Ok(e) => e.iter().filter(|e| e.kind == FileKind::Regular).collect(),
        Err(e) => return Outcome::error(e),
    };
    let mut files: Vec<&FileEntry> = if c.dropins_first { Vec::new() } else { main.clone() };
    if c.dropins_merged {
        let mut dirs = Vec::new();
        for d in c.dropins.iter().rev() {
            match ctx.facts.files(d.as_str(), true) {
                Ok(entries) => dirs.push(entries),
                Err(e) => return Outcome::error(e),
            }
        }
        files.extend(merge_dirs(&dirs));
    }
    for d in c.dropins.iter().filter(|_| !c.dropins_merged) {
        match ctx.facts.files(d.as_str(), true) {
            Ok(entries) => {
                let mut sorted: Vec<&FileEntry> =
                    entries.iter().filter(|e| e.kind == FileKind::Regular).collect();
                sorted.sort_by(|a, b| a.path.cmp(&b.path));
                files.extend(sorted);
            }
            Err(e) => return Outcome::error(e),
        }
    }
    if c.dropins_first {
        files.extend(main);
    }
    if let Some(f) = files.iter().find(|f| f.content.is_none()) {
        return Outcome::error(format!("{} exists but could not be read", f.path));
    }
    let expected = match ctx.resolve(&c.value) {
        Ok(v) => v,
        Err(e) => return Outcome::error(e),
    };
    let want = format!("{} {}", c.key, describe(c.comparator, &expected));
    let key = c.key.as_str();
    let all = settings(&files, c.delimiter.as_deref(), &c.comment);
    let matching: Vec<&Setting> = all
        .iter()
        .filter(|s| if c.case_insensitive_key { s.key.eq_ignore_ascii_case(key) } else { s.key == key })
        .collect();
    let chosen = match c.r#match {
        MatchOrder::First => matching.first(),
        MatchOrder::Last => matching.last(),
    };
    let sources = files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", ");
    let Some(setting) = chosen else {
        let reason = if files.is_empty() {
            format!("{path} does not exist")
        } else {
            format!("{key} is not set in {sources}")
        };
        return Outcome::new(c.missing.into(), reason).with(ctx.evidence(
            "config_value",
            if sources.is_empty() { path } else { &sources },
            want,
            "not set",
            "",
        ));
    };
    // A file that can hold secrets shows where the key is set and whether it complies, never
    // its value.
    let hide = files.iter().any(|f| ctx.hides(&f.path));
    let observed: Vec<String> =
        matching.iter().map(|s| format!("{}: {} {}", s.location(), s.key, s.value)).collect();
    let actual = if hide { "set (value withheld)" } else { setting.value.as_str() };
    let ev =
        ctx.evidence_hiding(hide, "config_value", setting.location(), &want, actual, &observed.join("\n"));
    let shown = if hide { "set" } else { setting.value.as_str() };
    match compare(&setting.value, c.comparator, &expected, false) {
        Ok(ok) => Outcome::judge(
            ok,
            format!("{key} is {shown} at {}", setting.location()),
            format!(
                "{key} is {shown} at {}, expected {}",
                setting.location(),
                describe(c.comparator, &expected)
            ),
        )
        .with(ev),
        Err(_) if hide => Outcome {
            status: Status::Fail,
            reason: format!(
                "{key} at {}: the value cannot be compared with {}",
                setting.location(),
                describe(c.comparator, &expected)
            ),
            evidence: vec![ev],
        },
        Err(e) => Outcome {
            status: Status::Fail,
            reason: format!("{key} at {}: {e}", setting.location()),
            evidence: vec![ev],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::testkit::{Fixture, entry};

    #[test]
    fn split_handles_delimiters_and_quotes() {
        assert_eq!(split_line("PASS_MAX_DAYS   365", None), Some(("PASS_MAX_DAYS", "365")));
        assert_eq!(split_line("minlen = 14", Some("=")), Some(("minlen", "14")));
        assert_eq!(split_line("TMOUT=\"900\"", Some("=")), Some(("TMOUT", "900")));
        assert_eq!(split_line("lonely", None), None);
    }

    fn login_defs() -> Fixture {
        Fixture::new().file(
            "/etc/login.defs",
            0o644,
            "# PASS_MAX_DAYS 99999\nPASS_MAX_DAYS\t99999\nPASS_MAX_DAYS 365\nUMASK 022\n",
        )
    }

    #[test]
    fn last_match_wins_by_default_and_first_on_request() {
        let f = login_defs();
        f.expect(
            "config_value: {path: /etc/login.defs, key: PASS_MAX_DAYS, comparator: '<=', value: 365}",
            Status::Pass,
        );
        f.expect(
            "config_value: {path: /etc/login.defs, key: PASS_MAX_DAYS, comparator: '<=', value: 365, match: first}",
            Status::Fail,
        );
        f.expect("config_value: {path: /etc/login.defs, key: umask, value: '027'}", Status::Fail);
        f.expect(
            "config_value: {path: /etc/login.defs, key: umask, value: '022', case_insensitive_key: false}",
            Status::Fail,
        );
    }

    #[test]
    fn missing_key_and_missing_file_follow_missing() {
        let f =
            login_defs().absent(&["/etc/security/pwquality.conf", "/etc/security/pwquality.conf.d/*.conf"]);
        f.expect(
            "config_value: {path: /etc/login.defs, key: PASS_MIN_DAYS, comparator: '>=', value: 1}",
            Status::Fail,
        );
        f.expect(
            "config_value: {path: /etc/login.defs, key: PASS_MIN_DAYS, comparator: '>=', value: 1, missing: pass}",
            Status::Pass,
        );
        f.expect(
            "config_value: {path: /etc/security/pwquality.conf, dropins: [/etc/security/pwquality.conf.d/*.conf], key: minlen, delimiter: '=', comparator: '>=', value: 14}",
            Status::Fail,
        );
    }

    #[test]
    fn dropins_override_the_main_file_in_name_order() {
        let f = Fixture::new().file("/etc/security/pwquality.conf", 0o644, "minlen = 8\n").entries(
            "/etc/security/pwquality.conf.d/*.conf",
            vec![
                entry("/etc/security/pwquality.conf.d/90-late.conf", 0o644, Some("minlen = 9\n")),
                entry("/etc/security/pwquality.conf.d/50-cis.conf", 0o644, Some("minlen = 14\n")),
            ],
        );
        let out = f.expect(
            "config_value: {path: /etc/security/pwquality.conf, dropins: [/etc/security/pwquality.conf.d/*.conf], key: minlen, delimiter: '=', comparator: '>=', value: 14}",
            Status::Fail,
        );
        assert!(out.reason.contains("90-late.conf"), "{}", out.reason);
    }

    #[test]
    fn non_numeric_value_for_numeric_comparison_fails_with_reason() {
        let f = Fixture::new().file("/etc/x.conf", 0o644, "limit abc\n");
        let out = f
            .expect("config_value: {path: /etc/x.conf, key: limit, comparator: '>', value: 1}", Status::Fail);
        assert!(out.reason.contains("not an integer"));
    }

    #[test]
    fn merge_dirs_lets_earlier_directories_hide_same_names() {
        let etc = vec![entry("/etc/sysctl.d/10-a.conf", 0o644, Some("x=1"))];
        let usr = vec![
            entry("/usr/lib/sysctl.d/10-a.conf", 0o644, Some("x=2")),
            entry("/usr/lib/sysctl.d/05-b.conf", 0o644, Some("x=3")),
        ];
        let merged = merge_dirs(&[&etc, &usr]);
        let paths: Vec<&str> = merged.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/usr/lib/sysctl.d/05-b.conf", "/etc/sysctl.d/10-a.conf"]);
    }

    #[test]
    fn malformed_lines_are_skipped_not_misread() {
        let f = Fixture::new().file(
            "/etc/login.defs",
            0o644,
            "=====\nPASS_MAX_DAYS\n\u{0}\u{1} junk\nUMASK 027\n",
        );
        f.expect(
            "config_value: {path: /etc/login.defs, key: PASS_MAX_DAYS, comparator: '<=', value: 365}",
            Status::Fail,
        );
        f.expect("config_value: {path: /etc/login.defs, key: UMASK, value: '027'}", Status::Pass);
    }

    #[test]
    fn dropins_first_lets_the_main_file_win() {
        let f = Fixture::new().file("/etc/security/pwquality.conf", 0o644, "minlen = 14\n").entries(
            "/etc/security/pwquality.conf.d/*.conf",
            vec![entry("/etc/security/pwquality.conf.d/50-old.conf", 0o644, Some("minlen = 8\n"))],
        );
        let check = "config_value: {path: /etc/security/pwquality.conf, dropins: [/etc/security/pwquality.conf.d/*.conf], dropins_first: true, key: minlen, delimiter: '=', comparator: '>=', value: 14}";
        f.expect(check, Status::Pass);
        f.expect(&check.replace("dropins_first: true", "dropins_first: false"), Status::Fail);
    }

    #[test]
    fn merged_dropins_follow_systemd_precedence() {
        let f = Fixture::new()
            .file("/etc/systemd/journald.conf", 0o644, "[Journal]\nStorage=auto\n")
            .entries(
                "/usr/lib/systemd/journald.conf.d/*.conf",
                vec![
                    entry("/usr/lib/systemd/journald.conf.d/10-a.conf", 0o644, Some("Storage=volatile\n")),
                    entry(
                        "/usr/lib/systemd/journald.conf.d/90-vendor.conf",
                        0o644,
                        Some("Storage=volatile\n"),
                    ),
                ],
            )
            .absent(&["/run/systemd/journald.conf.d/*.conf"])
            .entries(
                "/etc/systemd/journald.conf.d/*.conf",
                vec![
                    entry("/etc/systemd/journald.conf.d/50-cis.conf", 0o644, Some("Storage=persistent\n")),
                    entry("/etc/systemd/journald.conf.d/90-vendor.conf", 0o644, Some("# masked\n")),
                ],
            );
        let check = "config_value: {path: /etc/systemd/journald.conf, dropins: [/usr/lib/systemd/journald.conf.d/*.conf, /run/systemd/journald.conf.d/*.conf, /etc/systemd/journald.conf.d/*.conf], dropins_merged: true, delimiter: '=', key: Storage, value: persistent}";
        // /etc's 90-vendor.conf hides /usr/lib's, and 50-cis sorts after 10-a: persistent wins.
        f.expect(check, Status::Pass);
        // Read directory by directory instead, /usr/lib's 90-vendor.conf would not be hidden.
        f.expect(&check.replace(", dropins_merged: true", ""), Status::Pass);
        let g = Fixture::new()
            .file("/etc/systemd/journald.conf", 0o644, "")
            .absent(&["/run/systemd/journald.conf.d/*.conf"])
            .entries(
                "/usr/lib/systemd/journald.conf.d/*.conf",
                vec![entry("/usr/lib/systemd/journald.conf.d/90-x.conf", 0o644, Some("Storage=volatile\n"))],
            )
            .entries(
                "/etc/systemd/journald.conf.d/*.conf",
                vec![entry("/etc/systemd/journald.conf.d/50-cis.conf", 0o644, Some("Storage=persistent\n"))],
            );
        // By file name, /usr/lib's 90-x.conf is read after /etc's 50-cis.conf and wins.
        g.expect(check, Status::Fail);
        g.expect(&check.replace(", dropins_merged: true", ""), Status::Pass);
    }

    #[test]
    fn secret_values_are_judged_but_never_shown() {
        let snmp = "rocommunity c0mmunity-secret 10.0.0.0/8\n";
        let f = Fixture::new().file("/etc/snmp/snmpd.conf", 0o600, snmp);
        let check = |v: &str| {
            format!(
                "config_value: {{path: /etc/snmp/snmpd.conf, key: rocommunity, comparator: matches, value: '{v}'}}"
            )
        };
        let out = f.expect_hidden(&check("^public"), Status::Fail, "c0mmunity");
        assert_eq!(out.reason, "rocommunity is set at /etc/snmp/snmpd.conf:1, expected matches ^public");
        assert_eq!(out.evidence[0].actual, "set (value withheld)");
        f.expect_hidden(&check("secret"), Status::Pass, "c0mmunity");
        // A sensitive rule withholds a value from any file.
        let defs = login_defs().sensitive();
        defs.expect_hidden(
            "config_value: {path: /etc/login.defs, key: UMASK, value: '077'}",
            Status::Fail,
            "022",
        );
    }
}
