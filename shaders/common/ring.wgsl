//!include common/philox.wgsl
// Ring buffers of future input (delays): the slot of global step + delay in a ring of `slots`
// steps, from the step counter in ctrl (see `global_step`). Needs slots <= 65536 (the 64-bit
// step is reduced with 32-bit products). Twin: backend::cpu::ring_slot.
fn ring_slot(ctrl0: u32, first_lo: u32, first_hi: u32, delay: u32, slots: u32) -> u32 {
    let s = global_step(ctrl0, first_lo, first_hi);
    let two32 = (0xFFFFFFFFu % slots + 1u) % slots; // 2^32 mod slots
    let step_mod = ((s.y % slots) * two32 % slots + s.x % slots) % slots;
    return (step_mod + delay) % slots;
}

// Where a pre_history ring (per instance, from `hb`: [slot][pre, r1, r2][col] for `slots`
// slots of `cols` columns) holds what column c emitted `d` steps before ring slot `now`: its
// pre value (spike: non-zero); the pre traces stored with it follow at + cols and + 2 cols.
// Twin: backend::cpu::lag_slot.
fn arrival_at(hb: u32, now: u32, d: u32, slots: u32, cols: u32, c: u32) -> u32 {
    return hb + ((now + slots - d) % slots) * 3u * cols + c;
}
