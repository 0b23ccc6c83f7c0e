//! Structs shared between Rust and WGSL must have the same size and field offsets. naga computes
//! the WGSL layout of each kernel's parameter struct; Rust's comes from `size_of`/`offset_of!`.

use std::mem::{offset_of, size_of};
use volley::backend::gpu::kernels::{
    IzhParams, KERNELS, LearnParams, LifParams, Params4, kernel_source,
};

/// (size, member offsets) of the struct `name` in kernel `kernel`.
fn wgsl_layout(kernel: &str, name: &str) -> (u32, Vec<u32>) {
    let src = kernel_source(kernel).unwrap_or_else(|| panic!("kernel {kernel} missing"));
    let module = naga::front::wgsl::parse_str(&src).unwrap();
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).unwrap();
    for (handle, ty) in module.types.iter() {
        if ty.name.as_deref() == Some(name)
            && let naga::TypeInner::Struct { members, span } = &ty.inner
        {
            assert_eq!(layouter[handle].size, *span);
            return (*span, members.iter().map(|m| m.offset).collect());
        }
    }
    panic!("struct {name} not found in kernel {kernel}");
}

#[test]
fn params4_matches_every_four_word_kernel() {
    let rust = (
        size_of::<Params4>() as u32,
        vec![
            offset_of!(Params4, total) as u32,
            offset_of!(Params4, w1) as u32,
            offset_of!(Params4, w2) as u32,
            offset_of!(Params4, w3) as u32,
        ],
    );
    for k in [
        "zero",
        "broadcast",
        "host_input",
        "add_inc",
        "scale_inc",
        "spiking_rectified_linear",
        "rectified_linear",
        "lowpass",
        "alpha",
        "probe",
        "delay_write",
        "delay_read",
        "normalize_rows_sparse",
        "pre_history",
    ] {
        assert_eq!(wgsl_layout(k, "Params"), rust, "kernel {k}");
    }
}

#[test]
fn lif_params_match() {
    let rust = (
        size_of::<LifParams>() as u32,
        vec![
            offset_of!(LifParams, total) as u32,
            offset_of!(LifParams, dt) as u32,
            offset_of!(LifParams, tau_rc) as u32,
            offset_of!(LifParams, tau_ref) as u32,
            offset_of!(LifParams, min_voltage) as u32,
            offset_of!(LifParams, amplitude) as u32,
            offset_of!(LifParams, tau_n) as u32,
            offset_of!(LifParams, inc_n) as u32,
        ],
    );
    for k in ["lif", "lif_rate", "adaptive_lif"] {
        assert_eq!(wgsl_layout(k, "LifParams"), rust, "kernel {k}");
    }
}

#[test]
fn izhikevich_params_match() {
    let rust = (
        size_of::<IzhParams>() as u32,
        vec![
            offset_of!(IzhParams, total) as u32,
            offset_of!(IzhParams, dt) as u32,
            offset_of!(IzhParams, a) as u32,
            offset_of!(IzhParams, b) as u32,
            offset_of!(IzhParams, c) as u32,
            offset_of!(IzhParams, d) as u32,
            offset_of!(IzhParams, _p0) as u32,
            offset_of!(IzhParams, _p1) as u32,
        ],
    );
    assert_eq!(wgsl_layout("izhikevich", "Params"), rust);
}

#[test]
fn eight_word_kernels_are_eight_packed_words() {
    // These kernels take `[u32; 8]` from Rust.
    for k in [
        "poisson_spikes",
        "uniform_noise",
        "matvec_inc",
        "sparse_inc",
        "delayed_matvec_inc",
        "delayed_sparse_inc",
        "arrival_matvec_inc",
        "arrival_sparse_inc",
    ] {
        assert_eq!(
            wgsl_layout(k, "Params"),
            (32, (0..8).map(|i| i * 4).collect::<Vec<u32>>()),
            "kernel {k}"
        );
    }
}

#[test]
fn every_kernel_resolves_and_parses() {
    for (name, _) in KERNELS {
        let src = kernel_source(name).unwrap();
        naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn learn_params_match_pes_bcm_oja() {
    let rust = (
        size_of::<LearnParams>() as u32,
        vec![
            offset_of!(LearnParams, total) as u32,
            offset_of!(LearnParams, rows) as u32,
            offset_of!(LearnParams, cols) as u32,
            offset_of!(LearnParams, alpha) as u32,
            offset_of!(LearnParams, beta) as u32,
            offset_of!(LearnParams, _p0) as u32,
            offset_of!(LearnParams, _p1) as u32,
            offset_of!(LearnParams, _p2) as u32,
        ],
    );
    for k in ["pes", "bcm", "oja"] {
        assert_eq!(wgsl_layout(k, "Params"), rust, "kernel {k}");
    }
}

#[test]
fn stdp_kernels_are_sixteen_packed_words() {
    // The STDP kernels take `[u32; 16]` from Rust (the same layout; word 14 is the per-instance
    // weight stride where a kernel reads it, word 15 the delayed kernels' ring slots).
    for k in ["stdp", "stdp_sparse", "stdp_delayed", "stdp_sparse_delayed"] {
        assert_eq!(
            wgsl_layout(k, "Params"),
            (64, (0..16).map(|i| i * 4).collect::<Vec<u32>>()),
            "kernel {k}"
        );
    }
}

/// `diehl_cook`'s parameters have no Rust struct: the GPU backend writes the words `[total]`,
/// then `DcConsts::values()` in order, then zero padding to 16 words (64 bytes). The WGSL struct
/// `Params` must be those 16 four-byte words, and `DcConsts` (shared with the fused
/// interpreter, which reads the same values) must have one member per value.
#[test]
fn diehl_cook_params_match_dc_consts_values() {
    let values =
        volley::backend::cpu::DcConsts::new(&volley::model::DcParams::excitatory(), 0.0005)
            .values();
    let (size, offsets) = wgsl_layout("diehl_cook", "Params");
    assert_eq!(size, 64);
    assert_eq!(offsets, (0..16).map(|i| i * 4).collect::<Vec<u32>>());
    assert!(values.len() < 16, "total + values must fit the 16 words");
    let (size, offsets) = wgsl_layout("diehl_cook", "DcConsts");
    assert_eq!(offsets.len(), values.len(), "one DcConsts member per value");
    assert_eq!(size as usize, 4 * values.len());
}
