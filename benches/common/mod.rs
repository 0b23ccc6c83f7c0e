//! Shared by the criterion benches.

use volley::BackendChoice;

/// Backends to measure: `VOLLEY_BENCH_BACKENDS` (comma-separated `cpu`, `gpu`), default
/// `cpu,gpu`; each with its name.
pub fn backends() -> Vec<(&'static str, BackendChoice)> {
    let v = std::env::var("VOLLEY_BENCH_BACKENDS").unwrap_or_else(|_| "cpu,gpu".into());
    v.split(',')
        .filter_map(|b| match b.trim() {
            "cpu" => Some(("cpu", BackendChoice::Cpu)),
            "gpu" => Some(("gpu", BackendChoice::Gpu)),
            _ => None,
        })
        .collect()
}
