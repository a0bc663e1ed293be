//! Small validated value types used by rule files. Each validates while it is deserialized,
//! so a bad value is reported at its own line and column.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// How bad a failing rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn string_visitor_error<E: de::Error>(what: &str, got: &str, expected: &str) -> E {
    E::custom(format!("invalid {what} `{got}`, expected {expected}"))
}

/// Deserialize any YAML scalar as its source text (so `mode: 0640` keeps its leading zero).
fn scalar_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct ScalarText;
    impl Visitor<'_> for ScalarText {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a scalar value")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_str(ScalarText)
}

/// An absolute path with no wildcard, NUL or newline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct AbsPath(String);

/// An absolute path that may contain `*` and `?` wildcards (never `[`, never `..`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct GlobPath(String);

fn check_path(s: &str, allow_glob: bool) -> Result<(), &'static str> {
    if !s.starts_with('/') {
        return Err("an absolute path starting with `/`");
    }
    if s.contains(['\0', '\n', '\r']) {
        return Err("a path without NUL or line breaks");
    }
    if s.split('/').any(|c| c == "..") {
        return Err("a path without `..` components");
    }
    if s.contains('[') || s.contains(']') {
        return Err("a path without `[` or `]`");
    }
    if !allow_glob && s.contains(['*', '?']) {
        return Err("a literal path (no `*` or `?` wildcard here)");
    }
    Ok(())
}

impl AbsPath {
    pub fn new(s: impl Into<String>) -> Result<Self, &'static str> {
        let s = s.into();
        check_path(&s, false)?;
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl GlobPath {
    pub fn new(s: impl Into<String>) -> Result<Self, &'static str> {
        let s = s.into();
        check_path(&s, true)?;
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn has_wildcard(&self) -> bool {
        self.0.contains(['*', '?'])
    }
}

impl<'de> Deserialize<'de> for AbsPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AbsPath::new(s.clone()).map_err(|exp| string_visitor_error("path", &s, exp))
    }
}

impl<'de> Deserialize<'de> for GlobPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        GlobPath::new(s.clone()).map_err(|exp| string_visitor_error("path", &s, exp))
    }
}

/// A permission mode, written in octal (`"0640"`); checks treat it as the most permissive
/// mode allowed, so any bit set on the file but not here is a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode(pub u32);

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return None;
        }
        u32::from_str_radix(s, 8).ok().filter(|m| *m <= 0o7777).map(Mode)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = scalar_text(d)?;
        Mode::parse(&s).ok_or_else(|| {
            string_visitor_error("mode", &s, "an octal mode of at most 4 digits such as \"0640\"")
        })
    }
}

/// A compiled regular expression that keeps its source text.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: regex::Regex,
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let source = String::deserialize(d)?;
        let regex = regex::RegexBuilder::new(&source)
            .multi_line(true)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| de::Error::custom(format!("invalid regular expression `{source}`: {e}")))?;
        Ok(Pattern { source, regex })
    }
}

/// A rule or variable identifier: lowercase ASCII letters, digits and `_`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Ident(String);

impl Ident {
    pub fn is_valid(s: &str) -> bool {
        let mut bytes = s.bytes();
        matches!(bytes.next(), Some(b'a'..=b'z'))
            && s.len() <= 96
            && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Ident {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if Ident::is_valid(&s) {
            Ok(Ident(s))
        } else {
            Err(string_visitor_error(
                "identifier",
                &s,
                "lowercase letters, digits and `_`, starting with a letter (at most 96)",
            ))
        }
    }
}

/// A name passed to the host as data (a package, unit, module, sysctl key): no whitespace,
/// no control characters, no shell metacharacters, not starting with `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    pub fn new(s: impl Into<String>) -> Result<Self, String> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 256
            && !s.starts_with('-')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-@:+/=,".contains(c));
        if ok { Ok(Token(s)) } else { Err(s) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = scalar_text(d)?;
        Token::new(s).map_err(|s| {
            string_visitor_error("name", &s, "letters, digits and ._-@:+/=, only, not starting with `-`")
        })
    }
}

/// Text that must not be empty or only whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            Err(de::Error::custom("empty text, expected a non-empty string"))
        } else {
            Ok(Text(s))
        }
    }
}

/// How an observed value is compared with the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Comparator {
    #[default]
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// The observed value matches the expected regular expression.
    Matches,
    /// Every comma-separated observed item is in the expected list.
    SubsetOf,
    /// No comma-separated observed item is in the expected list.
    NoneOf,
    /// The observed value equals one of the expected list's items.
    OneOf,
}

impl Comparator {
    const NAMES: [(&'static str, Comparator); 10] = [
        ("==", Self::Eq),
        ("!=", Self::Ne),
        ("<", Self::Lt),
        ("<=", Self::Le),
        (">", Self::Gt),
        (">=", Self::Ge),
        ("matches", Self::Matches),
        ("subset_of", Self::SubsetOf),
        ("none_of", Self::NoneOf),
        ("one_of", Self::OneOf),
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES.iter().find(|(_, c)| *c == self).map(|(n, _)| *n).unwrap_or("==")
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Lt | Self::Le | Self::Gt | Self::Ge)
    }

    pub fn wants_list(self) -> bool {
        matches!(self, Self::SubsetOf | Self::NoneOf | Self::OneOf)
    }
}

impl<'de> Deserialize<'de> for Comparator {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Comparator::NAMES.iter().find(|(n, _)| *n == s).map(|(_, c)| *c).ok_or_else(|| {
            string_visitor_error(
                "comparator",
                &s,
                "one of ==, !=, <, <=, >, >=, matches, subset_of, none_of, one_of",
            )
        })
    }
}

/// What a check concludes when the thing it inspects does not exist on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenMissing {
    Fail,
    Pass,
    NotApplicable,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_only_octal_up_to_four_digits() {
        assert_eq!(Mode::parse("0640"), Some(Mode(0o640)));
        assert_eq!(Mode::parse("644"), Some(Mode(0o644)));
        assert_eq!(Mode::parse("4755"), Some(Mode(0o4755)));
        assert_eq!(Mode::parse("0899"), None);
        assert_eq!(Mode::parse("17777"), None);
        assert_eq!(Mode::parse(""), None);
        assert_eq!(Mode(0o600).to_string(), "0600");
    }

    #[test]
    fn paths_are_absolute_and_free_of_traversal() {
        assert!(AbsPath::new("/etc/passwd").is_ok());
        assert!(AbsPath::new("etc/passwd").is_err());
        assert!(AbsPath::new("/etc/../shadow").is_err());
        assert!(AbsPath::new("/etc/*.conf").is_err());
        assert!(GlobPath::new("/etc/ssh/ssh_host_*_key").is_ok());
        assert!(GlobPath::new("/etc/[ab]").is_err());
        assert!(AbsPath::new("/etc/a\nb").is_err());
    }

    #[test]
    fn identifiers_are_lowercase_snake_case() {
        assert!(Ident::is_valid("sshd_disable_root_login"));
        assert!(!Ident::is_valid("Sshd"));
        assert!(!Ident::is_valid("1abc"));
        assert!(!Ident::is_valid("a-b"));
    }
}
