// One LIF neuron for one step (Nengo's semantics), with the parameters `q` passed in (the
// per-op kernels pass their uniform `p`, the fused interpreter the op's descriptor).
// Twin: backend::cpu::lif_one. Returns (output, voltage, refractory_time).
// Twin struct: backend::gpu::kernels::LifParams.
struct LifParams {
    total: u32,
    dt: f32,
    tau_rc: f32,
    tau_ref: f32,
    min_voltage: f32,
    amplitude: f32,
    tau_n: f32,
    inc_n: f32,
}

fn lif_one(q: LifParams, j: f32, v0: f32, refr0: f32) -> vec3<f32> {
    let refr = refr0 - q.dt;
    let delta_t = clamp(q.dt - refr, 0.0, q.dt);
    var v = v0 - (j - v0) * expm1_(-delta_t / q.tau_rc);
    if (v > 1.0) {
        let t_spike = q.dt + q.tau_rc * log1p_(-(v - 1.0) / (j - 1.0));
        return vec3<f32>(q.amplitude / q.dt, 0.0, q.tau_ref + t_spike);
    }
    if (v < q.min_voltage) {
        v = q.min_voltage;
    }
    return vec3<f32>(0.0, v, refr);
}

// LIF rate: amplitude / (tau_ref + tau_rc * log1p(1 / (J - 1))) for J > 1, else 0.
// Twin: backend::cpu::lif_rate.
fn lif_rate_one(q: LifParams, j: f32) -> f32 {
    var o = 0.0;
    if (j > 1.0) {
        o = q.amplitude / (q.tau_ref + q.tau_rc * log1p_(1.0 / (j - 1.0)));
    }
    return o;
}

// Adaptive LIF's adaptation state after a step with output `out`: n += dt/tau_n * (inc_n * out - n).
// Twin: backend::cpu::adaptive_lif.
fn adaptive_n_one(q: LifParams, n: f32, out: f32) -> f32 {
    return n + (q.dt / q.tau_n) * (q.inc_n * out - n);
}
