//!include common/philox.wgsl
// Random per-element ops, shared by their per-op kernels and the fused interpreter.

// The key and index of element e of instance b (n values per instance): key seed and index
// b*n + e (one stream for the batch), or with per_instance != 0 key seed + b (64-bit, wrapping)
// and index e, the draws of a lone run of seed + b. Twin: rng::Keying::key.
struct DrawKey {
    seed: vec2<u32>,
    index: u32,
}

fn draw_key(seed: vec2<u32>, per_instance: u32, b: u32, n: u32, e: u32) -> DrawKey {
    if (per_instance == 0u) {
        return DrawKey(seed, b * n + e);
    }
    let lo = seed.x + b;
    return DrawKey(vec2<u32>(lo, seed.y + select(0u, 1u, lo < seed.x)), e);
}

// poisson_spikes: 1/dt if uniform(seed, stream, step, index) < rate * dt, else 0; no draw
// where the probability is not positive (no uniform is below it). Twin: backend::cpu::poisson_spikes.
fn poisson_one(seed: vec2<u32>, stream: u32, step: vec2<u32>, index: u32, rate: f32, dt: f32) -> f32 {
    let prob = rate * dt;
    if (!(prob > 0.0)) {
        return 0.0;
    }
    let u = uniform01(seed, stream, step, index);
    return select(0.0, 1.0 / dt, u < prob);
}

// uniform_noise: low + (high - low) * uniform(seed, stream, step, index).
// Twin: backend::cpu::uniform_noise.
fn uniform_noise_one(seed: vec2<u32>, stream: u32, step: vec2<u32>, index: u32, low: f32, high: f32) -> f32 {
    let u = uniform01(seed, stream, step, index);
    return low + (high - low) * u;
}
