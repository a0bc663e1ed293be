//! The one place where data becomes shell text. Every path, argument and variable that
//! reaches a remote shell passes through [`quote`] or [`quote_glob`].

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum QuoteError {
    #[error("a NUL byte cannot be passed to a shell: {0:?}")]
    Nul(String),
}

/// Quote `s` as one POSIX shell word that expands to exactly `s`: wrapped in single quotes,
/// with each `'` written as `'\''`. Nothing inside single quotes is special to the shell.
pub fn quote(s: &str) -> Result<String, QuoteError> {
    if s.contains('\0') {
        return Err(QuoteError::Nul(s.to_owned()));
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        if ch == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(ch);
        }
    }
    out.push('\'');
    Ok(out)
}

/// Quote a glob pattern so that only `*` and `?` stay active: every other character is
/// quoted literally, so the pattern can match paths but never run anything.
pub fn quote_glob(pattern: &str) -> Result<String, QuoteError> {
    let mut out = String::new();
    let mut literal = String::new();
    for ch in pattern.chars() {
        if ch == '*' || ch == '?' {
            if !literal.is_empty() {
                out.push_str(&quote(&literal)?);
                literal.clear();
            }
            out.push(ch);
        } else {
            literal.push(ch);
        }
    }
    if !literal.is_empty() || out.is_empty() {
        out.push_str(&quote(&literal)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_cases() {
        assert_eq!(quote("abc").unwrap(), "'abc'");
        assert_eq!(quote("").unwrap(), "''");
        assert_eq!(quote("it's").unwrap(), "'it'\\''s'");
        assert!(quote("a\0b").is_err());
        assert_eq!(quote_glob("/etc/ssh/ssh_host_*_key").unwrap(), "'/etc/ssh/ssh_host_'*'_key'");
        assert_eq!(quote_glob("/etc/a b/*").unwrap(), "'/etc/a b/'*");
    }
}
