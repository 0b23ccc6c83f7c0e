//! Shared helpers for tests that run on several backends.
#![allow(dead_code)]

use volley::BackendChoice;

/// Backends this test run covers: `VOLLEY_TEST_BACKENDS` (comma-separated, default `cpu,gpu`).
pub fn requested(backend: &str) -> bool {
    let v = std::env::var("VOLLEY_TEST_BACKENDS").unwrap_or_else(|_| "cpu,gpu".into());
    v.split(',').any(|b| b.trim() == backend)
}

/// The backend choice for a test named after `backend`. GPU tests use any adapter, software
/// ones (llvmpipe) included; with none they fail with the message saying what to install.
pub fn choice(backend: &str) -> BackendChoice {
    match backend {
        "cpu" => BackendChoice::Cpu,
        "gpu" => BackendChoice::Gpu,
        other => panic!("unknown backend {other}"),
    }
}

/// Expands one test body into one test per backend: `name::cpu` and `name::gpu`. A backend left
/// out of `VOLLEY_TEST_BACKENDS` is reported on stderr, never skipped silently.
#[macro_export]
macro_rules! per_backend {
    ($name:ident, |$be:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body($be: volley::BackendChoice) $body
            #[test]
            fn cpu() {
                body(volley::BackendChoice::Cpu);
            }
            #[test]
            fn gpu() {
                if !$crate::common::requested("gpu") {
                    eprintln!("gpu not in VOLLEY_TEST_BACKENDS: this run asked for the CPU only");
                    return;
                }
                body(volley::BackendChoice::Gpu);
            }
        }
    };
}

/// Absolute-plus-relative tolerance: `|a - b| <= abs + rel * max(|a|, |b|)`.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    /// Absolute part.
    pub abs: f32,
    /// Relative part.
    pub rel: f32,
}

impl Tol {
    /// True when `a` and `b` agree.
    pub fn ok(&self, a: f32, b: f32) -> bool {
        (a - b).abs() <= self.abs + self.rel * a.abs().max(b.abs()) || (a.is_nan() && b.is_nan())
    }
}

/// A fresh directory under the system's temp dir (named after the test process and `name`),
/// removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("volley-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// Writes `bytes` to the file `name` in the directory; returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Creates the subdirectory `name`; returns its path.
    pub fn sub(&self, name: &str) -> std::path::PathBuf {
        let dir = self.0.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `bytes` gzip-compressed.
pub fn gz(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An IDX images header: magic, count, rows, cols (big-endian u32 each).
pub fn images_header(magic: u32, n: u32, rows: u32, cols: u32) -> Vec<u8> {
    [magic, n, rows, cols]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
}

/// An IDX images file (magic 2051) with `pixels`.
pub fn images_bytes(n: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut b = images_header(2051, n, rows, cols);
    b.extend_from_slice(pixels);
    b
}

/// An IDX labels file (magic 2049).
pub fn labels_bytes(labels: &[u8]) -> Vec<u8> {
    let mut b = 2049u32.to_be_bytes().to_vec();
    b.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    b.extend_from_slice(labels);
    b
}

/// Deterministic, distinct pixel values.
pub fn pixels(count: usize, seed: usize) -> Vec<u8> {
    (0..count)
        .map(|i| ((i * 31 + seed * 7) % 251) as u8)
        .collect()
}

/// Deterministic labels in 0..=9.
pub fn labels(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| ((i + seed) % 10) as u8).collect()
}

/// Writes a small dataset (train n=6, test n=4, 3x2 images) to `dir`, gzip-compressed or not.
/// Returns the expected (train pixels, train labels, test pixels, test labels).
pub fn write_dataset(
    dir: &std::path::Path,
    compress: bool,
) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let (trp, trl) = (pixels(6 * 3 * 2, 1), labels(6, 1));
    let (tep, tel) = (pixels(4 * 3 * 2, 2), labels(4, 5));
    let files = [
        images_bytes(6, 3, 2, &trp),
        labels_bytes(&trl),
        images_bytes(4, 3, 2, &tep),
        labels_bytes(&tel),
    ];
    for (name, bytes) in volley::data::FILE_NAMES.iter().zip(files) {
        if compress {
            std::fs::write(dir.join(format!("{name}.gz")), gz(&bytes)).unwrap();
        } else {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    (trp, trl, tep, tel)
}

/// Whether `c` and `g` (spike counts per neuron) agree within one spike for at least 99 % of
/// the neurons; prints the figure.
pub fn assert_counts_within_one(name: &str, c: &[f32], g: &[f32]) {
    let ok = c
        .iter()
        .zip(g)
        .filter(|(a, b)| (*a - *b).abs() <= 1.0 + 1e-3)
        .count();
    eprintln!("{name}: {ok} of {} neurons within one spike", c.len());
    assert!(
        ok * 100 >= 99 * c.len(),
        "{name}: only {ok} of {} neurons within one spike",
        c.len()
    );
}

/// The rates buffer of `plan`'s (first) Poisson input.
pub fn poisson_rates_buffer(plan: &volley::compile::Plan) -> volley::compile::BufId {
    plan.step
        .iter()
        .find_map(|op| match op {
            volley::compile::Op::PoissonSpikes { rates, .. } => Some(*rates),
            _ => None,
        })
        .expect("a Poisson input")
}

/// The weights of `plan`'s (first) STDP op (at emission or at arrival).
pub fn stdp_weights_buffer(plan: &volley::compile::Plan) -> volley::compile::BufId {
    plan.step
        .iter()
        .find_map(|op| match op {
            volley::compile::Op::Stdp { w, .. } | volley::compile::Op::StdpDelayed { w, .. } => {
                Some(*w)
            }
            _ => None,
        })
        .expect("an STDP op")
}
