//! The Izhikevich neuron's rate curve, gain and bias. It has no closed form, so the rate is
//! measured by simulating the neuron exactly as Nengo does, and gain/bias are found by numerically
//! inverting that measured curve.
//!
//! # Rates
//!
//! [`Izh::rate`] replicates Nengo's `Izhikevich.rates`, i.e. `settled_firingrate(step, J, settle_time =
//! 0.001, sim_time = 1.0)` with `dt = 0.001`: start at `voltage = recovery = 0`, run 1 settle step,
//! then count spikes over 1000 steps of Nengo's `Izhikevich.step` (forward Euler in ms units,
//! `J` clipped below at -30, spike when `voltage >= 30`, reset `voltage` before updating
//! `recovery`, then add `reset_recovery`). The rate is therefore the spike count in 1 s, an integer
//! in Hz, identical to Nengo's up to floating-point summation order (none here: same operations).
//!
//! # Gain and bias
//!
//! Nengo's generic `NeuronType.gain_bias` locates a threshold current `J_threshold` (last silent
//! current) and `J_max` (first current reaching the largest requested rate) on a 101-point grid
//! over `[-Jr, Jr]` (doubling `Jr` from 10), evaluates the curve on 101 points between them, and
//! linearly interpolates the current `J_top` at which each neuron reaches its max rate; then
//! `gain = (J_threshold - J_top) / (intercept - 1)` and `bias = J_top - gain`, so that
//! `x = intercept` maps to `J_threshold` and `x = 1` to `J_top`.
//!
//! We keep that construction but locate the currents more precisely (the Nengo grid step is
//! 0.2 current units, which puts the actual intercept up to ~0.05 away from the requested one):
//! - `J_threshold` by bisection between -30 (below which the input is clipped, so the neuron is
//!   assumed silent there) and a current that fires, to 1e-9;
//! - `J_max` by doubling an upper current from 1 until it reaches the largest requested rate,
//!   then bisection;
//! - the curve on [`N_GRID`] points between them, made monotone by a running maximum (the
//!   measured curve is an integer staircase), and for each neuron `J_top` interpolated linearly
//!   inside the first grid cell whose upper end reaches the requested rate.
//!
//! Like Nengo, this assumes the rate is non-decreasing in `J` (true for Nengo's parameter sets).
//! The cost is about `N_GRID + 100` simulated seconds (~1.1 M neuron steps) for the whole
//! population, independent of the number of neurons. [`Izh::rate`] itself costs 1001 steps per
//! current, so activities of large Izhikevich ensembles are slow to build (as in Nengo).

use crate::error::{Error, Result};
use std::fmt;

/// The simulator timestep Nengo measures rates with.
const DT: f64 = 0.001;
/// `int(settle_time / dt)` with Nengo's `settle_time = 0.001`.
const SETTLE_STEPS: usize = 1;
/// `int(sim_time / dt)` with `sim_time = 1.0`.
const SIM_STEPS: usize = 1000;
/// Nengo clips the input current below at this value for numerical stability.
const J_CLIP: f64 = -30.0;
/// Number of points at which the rate curve is evaluated between `J_threshold` and `J_max`.
const N_GRID: usize = 1001;
/// Bisection stops once the bracket is this narrow (in current units).
const J_TOL: f64 = 1e-9;
/// Largest current tried when looking for `J_max` (2^30).
const J_SEARCH_MAX: f64 = 1_073_741_824.0;

/// Parameters of Nengo's `Izhikevich` neuron (names as in the paper).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Izh {
    /// `tau_recovery`.
    pub a: f64,
    /// `coupling`.
    pub b: f64,
    /// `reset_voltage`.
    pub c: f64,
    /// `reset_recovery`.
    pub d: f64,
}

impl Izh {
    /// One step of Nengo's `Izhikevich.step` for one neuron; returns whether it spiked.
    fn step(&self, j: f64, voltage: &mut f64, recovery: &mut f64) -> bool {
        let j = j.max(J_CLIP);
        let dv = (0.04 * (*voltage * *voltage) + 5.0 * *voltage + 140.0 - *recovery + j) * 1000.0;
        *voltage += dv * DT;
        let spiked = *voltage >= 30.0;
        if spiked {
            *voltage = self.c;
        }
        let du = (self.a * (self.b * *voltage - *recovery)) * 1000.0;
        *recovery += du * DT;
        if spiked {
            *recovery += self.d;
        }
        spiked
    }

    /// Settled firing rate (Hz) for a constant input current `j`, as Nengo's `Izhikevich.rates`.
    /// NaN in gives NaN out.
    pub fn rate(&self, j: f64) -> f64 {
        if j.is_nan() {
            return f64::NAN;
        }
        let (mut voltage, mut recovery) = (0.0, 0.0);
        for _ in 0..SETTLE_STEPS {
            self.step(j, &mut voltage, &mut recovery);
        }
        let mut count = 0usize;
        for _ in 0..SIM_STEPS {
            if self.step(j, &mut voltage, &mut recovery) {
                count += 1;
            }
        }
        // Nengo sums outputs of 1/dt per spike and divides by the number of steps.
        count as f64 * (1.0 / DT) / SIM_STEPS as f64
    }

    /// Smallest current (to [`J_TOL`]) above which the neuron fires; `None` if it fires even at
    /// the clipped minimum current or never fires up to [`J_SEARCH_MAX`].
    pub fn threshold(&self) -> Option<f64> {
        let mut lo = J_CLIP;
        if self.rate(lo) > 0.0 {
            return None;
        }
        let mut hi = 1.0;
        while self.rate(hi) <= 0.0 {
            lo = lo.max(hi);
            hi *= 2.0;
            if hi > J_SEARCH_MAX {
                return None;
            }
        }
        // Invariant: rate(lo) <= 0 < rate(hi).
        while hi - lo > J_TOL {
            let mid = 0.5 * (lo + hi);
            if self.rate(mid) > 0.0 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(lo)
    }

    /// Gain and bias for already validated `max_rates` and `intercepts` (see the module docs).
    pub fn gain_bias(
        &self,
        max_rates: &[f64],
        intercepts: &[f64],
        object: &dyn fmt::Display,
    ) -> Result<(Vec<f64>, Vec<f64>)> {
        if max_rates.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let max_rate = max_rates.iter().copied().fold(f64::MIN, f64::max);
        let j_threshold = self.threshold().ok_or_else(|| {
            Error::build(
                object,
                "this Izhikevich neuron has no firing threshold (it fires at every input current \
                 or at none), so intercepts cannot be placed",
            )
        })?;

        // J_max: first current reaching max_rate, by doubling then bisection.
        let mut hi = j_threshold.abs().max(1.0);
        while self.rate(hi) < max_rate {
            hi *= 2.0;
            if hi > J_SEARCH_MAX {
                return Err(Error::invalid(
                    object,
                    "max_rates",
                    max_rate,
                    format!(
                        "<= {} Hz, the most this Izhikevich neuron fires (at J = {J_SEARCH_MAX}, \
                         dt = {DT} s)",
                        self.rate(J_SEARCH_MAX)
                    ),
                ));
            }
        }
        let mut lo = j_threshold;
        while hi - lo > J_TOL {
            let mid = 0.5 * (lo + hi);
            if self.rate(mid) >= max_rate {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let j_max = hi;

        // The curve on a fine grid, forced monotone.
        let js: Vec<f64> = (0..N_GRID)
            .map(|i| j_threshold + (j_max - j_threshold) * i as f64 / (N_GRID - 1) as f64)
            .collect();
        let mut curve: Vec<f64> = js.iter().map(|&j| self.rate(j)).collect();
        curve[0] = 0.0;
        for i in 1..N_GRID {
            curve[i] = curve[i].max(curve[i - 1]);
        }
        // By construction the last point reaches max_rate; guard anyway.
        curve[N_GRID - 1] = curve[N_GRID - 1].max(max_rate);

        let mut gain = Vec::with_capacity(max_rates.len());
        let mut bias = Vec::with_capacity(max_rates.len());
        for (&r, &x0) in max_rates.iter().zip(intercepts) {
            // First index whose rate reaches r (>= 1 because curve[0] = 0 < r).
            let k = curve.partition_point(|&c| c < r).clamp(1, N_GRID - 1);
            let (r0, r1) = (curve[k - 1], curve[k]);
            let t = if r1 > r0 { (r - r0) / (r1 - r0) } else { 1.0 };
            let j_top = js[k - 1] + t * (js[k] - js[k - 1]);
            let g = (j_threshold - j_top) / (x0 - 1.0);
            gain.push(g);
            bias.push(j_top - g);
        }
        Ok((gain, bias))
    }

    /// Inverse of [`Izh::gain_bias`]: the rate at `x = 1`, and the `x` at which the current
    /// equals the threshold current (NaN if the neuron has no threshold).
    pub fn max_rates_intercepts(&self, gain: &[f64], bias: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let j_threshold = self.threshold().unwrap_or(f64::NAN);
        gain.iter()
            .zip(bias)
            .map(|(&g, &b)| (self.rate(g + b), (j_threshold - b) / g))
            .unzip()
    }
}
