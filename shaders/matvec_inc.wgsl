//!include common/index.wgsl
// matvec_inc: y[b, r] += sum_c m[r, c] * x[b, c], summed in column order like the CPU.
// One invocation per (instance, row). Twin: backend::cpu::matvec_inc.
struct Params { total: u32, rows: u32, cols: u32, _p: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> m: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let b = i / p.rows;
    let r = i % p.rows;
    var acc = 0.0;
    for (var c = 0u; c < p.cols; c = c + 1u) {
        acc = acc + m[r * p.cols + c] * x[b * p.cols + c];
    }
    y[i] = y[i] + acc;
}
