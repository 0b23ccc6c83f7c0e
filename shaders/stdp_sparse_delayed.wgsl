//!include common/index.wgsl
//!include common/ring.wgsl
//!include common/stdp_arrival.wgsl
// stdp_sparse_delayed: stdp_delayed.wgsl on the stored entries of a CSR matrix (rows = post)
// with per-instance values and a delay per stored entry; each entry is updated exactly as the
// same synapse of a dense matrix. One invocation per (instance, post row).
// Twin: backend::cpu::stdp_sparse_delayed. The same 16-word layout as stdp_delayed.wgsl.
struct Params {
    total: u32,
    rows: u32,
    cols: u32,
    flags: u32, // bit 0 nearest, bit 1 multiplicative
    decay_r1: f32,
    decay_r2: f32,
    decay_o1: f32,
    decay_o2: f32,
    a2_plus: f32,
    a3_plus: f32,
    a2_minus: f32,
    a3_minus: f32,
    w_min: f32,
    w_max: f32,
    w_stride: u32,
    slots: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ctrl: array<u32>;
@group(0) @binding(2) var<storage, read> indptr: array<u32>;
@group(0) @binding(3) var<storage, read> indices: array<u32>;
@group(0) @binding(4) var<storage, read> delays: array<u32>;
@group(0) @binding(5) var<storage, read> hist: array<f32>;
@group(0) @binding(6) var<storage, read> post: array<f32>;
@group(0) @binding(7) var<storage, read> o1s: array<f32>;
@group(0) @binding(8) var<storage, read> o2s: array<f32>;
@group(0) @binding(9) var<storage, read> learn: array<f32>;
@group(0) @binding(10) var<storage, read_write> w: array<f32>;

fn ar_hist(i: u32) -> f32 { return hist[i]; }
fn st_w(i: u32) -> f32 { return w[i]; }
fn st_set_w(i: u32, v: f32) { w[i] = v; }

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = flat_index(gid, nwg);
    if (row >= p.total) { return; }
    let l = learn[0];
    if (l == 0.0) { return; }
    let b = row / p.rows;
    let i = row % p.rows;
    let post_spike = post[row] != 0.0;
    let o1 = o1s[row] * p.decay_o1;
    let o2 = o2s[row] * p.decay_o2;
    let now = ring_slot(ctrl[0], ctrl[1], ctrl[2], 0u, p.slots);
    let w0 = b * p.w_stride;
    let hb = b * (3u * p.slots + 2u) * p.cols;
    let rule = StdpRule(p.flags, p.decay_r1, p.decay_r2, p.a2_plus, p.a3_plus, p.a2_minus, p.a3_minus, p.w_min, p.w_max);
    let k_end = indptr[i + 1u];
    for (var k = indptr[i]; k < k_end; k = k + 1u) {
        stdp_at_arrival(rule, w0 + k, arrival_at(hb, now, delays[k], p.slots, p.cols, indices[k]), p.cols, post_spike, o1, o2, l);
    }
}
