// One column of pre_history (twin: backend::cpu::pre_history): stores the column's pre output
// `x` (spikes: non-zero) and pre traces `r1`, `r2` into ring slot `slot` of the ring at `hb`
// ([slot][pre, r1, r2][col], then per column its spike count in the ring and the slot of its
// latest spike), updating the count (the step `slots` ago leaves the ring, this one enters).
// Shared by pre_history.wgsl and fused_steps.wgsl, which define `ar_hist` and `ar_set_hist`.
fn pre_history_one(hb: u32, slot: u32, slots: u32, cols: u32, j: u32, x: f32, r1: f32, r2: f32) {
    let h = hb + slot * 3u * cols + j;
    let c = hb + 3u * cols * slots + j;
    // An output emits unless it is 0 or subnormal (abs below the smallest normal f32), which
    // gives the same answer whether or not the device flushes subnormals; what does not emit
    // is stored as 0, so the ring and its counts agree however they are read.
    let emits = !(abs(x) < 1.17549435e-38);
    ar_set_hist(c, ar_hist(c) + select(0.0, 1.0, emits) - select(0.0, 1.0, ar_hist(h) != 0.0));
    if (emits) {
        ar_set_hist(c + cols, f32(slot)); // the slot of the column's latest spike
    }
    ar_set_hist(h, select(0.0, x, emits));
    ar_set_hist(h + cols, r1);
    ar_set_hist(h + 2u * cols, r2);
}
