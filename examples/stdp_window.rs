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
use volley::model::{LearningRule, Stdp};
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

// ---- the protocol (tests/learning.rs holds a copy of everything from here to `fit_side`) ----

/// What the protocol measured at one Δt.
#[derive(Clone, Copy, Debug)]
struct WindowPoint {
    /// The requested `t_post - t_pre` (s).
    delta: f64,
    /// `t_post - t_pre` of the first pairing as the probes saw it (s).
    measured_delta: f64,
    /// Weight change per pairing.
    dw: f64,
    /// Presynaptic and postsynaptic spikes counted over the run.
    spikes: (usize, usize),
}

/// Runs `pairings` pre/post pairings `period` s apart at each of `deltas_ms` (one batch instance
/// per Δt) on a 1x1 plastic connection with `rule`, starting from weight `w0`; returns the weight
/// change per pairing at each Δt.
fn stdp_window(
    backend: BackendChoice,
    rule: Stdp,
    w0: f64,
    deltas_ms: &[i64],
    pairings: usize,
    period: f64,
    dt: f64,
) -> Result<Vec<WindowPoint>> {
    const BIAS: f64 = -1e4;
    const DRIVE: f64 = 2e4;
    let per = (period / dt).round() as i64;
    let offsets: Vec<i64> = deltas_ms
        .iter()
        .map(|d| (*d as f64 * 1e-3 / dt).round() as i64)
        .collect();
    let reference = per / 2;
    assert!(
        offsets.iter().all(|o| o.abs() < reference),
        "|Δt| must stay below half the pairing period"
    );
    let n = pairings as i64;
    // Step k of the run is evaluated at t = (k + 1) dt; true when step k is `offset` steps after
    // the reference step of a pairing.
    let at = move |t: f64, offset: i64| {
        let k = (t / dt).round() as i64 - 1;
        let (p, phase) = (k.div_euclid(per), k.rem_euclid(per));
        (0..n).contains(&p) && phase == reference + offset
    };
    let mut net = Network::new(0);
    let pre = net.add_node(
        Node::batched(1, move |t, _| vec![if at(t, 0) { 1.0 / dt } else { 0.0 }]).label("pre"),
    )?;
    let post_offsets = offsets.clone();
    let drive = net.add_node(
        Node::batched(1, move |t, b| {
            vec![if at(t, post_offsets[b]) { DRIVE } else { 0.0 }]
        })
        .label("drive"),
    )?;
    let post = net.add_ensemble(
        Ensemble::new(1, 1)
            .label("post")
            .neuron_type(NeuronType::lif())
            .gain_bias(vec![1.0], vec![BIAS]),
    )?;
    net.connect(Connection::new(drive, post.neurons()).synapse(None))?;
    let conn = net.connect(
        Connection::new(pre, post.neurons())
            .transform(Transform::Dense(ndarray::Array2::from_elem((1, 1), w0)))
            .synapse(None)
            .learning(LearningRule::Stdp(rule)),
    )?;
    let p_pre = net.probe(Probe::decoded(pre))?;
    let p_post = net.probe(Probe::spikes(post))?;
    let mut config = SimConfig::default()
        .dt(dt)
        .batch(deltas_ms.len())
        .backend(backend);
    config.chunk_steps = per as usize;
    let mut sim = Simulator::new(&net, config)?;
    let before = sim.weights(conn)?;
    sim.run_steps(pairings as u64 * per as u64)?;
    let after = sim.weights(conn)?;
    let (pre_spikes, post_spikes) = (sim.data(p_pre)?, sim.data(p_post)?);
    let spike_steps = |a: &ndarray::Array3<f64>, b: usize| -> Vec<usize> {
        (0..a.shape()[1]).filter(|&k| a[[b, k, 0]] != 0.0).collect()
    };
    Ok(deltas_ms
        .iter()
        .enumerate()
        .map(|(b, d)| {
            let (sp, so) = (spike_steps(&pre_spikes, b), spike_steps(&post_spikes, b));
            let measured = match (sp.first(), so.first()) {
                (Some(&p), Some(&q)) => (q as f64 - p as f64) * dt,
                _ => f64::NAN,
            };
            WindowPoint {
                delta: *d as f64 * 1e-3,
                measured_delta: measured,
                dw: (after[[b, 0, 0]] as f64 - before[[b, 0, 0]] as f64) / pairings as f64,
                spikes: (sp.len(), so.len()),
            }
        })
        .collect())
}

/// Least-squares fit of `|dw| = a exp(-|Δt| / tau)` to the points of one side (log-linear);
/// returns `(a, tau)`.
fn fit_side(points: &[(f64, f64)]) -> (f64, f64) {
    let xs: Vec<f64> = points.iter().map(|p| p.0.abs()).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.1.abs().ln()).collect();
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    let slope = sxy / sxx;
    ((my - slope * mx).exp(), -1.0 / slope)
}

// ---- end of the copied protocol ----

fn run(args: Args) -> Result<()> {
    let deltas: Vec<i64> = (-20..=20).map(|i| i * 5).collect();
    let rule = Stdp::pair(A_PLUS, A_MINUS, TAU_PLUS, TAU_MINUS).bounds(-1.0, 1.0);
    let t0 = Instant::now();
    let points = stdp_window(args.backend, rule, 0.0, &deltas, PAIRINGS, PERIOD, DT)?;
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "{} Δt values x {PAIRINGS} pairings, {PERIOD} s apart, dt {} ms ({} s simulated per \
         instance) on the {} backend in {wall:.2} s",
        deltas.len(),
        DT * 1e3,
        PAIRINGS as f64 * PERIOD,
        args.backend
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
