//! What the benchmarks share: percentiles of sorted samples, millisecond formatting, and
//! reading criterion's command line, so that a filtered run (`cargo bench --bench api -- list`)
//! skips the set-up and printed summaries of what it does not select, and test mode (`cargo test
//! --benches`) skips the summaries altogether, and the global allocator ([`heap`]). Each benchmark
//! uses a subset.
#![allow(dead_code)]

pub mod heap;

use std::time::Duration;

/// Sorted samples' percentile.
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

pub fn millis(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// `p50 …, p90 …, p99 …, max … over N` of unsorted samples.
pub fn summary(samples: &mut [Duration]) -> String {
    samples.sort();
    format!(
        "p50 {}, p90 {}, p99 {}, max {} over {}",
        millis(percentile(samples, 50)),
        millis(percentile(samples, 90)),
        millis(percentile(samples, 99)),
        millis(samples[samples.len() - 1]),
        samples.len()
    )
}

/// Test mode (each benchmark once: `--test`, or no `--bench`, as `cargo test --benches` runs
/// them) and `--list` skip the printed summaries.
pub fn quick() -> bool {
    let args: Vec<String> = std::env::args().collect();
    !args.iter().any(|arg| arg == "--bench") || args.iter().any(|arg| arg == "--test" || arg == "--list")
}

/// Criterion options that take a value, so that the value is not read as a filter.
const VALUE_OPTIONS: [&str; 19] = [
    "-c",
    "--color",
    "-s",
    "--save-baseline",
    "-b",
    "--baseline",
    "--baseline-lenient",
    "--format",
    "--profile-time",
    "--load-baseline",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--plotting-backend",
    "--output-format",
];

/// Whether a filter on the command line (criterion's positional arguments) could select one
/// of `ids`; regex filters always might.
pub fn selected(ids: &[&str]) -> bool {
    let mut filters = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if VALUE_OPTIONS.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            filters.push(arg);
        }
    }
    let is_regex = |f: &str| f.chars().any(|c| "^$.*+?()[]{}|\\".contains(c));
    filters.is_empty() || filters.iter().any(|f| is_regex(f) || ids.iter().any(|id| id.contains(f.as_str())))
}
