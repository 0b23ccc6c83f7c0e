//! The fused path: a whole chunk of timesteps in one dispatch of the step interpreter
//! `shaders/fused_steps.wgsl`, one workgroup per instance. This file turns a Plan's ops into the
//! interpreter's op descriptors and says which plans the interpreter can take.

use super::kernels::f;
use crate::compile::{BufId, Op, Plan};
use crate::model::NeuronType;

/// Words per op descriptor; twin: `OP_WORDS` in `shaders/fused_steps.wgsl`.
pub(crate) const OP_WORDS: usize = 64;
/// Buffer slots per descriptor.
const SLOTS: usize = 12;
/// Invocations per workgroup of the interpreter unless `fused::workgroup_size` chooses a wider one
/// (or a width is requested: 32 to 1024); twin: `FUSED_WG` in `shaders/fused_steps.wgsl`, which
/// `fused::with_workgroup_size` replaces.
pub const FUSED_WG: u32 = 256;
/// The most invocations per workgroup the interpreter asks for.
const FUSED_WG_MAX: u32 = 1024;
/// Batches up to this size get workgroups as wide as their largest population (see
/// [`workgroup_size`]).
const WIDE_BATCH_MAX: usize = 256;
/// Environment variable that sets the interpreter's invocations per workgroup (a power of two
/// from 32 to the adapter's limit), for measurements; unset: [`workgroup_size`] chooses.
pub const WG_ENV: &str = "VOLLEY_FUSED_WG";
/// Storage buffers the interpreter binds (ops, ctrl, host values, arena, probe rings).
pub(crate) const STORAGE_BINDINGS: u32 = 5;

/// Op codes; twins: the `OP_*` constants in `shaders/fused_steps.wgsl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
enum Code {
    Zero = 1,
    Broadcast = 2,
    HostInput = 3,
    Poisson = 4,
    UniformNoise = 5,
    AddInc = 6,
    ScaleInc = 7,
    MatVecInc = 8,
    AllButSelfInc = 9,
    Stdp = 10,
    Trace = 11,
    Lif = 12,
    LifRate = 13,
    AdaptiveLif = 14,
    DiehlCook = 15,
    Lowpass = 16,
    Alpha = 17,
    Probe = 18,
    NormalizeRows = 19,
    PreHistory = 20,
    ArrivalMatVecInc = 21,
    StdpDelayed = 22,
    DelayedMatVecInc = 23,
    DelayWrite = 24,
    DelayRead = 25,
}

impl Code {
    const ALL: [Code; 25] = [
        Code::Zero,
        Code::Broadcast,
        Code::HostInput,
        Code::Poisson,
        Code::UniformNoise,
        Code::AddInc,
        Code::ScaleInc,
        Code::MatVecInc,
        Code::AllButSelfInc,
        Code::Stdp,
        Code::Trace,
        Code::Lif,
        Code::LifRate,
        Code::AdaptiveLif,
        Code::DiehlCook,
        Code::Lowpass,
        Code::Alpha,
        Code::Probe,
        Code::NormalizeRows,
        Code::PreHistory,
        Code::ArrivalMatVecInc,
        Code::StdpDelayed,
        Code::DelayedMatVecInc,
        Code::DelayWrite,
        Code::DelayRead,
    ];

    /// Whether the op reads a workgroup spike mask (twin: `uses_mask` in the shader).
    fn uses_mask(code: u32) -> bool {
        [
            Code::MatVecInc,
            Code::Stdp,
            Code::AllButSelfInc,
            Code::ArrivalMatVecInc,
            Code::StdpDelayed,
            Code::DelayedMatVecInc,
        ]
        .iter()
        .any(|c| *c as u32 == code)
    }

    /// The name `VOLLEY_FUSED_SKIP` uses: the op's name in snake case.
    fn name(self) -> String {
        let debug = format!("{self:?}");
        let mut name = String::new();
        for (i, c) in debug.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
        }
        name
    }
}

/// Invocations per workgroup for `plan`. An instance's elements are spread over the invocations
/// of its workgroup, each taking every `wg`-th element (or row) in turn, so the longest serial
/// chain per step is ceil(n / wg) elements. The costly loops are per neuron (neuron updates and
/// the rows of matvec, STDP and normalisation), so with one or a few instances (training) the
/// workgroup is as wide as the largest population (a power of two, 256 to 1024 within the
/// adapter's limits): on an H200, D&C training at 400 / 1600 / 6400 neurons went from 34.3 /
/// 14.1 / 4.78 images/s with 256 to 41.5 (512) / 21.2 / 7.69 (1024), while 100 neurons ran 7 %
/// slower at 1024 than at 256 (BENCHMARKS.md). With
/// many instances (batched evaluation) the GPU is full anyway and 256 keeps more workgroups
/// resident; software adapters keep 256. Results do not depend on the width: every element and
/// every row's sum is computed by one invocation, in the same order.
pub(crate) fn workgroup_size(
    plan: &Plan,
    limits: &wgpu::Limits,
    software: bool,
    requested: Option<u32>,
) -> crate::Result<u32> {
    let limit = limits
        .max_compute_invocations_per_workgroup
        .min(limits.max_compute_workgroup_size_x);
    let check = |what: String, v: Option<u32>| match v {
        Some(wg) if wg.is_power_of_two() && (32..=limit).contains(&wg) => Ok(wg),
        _ => Err(crate::Error::Other(format!(
            "{what}: allowed: a power of two from 32 to {limit} (this adapter's limit)"
        ))),
    };
    if let Some(wg) = requested {
        return check(format!("fused workgroup width {wg}"), Some(wg));
    }
    if let Ok(v) = std::env::var(WG_ENV) {
        return check(format!("{WG_ENV}={v:?}"), v.trim().parse::<u32>().ok());
    }
    if software || plan.batch > WIDE_BATCH_MAX {
        return Ok(FUSED_WG);
    }
    let largest = plan
        .step
        .iter()
        .chain(&plan.boundary)
        .map(|op| match op {
            Op::MatVecInc { rows, .. }
            | Op::Stdp { rows, .. }
            | Op::NormalizeRows { rows, .. }
            | Op::ArrivalMatVecInc { rows, .. }
            | Op::StdpDelayed { rows, .. }
            | Op::DelayedMatVecInc { rows, .. } => *rows,
            Op::Neurons { n, .. } => *n,
            _ => 0,
        })
        .max()
        .unwrap_or(0) as u32;
    let cap = FUSED_WG_MAX.min(limit).max(FUSED_WG);
    Ok(largest.next_power_of_two().clamp(FUSED_WG, cap))
}

/// The interpreter's source with `wg` invocations per workgroup.
pub(crate) fn with_workgroup_size(src: &str, wg: u32) -> String {
    const DECL: &str = "const FUSED_WG: u32 = 256u;";
    assert!(src.contains(DECL), "fused_steps.wgsl declares FUSED_WG");
    src.replace(DECL, &format!("const FUSED_WG: u32 = {wg}u;"))
}

/// Environment variable for profiling the interpreter: a comma-separated list of op names
/// (`poisson`, `mat_vec_inc`, `stdp`, `diehl_cook`, ...; `masks` for the spike-mask builds)
/// whose work every step skips. Results are wrong; only timings mean something (BENCHMARKS.md's
/// time per phase comes from it).
pub const SKIP_ENV: &str = "VOLLEY_FUSED_SKIP";

/// The skip bits of [`SKIP_ENV`] (0 when unset).
pub(crate) fn skip_from_env() -> crate::Result<u32> {
    let Ok(list) = std::env::var(SKIP_ENV) else {
        return Ok(0);
    };
    let mut bits = 0u32;
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if item == "masks" {
            bits |= 1;
            continue;
        }
        match Code::ALL.iter().find(|c| c.name() == item) {
            Some(c) => bits |= 1 << (*c as u32),
            None => {
                let names: Vec<String> = Code::ALL.iter().map(|c| c.name()).collect();
                return Err(crate::Error::Other(format!(
                    "{SKIP_ENV}: no op named {item:?}; allowed: masks, {}",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(bits)
}

/// Where things live for the interpreter: each plan buffer's offset in the arena, each host
/// slot's offset in the packed host-values buffer, each probe's offset in the packed rings
/// (all in f32 elements).
pub(crate) struct Layout<'a> {
    pub plan: &'a Plan,
    /// Each buffer's (rows, cols) where the arena holds it presynaptic-major (column c of row r
    /// at c * rows + r, per instance), else None (see `GpuBackend`'s `t_shape`).
    pub t_shape: &'a [Option<(usize, usize)>],
    pub arena: &'a [u64],
    pub host: &'a [u64],
    pub rings: &'a [u64],
    /// The most steps of a chunk (sets where each probe's sample table lies in ctrl).
    pub max_chunk: usize,
}

/// One descriptor being filled in.
struct Desc {
    words: [u32; OP_WORDS],
    /// The buffers of the slots filled so far.
    bufs: Vec<BufId>,
    n_u32: usize,
    n_f32: usize,
}

impl Desc {
    fn new(code: Code, n: usize) -> Self {
        let mut words = [0; OP_WORDS];
        words[0] = code as u32;
        words[1] = n as u32;
        Desc {
            words,
            bufs: Vec::new(),
            n_u32: 0,
            n_f32: 0,
        }
    }
    fn u(mut self, x: u32) -> Self {
        assert!(self.n_u32 < 6, "too many u32 parameters");
        self.words[2 + self.n_u32] = x;
        self.n_u32 += 1;
        self
    }
    fn f(mut self, x: f32) -> Self {
        assert!(self.n_f32 < 32, "too many f32 parameters");
        self.words[32 + self.n_f32] = f(x);
        self.n_f32 += 1;
        self
    }
}

/// Why the interpreter cannot run `op`, if it cannot (it supports the ops listed in [`Code`],
/// writing only batched buffers).
pub(crate) fn unsupported(plan: &Plan, op: &Op) -> Option<String> {
    let written = match written(op) {
        Ok(w) => w,
        Err(why) => return Some(why),
    };
    if let Some(b) = written.iter().find(|b| !plan.buffer(**b).batched()) {
        return Some(format!(
            "op {} writes the shared buffer {}",
            op.name(),
            plan.buffer(*b).name
        ));
    }
    None
}

/// The buffers `op` writes, or why the interpreter cannot run it.
fn written(op: &Op) -> std::result::Result<Vec<BufId>, String> {
    Ok(match op {
        Op::Zero { dst } | Op::Broadcast { dst, .. } | Op::HostInput { dst, .. } => vec![*dst],
        Op::PoissonSpikes { out, .. } | Op::UniformNoise { out, .. } => vec![*out],
        Op::AddInc { y, .. }
        | Op::ScaleInc { y, .. }
        | Op::MatVecInc { y, .. }
        | Op::AllButSelfInc { y, .. }
        | Op::Lowpass { y, .. } => vec![*y],
        Op::Alpha { z, y, .. } => vec![*z, *y],
        Op::Stdp { w, .. } | Op::NormalizeRows { w, .. } | Op::StdpDelayed { w, .. } => vec![*w],
        Op::PreHistory { hist, .. } => vec![*hist],
        Op::ArrivalMatVecInc { y, .. } => vec![*y],
        Op::DelayedMatVecInc { ring, .. } | Op::DelayWrite { ring, .. } => vec![*ring],
        Op::DelayRead { ring, y, .. } => vec![*ring, *y],
        Op::Trace { x, .. } => vec![*x],
        Op::Probe { .. } => vec![],
        Op::Neurons {
            neuron, out, state, ..
        } => match neuron {
            NeuronType::Lif(_)
            | NeuronType::LifRate(_)
            | NeuronType::AdaptiveLif { .. }
            | NeuronType::DiehlCook(_) => {
                let mut w = vec![*out];
                w.extend(state.iter().copied());
                w
            }
            _ => return Err(format!("neuron type {}", op.name())),
        },
        _ => return Err(format!("op {}", op.name())),
    })
}

/// Set in a descriptor's code word when a storage + workgroup barrier must come before the op;
/// twin: `BARRIER_BEFORE` in `shaders/fused_steps.wgsl`.
const BARRIER_BEFORE: u32 = 1 << 16;

/// The descriptors of a run of ops executed in order every step (the step ops, or the boundary
/// ops), with a barrier before an op only where it must wait for an earlier op: where it reads
/// or writes a buffer that an op since the last barrier writes, or writes one that such an op
/// reads (ops in one phase touch disjoint data or only read the same data, so their elements
/// may run in any order). The first op always waits (for the previous step's last phase), and
/// so does every op that uses a workgroup spike mask (its preparation clears the mask that the
/// previous mask op read).
pub(crate) fn descriptors(l: &Layout, ops: &[Op]) -> Vec<u32> {
    let mut words = Vec::with_capacity(ops.len() * OP_WORDS);
    let mut phase_touched: Vec<BufId> = Vec::new();
    let mut phase_written: Vec<BufId> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let (mut d, touched) = descriptor(l, op);
        let wr = written(op).expect("checked by `unsupported`");
        let uses_mask = Code::uses_mask(d[0]);
        let hazard = touched.iter().any(|b| phase_written.contains(b))
            || wr.iter().any(|b| phase_touched.contains(b));
        if i == 0 || uses_mask || hazard {
            d[0] |= BARRIER_BEFORE;
            phase_touched.clear();
            phase_written.clear();
        }
        phase_touched.extend(touched);
        phase_written.extend(wr);
        words.extend_from_slice(&d);
    }
    words
}

/// Whether [`super::GpuPath::Auto`] may choose the interpreter for `plan` (on a hardware
/// adapter): only plans without probe and host-input ops (Diehl & Cook training and
/// evaluation), see the reason where `GpuBackend` chooses its path.
pub(crate) fn auto_eligible(plan: &Plan) -> bool {
    plan.step
        .iter()
        .chain(&plan.boundary)
        .all(|op| !matches!(op, Op::Probe { .. } | Op::HostInput { .. }))
}

/// Why the interpreter cannot run `plan`, if it cannot: the first unsupported op.
pub fn unsupported_reason(plan: &Plan) -> Option<String> {
    plan.step
        .iter()
        .chain(&plan.boundary)
        .find_map(|op| unsupported(plan, op))
}

/// The descriptor of `op` (which [`unsupported`] accepts) and the buffers it touches.
fn descriptor(l: &Layout, op: &Op) -> ([u32; OP_WORDS], Vec<BufId>) {
    let plan = l.plan;
    let blen = |b: &BufId| plan.buffer(*b).len;
    let d = match op {
        Op::Zero { dst } => Desc::new(Code::Zero, blen(dst)).slots(l, &[*dst]),
        Op::Broadcast { src, dst } => Desc::new(Code::Broadcast, blen(dst)).slots(l, &[*src, *dst]),
        Op::HostInput { slot, dst } => Desc::new(Code::HostInput, blen(dst))
            .u(l.host[*slot] as u32)
            .slots(l, &[*dst]),
        Op::PoissonSpikes { rates, out, stream } => Desc::new(Code::Poisson, blen(out))
            .u(*stream)
            .f(plan.dt as f32)
            .slots(l, &[*rates, *out]),
        Op::UniformNoise {
            low,
            high,
            out,
            stream,
        } => Desc::new(Code::UniformNoise, blen(out))
            .u(*stream)
            .f(*low)
            .f(*high)
            .slots(l, &[*out]),
        Op::AddInc { x, y } => Desc::new(Code::AddInc, blen(y)).slots(l, &[*x, *y]),
        Op::ScaleInc { s, x, y } => Desc::new(Code::ScaleInc, blen(y)).slots(l, &[*s, *x, *y]),
        Op::MatVecInc {
            m,
            rows,
            cols,
            x,
            y,
            scale,
        } => Desc::new(Code::MatVecInc, *rows)
            .u(*cols as u32)
            .steps(l, *m, *rows, *cols)
            .f(*scale)
            .slots(l, &[*m, *x, *y]),
        Op::AllButSelfInc { s, x, y } => {
            Desc::new(Code::AllButSelfInc, blen(y)).slots(l, &[*s, *x, *y])
        }
        Op::Stdp {
            rule,
            w,
            rows,
            cols,
            pre,
            post,
            traces,
            learn,
        } => rule
            .values()
            .into_iter()
            .fold(
                Desc::new(Code::Stdp, *rows)
                    .u(*cols as u32)
                    .u(rule.flags())
                    .steps(l, *w, *rows, *cols),
                Desc::f,
            )
            .slots(
                l,
                &[
                    *pre, *post, traces[0], traces[1], traces[2], traces[3], *learn, *w,
                ],
            ),
        Op::Trace {
            x,
            spikes,
            decay,
            nearest,
        } => Desc::new(Code::Trace, blen(x))
            .u(*nearest as u32)
            .f(*decay)
            .slots(l, &[*spikes, *x]),
        Op::Neurons {
            neuron,
            n,
            j,
            out,
            state,
            learn,
        } => {
            let dt = plan.dt as f32;
            let lif = |code: Code, p: &crate::model::LifParams, tau_n: f32, inc_n: f32| {
                Desc::new(code, *n)
                    .f(dt)
                    .f(p.tau_rc as f32)
                    .f(p.tau_ref as f32)
                    .f(p.min_voltage_f32())
                    .f(p.amplitude as f32)
                    .f(tau_n)
                    .f(inc_n)
            };
            let mut bufs = vec![*j, *out];
            let d = match neuron {
                NeuronType::Lif(p) => lif(Code::Lif, p, 1.0, 0.0),
                NeuronType::LifRate(p) => lif(Code::LifRate, p, 1.0, 0.0),
                NeuronType::AdaptiveLif {
                    lif: p,
                    tau_n,
                    inc_n,
                } => lif(Code::AdaptiveLif, p, *tau_n as f32, *inc_n as f32),
                NeuronType::DiehlCook(p) => {
                    // diehl_cook reads the learning switch instead of a current.
                    bufs[0] = learn.expect("diehl_cook op without a learning switch");
                    crate::backend::cpu::DcConsts::new(p, plan.dt)
                        .values()
                        .into_iter()
                        .fold(Desc::new(Code::DiehlCook, *n), Desc::f)
                }
                _ => unreachable!("checked by `unsupported`"),
            };
            bufs.extend(state.iter().copied());
            d.slots(l, &bufs)
        }
        Op::Lowpass { a, x, y } => Desc::new(Code::Lowpass, blen(y)).f(*a).slots(l, &[*x, *y]),
        Op::Alpha { a, c1, c2, x, z, y } => Desc::new(Code::Alpha, blen(y))
            .f(*a)
            .f(*c1)
            .f(*c2)
            .slots(l, &[*x, *z, *y]),
        Op::Probe { probe, src, .. } => {
            let slot = plan
                .probes
                .iter()
                .position(|p| p.probe == *probe)
                .expect("every probe op has a slot");
            Desc::new(Code::Probe, blen(src))
                .u(l.rings[slot] as u32)
                .u(super::sample_table_at(slot, l.max_chunk) as u32)
                .slots(l, &[*src])
        }
        Op::NormalizeRows {
            w,
            rows,
            cols,
            target,
        } => Desc::new(Code::NormalizeRows, *rows)
            .u(*cols as u32)
            .steps(l, *w, *rows, *cols)
            .f(*target)
            .slots(l, &[*w]),
        Op::PreHistory {
            pre,
            r1,
            r2,
            hist,
            cols,
            slots,
        } => Desc::new(Code::PreHistory, *cols)
            .u(*slots as u32)
            .slots(l, &[*pre, *r1, *r2, *hist]),
        Op::ArrivalMatVecInc {
            m,
            delays,
            rows,
            cols,
            hist,
            slots,
            y,
            scale,
        } => Desc::new(Code::ArrivalMatVecInc, *rows)
            .u(*cols as u32)
            .u(*slots as u32)
            .steps(l, *m, *rows, *cols)
            .f(*scale)
            .row_major(l, &[*delays])
            .slots(l, &[*m, *delays, *hist, *y]),
        Op::StdpDelayed {
            rule,
            w,
            delays,
            rows,
            cols,
            hist,
            slots,
            post,
            post_traces,
            learn,
        } => rule
            .values()
            .into_iter()
            .fold(
                Desc::new(Code::StdpDelayed, *rows)
                    .u(*cols as u32)
                    .u(rule.flags())
                    .u(*slots as u32)
                    .steps(l, *w, *rows, *cols),
                Desc::f,
            )
            .row_major(l, &[*delays])
            .slots(
                l,
                &[
                    *delays,
                    *hist,
                    *post,
                    post_traces[0],
                    post_traces[1],
                    *learn,
                    *w,
                ],
            ),
        Op::DelayedMatVecInc {
            m,
            delays,
            rows,
            cols,
            x,
            ring,
            slots,
        } => Desc::new(Code::DelayedMatVecInc, *rows)
            .u(*cols as u32)
            .u(*slots as u32)
            .steps(l, *m, *rows, *cols)
            .steps(l, *delays, *rows, *cols)
            .slots(l, &[*m, *delays, *x, *ring]),
        Op::DelayWrite {
            x,
            ring,
            slots,
            delay,
        } => Desc::new(Code::DelayWrite, blen(x))
            .u(*slots as u32)
            .u(*delay as u32)
            .slots(l, &[*x, *ring]),
        Op::DelayRead {
            ring,
            slots,
            y,
            scale,
        } => Desc::new(Code::DelayRead, blen(y))
            .u(*slots as u32)
            .f(*scale)
            .slots(l, &[*ring, *y]),
        _ => unreachable!("checked by `unsupported`"),
    };
    (d.words, d.bufs)
}

impl Desc {
    /// Appends the row step and the column step of matrix `m` (rows x cols) in the arena:
    /// (cols, 1) row-major, (1, rows) presynaptic-major.
    fn steps(self, l: &Layout, m: BufId, rows: usize, cols: usize) -> Self {
        let (row, col) = match l.t_shape.get(m.0).copied().flatten() {
            Some(_) => (1, rows as u32),
            None => (cols as u32, 1),
        };
        self.u(row).u(col)
    }
    /// Checks that these matrices are row-major in the arena, as the op indexes them (the delays
    /// of the ops at arrival: `presynaptic_major` leaves them row-major).
    fn row_major(self, l: &Layout, bufs: &[BufId]) -> Self {
        for b in bufs {
            assert!(
                l.t_shape.get(b.0).copied().flatten().is_none(),
                "{} must be row-major for the delayed ops",
                l.plan.buffer(*b).name
            );
        }
        self
    }
    /// Appends buffer slots: each buffer's arena offset and per-instance stride (0 if shared).
    fn slots(mut self, l: &Layout, bufs: &[BufId]) -> Self {
        for b in bufs {
            let k = self.bufs.len();
            assert!(k < SLOTS, "too many buffers");
            let buf = l.plan.buffer(*b);
            self.words[8 + 2 * k] = l.arena[b.0] as u32;
            self.words[9 + 2 * k] = if buf.batched() { buf.len as u32 } else { 0 };
            self.bufs.push(*b);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dc_plan(n_exc: usize, batch: usize) -> Plan {
        dc_plan_with(n_exc, batch, None)
    }

    fn dc_plan_with(n_exc: usize, batch: usize, input_delays: Option<(f64, f64)>) -> Plan {
        let cfg = crate::networks::DiehlCookConfig {
            n_exc,
            input_delays,
            ..Default::default()
        };
        let dc = crate::networks::diehl_cook(&cfg, 0).unwrap();
        crate::compile::compile_with(&dc.net, 0.0005, batch, true)
            .unwrap()
            .0
    }

    fn limits(max: u32) -> wgpu::Limits {
        wgpu::Limits {
            max_compute_invocations_per_workgroup: max,
            max_compute_workgroup_size_x: max,
            ..Default::default()
        }
    }

    /// The width follows the largest population (not the 784 inputs), within 256..=1024 and
    /// the adapter's limits; many instances and software adapters keep 256; a requested width
    /// must be a power of two within the limit.
    #[test]
    fn workgroup_width_rule() {
        let hw = limits(1024);
        let width =
            |n, batch, software, req| workgroup_size(&dc_plan(n, batch), &hw, software, req);
        assert_eq!(width(100, 1, false, None).unwrap(), 256);
        assert_eq!(width(400, 1, false, None).unwrap(), 512);
        assert_eq!(width(1600, 1, false, None).unwrap(), 1024);
        assert_eq!(width(400, 300, false, None).unwrap(), 256);
        // With the paper's input delays the rows of the arrival ops set it alike.
        let delayed = dc_plan_with(400, 1, Some((0.0, 0.01)));
        assert!(unsupported_reason(&delayed).is_none());
        assert_eq!(workgroup_size(&delayed, &hw, false, None).unwrap(), 512);
        assert_eq!(width(400, 1, true, None).unwrap(), 256);
        assert_eq!(width(100, 1, false, Some(64)).unwrap(), 64);
        let e = width(100, 1, false, Some(100)).unwrap_err().to_string();
        assert!(e.contains("power of two from 32 to 1024"), "{e}");
        let small = workgroup_size(&dc_plan(1600, 1), &limits(512), false, None).unwrap();
        assert_eq!(small, 512, "capped by the adapter");
        let e = workgroup_size(&dc_plan(100, 1), &limits(512), false, Some(1024))
            .unwrap_err()
            .to_string();
        assert!(e.contains("to 512"), "{e}");
    }

    #[test]
    fn width_substitution_and_op_names() {
        let src = "const FUSED_WG: u32 = 256u;\n@workgroup_size(FUSED_WG)";
        assert_eq!(
            with_workgroup_size(src, 1024),
            "const FUSED_WG: u32 = 1024u;\n@workgroup_size(FUSED_WG)"
        );
        let wgsl = include_str!("../../../shaders/fused_steps.wgsl");
        assert!(with_workgroup_size(wgsl, 512).contains("const FUSED_WG: u32 = 512u;"));
        assert_eq!(Code::MatVecInc.name(), "mat_vec_inc");
        assert_eq!(Code::AllButSelfInc.name(), "all_but_self_inc");
        assert_eq!(Code::Poisson.name(), "poisson");
        assert_eq!(Code::ALL.len(), Code::DelayRead as usize);
    }
}
