//!include common/index.wgsl
//!include common/stdp_row.wgsl
// stdp: event-driven triplet STDP on per-instance weights (rows = post, cols = pre). One
// invocation per (instance, post row): it alone writes that row, so updates are deterministic.
// A row whose post neuron did not spike only visits columns whose pre neuron spiked.
// Twin: backend::cpu::stdp and backend::cpu::stdp_synapse. The same 16-word layout as
// stdp_sparse.wgsl's Params (checked by tests/shader_layout.rs).
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

fn st_pre(i: u32) -> f32 { return pre[i]; }
fn st_r1(i: u32) -> f32 { return r1s[i]; }
fn st_r2(i: u32) -> f32 { return r2s[i]; }
fn st_w(i: u32) -> f32 { return w[i]; }
fn st_set_w(i: u32, v: f32) { w[i] = v; }
fn stdp_rule() -> StdpRule {
    return StdpRule(p.flags, p.decay_r1, p.decay_r2, p.a2_plus, p.a3_plus, p.a2_minus, p.a3_minus, p.w_min, p.w_max);
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
    stdp_row(stdp_rule(), w0, 1u, c0, c0, c0, p.cols, post_spike, o1, o2, l);
}
