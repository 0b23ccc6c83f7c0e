//! The classic STDP-window protocol (Bi & Poo 1998): one presynaptic and one postsynaptic neuron
//! made to spike at controlled times, 60 pairings at each spike-time difference
//! `Δt = t_post - t_pre` from -100 to +100 ms in steps of 5 ms, on a plastic 1x1 Dense connection
//! with pair STDP (`Stdp::pair`).
//!
//! - The presynaptic spikes come from a node that outputs `1/dt` at the chosen steps; the node is
//!   the plastic connection's pre (nodes may be STDP sources).
//! - The postsynaptic neuron is a LIF neuron with gain 1 and a bias of -10^4 that a second node
//!   drives with a current of 2·10^4 at the chosen steps: it spikes in exactly those steps, and
//!   the plastic connection (weight 0 at the start, at most 0.3 in size) cannot make it spike or
//!   shift its spikes.
//! - Pairings are 1 s apart, so the traces (time constants 16.8 and 33.7 ms) have decayed by a
//!   factor below e^-26 between pairings: the all-to-all traces see one pair at a time.
//! - All Δt values run at once, one per instance of a batch (each instance has its own plastic
//!   weight); weights start at 0 with bounds [-1, 1], far from both.
//!
//! Writes `DIR/stdp_window.png` (measured dw per pairing and the rule's exponentials), prints the
//! log-linear fit of each side and, last, one `dt_ms dw` row per Δt (dw per pairing).
//!
//! ```text
//! cargo run --release --example stdp_window -- [--backend cpu|gpu|auto] [--out DIR]
//! ```

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use volley::model::Stdp;
use volley::plot::{self, Corner, Panel, Series};
use volley::prelude::*;

/// Potentiation amplitude (pre before post).
const A_PLUS: f64 = 0.005;
/// Depression amplitude (post before pre); distinct from `A_PLUS` so a swap would show.
const A_MINUS: f64 = 0.003;
/// Potentiation time constant (s), Bi & Poo's fit.
const TAU_PLUS: f64 = 0.0168;
/// Depression time constant (s), Bi & Poo's fit.
const TAU_MINUS: f64 = 0.0337;
/// Pairings per Δt.
const PAIRINGS: usize = 60;
/// Time between pairings (s).
const PERIOD: f64 = 1.0;
/// Timestep (s).
const DT: f64 = 0.001;

#[derive(Parser)]
#[command(about = "The STDP window: dw per pairing against t_post - t_pre")]
struct Args {
    /// Which backend runs the network: cpu, gpu or auto.
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    backend: BackendChoice,
    /// Directory for the figure.
    #[arg(long, default_value = "out/stdp_window")]
    out: PathBuf,
}

fn parse_backend(s: &str) -> std::result::Result<BackendChoice, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

use volley::stdp_window::{fit_side, stdp_window};

fn run(args: Args) -> Result<()> {
    let deltas: Vec<i64> = (-20..=20).map(|i| i * 5).collect();
    let rule = Stdp::pair(A_PLUS, A_MINUS, TAU_PLUS, TAU_MINUS).bounds(-1.0, 1.0);
    let t0 = Instant::now();
    let backend = args.backend.resolve()?; // what auto runs on, to say so below
    let points = stdp_window(backend, rule, 0.0, &deltas, PAIRINGS, PERIOD, DT)?;
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "{} Δt values x {PAIRINGS} pairings, {PERIOD} s apart, dt {} ms ({} s simulated per \
         instance) on the {} backend in {wall:.2} s",
        deltas.len(),
        DT * 1e3,
        PAIRINGS as f64 * PERIOD,
        backend
    );
    for p in &points {
        if p.spikes != (PAIRINGS, PAIRINGS) || (p.measured_delta - p.delta).abs() > 1e-9 {
            return Err(Error::Other(format!(
                "protocol broken at Δt = {} ms: {} pre and {} post spikes (expected {PAIRINGS} \
                 each), measured Δt {} ms",
                p.delta * 1e3,
                p.spikes.0,
                p.spikes.1,
                p.measured_delta * 1e3
            )));
        }
    }
    let side = |positive: bool| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|p| {
                if positive {
                    p.delta > 0.0
                } else {
                    p.delta < 0.0
                }
            })
            .map(|p| (p.delta, p.dw))
            .collect()
    };
    let (pos, neg) = (side(true), side(false));
    if pos.iter().any(|p| p.1 <= 0.0) || neg.iter().any(|p| p.1 >= 0.0) {
        return Err(Error::Other(
            "dw has the wrong sign for some Δt (expected potentiation for Δt > 0, depression \
             for Δt < 0)"
                .into(),
        ));
    }
    let (a_plus, tau_plus) = fit_side(&pos);
    let (a_minus, tau_minus) = fit_side(&neg);
    let pct = |fit: f64, truth: f64| 100.0 * (fit - truth) / truth;
    println!(
        "fit Δt > 0: A+ = {a_plus:.6} (rule {A_PLUS}, {:+.1e} %), tau+ = {:.3} ms (rule {} ms, \
         {:+.1e} %)",
        pct(a_plus, A_PLUS),
        tau_plus * 1e3,
        TAU_PLUS * 1e3,
        pct(tau_plus, TAU_PLUS)
    );
    println!(
        "fit Δt < 0: A- = {a_minus:.6} (rule {A_MINUS}, {:+.1e} %), tau- = {:.3} ms (rule {} ms, \
         {:+.1e} %)",
        pct(a_minus, A_MINUS),
        tau_minus * 1e3,
        TAU_MINUS * 1e3,
        pct(tau_minus, TAU_MINUS)
    );

    // The figure: measured points per side and the rule's exponentials.
    let ms = |v: &[(f64, f64)]| -> (Vec<f64>, Vec<f64>) {
        (
            v.iter().map(|p| p.0 * 1e3).collect(),
            v.iter().map(|p| p.1).collect(),
        )
    };
    let (xp, yp) = ms(&pos);
    let (xn, yn) = ms(&neg);
    let fine = |lo: f64, hi: f64| -> Vec<f64> {
        (0..=200)
            .map(|i| lo + (hi - lo) * i as f64 / 200.0)
            .collect()
    };
    let (tp, tn) = (fine(0.0, 100.0), fine(-100.0, 0.0));
    let rp: Vec<f64> = tp
        .iter()
        .map(|t| A_PLUS * (-t * 1e-3 / TAU_PLUS).exp())
        .collect();
    let rn: Vec<f64> = tn
        .iter()
        .map(|t| -A_MINUS * (t * 1e-3 / TAU_MINUS).exp())
        .collect();
    let panel = Panel::new(
        format!(
            "60 pairings per Δt; fit A+ {a_plus:.5}, τ+ {:.2} ms; A- {a_minus:.5}, τ- {:.2} ms",
            tau_plus * 1e3,
            tau_minus * 1e3
        ),
        "Δt = t_post - t_pre (ms)",
        "weight change per pairing",
    )
    .series(
        Series::new("measured (5 ms steps), Δt > 0", &xp, &yp)
            .color((214, 39, 40))
            .width(5),
    )
    .series(
        Series::new("measured (5 ms steps), Δt < 0", &xn, &yn)
            .color((31, 119, 180))
            .width(5),
    )
    .series(
        Series::new("rule: A+ exp(-Δt/τ+), -A- exp(Δt/τ-)", &tp, &rp)
            .color((0, 0, 0))
            .dashed(),
    )
    .series(Series::unlabeled(&tn, &rn).color((0, 0, 0)).dashed())
    .legend(Corner::UpperRight);
    let path = args.out.join("stdp_window.png");
    plot::figure(
        &path,
        &format!(
            "Pair STDP window (A+ {A_PLUS}, A- {A_MINUS}, τ+ {} ms, τ- {} ms; {} backend)",
            TAU_PLUS * 1e3,
            TAU_MINUS * 1e3,
            args.backend
        ),
        &[vec![panel]],
        (1200, 700),
    )?;
    println!("wrote {}", path.display());
    println!("# dt_ms dw");
    for p in &points {
        println!("{} {:.6e}", (p.delta * 1e3).round(), p.dw);
    }
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
