//!include common/stdp_synapse.wgsl
// One post row of a dense STDP update (twin: backend::cpu::stdp): each column j where the pre or
// the post neuron spiked gets stdp_synapse. Weights at w0 + j * w_step (w_step 1 row-major, the
// row count presynaptic-major); pre spikes and pre traces at
// pre0 + j, r10 + j, r20 + j. Reads and writes through `st_pre`, `st_r1`, `st_r2`, `st_w`,
// `st_set_w`, which the including kernel defines.
fn stdp_row(q: StdpRule, w0: u32, w_step: u32, pre0: u32, r10: u32, r20: u32, cols: u32, post_spike: bool, o1: f32, o2: f32, l: f32) {
    for (var j = 0u; j < cols; j = j + 1u) {
        let pre_spike = st_pre(pre0 + j) != 0.0;
        if (!pre_spike && !post_spike) { continue; }
        st_set_w(w0 + j * w_step, stdp_synapse(q, st_w(w0 + j * w_step), pre_spike, post_spike, st_r1(r10 + j), st_r2(r20 + j), o1, o2, l));
    }
}
