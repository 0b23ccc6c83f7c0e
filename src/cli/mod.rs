pub mod bench;
pub mod mnist;

/// A clap value parser for a whole number from `MIN` to `MAX`, whose error says so (Rust's own
/// parse errors name neither bound).
pub fn count<const MIN: usize, const MAX: usize>(s: &str) -> Result<usize, String> {
    s.parse::<usize>()
        .ok()
        .filter(|v| (MIN..=MAX).contains(v))
        .ok_or_else(|| format!("allowed: a whole number from {MIN} to {MAX}"))
}
