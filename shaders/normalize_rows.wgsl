//!include common/index.wgsl
//!include common/normalize_row.wgsl
// normalize_rows: scale each row (of each instance) of w to sum to row_sum; rows summing to <= 0
// are left alone. One invocation per row; the sum in column order like the CPU.
// Twin: backend::cpu::normalize_rows.
struct Params { total: u32, cols: u32, row_sum: f32, _p: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;

fn nr_w(i: u32) -> f32 { return w[i]; }
fn nr_set_w(i: u32, v: f32) { w[i] = v; }

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r >= p.total) { return; }
    normalize_row(r * p.cols, 1u, p.cols, p.row_sum);
}
