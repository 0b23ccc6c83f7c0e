//! A communication channel: the input sin(2 pi t) drives population A (100 LIF neurons), whose
//! decoded value drives population B (100 LIF neurons); B should represent the input.
//!
//! Simulates 2 s at dt = 1 ms, writes `DIR/communication_channel.png` (input, ideal and B's
//! decoded output) and prints, as its last line, `rmse: <value>`: the RMSE of B's decoded output
//! against the ideal after the first 0.5 s.
//!
//! ```text
//! cargo run --release --example communication_channel -- [--backend cpu|auto] [--seed N] [--out DIR]
//! ```

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use volley::networks::{communication_channel, lowpass_filter, rmse};
use volley::plot::{self, Corner, Panel, Series};
use volley::prelude::*;

/// Simulated time in seconds.
const SECONDS: f64 = 2.0;
/// Timestep in seconds.
const DT: f64 = 0.001;
/// The start of the run left out of the error (the filters' transient), in seconds.
const SETTLE: f64 = 0.5;

#[derive(Parser)]
#[command(about = "A communication channel: sin(2 pi t) -> A -> B")]
struct Args {
    /// Which backend runs the network: cpu, gpu or auto.
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    backend: BackendChoice,
    /// Network seed (encoders, intercepts, max rates).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for the figure.
    #[arg(long, default_value = "out/communication_channel")]
    out: PathBuf,
}

fn parse_backend(s: &str) -> std::result::Result<BackendChoice, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// `x` delayed by `steps` samples (zeros before the start): a value written by a synapse in step
/// k is read by its target ensemble in step k + 1.
fn delay(x: &[f64], steps: usize) -> Vec<f64> {
    let steps = steps.min(x.len());
    let mut y = vec![0.0; steps];
    y.extend_from_slice(&x[..x.len() - steps]);
    y
}

fn run(args: Args) -> Result<()> {
    let m = communication_channel(args.seed)?;
    let mut sim = Simulator::new(&m.net, SimConfig::default().dt(DT).backend(args.backend))?;
    let (backend, device) = sim.backend_name();
    println!("backend: {backend} ({device})");
    let t_run = Instant::now();
    sim.run(SECONDS)?;
    let run_s = t_run.elapsed().as_secs_f64();
    println!(
        "simulated {SECONDS} s ({} steps) in {run_s:.3} s wall time ({:.0}x real time)",
        sim.n_steps(),
        SECONDS / run_s
    );

    let t = sim.trange().to_vec();
    let input = sim.data_instance(m.p_input, 0)?.column(0).to_vec();
    let output = sim.data_instance(m.p_b, 0)?.column(0).to_vec();
    // The input filtered the way it reaches the probe: input -> A through Lowpass(0.005) (read
    // one step later), A -> B through Lowpass(0.005) (read one step later), probe Lowpass(0.01)
    // (one step later too, as Nengo's probe filters).
    let x_a = delay(&lowpass_filter(&input, 0.005, DT), 1);
    let x_b = delay(&lowpass_filter(&x_a, 0.005, DT), 1);
    let ideal = delay(&lowpass_filter(&x_b, 0.01, DT), 1);
    let skip = (SETTLE / DT).round() as usize;
    let err = rmse(&output[skip..], &ideal[skip..]);
    println!(
        "B decoded vs unfiltered input: rmse {:.4} (the filters' lag included)",
        rmse(&output[skip..], &input[skip..])
    );

    let path = args.out.join("communication_channel.png");
    let panel = Panel::new("B's decoded output", "time (s)", "value")
        .series(Series::new("input sin(2πt)", &t, &input).color((170, 170, 170)))
        .series(Series::new("B decoded (probe τ = 0.01 s)", &t, &output).color((214, 39, 40)))
        .series(
            Series::new("ideal (input filtered 0.005, 0.005, 0.01 s)", &t, &ideal)
                .color((0, 0, 0))
                .dashed(),
        )
        .legend(Corner::LowerLeft);
    plot::figure(
        &path,
        &format!(
            "Communication channel A -> B (seed {}, {backend} backend)",
            args.seed
        ),
        &[vec![panel]],
        (1200, 650),
    )?;
    println!("wrote {}", path.display());
    println!("rmse: {err:.5}");
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
