//!include common/index.wgsl
//!include common/ring.wgsl
//!include common/pre_history_one.wgsl
// pre_history: this step's pre output (spikes: non-zero) and the pre traces as stored after the
// last step into slot step % slots of a ring laid out per instance as [slot][pre, r1, r2][col],
// then each column's spike count in the ring and the slot of its latest spike (read by the CPU
// to find the columns with spikes on the way), for transmission and STDP at arrival
// (arrival_matvec_inc.wgsl, stdp_delayed.wgsl). One invocation per (instance, column).
// Twin: backend::cpu::pre_history.
struct Params { total: u32, cols: u32, slots: u32, _p0: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ctrl: array<u32>;
@group(0) @binding(2) var<storage, read> pre: array<f32>;
@group(0) @binding(3) var<storage, read> r1s: array<f32>;
@group(0) @binding(4) var<storage, read> r2s: array<f32>;
@group(0) @binding(5) var<storage, read_write> hist: array<f32>;

fn ar_hist(i: u32) -> f32 { return hist[i]; }
fn ar_set_hist(i: u32, v: f32) { hist[i] = v; }

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let b = i / p.cols;
    let j = i % p.cols;
    let slot = ring_slot(ctrl[0], ctrl[1], ctrl[2], 0u, p.slots);
    pre_history_one(b * (3u * p.slots + 2u) * p.cols, slot, p.slots, p.cols, j, pre[i], r1s[i], r2s[i]);
}
