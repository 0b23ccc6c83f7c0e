//!include common/index.wgsl
// host_input: dst[b, i] = host[k, b, i] where k is the step within the chunk (ctrl[0]).
// Twin: the HostInput arm of backend::cpu::CpuBackend::exec.
struct Params { total: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ctrl: array<u32>;
@group(0) @binding(2) var<storage, read> host: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    dst[i] = host[ctrl[0] * p.total + i];
}
