//! Backends run a [`Plan`](crate::compile::Plan). `cpu` is the reference that defines what every
//! op computes.

pub mod cpu;
pub mod expf;
pub mod gpu;
pub mod simd;

use crate::compile::BufId;
use crate::error::Result;

/// Node values for a chunk of steps, one vector per host-input slot, laid out
/// `[step][instance][size]`.
#[derive(Clone, Debug, Default)]
pub struct HostInputs {
    /// One entry per [`HostInputSlot`](crate::compile::HostInputSlot), in plan order.
    pub values: Vec<Vec<f32>>,
}

/// Probe samples collected during a chunk, one vector per probe, laid out
/// `[sample][instance][len]`.
#[derive(Clone, Debug, Default)]
pub struct ProbeRecords {
    /// Samples per probe, in plan order.
    pub values: Vec<Vec<f32>>,
}

/// The error of [`Backend::run`] for a plan whose steps the host must interrupt.
pub(crate) fn whole_steps_refused(backend: &str) -> crate::error::Error {
    crate::error::Error::Backend {
        backend: backend.into(),
        reason: "the plan has host_call ops (nodes with an input function): its steps run in \
                  parts, with the host's calls between them (Simulator::run does this)"
            .into(),
    }
}

/// What every backend can do with a plan.
pub trait Backend {
    /// Short name: `cpu` or `gpu`.
    fn name(&self) -> &'static str;
    /// The device it runs on (CPU model or GPU adapter name).
    fn device(&self) -> String;
    /// Runs `n_steps` steps starting at absolute step `first_step`, reading node values from
    /// `host` and appending probe samples to `records`. A plan with host calls is refused: its
    /// steps run in parts ([`Backend::run_part`]).
    fn run(
        &mut self,
        first_step: u64,
        n_steps: usize,
        host: &HostInputs,
        records: &mut ProbeRecords,
    ) -> Result<()>;
    /// Runs only the step ops `ops` (a range of [`Plan::step`](crate::compile::Plan::step)) of
    /// absolute step `step`, reading node values from `host` (one step's values): a part of a
    /// step that the host interrupts to evaluate a node's input function
    /// ([`Op::HostCall`](crate::compile::Op::HostCall), which no backend runs). The part that
    /// ends at the last op finishes the step (probe samples appended to `records`).
    fn run_part(
        &mut self,
        step: u64,
        ops: std::ops::Range<usize>,
        host: &HostInputs,
        records: &mut ProbeRecords,
    ) -> Result<()>;
    /// Restores every state buffer to its initial value.
    fn reset(&mut self) -> Result<()>;
    /// Reads a whole buffer (all instances).
    fn read(&mut self, buf: BufId) -> Result<Vec<f32>>;
    /// Overwrites a whole buffer (all instances; `data` has the buffer's full length), after
    /// [`crate::compile::Plan::check_write`]: nothing is written when it refuses.
    fn write(&mut self, buf: BufId, data: &[f32]) -> Result<()>;
    /// Runs the plan's presentation-boundary ops once (weight normalisation).
    fn boundary(&mut self) -> Result<()>;
}
