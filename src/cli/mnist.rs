//! `volley mnist train` and `volley mnist eval`.

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;
use volley::data::{find_data_dir, load_dir};
use volley::mnist::{
    EvalConfig, Evaluation, N_CLASSES, TrainConfig, checkpoint, evaluate, protocol::Protocol,
    report, train,
};
use volley::networks::DiehlCookConfig;
use volley::{BackendChoice, Error, Result};

/// MNIST with the Diehl & Cook (2015) network.
#[derive(Subcommand)]
pub enum MnistCommand {
    /// Train a network without labels (STDP), then label its neurons and evaluate it.
    Train(TrainArgs),
    /// Evaluate the network saved in a training run's output directory, or one given as
    /// NumPy files (`--weights`, `--theta`), e.g. trained by Brian2 or BindsNET; writes
    /// eval.json and eval_confusion.png (a training run's own metrics.json stays as it is).
    #[command(
        mut_arg("out", |a| a.help(
            "The training run to evaluate (its checkpoint.bin), or with --weights any directory; \
             eval.json and eval_confusion.png are written there"
        )),
        mut_arg("test_images", |a| a.help(
            "Test images to evaluate (from the start of the test set)"
        )),
        mut_arg("seed", |a| a.help(
            "Seed of the evaluation's random draws (its input spikes) [default: the seed the \
             checkpoint was trained with, so that it reproduces the training run's evaluation; \
             0 with --weights]; the network, its input delays included, stays the one trained \
             (with --weights, --seed also names the seed it trained with, which draws its delays)"
        ))
    )]
    Eval(EvalArgs),
}

#[derive(Args)]
pub struct Common {
    /// Directory with the four IDX files (else $VOLLEY_DATA_DIR, else the cache that
    /// scripts/fetch-mnist.sh fills).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Backend: cpu, gpu or auto (a hardware GPU if present, else the CPU; `mnist train`
    /// trains one network of up to 1,600 neurons on the CPU, faster there, and evaluates it on
    /// the GPU).
    #[arg(long, default_value = "auto")]
    backend: String,
    /// Output directory (checkpoint.bin, metrics.json, weights.npy, theta.npy, pictures); a
    /// directory that holds another run's outputs is refused unless --resume continues it.
    #[arg(long, default_value = "out/mnist")]
    out: PathBuf,
    /// Training images whose responses assign each neuron its label (from the start of the
    /// training set).
    #[arg(long, allow_negative_numbers = true, value_parser = super::count::<1, { usize::MAX }>, default_value_t = 10_000)]
    label_images: usize,
    /// Test images to evaluate (from the start of the test set); 0 skips the evaluation.
    #[arg(long, allow_negative_numbers = true, value_parser = super::count::<0, { usize::MAX }>, default_value_t = 10_000)]
    test_images: usize,
    /// Images presented at once during evaluation (independent copies, shared frozen weights).
    #[arg(long, allow_negative_numbers = true, value_parser = super::count::<1, { usize::MAX }>, default_value_t = 100)]
    eval_batch: usize,
    /// Seed of every random choice [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    seed: Option<u64>,
    /// Print the result as one JSON object on the last line of stdout.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    common: Common,
    /// Excitatory neurons (the paper: 100, 400, 1600, 6400).
    #[arg(long, allow_negative_numbers = true, value_parser = super::count::<1, { usize::MAX }>, default_value_t = 100)]
    neurons: usize,
    /// Training images per epoch.
    #[arg(long, allow_negative_numbers = true, value_parser = super::count::<1, { usize::MAX }>, default_value_t = 60_000)]
    train_images: usize,
    /// Epochs over the training images.
    #[arg(long, allow_negative_numbers = true, value_parser = super::count::<1, { usize::MAX }>, default_value_t = 1)]
    epochs: usize,
    /// Checkpoint every this many images (and at the end); 0: only at the end.
    #[arg(long, allow_negative_numbers = true, value_parser = super::count::<0, { usize::MAX }>, default_value_t = 1000)]
    checkpoint_every: usize,
    /// Continue the run whose checkpoint is in --out (same flags); starts afresh if none. With
    /// --instances, the seeds must include all of that run's (more may be added).
    #[arg(long)]
    resume: bool,
    /// Per-synapse delays on the input connection, drawn uniformly from 0 to this many
    /// milliseconds (Diehl & Cook's code uses 10); 0: no delays.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    input_delay_max_ms: f64,
    /// Shortest time between two spikes of an excitatory neuron, in milliseconds: Diehl &
    /// Cook's code gates the threshold with a timer that runs at a tenth of real time, so its
    /// 5 ms refractory period allows one spike per 50 ms. 5 (the refractory period) turns the
    /// gate off, as in BindsNET.
    #[arg(long, allow_negative_numbers = true, default_value_t = DEFAULT_MIN_INTERVAL_MS)]
    min_interval_ms: f64,
    /// The excitatory neurons' threshold offset in mV: a neuron fires when v exceeds v_thresh +
    /// theta minus the offset, and theta starts at the offset and decays towards 0. 20 is
    /// Diehl & Cook's code (a neuron that seldom fires ends with a threshold up to 20 mV below
    /// v_thresh, below rest at 6,400 neurons); 0 is the paper's text (v_thresh + theta, theta
    /// from 0: the threshold never falls below v_thresh). docs/RESULTS.md compares them.
    #[arg(long, allow_negative_numbers = true, default_value_t = code_theta_offset_mv())]
    theta_offset_mv: f64,
    /// Check every state variable, weight and threshold for NaN/Inf after every image; the run
    /// stops with an error naming the variable before anything non-finite is saved.
    #[arg(long)]
    check_finite: bool,
    /// Train this many independent networks, seeds --seed, --seed + 1, ..., each in
    /// --out/seed-<seed>/ (its own checkpoint, metrics and pictures, the same as a run of that
    /// seed alone), with a summary in --out/instances.json; on the CPU as many at once as there
    /// are cores, on a GPU all at once as one batch.
    #[arg(long, allow_negative_numbers = true, value_parser = super::count::<1, MAX_INSTANCES>, default_value_t = 1)]
    instances: usize,
}

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    common: Common,
    /// Evaluate these input weights instead of the checkpoint in --out: a NumPy .npy file of
    /// shape (excitatory neurons, 784), float32 or float64, values in [0, 1] (the layout of a
    /// run's weights.npy; a network trained elsewhere, e.g. by Brian2 or BindsNET). They are
    /// evaluated as given, not normalised. The results still go to --out. Needs --theta.
    #[arg(long, requires = "theta")]
    weights: Option<PathBuf>,
    /// The adaptive thresholds that go with --weights: a .npy file with one value per excitatory
    /// neuron, in mV (the layout of a run's theta.npy). Diehl & Cook's code saves theta_A.npy
    /// in volts (multiply by 1000); BindsNET's theta has no 20 mV offset (add
    /// --theta-offset-mv 0).
    #[arg(long, requires = "weights")]
    theta: Option<PathBuf>,
    /// With --weights: the excitatory neurons' shortest time between spikes in milliseconds,
    /// as `mnist train --min-interval-ms` [default: 50, Diehl & Cook's gate].
    #[arg(long, allow_negative_numbers = true, requires = "weights")]
    min_interval_ms: Option<f64>,
    /// With --weights: random input delays, as `mnist train --input-delay-max-ms` [default: 0],
    /// drawn from --seed: give the seed the network trained with to get its delays (the
    /// evaluation's input spikes then draw from --seed + 1, as after training).
    #[arg(long, allow_negative_numbers = true, requires = "weights")]
    input_delay_max_ms: Option<f64>,
    /// With --weights: the threshold offset in mV that --theta goes with, as `mnist train
    /// --theta-offset-mv` [default: 20, Diehl & Cook's code].
    #[arg(long, allow_negative_numbers = true, requires = "weights")]
    theta_offset_mv: Option<f64>,
}

/// Diehl & Cook's spike gate, the default of `--min-interval-ms`.
const DEFAULT_MIN_INTERVAL_MS: f64 = 50.0;
/// Diehl & Cook's code's threshold offset, the default of `--theta-offset-mv`.
fn code_theta_offset_mv() -> f64 {
    volley::model::DcParams::excitatory().theta_offset
}
/// The largest `--theta-offset-mv`.
const MAX_THETA_OFFSET_MV: f64 = 100.0;

/// The most networks one `--instances` run trains (each is a network and a directory of its
/// own).
const MAX_INSTANCES: usize = 10_000;

/// What a run writes into its `--out` besides the checkpoint: a directory holding any of these
/// belongs to another run (or an evaluation) and is never overwritten by a new one.
const RUN_OUTPUTS: &[&str] = &[
    "metrics.json",
    "weights.npy",
    "theta.npy",
    "eval.json",
    "instances.json",
];

/// A picture that cannot be drawn (no fonts, say) must not cost the run its results: say so on
/// stderr and go on.
fn warn_on_err(r: Result<()>) {
    if let Err(e) = r {
        eprintln!("warning: {e}; the other outputs are written");
    }
}

/// A failed training run (device lost, out of memory, a non-finite value...) says what is left:
/// the last checkpoint, which `--resume` continues on any backend.
fn kept_checkpoint_hint(e: Error, ckpt: &Path) -> Error {
    if matches!(e, Error::Resume(_) | Error::InvalidParameter { .. }) {
        return e; // the checkpoint cannot be continued with these flags
    }
    match checkpoint::load(ckpt) {
        Ok((state, _)) => Error::Other(format!(
            "{e}; the last checkpoint {} ({} of {} images) is kept: run the same command with --resume to continue (any --backend)",
            ckpt.display(),
            state.images_done,
            state.total_images
        )),
        Err(_) => e,
    }
}

/// A run's checkpoint, in its `--out`.
const CHECKPOINT: &str = "checkpoint.bin";

fn checkpoint_path(out: &Path) -> PathBuf {
    out.join(CHECKPOINT)
}

pub fn run(cmd: MnistCommand) -> Result<()> {
    match cmd {
        MnistCommand::Train(a) => run_train(a),
        MnistCommand::Eval(a) => run_eval(a),
    }
}

/// The network of `n_exc` excitatory neurons with the spike gate, input delays and threshold
/// offset of `--min-interval-ms`, `--input-delay-max-ms` and `--theta-offset-mv`, all checked.
fn network_config(
    n_exc: usize,
    min_interval_ms: f64,
    input_delay_max_ms: f64,
    theta_offset_mv: f64,
) -> Result<DiehlCookConfig> {
    if !(theta_offset_mv.is_finite() && (0.0..=MAX_THETA_OFFSET_MV).contains(&theta_offset_mv)) {
        return Err(Error::invalid(
            "volley mnist",
            "--theta-offset-mv",
            theta_offset_mv,
            format!("a number of millivolts from 0 to {MAX_THETA_OFFSET_MV}"),
        ));
    }
    let input_delays = input_delays("volley mnist", input_delay_max_ms)?;
    let step_ms = Protocol::default().dt * 1e3;
    // The gate's timer counts at most MAX_TIMER_STEPS steps.
    let max_ms = f64::from(volley::model::MAX_TIMER_STEPS) * step_ms;
    if !(min_interval_ms == 0.0 || (step_ms..=max_ms).contains(&min_interval_ms)) {
        return Err(Error::invalid(
            "volley mnist",
            "--min-interval-ms",
            min_interval_ms,
            format!("0 or a number of milliseconds from one step ({step_ms}) to {max_ms}"),
        ));
    }
    let mut network = DiehlCookConfig {
        n_exc,
        input_delays,
        ..Default::default()
    };
    network.exc.min_interval = min_interval_ms / 1000.0;
    network.exc.theta_offset = theta_offset_mv;
    network.check_size()?;
    Ok(network)
}

/// `--input-delay-max-ms`, checked, as [`DiehlCookConfig::input_delays`] (U(0, max) seconds;
/// `None` for 0); `command` names the command in the error.
pub(crate) fn input_delays(command: &str, max_ms: f64) -> Result<Option<(f64, f64)>> {
    // A delay is at most `MAX_DELAY_STEPS` steps of the protocol's dt.
    let limit_ms = f64::from(volley::model::MAX_DELAY_STEPS) * Protocol::default().dt * 1e3;
    if !(max_ms.is_finite() && (0.0..=limit_ms).contains(&max_ms)) {
        return Err(Error::invalid(
            command,
            "--input-delay-max-ms",
            max_ms,
            format!("a number of milliseconds from 0 to {limit_ms}"),
        ));
    }
    Ok((max_ms > 0.0).then_some((0.0, max_ms / 1000.0)))
}

fn run_train(a: TrainArgs) -> Result<()> {
    let t0 = Instant::now();
    let backend = super::parse_backend("volley mnist train", &a.common.backend)?;
    // The counts' ranges are checked by their parsers (`super::count`).
    let seed = a.common.seed.unwrap_or(0);
    if seed.checked_add(a.instances as u64 - 1).is_none() {
        return Err(Error::invalid(
            "volley mnist",
            "--instances",
            a.instances,
            format!(
                "at most {} with --seed {} (seeds --seed .. --seed + instances - 1 must fit in 64 bits)",
                u64::MAX - seed + 1,
                seed
            ),
        ));
    }
    let network = network_config(
        a.neurons,
        a.min_interval_ms,
        a.input_delay_max_ms,
        a.theta_offset_mv,
    )?;
    let dir = find_data_dir(a.common.data.as_deref())?;
    // Every output directory is checked before any is created or written.
    let seeds: Vec<u64> = (0..a.instances as u64).map(|k| seed + k).collect();
    let dirs: Vec<PathBuf> = if a.instances == 1 {
        let earlier = instance_seeds(&a.common.out)?;
        if !earlier.is_empty() {
            return Err(Error::Other(format!(
                "--out {} holds an --instances run of seeds {}; continue it with its --seed \
                 and --instances, or choose another --out",
                a.common.out.display(),
                seed_list(&earlier)
            )));
        }
        vec![a.common.out.clone()]
    } else {
        if let Some(f) = std::iter::once(CHECKPOINT)
            .chain(
                RUN_OUTPUTS
                    .iter()
                    .copied()
                    .filter(|f| *f != "instances.json"),
            )
            .find(|f| a.common.out.join(f).exists())
        {
            return Err(Error::Other(format!(
                "--out {} holds a single run ({f}); --instances keeps its runs in seed-<seed>/ \
                 directories beside their summary: choose another --out",
                a.common.out.display()
            )));
        }
        let summary = a.common.out.join("instances.json");
        if !a.resume && summary.exists() {
            return Err(Error::Other(format!(
                "--out {} already holds instances.json, another --instances run's summary; \
                 pass --resume to continue that run, or choose another --out",
                a.common.out.display()
            )));
        }
        earlier_seeds_kept(&a.common.out, &seeds, seed, a.instances)?;
        seeds
            .iter()
            .map(|s| a.common.out.join(format!("seed-{s}")))
            .collect()
    };
    for d in &dirs {
        refuse_existing_run(d, a.resume)?;
    }
    // Bad data is found before any directory is created.
    let data = load_dir(&dir)?;
    note_capped(&data, &dir, Some(a.train_images), &a.common);
    let train_images = a.train_images.min(data.train.len());
    if train_images.checked_mul(a.epochs).is_none() {
        return Err(Error::invalid(
            "volley mnist train",
            "--epochs",
            a.epochs,
            format!(
                "at most {} with --train-images {} (the images presented in all must fit in \
                 {} bits)",
                usize::MAX / train_images,
                train_images,
                usize::BITS
            ),
        ));
    }
    let mut cfg = TrainConfig {
        network,
        protocol: Protocol::default(),
        seed,
        train_images,
        epochs: a.epochs,
        backend,
        checkpoint_every: a.checkpoint_every,
        update_interval: 1000.min(train_images),
        check_finite: a.check_finite,
    };
    // Every checkpoint is checked against these flags before any network trains (or any
    // directory is made); what they have done is not this session's.
    let mut done_before = vec![0usize; seeds.len()];
    if a.resume && a.instances > 1 {
        for (k, d) in dirs.iter().enumerate() {
            let ckpt = checkpoint_path(d);
            if ckpt.exists() {
                let cfg_k = TrainConfig {
                    seed: seeds[k],
                    ..cfg.clone()
                };
                done_before[k] = volley::mnist::check_resumable(&cfg_k, &ckpt)
                    .map_err(|e| Error::Other(format!("seed {}: {e}", seeds[k])))?;
            }
        }
    }
    for d in std::iter::once(&a.common.out).chain(&dirs) {
        writable_out(d)?;
    }
    // Each run's directory is locked (an instance's too: another process may be given it
    // as its --out).
    let _locks = std::iter::once(&a.common.out)
        .chain(if a.instances > 1 { &dirs[..] } else { &[] })
        .map(|d| lock_out(d))
        .collect::<Result<Vec<_>>>()?;
    let requested = backend;
    // The evaluation's backend; one network may train elsewhere (`auto_train_backend`).
    let backend = super::resolve_backend(backend)?;
    let train_backend = auto_train_backend(requested, backend, a.neurons, a.instances);
    if train_backend != backend {
        eprintln!(
            "volley: backend auto -> training on cpu (one network of {} neurons trains faster \
             on one CPU core than on a GPU: BENCHMARKS.md), labelling and testing on gpu",
            a.neurons
        );
    }
    cfg.backend = train_backend;
    if a.instances == 1 {
        let bar = progress_bar(a.common.quiet, cfg.total_images() as u64, "training");
        let mut m = train_instance(&a, &cfg, backend, &a.common.out, &data, bar)?;
        save_metrics(&mut m, t0, &dir, &a.common.out.join("metrics.json"))?;
        return print_result(&a.common, &m);
    }
    // On a GPU all instances train as one batch (one device, one dispatch per chunk for all
    // of them; separate devices time-slice one GPU, and eight at once crashed an NVIDIA
    // driver). On the CPU one instance per core.
    let on_gpu = backend == BackendChoice::Gpu;
    let bars = (!a.common.quiet).then(indicatif::MultiProgress::new);
    let total = cfg.total_images() as u64;
    let bar_for = |k: usize| {
        bars.as_ref().map(|mp| {
            let len = total;
            let what = format!("seed {}", seeds[k]);
            mp.add(progress_bar(false, len, &what).expect("not quiet"))
        })
    };
    if on_gpu {
        let cfg = TrainConfig {
            backend: BackendChoice::Gpu,
            ..cfg
        };
        let ckpts: Vec<Option<PathBuf>> = dirs.iter().map(|d| Some(checkpoint_path(d))).collect();
        let bars_k: Vec<Option<ProgressBar>> = (0..seeds.len()).map(bar_for).collect();
        let t = Instant::now();
        let trained = volley::mnist::train_batch(
            &cfg,
            seeds.len(),
            &data,
            &ckpts,
            a.resume,
            &mut |k, done, _total, acc| show_training(&bars_k[k], done, acc),
        )
        .map_err(|e| {
            Error::Other(format!(
                "{e} (each instance's checkpoint is in {}/seed-<seed>/; --resume continues them)",
                a.common.out.display()
            ))
        })?;
        let batch_wall = t.elapsed().as_secs_f64();
        let mut per = Vec::new();
        for (k, (tr, bar)) in trained.into_iter().zip(bars_k).enumerate() {
            let cfg_k = TrainConfig {
                seed: seeds[k],
                ..cfg.clone()
            };
            let t = Instant::now();
            let mut m = report_instance(&a, &cfg_k, backend, &dirs[k], &data, tr, bar)?;
            m["batch_train_wall_s"] = json!(batch_wall);
            save_metrics(&mut m, t, &dir, &dirs[k].join("metrics.json"))?;
            per.push(m);
        }
        return finish_instances(&a, &per, &done_before, 1, "one GPU batch", t0);
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(a.instances);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<serde_json::Value>>>> =
        seeds.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if k >= seeds.len() {
                        break;
                    }
                    let cfg_k = TrainConfig {
                        seed: seeds[k],
                        ..cfg.clone()
                    };
                    let bar = bar_for(k);
                    let t = Instant::now();
                    let r = train_instance(&a, &cfg_k, backend, &dirs[k], &data, bar).and_then(
                        |mut m| {
                            save_metrics(&mut m, t, &dir, &dirs[k].join("metrics.json"))?;
                            Ok(m)
                        },
                    );
                    *results[k].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                }
            });
        }
    });
    let mut per = Vec::new();
    let mut failed = Vec::new();
    for (k, r) in results.into_iter().enumerate() {
        match r.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(Ok(m)) => per.push(m),
            Some(Err(e)) => failed.push(format!("seed {}: {e}", seeds[k])),
            None => failed.push(format!("seed {}: not run", seeds[k])),
        }
    }
    if !failed.is_empty() {
        return Err(Error::Other(format!(
            "{} of {} instances failed ({}); the others' results are in their directories",
            failed.len(),
            seeds.len(),
            failed.join("; ")
        )));
    }
    finish_instances(&a, &per, &done_before, threads, "one per thread", t0)
}

/// Writes `instances.json` and prints the instances' results.
fn finish_instances(
    a: &TrainArgs,
    per: &[serde_json::Value],
    done_before: &[usize],
    threads: usize,
    concurrency: &str,
    t0: Instant,
) -> Result<()> {
    let m = instances_summary(
        per,
        done_before,
        threads,
        concurrency,
        t0.elapsed().as_secs_f64(),
    );
    report::write_json(&a.common.out.join("instances.json"), &m)?;
    if a.common.json {
        println!("{}", without(&m, &["per_instance"]));
    } else {
        for p in per {
            println!(
                "seed {}: accuracy (all activity) {}   (proportion weighting) {}",
                p["seed"],
                pct(&p["accuracy"]),
                pct(&p["accuracy_proportion"])
            );
        }
        println!(
            "{} instances: accuracy (all activity) {} mean, {} sd; (proportion weighting) {} mean, {} sd",
            per.len(),
            pct(&m["accuracy"]),
            pct(&m["accuracy_sd"]),
            pct(&m["accuracy_proportion"]),
            pct(&m["accuracy_proportion_sd"])
        );
        println!("outputs in {}", a.common.out.display());
    }
    Ok(())
}

/// A run refuses an output directory that holds a checkpoint unless it resumes it, and one that
/// holds another run's outputs without a checkpoint (an evaluation's, or a run whose checkpoint
/// was deleted) in any case: a new run would overwrite them.
fn refuse_existing_run(out: &Path, resume: bool) -> Result<()> {
    if checkpoint_path(out).exists() {
        if resume {
            return Ok(());
        }
        return Err(Error::Other(format!(
            "--out {} already holds a checkpoint; pass --resume to continue that run, or choose another --out",
            out.display()
        )));
    }
    if let Some(f) = RUN_OUTPUTS.iter().find(|f| out.join(f).exists()) {
        return Err(Error::Other(format!(
            "--out {} already holds {f} (another run's or an evaluation's output) and no \
             checkpoint to resume; choose another --out, or remove what is there",
            out.display()
        )));
    }
    Ok(())
}

/// An `--instances` run in `out` (the seeds of its summary, and of every `seed-<n>` directory
/// with a checkpoint, so a run killed before its summary counts too) is continued only with
/// all of its seeds (more may be added): without some of them, the new summary would leave
/// them out.
fn earlier_seeds_kept(out: &Path, seeds: &[u64], seed: u64, instances: usize) -> Result<()> {
    let earlier = instance_seeds(out)?;
    if earlier.iter().all(|s| seeds.contains(s)) {
        return Ok(());
    }
    Err(Error::Other(format!(
        "--out {} holds an --instances run of seeds {}; --seed {seed} --instances {instances} \
         gives seeds {}, without some of them: continue it with its --seed and --instances (or \
         more instances), or choose another --out",
        out.display(),
        seed_list(&earlier),
        seed_list(seeds)
    )))
}

/// The seeds of the `--instances` run in `out`: those of its summary, and of every
/// `seed-<n>` directory with a checkpoint (a run killed before its summary); sorted.
fn instance_seeds(out: &Path) -> Result<Vec<u64>> {
    let mut earlier: Vec<u64> = Vec::new();
    let summary = out.join("instances.json");
    if summary.exists() {
        let text = std::fs::read_to_string(&summary)
            .map_err(|e| Error::Other(format!("{}: {e}", summary.display())))?;
        let listed: Option<Vec<u64>> = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| serde_json::from_value(v["seeds"].clone()).ok());
        earlier = listed.ok_or_else(|| {
            Error::Other(format!(
                "{}: not an instances.json written by volley (no list of seeds); it is left \
                 as it is: choose another --out, or remove it",
                summary.display()
            ))
        })?;
    }
    if let Ok(entries) = std::fs::read_dir(out) {
        for e in entries.flatten() {
            let name = e.file_name();
            if let Some(n) = name.to_str().and_then(|n| n.strip_prefix("seed-"))
                && let Ok(n) = n.parse::<u64>()
                && checkpoint_path(&e.path()).exists()
            {
                earlier.push(n);
            }
        }
    }
    earlier.sort_unstable();
    earlier.dedup();
    Ok(earlier)
}

/// Seeds for a message: `4 to 6` when consecutive, else the list.
fn seed_list(s: &[u64]) -> String {
    match (s.first(), s.last()) {
        (Some(&a), Some(&b))
            if s.len() > 1 && s.windows(2).all(|w| w[0].checked_add(1) == Some(w[1])) =>
        {
            format!("{a} to {b}")
        }
        _ => format!("{s:?}"),
    }
}

/// Locks `--out` for this process (`fsutil::lock_dir`), with an error that names the flag.
fn lock_out(dir: &Path) -> Result<volley::fsutil::DirLock> {
    volley::fsutil::lock_dir(dir).map_err(|e| Error::Other(format!("--out: {e}")))
}

/// Creates `--out` (or an instance's directory in it) and checks that it can be written, with
/// an error that names the flag.
fn writable_out(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Other(format!(
            "--out {}: a file, not a directory; give a directory (created if missing)",
            dir.display()
        )));
    }
    volley::fsutil::ensure_writable_dir(dir)
        .map_err(|e| Error::Other(format!("--out {}: {e}", dir.display())))
}

/// Completes a run's metrics (wall time since `started`, data directory) and writes them to
/// `path`.
fn save_metrics(
    m: &mut serde_json::Value,
    started: Instant,
    data: &Path,
    path: &Path,
) -> Result<()> {
    m["wall_s"] = json!(started.elapsed().as_secs_f64());
    m["data"] = json!(data.display().to_string());
    report::write_json(path, m)
}

/// The metrics fields too bulky for a one-line summary.
const BULKY: &[&str] = &["history", "assignments", "confusion"];

/// `m` without the fields `keys`.
fn without(m: &serde_json::Value, keys: &[&str]) -> serde_json::Value {
    let mut m = m.clone();
    if let Some(o) = m.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
    m
}

fn pct(v: &serde_json::Value) -> String {
    v.as_f64()
        .map(|x| format!("{:.2}%", 100.0 * x))
        .unwrap_or_else(|| "-".into())
}

/// Mean and sample standard deviation (None when empty; sd None below two values).
fn mean_sd(xs: &[f64]) -> (Option<f64>, Option<f64>) {
    if xs.is_empty() {
        return (None, None);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let sd = (xs.len() >= 2)
        .then(|| (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (Some(mean), sd)
}

/// `instances.json`: the instances' metrics and their accuracies' mean, sd, min and max.
fn instances_summary(
    per: &[serde_json::Value],
    done_before: &[usize],
    threads: usize,
    concurrency: &str,
    wall_s: f64,
) -> serde_json::Value {
    let get = |key: &str| -> Vec<f64> { per.iter().filter_map(|m| m[key].as_f64()).collect() };
    let (acc, acc_p) = (get("accuracy"), get("accuracy_proportion"));
    let (m, sd) = mean_sd(&acc);
    let (mp, sdp) = mean_sd(&acc_p);
    let fold = |xs: &[f64], f: fn(f64, f64) -> f64| xs.iter().copied().reduce(f);
    // Images trained in this session (a resumed run's earlier images took other sessions).
    let images: u64 = per
        .iter()
        .zip(done_before.iter().chain(std::iter::repeat(&0)))
        .map(|(m, &before)| {
            m["train_images"]
                .as_u64()
                .unwrap_or(0)
                .saturating_sub(before as u64)
        })
        .sum::<u64>();
    let first = |key: &str| per.first().map(|p| p[key].clone());
    let slim: Vec<serde_json::Value> = per.iter().map(|p| without(p, BULKY)).collect();
    json!({
        "command": "mnist train",
        "instances": per.len(),
        "threads": threads,
        "concurrency": concurrency,
        "seeds": per.iter().map(|p| p["seed"].clone()).collect::<Vec<_>>(),
        "n_exc": first("n_exc"),
        "train_images": first("train_images"),
        "train_images_per_epoch": first("train_images_per_epoch"),
        "epochs": first("epochs"),
        "label_images": first("label_images"),
        "test_images": first("test_images"),
        "theta_offset_mv": first("theta_offset_mv"),
        "min_interval_ms": first("min_interval_ms"),
        "input_delay_max_ms": first("input_delay_max_ms"),
        "backend": first("backend"),
        "adapter": first("adapter"),
        "eval_backend": first("eval_backend"),
        "eval_adapter": first("eval_adapter"),
        "accuracy": m,
        "accuracy_sd": sd,
        "accuracy_min": fold(&acc, f64::min),
        "accuracy_max": fold(&acc, f64::max),
        "accuracy_proportion": mp,
        "accuracy_proportion_sd": sdp,
        "accuracy_proportion_min": fold(&acc_p, f64::min),
        "accuracy_proportion_max": fold(&acc_p, f64::max),
        "wall_s": wall_s,
        "session_train_images": images,
        "train_images_per_s_total": images as f64 / wall_s.max(1e-9),
        "per_instance": slim,
    })
}

/// Training progress on a bar (images done, running accuracy); always continues.
fn show_training(bar: &Option<ProgressBar>, done: usize, acc: Option<f64>) -> bool {
    if let Some(b) = bar {
        b.set_position(done as u64);
        if let Some(acc) = acc {
            b.set_message(format!("running accuracy {:.1}%", 100.0 * acc));
        }
    }
    true
}

/// The backend `--backend auto` trains on, where `resolved` is the one it chose for the
/// evaluation (a hardware GPU when there is one): one network of up to 1,600 excitatory neurons
/// trains faster on one CPU core than on a GPU (H200 and its host's Xeon core, BENCHMARKS.md:
/// 100 / 400 / 1,600 neurons 53 / 42 / 21 images/s on the GPU against 116 / 63 / 24 on the
/// core, with slower CPU code than today's; 6,400: 7.7 against 6.5), so it trains on the CPU
/// and is evaluated, batched, on the GPU. Larger networks, several networks at once and an
/// explicit `--backend` keep the resolved backend.
fn auto_train_backend(
    requested: BackendChoice,
    resolved: BackendChoice,
    n_exc: usize,
    instances: usize,
) -> BackendChoice {
    let one_small_network = instances == 1 && n_exc <= 1600;
    if requested == BackendChoice::Auto && resolved == BackendChoice::Gpu && one_small_network {
        BackendChoice::Cpu
    } else {
        resolved
    }
}

/// Trains one network (`cfg.seed`) into `out` and evaluates it: the checkpoint, weights.npy,
/// theta.npy, pictures, and the metrics object (written by the caller).
fn train_instance(
    a: &TrainArgs,
    cfg: &TrainConfig,
    eval_backend: BackendChoice,
    out: &Path,
    data: &volley::data::Dataset,
    bar: Option<ProgressBar>,
) -> Result<serde_json::Value> {
    let ckpt = checkpoint_path(out);
    let trained = train(
        cfg,
        data,
        Some(&ckpt),
        a.resume,
        &mut |done, _total, acc| show_training(&bar, done, acc),
    )
    .map_err(|e| kept_checkpoint_hint(e, &ckpt))?;
    report_instance(a, cfg, eval_backend, out, data, trained, bar)
}

/// Writes a trained network's weights.npy, theta.npy and pictures in `out`, evaluates it, and
/// returns its metrics object (written by the caller).
fn report_instance(
    a: &TrainArgs,
    cfg: &TrainConfig,
    eval_backend: BackendChoice,
    out: &Path,
    data: &volley::data::Dataset,
    trained: volley::mnist::Trained,
    bar: Option<ProgressBar>,
) -> Result<serde_json::Value> {
    if let Some(b) = &bar {
        if a.instances == 1 {
            b.finish_and_clear();
        } else {
            b.set_message("evaluating");
        }
    }
    report::write_npy(&out.join("weights.npy"), &trained.weights)?;
    report::write_npy(
        &out.join("theta.npy"),
        &ndarray::Array1::from(trained.theta.clone()),
    )?;
    warn_on_err(report::receptive_fields(
        &out.join("receptive_fields.png"),
        &trained.weights,
        28,
        3,
    ));
    let hist_x: Vec<f64> = trained.state.history.iter().map(|h| h.0 as f64).collect();
    let hist_y: Vec<f64> = trained.state.history.iter().map(|h| 100.0 * h.1).collect();
    if hist_x.len() >= 2 {
        warn_on_err(volley::plot::line_plot(
            out.join("accuracy_over_training.png"),
            &format!(
                "running accuracy during training (last {} images)",
                cfg.update_interval
            ),
            "training images",
            "accuracy (%)",
            &[("running accuracy", &hist_x, &hist_y)],
        ));
    }
    let train_images = trained.state.images_done;
    let eval = if a.common.test_images > 0 {
        Some(run_evaluation(
            &a.common,
            cfg.seed,
            cfg.seed,
            !a.common.quiet && a.instances == 1,
            eval_backend,
            &cfg.network,
            &trained.weights,
            &trained.theta,
            data,
        )?)
    } else {
        None
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut m = json!({
        "command": "mnist train",
        "n_exc": cfg.network.n_exc,
        "train_images": train_images,
        "train_images_per_epoch": cfg.train_images,
        "epochs": cfg.epochs,
        "presentations": trained.state.presentations,
        "seed": cfg.seed,
        "backend": trained.backend.0,
        "adapter": trained.backend.1,
        "train_wall_s": trained.state.train_wall_s,
        "train_segments": trained.state.train_segments,
        "train_images_per_s": train_images as f64 / trained.state.train_wall_s.max(1e-9),
        "history": trained.state.history,
        "finite_values_checked": trained.state.finite_values_checked,
    });
    add_model(&mut m, &cfg.network);
    add_evaluation(eval.as_ref(), &mut m, &out.join("confusion.png"));
    Ok(m)
}

fn run_eval(a: EvalArgs) -> Result<()> {
    let t0 = Instant::now();
    let backend = super::parse_backend("volley mnist eval", &a.common.backend)?;
    // --test-images 0 skips the evaluation of a training run; here there is nothing else.
    if a.common.test_images == 0 {
        return Err(Error::invalid(
            "volley mnist eval",
            "--test-images",
            0,
            "an integer >= 1",
        ));
    }
    // The network's input size; `evaluate` checks the images against it.
    let n_input = DiehlCookConfig::default().n_input;
    // clap makes --weights and --theta come together.
    let (network, weights, theta, train_images, (network_seed, seed)) = match (&a.weights, &a.theta)
    {
        (Some(wpath), Some(tpath)) => {
            let (weights, theta) = read_network_npy(wpath, tpath, n_input)?;
            let network = network_config(
                weights.nrows(),
                a.min_interval_ms.unwrap_or(DEFAULT_MIN_INTERVAL_MS),
                a.input_delay_max_ms.unwrap_or(0.0),
                a.theta_offset_mv.unwrap_or_else(code_theta_offset_mv),
            )?;
            foreign_eval_refused(&a.common.out, wpath)?;
            let seed = a.common.seed.unwrap_or(0);
            (network, weights, theta, None, (seed, seed))
        }
        _ => {
            let ckpt = checkpoint_path(&a.common.out);
            if !ckpt.exists() {
                return Err(Error::Other(format!(
                    "--out {}: no training run there (no checkpoint.bin); give the directory \
                     of a `volley mnist train` run (of an --instances run: its seed-<seed>/), \
                     or a network as --weights W.npy --theta T.npy",
                    a.common.out.display()
                )));
            }
            let (state, snap) = checkpoint::load(&ckpt)?;
            let find = |name: &str| {
                snap.buffers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| {
                        Error::Other(format!("checkpoint {}: no buffer {name}", ckpt.display()))
                    })
            };
            let weights =
                ndarray::Array2::from_shape_vec((state.n_exc, n_input), find("conn0.weights")?)
                    .map_err(|e| {
                        Error::Other(format!("checkpoint {}: weights: {e}", ckpt.display()))
                    })?;
            let theta = volley::mnist::effective_theta(
                &find("ens0.theta")?,
                &find("ens0.theta_decay").unwrap_or_default(),
            );
            let mut network = DiehlCookConfig {
                n_exc: state.n_exc,
                input_delays: state.input_delays,
                ..Default::default()
            };
            network.exc.min_interval = state.exc_min_interval;
            network.exc.theta_offset = state.exc_theta_offset;
            // The network (its input delays) is always the one trained; --seed changes only
            // the evaluation's own draws.
            let trained_with = state.training_seed();
            let seed = a.common.seed.or(trained_with).unwrap_or(0);
            (
                network,
                weights,
                theta,
                Some(state.images_done),
                (trained_with.unwrap_or(seed), seed),
            )
        }
    };
    let dir = find_data_dir(a.common.data.as_deref())?;
    let data = load_dir(&dir)?;
    // Checked (and, for --weights, created) before the evaluation runs. Not locked: a
    // training run may go on there (eval writes only eval.json and eval_confusion.png).
    writable_out(&a.common.out)?;
    note_capped(&data, &dir, None, &a.common);
    let backend = super::resolve_backend(backend)?;
    let eval = run_evaluation(
        &a.common,
        network_seed,
        seed,
        !a.common.quiet,
        backend,
        &network,
        &weights,
        &theta,
        &data,
    )?;
    let mut m = json!({
        "command": "mnist eval",
        "n_exc": network.n_exc,
        "train_images": train_images,
        "seed": seed,
        "network_seed": network_seed,
    });
    if let (Some(w), Some(t)) = (&a.weights, &a.theta) {
        let obj = m.as_object_mut().expect("an object");
        obj.insert("weights".into(), json!(w.display().to_string()));
        obj.insert("theta".into(), json!(t.display().to_string()));
    }
    add_model(&mut m, &network);
    if let Some(w) = &a.weights {
        // Again, now that the evaluation is done: a training run may have started there since.
        foreign_eval_refused(&a.common.out, w)?;
    }
    add_evaluation(
        Some(&eval),
        &mut m,
        &a.common.out.join("eval_confusion.png"),
    );
    save_metrics(&mut m, t0, &dir, &a.common.out.join("eval.json"))?;
    print_result(&a.common, &m)
}

/// `mnist eval --weights W` writes `eval.json` and `eval_confusion.png` into `--out`: refused
/// where they would replace a training run's evaluation (a checkpoint is there) or another
/// network's (an `eval.json` of other weights).
fn foreign_eval_refused(out: &Path, weights: &Path) -> Result<()> {
    let seeds = instance_seeds(out)?;
    if !seeds.is_empty() {
        return Err(Error::Other(format!(
            "--out {} holds an --instances run of seeds {}; choose another --out",
            out.display(),
            seed_list(&seeds)
        )));
    }
    if checkpoint_path(out).exists() {
        return Err(Error::Other(format!(
            "--out {} holds a training run (checkpoint.bin): its eval.json evaluates that run's \
             network, not {}; choose another --out",
            out.display(),
            weights.display()
        )));
    }
    let eval = out.join("eval.json");
    if eval.exists() {
        let earlier = std::fs::read_to_string(&eval)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["weights"].as_str().map(str::to_owned));
        // The same file however it was named (`w.npy`, `./w.npy`, an absolute path).
        let same = |p: &str| {
            let canon = |p: &Path| std::fs::canonicalize(p).ok();
            canon(Path::new(p)).is_some_and(|c| Some(c) == canon(weights))
        };
        if !earlier.as_deref().is_some_and(same) {
            return Err(Error::Other(format!(
                "--out {} holds eval.json of another network ({}); choose another --out, or \
                 remove it",
                out.display(),
                earlier.unwrap_or_else(|| "not one given by --weights".into())
            )));
        }
    }
    Ok(())
}

/// Reads a network given as NumPy files for `mnist eval --weights --theta`: weights
/// (neurons, n_input) in [0, 1] and one finite theta (mV) per neuron.
fn read_network_npy(
    wpath: &Path,
    tpath: &Path,
    n_input: usize,
) -> Result<(ndarray::Array2<f32>, Vec<f32>)> {
    let o = "volley mnist eval";
    let unreadable = |flag: &str, what: String, e: Error| {
        Error::Other(format!(
            "{o}: {flag}: {e}; needed: a float32 or float64 .npy array of shape {what}"
        ))
    };
    let weights: ndarray::Array2<f32> = report::read_npy_f32(wpath)
        .map_err(|e| unreadable("--weights", format!("(excitatory neurons, {n_input})"), e))?;
    let (rows, cols) = weights.dim();
    if rows == 0 || cols != n_input {
        return Err(Error::invalid(
            o,
            format!("--weights {} shape", wpath.display()),
            format!("({rows}, {cols})"),
            format!("(excitatory neurons >= 1, {n_input} inputs: one row per neuron)"),
        ));
    }
    let w_max = DiehlCookConfig::default().stdp.w_max;
    if let Some(((r, c), v)) = weights
        .indexed_iter()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0 && **v as f64 <= w_max))
    {
        return Err(Error::invalid(
            o,
            format!("--weights {} entry ({r}, {c})", wpath.display()),
            v,
            format!("a weight in [0, {w_max}]"),
        ));
    }
    let theta: ndarray::Array1<f32> = report::read_npy_f32(tpath)
        .map_err(|e| unreadable("--theta", format!("({rows},), one value per neuron"), e))?;
    if theta.len() != rows {
        return Err(Error::invalid(
            o,
            format!("--theta {} length", tpath.display()),
            theta.len(),
            format!("{rows} (one per row of --weights)"),
        ));
    }
    if let Some((i, v)) = theta.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::invalid(
            o,
            format!("--theta {} entry {i}", tpath.display()),
            v,
            "a finite threshold adaptation in mV",
        ));
    }
    Ok((weights, theta.to_vec()))
}

/// Counts beyond the data are capped at its size (the JSON reports what was used); says so
/// once, on stderr.
fn note_capped(data: &volley::data::Dataset, dir: &Path, train: Option<usize>, c: &Common) {
    let evaluated = c.test_images > 0;
    for (flag, asked, have, set) in [
        (
            "--train-images",
            train.unwrap_or(0),
            data.train.len(),
            "training",
        ),
        (
            "--label-images",
            if evaluated { c.label_images } else { 0 },
            data.train.len(),
            "training",
        ),
        ("--test-images", c.test_images, data.test.len(), "test"),
    ] {
        if asked > have {
            eprintln!(
                "note: {flag} {asked}: {} has {have} {set} images; using all of them",
                dir.display()
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
/// Evaluates a network trained with `network_seed` (which draws its input delays), drawing
/// the evaluation's Poisson input with `seed + 1` (`--seed`: by default the training seed).
fn run_evaluation(
    c: &Common,
    network_seed: u64,
    seed: u64,
    say: bool,
    backend: BackendChoice,
    network: &DiehlCookConfig,
    weights: &ndarray::Array2<f32>,
    theta: &[f32],
    data: &volley::data::Dataset,
) -> Result<Evaluation> {
    if say {
        eprintln!(
            "evaluating: labels from {} training images, then {} test images, {} at a time",
            c.label_images.min(data.train.len()),
            c.test_images.min(data.test.len()),
            c.eval_batch
        );
    }
    let self_firing = volley::mnist::self_firing_neurons(network, theta);
    if self_firing > 0 {
        eprintln!(
            "warning: {self_firing} excitatory neurons have a frozen threshold below their \
             resting/reset potential: left uninhibited they fire by themselves, and their \
             inhibition reaches the others, so the accuracy can depend on --eval-batch and \
             --label-images (how many images each instance presents in a row); training \
             longer does not remove them: a neuron that rarely wins settles where its theta \
             equals theta_plus x tau_theta x its rate, and in a 6,400-neuron run that put \
             more and more neurons' thresholds below rest from the third epoch on \
             (docs/RESULTS.md; metrics: self_firing_neurons)"
        );
    }
    evaluate(
        network,
        &Protocol::default(),
        weights,
        theta,
        data,
        &EvalConfig {
            label_images: c.label_images,
            test_images: c.test_images,
            batch: c.eval_batch,
            backend,
            network_seed,
            seed: seed.wrapping_add(1),
        },
    )
}

/// The excitatory model a run trained or evaluated: threshold offset, spike gate and input
/// delays (what `metrics.json` and `eval.json` need to say which network they describe).
fn add_model(m: &mut serde_json::Value, network: &DiehlCookConfig) {
    m["theta_offset_mv"] = json!(network.exc.theta_offset);
    m["min_interval_ms"] = json!(network.exc.min_interval * 1e3);
    m["input_delay_max_ms"] = json!(network.input_delays.map_or(0.0, |d| d.1 * 1e3));
}

/// Adds an evaluation's figures to the metrics object and draws its confusion matrix as the
/// PNG `picture`.
fn add_evaluation(eval: Option<&Evaluation>, m: &mut serde_json::Value, picture: &Path) {
    let obj = m.as_object_mut().expect("an object");
    if let Some(e) = eval {
        obj.insert("accuracy".into(), json!(e.accuracy));
        obj.insert("accuracy_proportion".into(), json!(e.accuracy_proportion));
        // Optimistic (labels from the test responses themselves, as the public code of Diehl &
        // Cook evaluates): for comparison with figures made that way only.
        obj.insert(
            "accuracy_test_labelled".into(),
            json!(e.accuracy_test_labelled.0),
        );
        obj.insert(
            "accuracy_proportion_test_labelled".into(),
            json!(e.accuracy_test_labelled.1),
        );
        obj.insert("test_images".into(), json!(e.test_images));
        obj.insert("label_images".into(), json!(e.label_images));
        obj.insert(
            "test_images_per_s".into(),
            json!(e.test_images as f64 / e.test_wall_s.max(1e-9)),
        );
        obj.insert(
            "label_images_per_s".into(),
            json!(e.label_images as f64 / e.label_wall_s.max(1e-9)),
        );
        obj.entry("backend").or_insert(json!(e.backend.0));
        obj.entry("adapter").or_insert(json!(e.backend.1));
        obj.insert("self_firing_neurons".into(), json!(e.self_firing_neurons));
        obj.insert("eval_backend".into(), json!(e.backend.0));
        obj.insert("eval_adapter".into(), json!(e.backend.1));
        let assigned: Vec<Option<u8>> = e.assignments.class.clone();
        obj.insert("assignments".into(), json!(assigned));
        let per_class: Vec<usize> = (0..N_CLASSES)
            .map(|k| assigned.iter().filter(|c| **c == Some(k as u8)).count())
            .collect();
        obj.insert("neurons_per_class".into(), json!(per_class));
        obj.insert(
            "confusion".into(),
            json!(
                e.confusion
                    .rows()
                    .into_iter()
                    .map(|r| r.to_vec())
                    .collect::<Vec<_>>()
            ),
        );
        warn_on_err(report::confusion_png(picture, &e.confusion));
    } else {
        obj.insert("test_images".into(), json!(0));
    }
}

/// Prints a run's metrics: one JSON line with `--json`, else the accuracies.
fn print_result(c: &Common, m: &serde_json::Value) -> Result<()> {
    if c.json {
        // Without the bulky fields, on one line.
        println!("{}", without(m, BULKY));
    } else {
        if m["accuracy"].is_number() {
            println!(
                "accuracy (all activity): {}   accuracy (proportion weighting): {}   test images: {}",
                pct(&m["accuracy"]),
                pct(&m["accuracy_proportion"]),
                m["test_images"]
            );
        }
        println!("outputs in {}", c.out.display());
    }
    Ok(())
}

fn progress_bar(quiet: bool, len: u64, what: &str) -> Option<ProgressBar> {
    if quiet {
        return None;
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template(&format!(
            "{what} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} images  {{per_sec}}  eta {{eta}}  {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_trains_one_small_network_on_the_cpu_and_evaluates_on_the_gpu() {
        let (auto, cpu, gpu) = (BackendChoice::Auto, BackendChoice::Cpu, BackendChoice::Gpu);
        assert_eq!(auto_train_backend(auto, gpu, 100, 1), cpu);
        assert_eq!(auto_train_backend(auto, gpu, 1600, 1), cpu);
        assert_eq!(auto_train_backend(auto, gpu, 6400, 1), gpu);
        assert_eq!(auto_train_backend(auto, gpu, 100, 4), gpu);
        assert_eq!(auto_train_backend(auto, cpu, 100, 1), cpu);
        assert_eq!(auto_train_backend(gpu, gpu, 100, 1), gpu);
    }
}
