//!include common/index.wgsl
// rectified_linear: out = amplitude * max(J, 0). Twin: backend::cpu::rectified_linear.
struct Params { total: u32, dt: f32, amplitude: f32, _p: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> j: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    out[i] = p.amplitude * max(j[i], 0.0);
}
