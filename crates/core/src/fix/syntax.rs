//! How a config file's lines name their keys, exactly as the check reading that file does:
//! sshd's first word (case-insensitive, `=` allowed, global section up to `Match`), sysctl's
//! `key = value` (`/` or `.` separated, `;` comments), or a `config_value` check's own
//! delimiter, comment prefix and key case. An edit that misread a key would leave a line the
//! check still reads.

use crate::rule::{Check, Rule};

pub const SSHD_MAIN: &str = "/etc/ssh/sshd_config";
pub const SSHD_DROPIN_DIR: &str = "/etc/ssh/sshd_config.d";
pub const SYSCTL_CONF: &str = "/etc/sysctl.conf";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Split {
    /// `key value`: the key ends at the first whitespace.
    Whitespace,
    /// `key<delimiter>value`, spaces around either side trimmed.
    Delimiter(String),
    /// sshd: the key ends at whitespace or `=`.
    Sshd,
    /// sysctl: `key = value`, the key dotted or slashed, `-` prefix allowed.
    Sysctl,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Syntax {
    split: Split,
    case_insensitive: bool,
    /// Lines starting with one of these (after leading blanks) are comments.
    comments: Vec<String>,
}

fn is_sshd(path: &str) -> bool {
    path == SSHD_MAIN || path.strip_prefix(SSHD_DROPIN_DIR).is_some_and(|r| r.starts_with('/'))
}

fn is_sysctl(path: &str) -> bool {
    path == SYSCTL_CONF
        || [
            "/etc/sysctl.d/",
            "/run/sysctl.d/",
            "/usr/lib/sysctl.d/",
            "/usr/local/lib/sysctl.d/",
            "/lib/sysctl.d/",
        ]
        .iter()
        .any(|d| path.starts_with(d))
}

/// `*` and `?` wildcards that do not cross `/`, as the rule format's globs mean them.
pub(super) fn glob_matches(pattern: &[u8], path: &[u8]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_matches(&pattern[1..], path)
                || (path.first().is_some_and(|c| *c != b'/') && glob_matches(pattern, &path[1..]))
        }
        (Some(b'?'), Some(c)) if *c != b'/' => glob_matches(&pattern[1..], &path[1..]),
        (Some(p), Some(c)) if p == c => glob_matches(&pattern[1..], &path[1..]),
        _ => false,
    }
}

impl Syntax {
    pub fn sshd() -> Syntax {
        Syntax { split: Split::Sshd, case_insensitive: true, comments: vec!["#".into()] }
    }

    pub fn sysctl() -> Syntax {
        Syntax { split: Split::Sysctl, case_insensitive: false, comments: vec!["#".into(), ";".into()] }
    }

    /// The syntax the rule's checks read `path` with. `delimiter` is the step's own (used
    /// when no `config_value` check of the rule reads the file).
    pub fn for_path(rule: &Rule, path: &str, delimiter: Option<&str>) -> Syntax {
        if is_sshd(path) {
            return Syntax::sshd();
        }
        if is_sysctl(path) {
            return Syntax::sysctl();
        }
        let checks = rule.raw.implementations.iter().flat_map(|i| i.value.check.leaves());
        for check in checks {
            let Check::ConfigValue(c) = check else { continue };
            let reads = c.path.as_str() == path
                || c.dropins.iter().any(|d| glob_matches(d.as_str().as_bytes(), path.as_bytes()));
            if reads {
                return Syntax {
                    split: Syntax::split_for(c.delimiter.as_deref()),
                    case_insensitive: c.case_insensitive_key,
                    comments: if c.comment.is_empty() { Vec::new() } else { vec![c.comment.clone()] },
                };
            }
        }
        Syntax { split: Syntax::split_for(delimiter), case_insensitive: true, comments: vec!["#".into()] }
    }

    fn split_for(delimiter: Option<&str>) -> Split {
        match delimiter.map(str::trim) {
            None | Some("") => Split::Whitespace,
            Some(d) => Split::Delimiter(d.to_owned()),
        }
    }

    /// The key a line sets, normalized for comparison; `None` for blank, comment and
    /// malformed lines (which the check skips too).
    pub fn key_of(&self, line: &str) -> Option<String> {
        let line = line.trim();
        if line.is_empty() || self.comments.iter().any(|c| line.starts_with(c.as_str())) {
            return None;
        }
        let key = match &self.split {
            Split::Whitespace => &line[..line.find(char::is_whitespace)?],
            Split::Delimiter(d) => line.split_once(d.as_str())?.0.trim(),
            Split::Sshd => line.split(|c: char| c.is_whitespace() || c == '=').next()?,
            Split::Sysctl => {
                let k = line.split_once('=')?.0.trim();
                return Some(k.trim_start_matches('-').replace('/', "."));
            }
        };
        Some(if self.case_insensitive { key.to_ascii_lowercase() } else { key.to_owned() })
    }

    /// The normalized form of a key written by a step.
    pub fn normalize(&self, key: &str) -> String {
        match self.split {
            Split::Sysctl => key.replace('/', "."),
            _ if self.case_insensitive => key.to_ascii_lowercase(),
            _ => key.to_owned(),
        }
    }

    /// Does this line start a section whose settings are not global (sshd's `Match`)?
    pub fn ends_global_section(&self, line: &str) -> bool {
        self.split == Split::Sshd && self.key_of(line).is_some_and(|k| k == "match")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_as_each_check_reads_them() {
        let s = Syntax::sshd();
        assert_eq!(s.key_of("  PermitRootLogin=yes").as_deref(), Some("permitrootlogin"));
        assert_eq!(s.key_of("#PermitRootLogin no"), None);
        assert!(s.ends_global_section("Match User bob"));
        let y = Syntax::sysctl();
        assert_eq!(y.key_of("-net/ipv4/ip_forward = 1").as_deref(), Some("net.ipv4.ip_forward"));
        assert_eq!(y.key_of("; net.ipv4.ip_forward = 1"), None);
        let w = Syntax { split: Split::Whitespace, case_insensitive: true, comments: vec!["#".into()] };
        assert_eq!(w.key_of("UMASK\t022").as_deref(), Some("umask"));
        assert_eq!(w.key_of("UMASK"), None, "a lone key is not a setting for the check either");
        let d = Syntax { split: Split::Delimiter("=".into()), case_insensitive: false, comments: vec![] };
        assert_eq!(d.key_of(" inet_interfaces = all").as_deref(), Some("inet_interfaces"));
        assert_eq!(d.key_of("# x = 1").as_deref(), Some("# x"), "no comment prefix: the check reads it too");
    }

    #[test]
    fn globs_match_within_one_directory() {
        assert!(glob_matches(b"/etc/x.d/*.conf", b"/etc/x.d/50-a.conf"));
        assert!(!glob_matches(b"/etc/x.d/*.conf", b"/etc/x.d/sub/a.conf"));
        assert!(glob_matches(b"/etc/a?c", b"/etc/abc"));
        assert!(!glob_matches(b"/etc/a?c", b"/etc/a/c"));
    }
}
