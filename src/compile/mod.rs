//! Lowers a [`Network`] to a [`Plan`].
//!
//! The step order follows Nengo's operator scheduling:
//! 1. nodes write their output for this step's time `t = (k + 1) dt` (and the functions of it
//!    that connections from them compute on the host);
//! 2. ensembles, in dependency order, sum their inputs, compute `J = bias + E x + g J_in`
//!    (`E` = encoders * gain / radius, `g` the gain, `J_in` what connections to the neurons
//!    deliver, through weights without the gain as Nengo's) and advance their neurons;
//!    passthrough nodes take their place in the same order and sum their inputs;
//! 3. every connection with a synapse computes its weighted source (decoders and transform folded
//!    into one matrix) and updates its filter, whose output the target reads in the next step;
//!    a connection without synapse is computed inside phase 2, just before its target, so it
//!    delivers in the same step (a zero-delay cycle is an error, as in Nengo);
//! 4. probes record, then update their filters (one step of delay, as in Nengo).

mod plan;

pub use plan::{
    BufId, Buffer, BufferKind, HostInputSlot, Op, Plan, ProbeSlot, Sampling, StdpConsts,
    f32_to_index, index_to_f32,
};

use crate::error::{Error, Result, check_positive};
use crate::model::{
    Connection, Delays, Encoders, Endpoint, EvalPoints, LearningRule, MAX_DELAY_STEPS, Network,
    NeuronType, NodeOutput, Port, ProbeTarget, Stdp, Synapse, Transform,
};
use crate::nef;
use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// Build-time results for one ensemble (what Nengo keeps in `sim.data[ens]`).
#[derive(Clone, Debug)]
pub struct BuiltEnsemble {
    /// Unit-length encoders, shape (n_neurons, dimensions).
    pub encoders: Array2<f64>,
    /// Gain per neuron.
    pub gain: Vec<f64>,
    /// Bias current per neuron.
    pub bias: Vec<f64>,
    /// Max rates (as sampled, or recovered from explicit gain/bias).
    pub max_rates: Vec<f64>,
    /// Intercepts (as sampled, or recovered from explicit gain/bias).
    pub intercepts: Vec<f64>,
    /// Evaluation points (already scaled by the radius), shape (n_eval, dimensions).
    pub eval_points: Array2<f64>,
}

impl BuiltEnsemble {
    /// Rate of every neuron at each of the points `x` (shape (n_points, dimensions)):
    /// the tuning curves, shape (n_points, n_neurons).
    pub fn tuning_curves(&self, neuron: &NeuronType, radius: f64, x: &Array2<f64>) -> Array2<f64> {
        let proj = x.dot(&self.encoders.t()) / radius;
        let mut out = Array2::zeros(proj.dim());
        for (i, row) in proj.axis_iter(Axis(0)).enumerate() {
            let j: Vec<f64> = row
                .iter()
                .zip(self.gain.iter().zip(&self.bias))
                .map(|(x, (g, b))| g * x + b)
                .collect();
            let r = nef::rates(neuron, &j);
            out.row_mut(i).assign(&ndarray::Array1::from(r));
        }
        out
    }
}

/// Everything the compiler decided, besides the plan itself.
#[derive(Clone, Debug)]
pub struct Built {
    /// Per ensemble, by index.
    pub ensembles: Vec<BuiltEnsemble>,
    /// Decoders of each decoded connection, shape (n_pre, size of function output); `None` otherwise.
    pub decoders: Vec<Option<Array2<f64>>>,
}

/// Refuses an ensemble whose build-time arrays this machine cannot hold, before any is
/// allocated (an allocation that fails aborts the process): encoders and evaluation points,
/// and, when something decodes from it, the tuning curves of every evaluation point (two
/// `(points, neurons)` arrays) and the solver's `(neurons, neurons)` Gram matrix, in f64.
fn check_build_memory(net: &Network, index: usize) -> Result<()> {
    let ens = &net.ensembles[index];
    let (n, d) = (ens.n_neurons as u128, ens.dimensions as u128);
    // A type without a rate curve (Diehl & Cook) gets no evaluation points (`build_ensemble`).
    let m = if ens.neuron_type.has_rate_curve() {
        ens.n_eval_points
            .unwrap_or_else(|| nef::default_n_eval_points(ens.n_neurons, ens.dimensions))
            as u128
    } else {
        0
    };
    let decoded = ens.neuron_type.has_rate_curve()
        && (net
            .connections
            .iter()
            .any(|c| matches!(c.pre, Endpoint::Ensemble(id) if id.index == index))
            || net.probes.iter().any(|p| {
                matches!(p.target, ProbeTarget::Decoded(Endpoint::Ensemble(id)) if id.index == index)
            }));
    let values = n * d + m * d + if decoded { 2 * m * n + n * n } else { 0 };
    let bytes = values * 8;
    let fits = usize::try_from(bytes)
        .ok()
        .is_some_and(|b| Vec::<u8>::new().try_reserve_exact(b).is_ok());
    if !fits {
        return Err(Error::invalid(
            net.ensemble_name(index),
            "n_neurons",
            ens.n_neurons,
            format!(
                "a size whose build-time arrays fit in this machine's memory ({:.3e} bytes needed: \
                 encoders, {m} evaluation points{})",
                bytes as f64,
                if decoded {
                    " and the tuning curves and Gram matrix for decoding"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(())
}

/// Derives an independent generator for one object from the network seed.
pub(crate) fn object_rng(seed: u64, kind: u64, index: usize) -> ChaCha8Rng {
    let mut z = seed
        ^ kind.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    // splitmix64 finaliser
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ChaCha8Rng::seed_from_u64(z)
}

const RNG_ENSEMBLE: u64 = 1;
const RNG_INIT: u64 = 2;
const RNG_DELAYS: u64 = 3;
const RNG_PROCESS: u64 = 4;

/// One period of each white-signal node's samples at `dt` (`None` for other nodes): drawn from
/// the signal's own seed, else from the network's seed and the node's index.
pub(crate) fn node_signals(net: &Network, dt: f64) -> Result<Vec<Option<ndarray::Array2<f64>>>> {
    (net.nodes.iter().enumerate())
        .map(|(i, node)| match &node.output {
            NodeOutput::WhiteSignal { size_out, signal } => {
                let mut rng = match signal.seed {
                    Some(seed) => object_rng(seed, RNG_PROCESS, 0),
                    None => object_rng(net.seed, RNG_PROCESS, i),
                };
                let name = net.node_name(i);
                signal.samples(&name, dt, *size_out, &mut rng).map(Some)
            }
            _ => Ok(None),
        })
        .collect()
}

fn build_ensemble(net: &Network, index: usize) -> Result<BuiltEnsemble> {
    let ens = &net.ensembles[index];
    let name = net.ensemble_name(index);
    let (n, d) = (ens.n_neurons, ens.dimensions);
    check_build_memory(net, index)?;
    let mut rng = object_rng(net.seed, RNG_ENSEMBLE, index);
    // Fixed draw order: encoders, max_rates, intercepts, eval points.
    let mut encoders = match &ens.encoders {
        Encoders::ScatteredHypersphere => nef::scattered_hypersphere(n, d, true, &mut rng),
        Encoders::UniformHypersphere => nef::sample_hypersphere_surface(n, d, &mut rng),
        Encoders::Choice(options) => {
            let mut m = Array2::zeros((n, d));
            for mut row in m.rows_mut() {
                let k = rand::Rng::random_range(&mut rng, 0..options.len());
                row.assign(&ndarray::ArrayView1::from(&options[k][..]));
            }
            m
        }
        Encoders::Exact(m) => m.clone(),
    };
    for mut row in encoders.rows_mut() {
        let norm = row.dot(&row).sqrt();
        row /= norm;
    }
    let max_rates_s = ens.max_rates.sample(n, &mut rng);
    let intercepts_s = ens.intercepts.sample(n, &mut rng);
    if !ens.neuron_type.has_rate_curve() {
        // Conductance-driven neurons: no current input, so no gain, bias or decoding.
        return Ok(BuiltEnsemble {
            encoders,
            gain: vec![1.0; n],
            bias: vec![0.0; n],
            max_rates: vec![f64::NAN; n],
            intercepts: vec![f64::NAN; n],
            eval_points: Array2::zeros((0, d)),
        });
    }
    let (gain, bias, max_rates, intercepts) = match &ens.gain_bias {
        Some((g, b)) => {
            let (mr, ic) = nef::max_rates_intercepts(&ens.neuron_type, g, b);
            (g.clone(), b.clone(), mr, ic)
        }
        None => {
            let (g, b) = nef::gain_bias(&ens.neuron_type, &max_rates_s, &intercepts_s, &name)?;
            (g, b, max_rates_s, intercepts_s)
        }
    };
    let n_eval = ens
        .n_eval_points
        .unwrap_or_else(|| nef::default_n_eval_points(n, d));
    let eval_points = match ens.eval_points {
        EvalPoints::ScatteredHypersphere => nef::scattered_hypersphere(n_eval, d, false, &mut rng),
        EvalPoints::UniformHypersphere => nef::sample_ball(n_eval, d, &mut rng),
    } * ens.radius;
    Ok(BuiltEnsemble {
        encoders,
        gain,
        bias,
        max_rates,
        intercepts,
        eval_points,
    })
}

/// Solves decoders of `function` (identity when `None`) for a built ensemble.
fn solve_decoders(
    net: &Network,
    index: usize,
    built: &BuiltEnsemble,
    function: Option<&crate::model::ConnFn>,
    solver: &nef::Solver,
    object: &str,
) -> Result<Array2<f64>> {
    let ens = &net.ensembles[index];
    let activities = built.tuning_curves(&ens.neuron_type, ens.radius, &built.eval_points);
    let targets = match function {
        None => built.eval_points.clone(),
        Some(f) => {
            let rows: Vec<Vec<f64>> = built
                .eval_points
                .rows()
                .into_iter()
                .map(|r| f(&r.to_vec()))
                .collect();
            // The output length `Network::connect` found at x = 0 and checked the transform
            // against; every evaluation point must give the same, or the weights would not fit
            // the target (and a batched matvec would write into the next instance).
            let k = f(&vec![0.0; ens.dimensions]).len();
            let mut t = Array2::zeros((rows.len(), k));
            for (i, r) in rows.iter().enumerate() {
                if r.len() != k {
                    return Err(Error::invalid(
                        object,
                        "function",
                        format!("an output of length {} at an evaluation point", r.len()),
                        format!("the same output length at every point as at x = 0 ({k})"),
                    ));
                }
                if let Some(v) = r.iter().find(|v| !v.is_finite()) {
                    return Err(Error::invalid(
                        object,
                        "function",
                        v,
                        "finite outputs at every evaluation point",
                    ));
                }
                t.row_mut(i).assign(&ndarray::ArrayView1::from(&r[..]));
            }
            t
        }
    };
    solver.solve(activities.view(), targets.view(), &object)
}

struct Builder {
    buffers: Vec<Buffer>,
}

impl Builder {
    fn add(&mut self, name: String, len: usize, kind: BufferKind, init: Vec<f32>) -> BufId {
        debug_assert_eq!(init.len(), len);
        self.buffers.push(Buffer {
            name,
            len,
            kind,
            init,
        });
        BufId(self.buffers.len() - 1)
    }
    fn zeros(&mut self, name: String, len: usize, kind: BufferKind) -> BufId {
        self.add(name, len, kind, vec![0.0; len])
    }
    fn param(&mut self, name: String, values: Vec<f32>) -> BufId {
        let len = values.len();
        self.add(name, len, BufferKind::Param, values)
    }
}

/// Adds the ops that filter `x` with `synapse` into a new state buffer, returning the output.
fn lower_synapse(
    b: &mut Builder,
    ops: &mut Vec<Op>,
    name: &str,
    len: usize,
    synapse: &Synapse,
    dt: f64,
    x: BufId,
) -> BufId {
    let a = (-dt / synapse.tau()).exp();
    match synapse {
        Synapse::Lowpass(_) => {
            let y = b.zeros(format!("{name}.filtered"), len, BufferKind::State);
            ops.push(Op::Lowpass { a: a as f32, x, y });
            y
        }
        Synapse::Alpha(tau) => {
            let z = b.zeros(format!("{name}.alpha_stage"), len, BufferKind::State);
            let y = b.zeros(format!("{name}.filtered"), len, BufferKind::State);
            let c1 = a * dt / tau;
            ops.push(Op::Alpha {
                a: a as f32,
                c1: c1 as f32,
                c2: (1.0 - a - c1) as f32,
                x,
                z,
                y,
            });
            y
        }
    }
}

/// The value (f32, as the neuron kernels compute it) a spike of `neuron` has in its output at
/// timestep `dt`: `amplitude / dt`; `None` for rate neurons.
fn spike_value(neuron: &NeuronType, dt: f64) -> Option<f32> {
    let dt = dt as f32;
    match neuron {
        NeuronType::Lif(p) | NeuronType::AdaptiveLif { lif: p, .. } => {
            Some(p.amplitude as f32 / dt)
        }
        NeuronType::SpikingRectifiedLinear { amplitude } => Some(*amplitude as f32 / dt),
        NeuronType::Izhikevich { .. } | NeuronType::DiehlCook(_) => Some(1.0 / dt),
        NeuronType::LifRate(_) | NeuronType::RectifiedLinear { .. } => None,
    }
}

/// A factor `s` with `u * s == 1` exactly in f32 (the nearest to `1 / u` that has it; `1 / u`
/// itself in the rare case none of its neighbours does): a spike of value `u` then counts 1.
pub(crate) fn exact_reciprocal(u: f32) -> f32 {
    let r = 1.0 / u;
    [
        r,
        r.next_up(),
        r.next_down(),
        r.next_up().next_up(),
        r.next_down().next_down(),
    ]
    .into_iter()
    .find(|s| u * s == 1.0)
    .unwrap_or(r)
}

fn to_f32(v: impl IntoIterator<Item = f64>) -> Vec<f32> {
    v.into_iter().map(|x| x as f32).collect()
}

/// Converts a parameter to f32, failing if a value (finite in f64, as the model checked) is
/// out of f32 range: it would become infinite on the backend and turn the state into NaN.
fn param_f32(object: &str, param: &str, v: impl IntoIterator<Item = f64>) -> Result<Vec<f32>> {
    v.into_iter()
        .map(|x| {
            let y = x as f32;
            if y.is_finite() {
                Ok(y)
            } else {
                Err(Error::invalid(
                    object,
                    param,
                    format!("{x:e}"),
                    format!(
                        "values within f32 range (|x| <= {:e}) after folding into the weights",
                        f32::MAX
                    ),
                ))
            }
        })
        .collect()
}

/// Compiles `net` for timestep `dt` and `batch` independent instances, with learning on.
pub fn compile(net: &Network, dt: f64, batch: usize) -> Result<(Plan, Built)> {
    compile_with(net, dt, batch, true)
}

/// Compiles `net`; with `learning` false, plastic connections get fixed shared weights and no
/// learning ops, and adaptive thresholds are frozen (Diehl & Cook's test mode).
pub fn compile_with(net: &Network, dt: f64, batch: usize, learning: bool) -> Result<(Plan, Built)> {
    check_positive(&"Simulator", "dt", dt)?;
    if batch == 0 {
        return Err(Error::invalid("Simulator", "batch", 0, "an integer >= 1"));
    }
    for (i, e) in net.ensembles.iter().enumerate() {
        e.neuron_type.validate_dt(&net.ensemble_name(i), dt)?;
    }
    // Synapses of connections, of their learning rules and of probes: a time constant of at
    // least dt/100.
    let mut synapses = Vec::new();
    for (i, c) in net.connections.iter().enumerate() {
        synapses.push((format!("Connection {i}"), "synapse", c.synapse));
        for r in &c.learning {
            for (param, s) in r.synapses() {
                synapses.push((format!("Connection {i}"), param, s));
            }
        }
    }
    for (i, p) in net.probes.iter().enumerate() {
        synapses.push((format!("Probe {i}"), "synapse", p.synapse));
    }
    for (object, param, synapse) in synapses {
        if let Some(s) = synapse
            && s.tau() != 0.0
            && s.tau() < dt / 100.0
        {
            return Err(Error::invalid(
                object,
                format!("{param} tau"),
                s.tau(),
                format!(
                    "a time constant >= dt/100 = {} s, 0 (a one-step delay) or no synapse",
                    dt / 100.0
                ),
            ));
        }
    }

    let built_ens: Vec<BuiltEnsemble> = (0..net.ensembles.len())
        .map(|i| build_ensemble(net, i))
        .collect::<Result<_>>()?;

    let mut b = Builder {
        buffers: Vec::new(),
    };
    let mut step: Vec<Op> = Vec::new();
    let mut boundary: Vec<Op> = Vec::new();
    let needs_learn = net
        .ensembles
        .iter()
        .any(|e| e.neuron_type.is_conductance_based())
        || net.connections.iter().any(|c| !c.learning.is_empty());
    let learn_buf = needs_learn.then(|| {
        b.param(
            "learning".to_string(),
            vec![if learning { 1.0 } else { 0.0 }],
        )
    });

    // ---- nodes
    let mut host_inputs = Vec::new();
    let mut node_out = Vec::new();
    // The input sum of each node with an input function (`Node::with_input`).
    let mut node_in = Vec::new();
    for (i, node) in net.nodes.iter().enumerate() {
        let size = node.size_out();
        let dst = b.zeros(format!("node{i}.out"), size, BufferKind::Temp);
        node_out.push(dst);
        node_in.push(match node.output {
            NodeOutput::WithInput { size_in, .. } => {
                Some(b.zeros(format!("node{i}.in"), size_in, BufferKind::Temp))
            }
            _ => None,
        });
        match &node.output {
            NodeOutput::Poisson(rates) => {
                // Per instance, so that each instance can be shown its own input.
                let rates = b.add(
                    format!("node{i}.rates"),
                    rates.len(),
                    BufferKind::State,
                    to_f32(rates.iter().copied()),
                );
                step.push(Op::PoissonSpikes {
                    rates,
                    out: dst,
                    stream: i as u32,
                });
            }
            NodeOutput::UniformNoise { low, high, .. } => step.push(Op::UniformNoise {
                low: *low as f32,
                high: *high as f32,
                out: dst,
                stream: i as u32,
            }),
            // Summed from its inputs (and, with an input function, evaluated by the host) in
            // its place in the step order (below).
            NodeOutput::Passthrough { .. } | NodeOutput::WithInput { .. } => {}
            _ => {
                host_inputs.push(HostInputSlot {
                    node: i,
                    size,
                    function: None,
                });
                step.push(Op::HostInput {
                    slot: host_inputs.len() - 1,
                    dst,
                });
            }
        }
    }

    // ---- per-ensemble buffers
    struct EnsBufs {
        j: BufId,
        out: BufId,
        state: Vec<BufId>,
        x_in: Option<BufId>,
    }
    let mut ens_bufs = Vec::new();
    for (i, ens) in net.ensembles.iter().enumerate() {
        // One stream per ensemble: an ensemble's initial state does not depend on the others.
        let mut init_rng = object_rng(net.seed, RNG_INIT, i);
        let n = ens.n_neurons;
        let j = b.zeros(format!("ens{i}.J"), n, BufferKind::Temp);
        let out = b.zeros(format!("ens{i}.out"), n, BufferKind::Temp);
        let mut state = Vec::new();
        for s in ens.neuron_type.state_names() {
            let init: Vec<f32> = match (*s, &ens.neuron_type) {
                // Nengo >= 3.1: LIF-family, spiking ReLU and Izhikevich voltages start
                // Uniform(0, 1) (Izhikevich's in mV, with recovery 0).
                ("voltage", NeuronType::DiehlCook(p)) => vec![p.v_rest as f32; n],
                ("theta", NeuronType::DiehlCook(p)) => vec![p.theta_offset as f32; n],
                ("voltage", _) => to_f32((0..n).map(|_| rand::Rng::random::<f64>(&mut init_rng))),
                _ => vec![0.0; n],
            };
            state.push(b.add(format!("ens{i}.{s}"), n, BufferKind::State, init));
        }
        ens_bufs.push(EnsBufs {
            j,
            out,
            state,
            x_in: None,
        });
    }

    // ---- connections: weights and (for synapse-filtered ones) filter buffers
    struct ConnLowered {
        /// Ops transmitting this step's source: into `weighted` (Zero + Inc), or with delays into
        /// the ring buffer.
        write: Vec<Op>,
        /// With delays, the ops delivering what arrives this step into `weighted`.
        read: Vec<Op>,
        /// Without synapse and with every delay >= 1 step: `write` runs in the synapse phase,
        /// `read` before the target (not a zero-delay edge).
        split: bool,
        weighted: BufId,
        /// Where the target reads from: the filter output, or `weighted` when there is no synapse.
        output: BufId,
        synapse: Option<Synapse>,
        len: usize,
        /// Drives a conductance port: delivered in the next step, like a synapse.
        conductance: bool,
        /// Learning ops (weight update, then traces), run after transmission.
        learn: Vec<Op>,
        /// The source buffer (pre activities for learning rules).
        src: BufId,
        /// Per-instance weights (buffer, rows, cols) when they are plastic.
        matrix: Option<(BufId, usize, usize)>,
    }
    let mut decoders_out: Vec<Option<Array2<f64>>> = vec![None; net.connections.len()];
    let mut conns: Vec<ConnLowered> = Vec::new();
    // Per node with an input function: its outgoing connections' functions (connection, buffer).
    let mut node_functions: Vec<Vec<(usize, BufId)>> = vec![Vec::new(); net.nodes.len()];
    let mut decoder_cache: HashMap<(usize, String), Array2<f64>> = HashMap::new();
    for (ci, conn) in net.connections.iter().enumerate() {
        let object = format!(
            "Connection {ci} ({} -> {})",
            net.endpoint_name(&conn.pre),
            net.endpoint_name(&conn.post)
        );
        let (src, src_len, decoders) = match conn.pre {
            Endpoint::LearningRule(_) => {
                return Err(Error::build(&object, "a learning rule is not a source"));
            }
            Endpoint::Node(id) => match &conn.function {
                None => (node_out[id.index], net.source_size(&conn.pre), None),
                Some(f) => {
                    // The function of the node's output, evaluated on the host every step (the
                    // model allows it only from a node whose output is computed there).
                    let size = f(&vec![0.0; net.nodes[id.index].size_out()]).len();
                    let dst = b.zeros(format!("conn{ci}.function_of_node"), size, BufferKind::Temp);
                    if node_in[id.index].is_some() {
                        // Of a node with an input function: right after the node's own
                        // function, in its host call (see `Op::HostCall`).
                        node_functions[id.index].push((ci, dst));
                    } else {
                        host_inputs.push(HostInputSlot {
                            node: id.index,
                            size,
                            function: Some(ci),
                        });
                        // Among the node ops at the start of the step (no ensemble op is in
                        // `step` yet).
                        step.push(Op::HostInput {
                            slot: host_inputs.len() - 1,
                            dst,
                        });
                    }
                    (dst, size, None)
                }
            },
            Endpoint::Neurons(id) => (
                ens_bufs[id.index].out,
                net.ensembles[id.index].n_neurons,
                None,
            ),
            Endpoint::Ensemble(id) => {
                let dec = if conn.function.is_none() {
                    let key = (id.index, format!("{:?}", conn.solver));
                    match decoder_cache.get(&key) {
                        Some(d) => d.clone(),
                        None => {
                            let d = solve_decoders(
                                net,
                                id.index,
                                &built_ens[id.index],
                                None,
                                &conn.solver,
                                &object,
                            )?;
                            decoder_cache.insert(key, d.clone());
                            d
                        }
                    }
                } else {
                    solve_decoders(
                        net,
                        id.index,
                        &built_ens[id.index],
                        conn.function.as_ref(),
                        &conn.solver,
                        &object,
                    )?
                };
                decoders_out[ci] = Some(dec.clone());
                (
                    ens_bufs[id.index].out,
                    net.ensembles[id.index].n_neurons,
                    Some(dec),
                )
            }
        };
        let post_len = net.target_size(&conn.post);
        let conductance = conn.port != Port::Current;
        // The target ensemble (none for a connection into a learning rule).
        let post_index = post_ensemble(conn);
        // Conductance ports: spikes of 1/dt become counts (scale dt).
        let unit = if conductance { dt } else { 1.0 };
        // Delays in whole steps; `None` when every delay is 0 (exactly the undelayed ops).
        let delays = resolve_delays(net, ci, conn, &object, dt)?;
        // Where the connection's input ends up: the target's conductance input (a state the
        // neuron consumes and clears), or a temporary the target or filter reads.
        let (out, zero_out) = if let (true, Some(post_index)) = (conductance, post_index) {
            let names = net.ensembles[post_index].neuron_type.state_names();
            let port = if conn.port == Port::Excitatory {
                "ge_in"
            } else {
                "gi_in"
            };
            let k = names.iter().position(|s| *s == port).ok_or_else(|| {
                Error::build(&object, "the target neuron type has no conductance inputs")
            })?;
            (ens_bufs[post_index].state[k], None)
        } else {
            let w = b.zeros(format!("conn{ci}.weighted"), post_len, BufferKind::Temp);
            (w, Some(Op::Zero { dst: w }))
        };
        // `write`: ops that transmit this step's source; `read`: ops that deliver what arrives
        // now into `out` (empty without delay, where `write` delivers directly).
        let mut write: Vec<Op> = Vec::new();
        let mut read: Vec<Op> = Vec::new();
        // The STDP rule of this connection, when it learns.
        let stdp = match (learning, conn.learning.first(), learn_buf, post_index) {
            (true, Some(LearningRule::Stdp(rule)), Some(learn), Some(post_index)) => {
                Some((*rule, learn, ens_bufs[post_index].out))
            }
            _ => None,
        };
        // A delayed connection that learns by STDP transmits and learns at arrival (Brian's
        // delayed `on_pre`): a ring of the pre side's last steps (spikes, pre traces) replaces
        // the ring of future input, and `arrival` holds (delays, ring, slots).
        let dense_or_sparse = decoders.is_some()
            || matches!(conn.transform, Transform::Dense(_) | Transform::Sparse(_));
        let arrival = match (&stdp, dense_or_sparse) {
            (Some(_), true) => {
                let n = match (&decoders, &conn.transform) {
                    (None, Transform::Sparse(sp)) => sp.nnz(),
                    _ => post_len * src_len,
                };
                arrival_history(&mut b, ci, &delays, n, src_len)
            }
            _ => None,
        };
        // Where the transmission op writes (`None`: into the per-synapse ring, or at arrival).
        let y = match &delays {
            _ if arrival.is_some() => None,
            None => {
                write.extend(zero_out.clone());
                Some(out)
            }
            Some(DelaySteps::Fixed(_)) => {
                let stage = b.zeros(format!("conn{ci}.undelayed"), post_len, BufferKind::Temp);
                write.push(Op::Zero { dst: stage });
                Some(stage)
            }
            Some(DelaySteps::PerSynapse(_)) => None,
        };
        let ring = delays.as_ref().filter(|_| arrival.is_none()).map(|d| {
            let slots = d.max() as usize + 1;
            let ring = b.zeros(
                format!("conn{ci}.delay_ring"),
                slots * post_len,
                BufferKind::State,
            );
            (ring, slots)
        });
        let per_synapse_delays = match &delays {
            _ if arrival.is_some() => None,
            Some(DelaySteps::PerSynapse(v)) => Some(b.add(
                format!("conn{ci}.delays"),
                v.len(),
                BufferKind::Index,
                v.iter().map(|&d| index_to_f32(d)).collect(),
            )),
            _ => None,
        };
        // Plastic weights are per-instance state (each instance learns on its own).
        let plastic = learning && (!conn.learning.is_empty() || conn.normalize.is_some());
        let mut learn_ops = Vec::new();
        let mut matrix = None;
        match (&decoders, &conn.transform) {
            (None, Transform::AllButSelf(w)) => {
                let s = vec![w * unit; post_len];
                let s = b.param(
                    format!("conn{ci}.scale"),
                    param_f32(&object, "transform", s)?,
                );
                write.push(Op::AllButSelfInc {
                    s,
                    x: src,
                    y: y.ok_or_else(|| per_synapse_unsupported(&object))?,
                });
            }
            (None, Transform::Scalar(_) | Transform::Diagonal(_)) => {
                let s: Vec<f64> = match &conn.transform {
                    Transform::Scalar(s) => vec![*s; post_len],
                    Transform::Diagonal(v) => v.clone(),
                    _ => unreachable!("matched above"),
                };
                let s: Vec<f64> = s.iter().map(|s| s * unit).collect();
                let s = b.param(
                    format!("conn{ci}.scale"),
                    param_f32(&object, "transform", s)?,
                );
                write.push(Op::ScaleInc {
                    s,
                    x: src,
                    y: y.ok_or_else(|| per_synapse_unsupported(&object))?,
                });
            }
            (None, Transform::Sparse(sp)) => {
                // CSR weights, rows = post.
                let (rows, cols, nnz) = (sp.rows, sp.cols, sp.nnz());
                let values = param_f32(&object, "transform", sp.data.iter().copied())?;
                let indptr = b.add(
                    format!("conn{ci}.indptr"),
                    rows + 1,
                    BufferKind::Index,
                    sp.indptr.iter().map(|&k| index_to_f32(k as u32)).collect(),
                );
                let indices = b.add(
                    format!("conn{ci}.indices"),
                    nnz,
                    BufferKind::Index,
                    sp.indices.iter().map(|&k| index_to_f32(k as u32)).collect(),
                );
                let w = if plastic {
                    b.add(
                        crate::model::weights_buffer_name(ci),
                        nnz,
                        BufferKind::State,
                        values,
                    )
                } else {
                    b.param(crate::model::weights_buffer_name(ci), values)
                };
                match (y, ring, per_synapse_delays) {
                    _ if let Some((delays, hist, slots)) = arrival => {
                        read.extend(zero_out.clone());
                        read.push(Op::ArrivalSparseInc {
                            indptr,
                            indices,
                            w,
                            delays,
                            rows,
                            cols,
                            hist,
                            slots,
                            y: out,
                            scale: unit as f32,
                        });
                    }
                    (Some(y), _, _) => write.push(Op::SparseInc {
                        indptr,
                        indices,
                        w,
                        rows,
                        cols,
                        x: src,
                        y,
                        scale: unit as f32,
                    }),
                    (None, Some((ring, slots)), Some(delays)) => write.push(Op::DelayedSparseInc {
                        indptr,
                        indices,
                        w,
                        delays,
                        rows,
                        cols,
                        x: src,
                        ring,
                        slots,
                    }),
                    _ => return Err(Error::build(&object, "per-synapse delays without a ring")),
                }
                if let (true, Some(target)) = (plastic, conn.normalize) {
                    boundary.push(Op::NormalizeRowsSparse {
                        indptr,
                        w,
                        rows,
                        target: target as f32,
                    });
                }
                if let Some((rule, learn, post_out)) = stdp {
                    let (consts, traces, trace_ops) =
                        lower_stdp(&mut b, ci, &rule, dt, src, post_out, rows, cols);
                    match arrival {
                        None => learn_ops.push(Op::StdpSparse {
                            rule: consts,
                            indptr,
                            indices,
                            w,
                            rows,
                            cols,
                            pre: src,
                            post: post_out,
                            traces,
                            learn,
                        }),
                        Some((delays, hist, slots)) => {
                            write.push(pre_history(src, traces, hist, cols, slots));
                            learn_ops.push(Op::StdpSparseDelayed {
                                rule: consts,
                                indptr,
                                indices,
                                w,
                                delays,
                                rows,
                                cols,
                                hist,
                                slots,
                                post: post_out,
                                post_traces: [traces[2], traces[3]],
                                learn,
                            });
                        }
                    }
                    learn_ops.extend(trace_ops);
                }
            }
            _ => {
                // Dense weights: transform (post_len x mid) . decoders^T (mid x src_len).
                let mid = decoders.as_ref().map_or(src_len, |d| d.ncols());
                let t: Array2<f64> = match &conn.transform {
                    Transform::Scalar(s) => Array2::eye(mid) * *s,
                    Transform::Diagonal(v) => Array2::from_diag(&ndarray::Array1::from(v.clone())),
                    Transform::Dense(m) => m.clone(),
                    Transform::AllButSelf(w) => {
                        Array2::from_shape_fn((mid, mid), |(i, j)| if i == j { 0.0 } else { *w })
                    }
                    // On a decoded connection a sparse transform is the matrix it stands for.
                    Transform::Sparse(s) => s.to_dense(),
                };
                let w = match &decoders {
                    Some(d) => t.dot(&d.t()),
                    None => t,
                };
                let (rows, cols) = w.dim();
                let w = param_f32(&object, "transform", w.iter().copied())?;
                let m = if plastic {
                    b.add(
                        crate::model::weights_buffer_name(ci),
                        rows * cols,
                        BufferKind::State,
                        w,
                    )
                } else {
                    b.param(crate::model::weights_buffer_name(ci), w)
                };
                match (y, ring, per_synapse_delays) {
                    _ if let Some((delays, hist, slots)) = arrival => {
                        read.extend(zero_out.clone());
                        read.push(Op::ArrivalMatVecInc {
                            m,
                            delays,
                            rows,
                            cols,
                            hist,
                            slots,
                            y: out,
                            scale: unit as f32,
                        });
                    }
                    (Some(y), _, _) => write.push(Op::MatVecInc {
                        m,
                        rows,
                        cols,
                        x: src,
                        y,
                        scale: unit as f32,
                    }),
                    (None, Some((ring, slots)), Some(delays)) => write.push(Op::DelayedMatVecInc {
                        m,
                        delays,
                        rows,
                        cols,
                        x: src,
                        ring,
                        slots,
                    }),
                    _ => return Err(Error::build(&object, "per-synapse delays without a ring")),
                }
                if let (true, Some(target)) = (plastic, conn.normalize) {
                    boundary.push(Op::NormalizeRows {
                        w: m,
                        rows,
                        cols,
                        target: target as f32,
                    });
                }
                if plastic {
                    matrix = Some((m, rows, cols));
                }
                if let Some((rule, learn, post_out)) = stdp {
                    let (consts, traces, trace_ops) =
                        lower_stdp(&mut b, ci, &rule, dt, src, post_out, rows, cols);
                    match arrival {
                        None => learn_ops.push(Op::Stdp {
                            rule: consts,
                            w: m,
                            rows,
                            cols,
                            pre: src,
                            post: post_out,
                            traces,
                            learn,
                        }),
                        Some((delays, hist, slots)) => {
                            write.push(pre_history(src, traces, hist, cols, slots));
                            learn_ops.push(Op::StdpDelayed {
                                rule: consts,
                                w: m,
                                delays,
                                rows,
                                cols,
                                hist,
                                slots,
                                post: post_out,
                                post_traces: [traces[2], traces[3]],
                                learn,
                            });
                        }
                    }
                    learn_ops.extend(trace_ops);
                }
            }
        }
        // Delayed input: what was written into the ring for this step arrives now.
        match (&delays, ring, y) {
            _ if arrival.is_some() => {}
            (None, _, _) => {}
            (Some(DelaySteps::Fixed(d)), Some((ring, slots)), Some(stage)) => {
                write.push(Op::DelayWrite {
                    x: stage,
                    ring,
                    slots,
                    delay: *d as usize,
                });
                read.extend(zero_out);
                read.push(Op::DelayRead {
                    ring,
                    slots,
                    y: out,
                    scale: 1.0,
                });
            }
            (Some(DelaySteps::PerSynapse(_)), Some((ring, slots)), None) => {
                read.extend(zero_out);
                read.push(Op::DelayRead {
                    ring,
                    slots,
                    y: out,
                    scale: unit as f32,
                });
            }
            _ => return Err(Error::build(&object, "inconsistent delay lowering")),
        }
        // A connection without synapse whose every synapse is delayed by a step or more
        // transmits in the synapse phase and delivers before its target in a later step: no
        // zero-delay edge.
        let split = !conductance
            && conn.synapse.is_none()
            && post_unit(net, conn).is_some()
            && delays.as_ref().is_some_and(|d| d.min() >= 1);
        conns.push(ConnLowered {
            write,
            read,
            split,
            weighted: out,
            output: out,
            synapse: conn.synapse,
            len: post_len,
            conductance,
            learn: learn_ops,
            src,
            matrix,
        });
    }
    // Filter output buffers (allocated now so every buffer exists before ops are ordered).
    let mut filter_ops: Vec<Vec<Op>> = Vec::new();
    for (ci, c) in conns.iter_mut().enumerate() {
        let mut ops = Vec::new();
        if let Some(s) = c.synapse {
            c.output = lower_synapse(
                &mut b,
                &mut ops,
                &format!("conn{ci}"),
                c.len,
                &s,
                dt,
                c.weighted,
            );
        }
        filter_ops.push(ops);
    }
    let (rule_ops, apply_ops) = lower_delta_rules(
        net,
        &mut b,
        &built_ens,
        &ens_bufs.iter().map(|e| e.out).collect::<Vec<_>>(),
        &conns
            .iter()
            .map(|c| LoweredForRules {
                src: c.src,
                matrix: c.matrix,
                weigh: c.write.iter().chain(&c.read).cloned().collect(),
                output: c.output,
                filtered: c.synapse.is_some(),
            })
            .collect::<Vec<_>>(),
        dt,
        if learning { learn_buf } else { None },
    )?;
    for (i, ens) in net.ensembles.iter().enumerate() {
        if net
            .connections
            .iter()
            .any(|c| matches!(c.post, Endpoint::Ensemble(id) if id.index == i))
        {
            ens_bufs[i].x_in =
                Some(b.zeros(format!("ens{i}.x_in"), ens.dimensions, BufferKind::Temp));
        }
    }
    let mut ens_params = Vec::new();
    for (i, ens) in net.ensembles.iter().enumerate() {
        let be = &built_ens[i];
        let name = net.ensemble_name(i);
        let bias = param_f32(&name, "bias", be.bias.iter().copied())?;
        let bias = b.param(format!("ens{i}.bias"), bias);
        let enc = match ens_bufs[i].x_in {
            None => None,
            Some(_) => {
                let mut scaled = be.encoders.clone() / ens.radius;
                for (mut row, g) in scaled.rows_mut().into_iter().zip(&be.gain) {
                    row *= *g;
                }
                let scaled = param_f32(&name, "gain", scaled.iter().copied())?;
                Some(b.param(format!("ens{i}.scaled_encoders"), scaled))
            }
        };
        ens_params.push((bias, enc));
    }

    // ---- order ensembles and passthrough nodes so that zero-delay (synapse None) sources
    // come first
    let order = unit_order(net, &conns.iter().map(|c| c.split).collect::<Vec<_>>())?;
    let n_ens = net.ensembles.len();
    for &unit in &order {
        // The connections into this ensemble or passthrough node; those without synapse
        // transmit now, just before it (their `write` ran in the synapse phase when split).
        let incoming: Vec<usize> = net
            .connections
            .iter()
            .enumerate()
            .filter(|(_, c)| post_unit(net, c) == Some(unit))
            .map(|(ci, _)| ci)
            .collect();
        for &ci in &incoming {
            let c = &conns[ci];
            if c.synapse.is_none() && !c.conductance {
                if !c.split {
                    step.extend(c.write.iter().cloned());
                }
                step.extend(c.read.iter().cloned());
            }
        }
        if unit >= n_ens {
            // A node that takes input: the sum of what its connections deliver now, which is
            // its output (passthrough) or its function's input, evaluated here by the host
            // (other nodes take no input and were written at the start of the step).
            let node = unit - n_ens;
            if !net.nodes[node].takes_input() {
                continue;
            }
            let sum = node_in[node].unwrap_or(node_out[node]);
            step.push(Op::Zero { dst: sum });
            for &ci in &incoming {
                step.push(Op::AddInc {
                    x: conns[ci].output,
                    y: sum,
                });
            }
            if let Some(input) = node_in[node] {
                step.push(Op::HostCall {
                    node,
                    input,
                    output: node_out[node],
                    functions: std::mem::take(&mut node_functions[node]),
                });
            }
            continue;
        }
        let i = unit;
        let ens = &net.ensembles[i];
        let eb = &ens_bufs[i];
        let (bias, enc) = ens_params[i];
        if let Some(x_in) = eb.x_in {
            step.push(Op::Zero { dst: x_in });
            for &ci in &incoming {
                if let Endpoint::Ensemble(_) = net.connections[ci].post {
                    step.push(Op::AddInc {
                        x: conns[ci].output,
                        y: x_in,
                    });
                }
            }
        }
        if !ens.neuron_type.is_conductance_based() {
            step.push(Op::Broadcast {
                src: bias,
                dst: eb.j,
            });
        }
        if let (Some(x_in), Some(enc)) = (eb.x_in, enc) {
            step.push(Op::MatVecInc {
                m: enc,
                rows: ens.n_neurons,
                cols: ens.dimensions,
                x: x_in,
                y: eb.j,
                scale: 1.0,
            });
        }
        // Input to the neurons directly gets the gain here, per connection, as Nengo's
        // `ElementwiseInc(gains, ...)` does: the weights stay the user's (and the learning
        // rules' own), unscaled.
        let mut gain = None;
        for &ci in &incoming {
            if let (Endpoint::Neurons(_), false) = (net.connections[ci].post, conns[ci].conductance)
            {
                let s = match gain {
                    Some(s) => s,
                    None => {
                        let g = param_f32(
                            &net.ensemble_name(i),
                            "gain",
                            built_ens[i].gain.iter().copied(),
                        )?;
                        *gain.insert(b.param(format!("ens{i}.gain"), g))
                    }
                };
                step.push(Op::ScaleInc {
                    s,
                    x: conns[ci].output,
                    y: eb.j,
                });
            }
        }
        step.push(Op::Neurons {
            neuron: ens.neuron_type,
            n: ens.n_neurons,
            j: eb.j,
            out: eb.out,
            state: eb.state.clone(),
            learn: if ens.neuron_type.is_conductance_based() {
                learn_buf
            } else {
                None
            },
        });
    }
    // ---- delta learning rules (PES, BCM, Oja): see `lower_delta_rules`
    step.extend(rule_ops);
    // ---- synapse updates (read by targets in the next step)
    // Transmission uses this step's weights; learning then updates them (pre events before
    // post events, as in Brian's default order).
    // A delayed connection's transmission writes into its ring buffer here and reads what
    // arrives now right after (so a delay of 0 arrives in this step, like no delay); one without
    // synapse whose delays are all >= 1 step only writes here (its target reads before it runs).
    for (ci, c) in conns.iter().enumerate() {
        if c.synapse.is_some() || c.conductance {
            step.extend(c.write.iter().cloned());
            step.extend(c.read.iter().cloned());
            step.extend(filter_ops[ci].iter().cloned());
        } else if c.split {
            step.extend(c.write.iter().cloned());
        }
        step.extend(c.learn.iter().cloned());
    }
    // ---- every rule's delta of the previous step is added to its weights first (Nengo's
    // `weights += delta` copy runs before anything reads the weights)
    step.splice(0..0, apply_ops);

    // ---- probes
    let mut probes = Vec::new();
    for (pi, p) in net.probes.iter().enumerate() {
        let object = format!("Probe {pi}");
        // Nengo's period (`Simulator._probe`): any positive `sample_every` (checked by
        // `Network::probe`), whole multiple of dt or not (kept positive where s / dt would
        // underflow to 0, which would never record).
        let sampling = Sampling {
            period: p
                .sample_every
                .map_or(1.0, |s| (s / dt).max(f64::MIN_POSITIVE)),
        };
        let (mut src, len) = match p.target {
            ProbeTarget::Decoded(Endpoint::LearningRule(_)) => {
                return Err(Error::build(&object, "a learning rule cannot be probed"));
            }
            ProbeTarget::Decoded(Endpoint::Node(id)) => {
                (node_out[id.index], net.nodes[id.index].size_out())
            }
            ProbeTarget::Decoded(Endpoint::Ensemble(id))
            | ProbeTarget::Decoded(Endpoint::Neurons(id)) => {
                let i = id.index;
                // Errors name the ensemble too: its activities decide the solve, its radius
                // the decoders' scale.
                let object = format!("{object} (decoding {})", net.ensemble_name(i));
                let solver = nef::Solver::default();
                let key = (i, format!("{solver:?}"));
                let dec = match decoder_cache.get(&key) {
                    Some(d) => d.clone(),
                    None => {
                        let d = solve_decoders(net, i, &built_ens[i], None, &solver, &object)?;
                        decoder_cache.insert(key, d.clone());
                        d
                    }
                };
                let d = net.ensembles[i].dimensions;
                let buf = b.zeros(format!("probe{pi}.decoded"), d, BufferKind::Temp);
                let m = b.param(
                    format!("probe{pi}.decoders"),
                    param_f32(&object, "decoders", dec.t().iter().copied())?,
                );
                step.push(Op::Zero { dst: buf });
                step.push(Op::MatVecInc {
                    m,
                    rows: d,
                    cols: net.ensembles[i].n_neurons,
                    x: ens_bufs[i].out,
                    y: buf,
                    scale: 1.0,
                });
                (buf, d)
            }
            ProbeTarget::Spikes(id) => (ens_bufs[id.index].out, net.ensembles[id.index].n_neurons),
            ProbeTarget::SpikeCount(e) => {
                // Accumulated every step (1 per spike, or value x dt), read and zeroed by the
                // host.
                let (x, n, unit) = match e {
                    Endpoint::Ensemble(id) | Endpoint::Neurons(id) => (
                        ens_bufs[id.index].out,
                        net.ensembles[id.index].n_neurons,
                        spike_value(&net.ensembles[id.index].neuron_type, dt),
                    ),
                    Endpoint::Node(id) => (
                        node_out[id.index],
                        net.nodes[id.index].size_out(),
                        matches!(net.nodes[id.index].output, NodeOutput::Poisson(_))
                            .then(|| 1.0 / dt as f32),
                    ),
                    Endpoint::LearningRule(_) => {
                        return Err(Error::build(&object, "a learning rule has no spikes"));
                    }
                };
                // Each spike adds exactly 1 (counts stay exact to 2^24 per neuron between
                // reads); any other output adds value x dt.
                let scale = unit
                    .map(exact_reciprocal)
                    .filter(|s| s.is_finite())
                    .unwrap_or(dt as f32);
                let scale = b.param(format!("probe{pi}.count_scale"), vec![scale; n]);
                let count = b.zeros(format!("probe{pi}.count"), n, BufferKind::State);
                step.push(Op::ScaleInc {
                    s: scale,
                    x,
                    y: count,
                });
                probes.push(ProbeSlot {
                    probe: pi,
                    src: count,
                    len: n,
                    sampling: Sampling::NEVER,
                });
                continue;
            }
            ProbeTarget::InputCurrent(id) => {
                (ens_bufs[id.index].j, net.ensembles[id.index].n_neurons)
            }
            ProbeTarget::Weights(id) => {
                let name = crate::model::weights_buffer_name(id.index);
                let w = (b.buffers.iter().position(|x| x.name == name))
                    .map(BufId)
                    .ok_or_else(|| {
                        Error::build(
                            &object,
                            format!("{} has no weights", net.connection_name(id.index)),
                        )
                    })?;
                let len = b.buffers[w.0].len;
                if b.buffers[w.0].batched() {
                    (w, len)
                } else {
                    // One copy shared by the instances: each instance's sample holds it.
                    let t = b.zeros(format!("probe{pi}.weights"), len, BufferKind::Temp);
                    step.push(Op::Broadcast { src: w, dst: t });
                    (t, len)
                }
            }
            ProbeTarget::State(id, var) => {
                let k = net.ensembles[id.index]
                    .neuron_type
                    .state_names()
                    .iter()
                    .position(|s| *s == var)
                    .ok_or_else(|| {
                        Error::build(&object, format!("the neuron type has no state {var:?}"))
                    })?;
                (
                    ens_bufs[id.index].state[k],
                    net.ensembles[id.index].n_neurons,
                )
            }
        };
        // A probe's filter delays by one step, as a connection's does and as Nengo's probes do:
        // the sample of step k is the filter's state before this step's input (it runs after
        // the probe), y[k] = a y[k-1] + (1 - a) x[k-1] for a lowpass.
        let mut filter = Vec::new();
        if let Some(s) = &p.synapse {
            src = lower_synapse(&mut b, &mut filter, &format!("probe{pi}"), len, s, dt, src);
        }
        step.push(Op::Probe {
            probe: pi,
            src,
            sampling,
        });
        step.extend(filter);
        probes.push(ProbeSlot {
            probe: pi,
            src,
            len,
            sampling,
        });
    }

    let plan = Plan {
        dt,
        batch,
        seed: net.seed,
        keying: Default::default(),
        buffers: b.buffers,
        step,
        boundary,
        learn: learn_buf,
        host_inputs,
        probes,
    };
    Ok((
        plan,
        Built {
            ensembles: built_ens,
            decoders: decoders_out,
        },
    ))
}

/// What [`lower_delta_rules`] needs of a lowered connection.
struct LoweredForRules {
    /// Source buffer (pre activities).
    src: BufId,
    /// Plastic weights (buffer, rows, cols).
    matrix: Option<(BufId, usize, usize)>,
    /// Ops computing `weighted` (run by the rule when an error connection has no synapse).
    weigh: Vec<Op>,
    /// What a target reads: the filter state, or `weighted` without synapse.
    output: BufId,
    /// Has a synapse (its output is updated in the synapse phase, read one step later).
    filtered: bool,
}

/// Lowers PES, BCM and Oja as Nengo builds them. Returns the ops that compute each rule's delta
/// (run after the neurons, before the synapse updates) and the ops that add each delta to its
/// weights (run first in the next step, before anything reads the weights).
///
/// Nengo's order within a step, which this reproduces: `weights += delta` (last step's delta)
/// comes before every read of the weights; a rule's activity filters run in "set" mode (they
/// include this step's activity); the error is read from each error connection's synapse before
/// that synapse's update (as any connection target reads it), or computed in this step when the
/// error connection has no synapse; every delta is computed from the same weights, so several
/// rules on one connection do not depend on their order. The weights after `n` steps therefore
/// hold the deltas of steps 1..n-1, exactly like Nengo's `weights` signal.
fn lower_delta_rules(
    net: &Network,
    b: &mut Builder,
    built_ens: &[BuiltEnsemble],
    ens_out: &[BufId],
    conns: &[LoweredForRules],
    dt: f64,
    learn: Option<BufId>,
) -> Result<(Vec<Op>, Vec<Op>)> {
    let mut rule_ops = Vec::new();
    let mut apply_ops = Vec::new();
    let Some(learn) = learn else {
        return Ok((rule_ops, apply_ops));
    };
    for (ci, conn) in net.connections.iter().enumerate() {
        let (Some((w, rows, cols)), Some(post_i)) = (conns[ci].matrix, post_ensemble(conn)) else {
            continue;
        };
        let object = format!(
            "Connection {ci} ({} -> {})",
            net.endpoint_name(&conn.pre),
            net.endpoint_name(&conn.post)
        );
        let post_ens = &net.ensembles[post_i];
        let post_built = &built_ens[post_i];
        let mut applies: Vec<(u8, Op)> = Vec::new();
        let rank = |r: &LearningRule| match r {
            LearningRule::Stdp(_) => 0u8,
            LearningRule::Pes(_) => 1,
            LearningRule::Bcm(_) => 2,
            LearningRule::Oja(_) => 3,
        };
        for (ri, rule) in conn.learning.iter().enumerate() {
            let kind = rule.name().to_lowercase();
            let same_kind = conn
                .learning
                .iter()
                .filter(|r| r.name() == rule.name())
                .count();
            let base = if same_kind > 1 {
                format!("conn{ci}.{kind}{ri}")
            } else {
                format!("conn{ci}.{kind}")
            };
            let filtered = |b: &mut Builder,
                            ops: &mut Vec<Op>,
                            what: &str,
                            s: Option<Synapse>,
                            len: usize,
                            x: BufId| match s {
                Some(s) => lower_synapse(b, ops, &format!("{base}.{what}"), len, &s, dt, x),
                None => x,
            };
            let delta = match rule {
                LearningRule::Stdp(_) => continue,
                LearningRule::Pes(r) => {
                    let pre = filtered(b, &mut rule_ops, "pre", r.pre_synapse, cols, conns[ci].src);
                    let d = post_ens.dimensions;
                    let error = b.zeros(format!("{base}.error"), d, BufferKind::Temp);
                    rule_ops.push(Op::Zero { dst: error });
                    for (ek, e) in net.connections.iter().enumerate() {
                        if matches!(e.post, Endpoint::LearningRule(id) if id.index == ci) {
                            if !conns[ek].filtered {
                                rule_ops.extend(conns[ek].weigh.iter().cloned());
                            }
                            rule_ops.push(Op::AddInc {
                                x: conns[ek].output,
                                y: error,
                            });
                        }
                    }
                    let row_error = if let Endpoint::Neurons(_) = conn.post {
                        // Nengo's local error: the post ensemble's scaled encoders
                        // (encoders * gain / radius) times the error.
                        let mut m = Vec::with_capacity(rows * d);
                        for i in 0..rows {
                            let g = post_built.gain[i];
                            for k in 0..d {
                                m.push(post_built.encoders[[i, k]] * g / post_ens.radius);
                            }
                        }
                        let m = b.param(format!("{base}.encoders"), param_f32(&object, "gain", m)?);
                        let local = b.zeros(format!("{base}.local_error"), rows, BufferKind::Temp);
                        rule_ops.push(Op::Zero { dst: local });
                        rule_ops.push(Op::MatVecInc {
                            m,
                            rows,
                            cols: d,
                            x: error,
                            y: local,
                            scale: 1.0,
                        });
                        local
                    } else {
                        error
                    };
                    let delta = b.zeros(format!("{base}.delta"), rows * cols, BufferKind::State);
                    rule_ops.push(Op::Pes {
                        alpha: (-r.learning_rate * dt / cols as f64) as f32,
                        rows,
                        cols,
                        error: row_error,
                        pre,
                        delta,
                        learn,
                    });
                    delta
                }
                LearningRule::Bcm(r) => {
                    let pre = filtered(b, &mut rule_ops, "pre", r.pre_synapse, cols, conns[ci].src);
                    let post_out = ens_out[post_i];
                    let post = filtered(b, &mut rule_ops, "post", r.post_synapse, rows, post_out);
                    let theta =
                        filtered(b, &mut rule_ops, "theta", r.theta_synapse, rows, post_out);
                    let delta = b.zeros(format!("{base}.delta"), rows * cols, BufferKind::State);
                    rule_ops.push(Op::Bcm {
                        alpha: (r.learning_rate * dt) as f32,
                        rows,
                        cols,
                        pre,
                        post,
                        theta,
                        delta,
                        learn,
                    });
                    delta
                }
                LearningRule::Oja(r) => {
                    let pre = filtered(b, &mut rule_ops, "pre", r.pre_synapse, cols, conns[ci].src);
                    let post_out = ens_out[post_i];
                    let post = filtered(b, &mut rule_ops, "post", r.post_synapse, rows, post_out);
                    let delta = b.zeros(format!("{base}.delta"), rows * cols, BufferKind::State);
                    rule_ops.push(Op::Oja {
                        alpha: (r.learning_rate * dt) as f32,
                        beta: r.beta as f32,
                        rows,
                        cols,
                        pre,
                        post,
                        w,
                        delta,
                        learn,
                    });
                    delta
                }
            };
            applies.push((rank(rule), Op::AddInc { x: delta, y: w }));
        }
        // Deltas are added in a fixed order of rule kinds, whatever the order the user listed
        // the rules in: (w + a) + b and (w + b) + a may round differently.
        applies.sort_by_key(|(r, _)| *r);
        apply_ops.extend(applies.drain(..).map(|(_, op)| op));
    }
    Ok((rule_ops, apply_ops))
}

fn post_ensemble(c: &Connection) -> Option<usize> {
    match c.post {
        Endpoint::Ensemble(id) | Endpoint::Neurons(id) => Some(id.index),
        Endpoint::Node(_) | Endpoint::LearningRule(_) => None,
    }
}

/// The unit of `unit_order` that endpoint `e` is: an ensemble `i` is `i`, a node `k` that
/// takes input (passthrough or with an input function) is `ensembles + k`; other nodes
/// (computed before anything else) and learning rules are none.
fn unit_of(net: &Network, e: &Endpoint) -> Option<usize> {
    match e {
        Endpoint::Ensemble(id) | Endpoint::Neurons(id) => Some(id.index),
        Endpoint::Node(id) if net.nodes[id.index].takes_input() => {
            Some(net.ensembles.len() + id.index)
        }
        Endpoint::Node(_) | Endpoint::LearningRule(_) => None,
    }
}

/// The unit a connection delivers to (see [`unit_of`]).
fn post_unit(net: &Network, c: &Connection) -> Option<usize> {
    unit_of(net, &c.post)
}

/// Topological order of the ensembles and the nodes that take input (units `0..ensembles` and
/// `ensembles..ensembles + nodes`, see [`unit_of`]) along connections without synapse
/// (zero-delay edges); `delayed[ci]` marks connections whose every synapse is delayed by at
/// least one step.
fn unit_order(net: &Network, delayed: &[bool]) -> Result<Vec<usize>> {
    let n = net.ensembles.len() + net.nodes.len();
    let mut indeg = vec![0usize; n];
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (ci, c) in net.connections.iter().enumerate() {
        if c.synapse.is_some() || c.port != Port::Current || delayed[ci] {
            continue;
        }
        let Some(pre) = unit_of(net, &c.pre) else {
            continue;
        };
        if let Some(post) = post_unit(net, c) {
            edges[pre].push(post);
            indeg[post] += 1;
        }
    }
    let name = |u: usize| match u.checked_sub(net.ensembles.len()) {
        None => net.ensemble_name(u),
        Some(k) => net.node_name(k),
    };
    let mut ready: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).rev().collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop() {
        order.push(i);
        for &k in &edges[i] {
            indeg[k] -= 1;
            if indeg[k] == 0 {
                ready.push(k);
            }
        }
    }
    if order.len() < n {
        // Ensembles left over are on a cycle or downstream of one; peel off the downstream
        // ones (no zero-delay edge to another leftover) so that the error names the cycle.
        let mut stuck: Vec<bool> = (0..n).map(|i| !order.contains(&i)).collect();
        while let Some(i) = (0..n).find(|&i| stuck[i] && !edges[i].iter().any(|&k| stuck[k])) {
            stuck[i] = false;
        }
        let stuck: Vec<String> = (0..n).filter(|&i| stuck[i]).map(name).collect();
        return Err(Error::build(
            stuck.join(", "),
            "connections without a synapse form a cycle (zero-delay loop); give one of them a synapse",
        ));
    }
    Ok(order)
}

/// A connection's delays in whole steps.
enum DelaySteps {
    /// One delay for the whole connection (a delay line on its weighted output).
    Fixed(u32),
    /// One delay per synapse (Dense: row-major post x pre; Sparse: stored-entry order).
    PerSynapse(Vec<u32>),
}

impl DelaySteps {
    fn max(&self) -> u32 {
        match self {
            DelaySteps::Fixed(d) => *d,
            DelaySteps::PerSynapse(v) => v.iter().copied().max().unwrap_or(0),
        }
    }
    fn min(&self) -> u32 {
        match self {
            DelaySteps::Fixed(d) => *d,
            DelaySteps::PerSynapse(v) => v.iter().copied().min().unwrap_or(0),
        }
    }
}

fn per_synapse_unsupported(object: &str) -> Error {
    Error::build(
        object,
        "per-synapse delays need a Dense or Sparse transform (checked by Network::connect)",
    )
}

/// `seconds` as a whole number of steps of `dt` (within 1e-6), at most
/// [`MAX_DELAY_STEPS`].
fn whole_steps(object: &str, param: &str, seconds: f64, dt: f64) -> Result<u32> {
    let k = (seconds / dt).round();
    if !(seconds.is_finite() && seconds >= 0.0) {
        return Err(Error::invalid(
            object,
            param,
            seconds,
            "a finite delay >= 0 s (a whole number of steps)",
        ));
    }
    if k > MAX_DELAY_STEPS as f64 {
        return Err(Error::invalid(
            object,
            param,
            seconds,
            format!(
                "a delay of at most {MAX_DELAY_STEPS} steps = {} s at dt = {dt} s",
                MAX_DELAY_STEPS as f64 * dt
            ),
        ));
    }
    if ((k * dt) - seconds).abs() > 1e-6 * seconds.max(dt) {
        return Err(Error::invalid(
            object,
            param,
            seconds,
            format!(
                "a whole number of steps of dt = {dt} s (e.g. {} s or {} s); Connection::delays_uniform rounds its draws instead",
                k.floor().max(0.0) * dt,
                (k.floor() + 1.0) * dt
            ),
        ));
    }
    Ok(k as u32)
}

/// Resolves a connection's delays into steps (drawing per-synapse delays from the network's
/// seed); `None` when there are none or all are 0.
fn resolve_delays(
    net: &Network,
    ci: usize,
    conn: &Connection,
    object: &str,
    dt: f64,
) -> Result<Option<DelaySteps>> {
    let Some(delays) = &conn.delays else {
        return Ok(None);
    };
    let steps = match delays {
        Delays::Fixed(s) => DelaySteps::Fixed(whole_steps(object, "delay", *s, dt)?),
        Delays::PerSynapse(v) => DelaySteps::PerSynapse(
            v.iter()
                .enumerate()
                .map(|(k, &s)| whole_steps(object, &format!("delays[{k}]"), s, dt))
                .collect::<Result<_>>()?,
        ),
        Delays::Uniform { min, max } => {
            // Bounds checked like a single delay, except that they need not be whole steps.
            for (param, s) in [("delays min", *min), ("delays max", *max)] {
                let k = (s / dt).round();
                if !(s.is_finite() && s >= 0.0) || k > MAX_DELAY_STEPS as f64 {
                    return Err(Error::invalid(
                        object,
                        param,
                        s,
                        format!(
                            "a finite delay in [0, {} s] ({MAX_DELAY_STEPS} steps at dt = {dt} s)",
                            MAX_DELAY_STEPS as f64 * dt
                        ),
                    ));
                }
            }
            let n = match &conn.transform {
                Transform::Dense(m) => m.len(),
                Transform::Sparse(s) => s.nnz(),
                _ => return Err(per_synapse_unsupported(object)),
            };
            let mut rng = object_rng(net.seed, RNG_DELAYS, ci);
            DelaySteps::PerSynapse(
                (0..n)
                    .map(|_| {
                        let s = min + (max - min) * rand::Rng::random::<f64>(&mut rng);
                        ((s / dt).round() as u32).min(MAX_DELAY_STEPS)
                    })
                    .collect(),
            )
        }
    };
    Ok((steps.max() > 0).then_some(steps))
}

/// Transmission and STDP at arrival on a delayed connection of `n` synapses from `cols` pre
/// neurons (Brian's delayed `on_pre`): the delay of each synapse in steps (a fixed delay
/// repeated) and a ring of the last `slots` steps of pre output and pre traces, as
/// `(delays, ring, slots)`; `None` without delays.
fn arrival_history(
    b: &mut Builder,
    ci: usize,
    delays: &Option<DelaySteps>,
    n: usize,
    cols: usize,
) -> Option<(BufId, BufId, usize)> {
    let delays = delays.as_ref()?;
    let slots = delays.max() as usize + 1;
    let steps = match delays {
        DelaySteps::Fixed(d) => vec![index_to_f32(*d); n],
        DelaySteps::PerSynapse(v) => v.iter().map(|&d| index_to_f32(d)).collect(),
    };
    let per_synapse = b.add(format!("conn{ci}.delays"), n, BufferKind::Index, steps);
    let hist = b.zeros(
        format!("conn{ci}.pre_history"),
        crate::backend::cpu::pre_history_len(slots, cols),
        BufferKind::State,
    );
    Some((per_synapse, hist, slots))
}

/// The op recording `pre` and the pre traces `traces[0..2]` for STDP at arrival.
fn pre_history(pre: BufId, traces: [BufId; 4], hist: BufId, cols: usize, slots: usize) -> Op {
    Op::PreHistory {
        pre,
        r1: traces[0],
        r2: traces[1],
        hist,
        cols,
        slots,
    }
}

/// The trace buffers, constants and trace-update ops of an STDP rule on a connection with
/// `rows` post and `cols` pre neurons (shared by the dense and the sparse lowering).
#[expect(clippy::too_many_arguments, reason = "the pieces of one connection")]
fn lower_stdp(
    b: &mut Builder,
    ci: usize,
    rule: &Stdp,
    dt: f64,
    src: BufId,
    post_out: BufId,
    rows: usize,
    cols: usize,
) -> (StdpConsts, [BufId; 4], Vec<Op>) {
    let decay = |tau: f64| (-dt / tau).exp() as f32;
    let traces = [
        b.zeros(format!("conn{ci}.trace_pre"), cols, BufferKind::State),
        b.zeros(format!("conn{ci}.trace_pre_slow"), cols, BufferKind::State),
        b.zeros(format!("conn{ci}.trace_post"), rows, BufferKind::State),
        b.zeros(format!("conn{ci}.trace_post_slow"), rows, BufferKind::State),
    ];
    let consts = StdpConsts {
        decay_r1: decay(rule.tau_plus),
        decay_r2: decay(rule.tau_x),
        decay_o1: decay(rule.tau_minus),
        decay_o2: decay(rule.tau_y),
        a2_plus: rule.a2_plus as f32,
        a3_plus: rule.a3_plus as f32,
        a2_minus: rule.a2_minus as f32,
        a3_minus: rule.a3_minus as f32,
        w_min: rule.w_min as f32,
        w_max: rule.w_max as f32,
        nearest: rule.nearest,
        multiplicative: rule.multiplicative,
    };
    let ops = [
        (traces[0], src, consts.decay_r1),
        (traces[1], src, consts.decay_r2),
        (traces[2], post_out, consts.decay_o1),
        (traces[3], post_out, consts.decay_o2),
    ]
    .into_iter()
    .map(|(x, spikes, decay)| Op::Trace {
        x,
        spikes,
        decay,
        nearest: rule.nearest,
    })
    .collect();
    (consts, traces, ops)
}
