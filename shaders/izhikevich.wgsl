//!include common/index.wgsl
// izhikevich: Nengo's Izhikevich step (equations in ms). Twin: backend::cpu::izhikevich.
struct Params { total: u32, dt: f32, a: f32, b: f32, c: f32, d: f32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> j: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> u: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.total) { return; }
    let ji = max(j[i], -30.0);
    var vi = v[i];
    var ui = u[i];
    let dv = (0.04 * vi * vi + 5.0 * vi + 140.0 - ui + ji) * 1000.0;
    vi = vi + dv * p.dt;
    let spiked = vi >= 30.0;
    out[i] = select(0.0, 1.0 / p.dt, spiked);
    if (spiked) {
        vi = p.c;
    }
    let du = (p.a * (p.b * vi - ui)) * 1000.0;
    ui = ui + du * p.dt;
    if (spiked) {
        ui = ui + p.d;
    }
    v[i] = vi;
    u[i] = ui;
}
