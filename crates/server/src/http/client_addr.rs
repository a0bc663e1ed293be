//! Which address a request comes from. The TCP peer, unless the peer is one of the
//! configured `trusted_proxies`: then the client is the rightmost `X-Forwarded-For` hop that
//! is not itself a trusted proxy. Hops further left were written by the client and prove
//! nothing, so a client can never choose its own address (and so its rate-limit key).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An address block: `10.0.0.0/8`, `fd00::/8`, or one address (`192.0.2.1`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an IP address or CIDR block (e.g. `10.0.0.1`, `10.0.0.0/8`, `fd00::/8`)")]
pub struct BadCidr(String);

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(s: &str) -> Result<Cidr, BadCidr> {
        let bad = || BadCidr(s.to_owned());
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // Digits only: `u8::from_str` would also take `+8`.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?
            }
            Some(_) => return Err(bad()),
        };
        Ok(Cidr { net: mask(addr.to_canonical(), prefix), prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.net.is_ipv4() && mask(ip, self.prefix) == self.net
    }
}

/// `ip` with all but its first `prefix` bits cleared.
pub fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & keep))
        }
        IpAddr::V6(a) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & keep))
        }
    }
}

/// The proxies whose `X-Forwarded-For` is believed. Empty (the default) believes none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Arc<[Cidr]>);

impl TrustedProxies {
    pub fn new(blocks: Vec<Cidr>) -> TrustedProxies {
        TrustedProxies(blocks.into())
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for TrustedProxies {
    type Err = BadCidr;

    /// A list separated by commas or white space (the `OPENWATCH_TRUSTED_PROXIES` form).
    fn from_str(s: &str) -> Result<TrustedProxies, BadCidr> {
        let blocks = s.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty());
        Ok(TrustedProxies::new(blocks.map(str::parse).collect::<Result<_, _>>()?))
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    /// A TOML list of strings, or one string (how environment variables arrive).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TrustedProxies, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(String),
            Many(Vec<String>),
        }
        let text = match Form::deserialize(d)? {
            Form::One(s) => s,
            Form::Many(v) => v.join(","),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One `X-Forwarded-For` hop: an address, optionally with a port (`[::1]:80`, `1.2.3.4:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The client's address: `peer` itself unless `peer` is trusted; then, walking
/// `X-Forwarded-For` (every such header, in order) from the right, the first hop that is not
/// a trusted proxy. When every hop is trusted, the leftmost one; when a hop is not an
/// address, the trusted hop that reported it (nothing left of it can be believed).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted.trusts(client) {
        return client;
    }
    let values: Vec<&str> =
        headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    let hops = values.iter().flat_map(|v| v.split(',')).collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else { return client };
        client = ip.to_canonical();
        if !trusted.trusts(client) {
            return client;
        }
    }
    client
}

/// The client address of a request as text (`unknown` without connection info).
pub fn source(req: &Request, trusted: &TrustedProxies) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".into(), |c| client_ip(c.0.ip(), req.headers(), trusted).to_string())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn blocks_parse_and_match() {
        let c: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert!(c.contains(ip("10.255.0.1")) && !c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.0.0.1")), "IPv4-mapped peers match IPv4 blocks");
        let one: Cidr = "192.0.2.1".parse().unwrap();
        assert!(one.contains(ip("192.0.2.1")) && !one.contains(ip("192.0.2.2")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")) && !v6.contains(ip("10.0.0.1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")) && !all.contains(ip("::1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "example.com",
            "10.0.0/8",
            "1.2.3.4/8/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lists_come_from_toml_lists_or_one_string() {
        #[derive(Deserialize)]
        struct T {
            p: TrustedProxies,
        }
        let a: T = toml::from_str(r#"p = ["10.0.0.0/8", "::1"]"#).unwrap();
        let b: T = toml::from_str(r#"p = "10.0.0.0/8, ::1""#).unwrap();
        assert_eq!(a.p, b.p);
        assert!(a.p.trusts(ip("10.9.9.9")) && a.p.trusts(ip("::1")) && !a.p.trusts(ip("127.0.0.1")));
        assert!(toml::from_str::<T>(r#"p = ["10.0.0.0/8", "proxy.local"]"#).is_err());
        assert!(toml::from_str::<T>(r#"p = """#).unwrap().p.is_empty());
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_another_address() {
        let trusted: TrustedProxies = "10.0.0.1".parse().unwrap();
        let h = xff(&["198.51.100.7"]);
        assert_eq!(client_ip(ip("203.0.113.5"), &h, &trusted), ip("203.0.113.5"));
        // No proxies configured: the header is ignored even from loopback.
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &TrustedProxies::default()), ip("127.0.0.1"));
    }

    #[test]
    fn a_trusted_proxy_reports_the_rightmost_untrusted_hop() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let peer = ip("10.0.0.1");
        assert_eq!(client_ip(peer, &xff(&["198.51.100.7"]), &trusted), ip("198.51.100.7"));
        // The client prepends a forged hop; the proxy appends the real one.
        assert_eq!(client_ip(peer, &xff(&["192.0.2.66, 198.51.100.7"]), &trusted), ip("198.51.100.7"));
        // A forged hop inside the trusted range is skipped like a real proxy would be, but
        // the real client (appended by the proxy) is still to its right.
        assert_eq!(client_ip(peer, &xff(&["10.0.0.9", "198.51.100.7"]), &trusted), ip("198.51.100.7"));
        // A chain of trusted proxies.
        assert_eq!(
            client_ip(peer, &xff(&["192.0.2.66, 198.51.100.7, 10.0.0.3, 10.0.0.2"]), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client_ip(peer, &xff(&["[2001:db8::7]:4711"]), &trusted), ip("2001:db8::7"));
        assert_eq!(client_ip(peer, &xff(&["198.51.100.7:4711"]), &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn missing_or_garbled_forwarding_falls_back_to_a_trusted_hop() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let peer = ip("10.0.0.1");
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
        assert_eq!(client_ip(peer, &xff(&["10.0.0.5, 10.0.0.2"]), &trusted), ip("10.0.0.5"));
        assert_eq!(client_ip(peer, &xff(&["198.51.100.7, garbage"]), &trusted), peer);
        assert_eq!(client_ip(peer, &xff(&["198.51.100.7, unknown, 10.0.0.2"]), &trusted), ip("10.0.0.2"));
        assert_eq!(client_ip(peer, &xff(&[""]), &trusted), peer);
    }

    #[test]
    fn requests_are_read_through_their_connection_info() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let mut req = Request::new(axum::body::Body::empty());
        req.headers_mut().insert("x-forwarded-for", HeaderValue::from_static("198.51.100.7"));
        assert_eq!(source(&req, &trusted), "unknown");
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 5000))));
        assert_eq!(source(&req, &trusted), "198.51.100.7");
        assert_eq!(source(&req, &TrustedProxies::default()), "10.0.0.1");
    }
}
