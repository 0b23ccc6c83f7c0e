//!include common/index.wgsl
//!include common/probe_sample.wgsl
// probe: where step k = ctrl[0] records (its probe's table at ctrl[p.table], see
// common/probe_sample.wgsl), copy src into that sample of the chunk's ring buffer.
// Twin: the Probe arm of backend::cpu::CpuBackend::exec.
struct Params { total: u32, table: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ctrl: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> ring: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let sample = probe_sample(p.table, ctrl[0]);
    if (sample == NO_SAMPLE) { return; }
    ring[sample * p.total + i] = src[i];
}
