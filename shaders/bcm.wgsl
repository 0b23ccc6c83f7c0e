//!include common/index.wgsl
// bcm: Nengo's BCM weight change,
// delta[b, i, j] = (alpha * post[b, i] * (post[b, i] - theta[b, i])) * pre[b, j]
// with alpha = learning_rate * dt; 0 while the learning switch is off. One invocation per weight (instance, row, column): each delta
// element is written by exactly one invocation.
// Twin: backend::cpu::bcm. Twin struct: kernels::LearnParams.
struct Params { total: u32, rows: u32, cols: u32, alpha: f32, beta: f32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pre: array<f32>;
@group(0) @binding(2) var<storage, read> post: array<f32>;
@group(0) @binding(3) var<storage, read> theta: array<f32>;
@group(0) @binding(4) var<storage, read> learn: array<f32>;
@group(0) @binding(5) var<storage, read_write> delta: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let k = flat_index(gid, nwg);
    if (k >= p.total) { return; }
    if (learn[0] == 0.0) {
        delta[k] = 0.0;
        return;
    }
    let per = p.rows * p.cols;
    let b = k / per;
    let r = k - b * per;
    let i = r / p.cols;
    let j = r - i * p.cols;
    let po = post[b * p.rows + i];
    let row = p.alpha * po * (po - theta[b * p.rows + i]);
    delta[k] = row * pre[b * p.cols + j];
}
