//! The CPU reference backend: one plain function per [`Op`], written to be obviously right.
//!
//! Each function is named like its op (and like the WGSL kernel that must compute the same thing),
//! works on whole batched buffers laid out `[instance][len]`, and computes in f32 like the GPU.

use super::{Backend, HostInputs, ProbeRecords};
use crate::compile::{BufId, Op, Plan};
use crate::error::{Error, Result};
use crate::model::{LifParams, NeuronType};
use crate::rng::Keying;
use rayon::prelude::*;

use super::simd::multiversion;

/// The CPU backend: owns every buffer of a plan in host memory.
pub struct CpuBackend {
    plan: Plan,
    bufs: Vec<Vec<f32>>,
    /// Per buffer: `(rows, cols)` where the buffer is kept presynaptic-major (see
    /// [`presynaptic_major`]); `read` and `write` convert.
    t_shape: Vec<Option<(usize, usize)>>,
    /// Per buffer: the [`ArrivalIndex`] of a delay matrix read by [`arrival_matvec_inc`],
    /// [`stdp_delayed`], their sparse forms, or [`delayed_matvec_inc`] on weights in arrival
    /// order (rebuilt when the buffer is written).
    arrival: Vec<Option<ArrivalIndex>>,
    /// Per buffer: the delay matrix in whose arrival order ([`ArrivalIndex::arrange`]) a
    /// weight matrix is kept (see [`arranged_by_arrival`]); `read` and `write` convert.
    arranged: Vec<Option<BufId>>,
    /// Per `indices` buffer of a sparse matrix without delays: its entries by column
    /// ([`ArrivalIndex::sparse`] with one slot), for [`sparse_inc_indexed`] and
    /// [`stdp_sparse_indexed`]. A sparse matrix's structure never changes after the build
    /// ([`crate::compile::Plan::check_write`]), so neither does this.
    columns: Vec<Option<ArrivalIndex>>,
    /// Per output buffer of a [`poisson_spikes`] op, per piece of it (the whole buffer, or each
    /// piece one of rayon's threads draws): the elements that draw, gathered from the rates of
    /// the last step, kept while the rates stay the same (a whole presentation of an image), so
    /// that a step only draws.
    poisson: Vec<Vec<Option<PoissonGroups>>>,
}

impl CpuBackend {
    /// Allocates and initialises every buffer of `plan`.
    pub fn new(plan: &Plan) -> Result<Self> {
        Self::with_layout(plan, true)
    }

    /// [`CpuBackend::new`] with the presynaptic-major layout of input weight matrices on or off
    /// (off: every buffer row-major and only the plain functions; for tests and measurements:
    /// the results are bit-identical either way).
    pub fn with_layout(plan: &Plan, presynaptic_major_weights: bool) -> Result<Self> {
        let mut bufs = Vec::with_capacity(plan.buffers.len());
        for b in &plan.buffers {
            let copies = if b.batched() { plan.batch } else { 1 };
            let total = b.len.checked_mul(copies).ok_or_else(|| Error::Backend {
                backend: "cpu".into(),
                reason: format!(
                    "buffer {} of {} x {} values overflows",
                    b.name, b.len, copies
                ),
            })?;
            let mut v = Vec::new();
            v.try_reserve_exact(total).map_err(|_| Error::Backend {
                backend: "cpu".into(),
                reason: format!(
                    "out of memory allocating buffer {} ({} values)",
                    b.name, total
                ),
            })?;
            for _ in 0..copies {
                v.extend_from_slice(&b.init);
            }
            bufs.push(v);
        }
        let mut t_shape = if presynaptic_major_weights {
            presynaptic_major(plan)
        } else {
            vec![None; plan.buffers.len()]
        };
        let arranged = arranged_by_arrival(plan, &t_shape);
        // A matrix with delays, and its delays, are never transposed: the matrix is in arrival
        // order, or row-major where it is not eligible.
        for op in plan.step.iter().chain(&plan.boundary) {
            if let Op::ArrivalMatVecInc { m: w, delays, .. }
            | Op::StdpDelayed { w, delays, .. }
            | Op::DelayedMatVecInc { m: w, delays, .. } = op
            {
                t_shape[w.0] = None;
                t_shape[delays.0] = None;
            }
        }
        for (v, s) in bufs.iter_mut().zip(&t_shape) {
            if let Some((rows, cols)) = *s {
                *v = transpose_blocks(v, rows, cols, false);
            }
        }
        let mut arrival: Vec<Option<ArrivalIndex>> = vec![None; plan.buffers.len()];
        for op in plan.step.iter().chain(&plan.boundary) {
            let (delays, rows, cols, slots) = match op {
                Op::ArrivalMatVecInc {
                    delays,
                    rows,
                    cols,
                    slots,
                    ..
                }
                | Op::StdpDelayed {
                    delays,
                    rows,
                    cols,
                    slots,
                    ..
                } => (delays, rows, cols, slots),
                Op::DelayedMatVecInc {
                    m,
                    delays,
                    rows,
                    cols,
                    slots,
                    ..
                } if arranged[m.0].is_some() => (delays, rows, cols, slots),
                Op::ArrivalSparseInc {
                    indptr,
                    indices,
                    delays,
                    rows,
                    cols,
                    slots,
                    ..
                }
                | Op::StdpSparseDelayed {
                    indptr,
                    indices,
                    delays,
                    rows,
                    cols,
                    slots,
                    ..
                }
                | Op::DelayedSparseInc {
                    indptr,
                    indices,
                    delays,
                    rows,
                    cols,
                    slots,
                    ..
                // Frozen transmission is indexed in the fast layout only, so that the other
                // keeps the full scan to compare with.
                } if presynaptic_major_weights || !matches!(op, Op::DelayedSparseInc { .. }) => {
                    if arrival[delays.0].is_none() {
                        arrival[delays.0] = Some(ArrivalIndex::sparse(
                            &bufs[indptr.0],
                            &bufs[indices.0],
                            &bufs[delays.0],
                            *rows,
                            *cols,
                            *slots,
                        ));
                    }
                    continue;
                }
                _ => continue,
            };
            // Transmission and STDP of one connection share their delays: index them once.
            if arrival[delays.0].is_none() {
                arrival[delays.0] = Some(ArrivalIndex::new(&bufs[delays.0], *rows, *cols, *slots));
            }
        }
        for (v, a) in bufs.iter_mut().zip(&arranged) {
            if let Some(d) = a {
                *v = arrival[d.0]
                    .as_ref()
                    .expect("indexed above")
                    .arrange(v, false);
            }
        }
        let mut columns: Vec<Option<ArrivalIndex>> = vec![None; plan.buffers.len()];
        for op in plan.step.iter().chain(&plan.boundary) {
            if let Op::SparseInc {
                indptr,
                indices,
                rows,
                cols,
                ..
            }
            | Op::StdpSparse {
                indptr,
                indices,
                rows,
                cols,
                ..
            } = op
                && presynaptic_major_weights
                && columns[indices.0].is_none()
            {
                let (ip, ind) = (&bufs[indptr.0], &bufs[indices.0]);
                let no_delays = vec![crate::compile::index_to_f32(0); ind.len()];
                columns[indices.0] =
                    Some(ArrivalIndex::sparse(ip, ind, &no_delays, *rows, *cols, 1));
            }
        }
        Ok(CpuBackend {
            plan: plan.clone(),
            bufs,
            t_shape,
            arrival,
            arranged,
            columns,
            poisson: (0..plan.buffers.len()).map(|_| Vec::new()).collect(),
        })
    }

    /// The buffers kept presynaptic-major on this backend (see [`CpuBackend::with_layout`]):
    /// transposed, or in the arrival order of their delays (column by column as well).
    pub fn presynaptic_major_buffers(&self) -> Vec<BufId> {
        let mut v = shaped_buffers(&self.t_shape);
        v.extend(self.arrival_ordered_buffers());
        v.sort();
        v
    }

    /// The weight matrices kept in the arrival order of their delays (a subset of
    /// [`Self::presynaptic_major_buffers`]).
    pub fn arrival_ordered_buffers(&self) -> Vec<BufId> {
        (0..self.arranged.len())
            .filter(|&i| self.arranged[i].is_some())
            .map(BufId)
            .collect()
    }

    /// The index buffers through which this backend finds a sparse matrix's entries by column
    /// (the `indices` of one without delays) or by column and delay (the `delays` of one with
    /// delays), instead of scanning every stored entry.
    pub fn indexed_sparse_buffers(&self) -> Vec<BufId> {
        let sparse = |a: &Option<ArrivalIndex>| a.as_ref().is_some_and(|a| a.sparse.is_some());
        (0..self.bufs.len())
            .filter(|&i| sparse(&self.columns[i]) || sparse(&self.arrival[i]))
            .map(BufId)
            .collect()
    }

    /// `logical` (the plan's layout, all copies) as this backend stores buffer `id`.
    fn stored(&self, id: BufId, logical: &[f32]) -> Vec<f32> {
        match (self.t_shape[id.0], self.arranged[id.0]) {
            (Some((rows, cols)), _) => transpose_blocks(logical, rows, cols, false),
            (None, Some(d)) => self.index_of(d).arrange(logical, false),
            (None, None) => logical.to_vec(),
        }
    }

    /// Buffer `id` as stored, in the plan's layout.
    fn logical(&self, id: BufId) -> Vec<f32> {
        let v = &self.bufs[id.0];
        match (self.t_shape[id.0], self.arranged[id.0]) {
            (Some((rows, cols)), _) => transpose_blocks(v, rows, cols, true),
            (None, Some(d)) => self.index_of(d).arrange(v, true),
            (None, None) => v.clone(),
        }
    }

    fn index_of(&self, delays: BufId) -> &ArrivalIndex {
        self.arrival[delays.0]
            .as_ref()
            .expect("built for every arrival op")
    }

    /// Takes a buffer out (to write it while reading others); put it back with [`Self::put`].
    fn take(&mut self, id: BufId) -> Vec<f32> {
        std::mem::take(&mut self.bufs[id.0])
    }
    fn put(&mut self, id: BufId, v: Vec<f32>) {
        self.bufs[id.0] = v;
    }

    /// Runs the step ops `ops` of `n_steps` steps from `first_step` (the whole step, or a part
    /// of one that the host interrupts: `Backend::run_part`).
    fn run_ops(
        &mut self,
        first_step: u64,
        n_steps: usize,
        ops: std::ops::Range<usize>,
        host: &HostInputs,
        records: &mut ProbeRecords,
    ) {
        if records.values.len() < self.plan.probes.len() {
            records.values.resize(self.plan.probes.len(), Vec::new());
        }
        let _flush = FlushSubnormals::new();
        let all = std::mem::take(&mut self.plan.step);
        for k in 0..n_steps {
            let step = first_step + k as u64;
            for op in &all[ops.clone()] {
                self.exec(op, step, k, host, records);
            }
        }
        self.plan.step = all;
    }

    fn exec(&mut self, op: &Op, step: u64, k: usize, host: &HostInputs, rec: &mut ProbeRecords) {
        let batch = self.plan.batch;
        let dt = self.plan.dt as f32;
        match op {
            Op::Zero { dst } => zero(&mut self.bufs[dst.0]),
            Op::Broadcast { src, dst } => {
                let mut y = self.take(*dst);
                broadcast(&self.bufs[src.0], &mut y);
                self.put(*dst, y);
            }
            // The host evaluates the node between the parts of the step (`run_part`).
            Op::HostCall { .. } => {}
            Op::HostInput { slot, dst } => {
                let per_step = self.plan.host_inputs[*slot].size * batch;
                let src = &host.values[*slot][k * per_step..(k + 1) * per_step];
                self.bufs[dst.0].copy_from_slice(src);
            }
            Op::PoissonSpikes { rates, out, stream } => {
                let mut o = self.take(*out);
                poisson_spikes_kept(
                    self.plan.seed,
                    self.plan.keying,
                    self.plan.buffers[out.0].len,
                    *stream,
                    step,
                    dt,
                    &self.bufs[rates.0],
                    &mut o,
                    &mut self.poisson[out.0],
                );
                self.put(*out, o);
            }
            Op::UniformNoise {
                low,
                high,
                out,
                stream,
            } => uniform_noise(
                self.plan.seed,
                self.plan.keying,
                self.plan.buffers[out.0].len,
                *stream,
                step,
                *low,
                *high,
                &mut self.bufs[out.0],
            ),
            Op::AddInc { x, y } => {
                let mut yv = self.take(*y);
                add_inc(&self.bufs[x.0], &mut yv);
                self.put(*y, yv);
            }
            Op::ScaleInc { s, x, y } => {
                let mut yv = self.take(*y);
                scale_inc(&self.bufs[s.0], &self.bufs[x.0], &mut yv);
                self.put(*y, yv);
            }
            Op::MatVecInc {
                m,
                rows,
                cols,
                x,
                y,
                scale,
            } => {
                let mut yv = self.take(*y);
                let f = if self.t_shape[m.0].is_some() {
                    matvec_inc_t
                } else {
                    matvec_inc
                };
                f(
                    &self.bufs[m.0],
                    *rows,
                    *cols,
                    &self.bufs[x.0],
                    &mut yv,
                    *scale,
                );
                self.put(*y, yv);
            }
            Op::SparseInc {
                indptr,
                indices,
                w,
                rows,
                cols,
                x,
                y,
                scale,
            } => {
                let mut yv = self.take(*y);
                match &self.columns[indices.0] {
                    Some(index) if index.sorted() => {
                        sparse_inc_indexed(index, &self.bufs[w.0], &self.bufs[x.0], &mut yv, *scale)
                    }
                    _ => sparse_inc(
                        &self.bufs[indptr.0],
                        &self.bufs[indices.0],
                        &self.bufs[w.0],
                        *rows,
                        *cols,
                        &self.bufs[x.0],
                        &mut yv,
                        *scale,
                    ),
                }
                self.put(*y, yv);
            }
            Op::DelayedMatVecInc {
                m,
                delays,
                rows,
                cols,
                x,
                ring,
                slots,
            } => {
                let mut r = self.take(*ring);
                if self.arranged[m.0].is_some() {
                    delayed_matvec_inc_arranged(
                        step,
                        &self.bufs[m.0],
                        self.index_of(*delays),
                        *rows,
                        *cols,
                        &self.bufs[x.0],
                        &mut r,
                        *slots,
                    );
                } else {
                    delayed_matvec_inc(
                        step,
                        &self.bufs[m.0],
                        &self.bufs[delays.0],
                        *rows,
                        *cols,
                        &self.bufs[x.0],
                        &mut r,
                        *slots,
                    );
                }
                self.put(*ring, r);
            }
            Op::DelayedSparseInc {
                indptr,
                indices,
                w,
                delays,
                rows,
                cols,
                x,
                ring,
                slots,
            } => {
                let mut r = self.take(*ring);
                match &self.arrival[delays.0] {
                    Some(index) if index.sorted() => delayed_sparse_inc_indexed(
                        step,
                        index,
                        &self.bufs[w.0],
                        &self.bufs[x.0],
                        &mut r,
                    ),
                    _ => delayed_sparse_inc(
                        step,
                        &self.bufs[indptr.0],
                        &self.bufs[indices.0],
                        &self.bufs[w.0],
                        &self.bufs[delays.0],
                        *rows,
                        *cols,
                        &self.bufs[x.0],
                        &mut r,
                        *slots,
                    ),
                }
                self.put(*ring, r);
            }
            Op::DelayWrite {
                x,
                ring,
                slots,
                delay,
            } => {
                let mut r = self.take(*ring);
                let n = self.plan.buffer(*x).len;
                delay_write(step, *delay, *slots, n, &self.bufs[x.0], &mut r);
                self.put(*ring, r);
            }
            Op::DelayRead {
                ring,
                slots,
                y,
                scale,
            } => {
                let mut yv = self.take(*y);
                let n = self.plan.buffer(*y).len;
                delay_read(step, *slots, n, *scale, &mut self.bufs[ring.0], &mut yv);
                self.put(*y, yv);
            }
            Op::StdpSparse {
                rule,
                indptr,
                indices,
                w,
                rows,
                cols,
                pre,
                post,
                traces,
                learn,
            } => {
                let mut wv = self.take(*w);
                let tr = [
                    &self.bufs[traces[0].0][..],
                    &self.bufs[traces[1].0][..],
                    &self.bufs[traces[2].0][..],
                    &self.bufs[traces[3].0][..],
                ];
                let (pre, post, learn) =
                    (&self.bufs[pre.0], &self.bufs[post.0], self.bufs[learn.0][0]);
                match &self.columns[indices.0] {
                    Some(index) => stdp_sparse_indexed(rule, index, &mut wv, pre, post, tr, learn),
                    None => stdp_sparse(
                        rule,
                        &self.bufs[indptr.0],
                        &self.bufs[indices.0],
                        *rows,
                        *cols,
                        &mut wv,
                        pre,
                        post,
                        tr,
                        learn,
                    ),
                }
                self.put(*w, wv);
            }
            Op::PreHistory {
                pre,
                r1,
                r2,
                hist,
                cols,
                slots,
            } => {
                let mut h = self.take(*hist);
                pre_history(
                    step,
                    *slots,
                    *cols,
                    &self.bufs[pre.0],
                    &self.bufs[r1.0],
                    &self.bufs[r2.0],
                    &mut h,
                );
                self.put(*hist, h);
            }
            Op::ArrivalMatVecInc {
                m,
                delays,
                rows,
                cols,
                hist,
                slots,
                y,
                scale,
            } => {
                let mut yv = self.take(*y);
                let index = self.arrival[delays.0]
                    .as_ref()
                    .expect("built for every arrival op");
                let f = if self.arranged[m.0].is_some() {
                    arrival_matvec_inc_arranged
                } else {
                    arrival_matvec_inc
                };
                f(
                    step,
                    &self.bufs[m.0],
                    index,
                    *rows,
                    *cols,
                    *slots,
                    &self.bufs[hist.0],
                    &mut yv,
                    *scale,
                );
                self.put(*y, yv);
            }
            Op::ArrivalSparseInc {
                indptr,
                indices,
                w,
                delays,
                rows,
                cols,
                hist,
                slots,
                y,
                scale,
            } => {
                let mut yv = self.take(*y);
                let index = self.index_of(*delays);
                if index.sorted() {
                    arrival_sparse_inc_indexed(
                        step,
                        index,
                        &self.bufs[w.0],
                        &self.bufs[hist.0],
                        &mut yv,
                        *scale,
                    );
                } else {
                    arrival_sparse_inc(
                        step,
                        &self.bufs[indptr.0],
                        &self.bufs[indices.0],
                        &self.bufs[w.0],
                        &self.bufs[delays.0],
                        *rows,
                        *cols,
                        *slots,
                        &self.bufs[hist.0],
                        &mut yv,
                        *scale,
                    );
                }
                self.put(*y, yv);
            }
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
            } => {
                let mut wv = self.take(*w);
                let index = self.arrival[delays.0]
                    .as_ref()
                    .expect("built for every arrival op");
                let f = if self.arranged[w.0].is_some() {
                    stdp_delayed_arranged
                } else {
                    stdp_delayed
                };
                f(
                    rule,
                    step,
                    *rows,
                    *cols,
                    *slots,
                    &self.bufs[delays.0],
                    index,
                    &self.bufs[hist.0],
                    &mut wv,
                    &self.bufs[post.0],
                    [&self.bufs[post_traces[0].0], &self.bufs[post_traces[1].0]],
                    self.bufs[learn.0][0],
                );
                self.put(*w, wv);
            }
            Op::StdpSparseDelayed {
                rule,
                w,
                delays,
                hist,
                post,
                post_traces,
                learn,
                ..
            } => {
                let mut wv = self.take(*w);
                stdp_sparse_delayed_indexed(
                    rule,
                    step,
                    self.index_of(*delays),
                    &self.bufs[delays.0],
                    &self.bufs[hist.0],
                    &mut wv,
                    &self.bufs[post.0],
                    [&self.bufs[post_traces[0].0], &self.bufs[post_traces[1].0]],
                    self.bufs[learn.0][0],
                );
                self.put(*w, wv);
            }
            Op::NormalizeRowsSparse {
                indptr,
                w,
                rows,
                target,
            } => {
                let mut wv = self.take(*w);
                normalize_rows_sparse(&self.bufs[indptr.0], *rows, &mut wv, *target);
                self.put(*w, wv);
            }
            Op::AllButSelfInc { s, x, y } => {
                let mut yv = self.take(*y);
                all_but_self_inc(&self.bufs[s.0], &self.bufs[x.0], &mut yv);
                self.put(*y, yv);
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
            } => {
                let mut wv = self.take(*w);
                let tr = [
                    &self.bufs[traces[0].0][..],
                    &self.bufs[traces[1].0][..],
                    &self.bufs[traces[2].0][..],
                    &self.bufs[traces[3].0][..],
                ];
                let f = if self.t_shape[w.0].is_some() {
                    stdp_t
                } else {
                    stdp
                };
                f(
                    rule,
                    *rows,
                    *cols,
                    &mut wv,
                    &self.bufs[pre.0],
                    &self.bufs[post.0],
                    tr,
                    self.bufs[learn.0][0],
                );
                self.put(*w, wv);
            }
            Op::Pes {
                alpha,
                rows,
                cols,
                error,
                pre,
                delta,
                learn,
            } => {
                let mut d = self.take(*delta);
                pes(
                    *alpha,
                    *rows,
                    *cols,
                    &self.bufs[error.0],
                    &self.bufs[pre.0],
                    self.bufs[learn.0][0],
                    &mut d,
                );
                self.put(*delta, d);
            }
            Op::Bcm {
                alpha,
                rows,
                cols,
                pre,
                post,
                theta,
                delta,
                learn,
            } => {
                let mut d = self.take(*delta);
                bcm(
                    *alpha,
                    *rows,
                    *cols,
                    &self.bufs[pre.0],
                    &self.bufs[post.0],
                    &self.bufs[theta.0],
                    self.bufs[learn.0][0],
                    &mut d,
                );
                self.put(*delta, d);
            }
            Op::Oja {
                alpha,
                beta,
                rows,
                cols,
                pre,
                post,
                w,
                delta,
                learn,
            } => {
                let mut d = self.take(*delta);
                oja(
                    *alpha,
                    *beta,
                    *rows,
                    *cols,
                    &self.bufs[pre.0],
                    &self.bufs[post.0],
                    &self.bufs[w.0],
                    self.bufs[learn.0][0],
                    &mut d,
                );
                self.put(*delta, d);
            }
            Op::Trace {
                x,
                spikes,
                decay,
                nearest,
            } => {
                let mut xv = self.take(*x);
                trace(*decay, *nearest, &self.bufs[spikes.0], &mut xv);
                self.put(*x, xv);
            }
            Op::NormalizeRows {
                w,
                rows,
                cols,
                target,
            } => {
                if let Some(d) = self.arranged[w.0] {
                    let index = self.arrival[d.0]
                        .as_ref()
                        .expect("built for every arrival op");
                    normalize_rows_arranged(&mut self.bufs[w.0], index, *rows, *cols, *target);
                } else if self.t_shape[w.0].is_some() {
                    normalize_rows_t(&mut self.bufs[w.0], *rows, *cols, *target);
                } else {
                    normalize_rows(&mut self.bufs[w.0], *rows, *cols, *target);
                }
            }
            Op::Neurons {
                neuron,
                j,
                out,
                state,
                learn,
                ..
            } => {
                let learn = learn.map_or(0.0, |l| self.bufs[l.0][0]);
                let mut o = self.take(*out);
                let mut st: Vec<Vec<f32>> = state.iter().map(|s| self.take(*s)).collect();
                let jv = &self.bufs[j.0];
                match (neuron, st.as_mut_slice()) {
                    (NeuronType::Lif(p), [v, r]) => lif(&LifConsts::new(p), dt, jv, &mut o, v, r),
                    (NeuronType::LifRate(p), []) => lif_rate(&LifConsts::new(p), jv, &mut o),
                    (
                        NeuronType::AdaptiveLif {
                            lif: p,
                            tau_n,
                            inc_n,
                        },
                        [v, r, n],
                    ) => adaptive_lif(
                        &LifConsts::new(p),
                        *tau_n as f32,
                        *inc_n as f32,
                        dt,
                        jv,
                        &mut o,
                        v,
                        r,
                        n,
                    ),
                    (NeuronType::SpikingRectifiedLinear { amplitude }, [v]) => {
                        spiking_rectified_linear(*amplitude as f32, dt, jv, &mut o, v)
                    }
                    (NeuronType::RectifiedLinear { amplitude }, []) => {
                        rectified_linear(*amplitude as f32, jv, &mut o)
                    }
                    (
                        NeuronType::Izhikevich {
                            tau_recovery,
                            coupling,
                            reset_voltage,
                            reset_recovery,
                        },
                        [v, u],
                    ) => izhikevich(
                        &IzhConsts {
                            a: *tau_recovery as f32,
                            b: *coupling as f32,
                            c: *reset_voltage as f32,
                            d: *reset_recovery as f32,
                        },
                        dt,
                        jv,
                        &mut o,
                        v,
                        u,
                    ),
                    (NeuronType::DiehlCook(p), [v, ge, gi, theta, acc, refr, ge_in, gi_in]) => {
                        diehl_cook(
                            &DcConsts::new(p, self.plan.dt),
                            learn,
                            &mut o,
                            [v, ge, gi, theta, acc, refr, ge_in, gi_in],
                        )
                    }
                    _ => unreachable!("compile gives each neuron type its state buffers"),
                }
                self.put(*out, o);
                for (s, v) in state.iter().zip(st) {
                    self.put(*s, v);
                }
            }
            Op::Lowpass { a, x, y } => {
                let mut yv = self.take(*y);
                lowpass(*a, &self.bufs[x.0], &mut yv);
                self.put(*y, yv);
            }
            Op::Alpha { a, c1, c2, x, z, y } => {
                let mut zv = self.take(*z);
                let mut yv = self.take(*y);
                alpha(*a, *c1, *c2, &self.bufs[x.0], &mut zv, &mut yv);
                self.put(*z, zv);
                self.put(*y, yv);
            }
            Op::Probe {
                probe,
                src,
                sampling,
            } => {
                if sampling.records(step + 1) {
                    rec.values[*probe].extend_from_slice(&self.bufs[src.0]);
                }
            }
        }
    }
}

/// Flushes subnormal f32 values to zero (inputs and results) on the current thread while it
/// lives, restoring the previous mode when dropped. The CPU backend runs its ops under it: state
/// that decays towards zero (conductances, traces) otherwise spends long stretches in the
/// subnormal range, where x86 CPUs take a slow path for every operation (a 1,600-neuron
/// Diehl & Cook run went 2.5x faster with it); WGSL lets GPUs flush them too. A subnormal
/// value is below 1.2e-38: added to the normal numbers it meets here it changes nothing, so the
/// dynamics do not change. On targets other than x86-64 and aarch64 it does nothing.
pub(crate) struct FlushSubnormals {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    saved: u64,
}

impl FlushSubnormals {
    pub(crate) fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            // MXCSR bit 15: flush results to zero; bit 6: treat subnormal inputs as zero.
            #[allow(deprecated)]
            // SAFETY: changes only this thread's floating-point mode, restored on drop.
            let saved = unsafe {
                let saved = std::arch::x86_64::_mm_getcsr();
                std::arch::x86_64::_mm_setcsr(saved | 0x8040);
                saved
            };
            FlushSubnormals {
                saved: saved as u64,
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            // FPCR bit 24 (FZ): flush subnormal inputs and results to zero.
            let saved: u64;
            // SAFETY: changes only this thread's floating-point mode, restored on drop.
            unsafe {
                std::arch::asm!("mrs {0}, fpcr", out(reg) saved);
                std::arch::asm!("msr fpcr, {0}", in(reg) saved | (1 << 24));
            }
            FlushSubnormals { saved }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            FlushSubnormals {}
        }
    }
}

impl Drop for FlushSubnormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        #[allow(deprecated)]
        // SAFETY: restores the mode saved in `new`.
        unsafe {
            std::arch::x86_64::_mm_setcsr(self.saved as u32);
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: restores the mode saved in `new`.
        unsafe {
            std::arch::asm!("msr fpcr, {0}", in(reg) self.saved);
        }
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn device(&self) -> String {
        cpu_model()
    }

    fn run(
        &mut self,
        first_step: u64,
        n_steps: usize,
        host: &HostInputs,
        records: &mut ProbeRecords,
    ) -> Result<()> {
        if self.plan.has_host_calls() {
            return Err(super::whole_steps_refused("cpu"));
        }
        self.run_ops(first_step, n_steps, 0..self.plan.step.len(), host, records);
        Ok(())
    }

    fn run_part(
        &mut self,
        step: u64,
        ops: std::ops::Range<usize>,
        host: &HostInputs,
        records: &mut ProbeRecords,
    ) -> Result<()> {
        self.run_ops(step, 1, ops, host, records);
        Ok(())
    }

    fn reset(&mut self) -> Result<()> {
        // Per-instance buffers only: shared parameters (weights, the learning switch) keep
        // their current values, as on the GPU.
        for i in 0..self.bufs.len() {
            let b = &self.plan.buffers[i];
            if b.batched() {
                let init = self.stored(BufId(i), &b.init);
                for chunk in self.bufs[i].chunks_mut(b.len.max(1)) {
                    chunk.copy_from_slice(&init);
                }
            }
        }
        Ok(())
    }

    fn write(&mut self, buf: BufId, data: &[f32]) -> Result<()> {
        self.plan.check_write(buf, data)?;
        if let Some(index) = self.arrival[buf.0].as_ref().map(|a| a.rebuilt(data)) {
            // New delays: the weights kept in their arrival order move with them.
            let moved: Vec<(BufId, Vec<f32>)> = (0..self.arranged.len())
                .filter(|&i| self.arranged[i] == Some(buf))
                .map(|i| (BufId(i), self.logical(BufId(i))))
                .collect();
            for (w, v) in moved {
                self.bufs[w.0] = index.arrange(&v, false);
            }
            self.arrival[buf.0] = Some(index);
        }
        self.bufs[buf.0] = self.stored(buf, data);
        Ok(())
    }

    fn boundary(&mut self) -> Result<()> {
        let _flush = FlushSubnormals::new();
        let ops = std::mem::take(&mut self.plan.boundary);
        let mut rec = ProbeRecords::default();
        for op in &ops {
            self.exec(op, 0, 0, &HostInputs::default(), &mut rec);
        }
        self.plan.boundary = ops;
        Ok(())
    }

    fn read(&mut self, buf: BufId) -> Result<Vec<f32>> {
        if buf.0 >= self.bufs.len() {
            return Err(Error::Other(format!("no buffer {buf} in this plan")));
        }
        Ok(self.logical(buf))
    }
}

/// The CPU's model name (from /proc/cpuinfo where there is one), and how many threads this
/// backend may spread work over (rayon's pool: `RAYON_NUM_THREADS`, else one per core); which
/// ops it splits, and from what size: [`PARALLEL_MIN`].
fn cpu_model() -> String {
    let name = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    match rayon::current_num_threads() {
        1 => format!("{name} (1 thread)"),
        n => format!("{name} (up to {n} threads)"),
    }
}

// ---------------------------------------------------------------------------------------------
// The ops. Same names as the Plan's ops and the WGSL kernels.

/// Poisson spikes from the counter-based generator: `out[b, i] = 1/dt` when the uniform draw of
/// element `b*n + i` (key and index from `keying`: see [`crate::rng::Keying`]) is below
/// `rate[b, i] * dt` (rates per instance, `n` values per instance).
///
/// A uniform draw is never below a probability that is not positive, so elements with rate 0
/// (most MNIST pixels, and every input during the rest between images) skip the draw: the
/// same spikes for a fraction of the Philox calls.
#[allow(clippy::too_many_arguments)]
pub fn poisson_spikes(
    seed: u64,
    keying: Keying,
    n: usize,
    stream: u32,
    step: u64,
    dt: f32,
    rates: &[f32],
    out: &mut [f32],
) {
    poisson_spikes_kept(
        seed,
        keying,
        n,
        stream,
        step,
        dt,
        rates,
        out,
        &mut Vec::new(),
    );
}

/// [`poisson_spikes`], keeping in `kept` the groups of each piece of `out` (the whole of it, or
/// the pieces of `PARALLEL_CHUNK` elements that rayon's threads draw) and using them again while
/// that piece's rates have the same bits (the CPU backend keeps them per op across steps: the
/// rates change only between presentations).
#[allow(clippy::too_many_arguments)]
pub(crate) fn poisson_spikes_kept(
    seed: u64,
    keying: Keying,
    n: usize,
    stream: u32,
    step: u64,
    dt: f32,
    rates: &[f32],
    out: &mut [f32],
    kept: &mut Vec<Option<PoissonGroups>>,
) {
    // Every element is its own counter-based draw, so splitting the work across threads gives
    // the same values (the draw index stays the element's index).
    let parallel = out.len() >= PARALLEL_MIN;
    let piece = if parallel {
        PARALLEL_CHUNK
    } else {
        out.len().max(1)
    };
    kept.resize_with(out.len().div_ceil(piece), || None);
    let one = |c: usize, o: &mut [f32], kept: &mut Option<PoissonGroups>| {
        let r = &rates[c * piece..][..o.len()];
        let groups = match kept.take() {
            Some(g) if g.of(r) => g,
            _ => PoissonGroups::gather(seed, keying, n, dt, c * piece, r),
        };
        groups.draw(stream, step, dt, o);
        *kept = Some(groups);
    };
    if parallel {
        out.par_chunks_mut(piece)
            .zip(kept.par_iter_mut())
            .enumerate()
            .for_each(|(c, (o, kept))| {
                let _flush = FlushSubnormals::new();
                one(c, o, kept)
            });
    } else {
        for (c, (o, kept)) in out.chunks_mut(piece).zip(kept.iter_mut()).enumerate() {
            one(c, o, kept);
        }
    }
}

/// The elements of [`poisson_spikes`] that draw (positive rate x dt), gathered `LANES` at a
/// time with one key per group (a batch keyed per instance changes key at an instance's end),
/// and the rates they came from (bits), so that a caller can keep the groups while the rates
/// stay the same (for a whole presentation of an image).
pub(crate) struct PoissonGroups {
    rates: Vec<u32>,
    groups: Vec<PoissonGroup>,
}

/// Up to `LANES` elements drawn with one key.
#[derive(Clone, Copy)]
struct PoissonGroup {
    key: u64,
    len: usize,
    /// Element positions in the slice drawn into.
    at: [u32; crate::rng::LANES],
    /// Their draw indices.
    index: [u32; crate::rng::LANES],
    /// Their spike probabilities, rate x dt.
    prob: [f32; crate::rng::LANES],
}

impl PoissonGroups {
    /// Groups of `rates` (elements `first..first + rates.len()` of the whole buffer, `n` per
    /// instance).
    fn gather(seed: u64, keying: Keying, n: usize, dt: f32, first: usize, rates: &[f32]) -> Self {
        use crate::rng::LANES;
        let mut groups = Vec::new();
        let mut g = PoissonGroup {
            key: 0,
            len: 0,
            at: [0; LANES],
            index: [0; LANES],
            prob: [0.0; LANES],
        };
        // Instance by instance: one key per instance, and the draw index of the first element
        // plus the offset, without a division per element.
        let mut start = 0;
        while start < rates.len() {
            let idx0 = first + start;
            let end = (idx0 - idx0 % n.max(1) + n.max(1) - first).min(rates.len());
            let (k0, i0) = keying.key(seed, n, idx0);
            if g.len > 0 && k0 != g.key {
                groups.push(g);
                g.len = 0;
            }
            g.key = k0;
            for (k, &rate) in rates[start..end].iter().enumerate() {
                let p = rate * dt;
                // Not positive (or NaN): never below a uniform draw.
                if p.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                    continue;
                }
                if g.len == LANES {
                    groups.push(g);
                    g.len = 0;
                }
                (g.at[g.len], g.index[g.len], g.prob[g.len]) =
                    ((start + k) as u32, i0 + k as u32, p);
                g.len += 1;
            }
            start = end;
        }
        if g.len > 0 {
            groups.push(g);
        }
        PoissonGroups {
            rates: rates.iter().map(|r| r.to_bits()).collect(),
            groups,
        }
    }

    /// Whether these are the groups of `rates` (the same bits).
    fn of(&self, rates: &[f32]) -> bool {
        self.rates.len() == rates.len()
            && self
                .rates
                .iter()
                .zip(rates)
                .fold(true, |same, (&a, b)| same & (a == b.to_bits()))
    }

    /// Zeroes `out` and sets the elements whose draw falls below their probability to 1/dt.
    fn draw(&self, stream: u32, step: u64, dt: f32, out: &mut [f32]) {
        out.fill(0.0);
        for g in &self.groups {
            let u = crate::rng::draw_u32_lanes(g.key, stream, step, &g.index);
            for l in 0..g.len {
                if crate::rng::to_unit_f32(u[l]) < g.prob[l] {
                    out[g.at[l] as usize] = 1.0 / dt;
                }
            }
        }
    }
}

/// Element counts from which the CPU backend spreads an op over threads (rayon), and the piece
/// each thread takes at a time. Only ops whose elements are independent are split, so results
/// are bit-identical whatever the thread count; below this size (one-instance training) the
/// per-step synchronisation would cost more than it saves.
const PARALLEL_MIN: usize = 16_384;
const PARALLEL_CHUNK: usize = 4_096;

/// Uniform noise: `out[idx] = low + (high - low) * uniform(key, stream, step, index)`, with the
/// key and index of element `idx` from `keying` (`n` values per instance).
#[allow(clippy::too_many_arguments)]
pub fn uniform_noise(
    seed: u64,
    keying: Keying,
    n: usize,
    stream: u32,
    step: u64,
    low: f32,
    high: f32,
    out: &mut [f32],
) {
    for (idx, o) in out.iter_mut().enumerate() {
        let (key, index) = keying.key(seed, n, idx);
        *o = low + (high - low) * crate::rng::uniform(key, stream, step, index);
    }
}

/// `y = 0`.
pub fn zero(y: &mut [f32]) {
    y.fill(0.0);
}

/// `y[b, i] = src[i]` for every instance `b` (`y.len()` is a multiple of `src.len()`).
pub fn broadcast(src: &[f32], y: &mut [f32]) {
    for chunk in y.chunks_mut(src.len()) {
        chunk.copy_from_slice(src);
    }
}

/// `y += x`.
pub fn add_inc(x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += x;
    }
}

/// `y[b, i] += s[i] * x[b, i]`.
pub fn scale_inc(s: &[f32], x: &[f32], y: &mut [f32]) {
    let n = s.len();
    for (yb, xb) in y.chunks_mut(n).zip(x.chunks(n)) {
        for ((y, x), s) in yb.iter_mut().zip(xb).zip(s) {
            *y += s * x;
        }
    }
}

/// Calls `one(b, y_b, x_b)` for every instance `b` (its `rows` outputs and `cols` inputs):
/// several instances at once on rayon's threads when there are many (evaluation batches), since
/// instances are independent. Serves both matvec layouts.
#[inline(always)]
fn for_each_instance(
    rows: usize,
    cols: usize,
    x: &[f32],
    y: &mut [f32],
    one: impl Fn(usize, &mut [f32], &[f32]) + Sync,
) {
    if y.len() >= PARALLEL_MIN && y.len() > rows {
        y.par_chunks_mut(rows)
            .zip(x.par_chunks(cols))
            .enumerate()
            .for_each(|(b, (yb, xb))| {
                let _flush = FlushSubnormals::new();
                one(b, yb, xb)
            });
    } else {
        for (b, (yb, xb)) in y.chunks_mut(rows).zip(x.chunks(cols)).enumerate() {
            one(b, yb, xb);
        }
    }
}

/// `y[b, r] += scale * sum_c m[r, c] * x[b, c]` (m row-major, rows x cols, shared or one per
/// instance). Sums in column order, skipping columns where x is 0 (event-driven for spikes).
pub fn matvec_inc(m: &[f32], rows: usize, cols: usize, x: &[f32], y: &mut [f32], scale: f32) {
    let per_instance = m.len() > rows * cols;
    let one = |b: usize, yb: &mut [f32], xb: &[f32]| {
        let mb = if per_instance {
            &m[b * rows * cols..(b + 1) * rows * cols]
        } else {
            m
        };
        // The non-zero columns, in order: for spikes this makes the op O(rows x spikes), and
        // the sums are accumulated in the same order as the kernel's skip-zero loop.
        let active: Vec<(usize, f32)> = xb
            .iter()
            .enumerate()
            .filter(|(_, x)| **x != 0.0)
            .map(|(c, x)| (c, *x))
            .collect();
        for (r, y) in yb.iter_mut().enumerate() {
            let row = &mb[r * cols..(r + 1) * cols];
            let mut acc = 0.0f32;
            for &(c, x) in &active {
                acc += row[c] * x;
            }
            *y += scale * acc;
        }
    };
    for_each_instance(rows, cols, x, y, one);
}

/// An index stored bit for bit in an f32 slot (see [`crate::compile::index_to_f32`]).
#[inline]
fn ix(v: f32) -> usize {
    crate::compile::f32_to_index(v) as usize
}

/// `y[b, r] += scale * sum_k w[k] * x[b, indices[k]]` over the stored entries `k` of row `r`
/// of a CSR matrix (`indptr[r]..indptr[r + 1]`), in stored order, skipping entries whose source
/// is 0 (event-driven for spikes); `w` shared or one copy of the `nnz` values per instance.
/// Index buffers hold `u32`s bit for bit. Twin: `shaders/sparse_inc.wgsl`.
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel's bindings")]
pub fn sparse_inc(
    indptr: &[f32],
    indices: &[f32],
    w: &[f32],
    rows: usize,
    cols: usize,
    x: &[f32],
    y: &mut [f32],
    scale: f32,
) {
    let nnz = indices.len();
    let per_instance = w.len() > nnz;
    for (b, (yb, xb)) in y.chunks_mut(rows).zip(x.chunks(cols)).enumerate() {
        let wb = if per_instance {
            &w[b * nnz..(b + 1) * nnz]
        } else {
            w
        };
        for (r, y) in yb.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for k in ix(indptr[r])..ix(indptr[r + 1]) {
                let xv = xb[ix(indices[k])];
                if xv != 0.0 {
                    acc += wb[k] * xv;
                }
            }
            *y += scale * acc;
        }
    }
}

/// The ring-buffer slot of step `step + delay` in a ring of `slots` steps. Twin: `ring_slot`
/// in `shaders/common/ring.wgsl`.
#[inline]
pub fn ring_slot(step: u64, delay: usize, slots: usize) -> usize {
    ((step % slots as u64 + delay as u64) % slots as u64) as usize
}

/// Dense matrix with a delay per synapse, into a ring buffer of future input laid out
/// `[instance][slot][row]`: for each instance, row `r` and (in column order) each column `c`
/// whose source is not 0, `ring[b, slot(step + delays[r, c]), r] += m[r, c] * x[b, c]`.
/// Every element of the ring gets its terms in column order, as from the kernel's one
/// invocation per row (here one column with a spike at a time). Twin:
/// `shaders/delayed_matvec_inc.wgsl`.
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel's bindings")]
pub fn delayed_matvec_inc(
    step: u64,
    m: &[f32],
    delays: &[f32],
    rows: usize,
    cols: usize,
    x: &[f32],
    ring: &mut [f32],
    slots: usize,
) {
    let per_instance = m.len() > rows * cols;
    let now = ring_slot(step, 0, slots);
    for (b, (rb, xb)) in ring
        .chunks_mut(slots * rows)
        .zip(x.chunks(cols))
        .enumerate()
    {
        let mb = if per_instance {
            &m[b * rows * cols..(b + 1) * rows * cols]
        } else {
            m
        };
        for_each_nonzero(xb, |c, xv| {
            for r in 0..rows {
                // ring_slot(step, d, slots), without a division for d < slots.
                let slot = now + ix(delays[r * cols + c]);
                let slot = if slot < slots { slot } else { slot % slots };
                rb[slot * rows + r] += mb[r * cols + c] * xv;
            }
        });
    }
}

/// [`delayed_matvec_inc`] on a matrix in the arrival order of its delays (`index`, see
/// [`ArrivalIndex::arrange`]): a column's synapses of one delay go to one ring slot, next to
/// each other; each ring element gets the same terms in the same (column) order.
#[expect(clippy::too_many_arguments, reason = "mirrors delayed_matvec_inc")]
pub fn delayed_matvec_inc_arranged(
    step: u64,
    m_a: &[f32],
    index: &ArrivalIndex,
    rows: usize,
    cols: usize,
    x: &[f32],
    ring: &mut [f32],
    slots: usize,
) {
    let per_instance = m_a.len() > rows * cols;
    let now = ring_slot(step, 0, slots);
    for (b, (rb, xb)) in ring
        .chunks_mut(slots * rows)
        .zip(x.chunks(cols))
        .enumerate()
    {
        let mb = if per_instance {
            &m_a[b * rows * cols..(b + 1) * rows * cols]
        } else {
            m_a
        };
        for_each_nonzero(xb, |c, xv| {
            for d in 0..slots {
                let range = index.range(c, d);
                let slot = if now + d < slots {
                    now + d
                } else {
                    now + d - slots
                };
                let rs = &mut rb[slot * rows..(slot + 1) * rows];
                for (&r, &m) in index.row[range.clone()].iter().zip(&mb[range]) {
                    rs[r as usize] += m * xv;
                }
            }
        });
    }
}

/// Sparse (CSR) matrix with a delay per stored entry, into a ring buffer laid out
/// `[instance][slot][row]`: for each instance, row `r` and (in stored order) each entry `k`
/// whose source is not 0, `ring[b, slot(step + delays[k]), r] += w[k] * x[b, indices[k]]`.
/// Twin: `shaders/delayed_sparse_inc.wgsl`.
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel's bindings")]
pub fn delayed_sparse_inc(
    step: u64,
    indptr: &[f32],
    indices: &[f32],
    w: &[f32],
    delays: &[f32],
    rows: usize,
    cols: usize,
    x: &[f32],
    ring: &mut [f32],
    slots: usize,
) {
    let nnz = indices.len();
    let per_instance = w.len() > nnz;
    for (b, (rb, xb)) in ring
        .chunks_mut(slots * rows)
        .zip(x.chunks(cols))
        .enumerate()
    {
        let wb = if per_instance {
            &w[b * nnz..(b + 1) * nnz]
        } else {
            w
        };
        for r in 0..rows {
            for k in ix(indptr[r])..ix(indptr[r + 1]) {
                let xv = xb[ix(indices[k])];
                if xv != 0.0 {
                    let slot = ring_slot(step, ix(delays[k]), slots);
                    rb[slot * rows + r] += wb[k] * xv;
                }
            }
        }
    }
}

/// [`delayed_sparse_inc`] through the [`ArrivalIndex`] of the delays ([`ArrivalIndex::sparse`],
/// of a matrix whose rows store their columns in increasing order): only the entries of the
/// columns whose source is not 0 are visited, column by column and delay by delay, so each
/// ring element gets this step's terms in the same (stored) order.
pub fn delayed_sparse_inc_indexed(
    step: u64,
    index: &ArrivalIndex,
    w: &[f32],
    x: &[f32],
    ring: &mut [f32],
) {
    let (rows, cols, slots) = (index.rows, index.cols, index.slots);
    let sp = index.sparse.as_ref().expect("the index of a sparse matrix");
    debug_assert!(sp.sorted);
    let nnz = sp.indices.len();
    let per_instance = w.len() > nnz;
    for (b, (rb, xb)) in ring
        .chunks_mut(slots * rows)
        .zip(x.chunks(cols))
        .enumerate()
    {
        let wb = if per_instance {
            &w[b * nnz..(b + 1) * nnz]
        } else {
            w
        };
        for_each_nonzero(xb, |c, xv| {
            for d in 0..slots {
                let target = &mut rb[ring_slot(step, d, slots) * rows..][..rows];
                index.add_arrivals(c, d, wb, xv, target);
            }
        });
    }
}

/// One delay for a whole signal of `n` values per instance:
/// `ring[b, slot(step + delay), :] += x[b, :]` (ring laid out `[instance][slot][i]`).
/// Twin: `shaders/delay_write.wgsl`.
pub fn delay_write(step: u64, delay: usize, slots: usize, n: usize, x: &[f32], ring: &mut [f32]) {
    let slot = ring_slot(step, delay, slots);
    for (rb, xb) in ring.chunks_mut(slots * n).zip(x.chunks(n)) {
        for (r, &xv) in rb[slot * n..(slot + 1) * n].iter_mut().zip(xb) {
            *r += xv;
        }
    }
}

/// What arrives now, for a signal of `n` values per instance:
/// `y[b, i] += scale * ring[b, slot(step), i]`, then that slot is set to 0 for the input that
/// arrives `slots` steps later. Twin: `shaders/delay_read.wgsl`.
pub fn delay_read(step: u64, slots: usize, n: usize, scale: f32, ring: &mut [f32], y: &mut [f32]) {
    let slot = ring_slot(step, 0, slots);
    for (rb, yb) in ring.chunks_mut(slots * n).zip(y.chunks_mut(n)) {
        for (r, y) in rb[slot * n..(slot + 1) * n].iter_mut().zip(yb) {
            *y += scale * *r;
            *r = 0.0;
        }
    }
}

multiversion! {
    /// `y[b, i] += s[i] * (sum_j x[b, j] - x[b, i])`: input from every other neuron.
    pub fn all_but_self_inc / all_but_self_inc_at(s: &[f32], x: &[f32], y: &mut [f32]) {
        let n = s.len();
        for (yb, xb) in y.chunks_mut(n).zip(x.chunks(n)) {
            // The nonzero terms in order: the same sum as adding every term, since `total`
            // starts at +0 and so never is -0, for which adding +0 would change the sign.
            let mut total = 0.0f32;
            for_each_nonzero(xb, |_, v| total += v);
            for ((y, &x), &s) in yb.iter_mut().zip(xb).zip(s) {
                *y += s * (total - x);
            }
        }
    }
}

/// Event-driven triplet STDP (see [`crate::model::Stdp`]) on per-instance weights `w`
/// (rows = post, cols = pre). Traces are read as stored after the last step and decayed by one
/// step on the fly. Only synapses with a pre or post spike this step are touched; with `learn`
/// 0 nothing is.
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel's bindings")]
pub fn stdp(
    r: &crate::compile::StdpConsts,
    rows: usize,
    cols: usize,
    w: &mut [f32],
    pre: &[f32],
    post: &[f32],
    traces: [&[f32]; 4],
    learn: f32,
) {
    if learn == 0.0 {
        return;
    }
    let [r1s, r2s, o1s, o2s] = traces;
    let batch = pre.len() / cols;
    for b in 0..batch {
        let spiking_pre: Vec<usize> = (0..cols).filter(|&j| pre[b * cols + j] != 0.0).collect();
        for i in 0..rows {
            let post_spike = post[b * rows + i] != 0.0;
            if !post_spike && spiking_pre.is_empty() {
                continue;
            }
            let o1 = o1s[b * rows + i] * r.decay_o1;
            let o2 = o2s[b * rows + i] * r.decay_o2;
            let row = &mut w[(b * rows + i) * cols..(b * rows + i + 1) * cols];
            let update = |j: usize, row: &mut [f32]| {
                let pre_spike = pre[b * cols + j] != 0.0;
                row[j] = stdp_synapse(
                    r,
                    row[j],
                    pre_spike,
                    post_spike,
                    r1s[b * cols + j],
                    r2s[b * cols + j],
                    o1,
                    o2,
                    learn,
                );
            };
            if post_spike {
                for j in 0..cols {
                    update(j, row);
                }
            } else {
                for &j in &spiking_pre {
                    update(j, row);
                }
            }
        }
    }
}

/// [`stdp`] on the stored entries of a CSR matrix (rows = post) with per-instance values `w`
/// (`nnz` per instance): a row whose post neuron spiked updates all its entries, otherwise only
/// entries whose pre neuron spiked; each entry exactly as [`stdp`] updates the same synapse of a
/// dense matrix. Twin: `shaders/stdp_sparse.wgsl`.
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel's bindings")]
pub fn stdp_sparse(
    r: &crate::compile::StdpConsts,
    indptr: &[f32],
    indices: &[f32],
    rows: usize,
    cols: usize,
    w: &mut [f32],
    pre: &[f32],
    post: &[f32],
    traces: [&[f32]; 4],
    learn: f32,
) {
    if learn == 0.0 {
        return;
    }
    let [r1s, r2s, o1s, o2s] = traces;
    let nnz = indices.len();
    let batch = pre.len() / cols;
    for b in 0..batch {
        for i in 0..rows {
            let post_spike = post[b * rows + i] != 0.0;
            let o1 = o1s[b * rows + i] * r.decay_o1;
            let o2 = o2s[b * rows + i] * r.decay_o2;
            for k in ix(indptr[i])..ix(indptr[i + 1]) {
                let j = ix(indices[k]);
                let pre_spike = pre[b * cols + j] != 0.0;
                if !pre_spike && !post_spike {
                    continue;
                }
                w[b * nnz + k] = stdp_synapse(
                    r,
                    w[b * nnz + k],
                    pre_spike,
                    post_spike,
                    r1s[b * cols + j],
                    r2s[b * cols + j],
                    o1,
                    o2,
                    learn,
                );
            }
        }
    }
}

/// Values per instance of a [`pre_history`] ring of `slots` steps of `cols` pre neurons.
pub fn pre_history_len(slots: usize, cols: usize) -> usize {
    (slots * 3 + 2) * cols
}

/// Where a [`pre_history`] ring keeps part `part` (0 output, 1 r1, 2 r2) of column `c` at
/// `slot`.
#[inline]
pub(crate) fn hx(cols: usize, part: usize, slot: usize, c: usize) -> usize {
    (slot * 3 + part) * cols + c
}

multiversion! {
    /// Records this step's pre output (spikes: non-zero; a subnormal output is stored as 0) and
    /// the pre traces as stored after the last step in slot `step % slots` of a ring laid out
    /// per instance as `[slot][pre, r1, r2][col]`, followed by each column's spike count in the
    /// ring and the slot of its latest spike (which let the CPU's readers find the columns with
    /// spikes on the way, and when, without scanning the ring), for transmission and STDP at
    /// arrival ([`arrival_matvec_inc`], [`stdp_delayed`]). Twin: `shaders/pre_history.wgsl`.
    pub fn pre_history / pre_history_at(
        step: u64,
        slots: usize,
        cols: usize,
        pre: &[f32],
        r1: &[f32],
        r2: &[f32],
        hist: &mut [f32],
    ) {
        let slot = ring_slot(step, 0, slots);
        let slot_f = slot as f32;
        for (b, hb) in hist.chunks_mut(pre_history_len(slots, cols)).enumerate() {
            let (ring, tail) = hb.split_at_mut(3 * slots * cols);
            let (counts, last) = tail.split_at_mut(cols);
            let at = b * cols..(b + 1) * cols;
            let row = &mut ring[hx(cols, 0, slot, 0)..hx(cols, 3, slot, 0)];
            let (out, traces) = row.split_at_mut(cols);
            let cells = out.iter_mut().zip(counts.iter_mut()).zip(last.iter_mut());
            for (((h, n), l), &x) in cells.zip(&pre[at.clone()]) {
                // The step `slots` ago leaves the ring, this one enters.
                // An output emits unless it is 0 or subnormal, which gives the same answer
                // whether or not subnormals are flushed (the CPU's steps flush them; a GPU may
                // not); what does not emit is stored as 0, so the ring and its counts agree
                // however they are read. Selects, not branches, so that it vectorises.
                let emits = (x.abs() >= f32::MIN_POSITIVE) | x.is_nan();
                *n += f32::from(u8::from(emits)) - f32::from(u8::from(*h != 0.0));
                *l = if emits { slot_f } else { *l };
                *h = if emits { x } else { 0.0 };
            }
            traces[..cols].copy_from_slice(&r1[at.clone()]);
            traces[cols..].copy_from_slice(&r2[at]);
        }
    }
}

/// The ring slot holding what [`pre_history`] recorded `lag` (< slots) steps before the step
/// whose own slot is `now` (`step % slots`).
#[inline]
fn lag_slot(now: usize, lag: usize, slots: usize) -> usize {
    if lag <= now {
        now - lag
    } else {
        now + slots - lag
    }
}

/// [`sparse_inc`] through the column index of the matrix ([`ArrivalIndex::sparse`] with one
/// slot, of a matrix whose rows store their columns in increasing order): only the entries of
/// the columns whose source is not 0 are visited, column by column, so each row gets the same
/// terms in the same (stored) order; O(rows + entries of active columns) per instance instead
/// of O(nnz).
pub fn sparse_inc_indexed(index: &ArrivalIndex, w: &[f32], x: &[f32], y: &mut [f32], scale: f32) {
    let (rows, cols) = (index.rows, index.cols);
    debug_assert_eq!(index.slots, 1);
    let sp = index.sparse.as_ref().expect("the index of a sparse matrix");
    debug_assert!(sp.sorted);
    let nnz = sp.indices.len();
    let per_instance = w.len() > nnz;
    let mut acc = vec![0.0f32; rows];
    for (b, (yb, xb)) in y.chunks_mut(rows).zip(x.chunks(cols)).enumerate() {
        let wb = if per_instance {
            &w[b * nnz..(b + 1) * nnz]
        } else {
            w
        };
        acc.fill(0.0);
        for_each_nonzero(xb, |c, xv| index.add_arrivals(c, 0, wb, xv, &mut acc));
        for (y, &a) in yb.iter_mut().zip(&acc) {
            *y += scale * a;
        }
    }
}

/// [`stdp_sparse`] through the column index of the matrix ([`ArrivalIndex::sparse`] with one
/// slot): the rows whose post neuron spiked update every entry, the others only the entries of
/// the columns whose pre neuron spiked, found by column instead of by scanning every entry;
/// every entry gets the same single update.
pub fn stdp_sparse_indexed(
    r: &crate::compile::StdpConsts,
    index: &ArrivalIndex,
    w: &mut [f32],
    pre: &[f32],
    post: &[f32],
    traces: [&[f32]; 4],
    learn: f32,
) {
    if learn == 0.0 {
        return;
    }
    let (rows, cols) = (index.rows, index.cols);
    debug_assert_eq!(index.slots, 1);
    let sp = index.sparse.as_ref().expect("the index of a sparse matrix");
    let [r1s, r2s, o1s, o2s] = traces;
    let nnz = sp.indices.len();
    let batch = post.len() / rows;
    let mut o1d = Vec::with_capacity(rows);
    for b in 0..batch {
        let wb = &mut w[b * nnz..(b + 1) * nnz];
        let (pre_b, post_b) = (
            &pre[b * cols..(b + 1) * cols],
            &post[b * rows..(b + 1) * rows],
        );
        o1d.clear();
        o1d.extend(
            o1s[b * rows..(b + 1) * rows]
                .iter()
                .map(|&o| o * r.decay_o1),
        );
        // Rows whose post neuron spiked: every entry.
        for i in (0..rows).filter(|&i| post_b[i] != 0.0) {
            let o2 = o2s[b * rows + i] * r.decay_o2;
            let row = sp.indptr[i] as usize..sp.indptr[i + 1] as usize;
            for (w, &j) in wb[row.clone()].iter_mut().zip(&sp.indices[row]) {
                let j = j as usize;
                *w = stdp_synapse(
                    r,
                    *w,
                    pre_b[j] != 0.0,
                    true,
                    r1s[b * cols + j],
                    r2s[b * cols + j],
                    o1d[i],
                    o2,
                    learn,
                );
            }
        }
        // The other rows: the entries of the columns whose pre neuron spiked.
        for_each_nonzero(pre_b, |j, _| {
            let f = r.a2_minus + r.a3_minus * (r2s[b * cols + j] * r.decay_r2);
            index.stdp_pre_arrivals(r, j, 0, f, wb, post_b, &o1d, learn);
        });
    }
}

/// A delay matrix (dense, rows x cols, or one delay per stored entry of a sparse matrix; steps
/// < slots) indexed by column and delay: the rows whose synapse from column `c` has delay `d`,
/// in order. With it the CPU visits only the
/// synapses on which a spike arrives this step (about spikes x rows) instead of every synapse
/// of every column with a spike on the way.
///
/// Its order of synapses (column by column, then by delay, then by row) is also a layout of
/// a weight matrix ([`ArrivalIndex::arrange`]): in it the synapses one spike reaches at one
/// delay lie next to each other, and the CPU keeps the weights of a connection with delays so,
/// learning ([`arrival_matvec_inc_arranged`], [`stdp_delayed_arranged`],
/// [`normalize_rows_arranged`]) or frozen ([`delayed_matvec_inc_arranged`]).
#[derive(Clone, Debug)]
pub struct ArrivalIndex {
    rows: usize,
    cols: usize,
    slots: usize,
    /// `start[c * slots + d]..start[c * slots + d + 1]` indexes `row` for column c, delay d.
    start: Vec<u32>,
    /// The row of each synapse, in arrival order; column `c`'s synapses are
    /// `c * rows..(c + 1) * rows`.
    row: Vec<u32>,
    /// `pos[r * cols + c]`: where synapse (r, c) is in arrival order (dense matrices).
    pos: Vec<u32>,
    /// For the delays of a sparse matrix (one per stored entry): its structure, and the stored
    /// entry of each synapse in arrival order.
    sparse: Option<SparseArrival>,
}

/// What an [`ArrivalIndex`] of a sparse matrix's delays knows of the matrix.
#[derive(Clone, Debug)]
struct SparseArrival {
    indptr: Vec<u32>,
    indices: Vec<u32>,
    /// `entry[p]`: the stored entry at place `p` in arrival order.
    entry: Vec<u32>,
    /// Every row's columns are stored in increasing order, so that a row's terms visited
    /// column by column come in stored order ([`arrival_sparse_inc_indexed`]).
    sorted: bool,
}

impl ArrivalIndex {
    /// Indexes `delays` (row-major, an Index buffer of `rows * cols` steps `< slots`).
    pub fn new(delays: &[f32], rows: usize, cols: usize, slots: usize) -> ArrivalIndex {
        let mut start = vec![0u32; cols * slots + 1];
        for r in 0..rows {
            for c in 0..cols {
                start[c * slots + ix(delays[r * cols + c]) + 1] += 1;
            }
        }
        for k in 1..start.len() {
            start[k] += start[k - 1];
        }
        let mut fill = start.clone();
        let mut row = vec![0u32; rows * cols];
        let mut pos = vec![0u32; rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                let k = c * slots + ix(delays[r * cols + c]);
                row[fill[k] as usize] = r as u32;
                pos[r * cols + c] = fill[k];
                fill[k] += 1;
            }
        }
        ArrivalIndex {
            rows,
            cols,
            slots,
            start,
            row,
            pos,
            sparse: None,
        }
    }

    /// Indexes the delays of a CSR matrix (`indptr`, `indices`: its structure; `delays`: one
    /// per stored entry, steps `< slots`; all Index buffers).
    pub fn sparse(
        indptr: &[f32],
        indices: &[f32],
        delays: &[f32],
        rows: usize,
        cols: usize,
        slots: usize,
    ) -> ArrivalIndex {
        let ints = |v: &[f32]| v.iter().map(|&x| crate::compile::f32_to_index(x)).collect();
        Self::sparse_of(ints(indptr), ints(indices), delays, rows, cols, slots)
    }

    fn sparse_of(
        indptr: Vec<u32>,
        indices: Vec<u32>,
        delays: &[f32],
        rows: usize,
        cols: usize,
        slots: usize,
    ) -> ArrivalIndex {
        let key = |k: usize| indices[k] as usize * slots + ix(delays[k]);
        let mut start = vec![0u32; cols * slots + 1];
        for k in 0..indices.len() {
            start[key(k) + 1] += 1;
        }
        for k in 1..start.len() {
            start[k] += start[k - 1];
        }
        let mut fill = start.clone();
        let mut row = vec![0u32; indices.len()];
        let mut entry = vec![0u32; indices.len()];
        for r in 0..rows {
            for k in indptr[r] as usize..indptr[r + 1] as usize {
                let p = fill[key(k)] as usize;
                row[p] = r as u32;
                entry[p] = k as u32;
                fill[key(k)] += 1;
            }
        }
        let sorted = (0..rows).all(|r| {
            indices[indptr[r] as usize..indptr[r + 1] as usize]
                .windows(2)
                .all(|w| w[0] < w[1])
        });
        ArrivalIndex {
            rows,
            cols,
            slots,
            start,
            row,
            pos: Vec::new(),
            sparse: Some(SparseArrival {
                indptr,
                indices,
                entry,
                sorted,
            }),
        }
    }

    /// The index of a sparse matrix whose rows store their columns in increasing order: visited
    /// column by column, each row's terms come in stored order.
    fn sorted(&self) -> bool {
        self.sparse.as_ref().is_some_and(|s| s.sorted)
    }

    /// Adds `xv` times the weights of the stored entries that column `c` reaches with delay `d`
    /// to their rows in `acc` (`wb`: one instance's values, in stored order), in row order.
    #[inline]
    fn add_arrivals(&self, c: usize, d: usize, wb: &[f32], xv: f32, acc: &mut [f32]) {
        let sp = self.sparse.as_ref().expect("the index of a sparse matrix");
        let range = self.range(c, d);
        for (&r, &k) in self.row[range.clone()].iter().zip(&sp.entry[range]) {
            acc[r as usize] += wb[k as usize] * xv;
        }
    }

    /// [`stdp_pre`] on the stored entries that column `j` reaches with delay `d` and whose post
    /// neuron did not spike (those that did get the whole [`stdp_synapse`] in their row's
    /// pass): `f` the column's factor, `o1d` the rows' decayed fast post traces.
    #[expect(
        clippy::too_many_arguments,
        reason = "one column's arrivals and their context"
    )]
    #[inline]
    fn stdp_pre_arrivals(
        &self,
        r: &crate::compile::StdpConsts,
        j: usize,
        d: usize,
        f: f32,
        wb: &mut [f32],
        post_b: &[f32],
        o1d: &[f32],
        learn: f32,
    ) {
        let sp = self.sparse.as_ref().expect("the index of a sparse matrix");
        let range = self.range(j, d);
        for (&i, &k) in self.row[range.clone()].iter().zip(&sp.entry[range]) {
            let i = i as usize;
            if post_b[i] == 0.0 {
                wb[k as usize] = stdp_pre(r, wb[k as usize], f, o1d[i], learn);
            }
        }
    }

    /// The index of new `delays` for the same matrix.
    fn rebuilt(&self, delays: &[f32]) -> ArrivalIndex {
        match &self.sparse {
            None => ArrivalIndex::new(delays, self.rows, self.cols, self.slots),
            Some(s) => Self::sparse_of(
                s.indptr.clone(),
                s.indices.clone(),
                delays,
                self.rows,
                self.cols,
                self.slots,
            ),
        }
    }

    /// Where in arrival order the synapses from column `c` with a delay of `d` steps are, in
    /// row order (their rows: `self.row[range]`).
    #[inline]
    fn range(&self, c: usize, d: usize) -> std::ops::Range<usize> {
        let k = c * self.slots + d;
        self.start[k] as usize..self.start[k + 1] as usize
    }

    /// Each `rows x cols` block of `v` (row-major) in arrival order, or back (`back`).
    pub fn arrange(&self, v: &[f32], back: bool) -> Vec<f32> {
        let n = self.rows * self.cols;
        let mut out = vec![0.0f32; v.len()];
        for (src, dst) in v.chunks(n).zip(out.chunks_mut(n)) {
            for (k, &p) in self.pos.iter().enumerate() {
                if back {
                    dst[k] = src[p as usize];
                } else {
                    dst[p as usize] = src[k];
                }
            }
        }
        out
    }
}

/// Calls `f(c, d, slot)` for each column `c` (in order) and delay `d` such that column `c`
/// emitted something `d` steps before the step whose ring slot is `now`, from one instance's
/// [`pre_history`] ring `hb`: its counts skip the silent columns, and a column with one spike
/// on the way has it at the slot of its latest spike.
#[inline(always)]
fn for_each_emission(
    hb: &[f32],
    cols: usize,
    slots: usize,
    now: usize,
    mut f: impl FnMut(usize, usize, usize),
) {
    let counts = &hb[3 * slots * cols..(3 * slots + 1) * cols];
    let last = &hb[(3 * slots + 1) * cols..];
    for_each_nonzero(counts, |c, n| {
        if n == 1.0 {
            let slot = last[c] as usize;
            f(c, lag_of(now, slot, slots), slot);
            return;
        }
        if slots <= 32 {
            // One bit per lag with a spike on the way (no branch per slot), then the set bits.
            let mut lags = 0u32;
            for d in 0..slots {
                let on = hb[hx(cols, 0, lag_slot(now, d, slots), c)] != 0.0;
                lags |= u32::from(on) << d;
            }
            while lags != 0 {
                let d = lags.trailing_zeros() as usize;
                f(c, d, lag_slot(now, d, slots));
                lags &= lags - 1;
            }
            return;
        }
        for d in 0..slots {
            let slot = lag_slot(now, d, slots);
            if hb[hx(cols, 0, slot, c)] != 0.0 {
                f(c, d, slot);
            }
        }
    });
}

/// How many steps before the step whose ring slot is `now` the ring's `slot` was written
/// (both `< slots`): the inverse of [`lag_slot`], without a division.
#[inline(always)]
fn lag_of(now: usize, slot: usize, slots: usize) -> usize {
    if slot <= now {
        now - slot
    } else {
        now + slots - slot
    }
}

/// Dense matrix with a delay per synapse, transmitted at arrival from a [`pre_history`] ring
/// (Brian's delayed `on_pre`, with the weight at arrival): for each instance `b` and row `r`,
/// `y[b, r] += scale * sum_c m[r, c] * x_c`, where `x_c` is what pre neuron `c` emitted
/// `delays[r, c]` steps ago, summed in column order skipping zeros. `index` is the
/// [`ArrivalIndex`] of the delays. Twin: `shaders/arrival_matvec_inc.wgsl`.
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel's bindings")]
pub fn arrival_matvec_inc(
    step: u64,
    m: &[f32],
    index: &ArrivalIndex,
    rows: usize,
    cols: usize,
    slots: usize,
    hist: &[f32],
    y: &mut [f32],
    scale: f32,
) {
    let at = |_, r: usize, c: usize| r * cols + c;
    arrival_matvec_inc_by(step, m, index, rows, cols, slots, hist, y, scale, at);
}

multiversion! {
    /// [`arrival_matvec_inc`] on a matrix in the arrival order of its delays
    /// ([`ArrivalIndex::arrange`]): the same terms in the same order, the weights one spike
    /// reaches at one delay next to each other.
    #[expect(clippy::too_many_arguments, reason = "mirrors arrival_matvec_inc")]
    pub fn arrival_matvec_inc_arranged / arrival_matvec_inc_arranged_at(
        step: u64,
        m_a: &[f32],
        index: &ArrivalIndex,
        rows: usize,
        cols: usize,
        slots: usize,
        hist: &[f32],
        y: &mut [f32],
        scale: f32,
    ) {
        let at = |p: usize, _, _| p;
        arrival_matvec_inc_by(step, m_a, index, rows, cols, slots, hist, y, scale, at);
    }
}

/// [`arrival_matvec_inc`] with row r, column c of each instance's matrix at `at(p, r, c)`, `p`
/// being the synapse's place in arrival order. Inlined into each build of its callers.
#[expect(clippy::too_many_arguments, reason = "mirrors arrival_matvec_inc")]
#[inline(always)]
fn arrival_matvec_inc_by(
    step: u64,
    m: &[f32],
    index: &ArrivalIndex,
    rows: usize,
    cols: usize,
    slots: usize,
    hist: &[f32],
    y: &mut [f32],
    scale: f32,
    at: impl Fn(usize, usize, usize) -> usize,
) {
    let per_instance = m.len() > rows * cols;
    let now = ring_slot(step, 0, slots);
    let len = pre_history_len(slots, cols);
    let mut acc = vec![0.0f32; rows];
    for (b, yb) in y.chunks_mut(rows).enumerate() {
        let mb = if per_instance {
            &m[b * rows * cols..(b + 1) * rows * cols]
        } else {
            m
        };
        let hb = &hist[b * len..(b + 1) * len];
        acc.fill(0.0);
        // Columns in order, and each synapse (r, c) has one delay: every row's terms are
        // added in column order.
        for_each_emission(hb, cols, slots, now, |c, d, slot| {
            let xv = hb[hx(cols, 0, slot, c)];
            for p in index.range(c, d) {
                let r = index.row[p] as usize;
                acc[r] += mb[at(p, r, c)] * xv;
            }
        });
        for (y, &a) in yb.iter_mut().zip(&acc) {
            *y += scale * a;
        }
    }
}

/// [`arrival_matvec_inc`] for a sparse (CSR) matrix with a delay per stored entry: for each
/// instance `b` and row `r`, `y[b, r] += scale * sum_k w[k] * x_k` over the row's entries in
/// stored order, `x_k` being what pre neuron `indices[k]` emitted `delays[k]` steps ago.
/// Twin: `shaders/arrival_sparse_inc.wgsl`.
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel's bindings")]
pub fn arrival_sparse_inc(
    step: u64,
    indptr: &[f32],
    indices: &[f32],
    w: &[f32],
    delays: &[f32],
    rows: usize,
    cols: usize,
    slots: usize,
    hist: &[f32],
    y: &mut [f32],
    scale: f32,
) {
    let nnz = indices.len();
    let per_instance = w.len() > nnz;
    let now = ring_slot(step, 0, slots);
    let len = pre_history_len(slots, cols);
    for (b, yb) in y.chunks_mut(rows).enumerate() {
        let wb = if per_instance {
            &w[b * nnz..(b + 1) * nnz]
        } else {
            w
        };
        let hb = &hist[b * len..(b + 1) * len];
        for (r, y) in yb.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for k in ix(indptr[r])..ix(indptr[r + 1]) {
                let xv = hb[hx(cols, 0, lag_slot(now, ix(delays[k]), slots), ix(indices[k]))];
                if xv != 0.0 {
                    acc += wb[k] * xv;
                }
            }
            *y += scale * acc;
        }
    }
}

/// STDP at arrival on per-instance row-major weights `w` (rows = post, cols = pre) with a delay
/// per synapse (Brian's semantics for a delayed `on_pre`): synapse `(i, j)` with delay `d`
/// sees, at step `k`, the pre spike and the stored pre traces that [`pre_history`] recorded at
/// step `k - d` in `hist`, and the post spike and post traces of step `k`; each synapse gets
/// [`stdp_synapse`]. A row whose post neuron spiked updates every synapse, otherwise only those
/// whose pre spike arrives now (found through `index`, the [`ArrivalIndex`] of `delays`); with
/// `learn` 0 nothing changes. With every delay 0 this is exactly [`stdp`].
/// Twin: `shaders/stdp_delayed.wgsl`.
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel's bindings")]
pub fn stdp_delayed(
    r: &crate::compile::StdpConsts,
    step: u64,
    rows: usize,
    cols: usize,
    slots: usize,
    delays: &[f32],
    index: &ArrivalIndex,
    hist: &[f32],
    w: &mut [f32],
    post: &[f32],
    post_traces: [&[f32]; 2],
    learn: f32,
) {
    let at = |i: usize, j: usize| i * cols + j;
    stdp_delayed_by::<false>(
        r,
        step,
        rows,
        cols,
        slots,
        delays,
        index,
        hist,
        w,
        post,
        post_traces,
        learn,
        at,
    );
}

multiversion! {
    /// [`stdp_delayed`] on weights in the arrival order of their delays
    /// ([`ArrivalIndex::arrange`]): every synapse gets the same single update.
    #[expect(clippy::too_many_arguments, reason = "mirrors stdp_delayed")]
    pub fn stdp_delayed_arranged / stdp_delayed_arranged_at(
        r: &crate::compile::StdpConsts,
        step: u64,
        rows: usize,
        cols: usize,
        slots: usize,
        delays: &[f32],
        index: &ArrivalIndex,
        hist: &[f32],
        w_a: &mut [f32],
        post: &[f32],
        post_traces: [&[f32]; 2],
        learn: f32,
    ) {
        let at = |i: usize, j: usize| index.pos[i * cols + j] as usize;
        stdp_delayed_by::<true>(
            r,
            step,
            rows,
            cols,
            slots,
            delays,
            index,
            hist,
            w_a,
            post,
            post_traces,
            learn,
            at,
        );
    }
}

/// [`stdp_delayed`] with post i, pre j of each instance's weights at `at(i, j)`; `ARRANGED`:
/// the weights are in arrival order, so that a synapse reached through `index` is at its
/// place there. Inlined into each build of its callers.
#[expect(clippy::too_many_arguments, reason = "mirrors stdp_delayed")]
#[inline(always)]
fn stdp_delayed_by<const ARRANGED: bool>(
    r: &crate::compile::StdpConsts,
    step: u64,
    rows: usize,
    cols: usize,
    slots: usize,
    delays: &[f32],
    index: &ArrivalIndex,
    hist: &[f32],
    w: &mut [f32],
    post: &[f32],
    post_traces: [&[f32]; 2],
    learn: f32,
    at: impl Fn(usize, usize) -> usize,
) {
    if learn == 0.0 {
        return;
    }
    let [o1s, o2s] = post_traces;
    let batch = post.len() / rows;
    let now = ring_slot(step, 0, slots);
    let len = pre_history_len(slots, cols);
    let mut o1d = vec![0.0f32; rows];
    for b in 0..batch {
        let hb = &hist[b * len..(b + 1) * len];
        let wb = &mut w[b * rows * cols..(b + 1) * rows * cols];
        let post_b = &post[b * rows..(b + 1) * rows];
        for (o, &s) in o1d.iter_mut().zip(&o1s[b * rows..(b + 1) * rows]) {
            *o = s * r.decay_o1;
        }
        // Rows whose post neuron spiked: every synapse.
        for_each_nonzero(post_b, |i, _| {
            let (o1, o2) = (o1d[i], o2s[b * rows + i] * r.decay_o2);
            for j in 0..cols {
                let h = hx(cols, 0, lag_slot(now, ix(delays[i * cols + j]), slots), j);
                let p = at(i, j);
                wb[p] = stdp_synapse(
                    r,
                    wb[p],
                    hb[h] != 0.0,
                    true,
                    hb[h + cols],
                    hb[h + 2 * cols],
                    o1,
                    o2,
                    learn,
                );
            }
        });
        // The other rows: the synapses on which a pre spike arrives now, each as
        // `stdp_synapse` updates it for a pre spike alone ([`stdp_pre`], with the column's
        // factor and the rows' decayed post traces computed once).
        for_each_emission(hb, cols, slots, now, |j, d, slot| {
            let k = r.a2_minus + r.a3_minus * (hb[hx(cols, 2, slot, j)] * r.decay_r2);
            let range = index.range(j, d);
            if ARRANGED {
                for (&i, w) in index.row[range.clone()].iter().zip(&mut wb[range]) {
                    let i = i as usize;
                    if post_b[i] == 0.0 {
                        *w = stdp_pre(r, *w, k, o1d[i], learn);
                    }
                }
            } else {
                for &i in &index.row[range] {
                    let i = i as usize;
                    if post_b[i] == 0.0 {
                        let p = at(i, j);
                        wb[p] = stdp_pre(r, wb[p], k, o1d[i], learn);
                    }
                }
            }
        });
    }
}

/// [`stdp_delayed`] on the stored entries of a CSR matrix (rows = post) with per-instance
/// values `w` (`nnz` per instance) and a delay per stored entry: each entry exactly as
/// [`stdp_delayed`] updates the same synapse of a dense matrix.
/// Twin: `shaders/stdp_sparse_delayed.wgsl`.
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel's bindings")]
pub fn stdp_sparse_delayed(
    r: &crate::compile::StdpConsts,
    step: u64,
    indptr: &[f32],
    indices: &[f32],
    rows: usize,
    cols: usize,
    slots: usize,
    delays: &[f32],
    hist: &[f32],
    w: &mut [f32],
    post: &[f32],
    post_traces: [&[f32]; 2],
    learn: f32,
) {
    if learn == 0.0 {
        return;
    }
    let [o1s, o2s] = post_traces;
    let nnz = indices.len();
    let batch = post.len() / rows;
    let now = ring_slot(step, 0, slots);
    let len = pre_history_len(slots, cols);
    for b in 0..batch {
        let hb = &hist[b * len..(b + 1) * len];
        for i in 0..rows {
            let post_spike = post[b * rows + i] != 0.0;
            let o1 = o1s[b * rows + i] * r.decay_o1;
            let o2 = o2s[b * rows + i] * r.decay_o2;
            for k in ix(indptr[i])..ix(indptr[i + 1]) {
                let j = ix(indices[k]);
                let h = hx(cols, 0, lag_slot(now, ix(delays[k]), slots), j);
                let pre_spike = hb[h] != 0.0;
                if !pre_spike && !post_spike {
                    continue;
                }
                w[b * nnz + k] = stdp_synapse(
                    r,
                    w[b * nnz + k],
                    pre_spike,
                    post_spike,
                    hb[h + cols],
                    hb[h + 2 * cols],
                    o1,
                    o2,
                    learn,
                );
            }
        }
    }
}

/// [`arrival_sparse_inc`] through the [`ArrivalIndex`] of the delays (built by
/// [`ArrivalIndex::sparse`] for a matrix whose rows store their columns in increasing order):
/// only the entries on which a spike arrives now are visited, column by column, so each row
/// gets the same terms in the same (stored) order.
pub fn arrival_sparse_inc_indexed(
    step: u64,
    index: &ArrivalIndex,
    w: &[f32],
    hist: &[f32],
    y: &mut [f32],
    scale: f32,
) {
    let (rows, cols, slots) = (index.rows, index.cols, index.slots);
    let sp = index.sparse.as_ref().expect("the index of a sparse matrix");
    debug_assert!(sp.sorted);
    let nnz = sp.indices.len();
    let per_instance = w.len() > nnz;
    let now = ring_slot(step, 0, slots);
    let len = pre_history_len(slots, cols);
    let mut acc = vec![0.0f32; rows];
    for (b, yb) in y.chunks_mut(rows).enumerate() {
        let wb = if per_instance {
            &w[b * nnz..(b + 1) * nnz]
        } else {
            w
        };
        let hb = &hist[b * len..(b + 1) * len];
        acc.fill(0.0);
        for_each_emission(hb, cols, slots, now, |c, d, slot| {
            index.add_arrivals(c, d, wb, hb[hx(cols, 0, slot, c)], &mut acc);
        });
        for (y, &a) in yb.iter_mut().zip(&acc) {
            *y += scale * a;
        }
    }
}

/// [`stdp_sparse_delayed`] through the [`ArrivalIndex`] of the delays
/// ([`ArrivalIndex::sparse`]): the rows whose post neuron spiked update every entry, the
/// others only the entries on which a pre spike arrives now; every entry gets the same single
/// update.
#[expect(clippy::too_many_arguments, reason = "mirrors stdp_sparse_delayed")]
pub fn stdp_sparse_delayed_indexed(
    r: &crate::compile::StdpConsts,
    step: u64,
    index: &ArrivalIndex,
    delays: &[f32],
    hist: &[f32],
    w: &mut [f32],
    post: &[f32],
    post_traces: [&[f32]; 2],
    learn: f32,
) {
    if learn == 0.0 {
        return;
    }
    let (rows, cols, slots) = (index.rows, index.cols, index.slots);
    let sp = index.sparse.as_ref().expect("the index of a sparse matrix");
    let [o1s, o2s] = post_traces;
    let nnz = sp.indices.len();
    let batch = post.len() / rows;
    let now = ring_slot(step, 0, slots);
    let len = pre_history_len(slots, cols);
    let mut o1d = Vec::with_capacity(rows);
    for b in 0..batch {
        let hb = &hist[b * len..(b + 1) * len];
        let wb = &mut w[b * nnz..(b + 1) * nnz];
        let post_b = &post[b * rows..(b + 1) * rows];
        o1d.clear();
        o1d.extend(
            o1s[b * rows..(b + 1) * rows]
                .iter()
                .map(|&o| o * r.decay_o1),
        );
        // Rows whose post neuron spiked: every entry.
        for i in (0..rows).filter(|&i| post_b[i] != 0.0) {
            let o2 = o2s[b * rows + i] * r.decay_o2;
            for k in sp.indptr[i] as usize..sp.indptr[i + 1] as usize {
                let j = sp.indices[k] as usize;
                let h = hx(cols, 0, lag_slot(now, ix(delays[k]), slots), j);
                wb[k] = stdp_synapse(
                    r,
                    wb[k],
                    hb[h] != 0.0,
                    true,
                    hb[h + cols],
                    hb[h + 2 * cols],
                    o1d[i],
                    o2,
                    learn,
                );
            }
        }
        // The other rows: the entries on which a pre spike arrives now.
        for_each_emission(hb, cols, slots, now, |j, d, slot| {
            let f = r.a2_minus + r.a3_minus * (hb[hx(cols, 2, slot, j)] * r.decay_r2);
            index.stdp_pre_arrivals(r, j, d, f, wb, post_b, &o1d, learn);
        });
    }
}

/// One synapse's STDP update; shared by [`stdp`] and mirrored by `stdp_synapse` in
/// `shaders/stdp.wgsl`. `r1_stored`, `r2_stored` are the pre traces as stored; `o1`, `o2` the
/// post traces already decayed to this step (before this step's spike).
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel")]
#[inline(always)]
pub fn stdp_synapse(
    r: &crate::compile::StdpConsts,
    w: f32,
    pre_spike: bool,
    post_spike: bool,
    r1_stored: f32,
    r2_stored: f32,
    o1: f32,
    o2: f32,
    learn: f32,
) -> f32 {
    let mut w = w;
    let r1 = r1_stored * r.decay_r1;
    if pre_spike {
        let r2 = r2_stored * r.decay_r2;
        w = stdp_pre(r, w, r.a2_minus + r.a3_minus * r2, o1, learn);
    }
    if post_spike {
        let r1 = match (pre_spike, r.nearest) {
            (false, _) => r1,
            (true, true) => 1.0,
            (true, false) => r1 + 1.0,
        };
        let mut dw = r1 * (r.a2_plus + r.a3_plus * o2);
        if r.multiplicative {
            dw *= r.w_max - w;
        }
        w = (w + learn * dw).clamp(r.w_min, r.w_max);
    }
    w
}

/// The pre-spike half of [`stdp_synapse`]: depression by the post trace `o1` (decayed to
/// this step) times `k = a2_minus + a3_minus * r2` (`r2` the pre's slow trace, decayed).
#[inline]
pub fn stdp_pre(r: &crate::compile::StdpConsts, w: f32, k: f32, o1: f32, learn: f32) -> f32 {
    let mut dw = -o1 * k;
    if r.multiplicative {
        dw *= w - r.w_min;
    }
    (w + learn * dw).clamp(r.w_min, r.w_max)
}

/// PES weight change (Nengo's `SimPES`): `delta[b, i, j] = (alpha * error[b, i]) * pre[b, j]`
/// with `alpha = -learning_rate * dt / n_pre`, for each instance `b`; all 0 when `learn` is 0.
/// Every weight's delta is written once (the kernel runs one invocation per weight).
pub fn pes(
    alpha: f32,
    rows: usize,
    cols: usize,
    error: &[f32],
    pre: &[f32],
    learn: f32,
    delta: &mut [f32],
) {
    for (b, db) in delta.chunks_mut(rows * cols).enumerate() {
        for i in 0..rows {
            for j in 0..cols {
                db[i * cols + j] = if learn == 0.0 {
                    0.0
                } else {
                    (alpha * error[b * rows + i]) * pre[b * cols + j]
                };
            }
        }
    }
}

/// BCM weight change (Nengo's `SimBCM`):
/// `delta[b, i, j] = (alpha * post[b, i] * (post[b, i] - theta[b, i])) * pre[b, j]`
/// with `alpha = learning_rate * dt`; all 0 when `learn` is 0.
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel's bindings")]
pub fn bcm(
    alpha: f32,
    rows: usize,
    cols: usize,
    pre: &[f32],
    post: &[f32],
    theta: &[f32],
    learn: f32,
    delta: &mut [f32],
) {
    for (b, db) in delta.chunks_mut(rows * cols).enumerate() {
        for i in 0..rows {
            let p = post[b * rows + i];
            let row = alpha * p * (p - theta[b * rows + i]);
            for j in 0..cols {
                db[i * cols + j] = if learn == 0.0 {
                    0.0
                } else {
                    row * pre[b * cols + j]
                };
            }
        }
    }
}

/// Oja weight change (Nengo's `SimOja`):
/// `delta[b, i, j] = (alpha * post[b, i]) * pre[b, j] - beta * (alpha * post[b, i]^2) * w[b, i, j]`
/// with `alpha = learning_rate * dt`; all 0 when `learn` is 0.
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel's bindings")]
pub fn oja(
    alpha: f32,
    beta: f32,
    rows: usize,
    cols: usize,
    pre: &[f32],
    post: &[f32],
    w: &[f32],
    learn: f32,
    delta: &mut [f32],
) {
    for (b, db) in delta.chunks_mut(rows * cols).enumerate() {
        for i in 0..rows {
            let p = post[b * rows + i];
            let hebb = alpha * p;
            let forget = beta * (alpha * p * p);
            for j in 0..cols {
                let k = i * cols + j;
                db[k] = if learn == 0.0 {
                    0.0
                } else {
                    hebb * pre[b * cols + j] - forget * w[b * rows * cols + k]
                };
            }
        }
    }
}

multiversion! {
    /// Trace update: `x = x * decay`, then at a spike `x = 1` (nearest) or `x += 1` (all-to-all).
    pub fn trace / trace_at(decay: f32, nearest: bool, spikes: &[f32], x: &mut [f32]) {
        for (x, &s) in x.iter_mut().zip(spikes) {
            let d = *x * decay;
            *x = if s == 0.0 {
                d
            } else if nearest {
                1.0
            } else {
                d + 1.0
            };
        }
    }
}

/// Scales each row of each instance's `w` (rows x cols) to sum to `target`; rows summing to 0
/// (or less) are left as they are.
pub fn normalize_rows(w: &mut [f32], rows: usize, cols: usize, target: f32) {
    for row in w.chunks_mut(cols) {
        let mut sum = 0.0f32;
        for &v in row.iter() {
            sum += v;
        }
        if sum > 0.0 {
            let factor = target / sum;
            for v in row.iter_mut() {
                *v *= factor;
            }
        }
    }
    let _ = rows;
}

/// [`normalize_rows`] on a CSR matrix: scales the stored entries of each row of each instance
/// (`w` holds `nnz` values per instance, or one shared copy) to sum to `target`, the sum taken in
/// stored order; rows summing to 0 (or less) are left as they are.
/// Twin: `shaders/normalize_rows_sparse.wgsl`.
pub fn normalize_rows_sparse(indptr: &[f32], rows: usize, w: &mut [f32], target: f32) {
    let nnz = ix(indptr[rows]);
    for wb in w.chunks_mut(nnz.max(1)) {
        for r in 0..rows {
            let row = &mut wb[ix(indptr[r])..ix(indptr[r + 1])];
            let mut sum = 0.0f32;
            for &v in row.iter() {
                sum += v;
            }
            if sum > 0.0 {
                let factor = target / sum;
                for v in row.iter_mut() {
                    *v *= factor;
                }
            }
        }
    }
}

/// Diehl & Cook neuron constants in f32 for a given dt.
#[derive(Clone, Copy, Debug)]
pub struct DcConsts {
    /// Timestep (s).
    pub dt: f32,
    /// Resting potential.
    pub v_rest: f32,
    /// Reset potential.
    pub v_reset: f32,
    /// Base threshold.
    pub v_thresh: f32,
    /// Excitatory reversal.
    pub e_exc: f32,
    /// Inhibitory reversal.
    pub e_inh: f32,
    /// dt / tau_m.
    pub dt_over_tau: f32,
    /// exp(-dt / tau_ge).
    pub decay_ge: f32,
    /// exp(-dt / tau_gi).
    pub decay_gi: f32,
    /// 1 - exp(-dt / tau_theta), the fraction of theta lost per step (see [`diehl_cook`]).
    pub k_theta: f32,
    /// Threshold step.
    pub theta_plus: f32,
    /// Theta offset.
    pub theta_offset: f32,
    /// Refractory period in steps (the voltage is held).
    pub ref_steps: f32,
    /// Steps after a spike during which the threshold is not tested: `max(ref_steps,
    /// round(min_interval / dt))`. The refractory counter starts here at a spike; the voltage
    /// is held while it is above `gate_steps - ref_steps`.
    pub gate_steps: f32,
}

impl DcConsts {
    /// The constants in field order, the order of the WGSL struct `DcConsts`
    /// (`shaders/common/dc_one.wgsl`) that both GPU paths fill from this.
    pub fn values(&self) -> [f32; 14] {
        [
            self.dt,
            self.v_rest,
            self.v_reset,
            self.v_thresh,
            self.e_exc,
            self.e_inh,
            self.dt_over_tau,
            self.decay_ge,
            self.decay_gi,
            self.k_theta,
            self.theta_plus,
            self.theta_offset,
            self.ref_steps,
            self.gate_steps,
        ]
    }

    /// For the given parameters and dt.
    pub fn new(p: &crate::model::DcParams, dt: f64) -> Self {
        DcConsts {
            dt: dt as f32,
            v_rest: p.v_rest as f32,
            v_reset: p.v_reset as f32,
            v_thresh: p.v_thresh as f32,
            e_exc: p.e_exc as f32,
            e_inh: p.e_inh as f32,
            dt_over_tau: (dt / p.tau_m) as f32,
            decay_ge: (-dt / p.tau_ge).exp() as f32,
            decay_gi: (-dt / p.tau_gi).exp() as f32,
            k_theta: (-(-dt / p.tau_theta).exp_m1()) as f32,
            theta_plus: p.theta_plus as f32,
            theta_offset: p.theta_offset as f32,
            ref_steps: (p.refractory / dt).round() as f32,
            gate_steps: (p.refractory / dt)
                .round()
                .max((p.min_interval / dt).round()) as f32,
        }
    }
}

/// Diehl & Cook neurons, one step: add last step's conductance increments, integrate the
/// voltage with exponential Euler (not while refractory), decay conductances and theta,
/// threshold `v > v_thresh + theta - theta_offset` (not while the spike gate is closed), reset.
/// Theta moves only when `learn` != 0.
///
/// One counter, `refractory_steps`, serves both the refractory period and the spike gate of
/// [`crate::model::DcParams::min_interval`]: a spike sets it to `gate_steps`; each later step
/// takes one off while it is above 0 and tests the threshold only once it is 0; the voltage is
/// held while the counter is above `gate_steps - ref_steps`, i.e. for `ref_steps` steps. With no
/// gate (`gate_steps == ref_steps`) the two conditions are one.
///
/// Theta's decay per step (theta * 5e-8 at dt 0.5 ms, tau_theta 1e4 s) is below half an f32 ulp
/// of theta, so `theta -= theta * k` would round to nothing or to a whole ulp. The decay is
/// therefore accumulated in `theta_decay` (a small number, so its own rounding is fine) and
/// folded into `theta` once it reaches 2^-10 mV; the threshold uses `theta - theta_decay`.
///
/// State order: voltage, ge, gi, theta, theta_decay, refractory_steps, ge_in, gi_in.
pub fn diehl_cook(p: &DcConsts, learn: f32, out: &mut [f32], state: [&mut Vec<f32>; 8]) {
    let [v, ge, gi, theta, acc, refr, ge_in, gi_in] = state;
    #[allow(clippy::type_complexity)]
    let run = |(out, v, ge, gi, theta, acc, refr, ge_in, gi_in): (
        &mut [f32],
        &mut [f32],
        &mut [f32],
        &mut [f32],
        &mut [f32],
        &mut [f32],
        &mut [f32],
        &mut [f32],
        &mut [f32],
    )| dc_block(p, learn, out, [v, ge, gi, theta, acc, refr, ge_in, gi_in]);
    if out.len() >= PARALLEL_MIN {
        let c = PARALLEL_CHUNK;
        (
            out.par_chunks_mut(c),
            v.par_chunks_mut(c),
            ge.par_chunks_mut(c),
            gi.par_chunks_mut(c),
            theta.par_chunks_mut(c),
            acc.par_chunks_mut(c),
            refr.par_chunks_mut(c),
            ge_in.par_chunks_mut(c),
            gi_in.par_chunks_mut(c),
        )
            .into_par_iter()
            .for_each(|chunk| {
                let _flush = FlushSubnormals::new();
                run(chunk)
            });
    } else {
        run((out, v, ge, gi, theta, acc, refr, ge_in, gi_in));
    }
}

multiversion! {
    /// `dc_one` over whole slices (all of length `out.len()`), bit for bit, in blocks of
    /// [`DC_BLOCK`] neurons and three vectorised passes: conductances and the voltage's fixed
    /// point, `exp` of every neuron's argument ([`super::expf::expf_in_place`]), then the
    /// voltage, decays, theta and threshold with selects. Same operations in the same order as
    /// `dc_one`, which stays the definition (and the twin of `shaders/common/dc_one.wgsl`).
    /// Built for each [`super::simd::Level`].
    fn dc_block / dc_block_at(
        p: &DcConsts,
        learn: f32,
        out: &mut [f32],
        state: [&mut [f32]; 8],
    ) {
        let [v, ge, gi, theta, acc, refr, ge_in, gi_in] = state;
        let n = out.len();
        let mut start = 0;
        while start < n {
            let m = DC_BLOCK.min(n - start);
            let end = start + m;
            let (out, v, ge, gi, theta, acc, refr, ge_in, gi_in) = (
                &mut out[start..end],
                &mut v[start..end],
                &mut ge[start..end],
                &mut gi[start..end],
                &mut theta[start..end],
                &mut acc[start..end],
                &mut refr[start..end],
                &mut ge_in[start..end],
                &mut gi_in[start..end],
            );
            let mut v_inf = [0f32; DC_BLOCK];
            let mut decay = [0f32; DC_BLOCK];
            for k in 0..m {
                let (e, i) = (ge[k] + ge_in[k], gi[k] + gi_in[k]);
                let g = 1.0 + e + i;
                v_inf[k] = (p.v_rest + e * p.e_exc + i * p.e_inh) / g;
                decay[k] = -p.dt_over_tau * g;
                ge[k] = e * p.decay_ge;
                gi[k] = i * p.decay_gi;
                ge_in[k] = 0.0;
                gi_in[k] = 0.0;
            }
            // exp of every neuron's argument, whole blocks at once; the held neurons' results
            // are not used (pass 3 keeps their voltage).
            super::expf::expf_in_place(&mut decay[..m], LEVEL);
            let held_above = p.gate_steps - p.ref_steps + 0.5;
            for k in 0..m {
                let gated = refr[k] > 0.5;
                let held = refr[k] > held_above;
                let mut vk = if held {
                    v[k]
                } else {
                    v_inf[k] + (v[k] - v_inf[k]) * decay[k]
                };
                let mut rf = if gated { refr[k] - 1.0 } else { refr[k] };
                let (mut th, mut ac) = (theta[k], acc[k]);
                if learn != 0.0 {
                    ac += (th - ac) * p.k_theta;
                    let fold = ac >= THETA_FOLD;
                    th = if fold { th - ac } else { th };
                    ac = if fold { 0.0 } else { ac };
                }
                let spike = !gated && vk > p.v_thresh + (th - ac) - p.theta_offset;
                vk = if spike { p.v_reset } else { vk };
                rf = if spike { p.gate_steps } else { rf };
                if learn != 0.0 {
                    th = if spike { th + p.theta_plus } else { th };
                }
                out[k] = if spike { 1.0 / p.dt } else { 0.0 };
                v[k] = vk;
                theta[k] = th;
                acc[k] = ac;
                refr[k] = rf;
            }
            start = end;
        }
    }
}

/// Neurons per block of [`dc_block`].
const DC_BLOCK: usize = 64;

/// One neuron, one step: the scalar definition that [`diehl_cook`]'s blocked passes reproduce
/// bit for bit (checked in `dc_block_tests`), and the twin of `shaders/common/dc_one.wgsl`.
#[cfg(test)]
fn dc_one(
    p: &DcConsts,
    learn: f32,
    v: f32,
    ge: f32,
    gi: f32,
    (theta, acc): (f32, f32),
    refr: f32,
) -> (f32, f32, f32, f32, f32, f32, f32) {
    let gated = refr > 0.5;
    let held = refr > p.gate_steps - p.ref_steps + 0.5;
    let mut refr = refr;
    let mut v = v;
    if gated {
        refr -= 1.0;
    }
    if !held {
        let g = 1.0 + ge + gi;
        let v_inf = (p.v_rest + ge * p.e_exc + gi * p.e_inh) / g;
        v = v_inf + (v - v_inf) * super::expf::expf(-p.dt_over_tau * g);
    }
    let ge = ge * p.decay_ge;
    let gi = gi * p.decay_gi;
    let mut theta = theta;
    let mut acc = acc;
    if learn != 0.0 {
        acc += (theta - acc) * p.k_theta;
        if acc >= THETA_FOLD {
            theta -= acc;
            acc = 0.0;
        }
    }
    let spike = !gated && v > p.v_thresh + (theta - acc) - p.theta_offset;
    let mut o = 0.0;
    if spike {
        v = p.v_reset;
        refr = p.gate_steps;
        if learn != 0.0 {
            theta += p.theta_plus;
        }
        o = 1.0 / p.dt;
    }
    (o, v, ge, gi, theta, acc, refr)
}

/// Accumulated theta decay (mV) folded into theta (see [`diehl_cook`]); twin of `THETA_FOLD` in
/// `shaders/diehl_cook.wgsl`.
pub const THETA_FOLD: f32 = 1.0 / 1024.0;

/// LIF constants in f32.
#[derive(Clone, Copy, Debug)]
pub struct LifConsts {
    /// Membrane time constant (s).
    pub tau_rc: f32,
    /// Refractory period (s).
    pub tau_ref: f32,
    /// Voltage floor.
    pub min_voltage: f32,
    /// Output scale.
    pub amplitude: f32,
}

impl LifConsts {
    /// From the model's parameters.
    pub fn new(p: &LifParams) -> Self {
        LifConsts {
            tau_rc: p.tau_rc as f32,
            tau_ref: p.tau_ref as f32,
            min_voltage: p.min_voltage_f32(),
            amplitude: p.amplitude as f32,
        }
    }
}

/// Nengo's LIF step: exact integration of the membrane over the non-refractory part of the
/// step, sub-step spike time, fractional refractory period.
pub fn lif(p: &LifConsts, dt: f32, j: &[f32], out: &mut [f32], v: &mut [f32], refr: &mut [f32]) {
    for i in 0..j.len() {
        let (o, vi, ri) = lif_one(p, dt, j[i], v[i], refr[i]);
        out[i] = o;
        v[i] = vi;
        refr[i] = ri;
    }
}

#[inline]
fn lif_one(p: &LifConsts, dt: f32, j: f32, v: f32, refr: f32) -> (f32, f32, f32) {
    let refr = refr - dt;
    let delta_t = (dt - refr).clamp(0.0, dt);
    let mut v = v - (j - v) * (-delta_t / p.tau_rc).exp_m1();
    if v > 1.0 {
        let t_spike = dt + p.tau_rc * (-(v - 1.0) / (j - 1.0)).ln_1p();
        (p.amplitude / dt, 0.0, p.tau_ref + t_spike)
    } else {
        if v < p.min_voltage {
            v = p.min_voltage;
        }
        (0.0, v, refr)
    }
}

/// Steady-state LIF rate: `amplitude / (tau_ref + tau_rc * ln(1 + 1/(J - 1)))` for J > 1, else 0.
pub fn lif_rate(p: &LifConsts, j: &[f32], out: &mut [f32]) {
    for (o, &j) in out.iter_mut().zip(j) {
        *o = if j > 1.0 {
            p.amplitude / (p.tau_ref + p.tau_rc * (1.0 / (j - 1.0)).ln_1p())
        } else {
            0.0
        };
    }
}

/// Nengo's AdaptiveLIF: LIF on `J - n`, then `n += dt/tau_n * (inc_n * out - n)`.
#[expect(clippy::too_many_arguments, reason = "mirrors the kernel's bindings")]
pub fn adaptive_lif(
    p: &LifConsts,
    tau_n: f32,
    inc_n: f32,
    dt: f32,
    j: &[f32],
    out: &mut [f32],
    v: &mut [f32],
    refr: &mut [f32],
    n: &mut [f32],
) {
    for i in 0..j.len() {
        let (o, vi, ri) = lif_one(p, dt, j[i] - n[i], v[i], refr[i]);
        out[i] = o;
        v[i] = vi;
        refr[i] = ri;
        n[i] += (dt / tau_n) * (inc_n * o - n[i]);
    }
}

/// Nengo's SpikingRectifiedLinear: integrate `max(J, 0)`, emit `floor(v)` spikes.
pub fn spiking_rectified_linear(
    amplitude: f32,
    dt: f32,
    j: &[f32],
    out: &mut [f32],
    v: &mut [f32],
) {
    for i in 0..j.len() {
        v[i] += j[i].max(0.0) * dt;
        let n = v[i].floor();
        out[i] = (amplitude / dt) * n;
        v[i] -= n;
    }
}

/// `out = amplitude * max(J, 0)`.
pub fn rectified_linear(amplitude: f32, j: &[f32], out: &mut [f32]) {
    for (o, &j) in out.iter_mut().zip(j) {
        *o = amplitude * j.max(0.0);
    }
}

/// Izhikevich parameters in f32.
#[derive(Clone, Copy, Debug)]
pub struct IzhConsts {
    /// a
    pub a: f32,
    /// b
    pub b: f32,
    /// c (mV)
    pub c: f32,
    /// d
    pub d: f32,
}

/// Nengo's Izhikevich step (equations in ms, hence the factors of 1000).
pub fn izhikevich(
    p: &IzhConsts,
    dt: f32,
    j: &[f32],
    out: &mut [f32],
    v: &mut [f32],
    u: &mut [f32],
) {
    for i in 0..j.len() {
        let ji = j[i].max(-30.0);
        let dv = (0.04 * v[i] * v[i] + 5.0 * v[i] + 140.0 - u[i] + ji) * 1000.0;
        v[i] += dv * dt;
        let spiked = v[i] >= 30.0;
        out[i] = if spiked { 1.0 / dt } else { 0.0 };
        if spiked {
            v[i] = p.c;
        }
        let du = (p.a * (p.b * v[i] - u[i])) * 1000.0;
        u[i] += du * dt;
        if spiked {
            u[i] += p.d;
        }
    }
}

/// `y = a*y + (1 - a)*x`.
pub fn lowpass(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = a * *y + (1.0 - a) * x;
    }
}

/// Alpha filter, exact for piecewise-constant input: `y = a*y + c1*z + c2*x; z = a*z + (1-a)*x`
/// (y uses the old z).
pub fn alpha(a: f32, c1: f32, c2: f32, x: &[f32], z: &mut [f32], y: &mut [f32]) {
    for i in 0..x.len() {
        y[i] = a * y[i] + c1 * z[i] + c2 * x[i];
        z[i] = a * z[i] + (1.0 - a) * x[i];
    }
}

// ---------------------------------------------------------------------------------------------
// Presynaptic-major weights. A dense weight matrix used only by `matvec_inc`, `stdp` and
// `normalize_rows` (Diehl & Cook's input connection without delays, learning or frozen) is kept
// column by column on this backend: an input spike then reads and updates one contiguous column
// of `rows` weights instead of one cache line per neuron. With delays (`arrival_matvec_inc`,
// `stdp_delayed`, `delayed_matvec_inc`), column by column and within a column by delay: the
// arrival order of `ArrivalIndex::arrange`, in which the synapses one spike reaches at one delay
// are contiguous (the delays themselves stay row-major). Every weight and every sum gets the
// same operations in the same order as in the row-major functions above, so the results are
// bit-identical (tests below and `tests/learning.rs`); `Backend::read`/`write` convert, so
// nothing outside this file sees it.

/// The buffers kept presynaptic-major, as `(rows, cols)`: dense matrices whose every use is the
/// matrix of a `matvec_inc`, `stdp`, `normalize_rows`, `arrival_matvec_inc` or `stdp_delayed`
/// op, or the matrix or the delays of a `delayed_matvec_inc` op (a frozen delayed connection),
/// with one shape.
pub(crate) fn presynaptic_major(plan: &Plan) -> Vec<Option<(usize, usize)>> {
    let n = plan.buffers.len();
    let mut shape: Vec<Option<(usize, usize)>> = vec![None; n];
    let mut ok = vec![true; n];
    for op in plan.step.iter().chain(&plan.boundary) {
        let (matrices, rows, cols) = match op {
            Op::MatVecInc { m, rows, cols, .. } | Op::ArrivalMatVecInc { m, rows, cols, .. } => {
                (vec![*m], *rows, *cols)
            }
            Op::Stdp { w, rows, cols, .. }
            | Op::StdpDelayed { w, rows, cols, .. }
            | Op::NormalizeRows { w, rows, cols, .. } => (vec![*w], *rows, *cols),
            Op::DelayedMatVecInc {
                m,
                delays,
                rows,
                cols,
                ..
            } => (vec![*m, *delays], *rows, *cols),
            _ => (vec![], 0, 0),
        };
        for b in op.buffers() {
            if !matrices.contains(&b) {
                ok[b.0] = false;
                continue;
            }
            match shape[b.0] {
                None => shape[b.0] = Some((rows, cols)),
                Some(s) if s == (rows, cols) => {}
                Some(_) => ok[b.0] = false,
            }
        }
    }
    (0..n)
        .map(|i| match shape[i] {
            Some((rows, cols))
                if ok[i] && rows > 1 && cols > 1 && plan.buffers[i].len == rows * cols =>
            {
                Some((rows, cols))
            }
            _ => None,
        })
        .collect()
}

/// Which of the presynaptic-major weight matrices (`t_shape`, as from [`presynaptic_major`]) the
/// CPU keeps in the arrival order of their delays instead ([`ArrivalIndex::arrange`]): those of
/// a dense connection with a delay matrix, read and written only by [`Op::ArrivalMatVecInc`],
/// [`Op::StdpDelayed`], [`Op::DelayedMatVecInc`] (of one delay matrix) and
/// [`Op::NormalizeRows`]. Per buffer: the delay matrix.
fn arranged_by_arrival(plan: &Plan, t_shape: &[Option<(usize, usize)>]) -> Vec<Option<BufId>> {
    let n = plan.buffers.len();
    let mut delays_of: Vec<Option<BufId>> = vec![None; n];
    let mut ok: Vec<bool> = t_shape.iter().map(Option::is_some).collect();
    for op in plan.step.iter().chain(&plan.boundary) {
        let (w, d) = match op {
            Op::ArrivalMatVecInc { m, delays, .. } | Op::DelayedMatVecInc { m, delays, .. } => {
                (*m, Some(*delays))
            }
            Op::StdpDelayed { w, delays, .. } => (*w, Some(*delays)),
            Op::NormalizeRows { w, .. } => (*w, None),
            _ => {
                for b in op.buffers() {
                    ok[b.0] = false;
                }
                continue;
            }
        };
        for b in op.buffers() {
            if b != w {
                ok[b.0] = false;
            }
        }
        if let Some(d) = d {
            match delays_of[w.0] {
                None => delays_of[w.0] = Some(d),
                Some(e) if e == d => {}
                Some(_) => ok[w.0] = false,
            }
        }
    }
    (0..n)
        .map(|i| if ok[i] { delays_of[i] } else { None })
        .collect()
}

/// The buffers that `t_shape` (as from [`presynaptic_major`]) marks presynaptic-major.
pub(crate) fn shaped_buffers(t_shape: &[Option<(usize, usize)>]) -> Vec<BufId> {
    (0..t_shape.len())
        .filter(|&i| t_shape[i].is_some())
        .map(BufId)
        .collect()
}

/// Each `rows x cols` block of `v` (row-major) as `cols x rows` (presynaptic-major), or back
/// when `back` is set.
pub(crate) fn transpose_blocks(v: &[f32], rows: usize, cols: usize, back: bool) -> Vec<f32> {
    let mut out = vec![0.0f32; v.len()];
    let (r, c) = if back { (cols, rows) } else { (rows, cols) };
    for (src, dst) in v.chunks(r * c).zip(out.chunks_mut(r * c)) {
        for i in 0..r {
            for j in 0..c {
                dst[j * r + i] = src[i * c + j];
            }
        }
    }
    out
}

multiversion! {
    /// [`matvec_inc`] on a presynaptic-major matrix (`m_t[c * rows + r]` = row r, column c; one
    /// copy, or one per instance): each row's terms are added in the same (column) order.
    pub fn matvec_inc_t / matvec_inc_t_at(
        m_t: &[f32],
        rows: usize,
        cols: usize,
        x: &[f32],
        y: &mut [f32],
        scale: f32,
    ) {
        let per_instance = m_t.len() > rows * cols;
        let one = |b: usize, yb: &mut [f32], xb: &[f32]| {
            let mb = if per_instance {
                &m_t[b * rows * cols..(b + 1) * rows * cols]
            } else {
                m_t
            };
            let mut acc = vec![0.0f32; rows];
            for_each_nonzero(xb, |c, xc| {
                for (a, &m) in acc.iter_mut().zip(&mb[c * rows..(c + 1) * rows]) {
                    *a += m * xc;
                }
            });
            for (y, a) in yb.iter_mut().zip(&acc) {
                *y += scale * a;
            }
        };
        for_each_instance(rows, cols, x, y, one);
    }
}

/// Calls `f(i, x[i])` for every `x[i] != 0.0` (NaN included, -0.0 not), in ascending order:
/// spike vectors are mostly zeros, so 16 elements are tested at once (vectorised) first.
/// Always inlined, so that it is built for its caller's [`super::simd::Level`].
#[inline(always)]
fn for_each_nonzero(x: &[f32], mut f: impl FnMut(usize, f32)) {
    for (c, chunk) in x.chunks(16).enumerate() {
        if !chunk.iter().fold(false, |any, &v| any | (v != 0.0)) {
            continue;
        }
        // One bit per nonzero element, then only the set bits are visited (no branch per
        // element).
        let mut bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |m, (k, &v)| m | (u32::from(v != 0.0) << k));
        while bits != 0 {
            let k = bits.trailing_zeros() as usize;
            f(c * 16 + k, chunk[k]);
            bits &= bits - 1;
        }
    }
}

multiversion! {
    /// [`stdp`] on presynaptic-major weights: every synapse gets the same single update.
    #[expect(clippy::too_many_arguments, reason = "mirrors stdp")]
    pub fn stdp_t / stdp_t_at(
        r: &crate::compile::StdpConsts,
        rows: usize,
        cols: usize,
        w_t: &mut [f32],
        pre: &[f32],
        post: &[f32],
        traces: [&[f32]; 4],
        learn: f32,
    ) {
        if learn == 0.0 {
            return;
        }
        let [r1s, r2s, o1s, o2s] = traces;
        let batch = pre.len() / cols;
        for b in 0..batch {
            let wb = &mut w_t[b * rows * cols..(b + 1) * rows * cols];
            let (pre, post) = (
                &pre[b * cols..(b + 1) * cols],
                &post[b * rows..(b + 1) * rows],
            );
            let (r1s, r2s) = (
                &r1s[b * cols..(b + 1) * cols],
                &r2s[b * cols..(b + 1) * cols],
            );
            let o1: Vec<f32> = o1s[b * rows..(b + 1) * rows]
                .iter()
                .map(|o| o * r.decay_o1)
                .collect();
            let o2: Vec<f32> = o2s[b * rows..(b + 1) * rows]
                .iter()
                .map(|o| o * r.decay_o2)
                .collect();
            // Columns whose pre neuron spiked, in the rows whose post neuron did not.
            // `stdp_synapse(r, w, true, false, ..)` written out so that it vectorises: the same
            // operations in the same order, the row's factor hoisted, a select instead of a branch.
            let post = &post[..rows];
            let o1 = &o1[..rows];
            for_each_nonzero(pre, |j, _| {
                let col = &mut wb[j * rows..(j + 1) * rows];
                let f = r.a2_minus + r.a3_minus * (r2s[j] * r.decay_r2);
                if r.multiplicative {
                    for i in 0..rows {
                        let w = col[i];
                        let dw = -o1[i] * f * (w - r.w_min);
                        let nw = (w + learn * dw).clamp(r.w_min, r.w_max);
                        col[i] = if post[i] == 0.0 { nw } else { w };
                    }
                } else {
                    for i in 0..rows {
                        let w = col[i];
                        let dw = -o1[i] * f;
                        let nw = (w + learn * dw).clamp(r.w_min, r.w_max);
                        col[i] = if post[i] == 0.0 { nw } else { w };
                    }
                }
            });
            // Rows whose post neuron spiked: every column.
            for_each_nonzero(post, |i, _| {
                for j in 0..cols {
                    let k = j * rows + i;
                    wb[k] = stdp_synapse(
                        r,
                        wb[k],
                        pre[j] != 0.0,
                        true,
                        r1s[j],
                        r2s[j],
                        o1[i],
                        o2[i],
                        learn,
                    );
                }
            });
        }
    }
}

/// [`normalize_rows`] on weights in arrival order ([`ArrivalIndex::arrange`]): column by
/// column as [`normalize_rows_t`], so each row's sum adds the same terms in the same order.
pub fn normalize_rows_arranged(
    w_a: &mut [f32],
    index: &ArrivalIndex,
    rows: usize,
    cols: usize,
    target: f32,
) {
    for wb in w_a.chunks_mut(rows * cols) {
        let mut sums = vec![0.0f32; rows];
        for (&r, &v) in index.row.iter().zip(wb.iter()) {
            sums[r as usize] += v;
        }
        let factors: Vec<Option<f32>> = sums
            .iter()
            .map(|&s| (s > 0.0).then(|| target / s))
            .collect();
        for (&r, v) in index.row.iter().zip(wb.iter_mut()) {
            if let Some(f) = factors[r as usize] {
                *v *= f;
            }
        }
    }
}

multiversion! {
    /// [`normalize_rows`] on presynaptic-major weights: each row's sum taken in the same (column)
    /// order, the same factor applied.
    pub fn normalize_rows_t / normalize_rows_t_at(
        w_t: &mut [f32],
        rows: usize,
        cols: usize,
        target: f32,
    ) {
        for wb in w_t.chunks_mut(rows * cols) {
            let mut sums = vec![0.0f32; rows];
            for col in wb.chunks(rows) {
                for (s, &v) in sums.iter_mut().zip(col) {
                    *s += v;
                }
            }
            // A select between the product and the weight, not a branch per weight (which did
            // not vectorise and cost 3x at AVX-512) and not a factor of 1 for the rows left as
            // they are (`v * 1.0` is not `v` for a subnormal `v` in flush-to-zero mode).
            let factors: Vec<f32> = sums
                .iter()
                .map(|&s| if s > 0.0 { target / s } else { 1.0 })
                .collect();
            let keep: Vec<bool> = sums.iter().map(|&s| s.is_nan() || s <= 0.0).collect();
            for col in wb.chunks_mut(rows) {
                for ((v, f), &k) in col.iter_mut().zip(&factors).zip(&keep) {
                    let scaled = *v * f;
                    *v = if k { *v } else { scaled };
                }
            }
        }
    }
}

#[cfg(test)]
mod parallel_tests {
    use super::*;

    /// Groups kept across steps draw what the definition draws at each step, and are kept
    /// only while the rates have the same bits: odd sizes, both keyings, zero, negative and NaN
    /// rates, one rate changed.
    #[test]
    fn kept_poisson_groups_draw_what_poisson_spikes_draws() {
        for keying in [Keying::Shared, Keying::PerInstance] {
            for &(n, batch) in &[(1usize, 1usize), (17, 3), (785, 2)] {
                let mut rates: Vec<f32> = (0..n * batch)
                    .map(|i| match i % 7 {
                        0 | 3 => 0.0,
                        1 => -2.0,
                        5 if i % 5 == 0 => f32::NAN,
                        _ => (i % 13) as f32 * 40.0,
                    })
                    .collect();
                let groups = PoissonGroups::gather(7, keying, n, 0.0005, 0, &rates);
                assert!(groups.of(&rates));
                let mut spikes = 0;
                for step in 0..40u64 {
                    // The definition, element by element.
                    let want: Vec<f32> = (0..n * batch)
                        .map(|idx| {
                            let (key, index) = match keying {
                                Keying::Shared => (7, idx as u32),
                                Keying::PerInstance => (7 + (idx / n) as u64, (idx % n) as u32),
                            };
                            let u = crate::rng::uniform(key, 3, step, index);
                            if u < rates[idx] * 0.0005 {
                                1.0 / 0.0005
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    let mut got = vec![5.0; n * batch];
                    groups.draw(3, step, 0.0005, &mut got);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "step {step}, {n} x {batch}");
                    spikes += want.iter().filter(|&&x| x != 0.0).count();
                }
                assert!(n * batch < 20 || spikes > 0, "no spikes drawn");
                let last = rates.len() - 1;
                rates[last] = 1.0 + rates[last].abs();
                assert!(!groups.of(&rates), "a changed rate must be seen");
            }
        }
    }

    /// The threaded ops equal the plain element loops they replace, bit for bit, on sizes that
    /// take the parallel path (chunk boundaries mid-instance included).
    #[test]
    fn parallel_ops_equal_serial_loops() {
        let n = PARALLEL_MIN * 2 + 777;
        // Zero, negative and NaN rates included: those skip the draw, which must not matter.
        let rates: Vec<f32> = (0..n)
            .map(|i| match i % 101 {
                0 => -3.0,
                1 => f32::NAN,
                _ => ((i * 31) % 97) as f32 * 1.5,
            })
            .collect();
        // Both keyings, 5,003 values per instance (instances straddle the threads' pieces).
        let per = 5_003;
        for keying in [Keying::Shared, Keying::PerInstance] {
            let mut out = vec![0.0f32; n];
            poisson_spikes(9, keying, per, 2, 123_456, 0.0005, &rates, &mut out);
            let serial: Vec<f32> = (0..n)
                .map(|idx| {
                    let (key, index) = match keying {
                        Keying::Shared => (9, idx as u32),
                        Keying::PerInstance => (9 + (idx / per) as u64, (idx % per) as u32),
                    };
                    let u = crate::rng::uniform(key, 2, 123_456, index);
                    if u < rates[idx] * 0.0005 {
                        1.0 / 0.0005
                    } else {
                        0.0
                    }
                })
                .collect();
            assert_eq!(out, serial, "{keying:?}");
        }
        let mut out = vec![0.0f32; n];
        poisson_spikes(9, Keying::Shared, per, 2, 123_456, 0.0005, &rates, &mut out);
        assert!(out.iter().any(|&x| x != 0.0));

        let (rows, cols, batch) = (37, 53, 500);
        let m: Vec<f32> = (0..rows * cols)
            .map(|i| (i % 13) as f32 * 0.25 - 1.0)
            .collect();
        let x: Vec<f32> = (0..batch * cols)
            .map(|i| if i % 7 == 0 { 2.0 } else { 0.0 })
            .collect();
        let mut y = vec![0.5f32; batch * rows];
        matvec_inc(&m, rows, cols, &x, &mut y, 0.1);
        let mut want = vec![0.5f32; batch * rows];
        for b in 0..batch {
            for r in 0..rows {
                let mut acc = 0.0f32;
                for c in 0..cols {
                    let xv = x[b * cols + c];
                    if xv != 0.0 {
                        acc += m[r * cols + c] * xv;
                    }
                }
                want[b * rows + r] += 0.1 * acc;
            }
        }
        assert_eq!(y, want);
    }
}

#[cfg(test)]
mod presynaptic_major_tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn rng(seed: u64) -> rand_chacha::ChaCha8Rng {
        rand_chacha::ChaCha8Rng::seed_from_u64(seed)
    }

    /// A triplet rule with every term on, for the delayed ops' tests (which vary `nearest` and
    /// `multiplicative`).
    const TRIPLET: crate::compile::StdpConsts = crate::compile::StdpConsts {
        decay_r1: 0.9753,
        decay_r2: 0.9612,
        decay_o1: 0.9753,
        decay_o2: 0.9876,
        a2_plus: 0.004,
        a3_plus: 0.01,
        a2_minus: 0.0001,
        a3_minus: 0.003,
        w_min: 0.0,
        w_max: 1.0,
        nearest: false,
        multiplicative: true,
    };

    /// One step's random input to the delayed ops, drawn in this order: pre spikes (30 %), the
    /// traces r1, r2 (pre) and o1, o2 (post), uniform in [0, 1.5), and post spikes (15 %).
    fn random_step(
        g: &mut impl Rng,
        batch: usize,
        rows: usize,
        cols: usize,
    ) -> (Vec<f32>, Vec<Vec<f32>>, Vec<f32>) {
        let pre: Vec<f32> = (0..batch * cols)
            .map(|_| if g.random_bool(0.3) { 2000.0 } else { 0.0 })
            .collect();
        let traces: Vec<Vec<f32>> = [cols, cols, rows, rows]
            .iter()
            .map(|&n| {
                (0..batch * n)
                    .map(|_| g.random_range(0.0f32..1.5))
                    .collect()
            })
            .collect();
        let post: Vec<f32> = (0..batch * rows)
            .map(|_| if g.random_bool(0.15) { 2000.0 } else { 0.0 })
            .collect();
        (pre, traces, post)
    }

    /// `matvec_inc_t`, `stdp_t` and `normalize_rows_t` on the transposed matrix give exactly
    /// the row-major functions' results (odd sizes, several instances, seeded data with spikes,
    /// post spikes, zero rows and negative sums).
    #[test]
    fn transposed_ops_equal_row_major_ones_bit_for_bit() {
        let mut g = rng(7);
        for &(rows, cols, batch) in &[(13usize, 29usize, 1usize), (37, 11, 3), (5, 101, 2)] {
            let w: Vec<f32> = (0..batch * rows * cols)
                .map(|_| g.random_range(-0.2f32..1.0))
                .collect();
            let x: Vec<f32> = (0..batch * cols)
                .map(|_| if g.random_bool(0.2) { 2000.0 } else { 0.0 })
                .collect();
            let post: Vec<f32> = (0..batch * rows)
                .map(|_| if g.random_bool(0.15) { 2000.0 } else { 0.0 })
                .collect();
            let y0: Vec<f32> = (0..batch * rows)
                .map(|_| g.random_range(-1.0f32..1.0))
                .collect();
            let wt = transpose_blocks(&w, rows, cols, false);
            assert_eq!(transpose_blocks(&wt, rows, cols, true), w);

            // matvec, per-instance and shared matrices
            for shared in [false, true] {
                let (m, mt) = if shared {
                    (w[..rows * cols].to_vec(), wt[..rows * cols].to_vec())
                } else {
                    (w.clone(), wt.clone())
                };
                let (mut a, mut b) = (y0.clone(), y0.clone());
                matvec_inc(&m, rows, cols, &x, &mut a, 0.37);
                matvec_inc_t(&mt, rows, cols, &x, &mut b, 0.37);
                assert_eq!(
                    a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                );
            }

            // STDP (Diehl & Cook's rule and a multiplicative triplet rule)
            let tr: Vec<Vec<f32>> = [cols, cols, rows, rows]
                .iter()
                .map(|&n| {
                    (0..batch * n)
                        .map(|_| g.random_range(0.0f32..1.5))
                        .collect()
                })
                .collect();
            let trs = [&tr[0][..], &tr[1][..], &tr[2][..], &tr[3][..]];
            let dc = crate::compile::StdpConsts {
                decay_r1: 0.9753,
                decay_r2: 0.9753,
                decay_o1: 0.9753,
                decay_o2: 0.9876,
                a2_plus: 0.0,
                a3_plus: 0.01,
                a2_minus: 0.0001,
                a3_minus: 0.0,
                w_min: 0.0,
                w_max: 1.0,
                nearest: true,
                multiplicative: false,
            };
            let tri = crate::compile::StdpConsts {
                a2_plus: 0.004,
                a3_minus: 0.003,
                nearest: false,
                multiplicative: true,
                ..dc
            };
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for k in [dc, tri] {
                for learn in [1.0f32, 0.37] {
                    let (mut a, mut b) = (w.clone(), wt.clone());
                    stdp(&k, rows, cols, &mut a, &x, &post, trs, learn);
                    stdp_t(&k, rows, cols, &mut b, &x, &post, trs, learn);
                    assert_eq!(bits(&transpose_blocks(&b, rows, cols, true)), bits(&a));
                    assert_ne!(a, w, "the weights must change");
                }
            }

            // normalisation, with a zero row and a row of negative sum left alone
            let mut wz = w.clone();
            wz[..cols].fill(0.0);
            wz[cols..2 * cols].fill(-0.1);
            let mut a = wz.clone();
            let mut b = transpose_blocks(&wz, rows, cols, false);
            normalize_rows(&mut a, rows, cols, 7.8);
            normalize_rows_t(&mut b, rows, cols, 7.8);
            assert_eq!(transpose_blocks(&b, rows, cols, true), a);
        }
    }

    /// The functions on weights in arrival order give exactly the row-major functions' results,
    /// step after step across the ring's wrap: odd sizes, several instances, random delays
    /// (0 included, several spikes of one column on the way), shared and per-instance matrices,
    /// post spikes, both STDP rule kinds, a zero row and a negative-sum row.
    #[test]
    fn arrival_ordered_ops_equal_row_major_ones_bit_for_bit() {
        let mut g = rng(11);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for &(rows, cols, slots, batch) in &[
            (13usize, 29usize, 7usize, 2usize),
            (37, 11, 3, 3),
            (5, 41, 1, 1),
            // More slots than a lag mask has bits (the scan of every slot).
            (11, 17, 37, 2),
        ] {
            let delays: Vec<f32> = (0..rows * cols)
                .map(|_| crate::compile::index_to_f32(g.random_range(0..slots as u32)))
                .collect();
            let index = ArrivalIndex::new(&delays, rows, cols, slots);
            let mut w: Vec<f32> = (0..batch * rows * cols)
                .map(|_| g.random_range(-0.2f32..1.0))
                .collect();
            w[..cols].fill(0.0);
            w[cols..2 * cols].fill(-0.1);
            assert_eq!(index.arrange(&index.arrange(&w, false), true), w);
            let len = pre_history_len(slots, cols);
            let mut hist = vec![0.0f32; batch * len];
            // Every SIMD build of the arrival-ordered functions, each with its own weights.
            let levels = super::super::simd::available();
            let mut wa = w.clone();
            let mut wbs = vec![index.arrange(&w, false); levels.len()];
            let shared = index.arrange(&w[..rows * cols], false);
            let (mut ring_a, mut ring_b) = (
                vec![0.0f32; batch * slots * rows],
                vec![0.0f32; batch * slots * rows],
            );
            for step in 0..3 * slots as u64 + 5 {
                let rule = crate::compile::StdpConsts {
                    nearest: step % 2 == 0,
                    multiplicative: step % 3 != 0,
                    ..TRIPLET
                };
                let (pre, traces, post) = random_step(&mut g, batch, rows, cols);
                let before = hist.clone();
                pre_history(step, slots, cols, &pre, &traces[0], &traces[1], &mut hist);
                for &level in &levels {
                    let mut h = before.clone();
                    pre_history_at(
                        level, step, slots, cols, &pre, &traces[0], &traces[1], &mut h,
                    );
                    assert_eq!(
                        bits(&h),
                        bits(&hist),
                        "pre_history at {level:?}, step {step}"
                    );
                }

                let y0: Vec<f32> = (0..batch * rows)
                    .map(|_| g.random_range(-1.0f32..1.0))
                    .collect();
                // The definitions, synapse by synapse from the ring (no index, no counts).
                let now = ring_slot(step, 0, slots);
                let at_lag = |b: usize, part: usize, r: usize, c: usize| {
                    let d = ix(delays[r * cols + c]);
                    hist[b * len + hx(cols, part, lag_slot(now, d, slots), c)]
                };
                let mut y_def = y0.clone();
                for b in 0..batch {
                    for r in 0..rows {
                        let mut acc = 0.0f32;
                        for c in 0..cols {
                            let xv = at_lag(b, 0, r, c);
                            if xv != 0.0 {
                                acc += wa[b * rows * cols + r * cols + c] * xv;
                            }
                        }
                        y_def[b * rows + r] += 0.37 * acc;
                    }
                }
                let mut ya = y0.clone();
                arrival_matvec_inc(step, &wa, &index, rows, cols, slots, &hist, &mut ya, 0.37);
                assert_eq!(bits(&ya), bits(&y_def), "arrival_matvec_inc, step {step}");
                let mut w_def = wa.clone();
                for b in 0..batch {
                    for i in 0..rows {
                        let post_spike = post[b * rows + i] != 0.0;
                        let o1 = traces[2][b * rows + i] * rule.decay_o1;
                        let o2 = traces[3][b * rows + i] * rule.decay_o2;
                        for j in 0..cols {
                            let pre_spike = at_lag(b, 0, i, j) != 0.0;
                            if pre_spike || post_spike {
                                let k = b * rows * cols + i * cols + j;
                                w_def[k] = stdp_synapse(
                                    &rule,
                                    w_def[k],
                                    pre_spike,
                                    post_spike,
                                    at_lag(b, 1, i, j),
                                    at_lag(b, 2, i, j),
                                    o1,
                                    o2,
                                    0.8,
                                );
                            }
                        }
                    }
                }
                for (k, &level) in levels.iter().enumerate() {
                    for (m, m_a) in [(&w[..rows * cols], &shared[..]), (&wa[..], &wbs[k][..])] {
                        let (mut ya, mut yb) = (y0.clone(), y0.clone());
                        arrival_matvec_inc(
                            step, m, &index, rows, cols, slots, &hist, &mut ya, 0.37,
                        );
                        arrival_matvec_inc_arranged_at(
                            level, step, m_a, &index, rows, cols, slots, &hist, &mut yb, 0.37,
                        );
                        assert_eq!(
                            bits(&ya),
                            bits(&yb),
                            "arrival_matvec_inc at {level:?}, step {step}"
                        );
                    }
                }
                delayed_matvec_inc(
                    step,
                    &w[..rows * cols],
                    &delays,
                    rows,
                    cols,
                    &pre,
                    &mut ring_a,
                    slots,
                );
                delayed_matvec_inc_arranged(
                    step,
                    &shared,
                    &index,
                    rows,
                    cols,
                    &pre,
                    &mut ring_b,
                    slots,
                );
                assert_eq!(
                    bits(&ring_a),
                    bits(&ring_b),
                    "delayed_matvec_inc, step {step}"
                );

                let post_traces = [&traces[2][..], &traces[3][..]];
                stdp_delayed(
                    &rule,
                    step,
                    rows,
                    cols,
                    slots,
                    &delays,
                    &index,
                    &hist,
                    &mut wa,
                    &post,
                    post_traces,
                    0.8,
                );
                assert_eq!(bits(&wa), bits(&w_def), "stdp_delayed, step {step}");
                for (&level, wb) in levels.iter().zip(&mut wbs) {
                    stdp_delayed_arranged_at(
                        level,
                        &rule,
                        step,
                        rows,
                        cols,
                        slots,
                        &delays,
                        &index,
                        &hist,
                        wb,
                        &post,
                        post_traces,
                        0.8,
                    );
                    assert_eq!(
                        bits(&wa),
                        bits(&index.arrange(wb, true)),
                        "stdp_delayed at {level:?}, step {step}"
                    );
                }
                if step % 4 == 3 {
                    normalize_rows(&mut wa, rows, cols, 7.8);
                    for wb in &mut wbs {
                        normalize_rows_arranged(wb, &index, rows, cols, 7.8);
                        assert_eq!(
                            bits(&wa),
                            bits(&index.arrange(wb, true)),
                            "normalize_rows, step {step}"
                        );
                    }
                }
            }
            assert_ne!(wa, w, "the weights must learn");
            assert!(
                ring_a.iter().any(|&v| v != 0.0),
                "something must be transmitted"
            );
        }
    }

    /// Transmission and STDP on a sparse matrix without delays through its column index give
    /// exactly the functions that visit every entry: odd sizes, 1-3 instances, shared and
    /// per-instance values, spikes and continuous sources (with zeros), both rule kinds, rows
    /// with post spikes and without, an empty row and an empty column.
    #[test]
    fn indexed_sparse_ops_equal_full_scans_bit_for_bit() {
        use crate::compile::index_to_f32;
        let mut g = rng(13);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for &(rows, cols, batch) in &[(19usize, 31usize, 1usize), (7, 53, 3), (40, 9, 2)] {
            let mut indptr = vec![0u32];
            let mut indices = Vec::new();
            for r in 0..rows {
                if r != 2 {
                    indices.extend((1..cols as u32).filter(|_| g.random_bool(0.35)));
                }
                indptr.push(indices.len() as u32);
            }
            let nnz = indices.len();
            let f = |v: &[u32]| v.iter().map(|&x| index_to_f32(x)).collect::<Vec<f32>>();
            let (ip, ind) = (f(&indptr), f(&indices));
            let index = ArrivalIndex::sparse(&ip, &ind, &f(&vec![0; nnz]), rows, cols, 1);
            assert!(index.sparse.as_ref().unwrap().sorted);
            let w0: Vec<f32> = (0..batch * nnz)
                .map(|_| g.random_range(-0.2f32..1.0))
                .collect();
            let (mut wa, mut wb) = (w0.clone(), w0.clone());
            for step in 0..12 {
                let rule = crate::compile::StdpConsts {
                    nearest: step % 2 == 0,
                    multiplicative: step % 3 != 0,
                    ..TRIPLET
                };
                let (pre, traces, post) = random_step(&mut g, batch, rows, cols);
                let smooth: Vec<f32> = (0..batch * cols)
                    .map(|_| {
                        if g.random_bool(0.3) {
                            0.0
                        } else {
                            g.random_range(-1.0..1.0)
                        }
                    })
                    .collect();
                let y0: Vec<f32> = (0..batch * rows)
                    .map(|_| g.random_range(-1.0f32..1.0))
                    .collect();
                for x in [&pre, &smooth] {
                    for w in [&w0[..nnz], &wa[..]] {
                        let (mut ya, mut yb) = (y0.clone(), y0.clone());
                        sparse_inc(&ip, &ind, w, rows, cols, x, &mut ya, 0.37);
                        sparse_inc_indexed(&index, w, x, &mut yb, 0.37);
                        assert_eq!(bits(&ya), bits(&yb), "sparse_inc, step {step}");
                    }
                }
                let tr = [
                    &traces[0][..],
                    &traces[1][..],
                    &traces[2][..],
                    &traces[3][..],
                ];
                for learn in [0.8f32, 0.0] {
                    stdp_sparse(
                        &rule, &ip, &ind, rows, cols, &mut wa, &pre, &post, tr, learn,
                    );
                    stdp_sparse_indexed(&rule, &index, &mut wb, &pre, &post, tr, learn);
                    assert_eq!(bits(&wa), bits(&wb), "stdp_sparse, step {step}");
                }
            }
            assert_ne!(wa, w0, "the weights must learn");
        }
    }

    /// Transmission and STDP at arrival, and frozen transmission into a ring of future input, on a
    /// sparse matrix through the index of its delays give exactly the functions that visit every
    /// entry; a row whose columns are not stored in increasing order marks the index unsorted
    /// (its transmission then visits every entry).
    #[test]
    fn indexed_sparse_arrival_ops_equal_full_scans_bit_for_bit() {
        use crate::compile::index_to_f32;
        let mut g = rng(5);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for &(rows, cols, slots, batch) in &[(17usize, 23usize, 5usize, 2usize), (9, 40, 2, 3)] {
            let mut indptr = vec![0u32];
            let mut indices = Vec::new();
            for _ in 0..rows {
                indices.extend((0..cols as u32).filter(|_| g.random_bool(0.4)));
                indptr.push(indices.len() as u32);
            }
            let nnz = indices.len();
            let f = |v: &[u32]| v.iter().map(|&x| index_to_f32(x)).collect::<Vec<f32>>();
            let (ip, ind) = (f(&indptr), f(&indices));
            let delays = f(&(0..nnz)
                .map(|_| g.random_range(0..slots as u32))
                .collect::<Vec<_>>());
            let index = ArrivalIndex::sparse(&ip, &ind, &delays, rows, cols, slots);
            assert!(index.sparse.as_ref().unwrap().sorted);
            let w0: Vec<f32> = (0..batch * nnz)
                .map(|_| g.random_range(0.0f32..1.0))
                .collect();
            let (mut wa, mut wb) = (w0.clone(), w0.clone());
            let rule = crate::compile::StdpConsts {
                nearest: true,
                multiplicative: false,
                ..TRIPLET
            };
            let mut hist = vec![0.0f32; batch * pre_history_len(slots, cols)];
            let mut rings = [
                vec![0.0f32; batch * slots * rows],
                vec![0.0f32; batch * slots * rows],
            ];
            for step in 0..4 * slots as u64 + 3 {
                let (pre, traces, post) = random_step(&mut g, batch, rows, cols);
                pre_history(step, slots, cols, &pre, &traces[0], &traces[1], &mut hist);
                let y0: Vec<f32> = (0..batch * rows)
                    .map(|_| g.random_range(-1.0f32..1.0))
                    .collect();
                for w in [&w0[..nnz], &wa[..]] {
                    let (mut ya, mut yb) = (y0.clone(), y0.clone());
                    arrival_sparse_inc(
                        step, &ip, &ind, w, &delays, rows, cols, slots, &hist, &mut ya, 0.37,
                    );
                    arrival_sparse_inc_indexed(step, &index, w, &hist, &mut yb, 0.37);
                    assert_eq!(bits(&ya), bits(&yb), "arrival_sparse_inc, step {step}");
                }
                // Frozen: into a ring of future input, shared and per-instance values.
                let wf = if step % 2 == 0 { &w0[..nnz] } else { &wa[..] };
                let [ring_a, ring_b] = &mut rings;
                delayed_sparse_inc(
                    step, &ip, &ind, wf, &delays, rows, cols, &pre, ring_a, slots,
                );
                delayed_sparse_inc_indexed(step, &index, wf, &pre, ring_b);
                assert_eq!(
                    bits(ring_a),
                    bits(ring_b),
                    "delayed_sparse_inc, step {step}"
                );
                let pt = [&traces[2][..], &traces[3][..]];
                stdp_sparse_delayed(
                    &rule, step, &ip, &ind, rows, cols, slots, &delays, &hist, &mut wa, &post, pt,
                    0.8,
                );
                stdp_sparse_delayed_indexed(
                    &rule, step, &index, &delays, &hist, &mut wb, &post, pt, 0.8,
                );
                assert_eq!(bits(&wa), bits(&wb), "stdp_sparse_delayed, step {step}");
            }
            assert_ne!(wa, w0, "the weights must learn");
            // Two entries of a row swapped: not in increasing order any more.
            let r = (0..rows).find(|&r| indptr[r + 1] - indptr[r] >= 2).unwrap();
            let mut swapped = indices.clone();
            swapped.swap(indptr[r] as usize, indptr[r] as usize + 1);
            let index = ArrivalIndex::sparse(&ip, &f(&swapped), &delays, rows, cols, slots);
            assert!(!index.sparse.as_ref().unwrap().sorted);
        }
    }
}

#[cfg(test)]
mod flush_tests {
    use super::FlushSubnormals;
    use std::hint::black_box;

    /// Inside the guard subnormal results are flushed to zero (on x86-64 and aarch64); after it
    /// the thread computes with subnormals again.
    #[test]
    fn subnormals_are_flushed_only_while_the_guard_lives() {
        let tiny = black_box(1.0e-38f32);
        let half = black_box(0.5f32);
        assert!(tiny * half > 0.0, "subnormal before the guard");
        {
            let _g = FlushSubnormals::new();
            let r = black_box(tiny) * black_box(half);
            if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
                assert_eq!(r, 0.0, "flushed inside the guard");
            }
        }
        assert!(
            black_box(tiny) * black_box(half) > 0.0,
            "restored after the guard"
        );
    }
}

#[cfg(test)]
mod dc_block_tests {
    use super::super::simd::Level;
    use super::*;
    use rand::{Rng, SeedableRng};

    /// 0 with probability `p_zero`, else uniform in [0, hi).
    fn zero_or(g: &mut impl Rng, p_zero: f64, hi: f32) -> f32 {
        if g.random_bool(p_zero) {
            0.0
        } else {
            g.random_range(0.0..hi)
        }
    }

    /// The blocked, vectorised neuron update equals `dc_one` element by element, bit for bit:
    /// odd sizes around the block length, both neuron types, learning on and off, neurons near
    /// threshold, refractory ones, theta decay about to fold, zero and large conductances.
    #[test]
    #[allow(clippy::needless_range_loop)]
    fn blocked_update_equals_dc_one_bit_for_bit() {
        let mut g = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for params in [
            crate::model::DcParams::excitatory(),
            crate::model::DcParams::inhibitory(),
        ] {
            let p = DcConsts::new(&params, 0.0005);
            for &n in &[1usize, 63, 64, 65, 131, 1001] {
                for learn in [0.0f32, 1.0] {
                    let mut st: Vec<Vec<f32>> = (0..8).map(|_| vec![0.0; n]).collect();
                    for i in 0..n {
                        st[0][i] = g.random_range(-70.0f32..-30.0);
                        st[1][i] = zero_or(&mut g, 0.2, 3.0);
                        st[2][i] = zero_or(&mut g, 0.3, 5.0);
                        st[3][i] = g.random_range(0.0..25.0);
                        st[4][i] = if g.random_bool(0.3) {
                            THETA_FOLD * g.random_range(0.99f32..1.0)
                        } else {
                            g.random_range(0.0..THETA_FOLD)
                        };
                        st[5][i] = [0.0, 0.0, 1.0, 3.0, 10.0, 90.0, 91.0, 100.0, f32::NAN]
                            [g.random_range(0..9)];
                        st[6][i] = zero_or(&mut g, 0.5, 1.0);
                        st[7][i] = zero_or(&mut g, 0.5, 1.0);
                        if g.random_bool(0.02) {
                            // exp's slow path (an argument below -88) in the middle of a block.
                            st[6][i] = 2.0e4;
                        }
                        if g.random_bool(0.15) {
                            // At the threshold: spikes only if theta_decay is subtracted.
                            let (v, a) = (st[0][i], THETA_FOLD * 0.5);
                            let v_new = p.v_rest
                                + (v - p.v_rest) * crate::backend::expf::expf(-p.dt_over_tau);
                            st[1][i] = 0.0;
                            st[2][i] = 0.0;
                            st[6][i] = 0.0;
                            st[7][i] = 0.0;
                            st[5][i] = 0.0;
                            st[4][i] = a;
                            st[3][i] = v_new - (p.v_thresh - p.theta_offset) + a * 0.5;
                        }
                    }
                    let mut want = st.clone();
                    let mut want_out = vec![0.0f32; n];
                    for i in 0..n {
                        let (o, v, ge, gi, th, ac, rf) = dc_one(
                            &p,
                            learn,
                            want[0][i],
                            want[1][i] + want[6][i],
                            want[2][i] + want[7][i],
                            (want[3][i], want[4][i]),
                            want[5][i],
                        );
                        want_out[i] = o;
                        for (k, x) in [v, ge, gi, th, ac, rf, 0.0, 0.0].into_iter().enumerate() {
                            want[k][i] = x;
                        }
                    }
                    // Every build of the blocked update this CPU can run, and the dispatch.
                    type Update = fn(&DcConsts, f32, &mut [f32], [&mut [f32]; 8]);
                    let mut builds: Vec<(String, Update)> =
                        vec![("dispatch".into(), |p, l, o, s| {
                            let mut v: Vec<Vec<f32>> = s.iter().map(|x| x.to_vec()).collect();
                            let [va, vb, vc, vd, ve, vf, vh, vk] = &mut v[..] else {
                                unreachable!()
                            };
                            diehl_cook(p, l, o, [va, vb, vc, vd, ve, vf, vh, vk]);
                            for (dst, src) in s.into_iter().zip(&v) {
                                dst.copy_from_slice(src);
                            }
                        })];
                    for level in super::super::simd::available() {
                        let f: Update = match level {
                            Level::Plain => |p, l, o, s| dc_block_at(Level::Plain, p, l, o, s),
                            Level::Avx2 => |p, l, o, s| dc_block_at(Level::Avx2, p, l, o, s),
                            Level::Avx512 => |p, l, o, s| dc_block_at(Level::Avx512, p, l, o, s),
                        };
                        builds.push((level.name().into(), f));
                    }
                    for (build, update) in builds {
                        let mut got = st.clone();
                        let mut out = vec![f32::NAN; n];
                        let [a, b, c, d, e, f, h, k] = &mut got[..] else {
                            unreachable!()
                        };
                        update(&p, learn, &mut out, [a, b, c, d, e, f, h, k]);
                        assert_eq!(
                            out.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                            want_out.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                            "spikes, {build}, n {n}, learn {learn}"
                        );
                        for k in 0..8 {
                            assert_eq!(
                                got[k].iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                                want[k].iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                                "state {k}, {build}, n {n}, learn {learn}"
                            );
                        }
                    }
                    let spikes = want_out.iter().filter(|&&o| o != 0.0).count();
                    if n > 100 {
                        assert!(spikes > 0 && spikes < n, "{spikes} spikes of {n}");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod nonzero_tests {
    use super::*;

    /// `for_each_nonzero` visits exactly the elements `!= 0.0` (NaN, subnormals and infinities
    /// in, both zeros out), in ascending order, for lengths around the 16-element chunk.
    #[test]
    fn visits_exactly_the_nonzero_elements_in_order() {
        for n in [0usize, 1, 15, 16, 17, 33, 785] {
            let x: Vec<f32> = (0..n)
                .map(|i| match (i * 7919) % 23 {
                    0 => 1.0,
                    1 => f32::NAN,
                    2 => -0.0,
                    3 => f32::from_bits(1),
                    4 => f32::NEG_INFINITY,
                    5 => -3.5,
                    _ => 0.0,
                })
                .collect();
            let want: Vec<usize> = (0..n).filter(|&i| x[i] != 0.0).collect();
            let mut got = Vec::new();
            for_each_nonzero(&x, |i, v| {
                assert_eq!(v.to_bits(), x[i].to_bits());
                got.push(i);
            });
            assert_eq!(got, want, "n {n}");
        }
    }
}

#[cfg(test)]
mod simd_tests {
    use super::super::simd::{Level, available};
    use super::*;
    use rand::{Rng, SeedableRng};

    /// 0 with probability `p_zero` (-0.0 in a tenth of those), else uniform in [0, hi).
    fn sparse(g: &mut impl Rng, n: usize, p_zero: f64, hi: f32) -> Vec<f32> {
        (0..n)
            .map(|_| match g.random_bool(p_zero) {
                true if g.random_bool(0.1) => -0.0,
                true => 0.0,
                false => g.random_range(0.0..hi),
            })
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Every build of `pre_history` writes the same ring, step after step across its wrap, with
    /// outputs that emit (spikes, negative values, NaN, the smallest normal) and that do not
    /// (+0, -0, subnormals); each column's count equals the nonzero outputs in its ring and its
    /// latest slot is where it last emitted.
    #[test]
    fn every_build_of_pre_history_writes_the_same_ring() {
        let mut g = rand_chacha::ChaCha8Rng::seed_from_u64(29);
        let levels = available();
        let specials = [
            0.0f32,
            -0.0,
            f32::from_bits(1),
            -f32::from_bits(5),
            f32::MIN_POSITIVE,
            f32::NAN,
            2000.0,
            -1.5,
        ];
        for &(cols, slots, batch) in &[(1usize, 1usize, 1usize), (37, 5, 2), (131, 23, 3)] {
            let len = pre_history_len(slots, cols);
            let mut hists = vec![vec![0.0f32; batch * len]; levels.len()];
            let mut last_emit = vec![None; batch * cols];
            for step in 0..3 * slots as u64 + 2 {
                let pre: Vec<f32> = (0..batch * cols)
                    .map(|_| {
                        if g.random_bool(0.5) {
                            0.0
                        } else {
                            specials[g.random_range(0..specials.len())]
                        }
                    })
                    .collect();
                let r1: Vec<f32> = (0..batch * cols)
                    .map(|_| g.random_range(0.0..1.5))
                    .collect();
                let r2: Vec<f32> = (0..batch * cols)
                    .map(|_| g.random_range(0.0..1.5))
                    .collect();
                for (&level, h) in levels.iter().zip(&mut hists) {
                    pre_history_at(level, step, slots, cols, &pre, &r1, &r2, h);
                }
                for h in &hists[1..] {
                    assert_eq!(bits(h), bits(&hists[0]), "step {step}");
                }
                let slot = ring_slot(step, 0, slots);
                for (k, &x) in pre.iter().enumerate() {
                    if x.abs() >= f32::MIN_POSITIVE || x.is_nan() {
                        last_emit[k] = Some(slot);
                    }
                }
                for b in 0..batch {
                    let hb = &hists[0][b * len..(b + 1) * len];
                    for c in 0..cols {
                        let on = (0..slots).filter(|&t| hb[hx(cols, 0, t, c)] != 0.0).count();
                        assert_eq!(hb[3 * slots * cols + c], on as f32, "count, step {step}");
                        if let Some(t) = last_emit[b * cols + c] {
                            assert_eq!(hb[(3 * slots + 1) * cols + c], t as f32);
                        }
                    }
                }
            }
        }
    }

    /// Every build of every multiversioned op equals the plain build bit for bit, on odd sizes
    /// and batches with seeded random inputs; the builds this CPU has are listed in the output.
    /// `all_but_self_inc`, which skips zero terms, equals the sum over every term.
    #[test]
    fn every_build_of_each_op_gives_the_same_bits() {
        let mut g = rand_chacha::ChaCha8Rng::seed_from_u64(23);
        let levels = available();
        eprintln!("builds compared: {levels:?}");
        let rule = crate::compile::StdpConsts {
            decay_r1: 0.9753,
            decay_r2: 0.9612,
            decay_o1: 0.9753,
            decay_o2: 0.9876,
            a2_plus: 0.004,
            a3_plus: 0.01,
            a2_minus: 0.0001,
            a3_minus: 0.003,
            w_min: 0.0,
            w_max: 1.0,
            nearest: false,
            multiplicative: true,
        };
        for &(rows, cols, batch) in &[(1usize, 1usize, 1usize), (37, 29, 1), (131, 67, 3)] {
            let mut w: Vec<f32> = (0..rows * cols * batch)
                .map(|_| g.random_range(0.0..1.0))
                .collect();
            if rows > 2 {
                // Row 0 of instance 0 sums to 0, row 1 to 0 in flush-to-zero mode (subnormal
                // weights): normalisation leaves both as they are.
                for c in 0..cols {
                    w[c * rows] = 0.0;
                    w[c * rows + 1] = f32::from_bits(1 + c as u32);
                }
            }
            let x = sparse(&mut g, cols * batch, 0.7, 2000.0);
            let post = sparse(&mut g, rows * batch, 0.8, 2000.0);
            let tr: Vec<Vec<f32>> = [cols, cols, rows, rows]
                .iter()
                .map(|&n| (0..n * batch).map(|_| g.random_range(0.0..1.5)).collect())
                .collect();
            let y0: Vec<f32> = (0..rows * batch)
                .map(|_| g.random_range(-1.0..1.0))
                .collect();
            let s: Vec<f32> = (0..rows).map(|_| g.random_range(0.0..20.0)).collect();
            let mut want: Option<Vec<Vec<u32>>> = None;
            for &level in &levels {
                let mut got = Vec::new();
                let mut y = y0.clone();
                matvec_inc_t_at(level, &w, rows, cols, &x, &mut y, 0.7);
                got.push(bits(&y));
                for multiplicative in [false, true] {
                    let r = crate::compile::StdpConsts {
                        multiplicative,
                        ..rule
                    };
                    let mut wl = w.clone();
                    let trs = [&tr[0][..], &tr[1][..], &tr[2][..], &tr[3][..]];
                    stdp_t_at(level, &r, rows, cols, &mut wl, &x, &post, trs, 0.37);
                    got.push(bits(&wl));
                }
                // In the backend's flush-to-zero mode, as it runs.
                let flush = FlushSubnormals::new();
                let mut wl = w.clone();
                normalize_rows_t_at(level, &mut wl, rows, cols, 78.0);
                got.push(bits(&wl));
                if level == Level::Plain {
                    // Row-major normalisation, the definition, on the same weights.
                    let mut rm = transpose_blocks(&w, rows, cols, true);
                    normalize_rows(&mut rm, rows, cols, 78.0);
                    assert_eq!(bits(&transpose_blocks(&wl, rows, cols, true)), bits(&rm));
                    if rows > 2 {
                        assert_eq!(wl[1], f32::from_bits(1), "a subnormal row left as it is");
                    }
                }
                drop(flush);
                for nearest in [false, true] {
                    let mut t = tr[2].clone();
                    trace_at(level, 0.9753, nearest, &post, &mut t);
                    got.push(bits(&t));
                }
                let mut y = y0.clone();
                all_but_self_inc_at(level, &s, &post, &mut y);
                got.push(bits(&y));
                if level == Level::Plain {
                    // The sum over every term, zeros included.
                    let mut naive = y0.clone();
                    for (yb, xb) in naive.chunks_mut(rows).zip(post.chunks(rows)) {
                        let total = xb.iter().fold(0.0f32, |t, &v| t + v);
                        for ((y, &x), &s) in yb.iter_mut().zip(xb).zip(&s) {
                            *y += s * (total - x);
                        }
                    }
                    assert_eq!(got.last(), Some(&bits(&naive)), "all_but_self_inc");
                }
                match &want {
                    None => want = Some(got),
                    Some(w) => {
                        for (k, (a, b)) in w.iter().zip(&got).enumerate() {
                            assert_eq!(a, b, "op {k} at {level:?}, {rows}x{cols}x{batch}");
                        }
                    }
                }
            }
        }
    }
}
