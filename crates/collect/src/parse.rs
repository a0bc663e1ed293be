//! Reading the framed output of a collection script back into facts.

use std::collections::BTreeMap;

use openwatch_core::facts::{
    CommandOutput, FactKey, FactSet, FactValue, FileEntry, FileKind, PasswordState, ProbeResult, ShadowEntry,
    WalkEntry, WalkResult,
};
use openwatch_core::rule::SearchKind;
use thiserror::Error;

use crate::script::{CONTENT_CAP, Script};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("malformed frame in collection output: {0}")]
    Frame(String),
}

/// One framed section: index, stream name, status and raw bytes.
#[derive(Debug)]
struct Section<'a> {
    index: usize,
    stream: &'a str,
    status: i32,
    body: &'a [u8],
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

fn sections<'a>(out: &'a [u8], nonce: &str) -> Result<Vec<Section<'a>>, ParseError> {
    let begin = format!("\n@@OW:{nonce}:BEGIN ");
    let end = format!("\n@@OW:{nonce}:END ");
    let mut pos = 0;
    let mut found = Vec::new();
    while let Some(b) = find(out, begin.as_bytes(), pos) {
        let header_start = b + begin.len();
        let header_end =
            find(out, b"\n", header_start).ok_or_else(|| ParseError::Frame("unterminated header".into()))?;
        let header = std::str::from_utf8(&out[header_start..header_end])
            .map_err(|_| ParseError::Frame("header is not UTF-8".into()))?;
        let (index, stream) =
            header.split_once(' ').ok_or_else(|| ParseError::Frame(format!("bad header `{header}`")))?;
        let index: usize = index.parse().map_err(|_| ParseError::Frame(format!("bad index `{index}`")))?;
        let body_start = header_end + 1;
        let e = find(out, end.as_bytes(), body_start.saturating_sub(1)).ok_or_else(|| {
            ParseError::Frame(format!("section {index} {stream} has no end (output cut short?)"))
        })?;
        let trailer_start = e + end.len();
        let trailer_end = find(out, b"\n", trailer_start).unwrap_or(out.len());
        let trailer = std::str::from_utf8(&out[trailer_start..trailer_end])
            .map_err(|_| ParseError::Frame("trailer is not UTF-8".into()))?;
        let status = trailer.rsplit(' ').next().and_then(|s| s.parse().ok()).unwrap_or(-1);
        let body = if e < body_start { &out[body_start..body_start] } else { &out[body_start..e] };
        found.push(Section { index, stream, status, body });
        pos = trailer_end;
    }
    Ok(found)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Cut at the content cap; the script reads one byte more to tell.
fn capped(bytes: &[u8]) -> (String, bool) {
    if bytes.len() > CONTENT_CAP { (text(&bytes[..CONTENT_CAP]), true) } else { (text(bytes), false) }
}

fn parse_stat(body: &[u8]) -> Option<FileEntry> {
    let s = text(body);
    let mut f = s.splitn(8, '\t');
    let raw_mode = u32::from_str_radix(f.next()?, 16).ok()?;
    let uid = f.next()?.parse().ok()?;
    let gid = f.next()?.parse().ok()?;
    let user = f.next()?.to_owned();
    let group = f.next()?.to_owned();
    let size = f.next()?.parse().ok()?;
    let kind = match f.next()? {
        "regular file" | "regular empty file" => FileKind::Regular,
        "directory" => FileKind::Directory,
        "symbolic link" => FileKind::Symlink,
        _ => FileKind::Other,
    };
    let path = f.next()?.to_owned();
    Some(FileEntry {
        path,
        kind,
        mode: raw_mode & 0o7777,
        uid,
        gid,
        user,
        group,
        size,
        content: None,
        truncated: false,
    })
}

/// The stat records and contents of every file named by any fact, read once per scan.
#[derive(Debug, Default)]
struct FileStore {
    stats: BTreeMap<String, FileEntry>,
    contents: BTreeMap<String, Vec<u8>>,
    big: BTreeMap<String, Vec<u8>>,
    unreadable: std::collections::BTreeSet<String>,
}

impl FileStore {
    fn from_sections(sections: &[&Section<'_>]) -> Result<FileStore, String> {
        let mut store = FileStore::default();
        for s in sections {
            match s.stream {
                "stat" => {
                    for record in s.body.split(|b| *b == 0).filter(|r| !r.is_empty()) {
                        let e = parse_stat(record)
                            .ok_or_else(|| format!("unreadable stat output: {}", text(record)))?;
                        store.stats.insert(e.path.clone(), e);
                    }
                }
                // grep -a --null -H: PATH NUL LINE NEWLINE, repeated; paths may hold newlines.
                "content" => {
                    let mut rest = s.body;
                    while let Some(nul) = rest.iter().position(|b| *b == 0) {
                        let path = text(&rest[..nul]);
                        rest = &rest[nul + 1..];
                        let end = rest.iter().position(|b| *b == b'\n').map_or(rest.len(), |p| p + 1);
                        store.contents.entry(path).or_default().extend_from_slice(&rest[..end]);
                        rest = &rest[end..];
                    }
                }
                "big" => {
                    if let Some(nul) = s.body.iter().position(|b| *b == 0) {
                        store.big.insert(text(&s.body[..nul]), s.body[nul + 1..].to_vec());
                    }
                }
                "unreadable" => {
                    store.unreadable.extend(s.body.split(|b| *b == 0).filter(|r| !r.is_empty()).map(text));
                }
                _ => {}
            }
        }
        Ok(store)
    }

    /// The entries for the paths a fact named, in order; a path that vanished is left out.
    fn entries(&self, names: &[u8], content: bool) -> Vec<FileEntry> {
        names
            .split(|b| *b == 0)
            .filter(|n| !n.is_empty())
            .filter_map(|n| self.stats.get(&text(n)))
            .map(|e| {
                let mut e = e.clone();
                if content && e.kind == FileKind::Regular && !self.unreadable.contains(&e.path) {
                    let (body, truncated) = match self.big.get(&e.path) {
                        Some(b) => capped(b),
                        None => (self.contents.get(&e.path).map(|b| text(b)).unwrap_or_default(), false),
                    };
                    e.content = Some(body);
                    e.truncated = truncated;
                }
                e
            })
            .collect()
    }
}

fn command(sections: &[&Section<'_>]) -> Result<CommandOutput, String> {
    let out = sections.iter().find(|s| s.stream == "out").ok_or("no output section")?;
    let err = sections.iter().find(|s| s.stream == "err").map(|s| text(s.body)).unwrap_or_default();
    let (stdout, truncated) = capped(out.body);
    Ok(CommandOutput { exit_code: out.status, stdout, stderr: err, truncated })
}

fn probes(out: &CommandOutput) -> ProbeResult {
    let mut p = ProbeResult { euid: u32::MAX, ..ProbeResult::default() };
    for line in out.stdout.lines() {
        let mut f = line.splitn(3, ' ');
        match (f.next(), f.next(), f.next()) {
            (Some("C"), Some(v), Some(name)) => {
                p.commands.insert(name.to_owned(), v == "1");
            }
            (Some("P"), Some(v), Some(path)) => {
                p.paths.insert(path.to_owned(), v == "1");
            }
            (Some("U"), Some(uid), None) => p.euid = uid.parse().unwrap_or(u32::MAX),
            _ => {}
        }
    }
    p
}

fn opt_num(s: Option<&str>) -> Option<i64> {
    s.and_then(|v| v.trim().parse().ok())
}

fn shadow(out: &CommandOutput) -> Vec<ShadowEntry> {
    out.stdout
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let state = match *f.get(1)? {
                "empty" => PasswordState::Empty,
                "locked" => PasswordState::Locked,
                _ => PasswordState::Hashed,
            };
            Some(ShadowEntry {
                user: f[0].to_owned(),
                state,
                last_change: opt_num(f.get(2).copied()),
                min_days: opt_num(f.get(3).copied()),
                max_days: opt_num(f.get(4).copied()),
                warn_days: opt_num(f.get(5).copied()),
                inactive_days: opt_num(f.get(6).copied()),
            })
        })
        .collect()
}

fn walk(bytes: &[u8]) -> WalkResult {
    let mut result = WalkResult::default();
    for rec in bytes.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rec = text(rec);
        if let Some(roots) = rec.strip_prefix("R\t") {
            result.roots = roots.split('\t').filter(|r| !r.is_empty()).map(str::to_owned).collect();
            continue;
        }
        let f: Vec<&str> = rec.splitn(5, '\t').collect();
        if f.len() != 5 {
            continue;
        }
        let kind = match f[0] {
            "W" => SearchKind::WorldWritableFiles,
            "D" => SearchKind::WorldWritableDirsWithoutSticky,
            "U" => SearchKind::Unowned,
            "G" => SearchKind::Ungrouped,
            "S" => SearchKind::Suid,
            "s" => SearchKind::Sgid,
            _ => continue,
        };
        let (Ok(mode), Ok(uid), Ok(gid)) = (u32::from_str_radix(f[1], 8), f[2].parse(), f[3].parse()) else {
            continue;
        };
        result.entries.push(WalkEntry { kind, path: f[4].to_owned(), mode, uid, gid });
    }
    result
}

const STOPPED_EARLY: &str = "not collected: the collection script stopped early";

fn files(sections: &[&Section<'_>], store: &Option<Result<FileStore, String>>, content: bool) -> FactValue {
    let Some(names) = sections.iter().find(|s| s.stream == "names") else {
        return FactValue::Error("no file list in the collection output".into());
    };
    match store {
        Some(Ok(store)) => FactValue::Files(store.entries(names.body, content)),
        Some(Err(e)) => FactValue::Error(e.clone()),
        None if names.body.is_empty() => FactValue::Files(Vec::new()),
        None => FactValue::Error(STOPPED_EARLY.into()),
    }
}

/// Unit name -> state from `systemctl list-unit-files UNITS...`, which exits 1 with no
/// output when none of the named units exists.
fn unit_states(sections: &[&Section<'_>]) -> Result<BTreeMap<String, String>, String> {
    let out = command(sections)?;
    let listed = out.exit_code == 0
        || (out.exit_code == 1 && out.stdout.trim().is_empty() && out.stderr.trim().is_empty());
    if out.not_found() {
        return Err("systemctl is not installed".into());
    }
    if !listed {
        return Err(format!("systemctl list-unit-files exited {}: {}", out.exit_code, out.stderr.trim()));
    }
    Ok(out
        .stdout
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_owned(), f.next()?.to_owned()))
        })
        .collect())
}

/// Turn script output into facts. Every planned key gets a value; a key whose section is
/// missing (the script died) gets an error value naming the cause.
pub fn parse(script: &Script, stdout: &[u8], collected_at: String) -> Result<FactSet, ParseError> {
    let all = sections(stdout, &script.nonce)?;
    let mut by_index: BTreeMap<usize, Vec<&Section<'_>>> = BTreeMap::new();
    for s in &all {
        by_index.entry(s.index).or_default().push(s);
    }
    let mut facts = FactSet { collected_at, facts: BTreeMap::new() };
    let store = by_index.get(&script.keys.len()).map(|secs| FileStore::from_sections(secs));
    // Every unit key reads the one `systemctl list-unit-files` section.
    let units = script.unit_section.and_then(|i| by_index.get(&i)).map(|secs| unit_states(secs));
    for (i, key) in script.keys.iter().enumerate() {
        let value = match (key, by_index.get(&i)) {
            (FactKey::UnitFile { unit }, _) => match &units {
                Some(Ok(states)) => FactValue::UnitFile(states.get(unit.as_str()).cloned()),
                Some(Err(e)) => FactValue::Error(e.clone()),
                None => FactValue::Error(STOPPED_EARLY.into()),
            },
            (_, None) => FactValue::Error(STOPPED_EARLY.into()),
            (FactKey::Files { content, .. }, Some(secs)) => files(secs, &store, *content),
            (FactKey::HomeDirs, Some(secs)) => files(secs, &store, false),
            (FactKey::Command { .. } | FactKey::ModuleIndex, Some(secs)) => match command(secs) {
                Ok(o) => FactValue::Command(o),
                Err(e) => FactValue::Error(e),
            },
            (FactKey::Probes, Some(secs)) => match command(secs) {
                Ok(o) => FactValue::Probes(probes(&o)),
                Err(e) => FactValue::Error(e),
            },
            (FactKey::ShadowSummary, Some(secs)) => match command(secs) {
                Ok(o) if o.exit_code == 0 => FactValue::Shadow(shadow(&o)),
                Ok(o) => FactValue::Error(format!("exit {}: {}", o.exit_code, o.stderr.trim())),
                Err(e) => FactValue::Error(e),
            },
            (FactKey::Processes, Some(secs)) => match command(secs) {
                Ok(o) => FactValue::Processes(o.stdout.lines().map(str::to_owned).collect()),
                Err(e) => FactValue::Error(e),
            },
            (FactKey::FilesystemWalk, Some(secs)) => match secs.iter().find(|s| s.stream == "out") {
                Some(s) if s.status == 0 => FactValue::Walk(walk(s.body)),
                Some(s) => FactValue::Error(format!("walk exited {}", s.status)),
                None => FactValue::Error("no walk output".into()),
            },
        };
        facts.facts.insert(key.clone(), value);
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_survive_forged_markers_without_the_nonce() {
        let out = b"\n@@OW:abc:BEGIN 0 out\nhello\n@@OW:xyz:END 0 out 0\nworld\n@@OW:abc:END 0 out 3\n";
        let s = sections(out, "abc").unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].body, b"hello\n@@OW:xyz:END 0 out 0\nworld");
        assert_eq!(s[0].status, 3);
    }

    #[test]
    fn empty_bodies_and_truncated_output() {
        let out = b"\n@@OW:n:BEGIN 1 files\n\n@@OW:n:END 1 files 0\n";
        let s = sections(out, "n").unwrap();
        assert_eq!(s[0].body, b"");
        let cut = b"\n@@OW:n:BEGIN 1 out\npartial";
        assert!(sections(cut, "n").is_err());
    }

    #[test]
    fn stat_lines_parse() {
        let e = parse_stat(b"81a4\t0\t42\troot\tshadow\t1024\tregular file\t/etc/sha\tdow").unwrap();
        assert_eq!(e.mode, 0o644);
        assert_eq!(e.gid, 42);
        assert_eq!(e.path, "/etc/sha\tdow");
        assert_eq!(e.kind, FileKind::Regular);
    }

    #[test]
    fn malformed_walk_and_stat_records() {
        let w = walk(b"R\t/\t/home\t\0S\t4755\t0\t0\t/usr/bin/su\0X\tjunk\0S\tnotoctal\t0\t0\t/x\0W\t777\t0\t0\t/tmp/a\tb\0");
        assert_eq!(w.roots, ["/", "/home"]);
        assert_eq!(w.entries.len(), 2);
        assert_eq!(w.entries[1].path, "/tmp/a\tb");
        assert!(parse_stat(b"zz\t0\t0\troot\troot\t1\tregular file\t/x").is_none());
        assert!(parse_stat(b"81a4\t0").is_none());
    }
}
