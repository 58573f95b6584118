//! `/metrics` in the Prometheus text format: a request counter and a latency histogram, both
//! labelled by verb, group, version, resource, subresource (and code for the counter), named
//! as kube-apiserver names them.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Histogram bucket bounds in seconds (a subset of kube-apiserver's).
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Labels {
    verb: String,
    group: String,
    version: String,
    resource: String,
    subresource: String,
}

impl Labels {
    fn render(&self) -> String {
        format!(
            "group=\"{}\",resource=\"{}\",subresource=\"{}\",verb=\"{}\",version=\"{}\"",
            self.group, self.resource, self.subresource, self.verb, self.version
        )
    }
}

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    totals: BTreeMap<(Labels, u16), u64>,
    latencies: BTreeMap<Labels, Histogram>,
}

/// Request metrics of one instance.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// What one finished request is counted under.
#[derive(Debug, Clone, Copy)]
pub struct RequestLabels<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    pub version: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
}

impl Metrics {
    /// Counts a finished request. Verbs are upper-cased as kube-apiserver reports them.
    pub fn observe(&self, request: RequestLabels<'_>, code: u16, elapsed: Duration) {
        let labels = Labels {
            verb: request.verb.to_ascii_uppercase(),
            group: request.group.into(),
            version: request.version.into(),
            resource: request.resource.into(),
            subresource: request.subresource.into(),
        };
        let seconds = elapsed.as_secs_f64();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let histogram = inner.latencies.entry(labels.clone()).or_default();
        for (count, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *count += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
        *inner.totals.entry((labels, code)).or_default() += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, group, version, resource, subresource and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((labels, code), total) in &inner.totals {
            let _ = writeln!(out, "apiserver_request_total{{code=\"{code}\",{}}} {total}", labels.render());
        }
        out.push_str("# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb, group, version, resource and subresource.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for (labels, histogram) in &inner.latencies {
            let rendered = labels.render();
            for (count, bound) in histogram.counts.iter().zip(BUCKETS) {
                let _ = writeln!(out, "apiserver_request_duration_seconds_bucket{{{rendered},le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_bucket{{{rendered},le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(out, "apiserver_request_duration_seconds_sum{{{rendered}}} {}", histogram.sum);
            let _ = writeln!(out, "apiserver_request_duration_seconds_count{{{rendered}}} {}", histogram.count);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets_requests() {
        let metrics = Metrics::default();
        let labels = RequestLabels { verb: "list", group: "", version: "v1", resource: "pods", subresource: "" };
        metrics.observe(labels, 200, Duration::from_micros(700));
        metrics.observe(labels, 200, Duration::from_millis(30));
        let text = metrics.render();
        assert!(text.contains("apiserver_request_total{code=\"200\",group=\"\",resource=\"pods\",subresource=\"\",verb=\"LIST\",version=\"v1\"} 2"));
        assert!(text.contains("le=\"0.001\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }
}
