//! The classic STDP-window protocol (Bi & Poo 1998) as a reusable experiment: one presynaptic
//! and one postsynaptic spike source made to spike at controlled times, a number of pairings at
//! each spike-time difference `dt = t_post - t_pre`, on a plastic 1x1 connection. Used by
//! `examples/stdp_window.rs` and by the window-fit test.
//!
//! - The presynaptic spikes come from a node that outputs `1/dt` at the chosen steps; the node is
//!   the plastic connection's pre.
//! - The postsynaptic neuron is a LIF neuron with gain 1 and a bias of -10^4 that a second node
//!   drives with 2·10^4 at the chosen steps: it spikes in exactly those steps, and the plastic
//!   weight cannot make it spike or shift its spikes.
//! - Every dt runs at once, one per instance of a batch (each instance has its own weight).

use crate::error::{Error, Result};
use crate::model::{LearningRule, Stdp};
use crate::prelude::*;

/// What the protocol measured at one Δt.
#[derive(Clone, Copy, Debug)]
pub struct WindowPoint {
    /// The requested `t_post - t_pre` (s).
    pub delta: f64,
    /// `t_post - t_pre` of the first pairing as the probes saw it (s).
    pub measured_delta: f64,
    /// Weight change per pairing.
    pub dw: f64,
    /// Presynaptic and postsynaptic spikes counted over the run.
    pub spikes: (usize, usize),
}

/// Runs `pairings` pre/post pairings `period` s apart at each of `deltas_ms` (one batch instance
/// per Δt) on a 1x1 plastic connection with `rule`, starting from weight `w0`; returns the weight
/// change per pairing at each Δt.
pub fn stdp_window(
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
    if let Some(d) = deltas_ms
        .iter()
        .zip(&offsets)
        .find(|(_, o)| o.abs() >= reference)
        .map(|(d, _)| d)
    {
        return Err(Error::invalid(
            "stdp_window",
            "deltas_ms",
            d,
            format!("|dt| below half the pairing period ({} ms)", period * 500.0),
        ));
    }
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
pub fn fit_side(points: &[(f64, f64)]) -> (f64, f64) {
    let xs: Vec<f64> = points.iter().map(|p| p.0.abs()).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.1.abs().ln()).collect();
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    let slope = sxy / sxx;
    ((my - slope * mx).exp(), -1.0 / slope)
}
