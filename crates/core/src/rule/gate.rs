//! Capability gates (`when:`) that choose a rule's implementation for a host.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::capability::{self, CapabilitySet};

/// `when: sshd`, `when: {all: [...]}`, `when: {any: [...]}` or `when: {not: ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Has(String),
    All(Vec<Gate>),
    Any(Vec<Gate>),
    Not(Box<Gate>),
}

impl Gate {
    pub fn matches(&self, caps: &CapabilitySet) -> bool {
        match self {
            Gate::Has(name) => caps.contains(name),
            Gate::All(gates) => gates.iter().all(|g| g.matches(caps)),
            Gate::Any(gates) => gates.iter().any(|g| g.matches(caps)),
            Gate::Not(gate) => !gate.matches(caps),
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join =
            |gates: &[Gate], sep: &str| gates.iter().map(ToString::to_string).collect::<Vec<_>>().join(sep);
        match self {
            Gate::Has(name) => f.write_str(name),
            Gate::All(gates) => write!(f, "({})", join(gates, " and ")),
            Gate::Any(gates) => write!(f, "({})", join(gates, " or ")),
            Gate::Not(gate) => write!(f, "not {gate}"),
        }
    }
}

struct GateList(Vec<Gate>);

impl<'de> Deserialize<'de> for GateList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = GateList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of capability gates")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<GateList, A::Error> {
                let mut gates = Vec::new();
                while let Some(g) = seq.next_element::<Gate>()? {
                    gates.push(g);
                }
                if gates.is_empty() {
                    return Err(de::Error::custom("empty list, expected at least one gate"));
                }
                Ok(GateList(gates))
            }
        }
        d.deserialize_seq(ListVisitor)
    }
}

impl<'de> Deserialize<'de> for Gate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct GateVisitor;
        impl<'de> Visitor<'de> for GateVisitor {
            type Value = Gate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a capability name or a mapping with one of all/any/not")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Gate, E> {
                if capability::is_known(v) {
                    Ok(Gate::Has(v.to_owned()))
                } else {
                    Err(E::custom(format!(
                        "unknown capability `{v}`, expected one of {}",
                        capability::known_names()
                    )))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Gate, A::Error> {
                let key: String = map
                    .next_key()?
                    .ok_or_else(|| de::Error::custom("empty gate, expected all, any or not"))?;
                let gate = match key.as_str() {
                    "all" => Gate::All(map.next_value::<GateList>()?.0),
                    "any" => Gate::Any(map.next_value::<GateList>()?.0),
                    "not" => Gate::Not(Box::new(map.next_value::<Gate>()?)),
                    other => {
                        return Err(de::Error::custom(format!(
                            "unknown gate operator `{other}`, expected all, any or not"
                        )));
                    }
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom("a gate mapping has exactly one key"));
                }
                Ok(gate)
            }
        }
        d.deserialize_any(GateVisitor)
    }
}
