//!include common/index.wgsl
// stdp: event-driven triplet STDP on per-instance weights (rows = post, cols = pre). One
// invocation per (instance, post row): it alone writes that row, so updates are deterministic.
// A row whose post neuron did not spike only visits columns whose pre neuron spiked.
// Twin: backend::cpu::stdp and backend::cpu::stdp_synapse. Twin struct: kernels::StdpParams.
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
    _p0: u32,
    _p1: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read> post: array<f32>;
@group(0) @binding(3) var<storage, read> r1s: array<f32>;
@group(0) @binding(4) var<storage, read> r2s: array<f32>;
@group(0) @binding(5) var<storage, read> o1s: array<f32>;
@group(0) @binding(6) var<storage, read> o2s: array<f32>;
@group(0) @binding(7) var<storage, read> learn: array<f32>;
@group(0) @binding(8) var<storage, read_write> w: array<f32>;

fn stdp_synapse(w0: f32, pre_spike: bool, post_spike: bool, r1_stored: f32, r2_stored: f32, o1: f32, o2: f32, l: f32) -> f32 {
    var wv = w0;
    let r1d = r1_stored * p.decay_r1;
    let mult = (p.flags & 2u) != 0u;
    if (pre_spike) {
        let r2 = r2_stored * p.decay_r2;
        var dw = -o1 * (p.a2_minus + p.a3_minus * r2);
        if (mult) {
            dw = dw * (wv - p.w_min);
        }
        wv = clamp(wv + l * dw, p.w_min, p.w_max);
    }
    if (post_spike) {
        var r1 = r1d;
        if (pre_spike) {
            if ((p.flags & 1u) != 0u) {
                r1 = 1.0;
            } else {
                r1 = r1d + 1.0;
            }
        }
        var dw = r1 * (p.a2_plus + p.a3_plus * o2);
        if (mult) {
            dw = dw * (p.w_max - wv);
        }
        wv = clamp(wv + l * dw, p.w_min, p.w_max);
    }
    return wv;
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = flat_index(gid, nwg);
    if (row >= p.total) { return; }
    let l = learn[0];
    if (l == 0.0) { return; }
    let b = row / p.rows;
    let post_spike = post[row] != 0.0;
    let o1 = o1s[row] * p.decay_o1;
    let o2 = o2s[row] * p.decay_o2;
    let w0 = row * p.cols;
    let c0 = b * p.cols;
    for (var j = 0u; j < p.cols; j = j + 1u) {
        let pre_spike = pre[c0 + j] != 0.0;
        if (!pre_spike && !post_spike) { continue; }
        w[w0 + j] = stdp_synapse(w[w0 + j], pre_spike, post_spike, r1s[c0 + j], r2s[c0 + j], o1, o2, l);
    }
}
