// Shared maths for volley kernels. WGSL has no expm1/log1p; these are accurate versions
// (Kahan's tricks) so that kernels agree with the CPU reference (Rust's exp_m1/ln_1p) to a few ulp.

fn expm1_(x: f32) -> f32 {
    let u = exp(x);
    if (u == 1.0) {
        return x;
    }
    let um1 = u - 1.0;
    if (um1 == -1.0) {
        return -1.0;
    }
    return um1 * x / log(u);
}

fn log1p_(x: f32) -> f32 {
    let u = 1.0 + x;
    if (u == 1.0) {
        return x;
    }
    return log(u) * x / (u - 1.0);
}
