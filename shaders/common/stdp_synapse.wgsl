// One synapse's STDP update, shared by stdp.wgsl and stdp_sparse.wgsl. Reads the rule from the
// including kernel's uniform `p` (fields flags, decay_r1, decay_r2, a2_plus, a3_plus, a2_minus,
// a3_minus, w_min, w_max). Twin: backend::cpu::stdp_synapse.
fn stdp_synapse(w0: f32, pre_spike: bool, post_spike: bool, r1_stored: f32, r2_stored: f32, o1: f32, o2: f32, l: f32) -> f32 {
    var wv = w0;
    let r1d = r1_stored * p.decay_r1;
    let mult = (p.flags & 2u) != 0u;
    if (pre_spike) {
        let r2 = r2_stored * p.decay_r2;
        var dw = -o1 * (p.a2_minus + p.a3_minus * r2);
        if (mult) {
            dw = dw * (wv - p.w_min);
        }
        wv = clamp(wv + l * dw, p.w_min, p.w_max);
    }
    if (post_spike) {
        var r1 = r1d;
        if (pre_spike) {
            if ((p.flags & 1u) != 0u) {
                r1 = 1.0;
            } else {
                r1 = r1d + 1.0;
            }
        }
        var dw = r1 * (p.a2_plus + p.a3_plus * o2);
        if (mult) {
            dw = dw * (p.w_max - wv);
        }
        wv = clamp(wv + l * dw, p.w_min, p.w_max);
    }
    return wv;
}
