//! Which operating systems a rule targets, and the host platform detected from os-release.

use std::cmp::Ordering;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// OS families rules may target (os-release `ID`s; `rhel` also covers its rebuilds).
pub const FAMILIES: &[&str] = &["debian", "ubuntu", "rhel", "fedora", "sles", "amzn"];

/// A dotted numeric version such as `12`, `22.04` or `9.4`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Version(String);

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let ok =
            !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        ok.then(|| Version(s.to_owned()))
    }

    fn parts(&self) -> Vec<u64> {
        self.0.split('.').map(|p| p.parse().unwrap_or(u64::MAX)).collect()
    }

    /// Compare component-wise; a shorter version equals its prefix (`9` == `9.4` for ranges).
    pub fn cmp_prefix(&self, other: &Version) -> Ordering {
        let (a, b) = (self.parts(), other.parts());
        for (x, y) in a.iter().zip(b.iter()) {
            match x.cmp(y) {
                Ordering::Equal => continue,
                o => return o,
            }
        }
        Ordering::Equal
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a version such as \"12\" or \"22.04\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Version, E> {
                Version::parse(v).ok_or_else(|| {
                    E::custom(format!("invalid version `{v}`, expected digits separated by dots"))
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
                Ok(Version(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Version, E> {
                Err(E::custom(format!("version {v} must be quoted (\"{v}\") so it is not read as a number")))
            }
        }
        d.deserialize_any(V)
    }
}

/// An OS family name from [`FAMILIES`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Family(String);

impl Family {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Family {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if FAMILIES.contains(&s.as_str()) {
            Ok(Family(s))
        } else {
            Err(de::Error::custom(format!(
                "unknown platform family `{s}`, expected one of {}",
                FAMILIES.join(", ")
            )))
        }
    }
}

/// One entry of a rule's `platforms`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformSpec {
    pub family: Family,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<Version>,
}

impl PlatformSpec {
    pub fn matches(&self, host: &HostPlatform) -> bool {
        if host.family() != Some(self.family.as_str()) {
            return false;
        }
        let Some(version) = host.version_id.as_deref().and_then(Version::parse) else {
            // A host without a version matches only open ranges.
            return self.min_version.is_none() && self.max_version.is_none();
        };
        let above = self.min_version.as_ref().is_none_or(|m| version.cmp_prefix(m) != Ordering::Less);
        let below = self.max_version.as_ref().is_none_or(|m| version.cmp_prefix(m) != Ordering::Greater);
        above && below
    }
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.family.as_str())?;
        match (&self.min_version, &self.max_version) {
            (Some(a), Some(b)) if a == b => write!(f, " {a}"),
            (Some(a), Some(b)) => write!(f, " {a}..{b}"),
            (Some(a), None) => write!(f, " >={a}"),
            (None, Some(b)) => write!(f, " <={b}"),
            (None, None) => Ok(()),
        }
    }
}

/// The platform a host reports in `/etc/os-release`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPlatform {
    /// os-release `ID`, e.g. `debian`.
    pub id: Option<String>,
    /// os-release `ID_LIKE`, split on whitespace.
    pub id_like: Vec<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
}

impl HostPlatform {
    /// Parse os-release text (KEY=value lines, values optionally quoted).
    pub fn from_os_release(text: &str) -> HostPlatform {
        let mut p = HostPlatform::default();
        for line in text.lines() {
            let Some((key, raw)) = line.trim().split_once('=') else {
                continue;
            };
            let value = unquote(raw.trim());
            match key {
                "ID" => p.id = Some(value.to_lowercase()),
                "ID_LIKE" => p.id_like = value.split_whitespace().map(str::to_lowercase).collect(),
                "VERSION_ID" => p.version_id = Some(value),
                "PRETTY_NAME" => p.pretty_name = Some(value),
                _ => {}
            }
        }
        p
    }

    /// The rule family this host belongs to: its ID, with RHEL rebuilds folded into `rhel`.
    pub fn family(&self) -> Option<&str> {
        let id = self.id.as_deref()?;
        match id {
            "centos" | "rocky" | "almalinux" | "ol" => Some("rhel"),
            other => Some(other),
        }
    }

    /// `debian 12`-style label for messages.
    pub fn label(&self) -> String {
        match (&self.id, &self.version_id) {
            (Some(id), Some(v)) => format!("{id} {v}"),
            (Some(id), None) => id.clone(),
            _ => "unknown platform".to_owned(),
        }
    }
}

fn unquote(v: &str) -> String {
    let stripped = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
        .unwrap_or(v);
    stripped.replace("\\\"", "\"").replace("\\\\", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(family: &str, min: Option<&str>, max: Option<&str>) -> PlatformSpec {
        PlatformSpec {
            family: Family(family.into()),
            min_version: min.and_then(Version::parse),
            max_version: max.and_then(Version::parse),
        }
    }

    #[test]
    fn os_release_is_parsed_with_quotes() {
        let p = HostPlatform::from_os_release(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
        );
        assert_eq!(p.id.as_deref(), Some("debian"));
        assert_eq!(p.version_id.as_deref(), Some("12"));
        assert_eq!(p.label(), "debian 12");
    }

    #[test]
    fn version_ranges_compare_numerically() {
        let host = HostPlatform {
            id: Some("ubuntu".into()),
            version_id: Some("22.04".into()),
            ..Default::default()
        };
        assert!(spec("ubuntu", Some("22.04"), None).matches(&host));
        assert!(spec("ubuntu", Some("20.04"), Some("22.04")).matches(&host));
        assert!(!spec("ubuntu", Some("24.04"), None).matches(&host));
        assert!(!spec("debian", None, None).matches(&host));
        let rocky =
            HostPlatform { id: Some("rocky".into()), version_id: Some("9.4".into()), ..Default::default() };
        assert!(spec("rhel", Some("9"), Some("9")).matches(&rocky));
        assert!(!spec("rhel", Some("8"), Some("8")).matches(&rocky));
    }
}
