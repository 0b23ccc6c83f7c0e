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
