//!include common/index.wgsl
// normalize_rows_sparse: scale the stored entries of each row (of each instance) of a CSR matrix
// to sum to row_sum; rows summing to <= 0 are left alone. w holds nnz values per instance
// (w_stride nnz) or one shared copy. One invocation per (instance, row); the sum in stored
// order like the CPU. Twin: backend::cpu::normalize_rows_sparse.
struct Params { total: u32, rows: u32, row_sum: f32, w_stride: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> indptr: array<u32>;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let b = i / p.rows;
    let r = i % p.rows;
    let w0 = b * p.w_stride;
    var sum = 0.0;
    let k_end = indptr[r + 1u];
    for (var k = indptr[r]; k < k_end; k = k + 1u) {
        sum = sum + w[w0 + k];
    }
    if (sum > 0.0) {
        let factor = p.row_sum / sum;
        for (var k = indptr[r]; k < k_end; k = k + 1u) {
            w[w0 + k] = w[w0 + k] * factor;
        }
    }
}
