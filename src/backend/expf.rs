//! `expf` of our own, so that the CPU reference computes the same bits on every platform, and
//! whole blocks of it at once (vector instructions) for the Diehl & Cook neuron update.
//!
//! The algorithm is Arm's optimized-routines `expf` (MIT OR Apache-2.0 WITH LLVM-exception),
//! which glibc has used since 2.27: `x * 32 / ln 2 = k + r`, `exp(x) = 2^(k/32) * 2^(r/32)`, a
//! 32-entry table for `2^(i/32)`, a cubic for `2^(r/32)`, all in f64, rounded to f32 once. The
//! five multiply-adds (the cubic's three, `kd` and `r`) are fused ([`f64::mul_add`], one
//! rounding each: IEEE 754 `fusedMultiplyAdd`, the same result wherever the instruction or the
//! libm's `fma` is correct; mingw-w64's has had bugs), as in glibc's x86-64 build for CPUs with
//! FMA (`__expf_fma`, whose compiler contracted `kd` and `r` too). So on such a CPU with glibc this is
//! `f32::exp` bit for bit, for every input (checked exhaustively in the tests below), and results
//! trained before this module existed stay reproducible; elsewhere (other libms, CPUs without
//! FMA) the CPU backend now gives those same bits instead of its libm's. Where the CPU has no
//! FMA instruction (x86-64 before AVX2, or `VOLLEY_CPU_SIMD=plain`), each fused operation is a
//! call to libm's `fma`, which makes the update several times slower than the platform's
//! `expf` was (BENCHMARKS.md, twelfth session).
//!
//! Under the CPU backend's flush-to-zero mode ([`super::cpu`]'s `FlushSubnormals`) results
//! below 2^-126 become 0 and subnormal inputs count as 0, exactly as they do in libm's code,
//! because the same operations run in the same mode (the conversions and the final rounding).

/// `2^(i/32)` as f64 bits, less `i << 47` (added back with the exponent `k`), `i` in 0..32.
const TAB: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];
/// 32 / ln 2.
const INV_LN2_N: f64 = f64::from_bits(0x40471547652b82fe);
/// 1.5 * 2^52: adding it rounds to an integer (ties to even) in the low mantissa bits.
const SHIFT: f64 = f64::from_bits(0x4338000000000000);
/// The cubic's coefficients for `2^(r/32) - 1 = ((C0 r + C1) r + C2) r`.
const C0: f64 = f64::from_bits(0x3ebc6af84b912394);
const C1: f64 = f64::from_bits(0x3f2ebfce50fac4f3);
const C2: f64 = f64::from_bits(0x3f962e42ff0c52d6);
/// Bits 20-30 of 88.0f32: from here on, the slow path.
const TOP_88: u32 = 0x42b;
/// ln(2^128) rounded down; larger inputs overflow.
const OVERFLOW: f32 = f32::from_bits(0x42b17217);
/// ln(2^-150) rounded up; smaller inputs give 0.
const UNDERFLOW: f32 = f32::from_bits(0xc2cff1b4);
/// ln(2^-149) rounded up; from `UNDERFLOW` to here the result is the smallest subnormal.
const MAY_UNDERFLOW: f32 = f32::from_bits(0xc2ce8ecf);

/// e^x in f32, the same bits on every platform (see the module's text).
#[inline]
pub fn expf(x: f32) -> f32 {
    if needs_slow_path(x) {
        slow_path(x)
    } else {
        fast_path(x)
    }
}

/// Whether `x` is outside the fast path's domain (|x| >= 88, infinite or NaN).
#[inline(always)]
fn needs_slow_path(x: f32) -> bool {
    (x.to_bits() >> 20) & 0x7ff >= TOP_88
}

/// The table and the cubic: right for |x| < 88 (any f32 in, a defined result out otherwise).
#[inline(always)]
fn fast_path(x: f32) -> f32 {
    let xd = x as f64;
    let kd = INV_LN2_N.mul_add(xd, SHIFT);
    let ki = kd.to_bits();
    let kd = kd - SHIFT;
    let r = INV_LN2_N.mul_add(xd, -kd);
    let t = TAB[(ki % 32) as usize].wrapping_add(ki.wrapping_shl(47));
    let s = f64::from_bits(t);
    let z = r.mul_add(C0, C1);
    let r2 = r * r;
    let y = r.mul_add(C2, 1.0);
    let y = z.mul_add(r2, y);
    (y * s) as f32
}

/// glibc's cases for |x| >= 88, infinities and NaN. The over- and underflow results are
/// products computed at run time (not constants), as in glibc, so that flush-to-zero treats
/// them the same way.
#[cold]
fn slow_path(x: f32) -> f32 {
    use std::hint::black_box;
    if x == f32::NEG_INFINITY {
        0.0
    } else if (x.to_bits() >> 20) & 0x7ff >= 0x7f8 {
        x + x
    } else if x > OVERFLOW {
        black_box(f32::from_bits(0x70000000)) * f32::from_bits(0x70000000)
    } else if x < UNDERFLOW {
        black_box(f32::from_bits(0x10000000)) * f32::from_bits(0x10000000)
    } else if x < MAY_UNDERFLOW {
        black_box(f32::from_bits(0x1a200000)) * f32::from_bits(0x1a200000)
    } else {
        fast_path(x)
    }
}

/// `x[i] = expf(x[i])` for every element, in a loop that the compiler vectorises when this is
/// inlined into a function built for AVX2 or AVX-512 (the caller's choice): the fast path on
/// every element, or `expf` on each when one of them needs the slow path (a conductance above
/// about 17,600 in the neuron update, so in practice never).
///
/// `level` is the build's [`Level`](super::simd::Level) (a constant in each build of a
/// [`multiversion!`](super::simd::multiversion) function): at AVX-512 the fast path runs on
/// explicit AVX-512 instructions with the table looked up by two permutes, where the compiler's
/// own vectorisation uses a gather (1600-neuron training 27 % faster on an AMD Zen 4); the same
/// operations, so the same bits. (The same for AVX2, with four scalar loads for the gather,
/// measured 2-3 % faster there, within the noise, and was left out.)
#[inline(always)]
pub(crate) fn expf_in_place(x: &mut [f32], level: super::simd::Level) {
    if x.iter().fold(false, |slow, &v| slow | needs_slow_path(v)) {
        for v in x.iter_mut() {
            *v = expf(*v);
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if level.min(super::simd::detected()) == super::simd::Level::Avx512 {
        // SAFETY: the CPU has AVX-512F and FMA (`detected`).
        unsafe { fast_path_avx512(x) };
        return;
    }
    let _ = level;
    for v in x.iter_mut() {
        *v = fast_path(*v);
    }
}

/// [`fast_path`] on every element, eight at a time in AVX-512 registers (the rest one by
/// one): the same operations in the same order, each lane in f64, `TAB` from four registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn fast_path_avx512(x: &mut [f32]) {
    use std::arch::x86_64::*;
    let tab = |k: usize| {
        let t: [u64; 8] = TAB[k * 8..k * 8 + 8].try_into().expect("8 entries");
        // SAFETY: reads 64 bytes from an array of 8 u64.
        unsafe { _mm512_loadu_si512(t.as_ptr().cast()) }
    };
    let (t0, t1, t2, t3) = (tab(0), tab(1), tab(2), tab(3));
    let inv = _mm512_set1_pd(INV_LN2_N);
    let shift = _mm512_set1_pd(SHIFT);
    let (c0, c1, c2) = (_mm512_set1_pd(C0), _mm512_set1_pd(C1), _mm512_set1_pd(C2));
    let one = _mm512_set1_pd(1.0);
    let bit4 = _mm512_set1_epi64(16);
    let mut chunks = x.chunks_exact_mut(8);
    for c in &mut chunks {
        // SAFETY: `c` is 8 f32, 32 bytes, read and written unaligned.
        let xs = unsafe { _mm256_loadu_ps(c.as_ptr()) };
        let xd = _mm512_cvtps_pd(xs);
        let kd = _mm512_fmadd_pd(inv, xd, shift);
        let ki = _mm512_castpd_si512(kd);
        let kd = _mm512_sub_pd(kd, shift);
        let r = _mm512_fmsub_pd(inv, xd, kd);
        // TAB[ki % 32]: entries 0-15 and 16-31 by bits 0-3, then bit 4 chooses.
        let lo = _mm512_permutex2var_epi64(t0, ki, t1);
        let hi = _mm512_permutex2var_epi64(t2, ki, t3);
        let t = _mm512_mask_blend_epi64(_mm512_test_epi64_mask(ki, bit4), lo, hi);
        let s = _mm512_castsi512_pd(_mm512_add_epi64(t, _mm512_slli_epi64::<47>(ki)));
        let z = _mm512_fmadd_pd(r, c0, c1);
        let r2 = _mm512_mul_pd(r, r);
        let y = _mm512_fmadd_pd(r, c2, one);
        let y = _mm512_fmadd_pd(z, r2, y);
        let y = _mm512_cvtpd_ps(_mm512_mul_pd(y, s));
        // SAFETY: as the load.
        unsafe { _mm256_storeu_ps(c.as_mut_ptr(), y) };
    }
    for v in chunks.into_remainder() {
        *v = fast_path(*v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::backend::simd::{Level, available};
    use rayon::prelude::*;

    /// (mismatches, first few inputs) over the inputs `first..first + 2^20`: at `Level::Plain`,
    /// of `expf` and [`expf_in_place`] against `f32::exp` within `ulps` (NaN counts as equal to
    /// NaN) and against each other exactly; at the other levels, of [`expf_in_place`] against
    /// the plain one exactly.
    #[inline(always)]
    fn check_chunk(first: u64, level: Level, ulps: u32) -> (u64, Vec<u32>) {
        let mut bad = (0u64, Vec::new());
        let (mut block, mut plain) = ([0f32; 64], [0f32; 64]);
        for base in (first..first + (1 << 20)).step_by(64) {
            for (k, b) in block.iter_mut().enumerate() {
                *b = f32::from_bits((base + k as u64) as u32);
            }
            plain.copy_from_slice(&block);
            expf_in_place(&mut block, level);
            expf_in_place(&mut plain, Level::Plain);
            for (k, (&got_block, &got_plain)) in block.iter().zip(&plain).enumerate() {
                let x = f32::from_bits((base + k as u64) as u32);
                let ok = if level == Level::Plain {
                    let (got, w) = (expf(x), x.exp());
                    let near = (got.is_nan() && w.is_nan())
                        || ((got.to_bits() as i64 - w.to_bits() as i64).unsigned_abs()
                            <= ulps as u64
                            && got.is_sign_negative() == w.is_sign_negative());
                    near && got.to_bits() == got_block.to_bits()
                } else {
                    got_block.to_bits() == got_plain.to_bits()
                };
                if !ok {
                    bad.0 += 1;
                    if bad.1.len() < 8 {
                        bad.1.push(x.to_bits());
                    }
                }
            }
        }
        bad
    }

    /// [`check_chunk`] built with FMA instructions (fast; the same results, as `mul_add` is
    /// exact either way).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn check_chunk_fma(first: u64, level: Level, ulps: u32) -> (u64, Vec<u32>) {
        check_chunk(first, level, ulps)
    }

    /// The given chunks of 2^20 f32 bit patterns through [`check_chunk`] on rayon's threads, in
    /// the given flush mode.
    fn mismatches(chunks: &[u64], level: Level, flush: bool, ulps: u32) -> (u64, Vec<u32>) {
        let per: Vec<(u64, Vec<u32>)> = chunks
            .par_iter()
            .map(|&c| {
                let _mode = flush.then(crate::backend::cpu::FlushSubnormals::new);
                let first = c << 20;
                #[cfg(target_arch = "x86_64")]
                if fma_present() {
                    // SAFETY: the CPU has AVX2 and FMA (checked).
                    return unsafe { check_chunk_fma(first, level, ulps) };
                }
                check_chunk(first, level, ulps)
            })
            .collect();
        per.into_iter().fold((0, Vec::new()), |mut a, b| {
            a.0 += b.0;
            a.1.extend(b.1.into_iter().take(8usize.saturating_sub(a.1.len())));
            a
        })
    }

    /// `expf` (and the block version at each level, which must agree with it exactly) is glibc's
    /// `expf` bit for
    /// bit on a glibc x86-64 machine with FMA, where glibc runs `__expf_fma`, the algorithm
    /// above with the same fused operations: all 2^32 inputs in the CPU backend's flush-to-zero
    /// mode, and without it every input where the mode matters (subnormal inputs, results below
    /// 2^-126). Elsewhere (another libm, or no FMA, where libm's own roundings may differ in
    /// rare cases) within one ulp of the platform's `f32::exp`.
    #[test]
    fn expf_equals_glibc_for_every_input() {
        let exact = cfg!(all(
            target_os = "linux",
            target_env = "gnu",
            target_arch = "x86_64"
        )) && fma_present();
        let ulps = if exact { 0 } else { 1 };
        let all: Vec<u64> = (0..1 << 12).collect();
        // Chunks of 2^20 patterns: +-subnormals (and +-0), and -86 to -104.
        let modal: Vec<u64> = (0..8).chain(0x800..0x808).chain(0xc2a..0xc2d).collect();
        // Plain: `expf` and the plain block against libm; the AVX-512 block (the only other
        // code: AVX2 runs the plain loop) against the plain block.
        for level in available().into_iter().filter(|&l| l != Level::Avx2) {
            for (flush, chunks) in [(true, &all), (false, &modal)] {
                let (n, examples) = mismatches(chunks, level, flush, ulps);
                assert_eq!(
                    n, 0,
                    "{level:?}, flush {flush}: {n} inputs differ from f32::exp by more than \
                     {ulps} ulp (or the block version from expf), e.g. {examples:08x?}"
                );
            }
        }
    }

    /// The same bits on every platform: FNV-1a of `expf` over every 97th f32 bit pattern and
    /// every pattern in [-104, -86) and [-1, -0.5) (55,025,918 inputs) is the value computed
    /// on x86-64 (this machine, plain build, libm's `fma` for `mul_add`) and on aarch64 (the
    /// same code cross-built and run under qemu-aarch64, 2026-12-06), whatever the libm.
    #[test]
    fn expf_bits_are_the_same_on_every_platform() {
        let mut h: u64 = 0xcbf29ce484222325;
        let mut n = 0u64;
        let ranges: [(u64, u64, usize); 3] = [
            (0, u32::MAX as u64, 97),
            (0xc2ac0000, 0xc2d00000, 1),
            (0xbf000000, 0xbf800000, 1),
        ];
        for (a, b, step) in ranges {
            for x in (a..b).step_by(step) {
                for byte in expf(f32::from_bits(x as u32)).to_bits().to_le_bytes() {
                    h ^= byte as u64;
                    h = h.wrapping_mul(0x100000001b3);
                }
                n += 1;
            }
        }
        assert_eq!((n, h), (55_025_918, 0x57ae21f528013475));
    }

    /// Against the exact value: within 0.51 ulp over the range the neuron update uses (and
    /// the special values), independently of any libm.
    #[test]
    fn expf_is_accurate() {
        let mut x = -87.0f32;
        while x < 88.0 {
            let (got, exact) = (expf(x) as f64, (x as f64).exp());
            let e = exact as f32;
            let ulp = (e.next_up() - e) as f64;
            assert!(
                (got - exact).abs() <= 0.51 * ulp,
                "expf({x}) = {got}, exact {exact}"
            );
            x += 0.000731;
        }
        assert_eq!(expf(0.0), 1.0);
        assert_eq!(expf(f32::NEG_INFINITY), 0.0);
        assert_eq!(expf(f32::INFINITY), f32::INFINITY);
        assert_eq!(expf(89.0), f32::INFINITY);
        assert_eq!(expf(-104.0), 0.0);
        assert!(expf(f32::NAN).is_nan());
    }

    fn fma_present() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}
