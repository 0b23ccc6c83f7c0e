//! Decoder solvers: Nengo's `LstsqL2` (with its default Cholesky sub-solver) and `Lstsq`.

use crate::error::{Error, Result};
use nalgebra::{Cholesky, DMatrix, SVD};
use ndarray::{Array2, ArrayView2};
use std::fmt;

/// A decoder solver: finds decoders `D` (n_neurons, d) such that `A D ≈ Y` for activities `A`
/// (n_eval, n_neurons) and targets `Y` (n_eval, d).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Solver {
    /// Nengo's `LstsqL2(reg)` with the Cholesky sub-solver: least squares with L2
    /// regularisation. With `sigma = reg * max(A)` and `m = n_eval`, solves
    /// `(AᵀA + m σ² I) D = AᵀY` (or, when `A` has fewer rows than columns, the equivalent
    /// `D = Aᵀ (AAᵀ + m σ² I)⁻¹ Y`, as Nengo does) by Cholesky factorisation. Nengo's default,
    /// with `reg = 0.1`.
    LstsqL2 {
        /// Regularisation as a fraction of the largest activity (finite, >= 0).
        reg: f64,
    },
    /// Nengo's `Lstsq(rcond)`: unregularised minimum-norm least squares by SVD, treating
    /// singular values `<= rcond * largest` as zero (like `numpy.linalg.lstsq`). Nengo's default
    /// `rcond` is 0.01.
    Lstsq {
        /// Cut-off ratio for small singular values (finite, >= 0).
        rcond: f64,
    },
}

impl Default for Solver {
    /// `LstsqL2 { reg: 0.1 }`, Nengo's default decoder solver.
    fn default() -> Self {
        Solver::LstsqL2 { reg: 0.1 }
    }
}

impl fmt::Display for Solver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Solver::LstsqL2 { reg } => write!(f, "LstsqL2(reg={reg})"),
            Solver::Lstsq { rcond } => write!(f, "Lstsq(rcond={rcond})"),
        }
    }
}

impl Solver {
    /// Checks the solver's parameter; `object` names the connection in the error message.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] naming `reg` or `rcond` if it is negative or not finite.
    pub fn validate(&self, object: &dyn fmt::Display) -> Result<()> {
        let (name, value) = match *self {
            Solver::LstsqL2 { reg } => ("reg", reg),
            Solver::Lstsq { rcond } => ("rcond", rcond),
        };
        if value.is_finite() && value >= 0.0 {
            Ok(())
        } else {
            Err(Error::invalid(object, name, value, "a finite number >= 0"))
        }
    }

    /// Solves for decoders. `activities`: (n_eval, n_neurons); `targets`: (n_eval, d). Returns
    /// decoders (n_neurons, d). `object` names the connection in error messages.
    ///
    /// With no neurons or no target dimensions the result is an empty (n_neurons, d) matrix.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidParameter`] if the solver's parameter is invalid or `targets` does not
    ///   have one row per evaluation point.
    /// - [`Error::Numerical`] if the inputs contain NaN or infinity, there are no evaluation
    ///   points, the Cholesky factorisation fails (the regularised Gram matrix is not positive
    ///   definite: all-zero activities, or `reg = 0` with rank-deficient activities), the SVD
    ///   does not converge, or the decoders come out non-finite.
    pub fn solve(
        &self,
        activities: ArrayView2<f64>,
        targets: ArrayView2<f64>,
        object: &dyn fmt::Display,
    ) -> Result<Array2<f64>> {
        self.validate(object)?;
        let (m, n) = activities.dim();
        let d = targets.ncols();
        if targets.nrows() != m {
            return Err(Error::invalid(
                object,
                "targets",
                format!("{} rows", targets.nrows()),
                format!("one row per evaluation point ({m}, the rows of activities)"),
            ));
        }
        let numerical = |reason: String| Error::Numerical {
            object: object.to_string(),
            reason,
        };
        for (name, x) in [("activities", &activities), ("targets", &targets)] {
            if let Some(v) = x.iter().find(|v| !v.is_finite()) {
                return Err(numerical(format!(
                    "decoder solve ({self}): {name} contain a non-finite value ({v})"
                )));
            }
        }
        if n == 0 || d == 0 {
            return Ok(Array2::zeros((n, d)));
        }
        if m == 0 {
            return Err(numerical(format!(
                "decoder solve ({self}): there are no evaluation points"
            )));
        }

        let a = DMatrix::from_fn(m, n, |i, j| activities[[i, j]]);
        let y = DMatrix::from_fn(m, d, |i, j| targets[[i, j]]);
        let x = match *self {
            Solver::LstsqL2 { reg } => {
                let sigma = reg * a.max();
                let lambda = m as f64 * sigma * sigma;
                // Nengo's Cholesky solver works with the smaller Gram matrix.
                let transpose = m < n;
                let mut gram = if transpose {
                    let at = a.transpose();
                    at.tr_mul(&at)
                } else {
                    a.tr_mul(&a)
                };
                for i in 0..gram.nrows() {
                    gram[(i, i)] += lambda;
                }
                let chol = Cholesky::new(gram).ok_or_else(|| {
                    numerical(format!(
                        "decoder solve ({self}): Cholesky factorisation failed (the regularised \
                         Gram matrix is not positive definite; are all activities zero, or is \
                         reg 0 with too few independent neurons?)"
                    ))
                })?;
                if transpose {
                    a.tr_mul(&chol.solve(&y))
                } else {
                    chol.solve(&a.tr_mul(&y))
                }
            }
            Solver::Lstsq { rcond } => {
                let svd = SVD::try_new(a, true, true, f64::EPSILON, 0).ok_or_else(|| {
                    numerical(format!("decoder solve ({self}): the SVD did not converge"))
                })?;
                let eps = rcond * svd.singular_values.max();
                svd.solve(&y, eps)
                    .map_err(|e| numerical(format!("decoder solve ({self}): {e}")))?
            }
        };
        if x.iter().any(|v| !v.is_finite()) {
            return Err(numerical(format!(
                "decoder solve ({self}): the decoders are not finite"
            )));
        }
        Ok(Array2::from_shape_fn((n, d), |(i, j)| x[(i, j)]))
    }
}
