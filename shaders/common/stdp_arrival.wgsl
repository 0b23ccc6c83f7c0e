//!include common/stdp_synapse.wgsl
// STDP at arrival on one synapse (twin: backend::cpu::stdp_delayed): `h` is where the
// pre_history ring holds the pre value that arrives now at the synapse (see `arrival_at`), its
// pre traces at h + cols and h + 2 cols; the weight is at `w_i`. Shared by stdp_delayed.wgsl,
// stdp_sparse_delayed.wgsl and fused_steps.wgsl, which define `ar_hist`, `st_w` and `st_set_w`.
fn stdp_at_arrival(q: StdpRule, w_i: u32, h: u32, cols: u32, post_spike: bool, o1: f32, o2: f32, l: f32) {
    let pre_spike = ar_hist(h) != 0.0;
    if (!pre_spike && !post_spike) { return; }
    st_set_w(w_i, stdp_synapse(q, st_w(w_i), pre_spike, post_spike, ar_hist(h + cols), ar_hist(h + 2u * cols), o1, o2, l));
}
