//! When, within a presentation, do a trained Diehl & Cook network's unlearned ("diffuse")
//! neurons spike, and do their weights move? A diagnostic for docs/RESULTS.md's 6,400-neuron
//! results: it continues training from a `volley mnist train` checkpoint for a few images (the
//! first training images, learning on, the protocol's intensity, no retries) and prints the
//! excitatory spikes per 10 ms of the presentation for the learned and the diffuse neurons
//! (less than 40 % of a row's input weight on its top 150 pixels), which kind fired first in
//! each image, and how far each kind's weights moved. With a third argument THETA_MV it first
//! sets the diffuse neurons' theta to that value (an experiment, not the paper's model: 20 is
//! every neuron's starting value) and reports how many of them have learned by the end.
//!
//! ```sh
//! cargo run --release --example dc_onset_spikes -- out/mnist/checkpoint.bin 300
//! cargo run --release --example dc_onset_spikes -- out/mnist/checkpoint.bin 1000 20
//! ```
use volley::prelude::*;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Fraction of row `i`'s weight on its 150 largest weights.
fn top_share(w: &ndarray::Array2<f32>, i: usize) -> f32 {
    let mut r: Vec<f32> = w.row(i).to_vec();
    r.sort_by(|a, b| b.total_cmp(a));
    let total: f32 = r.iter().sum();
    r.iter().take(150).sum::<f32>() / total.max(f32::MIN_POSITIVE)
}

fn run() -> volley::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: dc_onset_spikes CHECKPOINT IMAGES [THETA_MV] (data from \
                 $VOLLEY_DATA_DIR or the cache)";
    let (ckpt, images, theta_mv) = match args.as_slice() {
        [c, i] => (c, i, None),
        [c, i, t] => (c, i, Some(t)),
        _ => return Err(volley::Error::Other(usage.into())),
    };
    let theta_mv: Option<f32> = theta_mv
        .map(|t| {
            t.parse::<f32>()
                .ok()
                .filter(|v| (0.0..=100.0).contains(v))
                .ok_or_else(|| {
                    volley::Error::invalid("dc_onset_spikes", "THETA_MV", t, "a number in [0, 100]")
                })
        })
        .transpose()?;
    let n_images: usize = images.parse().ok().filter(|&k| k >= 1).ok_or_else(|| {
        volley::Error::invalid("dc_onset_spikes", "IMAGES", images, "an integer >= 1")
    })?;
    let (state, snap) = volley::mnist::checkpoint::load(std::path::Path::new(ckpt))?;
    let data = volley::data::load_dir(&volley::data::find_data_dir(None)?)?;
    let n_images = n_images.min(data.train.len());
    let mut cfg = volley::networks::DiehlCookConfig {
        n_exc: state.n_exc,
        input_delays: state.input_delays,
        ..Default::default()
    };
    cfg.exc.min_interval = state.exc_min_interval;
    let dc = volley::networks::diehl_cook(&cfg, state.training_seed().unwrap_or(0))?;
    let p = volley::mnist::protocol::Protocol::default();
    let mut sim = Simulator::new(
        &dc.net,
        SimConfig::default().dt(p.dt).backend(BackendChoice::Cpu),
    )?;
    sim.restore(&snap)?;
    let n = cfg.n_exc;
    let w0 = sim
        .weights(dc.conn_input)?
        .index_axis_move(ndarray::Axis(0), 0);
    let diffuse: Vec<usize> = (0..n).map(|i| (top_share(&w0, i) < 0.4) as usize).collect();
    let nd = diffuse.iter().sum::<usize>();
    println!("{n} excitatory neurons: {} learned, {nd} diffuse", n - nd);
    if let Some(t) = theta_mv {
        // The state `theta` holds the effective value plus its not yet folded-in decay.
        let theta = sim.neuron_state(dc.exc, "theta")?.row(0).to_vec();
        let decay = sim.neuron_state(dc.exc, "theta_decay")?.row(0).to_vec();
        let set: Vec<f32> = (0..n)
            .map(|i| {
                if diffuse[i] == 1 {
                    t + decay[i]
                } else {
                    theta[i]
                }
            })
            .collect();
        sim.set_neuron_state(dc.exc, "theta", &set)?;
        println!("diffuse neurons' theta set to {t} mV");
    }
    // Bins of 10 ms for the presentation (35 of 20 steps by default), then the rest period.
    let bin_steps = (0.01 / p.dt).round() as u64;
    let bins = (p.present_steps() / bin_steps) as usize;
    let mut by_bin = vec![[0f64; 2]; bins + 1];
    let mut first = [0usize; 3];
    let mut rates = vec![0f32; cfg.n_input];
    let zeros = vec![0f32; cfg.n_input];
    for img in 0..n_images {
        sim.boundary()?;
        volley::mnist::protocol::poisson_rates(data.train.image(img), p.intensity, &mut rates);
        sim.set_poisson_rates(dc.input, &rates)?;
        let _ = sim.take_counts(dc.p_exc_count)?;
        let mut seen = false;
        for (b, slot) in by_bin.iter_mut().enumerate() {
            if b == bins {
                sim.set_poisson_rates(dc.input, &zeros)?;
                sim.run_steps(p.present_steps() - bins as u64 * bin_steps + p.rest_steps())?;
            } else {
                sim.run_steps(bin_steps)?;
            }
            let c = sim.take_counts(dc.p_exc_count)?;
            let mut here = [0f64; 2];
            for (i, &d) in diffuse.iter().enumerate() {
                here[d] += c[[0, i]];
            }
            slot[0] += here[0];
            slot[1] += here[1];
            if !seen && here[0] + here[1] > 0.0 {
                seen = true;
                first[match (here[0] > 0.0, here[1] > 0.0) {
                    (true, false) => 0,
                    (false, true) => 1,
                    _ => 2,
                }] += 1;
            }
        }
    }
    println!("excitatory spikes per bin over {n_images} images (learned, diffuse):");
    for (b, v) in by_bin.iter().enumerate() {
        let label = if b == bins {
            format!("{} ms to the end of the rest", b * 10)
        } else {
            format!("{}-{} ms", b * 10, b * 10 + 10)
        };
        println!("  {label}: {} {}", v[0], v[1]);
    }
    println!(
        "first bin with a spike: learned only {}, diffuse only {}, both {}",
        first[0], first[1], first[2]
    );
    let w1 = sim
        .weights(dc.conn_input)?
        .index_axis_move(ndarray::Axis(0), 0);
    let mut moved = [0f64; 2];
    let mut share = [0f64; 2];
    for (i, &d) in diffuse.iter().enumerate() {
        moved[d] += w1
            .row(i)
            .iter()
            .zip(w0.row(i))
            .map(|(a, b)| (a - b).abs() as f64)
            .sum::<f64>();
        share[d] += (top_share(&w1, i) - top_share(&w0, i)) as f64;
    }
    let count = [(n - nd).max(1) as f64, nd.max(1) as f64];
    let learned_now = (0..n)
        .filter(|&i| diffuse[i] == 1 && top_share(&w1, i) >= 0.4)
        .count();
    println!(
        "diffuse neurons that have learned by the end (top-150 share >= 0.4): {learned_now} of {nd}"
    );
    println!(
        "mean sum |dw| per row: learned {:.4}, diffuse {:.4}; mean change of the top-150 share: learned {:+.5}, diffuse {:+.5}",
        moved[0] / count[0],
        moved[1] / count[1],
        share[0] / count[0],
        share[1] / count[1]
    );
    Ok(())
}
