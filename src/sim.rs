//! The user-facing [`Simulator`]: builds a network, owns a backend, runs steps in chunks and
//! collects probe data.

use crate::backend::gpu::{AdapterPolicy, GpuBackend};
use crate::backend::{Backend, HostInputs, ProbeRecords, cpu::CpuBackend};
use crate::compile::{Built, Plan, compile};
use crate::error::{Error, Result};
use crate::model::{Network, NodeOutput, ProbeId};
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
    /// A hardware GPU when one is present, else the CPU; prints its choice to stderr.
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
    /// Steps per backend call (default 1000): node values are prepared and probes collected per chunk.
    pub chunk_steps: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            dt: 0.001,
            backend: BackendChoice::Auto,
            batch: 1,
            chunk_steps: 1000,
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
        let (plan, built) = compile(network, config.dt, config.batch)?;
        let backend: Box<dyn Backend> = match config.backend {
            BackendChoice::Cpu => Box::new(CpuBackend::new(&plan)?),
            BackendChoice::Gpu => Box::new(GpuBackend::new(
                &plan,
                AdapterPolicy::Any,
                config.chunk_steps,
            )?),
            BackendChoice::Auto => match GpuBackend::find_adapter(AdapterPolicy::HardwareOnly)? {
                Some(a) => {
                    eprintln!(
                        "volley: backend auto -> gpu on {} ({}, {})",
                        a.name, a.backend, a.device_type
                    );
                    Box::new(GpuBackend::new(
                        &plan,
                        AdapterPolicy::HardwareOnly,
                        config.chunk_steps,
                    )?)
                }
                None => {
                    eprintln!("volley: backend auto -> cpu (no hardware GPU adapter found)");
                    Box::new(CpuBackend::new(&plan)?)
                }
            },
        };
        let records = ProbeRecords {
            values: vec![Vec::new(); plan.probes.len()],
        };
        Ok(Simulator {
            network: network.clone(),
            config,
            plan,
            built,
            backend,
            n_steps: 0,
            records,
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

    /// Runs for `seconds` (rounded to a whole number of steps).
    pub fn run(&mut self, seconds: f64) -> Result<()> {
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(Error::invalid(
                "Simulator::run",
                "seconds",
                seconds,
                "a finite number >= 0",
            ));
        }
        let steps = (seconds / self.config.dt).round();
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
        let mut left = n;
        while left > 0 {
            let chunk = left.min(self.config.chunk_steps as u64) as usize;
            let host = self.host_inputs(self.n_steps, chunk)?;
            self.backend
                .run(self.n_steps, chunk, &host, &mut self.records)?;
            self.n_steps += chunk as u64;
            left -= chunk as u64;
        }
        Ok(())
    }

    /// Evaluates every node for steps `first..first + n` (time `(k + 1) dt`).
    fn host_inputs(&self, first: u64, n: usize) -> Result<HostInputs> {
        let batch = self.config.batch;
        let mut values = Vec::with_capacity(self.plan.host_inputs.len());
        for slot in &self.plan.host_inputs {
            let node = &self.network.nodes()[slot.node];
            let mut v = Vec::with_capacity(n * batch * slot.size);
            for k in 0..n {
                let t = (first + k as u64 + 1) as f64 * self.config.dt;
                for b in 0..batch {
                    let y = match &node.output {
                        NodeOutput::Constant(c) => c.clone(),
                        NodeOutput::Function { f, .. } => f(t),
                        NodeOutput::Batched { f, .. } => f(t, b),
                        NodeOutput::Present(p) => p.value(t),
                        NodeOutput::Poisson(_) | NodeOutput::UniformNoise { .. } => {
                            unreachable!("device-generated nodes have no host slot")
                        }
                    };
                    if y.len() != slot.size {
                        return Err(Error::invalid(
                            self.network.node_name(slot.node),
                            "output",
                            format!("a vector of length {} at t = {t}", y.len()),
                            format!("length {} (size_out)", slot.size),
                        ));
                    }
                    // Checked as f32, the precision the backends run at: 1e300 is finite in
                    // f64 but infinite on the backend.
                    if let Some(x) = y.iter().find(|x| !(**x as f32).is_finite()) {
                        return Err(Error::invalid(
                            self.network.node_name(slot.node),
                            "output",
                            format!("{x:e} at t = {t}"),
                            "finite values within f32 range (|x| <= 3.4e38)",
                        ));
                    }
                    v.extend(y.iter().map(|&x| x as f32));
                }
            }
            values.push(v);
        }
        Ok(HostInputs { values })
    }

    /// Returns every state to its initial value, clears probe data and sets time to 0.
    pub fn reset(&mut self) -> Result<()> {
        self.backend.reset()?;
        for v in &mut self.records.values {
            v.clear();
        }
        self.n_steps = 0;
        Ok(())
    }

    /// Times of every step so far: `dt, 2 dt, ...` (Nengo's `trange()`).
    pub fn trange(&self) -> Array1<f64> {
        Array1::from_iter((1..=self.n_steps).map(|k| k as f64 * self.config.dt))
    }

    /// Times at which `probe` recorded its samples.
    pub fn probe_trange(&self, probe: ProbeId) -> Result<Array1<f64>> {
        self.network.check_probe(probe)?;
        let every = self.plan.probes[probe.index()].every;
        Ok(Array1::from_iter(
            (1..=self.n_steps / every).map(|k| (k * every) as f64 * self.config.dt),
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
