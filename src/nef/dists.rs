//! Sampling of encoders and evaluation points: Nengo 4's default `ScatteredHypersphere`
//! (quasirandom), Nengo 3's `UniformHypersphere` (random), and Nengo's default number of
//! evaluation points.

use ndarray::Array2;
use rand::Rng;
use rand::seq::SliceRandom;
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

/// The generalised golden ratio of dimension `d`: the positive root of `x^(d+1) = x + 1`
/// (Newton's method from 1, as Nengo's `QuasirandomSequence._phi`).
fn generalised_golden_ratio(d: usize) -> f64 {
    let mut x = 1.0f64;
    for _ in 0..100 {
        let dx = (x.powi(d as i32 + 1) - x - 1.0) / ((d as f64 + 1.0) * x.powi(d as i32) - 1.0);
        x -= dx;
        if dx.abs() < 1e-10 {
            break;
        }
    }
    x
}

/// `n` points of Roberts' R_d quasirandom sequence in the unit cube `[0, 1)^d`, shape `(n, d)`
/// (Nengo's `QuasirandomSequence`): point `k` is `(s + k alpha) mod 1` with
/// `alpha_i = phi_d^-(i+1)` and a random start `s ~ U[0, 1)^d`; in 1-D the points tile the
/// interval evenly, `(s + k / n) mod 1`. The rows are shuffled.
pub fn quasirandom_sequence<R: Rng + ?Sized>(n: usize, d: usize, rng: &mut R) -> Array2<f64> {
    let mut out = Array2::zeros((n, d));
    if d == 0 || n == 0 {
        return out;
    }
    let start: Vec<f64> = (0..d).map(|_| rng.random::<f64>()).collect();
    if d == 1 {
        for (k, v) in out.iter_mut().enumerate() {
            *v = (start[0] + k as f64 / n as f64).rem_euclid(1.0);
        }
    } else {
        let inv_phi = 1.0 / generalised_golden_ratio(d);
        let alpha: Vec<f64> = (1..=d).map(|i| inv_phi.powi(i as i32)).collect();
        for (k, mut row) in out.rows_mut().into_iter().enumerate() {
            for (i, v) in row.iter_mut().enumerate() {
                *v = (start[i] + (k + 1) as f64 * alpha[i]).rem_euclid(1.0);
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    out.select(ndarray::Axis(0), &order)
}

/// The inverse CDF of a spherical coordinate angle, as a fraction of pi (Nengo's
/// `ScatteredHypersphere.spherical_coords_ppf`, exact, i.e. its `sct` method): the `x` in
/// `[0, 1]` for which an angle with density proportional to `sin^(dims - 1)`, on `[0, pi]`, falls
/// below `x pi` with probability `y`.
pub fn spherical_coords_ppf(dims: usize, y: f64) -> f64 {
    let m = dims.saturating_sub(1);
    let reflect = y.min(1.0 - y).clamp(0.0, 0.5);
    // S_m(t) = int_0^t sin^m: S_m = (-sin^(m-1) t cos t + (m - 1) S_(m-2)) / m, S_0 = t,
    // S_1 = 1 - cos t; over [0, pi]: N_m = N_(m-2) (m - 1) / m, N_0 = pi, N_1 = 2.
    let integral = |t: f64| -> f64 {
        let (sin, cos) = t.sin_cos();
        let (mut s0, mut s1) = (t, 1.0 - cos);
        if m == 0 {
            return s0;
        }
        let mut sin_pow = 1.0; // sin^(k - 1) for the k being computed
        for k in 2..=m {
            sin_pow *= sin;
            let s2 = (-sin_pow * cos + (k as f64 - 1.0) * s0) / k as f64;
            (s0, s1) = (s1, s2);
        }
        s1
    };
    let norm = {
        let (mut n0, mut n1) = (std::f64::consts::PI, 2.0);
        if m == 0 {
            n1 = n0;
        }
        for k in 2..=m {
            (n0, n1) = (n1, n0 * (k as f64 - 1.0) / k as f64);
        }
        n1
    };
    // Safeguarded Newton on [0, pi / 2] for the angle whose CDF is `reflect`.
    let (mut lo, mut hi) = (0.0f64, std::f64::consts::FRAC_PI_2);
    let mut t = std::f64::consts::FRAC_PI_4;
    for _ in 0..200 {
        let f = integral(t) / norm - reflect;
        if f == 0.0 {
            break;
        }
        if f < 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        let slope = t.sin().powi(m as i32) / norm;
        let newton = t - f / slope;
        let next = if slope > 0.0 && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if (next - t).abs() <= 1e-15 * t.max(1e-300) || hi - lo <= 1e-15 {
            t = next;
            break;
        }
        t = next;
    }
    let x = t / std::f64::consts::PI;
    if y < 0.5 { x } else { 1.0 - x }
}

/// Maps points of the unit cube `[0, 1]^k` (rows of `samples`) onto the surface of the unit
/// hypersphere in `k + 1` dimensions by the spherical coordinate transform (Fang & Wang 1994,
/// section 1.5; Nengo's `ScatteredHypersphere.spherical_transform_sct`).
pub fn spherical_transform(samples: &Array2<f64>) -> Array2<f64> {
    let (n, k) = samples.dim();
    let mut out = Array2::ones((n, k + 1));
    for (row, mut o) in samples.rows().into_iter().zip(out.rows_mut()) {
        let mut prod = 1.0;
        for j in 0..k {
            let x = spherical_coords_ppf(k - j, row[j]);
            let scale = if j + 1 == k { 2.0 } else { 1.0 };
            let (s, c) = (scale * std::f64::consts::PI * x).sin_cos();
            o[j] = prod * c;
            prod *= s;
        }
        o[k] = prod;
    }
    out
}

/// A random orthogonal `d x d` matrix: `U V^T` of the SVD of a matrix of standard normal draws
/// (Nengo's `ScatteredHypersphere.random_orthogonal`).
fn random_orthogonal<R: Rng + ?Sized>(d: usize, rng: &mut R) -> Array2<f64> {
    let m = nalgebra::DMatrix::<f64>::from_fn(d, d, |_, _| StandardNormal.sample(&mut *rng));
    let svd = m.svd(true, true);
    match (svd.u, svd.v_t) {
        (Some(u), Some(v_t)) => {
            let q = u * v_t;
            Array2::from_shape_fn((d, d), |(i, j)| q[(i, j)])
        }
        // nalgebra returns both factors when asked; fall back to no rotation otherwise.
        _ => Array2::eye(d),
    }
}

/// `n` quasirandom points scattered evenly over the unit hypersphere's surface (`surface`) or
/// its ball, in `d` dimensions, shape `(n, d)` (Nengo 4's `ScatteredHypersphere`, the default
/// for encoders (surface) and evaluation points (ball)): the R_d sequence mapped by the
/// spherical coordinate transform (exact, where Nengo's default `sct-approx` interpolates a
/// table), the ball's radius from the sequence's last coordinate to the power `1 / d`, then a
/// random rotation. In 1-D the surface is about half `+1` and half `-1` (the evenly tiled 1-D
/// sequence split at 0.5), and the ball two evenly tiled halves, in `[0, 1)` and `(-1, 0]`,
/// shuffled.
pub fn scattered_hypersphere<R: Rng + ?Sized>(
    n: usize,
    d: usize,
    surface: bool,
    rng: &mut R,
) -> Array2<f64> {
    if d == 0 || n == 0 {
        return Array2::zeros((n, d));
    }
    if d == 1 {
        if surface {
            return quasirandom_sequence(n, 1, rng).mapv(|v| if v < 0.5 { -1.0 } else { 1.0 });
        }
        let pos = quasirandom_sequence(n / 2, 1, rng);
        let neg = quasirandom_sequence(n - n / 2, 1, rng).mapv(|v| -v);
        let mut values: Vec<f64> = pos.iter().chain(neg.iter()).copied().collect();
        values.shuffle(rng);
        return Array2::from_shape_fn((n, 1), |(i, _)| values[i]);
    }
    let mut mapped = if surface {
        spherical_transform(&quasirandom_sequence(n, d - 1, rng))
    } else {
        let samples = quasirandom_sequence(n, d, rng);
        let angles = samples.slice(ndarray::s![.., ..d - 1]).to_owned();
        let mut mapped = spherical_transform(&angles);
        for (mut row, r) in mapped.rows_mut().into_iter().zip(samples.column(d - 1)) {
            row *= r.powf(1.0 / d as f64);
        }
        mapped
    };
    mapped = mapped.dot(&random_orthogonal(d, rng));
    mapped
}
