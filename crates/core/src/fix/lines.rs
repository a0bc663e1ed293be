//! A file's content as lines of bytes, so edits leave every untouched line (and bytes that
//! are not UTF-8) exactly as they were.

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lines {
    lines: Vec<Vec<u8>>,
    /// Does the last line end with `\n`? (True for an empty file: nothing to fix up.)
    newline_at_end: bool,
}

impl Lines {
    pub fn parse(bytes: &[u8]) -> Lines {
        if bytes.is_empty() {
            return Lines { lines: Vec::new(), newline_at_end: true };
        }
        let mut lines: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
        let newline_at_end = bytes.ends_with(b"\n");
        if newline_at_end {
            lines.pop();
        }
        Lines { lines, newline_at_end }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// A line as text for parsing (invalid UTF-8 replaced; never written back).
    pub fn text(&self, i: usize) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.lines[i])
    }

    pub fn set(&mut self, i: usize, line: impl Into<Vec<u8>>) {
        self.lines[i] = line.into();
    }

    /// Put `prefix` before line `i`, leaving its own bytes as they are.
    pub fn prefix(&mut self, i: usize, prefix: &[u8]) {
        self.lines[i].splice(0..0, prefix.iter().copied());
    }

    pub fn remove(&mut self, i: usize) {
        self.lines.remove(i);
        if self.lines.is_empty() {
            self.newline_at_end = true;
        }
    }

    /// Insert a line before line `i`; at the end, the file then ends with a newline.
    pub fn insert(&mut self, i: usize, line: impl Into<Vec<u8>>) {
        if i >= self.lines.len() {
            self.lines.push(line.into());
            self.newline_at_end = true;
        } else {
            self.lines.insert(i, line.into());
        }
    }

    pub fn push(&mut self, line: impl Into<Vec<u8>>) {
        self.insert(self.lines.len(), line);
    }

    pub fn contains_trimmed(&self, wanted: &str) -> bool {
        (0..self.len()).any(|i| self.text(i).trim() == wanted)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.lines.join(&b'\n');
        if !self.lines.is_empty() && self.newline_at_end {
            out.push(b'\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_bytes_and_appends_after_a_missing_newline() {
        for text in [&b""[..], b"a\n", b"a", b"a\n\nb", b"\xff\xfe x\n", b"a\r\nb\r\n"] {
            assert_eq!(Lines::parse(text).to_bytes(), text);
        }
        let mut l = Lines::parse(b"a\nb");
        l.push("c");
        assert_eq!(l.to_bytes(), b"a\nb\nc\n");
        let mut e = Lines::parse(b"");
        e.push("x");
        assert_eq!(e.to_bytes(), b"x\n");
        let mut r = Lines::parse(b"a\nb");
        r.set(1, "B");
        assert_eq!(r.to_bytes(), b"a\nB", "a replaced last line keeps the file's missing newline");
        r.remove(0);
        r.remove(0);
        assert_eq!(r.to_bytes(), b"");
    }
}
