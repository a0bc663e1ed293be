//! Login rate limiting: failures are counted per source address and per user name in a
//! sliding window; past the limit, logins are refused until old failures age out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: usize,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginLimiter {
    pub fn new(max_failures: u32) -> LoginLimiter {
        LoginLimiter { max_failures: max_failures.max(1) as usize, failures: Mutex::new(HashMap::new()) }
    }

    /// `Some(seconds to wait)` when any of `keys` is over the limit.
    pub fn blocked(&self, keys: &[String], now: Instant) -> Option<u64> {
        let mut map = self.failures.lock().expect("limiter lock");
        keys.iter()
            .filter_map(|k| {
                let list = map.get_mut(k)?;
                list.retain(|t| now.duration_since(*t) < WINDOW);
                (list.len() >= self.max_failures)
                    .then(|| list.first().map_or(1, |t| (WINDOW - now.duration_since(*t)).as_secs().max(1)))
            })
            .max()
    }

    pub fn failed(&self, keys: &[String], now: Instant) {
        let mut map = self.failures.lock().expect("limiter lock");
        if map.len() > 100_000 {
            map.retain(|_, l| l.last().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        for k in keys {
            map.entry(k.clone()).or_default().push(now);
        }
    }

    pub fn succeeded(&self, keys: &[String]) {
        let mut map = self.failures.lock().expect("limiter lock");
        for k in keys {
            map.remove(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_forgets_after_the_window() {
        let l = LoginLimiter::new(3);
        let keys = vec!["ip:1.2.3.4".to_owned()];
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.blocked(&keys, t0).is_none());
            l.failed(&keys, t0);
        }
        assert!(l.blocked(&keys, t0).is_some());
        assert!(l.blocked(&["ip:5.6.7.8".to_owned()], t0).is_none());
        assert!(l.blocked(&keys, t0 + WINDOW + Duration::from_secs(1)).is_none());
        l.failed(&keys, t0);
        l.succeeded(&keys);
        assert!(l.blocked(&keys, t0).is_none());
    }
}
