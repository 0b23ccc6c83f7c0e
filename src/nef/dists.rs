//! Random sampling of encoders and evaluation points (Nengo's `UniformHypersphere`), and Nengo's
//! default number of evaluation points.

use ndarray::Array2;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// `n` points uniformly distributed on the surface of the unit hypersphere in `d` dimensions,
/// shape `(n, d)` (Nengo's `UniformHypersphere(surface=True)`): each row is a vector of standard
/// normal draws divided by its norm. In 1-D these are `+1` or `-1`. With `d == 0` the result
/// has no columns.
pub fn sample_hypersphere_surface<R: Rng + ?Sized>(n: usize, d: usize, rng: &mut R) -> Array2<f64> {
    let mut out = Array2::zeros((n, d));
    if d == 0 {
        return out;
    }
    for mut row in out.rows_mut() {
        // A zero vector has probability zero, but redraw rather than divide by zero.
        loop {
            row.iter_mut()
                .for_each(|v| *v = StandardNormal.sample(&mut *rng));
            let norm = row.dot(&row).sqrt();
            if norm > 0.0 && norm.is_finite() {
                row.mapv_inplace(|v| v / norm);
                break;
            }
        }
    }
    out
}

/// `n` points uniformly distributed in the unit ball in `d` dimensions, shape `(n, d)` (Nengo's
/// `UniformHypersphere()`): a point on the surface scaled by `u^(1/d)`, `u ~ U[0, 1)`, so that
/// the density is uniform in volume. In 1-D these are uniform in `(-1, 1)`.
pub fn sample_ball<R: Rng + ?Sized>(n: usize, d: usize, rng: &mut R) -> Array2<f64> {
    let mut out = sample_hypersphere_surface(n, d, rng);
    if d == 0 {
        return out;
    }
    let inv_d = 1.0 / d as f64;
    for mut row in out.rows_mut() {
        let radius = rng.random::<f64>().powf(inv_d);
        row.mapv_inplace(|v| v * radius);
    }
    out
}

/// Nengo's default number of evaluation points for an ensemble:
/// `max(clip(500 * dimensions, 750, 2500), 2 * n_neurons)`.
pub fn default_n_eval_points(n_neurons: usize, dimensions: usize) -> usize {
    dimensions
        .saturating_mul(500)
        .clamp(750, 2500)
        .max(n_neurons.saturating_mul(2))
}
