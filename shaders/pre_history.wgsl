//!include common/index.wgsl
//!include common/ring.wgsl
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

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let b = i / p.cols;
    let j = i % p.cols;
    let slot = ring_slot(ctrl[0], ctrl[1], ctrl[2], 0u, p.slots);
    let cs = p.cols * p.slots;
    let hb = b * (3u * cs + 2u * p.cols);
    let h = hb + slot * 3u * p.cols + j;
    // Column j's spike count in the ring: the step `slots` ago leaves it, this one enters.
    let c = hb + 3u * cs + j;
    hist[c] = hist[c] + select(0.0, 1.0, pre[i] != 0.0) - select(0.0, 1.0, hist[h] != 0.0);
    if (pre[i] != 0.0) {
        hist[c + p.cols] = f32(slot); // the slot of the column's latest spike
    }
    hist[h] = pre[i];
    hist[h + p.cols] = r1s[i];
    hist[h + 2u * p.cols] = r2s[i];
}
