//! Two excitatory Diehl & Cook (2015) neurons learn from MNIST 7s and 9s with STDP, (a) with
//! lateral inhibition and adaptive thresholds (the published network with `n_exc = 2`) and (b)
//! without them (inhibitory weight 0 and `theta_plus` 0). With competition the two neurons should
//! specialise, each on one digit; without it both learn the same blend of the two.
//!
//! Each image is shown for 350 ms as Poisson spike trains with rates `pixel / 8 * 2` Hz (at most
//! 63.75 Hz), followed by 150 ms without input, at dt = 0.5 ms; the input weights are normalised
//! (`Simulator::boundary`) before every image. Both cases see the same images in the same order
//! and start from the same weights.
//!
//! The intensity stays at 2: Diehl & Cook's rule of repeating an image at a higher intensity when
//! it drew fewer than 5 spikes is left out on purpose. With only two neurons sharing every spike,
//! the repeats drive both adaptive thresholds up to about 51 mV above their start within a few
//! hundred images, where the firing threshold reaches the excitatory reversal potential (0 mV)
//! and the neurons can never fire again (tried: 300 images took 2751 presentations).
//!
//! Writes `DIR/wta_two_digits.png` (each neuron's 28x28 input weights in both cases, and the mean
//! 7 and 9 for comparison) and prints, as its last two lines, `corr_with_inhibition: <x>` and
//! `corr_without_inhibition: <y>`: the Pearson correlation between the two neurons' learned
//! weight images.
//!
//! ```text
//! cargo run --release --example wta_two_digits -- [--data DIR] [--images N] \
//!     [--backend cpu|gpu|auto] [--seed N] [--out DIR]
//! ```
//!
//! The data directory is found as `volley::data::find_data_dir` does: `--data DIR`, then
//! `$VOLLEY_DATA_DIR`, then the cache (`bash scripts/fetch-mnist.sh` fetches MNIST there).

use clap::Parser;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use volley::data;
use volley::networks::{DiehlCookConfig, diehl_cook};
use volley::prelude::*;

/// Timestep (s).
const DT: f64 = 0.0005;
/// Presentation time of each image (s).
const PRESENT: f64 = 0.350;
/// Rest after each image (s).
const REST: f64 = 0.150;
/// Input intensity: rate = pixel / 8 * INTENSITY Hz.
const INTENSITY: f32 = 2.0;
/// The two digits.
const DIGITS: [u8; 2] = [7, 9];
/// Side of an MNIST image.
const SIDE: usize = 28;

#[derive(Parser)]
#[command(
    about = "Two Diehl & Cook neurons learning MNIST 7s and 9s, with and without competition"
)]
struct Args {
    /// Dataset directory (else $VOLLEY_DATA_DIR, else ~/.cache/volley/mnist).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Number of training images (the first 7s and 9s of the training set, in order).
    #[arg(long, default_value_t = 300)]
    images: usize,
    /// Which backend runs the network: cpu, gpu or auto.
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    backend: BackendChoice,
    /// Seed of the initial weights and of the Poisson inputs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for the figure.
    #[arg(long, default_value = "out/wta_two_digits")]
    out: PathBuf,
}

fn parse_backend(s: &str) -> std::result::Result<BackendChoice, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// Pearson correlation of two equally long vectors.
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// What one training run produced.
struct Learned {
    /// Each neuron's 784 input weights at the end.
    weights: [Vec<f64>; 2],
    /// Spikes of each neuron while each image was shown.
    counts: Vec<[usize; 2]>,
    /// Final adaptive threshold of each neuron (mV, offset included).
    theta: [f64; 2],
    /// Wall time of the run (s).
    wall: f64,
}

/// Trains the two-neuron network `cfg` on `images` (each 784 pixels): before each image the
/// input weights are normalised, then the image is shown and followed by a rest.
fn train(cfg: &DiehlCookConfig, images: &[&[u8]], args: &Args) -> Result<Learned> {
    let m = diehl_cook(cfg, args.seed)?;
    let mut sim = Simulator::new(&m.net, SimConfig::default().dt(DT).backend(args.backend))?;
    let (present, rest) = ((PRESENT / DT).round() as u64, (REST / DT).round() as u64);
    let silence = vec![0.0f32; cfg.n_input];
    let t0 = Instant::now();
    let mut counts = Vec::with_capacity(images.len());
    for img in images {
        sim.boundary()?;
        let rates: Vec<f32> = img.iter().map(|&p| p as f32 / 8.0 * INTENSITY).collect();
        sim.set_poisson_rates(m.input, &rates)?;
        sim.take_counts(m.p_exc_count)?; // forget the spikes of the rest before
        sim.run_steps(present)?;
        let n = sim.take_counts(m.p_exc_count)?;
        counts.push([n[[0, 0]] as usize, n[[0, 1]] as usize]);
        sim.set_poisson_rates(m.input, &silence)?;
        sim.run_steps(rest)?;
    }
    let wall = t0.elapsed().as_secs_f64();
    let w = sim.weights(m.conn_input)?;
    let row = |i: usize| {
        w.slice(ndarray::s![0, i, ..])
            .iter()
            .map(|&x| x as f64)
            .collect()
    };
    let theta = sim.neuron_state(m.exc, "theta")?;
    Ok(Learned {
        weights: [row(0), row(1)],
        counts,
        theta: [theta[[0, 0]] as f64, theta[[0, 1]] as f64],
        wall,
    })
}

/// Prints how each neuron responded to each digit over the last half of the images, and how its
/// weights correlate with each digit's mean image.
fn summarise(name: &str, l: &Learned, labels: &[u8], means: &[Vec<f64>; 2]) {
    let half = labels.len() / 2;
    println!(
        "{name}: trained in {:.2} s; final theta {:.2} / {:.2} mV; corr(neuron 0, neuron 1) = \
         {:.4}",
        l.wall,
        l.theta[0],
        l.theta[1],
        pearson(&l.weights[0], &l.weights[1])
    );
    for i in 0..2 {
        let mut line = format!("  neuron {i}:");
        for (d, digit) in DIGITS.iter().enumerate() {
            let (mut spikes, mut n) = (0usize, 0usize);
            for (c, _) in l.counts[half..]
                .iter()
                .zip(&labels[half..])
                .filter(|(_, lab)| **lab == *digit)
            {
                spikes += c[i];
                n += 1;
            }
            line += &format!(
                " {:.2} spikes per {digit} (last {n} {digit}s), corr with mean {digit} {:.3};",
                spikes as f64 / n.max(1) as f64,
                pearson(&l.weights[i], &means[d])
            );
        }
        println!("{}", line.trim_end_matches(';'));
    }
}

/// Draws the weight images (rows: cases; columns: neuron 0, neuron 1) and the two digits' mean
/// images as a last row.
fn draw(path: &Path, rows: &[(String, [&[f64]; 2])]) -> Result<()> {
    let cell = 300u32;
    let title_h = 50u32;
    let size = (2 * cell, title_h + rows.len() as u32 * (cell + 30));
    volley::plot::write_png(path, size, |root| {
        let (top, body) = root.split_vertically(title_h);
        top.titled(
            "Input weights of the two excitatory neurons",
            ("sans-serif", 24),
        )?;
        for (area_row, (label, images)) in
            body.split_evenly((rows.len(), 1)).iter().zip(rows.iter())
        {
            for (area, (i, img)) in area_row
                .split_evenly((1, 2))
                .iter()
                .zip(images.iter().enumerate())
            {
                let caption = if label.starts_with("mean") {
                    format!("{label} {}", DIGITS[i])
                } else {
                    format!("{label}: neuron {i}")
                };
                let area = area.titled(&caption, ("sans-serif", 17))?;
                let (w, h) = area.dim_in_pixel();
                let px = ((w.min(h) - 10) / SIDE as u32) as i32;
                let x0 = (w as i32 - px * SIDE as i32) / 2;
                let max = img.iter().cloned().fold(f64::MIN_POSITIVE, f64::max);
                for (k, &v) in img.iter().enumerate() {
                    let (r, c) = ((k / SIDE) as i32, (k % SIDE) as i32);
                    let g = (255.0 * (1.0 - v / max).clamp(0.0, 1.0)) as u8;
                    area.draw(&Rectangle::new(
                        [(x0 + c * px, r * px), (x0 + (c + 1) * px, (r + 1) * px)],
                        RGBColor(g, g, g).filled(),
                    ))?;
                }
            }
        }
        Ok(())
    })
}

fn run(args: Args) -> Result<()> {
    // What auto runs on, to say so below.
    let args = Args {
        backend: args.backend.resolve()?,
        ..args
    };
    let dir = data::find_data_dir(args.data.as_deref())?;
    let dataset = data::load_dir(&dir)?;
    let set = dataset.train.filter_labels(&DIGITS).take(args.images);
    if set.len() < args.images || args.images == 0 {
        return Err(Error::Other(format!(
            "--images {}: the training set has {} images of {} and {}",
            args.images,
            set.len(),
            DIGITS[0],
            DIGITS[1]
        )));
    }
    let images: Vec<&[u8]> = set.iter().map(|(p, _)| p).collect();
    let means: [Vec<f64>; 2] = DIGITS.map(|d| {
        let of_d: Vec<&[u8]> = set
            .iter()
            .filter(|(_, l)| *l == d)
            .map(|(p, _)| p)
            .collect();
        (0..SIDE * SIDE)
            .map(|k| of_d.iter().map(|p| p[k] as f64).sum::<f64>() / of_d.len().max(1) as f64)
            .collect()
    });
    println!(
        "{} images ({} 7s, {} 9s) from {}, {} ms + {} ms rest each at dt {} ms, {} backend",
        set.len(),
        set.labels.iter().filter(|l| **l == 7).count(),
        set.labels.iter().filter(|l| **l == 9).count(),
        dir.display(),
        PRESENT * 1e3,
        REST * 1e3,
        DT * 1e3,
        args.backend
    );

    let with = DiehlCookConfig {
        n_exc: 2,
        ..DiehlCookConfig::default()
    };
    let mut without = with.clone();
    without.w_inh_exc = 0.0;
    without.exc.theta_plus = 0.0;
    let a = train(&with, &images, &args)?;
    summarise(
        "with inhibition and adaptive thresholds",
        &a,
        &set.labels,
        &means,
    );
    let b = train(&without, &images, &args)?;
    summarise(
        "without (w_inh_exc 0, theta_plus 0)",
        &b,
        &set.labels,
        &means,
    );
    let (x, y) = (
        pearson(&a.weights[0], &a.weights[1]),
        pearson(&b.weights[0], &b.weights[1]),
    );

    let path = args.out.join("wta_two_digits.png");
    let rows = vec![
        (
            format!("with inhibition (r = {x:.3})"),
            [&a.weights[0][..], &a.weights[1][..]],
        ),
        (
            format!("without (r = {y:.3})"),
            [&b.weights[0][..], &b.weights[1][..]],
        ),
        ("mean training".to_string(), [&means[0][..], &means[1][..]]),
    ];
    draw(&path, &rows)?;
    println!("wrote {}", path.display());
    println!("corr_with_inhibition: {x:.4}");
    println!("corr_without_inhibition: {y:.4}");
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
