//! The user-facing [`Simulator`]: builds a network, owns a backend, runs steps in chunks and
//! collects probe data.

use crate::backend::gpu::{AdapterPolicy, GpuBackend};
use crate::backend::{Backend, HostInputs, ProbeRecords, cpu::CpuBackend};
use crate::compile::{BufId, Built, Op, Plan, compile_with};
use crate::error::{Error, Result};
use crate::model::{ConnectionId, EnsembleId, Network, NodeId, NodeOutput, ProbeId};
pub use crate::rng::Keying;
use ndarray::{Array1, Array2, Array3};
use std::fmt;
use std::str::FromStr;

/// Which backend runs the plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// The CPU reference backend.
    Cpu,
    /// The GPU backend (wgpu) on the best adapter, hardware preferred; software adapters such as
    /// llvmpipe are used when nothing else exists. Pick one with `WGPU_ADAPTER_NAME`.
    Gpu,
    /// A hardware GPU when one is present, else the CPU (silently: see `Simulator::backend_name`).
    #[default]
    Auto,
}

impl FromStr for BackendChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(BackendChoice::Cpu),
            "gpu" => Ok(BackendChoice::Gpu),
            "auto" => Ok(BackendChoice::Auto),
            other => Err(Error::invalid(
                "Simulator",
                "backend",
                format!("\"{other}\""),
                "one of: cpu, gpu, auto",
            )),
        }
    }
}

impl BackendChoice {
    /// What `Auto` runs on, by `Simulator::new`'s rule (a hardware GPU adapter if there is
    /// one, else the CPU); `Cpu` and `Gpu` are returned as they are.
    pub fn resolve(self) -> Result<BackendChoice> {
        Ok(match self {
            BackendChoice::Auto => match GpuBackend::find_adapter(AdapterPolicy::HardwareOnly)? {
                Some(_) => BackendChoice::Gpu,
                None => BackendChoice::Cpu,
            },
            b => b,
        })
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendChoice::Cpu => "cpu",
            BackendChoice::Gpu => "gpu",
            BackendChoice::Auto => "auto",
        })
    }
}

/// Simulator settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimConfig {
    /// Timestep in seconds (default 0.001).
    pub dt: f64,
    /// Backend (default auto).
    pub backend: BackendChoice,
    /// Number of independent instances of the network (default 1).
    pub batch: usize,
    /// Steps per backend call (default 1000): node values are prepared and probes collected per
    /// chunk (per step for a network with nodes that take an input function, whose steps the
    /// host interrupts: `Node::with_input`).
    pub chunk_steps: usize,
    /// Build learning ops (default true). With false, plastic weights are fixed and shared by
    /// all instances and adaptive thresholds are frozen (evaluation mode).
    pub learning: bool,
    /// How the instances draw random numbers (default [`Keying::Shared`]: one stream for the
    /// batch). [`Keying::PerInstance`] makes instance `b` draw as a lone run of seed
    /// `network seed + b`; with [`Simulator::restore_instances`] a batch then trains K
    /// independent networks, each bit-identical to its seed run alone.
    pub keying: Keying,
    /// Seed of the random draws made while running (Poisson inputs; the key of the
    /// counter-based generator), default the network's seed. What is drawn when the network is
    /// built (encoders, initial weights and states, delays, noise signals) always comes from the
    /// network's seed, so one network can be run with several seeds, as Nengo's
    /// `Simulator(seed=...)` runs its processes.
    pub seed: Option<u64>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            dt: 0.001,
            backend: BackendChoice::Auto,
            batch: 1,
            chunk_steps: 1000,
            learning: true,
            keying: Keying::Shared,
            seed: None,
        }
    }
}

impl SimConfig {
    /// Sets dt.
    pub fn dt(mut self, dt: f64) -> Self {
        self.dt = dt;
        self
    }
    /// Sets the batch size.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }
    /// Sets the backend.
    pub fn backend(mut self, backend: BackendChoice) -> Self {
        self.backend = backend;
        self
    }
    /// Builds with or without learning.
    pub fn learning(mut self, learning: bool) -> Self {
        self.learning = learning;
        self
    }
    /// Sets how the instances draw random numbers.
    pub fn keying(mut self, keying: Keying) -> Self {
        self.keying = keying;
        self
    }
    /// Sets the seed of the random draws made while running (see [`SimConfig::seed`]).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
}

/// The state of a simulator between steps: see [`Simulator::snapshot`].
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Steps run (the counter-based generator's position).
    pub n_steps: u64,
    /// (buffer name, all instances' values) for every non-temporary buffer.
    pub buffers: Vec<(String, Vec<f32>)>,
}

/// Runs a network.
pub struct Simulator {
    network: Network,
    config: SimConfig,
    plan: Plan,
    built: Built,
    backend: Box<dyn Backend>,
    n_steps: u64,
    /// Per probe: samples laid out `[sample][instance][len]`.
    records: ProbeRecords,
    /// Per probe: the step after which its held samples begin (samples before it were taken
    /// by `take_data`/`take_sum` or dropped by `restore`).
    records_from: Vec<u64>,
    /// The step that a node's input function (`Node::with_input`) failed in, part of it run:
    /// the simulator refuses to run on until `reset` or `restore`.
    broken_step: Option<u64>,
    /// One period of each white-signal node's samples (`None` for other nodes).
    signals: Vec<Option<ndarray::Array2<f64>>>,
}

impl Simulator {
    /// Compiles `network` and loads it on the chosen backend.
    pub fn new(network: &Network, config: SimConfig) -> Result<Self> {
        if config.chunk_steps == 0 {
            return Err(Error::invalid(
                "SimConfig",
                "chunk_steps",
                0,
                "an integer >= 1",
            ));
        }
        let (mut plan, built) = compile_with(network, config.dt, config.batch, config.learning)?;
        let signals = crate::compile::node_signals(network, config.dt)?;
        plan.keying = config.keying;
        if let Some(seed) = config.seed {
            plan.seed = seed;
        }
        let backend: Box<dyn Backend> = match config.backend {
            BackendChoice::Cpu => Box::new(CpuBackend::new(&plan)?),
            BackendChoice::Gpu => Box::new(GpuBackend::new(
                &plan,
                AdapterPolicy::Any,
                config.chunk_steps,
            )?),
            BackendChoice::Auto => match GpuBackend::find_adapter(AdapterPolicy::HardwareOnly)? {
                // Silently: `Simulator::backend_name` says which (the CLI prints it).
                Some(_) => Box::new(GpuBackend::new(
                    &plan,
                    AdapterPolicy::HardwareOnly,
                    config.chunk_steps,
                )?),
                None => Box::new(CpuBackend::new(&plan)?),
            },
        };
        let records = ProbeRecords {
            values: vec![Vec::new(); plan.probes.len()],
        };
        let records_from = vec![0; plan.probes.len()];
        Ok(Simulator {
            network: network.same_ids_copy(),
            config,
            plan,
            built,
            backend,
            n_steps: 0,
            records_from,
            records,
            broken_step: None,
            signals,
        })
    }

    /// The compiled plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
    /// Build-time results (gains, biases, encoders, decoders).
    pub fn built(&self) -> &Built {
        &self.built
    }
    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }
    /// The timestep.
    pub fn dt(&self) -> f64 {
        self.config.dt
    }
    /// Steps run since construction or the last reset.
    pub fn n_steps(&self) -> u64 {
        self.n_steps
    }
    /// Simulated time in seconds.
    pub fn time(&self) -> f64 {
        self.n_steps as f64 * self.config.dt
    }
    /// Backend name (`cpu`) and the device it runs on.
    pub fn backend_name(&self) -> (&'static str, String) {
        (self.backend.name(), self.backend.device())
    }

    /// Runs for `seconds`, rounded to the nearest whole number of steps, halves to even as
    /// Nengo's `Simulator.run` (`np.round(seconds / dt)`): `run(0.0005)` with dt 1 ms runs
    /// none, and so does anything up to dt/2 (Nengo also warns then).
    pub fn run(&mut self, seconds: f64) -> Result<()> {
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(Error::invalid(
                "Simulator::run",
                "seconds",
                seconds,
                "a finite number >= 0",
            ));
        }
        let steps = (seconds / self.config.dt).round_ties_even();
        if steps > 1e15 {
            return Err(Error::invalid(
                "Simulator::run",
                "seconds",
                seconds,
                "at most 1e15 steps",
            ));
        }
        self.run_steps(steps as u64)
    }

    /// Runs `n` steps.
    pub fn run_steps(&mut self, n: u64) -> Result<()> {
        self.check_whole_step("Simulator::run")?;
        // The positions of the host's calls of nodes' input functions in the step.
        let calls: Vec<usize> = (self.plan.step.iter().enumerate())
            .filter(|(_, op)| matches!(op, Op::HostCall { .. }))
            .map(|(i, _)| i)
            .collect();
        if !calls.is_empty() {
            for _ in 0..n {
                self.step_in_parts(&calls)?;
            }
            return Ok(());
        }
        let mut left = n;
        while left > 0 {
            let chunk = left.min(self.config.chunk_steps as u64) as usize;
            let (host, bad) = self.host_inputs(self.n_steps, chunk);
            // A node's bad value at step j of the chunk: its steps before j run (and are
            // recorded) first, as Nengo runs every step before the one that fails.
            let run = bad.as_ref().map_or(chunk, |(j, _)| *j);
            if run > 0 {
                self.backend
                    .run(self.n_steps, run, &host, &mut self.records)?;
                self.n_steps += run as u64;
            }
            if let Some((_, e)) = bad {
                return Err(e);
            }
            left -= chunk as u64;
        }
        Ok(())
    }

    /// How errors name connection `ci`'s function of node `node`'s output.
    fn function_name(&self, ci: usize, node: usize) -> String {
        format!(
            "Connection {ci}'s function of {}",
            self.network.node_name(node)
        )
    }

    /// Refuses to go on from a step left part-run by a node's failed input function.
    fn check_whole_step(&self, object: &str) -> Result<()> {
        match self.broken_step {
            Some(k) => Err(Error::invalid(
                object,
                "state",
                format!("step {k} part-run (a node's input function failed in it)"),
                "a simulator at a whole step: call reset() or restore() first",
            )),
            None => Ok(()),
        }
    }

    /// Runs one step of a plan with host calls (`calls`: their positions in the step): the
    /// ops before each call, then the node's function of its input sum (read back from the
    /// backend) for each instance, written to the node's output, and after the last call the
    /// rest of the step. A function's bad output ends the step part-run (see `broken_step`).
    fn step_in_parts(&mut self, calls: &[usize]) -> Result<()> {
        let step = self.n_steps;
        let (host, bad) = self.host_inputs(step, 1);
        if let Some((_, e)) = bad {
            return Err(e);
        }
        let t = (step + 1) as f64 * self.config.dt;
        let batch = self.config.batch;
        // Until the last part has run, the step is part-run: a function that fails or panics,
        // or a backend error, leaves it so (and the simulator refuses to run it again).
        self.broken_step = Some(step);
        let mut start = 0;
        for &at in calls {
            self.backend
                .run_part(step, start..at, &host, &mut self.records)?;
            let Op::HostCall {
                node,
                input,
                output,
                ref functions,
            } = self.plan.step[at]
            else {
                unreachable!("calls are the positions of host_call ops")
            };
            let NodeOutput::WithInput {
                size_in,
                size_out,
                ref f,
            } = self.network.nodes()[node].output
            else {
                unreachable!("host_call ops are compiled from nodes with input")
            };
            let x = self.backend.read(input)?;
            let mut ys: Vec<Vec<f64>> = Vec::with_capacity(batch);
            for b in 0..batch {
                let xb: Vec<f64> = x[b * size_in..(b + 1) * size_in]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect();
                let yb = f(t, &xb);
                checked_output(&yb, size_out, t, b, || self.network.node_name(node))?;
                ys.push(yb);
            }
            if size_out > 0 {
                let y: Vec<f32> = ys.iter().flatten().map(|&v| v as f32).collect();
                self.backend.write(output, &y)?;
            }
            // The functions of its output on its outgoing connections.
            for &(ci, buf) in functions {
                let g = (self.network.connections()[ci].function.as_ref())
                    .expect("a host call's function slot is a connection with a function");
                let len = self.plan.buffers[buf.0].len;
                let mut z = Vec::with_capacity(batch * len);
                for (b, yb) in ys.iter().enumerate() {
                    let zb = g(yb);
                    checked_output(&zb, len, t, b, || self.function_name(ci, node))?;
                    z.extend(zb.iter().map(|&v| v as f32));
                }
                self.backend.write(buf, &z)?;
            }
            start = at + 1;
        }
        self.backend
            .run_part(step, start..self.plan.step.len(), &host, &mut self.records)?;
        self.n_steps += 1;
        self.broken_step = None;
        Ok(())
    }

    /// Evaluates every node for steps `first..first + n` (time `(k + 1) dt`). A node output
    /// of the wrong length or a non-finite value at step `first + j` ends the evaluation
    /// there: the values of the steps before `j`, and `Some((j, error))` for the earliest such
    /// step.
    fn host_inputs(&self, first: u64, n: usize) -> (HostInputs, Option<(usize, Error)>) {
        let batch = self.config.batch;
        let mut values = Vec::with_capacity(self.plan.host_inputs.len());
        let mut bad: Option<(usize, Error)> = None;
        // The outputs (f64, `[step][instance][size_out]`) of each node a connection's function
        // slot (after the node's own) reads, evaluated once per step and instance.
        let mut outputs: Vec<Vec<f64>> = vec![Vec::new(); self.network.nodes().len()];
        let mut read_by_function = vec![false; self.network.nodes().len()];
        for slot in &self.plan.host_inputs {
            if slot.function.is_some() {
                read_by_function[slot.node] = true;
            }
        }
        for slot in &self.plan.host_inputs {
            let node = &self.network.nodes()[slot.node];
            let size_out = node.size_out();
            let mut v = Vec::with_capacity(n * batch * slot.size);
            // Only steps before an earlier node's failure are evaluated.
            let limit = bad.as_ref().map_or(n, |(j, _)| *j);
            'steps: for k in 0..limit {
                let t = (first + k as u64 + 1) as f64 * self.config.dt;
                for b in 0..batch {
                    let y = match slot.function {
                        None => {
                            let y = match &node.output {
                                NodeOutput::Constant(c) => c.clone(),
                                NodeOutput::Function { f, .. } => f(t),
                                NodeOutput::Batched { f, .. } => f(t, b),
                                NodeOutput::Present(p) => p.value(t, self.config.dt),
                                // Nengo's `signal[round(t / dt) % samples]`.
                                NodeOutput::WhiteSignal { .. } => {
                                    let s = self.signals[slot.node]
                                        .as_ref()
                                        .expect("generated for every white-signal node");
                                    let i = (first + k as u64 + 1) % s.nrows() as u64;
                                    s.row(i as usize).to_vec()
                                }
                                NodeOutput::Poisson(_)
                                | NodeOutput::UniformNoise { .. }
                                | NodeOutput::Passthrough { .. }
                                | NodeOutput::WithInput { .. } => {
                                    unreachable!(
                                        "nodes computed on the device or in the step have no \
                                         host slot"
                                    )
                                }
                            };
                            if read_by_function[slot.node] && y.len() == size_out {
                                outputs[slot.node].extend_from_slice(&y);
                            }
                            y
                        }
                        // A connection's function of the node's output.
                        Some(ci) => {
                            let f = self.network.connections()[ci]
                                .function
                                .as_ref()
                                .expect("a function slot's connection has a function");
                            let at = (k * batch + b) * size_out;
                            f(&outputs[slot.node][at..at + size_out])
                        }
                    };
                    // Named only when there is an error (not for every step and instance).
                    let object = || match slot.function {
                        None => self.network.node_name(slot.node),
                        Some(ci) => self.function_name(ci, slot.node),
                    };
                    // Checked as f32, the precision the backends run at: 1e300 is finite in
                    // f64 but infinite on the backend.
                    let error = checked_output(&y, slot.size, t, b, object).err();
                    if let Some(e) = error {
                        v.truncate(k * batch * slot.size);
                        bad = Some((k, e));
                        break 'steps;
                    }
                    v.extend(y.iter().map(|&x| x as f32));
                }
            }
            values.push(v);
        }
        // Every node's values end at the earliest failure.
        if let Some((j, _)) = &bad {
            for (v, slot) in values.iter_mut().zip(&self.plan.host_inputs) {
                v.truncate(j * batch * slot.size);
            }
        }
        (HostInputs { values }, bad)
    }

    /// Runs the presentation-boundary ops now (normalisation of incoming weights).
    pub fn boundary(&mut self) -> Result<()> {
        self.backend.boundary()
    }

    /// Turns learning (weight updates and adaptive thresholds) on or off without rebuilding.
    /// A simulator built with learning off (`SimConfig::learning(false)`: shared frozen
    /// weights, no learning ops) cannot turn it on; turning it off there changes nothing.
    pub fn set_learning(&mut self, on: bool) -> Result<()> {
        let id = self.plan.learn.ok_or_else(|| {
            Error::invalid(
                "Simulator::set_learning",
                "on",
                on,
                "a network with plastic connections or adaptive neurons, built with learning on",
            )
        })?;
        if on && !self.config.learning {
            return Err(Error::invalid(
                "Simulator::set_learning",
                "on",
                on,
                "false in a simulator built with SimConfig::learning(false) (its weights are shared and frozen and it has no learning ops); build one with learning on to learn",
            ));
        }
        self.backend.write(id, &[if on { 1.0 } else { 0.0 }])
    }

    /// The plan buffer called `name`, if there is one.
    fn find_buffer(&self, name: &str) -> Option<BufId> {
        self.plan
            .buffers
            .iter()
            .position(|b| b.name == name)
            .map(BufId)
    }

    fn buffer_id(&self, name: &str, object: &str) -> Result<BufId> {
        self.find_buffer(name).ok_or_else(|| {
            Error::invalid(
                object,
                "buffer",
                name,
                "a buffer of this plan (see `volley plan`)",
            )
        })
    }

    /// Reads a plan buffer by name (all instances), e.g. `ens0.theta` or `conn1.weights`.
    pub fn read_buffer(&mut self, name: &str) -> Result<Vec<f32>> {
        let id = self.buffer_id(name, "Simulator::read_buffer")?;
        self.backend.read(id)
    }

    /// Overwrites a plan buffer by name (all instances, or one instance's values for every
    /// instance when `data` has the per-instance length).
    pub fn write_buffer(&mut self, name: &str, data: &[f32]) -> Result<()> {
        let id = self.buffer_id(name, "Simulator::write_buffer")?;
        self.write_id(id, &format!("buffer {name}"), "data", data)
    }

    /// Writes `data` (one instance's values, or every instance's) to buffer `id`; errors name
    /// `object` and `param`.
    fn write_id(&mut self, id: BufId, object: &str, param: &str, data: &[f32]) -> Result<()> {
        let b = &self.plan.buffers[id.0];
        // Integer index buffers hold bit patterns; every other value must be finite (as
        // `check_finite` requires of the state).
        if b.kind != crate::compile::BufferKind::Index
            && let Some((k, v)) = data.iter().enumerate().find(|(_, v)| !v.is_finite())
        {
            return Err(Error::invalid(
                object,
                format!("{param}[{k}]"),
                v,
                "a finite value",
            ));
        }
        let total = self.values_of(b);
        let full: Vec<f32> = if data.len() == total {
            data.to_vec()
        } else if data.len() == b.len {
            data.iter().copied().cycle().take(total).collect()
        } else {
            let allowed = if b.batched() {
                format!("{} (one instance) or {total} (all instances)", b.len)
            } else {
                format!(
                    "{} (one copy, shared by every instance: it does not learn in this simulator)",
                    b.len
                )
            };
            return Err(Error::invalid(
                object,
                param,
                format!("{} values", data.len()),
                allowed,
            ));
        };
        self.backend.write(id, &full)
    }

    /// The weights of a connection with a Dense transform, shape `(instances, post, pre)`;
    /// one instance when they are shared. As Nengo's, they exclude the post neurons' gain,
    /// which multiplies their input after the weights (a decoded connection's are its decoders
    /// times its transform).
    pub fn weights(&mut self, conn: ConnectionId) -> Result<Array3<f32>> {
        let object = "Simulator::weights";
        let id = self.weights_id(conn, object)?;
        if self.stored_sparse(conn) {
            return Err(Error::invalid(
                object,
                "conn",
                self.network.connection_name(conn.index()),
                "a connection with a weight matrix (Dense, or decoded); a Sparse connection's stored values are read with Simulator::sparse_weights",
            ));
        }
        // (post, pre), from the op that uses it, or (an error connection's, when nothing
        // uses it because nothing learns) from the post's size.
        let (rows, cols) = self.plan.matrix_shape(id).unwrap_or_else(|| {
            let c = &self.network.connections()[conn.index()];
            let rows = self.network.target_size(&c.post).max(1);
            (rows, self.plan.buffers[id.0].len / rows)
        });
        let v = self.backend.read(id)?;
        let copies = v.len() / (rows * cols);
        Array3::from_shape_vec((copies, rows, cols), v).map_err(|e| Error::Other(e.to_string()))
    }

    /// The stored values of a connection with a Sparse transform, shape `(copies, nnz)` in
    /// the transform's stored-entry order (CSR: row by row), the layout `set_weights` takes;
    /// one copy when they are shared, one per instance when they learn.
    pub fn sparse_weights(&mut self, conn: ConnectionId) -> Result<Array2<f32>> {
        let object = "Simulator::sparse_weights";
        let id = self.weights_id(conn, object)?;
        if !self.stored_sparse(conn) {
            return Err(Error::invalid(
                object,
                "conn",
                self.network.connection_name(conn.index()),
                "a connection with a Sparse transform; read a weight matrix with Simulator::weights",
            ));
        }
        let b = &self.plan.buffers[id.0];
        let (nnz, copies) = (b.len, if b.batched() { self.config.batch } else { 1 });
        let v = self.backend.read(id)?;
        Array2::from_shape_vec((copies, nnz), v).map_err(|e| Error::Other(e.to_string()))
    }

    /// Sets a connection's weights: `(post, pre)` values for every instance, or
    /// `(instances, post, pre)`; for a Sparse transform its `nnz` stored values (see
    /// [`Simulator::sparse_weights`]), or `instances x nnz`.
    pub fn set_weights(&mut self, conn: ConnectionId, w: &[f32]) -> Result<()> {
        let object = "Simulator::set_weights";
        let id = self.weights_id(conn, object)?;
        let what = format!("{} weights", self.network.connection_name(conn.index()));
        self.write_id(id, &what, "w", w)
    }

    /// Whether `conn` keeps its weights as a Sparse transform's stored values (a decoded
    /// connection's Sparse transform is folded into a dense matrix).
    fn stored_sparse(&self, conn: ConnectionId) -> bool {
        let c = &self.network.connections()[conn.index()];
        matches!(c.transform, crate::model::Transform::Sparse(_))
            && !matches!(c.pre, crate::model::Endpoint::Ensemble(_))
    }

    /// The weights buffer of `conn`, or an error naming the connection when it has none (a
    /// Scalar, Diagonal or AllButSelf transform is a fixed parameter, not a weight matrix).
    fn weights_id(&self, conn: ConnectionId, object: &str) -> Result<BufId> {
        self.network.check_connection(object, conn)?;
        let c = &self.network.connections()[conn.index()];
        if !c.has_weights() {
            return Err(Error::invalid(
                object,
                "conn",
                format!(
                    "{} (a {} transform: no weights)",
                    self.network.connection_name(conn.index()),
                    crate::model::transform_kind(&c.transform)
                ),
                crate::model::WITH_WEIGHTS,
            ));
        }
        let name = crate::model::weights_buffer_name(conn.index());
        self.find_buffer(&name)
            .ok_or_else(|| Error::Other(format!("{object}: the plan has no buffer {name}")))
    }

    /// A per-neuron state variable of an ensemble (`voltage`, `theta`, ...), shape
    /// `(instances, n_neurons)`.
    pub fn neuron_state(&mut self, ens: EnsembleId, var: &str) -> Result<Array2<f32>> {
        let id = self.state_var(ens, var, "Simulator::neuron_state")?;
        let n = self.plan.buffers[id.0].len;
        let v = self.backend.read(id)?;
        Array2::from_shape_vec((v.len() / n, n), v).map_err(|e| Error::Other(e.to_string()))
    }

    /// Sets a per-neuron state variable (one instance's values for all, or all instances').
    pub fn set_neuron_state(&mut self, ens: EnsembleId, var: &str, data: &[f32]) -> Result<()> {
        let id = self.state_var(ens, var, "Simulator::set_neuron_state")?;
        let object = format!("{} {var}", self.network.ensemble_name(ens.index()));
        self.write_id(id, &object, "data", data)
    }

    /// The buffer of state variable `var` of ensemble `ens`, or an error that names the
    /// ensemble and lists the variables it has.
    fn state_var(&self, ens: EnsembleId, var: &str, object: &str) -> Result<BufId> {
        self.network.check_ensemble(object, ens)?;
        let vars = self.network.ensembles()[ens.index()]
            .neuron_type
            .state_names();
        let name = format!("ens{}.{var}", ens.index());
        if vars.contains(&var)
            && let Some(id) = self.find_buffer(&name)
        {
            return Ok(id);
        }
        Err(Error::invalid(
            format!("{object} of {}", self.network.ensemble_name(ens.index())),
            "var",
            var,
            if vars.is_empty() {
                format!(
                    "a state variable; {} neurons keep none",
                    self.network.ensembles()[ens.index()].neuron_type.name()
                )
            } else {
                format!("one of its state variables: {}", vars.join(", "))
            },
        ))
    }

    /// Sets the rates (Hz) of a Poisson node: one value per output for every instance, or
    /// `instances x outputs` values (each instance its own input).
    pub fn set_poisson_rates(&mut self, node: NodeId, rates: &[f32]) -> Result<()> {
        self.network
            .check_node("Simulator::set_poisson_rates", node)?;
        let name = format!("node{}.rates", node.index());
        let node_name = self.network.node_name(node.index());
        let Some(id) = self.find_buffer(&name) else {
            return Err(Error::invalid(
                "Simulator::set_poisson_rates",
                "node",
                node_name,
                "a Poisson node (Node::poisson)",
            ));
        };
        if let Some((k, r)) = rates
            .iter()
            .enumerate()
            .find(|(_, r)| !(r.is_finite() && **r >= 0.0))
        {
            return Err(Error::invalid(
                node_name,
                format!("rates[{k}]"),
                r,
                "finite rates >= 0 Hz",
            ));
        }
        self.write_id(id, &node_name, "rates", rates)
    }

    /// Returns every state to its initial value, clears probe data and sets time to 0.
    pub fn reset(&mut self) -> Result<()> {
        self.backend.reset()?;
        for v in &mut self.records.values {
            v.clear();
        }
        self.records_from.fill(0);
        self.n_steps = 0;
        self.broken_step = None;
        Ok(())
    }

    /// Times of every step so far: `dt, 2 dt, ...` (Nengo's `trange()`). A probe's data
    /// matches it until samples are taken ([`Simulator::take_data`]) or a snapshot is
    /// restored; [`Simulator::probe_trange`] always gives the times of the samples a probe
    /// holds.
    pub fn trange(&self) -> Array1<f64> {
        Array1::from_iter((1..=self.n_steps).map(|k| k as f64 * self.config.dt))
    }

    /// Times of the samples `probe` holds (those since the last `take_data`, `take_sum`, `reset`
    /// or `restore`): one per row of [`Simulator::data`].
    pub fn probe_trange(&self, probe: ProbeId) -> Result<Array1<f64>> {
        self.network.check_probe(probe)?;
        let sampling = self.plan.probes[probe.index()].sampling;
        let dt = self.config.dt;
        Ok(Array1::from_iter(
            (self.records_from[probe.index()] + 1..=self.n_steps)
                .filter(|&k| sampling.records(k))
                .map(|k| k as f64 * dt),
        ))
    }

    /// All data of `probe`, shape `(batch, samples, len)`.
    pub fn data(&self, probe: ProbeId) -> Result<Array3<f64>> {
        self.network.check_probe(probe)?;
        let slot = &self.plan.probes[probe.index()];
        let raw = &self.records.values[probe.index()];
        let batch = self.config.batch;
        let samples = raw.len() / (batch * slot.len);
        let a = Array3::from_shape_fn((samples, batch, slot.len), |(s, b, i)| {
            raw[(s * batch + b) * slot.len + i] as f64
        });
        Ok(a.permuted_axes([1, 0, 2]).as_standard_layout().to_owned())
    }

    /// All data of `probe` so far, shape `(batch, samples, len)`, and forgets it (for long runs
    /// that consume probe data as they go).
    pub fn take_data(&mut self, probe: ProbeId) -> Result<Array3<f64>> {
        let a = self.data(probe)?;
        self.records.values[probe.index()].clear();
        self.records_from[probe.index()] = self.n_steps;
        Ok(a)
    }

    /// Sum over time of `probe`'s data so far, shape `(batch, len)`, and forgets the data: e.g.
    /// spike counts (times 1/dt) of a presentation.
    pub fn take_sum(&mut self, probe: ProbeId) -> Result<Array2<f64>> {
        self.network.check_probe(probe)?;
        let slot = &self.plan.probes[probe.index()];
        let batch = self.config.batch;
        let mut sum = Array2::<f64>::zeros((batch, slot.len));
        let raw = &self.records.values[probe.index()];
        for sample in raw.chunks(batch * slot.len) {
            for (b, inst) in sample.chunks(slot.len).enumerate() {
                for (i, &v) in inst.iter().enumerate() {
                    sum[[b, i]] += v as f64;
                }
            }
        }
        self.records.values[probe.index()].clear();
        self.records_from[probe.index()] = self.n_steps;
        Ok(sum)
    }

    /// Spike counts accumulated by a [`Probe::spike_count`](crate::model::Probe::spike_count)
    /// probe since the last call, shape `(batch, n)` (n: the ensemble's neurons or the node's outputs); resets
    /// them to zero.
    pub fn take_counts(&mut self, probe: ProbeId) -> Result<Array2<f64>> {
        self.network.check_probe(probe)?;
        if !matches!(
            self.network.probes()[probe.index()].target,
            crate::model::ProbeTarget::SpikeCount(_)
        ) {
            return Err(Error::invalid(
                "Simulator::take_counts",
                "probe",
                probe,
                "a Probe::spike_count probe",
            ));
        }
        let slot = &self.plan.probes[probe.index()];
        let (id, n) = (slot.src, slot.len);
        let v = self.backend.read(id)?;
        self.backend.write(id, &vec![0.0; v.len()])?;
        Array2::from_shape_vec(
            (v.len() / n, n),
            v.iter().map(|&x| (x as f64).round()).collect(),
        )
        .map_err(|e| Error::Other(e.to_string()))
    }

    /// Every buffer that carries state or parameters between steps (not per-step temporaries),
    /// with the step counter: everything needed to continue a run bit-identically.
    pub fn snapshot(&mut self) -> Result<Snapshot> {
        self.check_whole_step("Simulator::snapshot")?;
        let mut buffers = Vec::new();
        for (i, b) in self.plan.buffers.iter().enumerate() {
            if b.kind != crate::compile::BufferKind::Temp {
                buffers.push((b.name.clone(), self.backend.read(BufId(i))?));
            }
        }
        Ok(Snapshot {
            n_steps: self.n_steps,
            buffers,
        })
    }

    /// Checks that every value of every state buffer (everything [`Simulator::snapshot`] saves)
    /// is finite (integer index buffers excepted); returns how many values were checked, or
    /// [`Error::NonFinite`] naming the first buffer and index that is not.
    pub fn check_finite(&mut self) -> Result<usize> {
        use crate::compile::BufferKind;
        let mut checked = 0;
        for (i, b) in self.plan.buffers.iter().enumerate() {
            if matches!(b.kind, BufferKind::Temp | BufferKind::Index) {
                continue;
            }
            let data = self.backend.read(BufId(i))?;
            if let Some((index, &value)) = data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(Error::NonFinite {
                    buffer: b.name.clone(),
                    index,
                    value,
                    step: self.n_steps,
                });
            }
            checked += data.len();
        }
        Ok(checked)
    }

    /// Values a plan buffer holds in this simulator: one copy per instance, or one for all.
    fn values_of(&self, b: &crate::compile::Buffer) -> usize {
        if b.batched() {
            b.len * self.config.batch
        } else {
            b.len
        }
    }

    /// Restores a [`Snapshot`] taken from a simulator of the same network and batch size: its
    /// state and its time. Probe data recorded so far is dropped; the probes record again from
    /// the snapshot's time ([`Simulator::probe_trange`] gives their samples' times). A snapshot
    /// must hold every state buffer (else an error names the first missing); a network of the
    /// same structure whose buffers have the same names and sizes cannot be told apart, and its
    /// parameters in the snapshot are taken as they are.
    pub fn restore(&mut self, snap: &Snapshot) -> Result<()> {
        // Every buffer is checked before any is written: a refused snapshot changes nothing.
        let mut ids = Vec::with_capacity(snap.buffers.len());
        for (name, data) in &snap.buffers {
            let id = self.buffer_id(name, "Simulator::restore")?;
            let b = &self.plan.buffers[id.0];
            let total = self.values_of(b);
            if data.len() != total {
                return Err(Error::invalid(
                    "Simulator::restore",
                    name,
                    format!("{} values", data.len()),
                    format!("{total} values (a snapshot of the same network and batch)"),
                ));
            }
            self.plan.check_write(id, data)?;
            ids.push(id);
        }
        // Every state buffer must be there: one left out would keep this simulator's value
        // while the time jumps to the snapshot's. (Parameters and indices are the network's
        // own; a snapshot may leave them out.)
        let missing: Vec<&str> = (self.plan.buffers.iter().enumerate())
            .filter(|(i, b)| {
                b.kind == crate::compile::BufferKind::State && !ids.contains(&BufId(*i))
            })
            .map(|(_, b)| b.name.as_str())
            .collect();
        if let Some(first) = missing.first() {
            return Err(Error::invalid(
                "Simulator::restore",
                "snapshot",
                format!(
                    "no buffer {first}{}",
                    match missing.len() {
                        1 => String::new(),
                        n => format!(" (and {} more state buffers)", n - 1),
                    }
                ),
                "every state buffer of this network (a Simulator::snapshot of the same network and batch)",
            ));
        }
        for (id, (_, data)) in ids.into_iter().zip(&snap.buffers) {
            self.backend.write(id, data)?;
        }
        self.n_steps = snap.n_steps;
        for v in &mut self.records.values {
            v.clear();
        }
        self.records_from.fill(snap.n_steps);
        self.broken_step = None;
        Ok(())
    }

    /// The state a new simulator of `network` with `config` but one instance starts from, as
    /// [`Simulator::snapshot`] would return it (nothing is loaded on a backend).
    pub fn initial_snapshot(network: &Network, config: SimConfig) -> Result<Snapshot> {
        let (plan, _) = compile_with(network, config.dt, 1, config.learning)?;
        Ok(Snapshot {
            n_steps: 0,
            buffers: plan
                .buffers
                .into_iter()
                .filter(|b| b.kind != crate::compile::BufferKind::Temp)
                .map(|b| (b.name, b.init))
                .collect(),
        })
    }

    /// Instance `k`'s part of `snap` (a snapshot of this simulator): the snapshot a lone
    /// (batch 1) simulator of the same network would hold.
    pub fn instance_snapshot(&self, snap: &Snapshot, k: usize) -> Result<Snapshot> {
        if k >= self.config.batch {
            return Err(Error::invalid(
                "Simulator::instance_snapshot",
                "instance",
                k,
                format!("an index < batch ({})", self.config.batch),
            ));
        }
        let mut buffers = Vec::with_capacity(snap.buffers.len());
        for (name, data) in &snap.buffers {
            let id = self.buffer_id(name, "Simulator::instance_snapshot")?;
            let b = &self.plan.buffers[id.0];
            let total = self.values_of(b);
            if data.len() != total {
                return Err(Error::invalid(
                    "Simulator::instance_snapshot",
                    name,
                    format!("{} values", data.len()),
                    format!("{total} values (a snapshot of this simulator)"),
                ));
            }
            let part = if b.batched() {
                &data[k * b.len..(k + 1) * b.len]
            } else {
                data
            };
            buffers.push((name.clone(), part.to_vec()));
        }
        Ok(Snapshot {
            n_steps: snap.n_steps,
            buffers,
        })
    }

    /// Restores one lone (batch 1) snapshot per instance: instance `k` continues from
    /// `snaps[k]`. The snapshots must be at the same step, and agree on every shared buffer
    /// (parameters and indices, one copy for the batch); per-instance state may differ. With
    /// [`Keying::PerInstance`] and network seed `s`, instance `k` then runs exactly as a lone
    /// simulator of seed `s + k` restored from `snaps[k]`.
    pub fn restore_instances(&mut self, snaps: &[Snapshot]) -> Result<()> {
        let o = "Simulator::restore_instances";
        let batch = self.config.batch;
        if snaps.len() != batch {
            return Err(Error::invalid(
                o,
                "snapshots",
                snaps.len(),
                format!("one per instance ({batch})"),
            ));
        }
        let first = &snaps[0];
        if let Some((k, s)) = snaps
            .iter()
            .enumerate()
            .find(|(_, s)| s.n_steps != first.n_steps)
        {
            return Err(Error::invalid(
                o,
                format!("snapshot {k} step"),
                s.n_steps,
                format!(
                    "{} (the step of snapshot 0: instances run in lockstep)",
                    first.n_steps
                ),
            ));
        }
        if let Some((k, s)) = snaps
            .iter()
            .enumerate()
            .find(|(_, s)| s.buffers.len() != first.buffers.len())
        {
            return Err(Error::invalid(
                o,
                format!("snapshot {k}"),
                format!("{} buffers", s.buffers.len()),
                format!("{} buffers (as snapshot 0)", first.buffers.len()),
            ));
        }
        let mut merged = Vec::with_capacity(first.buffers.len());
        for (i, (name, data)) in first.buffers.iter().enumerate() {
            let id = self.buffer_id(name, o)?;
            let b = &self.plan.buffers[id.0];
            let mut all = Vec::with_capacity(self.values_of(b));
            for (k, s) in snaps.iter().enumerate() {
                let Some((n, d)) = s.buffers.get(i).filter(|(n, _)| n == name) else {
                    return Err(Error::invalid(
                        o,
                        format!("snapshot {k}"),
                        format!(
                            "buffers {:?}",
                            s.buffers.iter().map(|(n, _)| n).collect::<Vec<_>>()
                        ),
                        format!("the buffers of snapshot 0, in order ({name} at {i})"),
                    ));
                };
                if d.len() != b.len {
                    return Err(Error::invalid(
                        o,
                        format!("snapshot {k} buffer {n}"),
                        format!("{} values", d.len()),
                        format!("{} values (one instance)", b.len),
                    ));
                }
                if b.batched() || k == 0 {
                    all.extend_from_slice(d);
                } else if d.iter().zip(data).any(|(x, y)| x.to_bits() != y.to_bits()) {
                    return Err(Error::invalid(
                        o,
                        format!("snapshot {k} buffer {n}"),
                        "values that differ from snapshot 0's",
                        "the same values in every snapshot (a buffer shared by the batch; networks whose seeds draw different parameters, indices or delays cannot share a batch)",
                    ));
                }
            }
            merged.push((name.clone(), all));
        }
        self.restore(&Snapshot {
            n_steps: first.n_steps,
            buffers: merged,
        })
    }

    /// Data of `probe` for one instance, shape `(samples, len)` (Nengo's `sim.data[probe]`).
    pub fn data_instance(&self, probe: ProbeId, instance: usize) -> Result<Array2<f64>> {
        if instance >= self.config.batch {
            return Err(Error::invalid(
                "Simulator::data_instance",
                "instance",
                instance,
                format!("an index < batch ({})", self.config.batch),
            ));
        }
        Ok(self
            .data(probe)?
            .index_axis_move(ndarray::Axis(0), instance))
    }
}

/// Checks a host-computed value of instance `b` at time `t`: `len` values, each finite in f32
/// (the precision the backends run at). The error names `object()`.
fn checked_output(
    y: &[f64],
    len: usize,
    t: f64,
    b: usize,
    object: impl Fn() -> String,
) -> Result<()> {
    if y.len() != len {
        return Err(Error::invalid(
            object(),
            "output",
            format!("a vector of length {} at t = {t} (instance {b})", y.len()),
            format!("length {len} (size_out)"),
        ));
    }
    match y.iter().find(|v| !(**v as f32).is_finite()) {
        Some(v) => Err(Error::invalid(
            object(),
            "output",
            format!("{v:e} at t = {t} (instance {b})"),
            "finite values within f32 range (|x| <= 3.4e38)",
        )),
        None => Ok(()),
    }
}
