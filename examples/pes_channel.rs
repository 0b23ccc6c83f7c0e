//! PES learns a communication channel from zero decoders (Nengo's classic learning example).
//!
//! The input sin(2 pi t) drives `pre` (60 LIF neurons). `pre -> post` starts as a decoded
//! connection computing `f(x) = 0` (all decoders zero) and learns with PES (Nengo's defaults:
//! learning rate 1e-4, pre synapse Lowpass(0.005)). An `error` ensemble represents
//! `post - input` and is connected into the rule (`nengo.Connection(error, conn.learning_rule)`),
//! so the decoders move until `post` represents the input.
//!
//! Simulates 10 s at dt = 1 ms, writes `DIR/pes_channel.png` and prints, as its last two lines,
//! the RMSE of `post`'s decoded output against the input (both as the probes see them) over the
//! first and over the last second:
//!
//! ```text
//! rmse_first_second: <x>
//! rmse_last_second: <y>
//! ```
//!
//! ```text
//! cargo run --release --example pes_channel -- [--backend cpu|gpu|auto] [--seed N] [--seconds S] [--out DIR]
//! ```

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use volley::model::Pes;
use volley::networks::rmse;
use volley::plot::{self, Corner, Panel, Series};
use volley::prelude::*;

/// Timestep in seconds.
const DT: f64 = 0.001;
/// Probe filter (s).
const PROBE_TAU: f64 = 0.01;

#[derive(Parser)]
#[command(about = "PES learns a communication channel from zero decoders")]
struct Args {
    /// Which backend runs the network: cpu, gpu or auto.
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    backend: BackendChoice,
    /// Network seed (encoders, intercepts, max rates).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Simulated time in seconds (at least 2).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Directory for the figure.
    #[arg(long, default_value = "out/pes_channel")]
    out: PathBuf,
}

fn parse_backend(s: &str) -> std::result::Result<BackendChoice, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn run(args: Args) -> Result<()> {
    if !(args.seconds >= 2.0 && args.seconds.is_finite()) {
        return Err(Error::invalid(
            "pes_channel",
            "--seconds",
            args.seconds,
            "a finite number >= 2 (a first and a last second)",
        ));
    }
    let mut net = Network::new(args.seed);
    let input = net.add_node(
        Node::function(1, |t| vec![(2.0 * std::f64::consts::PI * t).sin()]).label("input"),
    )?;
    let pre = net.add_ensemble(Ensemble::new(60, 1).label("pre"))?;
    let post = net.add_ensemble(Ensemble::new(60, 1).label("post"))?;
    let error = net.add_ensemble(Ensemble::new(100, 1).label("error"))?;
    net.connect(Connection::new(input, pre))?;
    // Zero initial decoders: the connection computes f(x) = 0 until PES changes it.
    let learned = net.connect(
        Connection::new(pre, post)
            .function(|_| vec![0.0])
            .learning(Pes::new()),
    )?;
    // error = post - input
    net.connect(Connection::new(post, error))?;
    net.connect(Connection::new(input, error).transform(Transform::Scalar(-1.0)))?;
    net.connect(Connection::new(error, learned.learning_rule()))?;
    let p_input = net.probe(Probe::decoded(input).synapse(Synapse::Lowpass(PROBE_TAU)))?;
    let p_post = net.probe(Probe::decoded(post).synapse(Synapse::Lowpass(PROBE_TAU)))?;
    let p_error = net.probe(Probe::decoded(error).synapse(Synapse::Lowpass(PROBE_TAU)))?;

    let mut sim = Simulator::new(&net, SimConfig::default().dt(DT).backend(args.backend))?;
    let (backend, device) = sim.backend_name();
    println!("backend: {backend} ({device})");
    let t_run = Instant::now();
    sim.run(args.seconds)?;
    let run_s = t_run.elapsed().as_secs_f64();
    println!(
        "simulated {} s ({} steps) in {run_s:.3} s wall time ({:.1}x real time)",
        args.seconds,
        sim.n_steps(),
        args.seconds / run_s
    );

    let t = sim.trange().to_vec();
    let x = sim.data_instance(p_input, 0)?.column(0).to_vec();
    let y = sim.data_instance(p_post, 0)?.column(0).to_vec();
    let e = sim.data_instance(p_error, 0)?.column(0).to_vec();
    let second = (1.0 / DT).round() as usize;
    let n = y.len();
    let first = rmse(&y[..second], &x[..second]);
    let last = rmse(&y[n - second..], &x[n - second..]);
    let w = sim.weights(learned)?;
    let norm = w.iter().map(|v| v * v).sum::<f32>().sqrt();
    println!("learned decoders: norm {norm:.3e} (started at 0)");

    let path = args.out.join("pes_channel.png");
    let panel = Panel::new("post learns to follow the input", "time (s)", "value")
        .series(Series::new("input sin(2πt)", &t, &x).color((0, 0, 0)))
        .series(Series::new("post decoded", &t, &y).color((214, 39, 40)))
        .series(Series::new("error ensemble", &t, &e).color((31, 119, 180)))
        .legend(Corner::LowerLeft);
    plot::figure(
        &path,
        &format!(
            "PES communication channel (seed {}, {backend} backend)",
            args.seed
        ),
        &[vec![panel]],
        (1400, 600),
    )?;
    println!("wrote {}", path.display());
    println!("rmse_first_second: {first:.5}");
    println!("rmse_last_second: {last:.5}");
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
