//! The config_set edit: one active line for a key, in the place of its first occurrence.

use super::lines::Lines;
use super::syntax::Syntax;

/// Where the edit may look and what it does when the key is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// Replace within the global section; add the line (at its end) when absent.
    Upsert,
    /// Replace only occurrences before line `limit` (e.g. sshd_config's `Include`); never add.
    ReplaceBefore(usize),
}

/// Make `line` the only setting of `key`: the first active line setting it becomes `line`,
/// later ones are dropped, comments and every other line stay byte for byte. Returns
/// whether the key was set before.
pub(super) fn set_key(doc: &mut Lines, syntax: &Syntax, key: &str, line: &str, reach: Reach) -> bool {
    let key = syntax.normalize(key);
    let section_end = (0..doc.len()).find(|i| syntax.ends_global_section(&doc.text(*i))).unwrap_or(doc.len());
    let end = match reach {
        Reach::Upsert => section_end,
        Reach::ReplaceBefore(limit) => limit.min(section_end),
    };
    let mut found = false;
    let mut i = 0;
    let mut end = end;
    while i < end {
        if syntax.key_of(&doc.text(i)).as_deref() == Some(key.as_str()) {
            if found {
                doc.remove(i);
                end -= 1;
                continue;
            }
            doc.set(i, line);
            found = true;
        }
        i += 1;
    }
    if !found && reach == Reach::Upsert {
        doc.insert(end, line);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str, key: &str, line: &str, reach: Reach) -> String {
        let mut doc = Lines::parse(text.as_bytes());
        set_key(&mut doc, &Syntax::sshd(), key, line, reach);
        String::from_utf8(doc.to_bytes()).unwrap()
    }

    #[test]
    fn first_occurrence_replaced_duplicates_dropped_comments_kept() {
        let text = "# PermitRootLogin yes\nPort 22\npermitrootlogin yes\n\tPermitRootLogin=without-password\nX11Forwarding no\n";
        assert_eq!(
            edit(text, "PermitRootLogin", "PermitRootLogin no", Reach::Upsert),
            "# PermitRootLogin yes\nPort 22\nPermitRootLogin no\nX11Forwarding no\n"
        );
    }

    #[test]
    fn absent_key_goes_before_the_first_match_block_or_at_the_end() {
        let text = "Port 22\nMatch User bob\n  MaxAuthTries 10\n";
        assert_eq!(
            edit(text, "MaxAuthTries", "MaxAuthTries 4", Reach::Upsert),
            "Port 22\nMaxAuthTries 4\nMatch User bob\n  MaxAuthTries 10\n"
        );
        assert_eq!(
            edit("Port 22", "MaxAuthTries", "MaxAuthTries 4", Reach::Upsert),
            "Port 22\nMaxAuthTries 4\n"
        );
        assert_eq!(edit("", "MaxAuthTries", "MaxAuthTries 4", Reach::Upsert), "MaxAuthTries 4\n");
    }

    #[test]
    fn replace_before_leaves_later_lines_and_never_adds() {
        let text = "MaxAuthTries 6\nInclude /etc/ssh/sshd_config.d/*.conf\nMaxAuthTries 8\n";
        assert_eq!(
            edit(text, "maxauthtries", "MaxAuthTries 4", Reach::ReplaceBefore(1)),
            "MaxAuthTries 4\nInclude /etc/ssh/sshd_config.d/*.conf\nMaxAuthTries 8\n"
        );
        assert_eq!(edit("Port 22\n", "MaxAuthTries", "MaxAuthTries 4", Reach::ReplaceBefore(1)), "Port 22\n");
    }
}
