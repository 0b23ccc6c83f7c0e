//!include common/index.wgsl
//!include common/ring.wgsl
// delayed_sparse_inc: a CSR matrix with a delay per stored entry, into a ring buffer of future
// input laid out [instance][slot][row]: for each entry k of row r (in stored order) with
// x[b, indices[k]] != 0, ring[b, (step + delays[k]) % slots, r] += w[k] * x[b, indices[k]].
// w is shared (w_stride 0) or one copy of the nnz values per instance (w_stride nnz).
// One invocation per (instance, row): it alone writes its row's elements of every slot.
// Twin: backend::cpu::delayed_sparse_inc.
struct Params { total: u32, rows: u32, cols: u32, w_stride: u32, slots: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ctrl: array<u32>;
@group(0) @binding(2) var<storage, read> indptr: array<u32>;
@group(0) @binding(3) var<storage, read> indices: array<u32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read> delays: array<u32>;
@group(0) @binding(6) var<storage, read> x: array<f32>;
@group(0) @binding(7) var<storage, read_write> ring: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let b = i / p.rows;
    let r = i % p.rows;
    let w0 = b * p.w_stride;
    let x0 = b * p.cols;
    let ring0 = b * p.slots * p.rows + r;
    let k_end = indptr[r + 1u];
    for (var k = indptr[r]; k < k_end; k = k + 1u) {
        let xv = x[x0 + indices[k]];
        if (xv != 0.0) {
            let slot = ring_slot(ctrl[0], ctrl[1], ctrl[2], delays[k], p.slots);
            let at = ring0 + slot * p.rows;
            ring[at] = ring[at] + w[w0 + k] * xv;
        }
    }
}
