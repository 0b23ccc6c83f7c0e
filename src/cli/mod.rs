pub mod bench;
pub mod mnist;

use volley::backend::gpu::{AdapterPolicy, GpuBackend};
use volley::{BackendChoice, Result};

/// Says on stderr what `auto` will run on (the library chooses silently, by the same rule: a
/// hardware GPU adapter if there is one, else the CPU).
pub fn say_backend(b: BackendChoice) -> Result<()> {
    if b == BackendChoice::Auto {
        match GpuBackend::find_adapter(AdapterPolicy::HardwareOnly)? {
            Some(a) => eprintln!(
                "volley: backend auto -> gpu on {} ({}, {})",
                a.name, a.backend, a.device_type
            ),
            None => eprintln!("volley: backend auto -> cpu (no hardware GPU adapter found)"),
        }
    }
    Ok(())
}

/// A clap value parser for a whole number from `MIN` to `MAX`, whose error says so (Rust's own
/// parse errors name neither bound).
pub fn count<const MIN: usize, const MAX: usize>(s: &str) -> std::result::Result<usize, String> {
    s.parse::<usize>()
        .ok()
        .filter(|v| (MIN..=MAX).contains(v))
        .ok_or_else(|| format!("allowed: a whole number from {MIN} to {MAX}"))
}
