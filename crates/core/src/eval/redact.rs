//! What evidence must never show. A rule marked `sensitive`, and any read of a file on
//! [`SECRET_PATHS`] whatever the rule says, keeps the decision (which file, which line,
//! matched or not, counts) and withholds the text read, so passwords, hashes, keys and
//! tokens never reach reports, the database, the web UI or exports.

/// Files that hold secrets by design, as patterns (`*` spans any characters, `/` included;
/// `?` one character). Reading one always redacts its text, marked rule or not.
pub const SECRET_PATHS: &[&str] = &[
    // Account password hashes, current and previous.
    "/etc/shadow*",
    "/etc/gshadow*",
    "/etc/security/opasswd*",
    // Boot loader password hashes (GRUB 2's `password_pbkdf2` and GRUB2_PASSWORD).
    "/boot/grub*/grub.cfg",
    "/boot/grub*/user.cfg",
    "/boot/efi/EFI/*.cfg",
    "/etc/grub.d/*",
    // Clear-text client credentials in home directories.
    "*/.netrc",
    "*/.pgpass",
    "*/.my.cnf",
    "*/.git-credentials",
    "*/.aws/credentials",
    "*/.docker/config.json",
    // Password-less trust: which hosts and users may log in unchallenged.
    "*/.rhosts",
    "*/.shosts",
    "/etc/hosts.equiv",
    "/etc/shosts.equiv",
    // Shell histories: passwords typed on command lines.
    "*/.*_history",
    // Private keys.
    "*/.ssh/id_*",
    "/etc/ssh/ssh_host_*_key",
    "*.keytab",
    // Service secrets: SNMP communities and USM keys, PPP, LDAP binds, MySQL maintenance,
    // Wi-Fi pre-shared keys, repository and proxy credentials.
    "/etc/snmp/*",
    "/var/lib/snmp/*",
    "/etc/ppp/*secrets",
    "/etc/*.secret",
    "/etc/mysql/debian.cnf",
    "/etc/NetworkManager/system-connections/*",
    "/etc/wpa_supplicant/*",
    "/etc/apt/auth.conf*",
    "/etc/apt/apt.conf*",
    "/etc/apt/sources.list*",
];

/// Does `path` name (or, for a rule's glob, may it name) a file that holds secrets?
pub fn holds_secrets(path: &str) -> bool {
    SECRET_PATHS.iter().any(|p| wildcard(p.as_bytes(), path.as_bytes()))
}

/// What evidence shows in place of text it must not: only how many lines there were.
pub fn withheld(text: &str) -> String {
    match text.lines().count() {
        0 => String::new(),
        1 => "[withheld: 1 line]".to_owned(),
        n => format!("[withheld: {n} lines]"),
    }
}

/// Glob match where `*` spans any bytes (including `/`) and `?` one byte.
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_and_rule_globs_that_reach_them() {
        for path in [
            "/root/.netrc",
            "/home/bob/.netrc",
            "/home/*/.netrc",
            "/home/*/.rhosts",
            "/root/.shosts",
            "/boot/grub/grub.cfg",
            "/boot/grub2/user.cfg",
            "/etc/shadow-",
            "/etc/gshadow",
            "/var/lib/pgsql/.pgpass",
            "/etc/snmp/snmpd.conf",
            "/root/.bash_history",
            "/etc/ssh/ssh_host_ed25519_key",
            "/etc/apt/apt.conf.d/*",
            "/etc/apt/sources.list.d/*.list",
        ] {
            assert!(holds_secrets(path), "{path}");
        }
        for path in [
            "/etc/issue",
            "/etc/passwd",
            "/etc/ssh/ssh_host_ed25519_key.pub",
            "/etc/ssh/sshd_config",
            "/home/*/.forward",
            "/etc/default/grub",
            "/etc/sudoers",
        ] {
            assert!(!holds_secrets(path), "{path}");
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard(b"*", b""));
        assert!(wildcard(b"a*c", b"abbbc"));
        assert!(wildcard(b"a?c", b"abc"));
        assert!(!wildcard(b"a?c", b"ac"));
        assert!(wildcard(b"*/.x", b"/a/b/.x"));
        assert!(!wildcard(b"*/.x", b"/a/b/.xy"));
    }

    #[test]
    fn withheld_text_shows_only_its_line_count() {
        assert_eq!(withheld(""), "");
        assert_eq!(withheld("machine h login u password p\n"), "[withheld: 1 line]");
        assert_eq!(withheld("a\nb\nc"), "[withheld: 3 lines]");
    }
}
