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
