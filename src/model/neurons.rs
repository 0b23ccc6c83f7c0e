//! Neuron types, with Nengo's parameters, defaults and semantics.
//!
//! These are plain data. Their rate curves and gain/bias maths live in [`crate::nef`], their
//! per-timestep update in the backends (`backend::cpu` is the reference).

use crate::error::{Error, Result, check_non_negative, check_positive};
use std::fmt;

/// The longest refractory period or spike gate of Diehl & Cook neurons, in steps: their timer
/// counts steps in f32, and the test of the refractory hold (`timer > gate - refractory + 0.5`)
/// is exact while the gate is below 2^23 steps.
pub const MAX_TIMER_STEPS: u32 = 1 << 23;

/// Leaky integrate-and-fire parameters (Nengo's `LIF` / `LIFRate`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LifParams {
    /// Membrane RC time constant in seconds (Nengo default 0.02).
    pub tau_rc: f64,
    /// Absolute refractory period in seconds (Nengo default 0.002).
    pub tau_ref: f64,
    /// Lower bound on the voltage (Nengo default 0; `f64::NEG_INFINITY`: never clipped).
    pub min_voltage: f64,
    /// Scale of the output (spikes are `amplitude / dt`; default 1).
    pub amplitude: f64,
}

impl LifParams {
    /// `min_voltage` as the kernels use it: in f32, with no bound (`-inf`) as the lowest finite
    /// f32, which no voltage falls below (WGSL need not handle infinities).
    pub fn min_voltage_f32(&self) -> f32 {
        (self.min_voltage as f32).max(f32::MIN)
    }
}

impl Default for LifParams {
    fn default() -> Self {
        LifParams {
            tau_rc: 0.02,
            tau_ref: 0.002,
            min_voltage: 0.0,
            amplitude: 1.0,
        }
    }
}

/// Parameters of the Diehl & Cook (2015) conductance-based LIF neuron with adaptive threshold.
/// Voltages in mV, times in seconds, conductances in units of the leak conductance.
///
/// `tau_m dv/dt = (v_rest - v) + ge (e_exc - v) + gi (e_inh - v)` (not integrated while
/// refractory), `dge/dt = -ge/tau_ge`, `dgi/dt = -gi/tau_gi`, `dtheta/dt = -theta/tau_theta`;
/// a spike when `v > v_thresh + theta - theta_offset` and `min_interval` has passed since the
/// last spike, then `v = v_reset`, `theta += theta_plus`.
/// Integrated with exponential Euler (exact for the linear part at fixed conductances).
///
/// State variables (`Probe::state`, `Simulator::neuron_state`): `voltage`; `ge` and `gi`, the
/// conductances before this step's arriving input, which waits in `ge_in` / `gi_in` and is
/// added at the start of the next step (Brian2's monitor shows `ge + ge_in`); `theta`, whose
/// decay is gathered in `theta_decay` and folded in from time to time (the threshold's theta
/// is `theta - theta_decay`, what Brian2 shows); `refractory_steps`, the gate's counter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DcParams {
    /// Resting potential (mV).
    pub v_rest: f64,
    /// Reset potential (mV).
    pub v_reset: f64,
    /// Threshold (mV), before the adaptive part.
    pub v_thresh: f64,
    /// Membrane time constant (s).
    pub tau_m: f64,
    /// Refractory period (s), rounded to whole steps; at most [`MAX_TIMER_STEPS`] steps. The
    /// voltage is held for `round(refractory / dt)` steps after the spike's step and integrates
    /// again on the step after them, as BindsNET counts; Brian2's `refractory=` of the same
    /// value integrates one step earlier (it equals this with one `dt` more, which
    /// `benches/peers/brian2_dc.py` adds when it runs the paper's model side by side).
    pub refractory: f64,
    /// Excitatory reversal potential (mV).
    pub e_exc: f64,
    /// Inhibitory reversal potential (mV).
    pub e_inh: f64,
    /// Excitatory conductance time constant (s).
    pub tau_ge: f64,
    /// Inhibitory conductance time constant (s).
    pub tau_gi: f64,
    /// Threshold increase per spike (mV); 0 disables the adaptive threshold.
    pub theta_plus: f64,
    /// Threshold decay time constant (s).
    pub tau_theta: f64,
    /// Initial theta, subtracted in the threshold condition (mV), as in the paper's code.
    pub theta_offset: f64,
    /// Shortest time from a spike to the next (s), rounded to whole steps: the threshold is not
    /// tested before it has passed (the voltage integrates again after `refractory`). The
    /// paper's code gates excitatory spikes with `timer > refrac_e` where `dtimer/dt = 0.1` and
    /// a spike resets the timer, so 5 ms of refractoriness allow one spike per 50 ms (the first
    /// step with `timer > 5 ms` is the 101st at dt 0.5 ms, as here: a spike on step s allows the
    /// next on step s + 101). 0 (or anything up to `refractory`) leaves the refractory period
    /// alone, as in BindsNET's `DiehlAndCookNodes`. At most [`MAX_TIMER_STEPS`] steps.
    pub min_interval: f64,
}

impl DcParams {
    /// The published excitatory neuron: v_rest -65, v_reset -65, v_thresh -52 mV, refractory 5 ms,
    /// tau 100 ms, E_exc 0, E_inh -100 mV, tau_ge 1 ms, tau_gi 2 ms, theta +0.05 mV per spike,
    /// tau_theta 1e7 ms, theta offset 20 mV, at most one spike per 50 ms (the timer of the
    /// paper's code; see [`DcParams::min_interval`]).
    pub fn excitatory() -> Self {
        DcParams {
            v_rest: -65.0,
            v_reset: -65.0,
            v_thresh: -52.0,
            tau_m: 0.1,
            refractory: 0.005,
            e_exc: 0.0,
            e_inh: -100.0,
            tau_ge: 0.001,
            tau_gi: 0.002,
            theta_plus: 0.05,
            tau_theta: 1e4,
            theta_offset: 20.0,
            min_interval: 0.05,
        }
    }
    /// The published inhibitory neuron: v_rest -60, v_reset -45, v_thresh -40 mV, refractory 2 ms,
    /// tau 10 ms, E_exc 0, E_inh -85 mV, tau_ge 1 ms, tau_gi 2 ms, no adaptive threshold, no
    /// spike gate beyond the refractory period.
    pub fn inhibitory() -> Self {
        DcParams {
            v_rest: -60.0,
            v_reset: -45.0,
            v_thresh: -40.0,
            tau_m: 0.01,
            refractory: 0.002,
            e_exc: 0.0,
            e_inh: -85.0,
            tau_ge: 0.001,
            tau_gi: 0.002,
            theta_plus: 0.0,
            tau_theta: 1e4,
            theta_offset: 0.0,
            min_interval: 0.0,
        }
    }
}

/// A neuron model. Each variant matches the Nengo neuron type of the same name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NeuronType {
    /// Spiking leaky integrate-and-fire with sub-step spike timing and fractional refractory period.
    Lif(LifParams),
    /// The rate (steady-state firing rate) version of LIF.
    LifRate(LifParams),
    /// LIF with a spike-triggered adaptation current `n`: `J_eff = J - n`,
    /// `n += dt/tau_n * (inc_n * output - n)`.
    AdaptiveLif {
        /// The LIF parameters.
        lif: LifParams,
        /// Adaptation time constant in seconds (Nengo default 1).
        tau_n: f64,
        /// Adaptation increment (Nengo default 0.01).
        inc_n: f64,
    },
    /// Integrate-and-fire without leak or refractory period; rate = amplitude * max(J, 0).
    SpikingRectifiedLinear {
        /// Output scale (default 1).
        amplitude: f64,
    },
    /// Rate neuron: amplitude * max(J, 0).
    RectifiedLinear {
        /// Output scale (default 1).
        amplitude: f64,
    },
    /// Izhikevich (2003) neuron with Nengo's parameterisation (time in ms inside the equations).
    /// As in Nengo 4.1 (`Izhikevich.state`), a simulation starts with voltages drawn from
    /// Uniform(0, 1) mV and recovery 0, so most neurons spike on the first step; for the resting
    /// state instead, set `voltage` to `reset_voltage` and `recovery` to `coupling *
    /// reset_voltage` with [`Simulator::set_neuron_state`](crate::Simulator::set_neuron_state).
    Izhikevich {
        /// `a`: time scale of the recovery variable (default 0.02).
        tau_recovery: f64,
        /// `b`: sensitivity of recovery to sub-threshold voltage (default 0.2).
        coupling: f64,
        /// `c`: voltage after a spike in mV (default -65).
        reset_voltage: f64,
        /// `d`: recovery increment after a spike (default 8).
        reset_recovery: f64,
    },
    /// The Diehl & Cook (2015) conductance-based neuron with adaptive threshold. It takes input
    /// only through conductance ports ([`crate::model::Port`]), not currents, and has no rate curve.
    DiehlCook(DcParams),
}

impl NeuronType {
    /// Nengo's `LIF()`.
    pub fn lif() -> Self {
        NeuronType::Lif(LifParams::default())
    }
    /// Nengo's `LIF(tau_rc, tau_ref)`.
    pub fn lif_with(tau_rc: f64, tau_ref: f64) -> Self {
        NeuronType::Lif(LifParams {
            tau_rc,
            tau_ref,
            ..LifParams::default()
        })
    }
    /// Nengo's `LIFRate()`.
    pub fn lif_rate() -> Self {
        NeuronType::LifRate(LifParams::default())
    }
    /// Nengo's `AdaptiveLIF()` (tau_n 1 s, inc_n 0.01).
    pub fn adaptive_lif() -> Self {
        NeuronType::AdaptiveLif {
            lif: LifParams::default(),
            tau_n: 1.0,
            inc_n: 0.01,
        }
    }
    /// Nengo's `SpikingRectifiedLinear()`.
    pub fn spiking_rectified_linear() -> Self {
        NeuronType::SpikingRectifiedLinear { amplitude: 1.0 }
    }
    /// Nengo's `RectifiedLinear()`.
    pub fn rectified_linear() -> Self {
        NeuronType::RectifiedLinear { amplitude: 1.0 }
    }
    /// Nengo's `Izhikevich()` (regular spiking: a 0.02, b 0.2, c -65, d 8).
    pub fn izhikevich() -> Self {
        NeuronType::Izhikevich {
            tau_recovery: 0.02,
            coupling: 0.2,
            reset_voltage: -65.0,
            reset_recovery: 8.0,
        }
    }

    /// Diehl & Cook's excitatory neuron.
    pub fn diehl_cook_excitatory() -> Self {
        NeuronType::DiehlCook(DcParams::excitatory())
    }
    /// Diehl & Cook's inhibitory neuron.
    pub fn diehl_cook_inhibitory() -> Self {
        NeuronType::DiehlCook(DcParams::inhibitory())
    }

    /// True for types with a rate curve (usable in decoded connections and with intercepts and
    /// max rates).
    pub fn has_rate_curve(&self) -> bool {
        !matches!(self, NeuronType::DiehlCook(_))
    }

    /// True for conductance-based types (input through excitatory/inhibitory ports).
    pub fn is_conductance_based(&self) -> bool {
        matches!(self, NeuronType::DiehlCook(_))
    }

    /// Short name, as Nengo spells the type.
    pub fn name(&self) -> &'static str {
        match self {
            NeuronType::Lif(_) => "LIF",
            NeuronType::LifRate(_) => "LIFRate",
            NeuronType::AdaptiveLif { .. } => "AdaptiveLIF",
            NeuronType::SpikingRectifiedLinear { .. } => "SpikingRectifiedLinear",
            NeuronType::RectifiedLinear { .. } => "RectifiedLinear",
            NeuronType::Izhikevich { .. } => "Izhikevich",
            NeuronType::DiehlCook(_) => "DiehlCook",
        }
    }

    /// True for types whose output is spikes (amplitude / dt) rather than rates.
    pub fn is_spiking(&self) -> bool {
        !matches!(
            self,
            NeuronType::LifRate(_) | NeuronType::RectifiedLinear { .. }
        )
    }

    /// The LIF parameters, for the LIF family.
    pub fn lif_params(&self) -> Option<&LifParams> {
        match self {
            NeuronType::Lif(p) | NeuronType::LifRate(p) => Some(p),
            NeuronType::AdaptiveLif { lif, .. } => Some(lif),
            _ => None,
        }
    }

    /// The per-neuron state variables the type keeps besides its output, in a fixed order that
    /// the compiler and every backend share.
    pub fn state_names(&self) -> &'static [&'static str] {
        match self {
            NeuronType::Lif(_) => &["voltage", "refractory_time"],
            NeuronType::LifRate(_) | NeuronType::RectifiedLinear { .. } => &[],
            NeuronType::AdaptiveLif { .. } => &["voltage", "refractory_time", "adaptation"],
            NeuronType::SpikingRectifiedLinear { .. } => &["voltage"],
            NeuronType::Izhikevich { .. } => &["voltage", "recovery"],
            NeuronType::DiehlCook(_) => &[
                "voltage",
                "ge",
                "gi",
                "theta",
                "theta_decay",
                "refractory_steps",
                "ge_in",
                "gi_in",
            ],
        }
    }

    /// Checks every parameter; `object` names the ensemble for the error message.
    pub fn validate(&self, object: &dyn fmt::Display) -> Result<()> {
        let check_lif = |p: &LifParams| -> Result<()> {
            check_positive(object, "tau_rc", p.tau_rc)?;
            check_non_negative(object, "tau_ref", p.tau_ref)?;
            if p.min_voltage.is_nan() || p.min_voltage > 0.0 {
                return Err(Error::invalid(
                    object,
                    "min_voltage",
                    p.min_voltage,
                    "a number <= 0 (the reset voltage), or -inf for no bound",
                ));
            }
            check_positive(object, "amplitude", p.amplitude)
        };
        match self {
            NeuronType::Lif(p) | NeuronType::LifRate(p) => check_lif(p),
            NeuronType::AdaptiveLif { lif, tau_n, inc_n } => {
                check_lif(lif)?;
                check_positive(object, "tau_n", *tau_n)?;
                check_non_negative(object, "inc_n", *inc_n)
            }
            NeuronType::SpikingRectifiedLinear { amplitude }
            | NeuronType::RectifiedLinear { amplitude } => {
                check_positive(object, "amplitude", *amplitude)
            }
            NeuronType::Izhikevich {
                tau_recovery,
                coupling,
                reset_voltage,
                reset_recovery,
            } => {
                check_positive(object, "tau_recovery", *tau_recovery)?;
                check_non_negative(object, "coupling", *coupling)?;
                crate::error::check_finite(object, "reset_voltage", *reset_voltage)?;
                crate::error::check_finite(object, "reset_recovery", *reset_recovery)
            }
            NeuronType::DiehlCook(p) => {
                for (name, v) in [
                    ("v_rest", p.v_rest),
                    ("v_reset", p.v_reset),
                    ("v_thresh", p.v_thresh),
                    ("e_exc", p.e_exc),
                    ("e_inh", p.e_inh),
                    ("theta_offset", p.theta_offset),
                ] {
                    crate::error::check_finite(object, name, v)?;
                }
                check_positive(object, "tau_m", p.tau_m)?;
                check_positive(object, "tau_ge", p.tau_ge)?;
                check_positive(object, "tau_gi", p.tau_gi)?;
                check_positive(object, "tau_theta", p.tau_theta)?;
                check_non_negative(object, "refractory", p.refractory)?;
                check_non_negative(object, "min_interval", p.min_interval)?;
                check_non_negative(object, "theta_plus", p.theta_plus)
            }
        }
    }

    /// Checks that `dt` does not break this type's discretisation.
    pub fn validate_dt(&self, object: &dyn fmt::Display, dt: f64) -> Result<()> {
        // Spiking LIF voltages are integrated exactly (`expm1`), but in f32: from about
        // dt / tau_rc = 17 the voltage reaches its target exactly and the spike time within
        // the step is lost (the refractory period with it). Nengo, in f64, takes any tau_rc;
        // dt / 8 keeps a wide margin. LIFRate does not integrate.
        if let NeuronType::Lif(p) | NeuronType::AdaptiveLif { lif: p, .. } = self
            && p.tau_rc < dt / 8.0
        {
            return Err(Error::invalid(
                object,
                "tau_rc",
                p.tau_rc,
                format!(
                    "a time constant >= dt / 8 = {} s (the f32 voltage integration keeps the spike time)",
                    dt / 8.0
                ),
            ));
        }
        if let NeuronType::DiehlCook(p) = self {
            for (name, tau) in [("tau_ge", p.tau_ge), ("tau_gi", p.tau_gi)] {
                if dt > tau {
                    return Err(Error::invalid(
                        object,
                        name,
                        tau,
                        format!("a time constant >= the simulator's dt ({dt} s)"),
                    ));
                }
            }
            for (name, t) in [
                ("refractory", p.refractory),
                ("min_interval", p.min_interval),
            ] {
                let max = f64::from(MAX_TIMER_STEPS) * dt;
                if t > 0.0 && t < dt || (t / dt).round() > f64::from(MAX_TIMER_STEPS) {
                    return Err(Error::invalid(
                        object,
                        name,
                        t,
                        format!(
                            "0 or from one step (dt = {dt} s) to {MAX_TIMER_STEPS} steps ({max} s)"
                        ),
                    ));
                }
            }
        }
        if let NeuronType::AdaptiveLif { tau_n, .. } = self
            && dt >= 2.0 * *tau_n
        {
            return Err(Error::invalid(
                object,
                "tau_n",
                tau_n,
                format!(
                    "a time constant > dt / 2 = {} s; forward Euler on n (Nengo's) diverges otherwise",
                    dt / 2.0
                ),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for NeuronType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NeuronType::Lif(p) | NeuronType::LifRate(p) => write!(
                f,
                "{}(tau_rc={}, tau_ref={})",
                self.name(),
                p.tau_rc,
                p.tau_ref
            ),
            NeuronType::AdaptiveLif { lif, tau_n, inc_n } => write!(
                f,
                "AdaptiveLIF(tau_rc={}, tau_ref={}, tau_n={tau_n}, inc_n={inc_n})",
                lif.tau_rc, lif.tau_ref
            ),
            NeuronType::Izhikevich {
                tau_recovery,
                coupling,
                reset_voltage,
                reset_recovery,
            } => write!(
                f,
                "Izhikevich(a={tau_recovery}, b={coupling}, c={reset_voltage}, d={reset_recovery})"
            ),
            NeuronType::DiehlCook(p) => write!(
                f,
                "DiehlCook(v_thresh={}, tau_m={}, theta_plus={})",
                p.v_thresh, p.tau_m, p.theta_plus
            ),
            _ => write!(f, "{}", self.name()),
        }
    }
}
