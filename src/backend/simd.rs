//! Which vector instructions the CPU backend's hot loops are built for, chosen at run time.
//!
//! The loops are plain Rust that the compiler vectorises; `multiversion!` builds each one
//! three times (AVX-512, AVX2, and the target's baseline: SSE2 on x86-64) and calls the widest
//! build this CPU runs. Rust never fuses a multiply and an add, reassociates or otherwise
//! changes floating-point operations for wider vectors, so every build computes the same bits
//! (tested op by op; whole training runs were compared by hand with `VOLLEY_CPU_SIMD`, in
//! BENCHMARKS.md).
//!
//! `VOLLEY_CPU_SIMD=plain|avx2|avx512` caps the level (the default is the widest the CPU has),
//! to compare builds or to rule one out.

use std::sync::OnceLock;

/// An instruction set the hot loops are built for, narrowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The target's baseline (SSE2 on x86-64; NEON on aarch64).
    Plain,
    /// AVX2 with FMA (x86-64).
    Avx2,
    /// AVX-512F with FMA (x86-64).
    Avx512,
}

impl Level {
    /// Lower-case name, as `VOLLEY_CPU_SIMD` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Plain => "plain",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }
}

/// The widest level this CPU runs.
pub fn detected() -> Level {
    static DETECTED: OnceLock<Level> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            // The AVX-512 build enables AVX-512F, which implies AVX2 to the compiler.
            if has!("avx512f") && has!("avx2") && has!("fma") {
                return Level::Avx512;
            }
            if has!("avx2") && has!("fma") {
                return Level::Avx2;
            }
        }
        Level::Plain
    })
}

/// The level the backend uses: [`detected`], capped by `VOLLEY_CPU_SIMD` when it names a
/// level (an unknown value is ignored with a warning on stderr, once).
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = match std::env::var("VOLLEY_CPU_SIMD").as_deref() {
            Err(_) => Level::Avx512,
            Ok("plain") => Level::Plain,
            Ok("avx2") => Level::Avx2,
            Ok("avx512") => Level::Avx512,
            Ok(other) => {
                eprintln!(
                    "warning: VOLLEY_CPU_SIMD={other:?} is not one of plain, avx2, avx512; \
                     ignored"
                );
                Level::Avx512
            }
        };
        detected().min(cap)
    })
}

/// `multiversion! { $(#[attr])* pub fn name / name_at(args) { body } }` defines
/// `name(args)`, which runs `body` built for [`level()`], and `name_at(level, args)`, which
/// runs the build for `level`, or for the widest level below it that this CPU has. The
/// functions return nothing; `body` is compiled once per build, closures included; what it
/// calls is built for the level only where it is inlined (hence `#[inline(always)]` on the
/// helpers). In each build the constant `LEVEL` names the build's level.
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident / $name_at:ident ($($arg:ident : $ty:ty),* $(,)?) $body:block
    ) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            $name_at($crate::backend::simd::level(), $($arg),*)
        }

        /// The same, built for the given level, or the widest below it that this CPU has.
        #[allow(clippy::too_many_arguments, dead_code)]
        $vis fn $name_at(level: $crate::backend::simd::Level, $($arg: $ty),*) {
            // The body written out in each build (not one inlined function), so that the
            // closures in it are built for the level too. Each build has the constant `LEVEL`,
            // its own level, for code that differs by level (explicit instructions).
            #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
            fn __mv_plain($($arg: $ty),*) {
                #[allow(dead_code)]
                const LEVEL: $crate::backend::simd::Level = $crate::backend::simd::Level::Plain;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            {
                use $crate::backend::simd::Level;
                #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
                #[target_feature(enable = "avx512f,fma")]
                fn __mv_avx512($($arg: $ty),*) {
                    #[allow(dead_code)]
                    const LEVEL: Level = Level::Avx512;
                    $body
                }
                #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
                #[target_feature(enable = "avx2,fma")]
                fn __mv_avx2($($arg: $ty),*) {
                    #[allow(dead_code)]
                    const LEVEL: Level = Level::Avx2;
                    $body
                }
                match level.min($crate::backend::simd::detected()) {
                    // SAFETY: the CPU has AVX-512F and FMA (`detected`).
                    Level::Avx512 => return unsafe { __mv_avx512($($arg),*) },
                    // SAFETY: the CPU has AVX2 and FMA (`detected`).
                    Level::Avx2 => return unsafe { __mv_avx2($($arg),*) },
                    Level::Plain => {}
                }
            }
            let _ = level;
            __mv_plain($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// Every level this CPU runs, narrowest first (for tests that compare the builds).
pub fn available() -> Vec<Level> {
    [Level::Plain, Level::Avx2, Level::Avx512]
        .into_iter()
        .filter(|&l| l <= detected())
        .collect()
}
