pub mod bench;
pub mod mnist;

use volley::backend::gpu::{AdapterPolicy, GpuBackend};
use volley::{BackendChoice, Result};

/// A command's `--backend` value (`cpu`, `gpu` or `auto`, in any case), with an error that
/// names the command and the flag.
pub fn parse_backend(command: &str, value: &str) -> Result<BackendChoice> {
    use std::str::FromStr;
    BackendChoice::from_str(&value.trim().to_ascii_lowercase()).map_err(|_| {
        volley::Error::invalid(
            command,
            "--backend",
            format!("\"{value}\""),
            "one of: cpu, gpu, auto",
        )
    })
}

/// What `auto` runs on, said on stderr, by the library's rule (a hardware GPU adapter if there
/// is one, else the CPU), looked up once: `Cpu` or `Gpu` (for which the simulator then picks
/// the same adapter: the best by type, so the hardware one), `Cpu` and `Gpu` as they are.
pub fn resolve_backend(b: BackendChoice) -> Result<BackendChoice> {
    if b != BackendChoice::Auto {
        return Ok(b);
    }
    Ok(
        match GpuBackend::find_adapter(AdapterPolicy::HardwareOnly)? {
            Some(a) => {
                eprintln!(
                    "volley: backend auto -> gpu on {} ({}, {})",
                    a.name, a.backend, a.device_type
                );
                BackendChoice::Gpu
            }
            None => {
                eprintln!("volley: backend auto -> cpu (no hardware GPU adapter found)");
                BackendChoice::Cpu
            }
        },
    )
}

/// A clap value parser for a whole number from `MIN` to `MAX`, whose error says so (Rust's own
/// parse errors name neither bound).
pub fn count<const MIN: usize, const MAX: usize>(s: &str) -> std::result::Result<usize, String> {
    s.parse::<usize>()
        .ok()
        .filter(|v| (MIN..=MAX).contains(v))
        .ok_or_else(|| format!("allowed: a whole number from {MIN} to {MAX}"))
}
