//!include common/index.wgsl
//!include common/ring.wgsl
//!include common/stdp_arrival.wgsl
// stdp_delayed: STDP at arrival on per-instance row-major weights (rows = post, cols = pre)
// with a delay per synapse (Brian's delayed on_pre). Synapse (i, j) with delay d sees, at step k,
// the pre spike and stored pre traces that pre_history.wgsl recorded at step k - d, and the post
// spike and post traces of step k. One invocation per (instance, post row): it alone writes that
// row, so updates are deterministic. Twin: backend::cpu::stdp_delayed. The same 16-word layout
// as stdp.wgsl's Params, with the weight stride and the ring's slots in the last two words
// (checked by tests/shader_layout.rs).
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
@group(0) @binding(2) var<storage, read> delays: array<u32>;
@group(0) @binding(3) var<storage, read> hist: array<f32>;
@group(0) @binding(4) var<storage, read> post: array<f32>;
@group(0) @binding(5) var<storage, read> o1s: array<f32>;
@group(0) @binding(6) var<storage, read> o2s: array<f32>;
@group(0) @binding(7) var<storage, read> learn: array<f32>;
@group(0) @binding(8) var<storage, read_write> w: array<f32>;

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
    let w0 = b * p.w_stride + i * p.cols;
    let d0 = i * p.cols;
    let hb = b * (3u * p.slots + 2u) * p.cols;
    let rule = StdpRule(p.flags, p.decay_r1, p.decay_r2, p.a2_plus, p.a3_plus, p.a2_minus, p.a3_minus, p.w_min, p.w_max);
    for (var j = 0u; j < p.cols; j = j + 1u) {
        stdp_at_arrival(rule, w0 + j, arrival_at(hb, now, delays[d0 + j], p.slots, p.cols, j), p.cols, post_spike, o1, o2, l);
    }
}
