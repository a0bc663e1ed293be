//! mount_option_set as an edit of `/etc/fstab` (so the options survive a reboot); the
//! running mount, which is what the check reads, gets them from a remount action.

use super::lines::Lines;

pub const FSTAB: &str = "/etc/fstab";

/// Byte ranges of a line's whitespace-separated fields.
fn fields(line: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

/// fstab escapes spaces and tabs in mount points as octal.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
}

/// The option that undoes `o` (`nodev` and `dev`, `nosuid` and `suid`, `noexec` and `exec`).
fn opposite(o: &str) -> Option<String> {
    match o.strip_prefix("no") {
        Some(rest @ ("dev" | "suid" | "exec")) => Some(rest.to_owned()),
        _ if matches!(o, "dev" | "suid" | "exec") => Some(format!("no{o}")),
        _ => None,
    }
}

/// Add `options` to every active entry for `mount_point`, dropping their opposites. Returns
/// how many entries there are.
pub(super) fn add_options(doc: &mut Lines, mount_point: &str, options: &[&str]) -> usize {
    let mut entries = 0;
    for i in 0..doc.len() {
        let text = doc.text(i).into_owned();
        if text.trim_start().starts_with('#') {
            continue;
        }
        let f = fields(&text);
        if f.len() < 3 || unescape(&text[f[1].0..f[1].1]) != mount_point {
            continue;
        }
        entries += 1;
        let (current, start, end) = match f.get(3) {
            Some(&(s, e)) => (&text[s..e], s, e),
            None => ("defaults", text.trim_end().len(), text.trim_end().len()),
        };
        let mut opts: Vec<&str> = current.split(',').filter(|o| !o.is_empty()).collect();
        opts.retain(|o| !options.iter().any(|w| opposite(w).as_deref() == Some(*o)));
        for o in options {
            if !opts.contains(o) {
                opts.push(o);
            }
        }
        let joined = opts.join(",");
        let sep = if f.len() == 3 { "\t" } else { "" };
        doc.set(i, format!("{}{sep}{joined}{}", &text[..start], &text[end..]));
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str, mp: &str, opts: &[&str]) -> (String, usize) {
        let mut doc = Lines::parse(text.as_bytes());
        let n = add_options(&mut doc, mp, opts);
        (String::from_utf8(doc.to_bytes()).unwrap(), n)
    }

    #[test]
    fn options_added_in_place_keeping_the_layout() {
        let text =
            "# /tmp was on /dev/sda2\nUUID=1  /tmp   ext4   defaults,exec   0 2\n/dev/sdb /home xfs rw 0 0\n";
        let (out, n) = edit(text, "/tmp", &["noexec", "nosuid"]);
        assert_eq!(n, 1);
        assert_eq!(
            out,
            "# /tmp was on /dev/sda2\nUUID=1  /tmp   ext4   defaults,noexec,nosuid   0 2\n/dev/sdb /home xfs rw 0 0\n"
        );
        let (same, _) = edit(&out, "/tmp", &["noexec"]);
        assert_eq!(same, out, "already there: no change");
        let (short, _) = edit("/dev/x /var\\040tmp ext4", "/var tmp", &["nodev"]);
        assert_eq!(short, "/dev/x /var\\040tmp ext4\tdefaults,nodev");
        assert_eq!(edit("/dev/x /var ext4 defaults 0 0\n", "/var/tmp", &["nodev"]).1, 0);
    }
}
