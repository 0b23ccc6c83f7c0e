// Philox4x32-10, the counter-based generator shared with the CPU (twin: src/rng.rs).
// A draw is a pure function of (seed, stream, step, index): key = seed (lo, hi),
// counter = (index, step lo, step hi, stream). Needs `ctrl` (step within chunk at ctrl[0], chunk's
// first step at ctrl[1], ctrl[2]) only through `global_step`.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// (hi, lo) words of the 64-bit product a * b, from 16-bit halves (WGSL has no 64-bit integers).
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xFFFFu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xFFFFu;
    let b_hi = b >> 16u;
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = (ll >> 16u) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
    let lo = (ll & 0xFFFFu) | (mid << 16u);
    let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, lo);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round = round + 1u) {
        let p0 = mulhilo(PHILOX_M0, c.x);
        let p1 = mulhilo(PHILOX_M1, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
        k = k + vec2<u32>(PHILOX_W0, PHILOX_W1);
    }
    return c;
}

// Twin: rng::uniform. step = (lo, hi) words.
fn uniform01(seed: vec2<u32>, stream: u32, step: vec2<u32>, index: u32) -> f32 {
    let x = philox4x32_10(vec4<u32>(index, step.x, step.y, stream), seed).x;
    return f32(x >> 8u) * (1.0 / 16777216.0);
}

// The global step number (lo, hi) of the current step: chunk start + step within chunk.
fn global_step(ctrl0: u32, first_lo: u32, first_hi: u32) -> vec2<u32> {
    let lo = first_lo + ctrl0;
    return vec2<u32>(lo, first_hi + select(0u, 1u, lo < first_lo));
}
