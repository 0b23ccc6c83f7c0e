//!include common/index.wgsl
//!include common/draws.wgsl
// uniform_noise: out[i] = low + (high - low) * uniform(seed, stream, step, i) (key and index
// from draw_key, n values per instance).
// Twin: backend::cpu::uniform_noise.
struct Params { total: u32, stream: u32, low: f32, high: f32, seed_lo: u32, seed_hi: u32, n: u32, per_instance: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ctrl: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let step = global_step(ctrl[0], ctrl[1], ctrl[2]);
    let b = i / p.n;
    let k = draw_key(vec2<u32>(p.seed_lo, p.seed_hi), p.per_instance, b, p.n, i - b * p.n);
    out[i] = uniform_noise_one(k.seed, p.stream, step, k.index, p.low, p.high);
}
