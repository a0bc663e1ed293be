//! Unified diffs of planned file changes, like `diff -u`, with the mode and owner changes
//! a dry run must also show. Myers' algorithm over lines, after trimming the common prefix
//! and suffix (a fix usually changes a few lines of a file).

use std::fmt::Write as _;

use super::FileChange;

const CONTEXT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same(usize, usize),
    Del(usize),
    Ins(usize),
}

/// Lines with their `\n`, so a last line without one differs from the same line with one.
fn split_lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|b| *b == b'\n').collect()
}

/// Past this many edits, the differing middle is shown as removed then added: the diff stays
/// correct, only longer, and a whole-file replacement costs no quadratic memory.
const MAX_EDITS: isize = 1024;

/// The edit script from `a` to `b`: the common prefix and suffix kept, the middle by Myers.
fn myers(a: &[&[u8]], b: &[&[u8]]) -> Vec<Op> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let middle = shortest(ma, mb).unwrap_or_else(|| {
        let mut all: Vec<Op> = (0..ma.len()).map(Op::Del).collect();
        all.extend((0..mb.len()).map(Op::Ins));
        all
    });
    let shift = |op: Op| match op {
        Op::Same(i, j) => Op::Same(i + prefix, j + prefix),
        Op::Del(i) => Op::Del(i + prefix),
        Op::Ins(j) => Op::Ins(j + prefix),
    };
    let mut ops: Vec<Op> = (0..prefix).map(|i| Op::Same(i, i)).collect();
    ops.extend(middle.into_iter().map(shift));
    let (ea, eb) = (a.len() - suffix, b.len() - suffix);
    ops.extend((0..suffix).map(|i| Op::Same(ea + i, eb + i)));
    ops
}

/// The shortest edit script (Myers, O((N+M)·D) time, O(D²) memory), or `None` when it needs
/// more than [`MAX_EDITS`] edits.
fn shortest(ma: &[&[u8]], mb: &[&[u8]]) -> Option<Vec<Op>> {
    let (n, m) = (ma.len() as isize, mb.len() as isize);
    let max = (n + m).min(MAX_EDITS);
    let off = max + 1;
    let mut v = vec![0isize; (2 * max + 3) as usize];
    let mut trace: Vec<Vec<isize>> = Vec::new();
    let at = |k: isize| (k + off) as usize;
    let mut reached = false;
    'search: for d in 0..=max {
        trace.push(v[at(-d)..=at(d)].to_vec());
        for k in (-d..=d).step_by(2) {
            let mut x = if k == -d || (k != d && v[at(k - 1)] < v[at(k + 1)]) {
                v[at(k + 1)]
            } else {
                v[at(k - 1)] + 1
            };
            let mut y = x - k;
            while x < n && y < m && ma[x as usize] == mb[y as usize] {
                x += 1;
                y += 1;
            }
            v[at(k)] = x;
            if x >= n && y >= m {
                reached = true;
                break 'search;
            }
        }
    }
    if !reached {
        return None;
    }
    let mut middle = Vec::new();
    let (mut x, mut y) = (n, m);
    for (d, row) in trace.iter().enumerate().rev() {
        let d = d as isize;
        let get = |k: isize| row[(k + d) as usize];
        let k = x - y;
        let prev_k = if k == -d || (k != d && get(k - 1) < get(k + 1)) { k + 1 } else { k - 1 };
        let prev_x = if d == 0 { 0 } else { get(prev_k) };
        let prev_y = prev_x - prev_k;
        while x > prev_x.max(0) && y > prev_y.max(0) {
            x -= 1;
            y -= 1;
            middle.push(Op::Same(x as usize, y as usize));
        }
        if d > 0 {
            if x == prev_x {
                middle.push(Op::Ins((y - 1) as usize));
            } else {
                middle.push(Op::Del((x - 1) as usize));
            }
            x = prev_x;
            y = prev_y;
        }
    }
    middle.reverse();
    Some(middle)
}

fn push_line(out: &mut String, sign: char, line: &[u8]) {
    out.push(sign);
    match line.strip_suffix(b"\n") {
        Some(l) => {
            out.push_str(&String::from_utf8_lossy(l));
            out.push('\n');
        }
        None => {
            out.push_str(&String::from_utf8_lossy(line));
            out.push_str("\n\\ No newline at end of file\n");
        }
    }
}

/// `start,len` as `diff -u` writes it: an empty range names the line before it, and a
/// one-line range is just its line number.
fn range(first: usize, len: usize) -> String {
    match len {
        0 => format!("{first},0"),
        1 => format!("{}", first + 1),
        _ => format!("{},{len}", first + 1),
    }
}

fn hunks(a: &[&[u8]], b: &[&[u8]], out: &mut String) {
    let ops = myers(a, b);
    let changed: Vec<usize> = (0..ops.len()).filter(|i| !matches!(ops[*i], Op::Same(..))).collect();
    let mut i = 0;
    while i < changed.len() {
        let start = changed[i].saturating_sub(CONTEXT);
        let mut end = changed[i];
        while i + 1 < changed.len() && changed[i + 1] <= end + 2 * CONTEXT + 1 {
            i += 1;
            end = changed[i];
        }
        i += 1;
        let end = (end + CONTEXT + 1).min(ops.len());
        let slice = &ops[start..end];
        let a_first = slice.iter().find_map(|o| match o {
            Op::Same(x, _) | Op::Del(x) => Some(*x),
            Op::Ins(_) => None,
        });
        let b_first = slice.iter().find_map(|o| match o {
            Op::Same(_, y) | Op::Ins(y) => Some(*y),
            Op::Del(_) => None,
        });
        let a_len = slice.iter().filter(|o| !matches!(o, Op::Ins(_))).count();
        let b_len = slice.iter().filter(|o| !matches!(o, Op::Del(_))).count();
        // An empty side starts after the lines the previous ops consumed.
        let consumed_a = ops[..start].iter().filter(|o| !matches!(o, Op::Ins(_))).count();
        let consumed_b = ops[..start].iter().filter(|o| !matches!(o, Op::Del(_))).count();
        let _ = writeln!(
            out,
            "@@ -{} +{} @@",
            range(a_first.unwrap_or(consumed_a), a_len),
            range(b_first.unwrap_or(consumed_b), b_len)
        );
        for op in slice {
            match *op {
                Op::Same(x, _) => push_line(out, ' ', a[x]),
                Op::Del(x) => push_line(out, '-', a[x]),
                Op::Ins(y) => push_line(out, '+', b[y]),
            }
        }
    }
}

/// The unified diff of one file change, with `---`/`+++` headers naming the path
/// (`/dev/null` for a created or removed file) and mode and owner lines when those change.
/// Empty when the change is a no-op.
pub fn unified_diff(change: &FileChange) -> String {
    if change.is_noop() {
        return String::new();
    }
    let b = &change.before;
    let mut out = String::new();
    let owner = |o: &str, g: &str| format!("{o}:{g}");
    match (b.exists, change.after_exists) {
        (false, _) => {
            let _ = writeln!(
                out,
                "new file mode {:04o} owner {}",
                change.after_mode & 0o7777,
                owner(&change.after_owner, &change.after_group)
            );
        }
        (true, false) => {
            let _ = writeln!(
                out,
                "deleted file mode {:04o} owner {}",
                b.mode & 0o7777,
                owner(&b.owner, &b.group)
            );
        }
        (true, true) => {
            if b.mode & 0o7777 != change.after_mode & 0o7777 {
                let _ = writeln!(
                    out,
                    "old mode {:04o}\nnew mode {:04o}",
                    b.mode & 0o7777,
                    change.after_mode & 0o7777
                );
            }
            if b.owner != change.after_owner || b.group != change.after_group {
                let _ = writeln!(
                    out,
                    "old owner {}\nnew owner {}",
                    owner(&b.owner, &b.group),
                    owner(&change.after_owner, &change.after_group)
                );
            }
        }
    }
    let old = if b.exists { change.path.as_str() } else { "/dev/null" };
    let new = if change.after_exists { change.path.as_str() } else { "/dev/null" };
    let _ = writeln!(out, "--- {old}\n+++ {new}");
    let before = if b.exists { split_lines(&b.content) } else { Vec::new() };
    let after = if change.after_exists { split_lines(&change.after_content) } else { Vec::new() };
    hunks(&before, &after, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::super::FileState;
    use super::*;

    fn change(before: Option<&str>, after: Option<&str>) -> FileChange {
        let state = match before {
            Some(t) => FileState::regular("/etc/x", t, 0o644, "root", "root"),
            None => FileState::absent("/etc/x"),
        };
        FileChange {
            path: "/etc/x".into(),
            before: state,
            after_exists: after.is_some(),
            after_content: after.unwrap_or("").as_bytes().to_vec(),
            after_mode: 0o644,
            after_owner: "root".into(),
            after_group: "root".into(),
        }
    }

    fn apply(ops: &[Op], b: &[&[u8]]) -> Vec<Vec<u8>> {
        ops.iter()
            .filter_map(|o| match o {
                Op::Same(_, y) | Op::Ins(y) => Some(b[*y].to_vec()),
                Op::Del(_) => None,
            })
            .collect()
    }

    #[test]
    fn edit_scripts_are_minimal_and_rebuild_the_target() {
        let cases: [(&str, &str, usize); 5] = [
            ("a\nb\nc\n", "a\nx\nc\n", 2),
            ("", "a\nb\n", 2),
            ("a\nb\n", "", 2),
            ("a\nb\nc\nd\n", "b\nc\nd\ne\n", 2),
            ("x\ny\nz\nx\ny\nz\n", "y\nz\nx\nq\nz\n", 3),
        ];
        for (a, b, edits) in cases {
            let (la, lb) = (split_lines(a.as_bytes()), split_lines(b.as_bytes()));
            let ops = myers(&la, &lb);
            assert_eq!(apply(&ops, &lb), lb.iter().map(|l| l.to_vec()).collect::<Vec<_>>(), "{a:?} -> {b:?}");
            let olds: Vec<usize> = ops
                .iter()
                .filter_map(|o| if let Op::Same(x, _) | Op::Del(x) = o { Some(*x) } else { None })
                .collect();
            assert_eq!(olds, (0..la.len()).collect::<Vec<_>>());
            assert_eq!(ops.iter().filter(|o| !matches!(o, Op::Same(..))).count(), edits, "{a:?} -> {b:?}");
        }
    }

    #[test]
    fn large_rewrites_fall_back_to_remove_then_add() {
        let before: String = (0..5000).map(|i| format!("old {i}\n")).collect();
        let after: String = (0..3000).map(|i| format!("new {i}\n")).collect();
        let (la, lb) = (split_lines(before.as_bytes()), split_lines(after.as_bytes()));
        let ops = myers(&la, &lb);
        assert_eq!(ops.len(), 8000);
        assert!(ops[..5000].iter().all(|o| matches!(o, Op::Del(_))));
        assert_eq!(apply(&ops, &lb).len(), 3000);
        let d = unified_diff(&change(Some(&before), None));
        assert!(d.contains("@@ -1,5000 +0,0 @@\n-old 0\n"), "{}", &d[..200]);
        assert_eq!(d.lines().count(), 5000 + 4);
    }

    #[test]
    fn diff_reads_like_diff_u() {
        let before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
        let after = "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n";
        assert_eq!(
            unified_diff(&change(Some(before), Some(after))),
            "--- /etc/x\n+++ /etc/x\n@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n@@ -10,3 +10,4 @@\n 10\n 11\n 12\n+13\n"
        );
        assert_eq!(
            unified_diff(&change(None, Some("a\n"))),
            "new file mode 0644 owner root:root\n--- /dev/null\n+++ /etc/x\n@@ -0,0 +1 @@\n+a\n"
        );
        assert_eq!(
            unified_diff(&change(Some("a"), None)),
            "deleted file mode 0644 owner root:root\n--- /etc/x\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n\\ No newline at end of file\n"
        );
        assert_eq!(
            unified_diff(&change(Some("a"), Some("a\nb\n"))),
            "--- /etc/x\n+++ /etc/x\n@@ -1 +1,2 @@\n-a\n\\ No newline at end of file\n+a\n+b\n"
        );
        assert_eq!(unified_diff(&change(Some("same\n"), Some("same\n"))), "");
        assert_eq!(unified_diff(&change(None, None)), "");
    }

    #[test]
    fn mode_and_owner_changes_are_shown_without_content_hunks() {
        let mut c = change(Some("x\n"), Some("x\n"));
        c.after_mode = 0o600;
        c.after_group = "shadow".into();
        assert_eq!(
            unified_diff(&c),
            "old mode 0644\nnew mode 0600\nold owner root:root\nnew owner root:shadow\n--- /etc/x\n+++ /etc/x\n"
        );
    }

    #[test]
    fn insertion_into_an_empty_middle_names_the_line_before() {
        let d = unified_diff(&change(Some("a\nb\n"), Some("a\nx\nb\n")));
        assert_eq!(d, "--- /etc/x\n+++ /etc/x\n@@ -1,2 +1,3 @@\n a\n+x\n b\n");
        let d = unified_diff(&change(Some("1\n2\n3\n4\n5\n6\n7\n8\n"), Some("1\n2\n3\n4\n5\n6\n7\n8\nz\n")));
        assert_eq!(d, "--- /etc/x\n+++ /etc/x\n@@ -6,3 +6,4 @@\n 6\n 7\n 8\n+z\n");
        let d = unified_diff(&change(Some("1\n2\n3\n4\n5\n6\n7\n8\n"), Some("1\n2\n3\n4\n8\n")));
        assert_eq!(d, "--- /etc/x\n+++ /etc/x\n@@ -2,7 +2,4 @@\n 2\n 3\n 4\n-5\n-6\n-7\n 8\n");
    }
}
