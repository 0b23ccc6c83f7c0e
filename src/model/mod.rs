//! What the user describes: networks of ensembles, nodes, connections and probes.
//!
//! Plain data and builders, in the spirit of Nengo's front end. Nothing here holds simulation
//! state or backend types. Objects are stored in arenas inside [`Network`] and referred to by
//! typed ids that remember which network they belong to.

mod connectivity;
mod neurons;
mod process;

pub use connectivity::{Delays, MAX_DELAY_STEPS, Sparse};
pub use neurons::{DcParams, LifParams, MAX_TIMER_STEPS, NeuronType};
pub use process::WhiteSignal;

use crate::error::{Error, Result, check_finite, check_non_negative, check_positive};
use crate::nef::Solver;
use ndarray::Array2;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_NETWORK_UID: AtomicU64 = AtomicU64::new(1);

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name {
            pub(crate) net: u64,
            pub(crate) index: usize,
        }
        impl $name {
            /// Position of the object in its network's list of this kind.
            pub fn index(&self) -> usize {
                self.index
            }
            /// The same object in the network with identity `net` (a clone's).
            #[allow(dead_code)] // not for ProbeId: no object of a network holds one
            fn in_network(self, net: u64) -> Self {
                $name { net, ..self }
            }
            /// Ids of the first `len` objects of this kind in the network with identity `net`.
            fn all(net: u64, len: usize) -> Vec<Self> {
                (0..len).map(|index| $name { net, index }).collect()
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} {}", $what, self.index)
            }
        }
    };
}

id_type!(
    /// Refers to an [`Ensemble`] inside a [`Network`].
    EnsembleId,
    "Ensemble"
);
id_type!(
    /// Refers to a [`Node`] inside a [`Network`].
    NodeId,
    "Node"
);
id_type!(
    /// Refers to a [`Connection`] inside a [`Network`].
    ConnectionId,
    "Connection"
);
id_type!(
    /// Refers to a [`Probe`] inside a [`Network`].
    ProbeId,
    "Probe"
);

/// A distribution of per-neuron parameters, sampled at build time with the network's seed.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Uniform on `[low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Each value drawn uniformly from the options.
    Choice(Vec<f64>),
    /// Every neuron gets this value.
    Constant(f64),
    /// One value per neuron, given explicitly.
    Exact(Vec<f64>),
}

impl Dist {
    /// Uniform on `[low, high)`.
    pub fn uniform(low: f64, high: f64) -> Self {
        Dist::Uniform { low, high }
    }

    /// Checks the distribution for `n` samples, all inside `[lo, hi]` (inclusive bounds given by
    /// `allowed`, a human-readable description used in errors).
    pub(crate) fn validate(
        &self,
        object: &dyn fmt::Display,
        param: &str,
        n: usize,
        ok: impl Fn(f64) -> bool,
        allowed: &str,
    ) -> Result<()> {
        let values: Vec<f64> = match self {
            Dist::Uniform { low, high } => {
                if low.partial_cmp(high) == Some(std::cmp::Ordering::Greater)
                    || low.is_nan()
                    || high.is_nan()
                {
                    return Err(Error::invalid(
                        object,
                        param,
                        format!("Uniform({low}, {high})"),
                        "low <= high",
                    ));
                }
                vec![*low, *high]
            }
            Dist::Choice(v) => {
                if v.is_empty() {
                    return Err(Error::invalid(
                        object,
                        param,
                        "Choice([])",
                        "a non-empty list",
                    ));
                }
                v.clone()
            }
            Dist::Constant(v) => vec![*v],
            Dist::Exact(v) => {
                if v.len() != n {
                    return Err(Error::invalid(
                        object,
                        param,
                        format!("{} values", v.len()),
                        format!("exactly {n} values (one per neuron)"),
                    ));
                }
                v.clone()
            }
        };
        for v in values {
            if !ok(v) {
                return Err(Error::invalid(object, param, v, allowed));
            }
        }
        Ok(())
    }

    /// Draws `n` samples.
    pub(crate) fn sample<R: rand::Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Vec<f64> {
        match self {
            Dist::Uniform { low, high } => (0..n)
                .map(|_| low + (high - low) * rng.random::<f64>())
                .collect(),
            Dist::Choice(v) => (0..n).map(|_| v[rng.random_range(0..v.len())]).collect(),
            Dist::Constant(c) => vec![*c; n],
            Dist::Exact(v) => v.clone(),
        }
    }
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dist::Uniform { low, high } => write!(f, "Uniform({low}, {high})"),
            Dist::Choice(v) => write!(f, "Choice({v:?})"),
            Dist::Constant(c) => write!(f, "{c}"),
            Dist::Exact(v) => write!(f, "[{} values]", v.len()),
        }
    }
}

/// How an ensemble's encoders are chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Encoders {
    /// Quasirandom, scattered evenly over the surface of the unit hypersphere (Nengo 4's
    /// default, `ScatteredHypersphere(surface=True)`; `nef::scattered_hypersphere`): in 1-D,
    /// half the neurons get `+1` and half `-1`.
    ScatteredHypersphere,
    /// Random, uniform on the surface of the unit hypersphere (Nengo 3's default,
    /// `UniformHypersphere(surface=True)`).
    UniformHypersphere,
    /// Each neuron's encoder drawn uniformly from these vectors (normalised to unit length), e.g.
    /// `[[1.0], [-1.0]]` for the classic +-1 encoders.
    Choice(Vec<Vec<f64>>),
    /// One encoder per neuron, shape `(n_neurons, dimensions)`; rows are normalised.
    Exact(Array2<f64>),
}

/// How an ensemble's evaluation points (the inputs its decoders are solved on) are chosen, in
/// the ball of its radius.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EvalPoints {
    /// Quasirandom, scattered evenly in the ball (Nengo 4's default, `ScatteredHypersphere()`).
    #[default]
    ScatteredHypersphere,
    /// Random, uniform in the ball (Nengo 3's default, `UniformHypersphere()`).
    UniformHypersphere,
}

/// A population of neurons representing a vector of `dimensions` values (Nengo's `Ensemble`).
#[derive(Clone, Debug)]
pub struct Ensemble {
    /// Optional name used in the plan and in error messages.
    pub label: Option<String>,
    /// Number of neurons (> 0).
    pub n_neurons: usize,
    /// Dimensionality of the represented vector (> 0).
    pub dimensions: usize,
    /// The neuron model (default LIF).
    pub neuron_type: NeuronType,
    /// Encoders (default Nengo 4's: scattered over the hypersphere's surface).
    pub encoders: Encoders,
    /// Intercepts below 1 (default Uniform(-1, 0.9); below -1 the neuron fires across the
    /// whole radius).
    pub intercepts: Dist,
    /// Maximum firing rates in Hz at the radius (default Uniform(200, 400)).
    pub max_rates: Dist,
    /// Explicit gain and bias; when set, `intercepts` and `max_rates` are ignored.
    pub gain_bias: Option<(Vec<f64>, Vec<f64>)>,
    /// Representational radius (default 1).
    pub radius: f64,
    /// Number of evaluation points for decoder solving (default: Nengo's rule).
    pub n_eval_points: Option<usize>,
    /// How the evaluation points are drawn (default Nengo 4's: scattered in the ball).
    pub eval_points: EvalPoints,
}

impl Ensemble {
    /// An ensemble with Nengo's defaults.
    pub fn new(n_neurons: usize, dimensions: usize) -> Self {
        Ensemble {
            label: None,
            n_neurons,
            dimensions,
            neuron_type: NeuronType::lif(),
            encoders: Encoders::ScatteredHypersphere,
            intercepts: Dist::uniform(-1.0, 0.9),
            max_rates: Dist::uniform(200.0, 400.0),
            gain_bias: None,
            radius: 1.0,
            n_eval_points: None,
            eval_points: EvalPoints::ScatteredHypersphere,
        }
    }
    /// Sets the label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    /// Sets the neuron type.
    pub fn neuron_type(mut self, neuron_type: NeuronType) -> Self {
        self.neuron_type = neuron_type;
        self
    }
    /// Sets the encoders.
    pub fn encoders(mut self, encoders: Encoders) -> Self {
        self.encoders = encoders;
        self
    }
    /// Sets the intercept distribution.
    pub fn intercepts(mut self, intercepts: Dist) -> Self {
        self.intercepts = intercepts;
        self
    }
    /// Sets the max-rate distribution.
    pub fn max_rates(mut self, max_rates: Dist) -> Self {
        self.max_rates = max_rates;
        self
    }
    /// Sets gain and bias explicitly (one value per neuron each).
    pub fn gain_bias(mut self, gain: Vec<f64>, bias: Vec<f64>) -> Self {
        self.gain_bias = Some((gain, bias));
        self
    }
    /// Sets the radius.
    pub fn radius(mut self, radius: f64) -> Self {
        self.radius = radius;
        self
    }
    /// Sets the number of evaluation points.
    pub fn n_eval_points(mut self, n: usize) -> Self {
        self.n_eval_points = Some(n);
        self
    }
    /// Sets how the evaluation points are drawn.
    pub fn eval_points(mut self, eval_points: EvalPoints) -> Self {
        self.eval_points = eval_points;
        self
    }

    fn validate(&self, object: &dyn fmt::Display) -> Result<()> {
        if self.n_neurons == 0 {
            return Err(Error::invalid(object, "n_neurons", 0, "an integer >= 1"));
        }
        if self.dimensions == 0 {
            return Err(Error::invalid(object, "dimensions", 0, "an integer >= 1"));
        }
        // GPU kernels index neurons and encoder entries with 32-bit integers.
        let limit = u32::MAX as usize;
        if self.n_neurons > limit {
            return Err(Error::invalid(
                object,
                "n_neurons",
                self.n_neurons,
                format!("an integer from 1 to {limit}"),
            ));
        }
        if let Some(m) = self.n_eval_points
            && !(1..=limit).contains(&m)
        {
            return Err(Error::invalid(
                object,
                "n_eval_points",
                m,
                format!("an integer from 1 to {limit}"),
            ));
        }
        if self.n_neurons.saturating_mul(self.dimensions) > limit {
            return Err(Error::invalid(
                object,
                "dimensions",
                self.dimensions,
                format!(
                    "at most {} with {} neurons (neurons x dimensions <= {limit})",
                    limit / self.n_neurons,
                    self.n_neurons
                ),
            ));
        }
        self.neuron_type.validate(object)?;
        check_positive(object, "radius", self.radius)?;
        match &self.encoders {
            Encoders::ScatteredHypersphere | Encoders::UniformHypersphere => {}
            Encoders::Choice(options) => {
                if options.is_empty() {
                    return Err(Error::invalid(
                        object,
                        "encoders",
                        "Choice([])",
                        "a non-empty list",
                    ));
                }
                for e in options {
                    check_encoder(object, e, self.dimensions)?;
                }
            }
            Encoders::Exact(m) => {
                if m.dim() != (self.n_neurons, self.dimensions) {
                    return Err(Error::invalid(
                        object,
                        "encoders",
                        format!("shape {:?}", m.dim()),
                        format!("shape ({}, {})", self.n_neurons, self.dimensions),
                    ));
                }
                for row in m.rows() {
                    check_encoder(
                        object,
                        row.as_slice().unwrap_or(&row.to_vec()),
                        self.dimensions,
                    )?;
                }
            }
        }
        if let Some((gain, bias)) = &self.gain_bias {
            for (param, v) in [("gain", gain), ("bias", bias)] {
                if v.len() != self.n_neurons {
                    return Err(Error::invalid(
                        object,
                        param,
                        format!("{} values", v.len()),
                        format!("exactly {} values (one per neuron)", self.n_neurons),
                    ));
                }
                for &x in v {
                    check_finite(object, param, x)?;
                }
            }
        } else {
            self.intercepts.validate(
                object,
                "intercepts",
                self.n_neurons,
                |x| {
                    (x.is_finite() && x < 1.0)
                        || (x == 1.0 && matches!(self.intercepts, Dist::Uniform { .. }))
                },
                "finite values below 1 (an intercept of 1 would need infinite gain)",
            )?;
            self.max_rates.validate(
                object,
                "max_rates",
                self.n_neurons,
                |x| x.is_finite() && x > 0.0,
                "finite rates > 0 Hz",
            )?;
        }
        if let Some(0) = self.n_eval_points {
            return Err(Error::invalid(
                object,
                "n_eval_points",
                0,
                "an integer >= 1",
            ));
        }
        Ok(())
    }
}

fn check_encoder(object: &dyn fmt::Display, e: &[f64], d: usize) -> Result<()> {
    if e.len() != d {
        return Err(Error::invalid(
            object,
            "encoders",
            format!("a vector of length {}", e.len()),
            format!("vectors of length {d} (the ensemble's dimensions)"),
        ));
    }
    let norm: f64 = e.iter().map(|x| x * x).sum::<f64>().sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return Err(Error::invalid(
            object,
            "encoders",
            format!("{e:?}"),
            "finite, non-zero vectors",
        ));
    }
    Ok(())
}

/// A function of time, `f(t) -> output`.
pub type TimeFn = Arc<dyn Fn(f64) -> Vec<f64> + Send + Sync>;
/// A function of time and batch instance, `f(t, instance) -> output`.
pub type BatchedTimeFn = Arc<dyn Fn(f64, usize) -> Vec<f64> + Send + Sync>;
/// A function computed across a connection, `f(x) -> y`.
pub type ConnFn = Arc<dyn Fn(&[f64]) -> Vec<f64> + Send + Sync>;
/// A node's function of time and of its input (Nengo's `Node(f, size_in=n)`): `f(t, x)`.
pub type InputFn = Arc<dyn Fn(f64, &[f64]) -> Vec<f64> + Send + Sync>;

/// A sequence of input vectors, each shown for `presentation_time` seconds and followed by
/// `pause_time` seconds of zeros; the sequence repeats.
#[derive(Clone, Debug, PartialEq)]
pub struct PresentInput {
    /// The vectors (all of one length).
    pub inputs: Vec<Vec<f64>>,
    /// How long each vector is shown, in seconds.
    pub presentation_time: f64,
    /// Zeros shown after each vector, in seconds (0 for Nengo's behaviour).
    pub pause_time: f64,
}

impl PresentInput {
    /// The value at time `t` with time step `dt` (step `k` is at `t = (k + 1) dt`), by
    /// Nengo's `PresentInput`: vector `i = int((t - dt) / period + 1e-7)` (mod the number of
    /// vectors), `period = presentation_time + pause_time`, shown while `t - dt` is less than
    /// `presentation_time` into its period and zeros for the rest. With a presentation time
    /// that is not a whole number of steps a vector may get one step more or less than the
    /// next, where Nengo gives it.
    pub fn value(&self, t: f64, dt: f64) -> Vec<f64> {
        let period = self.presentation_time + self.pause_time;
        let x = (t - dt) / period + 1e-7;
        let k = x.floor().max(0.0);
        let i = (k as usize) % self.inputs.len();
        if (x - k) * period < self.presentation_time {
            self.inputs[i].clone()
        } else {
            vec![0.0; self.inputs[i].len()]
        }
    }
}

/// What a node outputs.
#[derive(Clone)]
pub enum NodeOutput {
    /// A constant vector.
    Constant(Vec<f64>),
    /// A function of time with `size_out` outputs.
    Function {
        /// Output length.
        size_out: usize,
        /// The function.
        f: TimeFn,
    },
    /// A function of time and batch instance (each instance of a batch sees its own input).
    Batched {
        /// Output length.
        size_out: usize,
        /// The function.
        f: BatchedTimeFn,
    },
    /// A sequence of presentations with optional pauses.
    Present(PresentInput),
    /// Band-limited white noise, one period generated when the simulator is built (Nengo's
    /// `WhiteSignal` process).
    WhiteSignal {
        /// Output length (independent dimensions).
        size_out: usize,
        /// The signal.
        signal: WhiteSignal,
    },
    /// Independent Poisson spike trains, one per rate (Hz), generated on the device from the
    /// counter-based generator: each step, output `i` is `1/dt` with probability `rate_i * dt`.
    Poisson(Vec<f64>),
    /// Independent uniform white noise in `[low, high)`, drawn every step on the device.
    UniformNoise {
        /// Output length.
        size_out: usize,
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// The sum of the node's incoming connections in this step, passed on unchanged (Nengo's
    /// passthrough node, `nengo.Node(size_in=size)`).
    Passthrough {
        /// Input and output length.
        size: usize,
    },
    /// A function of time and of the sum of the node's incoming connections in this step,
    /// evaluated on the host in its place in the step order (Nengo's `Node(f, size_in=n)`).
    WithInput {
        /// Input length.
        size_in: usize,
        /// Output length (0 for a sink, whose function is called for its effects).
        size_out: usize,
        /// The function `f(t, x)`.
        f: InputFn,
    },
}

impl fmt::Debug for NodeOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeOutput::Constant(v) => write!(f, "Constant({v:?})"),
            NodeOutput::Function { size_out, .. } => write!(f, "Function(size_out={size_out})"),
            NodeOutput::Batched { size_out, .. } => write!(f, "Batched(size_out={size_out})"),
            NodeOutput::Present(p) => write!(
                f,
                "PresentInput({} vectors, {} s + {} s pause)",
                p.inputs.len(),
                p.presentation_time,
                p.pause_time
            ),
            NodeOutput::Poisson(r) => write!(f, "Poisson({} rates)", r.len()),
            NodeOutput::WhiteSignal { size_out, signal } => write!(
                f,
                "WhiteSignal({size_out} x period {} s, high {} Hz, rms {})",
                signal.period, signal.high, signal.rms
            ),
            NodeOutput::Passthrough { size } => write!(f, "Passthrough(size={size})"),
            NodeOutput::WithInput {
                size_in, size_out, ..
            } => write!(f, "WithInput(size_in={size_in}, size_out={size_out})"),
            NodeOutput::UniformNoise {
                size_out,
                low,
                high,
            } => write!(f, "UniformNoise({size_out} x [{low}, {high}))"),
        }
    }
}

/// A non-neural source of input (Nengo's `Node`).
#[derive(Clone, Debug)]
pub struct Node {
    /// Optional name.
    pub label: Option<String>,
    /// What the node outputs.
    pub output: NodeOutput,
}

impl Node {
    /// A node with a constant output.
    pub fn constant(value: Vec<f64>) -> Self {
        Node {
            label: None,
            output: NodeOutput::Constant(value),
        }
    }
    /// A node whose output is `f(t)`, of length `size_out`.
    pub fn function(size_out: usize, f: impl Fn(f64) -> Vec<f64> + Send + Sync + 'static) -> Self {
        Node {
            label: None,
            output: NodeOutput::Function {
                size_out,
                f: Arc::new(f),
            },
        }
    }
    /// A node whose output is `f(t, instance)`: each instance of a batch gets its own input.
    pub fn batched(
        size_out: usize,
        f: impl Fn(f64, usize) -> Vec<f64> + Send + Sync + 'static,
    ) -> Self {
        Node {
            label: None,
            output: NodeOutput::Batched {
                size_out,
                f: Arc::new(f),
            },
        }
    }
    /// A node presenting `inputs` in turn, each for `presentation_time` s then `pause_time` s of zeros.
    pub fn present(inputs: Vec<Vec<f64>>, presentation_time: f64, pause_time: f64) -> Self {
        Node {
            label: None,
            output: NodeOutput::Present(PresentInput {
                inputs,
                presentation_time,
                pause_time,
            }),
        }
    }
    /// `size_out` independent band-limited white noise signals (Nengo's
    /// `nengo.Node(nengo.processes.WhiteSignal(period, high, rms))`), e.g.
    /// `Node::white_signal(1, WhiteSignal::new(10.0, 5.0).rms(0.5))`: one period is generated
    /// when the simulator is built, from the signal's seed or else the network's seed and the
    /// node's index, and repeats; every instance of a batch sees the same signal.
    pub fn white_signal(size_out: usize, signal: WhiteSignal) -> Self {
        Node {
            label: None,
            output: NodeOutput::WhiteSignal { size_out, signal },
        }
    }
    /// Independent Poisson spike trains with the given rates in Hz (BindsNET's `PoissonInput`):
    /// a spike in a step with probability rate x dt (computed in f32), so a rate of 1/dt or more
    /// spikes every step, up to that rounding (as Brian2's `PoissonGroup`).
    pub fn poisson(rates: Vec<f64>) -> Self {
        Node {
            label: None,
            output: NodeOutput::Poisson(rates),
        }
    }
    /// Uniform white noise in `[low, high)`, `size_out` independent values per step.
    pub fn uniform_noise(size_out: usize, low: f64, high: f64) -> Self {
        Node {
            label: None,
            output: NodeOutput::UniformNoise {
                size_out,
                low,
                high,
            },
        }
    }
    /// A passthrough node of `size` dimensions (Nengo's `nengo.Node(size_in=size)`): its output
    /// in each step is the sum of what its incoming connections deliver in that step (a
    /// connection without synapse delivers this step's value of its source, one with a synapse
    /// its filter's state, as into an ensemble). It collects, sums and routes signals: an error
    /// signal for PES, a point where several inputs meet, a probe of a sum.
    pub fn passthrough(size: usize) -> Self {
        Node {
            label: None,
            output: NodeOutput::Passthrough { size },
        }
    }
    /// A node whose output is `f(t, x)`, where `x` is the sum of what its incoming connections
    /// deliver in this step (Nengo's `nengo.Node(f, size_in=size_in, size_out=size_out)`):
    /// `x` is summed as for a passthrough node, and `f` runs on the host in the node's place
    /// in the step order, so a connection without synapse from it delivers `f`'s value in the
    /// same step. Each instance of a batch calls `f` with its own `x`. `size_out` may be 0 (a
    /// sink, called for its effects: Nengo's function that returns `None`).
    ///
    /// Every step the host reads `x` from the backend and writes `f`'s output back: on a GPU
    /// that is a round trip between the device and the host per step (as Nengo OCL does for
    /// Python nodes), far slower than nodes computed ahead (`Node::function`), passthrough
    /// nodes, or functions on connections from ensembles.
    pub fn with_input(
        size_in: usize,
        size_out: usize,
        f: impl Fn(f64, &[f64]) -> Vec<f64> + Send + Sync + 'static,
    ) -> Self {
        Node {
            label: None,
            output: NodeOutput::WithInput {
                size_in,
                size_out,
                f: Arc::new(f),
            },
        }
    }
    /// Sets the label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// True for a passthrough node ([`Node::passthrough`]).
    pub fn is_passthrough(&self) -> bool {
        matches!(self.output, NodeOutput::Passthrough { .. })
    }

    /// Length of the input: the size of a passthrough node or a node with input
    /// ([`Node::with_input`]), 0 for a node that takes no input.
    pub fn size_in(&self) -> usize {
        match &self.output {
            NodeOutput::Passthrough { size } => *size,
            NodeOutput::WithInput { size_in, .. } => *size_in,
            _ => 0,
        }
    }

    /// True for a node that takes input (a passthrough node or one with an input function).
    pub fn takes_input(&self) -> bool {
        matches!(
            self.output,
            NodeOutput::Passthrough { .. } | NodeOutput::WithInput { .. }
        )
    }

    /// True when a connection from the node may apply a function on the host: the node's
    /// values are computed there (ahead of the step, or by its input function in the step),
    /// not by the device (random sources, passthrough nodes).
    fn computed_on_host(&self) -> bool {
        !(self.on_device() || self.is_passthrough())
    }

    /// True when the node's values are generated on the device (random sources), not on the host.
    pub fn on_device(&self) -> bool {
        matches!(
            self.output,
            NodeOutput::Poisson(_) | NodeOutput::UniformNoise { .. }
        )
    }

    /// Length of the output vector.
    pub fn size_out(&self) -> usize {
        match &self.output {
            NodeOutput::Constant(v) => v.len(),
            NodeOutput::Function { size_out, .. } | NodeOutput::Batched { size_out, .. } => {
                *size_out
            }
            NodeOutput::Present(p) => p.inputs.first().map_or(0, Vec::len),
            NodeOutput::Poisson(r) => r.len(),
            NodeOutput::UniformNoise { size_out, .. }
            | NodeOutput::WhiteSignal { size_out, .. } => *size_out,
            NodeOutput::Passthrough { size } => *size,
            NodeOutput::WithInput { size_out, .. } => *size_out,
        }
    }

    fn validate(&self, object: &dyn fmt::Display) -> Result<()> {
        // GPU kernels index a node's output with 32-bit integers.
        if self.size_out() > u32::MAX as usize {
            return Err(Error::invalid(
                object,
                "size_out",
                self.size_out(),
                format!("an output of length 1 to {}", u32::MAX),
            ));
        }
        if let NodeOutput::WithInput { size_in, .. } = self.output
            && !(1..=u32::MAX as usize).contains(&size_in)
        {
            return Err(Error::invalid(
                object,
                "size_in",
                size_in,
                format!("an input of length 1 to {}", u32::MAX),
            ));
        }
        // A node with input may be a sink (size_out 0); every other node outputs something.
        if self.size_out() == 0 && !matches!(self.output, NodeOutput::WithInput { .. }) {
            return Err(Error::invalid(
                object,
                "size_out",
                0,
                "an output of length >= 1",
            ));
        }
        match &self.output {
            NodeOutput::Constant(v) => {
                for &x in v {
                    check_finite(object, "output", x)?;
                }
            }
            NodeOutput::Present(p) => {
                check_positive(object, "presentation_time", p.presentation_time)?;
                check_non_negative(object, "pause_time", p.pause_time)?;
                let d = self.size_out();
                for (i, v) in p.inputs.iter().enumerate() {
                    if v.len() != d {
                        return Err(Error::invalid(
                            object,
                            format!("inputs[{i}]"),
                            format!("a vector of length {}", v.len()),
                            format!("length {d}, like inputs[0]"),
                        ));
                    }
                    for &x in v {
                        check_finite(object, format!("inputs[{i}]").as_str(), x)?;
                    }
                }
            }
            NodeOutput::Poisson(rates) => {
                for &r in rates {
                    if !(r.is_finite() && r >= 0.0) {
                        return Err(Error::invalid(object, "rates", r, "finite rates >= 0 Hz"));
                    }
                }
            }
            NodeOutput::WhiteSignal { signal, .. } => signal.validate(object)?,
            NodeOutput::UniformNoise { low, high, .. } => {
                check_finite(object, "low", *low)?;
                check_finite(object, "high", *high)?;
                if low > high {
                    return Err(Error::invalid(
                        object,
                        "high",
                        high,
                        format!("a value >= low ({low})"),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A synaptic filter applied to a connection's output (or a probe's input).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Synapse {
    /// First-order lowpass `1/(tau s + 1)`, discretised exactly (zero-order hold).
    Lowpass(f64),
    /// Second-order alpha filter `1/(tau s + 1)^2`, discretised exactly (zero-order hold).
    Alpha(f64),
}

impl Synapse {
    /// The time constant.
    pub fn tau(&self) -> f64 {
        match self {
            Synapse::Lowpass(t) | Synapse::Alpha(t) => *t,
        }
    }
    /// A connection's or probe's synapse: tau 0 is Nengo's `synapse=0`, a filter without
    /// memory that delays by one step (`Lowpass(0)`: `y[k] = x[k - 1]`); `None` is no delay.
    pub(crate) fn validate_allowing_zero(&self, object: &dyn fmt::Display) -> Result<()> {
        if self.tau() == 0.0 {
            return Ok(());
        }
        check_positive(object, "synapse tau", self.tau()).map_err(|_| {
            Error::invalid(
                object,
                "synapse tau",
                self.tau(),
                "a finite number >= 0 (0: Nengo's synapse=0, a one-step delay)",
            )
        })
    }

    /// `Alpha(0)` as `Lowpass(0)`: both are Nengo's filter without memory (its transfer
    /// function reduces to 1), a one-step delay.
    pub(crate) fn zero_as_lowpass(self) -> Synapse {
        if self.tau() == 0.0 {
            Synapse::Lowpass(0.0)
        } else {
            self
        }
    }
}

impl fmt::Display for Synapse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Synapse::Lowpass(t) => write!(f, "Lowpass({t})"),
            Synapse::Alpha(t) => write!(f, "Alpha({t})"),
        }
    }
}

/// A linear transform applied across a connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Transform {
    /// Multiply every element by a scalar (input and output sizes must match).
    Scalar(f64),
    /// Element-wise scale (input and output sizes must match the vector's length).
    Diagonal(Vec<f64>),
    /// A full matrix of shape `(size_out, size_in)`.
    Dense(Array2<f64>),
    /// Lateral connectivity: `y_i = w * sum_{j != i} x_j` (sizes must match). With a negative
    /// weight this is winner-take-all inhibition.
    AllButSelf(f64),
    /// A sparse matrix in CSR form, shape `(size_out, size_in)`: only its stored entries are
    /// synapses (they transmit, learn and are normalised). From `.neurons()` or a node it is
    /// transmitted event-driven like a Dense matrix (sources that are 0 are skipped); on a
    /// decoded connection it is used as the dense matrix it stands for.
    Sparse(Sparse),
}

/// Which input of the target neurons a connection drives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Port {
    /// Input current J (Nengo's only kind of input).
    #[default]
    Current,
    /// Excitatory conductance of conductance-based neurons: each pre spike adds its weight to `ge`.
    Excitatory,
    /// Inhibitory conductance: each pre spike adds its weight to `gi`.
    Inhibitory,
}

/// Spike-timing-dependent plasticity from traces, in the triplet form of Pfister & Gerstner
/// (2006), which contains pair STDP (`a3_* = 0`) and Diehl & Cook's rule as special cases.
///
/// Traces (per pre neuron `r1`, `r2`; per post neuron `o1`, `o2`) decay exponentially; at a spike
/// they are incremented by 1 (all-to-all) or set to 1 (nearest spike). Weight changes, applied
/// only at spikes (event-driven):
/// - pre spike (depression): `dw = -o1 * (a2_minus + a3_minus * r2)`,
/// - post spike (potentiation): `dw = r1 * (a2_plus + a3_plus * o2)`,
///
/// where `r2` and `o2` are taken before this step's spike updates them ("before" values) and `r1`
/// already includes a pre spike of the same step (pre events are handled before post events).
/// Additive: `dw` as is; multiplicative (soft bounds): potentiation scaled by `w_max - w`,
/// depression by `w - w_min`. Weights are clipped to `[w_min, w_max]` after every update.
///
/// A spike is any nonzero value of the pre or post signal in a step: spiking neurons and
/// Poisson nodes give spikes; a node with a constant nonzero output spikes every step (give a
/// host node `1/dt` at its spike steps and 0 otherwise to play a spike train).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stdp {
    /// Time constant of the pre trace `r1` (s).
    pub tau_plus: f64,
    /// Time constant of the post trace `o1` (s).
    pub tau_minus: f64,
    /// Time constant of the slow pre trace `r2` (s).
    pub tau_x: f64,
    /// Time constant of the slow post trace `o2` (s).
    pub tau_y: f64,
    /// Pair potentiation amplitude.
    pub a2_plus: f64,
    /// Triplet potentiation amplitude.
    pub a3_plus: f64,
    /// Pair depression amplitude.
    pub a2_minus: f64,
    /// Triplet depression amplitude.
    pub a3_minus: f64,
    /// Nearest-spike traces (set to 1) instead of all-to-all (add 1).
    pub nearest: bool,
    /// Multiplicative (soft-bound) weight dependence instead of additive.
    pub multiplicative: bool,
    /// Lower weight bound.
    pub w_min: f64,
    /// Upper weight bound.
    pub w_max: f64,
}

impl Stdp {
    /// Pair STDP: `dw = a_plus exp(-dt/tau_plus)` for pre-before-post, `-a_minus exp(dt/tau_minus)`
    /// for post-before-pre (all-to-all, additive, weights in [0, 1]).
    pub fn pair(a_plus: f64, a_minus: f64, tau_plus: f64, tau_minus: f64) -> Self {
        Stdp {
            tau_plus,
            tau_minus,
            tau_x: 1.0,
            tau_y: 1.0,
            a2_plus: a_plus,
            a3_plus: 0.0,
            a2_minus: a_minus,
            a3_minus: 0.0,
            nearest: false,
            multiplicative: false,
            w_min: 0.0,
            w_max: 1.0,
        }
    }
    /// The general triplet rule (all-to-all, additive, weights in [0, 1]).
    #[expect(
        clippy::too_many_arguments,
        reason = "the rule has eight published parameters"
    )]
    pub fn triplet(
        tau_plus: f64,
        tau_minus: f64,
        tau_x: f64,
        tau_y: f64,
        a2_plus: f64,
        a3_plus: f64,
        a2_minus: f64,
        a3_minus: f64,
    ) -> Self {
        Stdp {
            tau_plus,
            tau_minus,
            tau_x,
            tau_y,
            a2_plus,
            a3_plus,
            a2_minus,
            a3_minus,
            nearest: false,
            multiplicative: false,
            w_min: 0.0,
            w_max: 1.0,
        }
    }
    /// Diehl & Cook (2015): on a pre spike `w -= nu_pre * post1`; on a post spike
    /// `w += nu_post * pre * post2_before`; traces set to 1 (pre 20 ms, post1 20 ms, post2 40 ms);
    /// weights clipped to `[0, w_max]`. Defaults nu_pre 1e-4, nu_post 1e-2, w_max 1.
    pub fn diehl_cook() -> Self {
        Stdp {
            tau_plus: 0.020,
            tau_minus: 0.020,
            tau_x: 1.0,
            tau_y: 0.040,
            a2_plus: 0.0,
            a3_plus: 1e-2,
            a2_minus: 1e-4,
            a3_minus: 0.0,
            nearest: true,
            multiplicative: false,
            w_min: 0.0,
            w_max: 1.0,
        }
    }
    /// Nearest-spike traces.
    pub fn nearest(mut self) -> Self {
        self.nearest = true;
        self
    }
    /// Multiplicative (soft-bound) weight dependence.
    pub fn multiplicative(mut self) -> Self {
        self.multiplicative = true;
        self
    }
    /// Weight bounds.
    pub fn bounds(mut self, w_min: f64, w_max: f64) -> Self {
        self.w_min = w_min;
        self.w_max = w_max;
        self
    }

    pub(crate) fn validate(&self, object: &dyn fmt::Display) -> Result<()> {
        for (name, tau) in [
            ("tau_plus", self.tau_plus),
            ("tau_minus", self.tau_minus),
            ("tau_x", self.tau_x),
            ("tau_y", self.tau_y),
        ] {
            check_positive(object, name, tau)?;
        }
        for (name, a) in [
            ("a2_plus", self.a2_plus),
            ("a3_plus", self.a3_plus),
            ("a2_minus", self.a2_minus),
            ("a3_minus", self.a3_minus),
        ] {
            check_non_negative(object, name, a)?;
        }
        check_finite(object, "w_min", self.w_min)?;
        check_finite(object, "w_max", self.w_max)?;
        if self.w_min > self.w_max {
            return Err(Error::invalid(
                object,
                "w_max",
                self.w_max,
                format!("a bound >= w_min ({})", self.w_min),
            ));
        }
        Ok(())
    }
}

/// Checks a learning rule's filter: `None` (unfiltered) or a positive time constant.
fn check_rule_synapse(object: &dyn fmt::Display, param: &str, s: &Option<Synapse>) -> Result<()> {
    match s {
        Some(s) => check_positive(object, &format!("{param} tau"), s.tau()),
        None => Ok(()),
    }
}

/// Nengo's Prescribed Error Sensitivity rule (`nengo.PES`): learns a connection's decoders (or
/// weights) to minimise an error signal fed to the rule by another connection
/// (`Connection::new(error, conn.learning_rule())`, Nengo's
/// `nengo.Connection(error, conn.learning_rule)`). Each step
///
/// `delta = -learning_rate * dt / n_pre * outer(error, a)`
///
/// where `a` are the pre neurons' activities filtered by `pre_synapse` (unfiltered when `None`)
/// and `error` has the post ensemble's dimensions. On a connection to `.neurons()` the error is
/// first projected onto each post neuron through the post ensemble's scaled encoders, as Nengo
/// does. The error is the sum of every connection into the rule, each filtered by its own synapse.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pes {
    /// Learning rate kappa (>= 0; Nengo's default 1e-4).
    pub learning_rate: f64,
    /// Filter of the pre activities (Nengo's default `Lowpass(0.005)`; `None`: raw spikes).
    pub pre_synapse: Option<Synapse>,
}

impl Default for Pes {
    fn default() -> Self {
        Pes {
            learning_rate: 1e-4,
            pre_synapse: Some(Synapse::Lowpass(0.005)),
        }
    }
}

impl Pes {
    /// PES with Nengo's defaults (learning rate 1e-4, pre synapse `Lowpass(0.005)`).
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the learning rate.
    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        self.learning_rate = learning_rate;
        self
    }
    /// Sets the filter of the pre activities (`None`: unfiltered spikes).
    pub fn pre_synapse(mut self, s: Option<Synapse>) -> Self {
        self.pre_synapse = s;
        self
    }
    pub(crate) fn validate(&self, object: &dyn fmt::Display) -> Result<()> {
        check_non_negative(object, "PES learning_rate", self.learning_rate)?;
        check_rule_synapse(object, "PES pre_synapse", &self.pre_synapse)
    }
}

/// Nengo's Bienenstock-Cooper-Munro rule (`nengo.BCM`) on neuron-to-neuron weights. Each step
///
/// `delta[i, j] = learning_rate * dt * post_i * (post_i - theta_i) * pre_j`
///
/// with `pre`, `post` the activities filtered by `pre_synapse`, `post_synapse`, and `theta` the
/// post activities filtered by `theta_synapse` (a running average: post activity above it
/// potentiates, below it depresses).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bcm {
    /// Learning rate kappa (>= 0; Nengo's default 1e-9).
    pub learning_rate: f64,
    /// Filter of the pre activities (default `Lowpass(0.005)`; `None`: unfiltered).
    pub pre_synapse: Option<Synapse>,
    /// Filter of the post activities (default: the same as `pre_synapse`).
    pub post_synapse: Option<Synapse>,
    /// Filter giving theta from the post activities (default `Lowpass(1.0)`).
    pub theta_synapse: Option<Synapse>,
}

impl Default for Bcm {
    fn default() -> Self {
        Bcm {
            learning_rate: 1e-9,
            pre_synapse: Some(Synapse::Lowpass(0.005)),
            post_synapse: Some(Synapse::Lowpass(0.005)),
            theta_synapse: Some(Synapse::Lowpass(1.0)),
        }
    }
}

impl Bcm {
    /// BCM with Nengo's defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the learning rate.
    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        self.learning_rate = learning_rate;
        self
    }
    /// Sets the pre filter, and the post filter to the same (Nengo's default); call
    /// [`Bcm::post_synapse`] afterwards for a different post filter.
    pub fn pre_synapse(mut self, s: Option<Synapse>) -> Self {
        self.pre_synapse = s;
        self.post_synapse = s;
        self
    }
    /// Sets the post filter.
    pub fn post_synapse(mut self, s: Option<Synapse>) -> Self {
        self.post_synapse = s;
        self
    }
    /// Sets the filter that gives theta.
    pub fn theta_synapse(mut self, s: Option<Synapse>) -> Self {
        self.theta_synapse = s;
        self
    }
    pub(crate) fn validate(&self, object: &dyn fmt::Display) -> Result<()> {
        check_non_negative(object, "BCM learning_rate", self.learning_rate)?;
        check_rule_synapse(object, "BCM pre_synapse", &self.pre_synapse)?;
        check_rule_synapse(object, "BCM post_synapse", &self.post_synapse)?;
        check_rule_synapse(object, "BCM theta_synapse", &self.theta_synapse)
    }
}

/// Nengo's Oja rule (`nengo.Oja`) on neuron-to-neuron weights: Hebbian learning with a
/// forgetting term that keeps the weights bounded. Each step
///
/// `delta[i, j] = learning_rate * dt * (post_i * pre_j - beta * post_i^2 * w[i, j])`
///
/// with `pre`, `post` the activities filtered by `pre_synapse`, `post_synapse`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Oja {
    /// Learning rate kappa (>= 0; Nengo's default 1e-6).
    pub learning_rate: f64,
    /// Filter of the pre activities (default `Lowpass(0.005)`; `None`: unfiltered).
    pub pre_synapse: Option<Synapse>,
    /// Filter of the post activities (default: the same as `pre_synapse`).
    pub post_synapse: Option<Synapse>,
    /// Weight of the forgetting term (>= 0; Nengo's default 1).
    pub beta: f64,
}

impl Default for Oja {
    fn default() -> Self {
        Oja {
            learning_rate: 1e-6,
            pre_synapse: Some(Synapse::Lowpass(0.005)),
            post_synapse: Some(Synapse::Lowpass(0.005)),
            beta: 1.0,
        }
    }
}

impl Oja {
    /// Oja with Nengo's defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the learning rate.
    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        self.learning_rate = learning_rate;
        self
    }
    /// Sets the pre filter, and the post filter to the same (Nengo's default); call
    /// [`Oja::post_synapse`] afterwards for a different post filter.
    pub fn pre_synapse(mut self, s: Option<Synapse>) -> Self {
        self.pre_synapse = s;
        self.post_synapse = s;
        self
    }
    /// Sets the post filter.
    pub fn post_synapse(mut self, s: Option<Synapse>) -> Self {
        self.post_synapse = s;
        self
    }
    /// Sets the weight of the forgetting term.
    pub fn beta(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }
    pub(crate) fn validate(&self, object: &dyn fmt::Display) -> Result<()> {
        check_non_negative(object, "Oja learning_rate", self.learning_rate)?;
        check_non_negative(object, "Oja beta", self.beta)?;
        check_rule_synapse(object, "Oja pre_synapse", &self.pre_synapse)?;
        check_rule_synapse(object, "Oja post_synapse", &self.post_synapse)
    }
}

/// A learning rule on a connection's weights. Following Nengo, the delta rules (PES, BCM, Oja)
/// each write a weight change (`delta`) computed from this step's activities and the current
/// weights; every delta is added to the weights at the start of the next step, before anything
/// reads them. Several rules on one connection therefore do not depend on their order.
///
/// The formulas are Nengo's, on Nengo's weights: a connection to the `.neurons()` of a
/// current-driven ensemble keeps its weights without the post gain, which multiplies the
/// connection's output on its way into the neurons, as in Nengo, so
/// [`crate::Simulator::weights`] gives what Nengo's `Probe(conn, "weights")` records.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LearningRule {
    /// Spike-timing-dependent plasticity (pair, triplet, Diehl & Cook); event-driven, applied
    /// in place, so it must be the only rule on its connection.
    Stdp(Stdp),
    /// Prescribed Error Sensitivity (error-driven decoder learning).
    Pes(Pes),
    /// Bienenstock-Cooper-Munro.
    Bcm(Bcm),
    /// Oja.
    Oja(Oja),
}

impl LearningRule {
    /// The rule's filters, each with its parameter's name for messages ("PES pre_synapse").
    pub(crate) fn synapses(&self) -> Vec<(&'static str, Option<Synapse>)> {
        match self {
            LearningRule::Stdp(_) => vec![],
            LearningRule::Pes(r) => vec![("PES pre_synapse", r.pre_synapse)],
            LearningRule::Bcm(r) => vec![
                ("BCM pre_synapse", r.pre_synapse),
                ("BCM post_synapse", r.post_synapse),
                ("BCM theta_synapse", r.theta_synapse),
            ],
            LearningRule::Oja(r) => vec![
                ("Oja pre_synapse", r.pre_synapse),
                ("Oja post_synapse", r.post_synapse),
            ],
        }
    }
    /// The rule's name as Nengo spells it.
    pub fn name(&self) -> &'static str {
        match self {
            LearningRule::Stdp(_) => "Stdp",
            LearningRule::Pes(_) => "PES",
            LearningRule::Bcm(_) => "BCM",
            LearningRule::Oja(_) => "Oja",
        }
    }
}

impl From<Stdp> for LearningRule {
    fn from(r: Stdp) -> Self {
        LearningRule::Stdp(r)
    }
}
impl From<Pes> for LearningRule {
    fn from(r: Pes) -> Self {
        LearningRule::Pes(r)
    }
}
impl From<Bcm> for LearningRule {
    fn from(r: Bcm) -> Self {
        LearningRule::Bcm(r)
    }
}
impl From<Oja> for LearningRule {
    fn from(r: Oja) -> Self {
        LearningRule::Oja(r)
    }
}

/// One end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// The vector an ensemble represents (decoded when the ensemble is the source).
    Ensemble(EnsembleId),
    /// The individual neurons of an ensemble (their spikes/rates as source, their input current as target).
    Neurons(EnsembleId),
    /// A node's output (a node can only be a source).
    Node(NodeId),
    /// The learning rule of a connection, as a target only: a connection into it carries the
    /// error signal of the connection's PES rule (Nengo's `conn.learning_rule`); its size is
    /// the dimensions of the learned connection's post ensemble.
    LearningRule(ConnectionId),
}

impl From<EnsembleId> for Endpoint {
    fn from(e: EnsembleId) -> Self {
        Endpoint::Ensemble(e)
    }
}
impl From<NodeId> for Endpoint {
    fn from(n: NodeId) -> Self {
        Endpoint::Node(n)
    }
}
impl EnsembleId {
    /// The ensemble's neurons, as a connection endpoint (Nengo's `ens.neurons`).
    pub fn neurons(self) -> Endpoint {
        Endpoint::Neurons(self)
    }
}

impl ConnectionId {
    /// The connection's learning rule, as the target of an error connection (Nengo's
    /// `conn.learning_rule`): `Connection::new(error, conn.learning_rule())`.
    pub fn learning_rule(self) -> Endpoint {
        Endpoint::LearningRule(self)
    }
}

/// The name of the buffer that holds connection `index`'s weights, when it has any
/// (`Connection::has_weights`).
pub(crate) fn weights_buffer_name(index: usize) -> String {
    format!("conn{index}.weights")
}

/// What `Connection::has_weights` allows, for error messages.
pub(crate) const WITH_WEIGHTS: &str =
    "a connection with weights: a Dense or Sparse transform, or decoded from an ensemble";

/// Short name of a transform's kind for messages.
pub(crate) fn transform_kind(t: &Transform) -> &'static str {
    match t {
        Transform::Scalar(_) => "Scalar",
        Transform::Diagonal(_) => "Diagonal",
        Transform::Dense(_) => "Dense",
        Transform::AllButSelf(_) => "AllButSelf",
        Transform::Sparse(_) => "Sparse",
    }
}

/// A connection between two objects (Nengo's `Connection`).
#[derive(Clone)]
pub struct Connection {
    /// Source.
    pub pre: Endpoint,
    /// Target.
    pub post: Endpoint,
    /// Function of the source: decoded from an ensemble, or applied on the host to a node's
    /// output.
    pub function: Option<ConnFn>,
    /// Transform applied after the function (default scalar 1).
    pub transform: Transform,
    /// Post-synaptic filter (default `Lowpass(0.005)`; `None` passes the signal in the same step).
    pub synapse: Option<Synapse>,
    /// Decoder solver (decoded connections only).
    pub solver: Solver,
    /// Which input of the target neurons this drives (default current).
    pub port: Port,
    /// Plasticity of the weights (default none): any number of delta rules (PES at most once,
    /// since the error connection targets it), or one STDP rule alone.
    pub learning: Vec<LearningRule>,
    /// Normalise each target neuron's incoming weights to this sum at every presentation
    /// boundary ([`crate::Simulator::boundary`]); Dense and Sparse transforms only.
    pub normalize: Option<f64>,
    /// Synaptic delays (default none). See [`Delays`] for when a delayed spike arrives and how
    /// STDP sees it.
    pub delays: Option<Delays>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("pre", &self.pre)
            .field("post", &self.post)
            .field("function", &self.function.as_ref().map(|_| "<fn>"))
            .field("transform", &self.transform)
            .field("synapse", &self.synapse)
            .field("solver", &self.solver)
            .field("port", &self.port)
            .field("learning", &self.learning)
            .field("normalize", &self.normalize)
            .field("delays", &self.delays)
            .finish()
    }
}

impl Connection {
    /// Whether the connection keeps a weight matrix, which `Probe::weights`,
    /// `Simulator::weights` and `Simulator::set_weights` read and write: it is decoded from an
    /// ensemble, or its transform is Dense or Sparse. A Scalar, Diagonal or AllButSelf
    /// transform from neurons or a node is a fixed parameter, not a matrix.
    pub fn has_weights(&self) -> bool {
        matches!(self.pre, Endpoint::Ensemble(_))
            || matches!(self.transform, Transform::Dense(_) | Transform::Sparse(_))
    }

    /// A connection with Nengo's defaults: identity function, transform 1, `Lowpass(0.005)`.
    pub fn new(pre: impl Into<Endpoint>, post: impl Into<Endpoint>) -> Self {
        Connection {
            pre: pre.into(),
            post: post.into(),
            function: None,
            transform: Transform::Scalar(1.0),
            synapse: Some(Synapse::Lowpass(0.005)),
            solver: Solver::default(),
            port: Port::Current,
            learning: Vec::new(),
            normalize: None,
            delays: None,
        }
    }
    /// Drives a conductance port of conductance-based neurons. Conductances are filtered by the
    /// neuron (tau_ge, tau_gi), so this also removes the connection's synapse.
    pub fn port(mut self, port: Port) -> Self {
        self.port = port;
        if port != Port::Current {
            self.synapse = None;
        }
        self
    }
    /// Normalises each target neuron's incoming weights to sum to `target` at presentation
    /// boundaries (Diehl & Cook use 78 on the input connection).
    pub fn normalize_incoming(mut self, target: f64) -> Self {
        self.normalize = Some(target);
        self
    }
    /// Delays every synapse by `seconds`, a whole number of simulation steps (checked when the
    /// network is compiled). See [`Delays`] for the timing.
    pub fn delay(mut self, seconds: f64) -> Self {
        self.delays = Some(Delays::Fixed(seconds));
        self
    }
    /// Gives each synapse its own delay, drawn uniformly in `[min_s, max_s)` seconds at build
    /// time with the network's seed and rounded to the nearest step (Diehl & Cook use 0-10 ms
    /// on the input connection). Dense or Sparse transforms from `.neurons()` or a node.
    pub fn delays_uniform(mut self, min_s: f64, max_s: f64) -> Self {
        self.delays = Some(Delays::Uniform {
            min: min_s,
            max: max_s,
        });
        self
    }
    /// Gives each synapse its own delay in seconds (whole numbers of steps), in the order of the
    /// weights: row-major `(post, pre)` for Dense, stored-entry order for Sparse.
    pub fn delays(mut self, seconds: Vec<f64>) -> Self {
        self.delays = Some(Delays::PerSynapse(seconds));
        self
    }
    /// Adds a learning rule (Nengo's `learning_rule_type`; call again for several rules).
    pub fn learning(mut self, rule: impl Into<LearningRule>) -> Self {
        self.learning.push(rule.into());
        self
    }
    /// Computes `f` of the source: decoded from a pre ensemble, or applied to a node's output on
    /// the host every step (as Nengo does; not from a Poisson, noise or passthrough node). The
    /// connection's source then has `f`'s output length.
    pub fn function(mut self, f: impl Fn(&[f64]) -> Vec<f64> + Send + Sync + 'static) -> Self {
        self.function = Some(Arc::new(f));
        self
    }
    /// Sets the transform.
    pub fn transform(mut self, t: Transform) -> Self {
        self.transform = t;
        self
    }
    /// Sets the synapse (`None` for no filtering and no delay; a time constant of 0 is Nengo's
    /// `synapse=0`, no filtering but one step of delay).
    pub fn synapse(mut self, s: Option<Synapse>) -> Self {
        self.synapse = s;
        self
    }
    /// Sets the decoder solver.
    pub fn solver(mut self, s: Solver) -> Self {
        self.solver = s;
        self
    }
}

/// What a probe records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeTarget {
    /// An ensemble's decoded value (identity decoders), or a node's output.
    Decoded(Endpoint),
    /// Spikes (or rates) of an ensemble's neurons, amplitude / dt per spike like Nengo.
    Spikes(EnsembleId),
    /// A state variable of an ensemble's neurons, by name (Nengo's `Probe(ens.neurons,
    /// "voltage")`): one of the neuron type's `state_names()`, e.g. `"voltage"`,
    /// `"adaptation"`, `"recovery"`, `"theta"`.
    State(EnsembleId, &'static str),
    /// Input current J of an ensemble's neurons (bias included).
    InputCurrent(EnsembleId),
    /// Spike counts of an ensemble's neurons (`Endpoint::Ensemble` or `Endpoint::Neurons`) or
    /// of a node's outputs, accumulated on the device and read (and reset) with
    /// [`crate::Simulator::take_counts`]; nothing is sampled per step. Each spike of a spiking
    /// neuron type or a Poisson node counts exactly 1, whatever the neuron's amplitude (exact up
    /// to 2^24 spikes per neuron between reads); a rate neuron's or another node's output
    /// counts as value x dt, rounded when read.
    SpikeCount(Endpoint),
    /// A connection's weights (Nengo's `Probe(conn, "weights")`), as
    /// [`crate::Simulator::weights`] reads them: `post x pre` values, row-major, for a Dense
    /// transform or a connection decoded from an ensemble (decoders times transform), or a
    /// Sparse transform's stored values. Sample `k` holds the weights the connection used in
    /// step `k`, as Nengo's does: a PES, BCM or Oja change computed in step `k` shows in sample
    /// `k + 1`; STDP changes the weights in place, so its change of step `k` is in sample `k`.
    Weights(ConnectionId),
}

/// Records a signal during simulation (Nengo's `Probe`).
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// What to record.
    pub target: ProbeTarget,
    /// Filter applied before recording (default none). As in Nengo, the filter adds one step
    /// of delay, as a connection's synapse does: the sample of step k is the filter's state
    /// after step k-1 (for a lowpass, `y[k] = a y[k-1] + (1 - a) x[k-1]`, `a = exp(-dt/tau)`).
    pub synapse: Option<Synapse>,
    /// Record every this many seconds (default every step), by Nengo's rule: after step `n`
    /// when `n % (sample_every / dt) < 1`, so a value that is not a whole multiple of dt gives
    /// irregularly spaced samples (1.5 dt: steps 2, 3, 5, 6, ...) and one under dt every step
    /// (see [`Sampling`](crate::compile::Sampling)); [`Simulator::probe_trange`](crate::Simulator::probe_trange)
    /// gives their times.
    pub sample_every: Option<f64>,
}

impl Probe {
    /// Decoded value of an ensemble, or a node's output.
    pub fn decoded(target: impl Into<Endpoint>) -> Self {
        Probe {
            target: ProbeTarget::Decoded(target.into()),
            synapse: None,
            sample_every: None,
        }
    }
    /// Spikes of an ensemble's neurons.
    pub fn spikes(ens: EnsembleId) -> Self {
        Probe {
            target: ProbeTarget::Spikes(ens),
            synapse: None,
            sample_every: None,
        }
    }
    /// Spike counts of an ensemble's neurons or of a node's outputs (e.g. a Poisson input), kept
    /// on the device (see [`ProbeTarget::SpikeCount`]).
    pub fn spike_count(target: impl Into<Endpoint>) -> Self {
        Probe {
            target: ProbeTarget::SpikeCount(target.into()),
            synapse: None,
            sample_every: None,
        }
    }
    /// Voltages of an ensemble's neurons.
    pub fn voltage(ens: EnsembleId) -> Self {
        Probe::state(ens, "voltage")
    }
    /// State variable `var` of an ensemble's neurons, one of its neuron type's
    /// [`state_names`](crate::model::NeuronType::state_names) (Nengo's
    /// `nengo.Probe(ens.neurons, "adaptation")`); `net.probe` refuses a name the type lacks,
    /// listing those it has.
    pub fn state(ens: EnsembleId, var: &'static str) -> Self {
        Probe {
            target: ProbeTarget::State(ens, var),
            synapse: None,
            sample_every: None,
        }
    }
    /// Weights of a connection over time (Nengo's `Probe(conn, "weights")`; see
    /// [`ProbeTarget::Weights`]), e.g. with `sample_every` to watch a learning rule.
    pub fn weights(conn: ConnectionId) -> Self {
        Probe {
            target: ProbeTarget::Weights(conn),
            synapse: None,
            sample_every: None,
        }
    }
    /// Input currents of an ensemble's neurons.
    pub fn input_current(ens: EnsembleId) -> Self {
        Probe {
            target: ProbeTarget::InputCurrent(ens),
            synapse: None,
            sample_every: None,
        }
    }
    /// Sets the probe's filter (one step of delay, as Nengo's; see [`Probe::synapse`](Probe#structfield.synapse));
    /// a time constant of 0 is Nengo's `synapse=0`, one step of delay without filtering.
    pub fn synapse(mut self, s: Synapse) -> Self {
        self.synapse = Some(s);
        self
    }
    /// Records every `seconds` instead of every step.
    pub fn sample_every(mut self, seconds: f64) -> Self {
        self.sample_every = Some(seconds);
        self
    }
}

/// A whole model: the arenas of objects and the seed that fixes every random choice at build time.
///
/// A clone is a new network with the same objects, as a deep copy of a Nengo network is: ids
/// taken from the original are refused by the clone (and the other way round), since the two
/// can grow apart and an id could then name a different object in each.
#[derive(Debug)]
pub struct Network {
    uid: u64,
    /// Seed for build-time randomness (encoders, intercepts, rates, evaluation points, initial state)
    /// and for the simulation's counter-based generator.
    pub seed: u64,
    pub(crate) ensembles: Vec<Ensemble>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) connections: Vec<Connection>,
    pub(crate) probes: Vec<Probe>,
}

impl Clone for Network {
    /// A new network (as a deep copy in Nengo): ids of the original are not valid for the copy,
    /// while the endpoints inside the copy's connections and probes refer to the copy's own
    /// objects (`copy.connections()[i].pre` can be used with `copy`).
    fn clone(&self) -> Self {
        let uid = NEXT_NETWORK_UID.fetch_add(1, Ordering::Relaxed);
        let mut copy = Network {
            uid,
            ..self.same_ids_copy()
        };
        for c in &mut copy.connections {
            c.pre = c.pre.in_network(uid);
            c.post = c.post.in_network(uid);
        }
        for p in &mut copy.probes {
            p.target = match p.target {
                ProbeTarget::Decoded(e) => ProbeTarget::Decoded(e.in_network(uid)),
                ProbeTarget::Spikes(e) => ProbeTarget::Spikes(e.in_network(uid)),
                ProbeTarget::State(e, var) => ProbeTarget::State(e.in_network(uid), var),
                ProbeTarget::InputCurrent(e) => ProbeTarget::InputCurrent(e.in_network(uid)),
                ProbeTarget::SpikeCount(e) => ProbeTarget::SpikeCount(e.in_network(uid)),
                ProbeTarget::Weights(c) => ProbeTarget::Weights(c.in_network(uid)),
            };
        }
        copy
    }
}

impl Endpoint {
    /// The same object in the network with identity `uid` (a clone's).
    fn in_network(self, uid: u64) -> Endpoint {
        match self {
            Endpoint::Ensemble(e) => Endpoint::Ensemble(e.in_network(uid)),
            Endpoint::Neurons(e) => Endpoint::Neurons(e.in_network(uid)),
            Endpoint::Node(n) => Endpoint::Node(n.in_network(uid)),
            Endpoint::LearningRule(c) => Endpoint::LearningRule(c.in_network(uid)),
        }
    }
}

impl Network {
    /// An empty network with the given seed.
    pub fn new(seed: u64) -> Self {
        Network {
            uid: NEXT_NETWORK_UID.fetch_add(1, Ordering::Relaxed),
            seed,
            ensembles: Vec::new(),
            nodes: Vec::new(),
            connections: Vec::new(),
            probes: Vec::new(),
        }
    }

    /// The ensembles, in the order they were added.
    pub fn ensembles(&self) -> &[Ensemble] {
        &self.ensembles
    }
    /// The nodes.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
    /// The connections.
    pub fn connections(&self) -> &[Connection] {
        &self.connections
    }
    /// The probes.
    pub fn probes(&self) -> &[Probe] {
        &self.probes
    }
    /// Ids of the ensembles, in the order of [`Network::ensembles`] (for a clone: its own).
    pub fn ensemble_ids(&self) -> Vec<EnsembleId> {
        EnsembleId::all(self.uid, self.ensembles.len())
    }
    /// Ids of the nodes, in the order of [`Network::nodes`].
    pub fn node_ids(&self) -> Vec<NodeId> {
        NodeId::all(self.uid, self.nodes.len())
    }
    /// Ids of the connections, in the order of [`Network::connections`].
    pub fn connection_ids(&self) -> Vec<ConnectionId> {
        ConnectionId::all(self.uid, self.connections.len())
    }
    /// Ids of the probes, in the order of [`Network::probes`] (a clone's probes are read with
    /// these).
    pub fn probe_ids(&self) -> Vec<ProbeId> {
        ProbeId::all(self.uid, self.probes.len())
    }

    /// Human-readable name of an ensemble for messages: `Ensemble 0 "a"`.
    pub fn ensemble_name(&self, index: usize) -> String {
        match self.ensembles.get(index).and_then(|e| e.label.as_deref()) {
            Some(l) => format!("Ensemble {index} \"{l}\""),
            None => format!("Ensemble {index}"),
        }
    }
    /// Human-readable name of a node.
    pub fn node_name(&self, index: usize) -> String {
        match self.nodes.get(index).and_then(|n| n.label.as_deref()) {
            Some(l) => format!("Node {index} \"{l}\""),
            None => format!("Node {index}"),
        }
    }
    /// Human-readable name of an endpoint.
    /// "Connection i (pre -> post)", as errors name a connection.
    pub fn connection_name(&self, index: usize) -> String {
        match self.connections.get(index) {
            Some(c) => format!(
                "Connection {index} ({} -> {})",
                self.endpoint_name(&c.pre),
                self.endpoint_name(&c.post)
            ),
            None => format!("Connection {index}"),
        }
    }

    pub fn endpoint_name(&self, e: &Endpoint) -> String {
        match e {
            Endpoint::Ensemble(id) => self.ensemble_name(id.index),
            Endpoint::Neurons(id) => format!("{}.neurons", self.ensemble_name(id.index)),
            Endpoint::Node(id) => self.node_name(id.index),
            Endpoint::LearningRule(id) => format!("Connection {}.learning_rule", id.index),
        }
    }

    /// Adds an ensemble after checking every parameter.
    pub fn add_ensemble(&mut self, ens: Ensemble) -> Result<EnsembleId> {
        let index = self.ensembles.len();
        let name = match &ens.label {
            Some(l) => format!("Ensemble {index} \"{l}\""),
            None => format!("Ensemble {index}"),
        };
        ens.validate(&name)?;
        self.ensembles.push(ens);
        Ok(EnsembleId {
            net: self.uid,
            index,
        })
    }

    /// Adds a node after checking it.
    pub fn add_node(&mut self, node: Node) -> Result<NodeId> {
        let index = self.nodes.len();
        let name = match &node.label {
            Some(l) => format!("Node {index} \"{l}\""),
            None => format!("Node {index}"),
        };
        node.validate(&name)?;
        self.nodes.push(node);
        Ok(NodeId {
            net: self.uid,
            index,
        })
    }

    fn check_endpoint(&self, object: &str, e: &Endpoint) -> Result<()> {
        match e {
            Endpoint::Ensemble(id) => self.check_ensemble(object, *id),
            Endpoint::Node(id) => self.check_node(object, *id),
            Endpoint::Neurons(id) => self.check_own(
                object,
                id.net,
                id.index,
                self.ensembles.len(),
                format!("{id} (neurons)"),
            ),
            Endpoint::LearningRule(id) => self.check_own(
                object,
                id.net,
                id.index,
                self.connections.len(),
                format!("{id} (learning rule)"),
            ),
        }
    }

    /// An id of this network's (not of another network, a clone, or one never added).
    fn check_own(
        &self,
        object: &str,
        net: u64,
        index: usize,
        len: usize,
        what: String,
    ) -> Result<()> {
        if net != self.uid || index >= len {
            return Err(Error::ForeignObject {
                object: object.to_string(),
                what,
            });
        }
        Ok(())
    }

    /// Checks that `id` is an ensemble of this network; `object` names the caller.
    pub(crate) fn check_ensemble(&self, object: &str, id: EnsembleId) -> Result<()> {
        self.check_own(
            object,
            id.net,
            id.index,
            self.ensembles.len(),
            id.to_string(),
        )
    }

    /// Checks that `id` is a node of this network; `object` names the caller.
    pub(crate) fn check_node(&self, object: &str, id: NodeId) -> Result<()> {
        self.check_own(object, id.net, id.index, self.nodes.len(), id.to_string())
    }

    /// Checks that `id` is a connection of this network; `object` names the caller.
    pub(crate) fn check_connection(&self, object: &str, id: ConnectionId) -> Result<()> {
        self.check_own(
            object,
            id.net,
            id.index,
            self.connections.len(),
            id.to_string(),
        )
    }

    /// Size of the signal an endpoint provides as a source (before any function).
    pub(crate) fn source_size(&self, e: &Endpoint) -> usize {
        match e {
            Endpoint::Ensemble(id) => self.ensembles[id.index].dimensions,
            Endpoint::Neurons(id) => self.ensembles[id.index].n_neurons,
            Endpoint::Node(id) => self.nodes[id.index].size_out(),
            // Never a source (`connect` refuses it).
            Endpoint::LearningRule(_) => 0,
        }
    }

    /// Size of the signal an endpoint accepts as a target. A learning rule takes an error of the
    /// learned connection's post ensemble's dimensions (Nengo's `size_in = "post_state"`).
    pub(crate) fn target_size(&self, e: &Endpoint) -> usize {
        match e {
            Endpoint::LearningRule(id) => match self.connections[id.index].post {
                Endpoint::Ensemble(p) | Endpoint::Neurons(p) => self.ensembles[p.index].dimensions,
                _ => 0,
            },
            Endpoint::Node(id) => self.nodes[id.index].size_in(),
            _ => self.source_size(e),
        }
    }

    /// Adds a connection after checking endpoints, shapes and parameters.
    pub fn connect(&mut self, mut conn: Connection) -> Result<ConnectionId> {
        conn.synapse = conn.synapse.map(Synapse::zero_as_lowpass);
        let index = self.connections.len();
        let base = format!("Connection {index}");
        self.check_endpoint(&base, &conn.pre)?;
        self.check_endpoint(&base, &conn.post)?;
        let object = format!(
            "Connection {index} ({} -> {})",
            self.endpoint_name(&conn.pre),
            self.endpoint_name(&conn.post)
        );
        if let Endpoint::Node(id) = conn.post {
            if !self.nodes[id.index].takes_input() {
                return Err(Error::invalid(
                    &object,
                    "post",
                    self.endpoint_name(&conn.post),
                    "an ensemble, its neurons, a node that takes input (Node::passthrough, Node::with_input) or a connection's learning rule (a node with an output of its own takes no input)",
                ));
            }
            if !conn.learning.is_empty() {
                return Err(Error::invalid(
                    &object,
                    "learning",
                    format!("{} rule(s)", conn.learning.len()),
                    "none on a connection into a node (a learned connection ends at an ensemble or its neurons)",
                ));
            }
        }
        if let Endpoint::Node(id) = conn.pre
            && self.nodes[id.index].size_out() == 0
        {
            return Err(Error::invalid(
                &object,
                "pre",
                self.endpoint_name(&conn.pre),
                "a source with an output (this node is a sink, size_out 0)",
            ));
        }
        if let Endpoint::LearningRule(_) = conn.pre {
            return Err(Error::invalid(
                &object,
                "pre",
                self.endpoint_name(&conn.pre),
                "an ensemble, its neurons or a node (a learning rule is only a target, for its error)",
            ));
        }
        if let Endpoint::LearningRule(target) = conn.post {
            self.check_error_connection(&conn, target, &object)?;
        }
        if let Some(s) = &conn.synapse {
            s.validate_allowing_zero(&object)?;
        }
        // A function's input: an ensemble's decoded value, or a host node's output (applied on
        // the host, as Nengo does).
        let function_input = match conn.pre {
            Endpoint::Ensemble(id) => Some(self.ensembles[id.index].dimensions),
            Endpoint::Node(id) if self.nodes[id.index].computed_on_host() => {
                Some(self.nodes[id.index].size_out())
            }
            _ => None,
        };
        let size_mid = match (function_input, &conn.function) {
            (Some(d), Some(f)) => {
                let y = f(&vec![0.0; d]);
                if y.is_empty() {
                    return Err(Error::invalid(
                        &object,
                        "function",
                        "an empty output",
                        "an output of length >= 1",
                    ));
                }
                y.len()
            }
            (_, Some(_)) => {
                return Err(Error::invalid(
                    &object,
                    "function",
                    "a function",
                    "a function only on connections from an ensemble (decoded) or from a node whose output is computed on the host (not a Poisson, noise or passthrough node); use a transform otherwise",
                ));
            }
            (_, None) => self.source_size(&conn.pre),
        };
        let size_out = self.target_size(&conn.post);
        if let (Endpoint::LearningRule(target), false) = (
            conn.post,
            matches!(conn.transform, Transform::Dense(_) | Transform::Sparse(_)),
        ) && size_mid != size_out
        {
            let learned_post = self.endpoint_name(&self.connections[target.index].post);
            return Err(Error::invalid(
                &object,
                "post",
                format!("an error of {size_mid} dimensions"),
                format!(
                    "an error of {size_out} dimensions, those of the learned connection's post ({learned_post}); or a Dense transform of shape ({size_out}, {size_mid})"
                ),
            ));
        }
        if conn.function.is_some()
            && size_mid != size_out
            && matches!(
                conn.transform,
                Transform::Scalar(_) | Transform::Diagonal(_)
            )
        {
            return Err(Error::invalid(
                &object,
                "function",
                format!("an output of {size_mid} values"),
                format!(
                    "{size_out} values, the size of the post (or a Dense transform of shape ({size_out}, {size_mid}))"
                ),
            ));
        }
        match &conn.transform {
            Transform::Scalar(s) => {
                check_finite(&object, "transform", *s)?;
                if size_mid != size_out {
                    return Err(Error::invalid(
                        &object,
                        "transform",
                        format!("scalar {s} between sizes {size_mid} and {size_out}"),
                        format!(
                            "a scalar only when sizes match; use Transform::Dense with shape ({size_out}, {size_mid})"
                        ),
                    ));
                }
            }
            Transform::Diagonal(v) => {
                if v.len() != size_mid || size_mid != size_out {
                    return Err(Error::invalid(
                        &object,
                        "transform",
                        format!(
                            "diagonal of length {} between sizes {size_mid} and {size_out}",
                            v.len()
                        ),
                        format!("a diagonal of length {size_mid} when both sizes are equal"),
                    ));
                }
                for &x in v {
                    check_finite(&object, "transform", x)?;
                }
            }
            Transform::AllButSelf(w) => {
                check_finite(&object, "transform", *w)?;
                if size_mid != size_out {
                    return Err(Error::invalid(
                        &object,
                        "transform",
                        format!("AllButSelf between sizes {size_mid} and {size_out}"),
                        "AllButSelf only between populations of the same size",
                    ));
                }
            }
            Transform::Dense(m) => {
                if m.dim() != (size_out, size_mid) {
                    return Err(Error::invalid(
                        &object,
                        "transform",
                        format!("a matrix of shape {:?}", m.dim()),
                        format!(
                            "shape ({size_out}, {size_mid}) = (size of post, size of pre{})",
                            if conn.function.is_some() {
                                "'s function"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
                if let Some(x) = m.iter().find(|x| !x.is_finite()) {
                    return Err(Error::invalid(&object, "transform", x, "finite entries"));
                }
            }
            Transform::Sparse(sp) => {
                if (sp.rows, sp.cols) != (size_out, size_mid) {
                    return Err(Error::invalid(
                        &object,
                        "transform",
                        format!("a sparse matrix of shape ({}, {})", sp.rows, sp.cols),
                        format!(
                            "shape ({size_out}, {size_mid}) = (size of post, size of pre{})",
                            if conn.function.is_some() {
                                "'s function"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
                sp.validate(&object, "transform.")?;
            }
        }
        self.check_delays(&conn, &object)?;
        self.check_port_and_learning(&conn, &object)?;
        match conn.solver {
            Solver::LstsqL2 { reg } => check_non_negative(&object, "solver reg", reg)?,
            Solver::Lstsq { rcond } => check_non_negative(&object, "solver rcond", rcond)?,
        }
        self.connections.push(conn);
        Ok(ConnectionId {
            net: self.uid,
            index,
        })
    }

    fn check_port_and_learning(&self, conn: &Connection, object: &str) -> Result<()> {
        let post_type = match conn.post {
            Endpoint::Ensemble(id) | Endpoint::Neurons(id) => {
                Some(self.ensembles[id.index].neuron_type)
            }
            Endpoint::Node(_) | Endpoint::LearningRule(_) => None,
        };
        let conductance = post_type.is_some_and(|t| t.is_conductance_based());
        match conn.port {
            Port::Current => {
                if conductance {
                    return Err(Error::invalid(
                        object,
                        "port",
                        "Current",
                        "Port::Excitatory or Port::Inhibitory: DiehlCook neurons take conductance input",
                    ));
                }
            }
            Port::Excitatory | Port::Inhibitory => {
                if !conductance || !matches!(conn.post, Endpoint::Neurons(_)) {
                    return Err(Error::invalid(
                        object,
                        "port",
                        format!("{:?}", conn.port),
                        "a conductance port only on the .neurons() of a conductance-based ensemble (DiehlCook)",
                    ));
                }
                if conn.synapse.is_some() {
                    return Err(Error::invalid(
                        object,
                        "synapse",
                        format!("{:?}", conn.synapse),
                        "None for conductance ports (the neuron filters its conductances)",
                    ));
                }
            }
        }
        if let Endpoint::Ensemble(id) = conn.pre
            && !self.ensembles[id.index].neuron_type.has_rate_curve()
        {
            return Err(Error::invalid(
                object,
                "pre",
                self.endpoint_name(&conn.pre),
                "an ensemble with a rate curve for decoding; connect from .neurons() instead",
            ));
        }
        if let Some(t) = conn.normalize {
            check_positive(&object, "normalize", t)?;
            if !matches!(conn.transform, Transform::Dense(_) | Transform::Sparse(_)) {
                return Err(Error::invalid(
                    object,
                    "normalize",
                    t,
                    "normalisation only on a Dense or Sparse transform",
                ));
            }
        }
        self.check_learning(conn, object)?;
        Ok(())
    }

    /// Checks a connection's delays as far as possible without dt (whole steps and the largest
    /// delay are checked when the network is compiled).
    fn check_delays(&self, conn: &Connection, object: &str) -> Result<()> {
        let Some(delays) = &conn.delays else {
            return Ok(());
        };
        delays.validate(&object)?;
        if !delays.per_synapse() {
            return Ok(());
        }
        let synapses = match (&conn.pre, &conn.function, &conn.transform) {
            (Endpoint::Neurons(_) | Endpoint::Node(_), None, Transform::Dense(m)) => m.len(),
            (Endpoint::Neurons(_) | Endpoint::Node(_), None, Transform::Sparse(s)) => s.nnz(),
            _ => {
                return Err(Error::invalid(
                    object,
                    "delays",
                    format!(
                        "{delays} from {} with transform {}",
                        self.endpoint_name(&conn.pre),
                        transform_kind(&conn.transform)
                    ),
                    "per-synapse delays on a Dense or Sparse transform from .neurons() or a node; Connection::delay (one delay for all) on any connection",
                ));
            }
        };
        if let Delays::PerSynapse(v) = delays
            && v.len() != synapses
        {
            return Err(Error::invalid(
                object,
                "delays",
                format!("{} values", v.len()),
                format!(
                    "{synapses} values, one per synapse ({})",
                    if matches!(conn.transform, Transform::Dense(_)) {
                        "post x pre, row-major"
                    } else {
                        "one per stored entry of the Sparse transform"
                    }
                ),
            ));
        }
        Ok(())
    }

    /// Checks a connection into a learning rule (the error of a PES rule).
    fn check_error_connection(
        &self,
        conn: &Connection,
        target: ConnectionId,
        object: &str,
    ) -> Result<()> {
        let learned = &self.connections[target.index];
        if !learned
            .learning
            .iter()
            .any(|r| matches!(r, LearningRule::Pes(_)))
        {
            let rules: Vec<&str> = learned.learning.iter().map(|r| r.name()).collect();
            return Err(Error::invalid(
                object,
                "post",
                format!(
                    "{} (rules: [{}])",
                    self.endpoint_name(&conn.post),
                    rules.join(", ")
                ),
                "the learning rule of a connection with a PES rule (only PES takes an error signal)",
            ));
        }
        if !conn.learning.is_empty() {
            return Err(Error::invalid(
                object,
                "learning",
                conn.learning[0].name(),
                "no learning rule on a connection carrying an error into a learning rule",
            ));
        }
        if conn.normalize.is_some() {
            return Err(Error::invalid(
                object,
                "normalize",
                format!("{:?}", conn.normalize),
                "None on a connection carrying an error into a learning rule",
            ));
        }
        Ok(())
    }

    /// Checks the learning rules of a connection against its endpoints and transform.
    fn check_learning(&self, conn: &Connection, object: &str) -> Result<()> {
        let has_stdp = conn
            .learning
            .iter()
            .any(|r| matches!(r, LearningRule::Stdp(_)));
        if has_stdp && conn.learning.len() > 1 {
            let rules: Vec<&str> = conn.learning.iter().map(|r| r.name()).collect();
            return Err(Error::invalid(
                object,
                "learning",
                format!("[{}]", rules.join(", ")),
                "STDP alone on its connection (it updates the weights in place); PES, BCM and Oja combine freely",
            ));
        }
        let n_pes = conn
            .learning
            .iter()
            .filter(|r| matches!(r, LearningRule::Pes(_)))
            .count();
        if n_pes > 1 {
            return Err(Error::invalid(
                object,
                "learning",
                format!("{n_pes} PES rules"),
                "at most one PES rule per connection (its learning_rule() takes the error)",
            ));
        }
        let dense = matches!(conn.transform, Transform::Dense(_));
        let neural_pre = match conn.pre {
            Endpoint::Neurons(_) => Some("neurons"),
            Endpoint::Ensemble(_) => Some("ensemble"),
            _ => None,
        };
        let post_type = match conn.post {
            Endpoint::Ensemble(id) | Endpoint::Neurons(id) => {
                Some(self.ensembles[id.index].neuron_type)
            }
            _ => None,
        };
        for rule in &conn.learning {
            match rule {
                LearningRule::Stdp(_) => {}
                LearningRule::Pes(r) => {
                    r.validate(&object)?;
                    let pre_ok = match neural_pre {
                        Some("ensemble") => true,
                        Some(_) => dense,
                        None => false,
                    };
                    let post_ok = post_type.is_some_and(|t| !t.is_conductance_based());
                    if !pre_ok || !post_ok {
                        return Err(Error::invalid(
                            object,
                            "learning",
                            format!(
                                "PES from {} to {} with transform {}",
                                self.endpoint_name(&conn.pre),
                                self.endpoint_name(&conn.post),
                                transform_kind(&conn.transform)
                            ),
                            "PES on a decoded connection from an ensemble, or on a Dense transform from .neurons(), to an ensemble or the .neurons() of a current-driven ensemble",
                        ));
                    }
                }
                LearningRule::Bcm(_) | LearningRule::Oja(_) => {
                    match rule {
                        LearningRule::Bcm(r) => r.validate(&object)?,
                        LearningRule::Oja(r) => r.validate(&object)?,
                        _ => {}
                    }
                    let ok = matches!(conn.pre, Endpoint::Neurons(_))
                        && matches!(conn.post, Endpoint::Neurons(_))
                        && dense;
                    if !ok {
                        return Err(Error::invalid(
                            object,
                            "learning",
                            format!(
                                "{} from {} to {} with transform {}",
                                rule.name(),
                                self.endpoint_name(&conn.pre),
                                self.endpoint_name(&conn.post),
                                transform_kind(&conn.transform)
                            ),
                            format!(
                                "{} on a Dense transform from .neurons() to .neurons() (it learns neuron-to-neuron weights)",
                                rule.name()
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(LearningRule::Stdp(rule)) = conn.learning.first() {
            rule.validate(&object)?;
            let spiking_pre = match conn.pre {
                Endpoint::Neurons(id) => self.ensembles[id.index].neuron_type.is_spiking(),
                // Any node may emit spikes (Poisson nodes, or host functions returning 1/dt).
                Endpoint::Node(_) => true,
                Endpoint::Ensemble(_) | Endpoint::LearningRule(_) => false,
            };
            let spiking_post = match conn.post {
                Endpoint::Neurons(id) => self.ensembles[id.index].neuron_type.is_spiking(),
                _ => false,
            };
            if !spiking_pre
                || !spiking_post
                || !matches!(conn.transform, Transform::Dense(_) | Transform::Sparse(_))
            {
                return Err(Error::invalid(
                    object,
                    "learning",
                    "Stdp",
                    "STDP on a Dense or Sparse transform from spiking neurons or a spike-emitting node to spiking .neurons()",
                ));
            }
        }
        Ok(())
    }

    /// Adds a probe.
    pub fn probe(&mut self, mut probe: Probe) -> Result<ProbeId> {
        probe.synapse = probe.synapse.map(Synapse::zero_as_lowpass);
        let index = self.probes.len();
        let object = format!("Probe {index}");
        if let ProbeTarget::Decoded(e @ Endpoint::Node(id))
        | ProbeTarget::SpikeCount(e @ Endpoint::Node(id)) = &probe.target
        {
            self.check_endpoint(&object, e)?;
            if self.nodes[id.index].size_out() == 0 {
                return Err(Error::invalid(
                    &object,
                    "target",
                    self.endpoint_name(e),
                    "a target with an output (this node is a sink, size_out 0: probe what feeds it)",
                ));
            }
        }
        match &probe.target {
            ProbeTarget::Decoded(e) => {
                self.check_endpoint(&object, e)?;
                if let Endpoint::Neurons(_) = e {
                    return Err(Error::invalid(
                        &object,
                        "target",
                        "Decoded(neurons)",
                        "Decoded(ensemble or node); use Probe::spikes for neurons",
                    ));
                }
                if let Endpoint::LearningRule(_) = e {
                    return Err(Error::invalid(
                        &object,
                        "target",
                        format!("Decoded({})", self.endpoint_name(e)),
                        "Decoded(ensemble or node); probe the error's source instead",
                    ));
                }
                if let Endpoint::Ensemble(id) = e
                    && !self.ensembles[id.index].neuron_type.has_rate_curve()
                {
                    return Err(Error::invalid(
                        &object,
                        "target",
                        format!("Decoded({})", self.endpoint_name(e)),
                        "Decoded(an ensemble with a rate curve, or a node); probe its spikes or voltage instead",
                    ));
                }
            }
            ProbeTarget::Spikes(id) | ProbeTarget::State(id, _) | ProbeTarget::InputCurrent(id) => {
                self.check_endpoint(&object, &Endpoint::Ensemble(*id))?
            }
            ProbeTarget::Weights(id) => {
                self.check_connection(&object, *id)?;
                let c = &self.connections[id.index];
                if !c.has_weights() {
                    return Err(Error::invalid(
                        &object,
                        "target",
                        format!(
                            "Weights({}, a {} transform)",
                            self.connection_name(id.index),
                            transform_kind(&c.transform)
                        ),
                        format!("Weights({WITH_WEIGHTS})"),
                    ));
                }
            }
            ProbeTarget::SpikeCount(e) => {
                self.check_endpoint(&object, e)?;
                if let Endpoint::LearningRule(_) = e {
                    return Err(Error::invalid(
                        &object,
                        "target",
                        format!("SpikeCount({})", self.endpoint_name(e)),
                        "SpikeCount(ensemble, its neurons, or a node)",
                    ));
                }
                // Counts are accumulated on the device and read with `take_counts`: nothing is
                // filtered or sampled.
                if let Some(s) = probe.synapse {
                    return Err(Error::invalid(
                        &object,
                        "synapse",
                        format!("{s:?}"),
                        "None for a SpikeCount probe (its counts are not filtered)",
                    ));
                }
                if let Some(every) = probe.sample_every {
                    return Err(Error::invalid(
                        &object,
                        "sample_every",
                        every,
                        "None for a SpikeCount probe (its counts are read with take_counts)",
                    ));
                }
            }
        }
        if let ProbeTarget::State(id, var) = probe.target {
            let nt = &self.ensembles[id.index].neuron_type;
            if !nt.state_names().contains(&var) {
                let has = nt.state_names();
                return Err(Error::invalid(
                    &object,
                    "target",
                    format!(
                        "{var:?} of {} ({} neurons)",
                        self.ensemble_name(id.index),
                        nt.name()
                    ),
                    if has.is_empty() {
                        format!(
                            "a state variable of the neuron type; {} neurons have none (probe their spikes, i.e. rates)",
                            nt.name()
                        )
                    } else {
                        format!("one of its state variables: {}", has.join(", "))
                    },
                ));
            }
        }
        if let Some(s) = &probe.synapse {
            s.validate_allowing_zero(&object)?;
        }
        if let Some(se) = probe.sample_every {
            check_positive(&object, "sample_every", se)?;
        }
        self.probes.push(probe);
        Ok(ProbeId {
            net: self.uid,
            index,
        })
    }

    /// Checks that a probe id belongs to this network.
    pub(crate) fn check_probe(&self, p: ProbeId) -> Result<()> {
        self.check_own(
            "Simulator",
            p.net,
            p.index,
            self.probes.len(),
            p.to_string(),
        )
    }

    /// A copy that keeps this network's identity, so that its ids stay valid for the copy (the
    /// simulator's own copy of the network it was built from).
    pub(crate) fn same_ids_copy(&self) -> Network {
        Network {
            uid: self.uid,
            seed: self.seed,
            ensembles: self.ensembles.clone(),
            nodes: self.nodes.clone(),
            connections: self.connections.clone(),
            probes: self.probes.clone(),
        }
    }
}
