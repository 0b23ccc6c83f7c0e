//! Build-time NEF maths, as in Nengo: rate curves, gain and bias from max rates and intercepts,
//! sampling of encoders and evaluation points, and decoder solvers.
//!
//! Everything here is `f64` host-side maths run once while a network is compiled; nothing here
//! runs per timestep. The semantics are Nengo's (3.2 / 4.x): the tests in `tests/nef.rs` compare
//! against numbers printed by the real Nengo (`scripts/nengo_reference.py`).
//!
//! - [`rates`], [`gain_bias`], [`max_rates_intercepts`], [`activities`]: neuron tuning curves
//!   (module `tuning`; the Izhikevich neuron, which has no closed-form rate, is simulated).
//! - [`sample_hypersphere_surface`], [`sample_ball`], [`default_n_eval_points`]: encoders and
//!   evaluation points.
//! - [`Solver`]: decoders from activities and targets (regularised least squares by Cholesky,
//!   or plain least squares by SVD, both with nalgebra).

mod dists;
mod izhikevich;
mod solvers;
mod tuning;

pub use dists::{
    default_n_eval_points, quasirandom_sequence, sample_ball, sample_hypersphere_surface,
    scattered_hypersphere, spherical_coords_ppf, spherical_transform,
};
pub use solvers::Solver;
pub use tuning::{activities, gain_bias, max_rates_intercepts, rates};
