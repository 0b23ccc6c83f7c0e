//! The WGSL kernels (one per Plan op) and the `#[repr(C)]` parameter structs they share with Rust.

use super::shader_source::compose;
use bytemuck::{Pod, Zeroable};

/// Invocations per workgroup; must equal `WG_SIZE` in `shaders/common/index.wgsl`.
pub const WG_SIZE: u32 = 64;

macro_rules! shader_table {
    ($($name:literal),* $(,)?) => {
        /// Every kernel: (op name, WGSL source before include resolution).
        pub const KERNELS: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../../shaders/", $name, ".wgsl")))),*
        ];
    };
}

shader_table!(
    "zero",
    "all_but_self_inc",
    "stdp",
    "trace",
    "pes",
    "bcm",
    "oja",
    "normalize_rows",
    "diehl_cook",
    "poisson_spikes",
    "uniform_noise",
    "broadcast",
    "host_input",
    "add_inc",
    "scale_inc",
    "matvec_inc",
    "sparse_inc",
    "delayed_matvec_inc",
    "delayed_sparse_inc",
    "delay_write",
    "delay_read",
    "stdp_sparse",
    "pre_history",
    "arrival_matvec_inc",
    "arrival_sparse_inc",
    "stdp_delayed",
    "stdp_sparse_delayed",
    "normalize_rows_sparse",
    "lif",
    "lif_rate",
    "adaptive_lif",
    "spiking_rectified_linear",
    "rectified_linear",
    "izhikevich",
    "lowpass",
    "alpha",
    "probe",
    "advance_step",
    "fused_steps",
);

/// Shared WGSL files that kernels include.
const COMMON: &[(&str, &str)] = &[
    (
        "common/index.wgsl",
        include_str!("../../../shaders/common/index.wgsl"),
    ),
    (
        "common/math.wgsl",
        include_str!("../../../shaders/common/math.wgsl"),
    ),
    (
        "common/lif_one.wgsl",
        include_str!("../../../shaders/common/lif_one.wgsl"),
    ),
    (
        "common/philox.wgsl",
        include_str!("../../../shaders/common/philox.wgsl"),
    ),
    (
        "common/ring.wgsl",
        include_str!("../../../shaders/common/ring.wgsl"),
    ),
    (
        "common/stdp_synapse.wgsl",
        include_str!("../../../shaders/common/stdp_synapse.wgsl"),
    ),
    (
        "common/elementwise.wgsl",
        include_str!("../../../shaders/common/elementwise.wgsl"),
    ),
    (
        "common/draws.wgsl",
        include_str!("../../../shaders/common/draws.wgsl"),
    ),
    (
        "common/matvec_row.wgsl",
        include_str!("../../../shaders/common/matvec_row.wgsl"),
    ),
    (
        "common/sum_all.wgsl",
        include_str!("../../../shaders/common/sum_all.wgsl"),
    ),
    (
        "common/normalize_row.wgsl",
        include_str!("../../../shaders/common/normalize_row.wgsl"),
    ),
    (
        "common/stdp_row.wgsl",
        include_str!("../../../shaders/common/stdp_row.wgsl"),
    ),
    (
        "common/stdp_arrival.wgsl",
        include_str!("../../../shaders/common/stdp_arrival.wgsl"),
    ),
    (
        "common/pre_history_one.wgsl",
        include_str!("../../../shaders/common/pre_history_one.wgsl"),
    ),
    (
        "common/probe_sample.wgsl",
        include_str!("../../../shaders/common/probe_sample.wgsl"),
    ),
    (
        "common/dc_one.wgsl",
        include_str!("../../../shaders/common/dc_one.wgsl"),
    ),
];

/// The complete WGSL of kernel `name`, includes resolved.
pub fn kernel_source(name: &str) -> Option<String> {
    let (_, src) = KERNELS.iter().find(|(n, _)| *n == name)?;
    let read = |p: &str| {
        COMMON
            .iter()
            .find(|(n, _)| *n == p)
            .map(|(_, s)| s.to_string())
    };
    compose(src, &read).ok()
}

/// Parameters of the element-wise kernels (`zero`, `broadcast`, `host_input`, `add_inc`,
/// `scale_inc`, `lowpass`, `alpha`, `probe`, `delay_write`, `delay_read`,
/// `normalize_rows_sparse`, rectified linear ones): the first
/// field is always the number of invocations. Twin: the `Params` struct of each of those shaders
/// (field names differ per kernel; the layout is four 4-byte words).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Params4 {
    /// Invocations (elements) of the dispatch.
    pub total: u32,
    /// Kernel-specific word 1.
    pub w1: u32,
    /// Kernel-specific word 2.
    pub w2: u32,
    /// Kernel-specific word 3.
    pub w3: u32,
}

/// Parameters of `lif`, `lif_rate`, `adaptive_lif`. Twin: `LifParams` in
/// `shaders/common/lif_one.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct LifParams {
    /// Invocations.
    pub total: u32,
    /// Timestep (s).
    pub dt: f32,
    /// Membrane time constant (s).
    pub tau_rc: f32,
    /// Refractory period (s).
    pub tau_ref: f32,
    /// Voltage floor.
    pub min_voltage: f32,
    /// Output scale.
    pub amplitude: f32,
    /// Adaptation time constant (adaptive_lif only).
    pub tau_n: f32,
    /// Adaptation increment (adaptive_lif only).
    pub inc_n: f32,
}

/// Parameters of `izhikevich`. Twin: `Params` in `shaders/izhikevich.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct IzhParams {
    /// Invocations.
    pub total: u32,
    /// Timestep (s).
    pub dt: f32,
    /// a.
    pub a: f32,
    /// b.
    pub b: f32,
    /// c.
    pub c: f32,
    /// d.
    pub d: f32,
    /// Padding.
    pub _p0: u32,
    /// Padding.
    pub _p1: u32,
}

/// Parameters of the delta learning rules `pes`, `bcm`, `oja`. Twin: the `Params` struct of
/// `shaders/pes.wgsl`, `shaders/bcm.wgsl`, `shaders/oja.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct LearnParams {
    /// Invocations: batch * rows * cols (one per weight).
    pub total: u32,
    /// Post rows.
    pub rows: u32,
    /// Pre columns.
    pub cols: u32,
    /// Rate factor: `-learning_rate * dt / n_pre` (PES), `learning_rate * dt` (BCM, Oja).
    pub alpha: f32,
    /// Forgetting weight (Oja only).
    pub beta: f32,
    /// Padding.
    pub _p0: u32,
    /// Padding.
    pub _p1: u32,
    /// Padding.
    pub _p2: u32,
}

/// Words of an f32 as u32 (for the float fields of [`Params4`]).
pub fn f(x: f32) -> u32 {
    x.to_bits()
}

/// Parameters of the fused step interpreter (`shaders/fused_steps.wgsl`). Twin: `FusedParams`
/// there.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct FusedParams {
    /// Steps to run in this dispatch.
    pub n_steps: u32,
    /// First op descriptor to run each step.
    pub op_begin: u32,
    /// One past the last op descriptor.
    pub op_end: u32,
    /// Instances (one workgroup each).
    pub batch: u32,
    /// Low word of the plan's seed.
    pub seed_lo: u32,
    /// High word of the plan's seed.
    pub seed_hi: u32,
    /// Index within the chunk of this dispatch's first step (a chunk may take several
    /// dispatches, see `SOFTWARE_FUSED_STEPS`).
    pub k_begin: u32,
    /// Profiling only: bit c skips the ops of code c, bit 0 the spike-mask builds (results are
    /// wrong; see `fused::skip_from_env`).
    pub skip: u32,
    /// 1 when instance b draws with key seed + b and index e ([`crate::rng::Keying::PerInstance`]).
    pub per_instance: u32,
    /// Padding.
    pub _p0: u32,
    /// Padding.
    pub _p1: u32,
    /// Padding.
    pub _p2: u32,
}
