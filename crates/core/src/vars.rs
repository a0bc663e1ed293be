//! Variable bindings: each rule's declared defaults, overlaid with typed overrides.

use std::collections::BTreeMap;

use crate::rule::{Bindings, Rule, Value, VarType};

/// Overrides by variable name, already typed.
pub type Overrides = BTreeMap<String, Value>;

/// Parse `NAME=VALUE` texts against the types `rules` declare (pass the whole library, so an
/// inventory can carry values for rules a filtered scan leaves out). Unknown names are
/// errors, so a typo cannot silently leave a default in force.
pub fn parse_overrides<'a>(
    rules: impl IntoIterator<Item = &'a Rule> + Clone,
    pairs: &[(String, String)],
) -> Result<Overrides, String> {
    let mut types: BTreeMap<&str, VarType> = BTreeMap::new();
    for rule in rules {
        for (name, decl) in rule.variable_defaults() {
            types.insert(name, decl.ty);
        }
    }
    let mut out = Overrides::new();
    for (name, text) in pairs {
        let Some(ty) = types.get(name.as_str()) else {
            let known: Vec<&str> = types.keys().copied().collect();
            return Err(format!("unknown variable `{name}` (known: {})", known.join(", ")));
        };
        let value = ty.parse_text(text).map_err(|e| format!("variable `{name}`: {e}"))?;
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// The bindings one rule sees.
pub fn bindings_for(rule: &Rule, overrides: &Overrides) -> Bindings {
    rule.variable_defaults()
        .map(|(name, decl)| {
            let value = overrides.get(name).cloned().unwrap_or_else(|| decl.default.value.clone());
            (name.to_owned(), value)
        })
        .collect()
}
