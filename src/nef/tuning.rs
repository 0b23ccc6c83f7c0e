//! Tuning curves: rate as a function of input current, and gain/bias from max rates and
//! intercepts, for every [`NeuronType`], with Nengo's formulas.

use super::izhikevich::Izh;
use crate::error::{Error, Result};
use crate::model::{LifParams, NeuronType};
use ndarray::{Array2, ArrayView2};
use std::fmt;

/// Steady-state firing rate (Hz, times the type's `amplitude`) of each neuron given its input
/// current `J` (`J = gain * x + bias`), one output per input.
///
/// - LIF, LIFRate, AdaptiveLIF: with `j = J - 1`, `0` where `j <= 0`, otherwise
///   `amplitude / (tau_ref + tau_rc * ln(1 + 1/j))` (Nengo's `LIFRate.step`; AdaptiveLIF uses the
///   LIF curve, adaptation ignored, as in Nengo).
/// - RectifiedLinear, SpikingRectifiedLinear: `amplitude * max(J, 0)`.
/// - Izhikevich: spike count over 1 s of simulation at `dt = 1 ms`, exactly as Nengo's
///   `Izhikevich.rates` (see the `izhikevich` module docs); costs 1001 simulated steps per input.
///
/// A NaN current gives a NaN rate (Nengo raises an error instead).
pub fn rates(neuron: &NeuronType, j: &[f64]) -> Vec<f64> {
    match *neuron {
        NeuronType::Lif(p) | NeuronType::LifRate(p) | NeuronType::AdaptiveLif { lif: p, .. } => {
            j.iter().map(|&j| lif_rate(&p, j)).collect()
        }
        NeuronType::RectifiedLinear { amplitude }
        | NeuronType::SpikingRectifiedLinear { amplitude } => j
            .iter()
            .map(|&j| {
                if j.is_nan() {
                    j
                } else {
                    amplitude * j.max(0.0)
                }
            })
            .collect(),
        NeuronType::Izhikevich { .. } => {
            let izh = izh(neuron);
            j.iter().map(|&j| izh.rate(j)).collect()
        }
        // Conductance-based: no current-driven rate curve.
        NeuronType::DiehlCook(_) => vec![f64::NAN; j.len()],
    }
}

/// Gain and bias so that neuron `i` starts firing at `x = intercepts[i]` (the rate is zero at
/// and below it and positive above it) and fires at `max_rates[i]` at `x = 1`. `object` names
/// the ensemble in error messages.
///
/// As in Nengo, `max_rates` are rates before the type's `amplitude` scaling (the rate curve at
/// `x = 1` is `amplitude * max_rates[i]`).
///
/// - LIF family: `x = 1/(1 - exp((tau_ref - 1/max_rate)/tau_rc))`,
///   `gain = (1 - x)/(intercept - 1)`, `bias = 1 - gain*intercept`.
/// - Rectified linear: `gain = max_rate/(1 - intercept)`, `bias = -intercept*gain`.
/// - Izhikevich: numeric inversion of the simulated rate curve (Nengo's generic
///   `NeuronType.gain_bias`, with bisection instead of a coarse grid; see the `izhikevich`
///   module docs).
///
/// # Errors
///
/// [`Error::InvalidParameter`] if the neuron type's parameters are invalid, the slices differ in
/// length (param `intercepts`), a max rate is not finite and > 0 (param `max_rates`), an
/// intercept is not a finite number below 1 (param `intercepts`; below -1 is allowed, as in
/// Nengo), or a max rate is unreachable:
/// `>= 1/tau_ref` for the LIF family, above the saturation rate for Izhikevich.
/// [`Error::Build`] if an Izhikevich parameter set has no firing threshold.
pub fn gain_bias(
    neuron: &NeuronType,
    max_rates: &[f64],
    intercepts: &[f64],
    object: &dyn fmt::Display,
) -> Result<(Vec<f64>, Vec<f64>)> {
    neuron.validate(object)?;
    if max_rates.len() != intercepts.len() {
        return Err(Error::invalid(
            object,
            "intercepts",
            format!("{} values", intercepts.len()),
            format!(
                "one value per neuron, as many as max_rates ({})",
                max_rates.len()
            ),
        ));
    }
    if let Some(&r) = max_rates.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
        return Err(Error::invalid(
            object,
            "max_rates",
            r,
            "a finite rate > 0 Hz",
        ));
    }
    if let Some(&x) = intercepts.iter().find(|x| !(x.is_finite() && **x < 1.0)) {
        return Err(Error::invalid(
            object,
            "intercepts",
            x,
            "a finite number < 1 (an intercept of 1 needs an infinite gain)",
        ));
    }
    match *neuron {
        NeuronType::Lif(p) | NeuronType::LifRate(p) | NeuronType::AdaptiveLif { lif: p, .. } => {
            lif_gain_bias(&p, max_rates, intercepts, object)
        }
        NeuronType::RectifiedLinear { .. } | NeuronType::SpikingRectifiedLinear { .. } => {
            Ok(max_rates
                .iter()
                .zip(intercepts)
                .map(|(&r, &x0)| {
                    let gain = r / (1.0 - x0);
                    (gain, -x0 * gain)
                })
                .unzip())
        }
        NeuronType::Izhikevich { .. } => izh(neuron).gain_bias(max_rates, intercepts, object),
        NeuronType::DiehlCook(_) => Err(Error::invalid(
            object,
            "neuron_type",
            neuron.name(),
            "a neuron type with a rate curve (DiehlCook neurons take conductance input and have no gain or bias)",
        )),
    }
}

/// Inverse of [`gain_bias`]: the max rate (at `x = 1`, before `amplitude` scaling for the
/// analytic types) and intercept of each neuron, with Nengo's formulas:
///
/// - LIF family: `intercept = (1 - bias)/gain`,
///   `max_rate = 1/(tau_ref - tau_rc*ln(1 + 1/(gain*(intercept - 1) - 1)))`.
/// - Rectified linear: `intercept = -bias/gain`, `max_rate = gain*(1 - intercept)`.
/// - Izhikevich: `max_rate` is the simulated rate at `J = gain + bias`; `intercept` is
///   `(J_threshold - bias)/gain` with the threshold current found by bisection (Nengo scans
///   `x` on a 101-point grid instead), NaN if the neuron has no threshold.
///
/// Gains of zero give infinite or NaN results, as in Nengo. If the slices differ in length the
/// extra entries of the longer one are ignored.
pub fn max_rates_intercepts(
    neuron: &NeuronType,
    gain: &[f64],
    bias: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    match *neuron {
        NeuronType::Lif(p) | NeuronType::LifRate(p) | NeuronType::AdaptiveLif { lif: p, .. } => {
            gain.iter()
                .zip(bias)
                .map(|(&g, &b)| {
                    let intercept = (1.0 - b) / g;
                    let max_rate = 1.0
                        / (p.tau_ref - p.tau_rc * (1.0 / (g * (intercept - 1.0) - 1.0)).ln_1p());
                    (max_rate, intercept)
                })
                .unzip()
        }
        NeuronType::RectifiedLinear { .. } | NeuronType::SpikingRectifiedLinear { .. } => gain
            .iter()
            .zip(bias)
            .map(|(&g, &b)| {
                let intercept = -b / g;
                (g * (1.0 - intercept), intercept)
            })
            .unzip(),
        NeuronType::Izhikevich { .. } => izh(neuron).max_rates_intercepts(gain, bias),
        NeuronType::DiehlCook(_) => (vec![f64::NAN; gain.len()], vec![f64::NAN; gain.len()]),
    }
}

/// Activities of an ensemble's neurons at each evaluation point, shape `(n_eval, n_neurons)`:
/// `A[i, k] = rate_k(gain[k] * <encoders[k], eval_points[i]> + bias[k])`, the matrix that
/// [`crate::nef::Solver::solve`] takes. `eval_points` (n_eval, d) must already be divided by the
/// ensemble's radius; `encoders` (n_neurons, d) are unit vectors.
///
/// # Errors
///
/// [`Error::InvalidParameter`] if the shapes disagree (param `encoders`, `gain` or `bias`).
pub fn activities(
    neuron: &NeuronType,
    eval_points: ArrayView2<f64>,
    encoders: ArrayView2<f64>,
    gain: &[f64],
    bias: &[f64],
    object: &dyn fmt::Display,
) -> Result<Array2<f64>> {
    let n_neurons = encoders.nrows();
    if encoders.ncols() != eval_points.ncols() {
        return Err(Error::invalid(
            object,
            "encoders",
            format!("shape {:?}", encoders.dim()),
            format!(
                "{} columns, the dimensionality of the evaluation points",
                eval_points.ncols()
            ),
        ));
    }
    for (name, v) in [("gain", gain), ("bias", bias)] {
        if v.len() != n_neurons {
            return Err(Error::invalid(
                object,
                name,
                format!("{} values", v.len()),
                format!("one per neuron ({n_neurons})"),
            ));
        }
    }
    let mut currents = eval_points.dot(&encoders.t());
    for mut row in currents.rows_mut() {
        for ((j, &g), &b) in row.iter_mut().zip(gain).zip(bias) {
            *j = g * *j + b;
        }
    }
    // `iter` walks in logical (row-major) order whatever the memory layout of `currents`.
    let flat: Vec<f64> = currents.iter().copied().collect();
    let flat = rates(neuron, &flat);
    Ok(Array2::from_shape_vec(currents.raw_dim(), flat).expect("one rate per current"))
}

/// LIF rate for one current (see [`rates`]).
fn lif_rate(p: &LifParams, current: f64) -> f64 {
    let j = current - 1.0;
    if j > 0.0 {
        p.amplitude / (p.tau_ref + p.tau_rc * (1.0 / j).ln_1p())
    } else if j.is_nan() {
        f64::NAN
    } else {
        0.0
    }
}

/// LIF gain and bias for validated inputs (see [`gain_bias`]).
fn lif_gain_bias(
    p: &LifParams,
    max_rates: &[f64],
    intercepts: &[f64],
    object: &dyn fmt::Display,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let inv_tau_ref = if p.tau_ref > 0.0 {
        1.0 / p.tau_ref
    } else {
        f64::INFINITY
    };
    if let Some(&r) = max_rates.iter().find(|&&r| r >= inv_tau_ref) {
        return Err(Error::invalid(
            object,
            "max_rates",
            r,
            format!("< 1/tau_ref = {inv_tau_ref} Hz"),
        ));
    }
    Ok(max_rates
        .iter()
        .zip(intercepts)
        .map(|(&r, &x0)| {
            let x = 1.0 / (1.0 - ((p.tau_ref - 1.0 / r) / p.tau_rc).exp());
            let gain = (1.0 - x) / (x0 - 1.0);
            (gain, 1.0 - gain * x0)
        })
        .unzip())
}

/// The Izhikevich parameters of an Izhikevich neuron type.
fn izh(neuron: &NeuronType) -> Izh {
    match *neuron {
        NeuronType::Izhikevich {
            tau_recovery,
            coupling,
            reset_voltage,
            reset_recovery,
        } => Izh {
            a: tau_recovery,
            b: coupling,
            c: reset_voltage,
            d: reset_recovery,
        },
        _ => unreachable!("izh() is only called on NeuronType::Izhikevich"),
    }
}
