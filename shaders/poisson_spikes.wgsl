//!include common/index.wgsl
//!include common/draws.wgsl
// poisson_spikes: out[b, i] = 1/dt if uniform(seed, stream, step, b*n + i) < rate[b, i] * dt
// (key and index from draw_key).
// Twin: backend::cpu::poisson_spikes.
struct Params { total: u32, n: u32, stream: u32, dt: f32, seed_lo: u32, seed_hi: u32, per_instance: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ctrl: array<u32>;
@group(0) @binding(2) var<storage, read> rates: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let step = global_step(ctrl[0], ctrl[1], ctrl[2]);
    let b = i / p.n;
    let k = draw_key(vec2<u32>(p.seed_lo, p.seed_hi), p.per_instance, b, p.n, i - b * p.n);
    out[i] = poisson_one(k.seed, p.stream, step, k.index, rates[i], p.dt);
}
