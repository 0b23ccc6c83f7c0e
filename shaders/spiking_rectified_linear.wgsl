//!include common/index.wgsl
// spiking_rectified_linear: v += max(J, 0) dt; emit floor(v) spikes. Twin: backend::cpu::spiking_rectified_linear.
struct Params { total: u32, dt: f32, amplitude: f32, _p: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> j: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let vi = v[i] + max(j[i], 0.0) * p.dt;
    let n = floor(vi);
    out[i] = (p.amplitude / p.dt) * n;
    v[i] = vi - n;
}
