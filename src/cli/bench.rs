//! `volley bench`: named workloads on each backend, one JSON object per workload and backend.

use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use volley::mnist::protocol::{Protocol, Wiring, present};
use volley::networks::{DiehlCookConfig, diehl_cook};
use volley::prelude::*;

/// Run named benchmark workloads.
#[derive(Args)]
pub struct BenchArgs {
    /// Workloads: lif-step-<n> (n neurons, e.g. lif-step-1k, lif-step-1m), dc-train-<n>,
    /// dc-eval-<n> (Diehl & Cook with n excitatory neurons), or `all` (lif-step 1k/10k/100k/1m,
    /// dc-train and dc-eval 100/400/1600/6400), or `mnist` (dc-train and dc-eval 100 and 400).
    #[arg(default_value = "all")]
    workloads: Vec<String>,
    /// Backends to run on, comma-separated: cpu, gpu, auto.
    #[arg(long, default_value = "cpu")]
    backend: String,
    /// MNIST directory for the dc-* workloads (else $VOLLEY_DATA_DIR, else the cache).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Images per dc-train measurement (per network).
    #[arg(long, allow_negative_numbers = true, default_value_t = 20)]
    train_images: usize,
    /// Networks trained at once in dc-train: one batch, each instance learning its own weights
    /// (all starting from seed 0's) with its own random draws, the work of `volley mnist train
    /// --instances K` on a GPU; images_per_s counts every network's images.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1)]
    train_instances: usize,
    /// Images per dc-eval measurement.
    #[arg(long, allow_negative_numbers = true, default_value_t = 200)]
    eval_images: usize,
    /// Instances presented at once in dc-eval.
    #[arg(long, allow_negative_numbers = true, default_value_t = 100)]
    eval_batch: usize,
    /// Random input delays U(0, max) ms per synapse in the dc-* workloads, as `mnist train
    /// --input-delay-max-ms` (Diehl & Cook's code uses 10).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    input_delay_max_ms: f64,
    /// Timesteps per lif-step measurement.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1000)]
    steps: u64,
}

fn parse_count(s: &str) -> Option<usize> {
    let s = s.to_lowercase();
    let (num, mult) = if let Some(n) = s.strip_suffix('k') {
        (n, 1_000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 1_000_000)
    } else {
        (s.as_str(), 1)
    };
    num.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
}

fn expand(workloads: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for w in workloads {
        match w.as_str() {
            "all" => {
                for n in ["1k", "10k", "100k", "1m"] {
                    out.push(format!("lif-step-{n}"));
                }
                for n in [100, 400, 1600, 6400] {
                    out.push(format!("dc-train-{n}"));
                    out.push(format!("dc-eval-{n}"));
                }
            }
            "mnist" => {
                for n in [100, 400] {
                    out.push(format!("dc-train-{n}"));
                    out.push(format!("dc-eval-{n}"));
                }
            }
            other => out.push(other.to_string()),
        }
    }
    out
}

pub fn run(a: BenchArgs) -> Result<()> {
    let backends: Vec<BackendChoice> = a
        .backend
        .split(',')
        .map(|b| super::parse_backend("volley bench", b))
        .collect::<Result<_>>()?;
    for (name, v) in [
        ("train-images", a.train_images),
        ("eval-images", a.eval_images),
        ("eval-batch", a.eval_batch),
        ("train-instances", a.train_instances),
    ] {
        if v == 0 {
            return Err(Error::invalid(
                "volley bench",
                format!("--{name}"),
                0,
                "an integer >= 1",
            ));
        }
    }
    let input_delays = super::mnist::input_delays("volley bench", a.input_delay_max_ms)?;
    if a.steps == 0 {
        return Err(Error::invalid(
            "volley bench",
            "--steps",
            0,
            "an integer >= 1",
        ));
    }
    let backends = backends
        .into_iter()
        .map(super::resolve_backend)
        .collect::<Result<Vec<_>>>()?;
    // Every name is checked before the first workload runs.
    let workloads = expand(&a.workloads)
        .into_iter()
        .map(|w| {
            ["lif-step-", "dc-train-", "dc-eval-"]
                .into_iter()
                .find_map(|p| w.strip_prefix(p).and_then(parse_count).map(|n| (p, n)))
                .map(|(kind, n)| (w.clone(), kind, n))
                .ok_or_else(|| {
                    Error::invalid(
                        "volley bench",
                        "workload",
                        format!("\"{w}\""),
                        "lif-step-<n>, dc-train-<n>, dc-eval-<n>, all or mnist",
                    )
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut data = None;
    for (w, kind, n) in workloads {
        for &be in &backends {
            let mut line = match kind {
                "lif-step-" => lif_step(&w, n, be, a.steps)?,
                "dc-train-" => {
                    let d = load(&mut data, &a)?;
                    let k = a.train_instances;
                    let images = a.train_images.checked_mul(k).ok_or_else(|| {
                        Error::invalid(
                            "volley bench",
                            "--train-instances",
                            k,
                            "a count whose product with --train-images fits in usize",
                        )
                    })?;
                    dc(&w, n, be, d, images, k, true, input_delays)?
                }
                _ => {
                    let d = load(&mut data, &a)?;
                    dc(
                        &w,
                        n,
                        be,
                        d,
                        a.eval_images,
                        a.eval_batch,
                        false,
                        input_delays,
                    )?
                }
            };
            if w.starts_with("dc-") {
                line["input_delay_max_ms"] = json!(a.input_delay_max_ms);
            }
            println!("{line}");
        }
    }
    Ok(())
}

fn load<'a>(
    slot: &'a mut Option<volley::data::Dataset>,
    a: &BenchArgs,
) -> Result<&'a volley::data::Dataset> {
    if slot.is_none() {
        let dir = volley::data::find_data_dir(a.data.as_deref())?;
        *slot = Some(volley::data::load_dir(&dir)?);
    }
    Ok(slot.as_ref().expect("just loaded"))
}

fn lif_step(name: &str, n: usize, be: BackendChoice, steps: u64) -> Result<serde_json::Value> {
    let mut net = Network::new(0);
    let input = net.add_node(Node::constant(vec![0.5]))?;
    let ens = net.add_ensemble(Ensemble::new(n, 1))?;
    net.connect(Connection::new(input, ens))?;
    let mut sim = Simulator::new(&net, SimConfig::default().backend(be))?;
    sim.run_steps(10)?; // warm-up (pipelines, caches)
    let t = Instant::now();
    sim.run_steps(steps)?;
    let wall = t.elapsed().as_secs_f64();
    let (b, d) = sim.backend_name();
    Ok(json!({
        "workload": name,
        "backend": b,
        "adapter": d,
        "neurons": n,
        "steps": steps,
        "steps_per_s": steps as f64 / wall,
        "neuron_updates_per_s": (steps as f64 * n as f64) / wall,
        "images_per_s": null,
        "synaptic_events_per_s": null,
        "wall_s": wall,
    }))
}

#[expect(clippy::too_many_arguments, reason = "one workload's settings")]
fn dc(
    name: &str,
    n_exc: usize,
    be: BackendChoice,
    data: &volley::data::Dataset,
    images: usize,
    batch: usize,
    learning: bool,
    input_delays: Option<(f64, f64)>,
) -> Result<serde_json::Value> {
    let cfg = DiehlCookConfig {
        n_exc,
        input_delays,
        ..Default::default()
    };
    let mut dcn = diehl_cook(&cfg, 0)?;
    // Every spike of the run, for synaptic_events_per_s: three accumulating ops per step more
    // than `mnist train` runs (the protocol's own excitatory counts are reset per presentation
    // and cover only the accepted ones).
    let p_input = dcn.net.probe(Probe::spike_count(dcn.input))?;
    let p_exc = dcn.net.probe(Probe::spike_count(dcn.exc))?;
    let p_inh = dcn.net.probe(Probe::spike_count(dcn.inh))?;
    let p = Protocol::default();
    let batch = batch.min(images);
    let mut sim = Simulator::new(
        &dcn.net,
        SimConfig::default()
            .dt(p.dt)
            .backend(be)
            .batch(batch)
            .learning(learning)
            .keying(if learning {
                Keying::PerInstance
            } else {
                Keying::Shared
            }),
    )?;
    let w = Wiring {
        input: dcn.input,
        exc_count: dcn.p_exc_count,
        n_input: cfg.n_input,
        n_exc,
    };
    let imgs: Vec<&[u8]> = (0..images)
        .map(|i| data.train.image(i % data.train.len()))
        .collect();
    let steps0 = sim.n_steps();
    let t = Instant::now();
    let r = present(&mut sim, &w, &p, &imgs)?;
    let wall = t.elapsed().as_secs_f64();
    let steps = sim.n_steps() - steps0;
    let presentations: u32 = r.iter().map(|r| r.repeats).sum();
    let exc_spikes: f64 = r.iter().map(|r| r.counts.iter().sum::<f64>()).sum();
    // Synaptic events: spikes times fan-out (input -> excitatory all to all, excitatory ->
    // inhibitory one to one, inhibitory -> excitatory all but self), every step of the run.
    let input_spikes = sim.take_counts(p_input)?.sum();
    let all_exc_spikes = sim.take_counts(p_exc)?.sum();
    let inh_spikes = sim.take_counts(p_inh)?.sum();
    let events = input_spikes * n_exc as f64 + all_exc_spikes + inh_spikes * (n_exc as f64 - 1.0);
    let (b, d) = sim.backend_name();
    Ok(json!({
        "workload": name,
        "backend": b,
        "adapter": d,
        "n_exc": n_exc,
        "batch": batch,
        "images": images,
        "presentations": presentations,
        "steps_per_s": steps as f64 / wall,
        "images_per_s": images as f64 / wall,
        "exc_spikes_per_image": exc_spikes / images as f64,
        "input_spikes_per_image": input_spikes / images as f64,
        "inh_spikes_per_image": inh_spikes / images as f64,
        "synaptic_events_per_s": events / wall,
        "wall_s": wall,
    }))
}
