//! Accepted risks: an exception turns a rule's failure on some hosts (or every host) into
//! `excepted` until it expires, so that what is knowingly accepted stops hiding what is not.
//! This module reads the CLI's exceptions file and applies exceptions to results; the
//! server keeps its own (approved by a second person) and applies them the same way.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::eval::Status;
use crate::report::RuleResult;
use crate::rule::{Finding, FindingLevel, Rule};

/// A calendar day (proleptic Gregorian), as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Parse `YYYY-MM-DD`, refusing days a month does not have.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let date = Date { year: year as i32, month: u8::try_from(month).ok()?, day: u8::try_from(day).ok()? };
        ((1..=12).contains(&month) && day >= 1 && day <= u32::from(date.days_in_month())).then_some(date)
    }

    fn days_in_month(self) -> u8 {
        let leap = (self.year % 4 == 0 && self.year % 100 != 0) || self.year % 400 == 0;
        match self.month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// The day `days` after 1970-01-01 (the caller reads the clock; this crate does not).
    pub fn from_unix_days(days: i64) -> Date {
        // Howard Hinnant's days-to-civil algorithm.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Days since 1970-01-01 (the inverse of [`Date::from_unix_days`]).
    pub fn unix_days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a date (YYYY-MM-DD)")))
    }
}

/// One accepted risk: `rule` failing on `hosts` (every host when empty) is accepted until
/// the end of `expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub id: String,
    pub rule: String,
    /// Host names or addresses; empty means every host.
    pub hosts: Vec<String>,
    pub justification: String,
    pub expires: Date,
}

impl Exception {
    /// Whether it still holds on `today` (it holds through its expiry day).
    pub fn active_on(&self, today: Date) -> bool {
        today <= self.expires
    }

    fn covers(&self, rule: &str, host: &[&str]) -> bool {
        self.rule == rule && (self.hosts.is_empty() || self.hosts.iter().any(|h| host.contains(&h.as_str())))
    }
}

/// What an excepted result carries: which exception, why, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Excepted {
    pub id: String,
    pub justification: String,
    pub expires: Date,
}

/// Turn each failure an active exception covers into `excepted`, naming the exception.
/// `host` is every name the host goes by (name, address). Returns how many changed.
pub fn apply(results: &mut [RuleResult], exceptions: &[Exception], host: &[&str], today: Date) -> usize {
    let mut changed = 0;
    for r in results.iter_mut().filter(|r| r.verdict == Status::Fail) {
        if let Some(e) = exceptions.iter().find(|e| e.active_on(today) && e.covers(&r.rule_id, host)) {
            r.verdict = Status::Excepted;
            r.exception = Some(Excepted {
                id: e.id.clone(),
                justification: e.justification.clone(),
                expires: e.expires,
            });
            changed += 1;
        }
    }
    changed
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    exceptions: Vec<Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(default)]
    id: Option<Spanned<String>>,
    rule: Spanned<String>,
    #[serde(default)]
    hosts: Option<Vec<Spanned<String>>>,
    justification: Spanned<String>,
    expires: Spanned<String>,
}

/// An exceptions file, checked against the library: the exceptions in force on the day it
/// was read, and every problem (errors: the file is not used; warnings: an entry is
/// ignored, such as one that has expired).
#[derive(Debug, Default)]
pub struct ExceptionsFile {
    pub exceptions: Vec<Exception>,
    pub findings: Vec<Finding>,
}

impl ExceptionsFile {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.level == FindingLevel::Error)
    }
}

/// Read an exceptions file (`file` names it in findings): `exceptions:` is a list of
/// `{rule, hosts (optional), justification, expires: YYYY-MM-DD, id (optional)}`. An entry's
/// id defaults to `FILE:LINE`. Expired entries are left out with a warning.
pub fn parse(file: &str, text: &str, rules: &[Rule], today: Date) -> ExceptionsFile {
    let mut out = ExceptionsFile::default();
    let mut finding = |level, line: u64, column: u64, message: String| {
        let source_line = text.lines().nth(line.saturating_sub(1) as usize).unwrap_or_default().to_owned();
        out.findings.push(Finding {
            level,
            file: file.to_owned(),
            line: line.max(1),
            column: column.max(1),
            message,
            source_line,
        });
    };
    let raw: RawFile = match serde_saphyr::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            let msg = e.without_snippet().to_string();
            let first = msg.lines().next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let clean = match first.split_once(": ") {
                Some((head, rest)) if head.starts_with("line ") => rest,
                _ => first,
            };
            // The place is printed in front already.
            let clean = match clean.rfind(" at line ") {
                Some(i) if clean[i..].contains(", column ") => clean[..i].to_owned(),
                _ => clean.to_owned(),
            };
            finding(FindingLevel::Error, line, column, clean);
            return out;
        }
    };
    let mut exceptions = Vec::new();
    for entry in raw.exceptions {
        let at = entry.referenced;
        let e = entry.value;
        let mut ok = true;
        let rule = e.rule.value.trim().to_owned();
        if !rules.iter().any(|r| r.id() == rule) {
            let l = e.rule.referenced;
            finding(FindingLevel::Error, l.line(), l.column(), format!("unknown rule `{rule}`"));
            ok = false;
        }
        if e.justification.value.trim().is_empty() {
            let l = e.justification.referenced;
            finding(FindingLevel::Error, l.line(), l.column(), "the justification is empty".to_owned());
            ok = false;
        }
        let hosts: Vec<String> = e.hosts.iter().flatten().map(|h| h.value.trim().to_owned()).collect();
        if let Some(h) = e.hosts.as_ref().and_then(|hs| hs.iter().find(|h| h.value.trim().is_empty())) {
            let l = h.referenced;
            finding(FindingLevel::Error, l.line(), l.column(), "an empty host name".to_owned());
            ok = false;
        }
        if e.hosts.as_ref().is_some_and(Vec::is_empty) {
            let l = at;
            finding(
                FindingLevel::Error,
                l.line(),
                l.column(),
                "`hosts` is empty: leave it out to mean every host".to_owned(),
            );
            ok = false;
        }
        let expires = match Date::parse(e.expires.value.trim()) {
            Some(d) => d,
            None => {
                let l = e.expires.referenced;
                finding(
                    FindingLevel::Error,
                    l.line(),
                    l.column(),
                    format!("`{}` is not a date (YYYY-MM-DD)", e.expires.value),
                );
                continue;
            }
        };
        let id = match &e.id {
            Some(id) if !id.value.trim().is_empty() => id.value.trim().to_owned(),
            _ => format!("{file}:{}", at.line()),
        };
        if !ok {
            continue;
        }
        let exception =
            Exception { id, rule, hosts, justification: e.justification.value.trim().to_owned(), expires };
        if !exception.active_on(today) {
            let l = e.expires.referenced;
            finding(
                FindingLevel::Warning,
                l.line(),
                l.column(),
                format!("the exception for `{}` expired on {expires}: ignored", exception.rule),
            );
            continue;
        }
        exceptions.push(exception);
    }
    out.exceptions = exceptions;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::Library;

    fn rules() -> Vec<Rule> {
        let yaml = "id: r1\ntitle: T\ndescription: d\nrationale: r\nseverity: low\ncategory: ssh\n\
                    platforms: [{family: debian}]\nimplementations:\n  - default: true\n    check: {file_exists: {path: /etc/hostname}}\n    remediation: {steps: [{manual: {guidance: g}}]}\n";
        let lib = Library::load([("r1.yml", yaml)]);
        assert!(lib.errors().next().is_none());
        lib.rules
    }

    fn day(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn dates_parse_strictly_and_count_days_both_ways() {
        assert_eq!(day("2024-02-29").to_string(), "2024-02-29");
        for bad in
            ["2023-02-29", "2024-13-01", "2024-00-10", "2024-4-01", "24-04-01", "2024-04-31", "2024-04-+1"]
        {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
        assert_eq!(Date::from_unix_days(0), day("1970-01-01"));
        assert_eq!(day("2026-12-07").unix_days(), 20_794);
        for n in [-1000, 0, 59, 60, 10_956, 20_794, 30_000] {
            assert_eq!(Date::from_unix_days(n).unix_days(), n);
        }
    }

    #[test]
    fn a_file_is_checked_with_places_and_expired_entries_are_ignored_with_a_warning() {
        let text = "exceptions:\n  - rule: r1\n    hosts: [web1]\n    justification: vendor appliance\n    expires: 2027-01-31\n\
                    \x20 - rule: r1\n    justification: old\n    expires: 2026-01-01\n\
                    \x20 - rule: nope\n    justification: ' '\n    expires: 2027-02-30\n";
        let f = parse("ex.yml", text, &rules(), day("2026-12-07"));
        let shown: Vec<String> =
            f.findings.iter().map(|x| x.to_string().lines().next().unwrap().to_owned()).collect();
        assert_eq!(
            shown,
            [
                "ex.yml:8:14: warning: the exception for `r1` expired on 2026-01-01: ignored",
                "ex.yml:9:11: error: unknown rule `nope`",
                "ex.yml:10:20: error: the justification is empty",
                "ex.yml:11:14: error: `2027-02-30` is not a date (YYYY-MM-DD)",
            ]
        );
        assert!(f.has_errors());
        assert_eq!(f.exceptions.len(), 1);
        assert_eq!(f.exceptions[0].id, "ex.yml:2");
        let bad = parse("ex.yml", "exceptions:\n  - rule: r1\n    reason: x\n", &rules(), day("2026-12-07"));
        assert!(
            bad.findings[0].to_string().starts_with("ex.yml:3:5: error: unknown field `reason`"),
            "{:?}",
            bad.findings
        );
    }
}
