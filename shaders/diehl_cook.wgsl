//!include common/index.wgsl
//!include common/dc_one.wgsl
// diehl_cook: Diehl & Cook conductance-based neuron with adaptive threshold, one step.
// Twin: backend::cpu::diehl_cook (and dc_one). Params: total, then backend::cpu::DcConsts::values(),
// then padding (checked in tests/shader_layout.rs).
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
    gate_steps: f32,
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

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let c = DcConsts(p.dt, p.v_rest, p.v_reset, p.v_thresh, p.e_exc, p.e_inh, p.dt_over_tau,
        p.decay_ge, p.decay_gi, p.k_theta, p.theta_plus, p.theta_offset, p.ref_steps,
        p.gate_steps);
    let r = dc_one(c, learn[0], v[i], ge[i], gi[i], theta[i], theta_decay[i], refr[i], ge_in[i], gi_in[i]);
    ge_in[i] = 0.0;
    gi_in[i] = 0.0;
    out[i] = r.out;
    v[i] = r.v;
    ge[i] = r.ge;
    gi[i] = r.gi;
    theta[i] = r.theta;
    theta_decay[i] = r.theta_decay;
    refr[i] = r.refr;
}
