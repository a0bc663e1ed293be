//! grub_parameter_set as an edit of `/etc/default/grub`: the parameter in
//! `GRUB_CMDLINE_LINUX` (where the check's fallback reads it, and where the regenerated boot
//! entries take it from). The file is sourced by a shell, so a word that could expand or end
//! the quotes is refused before it is written.

use super::lines::Lines;

pub const DEFAULT_GRUB: &str = "/etc/default/grub";
const VARS: [&str; 2] = ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"];

/// Refuse a `name=value` word that is not one plain kernel command-line word.
pub(super) fn check_word(word: &str) -> Result<(), String> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || "\"'`$\\".contains(c);
    match word.chars().find(|c| bad(*c)) {
        Some(c) => Err(format!("`{word}` cannot go on the kernel command line (it contains {c:?})")),
        None => Ok(()),
    }
}

/// One `VAR="words"` line split into its parts.
struct CmdLine<'a> {
    indent: &'a str,
    var: &'a str,
    quote: char,
    words: Vec<&'a str>,
}

fn parse(line: &str) -> Option<CmdLine<'_>> {
    let indent = &line[..line.len() - line.trim_start().len()];
    let (var, value) = line.trim().split_once('=')?;
    let var = VARS.into_iter().find(|v| *v == var)?;
    let value = value.trim_end();
    let (quote, inner) = ['"', '\'']
        .into_iter()
        .find_map(|q| value.strip_prefix(q).and_then(|v| v.strip_suffix(q)).map(|v| (q, v)))
        .unwrap_or(('"', value));
    Some(CmdLine { indent, var, quote, words: inner.split_whitespace().collect() })
}

fn render(c: &CmdLine<'_>, words: &[&str]) -> String {
    format!("{}{}={q}{}{q}", c.indent, c.var, words.join(" "), q = c.quote)
}

/// Put `word` (`name` or `name=value`) in place of every setting of `name` on the command
/// lines (one occurrence kept); add it to `GRUB_CMDLINE_LINUX` when no line has it.
pub(super) fn set_parameter(doc: &mut Lines, name: &str, word: &str) {
    let is_name = |w: &str| w == name || w.split_once('=').is_some_and(|(k, _)| k == name);
    let mut found = false;
    let mut last_linux = None;
    for i in 0..doc.len() {
        let text = doc.text(i).into_owned();
        let Some(c) = parse(&text) else { continue };
        if c.var == VARS[0] {
            last_linux = Some(i);
        }
        if !c.words.iter().any(|w| is_name(w)) {
            continue;
        }
        let mut words = Vec::new();
        for w in &c.words {
            if !is_name(w) {
                words.push(*w);
            } else if !found {
                words.push(word);
                found = true;
            }
        }
        doc.set(i, render(&c, &words));
    }
    if found {
        return;
    }
    match last_linux {
        Some(i) => {
            let text = doc.text(i).into_owned();
            let c = parse(&text).expect("the line parsed above");
            let mut words = c.words.clone();
            words.push(word);
            doc.set(i, render(&c, &words));
        }
        None => doc.push(format!("{}=\"{word}\"", VARS[0])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str, name: &str, word: &str) -> String {
        let mut doc = Lines::parse(text.as_bytes());
        set_parameter(&mut doc, name, word);
        String::from_utf8(doc.to_bytes()).unwrap()
    }

    #[test]
    fn parameter_added_or_replaced_on_the_command_line() {
        let text = "# GRUB_CMDLINE_LINUX=\"audit=0\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n";
        assert_eq!(
            edit(text, "audit", "audit=1"),
            "# GRUB_CMDLINE_LINUX=\"audit=0\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"audit=1\"\n"
        );
        let text = "GRUB_CMDLINE_LINUX_DEFAULT='quiet audit=0 splash audit=2'\nGRUB_CMDLINE_LINUX=\"x\"\n";
        assert_eq!(
            edit(text, "audit", "audit=1"),
            "GRUB_CMDLINE_LINUX_DEFAULT='quiet audit=1 splash'\nGRUB_CMDLINE_LINUX=\"x\"\n"
        );
        assert_eq!(
            edit("GRUB_TIMEOUT=5", "apparmor", "apparmor=1"),
            "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"apparmor=1\"\n"
        );
        assert_eq!(
            edit("GRUB_CMDLINE_LINUX=\"a b\"\n", "audit", "audit"),
            "GRUB_CMDLINE_LINUX=\"a b audit\"\n"
        );
    }

    #[test]
    fn words_that_a_shell_would_expand_are_refused() {
        assert!(check_word("audit_backlog_limit=8192").is_ok());
        for bad in ["a=$(id)", "a=\"b", "a=`x`", "a=b c", "a=\\", "a='"] {
            assert!(check_word(bad).is_err(), "{bad}");
        }
    }
}
