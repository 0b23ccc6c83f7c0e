// Per-element maths of the element-wise ops, shared by their per-op kernels and by the fused
// interpreter (shaders/fused_steps.wgsl). Twins: the functions of the same op names in
// backend::cpu.

// add_inc: y + x.
fn add_inc_one(y: f32, x: f32) -> f32 {
    return y + x;
}

// scale_inc: y + s * x.
fn scale_inc_one(y: f32, s: f32, x: f32) -> f32 {
    return y + s * x;
}

// lowpass: a*y + (1 - a)*x.
fn lowpass_one(a: f32, y: f32, x: f32) -> f32 {
    return a * y + (1.0 - a) * x;
}

// alpha: returns (new y, new z): y = a*y + c1*z + c2*x; z = a*z + (1-a)*x (y uses the old z).
fn alpha_one(a: f32, c1: f32, c2: f32, x: f32, z: f32, y: f32) -> vec2<f32> {
    return vec2<f32>(a * y + c1 * z + c2 * x, a * z + (1.0 - a) * x);
}

// trace: x * decay, then at a spike 1 (nearest) or + 1 (all-to-all).
fn trace_one(x: f32, spike: f32, decay: f32, nearest: bool) -> f32 {
    let d = x * decay;
    if (spike == 0.0) {
        return d;
    } else if (nearest) {
        return 1.0;
    }
    return d + 1.0;
}
