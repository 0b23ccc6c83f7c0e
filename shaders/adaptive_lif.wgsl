//!include common/index.wgsl
//!include common/math.wgsl
//!include common/lif_one.wgsl
// adaptive_lif: LIF on J - n, then n += dt/tau_n * (inc_n * out - n). Twin: backend::cpu::adaptive_lif.
@group(0) @binding(0) var<uniform> p: LifParams;
@group(0) @binding(1) var<storage, read> j: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> refr: array<f32>;
@group(0) @binding(5) var<storage, read_write> n: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let r = lif_one(p, j[i] - n[i], v[i], refr[i]);
    out[i] = r.x;
    v[i] = r.y;
    refr[i] = r.z;
    n[i] = adaptive_n_one(p, n[i], r.x);
}
