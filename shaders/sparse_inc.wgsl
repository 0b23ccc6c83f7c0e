//!include common/index.wgsl
// sparse_inc: y[b, r] += scale * sum_k w[k] * x[b, indices[k]] over the stored entries k of row r
// of a CSR matrix (indptr[r]..indptr[r + 1]), in stored order, skipping x == 0 like the CPU.
// w is shared (w_stride 0) or one copy of the nnz values per instance (w_stride nnz). Index
// buffers hold u32s (stored bit for bit in the plan's f32 buffers).
// One invocation per (instance, row). Twin: backend::cpu::sparse_inc.
struct Params { total: u32, rows: u32, cols: u32, scale: f32, w_stride: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> indptr: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let b = i / p.rows;
    let r = i % p.rows;
    let w0 = b * p.w_stride;
    let x0 = b * p.cols;
    var acc = 0.0;
    let k_end = indptr[r + 1u];
    for (var k = indptr[r]; k < k_end; k = k + 1u) {
        let xv = x[x0 + indices[k]];
        if (xv != 0.0) {
            acc = acc + w[w0 + k] * xv;
        }
    }
    y[i] = y[i] + p.scale * acc;
}
