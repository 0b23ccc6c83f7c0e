//! Ready-made networks used by the examples, the CLI, the tests and the benchmarks, so that all of
//! them run exactly the same model.

use crate::error::{Error, Result};
use crate::model::{
    Connection, Dist, Encoders, EnsembleId, Network, NeuronType, Node, Probe, ProbeId, Synapse,
};

/// The classic minimal NEF model (Nengo's "A simple NEF network").
pub struct NefMinimal {
    /// The network.
    pub net: Network,
    /// Population A (50 LIF, 25-75 Hz) representing sin(t).
    pub a: EnsembleId,
    /// Population B (40 LIF, 50-100 Hz) receiving A's decoded x^2.
    pub b: EnsembleId,
    /// Input sin(t).
    pub p_input: ProbeId,
    /// A's decoded value, filtered with 0.01 s.
    pub p_a: ProbeId,
    /// B's decoded value, filtered with 0.1 s.
    pub p_b: ProbeId,
    /// Spikes of A.
    pub p_a_spikes: ProbeId,
}

/// Builds the minimal NEF network: A represents sin(t); A -> B computes x^2 with a 0.1 s synapse.
pub fn nef_minimal(seed: u64) -> Result<NefMinimal> {
    let mut net = Network::new(seed);
    let input = net.add_node(Node::function(1, |t| vec![t.sin()]).label("input"))?;
    let a = net.add_ensemble(
        crate::model::Ensemble::new(50, 1)
            .label("A")
            .neuron_type(NeuronType::lif())
            .max_rates(Dist::uniform(25.0, 75.0))
            .intercepts(Dist::uniform(-1.0, 1.0))
            .encoders(Encoders::Choice(vec![vec![1.0], vec![-1.0]])),
    )?;
    let b = net.add_ensemble(
        crate::model::Ensemble::new(40, 1)
            .label("B")
            .max_rates(Dist::uniform(50.0, 100.0))
            .intercepts(Dist::uniform(-1.0, 1.0))
            .encoders(Encoders::Choice(vec![vec![1.0], vec![-1.0]])),
    )?;
    net.connect(Connection::new(input, a))?;
    net.connect(
        Connection::new(a, b)
            .function(|x| vec![x[0] * x[0]])
            .synapse(Some(Synapse::Lowpass(0.1))),
    )?;
    let p_input = net.probe(Probe::decoded(input))?;
    let p_a = net.probe(Probe::decoded(a).synapse(Synapse::Lowpass(0.01)))?;
    let p_b = net.probe(Probe::decoded(b).synapse(Synapse::Lowpass(0.1)))?;
    let p_a_spikes = net.probe(Probe::spikes(a))?;
    Ok(NefMinimal {
        net,
        a,
        b,
        p_input,
        p_a,
        p_b,
        p_a_spikes,
    })
}

/// A 1-D communication channel A -> B.
pub struct CommunicationChannel {
    /// The network.
    pub net: Network,
    /// First population (100 LIF).
    pub a: EnsembleId,
    /// Second population (100 LIF).
    pub b: EnsembleId,
    /// The input signal.
    pub p_input: ProbeId,
    /// B's decoded output, filtered with 0.01 s.
    pub p_b: ProbeId,
}

/// Builds the communication channel: input sin(2 pi t) -> A -> B (Nengo defaults otherwise).
pub fn communication_channel(seed: u64) -> Result<CommunicationChannel> {
    let mut net = Network::new(seed);
    let input = net.add_node(
        Node::function(1, |t| vec![(2.0 * std::f64::consts::PI * t).sin()]).label("input"),
    )?;
    let a = net.add_ensemble(crate::model::Ensemble::new(100, 1).label("A"))?;
    let b = net.add_ensemble(crate::model::Ensemble::new(100, 1).label("B"))?;
    net.connect(Connection::new(input, a))?;
    net.connect(Connection::new(a, b))?;
    let p_input = net.probe(Probe::decoded(input))?;
    let p_b = net.probe(Probe::decoded(b).synapse(Synapse::Lowpass(0.01)))?;
    Ok(CommunicationChannel {
        net,
        a,
        b,
        p_input,
        p_b,
    })
}

/// Filters a signal (rows = time) with a lowpass of time constant `tau` exactly as the simulator's
/// synapses do (`y = a y + (1 - a) x`), for computing the ideal output a filtered probe should show.
pub fn lowpass_filter(x: &[f64], tau: f64, dt: f64) -> Vec<f64> {
    let a = (-dt / tau).exp();
    let mut y = 0.0;
    x.iter()
        .map(|&x| {
            y = a * y + (1.0 - a) * x;
            y
        })
        .collect()
}

/// Root-mean-square error between two equally long signals.
pub fn rmse(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()).max(1);
    (a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>() / n as f64).sqrt()
}

/// A recurrent network of LIF neurons driven by Poisson spike trains.
pub struct RecurrentPoisson {
    /// The network.
    pub net: Network,
    /// The recurrent population (1000 LIF, gain 1, bias in [0, 0.9)).
    pub ens: EnsembleId,
    /// Spikes of the population.
    pub p_spikes: ProbeId,
    /// The Poisson input spikes.
    pub p_input: ProbeId,
}

/// 200 Poisson inputs at 20 Hz drive 1000 LIF neurons through random excitatory weights; the
/// neurons are coupled by a random dense recurrent matrix with 5% non-zero entries of either sign.
/// Weights are drawn with `seed`.
pub fn recurrent_poisson(seed: u64) -> Result<RecurrentPoisson> {
    use crate::model::Transform;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    let (n, n_in) = (1000, 200);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut net = Network::new(seed);
    let input = net.add_node(Node::poisson(vec![20.0; n_in]).label("poisson"))?;
    let bias: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..0.9)).collect();
    let ens = net.add_ensemble(
        crate::model::Ensemble::new(n, 1)
            .label("recurrent")
            .gain_bias(vec![1.0; n], bias),
    )?;
    let w_in = Array2::from_shape_fn((n, n_in), |_| rng.random_range(0.0..7.5e-4));
    net.connect(
        Connection::new(input, ens.neurons())
            .transform(Transform::Dense(w_in))
            .synapse(Some(Synapse::Lowpass(0.005))),
    )?;
    let w_rec = Array2::from_shape_fn((n, n), |(i, j)| {
        if i != j && rng.random::<f64>() < 0.05 {
            rng.random_range(-2e-4..2e-4)
        } else {
            0.0
        }
    });
    net.connect(
        Connection::new(ens.neurons(), ens.neurons())
            .transform(Transform::Dense(w_rec))
            .synapse(Some(Synapse::Lowpass(0.005))),
    )?;
    let p_spikes = net.probe(Probe::spikes(ens))?;
    let p_input = net.probe(Probe::decoded(input))?;
    Ok(RecurrentPoisson {
        net,
        ens,
        p_spikes,
        p_input,
    })
}

/// Every constant of the Diehl & Cook (2015) network, with the published values as defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct DiehlCookConfig {
    /// Input size (784 for 28x28 images).
    pub n_input: usize,
    /// Excitatory (and inhibitory) neurons.
    pub n_exc: usize,
    /// Excitatory neuron parameters.
    pub exc: crate::model::DcParams,
    /// Inhibitory neuron parameters.
    pub inh: crate::model::DcParams,
    /// Plasticity of input -> excitatory weights.
    pub stdp: crate::model::Stdp,
    /// Initial input weights are `(U(0, 1) + init_offset) * init_scale`, clipped to [0, w_max].
    pub init_scale: f64,
    /// See `init_scale`.
    pub init_offset: f64,
    /// Target sum of each excitatory neuron's input weights, restored before every image.
    pub normalize: f64,
    /// Excitatory -> inhibitory one-to-one weight.
    pub w_exc_inh: f64,
    /// Inhibitory -> excitatory all-but-self weight.
    pub w_inh_exc: f64,
    /// Per-synapse delays of the input connection, drawn uniformly in `[min, max)` seconds at
    /// build time and rounded to whole steps (Diehl & Cook use `Some((0.0, 0.010))`); `None`
    /// (default): no delays. See [`crate::model::Delays`] for the timing and STDP semantics.
    pub input_delays: Option<(f64, f64)>,
}

impl Default for DiehlCookConfig {
    fn default() -> Self {
        DiehlCookConfig {
            n_input: 784,
            n_exc: 100,
            exc: crate::model::DcParams::excitatory(),
            inh: crate::model::DcParams::inhibitory(),
            stdp: crate::model::Stdp::diehl_cook(),
            init_scale: 0.3,
            init_offset: 0.01,
            normalize: 78.0,
            w_exc_inh: 10.4,
            w_inh_exc: 17.0,
            input_delays: None,
        }
    }
}

/// The Diehl & Cook network as built by [`diehl_cook`].
pub struct DiehlCook {
    /// The network.
    pub net: Network,
    /// Poisson input (rates set per image with `Simulator::set_poisson_rates`).
    pub input: crate::model::NodeId,
    /// Excitatory population.
    pub exc: EnsembleId,
    /// Inhibitory population.
    pub inh: EnsembleId,
    /// The plastic input -> excitatory connection.
    pub conn_input: crate::model::ConnectionId,
    /// Excitatory spike counts, kept on the device (read with `Simulator::take_counts`).
    pub p_exc_count: ProbeId,
}

impl DiehlCookConfig {
    /// Checks that the input weights fit in one buffer that GPU kernels index with 32-bit
    /// integers: `n_exc x n_input <= u32::MAX` (5,478,274 neurons for MNIST).
    pub fn check_size(&self) -> Result<()> {
        let limit = u32::MAX as usize;
        if self.n_exc.saturating_mul(self.n_input) > limit {
            return Err(Error::invalid(
                "Diehl & Cook network",
                "n_exc",
                self.n_exc,
                format!(
                    "an integer from 1 to {} (n_exc x {} inputs <= {limit})",
                    limit / self.n_input.max(1),
                    self.n_input,
                ),
            ));
        }
        Ok(())
    }
}

/// Builds Diehl & Cook's network: Poisson input -> excitatory (all-to-all, STDP, normalised),
/// excitatory -> inhibitory (one-to-one), inhibitory -> excitatory (all but self). Initial
/// weights are drawn with `seed`.
pub fn diehl_cook(cfg: &DiehlCookConfig, seed: u64) -> Result<DiehlCook> {
    use crate::model::{LearningRule, Port, Transform};
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut net = Network::new(seed);
    let input = net.add_node(Node::poisson(vec![0.0; cfg.n_input]).label("input"))?;
    let exc = net.add_ensemble(
        crate::model::Ensemble::new(cfg.n_exc, 1)
            .label("exc")
            .neuron_type(NeuronType::DiehlCook(cfg.exc)),
    )?;
    let inh = net.add_ensemble(
        crate::model::Ensemble::new(cfg.n_exc, 1)
            .label("inh")
            .neuron_type(NeuronType::DiehlCook(cfg.inh)),
    )?;
    let w_max = cfg.stdp.w_max;
    // The input weights are one buffer that GPU kernels index with 32-bit integers; and a size
    // the machine cannot hold is an error, not an abort.
    cfg.check_size()?;
    let synapses = cfg.n_exc * cfg.n_input;
    let mut values = Vec::new();
    values.try_reserve_exact(synapses).map_err(|_| {
        Error::invalid(
            "Diehl & Cook network",
            "n_exc",
            cfg.n_exc,
            format!("a size whose {synapses} input weights fit in this machine's memory"),
        )
    })?;
    values.extend(
        (0..synapses)
            .map(|_| ((rng.random::<f64>() + cfg.init_offset) * cfg.init_scale).clamp(0.0, w_max)),
    );
    let w0 = ndarray::Array2::from_shape_vec((cfg.n_exc, cfg.n_input), values)
        .expect("n_exc x n_input values");
    let mut input_conn = Connection::new(input, exc.neurons())
        .port(Port::Excitatory)
        .transform(Transform::Dense(w0))
        .learning(LearningRule::Stdp(cfg.stdp))
        .normalize_incoming(cfg.normalize);
    if let Some((min, max)) = cfg.input_delays {
        input_conn = input_conn.delays_uniform(min, max);
    }
    let conn_input = net.connect(input_conn)?;
    net.connect(
        Connection::new(exc.neurons(), inh.neurons())
            .port(Port::Excitatory)
            .transform(Transform::Scalar(cfg.w_exc_inh)),
    )?;
    net.connect(
        Connection::new(inh.neurons(), exc.neurons())
            .port(Port::Inhibitory)
            .transform(Transform::AllButSelf(cfg.w_inh_exc)),
    )?;
    let p_exc_count = net.probe(Probe::spike_count(exc))?;
    Ok(DiehlCook {
        net,
        input,
        exc,
        inh,
        conn_input,
        p_exc_count,
    })
}
