//! Connectivity and delays of neuron-to-neuron connections: sparse matrices in compressed sparse
//! row (CSR) form, and synaptic delays (per connection or per synapse).

use crate::error::{Error, Result};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use std::fmt;

/// A sparse weight matrix in compressed sparse row (CSR) form, laid out like scipy's
/// `csr_matrix`: rows are the targets (post), columns the sources (pre). The stored entries
/// of row `i` are `data[indptr[i]..indptr[i + 1]]`, at columns
/// `indices[indptr[i]..indptr[i + 1]]`, strictly increasing within a row (each synapse once).
///
/// Only stored entries are synapses: they transmit, learn (STDP) and are normalised; an entry
/// that is not stored stays 0 for ever. A stored entry may hold 0 (a synapse that may grow).
/// Both backends sum a row's entries in stored (column) order, so a `Sparse` holding the
/// non-zero entries of a dense matrix transmits exactly like that matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Sparse {
    /// Rows: the size of the target.
    pub rows: usize,
    /// Columns: the size of the source.
    pub cols: usize,
    /// Row pointers: `rows + 1` values from 0, non-decreasing, ending at the number of entries.
    pub indptr: Vec<usize>,
    /// Column of each stored entry.
    pub indices: Vec<usize>,
    /// Value (weight) of each stored entry.
    pub data: Vec<f64>,
}

impl Sparse {
    /// A CSR matrix from its arrays, checked (see [`Sparse`]).
    pub fn new(
        rows: usize,
        cols: usize,
        indptr: Vec<usize>,
        indices: Vec<usize>,
        data: Vec<f64>,
    ) -> Result<Self> {
        let s = Sparse {
            rows,
            cols,
            indptr,
            indices,
            data,
        };
        s.validate(&"Sparse", "")?;
        Ok(s)
    }

    /// A CSR matrix from `(row, col, value)` triplets in any order. Each position at most once.
    pub fn from_triplets(
        rows: usize,
        cols: usize,
        triplets: &[(usize, usize, f64)],
    ) -> Result<Self> {
        for (k, &(r, c, v)) in triplets.iter().enumerate() {
            if r >= rows || c >= cols {
                return Err(Error::invalid(
                    "Sparse",
                    format!("triplets[{k}]"),
                    format!("({r}, {c}, {v})"),
                    format!("positions inside the shape ({rows}, {cols})"),
                ));
            }
        }
        let mut order: Vec<usize> = (0..triplets.len()).collect();
        order.sort_by_key(|&k| (triplets[k].0, triplets[k].1));
        for w in order.windows(2) {
            let (a, b) = (triplets[w[0]], triplets[w[1]]);
            if (a.0, a.1) == (b.0, b.1) {
                return Err(Error::invalid(
                    "Sparse",
                    format!("triplets[{}]", w[0].max(w[1])),
                    format!("a second entry at ({}, {})", b.0, b.1),
                    "each position at most once",
                ));
            }
        }
        let mut indptr = vec![0usize; rows + 1];
        for &(r, _, _) in triplets {
            indptr[r + 1] += 1;
        }
        for i in 0..rows {
            indptr[i + 1] += indptr[i];
        }
        let indices = order.iter().map(|&k| triplets[k].1).collect();
        let data = order.iter().map(|&k| triplets[k].2).collect();
        Sparse::new(rows, cols, indptr, indices, data)
    }

    /// The non-zero entries of a dense matrix (shape `(rows, cols)`).
    pub fn from_dense(m: &Array2<f64>) -> Self {
        Self::from_dense_where(m, |_, _, v| v != 0.0)
    }

    /// Random connectivity: each entry of the dense matrix `m` becomes a synapse, whatever its
    /// value, independently with probability `p`, drawn in row-major order from a generator
    /// seeded with `seed` (the same seed gives the same connectivity).
    pub fn from_dense_random(m: &Array2<f64>, p: f64, seed: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid("Sparse", "p", p, "a probability in [0, 1]"));
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Ok(Self::from_dense_where(m, |_, _, _| rng.random::<f64>() < p))
    }

    fn from_dense_where(m: &Array2<f64>, mut keep: impl FnMut(usize, usize, f64) -> bool) -> Self {
        let (rows, cols) = m.dim();
        let mut indptr = Vec::with_capacity(rows + 1);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        indptr.push(0);
        for i in 0..rows {
            for j in 0..cols {
                let v = m[[i, j]];
                if keep(i, j, v) {
                    indices.push(j);
                    data.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Sparse {
            rows,
            cols,
            indptr,
            indices,
            data,
        }
    }

    /// The number of stored entries (synapses).
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The dense matrix (entries that are not stored are 0).
    pub fn to_dense(&self) -> Array2<f64> {
        let mut m = Array2::zeros((self.rows, self.cols));
        for i in 0..self.rows.min(self.indptr.len().saturating_sub(1)) {
            for k in self.indptr[i]..self.indptr[i + 1] {
                m[[i, self.indices[k]]] += self.data[k];
            }
        }
        m
    }

    /// Checks the structure; errors name `object` and the parameter `{prefix}indptr`,
    /// `{prefix}indices` or `{prefix}data`.
    pub(crate) fn validate(&self, object: &dyn fmt::Display, prefix: &str) -> Result<()> {
        let param = |p: &str| format!("{prefix}{p}");
        let nnz = self.indices.len();
        if self.indptr.len() != self.rows + 1 {
            return Err(Error::invalid(
                object,
                param("indptr"),
                format!("{} values", self.indptr.len()),
                format!("rows + 1 = {} values", self.rows + 1),
            ));
        }
        if self.indptr[0] != 0 {
            return Err(Error::invalid(
                object,
                param("indptr"),
                format!("indptr[0] = {}", self.indptr[0]),
                "row pointers starting at 0",
            ));
        }
        if let Some(i) = (0..self.rows).find(|&i| self.indptr[i + 1] < self.indptr[i]) {
            return Err(Error::invalid(
                object,
                param("indptr"),
                format!(
                    "indptr[{}] = {} after indptr[{i}] = {}",
                    i + 1,
                    self.indptr[i + 1],
                    self.indptr[i]
                ),
                "non-decreasing row pointers",
            ));
        }
        if self.indptr[self.rows] != nnz {
            return Err(Error::invalid(
                object,
                param("indptr"),
                format!("indptr[{}] = {}", self.rows, self.indptr[self.rows]),
                format!("the number of stored entries, {nnz} (the length of indices)"),
            ));
        }
        if self.data.len() != nnz {
            return Err(Error::invalid(
                object,
                param("data"),
                format!("{} values", self.data.len()),
                format!("{nnz} values, one per stored entry (the length of indices)"),
            ));
        }
        if nnz > u32::MAX as usize || self.cols > u32::MAX as usize {
            return Err(Error::invalid(
                object,
                param("indices"),
                format!("{nnz} entries of {} columns", self.cols),
                format!("at most {} entries and columns", u32::MAX),
            ));
        }
        for i in 0..self.rows {
            let row = &self.indices[self.indptr[i]..self.indptr[i + 1]];
            for (k, &c) in row.iter().enumerate() {
                let at = self.indptr[i] + k;
                if c >= self.cols {
                    return Err(Error::invalid(
                        object,
                        param("indices"),
                        format!("indices[{at}] = {c} (row {i})"),
                        format!("column indices in [0, {})", self.cols),
                    ));
                }
                if k > 0 && c <= row[k - 1] {
                    return Err(Error::invalid(
                        object,
                        param("indices"),
                        format!("indices[{at}] = {c} after {} in row {i}", row[k - 1]),
                        "strictly increasing column indices within each row (each synapse once)",
                    ));
                }
            }
        }
        if let Some(k) = self.data.iter().position(|x| !x.is_finite()) {
            return Err(Error::invalid(
                object,
                param("data"),
                format!("data[{k}] = {}", self.data[k]),
                "finite weights",
            ));
        }
        Ok(())
    }
}

/// The largest delay, in steps, a synapse may have (the ring buffer of a delayed connection
/// holds `delay + 1` steps of input).
pub const MAX_DELAY_STEPS: u32 = 65535;

/// Synaptic delays of a connection (Brian's `delay`), in seconds. The simulator's dt turns them
/// into whole numbers of steps when the network is compiled.
///
/// # Timing
///
/// Without delay, what the pre population emits at step `k` is transmitted at step `k`: a
/// connection with a synapse filters it at step `k` and its target reads the filtered value at
/// step `k + 1`; a connection without synapse adds it to its target's input in step `k`; a
/// conductance port adds it to the target's conductance at the start of step `k + 1`. A delay of
/// `d` steps shifts all of this by exactly `d` steps: the connection transmits at step `k` what
/// the pre population emitted at step `k - d` (nothing before the run started). A delay of 0 is
/// exactly the undelayed connection (the same ops). A connection whose weights do not change
/// computes each synapse's contribution when the spike is emitted and holds it in a ring buffer
/// of future input until it arrives.
///
/// # Learning
///
/// A delayed connection with STDP does everything at arrival, as Brian2 runs a delayed `on_pre`
/// pathway: a spike emitted at step `k` on a synapse delayed by `d` steps adds the synapse's
/// weight *at step `k + d`* to the target and depresses the synapse at step `k + d` (with the
/// post trace of that step); a post spike at step `t` potentiates the synapse with the pre
/// trace of the spikes that have arrived by `t` (`exp(-(t - arrival) / tau)`), not of those
/// still on their way. Each synapse thus has its own pre traces; volley derives them from the
/// pre neuron's traces `d` steps earlier, kept with its output in a ring of the last
/// `largest delay + 1` steps (`pre_history`, read by `arrival_matvec_inc` /
/// `arrival_sparse_inc` for transmission and `stdp_delayed` / `stdp_sparse_delayed` for
/// learning), so the cost per synapse is one `u32` delay, not a trace. With every delay 0 this
/// is exactly the undelayed rule. `benches/peers/check_equivalence.py --delay-max-ms 10` checks
/// it spike for spike against Brian2 on Diehl & Cook's network.
///
/// # Cycles
///
/// A connection without synapse whose every synapse is delayed by at least one step is not a
/// zero-delay edge: it transmits after all neurons have run and delivers before its target runs
/// in a later step, so a loop of such connections builds (Nengo's cycle check only refuses loops
/// through connections that deliver in the same step).
///
/// # Cost
///
/// A delayed connection keeps a ring buffer of `(largest delay + 1) x post` values per instance,
/// or with STDP one of `((largest delay + 1) x 3 + 2) x pre` (the pre output and the two pre
/// traces of each step, and per pre neuron its spikes on the way and the step of its latest).
/// Per-synapse delays (and a fixed delay with STDP) also keep one `u32` per synapse, shared by
/// all instances. Per-synapse delays are transmitted by kernels that walk each post row (one
/// GPU invocation per instance and post neuron, which alone writes that neuron's entries:
/// deterministic, no atomics). With STDP the CPU backend also indexes the delays by pre neuron
/// and delay (another `u32` per synapse), so that it visits only the synapses a spike arrives on.
#[derive(Clone, Debug, PartialEq)]
pub enum Delays {
    /// Every synapse delayed by this time (s), a whole number of steps (within 1e-6 of one).
    /// Works with every transform.
    Fixed(f64),
    /// Each synapse's delay drawn uniformly in `[min, max)` seconds when the network is
    /// compiled (with the network's seed, so both backends and every rebuild get the same
    /// delays) and rounded to the nearest whole step, as Brian rounds delays
    /// (`round(delay / dt)`). Dense or Sparse transforms from `.neurons()` or a node only.
    Uniform {
        /// Shortest delay (s, >= 0).
        min: f64,
        /// Longest delay (s, >= min).
        max: f64,
    },
    /// One delay per synapse (s), each a whole number of steps, in the order of the weights:
    /// row-major `(post, pre)` for a Dense transform, stored-entry order for a Sparse one.
    /// Dense or Sparse transforms from `.neurons()` or a node only.
    PerSynapse(Vec<f64>),
}

impl fmt::Display for Delays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delays::Fixed(d) => write!(f, "{d} s"),
            Delays::Uniform { min, max } => write!(f, "Uniform({min} s, {max} s)"),
            Delays::PerSynapse(v) => write!(f, "[{} per-synapse delays]", v.len()),
        }
    }
}

impl Delays {
    /// Checks what can be checked without dt: finite, non-negative values, `min <= max`.
    pub(crate) fn validate(&self, object: &dyn fmt::Display) -> Result<()> {
        let ok = |param: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(
                    object,
                    param,
                    v,
                    "a finite delay >= 0 s (a whole number of steps)",
                ))
            }
        };
        match self {
            Delays::Fixed(d) => ok("delay", *d),
            Delays::Uniform { min, max } => {
                ok("delays min", *min)?;
                ok("delays max", *max)?;
                if min > max {
                    return Err(Error::invalid(
                        object,
                        "delays max",
                        max,
                        format!("a delay >= min ({min} s)"),
                    ));
                }
                Ok(())
            }
            Delays::PerSynapse(v) => {
                for (k, &d) in v.iter().enumerate() {
                    ok(&format!("delays[{k}]"), d)?;
                }
                Ok(())
            }
        }
    }

    /// True for delays given per synapse (drawn or listed).
    pub fn per_synapse(&self) -> bool {
        !matches!(self, Delays::Fixed(_))
    }
}
