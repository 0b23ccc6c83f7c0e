//! The GPU backend: every Plan buffer is a wgpu storage buffer, every op a WGSL compute kernel of
//! the same name (see `shaders/`). Pipelines, buffers and bind groups are created once at load;
//! a run only records dispatches — a whole chunk of timesteps per submission — and reads the probes
//! back once per chunk from GPU-side buffers.
//!
//! Two ways to run the steps of a chunk (see [`GpuPath`]):
//! - per op: one dispatch per op per step (plus `advance_step`), each op binding its own buffers;
//! - fused: every buffer packed into one arena and the whole chunk run by one dispatch of the step
//!   interpreter `shaders/fused_steps.wgsl` (one workgroup per instance, barriers between ops),
//!   which removes the per-step launch and barrier overhead that dominates small networks. Chosen
//!   automatically when the interpreter supports every op and the arena fits the adapter's limits.

mod context;
mod fused;
pub mod kernels;
pub mod shader_source;

pub use context::{AdapterSummary, NO_ADAPTER_HELP, list_adapters};
pub use fused::{FUSED_WG, unsupported_reason as fused_unsupported_reason};

use super::{Backend, HostInputs, ProbeRecords};
use crate::compile::{BufId, Op, Plan, Sampling, StdpConsts};
use crate::error::{Error, Result};
use crate::model::NeuronType;
use context::Gpu;
use kernels::{FusedParams, IzhParams, LearnParams, LifParams, Params4, WG_SIZE, f, kernel_source};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// Which adapters the backend may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterPolicy {
    /// Any adapter, hardware preferred (software ones such as llvmpipe included).
    Any,
    /// Hardware adapters only.
    HardwareOnly,
}

/// How the GPU backend runs the steps of a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuPath {
    /// Fused on hardware adapters for plans the interpreter takes that have no probes and no
    /// host inputs (see `fused::auto_eligible`); per op otherwise.
    Auto,
    /// One dispatch of the step interpreter per chunk; loading fails if the plan does not allow it.
    Fused,
    /// One dispatch per op per step.
    PerOp,
}

/// Options of the fused step interpreter (the per-op path ignores them). Results do not depend
/// on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FusedOptions {
    /// Invocations per workgroup: a power of two from 32 to the adapter's limit (`None`:
    /// `VOLLEY_FUSED_WG`, else chosen from the plan, see `fused::workgroup_size`).
    pub width: Option<u32>,
    /// Keep the matrices that only matvec, STDP and row normalisation use (Diehl & Cook's input
    /// weights) presynaptic-major in the arena, as the CPU backend does: the invocations of a
    /// workgroup (one per postsynaptic neuron) then read and update one spiking input's weights
    /// at consecutive addresses. Reads, writes and checkpoints see the usual row-major layout.
    pub presynaptic_major: bool,
}

impl Default for FusedOptions {
    fn default() -> Self {
        FusedOptions {
            width: None,
            presynaptic_major: true,
        }
    }
}

impl FusedOptions {
    /// The environment variable that chooses the weight layout on the fused path:
    /// `presynaptic-major` (the default) or `row-major` (for measurements).
    pub const WEIGHTS_ENV: &'static str = "VOLLEY_FUSED_WEIGHTS";

    /// The defaults, with the weight layout `VOLLEY_FUSED_WEIGHTS` asks for.
    pub fn from_env() -> Result<Self> {
        let presynaptic_major = match std::env::var(Self::WEIGHTS_ENV) {
            Err(_) => true,
            Ok(v) => match v.trim() {
                "" | "presynaptic-major" => true,
                "row-major" => false,
                other => {
                    return Err(backend_err(format!(
                        "{}={other:?} is not one of presynaptic-major, row-major",
                        Self::WEIGHTS_ENV
                    )));
                }
            },
        };
        Ok(FusedOptions {
            presynaptic_major,
            ..Default::default()
        })
    }
}

impl GpuPath {
    /// The environment variable that chooses the path: `fused`, `per-op` or `auto` (the default).
    pub const ENV: &'static str = "VOLLEY_GPU_PATH";

    /// The path `VOLLEY_GPU_PATH` asks for ([`GpuPath::Auto`] when unset).
    pub fn from_env() -> Result<Self> {
        match std::env::var(Self::ENV) {
            Err(_) => Ok(GpuPath::Auto),
            Ok(v) => match v.trim() {
                "" | "auto" => Ok(GpuPath::Auto),
                "fused" => Ok(GpuPath::Fused),
                "per-op" | "per_op" | "perop" => Ok(GpuPath::PerOp),
                other => Err(backend_err(format!(
                    "{}={other:?} is not one of fused, per-op, auto",
                    Self::ENV
                ))),
            },
        }
    }
}

/// Steps per fused dispatch on software adapters (see `run_chunk`): few enough that no
/// invocation of the interpreter runs 65,535 loop iterations for the plans it takes.
const SOFTWARE_FUSED_STEPS: usize = 8;

/// The fused path's pipeline and bindings.
struct FusedRun {
    pipeline: wgpu::ComputePipeline,
    /// Uniform [`FusedParams`] of the step dispatch (n_steps written per chunk).
    step_params: wgpu::Buffer,
    params: FusedParams,
    step_bind: wgpu::BindGroup,
    boundary_bind: Option<wgpu::BindGroup>,
    groups: (u32, u32),
    /// Invocations per workgroup.
    width: u32,
}

impl FusedRun {
    /// Records one dispatch of steps `k_begin..k_begin + n_steps` of the chunk (its parameters
    /// are written to the queue, so one submission holds at most one such dispatch).
    fn dispatch(
        &self,
        queue: &wgpu::Queue,
        pass: &mut wgpu::ComputePass,
        k_begin: usize,
        n_steps: usize,
    ) {
        let params = FusedParams {
            n_steps: n_steps as u32,
            k_begin: k_begin as u32,
            ..self.params
        };
        queue.write_buffer(&self.step_params, 0, bytemuck::bytes_of(&params));
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.step_bind, &[]);
        pass.dispatch_workgroups(self.groups.0, self.groups.1, 1);
    }
}

/// One recorded dispatch.
struct Dispatch {
    pipeline: usize,
    bind_group: wgpu::BindGroup,
    groups: (u32, u32),
}

/// The GPU backend.
pub struct GpuBackend {
    plan: Plan,
    /// Each buffer's (rows, cols) where the device holds it presynaptic-major (fused path).
    t_shape: Vec<Option<(usize, usize)>>,
    gpu: Gpu,
    /// Per op: one buffer per plan buffer. Fused: the arena alone.
    bufs: Vec<wgpu::Buffer>,
    /// Where each plan buffer lives: (index into `bufs`, byte offset).
    locs: Vec<(usize, u64)>,
    ctrl: wgpu::Buffer,
    host_bufs: Vec<wgpu::Buffer>,
    /// Where each host slot's values live: (index into `host_bufs`, byte offset).
    host_locs: Vec<(usize, u64)>,
    rings: Vec<wgpu::Buffer>,
    /// Where each probe's ring lives: (index into `rings`, byte offset).
    ring_locs: Vec<(usize, u64)>,
    fused: Option<FusedRun>,
    staging: wgpu::Buffer,
    pipelines: Vec<wgpu::ComputePipeline>,
    step: Vec<Dispatch>,
    boundary: Vec<Dispatch>,
    advance: Option<Dispatch>,
    max_chunk: usize,
    error: Arc<Mutex<Option<String>>>,
    /// Fault injection for the reliability tests: destroy the device (a real device loss, as
    /// wgpu reports it) when a chunk would run past this step (`VOLLEY_GPU_LOSE_DEVICE_AT_STEP`).
    lose_device_at: Option<u64>,
}

/// Environment variable that makes the GPU backend lose its device at a given step (testing the
/// handling of device loss: error message, last checkpoint kept, resume elsewhere).
pub const LOSE_DEVICE_ENV: &str = "VOLLEY_GPU_LOSE_DEVICE_AT_STEP";

/// `data` (row-major, whole instances) in the device's layout: transposed per instance where
/// the buffer is kept presynaptic-major.
fn to_device_layout(t_shape: Option<(usize, usize)>, data: &[f32]) -> std::borrow::Cow<'_, [f32]> {
    match t_shape {
        Some((rows, cols)) => crate::backend::cpu::transpose_blocks(data, rows, cols, false).into(),
        None => data.into(),
    }
}

/// Buffer `i`'s initial contents on the device: its `init` once per instance (once if shared),
/// in the device's layout.
fn initial_data(plan: &Plan, t_shape: &[Option<(usize, usize)>], i: usize) -> Vec<f32> {
    let b = &plan.buffers[i];
    let copies = if b.batched() { plan.batch } else { 1 };
    to_device_layout(t_shape[i], &b.init).repeat(copies)
}

fn backend_err(reason: impl Into<String>) -> Error {
    Error::Backend {
        backend: "gpu".into(),
        reason: reason.into(),
    }
}

impl GpuBackend {
    /// Finds an adapter (see [`AdapterPolicy`]). `Ok(None)` when none qualifies.
    pub fn find_adapter(policy: AdapterPolicy) -> Result<Option<AdapterSummary>> {
        Ok(
            context::pick_adapter(policy == AdapterPolicy::HardwareOnly)?
                .map(|a| context::summary(&a)),
        )
    }

    /// Loads `plan` on a GPU: checks limits, allocates and uploads every buffer, creates every
    /// pipeline and bind group. `max_chunk` is the most steps one submission records. The path
    /// is chosen by `VOLLEY_GPU_PATH` (see [`GpuPath::from_env`]), automatically by default.
    pub fn new(plan: &Plan, policy: AdapterPolicy, max_chunk: usize) -> Result<Self> {
        Self::with_path(plan, policy, max_chunk, GpuPath::from_env()?)
    }

    /// [`GpuBackend::new`] on the given path.
    pub fn with_path(
        plan: &Plan,
        policy: AdapterPolicy,
        max_chunk: usize,
        path: GpuPath,
    ) -> Result<Self> {
        Self::with_options(plan, policy, max_chunk, path, FusedOptions::from_env()?)
    }

    /// [`GpuBackend::with_path`] with the fused interpreter's invocations per workgroup set
    /// (a power of two from 32 to the adapter's limit; `None`: `VOLLEY_FUSED_WG`, else chosen
    /// from the plan, see `fused::workgroup_size`). Results do not depend on it.
    pub fn with_options(
        plan: &Plan,
        policy: AdapterPolicy,
        max_chunk: usize,
        path: GpuPath,
        options: FusedOptions,
    ) -> Result<Self> {
        let fused_width = options.width;
        if let Some(w) = fused_width
            && !(w.is_power_of_two() && (32..=1024).contains(&w))
        {
            return Err(Error::invalid(
                "GpuBackend::with_options",
                "fused_width",
                w,
                "a power of two from 32 to 1024 (and at most the adapter's limit)",
            ));
        }
        let adapter = context::pick_adapter(policy == AdapterPolicy::HardwareOnly)?
            .ok_or_else(|| backend_err(NO_ADAPTER_HELP))?;
        let gpu = context::open(adapter)?;
        let max_chunk = max_chunk.max(1);
        let error = Arc::new(Mutex::new(None::<String>));
        {
            let e = error.clone();
            gpu.device.on_uncaptured_error(Arc::new(move |err| {
                let mut slot = e.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert_with(|| err.to_string());
            }));
            let e = error.clone();
            gpu.device.set_device_lost_callback(move |reason, msg| {
                let mut slot = e.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert_with(|| {
                    if msg.trim().is_empty() {
                        format!("device lost ({reason:?})")
                    } else {
                        format!("device lost ({reason:?}): {msg}")
                    }
                });
            });
        }
        let batch = plan.batch as u64;
        let max_binding = gpu.limits.max_storage_buffer_binding_size as u64;
        let max_buffer = gpu.limits.max_buffer_size;
        // `fix`: what makes the buffer smaller.
        let check = |name: &str, bytes: u64, fix: &str| -> Result<()> {
            let limit = max_binding.min(max_buffer);
            if bytes > limit {
                return Err(backend_err(format!(
                    "buffer {name} needs {bytes} bytes but adapter {} allows at most {limit} bytes per storage buffer (max_storage_buffer_binding_size {max_binding}, max_buffer_size {max_buffer}); {fix}",
                    gpu.summary.name
                )));
            }
            Ok(())
        };
        let per_chunk = format!(
            "it holds a chunk of {max_chunk} steps: use fewer steps per chunk (SimConfig::chunk_steps) or a smaller batch"
        );
        // Check every size before allocating anything.
        let mut sizes = Vec::new();
        for b in &plan.buffers {
            let copies = if b.batched() { batch } else { 1 };
            let bytes = (b.len as u64)
                .checked_mul(copies * 4)
                .ok_or_else(|| backend_err(format!("buffer {} size overflows", b.name)))?;
            check(&b.name, bytes, "use a smaller network or batch")?;
            sizes.push(bytes);
        }
        let host_sizes: Vec<u64> = plan
            .host_inputs
            .iter()
            .map(|h| max_chunk as u64 * batch * h.size as u64 * 4)
            .collect();
        for (h, &s) in plan.host_inputs.iter().zip(&host_sizes) {
            check(&format!("node{}.host_values", h.node), s, &per_chunk)?;
        }
        let ring_sizes: Vec<u64> = plan
            .probes
            .iter()
            .map(|p| p.sampling.max_samples(max_chunk) as u64 * batch * p.len as u64 * 4)
            .collect();
        for (p, &s) in plan.probes.iter().zip(&ring_sizes) {
            check(&format!("probe{}.ring", p.probe), s, &per_chunk)?;
        }
        let ctrl_bytes = 4 * sample_table_at(plan.probes.len(), max_chunk);
        check("ctrl", ctrl_bytes, &per_chunk)?;
        // Every ring's samples of a chunk are read back through one staging buffer.
        let staging_size = ring_sizes.iter().sum::<u64>().max(4);
        if staging_size > max_buffer {
            return Err(backend_err(format!(
                "the probes' readback needs {staging_size} bytes but adapter {} allows at most {max_buffer} bytes per buffer (max_buffer_size); {per_chunk}",
                gpu.summary.name
            )));
        }

        // The fused path packs the buffers, the host values and the rings into one buffer each.
        let limit = max_binding.min(max_buffer);
        let packed = |sizes: &[u64]| -> (Vec<u64>, u64) {
            let mut offs = Vec::with_capacity(sizes.len());
            let mut total = 0u64;
            for &s in sizes {
                offs.push(total);
                total += s;
            }
            (offs, total)
        };
        let (arena_offs, arena_bytes) = packed(&sizes);
        let (host_offs, host_bytes) = packed(&host_sizes);
        let (ring_offs, ring_bytes) = packed(&ring_sizes);
        let max_wg = gpu.limits.max_compute_workgroups_per_dimension.max(1) as u64;
        let misfit = if let Some(r) = fused::unsupported_reason(plan) {
            Some(format!("the step interpreter does not support {r}"))
        } else if let Some(bytes) = [arena_bytes, host_bytes, ring_bytes]
            .into_iter()
            .find(|&b| b > limit.min(u32::MAX as u64))
        {
            Some(format!(
                "a packed buffer needs {bytes} bytes, more than the {limit} bytes adapter {} allows per storage buffer",
                gpu.summary.name
            ))
        } else if gpu.limits.max_storage_buffers_per_shader_stage < fused::STORAGE_BINDINGS {
            Some(format!(
                "the step interpreter binds {} storage buffers but adapter {} allows {}",
                fused::STORAGE_BINDINGS,
                gpu.summary.name,
                gpu.limits.max_storage_buffers_per_shader_stage
            ))
        } else if gpu.limits.max_compute_invocations_per_workgroup < fused::FUSED_WG
            || gpu.limits.max_compute_workgroup_size_x < fused::FUSED_WG
        {
            Some(format!(
                "adapter {} runs fewer than {} invocations per workgroup",
                gpu.summary.name,
                fused::FUSED_WG
            ))
        } else if batch > max_wg * max_wg {
            Some(format!("batch {batch} needs too many workgroups"))
        } else {
            None
        };
        let use_fused = match (path, misfit) {
            (GpuPath::PerOp, _) => false,
            // Automatically only on hardware adapters (on llvmpipe the 8-step dispatches make
            // it slower than per-op) and for plans without probes and host inputs (Diehl & Cook
            // networks), 3-8x faster on an NVIDIA H200. Plans with probes are bit-identical
            // too, but their Simulator-level tests, run 16 at once on the H200, did not finish
            // in 30 s (one at a time they took under a second): not understood yet.
            (GpuPath::Auto, None) => !gpu.summary.software && fused::auto_eligible(plan),
            (GpuPath::Auto, Some(_)) => false,
            (GpuPath::Fused, None) => true,
            (GpuPath::Fused, Some(m)) => {
                return Err(backend_err(format!(
                    "the fused GPU path was requested ({}=fused or GpuPath::Fused) but {m}",
                    GpuPath::ENV
                )));
            }
        };

        // Where the arena holds a matrix presynaptic-major (see `FusedOptions`).
        let t_shape = if use_fused && options.presynaptic_major {
            crate::backend::cpu::presynaptic_major(plan)
        } else {
            vec![None; plan.buffers.len()]
        };
        let device = &gpu.device;
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let storage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC;
        let create = |label: &str, contents: &[f32]| {
            let one = [0.0f32];
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::cast_slice(if contents.is_empty() { &one } else { contents }),
                usage: storage,
            })
        };
        let empty = |label: &str, size: u64| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(4),
                usage: storage,
                mapped_at_creation: false,
            })
        };
        let (bufs, locs, host_bufs, host_locs, rings, ring_locs) = if use_fused {
            let mut data: Vec<f32> = Vec::with_capacity((arena_bytes / 4) as usize);
            for i in 0..plan.buffers.len() {
                data.extend(initial_data(plan, &t_shape, i));
            }
            (
                vec![create("arena", &data)],
                arena_offs.iter().map(|&o| (0, o)).collect(),
                vec![empty("host_values", host_bytes)],
                host_offs.iter().map(|&o| (0, o)).collect(),
                vec![empty("probe_rings", ring_bytes)],
                ring_offs.iter().map(|&o| (0, o)).collect(),
            )
        } else {
            let bufs: Vec<wgpu::Buffer> = plan
                .buffers
                .iter()
                .enumerate()
                .map(|(i, b)| create(&b.name, &initial_data(plan, &t_shape, i)))
                .collect();
            let each = |n: usize| (0..n).map(|i| (i, 0)).collect::<Vec<_>>();
            (
                bufs,
                each(plan.buffers.len()),
                host_sizes
                    .iter()
                    .map(|&s| empty("host_values", s))
                    .collect(),
                each(host_sizes.len()),
                ring_sizes.iter().map(|&s| empty("probe_ring", s)).collect(),
                each(ring_sizes.len()),
            )
        };
        let ctrl = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("ctrl"),
            size: ctrl_bytes,
            usage: storage,
            mapped_at_creation: false,
        });
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("probe_staging"),
            size: staging_size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if let Some(e) = pollster::block_on(oom.pop()) {
            return Err(backend_err(format!(
                "out of GPU memory allocating the plan's buffers on {}: {e}",
                gpu.summary.name
            )));
        }

        let mut backend = GpuBackend {
            plan: plan.clone(),
            t_shape: t_shape.clone(),
            gpu,
            bufs,
            locs,
            ctrl,
            host_bufs,
            host_locs,
            rings,
            ring_locs,
            fused: None,
            staging,
            pipelines: Vec::new(),
            step: Vec::new(),
            boundary: Vec::new(),
            advance: None,
            max_chunk,
            error,
            lose_device_at: std::env::var(LOSE_DEVICE_ENV)
                .ok()
                .and_then(|v| v.trim().parse().ok()),
        };
        if use_fused {
            let layout = fused::Layout {
                plan,
                t_shape: &t_shape,
                arena: &arena_offs.iter().map(|o| o / 4).collect::<Vec<_>>(),
                host: &host_offs.iter().map(|o| o / 4).collect::<Vec<_>>(),
                rings: &ring_offs.iter().map(|o| o / 4).collect::<Vec<_>>(),
                max_chunk,
            };
            backend.build_fused(&layout, fused_width)?;
        } else {
            backend.build_dispatches()?;
        }
        backend.check_error("loading the plan")?;
        Ok(backend)
    }

    /// The buffers the device holds presynaptic-major (see [`FusedOptions`]); reads and writes
    /// convert.
    pub fn presynaptic_major_buffers(&self) -> Vec<BufId> {
        crate::backend::cpu::shaped_buffers(&self.t_shape)
    }

    /// The path this backend runs on: [`GpuPath::Fused`] or [`GpuPath::PerOp`].
    pub fn path(&self) -> GpuPath {
        if self.fused.is_some() {
            GpuPath::Fused
        } else {
            GpuPath::PerOp
        }
    }

    /// The fused interpreter's invocations per workgroup (`None` on the per-op path).
    pub fn fused_width(&self) -> Option<u32> {
        self.fused.as_ref().map(|f| f.width)
    }

    /// Creates the step interpreter's pipeline, op descriptors and bind groups.
    fn build_fused(&mut self, layout: &fused::Layout, width: Option<u32>) -> Result<()> {
        let device = &self.gpu.device;
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut words = fused::descriptors(layout, &self.plan.step);
        words.extend(fused::descriptors(layout, &self.plan.boundary));
        if words.is_empty() {
            words.push(0);
        }
        let ops = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("fused_ops"),
            contents: bytemuck::cast_slice(&words),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let wg = fused::workgroup_size(
            &self.plan,
            &self.gpu.limits,
            self.gpu.summary.software,
            width,
        )?;
        let src = fused::with_workgroup_size(
            &kernel_source("fused_steps")
                .ok_or_else(|| backend_err("no kernel named fused_steps"))?,
            wg,
        );
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("fused_steps"),
            source: wgpu::ShaderSource::Wgsl(src.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("fused_steps"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let n_step = self.plan.step.len() as u32;
        let n_boundary = self.plan.boundary.len() as u32;
        let params = FusedParams {
            n_steps: 0,
            op_begin: 0,
            op_end: n_step,
            batch: self.plan.batch as u32,
            seed_lo: self.plan.seed as u32,
            seed_hi: (self.plan.seed >> 32) as u32,
            k_begin: 0,
            skip: fused::skip_from_env()?,
            per_instance: u32::from(self.plan.keying == crate::rng::Keying::PerInstance),
            ..Default::default()
        };
        let bind = |label: &str, p: &FusedParams| {
            let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::bytes_of(p),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            });
            let entries: Vec<wgpu::BindGroupEntry> = [
                &uniform,
                &ops,
                &self.ctrl,
                &self.host_bufs[0],
                &self.bufs[0],
                &self.rings[0],
            ]
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
            let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(label),
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
            (uniform, group)
        };
        let (step_params, step_bind) = bind("fused_steps", &params);
        let boundary_bind = (n_boundary > 0).then(|| {
            let p = FusedParams {
                n_steps: 1,
                op_begin: n_step,
                op_end: n_step + n_boundary,
                ..params
            };
            bind("fused_boundary", &p).1
        });
        let max = self.gpu.limits.max_compute_workgroups_per_dimension.max(1);
        let batch = (self.plan.batch as u32).max(1);
        let groups = if batch <= max {
            (batch, 1)
        } else {
            (max, batch.div_ceil(max))
        };
        self.fused = Some(FusedRun {
            pipeline,
            step_params,
            params,
            step_bind,
            boundary_bind,
            groups,
            width: wg,
        });
        if let Some(e) = pollster::block_on(validation.pop()) {
            return Err(backend_err(format!("fused kernel setup failed: {e}")));
        }
        Ok(())
    }

    fn groups(&self, total: u32) -> (u32, u32) {
        let wg = total.div_ceil(WG_SIZE).max(1);
        let max = self.gpu.limits.max_compute_workgroups_per_dimension.max(1);
        if wg <= max {
            (wg, 1)
        } else {
            (max, wg.div_ceil(max))
        }
    }

    fn build_dispatches(&mut self) -> Result<()> {
        let validation = self
            .gpu
            .device
            .push_error_scope(wgpu::ErrorFilter::Validation);
        let mut pipeline_index: HashMap<&'static str, usize> = HashMap::new();
        let mut pipelines = Vec::new();
        let mut get_pipeline = |name: &'static str,
                                device: &wgpu::Device,
                                pipelines: &mut Vec<wgpu::ComputePipeline>|
         -> Result<usize> {
            if let Some(&i) = pipeline_index.get(name) {
                return Ok(i);
            }
            let src = kernel_source(name)
                .ok_or_else(|| backend_err(format!("no kernel named {name}")))?;
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(src.into()),
            });
            pipelines.push(
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(name),
                    layout: None,
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                }),
            );
            pipeline_index.insert(name, pipelines.len() - 1);
            Ok(pipelines.len() - 1)
        };
        let batch = self.plan.batch as u32;
        let dt = self.plan.dt as f32;
        let (seed_lo, seed_hi) = (self.plan.seed as u32, (self.plan.seed >> 32) as u32);
        let per_instance = u32::from(self.plan.keying == crate::rng::Keying::PerInstance);
        let mut lists: [Vec<Dispatch>; 2] = [Vec::new(), Vec::new()];
        let all_ops: Vec<(usize, Op)> = self
            .plan
            .step
            .iter()
            .map(|o| (0, o.clone()))
            .chain(self.plan.boundary.iter().map(|o| (1, o.clone())))
            .collect();
        let max_storage = self.gpu.limits.max_storage_buffers_per_shader_stage as usize;
        for (list, op) in &all_ops {
            // Run by the host between the parts of a step (no dispatch; see `run_part`).
            if let Op::HostCall { .. } = op {
                continue;
            }
            let name = op.name();
            let pi = get_pipeline(name, &self.gpu.device, &mut pipelines)?;
            let blen = |id: &BufId| self.plan.buffers[id.0].len as u32;
            // Per-instance stride of a buffer holding `per_instance` values: 0 when shared.
            let stride = |id: &BufId, per_instance: u32| {
                if self.plan.buffers[id.0].batched() {
                    per_instance
                } else {
                    0
                }
            };
            let (params, bindings): (Vec<u8>, Vec<&wgpu::Buffer>) = match op {
                Op::Zero { dst } => (p4(blen(dst) * batch, 0, 0, 0), vec![&self.bufs[dst.0]]),
                Op::Broadcast { src, dst } => (
                    p4(blen(dst) * batch, blen(src), 0, 0),
                    vec![&self.bufs[src.0], &self.bufs[dst.0]],
                ),
                Op::HostInput { slot, dst } => (
                    p4(blen(dst) * batch, 0, 0, 0),
                    vec![&self.ctrl, &self.host_bufs[*slot], &self.bufs[dst.0]],
                ),
                Op::PoissonSpikes { rates, out, stream } => (
                    p8([
                        blen(out) * batch,
                        blen(rates),
                        *stream,
                        f(dt),
                        seed_lo,
                        seed_hi,
                        per_instance,
                        0,
                    ]),
                    vec![&self.ctrl, &self.bufs[rates.0], &self.bufs[out.0]],
                ),
                Op::UniformNoise {
                    low,
                    high,
                    out,
                    stream,
                } => (
                    p8([
                        blen(out) * batch,
                        *stream,
                        f(*low),
                        f(*high),
                        seed_lo,
                        seed_hi,
                        blen(out),
                        per_instance,
                    ]),
                    vec![&self.ctrl, &self.bufs[out.0]],
                ),
                Op::AddInc { x, y } => (
                    p4(blen(y) * batch, 0, 0, 0),
                    vec![&self.bufs[x.0], &self.bufs[y.0]],
                ),
                Op::ScaleInc { s, x, y } => (
                    p4(blen(y) * batch, blen(s), 0, 0),
                    vec![&self.bufs[s.0], &self.bufs[x.0], &self.bufs[y.0]],
                ),
                Op::MatVecInc {
                    m,
                    rows,
                    cols,
                    x,
                    y,
                    scale,
                } => {
                    let m_stride = if self.plan.buffers[m.0].batched() {
                        (*rows * *cols) as u32
                    } else {
                        0
                    };
                    (
                        p8([
                            *rows as u32 * batch,
                            *rows as u32,
                            *cols as u32,
                            f(*scale),
                            m_stride,
                            0,
                            0,
                            0,
                        ]),
                        vec![&self.bufs[m.0], &self.bufs[x.0], &self.bufs[y.0]],
                    )
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
                } => (
                    p8([
                        *rows as u32 * batch,
                        *rows as u32,
                        *cols as u32,
                        f(*scale),
                        stride(w, blen(indices)),
                        0,
                        0,
                        0,
                    ]),
                    vec![
                        &self.bufs[indptr.0],
                        &self.bufs[indices.0],
                        &self.bufs[w.0],
                        &self.bufs[x.0],
                        &self.bufs[y.0],
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
                } => (
                    p8([
                        *rows as u32 * batch,
                        *rows as u32,
                        *cols as u32,
                        stride(m, (*rows * *cols) as u32),
                        *slots as u32,
                        0,
                        0,
                        0,
                    ]),
                    vec![
                        &self.ctrl,
                        &self.bufs[m.0],
                        &self.bufs[delays.0],
                        &self.bufs[x.0],
                        &self.bufs[ring.0],
                    ],
                ),
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
                } => (
                    p8([
                        *rows as u32 * batch,
                        *rows as u32,
                        *cols as u32,
                        stride(w, blen(indices)),
                        *slots as u32,
                        0,
                        0,
                        0,
                    ]),
                    vec![
                        &self.ctrl,
                        &self.bufs[indptr.0],
                        &self.bufs[indices.0],
                        &self.bufs[w.0],
                        &self.bufs[delays.0],
                        &self.bufs[x.0],
                        &self.bufs[ring.0],
                    ],
                ),
                Op::DelayWrite {
                    x,
                    ring,
                    slots,
                    delay,
                } => (
                    p4(blen(x) * batch, blen(x), *slots as u32, *delay as u32),
                    vec![&self.ctrl, &self.bufs[x.0], &self.bufs[ring.0]],
                ),
                Op::DelayRead {
                    ring,
                    slots,
                    y,
                    scale,
                } => (
                    p4(blen(y) * batch, blen(y), *slots as u32, f(*scale)),
                    vec![&self.ctrl, &self.bufs[ring.0], &self.bufs[y.0]],
                ),
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
                } => (
                    stdp_params(rule, *rows, *cols, batch, stride(w, blen(indices))),
                    vec![
                        &self.bufs[pre.0],
                        &self.bufs[post.0],
                        &self.bufs[traces[0].0],
                        &self.bufs[traces[1].0],
                        &self.bufs[traces[2].0],
                        &self.bufs[traces[3].0],
                        &self.bufs[learn.0],
                        &self.bufs[indptr.0],
                        &self.bufs[indices.0],
                        &self.bufs[w.0],
                    ],
                ),
                Op::ArrivalMatVecInc {
                    m,
                    delays,
                    rows,
                    cols,
                    hist,
                    slots,
                    y,
                    scale,
                } => (
                    p8([
                        *rows as u32 * batch,
                        *rows as u32,
                        *cols as u32,
                        stride(m, (*rows * *cols) as u32),
                        *slots as u32,
                        f(*scale),
                        0,
                        0,
                    ]),
                    vec![
                        &self.ctrl,
                        &self.bufs[m.0],
                        &self.bufs[delays.0],
                        &self.bufs[hist.0],
                        &self.bufs[y.0],
                    ],
                ),
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
                } => (
                    p8([
                        *rows as u32 * batch,
                        *rows as u32,
                        *cols as u32,
                        stride(w, blen(indices)),
                        *slots as u32,
                        f(*scale),
                        0,
                        0,
                    ]),
                    vec![
                        &self.ctrl,
                        &self.bufs[indptr.0],
                        &self.bufs[indices.0],
                        &self.bufs[w.0],
                        &self.bufs[delays.0],
                        &self.bufs[hist.0],
                        &self.bufs[y.0],
                    ],
                ),
                Op::PreHistory {
                    pre,
                    r1,
                    r2,
                    hist,
                    cols,
                    slots,
                } => (
                    p4(*cols as u32 * batch, *cols as u32, *slots as u32, 0),
                    vec![
                        &self.ctrl,
                        &self.bufs[pre.0],
                        &self.bufs[r1.0],
                        &self.bufs[r2.0],
                        &self.bufs[hist.0],
                    ],
                ),
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
                } => (
                    stdp_params_with(
                        rule,
                        *rows,
                        *cols,
                        batch,
                        [stride(w, (*rows * *cols) as u32), *slots as u32],
                    ),
                    vec![
                        &self.ctrl,
                        &self.bufs[delays.0],
                        &self.bufs[hist.0],
                        &self.bufs[post.0],
                        &self.bufs[post_traces[0].0],
                        &self.bufs[post_traces[1].0],
                        &self.bufs[learn.0],
                        &self.bufs[w.0],
                    ],
                ),
                Op::StdpSparseDelayed {
                    rule,
                    indptr,
                    indices,
                    w,
                    delays,
                    rows,
                    cols,
                    hist,
                    slots,
                    post,
                    post_traces,
                    learn,
                } => (
                    stdp_params_with(
                        rule,
                        *rows,
                        *cols,
                        batch,
                        [stride(w, blen(indices)), *slots as u32],
                    ),
                    vec![
                        &self.ctrl,
                        &self.bufs[indptr.0],
                        &self.bufs[indices.0],
                        &self.bufs[delays.0],
                        &self.bufs[hist.0],
                        &self.bufs[post.0],
                        &self.bufs[post_traces[0].0],
                        &self.bufs[post_traces[1].0],
                        &self.bufs[learn.0],
                        &self.bufs[w.0],
                    ],
                ),
                Op::NormalizeRowsSparse {
                    indptr,
                    w,
                    rows,
                    target,
                } => {
                    let copies = if self.plan.buffers[w.0].batched() {
                        batch
                    } else {
                        1
                    };
                    (
                        p4(
                            *rows as u32 * copies,
                            *rows as u32,
                            f(*target),
                            stride(w, blen(w)),
                        ),
                        vec![&self.bufs[indptr.0], &self.bufs[w.0]],
                    )
                }
                Op::AllButSelfInc { s, x, y } => (
                    p4(blen(y) * batch, blen(s), 0, 0),
                    vec![&self.bufs[s.0], &self.bufs[x.0], &self.bufs[y.0]],
                ),
                Op::Stdp {
                    rule,
                    w,
                    rows,
                    cols,
                    pre,
                    post,
                    traces,
                    learn,
                } => (
                    stdp_params(rule, *rows, *cols, batch, 0),
                    vec![
                        &self.bufs[pre.0],
                        &self.bufs[post.0],
                        &self.bufs[traces[0].0],
                        &self.bufs[traces[1].0],
                        &self.bufs[traces[2].0],
                        &self.bufs[traces[3].0],
                        &self.bufs[learn.0],
                        &self.bufs[w.0],
                    ],
                ),
                Op::Pes {
                    alpha,
                    rows,
                    cols,
                    error,
                    pre,
                    delta,
                    learn,
                } => (
                    learn_params(batch, *rows, *cols, *alpha, 0.0),
                    vec![
                        &self.bufs[error.0],
                        &self.bufs[pre.0],
                        &self.bufs[learn.0],
                        &self.bufs[delta.0],
                    ],
                ),
                Op::Bcm {
                    alpha,
                    rows,
                    cols,
                    pre,
                    post,
                    theta,
                    delta,
                    learn,
                } => (
                    learn_params(batch, *rows, *cols, *alpha, 0.0),
                    vec![
                        &self.bufs[pre.0],
                        &self.bufs[post.0],
                        &self.bufs[theta.0],
                        &self.bufs[learn.0],
                        &self.bufs[delta.0],
                    ],
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
                    learn,
                } => (
                    learn_params(batch, *rows, *cols, *alpha, *beta),
                    vec![
                        &self.bufs[pre.0],
                        &self.bufs[post.0],
                        &self.bufs[w.0],
                        &self.bufs[learn.0],
                        &self.bufs[delta.0],
                    ],
                ),
                Op::Trace {
                    x,
                    spikes,
                    decay,
                    nearest,
                } => (
                    p4(blen(x) * batch, f(*decay), *nearest as u32, 0),
                    vec![&self.bufs[spikes.0], &self.bufs[x.0]],
                ),
                Op::NormalizeRows {
                    w,
                    rows,
                    cols,
                    target,
                } => {
                    let copies = if self.plan.buffers[w.0].batched() {
                        batch
                    } else {
                        1
                    };
                    (
                        p4(*rows as u32 * copies, *cols as u32, f(*target), 0),
                        vec![&self.bufs[w.0]],
                    )
                }
                Op::Neurons {
                    neuron,
                    n,
                    j,
                    out,
                    state,
                    learn,
                } => {
                    let total = *n as u32 * batch;
                    let mut b = match (neuron, learn) {
                        // diehl_cook reads no current; it reads the learning switch instead.
                        (NeuronType::DiehlCook(_), Some(l)) => {
                            vec![&self.bufs[l.0], &self.bufs[out.0]]
                        }
                        (NeuronType::DiehlCook(_), None) => {
                            return Err(backend_err("diehl_cook op without a learning switch"));
                        }
                        _ => vec![&self.bufs[j.0], &self.bufs[out.0]],
                    };
                    b.extend(state.iter().map(|s| &self.bufs[s.0]));
                    let params = match neuron {
                        NeuronType::Lif(l) | NeuronType::LifRate(l) => {
                            lif_params(total, dt, l, 1.0, 0.0)
                        }
                        NeuronType::AdaptiveLif { lif, tau_n, inc_n } => {
                            lif_params(total, dt, lif, *tau_n as f32, *inc_n as f32)
                        }
                        NeuronType::SpikingRectifiedLinear { amplitude }
                        | NeuronType::RectifiedLinear { amplitude } => {
                            p4(total, f(dt), f(*amplitude as f32), 0)
                        }
                        NeuronType::Izhikevich {
                            tau_recovery,
                            coupling,
                            reset_voltage,
                            reset_recovery,
                        } => bytemuck::bytes_of(&IzhParams {
                            total,
                            dt,
                            a: *tau_recovery as f32,
                            b: *coupling as f32,
                            c: *reset_voltage as f32,
                            d: *reset_recovery as f32,
                            _p0: 0,
                            _p1: 0,
                        })
                        .to_vec(),
                        NeuronType::DiehlCook(p) => {
                            let c = crate::backend::cpu::DcConsts::new(p, self.plan.dt);
                            let mut words = vec![total];
                            words.extend(c.values().map(f));
                            words.push(0);
                            bytemuck::cast_slice(&words).to_vec()
                        }
                    };
                    (params, b)
                }
                Op::Lowpass { a, x, y } => (
                    p4(blen(y) * batch, f(*a), 0, 0),
                    vec![&self.bufs[x.0], &self.bufs[y.0]],
                ),
                Op::Alpha { a, c1, c2, x, z, y } => (
                    p4(blen(y) * batch, f(*a), f(*c1), f(*c2)),
                    vec![&self.bufs[x.0], &self.bufs[z.0], &self.bufs[y.0]],
                ),
                Op::HostCall { .. } => unreachable!("host calls have no dispatch (skipped above)"),
                Op::Probe { probe, src, .. } => {
                    let slot = self
                        .plan
                        .probes
                        .iter()
                        .position(|p| p.probe == *probe)
                        .ok_or_else(|| backend_err(format!("probe {probe} has no slot")))?;
                    (
                        p4(
                            blen(src) * batch,
                            sample_table_at(slot, self.max_chunk) as u32,
                            0,
                            0,
                        ),
                        vec![&self.ctrl, &self.bufs[src.0], &self.rings[slot]],
                    )
                }
            };
            if bindings.len() > max_storage {
                return Err(backend_err(format!(
                    "kernel {name} needs {} storage buffers but adapter {} allows {max_storage} per shader stage",
                    bindings.len(),
                    self.gpu.summary.name
                )));
            }
            let total = u32::from_le_bytes([params[0], params[1], params[2], params[3]]);
            let bind_group = self.bind(&pipelines[pi], name, &params, &bindings);
            lists[*list].push(Dispatch {
                pipeline: pi,
                bind_group,
                groups: self.groups(total),
            });
        }
        let pi = get_pipeline("advance_step", &self.gpu.device, &mut pipelines)?;
        let layout = pipelines[pi].get_bind_group_layout(0);
        let bind_group = self
            .gpu
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("advance_step"),
                layout: &layout,
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: self.ctrl.as_entire_binding(),
                }],
            });
        self.advance = Some(Dispatch {
            pipeline: pi,
            bind_group,
            groups: (1, 1),
        });
        let [step, boundary] = lists;
        self.step = step;
        self.boundary = boundary;
        self.pipelines = pipelines;
        if let Some(e) = pollster::block_on(validation.pop()) {
            return Err(backend_err(format!("kernel setup failed: {e}")));
        }
        Ok(())
    }

    fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        name: &str,
        params: &[u8],
        storage: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let uniform = self
            .gpu
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(name),
                contents: params,
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        for (i, b) in storage.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: b.as_entire_binding(),
            });
        }
        let layout = pipeline.get_bind_group_layout(0);
        self.gpu
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(name),
                layout: &layout,
                entries: &entries,
            })
    }

    fn check_error(&self, during: &str) -> Result<()> {
        let slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(e) => Err(backend_err(format!(
                "GPU error while {during} on {}: {e}",
                self.gpu.summary.name
            ))),
            None => Ok(()),
        }
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.gpu.summary
    }

    /// Runs `n` steps from `first_step`, or, with `part`, only the step ops `part` of the one
    /// step `first_step` (`n` = 1; see [`Backend::run_part`]): a part that starts at op 0
    /// uploads the step's node values and parameters, one that ends at the last op advances
    /// the step and reads the probes back.
    fn run_chunk(
        &mut self,
        first_step: u64,
        n: usize,
        host: &HostInputs,
        host_offset: usize,
        records: &mut ProbeRecords,
        part: Option<std::ops::Range<usize>>,
    ) -> Result<()> {
        let batch = self.plan.batch;
        let queue = &self.gpu.queue;
        let starts = part.as_ref().is_none_or(|r| r.start == 0);
        let ends = part.as_ref().is_none_or(|r| r.end == self.plan.step.len());
        // The dispatches of the part's ops (`host_call` ops have none).
        let dispatches = match &part {
            None => 0..self.step.len(),
            Some(r) => {
                let calls_before = |i: usize| {
                    self.plan.step[..i]
                        .iter()
                        .filter(|op| matches!(op, Op::HostCall { .. }))
                        .count()
                };
                r.start - calls_before(r.start)..r.end - calls_before(r.end)
            }
        };
        // The step's node values, uploaded by the part that starts it.
        let uploads = if starts {
            self.plan.host_inputs.len()
        } else {
            0
        };
        for (i, slot) in self.plan.host_inputs.iter().enumerate().take(uploads) {
            let per_step = slot.size * batch;
            let src = &host.values[i][host_offset * per_step..(host_offset + n) * per_step];
            if !src.is_empty() {
                let (b, off) = self.host_locs[i];
                queue.write_buffer(&self.host_bufs[b], off, bytemuck::cast_slice(src));
            }
        }
        let ctrl = [0u32, first_step as u32, (first_step >> 32) as u32];
        let mut table = Vec::new();
        let mut counts = Vec::with_capacity(self.plan.probes.len());
        if starts {
            queue.write_buffer(&self.ctrl, 0, bytemuck::cast_slice(&ctrl));
        }
        for (slot, p) in self.plan.probes.iter().enumerate() {
            if p.sampling == Sampling::NEVER {
                // Read another way (spike counts): no probe op reads its table.
                counts.push(0);
                continue;
            }
            counts.push(sample_table(p.sampling, first_step, n, &mut table));
            if starts {
                let at = 4 * sample_table_at(slot, self.max_chunk);
                queue.write_buffer(&self.ctrl, at, bytemuck::cast_slice(&table));
            }
        }
        // The fused path runs the chunk in one dispatch, except on software adapters: llvmpipe
        // ends every loop of an invocation after 65,535 iterations in all (Mesa gallivm's
        // LP_MAX_TGSI_LOOP_ITERATIONS, shared by all loops of a shader), silently, so there a
        // chunk goes in dispatches of SOFTWARE_FUSED_STEPS steps, one submission each (each
        // needs its own parameters).
        let mut k_begin = 0usize;
        if let Some(fr) = &self.fused
            && self.gpu.summary.software
        {
            while n - k_begin > SOFTWARE_FUSED_STEPS {
                let mut enc = self.gpu.device.create_command_encoder(&Default::default());
                fr.dispatch(
                    queue,
                    &mut enc.begin_compute_pass(&Default::default()),
                    k_begin,
                    SOFTWARE_FUSED_STEPS,
                );
                queue.submit(Some(enc.finish()));
                k_begin += SOFTWARE_FUSED_STEPS;
            }
        }
        let mut enc = self
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("chunk"),
            });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("steps"),
                timestamp_writes: None,
            });
            if let Some(fr) = &self.fused {
                fr.dispatch(queue, &mut pass, k_begin, n - k_begin);
            } else {
                let advance = self.advance.iter().filter(|_| ends);
                for _ in 0..n {
                    for d in self.step[dispatches.clone()].iter().chain(advance.clone()) {
                        pass.set_pipeline(&self.pipelines[d.pipeline]);
                        pass.set_bind_group(0, &d.bind_group, &[]);
                        pass.dispatch_workgroups(d.groups.0, d.groups.1, 1);
                    }
                }
            }
        }
        if !ends {
            // The host reads what it needs with `read`, which waits for this submission.
            queue.submit(Some(enc.finish()));
            return self.check_error("running part of a step");
        }
        let mut offsets = Vec::new();
        let mut off = 0u64;
        for ((p, &(ring, ring_off)), &count) in
            self.plan.probes.iter().zip(&self.ring_locs).zip(&counts)
        {
            let bytes = (count * batch * p.len * 4) as u64;
            if bytes > 0 {
                enc.copy_buffer_to_buffer(&self.rings[ring], ring_off, &self.staging, off, bytes);
            }
            offsets.push((off, bytes));
            off += bytes;
        }
        queue.submit(Some(enc.finish()));
        if off > 0 {
            let slice = self.staging.slice(0..off);
            let (tx, rx) = std::sync::mpsc::channel();
            slice.map_async(wgpu::MapMode::Read, move |r| {
                let _ = tx.send(r);
            });
            self.gpu
                .device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| backend_err(format!("waiting for the GPU failed: {e}")))?;
            self.check_error("running a chunk of steps")?;
            rx.recv()
                .map_err(|_| backend_err("probe readback was cancelled"))?
                .map_err(|e| backend_err(format!("probe readback failed: {e}")))?;
            {
                let data = slice
                    .get_mapped_range()
                    .map_err(|e| backend_err(format!("probe readback failed: {e}")))?;
                let floats: &[f32] = bytemuck::cast_slice(&data);
                if records.values.len() < self.plan.probes.len() {
                    records.values.resize(self.plan.probes.len(), Vec::new());
                }
                for (i, &(o, bytes)) in offsets.iter().enumerate() {
                    let (a, b) = ((o / 4) as usize, ((o + bytes) / 4) as usize);
                    records.values[i].extend_from_slice(&floats[a..b]);
                }
            }
            self.staging.unmap();
        } else {
            self.gpu
                .device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| backend_err(format!("waiting for the GPU failed: {e}")))?;
        }
        self.check_error("running a chunk of steps")
    }
}

/// Words of ctrl before probe slot `slot`'s sample table (the step counter, the chunk's first
/// step, and the tables of the slots before it), for chunks of up to `max_chunk` steps.
pub(crate) fn sample_table_at(slot: usize, max_chunk: usize) -> u64 {
    (slot as u64)
        .saturating_mul(2 * max_chunk.div_ceil(32) as u64)
        .saturating_add(3)
}

/// Fills `table` with a probe's sample table for the `n` steps from `first_step` (see
/// `shaders/common/probe_sample.wgsl`, its twin) and returns how many samples the chunk
/// records: per 32 steps, the bits of the steps that record ([`Sampling::records`], the CPU
/// backend's rule) and the samples before them.
fn sample_table(sampling: Sampling, first_step: u64, n: usize, table: &mut Vec<u32>) -> usize {
    table.clear();
    let mut count = 0;
    for w in 0..n.div_ceil(32) {
        let mut bits = 0u32;
        for (i, k) in (w * 32..(w * 32 + 32).min(n)).enumerate() {
            if sampling.records(first_step + k as u64 + 1) {
                bits |= 1 << i;
            }
        }
        table.extend([bits, count as u32]);
        count += bits.count_ones() as usize;
    }
    count
}

/// The 16-word parameters of `stdp` and `stdp_sparse` (twin: `Params` in `shaders/stdp.wgsl`);
/// word 14 is the sparse kernel's weight stride per instance (0 for dense).
fn stdp_params(rule: &StdpConsts, rows: usize, cols: usize, batch: u32, word14: u32) -> Vec<u8> {
    stdp_params_with(rule, rows, cols, batch, [word14, 0])
}

/// The 16 words of the STDP kernels' `Params`, with the kernel's own last two words.
fn stdp_params_with(
    rule: &StdpConsts,
    rows: usize,
    cols: usize,
    batch: u32,
    last: [u32; 2],
) -> Vec<u8> {
    let mut words = vec![rows as u32 * batch, rows as u32, cols as u32, rule.flags()];
    words.extend(rule.values().map(f));
    words.extend(last);
    bytemuck::cast_slice(&words).to_vec()
}

fn p8(words: [u32; 8]) -> Vec<u8> {
    bytemuck::cast_slice(&words).to_vec()
}

fn p4(total: u32, w1: u32, w2: u32, w3: u32) -> Vec<u8> {
    bytemuck::bytes_of(&Params4 { total, w1, w2, w3 }).to_vec()
}

fn learn_params(batch: u32, rows: usize, cols: usize, alpha: f32, beta: f32) -> Vec<u8> {
    bytemuck::bytes_of(&LearnParams {
        total: batch * (rows * cols) as u32,
        rows: rows as u32,
        cols: cols as u32,
        alpha,
        beta,
        _p0: 0,
        _p1: 0,
        _p2: 0,
    })
    .to_vec()
}

fn lif_params(total: u32, dt: f32, l: &crate::model::LifParams, tau_n: f32, inc_n: f32) -> Vec<u8> {
    bytemuck::bytes_of(&LifParams {
        total,
        dt,
        tau_rc: l.tau_rc as f32,
        tau_ref: l.tau_ref as f32,
        min_voltage: l.min_voltage_f32(),
        amplitude: l.amplitude as f32,
        tau_n,
        inc_n,
    })
    .to_vec()
}

impl Backend for GpuBackend {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn device(&self) -> String {
        format!(
            "{} ({}, {}, {})",
            self.gpu.summary.name,
            self.gpu.summary.backend,
            self.gpu.summary.device_type,
            if self.fused.is_some() {
                "fused"
            } else {
                "per-op"
            }
        )
    }

    fn run(
        &mut self,
        first_step: u64,
        n_steps: usize,
        host: &HostInputs,
        records: &mut ProbeRecords,
    ) -> Result<()> {
        if self.plan.has_host_calls() {
            return Err(crate::backend::whole_steps_refused("gpu"));
        }
        let mut done = 0;
        while done < n_steps {
            let n = (n_steps - done).min(self.max_chunk);
            if let Some(at) = self.lose_device_at
                && first_step + (done + n) as u64 > at
            {
                self.gpu.device.destroy();
            }
            self.run_chunk(first_step + done as u64, n, host, done, records, None)?;
            done += n;
        }
        Ok(())
    }

    fn run_part(
        &mut self,
        step: u64,
        ops: std::ops::Range<usize>,
        host: &HostInputs,
        records: &mut ProbeRecords,
    ) -> Result<()> {
        if self.fused.is_some() {
            return Err(backend_err(
                "the fused path runs whole steps; a plan with host calls runs per op",
            ));
        }
        self.run_chunk(step, 1, host, 0, records, Some(ops))
    }

    fn reset(&mut self) -> Result<()> {
        for (i, (b, &(buf, off))) in self.plan.buffers.iter().zip(&self.locs).enumerate() {
            if b.batched() {
                let data = initial_data(&self.plan, &self.t_shape, i);
                if !data.is_empty() {
                    self.gpu
                        .queue
                        .write_buffer(&self.bufs[buf], off, bytemuck::cast_slice(&data));
                }
            }
        }
        self.gpu.queue.submit(None);
        self.check_error("resetting")
    }

    fn write(&mut self, buf: BufId, data: &[f32]) -> Result<()> {
        self.plan.check_write(buf, data)?;
        if !data.is_empty() {
            let data = to_device_layout(self.t_shape[buf.0], data);
            let (b, off) = self.locs[buf.0];
            self.gpu
                .queue
                .write_buffer(&self.bufs[b], off, bytemuck::cast_slice(&data));
        }
        self.gpu.queue.submit(None);
        self.check_error("writing a buffer")
    }

    fn boundary(&mut self) -> Result<()> {
        if self.plan.boundary.is_empty() {
            return Ok(());
        }
        let mut enc = self
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("boundary"),
            });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("boundary"),
                timestamp_writes: None,
            });
            if let Some((fr, bind)) = self
                .fused
                .as_ref()
                .and_then(|fr| fr.boundary_bind.as_ref().map(|b| (fr, b)))
            {
                pass.set_pipeline(&fr.pipeline);
                pass.set_bind_group(0, bind, &[]);
                pass.dispatch_workgroups(fr.groups.0, fr.groups.1, 1);
            }
            for d in &self.boundary {
                pass.set_pipeline(&self.pipelines[d.pipeline]);
                pass.set_bind_group(0, &d.bind_group, &[]);
                pass.dispatch_workgroups(d.groups.0, d.groups.1, 1);
            }
        }
        self.gpu.queue.submit(Some(enc.finish()));
        self.check_error("running boundary ops")
    }

    fn read(&mut self, buf: BufId) -> Result<Vec<f32>> {
        let b = self
            .plan
            .buffers
            .get(buf.0)
            .ok_or_else(|| Error::Other(format!("no buffer {buf} in this plan")))?;
        let copies = if b.batched() { self.plan.batch } else { 1 };
        let bytes = (b.len * copies * 4) as u64;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let staging = self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read"),
            size: bytes.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        let (src, off) = self.locs[buf.0];
        enc.copy_buffer_to_buffer(&self.bufs[src], off, &staging, 0, bytes);
        self.gpu.queue.submit(Some(enc.finish()));
        let slice = staging.slice(0..bytes);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.gpu
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| backend_err(format!("waiting for the GPU failed: {e}")))?;
        rx.recv()
            .map_err(|_| backend_err("readback was cancelled"))?
            .map_err(|e| backend_err(format!("readback failed: {e}")))?;
        let out = bytemuck::cast_slice::<u8, f32>(
            &slice
                .get_mapped_range()
                .map_err(|e| backend_err(format!("readback failed: {e}")))?,
        )
        .to_vec();
        staging.unmap();
        self.check_error("reading a buffer")?;
        Ok(match self.t_shape[buf.0] {
            Some((rows, cols)) => crate::backend::cpu::transpose_blocks(&out, rows, cols, true),
            None => out,
        })
    }
}
