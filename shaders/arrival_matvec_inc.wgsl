//!include common/index.wgsl
//!include common/ring.wgsl
// arrival_matvec_inc: a dense matrix with a delay per synapse, transmitted at arrival from a
// pre_history.wgsl ring ([slot][pre, r1, r2][col] per instance) (Brian's delayed on_pre,
// with the weight at arrival): y[b, r] += scale * sum_c m[r, c] * x_c, x_c being what column c
// emitted delays[r, c] steps ago, summed in column order skipping zeros. m is shared (m_stride
// 0) or one matrix per instance (m_stride rows*cols). One invocation per (instance, row).
// Twin: backend::cpu::arrival_matvec_inc.
struct Params { total: u32, rows: u32, cols: u32, m_stride: u32, slots: u32, scale: f32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ctrl: array<u32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read> delays: array<u32>;
@group(0) @binding(4) var<storage, read> hist: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let b = i / p.rows;
    let r = i % p.rows;
    let now = ring_slot(ctrl[0], ctrl[1], ctrl[2], 0u, p.slots);
    let m0 = b * p.m_stride + r * p.cols;
    let d0 = r * p.cols;
    let hb = b * (3u * p.slots + 2u) * p.cols;
    var acc = 0.0;
    for (var c = 0u; c < p.cols; c = c + 1u) {
        let xv = hist[arrival_at(hb, now, delays[d0 + c], p.slots, p.cols, c)];
        if (xv != 0.0) {
            acc = acc + m[m0 + c] * xv;
        }
    }
    y[i] = y[i] + p.scale * acc;
}
