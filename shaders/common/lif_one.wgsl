// One LIF neuron for one step (Nengo's semantics); needs a `p: LifParams` uniform in scope.
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

fn lif_one(j: f32, v0: f32, refr0: f32) -> vec3<f32> {
    let refr = refr0 - p.dt;
    let delta_t = clamp(p.dt - refr, 0.0, p.dt);
    var v = v0 - (j - v0) * expm1_(-delta_t / p.tau_rc);
    if (v > 1.0) {
        let t_spike = p.dt + p.tau_rc * log1p_(-(v - 1.0) / (j - 1.0));
        return vec3<f32>(p.amplitude / p.dt, 0.0, p.tau_ref + t_spike);
    }
    if (v < p.min_voltage) {
        v = p.min_voltage;
    }
    return vec3<f32>(0.0, v, refr);
}
