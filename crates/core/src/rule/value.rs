//! Typed values and variable references. A rule parameter is either a literal or `{var: NAME}`;
//! references are resolved against typed values at evaluation time, never by text substitution.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

/// A literal value as written in YAML or given on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
}

impl Value {
    pub fn kind(&self) -> VarType {
        match self {
            Value::Bool(_) => VarType::Bool,
            Value::Int(_) => VarType::Int,
            Value::Str(_) => VarType::String,
            Value::List(_) => VarType::List,
        }
    }

    /// The value as the text a config file would hold (lists joined with commas).
    pub fn to_text(&self) -> String {
        match self {
            Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
            Value::Int(i) => i.to_string(),
            Value::Str(s) => s.clone(),
            Value::List(items) => items.iter().map(Value::to_text).collect::<Vec<_>>().join(","),
        }
    }

    /// The value as a list of item texts (a scalar is a one-item list).
    pub fn items(&self) -> Vec<String> {
        match self {
            Value::List(items) => items.iter().map(Value::to_text).collect(),
            other => vec![other.to_text()],
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::List(items) => {
                let texts: Vec<String> = items.iter().map(Value::to_text).collect();
                write!(f, "[{}]", texts.join(", "))
            }
            other => f.write_str(&other.to_text()),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, integer, boolean or list")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).map_err(|_| E::custom("integer too large"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Err(E::custom(format!("unexpected number {v}, expected an integer or a quoted string")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            if matches!(item, Value::List(_)) {
                return Err(de::Error::custom("nested lists are not allowed, expected a scalar"));
            }
            items.push(item);
        }
        Ok(Value::List(items))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// A rule parameter: a literal or a reference to a declared variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Literal(Value),
    Var(String),
}

impl<'de> Deserialize<'de> for Param {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ParamVisitor;
        impl<'de> Visitor<'de> for ParamVisitor {
            type Value = Param;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a literal value or {var: NAME}")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Param, E> {
                ValueVisitor.visit_bool(v).map(Param::Literal)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Param, E> {
                ValueVisitor.visit_i64(v).map(Param::Literal)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Param, E> {
                ValueVisitor.visit_u64(v).map(Param::Literal)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Param, E> {
                ValueVisitor.visit_f64(v).map(Param::Literal)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Param, E> {
                ValueVisitor.visit_str(v).map(Param::Literal)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Param, A::Error> {
                ValueVisitor.visit_seq(seq).map(Param::Literal)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Param, A::Error> {
                let key: String = map
                    .next_key()?
                    .ok_or_else(|| de::Error::custom("empty mapping, expected {var: NAME}"))?;
                if key != "var" {
                    return Err(de::Error::custom(format!(
                        "unknown key `{key}`, expected `var` (a variable reference) or a literal"
                    )));
                }
                let name: String = map.next_value()?;
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom("a variable reference has only the key `var`"));
                }
                Ok(Param::Var(name))
            }
        }
        d.deserialize_any(ParamVisitor)
    }
}

/// A parameter with the place it was written, for errors found after parsing.
pub type SpannedParam = Spanned<Param>;

/// The declared type of a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VarType {
    String,
    Int,
    Bool,
    List,
}

impl VarType {
    pub fn as_str(self) -> &'static str {
        match self {
            VarType::String => "string",
            VarType::Int => "int",
            VarType::Bool => "bool",
            VarType::List => "list",
        }
    }

    /// Parse a command-line or inventory text into a value of this type.
    pub fn parse_text(self, text: &str) -> Result<Value, String> {
        match self {
            VarType::String => Ok(Value::Str(text.to_owned())),
            VarType::Int => {
                text.trim().parse::<i64>().map(Value::Int).map_err(|_| format!("`{text}` is not an integer"))
            }
            VarType::Bool => match text.trim() {
                "true" | "yes" | "1" => Ok(Value::Bool(true)),
                "false" | "no" | "0" => Ok(Value::Bool(false)),
                _ => Err(format!("`{text}` is not a boolean (true/false)")),
            },
            VarType::List => Ok(Value::List(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::Str(s.to_owned()))
                    .collect(),
            )),
        }
    }
}

/// A variable a rule declares, with its type and default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    #[serde(rename = "type")]
    pub ty: VarType,
    pub default: Spanned<Value>,
    pub description: super::Text,
}

/// Values for variables, by name: defaults overlaid with overrides.
pub type Bindings = BTreeMap<String, Value>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_types_parse_text_strictly() {
        assert_eq!(VarType::Int.parse_text("4"), Ok(Value::Int(4)));
        assert!(VarType::Int.parse_text("four").is_err());
        assert_eq!(VarType::Bool.parse_text("no"), Ok(Value::Bool(false)));
        assert!(VarType::Bool.parse_text("maybe").is_err());
        assert_eq!(
            VarType::List.parse_text("a, b,,c"),
            Ok(Value::List(vec![Value::Str("a".into()), Value::Str("b".into()), Value::Str("c".into())]))
        );
        // Shell metacharacters are data, not syntax.
        assert_eq!(VarType::String.parse_text("$(rm -rf /)'\""), Ok(Value::Str("$(rm -rf /)'\"".into())));
    }
}
