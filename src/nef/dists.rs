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

/// `S_m(t) = int_0^t sin^m`, by the recurrence `S_m = (-sin^(m-1) t cos t + (m - 1) S_(m-2)) / m`
/// from `S_0 = t` and `S_1 = 1 - cos t` (exact; absolute error about 1e-16).
fn sin_power_integral(m: usize, t: f64) -> f64 {
    let (sin, cos) = t.sin_cos();
    // 1 - cos t, without cancellation for small t.
    let (mut s0, mut s1) = (t, 2.0 * (0.5 * t).sin().powi(2));
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
}

/// `S_m(pi) = N_m`: `N_m = N_(m-2) (m - 1) / m`, `N_0 = pi`, `N_1 = 2`.
fn sin_power_norm(m: usize) -> f64 {
    let (mut n0, mut n1) = (std::f64::consts::PI, 2.0);
    if m == 0 {
        return n0;
    }
    for k in 2..=m {
        (n0, n1) = (n1, n0 * (k as f64 - 1.0) / k as f64);
    }
    n1
}

/// The angle `t` in `[lo, hi]` where `cdf(t) = target`, for a CDF with density `pdf`, by
/// Newton's method from `t`, falling back to bisection when a step leaves the bracket.
fn invert_angle_cdf(
    cdf: impl Fn(f64) -> f64,
    pdf: impl Fn(f64) -> f64,
    target: f64,
    mut lo: f64,
    mut hi: f64,
    mut t: f64,
) -> f64 {
    if target <= 0.0 {
        return 0.0;
    }
    for _ in 0..200 {
        let f = cdf(t) - target;
        if f == 0.0 {
            break;
        }
        if f < 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        let slope = pdf(t);
        let newton = t - f / slope;
        let next = if slope > 0.0 && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if (next - t).abs() <= 1e-15 * t.max(1e-300) || hi - lo <= 1e-15 {
            return next;
        }
        t = next;
    }
    t
}

/// `int_a^b sin^m` by 8-point Gauss-Legendre quadrature: exact to rounding on the short
/// intervals `AngleCdfs` uses (`sin^m` is smooth there; the rule is exact for polynomials of
/// degree 15).
fn sin_power_quadrature(m: usize, a: f64, b: f64) -> f64 {
    const X: [f64; 4] = [
        0.183_434_642_495_649_8,
        0.525_532_409_916_329,
        0.796_666_477_413_626_7,
        0.960_289_856_497_536_3,
    ];
    const W: [f64; 4] = [
        0.362_683_783_378_362,
        0.313_706_645_877_887_3,
        0.222_381_034_453_374_5,
        0.101_228_536_290_376_3,
    ];
    let (c, r) = (0.5 * (a + b), 0.5 * (b - a));
    let p = |t: f64| t.sin().powi(m as i32);
    r * X
        .iter()
        .zip(W)
        .map(|(&x, w)| w * (p(c - r * x) + p(c + r * x)))
        .sum::<f64>()
}

/// The inverse CDF of a spherical coordinate angle, as a fraction of pi (Nengo's
/// `ScatteredHypersphere.spherical_coords_ppf`, exact, i.e. its `sct` method): the `x` in
/// `[0, 1]` for which an angle with density proportional to `sin^(dims - 1)`, on `[0, pi]`, falls
/// below `x pi` with probability `y`.
pub fn spherical_coords_ppf(dims: usize, y: f64) -> f64 {
    let m = dims.saturating_sub(1);
    let reflect = y.min(1.0 - y).clamp(0.0, 0.5);
    let norm = sin_power_norm(m);
    let t = invert_angle_cdf(
        |t| sin_power_integral(m, t) / norm,
        |t| t.sin().powi(m as i32) / norm,
        reflect,
        0.0,
        std::f64::consts::FRAC_PI_2,
        std::f64::consts::FRAC_PI_4,
    );
    let x = t / std::f64::consts::PI;
    if y < 0.5 { x } else { 1.0 - x }
}

/// The angle CDFs of every power up to some `m`, tabulated on a grid over `[0, pi / 2]`, so
/// that inverting one costs O(1) instead of O(m) per Newton step (a transform to `d`
/// dimensions inverts the CDFs of every power below `d` for every point).
struct AngleCdfs {
    /// `cdf[m][g] = S_m(g h) / N_m`, `h = (pi / 2) / GRID`.
    cdf: Vec<Vec<f64>>,
    norms: Vec<f64>,
}

impl AngleCdfs {
    const GRID: usize = 1024;

    fn new(max_m: usize) -> Self {
        let h = std::f64::consts::FRAC_PI_2 / Self::GRID as f64;
        let norms: Vec<f64> = (0..=max_m).map(sin_power_norm).collect();
        let mut cdf = vec![vec![0.0; Self::GRID + 1]; max_m + 1];
        // Column g of every power's row: the recurrence runs across powers at one angle.
        #[allow(clippy::needless_range_loop)]
        for g in 0..=Self::GRID {
            // The recurrence gives every power at this angle in one pass.
            let t = g as f64 * h;
            let (sin, cos) = t.sin_cos();
            let (mut s0, mut s1) = (t, 2.0 * (0.5 * t).sin().powi(2));
            cdf[0][g] = s0 / norms[0];
            if max_m >= 1 {
                cdf[1][g] = s1 / norms[1];
            }
            let mut sin_pow = 1.0;
            for k in 2..=max_m {
                sin_pow *= sin;
                let s2 = (-sin_pow * cos + (k as f64 - 1.0) * s0) / k as f64;
                (s0, s1) = (s1, s2);
                cdf[k][g] = s1 / norms[k];
            }
        }
        AngleCdfs { cdf, norms }
    }

    /// `spherical_coords_ppf(dims, y)` with `dims - 1 <= max_m`: a lookup, then Newton's method
    /// on the tabulated value plus the integral from the grid point (quadrature).
    fn ppf(&self, dims: usize, y: f64) -> f64 {
        let m = dims.saturating_sub(1);
        let reflect = y.min(1.0 - y).clamp(0.0, 0.5);
        let table = &self.cdf[m];
        let h = std::f64::consts::FRAC_PI_2 / Self::GRID as f64;
        // The grid interval holding the target, and a linear first guess in it.
        let g = table.partition_point(|&f| f < reflect).clamp(1, Self::GRID);
        let (f0, f1) = (table[g - 1], table[g]);
        let frac = if f1 > f0 {
            ((reflect - f0) / (f1 - f0)).clamp(0.0, 1.0)
        } else {
            0.5
        };
        let (lo, hi) = ((g - 1) as f64 * h, g as f64 * h);
        // Within the interval the CDF is its tabulated start plus a quadrature: O(1) per
        // evaluation, where the recurrence is O(m).
        let norm = self.norms[m];
        let t = invert_angle_cdf(
            |t| f0 + sin_power_quadrature(m, lo, t) / norm,
            |t| t.sin().powi(m as i32) / norm,
            reflect,
            lo,
            hi,
            lo + frac * h,
        );
        let x = t / std::f64::consts::PI;
        if y < 0.5 { x } else { 1.0 - x }
    }
}

/// Maps points of the unit cube `[0, 1]^k` (rows of `samples`) onto the surface of the unit
/// hypersphere in `k + 1` dimensions by the spherical coordinate transform (Fang & Wang 1994,
/// section 1.5; Nengo's `ScatteredHypersphere.spherical_transform_sct`).
pub fn spherical_transform(samples: &Array2<f64>) -> Array2<f64> {
    let (n, k) = samples.dim();
    let mut out = Array2::ones((n, k + 1));
    if n == 0 || k == 0 {
        return out;
    }
    let cdfs = AngleCdfs::new(k - 1);
    for (row, mut o) in samples.rows().into_iter().zip(out.rows_mut()) {
        let mut prod = 1.0;
        for j in 0..k {
            let x = cdfs.ppf(k - j, row[j]);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadrature_matches_the_recurrence() {
        for m in [0, 1, 2, 7, 64, 511] {
            for (a, b) in [(0.0, 0.001), (0.3, 0.3015), (1.2, 1.2015), (1.5691, 1.5706)] {
                let exact = sin_power_integral(m, b) - sin_power_integral(m, a);
                let q = sin_power_quadrature(m, a, b);
                assert!(
                    (q - exact).abs() < 1e-15,
                    "m {m}, [{a}, {b}]: {q} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn tabulated_angle_ppf_equals_the_direct_one() {
        let cdfs = AngleCdfs::new(299);
        for dims in [1, 2, 3, 5, 17, 64, 300] {
            for y in [0.0, 1e-9, 1e-4, 0.01, 0.2, 0.4999, 0.5, 0.73, 0.999, 1.0] {
                let (a, b) = (cdfs.ppf(dims, y), spherical_coords_ppf(dims, y));
                // Both are exact to the recurrence's absolute error (about 1e-16 of the CDF),
                // which far in the tail (y 1e-9) is 1e-10 of the angle.
                let tol = if y.min(1.0 - y) < 1e-6 { 1e-9 } else { 1e-12 };
                assert!((a - b).abs() < tol, "dims {dims}, y {y}: {a} vs {b}");
            }
        }
    }
}
