//!include common/index.wgsl
//!include common/ring.wgsl
// delayed_matvec_inc: a dense matrix with a delay per synapse, into a ring buffer of future input
// laid out [instance][slot][row]: for each column c (in order) with x[b, c] != 0,
// ring[b, (step + delays[r, c]) % slots, r] += m[r, c] * x[b, c]. m is shared (m_stride 0) or
// one matrix per instance (m_stride rows*cols); delays are u32 steps < slots.
// One invocation per (instance, row): it alone writes its row's elements of every slot, so the
// sums are deterministic. Twin: backend::cpu::delayed_matvec_inc.
struct Params { total: u32, rows: u32, cols: u32, m_stride: u32, slots: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ctrl: array<u32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read> delays: array<u32>;
@group(0) @binding(4) var<storage, read> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> ring: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let b = i / p.rows;
    let r = i % p.rows;
    let m0 = b * p.m_stride + r * p.cols;
    let d0 = r * p.cols;
    let x0 = b * p.cols;
    let ring0 = b * p.slots * p.rows + r;
    for (var c = 0u; c < p.cols; c = c + 1u) {
        let xv = x[x0 + c];
        if (xv != 0.0) {
            let slot = ring_slot(ctrl[0], ctrl[1], ctrl[2], delays[d0 + c], p.slots);
            let at = ring0 + slot * p.rows;
            ring[at] = ring[at] + m[m0 + c] * xv;
        }
    }
}
