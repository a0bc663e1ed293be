//! pam_module_arg as an edit of `/etc/pam.d/SERVICE`: every line of the wanted type that
//! calls the module directly gets the argument (replacing another value of it). Lines reached
//! through `include`/`substack` are not edited: the service file names the module itself or
//! the step cannot be planned.

use super::lines::Lines;

/// Byte ranges of a PAM line's tokens; a bracketed control such as
/// `[success=1 default=ignore]` is one token.
fn token_spans(line: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    let mut depth = 0i32;
    for (i, ch) in line.char_indices() {
        match ch {
            c if c.is_whitespace() && depth <= 0 => {
                if let Some(s) = start.take() {
                    out.push((s, i));
                }
            }
            c => {
                start.get_or_insert(i);
                depth += i32::from(c == '[') - i32::from(c == ']');
            }
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

/// Give every `kind` line of `module` the argument `arg` (`name` or `name=value`). Returns
/// how many lines call the module.
pub(super) fn set_arg(doc: &mut Lines, kind: &str, module: &str, name: &str, arg: &str) -> usize {
    let is_name = |t: &str| t == name || t.split_once('=').is_some_and(|(k, _)| k == name);
    let mut lines = 0;
    for i in 0..doc.len() {
        let text = doc.text(i).into_owned();
        if text.trim_start().starts_with('#') {
            continue;
        }
        let spans = token_spans(&text);
        let tok = |j: usize| &text[spans[j].0..spans[j].1];
        if spans.len() < 3
            || tok(0).trim_start_matches('-') != kind
            || matches!(tok(1), "include" | "substack")
            || tok(2).rsplit('/').next() != Some(module)
        {
            continue;
        }
        lines += 1;
        let mut out = String::with_capacity(text.len() + arg.len() + 1);
        let mut at = 0;
        let mut done = false;
        for &(s, e) in &spans[3..] {
            if !is_name(&text[s..e]) {
                continue;
            }
            if done {
                // Drop a repeated argument with the blanks before it.
                out.push_str(text[at..s].trim_end());
            } else {
                out.push_str(&text[at..s]);
                out.push_str(arg);
                done = true;
            }
            at = e;
        }
        out.push_str(&text[at..]);
        if !done {
            let trimmed = out.trim_end().len();
            out.truncate(trimmed);
            out.push(' ');
            out.push_str(arg);
        }
        doc.set(i, out);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str, arg: &str) -> (String, usize) {
        let mut doc = Lines::parse(text.as_bytes());
        let name = arg.split('=').next().unwrap();
        let n = set_arg(&mut doc, "password", "pam_pwhistory.so", name, arg);
        (String::from_utf8(doc.to_bytes()).unwrap(), n)
    }

    #[test]
    fn argument_added_or_replaced_on_the_module_lines_only() {
        let text = "# password requisite pam_pwhistory.so\n\
                    password\t[success=1 default=ignore]\tpam_pwhistory.so\tremember=5 use_authtok\n\
                    auth required pam_pwhistory.so\n\
                    password include common-password\n";
        let (out, n) = edit(text, "remember=24");
        assert_eq!(n, 1);
        assert_eq!(
            out,
            "# password requisite pam_pwhistory.so\n\
             password\t[success=1 default=ignore]\tpam_pwhistory.so\tremember=24 use_authtok\n\
             auth required pam_pwhistory.so\n\
             password include common-password\n"
        );
        let (out, _) = edit("-password requisite /lib/security/pam_pwhistory.so  \n", "enforce_for_root");
        assert_eq!(out, "-password requisite /lib/security/pam_pwhistory.so enforce_for_root\n");
        let (out, _) = edit("password required pam_pwhistory.so remember=1 x remember=2\n", "remember=24");
        assert_eq!(out, "password required pam_pwhistory.so remember=24 x\n");
        let (out, n) = edit("password required pam_unix.so\n", "remember=24");
        assert_eq!((out.as_str(), n), ("password required pam_unix.so\n", 0));
    }
}
