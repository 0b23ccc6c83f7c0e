// advance_step: ends a timestep by incrementing the step-within-chunk counter ctrl[0].
// One invocation. (The CPU backend keeps the counter in a loop variable.)
@group(0) @binding(0) var<storage, read_write> ctrl: array<u32>;

@compute @workgroup_size(1)
fn main() {
    ctrl[0] = ctrl[0] + 1u;
}
