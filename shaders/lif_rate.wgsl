//!include common/index.wgsl
//!include common/math.wgsl
//!include common/lif_one.wgsl
// lif_rate: amplitude / (tau_ref + tau_rc * log1p(1 / (J - 1))) for J > 1. Twin: backend::cpu::lif_rate.
@group(0) @binding(0) var<uniform> p: LifParams;
@group(0) @binding(1) var<storage, read> j: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    out[i] = lif_rate_one(p, j[i]);
}
