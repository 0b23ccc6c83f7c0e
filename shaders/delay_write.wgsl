//!include common/index.wgsl
//!include common/ring.wgsl
// delay_write: one delay for a whole signal of n values per instance:
// ring[b, (step + delay) % slots, i] += x[b, i] (ring laid out [instance][slot][i]).
// One invocation per (instance, element). Twin: backend::cpu::delay_write.
struct Params { total: u32, n: u32, slots: u32, delay: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ctrl: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> ring: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let b = i / p.n;
    let e = i % p.n;
    let slot = ring_slot(ctrl[0], ctrl[1], ctrl[2], p.delay, p.slots);
    let at = (b * p.slots + slot) * p.n + e;
    ring[at] = ring[at] + x[i];
}
