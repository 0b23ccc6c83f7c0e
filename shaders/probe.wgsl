//!include common/index.wgsl
// probe: when this step records (k >= first_k and (k - first_k) % every == 0, k = ctrl[0],
// first_k = ctrl[3 + slot]), copy src into sample (k - first_k) / every of the chunk's ring buffer.
// Twin: the Probe arm of backend::cpu::CpuBackend::exec.
struct Params { total: u32, every: u32, slot: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ctrl: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> ring: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let k = ctrl[0];
    let first_k = ctrl[3u + p.slot];
    if (k < first_k || (k - first_k) % p.every != 0u) { return; }
    let sample = (k - first_k) / p.every;
    ring[sample * p.total + i] = src[i];
}
