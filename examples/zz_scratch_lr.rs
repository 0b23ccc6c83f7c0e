// temporary scratch (to be deleted)
use ndarray::Array2;
use volley::model::{Bcm, Oja};
use volley::prelude::*;
fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
        .collect()
}
const W0: [[f64; 7]; 5] = [
    [0.051, 0.208, -0.209, 0.011, 0.393, 0.396, -0.374],
    [-0.293, -0.449, -0.059, -0.47, -0.043, 0.149, -0.222],
    [0.176, 0.091, -0.476, 0.059, -0.241, -0.085, -0.216],
    [0.193, -0.06, -0.343, 0.045, 0.28, -0.194, -0.278],
    [-0.112, 0.436, 0.476, 0.172, 0.403, 0.346, -0.122],
];
fn main() {
    let (na, nb) = (7, 5);
    let gb = linspace(2.0, 1.0, nb);
    for which in ["oja"] {
        let mut net = Network::new(0);
        let inp = net
            .add_node(Node::function(1, |t| {
                vec![(2.0 * std::f64::consts::PI * t).sin()]
            }))
            .unwrap();
        let ea =
            Array2::from_shape_vec((na, 1), vec![1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0]).unwrap();
        let eb = Array2::from_shape_vec((nb, 1), vec![1.0, -1.0, 1.0, 1.0, -1.0]).unwrap();
        let a = net
            .add_ensemble(
                Ensemble::new(na, 1)
                    .neuron_type(NeuronType::lif_rate())
                    .gain_bias(linspace(1.5, 3.0, na), linspace(0.8, 1.6, na))
                    .encoders(Encoders::Exact(ea)),
            )
            .unwrap();
        let b = net
            .add_ensemble(
                Ensemble::new(nb, 1)
                    .neuron_type(NeuronType::lif_rate())
                    .gain_bias(gb.clone(), linspace(1.2, 1.9, nb))
                    .encoders(Encoders::Exact(eb)),
            )
            .unwrap();
        net.connect(Connection::new(inp, a)).unwrap();
        let w0 = Array2::from_shape_fn((nb, na), |(i, j)| W0[i][j]);
        let mut c = Connection::new(a.neurons(), b.neurons()).transform(Transform::Dense(w0));
        c = if which == "bcm" {
            c.learning(Bcm::new().learning_rate(1e-7))
        } else {
            c.learning(Oja::new().learning_rate(1e-6))
        };
        let c = net.connect(c).unwrap();
        let pb = net.probe(Probe::spikes(b)).unwrap();
        let mut sim =
            Simulator::new(&net, SimConfig::default().backend(BackendChoice::Cpu)).unwrap();
        for n in [5, 45, 50, 100, 300, 500] {
            sim.run_steps(n).unwrap();
            let w = sim.weights(c).unwrap();
            for i in [0] {
                let r: Vec<String> = (0..na)
                    .map(|j| format!("{:.9}", w[[0, i, j]] as f64 / gb[i] - W0[i][j]))
                    .collect();
                println!("{which} {} row{i} [{}]", sim.n_steps(), r.join(", "));
            }
        }
        let d = sim.data_instance(pb, 0).unwrap();
        println!(
            "{which} post rates {:?}",
            [99, 499, 999].map(|k| d
                .row(k)
                .iter()
                .map(|x| (x * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>())
        );
    }
}
