//! Loading a set of rule files: each validated on its own, then checked together (unique
//! ids, one type per variable name).

use std::collections::BTreeMap;

use crate::rule::{Finding, FindingLevel, Rule, VarType, parse_rule};

/// Rules that loaded, and every finding (errors and warnings) across the files.
#[derive(Debug, Default)]
pub struct Library {
    pub rules: Vec<Rule>,
    pub findings: Vec<Finding>,
}

impl Library {
    /// Load `(file name, text)` pairs. Later files with an id already loaded are errors.
    pub fn load<'a>(sources: impl IntoIterator<Item = (&'a str, &'a str)>) -> Library {
        let mut lib = Library::default();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut var_types: BTreeMap<String, (VarType, String)> = BTreeMap::new();
        for (name, text) in sources {
            let parsed = parse_rule(name, text);
            lib.findings.extend(parsed.findings);
            let Some(rule) = parsed.rule else { continue };
            let at = |rule: &Rule, message: String| Finding {
                level: FindingLevel::Error,
                file: rule.source_name.clone(),
                line: rule.raw.id.referenced.line(),
                column: rule.raw.id.referenced.column(),
                source_line: text
                    .lines()
                    .nth(rule.raw.id.referenced.line().saturating_sub(1) as usize)
                    .unwrap_or("")
                    .to_owned(),
                message,
            };
            if let Some(first) = seen.get(rule.id()) {
                lib.findings
                    .push(at(&rule, format!("duplicate rule id `{}` (first defined in {first})", rule.id())));
                continue;
            }
            let mut clash = None;
            for (var, decl) in rule.variable_defaults() {
                match var_types.get(var) {
                    Some((ty, other)) if *ty != decl.ty => {
                        clash = Some(format!(
                            "variable `{var}` is declared as {} here but as {} in {other}",
                            decl.ty.as_str(),
                            ty.as_str()
                        ));
                    }
                    Some(_) => {}
                    None => {
                        var_types.insert(var.to_owned(), (decl.ty, rule.source_name.clone()));
                    }
                }
            }
            if let Some(message) = clash {
                lib.findings.push(at(&rule, message));
                continue;
            }
            seen.insert(rule.id().to_owned(), rule.source_name.clone());
            lib.rules.push(rule);
        }
        lib.rules.sort_by(|a, b| a.id().cmp(b.id()));
        lib
    }

    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.level == FindingLevel::Error)
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id() == id)
    }
}
