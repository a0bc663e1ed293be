//! Login rate limiting over a sliding 15-minute window, keyed so that nobody can lock a user
//! out for others:
//!
//! - per (source, user name): `max_failures` attempts, then that user is refused *from that
//!   source* only;
//! - per source: five times as many, whatever the user names (password spraying).
//!
//! There is deliberately no per-user key: it would let anyone lock `admin` out from
//! anywhere. IPv6 sources count per /64, which one host can easily own whole.
//!
//! An attempt is counted when it starts, before the password is checked, so parallel guesses
//! cannot all pass the check before any of them is recorded. A successful sign-in forgets its
//! pair's attempts and its own attempt at the source, never the source's other attempts (or
//! an attacker with one valid account could wipe its spraying record); an attempt whose
//! password was never checked (the server was busy, the database failed) is taken back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::http::client_addr::mask;

const WINDOW: Duration = Duration::from_secs(15 * 60);
/// A source may make this many times the per-user limit in attempts.
const SOURCE_FACTOR: usize = 5;
/// Past this many keys, keys without attempts in the window are dropped.
const PRUNE_ABOVE: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Source(String),
    Pair { source: String, user: String },
}

/// An attempt counted by [`LoginLimiter::begin`]. Dropping it leaves it counted (a failure);
/// [`LoginLimiter::succeeded`] and [`LoginLimiter::take_back`] settle it otherwise.
#[derive(Debug)]
#[must_use]
pub struct Attempt {
    source: Key,
    pair: Key,
    at: Instant,
}

#[derive(Debug)]
pub struct LoginLimiter {
    per_pair: usize,
    per_source: usize,
    attempts: Mutex<HashMap<Key, Vec<Instant>>>,
}

/// The limiter's notion of a source: the address, or its /64 for IPv6.
fn source_key(source: &str) -> String {
    match source.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(ip @ IpAddr::V6(_)) => format!("{}/64", mask(ip, 64)),
        Ok(ip) => ip.to_string(),
        Err(_) => source.to_owned(),
    }
}

impl LoginLimiter {
    pub fn new(max_failures: u32) -> LoginLimiter {
        let per_pair = max_failures.max(1) as usize;
        LoginLimiter { per_pair, per_source: per_pair * SOURCE_FACTOR, attempts: Mutex::new(HashMap::new()) }
    }

    /// Count an attempt to sign `user` in from `source`, or refuse it with the seconds to
    /// wait. Checking and counting are one step, so concurrent attempts cannot overshoot.
    pub fn begin(&self, source: &str, user: &str, now: Instant) -> Result<Attempt, u64> {
        let source = source_key(source);
        let attempt = Attempt {
            pair: Key::Pair { source: source.clone(), user: user.to_lowercase() },
            source: Key::Source(source),
            at: now,
        };
        let mut map = self.attempts.lock().expect("limiter lock");
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, l| l.last().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let wait = [(&attempt.source, self.per_source), (&attempt.pair, self.per_pair)]
            .into_iter()
            .filter_map(|(key, limit)| {
                let list = map.get_mut(key)?;
                list.retain(|t| now.duration_since(*t) < WINDOW);
                let oldest = list.first()?;
                (list.len() >= limit).then(|| (WINDOW - now.duration_since(*oldest)).as_secs().max(1))
            })
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        map.entry(attempt.source.clone()).or_default().push(now);
        map.entry(attempt.pair.clone()).or_default().push(now);
        Ok(attempt)
    }

    /// The password was right: forget the pair's attempts and this attempt at the source.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut map = self.attempts.lock().expect("limiter lock");
        map.remove(&attempt.pair);
        forget_one(&mut map, &attempt.source, attempt.at);
    }

    /// The password was never checked: the attempt does not count.
    pub fn take_back(&self, attempt: Attempt) {
        let mut map = self.attempts.lock().expect("limiter lock");
        forget_one(&mut map, &attempt.pair, attempt.at);
        forget_one(&mut map, &attempt.source, attempt.at);
    }
}

fn forget_one(map: &mut HashMap<Key, Vec<Instant>>, key: &Key, at: Instant) {
    if let Some(list) = map.get_mut(key) {
        if let Some(i) = list.iter().position(|t| *t == at) {
            list.remove(i);
        }
        if list.is_empty() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_refused_after_the_limit_and_forgiven_after_the_window() {
        let l = LoginLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            drop(l.begin("192.0.2.1", "admin", t0).expect("under the limit"));
        }
        let wait = l.begin("192.0.2.1", "Admin", t0).expect_err("user names are case-insensitive");
        assert_eq!(wait, WINDOW.as_secs());
        assert!(l.begin("192.0.2.1", "admin", t0 + WINDOW + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn attempts_count_before_the_password_is_checked() {
        // Twenty attempts in flight at once, none finished: only the limit gets through.
        let l = LoginLimiter::new(3);
        let t0 = Instant::now();
        let started: Vec<_> = (0..20).filter_map(|_| l.begin("192.0.2.1", "admin", t0).ok()).collect();
        assert_eq!(started.len(), 3);
    }

    #[test]
    fn one_source_locks_nothing_for_another() {
        let l = LoginLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            drop(l.begin("203.0.113.7", "admin", t0).unwrap());
        }
        assert!(l.begin("203.0.113.7", "admin", t0).is_err());
        assert!(l.begin("198.51.100.9", "admin", t0).is_ok(), "admin still signs in from elsewhere");
        assert!(l.begin("203.0.113.7", "alice", t0).is_ok(), "other users from the same source");
    }

    #[test]
    fn a_source_spraying_many_names_is_refused() {
        let l = LoginLimiter::new(3);
        let t0 = Instant::now();
        for i in 0..15 {
            drop(l.begin("203.0.113.7", &format!("user{i}"), t0).unwrap());
        }
        assert!(l.begin("203.0.113.7", "someone-new", t0).is_err());
        assert!(l.begin("198.51.100.9", "someone-new", t0).is_ok());
    }

    #[test]
    fn ipv6_sources_count_per_64() {
        let l = LoginLimiter::new(1);
        let t0 = Instant::now();
        drop(l.begin("2001:db8:1:2::1", "admin", t0).unwrap());
        assert!(l.begin("2001:db8:1:2:ffff::9", "admin", t0).is_err());
        assert!(l.begin("2001:db8:1:3::1", "admin", t0).is_ok());
        drop(l.begin("::ffff:192.0.2.1", "admin", t0).unwrap());
        assert!(l.begin("192.0.2.1", "admin", t0).is_err(), "IPv4-mapped is the IPv4 address");
    }

    #[test]
    fn success_forgets_the_pair_but_not_the_source() {
        let l = LoginLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..2 {
            drop(l.begin("192.0.2.1", "admin", t0).unwrap());
        }
        // With 12 failures against other names, then a success: the source stays at 14 of 15.
        for i in 0..12 {
            drop(l.begin("192.0.2.1", &format!("u{i}"), t0).unwrap());
        }
        let ok = l.begin("192.0.2.1", "admin", t0).unwrap();
        l.succeeded(ok);
        drop(l.begin("192.0.2.1", "admin", t0).unwrap());
        assert!(l.begin("192.0.2.1", "admin", t0).is_err(), "the source's failures are kept");
    }

    #[test]
    fn an_attempt_taken_back_does_not_count() {
        let l = LoginLimiter::new(1);
        let t0 = Instant::now();
        let a = l.begin("192.0.2.1", "admin", t0).unwrap();
        l.take_back(a);
        assert!(l.begin("192.0.2.1", "admin", t0).is_ok());
    }
}
