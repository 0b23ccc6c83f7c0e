// Scales the row w[w0 + c * w_step], c < cols (w_step 1 row-major, the row count
// presynaptic-major) to sum to row_sum (rows summing to <= 0 are left alone);
// the sum in column order like the CPU (twin: backend::cpu::normalize_rows). Reads and writes
// through `nr_w(i)` and `nr_set_w(i, v)`, which the including kernel defines.
fn normalize_row(w0: u32, w_step: u32, cols: u32, row_sum: f32) {
    var sum = 0.0;
    for (var c = 0u; c < cols; c = c + 1u) {
        sum = sum + nr_w(w0 + c * w_step);
    }
    if (sum > 0.0) {
        let factor = row_sum / sum;
        for (var c = 0u; c < cols; c = c + 1u) {
            nr_set_w(w0 + c * w_step, nr_w(w0 + c * w_step) * factor);
        }
    }
}
