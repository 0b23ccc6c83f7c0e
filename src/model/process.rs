//! Signals generated ahead of a run for a node's output (Nengo's processes).

use crate::error::{Error, Result, check_non_negative, check_positive};
use ndarray::Array2;
use rand::Rng;
use rand_distr::{Distribution, Normal};
use realfft::RealFftPlanner;
use realfft::num_complex::Complex;
use std::fmt;

/// A band-limited white noise signal that repeats every `period` seconds (Nengo's
/// `nengo.processes.WhiteSignal(period, high, rms)`), the usual input for learning a
/// function: random Fourier coefficients up to `high` Hz, each dimension independent, scaled to
/// an expected root-mean-square of `rms`, turned into one period of samples at the simulator's
/// dt by an inverse real FFT (the same construction and scaling as Nengo's; the draws come from
/// volley's generator, so the signal is not Nengo's for the same seed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WhiteSignal {
    /// The signal's period in seconds (>= dt).
    pub period: f64,
    /// The cut-off frequency in Hz: no component above it (> 0, at most the Nyquist frequency
    /// `0.5 / dt`).
    pub high: f64,
    /// The expected root-mean-square value (>= 0; Nengo's default 0.5).
    pub rms: f64,
    /// The seed of the draws; `None`: derived from the network's seed and the node's index.
    pub seed: Option<u64>,
}

impl WhiteSignal {
    /// A signal of period `period` s with components up to `high` Hz, rms 0.5, seeded from the
    /// network.
    pub fn new(period: f64, high: f64) -> Self {
        WhiteSignal {
            period,
            high,
            rms: 0.5,
            seed: None,
        }
    }

    /// Sets the expected root-mean-square value.
    pub fn rms(mut self, rms: f64) -> Self {
        self.rms = rms;
        self
    }

    /// Sets the seed of its draws, independent of the network's seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    pub(crate) fn validate(&self, object: &dyn fmt::Display) -> Result<()> {
        check_positive(object, "period", self.period)?;
        check_positive(object, "high", self.high)?;
        // Nengo's check: only frequencies k / period with k >= 1 carry signal, so below
        // 1 / period every coefficient but the (zeroed) constant one is cut.
        if self.high < 1.0 / self.period {
            return Err(Error::invalid(
                object,
                "high",
                self.high,
                format!(
                    "at least 1 / period = {} Hz (below it the signal is zero)",
                    1.0 / self.period
                ),
            ));
        }
        check_non_negative(object, "rms", self.rms)
    }

    /// One period of the signal at time step `dt`: `(samples, dims)`, sample `i` for time
    /// `i dt` (Nengo's `signal[round(t / dt) % samples]`). `samples` is `2 ceil(period / dt /
    /// 2)` (at least 2). Refuses (naming `object`) a `high` above the Nyquist frequency and
    /// more samples than this machine can hold.
    pub fn samples(
        &self,
        object: &dyn fmt::Display,
        dt: f64,
        dims: usize,
        rng: &mut impl Rng,
    ) -> Result<Array2<f64>> {
        self.validate(object)?;
        if self.high > 0.5 / dt {
            return Err(Error::invalid(
                object,
                "high",
                self.high,
                format!("at most the Nyquist frequency 0.5 / dt = {} Hz", 0.5 / dt),
            ));
        }
        let half = (self.period / dt / 2.0).ceil();
        if !(1.0..=(1u64 << 40) as f64).contains(&half) {
            return Err(Error::invalid(
                object,
                "period",
                self.period,
                format!("at most 2^41 steps of dt {dt} s"),
            ));
        }
        let n_coef = half as usize;
        let n = 2 * n_coef;
        let bytes = (n as u128) * (dims as u128) * 8;
        let fits = usize::try_from(bytes)
            .ok()
            .is_some_and(|b| Vec::<u8>::new().try_reserve_exact(b).is_ok());
        if !fits {
            return Err(Error::invalid(
                object,
                "period",
                self.period,
                format!(
                    "a period whose samples fit in this machine's memory ({n} steps x {dims} \
                     dimensions = {bytes:.3e} bytes at dt {dt} s)"
                ),
            ));
        }
        let sigma = self.rms * 0.5f64.sqrt();
        // Coefficient k is frequency k / (n dt); those above `high` (the last ones) are
        // dropped, and the others scaled up so that the expected power stays rms^2 (Nengo's
        // power correction).
        let kept = (0..=n_coef)
            .take_while(|&k| k as f64 / (n as f64 * dt) <= self.high)
            .count();
        let dropped = (n_coef + 1 - kept) as f64;
        let correction = (1.0 - dropped / n_coef as f64).max(0.0).sqrt();
        let scale = (n as f64).sqrt() / if correction > 0.0 { correction } else { 1.0 };
        let normal = Normal::new(0.0, sigma).map_err(|e| {
            Error::invalid(object, "rms", self.rms, format!("a valid deviation ({e})"))
        })?;
        let mut planner = RealFftPlanner::<f64>::new();
        let inverse = planner.plan_fft_inverse(n);
        let mut out = Array2::zeros((n, dims));
        let mut spectrum = inverse.make_input_vec();
        let mut signal = inverse.make_output_vec();
        for d in 0..dims {
            spectrum.fill(Complex::new(0.0, 0.0));
            // Two draws per coefficient (Nengo draws every imaginary part, then every real
            // part); the constant term is 0 and the Nyquist term real.
            let draws: Vec<(f64, f64)> = (0..=n_coef)
                .map(|_| {
                    let im = normal.sample(rng);
                    (normal.sample(rng), im)
                })
                .collect();
            for k in 1..kept {
                let (re, im) = draws[k];
                let im = if k == n_coef { 0.0 } else { im };
                spectrum[k] = Complex::new(re * scale, im * scale);
            }
            inverse
                .process(&mut spectrum, &mut signal)
                .map_err(|e| Error::Other(format!("{object}: inverse FFT failed: {e}")))?;
            // realfft's inverse is unnormalised; numpy's irfft divides by n.
            for (i, v) in signal.iter().enumerate() {
                out[(i, d)] = v / n as f64;
            }
        }
        Ok(out)
    }
}
