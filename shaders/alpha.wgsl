//!include common/index.wgsl
//!include common/elementwise.wgsl
// alpha: y = a*y + c1*z + c2*x; z = a*z + (1-a)*x (y uses the old z). Twin: backend::cpu::alpha.
struct Params { total: u32, a: f32, c1: f32, c2: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let yz = alpha_one(p.a, p.c1, p.c2, x[i], z[i], y[i]);
    y[i] = yz.x;
    z[i] = yz.y;
}
