//! The files a plan touches, each from its captured state to its composed final state, so
//! several steps on one file apply in order to one result.

use std::collections::BTreeMap;

use super::lines::Lines;
use super::{FileChange, FileState, PlanError};

/// The state a step leaves a file in.
#[derive(Debug, Clone)]
pub(super) struct After {
    pub exists: bool,
    pub content: Vec<u8>,
    pub mode: u32,
    pub owner: String,
    pub group: String,
}

/// The mode a file the fix creates gets: what the library's permission rules require there
/// (sshd configuration 0600, audit configuration 0640), else 0644.
pub(super) fn new_file_mode(path: &str) -> u32 {
    if path.starts_with("/etc/ssh/") {
        0o600
    } else if path.starts_with("/etc/audit/") {
        0o640
    } else {
        0o644
    }
}

#[derive(Debug)]
pub(super) struct Work<'a> {
    captured: &'a BTreeMap<String, FileState>,
    order: Vec<String>,
    after: BTreeMap<String, After>,
    pub notes: Vec<String>,
}

impl<'a> Work<'a> {
    pub fn new(captured: &'a BTreeMap<String, FileState>) -> Work<'a> {
        Work { captured, order: Vec::new(), after: BTreeMap::new(), notes: Vec::new() }
    }

    fn before(&self, step: &'static str, path: &str) -> Result<&'a FileState, PlanError> {
        let state =
            self.captured.get(path).ok_or_else(|| PlanError::NotCaptured { step, path: path.to_owned() })?;
        if state.exists && !state.is_regular {
            return Err(PlanError::NotRegularFile { step, path: path.to_owned() });
        }
        Ok(state)
    }

    /// The file as the previous steps left it.
    pub fn get(&mut self, step: &'static str, path: &str) -> Result<&mut After, PlanError> {
        if !self.after.contains_key(path) {
            let b = self.before(step, path)?;
            let after = After {
                exists: b.exists,
                content: b.content.clone(),
                mode: b.mode & 0o7777,
                owner: b.owner.clone(),
                group: b.group.clone(),
            };
            self.order.push(path.to_owned());
            self.after.insert(path.to_owned(), after);
        }
        Ok(self.after.get_mut(path).expect("inserted above"))
    }

    /// Whether `path` was captured as a directory.
    pub fn is_dir(&self, path: &str) -> bool {
        self.captured.get(path).is_some_and(|s| s.exists && s.is_dir)
    }

    /// The captured regular files whose path satisfies `pick` (the matches of a glob).
    pub fn captured_matching(&self, pick: impl Fn(&str) -> bool) -> Vec<String> {
        self.captured
            .iter()
            .filter(|(p, s)| s.exists && s.is_regular && pick(p))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// The file as it currently stands, without marking it as touched.
    pub fn peek(&self, step: &'static str, path: &str) -> Result<(bool, Vec<u8>), PlanError> {
        match self.after.get(path) {
            Some(a) => Ok((a.exists, a.content.clone())),
            None => self.before(step, path).map(|b| (b.exists, b.content.clone())),
        }
    }

    /// The file, created empty (root-owned, mode per [`new_file_mode`]) if it does not exist.
    pub fn create(&mut self, step: &'static str, path: &str) -> Result<&mut After, PlanError> {
        let exists = self.get(step, path)?.exists;
        if !exists {
            let mode = new_file_mode(path);
            self.notes.push(format!("creates {path} (mode {mode:04o}, owner root:root)"));
            let a = self.get(step, path)?;
            *a =
                After { exists: true, content: Vec::new(), mode, owner: "root".into(), group: "root".into() };
        }
        self.get(step, path)
    }

    /// Edit a file's lines, creating it first if it is missing.
    pub fn edit_lines<T>(
        &mut self,
        step: &'static str,
        path: &str,
        f: impl FnOnce(&mut Lines) -> T,
    ) -> Result<T, PlanError> {
        let a = self.create(step, path)?;
        let mut doc = Lines::parse(&a.content);
        let out = f(&mut doc);
        a.content = doc.to_bytes();
        Ok(out)
    }

    /// Edit an existing file's lines; a missing file is an error saying `why` it must exist.
    pub fn edit_existing<T>(
        &mut self,
        step: &'static str,
        path: &str,
        why: &str,
        f: impl FnOnce(&mut Lines) -> T,
    ) -> Result<T, PlanError> {
        let a = self.get(step, path)?;
        if !a.exists {
            return Err(PlanError::MissingFile { step, path: path.to_owned(), why: why.to_owned() });
        }
        let mut doc = Lines::parse(&a.content);
        let out = f(&mut doc);
        a.content = doc.to_bytes();
        Ok(out)
    }

    pub fn finish(self) -> (Vec<FileChange>, Vec<String>) {
        let Work { captured, order, mut after, notes } = self;
        let changes = order
            .into_iter()
            .map(|path| {
                let a = after.remove(&path).expect("every ordered path has a state");
                FileChange {
                    before: captured[&path].clone(),
                    path,
                    after_exists: a.exists,
                    after_content: if a.exists { a.content } else { Vec::new() },
                    after_mode: a.mode,
                    after_owner: a.owner,
                    after_group: a.group,
                }
            })
            .collect();
        (changes, notes)
    }
}
