//! Prometheus metrics, rendered by hand in the text exposition format: HTTP latencies by
//! route, scan durations and outcomes. Queue depth is read from the store at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

const BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let n = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    http: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    scans: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    pub fn observe_http(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.http
            .lock()
            .expect("metrics lock")
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default()
            .observe(seconds);
    }

    pub fn observe_scan(&self, outcome: &str, seconds: f64) {
        self.scans.lock().expect("metrics lock").entry(outcome.to_owned()).or_default().observe(seconds);
    }

    /// The exposition text; `queue` is (status, jobs) from the store.
    pub fn render(&self, queue: &[(&str, i64)]) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP openwatch_jobs Jobs in the durable queue by status.\n# TYPE openwatch_jobs gauge\n",
        );
        for (status, n) in queue {
            let _ = writeln!(out, "openwatch_jobs{{status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP openwatch_scan_duration_seconds Scan wall time by outcome.\n");
        out.push_str("# TYPE openwatch_scan_duration_seconds histogram\n");
        for (outcome, h) in self.scans.lock().expect("metrics lock").iter() {
            h.render(&mut out, "openwatch_scan_duration_seconds", &format!("outcome=\"{outcome}\""));
        }
        out.push_str("# HELP openwatch_http_request_duration_seconds API latency by route.\n");
        out.push_str("# TYPE openwatch_http_request_duration_seconds histogram\n");
        for ((method, route, status), h) in self.http.lock().expect("metrics lock").iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            h.render(&mut out, "openwatch_http_request_duration_seconds", &labels);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_histograms_and_gauges() {
        let m = Metrics::default();
        m.observe_http("GET", "/api/v1/hosts", 200, 0.003);
        m.observe_scan("succeeded", 1.2);
        let text = m.render(&[("queued", 4)]);
        assert!(text.contains("openwatch_jobs{status=\"queued\"} 4"));
        assert!(text.contains(
            "openwatch_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/hosts\",status=\"200\",le=\"0.005\"} 1"
        ));
        assert!(text.contains("openwatch_scan_duration_seconds_count{outcome=\"succeeded\"} 1"));
    }
}
