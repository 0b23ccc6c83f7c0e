//!include common/index.wgsl
//!include common/matvec_row.wgsl
// matvec_inc: y[b, r] += scale * sum_c m[r, c] * x[b, c], summed in column order skipping x == 0
// like the CPU. m is shared (m_stride 0) or one matrix per instance (m_stride rows*cols).
// One invocation per (instance, row). Twin: backend::cpu::matvec_inc.
struct Params { total: u32, rows: u32, cols: u32, scale: f32, m_stride: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> m: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn mv_m(i: u32) -> f32 { return m[i]; }
fn mv_x(i: u32) -> f32 { return x[i]; }

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let b = i / p.rows;
    let r = i % p.rows;
    let m0 = b * p.m_stride + r * p.cols;
    let x0 = b * p.cols;
    y[i] = y[i] + p.scale * matvec_row(m0, 1u, x0, p.cols);
}
