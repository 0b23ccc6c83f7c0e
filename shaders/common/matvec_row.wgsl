// One row of a dense matrix times a vector: sum_c m[m0 + c * m_step] * x[x0 + c] in column order
// (m_step 1 for a row-major matrix, its row count for a presynaptic-major one),
// skipping x == 0 like the CPU (twin: backend::cpu::matvec_inc). Reads through `mv_m(i)` and
// `mv_x(i)`, which the including kernel defines over its own bindings.
fn matvec_row(m0: u32, m_step: u32, x0: u32, cols: u32) -> f32 {
    var acc = 0.0;
    for (var c = 0u; c < cols; c = c + 1u) {
        let xv = mv_x(x0 + c);
        if (xv != 0.0) {
            acc = acc + mv_m(m0 + c * m_step) * xv;
        }
    }
    return acc;
}
