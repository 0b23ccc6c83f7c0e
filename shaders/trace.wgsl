//!include common/index.wgsl
//!include common/elementwise.wgsl
// trace: x = x * decay, then at a spike x = 1 (nearest) or x += 1 (all-to-all).
// Twin: backend::cpu::trace.
struct Params { total: u32, decay: f32, nearest: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> spikes: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    x[i] = trace_one(x[i], spikes[i], p.decay, p.nearest != 0u);
}
