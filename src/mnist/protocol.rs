//! The Diehl & Cook presentation protocol as a reusable primitive: Poisson rate coding of an
//! image, presentation then rest, and the retry rule for images that evoke too few spikes.

use crate::error::{Error, Result, check_positive};
use crate::model::{NodeId, ProbeId};
use crate::sim::Simulator;
use ndarray::Array2;

/// Every constant of the protocol, with Diehl & Cook's values as defaults.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Protocol {
    /// Timestep (s); 0.5 ms.
    pub dt: f64,
    /// Presentation time (s); 350 ms.
    pub t_present: f64,
    /// Rest with no input after each presentation (s); 150 ms.
    pub t_rest: f64,
    /// Starting intensity: rate = pixel / 8 * intensity Hz (2 -> 63.75 Hz for pixel 255).
    pub intensity: f64,
    /// Added to the intensity when an image evokes too few spikes.
    pub intensity_step: f64,
    /// Fewest excitatory spikes a presentation must evoke.
    pub min_spikes: u32,
    /// Most repetitions of one image (the published rule has no limit; this guards against a
    /// silent network looping forever).
    pub max_repeats: u32,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            dt: 0.0005,
            t_present: 0.35,
            t_rest: 0.15,
            intensity: 2.0,
            intensity_step: 1.0,
            min_spikes: 5,
            max_repeats: 20,
        }
    }
}

impl Protocol {
    /// Checks every constant.
    pub fn validate(&self) -> Result<()> {
        let o = "Protocol";
        check_positive(&o, "dt", self.dt)?;
        check_positive(&o, "t_present", self.t_present)?;
        crate::error::check_non_negative(&o, "t_rest", self.t_rest)?;
        check_positive(&o, "intensity", self.intensity)?;
        crate::error::check_non_negative(&o, "intensity_step", self.intensity_step)?;
        if self.max_repeats == 0 {
            return Err(Error::invalid(o, "max_repeats", 0, "an integer >= 1"));
        }
        if self.t_present < self.dt {
            return Err(Error::invalid(
                o,
                "t_present",
                self.t_present,
                format!(">= dt ({})", self.dt),
            ));
        }
        Ok(())
    }
    /// Steps of a presentation.
    pub fn present_steps(&self) -> u64 {
        (self.t_present / self.dt).round() as u64
    }
    /// Steps of a rest.
    pub fn rest_steps(&self) -> u64 {
        (self.t_rest / self.dt).round() as u64
    }
}

/// Poisson rate coding: `rate = pixel / 8 * intensity` Hz, written into `out`.
pub fn poisson_rates(pixels: &[u8], intensity: f64, out: &mut [f32]) {
    for (o, &p) in out.iter_mut().zip(pixels) {
        *o = (p as f64 / 8.0 * intensity) as f32;
    }
}

/// Where the protocol reads and writes in a simulator.
#[derive(Clone, Copy, Debug)]
pub struct Wiring {
    /// The Poisson input node.
    pub input: NodeId,
    /// Spike counts of the excitatory population (a `Probe::spike_count`).
    pub exc_count: ProbeId,
    /// Inputs per image.
    pub n_input: usize,
    /// Excitatory neurons.
    pub n_exc: usize,
}

/// What one image's presentation produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// Spike count of each excitatory neuron during the accepted presentation.
    pub counts: Vec<f64>,
    /// Intensity of the accepted presentation.
    pub intensity: f64,
    /// Presentations it took (1 if the first evoked enough spikes).
    pub repeats: u32,
}

/// One presentation on every instance: the boundary ops (weight normalisation), `rates`
/// (instances x inputs, Hz) for `t_present`, then `zeros` (the same length) for `t_rest`.
/// Returns the excitatory spike counts of the presentation, one row per instance.
pub fn present_once(
    sim: &mut Simulator,
    w: &Wiring,
    p: &Protocol,
    rates: &[f32],
    zeros: &[f32],
) -> Result<Array2<f64>> {
    sim.boundary()?;
    sim.set_poisson_rates(w.input, rates)?;
    let _ = sim.take_counts(w.exc_count)?;
    sim.run_steps(p.present_steps())?;
    let counts = sim.take_counts(w.exc_count)?;
    sim.set_poisson_rates(w.input, zeros)?;
    sim.run_steps(p.rest_steps())?;
    Ok(counts)
}

/// Presents `images` following the protocol, on as many instances at once as the simulator
/// has (its batch size). Before each presentation the boundary ops run (weight normalisation);
/// then every busy instance is shown its image's Poisson rates for `t_present`, and nothing for
/// `t_rest`. An instance whose presentation evoked fewer than `min_spikes` excitatory spikes is
/// shown the same image again with the intensity raised by `intensity_step`; an instance that is
/// done takes the next image, so every instance stays busy. Responses come back in image order.
pub fn present(
    sim: &mut Simulator,
    w: &Wiring,
    p: &Protocol,
    images: &[&[u8]],
) -> Result<Vec<Response>> {
    let batch = sim.config().batch;
    // Per instance: (image index, intensity, presentations so far).
    let mut slots: Vec<Option<(usize, f64, u32)>> = vec![None; batch];
    let mut next = 0;
    let mut result: Vec<Option<Response>> = vec![None; images.len()];
    let mut rates = vec![0.0f32; batch * w.n_input];
    let zeros = vec![0.0f32; batch * w.n_input];
    loop {
        for slot in slots.iter_mut() {
            if slot.is_none() && next < images.len() {
                *slot = Some((next, p.intensity, 0));
                next += 1;
            }
        }
        if slots.iter().all(Option::is_none) {
            break;
        }
        rates.fill(0.0);
        for (b, slot) in slots.iter().enumerate() {
            if let Some((img, intensity, _)) = slot {
                poisson_rates(
                    images[*img],
                    *intensity,
                    &mut rates[b * w.n_input..(b + 1) * w.n_input],
                );
            }
        }
        let counts = present_once(sim, w, p, &rates, &zeros)?;
        for (b, slot) in slots.iter_mut().enumerate() {
            let Some((img, intensity, repeats)) = slot.as_mut() else {
                continue;
            };
            *repeats += 1;
            let total: f64 = counts.row(b).sum();
            if total >= p.min_spikes as f64 || *repeats >= p.max_repeats {
                result[*img] = Some(Response {
                    counts: counts.row(b).to_vec(),
                    intensity: *intensity,
                    repeats: *repeats,
                });
                *slot = None;
            } else {
                *intensity += p.intensity_step;
            }
        }
    }
    Ok(result
        .into_iter()
        .map(|r| r.expect("every image answered"))
        .collect())
}
