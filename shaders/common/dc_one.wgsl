// One Diehl & Cook neuron (conductance-based, adaptive threshold) for one step, shared by
// diehl_cook.wgsl and fused_steps.wgsl. Twin: backend::cpu::diehl_cook (and dc_one);
// the constants are backend::cpu::DcConsts.
struct DcConsts {
    dt: f32,
    v_rest: f32,
    v_reset: f32,
    v_thresh: f32,
    e_exc: f32,
    e_inh: f32,
    dt_over_tau: f32,
    decay_ge: f32,
    decay_gi: f32,
    k_theta: f32,
    theta_plus: f32,
    theta_offset: f32,
    ref_steps: f32,
    gate_steps: f32,
}

// The state of one neuron (and its output) after a step.
struct DcState {
    out: f32,
    v: f32,
    ge: f32,
    gi: f32,
    theta: f32,
    theta_decay: f32,
    refr: f32,
}

// Twin: backend::cpu::THETA_FOLD (theta's decay is accumulated, then folded in).
const THETA_FOLD: f32 = 0.0009765625;

// `l` is the learning switch; ge_in and gi_in are the conductance input of this step (which the
// caller then clears).
fn dc_one(c: DcConsts, l: f32, v0: f32, ge0: f32, gi0: f32, theta0: f32, acc0: f32, refr0: f32, ge_in: f32, gi_in: f32) -> DcState {
    var gei = ge0 + ge_in;
    var gii = gi0 + gi_in;
    var rf = refr0;
    var vi = v0;
    // One counter for the refractory period (voltage held) and the spike gate (threshold not
    // tested): see backend::cpu::diehl_cook.
    let gated = rf > 0.5;
    let held = rf > c.gate_steps - c.ref_steps + 0.5;
    if (gated) {
        rf = rf - 1.0;
    }
    if (!held) {
        let g = 1.0 + gei + gii;
        let v_inf = (c.v_rest + gei * c.e_exc + gii * c.e_inh) / g;
        vi = v_inf + (vi - v_inf) * exp(-c.dt_over_tau * g);
    }
    gei = gei * c.decay_ge;
    gii = gii * c.decay_gi;
    var th = theta0;
    var acc = acc0;
    if (l != 0.0) {
        acc = acc + (th - acc) * c.k_theta;
        if (acc >= THETA_FOLD) {
            th = th - acc;
            acc = 0.0;
        }
    }
    let spike = !gated && vi > c.v_thresh + (th - acc) - c.theta_offset;
    var o = 0.0;
    if (spike) {
        vi = c.v_reset;
        rf = c.gate_steps;
        if (l != 0.0) {
            th = th + c.theta_plus;
        }
        o = 1.0 / c.dt;
    }
    return DcState(o, vi, gei, gii, th, acc, rf);
}
