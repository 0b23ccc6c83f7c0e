// sum_j x[x0 + j] for j in 0..n, in j order like the CPU (twin: backend::cpu::all_but_self_inc).
// Reads through `abs_x(i)`, which the including kernel defines.
fn sum_all(x0: u32, n: u32) -> f32 {
    var total = 0.0;
    for (var j = 0u; j < n; j = j + 1u) {
        total = total + abs_x(x0 + j);
    }
    return total;
}
