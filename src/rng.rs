//! The simulation's random numbers: Philox4x32-10 (Salmon et al. 2011, "Parallel random numbers:
//! as easy as 1, 2, 3"), a counter-based generator implemented identically here and in
//! `shaders/common/philox.wgsl`, so that both backends draw the same numbers.
//!
//! A draw is a pure function of (seed, stream, step, index): key = seed, counter = (index,
//! step low word, step high word, stream). Nothing is carried between draws, so any GPU
//! invocation can make its own draws in any order.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

#[inline]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = a as u64 * b as u64;
    ((p >> 32) as u32, p as u32)
}

/// Philox4x32 with 10 rounds.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
        if round < 9 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
    }
    c
}

/// The 32-bit draw for (seed, stream, step, index): the first word of Philox4x32-10.
#[inline]
pub fn draw_u32(seed: u64, stream: u32, step: u64, index: u32) -> u32 {
    philox4x32_10(
        [index, step as u32, (step >> 32) as u32, stream],
        [seed as u32, (seed >> 32) as u32],
    )[0]
}

/// How many draws [`draw_u32_lanes`] makes at once.
pub const LANES: usize = 16;

/// `draw_u32(seed, stream, step, index[l])` for every lane `l`: Philox's rounds on [`LANES`]
/// counters side by side, which the compiler turns into vector instructions (AVX-512 or AVX2
/// where the CPU has them, chosen at run time). Integer arithmetic only, so every lane is
/// exactly the scalar draw.
pub fn draw_u32_lanes(seed: u64, stream: u32, step: u64, index: &[u32; LANES]) -> [u32; LANES] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { lanes_avx512(seed, stream, step, index) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above).
            return unsafe { lanes_avx2(seed, stream, step, index) };
        }
    }
    lanes(seed, stream, step, index)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn lanes_avx512(seed: u64, stream: u32, step: u64, index: &[u32; LANES]) -> [u32; LANES] {
    lanes(seed, stream, step, index)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn lanes_avx2(seed: u64, stream: u32, step: u64, index: &[u32; LANES]) -> [u32; LANES] {
    lanes(seed, stream, step, index)
}

/// [`philox4x32_10`]'s rounds, lane by lane (counter `[index[l], step lo, step hi, stream]`,
/// key the seed), returning each lane's first word.
#[inline(always)]
fn lanes(seed: u64, stream: u32, step: u64, index: &[u32; LANES]) -> [u32; LANES] {
    let mut c0 = *index;
    let mut c1 = [step as u32; LANES];
    let mut c2 = [(step >> 32) as u32; LANES];
    let mut c3 = [stream; LANES];
    let mut k = [seed as u32, (seed >> 32) as u32];
    for round in 0..10 {
        for l in 0..LANES {
            let p0 = M0 as u64 * c0[l] as u64;
            let p1 = M1 as u64 * c2[l] as u64;
            c0[l] = (p1 >> 32) as u32 ^ c1[l] ^ k[0];
            c2[l] = (p0 >> 32) as u32 ^ c3[l] ^ k[1];
            c1[l] = p1 as u32;
            c3[l] = p0 as u32;
        }
        if round < 9 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
    }
    c0
}

/// A uniform float in `[0, 1)` from the top 24 bits of a draw (exact in f32).
#[inline]
pub fn to_unit_f32(x: u32) -> f32 {
    (x >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Uniform in `[0, 1)` for (seed, stream, step, index).
#[inline]
pub fn uniform(seed: u64, stream: u32, step: u64, index: u32) -> f32 {
    to_unit_f32(draw_u32(seed, stream, step, index))
}

/// How the instances of a batch draw their random numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Keying {
    /// One stream for the whole batch: element `i` of instance `b` draws with key `seed` and
    /// index `b*n + i`. Evaluation's instances are copies of one network shown different
    /// images, so they share the network's seed.
    #[default]
    Shared,
    /// Instance `b` draws with key `seed + b` (wrapping) and index `i`: exactly what a lone run
    /// with seed `seed + b` draws, so K networks trained in one batch are the K lone runs.
    PerInstance,
}

impl Keying {
    /// The key and index of element `idx` of a batched buffer with `n` values per instance
    /// (`n` = 0, a buffer without elements, keys as [`Keying::Shared`]).
    #[inline]
    pub fn key(self, seed: u64, n: usize, idx: usize) -> (u64, u32) {
        match self {
            Keying::PerInstance if n > 0 => (seed.wrapping_add((idx / n) as u64), (idx % n) as u32),
            _ => (seed, idx as u32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known-answer vectors of Philox4x32-10 from Random123's `kat_vectors`.
    #[test]
    fn per_instance_keys_are_the_lone_runs_keys() {
        // Instance 2 of a batch keyed per instance draws what a lone run of seed + 2 draws.
        assert_eq!(Keying::PerInstance.key(u64::MAX - 1, 7, 2 * 7 + 3), (0, 3));
        assert_eq!(Keying::PerInstance.key(5, 7, 3), (5, 3));
        assert_eq!(Keying::Shared.key(5, 7, 2 * 7 + 3), (5, 17));
        assert_eq!(Keying::PerInstance.key(5, 0, 3), (5, 3));
    }

    #[test]
    fn philox_known_answers() {
        assert_eq!(
            philox4x32_10([0, 0, 0, 0], [0, 0]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    /// Every lane of the vectorised draw is the scalar draw: seeds, steps and streams with high
    /// bits set; the run-time chosen path, the AVX2 one where the CPU has it, and the plain one.
    #[test]
    fn lanes_equal_scalar_draws() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200 {
            let (seed, step, stream) = (next(), next() >> (next() % 64), next() as u32);
            let index: [u32; LANES] = std::array::from_fn(|_| next() as u32);
            let want: [u32; LANES] =
                std::array::from_fn(|l| draw_u32(seed, stream, step, index[l]));
            assert_eq!(draw_u32_lanes(seed, stream, step, &index), want);
            assert_eq!(lanes(seed, stream, step, &index), want);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked above).
                assert_eq!(unsafe { lanes_avx2(seed, stream, step, &index) }, want);
            }
        }
    }

    #[test]
    fn uniform_is_in_unit_interval_and_roughly_uniform() {
        let n = 100_000;
        let mut sum = 0.0f64;
        for i in 0..n {
            let u = uniform(7, 3, 11, i);
            assert!((0.0..1.0).contains(&u));
            sum += u as f64;
        }
        // Mean of n uniforms has sd 1/sqrt(12 n) ~ 0.0009; allow 5 sd.
        assert!((sum / n as f64 - 0.5).abs() < 0.0046);
    }
}
