// One synapse's STDP update, shared by stdp.wgsl, stdp_sparse.wgsl and fused_steps.wgsl.
// Twin: backend::cpu::stdp_synapse.
struct StdpRule {
    flags: u32, // bit 0 nearest, bit 1 multiplicative
    decay_r1: f32,
    decay_r2: f32,
    a2_plus: f32,
    a3_plus: f32,
    a2_minus: f32,
    a3_minus: f32,
    w_min: f32,
    w_max: f32,
}

fn stdp_synapse(q: StdpRule, w0: f32, pre_spike: bool, post_spike: bool, r1_stored: f32, r2_stored: f32, o1: f32, o2: f32, l: f32) -> f32 {
    var wv = w0;
    let r1d = r1_stored * q.decay_r1;
    let mult = (q.flags & 2u) != 0u;
    if (pre_spike) {
        let r2 = r2_stored * q.decay_r2;
        var dw = -o1 * (q.a2_minus + q.a3_minus * r2);
        if (mult) {
            dw = dw * (wv - q.w_min);
        }
        wv = clamp(wv + l * dw, q.w_min, q.w_max);
    }
    if (post_spike) {
        var r1 = r1d;
        if (pre_spike) {
            if ((q.flags & 1u) != 0u) {
                r1 = 1.0;
            } else {
                r1 = r1d + 1.0;
            }
        }
        var dw = r1 * (q.a2_plus + q.a3_plus * o2);
        if (mult) {
            dw = dw * (q.w_max - wv);
        }
        wv = clamp(wv + l * dw, q.w_min, q.w_max);
    }
    return wv;
}
