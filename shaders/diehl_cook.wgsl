//!include common/index.wgsl
// diehl_cook: Diehl & Cook conductance-based neuron with adaptive threshold, one step.
// Twin: backend::cpu::diehl_cook (and dc_one). Twin struct: kernels::DcParams.
struct Params {
    total: u32,
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
    _p0: u32,
    _p1: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> learn: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> ge: array<f32>;
@group(0) @binding(5) var<storage, read_write> gi: array<f32>;
@group(0) @binding(6) var<storage, read_write> theta: array<f32>;
@group(0) @binding(7) var<storage, read_write> theta_decay: array<f32>;
@group(0) @binding(8) var<storage, read_write> refr: array<f32>;
@group(0) @binding(9) var<storage, read_write> ge_in: array<f32>;
@group(0) @binding(10) var<storage, read_write> gi_in: array<f32>;

// Twin: backend::cpu::THETA_FOLD (theta's decay is accumulated, then folded in).
const THETA_FOLD: f32 = 0.0009765625;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let l = learn[0];
    var gei = ge[i] + ge_in[i];
    var gii = gi[i] + gi_in[i];
    ge_in[i] = 0.0;
    gi_in[i] = 0.0;
    var rf = refr[i];
    var vi = v[i];
    let refractory = rf > 0.5;
    if (refractory) {
        rf = rf - 1.0;
    } else {
        let g = 1.0 + gei + gii;
        let v_inf = (p.v_rest + gei * p.e_exc + gii * p.e_inh) / g;
        vi = v_inf + (vi - v_inf) * exp(-p.dt_over_tau * g);
    }
    gei = gei * p.decay_ge;
    gii = gii * p.decay_gi;
    var th = theta[i];
    var acc = theta_decay[i];
    if (l != 0.0) {
        acc = acc + (th - acc) * p.k_theta;
        if (acc >= THETA_FOLD) {
            th = th - acc;
            acc = 0.0;
        }
    }
    let spike = !refractory && vi > p.v_thresh + (th - acc) - p.theta_offset;
    var o = 0.0;
    if (spike) {
        vi = p.v_reset;
        rf = p.ref_steps;
        if (l != 0.0) {
            th = th + p.theta_plus;
        }
        o = 1.0 / p.dt;
    }
    out[i] = o;
    v[i] = vi;
    ge[i] = gei;
    gi[i] = gii;
    theta[i] = th;
    theta_decay[i] = acc;
    refr[i] = rf;
}
