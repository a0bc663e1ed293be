//! `[user@]host[:port]` as users write it (IPv6 addresses in brackets).

use std::fmt;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub user: Option<String>,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EndpointError {
    #[error("`{0}`: empty host")]
    EmptyHost(String),
    #[error("`{0}`: port must be a number from 1 to 65535")]
    BadPort(String),
    #[error("`{0}`: unterminated `[` in an IPv6 address")]
    BadBracket(String),
    #[error("`{0}`: host names may not contain whitespace, control characters or start with `-`")]
    BadChar(String),
}

impl Endpoint {
    pub fn parse(text: &str) -> Result<Endpoint, EndpointError> {
        let (user, rest) = match text.rsplit_once('@') {
            Some((u, r)) => (Some(u.to_owned()), r),
            None => (None, text),
        };
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (h, after) =
                inner.split_once(']').ok_or_else(|| EndpointError::BadBracket(text.to_owned()))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(EndpointError::BadPort(text.to_owned())),
            };
            (h, port)
        } else if rest.matches(':').count() == 1 {
            let (h, p) = rest.split_once(':').expect("one colon");
            (h, Some(p))
        } else {
            (rest, None)
        };
        if host.is_empty() {
            return Err(EndpointError::EmptyHost(text.to_owned()));
        }
        let bad = |s: &str| s.starts_with('-') || s.chars().any(|c| c.is_whitespace() || c.is_control());
        if bad(host) || user.as_deref().is_some_and(|u| u.is_empty() || bad(u)) {
            return Err(EndpointError::BadChar(text.to_owned()));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| EndpointError::BadPort(text.to_owned()))?,
            None => 22,
        };
        Ok(Endpoint { user, host: host.to_owned(), port })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if self.port != 22 {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_host_port_and_ipv6() {
        assert_eq!(Endpoint::parse("h1").unwrap(), Endpoint { user: None, host: "h1".into(), port: 22 });
        assert_eq!(
            Endpoint::parse("root@10.0.0.1:2222").unwrap(),
            Endpoint { user: Some("root".into()), host: "10.0.0.1".into(), port: 2222 }
        );
        assert_eq!(Endpoint::parse("[::1]:2200").unwrap().host, "::1");
        assert_eq!(Endpoint::parse("fe80::1").unwrap().port, 22);
        assert!(Endpoint::parse("h:0").is_err());
        assert!(Endpoint::parse("h:x").is_err());
        assert!(Endpoint::parse("@h").is_err());
        assert!(Endpoint::parse("-oProxyCommand=x").is_err());
        assert!(Endpoint::parse("a b").is_err());
        assert_eq!(Endpoint::parse("u@h:2222").unwrap().to_string(), "u@h:2222");
    }
}
