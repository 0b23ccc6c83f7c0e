//!include common/index.wgsl
//!include common/math.wgsl
//!include common/lif_one.wgsl
// lif: Nengo's LIF step. Twin: backend::cpu::lif.
@group(0) @binding(0) var<uniform> p: LifParams;
@group(0) @binding(1) var<storage, read> j: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> refr: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let r = lif_one(p, j[i], v[i], refr[i]);
    out[i] = r.x;
    v[i] = r.y;
    refr[i] = r.z;
}
