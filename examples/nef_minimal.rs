//! The classic minimal NEF model (Nengo's "A simple NEF network"): population A (50 LIF neurons)
//! represents sin(t); the connection A -> B computes x^2, so B represents sin(t)^2.
//!
//! Simulates 10 s at dt = 1 ms, writes `DIR/nef_minimal.png` (tuning curves of A and B, decoded
//! values against the ideal) and prints, as its last line, `rmse: <value>`: the RMSE of B's
//! decoded output against the ideal sin(t)^2 after the first 0.5 s.
//!
//! ```text
//! cargo run --release --example nef_minimal -- [--backend cpu|auto] [--seed N] [--out DIR]
//! ```

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use volley::networks::{lowpass_filter, nef_minimal, rmse};
use volley::plot::{self, Corner, Panel, Series};
use volley::prelude::*;

/// Simulated time in seconds.
const SECONDS: f64 = 10.0;
/// Timestep in seconds.
const DT: f64 = 0.001;
/// The start of the run left out of the error (the filters' transient), in seconds.
const SETTLE: f64 = 0.5;

#[derive(Parser)]
#[command(about = "The minimal NEF model: A represents sin(t), B receives A's decoded x^2")]
struct Args {
    /// Which backend runs the network: cpu, gpu or auto.
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    backend: BackendChoice,
    /// Network seed (encoders, intercepts, max rates).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for the figure.
    #[arg(long, default_value = "out/nef_minimal")]
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
    let m = nef_minimal(args.seed)?;
    let t_build = Instant::now();
    let mut sim = Simulator::new(&m.net, SimConfig::default().dt(DT).backend(args.backend))?;
    let build_s = t_build.elapsed().as_secs_f64();
    let (backend, device) = sim.backend_name();
    println!("backend: {backend} ({device})");
    let t_run = Instant::now();
    sim.run(SECONDS)?;
    let run_s = t_run.elapsed().as_secs_f64();
    println!(
        "simulated {SECONDS} s ({} steps) in {run_s:.3} s wall time ({:.0}x real time); build {build_s:.3} s",
        sim.n_steps(),
        SECONDS / run_s
    );

    let t = sim.trange().to_vec();
    let input = sim.data_instance(m.p_input, 0)?.column(0).to_vec();
    let a_out = sim.data_instance(m.p_a, 0)?.column(0).to_vec();
    let b_out = sim.data_instance(m.p_b, 0)?.column(0).to_vec();
    let spikes = sim.data_instance(m.p_a_spikes, 0)?;
    let n_a = spikes.ncols();
    let n_spikes = spikes.iter().filter(|&&s| s > 0.0).count();
    println!(
        "A: {n_spikes} spikes from {n_a} neurons (mean rate {:.1} Hz)",
        n_spikes as f64 / (n_a as f64 * SECONDS)
    );

    // The ideal values, filtered the way the signal reaches each probe: input -> A through
    // Lowpass(0.005) (read one step later), A -> B computing x^2 through Lowpass(0.1) (read one
    // step later), and the probes' own filters (A: 0.01, B: 0.1; read one step later, as
    // Nengo's probe filters).
    let x_a = delay(&lowpass_filter(&input, 0.005, DT), 1);
    let ideal_a = delay(&lowpass_filter(&x_a, 0.01, DT), 1);
    let squared: Vec<f64> = x_a.iter().map(|x| x * x).collect();
    let x_b = delay(&lowpass_filter(&squared, 0.1, DT), 1);
    let ideal_b = delay(&lowpass_filter(&x_b, 0.1, DT), 1);
    let skip = (SETTLE / DT).round() as usize;
    let rmse_a = rmse(&a_out[skip..], &ideal_a[skip..]);
    let rmse_b = rmse(&b_out[skip..], &ideal_b[skip..]);
    println!("A decoded vs ideal sin(t): rmse {rmse_a:.4} (after {SETTLE} s)");

    // Tuning curves over the represented range.
    let x: Vec<f64> = (0..=200).map(|i| -1.0 + 2.0 * i as f64 / 200.0).collect();
    let x_points = ndarray::Array2::from_shape_vec((x.len(), 1), x.clone())
        .map_err(|e| Error::Other(format!("tuning-curve points: {e}")))?;
    let curves = |id: EnsembleId| -> Vec<Vec<f64>> {
        let ens = &m.net.ensembles()[id.index()];
        let rates = sim.built().ensembles[id.index()].tuning_curves(
            &ens.neuron_type,
            ens.radius,
            &x_points,
        );
        rates.columns().into_iter().map(|c| c.to_vec()).collect()
    };
    let (curves_a, curves_b) = (curves(m.a), curves(m.b));
    let output = Panel::new(
        "Decoded values (B computes x² of A's value)",
        "time (s)",
        "value",
    )
    .series(
        Series::new("A decoded (probe τ = 0.01 s)", &t, &a_out)
            .color((140, 180, 220))
            .width(1),
    )
    .series(Series::new("input sin(t)", &t, &input).color((31, 90, 160)))
    .series(Series::new("B decoded (probe τ = 0.1 s)", &t, &b_out).color((214, 39, 40)))
    .series(
        Series::new("ideal sin(t)² (filtered)", &t, &ideal_b)
            .color((0, 0, 0))
            .dashed(),
    )
    .legend(Corner::LowerLeft);
    let path = args.out.join("nef_minimal.png");
    plot::figure(
        &path,
        &format!(
            "Minimal NEF network (seed {}, {backend} backend)",
            args.seed
        ),
        &[
            vec![
                plot::tuning_curves_panel(
                    format!("Tuning curves of A ({} LIF, 25-75 Hz)", curves_a.len()),
                    &x,
                    &curves_a,
                ),
                plot::tuning_curves_panel(
                    format!("Tuning curves of B ({} LIF, 50-100 Hz)", curves_b.len()),
                    &x,
                    &curves_b,
                ),
            ],
            vec![output],
        ],
        (1400, 1000),
    )?;
    println!("wrote {}", path.display());
    println!("rmse: {rmse_b:.5}");
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
