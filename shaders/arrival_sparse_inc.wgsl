//!include common/index.wgsl
//!include common/ring.wgsl
// arrival_sparse_inc: arrival_matvec_inc.wgsl for a sparse (CSR) matrix with a delay per stored
// entry: y[b, r] += scale * sum_k w[k] * x_k over the row's entries in stored order, x_k being
// what column indices[k] emitted delays[k] steps ago. w is shared (w_stride 0) or one copy per
// instance (w_stride nnz). One invocation per (instance, row).
// Twin: backend::cpu::arrival_sparse_inc.
struct Params { total: u32, rows: u32, cols: u32, w_stride: u32, slots: u32, scale: f32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ctrl: array<u32>;
@group(0) @binding(2) var<storage, read> indptr: array<u32>;
@group(0) @binding(3) var<storage, read> indices: array<u32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read> delays: array<u32>;
@group(0) @binding(6) var<storage, read> hist: array<f32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let b = i / p.rows;
    let r = i % p.rows;
    let now = ring_slot(ctrl[0], ctrl[1], ctrl[2], 0u, p.slots);
    let w0 = b * p.w_stride;
    let hb = b * (3u * p.slots + 2u) * p.cols;
    var acc = 0.0;
    let k_end = indptr[r + 1u];
    for (var k = indptr[r]; k < k_end; k = k + 1u) {
        let xv = hist[arrival_at(hb, now, delays[k], p.slots, p.cols, indices[k])];
        if (xv != 0.0) {
            acc = acc + w[w0 + k] * xv;
        }
    }
    y[i] = y[i] + p.scale * acc;
}
