//! sshd_config: the effective value from `sshd -T`, or, when that cannot run (no root, no
//! host keys), sshd's own first-match parsing of sshd_config and its Include files.

use crate::facts::{FactKey, FileEntry, FileKind};
use crate::rule::KeyComparison;

use super::compare::{compare, describe};
use super::files::content_key;
use super::{Context, Outcome, Status};

pub const SSHD_T: &[&str] = &["sshd", "-T"];
pub const MAIN: &str = "/etc/ssh/sshd_config";
pub const DROPINS: &str = "/etc/ssh/sshd_config.d/*.conf";

/// Keywords sshd assigns on every occurrence, so the last one read wins (servconf.c).
const LAST_WINS: &[&str] = &["maxstartups"];

/// OpenSSH's compiled-in defaults, used only when sshd -T is unavailable.
const DEFAULTS: &[(&str, &str)] = &[
    ("banner", "none"),
    ("clientalivecountmax", "3"),
    ("clientaliveinterval", "0"),
    ("disableforwarding", "no"),
    ("gssapiauthentication", "no"),
    ("hostbasedauthentication", "no"),
    ("ignorerhosts", "yes"),
    ("logingracetime", "120"),
    ("loglevel", "INFO"),
    ("maxauthtries", "6"),
    ("maxsessions", "10"),
    ("maxstartups", "10:30:100"),
    ("permitemptypasswords", "no"),
    ("permitrootlogin", "prohibit-password"),
    ("permituserenvironment", "no"),
    ("usepam", "no"),
    ("x11forwarding", "no"),
];

pub fn needs(out: &mut Vec<FactKey>) {
    out.push(FactKey::Command { argv: SSHD_T.iter().map(|s| (*s).to_owned()).collect() });
    out.push(content_key(MAIN));
    out.push(content_key(DROPINS));
}

/// Where an effective value came from.
struct Found {
    value: String,
    source: String,
    observed: String,
}

fn from_sshd_t(stdout: &str, key: &str) -> Option<Found> {
    let values: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim())
        .collect();
    (!values.is_empty()).then(|| Found {
        value: values.join(","),
        source: "sshd -T".to_owned(),
        observed: values.iter().map(|v| format!("{key} {v}")).collect::<Vec<_>>().join("\n"),
    })
}

/// A config line's keyword and value (`Key value` or `Key=value`).
fn keyword_value(line: &str) -> (&str, &str) {
    let (k, v) = line.split_once(|c: char| c.is_whitespace() || c == '=').unwrap_or((line, ""));
    (k, v.trim_start_matches(|c: char| c.is_whitespace() || c == '=').trim())
}

/// (line number, text) of a file's settings before its first `Match` block.
fn global_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .take_while(|(_, l)| !keyword_value(l).0.eq_ignore_ascii_case("match"))
}

/// The global (pre-`Match`) lines of sshd_config with Include expanded, in sshd's order.
fn config_lines<'a>(main: &'a FileEntry, dropins: &'a [FileEntry]) -> Vec<(String, usize, &'a str)> {
    let mut out = Vec::new();
    let Some(text) = &main.content else {
        return out;
    };
    for (n, line) in global_lines(text) {
        if !keyword_value(line).0.eq_ignore_ascii_case("include") {
            out.push((main.path.clone(), n, line));
            continue;
        }
        let mut files: Vec<&FileEntry> = dropins.iter().filter(|e| e.kind == FileKind::Regular).collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        for f in files {
            out.extend(global_lines(f.content.as_deref().unwrap_or("")).map(|(j, l)| (f.path.clone(), j, l)));
        }
    }
    out
}

fn from_files(ctx: &Context<'_>, key: &str) -> Result<Option<Found>, String> {
    let Some(main) = ctx.facts.file(MAIN)? else {
        return Ok(None);
    };
    let dropins = ctx.facts.files(DROPINS, true)?;
    let lines = config_lines(main, dropins);
    // sshd keeps the first value it reads for a keyword, except the few it overwrites.
    let mut matching = lines.iter().filter(|(_, _, text)| keyword_value(text).0.eq_ignore_ascii_case(key));
    let chosen = if LAST_WINS.contains(&key) { matching.next_back() } else { matching.next() };
    if let Some((file, line, text)) = chosen {
        let v = keyword_value(text).1;
        return Ok(Some(Found {
            value: v.to_owned(),
            source: format!("{file}:{line}"),
            observed: text.to_string(),
        }));
    }
    Ok(DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, v)| Found {
        value: (*v).to_owned(),
        source: format!("OpenSSH default (not set in {MAIN})"),
        observed: String::new(),
    }))
}

pub fn evaluate(c: &KeyComparison, ctx: &Context<'_>) -> Outcome {
    let key = c.key.as_str().to_ascii_lowercase();
    let expected = match ctx.resolve(&c.value) {
        Ok(v) => v,
        Err(e) => return Outcome::error(e),
    };
    let want = format!("{key} {}", describe(c.comparator, &expected));
    let sshd_t = match ctx.facts.command(SSHD_T) {
        Ok(o) => o,
        Err(e) => return Outcome::error(e),
    };
    let found = if sshd_t.exit_code == 0 {
        from_sshd_t(&sshd_t.stdout, &key)
    } else {
        match from_files(ctx, &key) {
            Ok(f) => f,
            Err(e) => return Outcome::error(e),
        }
    };
    let Some(found) = found else {
        if sshd_t.not_found() && matches!(ctx.facts.file(MAIN), Ok(None)) {
            return Outcome::new(Status::NotApplicable, "the OpenSSH server is not installed");
        }
        let why = if sshd_t.exit_code == 0 {
            "sshd -T does not report it".to_owned()
        } else {
            format!("sshd -T failed ({}) and it is not set in {MAIN}", sshd_t.stderr.trim())
        };
        return Outcome::fail(format!("{key} is unknown: {why}")).with(ctx.evidence(
            "sshd_config",
            "sshd -T",
            want,
            "unknown",
            &sshd_t.stderr,
        ));
    };
    let note = if sshd_t.exit_code == 0 {
        String::new()
    } else {
        format!(" (sshd -T unavailable: {}; read the files)", sshd_t.stderr.trim())
    };
    let ev = ctx.evidence("sshd_config", &found.source, &want, &found.value, &found.observed);
    match compare(&found.value, c.comparator, &expected, true) {
        Ok(ok) => Outcome::judge(
            ok,
            format!("{key} is {} ({}){note}", found.value, found.source),
            format!(
                "{key} is {} ({}), expected {}{note}",
                found.value,
                found.source,
                describe(c.comparator, &expected)
            ),
        )
        .with(ev),
        Err(e) => Outcome::fail(format!("{key}: {e}")).with(ev),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::testkit::{Fixture, entry};

    const T: &str = "port 22\npermitrootlogin no\nmaxauthtries 4\nciphers aes256-ctr,aes128-ctr\n";

    #[test]
    fn effective_config_from_sshd_t() {
        let f = Fixture::new().command(SSHD_T, 0, T).absent(&[MAIN, DROPINS]);
        f.expect("sshd_config: {key: PermitRootLogin, value: 'no'}", Status::Pass);
        f.expect("sshd_config: {key: maxauthtries, comparator: '<=', value: 4}", Status::Pass);
        f.expect("sshd_config: {key: maxauthtries, comparator: '<=', value: 3}", Status::Fail);
        f.expect("sshd_config: {key: ciphers, comparator: none_of, value: [3des-cbc]}", Status::Pass);
        f.expect("sshd_config: {key: ciphers, comparator: subset_of, value: [aes256-ctr]}", Status::Fail);
        f.expect("sshd_config: {key: nosuchkey, value: x}", Status::Fail);
    }

    #[test]
    fn fallback_is_first_match_with_dropins_at_include() {
        let f = Fixture::new()
            .command(SSHD_T, 1, "")
            .file(MAIN, 0o600, "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nMatch User bob\nMaxAuthTries 10\n")
            .entries(DROPINS, vec![entry("/etc/ssh/sshd_config.d/50-cis.conf", 0o600, Some("PermitRootLogin no\n"))]);
        let out = f.expect("sshd_config: {key: permitrootlogin, value: 'no'}", Status::Pass);
        assert!(out.reason.contains("50-cis.conf"), "{}", out.reason);
        // Inside a Match block does not count; the default applies.
        f.expect("sshd_config: {key: maxauthtries, comparator: '<=', value: 4}", Status::Fail);
    }

    #[test]
    fn absent_sshd_is_not_applicable_never_pass() {
        let f = Fixture::new().command(SSHD_T, 127, "").absent(&[MAIN, DROPINS]);
        f.expect("sshd_config: {key: permitrootlogin, value: 'no'}", Status::NotApplicable);
        let g = Fixture::new();
        g.expect("sshd_config: {key: permitrootlogin, value: 'no'}", Status::Error);
    }

    #[test]
    fn garbage_sshd_t_output_never_passes() {
        let f = Fixture::new().command(SSHD_T, 0, "garbage\n\n:::\n").absent(&[MAIN, DROPINS]);
        f.expect("sshd_config: {key: permitrootlogin, value: 'no'}", Status::Fail);
    }

    #[test]
    fn maxstartups_is_last_match_in_the_fallback() {
        let f = Fixture::new()
            .command(SSHD_T, 1, "")
            .file(MAIN, 0o600, "Include /etc/ssh/sshd_config.d/*.conf\nMaxStartups 10:30:60\n")
            .entries(
                DROPINS,
                vec![entry(
                    "/etc/ssh/sshd_config.d/00-a.conf",
                    0o600,
                    Some("MaxStartups 100:30:200\nMaxAuthTries 3\nMaxAuthTries 9\n"),
                )],
            );
        let out = f.expect("sshd_config: {key: maxstartups, value: '10:30:60'}", Status::Pass);
        assert!(out.reason.contains("/etc/ssh/sshd_config:2"), "{}", out.reason);
        f.expect("sshd_config: {key: maxauthtries, value: 3}", Status::Pass);
    }
}
