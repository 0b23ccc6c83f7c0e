//! Unsupervised MNIST learning with the Diehl & Cook (2015) network: training with STDP, lateral
//! inhibition and adaptive thresholds, label assignment, evaluation, checkpoints and reports.
//!
//! Everything here is built on the public simulator API and the protocol primitives in
//! [`protocol`]; the CLI (`volley mnist train|eval`) is a thin layer over [`train`] and
//! [`evaluate`].

pub mod checkpoint;
pub mod labels;
pub mod protocol;
pub mod report;

use crate::data::{Dataset, Split};
use crate::error::{Error, Result};
use crate::networks::{DiehlCook, DiehlCookConfig, diehl_cook};
use crate::sim::{BackendChoice, SimConfig, Simulator};
use labels::{Assignments, assign_labels, predict_all_activity};
use ndarray::Array2;
use protocol::{Protocol, Wiring, present};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Number of classes.
pub const N_CLASSES: usize = 10;

/// Everything that defines a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// The network's constants (neurons, weights, STDP).
    pub network: DiehlCookConfig,
    /// The presentation protocol.
    pub protocol: Protocol,
    /// Seed of the initial weights and of every random draw of the simulation.
    pub seed: u64,
    /// Training images per epoch (taken in order from the training set).
    pub train_images: usize,
    /// Epochs.
    pub epochs: usize,
    /// Backend.
    pub backend: BackendChoice,
    /// Write a checkpoint every this many images (0: only at the end).
    pub checkpoint_every: usize,
    /// Running accuracy: assignments are recomputed every this many images from the last
    /// `2 * update_interval` images' responses, and accuracy is over the last `update_interval`.
    pub update_interval: usize,
    /// Check every state variable, weight and threshold for NaN/Inf after every presentation
    /// (the run stops with [`Error::NonFinite`] before anything non-finite is saved).
    pub check_finite: bool,
}

impl TrainConfig {
    /// Checks every setting.
    pub fn validate(&self) -> Result<()> {
        let o = "mnist train";
        for (name, v) in [
            ("neurons", self.network.n_exc),
            ("train-images", self.train_images),
            ("epochs", self.epochs),
            ("update-interval", self.update_interval),
        ] {
            if v == 0 {
                return Err(Error::invalid(o, name, 0, "an integer >= 1"));
            }
        }
        if self.train_images.checked_mul(self.epochs).is_none() {
            return Err(Error::invalid(
                o,
                "epochs",
                self.epochs,
                format!(
                    "at most {} with --train-images {} (images presented in all must fit in {} bits)",
                    usize::MAX / self.train_images,
                    self.train_images,
                    usize::BITS
                ),
            ));
        }
        self.protocol.validate()
    }

    /// Images presented in all: `train_images * epochs` (checked by `validate`).
    pub fn total_images(&self) -> usize {
        self.train_images.saturating_mul(self.epochs)
    }

    /// A string that changes when anything that affects the learned weights changes; a resumed
    /// run must have the same.
    fn fingerprint(&self) -> String {
        format!(
            "{:?}|{:?}|seed={}|train_images={}",
            self.network, self.protocol, self.seed, self.train_images
        )
    }
}

/// Training progress, saved in checkpoints.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainState {
    /// Fingerprint of the configuration.
    pub fingerprint: String,
    /// Excitatory neurons.
    pub n_exc: usize,
    /// Per-synapse delays on the input connection, drawn from `[min, max]` seconds (`None`: none);
    /// evaluation rebuilds the network with the same delays.
    #[serde(default)]
    pub input_delays: Option<(f64, f64)>,
    /// The excitatory neurons' shortest time between spikes (s, see
    /// [`crate::model::DcParams::min_interval`]); evaluation rebuilds the network with it.
    /// Checkpoints written before it existed had no such gate, hence the default 0.
    #[serde(default)]
    pub exc_min_interval: f64,
    /// The excitatory neurons' threshold offset (mV, see
    /// [`crate::model::DcParams::theta_offset`]); evaluation rebuilds the network with it.
    /// Checkpoints that lack it are read with the offset their fingerprint records, else
    /// Diehl & Cook's 20 mV (checkpoints from before `DcParams::theta_offset`).
    #[serde(default = "code_theta_offset")]
    pub exc_theta_offset: f64,
    /// Images to present in all (train_images x epochs).
    pub total_images: usize,
    /// Images presented so far.
    pub images_done: usize,
    /// Presentations so far, repeats included.
    pub presentations: u64,
    /// Recent (label, spike counts) for running label assignment.
    pub window: Vec<(u8, Vec<u16>)>,
    /// Current running assignments.
    pub assignments: Vec<Option<u8>>,
    /// Whether each of the recent images was classified right by the running assignments
    /// (none before the first assignment).
    pub recent_correct: Vec<bool>,
    /// (images done, running accuracy) every update interval.
    pub history: Vec<(usize, f64)>,
    /// Wall time spent training so far (s).
    pub train_wall_s: f64,
    /// Values checked for NaN/Inf so far (0 unless `check_finite`).
    #[serde(default)]
    pub finite_values_checked: u64,
    /// The image being repeated when the checkpoint was written, as (intensity of its next
    /// presentation, presentations of it so far); `None` between images. A network of a batch
    /// saves in the round another reaches the checkpoint interval, possibly halfway through
    /// the retries of an image; a lone run saves between images only.
    #[serde(default)]
    pub pending: Option<(f64, u32)>,
    /// Which backend trained which images: one entry per training session (the first run and
    /// each `--resume` whose progress reached a checkpoint), in order. A checkpoint written before
    /// this field existed gives one entry with backend `unknown` for the images it had done.
    #[serde(default)]
    pub train_segments: Vec<TrainSegment>,
}

/// One training session of a run: its backend and adapter, and the images it trained.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainSegment {
    /// Backend name (`cpu`, `gpu`; `unknown` for images a checkpoint did not attribute).
    pub backend: String,
    /// The adapter or CPU it ran on.
    pub adapter: String,
    /// Images done when the session started.
    pub first_image: usize,
    /// Images the session trained.
    pub images: usize,
    /// The session's training wall time (s).
    pub wall_s: f64,
}

impl TrainState {
    /// The seed the network was trained with (from the fingerprint, which every checkpoint
    /// holds): what `volley mnist eval` evaluates with unless told otherwise, so that it
    /// reproduces the training run's own evaluation.
    pub fn training_seed(&self) -> Option<u64> {
        let (_, rest) = self.fingerprint.rsplit_once("|seed=")?;
        rest.split('|').next()?.parse().ok()
    }
}

/// What training produced.
pub struct Trained {
    /// Final progress.
    pub state: TrainState,
    /// Learned input weights, shape (n_exc, n_input).
    pub weights: Array2<f32>,
    /// Learned adaptive thresholds (mV).
    pub theta: Vec<f32>,
    /// Backend name and device.
    pub backend: (String, String),
}

fn wiring(dc: &DiehlCook, cfg: &DiehlCookConfig) -> Wiring {
    Wiring {
        input: dc.input,
        exc_count: dc.p_exc_count,
        n_input: cfg.n_input,
        n_exc: cfg.n_exc,
    }
}

fn check_images(split: &Split, n_input: usize, what: &str) -> Result<()> {
    let per = split.images.pixels_per_image();
    if per != n_input {
        return Err(Error::invalid(
            format!("MNIST {what} set"),
            "image size",
            per,
            format!("{n_input} pixels (the network's input size)"),
        ));
    }
    Ok(())
}

/// Trains a Diehl & Cook network, writing checkpoints to `checkpoint` (when given) and
/// resuming from it when `resume` is set (starting afresh if there is none yet). `progress` gets
/// (images done, total, running accuracy) after every image and returns false to stop the run
/// (an error is returned; the last checkpoint stays valid).
pub fn train(
    cfg: &TrainConfig,
    data: &Dataset,
    checkpoint: Option<&Path>,
    resume: bool,
    progress: &mut dyn FnMut(usize, usize, Option<f64>) -> bool,
) -> Result<Trained> {
    let mut out = train_batch(
        cfg,
        1,
        data,
        &[checkpoint.map(Path::to_path_buf)],
        resume,
        &mut |_, done, total, acc| progress(done, total, acc),
    )?;
    Ok(out.pop().expect("one network"))
}

/// One network of [`train_batch`] while it trains.
struct Member {
    seed: u64,
    checkpoint: Option<PathBuf>,
    state: TrainState,
    /// The image being shown: (training set index, intensity, presentations so far).
    slot: Option<(usize, f64, u32)>,
    done: Option<Trained>,
}

/// Trains `k` networks, seeds `cfg.seed .. cfg.seed + k` (wrapping), each exactly as [`train`]
/// trains that seed alone: the same weights, thresholds and running accuracies, bit for bit.
/// They run as one batch of `k` instances ([`Keying::PerInstance`](crate::rng::Keying)), in
/// lockstep: every round shows every unfinished network one presentation (its next image, or a
/// repeat of it at higher intensity), so each network's steps are numbered as in its lone run.
/// `checkpoints[i]` is network `i`'s checkpoint file (or `None`); when any network reaches a
/// multiple of `cfg.checkpoint_every` images, every unfinished network writes its checkpoint
/// in that round (so a resumed batch continues in lockstep), and each writes its final one
/// when it finishes. With `resume`, each continues from its checkpoint when there is one;
/// networks at different steps, and networks whose seeds draw different shared buffers (input
/// delays), run as separate batches. `progress` gets (network, images done, total, running
/// accuracy) after every image and returns false to stop the run.
pub fn train_batch(
    cfg: &TrainConfig,
    k: usize,
    data: &Dataset,
    checkpoints: &[Option<PathBuf>],
    resume: bool,
    progress: &mut dyn FnMut(usize, usize, usize, Option<f64>) -> bool,
) -> Result<Vec<Trained>> {
    cfg.validate()?;
    check_images(&data.train, cfg.network.n_input, "training")?;
    if data.train.is_empty() {
        return Err(Error::invalid(
            "mnist train",
            "data",
            "an empty training set",
            "at least one image",
        ));
    }
    if k == 0 || checkpoints.len() != k {
        return Err(Error::invalid(
            "mnist train",
            "networks",
            format!("{k} with {} checkpoint paths", checkpoints.len()),
            "at least 1, with one checkpoint path (or None) each",
        ));
    }
    let total = cfg.total_images();
    let n_train = cfg.train_images.min(data.train.len());
    let sim_cfg = SimConfig::default()
        .dt(cfg.protocol.dt)
        .backend(cfg.backend)
        .learning(true)
        .keying(crate::rng::Keying::PerInstance);
    let mut members = Vec::with_capacity(k);
    let mut starts = Vec::with_capacity(k);
    for (i, ckpt) in checkpoints.iter().enumerate() {
        let seed = cfg.seed.wrapping_add(i as u64);
        let c = TrainConfig {
            seed,
            ..cfg.clone()
        };
        let (state, snap) = match (resume, ckpt) {
            (true, None) => {
                return Err(Error::invalid(
                    "mnist train",
                    "resume",
                    true,
                    "a checkpoint path (--out DIR)",
                ));
            }
            (true, Some(path)) if path.exists() => resumed(&c, total, path)?,
            _ => (
                fresh_state(&c, total),
                Simulator::initial_snapshot(&diehl_cook(&c.network, seed)?.net, sim_cfg)?,
            ),
        };
        let mut state = state;
        let slot = state
            .pending
            .take()
            .map(|(intensity, repeats)| (state.images_done % n_train, intensity, repeats));
        members.push(Member {
            seed,
            checkpoint: ckpt.clone(),
            state,
            slot,
            done: None,
        });
        starts.push(snap);
    }
    for (i, m) in members.iter().enumerate() {
        if !progress(i, m.state.images_done, total, running_accuracy(&m.state)) {
            return Err(stopped(m.state.images_done, total));
        }
    }
    // Batches: runs of consecutive seeds at the same step (instance b of a batch draws as seed
    // first + b) that share their shared buffers (no per-seed input delays).
    let mut first = 0;
    while first < k {
        let mut end = first + 1;
        while end < k
            && cfg.network.input_delays.is_none()
            && starts[end].n_steps == starts[first].n_steps
        {
            end += 1;
        }
        lockstep(
            cfg,
            data,
            &mut members[first..end],
            &starts[first..end],
            sim_cfg,
            first,
            progress,
        )?;
        first = end;
    }
    Ok(members
        .into_iter()
        .map(|m| m.done.expect("every network finished"))
        .collect())
}

fn fresh_state(cfg: &TrainConfig, total: usize) -> TrainState {
    TrainState {
        fingerprint: cfg.fingerprint(),
        n_exc: cfg.network.n_exc,
        input_delays: cfg.network.input_delays,
        exc_min_interval: cfg.network.exc.min_interval,
        exc_theta_offset: cfg.network.exc.theta_offset,
        total_images: total,
        images_done: 0,
        presentations: 0,
        window: Vec::new(),
        assignments: vec![None; cfg.network.n_exc],
        recent_correct: Vec::new(),
        history: Vec::new(),
        train_wall_s: 0.0,
        finite_values_checked: 0,
        pending: None,
        train_segments: Vec::new(),
    }
}

/// Checks that `cfg` can continue the run saved in `path` (the checks `train` makes when it
/// resumes), without training, and returns the images it has done: a caller that starts
/// several runs checks them all first.
pub fn check_resumable(cfg: &TrainConfig, path: &Path) -> Result<usize> {
    cfg.validate()?;
    resumed(cfg, cfg.total_images(), path).map(|(state, _)| state.images_done)
}

/// The progress and state saved in `path`, checked against `cfg`.
fn resumed(
    cfg: &TrainConfig,
    total: usize,
    path: &Path,
) -> Result<(TrainState, crate::sim::Snapshot)> {
    let (mut saved, snap) = checkpoint::load(path)?;
    let mut fingerprint = cfg.fingerprint();
    if !saved.fingerprint.contains("min_interval") {
        // Written before `DcParams::min_interval` existed, by a model without the spike gate:
        // it continues as such a model (the same fingerprint less that field), never as another.
        let gated = |p: &crate::model::DcParams| {
            let c = crate::backend::cpu::DcConsts::new(p, cfg.protocol.dt);
            c.gate_steps != c.ref_steps
        };
        if gated(&cfg.network.exc) || gated(&cfg.network.inh) {
            return Err(Error::Resume(format!(
                "checkpoint {}: it was written by a volley without Diehl & Cook's spike gate, \
                 which this run has (--min-interval-ms {}); continue it as it was trained with \
                 --min-interval-ms 0, or use another --out",
                path.display(),
                cfg.network.exc.min_interval * 1e3
            )));
        }
        fingerprint = without_min_interval(&fingerprint);
    }
    let has = |suffix: &str| snap.buffers.iter().any(|(n, _)| n.ends_with(suffix));
    if cfg.network.input_delays.is_some() && has(".delay_ring") && !has(".pre_history") {
        // Written when a delayed input connection learned at emission, with a ring of future
        // input; since then it transmits and learns at arrival (Brian's semantics).
        return Err(Error::Resume(format!(
            "checkpoint {}: it was written by a volley whose delayed input connection ran STDP \
             when a spike was emitted; this one runs it when the spike arrives (as Brian2 \
             does) and cannot continue that run: score it with `volley mnist eval`, or train \
             anew with another --out",
            path.display()
        )));
    }
    if saved.fingerprint != fingerprint && !same_gates(&saved.fingerprint, cfg) {
        let named = changed_flags(&saved, cfg);
        let what = if named.is_empty() {
            // Settings that no flag of `mnist train` sets (a program's own configuration).
            format!("({}) than this one ({})", saved.fingerprint, fingerprint)
        } else {
            format!("than this one: {}", named.join("; "))
        };
        return Err(Error::Resume(format!(
            "checkpoint {}: it was written by a run with other settings {what}; use the same flags to continue it, or another --out",
            path.display(),
        )));
    }
    if saved.images_done > total {
        return Err(Error::invalid(
            "mnist train",
            "epochs",
            cfg.epochs,
            format!(
                "at least {} (checkpoint {} has {} images done, {} per epoch)",
                saved.images_done.div_ceil(cfg.train_images),
                path.display(),
                saved.images_done,
                cfg.train_images
            ),
        ));
    }
    // A run resumed with more (or fewer) epochs than it was started with: its checkpoints
    // must say how many images this run presents in all. An old checkpoint is brought up to
    // date the same way.
    saved.total_images = total;
    saved.fingerprint = cfg.fingerprint();
    saved.exc_min_interval = cfg.network.exc.min_interval;
    saved.exc_theta_offset = cfg.network.exc.theta_offset;
    Ok((saved, snap))
}

/// Diehl & Cook's code's threshold offset, that of checkpoints that do not record one.
fn code_theta_offset() -> f64 {
    crate::model::DcParams::excitatory().theta_offset
}

/// The flags of `volley mnist train` whose value differs between the run that wrote the
/// checkpoint `saved` and `cfg`, as "--flag A in the checkpoint, B here".
fn changed_flags(saved: &TrainState, cfg: &TrainConfig) -> Vec<String> {
    // seed and train_images are in the fingerprint only, as `key=value`.
    let field = |key: &str| {
        saved
            .fingerprint
            .split('|')
            .find_map(|p| p.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
    };
    let delay_ms = |d: Option<(f64, f64)>| d.map_or(0.0, |d| d.1 * 1e3);
    let mut out = Vec::new();
    let mut differ = |flag: &str, there: String, here: String| {
        if there != here {
            out.push(format!("{flag} {there} in the checkpoint, {here} here"));
        }
    };
    differ(
        "--neurons",
        saved.n_exc.to_string(),
        cfg.network.n_exc.to_string(),
    );
    differ(
        "--input-delay-max-ms",
        delay_ms(saved.input_delays).to_string(),
        delay_ms(cfg.network.input_delays).to_string(),
    );
    // A checkpoint from before the spike gate has no interval of its own to compare (its runs
    // are refused above when this one gates).
    if saved.fingerprint.contains("min_interval") {
        differ(
            "--min-interval-ms",
            (saved.exc_min_interval * 1e3).to_string(),
            (cfg.network.exc.min_interval * 1e3).to_string(),
        );
    }
    differ(
        "--theta-offset-mv",
        saved.exc_theta_offset.to_string(),
        cfg.network.exc.theta_offset.to_string(),
    );
    if let Some(s) = field("seed") {
        differ("--seed", s, cfg.seed.to_string());
    }
    if let Some(n) = field("train_images") {
        differ("--train-images", n, cfg.train_images.to_string());
    }
    out
}

/// Whether a checkpoint's `fingerprint` differs from `cfg`'s only in `min_interval` values that
/// give the same spike gate: a gate no longer than the refractory period is none, so a run
/// trained with `--min-interval-ms 5` (the refractory period) continues with 0 and the same
/// dynamics (both give `DcConsts::gate_steps == ref_steps`).
fn same_gates(fingerprint: &str, cfg: &TrainConfig) -> bool {
    let here = cfg.fingerprint();
    if without_min_interval(fingerprint) != without_min_interval(&here) {
        return false;
    }
    let gate = |p: &crate::model::DcParams, min_interval: f64| {
        let p = crate::model::DcParams { min_interval, ..*p };
        crate::backend::cpu::DcConsts::new(&p, cfg.protocol.dt).gate_steps
    };
    let (there, here) = (min_intervals(fingerprint), min_intervals(&here));
    // `DiehlCookConfig` lists the excitatory parameters before the inhibitory ones.
    let params = [&cfg.network.exc, &cfg.network.inh];
    there.len() == params.len()
        && here.len() == params.len()
        && params
            .iter()
            .zip(there.iter().zip(&here))
            .all(|(p, (&a, &b))| a.is_finite() && gate(p, a) == gate(p, b))
}

/// The `min_interval` values in `fingerprint`, in order (NaN for one that does not parse).
fn min_intervals(fingerprint: &str) -> Vec<f64> {
    let key = ", min_interval: ";
    fingerprint
        .match_indices(key)
        .map(|(i, _)| {
            let value = &fingerprint[i + key.len()..];
            let end = value.find([',', ' ']).unwrap_or(value.len());
            value[..end].parse().unwrap_or(f64::NAN)
        })
        .collect()
}

/// `fingerprint` without the `min_interval` fields of the neuron parameters: what a
/// checkpoint written before they existed holds for the same model.
fn without_min_interval(fingerprint: &str) -> String {
    let mut out = fingerprint.to_string();
    let key = ", min_interval: ";
    while let Some(i) = out.find(key) {
        let value = i + key.len();
        let end = out[value..]
            .find([',', ' '])
            .map_or(out.len(), |j| value + j);
        out.replace_range(i..end, "");
    }
    out
}

fn stopped(done: usize, total: usize) -> Error {
    Error::Other(format!(
        "training stopped after {done} of {total} images; the last checkpoint is kept"
    ))
}

/// Trains `members` (consecutive seeds, all at the step of `starts`) as one batch; `offset` is
/// the index of the first in the caller's list (for `progress`).
fn lockstep(
    cfg: &TrainConfig,
    data: &Dataset,
    members: &mut [Member],
    starts: &[crate::sim::Snapshot],
    sim_cfg: SimConfig,
    offset: usize,
    progress: &mut dyn FnMut(usize, usize, usize, Option<f64>) -> bool,
) -> Result<()> {
    let total = cfg.total_images();
    let p = &cfg.protocol;
    let dc = diehl_cook(&cfg.network, members[0].seed)?;
    let mut sim = Simulator::new(&dc.net, sim_cfg.batch(members.len()))?;
    sim.restore_instances(starts)?;
    let w = wiring(&dc, &cfg.network);
    // Values one network's --check-finite counts (what `Simulator::check_finite` counts for a
    // lone simulator).
    let finite_per_network: u64 = sim
        .plan()
        .buffers
        .iter()
        .filter(|b| {
            !matches!(
                b.kind,
                crate::compile::BufferKind::Temp | crate::compile::BufferKind::Index
            )
        })
        .map(|b| b.len as u64)
        .sum();
    let n_train = cfg.train_images.min(data.train.len());
    let n_input = w.n_input;
    let started = Instant::now();
    let base_wall: Vec<f64> = members.iter().map(|m| m.state.train_wall_s).collect();
    let (backend_name, adapter) = sim.backend_name();
    for m in members.iter_mut() {
        open_segment(&mut m.state, backend_name, &adapter, total);
    }
    let mut rates = vec![0.0f32; members.len() * n_input];
    let zeros = rates.clone();
    let finish = |sim: &mut Simulator, m: &mut Member, b: usize, snap: &crate::sim::Snapshot| {
        if let Some(path) = &m.checkpoint {
            checkpoint::save(path, &m.state, &sim.instance_snapshot(snap, b)?)?;
        }
        let weights = sim
            .weights(dc.conn_input)?
            .index_axis_move(ndarray::Axis(0), b);
        let theta = effective_theta(
            &sim.neuron_state(dc.exc, "theta")?.row(b).to_vec(),
            &sim.neuron_state(dc.exc, "theta_decay")?.row(b).to_vec(),
        );
        m.done = Some(Trained {
            state: m.state.clone(),
            weights,
            theta,
            backend: (backend_name.to_string(), adapter.clone()),
        });
        Ok::<(), Error>(())
    };
    // Networks resumed from a final checkpoint are finished already.
    if members.iter().any(|m| m.state.images_done >= total) {
        let snap = sim.snapshot()?;
        for (b, m) in members.iter_mut().enumerate() {
            if m.state.images_done >= total {
                finish(&mut sim, m, b, &snap)?;
            }
        }
    }
    loop {
        rates.fill(0.0);
        let mut busy = false;
        for (b, m) in members.iter_mut().enumerate() {
            if m.done.is_some() {
                continue;
            }
            let slot = m
                .slot
                .get_or_insert((m.state.images_done % n_train, p.intensity, 0));
            protocol::poisson_rates(
                data.train.image(slot.0),
                slot.1,
                &mut rates[b * n_input..(b + 1) * n_input],
            );
            busy = true;
        }
        if !busy {
            return Ok(());
        }
        let counts = protocol::present_once(&mut sim, &w, p, &rates, &zeros)?;
        let mut accepted = Vec::new();
        for (b, m) in members.iter_mut().enumerate() {
            let Some((index, intensity, repeats)) = m.slot.as_mut() else {
                continue;
            };
            *repeats += 1;
            if counts.row(b).sum() >= p.min_spikes as f64 || *repeats >= p.max_repeats {
                m.state.presentations += *repeats as u64;
                accepted.push((b, *index));
                m.slot = None;
            } else {
                *intensity += p.intensity_step;
            }
        }
        if accepted.is_empty() {
            continue;
        }
        if cfg.check_finite {
            sim.check_finite()
                .map_err(|e| name_network(e, &sim, members))?;
        }
        let mut save_all = false;
        let mut finished = Vec::new();
        for &(b, index) in &accepted {
            let m = &mut members[b];
            if cfg.check_finite {
                m.state.finite_values_checked += finite_per_network;
            }
            let counts_b = counts.row(b).to_vec();
            record(&mut m.state, cfg, data.train.label(index), &counts_b);
            m.state.images_done += 1;
            let wall_s = started.elapsed().as_secs_f64();
            m.state.train_wall_s = base_wall[b] + wall_s;
            if let Some(seg) = m.state.train_segments.last_mut() {
                seg.images += 1;
                seg.wall_s = wall_s;
            }
            if m.state.images_done == total {
                finished.push(b);
            } else if cfg.checkpoint_every > 0
                && m.state.images_done.is_multiple_of(cfg.checkpoint_every)
            {
                save_all = true;
            }
        }
        // Periodic checkpoints, then progress, then the finished networks' final checkpoints
        // (the order of a lone run: a stop after the last image saves nothing more).
        if save_all {
            let snap = sim.snapshot()?;
            for (b, m) in members.iter().enumerate() {
                if m.done.is_some() || finished.contains(&b) {
                    continue;
                }
                if let Some(path) = &m.checkpoint {
                    let state = TrainState {
                        pending: m.slot.map(|(_, intensity, repeats)| (intensity, repeats)),
                        ..m.state.clone()
                    };
                    checkpoint::save(path, &state, &sim.instance_snapshot(&snap, b)?)?;
                }
            }
        }
        for &(b, _) in &accepted {
            let m = &members[b];
            if !progress(
                offset + b,
                m.state.images_done,
                total,
                running_accuracy(&m.state),
            ) {
                return Err(stopped(m.state.images_done, total));
            }
        }
        if !finished.is_empty() {
            let snap = sim.snapshot()?;
            for &b in &finished {
                finish(&mut sim, &mut members[b], b, &snap)?;
            }
        }
    }
}

/// Starts the record of this training session in `state` (nothing for a finished run). The
/// images of a checkpoint without a record are attributed to backend `unknown`.
fn open_segment(state: &mut TrainState, backend: &str, adapter: &str, total: usize) {
    if state.images_done >= total {
        return;
    }
    if state.train_segments.is_empty() && state.images_done > 0 {
        state.train_segments.push(TrainSegment {
            backend: "unknown".into(),
            adapter: "(a checkpoint from before train_segments)".into(),
            first_image: 0,
            images: state.images_done,
            wall_s: state.train_wall_s,
        });
    }
    state.train_segments.push(TrainSegment {
        backend: backend.into(),
        adapter: adapter.into(),
        first_image: state.images_done,
        images: 0,
        wall_s: 0.0,
    });
}

/// In a batch of several networks, a non-finite value's error names the network (its seed) and
/// the index within that network's copy of the buffer.
fn name_network(e: Error, sim: &Simulator, members: &[Member]) -> Error {
    match e {
        Error::NonFinite {
            buffer,
            index,
            value,
            step,
        } if members.len() > 1 => {
            let len = sim
                .plan()
                .buffers
                .iter()
                .find(|b| b.name == buffer && b.batched())
                .map(|b| b.len);
            match len {
                Some(len) if len > 0 => Error::NonFinite {
                    buffer: format!("network of seed {}: {buffer}", members[index / len].seed),
                    index: index % len,
                    value,
                    step,
                },
                _ => Error::NonFinite {
                    buffer,
                    index,
                    value,
                    step,
                },
            }
        }
        other => other,
    }
}

/// The effective threshold adaptation of the Diehl & Cook excitatory neurons: the state `theta`
/// minus its accumulated, not yet folded-in decay `theta_decay` (missing entries count as 0, as
/// in checkpoints written before that state existed: `mnist eval` reads them; they cannot be
/// resumed, since `Simulator::restore` needs every state buffer).
pub fn effective_theta(theta: &[f32], unfolded_decay: &[f32]) -> Vec<f32> {
    theta
        .iter()
        .enumerate()
        .map(|(i, t)| t - unfolded_decay.get(i).copied().unwrap_or(0.0))
        .collect()
}

/// Records one training image's response for the running accuracy. Images shown before the
/// first assignment (the first `update_interval`) have no prediction and do not count.
fn record(state: &mut TrainState, cfg: &TrainConfig, label: u8, counts: &[f64]) {
    if state.assignments.iter().any(Option::is_some) {
        let c = ndarray::ArrayView1::from(counts);
        let a = Assignments {
            class: state.assignments.clone(),
            proportions: Array2::zeros((counts.len(), N_CLASSES)),
        };
        let predicted = predict_all_activity(c, &a, N_CLASSES);
        state.recent_correct.push(predicted == Some(label));
    }
    let keep = cfg.update_interval;
    if state.recent_correct.len() > keep {
        let drop = state.recent_correct.len() - keep;
        state.recent_correct.drain(..drop);
    }
    state.window.push((
        label,
        counts
            .iter()
            .map(|&x| x.min(u16::MAX as f64) as u16)
            .collect(),
    ));
    let keep = 2 * cfg.update_interval;
    if state.window.len() > keep {
        let drop = state.window.len() - keep;
        state.window.drain(..drop);
    }
    if (state.images_done + 1).is_multiple_of(cfg.update_interval) {
        let m = Array2::from_shape_fn((state.window.len(), counts.len()), |(i, j)| {
            state.window[i].1[j] as f64
        });
        let l: Vec<u8> = state.window.iter().map(|(l, _)| *l).collect();
        state.assignments = assign_labels(m.view(), &l, N_CLASSES).class;
        if let Some(acc) = running_accuracy(state) {
            state.history.push((state.images_done + 1, acc));
        }
    }
}

fn running_accuracy(state: &TrainState) -> Option<f64> {
    if state.assignments.iter().all(Option::is_none) || state.recent_correct.is_empty() {
        return None;
    }
    let right = state.recent_correct.iter().filter(|&&c| c).count();
    Some(right as f64 / state.recent_correct.len() as f64)
}

/// Settings of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalConfig {
    /// Training images (from the start of the set) whose responses assign the labels.
    pub label_images: usize,
    /// Test images (from the start of the test set).
    pub test_images: usize,
    /// Instances presented at once (independent copies sharing the frozen weights).
    pub batch: usize,
    /// Backend.
    pub backend: BackendChoice,
    /// Seed the network was built and trained with: its input delays (`input_delays`) are
    /// drawn from it, so evaluation presents the images through the delays it learned with.
    pub network_seed: u64,
    /// Seed of the evaluation's random draws (the Poisson input).
    pub seed: u64,
}

/// What an evaluation measured.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The label assignment (from the labelling images).
    pub assignments: Assignments,
    /// Test accuracy with all-activity voting.
    pub accuracy: f64,
    /// Test accuracy with proportion weighting.
    pub accuracy_proportion: f64,
    /// Test accuracy (all activity, proportion weighting) with labels assigned on the test
    /// responses themselves, as the public code of Diehl & Cook does (its evaluation script loads
    /// the same file of test responses for both; peter-u-diehl/stdp-mnist issue #3). Optimistic
    /// by construction: only for comparing with figures made that way, never the result.
    pub accuracy_test_labelled: (f64, f64),
    /// Confusion matrix of all-activity voting (`[true][predicted]`, last column: no vote).
    pub confusion: Array2<u64>,
    /// Labelling images used.
    pub label_images: usize,
    /// Test images used.
    pub test_images: usize,
    /// Wall time of the labelling pass (s).
    pub label_wall_s: f64,
    /// Wall time of the test pass (s).
    pub test_wall_s: f64,
    /// Backend name and device.
    pub backend: (String, String),
    /// Excitatory neurons whose frozen threshold (`v_thresh + theta - theta_offset`) is below
    /// their resting or reset potential (see [`self_firing_neurons`]).
    pub self_firing_neurons: usize,
}

/// Excitatory neurons that, with `theta` frozen, fire on their own: their threshold
/// `v_thresh + theta - theta_offset` is below `max(v_rest, v_reset)`, so once one relaxes
/// toward rest undisturbed it fires, again as soon as its spike gate opens, and its inhibitory
/// partner inhibits every other neuron of its instance. In training each spike raises theta, but
/// a neuron that rarely wins settles where theta = `theta_plus * tau_theta * rate`, which can be
/// below the line: a 6,400-neuron network of the model before the spike gate had 581 after two
/// epochs, and with the gate one had 0, 0, 1,374, 3,626 and 3,923 after epochs 1-5
/// (docs/RESULTS.md).
/// Evaluation can then depend on how many images each instance presents in a row, i.e. on the
/// batch size.
pub fn self_firing_neurons(network: &DiehlCookConfig, theta: &[f32]) -> usize {
    let e = &network.exc;
    let floor = e.v_rest.max(e.v_reset);
    theta
        .iter()
        .filter(|&&t| e.v_thresh + t as f64 - e.theta_offset < floor)
        .count()
}

/// Presents `split`'s first `n` images to the frozen network, as many at once as the batch
/// size, and returns the spike counts, shape (n, n_exc).
fn responses(
    sim: &mut Simulator,
    w: &Wiring,
    p: &Protocol,
    split: &Split,
    n: usize,
) -> Result<Array2<f64>> {
    let images: Vec<&[u8]> = (0..n).map(|i| split.image(i)).collect();
    let mut out = Array2::zeros((n, w.n_exc));
    for (k, r) in present(sim, w, p, &images)?.into_iter().enumerate() {
        out.row_mut(k).assign(&ndarray::Array1::from(r.counts));
    }
    Ok(out)
}

/// The network `evaluate` runs, `batch` instances with learning off: the Diehl & Cook network of
/// `ec.network_seed` (so with the input delays it trained with), `weights` and `theta` loaded,
/// drawing its Poisson input with `ec.seed`.
fn evaluate_simulator(
    network: &DiehlCookConfig,
    protocol: &Protocol,
    weights: &Array2<f32>,
    theta: &[f32],
    ec: &EvalConfig,
    batch: usize,
) -> Result<(Simulator, DiehlCook)> {
    let dc = diehl_cook(network, ec.network_seed)?;
    let mut sim = Simulator::new(
        &dc.net,
        SimConfig::default()
            .dt(protocol.dt)
            .backend(ec.backend)
            .batch(batch)
            .learning(false)
            .seed(ec.seed),
    )?;
    sim.set_weights(
        dc.conn_input,
        weights
            .as_slice()
            .ok_or_else(|| Error::Other("weights not contiguous".into()))?,
    )?;
    sim.set_neuron_state(dc.exc, "theta", theta)?;
    Ok((sim, dc))
}

/// Evaluates learned weights and thresholds: a labelling pass on training images, then the test
/// set, both with learning off and theta frozen, many images at once.
pub fn evaluate(
    network: &DiehlCookConfig,
    protocol: &Protocol,
    weights: &Array2<f32>,
    theta: &[f32],
    data: &Dataset,
    ec: &EvalConfig,
) -> Result<Evaluation> {
    check_images(&data.train, network.n_input, "training")?;
    check_images(&data.test, network.n_input, "test")?;
    if ec.batch == 0 {
        return Err(Error::invalid("mnist eval", "batch", 0, "an integer >= 1"));
    }
    let label_images = ec.label_images.min(data.train.len());
    let test_images = ec.test_images.min(data.test.len());
    if label_images == 0 {
        return Err(Error::invalid(
            "mnist eval",
            "label-images",
            0,
            "an integer >= 1",
        ));
    }
    // No more instances than images: idle instances cost as much as busy ones.
    let batch = ec.batch.min(label_images.max(test_images));
    let (mut sim, dc) = evaluate_simulator(network, protocol, weights, theta, ec, batch)?;
    let w = wiring(&dc, network);
    let t0 = Instant::now();
    let label_counts = responses(&mut sim, &w, protocol, &data.train, label_images)?;
    let label_wall_s = t0.elapsed().as_secs_f64();
    let label_truth: Vec<u8> = (0..label_images).map(|i| data.train.label(i)).collect();
    let assignments = assign_labels(label_counts.view(), &label_truth, N_CLASSES);
    let t1 = Instant::now();
    let test_counts = responses(&mut sim, &w, protocol, &data.test, test_images)?;
    let test_wall_s = t1.elapsed().as_secs_f64();
    let truth: Vec<u8> = (0..test_images).map(|i| data.test.label(i)).collect();
    let (all, prop) = labels::predict_both(test_counts.view(), &assignments, N_CLASSES);
    let own = assign_labels(test_counts.view(), &truth, N_CLASSES);
    let (own_all, own_prop) = labels::predict_both(test_counts.view(), &own, N_CLASSES);
    let (b, d) = sim.backend_name();
    Ok(Evaluation {
        accuracy: labels::accuracy(&truth, &all),
        accuracy_proportion: labels::accuracy(&truth, &prop),
        accuracy_test_labelled: (
            labels::accuracy(&truth, &own_all),
            labels::accuracy(&truth, &own_prop),
        ),
        confusion: labels::confusion(&truth, &all, N_CLASSES),
        assignments,
        label_images,
        test_images,
        label_wall_s,
        test_wall_s,
        backend: (b.to_string(), d),
        self_firing_neurons: self_firing_neurons(network, theta),
    })
}

/// The default output directory.
pub fn default_out() -> PathBuf {
    PathBuf::from("out/mnist")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluation must present the images through the delays the network learned with (drawn
    /// from the training seed), while drawing its own Poisson input.
    #[test]
    fn evaluation_runs_the_delays_the_network_trained_with() {
        let network = DiehlCookConfig {
            n_exc: 3,
            input_delays: Some((0.0, 0.01)),
            ..Default::default()
        };
        let protocol = Protocol::default();
        let delays = |seed: u64| {
            let dc = diehl_cook(&network, seed).unwrap();
            let config = SimConfig::default()
                .dt(protocol.dt)
                .backend(BackendChoice::Cpu);
            let mut sim = Simulator::new(&dc.net, config).unwrap();
            sim.read_buffer("conn0.delays").unwrap()
        };
        let (trained, other) = (delays(5), delays(6));
        assert_ne!(trained, other, "two seeds draw different delays");
        let ec = EvalConfig {
            label_images: 1,
            test_images: 1,
            batch: 2,
            backend: BackendChoice::Cpu,
            network_seed: 5,
            seed: 6,
        };
        let weights = Array2::from_elem((3, network.n_input), 0.1f32);
        let (mut sim, _) =
            evaluate_simulator(&network, &protocol, &weights, &[20.0; 3], &ec, 2).unwrap();
        assert_eq!(sim.read_buffer("conn0.delays").unwrap(), trained);
    }

    fn cfg(exc_min_interval: f64) -> TrainConfig {
        let mut network = DiehlCookConfig::default();
        network.exc.min_interval = exc_min_interval;
        TrainConfig {
            network,
            protocol: Protocol::default(),
            seed: 1,
            train_images: 10,
            epochs: 1,
            backend: BackendChoice::Cpu,
            checkpoint_every: 0,
            update_interval: 10,
            check_finite: false,
        }
    }

    /// A session's record starts where the checkpoint left off; images of a checkpoint from
    /// before the record are `unknown`, and a finished run gets no new session.
    #[test]
    fn training_sessions_are_recorded_in_order() {
        let c = cfg(0.0);
        let mut state = fresh_state(&c, 10);
        open_segment(&mut state, "cpu", "x86", 10);
        assert_eq!(state.train_segments.len(), 1);
        assert_eq!(state.train_segments[0].first_image, 0);
        let mut old = fresh_state(&c, 10);
        old.images_done = 4;
        old.train_wall_s = 2.5;
        open_segment(&mut old, "gpu", "lavapipe", 10);
        let got: Vec<_> = old
            .train_segments
            .iter()
            .map(|s| (s.backend.as_str(), s.first_image, s.images, s.wall_s))
            .collect();
        assert_eq!(got, [("unknown", 0, 4, 2.5), ("gpu", 4, 0, 0.0)]);
        old.images_done = 10;
        open_segment(&mut old, "cpu", "x86", 10);
        assert_eq!(old.train_segments.len(), 2, "a finished run trains no more");
    }

    /// The running accuracy counts only images classified with running labels: the first
    /// interval (no labels yet) gives no point, and the next point is the vote of the labels
    /// from the first interval on the second interval's images.
    #[test]
    fn running_accuracy_starts_after_the_first_labels() {
        let c = cfg(0.0);
        let mut state = fresh_state(&c, 30);
        // Neuron k fires only for digit k % 2 (labels alternate 0, 1).
        let n = state.assignments.len();
        let counts = |label: u8| -> Vec<f64> {
            (0..n)
                .map(|k| if k % 2 == label as usize { 3.0 } else { 0.0 })
                .collect()
        };
        for i in 0..30usize {
            let label = (i % 2) as u8;
            let x = counts(label);
            record(&mut state, &c, label, &x);
            state.images_done += 1;
            if i < 10 {
                assert!(state.recent_correct.is_empty(), "image {i}: no labels yet");
            }
        }
        assert_eq!(state.history, [(20, 1.0), (30, 1.0)]);
    }

    /// The fingerprint's `min_interval` values come excitatory first (what `same_gates` pairs
    /// them with), and a gate no longer than the refractory period (5 ms) equals none.
    #[test]
    fn gates_are_compared_by_their_effect() {
        let mut c = cfg(0.0123);
        c.network.inh.min_interval = 0.0456;
        assert_eq!(min_intervals(&c.fingerprint()), [0.0123, 0.0456]);
        let fp = |m: f64| cfg(m).fingerprint();
        for (there, here, same) in [
            (0.005, 0.0, true),
            (0.0, 0.005, true),
            (0.003, 0.0, true),
            (0.05, 0.05, true),
            (0.05, 0.0, false),
            (0.006, 0.0, false),
            (0.02, 0.05, false),
        ] {
            assert_eq!(
                same_gates(&fp(there), &cfg(here)),
                same,
                "{there} vs {here}"
            );
        }
        // Anything else that differs is not excused.
        let mut other = cfg(0.0);
        other.seed = 2;
        assert!(!same_gates(&fp(0.005), &other));
        let mut inh = cfg(0.0);
        inh.network.inh.min_interval = 0.01;
        assert!(!same_gates(&fp(0.0), &inh));
    }
}
