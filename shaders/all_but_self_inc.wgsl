//!include common/index.wgsl
//!include common/sum_all.wgsl
// all_but_self_inc: y[b, i] += s[i] * (sum_j x[b, j] - x[b, i]); the sum in j order, like the CPU.
// Twin: backend::cpu::all_but_self_inc.
struct Params { total: u32, n: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn abs_x(i: u32) -> f32 { return x[i]; }

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let b = i / p.n;
    let total = sum_all(b * p.n, p.n);
    y[i] = y[i] + s[i % p.n] * (total - x[i]);
}
