// The ring sample that step k of the chunk records into for a probe, or NO_SAMPLE where it
// records nothing. The probe's table in ctrl, from word `table`, holds per 32 steps of the
// chunk two words: bit k % 32 set where step k records, and the samples recorded before those
// 32 steps. Needs `ctrl`. Twin: backend::gpu::sample_table (from compile::Sampling::records,
// the CPU backend's rule).
const NO_SAMPLE: u32 = 0xffffffffu;

fn probe_sample(table: u32, k: u32) -> u32 {
    let w = table + 2u * (k / 32u);
    let bit = 1u << (k % 32u);
    let bits = ctrl[w];
    if ((bits & bit) == 0u) {
        return NO_SAMPLE;
    }
    return ctrl[w + 1u] + countOneBits(bits & (bit - 1u));
}
