//! The Plan: every state array as a named, sized buffer with a leading batch dimension, and every
//! timestep as an ordered list of [`Op`]s. The only contract between the compiler and the backends.

use crate::model::NeuronType;
use std::fmt;

/// Index of a buffer in [`Plan::buffers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BufId(pub usize);

impl fmt::Display for BufId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a buffer holds, which fixes who writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferKind {
    /// Per-instance state carried from step to step (voltages, filter states).
    State,
    /// Per-instance values recomputed every step (currents, decoded values, spikes).
    Temp,
    /// Shared by all instances and constant during a run (weights, gains, biases).
    Param,
    /// Shared and constant integers (the structure of sparse matrices, delays in steps): each
    /// f32 slot holds a `u32` bit for bit (see [`index_to_f32`]), which kernels read as
    /// `array<u32>`.
    Index,
}

/// Stores a `u32` in an f32 slot bit for bit, as [`BufferKind::Index`] buffers hold integers
/// (exact for every `u32`, unlike a conversion to f32 value).
pub fn index_to_f32(i: u32) -> f32 {
    f32::from_bits(i)
}

/// Reads back a `u32` stored with [`index_to_f32`].
pub fn f32_to_index(x: f32) -> u32 {
    x.to_bits()
}

/// One f32 array. Batched buffers hold `batch * len` values laid out `[instance][len]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Buffer {
    /// Readable name: `<object>.<signal>`, e.g. `ens0.voltage`.
    pub name: String,
    /// Elements per instance (or in all, for a `Param`).
    pub len: usize,
    /// What it holds.
    pub kind: BufferKind,
    /// Initial value: `len` values (the same for every instance of a batched buffer).
    pub init: Vec<f32>,
}

impl Buffer {
    /// True when the buffer has one copy per instance.
    pub fn batched(&self) -> bool {
        !matches!(self.kind, BufferKind::Param | BufferKind::Index)
    }
}

/// One operation of a timestep. Every op applies to all `batch` instances. Ops run in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Poisson spikes: `out[b, i] = 1/dt` if `uniform(seed, stream, step, b*n + i) < rate[b, i] * dt`,
    /// else 0 (uniform from [`crate::rng`]; key and index as [`Plan::keying`] says).
    PoissonSpikes {
        /// Rates in Hz, per instance.
        rates: BufId,
        /// Batched output.
        out: BufId,
        /// Random stream (the node index).
        stream: u32,
    },
    /// Uniform noise: `out[b, i] = low + (high - low) * uniform(seed, stream, step, b*n + i)` (key
    /// and index as [`Plan::keying`] says).
    UniformNoise {
        /// Lower bound.
        low: f32,
        /// Upper bound.
        high: f32,
        /// Batched output.
        out: BufId,
        /// Random stream (the node index).
        stream: u32,
    },
    /// `dst[b, :] = 0`.
    Zero {
        /// Target.
        dst: BufId,
    },
    /// `dst[b, :] = src[:]` for a shared `src` (e.g. the bias current).
    Broadcast {
        /// Shared source.
        src: BufId,
        /// Batched target of the same length.
        dst: BufId,
    },
    /// `dst[b, :] = ` the host's value of a node at this step, or of a connection's function
    /// of it (see [`HostInputSlot`]; such nodes are evaluated on the host).
    HostInput {
        /// Index into [`Plan::host_inputs`].
        slot: usize,
        /// Batched target of the slot's size.
        dst: BufId,
    },
    /// `y[b, :] += x[b, :]`.
    AddInc {
        /// Source.
        x: BufId,
        /// Target of the same length.
        y: BufId,
    },
    /// `y[b, i] += s[i] * x[b, i]` with a shared scale vector `s`.
    ScaleInc {
        /// Shared scale, same length as `x` and `y`.
        s: BufId,
        /// Source.
        x: BufId,
        /// Target.
        y: BufId,
    },
    /// `y[b, r] += scale * sum_c m[r, c] * x[b, c]` with a row-major matrix `m` (rows x cols),
    /// shared or one per instance. Columns where `x` is 0 are skipped (event-driven for spikes).
    MatVecInc {
        /// Matrix.
        m: BufId,
        /// Rows (= length of y).
        rows: usize,
        /// Columns (= length of x).
        cols: usize,
        /// Source.
        x: BufId,
        /// Target.
        y: BufId,
        /// Factor on the sum (1, or dt to turn spikes of 1/dt into counts).
        scale: f32,
    },
    /// Sparse (CSR) matrix times vector: `y[b, r] += scale * sum_k w[k] * x[b, indices[k]]` over
    /// the stored entries `k` of row `r` (`indptr[r]..indptr[r + 1]`), summed in stored order,
    /// skipping entries whose source is 0 (event-driven for spikes). `w` holds the `nnz` values,
    /// shared or one copy per instance.
    SparseInc {
        /// Row pointers (`rows + 1`), an Index buffer.
        indptr: BufId,
        /// Column of each entry (`nnz`), an Index buffer.
        indices: BufId,
        /// Values (`nnz`).
        w: BufId,
        /// Rows (= length of y).
        rows: usize,
        /// Columns (= length of x).
        cols: usize,
        /// Source.
        x: BufId,
        /// Target.
        y: BufId,
        /// Factor on the sum (1, or dt to turn spikes of 1/dt into counts).
        scale: f32,
    },
    /// A dense matrix with a delay per synapse, into a ring buffer of future input
    /// (`slots` steps of `rows` values per instance): for each instance `b`, row `r` and, in
    /// column order, each column `c` with `x[b, c] != 0`:
    /// `ring[b, (step + delays[r * cols + c]) % slots, r] += m[r, c] * x[b, c]`.
    /// Read (and scaled) by [`Op::DelayRead`].
    DelayedMatVecInc {
        /// Matrix (rows x cols, shared or one per instance).
        m: BufId,
        /// Delay of each synapse in steps (< slots), an Index buffer of rows x cols.
        delays: BufId,
        /// Rows (post).
        rows: usize,
        /// Columns (pre).
        cols: usize,
        /// Source.
        x: BufId,
        /// Ring buffer, batched, `slots * rows` per instance laid out `[slot][row]`.
        ring: BufId,
        /// Steps the ring holds (largest delay + 1).
        slots: usize,
    },
    /// A sparse (CSR) matrix with a delay per stored entry, into a ring buffer: for each
    /// instance `b`, row `r` and, in stored order, each entry `k` with `x[b, indices[k]] != 0`:
    /// `ring[b, (step + delays[k]) % slots, r] += w[k] * x[b, indices[k]]`.
    DelayedSparseInc {
        /// Row pointers (`rows + 1`), an Index buffer.
        indptr: BufId,
        /// Column of each entry (`nnz`), an Index buffer.
        indices: BufId,
        /// Values (`nnz`, shared or one copy per instance).
        w: BufId,
        /// Delay of each entry in steps (< slots), an Index buffer of `nnz`.
        delays: BufId,
        /// Rows (post).
        rows: usize,
        /// Columns (pre).
        cols: usize,
        /// Source.
        x: BufId,
        /// Ring buffer, batched, `slots * rows` per instance laid out `[slot][row]`.
        ring: BufId,
        /// Steps the ring holds (largest delay + 1).
        slots: usize,
    },
    /// One delay for a whole signal: `ring[b, (step + delay) % slots, :] += x[b, :]`.
    DelayWrite {
        /// Source (n values per instance).
        x: BufId,
        /// Ring buffer, batched, `slots * n` per instance laid out `[slot][i]`.
        ring: BufId,
        /// Steps the ring holds (> delay).
        slots: usize,
        /// Delay in steps.
        delay: usize,
    },
    /// Input arriving now: `y[b, i] += scale * ring[b, step % slots, i]`, then that slot is
    /// cleared for the input that will arrive `slots` steps later. Runs after this step's
    /// writes into the ring, so that a delay of 0 arrives in the same step.
    DelayRead {
        /// Ring buffer, batched, `slots * n` per instance.
        ring: BufId,
        /// Steps the ring holds.
        slots: usize,
        /// Target (n values per instance).
        y: BufId,
        /// Factor on what arrives (1, or dt to turn spikes of 1/dt into counts).
        scale: f32,
    },
    /// Lateral input: `y[b, i] += s[i] * (sum_j x[b, j] - x[b, i])`.
    AllButSelfInc {
        /// Shared scale per target.
        s: BufId,
        /// Source.
        x: BufId,
        /// Target (same length as x).
        y: BufId,
    },
    /// Event-driven triplet STDP on a per-instance weight matrix `w` (post rows x pre columns).
    /// See [`crate::model::Stdp`]; trace values are decayed on the fly by one step.
    Stdp {
        /// The rule in f32.
        rule: StdpConsts,
        /// Weights, batched.
        w: BufId,
        /// Post neurons.
        rows: usize,
        /// Pre neurons.
        cols: usize,
        /// Pre spikes (non-zero = spike).
        pre: BufId,
        /// Post spikes.
        post: BufId,
        /// Pre traces (fast, slow) and post traces (fast, slow) as stored after the last step.
        traces: [BufId; 4],
        /// Shared learning switch (1 on, 0 off).
        learn: BufId,
    },
    /// [`Op::Stdp`] on the stored entries of a sparse (CSR) matrix with per-instance values
    /// `w` (`nnz` per instance, one structure for all instances): each entry is updated exactly
    /// as the same synapse of a dense matrix would be.
    StdpSparse {
        /// The rule in f32.
        rule: StdpConsts,
        /// Row pointers (`rows + 1`), an Index buffer.
        indptr: BufId,
        /// Column of each entry (`nnz`), an Index buffer.
        indices: BufId,
        /// Values, batched (`nnz` per instance).
        w: BufId,
        /// Post neurons.
        rows: usize,
        /// Pre neurons.
        cols: usize,
        /// Pre spikes (non-zero = spike).
        pre: BufId,
        /// Post spikes.
        post: BufId,
        /// Pre traces (fast, slow) and post traces (fast, slow) as stored after the last step.
        traces: [BufId; 4],
        /// Shared learning switch (1 on, 0 off).
        learn: BufId,
    },
    /// A dense matrix with a delay per synapse, transmitted at arrival from an
    /// [`Op::PreHistory`] ring (Brian's delayed `on_pre`: the weight at arrival): for each
    /// instance `b` and row `r`, `y[b, r] += scale * sum_c m[r, c] * x_c`, `x_c` being what pre
    /// neuron `c` emitted `delays[r, c]` steps ago, summed in column order skipping zeros.
    ArrivalMatVecInc {
        /// Matrix (rows x cols, shared or one per instance).
        m: BufId,
        /// Delay of each synapse in steps (< slots), an Index buffer of rows x cols.
        delays: BufId,
        /// Rows (post).
        rows: usize,
        /// Columns (pre).
        cols: usize,
        /// The [`Op::PreHistory`] ring.
        hist: BufId,
        /// Steps the ring holds.
        slots: usize,
        /// Target.
        y: BufId,
        /// Factor on the sum (1, or dt to turn spikes of 1/dt into counts).
        scale: f32,
    },
    /// [`Op::ArrivalMatVecInc`] for a sparse (CSR) matrix with a delay per stored entry,
    /// summed over each row's entries in stored order.
    ArrivalSparseInc {
        /// Row pointers (`rows + 1`), an Index buffer.
        indptr: BufId,
        /// Column of each entry (`nnz`), an Index buffer.
        indices: BufId,
        /// Values (`nnz`, shared or one copy per instance).
        w: BufId,
        /// Delay of each entry in steps (< slots), an Index buffer of `nnz`.
        delays: BufId,
        /// Rows (post).
        rows: usize,
        /// Columns (pre).
        cols: usize,
        /// The [`Op::PreHistory`] ring.
        hist: BufId,
        /// Steps the ring holds.
        slots: usize,
        /// Target.
        y: BufId,
        /// Factor on the sum.
        scale: f32,
    },
    /// Records this step's pre output and pre traces (as stored after the last step) in a ring
    /// of the last `slots` steps, for transmission and STDP at arrival
    /// ([`Op::ArrivalMatVecInc`], [`Op::StdpDelayed`]): for each instance `b`,
    /// `hist[b, step % slots] = [pre[b, :], r1[b, :], r2[b, :]]`. Runs before the ops that read
    /// it and the trace updates of the step.
    PreHistory {
        /// Pre output (spikes: non-zero).
        pre: BufId,
        /// Fast pre trace as stored after the last step.
        r1: BufId,
        /// Slow pre trace as stored after the last step.
        r2: BufId,
        /// Ring, batched, `(slots * 3 + 2) * cols` per instance laid out
        /// `[slot][pre, r1, r2][col]`, then each column's spike count in the ring and the slot
        /// of its latest spike.
        hist: BufId,
        /// Pre neurons.
        cols: usize,
        /// Steps the ring holds (largest delay + 1).
        slots: usize,
    },
    /// [`Op::Stdp`] on a connection with a delay per synapse, with Brian's semantics: the pre
    /// side of each synapse (its pre spike, pre traces and the depression) happens when the
    /// spike arrives, `delays[i, j]` steps after it was emitted. Synapse `(i, j)` at step `k`
    /// sees the pre spike and pre traces that [`Op::PreHistory`] recorded at step
    /// `k - delays[i, j]`, and the post spike and post traces of step `k`.
    StdpDelayed {
        /// The rule in f32.
        rule: StdpConsts,
        /// Weights, batched, row-major (post rows x pre columns).
        w: BufId,
        /// Delay of each synapse in steps (< slots), an Index buffer of rows x cols.
        delays: BufId,
        /// Post neurons.
        rows: usize,
        /// Pre neurons.
        cols: usize,
        /// The [`Op::PreHistory`] ring.
        hist: BufId,
        /// Steps the ring holds.
        slots: usize,
        /// Post spikes.
        post: BufId,
        /// Post traces (fast, slow) as stored after the last step.
        post_traces: [BufId; 2],
        /// Shared learning switch (1 on, 0 off).
        learn: BufId,
    },
    /// [`Op::StdpDelayed`] on the stored entries of a sparse (CSR) matrix (a delay per stored
    /// entry): each entry is updated exactly as the same synapse of a dense matrix would be.
    StdpSparseDelayed {
        /// The rule in f32.
        rule: StdpConsts,
        /// Row pointers (`rows + 1`), an Index buffer.
        indptr: BufId,
        /// Column of each entry (`nnz`), an Index buffer.
        indices: BufId,
        /// Values, batched (`nnz` per instance).
        w: BufId,
        /// Delay of each entry in steps (< slots), an Index buffer of `nnz`.
        delays: BufId,
        /// Post neurons.
        rows: usize,
        /// Pre neurons.
        cols: usize,
        /// The [`Op::PreHistory`] ring.
        hist: BufId,
        /// Steps the ring holds.
        slots: usize,
        /// Post spikes.
        post: BufId,
        /// Post traces (fast, slow) as stored after the last step.
        post_traces: [BufId; 2],
        /// Shared learning switch (1 on, 0 off).
        learn: BufId,
    },
    /// PES weight change (Nengo's `SimPES`), one value per weight of each instance:
    /// `delta[b, i, j] = alpha * error[b, i] * pre[b, j]` with `alpha = -learning_rate * dt / cols`;
    /// 0 while the learning switch is off. Added to the weights by an [`Op::AddInc`] at the start
    /// of the next step (Nengo's order: the delta of step k changes the weights of step k + 1).
    Pes {
        /// `-learning_rate * dt / n_pre`.
        alpha: f32,
        /// Post rows (length of `error`).
        rows: usize,
        /// Pre columns (length of `pre`).
        cols: usize,
        /// Error per row (the error, or its projection onto post neurons), batched.
        error: BufId,
        /// (Filtered) pre activities, batched.
        pre: BufId,
        /// Output: weight change, batched, rows x cols.
        delta: BufId,
        /// Shared learning switch (1 on, 0 off).
        learn: BufId,
    },
    /// BCM weight change (Nengo's `SimBCM`):
    /// `delta[b, i, j] = alpha * post[b, i] * (post[b, i] - theta[b, i]) * pre[b, j]`
    /// with `alpha = learning_rate * dt`; 0 while the learning switch is off.
    Bcm {
        /// `learning_rate * dt`.
        alpha: f32,
        /// Post rows.
        rows: usize,
        /// Pre columns.
        cols: usize,
        /// (Filtered) pre activities, batched.
        pre: BufId,
        /// (Filtered) post activities, batched.
        post: BufId,
        /// Modification threshold (filtered post activities), batched.
        theta: BufId,
        /// Output: weight change, batched, rows x cols.
        delta: BufId,
        /// Shared learning switch.
        learn: BufId,
    },
    /// Oja weight change (Nengo's `SimOja`):
    /// `delta[b, i, j] = alpha * post[b, i] * pre[b, j] - beta * (alpha * post[b, i]^2) * w[b, i, j]`
    /// with `alpha = learning_rate * dt`; 0 while the learning switch is off.
    Oja {
        /// `learning_rate * dt`.
        alpha: f32,
        /// Forgetting weight.
        beta: f32,
        /// Post rows.
        rows: usize,
        /// Pre columns.
        cols: usize,
        /// (Filtered) pre activities, batched.
        pre: BufId,
        /// (Filtered) post activities, batched.
        post: BufId,
        /// Weights, batched (read only).
        w: BufId,
        /// Output: weight change, batched, rows x cols.
        delta: BufId,
        /// Shared learning switch.
        learn: BufId,
    },
    /// Trace update: `x = x * decay`, then at a spike `x += 1` (all-to-all) or `x = 1` (nearest).
    Trace {
        /// Trace.
        x: BufId,
        /// Spikes (non-zero = spike).
        spikes: BufId,
        /// `exp(-dt/tau)`.
        decay: f32,
        /// Nearest-spike (set) instead of all-to-all (add).
        nearest: bool,
    },
    /// Boundary op: scales each row of the per-instance matrix `w` to sum to `target`
    /// (rows summing to 0 are left alone).
    NormalizeRows {
        /// Weights, batched.
        w: BufId,
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// Target row sum.
        target: f32,
    },
    /// Boundary op: [`Op::NormalizeRows`] on a sparse (CSR) matrix: scales the stored entries of
    /// each row of each instance to sum to `target` (rows summing to 0 or less are left alone).
    NormalizeRowsSparse {
        /// Row pointers (`rows + 1`), an Index buffer.
        indptr: BufId,
        /// Values (`nnz` per instance, or shared).
        w: BufId,
        /// Rows.
        rows: usize,
        /// Target row sum.
        target: f32,
    },
    /// Advances a population of neurons one step: reads input current `j`, writes `out`
    /// (spikes of amplitude/dt, or rates) and updates `state` (in `NeuronType::state_names` order).
    Neurons {
        /// The model and its parameters.
        neuron: NeuronType,
        /// Number of neurons.
        n: usize,
        /// Input current.
        j: BufId,
        /// Output.
        out: BufId,
        /// State buffers.
        state: Vec<BufId>,
        /// Shared learning switch (adaptive thresholds freeze when 0), for types that learn.
        learn: Option<BufId>,
    },
    /// First-order lowpass: `y = a*y + (1 - a)*x`, `a = exp(-dt/tau)`.
    Lowpass {
        /// Decay factor per step.
        a: f32,
        /// Input.
        x: BufId,
        /// Output (state).
        y: BufId,
    },
    /// Alpha filter (two cascaded lowpass stages, exact zero-order-hold discretisation):
    /// `z = a*z + (1-a)*x; y = a*y + c1*z_old + c2*x` with `c1 = a*dt/tau`, `c2 = 1 - a - c1`.
    Alpha {
        /// Decay factor per step.
        a: f32,
        /// `a * dt / tau`.
        c1: f32,
        /// `1 - a - c1`.
        c2: f32,
        /// Input.
        x: BufId,
        /// First stage (state).
        z: BufId,
        /// Output (state).
        y: BufId,
    },
    /// The host evaluates node `node`'s input function here: it reads `input` (the node's
    /// input sum) and writes the function's value to `output`. No backend computes it: the
    /// simulator runs a step with such ops in parts, the ops before it, then the function, then
    /// the ops after it ([`crate::backend::Backend::run_part`]).
    HostCall {
        /// Node index.
        node: usize,
        /// The node's input sum (read).
        input: BufId,
        /// The node's output (written by the host; empty for a sink).
        output: BufId,
        /// The functions of the node's output on its outgoing connections, evaluated by the
        /// host right after the node: (connection index, the buffer it writes).
        functions: Vec<(usize, BufId)>,
    },
    /// Records `src` into probe `probe` after the steps `sampling` picks.
    Probe {
        /// Index of the probe in the network.
        probe: usize,
        /// Recorded buffer.
        src: BufId,
        /// Which steps record.
        sampling: Sampling,
    },
}

impl Op {
    /// Every buffer the op reads or writes (exhaustive: a new op must say which it touches).
    pub fn buffers(&self) -> Vec<BufId> {
        match self {
            Op::PoissonSpikes { rates, out, .. } => vec![*rates, *out],
            Op::UniformNoise { out, .. }
            | Op::Zero { dst: out }
            | Op::HostInput { dst: out, .. } => {
                vec![*out]
            }
            Op::Broadcast { src, dst } => vec![*src, *dst],
            Op::HostCall {
                input,
                output,
                functions,
                ..
            } => {
                let mut v = vec![*input, *output];
                v.extend(functions.iter().map(|(_, b)| *b));
                v
            }
            Op::AddInc { x, y } | Op::Lowpass { x, y, .. } => vec![*x, *y],
            Op::ScaleInc { s, x, y } | Op::AllButSelfInc { s, x, y } => vec![*s, *x, *y],
            Op::MatVecInc { m, x, y, .. } => vec![*m, *x, *y],
            Op::SparseInc {
                indptr,
                indices,
                w,
                x,
                y,
                ..
            } => vec![*indptr, *indices, *w, *x, *y],
            Op::DelayedMatVecInc {
                m, delays, x, ring, ..
            } => vec![*m, *delays, *x, *ring],
            Op::DelayedSparseInc {
                indptr,
                indices,
                w,
                delays,
                x,
                ring,
                ..
            } => vec![*indptr, *indices, *w, *delays, *x, *ring],
            Op::DelayWrite { x, ring, .. } => vec![*x, *ring],
            Op::DelayRead { ring, y, .. } => vec![*ring, *y],
            Op::Stdp {
                w,
                pre,
                post,
                traces,
                learn,
                ..
            } => [vec![*w, *pre, *post, *learn], traces.to_vec()].concat(),
            Op::StdpSparse {
                indptr,
                indices,
                w,
                pre,
                post,
                traces,
                learn,
                ..
            } => [
                vec![*indptr, *indices, *w, *pre, *post, *learn],
                traces.to_vec(),
            ]
            .concat(),
            Op::ArrivalMatVecInc {
                m, delays, hist, y, ..
            } => vec![*m, *delays, *hist, *y],
            Op::ArrivalSparseInc {
                indptr,
                indices,
                w,
                delays,
                hist,
                y,
                ..
            } => vec![*indptr, *indices, *w, *delays, *hist, *y],
            Op::PreHistory {
                pre, r1, r2, hist, ..
            } => vec![*pre, *r1, *r2, *hist],
            Op::StdpDelayed {
                w,
                delays,
                hist,
                post,
                post_traces,
                learn,
                ..
            } => [
                vec![*w, *delays, *hist, *post, *learn],
                post_traces.to_vec(),
            ]
            .concat(),
            Op::StdpSparseDelayed {
                indptr,
                indices,
                w,
                delays,
                hist,
                post,
                post_traces,
                learn,
                ..
            } => [
                vec![*indptr, *indices, *w, *delays, *hist, *post, *learn],
                post_traces.to_vec(),
            ]
            .concat(),
            Op::Pes {
                error,
                pre,
                delta,
                learn,
                ..
            } => vec![*error, *pre, *delta, *learn],
            Op::Bcm {
                pre,
                post,
                theta,
                delta,
                learn,
                ..
            } => vec![*pre, *post, *theta, *delta, *learn],
            Op::Oja {
                pre,
                post,
                w,
                delta,
                learn,
                ..
            } => vec![*pre, *post, *w, *delta, *learn],
            Op::Trace { x, spikes, .. } => vec![*x, *spikes],
            Op::NormalizeRows { w, .. } => vec![*w],
            Op::NormalizeRowsSparse { indptr, w, .. } => vec![*indptr, *w],
            Op::Neurons {
                j,
                out,
                state,
                learn,
                ..
            } => {
                let mut v = vec![*j, *out];
                v.extend(state.iter().copied());
                v.extend(learn.iter().copied());
                v
            }
            Op::Alpha { x, z, y, .. } => vec![*x, *z, *y],
            Op::Probe { src, .. } => vec![*src],
        }
    }

    /// The op's name, which is also the name of its CPU function and of its WGSL kernel
    /// (except `host_call`, which the host runs between the parts of a step).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Zero { .. } => "zero",
            Op::Broadcast { .. } => "broadcast",
            Op::HostInput { .. } => "host_input",
            Op::HostCall { .. } => "host_call",
            Op::PoissonSpikes { .. } => "poisson_spikes",
            Op::UniformNoise { .. } => "uniform_noise",
            Op::AddInc { .. } => "add_inc",
            Op::ScaleInc { .. } => "scale_inc",
            Op::MatVecInc { .. } => "matvec_inc",
            Op::SparseInc { .. } => "sparse_inc",
            Op::DelayedMatVecInc { .. } => "delayed_matvec_inc",
            Op::DelayedSparseInc { .. } => "delayed_sparse_inc",
            Op::DelayWrite { .. } => "delay_write",
            Op::DelayRead { .. } => "delay_read",
            Op::StdpSparse { .. } => "stdp_sparse",
            Op::NormalizeRowsSparse { .. } => "normalize_rows_sparse",
            Op::Neurons { neuron, .. } => match neuron {
                NeuronType::Lif(_) => "lif",
                NeuronType::LifRate(_) => "lif_rate",
                NeuronType::AdaptiveLif { .. } => "adaptive_lif",
                NeuronType::SpikingRectifiedLinear { .. } => "spiking_rectified_linear",
                NeuronType::RectifiedLinear { .. } => "rectified_linear",
                NeuronType::Izhikevich { .. } => "izhikevich",
                NeuronType::DiehlCook(_) => "diehl_cook",
            },
            Op::AllButSelfInc { .. } => "all_but_self_inc",
            Op::Stdp { .. } => "stdp",
            Op::PreHistory { .. } => "pre_history",
            Op::ArrivalMatVecInc { .. } => "arrival_matvec_inc",
            Op::ArrivalSparseInc { .. } => "arrival_sparse_inc",
            Op::StdpDelayed { .. } => "stdp_delayed",
            Op::StdpSparseDelayed { .. } => "stdp_sparse_delayed",
            Op::Trace { .. } => "trace",
            Op::Pes { .. } => "pes",
            Op::Bcm { .. } => "bcm",
            Op::Oja { .. } => "oja",
            Op::NormalizeRows { .. } => "normalize_rows",
            Op::Lowpass { .. } => "lowpass",
            Op::Alpha { .. } => "alpha",
            Op::Probe { .. } => "probe",
        }
    }
}

/// STDP parameters in f32, with decays precomputed for the plan's dt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StdpConsts {
    /// Per-step decay of the pre trace r1.
    pub decay_r1: f32,
    /// Per-step decay of the slow pre trace r2.
    pub decay_r2: f32,
    /// Per-step decay of the post trace o1.
    pub decay_o1: f32,
    /// Per-step decay of the slow post trace o2.
    pub decay_o2: f32,
    /// Pair potentiation.
    pub a2_plus: f32,
    /// Triplet potentiation.
    pub a3_plus: f32,
    /// Pair depression.
    pub a2_minus: f32,
    /// Triplet depression.
    pub a3_minus: f32,
    /// Lower bound.
    pub w_min: f32,
    /// Upper bound.
    pub w_max: f32,
    /// Nearest-spike traces.
    pub nearest: bool,
    /// Soft bounds.
    pub multiplicative: bool,
}

impl StdpConsts {
    /// Bit 0: nearest-spike traces; bit 1: multiplicative bounds (the kernels' `flags`).
    pub fn flags(&self) -> u32 {
        self.nearest as u32 | ((self.multiplicative as u32) << 1)
    }

    /// The f32 constants in the order the STDP kernels take them (after `flags` in
    /// `shaders/stdp.wgsl`'s `Params`, and in the fused interpreter's descriptor).
    pub fn values(&self) -> [f32; 10] {
        [
            self.decay_r1,
            self.decay_r2,
            self.decay_o1,
            self.decay_o2,
            self.a2_plus,
            self.a3_plus,
            self.a2_minus,
            self.a3_minus,
            self.w_min,
            self.w_max,
        ]
    }
}

/// How the host feeds a node's values to the backend.
#[derive(Clone, Debug, PartialEq)]
pub struct HostInputSlot {
    /// Node index.
    pub node: usize,
    /// Values per instance per step.
    pub size: usize,
    /// The connection (index) whose function is applied to the node's output, for a
    /// connection with a function from a node (evaluated on the host, as Nengo does); `None`:
    /// the node's output itself.
    pub function: Option<usize>,
}

/// Where a probe's data comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeSlot {
    /// Probe index in the network.
    pub probe: usize,
    /// Recorded buffer.
    pub src: BufId,
    /// Values per instance per sample.
    pub len: usize,
    /// Which steps record.
    pub sampling: Sampling,
}

/// Which steps a probe records, by Nengo's rule: after step `n` (counted from 1) when
/// `n % period < 1` in f64, with `period = sample_every / dt` (1 without `sample_every`). A whole
/// period `k` records every k-th step; a fractional one records about once per `period` steps, at
/// irregular steps (1.5: steps 2, 3, 5, 6, 8, ...); a period under 1 records every step. The
/// period is Nengo's own quotient, so where it is a whole number give or take rounding (e.g.
/// 4001.0000000000005 for 4.001 s at 1 ms) the samples fall where Nengo's do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// Steps per sample (> 0; infinite: never).
    pub period: f64,
}

impl Sampling {
    /// Every step.
    pub const EVERY_STEP: Sampling = Sampling { period: 1.0 };
    /// Never (a probe whose values are read another way, e.g. spike counts).
    pub const NEVER: Sampling = Sampling {
        period: f64::INFINITY,
    };

    /// Whether step `n` (counted from 1: the step that ends at time `n dt`) records.
    pub fn records(&self, n: u64) -> bool {
        (n as f64) % self.period < 1.0
    }

    /// The most samples any `steps` consecutive steps record: the steps that record are the
    /// integers in `[j p, j p + 1)`, `j = 1, 2, ...`, so a window of `steps` holds at most
    /// `floor(steps / p) + 1` of them (and never more than `steps`).
    pub fn max_samples(&self, steps: usize) -> usize {
        let by_period = (steps as f64 / self.period).floor() + 1.0;
        if by_period >= steps as f64 {
            steps
        } else {
            by_period as usize
        }
    }
}

/// A compiled network.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Timestep in seconds.
    pub dt: f64,
    /// Number of independent instances.
    pub batch: usize,
    /// Seed of the simulation's counter-based random draws.
    pub seed: u64,
    /// How the instances' draws are keyed: one stream for the batch (evaluation), or instance
    /// `b` as a lone run of seed `seed + b` (training K networks at once).
    pub keying: crate::rng::Keying,
    /// Every array.
    pub buffers: Vec<Buffer>,
    /// The ops of one timestep, in order.
    pub step: Vec<Op>,
    /// Ops run at presentation boundaries (weight normalisation), on request.
    pub boundary: Vec<Op>,
    /// The shared learning switch (1 = learning on), if any op reads it.
    pub learn: Option<BufId>,
    /// Nodes fed from the host, by node index.
    pub host_inputs: Vec<HostInputSlot>,
    /// Probes, by probe index.
    pub probes: Vec<ProbeSlot>,
}

/// A [`Op::PreHistory`] ring written from outside (a snapshot) must be one the op could have
/// left: no subnormal output (the op stores those as 0), each column's count is the number of
/// slots holding a spike of it, and a column with spikes on the way names one of their slots as
/// its latest. The CPU finds the spikes to deliver from these two, so a crafted ring that broke
/// them would index past the ring.
fn check_history(name: &str, data: &[f32], cols: usize, slots: usize) -> crate::error::Result<()> {
    let len = crate::backend::cpu::pre_history_len(slots, cols);
    for (b, hb) in data.chunks(len).enumerate() {
        let counts = &hb[3 * slots * cols..(3 * slots + 1) * cols];
        let last = &hb[(3 * slots + 1) * cols..];
        for c in 0..cols {
            let output = |slot: usize| hb[crate::backend::cpu::hx(cols, 0, slot, c)];
            if let Some(slot) = (0..slots).find(|&s| output(s).is_subnormal()) {
                return Err(crate::error::Error::invalid(
                    name,
                    format!("output of instance {b}, column {c}, slot {slot}"),
                    output(slot),
                    "0 or a normal number (the ring stores subnormal outputs as 0)",
                ));
            }
            let spiking = |slot: usize| output(slot) != 0.0;
            let n = (0..slots).filter(|&s| spiking(s)).count();
            if counts[c].to_bits() != (n as f32).to_bits() {
                return Err(crate::error::Error::invalid(
                    name,
                    format!("spike count of instance {b}, column {c}"),
                    counts[c],
                    format!("{n} (the slots of the ring holding a spike of it)"),
                ));
            }
            let l = last[c];
            let slot_ok = l >= 0.0 && l < slots as f32 && l.fract() == 0.0;
            if !slot_ok || (n > 0 && !spiking(l as usize)) {
                return Err(crate::error::Error::invalid(
                    name,
                    format!("latest spike slot of instance {b}, column {c}"),
                    l,
                    format!(
                        "a whole number from 0 to {} naming a slot that holds a spike of it",
                        slots - 1
                    ),
                ));
            }
        }
    }
    Ok(())
}

impl Plan {
    /// The buffer behind an id.
    pub fn buffer(&self, id: BufId) -> &Buffer {
        &self.buffers[id.0]
    }

    /// Bytes of per-instance (batched) state and of shared parameters.
    pub fn bytes(&self) -> (usize, usize) {
        let mut per_instance = 0;
        let mut shared = 0;
        for b in &self.buffers {
            if b.batched() {
                per_instance += b.len * 4;
            } else {
                shared += b.len * 4;
            }
        }
        (per_instance, shared)
    }

    /// `(rows, cols)` of the dense weight matrix held in `m`, if a step op uses it as one
    /// ([`Op::MatVecInc`], [`Op::DelayedMatVecInc`] or [`Op::ArrivalMatVecInc`]).
    pub fn matrix_shape(&self, m: BufId) -> Option<(usize, usize)> {
        self.step.iter().find_map(|op| match op {
            Op::MatVecInc {
                m: w, rows, cols, ..
            }
            | Op::DelayedMatVecInc {
                m: w, rows, cols, ..
            }
            | Op::ArrivalMatVecInc {
                m: w, rows, cols, ..
            } if *w == m => Some((*rows, *cols)),
            _ => None,
        })
    }

    /// The CSR structure `(rows, cols, indptr, indices)` of the sparse weights held in `w`, if
    /// a step op uses it as sparse values ([`Op::SparseInc`], [`Op::DelayedSparseInc`] or
    /// [`Op::ArrivalSparseInc`]).
    pub fn sparse_structure(&self, w: BufId) -> Option<(usize, usize, Vec<u32>, Vec<u32>)> {
        self.step.iter().find_map(|op| match op {
            Op::SparseInc {
                indptr,
                indices,
                w: v,
                rows,
                cols,
                ..
            }
            | Op::DelayedSparseInc {
                indptr,
                indices,
                w: v,
                rows,
                cols,
                ..
            }
            | Op::ArrivalSparseInc {
                indptr,
                indices,
                w: v,
                rows,
                cols,
                ..
            } if *v == w => {
                let ints = |b: &BufId| {
                    self.buffer(*b)
                        .init
                        .iter()
                        .map(|&x| f32_to_index(x))
                        .collect()
                };
                Some((*rows, *cols, ints(indptr), ints(indices)))
            }
            _ => None,
        })
    }

    /// Checks `data` (all instances' values) before it is written to buffer `id` by
    /// [`crate::backend::Backend::write`]: its length, and for an [`BufferKind::Index`] buffer
    /// what the kernels index with it. A delay buffer takes any steps below its ring's `slots`;
    /// the structure of a sparse matrix (`indptr`, `indices`) is fixed when the network is built
    /// and only its own values are taken back (as a snapshot restores them).
    pub fn check_write(&self, id: BufId, data: &[f32]) -> crate::error::Result<()> {
        let Some(b) = self.buffers.get(id.0) else {
            return Err(crate::error::Error::Other(format!(
                "no buffer {id} in this plan"
            )));
        };
        let len = b.len * if b.batched() { self.batch } else { 1 };
        if data.len() != len {
            return Err(crate::error::Error::invalid(
                &b.name,
                "data",
                format!("{} values", data.len()),
                format!("{len} values"),
            ));
        }
        if let Some((cols, slots)) = self.history_shape(id) {
            return check_history(&b.name, data, cols, slots);
        }
        if b.kind != BufferKind::Index {
            return Ok(());
        }
        if let Some(slots) = self.delay_slots(id) {
            if let Some((k, d)) = data
                .iter()
                .map(|&x| f32_to_index(x))
                .enumerate()
                .find(|&(_, d)| d as usize >= slots)
            {
                return Err(crate::error::Error::invalid(
                    &b.name,
                    format!("delay of synapse {k}"),
                    format!("{d} steps"),
                    format!("less than {slots} steps (the connection's delay ring)"),
                ));
            }
            return Ok(());
        }
        if let Some(k) =
            (0..len).find(|&k| b.init.get(k).map(|x| x.to_bits()) != Some(data[k].to_bits()))
        {
            return Err(crate::error::Error::invalid(
                &b.name,
                format!("entry {k}"),
                f32_to_index(data[k]),
                format!(
                    "{} (a sparse matrix's structure is fixed when the network is built)",
                    b.init
                        .get(k)
                        .map_or("nothing".into(), |x| f32_to_index(*x).to_string())
                ),
            ));
        }
        Ok(())
    }

    /// `(cols, slots)` of the [`Op::PreHistory`] ring `hist`, if it is one.
    fn history_shape(&self, hist: BufId) -> Option<(usize, usize)> {
        self.step
            .iter()
            .chain(&self.boundary)
            .find_map(|op| match op {
                Op::PreHistory {
                    hist: h,
                    cols,
                    slots,
                    ..
                } if *h == hist => Some((*cols, *slots)),
                _ => None,
            })
    }

    /// The ring length (`slots`) of the ops that read `delays` as per-synapse delays, if any.
    fn delay_slots(&self, delays: BufId) -> Option<usize> {
        self.step
            .iter()
            .chain(&self.boundary)
            .find_map(|op| match op {
                Op::DelayedMatVecInc {
                    delays: d, slots, ..
                }
                | Op::DelayedSparseInc {
                    delays: d, slots, ..
                }
                | Op::ArrivalMatVecInc {
                    delays: d, slots, ..
                }
                | Op::ArrivalSparseInc {
                    delays: d, slots, ..
                }
                | Op::StdpDelayed {
                    delays: d, slots, ..
                }
                | Op::StdpSparseDelayed {
                    delays: d, slots, ..
                } if *d == delays => Some(*slots),
                _ => None,
            })
    }

    /// Total number of neurons (per instance).
    pub fn n_neurons(&self) -> usize {
        self.step
            .iter()
            .map(|op| match op {
                Op::Neurons { n, .. } => *n,
                _ => 0,
            })
            .sum()
    }

    /// Whether a step has [`Op::HostCall`]s, so that it runs in parts
    /// ([`crate::backend::Backend::run_part`]), never whole.
    pub fn has_host_calls(&self) -> bool {
        self.step.iter().any(|op| matches!(op, Op::HostCall { .. }))
    }

    fn describe(&self, op: &Op) -> String {
        let n = |b: &BufId| self.buffers[b.0].name.clone();
        match op {
            Op::Zero { dst } => format!("{} = 0", n(dst)),
            Op::Broadcast { src, dst } => format!("{} = {}", n(dst), n(src)),
            Op::HostInput { slot, dst } => {
                let s = &self.host_inputs[*slot];
                match s.function {
                    None => format!("{} = node{}(t) [host]", n(dst), s.node),
                    Some(ci) => format!("{} = conn{ci}.function(node{}(t)) [host]", n(dst), s.node),
                }
            }
            Op::HostCall {
                node,
                input,
                output,
                functions,
            } => {
                let mut d = format!(
                    "{} = node{node}(t, {}) [host, between parts]",
                    n(output),
                    n(input)
                );
                for (ci, b) in functions {
                    d.push_str(&format!("; {} = conn{ci}.function({})", n(b), n(output)));
                }
                d
            }
            Op::PoissonSpikes { rates, out, stream } => {
                format!("{} = poisson({}) stream {stream}", n(out), n(rates))
            }
            Op::UniformNoise {
                low,
                high,
                out,
                stream,
            } => format!("{} = uniform[{low}, {high}) stream {stream}", n(out)),
            Op::AddInc { x, y } => format!("{} += {}", n(y), n(x)),
            Op::ScaleInc { s, x, y } => format!("{} += {} * {}", n(y), n(s), n(x)),
            Op::MatVecInc {
                m,
                rows,
                cols,
                x,
                y,
                scale,
            } => {
                let sc = if *scale == 1.0 {
                    String::new()
                } else {
                    format!("{scale} * ")
                };
                format!("{} += {sc}{} [{rows}x{cols}] . {}", n(y), n(m), n(x))
            }
            Op::AllButSelfInc { s, x, y } => {
                format!("{} += {} * (sum({}) - {})", n(y), n(s), n(x), n(x))
            }
            Op::SparseInc {
                indices,
                w,
                rows,
                cols,
                x,
                y,
                scale,
                ..
            } => {
                let sc = if *scale == 1.0 {
                    String::new()
                } else {
                    format!("{scale} * ")
                };
                format!(
                    "{} += {sc}{} [{rows}x{cols} sparse, {} entries] . {}",
                    n(y),
                    n(w),
                    self.buffer(*indices).len,
                    n(x)
                )
            }
            Op::DelayedMatVecInc {
                m,
                delays,
                rows,
                cols,
                x,
                ring,
                slots,
            } => format!(
                "{}[t + {} mod {slots}] += {} [{rows}x{cols}] . {}",
                n(ring),
                n(delays),
                n(m),
                n(x)
            ),
            Op::DelayedSparseInc {
                indices,
                w,
                delays,
                rows,
                cols,
                x,
                ring,
                slots,
                ..
            } => format!(
                "{}[t + {} mod {slots}] += {} [{rows}x{cols} sparse, {} entries] . {}",
                n(ring),
                n(delays),
                n(w),
                self.buffer(*indices).len,
                n(x)
            ),
            Op::DelayWrite {
                x,
                ring,
                slots,
                delay,
            } => format!("{}[t + {delay} mod {slots}] += {}", n(ring), n(x)),
            Op::DelayRead {
                ring,
                slots,
                y,
                scale,
            } => {
                let sc = if *scale == 1.0 {
                    String::new()
                } else {
                    format!("{scale} * ")
                };
                format!("{} += {sc}{}[t mod {slots}], then cleared", n(y), n(ring))
            }
            Op::StdpSparse {
                w,
                pre,
                post,
                rows,
                cols,
                indices,
                ..
            } => format!(
                "{} [{rows}x{cols} sparse, {} entries] learns from {} and {}",
                n(w),
                self.buffer(*indices).len,
                n(pre),
                n(post)
            ),
            Op::NormalizeRowsSparse {
                w, rows, target, ..
            } => format!(
                "rows of {} [{rows} rows, sparse] scaled to sum {target}",
                n(w)
            ),
            Op::Stdp {
                w,
                pre,
                post,
                rows,
                cols,
                ..
            } => format!(
                "{} [{rows}x{cols}] learns from {} and {}",
                n(w),
                n(pre),
                n(post)
            ),
            Op::ArrivalMatVecInc {
                m,
                delays,
                rows,
                cols,
                hist,
                y,
                scale,
                ..
            } => format!(
                "{} += {scale} * {} [{rows}x{cols}] . {}[t - {}]",
                n(y),
                n(m),
                n(hist),
                n(delays)
            ),
            Op::ArrivalSparseInc {
                w,
                indices,
                delays,
                rows,
                cols,
                hist,
                y,
                scale,
                ..
            } => format!(
                "{} += {scale} * {} [{rows}x{cols} sparse, {} entries] . {}[t - {}]",
                n(y),
                n(w),
                self.buffer(*indices).len,
                n(hist),
                n(delays)
            ),
            Op::PreHistory {
                pre,
                r1,
                r2,
                hist,
                slots,
                ..
            } => format!(
                "{}[t mod {slots}] = ({}, {}, {})",
                n(hist),
                n(pre),
                n(r1),
                n(r2)
            ),
            Op::StdpDelayed {
                w,
                delays,
                rows,
                cols,
                hist,
                post,
                ..
            } => format!(
                "{} [{rows}x{cols}] learns from {}[t - {}] and {}",
                n(w),
                n(hist),
                n(delays),
                n(post)
            ),
            Op::StdpSparseDelayed {
                w,
                indices,
                delays,
                rows,
                cols,
                hist,
                post,
                ..
            } => format!(
                "{} [{rows}x{cols} sparse, {} entries] learns from {}[t - {}] and {}",
                n(w),
                self.buffer(*indices).len,
                n(hist),
                n(delays),
                n(post)
            ),
            Op::Pes {
                alpha,
                rows,
                cols,
                error,
                pre,
                delta,
                ..
            } => format!(
                "{} [{rows}x{cols}] = {alpha:e} * outer({}, {})",
                n(delta),
                n(error),
                n(pre)
            ),
            Op::Bcm {
                alpha,
                rows,
                cols,
                pre,
                post,
                theta,
                delta,
                ..
            } => format!(
                "{} [{rows}x{cols}] = {alpha:e} * outer({p} * ({p} - {}), {})",
                n(delta),
                n(theta),
                n(pre),
                p = n(post)
            ),
            Op::Oja {
                alpha,
                beta,
                rows,
                cols,
                pre,
                post,
                w,
                delta,
                ..
            } => format!(
                "{} [{rows}x{cols}] = {alpha:e} * (outer({p}, {}) - {beta} * {p}^2 * {})",
                n(delta),
                n(pre),
                n(w),
                p = n(post)
            ),
            Op::Trace {
                x,
                spikes,
                decay,
                nearest,
            } => format!(
                "{} = {} * {decay}, {} at {}",
                n(x),
                n(x),
                if *nearest { "set to 1" } else { "+ 1" },
                n(spikes)
            ),
            Op::NormalizeRows {
                w,
                rows,
                cols,
                target,
            } => format!("rows of {} [{rows}x{cols}] scaled to sum {target}", n(w)),
            Op::Neurons {
                neuron,
                n: count,
                j,
                out,
                state,
                ..
            } => {
                let st: Vec<String> = state.iter().map(n).collect();
                format!(
                    "{} = {neuron} x{count} ({}; state: {})",
                    n(out),
                    n(j),
                    st.join(", ")
                )
            }
            Op::Lowpass { a, x, y } => format!("{} = lowpass(a={a}) <- {}", n(y), n(x)),
            Op::Alpha { a, x, z, y, .. } => {
                format!("{} = alpha(a={a}, stage {}) <- {}", n(y), n(z), n(x))
            }
            Op::Probe {
                probe,
                src,
                sampling,
            } => {
                format!(
                    "probe{probe} <- {} every {} step(s)",
                    n(src),
                    sampling.period
                )
            }
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (per_instance, shared) = self.bytes();
        writeln!(
            f,
            "Plan: dt = {} s, batch = {}, {} neurons per instance, {} buffers ({} B per instance, {} B shared)",
            self.dt,
            self.batch,
            self.n_neurons(),
            self.buffers.len(),
            per_instance,
            shared
        )?;
        writeln!(f, "buffers:")?;
        for (i, b) in self.buffers.iter().enumerate() {
            let shape = if b.batched() {
                format!("[B, {}]", b.len)
            } else {
                format!("[{}]", b.len)
            };
            let kind = match b.kind {
                BufferKind::State => "state",
                BufferKind::Temp => "temp",
                BufferKind::Param => "param",
                BufferKind::Index => "index",
            };
            writeln!(f, "  #{i:<3} {:<28} {shape:<12} {kind}", b.name)?;
        }
        writeln!(f, "timestep ({} ops):", self.step.len())?;
        for (i, op) in self.step.iter().enumerate() {
            writeln!(f, "  {i:>3}  {:<24} {}", op.name(), self.describe(op))?;
        }
        if !self.boundary.is_empty() {
            writeln!(f, "presentation boundary ({} ops):", self.boundary.len())?;
            for (i, op) in self.boundary.iter().enumerate() {
                writeln!(f, "  {i:>3}  {:<24} {}", op.name(), self.describe(op))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Sampling;

    fn steps(s: Sampling, to: u64) -> Vec<u64> {
        (1..=to).filter(|&n| s.records(n)).collect()
    }

    #[test]
    fn sampling_follows_nengo() {
        // Nengo 4.1.0: `Probe(u, sample_every=S)` at dt 1 ms, `sim.trange(sample_every=S)`.
        let dt = 0.001;
        let at = |s: f64, to| steps(Sampling { period: s / dt }, to);
        assert_eq!(at(0.0015, 11), [2, 3, 5, 6, 8, 9, 11]);
        assert_eq!(at(0.0025, 11), [3, 5, 8, 10]);
        assert_eq!(at(0.0004, 5), [1, 2, 3, 4, 5]);
        assert_eq!(at(0.003, 10), [3, 6, 9]);
        // 4.001 / 0.001 = 4001.0000000000005: Nengo's samples are at 4.002 s and 8.003 s.
        assert_eq!(at(4.001, 8010), [4002, 8003]);
        assert!(steps(Sampling::NEVER, 1000).is_empty());
    }

    #[test]
    fn max_samples_bounds_every_window() {
        for period in [0.4, 1.0, 1.5, 2.5, 3.0, 7.0, 33.3, 4001.0000000000005] {
            let s = Sampling { period };
            for len in [1usize, 2, 3, 7, 32, 97] {
                let most = (0..500u64)
                    .map(|a| (a + 1..=a + len as u64).filter(|&n| s.records(n)).count())
                    .max()
                    .unwrap();
                assert!(most <= s.max_samples(len), "period {period} len {len}");
            }
        }
        assert_eq!(Sampling::EVERY_STEP.max_samples(97), 97);
        assert_eq!(Sampling { period: 3.0 }.max_samples(97), 33);
    }
}
