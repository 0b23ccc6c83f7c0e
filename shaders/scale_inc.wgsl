//!include common/index.wgsl
//!include common/elementwise.wgsl
// scale_inc: y[b, i] += s[i] * x[b, i]. Twin: backend::cpu::scale_inc.
struct Params { total: u32, n: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    y[i] = scale_inc_one(y[i], s[i % p.n], x[i]);
}
