//! Every invalid parameter is a `volley::Error` (never a panic, never silently accepted), whose
//! message names the object, the parameter and the offending value.

use ndarray::Array2;
use std::str::FromStr;
use volley::model::{DcParams, LifParams, Sparse};
use volley::prelude::*;

/// Checks that `r` is `Error::InvalidParameter` for `object` (a substring of the error's
/// object), parameter `param` (exactly) and a value whose text contains `value`, and that the
/// displayed message carries all three. Returns the message.
#[track_caller]
fn expect_invalid<T>(r: Result<T>, object: &str, param: &str, value: &str) -> String {
    let err = match r {
        Ok(_) => panic!("expected an InvalidParameter error for {object} `{param}` = {value}"),
        Err(e) => e,
    };
    let msg = err.to_string();
    match &err {
        Error::InvalidParameter {
            object: o,
            param: p,
            value: v,
            allowed,
        } => {
            assert!(
                o.contains(object),
                "object {o:?} should name {object:?}: {msg}"
            );
            assert_eq!(p, param, "{msg}");
            assert!(
                v.contains(value),
                "value {v:?} should contain {value:?}: {msg}"
            );
            assert!(!allowed.is_empty(), "{msg}");
        }
        other => panic!("expected InvalidParameter, got {other:?}"),
    }
    for part in [object, param, value] {
        assert!(
            msg.contains(part),
            "message {msg:?} should contain {part:?}"
        );
    }
    msg
}

fn cfg() -> SimConfig {
    SimConfig::default().backend(BackendChoice::Cpu)
}

/// A network with one labelled 1-D ensemble "a" and one 2-D node "in".
fn small_net() -> (Network, EnsembleId, NodeId) {
    let mut net = Network::new(0);
    let a = net.add_ensemble(Ensemble::new(10, 1).label("a")).unwrap();
    let n = net
        .add_node(Node::constant(vec![0.5, -0.5]).label("in"))
        .unwrap();
    (net, a, n)
}

// ------------------------------------------------------------------------------------------
// Ensembles

#[test]
fn zero_neurons_or_dimensions() {
    let mut net = Network::new(0);
    expect_invalid(
        net.add_ensemble(Ensemble::new(0, 1).label("z")),
        "Ensemble 0 \"z\"",
        "n_neurons",
        "0",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(5, 0).label("z")),
        "Ensemble 0 \"z\"",
        "dimensions",
        "0",
    );
    // Sizes that 32-bit GPU indices cannot address are refused before anything is allocated.
    let too_many = u32::MAX as usize + 1;
    let msg = expect_invalid(
        net.add_ensemble(Ensemble::new(too_many, 1).label("z")),
        "Ensemble 0 \"z\"",
        "n_neurons",
        &too_many.to_string(),
    );
    assert!(msg.contains("4294967295"), "{msg}");
    let msg = expect_invalid(
        net.add_ensemble(Ensemble::new(1 << 20, 1 << 13).label("z")),
        "Ensemble 0 \"z\"",
        "dimensions",
        "8192",
    );
    assert!(msg.contains("at most 4095"), "{msg}");
    // Nothing was added by the failed calls.
    assert!(net.ensembles().is_empty());
}

#[test]
fn intercepts_of_one_or_more() {
    let mut net = Network::new(0);
    expect_invalid(
        net.add_ensemble(Ensemble::new(3, 1).intercepts(Dist::Exact(vec![0.0, 1.5, 0.2]))),
        "Ensemble 0",
        "intercepts",
        "1.5",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(3, 1).intercepts(Dist::Exact(vec![
            f64::NEG_INFINITY,
            0.0,
            0.2,
        ]))),
        "Ensemble 0",
        "intercepts",
        "-inf",
    );
    // An intercept of exactly 1 needs an infinite gain.
    expect_invalid(
        net.add_ensemble(Ensemble::new(1, 1).intercepts(Dist::Exact(vec![1.0]))),
        "Ensemble 0",
        "intercepts",
        "1",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(3, 1).intercepts(Dist::uniform(0.0, 2.0))),
        "Ensemble 0",
        "intercepts",
        "2",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(3, 1).intercepts(Dist::Constant(f64::NAN))),
        "Ensemble 0",
        "intercepts",
        "NaN",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(3, 1).intercepts(Dist::uniform(0.5, -0.5))),
        "Ensemble 0",
        "intercepts",
        "Uniform(0.5, -0.5)",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(3, 1).intercepts(Dist::Exact(vec![0.0; 2]))),
        "Ensemble 0",
        "intercepts",
        "2 values",
    );
    // Uniform(-1, 1) samples from [-1, 1) and is fine.
    net.add_ensemble(Ensemble::new(3, 1).intercepts(Dist::uniform(-1.0, 1.0)))
        .unwrap();
    // Below -1, as Nengo allows: the neurons fire across the whole radius.
    let e = net
        .add_ensemble(Ensemble::new(3, 1).intercepts(Dist::Exact(vec![-1.5, -1.01, 0.2])))
        .unwrap();
    let sim = Simulator::new(&net, cfg()).unwrap();
    let built = &sim.built().ensembles[e.index()];
    assert!(built.gain.iter().all(|&g| g > 0.0 && g.is_finite()));
    for (&x, want) in built.intercepts.iter().zip([-1.5, -1.01, 0.2]) {
        assert!((x - want).abs() < 1e-9, "intercept {x}, want {want}");
    }
}

#[test]
fn unreachable_or_invalid_max_rates() {
    // 1/tau_ref = 500 Hz with Nengo's default tau_ref = 2 ms: a LIF neuron cannot reach it.
    // The distribution is only sampled at build time, so this surfaces at Simulator::new.
    for rate in [500.0, 1000.0] {
        let mut net = Network::new(0);
        net.add_ensemble(
            Ensemble::new(4, 1)
                .label("fast")
                .max_rates(Dist::Constant(rate)),
        )
        .unwrap();
        expect_invalid(
            Simulator::new(&net, cfg()),
            "Ensemble 0 \"fast\"",
            "max_rates",
            &rate.to_string(),
        );
    }
    let mut net = Network::new(0);
    for bad in [
        Dist::Constant(0.0),
        Dist::Constant(-10.0),
        Dist::Constant(f64::NAN),
    ] {
        let text = match &bad {
            Dist::Constant(v) => v.to_string(),
            _ => unreachable!(),
        };
        expect_invalid(
            net.add_ensemble(Ensemble::new(4, 1).max_rates(bad)),
            "Ensemble 0",
            "max_rates",
            &text,
        );
    }
    expect_invalid(
        net.add_ensemble(Ensemble::new(4, 1).max_rates(Dist::Choice(vec![]))),
        "Ensemble 0",
        "max_rates",
        "Choice([])",
    );
}

#[test]
fn bad_neuron_parameters() {
    let mut net = Network::new(0);
    for tau_rc in [0.0, -0.02, f64::NAN] {
        expect_invalid(
            net.add_ensemble(
                Ensemble::new(5, 1)
                    .label("n")
                    .neuron_type(NeuronType::lif_with(tau_rc, 0.002)),
            ),
            "Ensemble 0 \"n\"",
            "tau_rc",
            &tau_rc.to_string(),
        );
    }
    for tau_ref in [-0.001, f64::INFINITY] {
        expect_invalid(
            net.add_ensemble(
                Ensemble::new(5, 1).neuron_type(NeuronType::LifRate(LifParams {
                    tau_ref,
                    ..LifParams::default()
                })),
            ),
            "Ensemble 0",
            "tau_ref",
            &tau_ref.to_string(),
        );
    }
    expect_invalid(
        net.add_ensemble(Ensemble::new(5, 1).neuron_type(NeuronType::AdaptiveLif {
            lif: LifParams::default(),
            tau_n: 0.0,
            inc_n: 0.01,
        })),
        "Ensemble 0",
        "tau_n",
        "0",
    );
    expect_invalid(
        net.add_ensemble(
            Ensemble::new(5, 1).neuron_type(NeuronType::SpikingRectifiedLinear { amplitude: -1.0 }),
        ),
        "Ensemble 0",
        "amplitude",
        "-1",
    );
    for coupling in [f64::NAN, -0.2] {
        expect_invalid(
            net.add_ensemble(Ensemble::new(5, 1).neuron_type(NeuronType::Izhikevich {
                tau_recovery: 0.02,
                coupling,
                reset_voltage: -65.0,
                reset_recovery: 8.0,
            })),
            "Ensemble 0",
            "coupling",
            &coupling.to_string(),
        );
    }
    // As in Nengo: tau_rc below dt (LIF voltages are integrated exactly; down to dt / 8 in
    // f32, below), a voltage without a lower bound, and an adaptation time constant of one
    // step.
    let mut net = Network::new(0);
    for neuron_type in [
        NeuronType::lif_with(0.0005, 0.0),
        NeuronType::Lif(LifParams {
            min_voltage: f64::NEG_INFINITY,
            ..LifParams::default()
        }),
        NeuronType::AdaptiveLif {
            lif: LifParams::default(),
            tau_n: 0.001,
            inc_n: 0.01,
        },
    ] {
        net.add_ensemble(Ensemble::new(5, 1).neuron_type(neuron_type))
            .unwrap();
    }
    let mut sim = Simulator::new(&net, cfg()).unwrap();
    sim.run_steps(20).unwrap();
    let mut net = Network::new(0);
    net.add_ensemble(
        Ensemble::new(5, 1)
            .label("leaky")
            .neuron_type(NeuronType::lif_with(0.0001, 0.002)),
    )
    .unwrap();
    expect_invalid(
        Simulator::new(&net, cfg()),
        "Ensemble 0 \"leaky\"",
        "tau_rc",
        "0.0001",
    );
    // Forward Euler on the adaptation diverges from tau_n = dt / 2 down.
    let mut net = Network::new(0);
    net.add_ensemble(
        Ensemble::new(5, 1)
            .label("fast")
            .neuron_type(NeuronType::AdaptiveLif {
                lif: LifParams::default(),
                tau_n: 0.0005,
                inc_n: 0.01,
            }),
    )
    .unwrap();
    expect_invalid(
        Simulator::new(&net, cfg()),
        "Ensemble 0 \"fast\"",
        "tau_n",
        "0.0005",
    );
    // A Diehl & Cook gate or refractory period longer than the timer counts (2^23 steps of
    // dt = 1 ms: 8388.608 s), and the longest allowed.
    let dc = |refractory, min_interval| {
        let mut net = Network::new(0);
        net.add_ensemble(
            Ensemble::new(3, 1)
                .label("dc")
                .neuron_type(NeuronType::DiehlCook(DcParams {
                    refractory,
                    min_interval,
                    ..DcParams::excitatory()
                })),
        )
        .unwrap();
        net
    };
    Simulator::new(&dc(0.005, 8388.608), cfg()).unwrap();
    Simulator::new(&dc(8388.608, 0.0), cfg()).unwrap();
    for (refractory, min_interval, name, value) in [
        (0.005, 1e6, "min_interval", "1000000"),
        (0.005, 8388.609, "min_interval", "8388.609"),
        (20000.0, 0.0, "refractory", "20000"),
    ] {
        let msg = expect_invalid(
            Simulator::new(&dc(refractory, min_interval), cfg()),
            "Ensemble 0",
            name,
            value,
        );
        assert!(msg.contains("8388608 steps"), "{msg}");
    }
}

#[test]
fn nan_in_encoders_gain_bias_radius() {
    let mut net = Network::new(0);
    let mut enc = Array2::from_elem((3, 2), 1.0);
    enc[[1, 0]] = f64::NAN;
    expect_invalid(
        net.add_ensemble(
            Ensemble::new(3, 2)
                .label("e")
                .encoders(Encoders::Exact(enc)),
        ),
        "Ensemble 0 \"e\"",
        "encoders",
        "NaN",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(3, 2).encoders(Encoders::Choice(vec![vec![1.0, f64::NAN]]))),
        "Ensemble 0",
        "encoders",
        "NaN",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(3, 2).encoders(Encoders::Choice(vec![vec![0.0, 0.0]]))),
        "Ensemble 0",
        "encoders",
        "[0.0, 0.0]",
    );
    expect_invalid(
        net.add_ensemble(
            Ensemble::new(3, 2).encoders(Encoders::Exact(Array2::from_elem((2, 2), 1.0))),
        ),
        "Ensemble 0",
        "encoders",
        "(2, 2)",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(3, 2).encoders(Encoders::Choice(vec![vec![1.0]]))),
        "Ensemble 0",
        "encoders",
        "length 1",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(2, 1).gain_bias(vec![1.0, f64::NAN], vec![0.0, 0.0])),
        "Ensemble 0",
        "gain",
        "NaN",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(2, 1).gain_bias(vec![1.0, 1.0], vec![f64::INFINITY, 0.0])),
        "Ensemble 0",
        "bias",
        "inf",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(2, 1).gain_bias(vec![1.0], vec![0.0, 0.0])),
        "Ensemble 0",
        "gain",
        "1 values",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(2, 1).radius(f64::NAN)),
        "Ensemble 0",
        "radius",
        "NaN",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(2, 1).radius(0.0)),
        "Ensemble 0",
        "radius",
        "0",
    );
    expect_invalid(
        net.add_ensemble(Ensemble::new(2, 1).n_eval_points(0)),
        "Ensemble 0",
        "n_eval_points",
        "0",
    );
}

// ------------------------------------------------------------------------------------------
// Nodes

#[test]
fn bad_nodes() {
    let mut net = Network::new(0);
    expect_invalid(
        net.add_node(Node::constant(vec![1.0, f64::NAN]).label("c")),
        "Node 0 \"c\"",
        "output",
        "NaN",
    );
    expect_invalid(
        net.add_node(Node::constant(vec![])),
        "Node 0",
        "size_out",
        "0",
    );
    expect_invalid(
        net.add_node(Node::function(0, |_| vec![])),
        "Node 0",
        "size_out",
        "0",
    );
    expect_invalid(
        net.add_node(Node::present(vec![vec![1.0], vec![1.0, 2.0]], 0.1, 0.0)),
        "Node 0",
        "inputs[1]",
        "length 2",
    );
    expect_invalid(
        net.add_node(Node::present(vec![vec![1.0]], 0.0, 0.0)),
        "Node 0",
        "presentation_time",
        "0",
    );
    expect_invalid(
        net.add_node(Node::present(vec![vec![1.0]], 0.1, -1.0)),
        "Node 0",
        "pause_time",
        "-1",
    );
    expect_invalid(
        net.add_node(Node::present(vec![vec![f64::NAN]], 0.1, 0.0)),
        "Node 0",
        "inputs[0]",
        "NaN",
    );
}

#[test]
fn node_function_misbehaving_at_run_time() {
    // Wrong length: the node promises 2 values and returns 3 from t = 5 ms on.
    let mut net = Network::new(0);
    let n = net
        .add_node(
            Node::function(2, |t| {
                if t < 0.0045 {
                    vec![0.0; 2]
                } else {
                    vec![0.0; 3]
                }
            })
            .label("bad"),
        )
        .unwrap();
    let a = net.add_ensemble(Ensemble::new(10, 2)).unwrap();
    net.connect(Connection::new(n, a)).unwrap();
    let mut sim = Simulator::new(&net, cfg()).unwrap();
    let msg = expect_invalid(sim.run(0.01), "Node 0 \"bad\"", "output", "length 3");
    assert!(msg.contains("t = 0.005"), "{msg}");

    // NaN at run time, from a batched node, in instance 1 only.
    let mut net = Network::new(0);
    let n = net
        .add_node(
            Node::batched(1, |t, b| {
                vec![if b == 1 && t > 0.0025 { f64::NAN } else { t }]
            })
            .label("nan"),
        )
        .unwrap();
    let a = net.add_ensemble(Ensemble::new(10, 1)).unwrap();
    net.connect(Connection::new(n, a)).unwrap();
    let mut sim = Simulator::new(&net, cfg().batch(2)).unwrap();
    expect_invalid(sim.run(0.01), "Node 0 \"nan\"", "output", "NaN");
    // Infinity too.
    let mut net = Network::new(0);
    net.add_node(Node::function(1, |_| vec![f64::INFINITY]))
        .unwrap();
    let mut sim = Simulator::new(&net, cfg()).unwrap();
    expect_invalid(sim.run(0.01), "Node 0", "output", "inf");
}

// ------------------------------------------------------------------------------------------
// Connections

#[test]
fn transforms_of_the_wrong_shape_or_with_nan() {
    let (mut net, a, n) = small_net();
    let obj = format!(
        "Connection 0 ({} -> {})",
        net.endpoint_name(&Endpoint::Node(n)),
        net.endpoint_name(&Endpoint::Ensemble(a))
    );
    assert_eq!(obj, "Connection 0 (Node 0 \"in\" -> Ensemble 0 \"a\")");
    // Node (2) -> ensemble (1) with a scalar.
    expect_invalid(
        net.connect(Connection::new(n, a)),
        &obj,
        "transform",
        "scalar 1 between sizes 2 and 1",
    );
    expect_invalid(
        net.connect(Connection::new(n, a).transform(Transform::Dense(Array2::zeros((2, 2))))),
        &obj,
        "transform",
        "(2, 2)",
    );
    expect_invalid(
        net.connect(Connection::new(n, a).transform(Transform::Dense(Array2::zeros((2, 1))))),
        &obj,
        "transform",
        "(2, 1)",
    );
    expect_invalid(
        net.connect(Connection::new(n, a).transform(Transform::Diagonal(vec![1.0, 1.0]))),
        &obj,
        "transform",
        "diagonal of length 2",
    );
    let obj_aa = "Connection 0 (Ensemble 0 \"a\" -> Ensemble 0 \"a\".neurons)";
    expect_invalid(
        net.connect(Connection::new(a, a.neurons()).transform(Transform::Diagonal(vec![1.0; 3]))),
        obj_aa,
        "transform",
        "diagonal of length 3",
    );
    // NaN in each kind of transform.
    let mut bad = Array2::zeros((1, 2));
    bad[[0, 1]] = f64::NAN;
    expect_invalid(
        net.connect(Connection::new(n, a).transform(Transform::Dense(bad))),
        &obj,
        "transform",
        "NaN",
    );
    expect_invalid(
        net.connect(Connection::new(a, a).transform(Transform::Scalar(f64::NAN))),
        "Connection 0",
        "transform",
        "NaN",
    );
    expect_invalid(
        net.connect(Connection::new(a, a).transform(Transform::Diagonal(vec![f64::INFINITY]))),
        "Connection 0",
        "transform",
        "inf",
    );
    assert!(net.connections().is_empty());
    // The right shape works.
    net.connect(Connection::new(n, a).transform(Transform::Dense(Array2::zeros((1, 2)))))
        .unwrap();
}

#[test]
fn bad_synapses_and_solvers() {
    let (mut net, a, _) = small_net();
    // (0 is Nengo's synapse=0, a one-step delay: tests/core.rs a_synapse_of_tau_zero_delays_one_step.)
    for tau in [-0.005, f64::NAN] {
        expect_invalid(
            net.connect(Connection::new(a, a).synapse(Some(Synapse::Lowpass(tau)))),
            "Connection 0 (Ensemble 0 \"a\" -> Ensemble 0 \"a\")",
            "synapse tau",
            &tau.to_string(),
        );
        expect_invalid(
            net.connect(Connection::new(a, a).synapse(Some(Synapse::Alpha(tau)))),
            "Connection 0",
            "synapse tau",
            &tau.to_string(),
        );
        expect_invalid(
            net.probe(Probe::decoded(a).synapse(Synapse::Lowpass(tau))),
            "Probe 0",
            "synapse tau",
            &tau.to_string(),
        );
    }
    expect_invalid(
        net.connect(Connection::new(a, a).solver(Solver::LstsqL2 { reg: -0.1 })),
        "Connection 0",
        "solver reg",
        "-0.1",
    );
    expect_invalid(
        net.connect(Connection::new(a, a).solver(Solver::Lstsq { rcond: f64::NAN })),
        "Connection 0",
        "solver rcond",
        "NaN",
    );
    // A positive tau far below dt is caught at build time (dt = 1 ms).
    net.connect(Connection::new(a, a).synapse(Some(Synapse::Lowpass(1e-6))))
        .unwrap();
    expect_invalid(
        Simulator::new(&net, cfg()),
        "Connection 0",
        "synapse tau",
        "0.000001",
    );
    // ...and on a probe, by the same rule.
    let (mut net, a, _) = small_net();
    net.probe(Probe::decoded(a).synapse(Synapse::Lowpass(1e-9)))
        .unwrap();
    expect_invalid(
        Simulator::new(&net, cfg()),
        "Probe 0",
        "synapse tau",
        "0.000000001",
    );
}

#[test]
fn functions_only_from_ensembles_and_host_nodes() {
    let (mut net, a, n) = small_net();
    let b = net.add_ensemble(Ensemble::new(10, 2).label("b")).unwrap();
    // From a node computed on the host: applied there (as in Nengo); its output length is the
    // function's, and an empty output is refused.
    net.connect(Connection::new(n, a).function(|x| vec![x[0] * x[1]]))
        .unwrap();
    expect_invalid(
        net.connect(Connection::new(n, b).function(|_| vec![])),
        "Connection 1 (Node 0 \"in\" -> Ensemble 1 \"b\")",
        "function",
        "empty",
    );
    // A function whose output does not fit the post is named as such.
    expect_invalid(
        net.connect(Connection::new(a, a).function(|x| vec![x[0], x[0]])),
        "Connection 1",
        "function",
        "an output of 2 values",
    );
    let (mut net, a, _) = small_net();
    let b = net.add_ensemble(Ensemble::new(10, 2).label("b")).unwrap();
    let poisson = net
        .add_node(Node::poisson(vec![10.0, 20.0]).label("spikes"))
        .unwrap();
    expect_invalid(
        net.connect(Connection::new(poisson, b).function(|x| x.to_vec())),
        "Connection 0 (Node 1 \"spikes\" -> Ensemble 1 \"b\")",
        "function",
        "a function",
    );
    expect_invalid(
        net.connect(Connection::new(a.neurons(), a.neurons()).function(|x| x.to_vec())),
        "Connection 0",
        "function",
        "a function",
    );
    expect_invalid(
        net.connect(Connection::new(a, b).function(|_| vec![])),
        "Connection 0",
        "function",
        "empty",
    );
    // A function whose output length changes between evaluation points, or that returns NaN
    // somewhere: caught when decoders are solved (Simulator::new).
    net.connect(Connection::new(a, a).function(|x| {
        if x[0] > 0.5 {
            vec![0.0, 1.0]
        } else {
            vec![0.0]
        }
    }))
    .unwrap();
    expect_invalid(
        Simulator::new(&net, cfg()),
        "Connection 0",
        "function",
        "length 2",
    );
    // Length 1 at x = 0 (where `connect` checks the transform against it) but length 2 at
    // every evaluation point (none is exactly 0): must not build 2-row weights for a 1-D target.
    let (mut net, a, _) = small_net();
    net.connect(Connection::new(a, a).function(|x| {
        if x[0] == 0.0 {
            vec![0.0]
        } else {
            vec![x[0], x[0]]
        }
    }))
    .unwrap();
    expect_invalid(
        Simulator::new(&net, cfg().batch(2)),
        "Connection 0",
        "function",
        "length 2",
    );
    let (mut net, a, _) = small_net();
    net.connect(Connection::new(a, a).function(|x| vec![x[0].ln()]))
        .unwrap();
    expect_invalid(
        Simulator::new(&net, cfg()),
        "Connection 0",
        "function",
        "NaN",
    );
}

#[test]
fn connections_and_probes_to_invalid_targets() {
    let (mut net, a, n) = small_net();
    expect_invalid(
        net.connect(Connection::new(a, n).transform(Transform::Dense(Array2::zeros((2, 1))))),
        "Connection 0",
        "post",
        "Node 0 \"in\"",
    );
    expect_invalid(
        net.probe(Probe::decoded(a.neurons())),
        "Probe 0",
        "target",
        "Decoded(neurons)",
    );
    let r = net
        .add_ensemble(
            Ensemble::new(5, 1)
                .label("rate")
                .neuron_type(NeuronType::lif_rate()),
        )
        .unwrap();
    expect_invalid(
        net.probe(Probe::voltage(r)),
        "Probe 0",
        "target",
        "Ensemble 1 \"rate\"",
    );
    let c = net
        .connect(Connection::new(a, r).learning(LearningRule::Pes(Pes::default())))
        .unwrap();
    let msg = format!(
        "{}",
        net.probe(Probe::spike_count(c.learning_rule()))
            .unwrap_err()
    );
    assert!(
        msg.contains("Probe 0") && msg.contains("SpikeCount") && msg.contains("learning_rule"),
        "{msg}"
    );
    // Spike counts are neither filtered nor sampled: a synapse or sample_every would be ignored.
    expect_invalid(
        net.probe(Probe::spike_count(a).synapse(Synapse::Lowpass(0.01))),
        "Probe 0",
        "synapse",
        "Lowpass(0.01)",
    );
    expect_invalid(
        net.probe(Probe::spike_count(a).sample_every(0.01)),
        "Probe 0",
        "sample_every",
        "0.01",
    );
    net.probe(Probe::spike_count(a)).unwrap();
}

#[test]
fn objects_from_another_network() {
    let (mut net, a, n) = small_net();
    let (mut other, oa, on) = small_net();
    let ob = other.add_ensemble(Ensemble::new(3, 1)).unwrap();
    let foreign = |r: Result<_>, object: &str| match r {
        Err(Error::ForeignObject { object: o, what }) => {
            assert!(o.contains(object), "{o}");
            assert!(!what.is_empty());
        }
        Err(e) => panic!("expected ForeignObject, got {e:?}"),
        Ok(_) => panic!("an object of another network was accepted"),
    };
    // Same indices as objects of `net`, but another network.
    foreign(
        net.connect(Connection::new(oa, a)).map(|_| ()),
        "Connection 0",
    );
    foreign(
        net.connect(Connection::new(a, oa)).map(|_| ()),
        "Connection 0",
    );
    foreign(
        net.connect(Connection::new(on, a.neurons())).map(|_| ()),
        "Connection 0",
    );
    // An index that does not exist in `net` at all.
    foreign(
        net.connect(Connection::new(a, ob)).map(|_| ()),
        "Connection 0",
    );
    foreign(net.probe(Probe::decoded(oa)).map(|_| ()), "Probe 0");
    foreign(net.probe(Probe::decoded(on)).map(|_| ()), "Probe 0");
    foreign(net.probe(Probe::spikes(ob)).map(|_| ()), "Probe 0");
    foreign(net.probe(Probe::input_current(oa)).map(|_| ()), "Probe 0");
    // Reading a probe of another network from a simulator.
    let p = net.probe(Probe::decoded(n)).unwrap();
    let op = other.probe(Probe::decoded(on)).unwrap();
    let op2 = other.probe(Probe::decoded(on)).unwrap();
    let mut sim = Simulator::new(&net, cfg()).unwrap();
    sim.run(0.01).unwrap();
    sim.data(p).unwrap();
    foreign(sim.data(op).map(|_| ()), "Simulator");
    foreign(sim.data(op2).map(|_| ()), "Simulator");
    foreign(sim.data_instance(op, 0).map(|_| ()), "Simulator");
    foreign(sim.probe_trange(op).map(|_| ()), "Simulator");
    // Reading or writing state through ids of another network.
    let c = net
        .connect(
            Connection::new(a.neurons(), a.neurons())
                .transform(Transform::Dense(Array2::zeros((10, 10)))),
        )
        .unwrap();
    let oc = other
        .connect(
            Connection::new(oa.neurons(), oa.neurons())
                .transform(Transform::Dense(Array2::zeros((10, 10)))),
        )
        .unwrap();
    let mut sim = Simulator::new(&net, cfg()).unwrap();
    sim.weights(c).unwrap();
    foreign(sim.weights(oc).map(|_| ()), "Simulator::weights");
    foreign(sim.set_weights(oc, &[0.0; 100]), "Simulator::set_weights");
    foreign(
        sim.neuron_state(ob, "voltage").map(|_| ()),
        "Simulator::neuron_state",
    );
    foreign(
        sim.neuron_state(oa, "voltage").map(|_| ()),
        "Simulator::neuron_state",
    );
    foreign(
        sim.set_neuron_state(oa, "voltage", &[0.0; 10]),
        "Simulator::set_neuron_state",
    );
    foreign(
        sim.set_poisson_rates(on, &[1.0; 2]),
        "Simulator::set_poisson_rates",
    );
    // A clone is another network: it refuses the original's ids (the two can grow apart).
    let mut copy = net.clone();
    foreign(copy.probe(Probe::decoded(a)).map(|_| ()), "Probe");
    let sim = Simulator::new(&copy, cfg()).unwrap();
    foreign(sim.data(p).map(|_| ()), "Simulator");
    // ...while the endpoints inside the copy's own connections and probes are the copy's: they
    // can be used with the copy, and no longer with the original.
    let c0 = copy.connections()[0].clone();
    copy.connect(c0.clone()).unwrap();
    let t = copy.probes()[0].target;
    let p2 = copy
        .probe(Probe {
            target: t,
            synapse: None,
            sample_every: None,
        })
        .unwrap();
    foreign(
        net.connect(Connection::new(c0.pre, a)).map(|_| ()),
        "Connection",
    );
    let mut sim = Simulator::new(&copy, cfg()).unwrap();
    sim.run(0.01).unwrap();
    // the copy of the constant node [0.5, -0.5], every step of 0.01 s at dt 1 ms
    let d = sim.data(p2).unwrap();
    assert_eq!(d.shape(), &[1, 10, 2]);
    assert_eq!(d[[0, 9, 1]], -0.5);
}

/// A clone simulates as its original: decoded input into an ensemble (which needs the copy's
/// connections to name the copy's ensemble) included.
#[test]
fn a_clone_simulates_as_the_original() {
    let (mut net, a, n) = small_net();
    let b = net.add_ensemble(Ensemble::new(12, 1).label("b")).unwrap();
    net.connect(Connection::new(n, a).transform(Transform::Dense(Array2::from_elem((1, 2), 0.5))))
        .unwrap();
    net.connect(Connection::new(a, b)).unwrap();
    net.probe(Probe::decoded(b).synapse(Synapse::Lowpass(0.01)))
        .unwrap();
    let copy = net.clone();
    let run = |net: &Network| {
        let mut sim = Simulator::new(net, cfg()).unwrap();
        sim.run(0.05).unwrap();
        sim.data(net.probe_ids()[0]).unwrap()
    };
    let (x, y) = (run(&net), run(&copy));
    assert!(
        x[[0, 49, 0]].abs() > 0.1,
        "b receives a's decoded input: {x}"
    );
    assert_eq!(x, y);
    assert_eq!(
        copy.connections()[1].post,
        Endpoint::Ensemble(copy.ensemble_ids()[1])
    );
}

/// State written by the user is checked like the network's parameters: finite values, the
/// variables the ensemble has (listed when the name is wrong), a Poisson node for rates.
#[test]
fn bad_state_writes() {
    let (mut net, a, n) = small_net();
    let c = net
        .connect(
            Connection::new(a.neurons(), a.neurons())
                .transform(Transform::Dense(Array2::zeros((10, 10)))),
        )
        .unwrap();
    let mut sim = Simulator::new(&net, cfg()).unwrap();
    let mut w = vec![0.0f32; 100];
    w[17] = f32::NAN;
    expect_invalid(sim.set_weights(c, &w), "Connection 0", "w[17]", "NaN");
    w[17] = f32::INFINITY;
    expect_invalid(sim.set_weights(c, &w), "Connection 0", "w[17]", "inf");
    let msg = expect_invalid(
        sim.neuron_state(a, "volt"),
        "Ensemble 0 \"a\"",
        "var",
        "volt",
    );
    assert!(msg.contains("voltage"), "{msg}");
    // Only the neuron type's state: not the step's temporaries.
    let msg = expect_invalid(sim.neuron_state(a, "J"), "Ensemble 0 \"a\"", "var", "J");
    assert!(!msg.contains("out"), "{msg}");
    expect_invalid(
        sim.set_poisson_rates(n, &[1.0, 2.0]),
        "Simulator::set_poisson_rates",
        "node",
        "Node 0 \"in\"",
    );
    // Values of the wrong length or range name the ensemble's variable, or the node's rates.
    expect_invalid(
        sim.set_neuron_state(a, "voltage", &[0.0; 3]),
        "Ensemble 0 \"a\" voltage",
        "data",
        "3 values",
    );
    let mut v = vec![0.0f32; 10];
    v[4] = f32::NAN;
    expect_invalid(
        sim.set_neuron_state(a, "voltage", &v),
        "Ensemble 0 \"a\" voltage",
        "data[4]",
        "NaN",
    );
    let mut net = Network::new(0);
    let p = net
        .add_node(Node::poisson(vec![0.0; 3]).label("pixels"))
        .unwrap();
    let mut sim = Simulator::new(&net, cfg()).unwrap();
    expect_invalid(
        sim.set_poisson_rates(p, &[1.0; 2]),
        "Node 0 \"pixels\"",
        "rates",
        "2 values",
    );
    expect_invalid(
        sim.set_poisson_rates(p, &[1.0, -2.0, 0.0]),
        "Node 0 \"pixels\"",
        "rates[1]",
        "-2",
    );
    sim.set_poisson_rates(p, &[1.0, 2.0, 0.0]).unwrap();
}

/// Weights are read from connections that have them, with errors that name the connection
/// otherwise; a Sparse connection's stored values come from `sparse_weights`; learning cannot
/// be turned on in a simulator built without it.
#[test]
fn weights_of_every_kind_of_connection() {
    let mut net = Network::new(0);
    let a = net.add_ensemble(Ensemble::new(4, 1).label("a")).unwrap();
    let scalar = net
        .connect(Connection::new(a.neurons(), a.neurons()).transform(Transform::Scalar(0.5)))
        .unwrap();
    let sp = Sparse::new(
        4,
        4,
        vec![0, 1, 1, 3, 3],
        vec![2, 0, 3],
        vec![0.1, 0.2, 0.3],
    )
    .unwrap();
    let sparse = net
        .connect(Connection::new(a.neurons(), a.neurons()).transform(Transform::Sparse(sp)))
        .unwrap();
    let dense = net
        .connect(
            Connection::new(a.neurons(), a.neurons())
                .transform(Transform::Dense(Array2::zeros((4, 4)))),
        )
        .unwrap();
    let mut sim = Simulator::new(&net, cfg()).unwrap();
    expect_invalid(
        sim.weights(scalar),
        "Simulator::weights",
        "conn",
        "Scalar transform",
    );
    expect_invalid(
        sim.weights(sparse),
        "Simulator::weights",
        "conn",
        "Connection 1",
    );
    expect_invalid(
        sim.sparse_weights(dense),
        "Simulator::sparse_weights",
        "conn",
        "Connection 2",
    );
    // The stored values are the transform's, without the post neurons' gain (applied to their
    // input, as Nengo does).
    let w = sim.sparse_weights(sparse).unwrap();
    assert_eq!(w.dim(), (1, 3));
    assert_eq!(w.row(0).to_vec(), [0.1, 0.2, 0.3]);
    sim.set_weights(sparse, &[1.0, 2.0, 3.0]).unwrap();
    assert_eq!(
        sim.sparse_weights(sparse).unwrap().row(0).to_vec(),
        [1.0, 2.0, 3.0]
    );
    assert_eq!(sim.weights(dense).unwrap().dim(), (1, 4, 4));
    // Shared weights (nothing learns): one copy, and the error says why.
    let mut sim = Simulator::new(&net, cfg().batch(2)).unwrap();
    let msg = expect_invalid(
        sim.set_weights(dense, &[0.0; 32]),
        "Connection 2",
        "w",
        "32 values",
    );
    assert!(msg.contains("shared"), "{msg}");

    // A Dense error connection into a learning rule that does not run (learning off): still a
    // weight matrix, of shape (post's dimensions, pre's size).
    let mut net = Network::new(0);
    let x = net.add_node(Node::constant(vec![0.1, 0.2, 0.3])).unwrap();
    let (pre, post) = (
        net.add_ensemble(Ensemble::new(5, 1)).unwrap(),
        net.add_ensemble(Ensemble::new(5, 2)).unwrap(),
    );
    let learned = net
        .connect(
            Connection::new(pre, post)
                .transform(Transform::Dense(Array2::ones((2, 1))))
                .learning(LearningRule::Pes(Pes::default())),
        )
        .unwrap();
    let err = net
        .connect(
            Connection::new(x, learned.learning_rule())
                .transform(Transform::Dense(Array2::ones((2, 3))))
                .synapse(None),
        )
        .unwrap();
    let mut frozen = Simulator::new(&net, cfg().learning(false)).unwrap();
    assert_eq!(frozen.weights(err).unwrap().dim(), (1, 2, 3));
    expect_invalid(
        frozen.sparse_weights(err),
        "Simulator::sparse_weights",
        "conn",
        "Connection 1",
    );
    // A spike count of neurons whose spike is too small to invert counts value x dt, never NaN.
    let mut net = Network::new(0);
    let tiny = net
        .add_ensemble(Ensemble::new(3, 1).neuron_type(NeuronType::Lif(LifParams {
            amplitude: 1e-45,
            ..LifParams::default()
        })))
        .unwrap();
    let x = net.add_node(Node::constant(vec![0.9])).unwrap();
    net.connect(Connection::new(x, tiny)).unwrap();
    let count = net.probe(Probe::spike_count(tiny)).unwrap();
    let mut sim = Simulator::new(&net, cfg()).unwrap();
    sim.run(0.2).unwrap();
    assert!(
        sim.take_counts(count)
            .unwrap()
            .iter()
            .all(|c| c.is_finite())
    );

    let dc = volley::networks::diehl_cook(
        &volley::networks::DiehlCookConfig {
            n_input: 6,
            n_exc: 3,
            ..Default::default()
        },
        0,
    )
    .unwrap();
    let mut frozen = Simulator::new(&dc.net, cfg().learning(false)).unwrap();
    frozen.set_learning(false).unwrap();
    expect_invalid(
        frozen.set_learning(true),
        "Simulator::set_learning",
        "on",
        "true",
    );
    let mut learning = Simulator::new(&dc.net, cfg()).unwrap();
    learning.set_learning(false).unwrap();
    learning.set_learning(true).unwrap();
}

/// Sizes that cannot be built are refused before anything is allocated for them (an
/// allocation that fails would abort the process).
#[test]
fn sizes_beyond_memory_are_errors() {
    let mut net = Network::new(0);
    let a = net
        .add_ensemble(Ensemble::new(u32::MAX as usize, 1).label("huge"))
        .unwrap();
    let b = net.add_ensemble(Ensemble::new(3, 1)).unwrap();
    net.connect(Connection::new(a, b)).unwrap();
    let msg = expect_invalid(
        Simulator::new(&net, cfg()).map(|_| ()),
        "Ensemble 0 \"huge\"",
        "n_neurons",
        "4294967295",
    );
    assert!(msg.contains("memory"), "{msg}");
    let mut net = Network::new(0);
    expect_invalid(
        net.add_ensemble(Ensemble::new(10, 1).n_eval_points(usize::MAX / 2)),
        "Ensemble 0",
        "n_eval_points",
        &(usize::MAX / 2).to_string(),
    );
    // A decoded probe needs a rate curve: refused when added, not when built.
    let dc = net
        .add_ensemble(Ensemble::new(4, 1).neuron_type(NeuronType::diehl_cook_excitatory()))
        .unwrap();
    expect_invalid(
        net.probe(Probe::decoded(dc)),
        "Probe 0",
        "target",
        "Decoded(Ensemble 0)",
    );
    expect_invalid(
        net.add_node(Node::function(1 << 40, |_t| vec![0.0])),
        "Node 0",
        "size_out",
        &(1u64 << 40).to_string(),
    );
}

// ------------------------------------------------------------------------------------------
// Probes, simulator settings, runs

/// A snapshot must hold every state buffer: restoring a partial (or empty) one would move the
/// time to the snapshot's while keeping this simulator's state. Parameters may be left out
/// (they are the network's own). A refused snapshot changes nothing.
#[test]
fn restore_refuses_a_snapshot_without_every_state_buffer() {
    let (net, _, _) = small_net();
    let mut sim = Simulator::new(&net, cfg()).unwrap();
    sim.run_steps(7).unwrap();
    let snap = sim.snapshot().unwrap();
    sim.run_steps(5).unwrap();
    let now = sim.snapshot().unwrap();
    let empty = volley::Snapshot {
        n_steps: 1000,
        buffers: vec![],
    };
    expect_invalid(
        sim.restore(&empty),
        "Simulator::restore",
        "snapshot",
        "no buffer ens0.voltage (and 1 more state buffers)",
    );
    let mut partial = snap.clone();
    partial
        .buffers
        .retain(|(name, _)| name != "ens0.refractory_time");
    expect_invalid(
        sim.restore(&partial),
        "Simulator::restore",
        "snapshot",
        "no buffer ens0.refractory_time",
    );
    assert_eq!(sim.n_steps(), 12);
    assert_eq!(sim.snapshot().unwrap().buffers, now.buffers);
    // Without its parameters it restores (and runs on as the whole snapshot does).
    let mut states = snap.clone();
    states
        .buffers
        .retain(|(name, _)| name.starts_with("ens0.v") || name.starts_with("ens0.r"));
    assert_eq!(states.buffers.len(), 2);
    sim.restore(&states).unwrap();
    sim.run_steps(5).unwrap();
    assert_eq!(sim.snapshot().unwrap().buffers, now.buffers);
}

/// A decoded probe of an ensemble whose decoders leave f32 range (a huge radius) is refused
/// when the simulator is built, naming the probe and the ensemble, instead of recording inf.
#[test]
fn decoded_probe_decoders_must_fit_f32() {
    let mut net = Network::new(0);
    let a = net
        .add_ensemble(Ensemble::new(5, 1).radius(1e300).label("huge"))
        .unwrap();
    net.probe(Probe::decoded(a)).unwrap();
    let msg = expect_invalid(
        Simulator::new(&net, cfg()),
        "Probe 0 (decoding Ensemble 0 \"huge\")",
        "decoders",
        "e",
    );
    assert!(msg.contains("f32 range"), "{msg}");
}

/// `sparse_weights` of a Sparse connection without stored entries: one row per copy, none
/// per entry.
#[test]
fn sparse_weights_without_entries_keep_their_copies() {
    let mut net = Network::new(0);
    let a = net.add_ensemble(Ensemble::new(3, 1)).unwrap();
    let empty = Sparse::new(3, 3, vec![0, 0, 0, 0], vec![], vec![]).unwrap();
    let c = net
        .connect(Connection::new(a.neurons(), a.neurons()).transform(Transform::Sparse(empty)))
        .unwrap();
    let mut sim = Simulator::new(&net, cfg().batch(2)).unwrap();
    assert_eq!(sim.sparse_weights(c).unwrap().dim(), (1, 0));
}

#[test]
fn sample_every_must_be_positive_and_finite() {
    let (mut net, a, _) = small_net();
    for bad in [0.0, -0.001, f64::NAN, f64::INFINITY] {
        expect_invalid(
            net.probe(Probe::decoded(a).sample_every(bad)),
            "Probe 0",
            "sample_every",
            &bad.to_string(),
        );
    }
    // Any positive period builds, as in Nengo: not a multiple of dt = 1 ms (irregular samples),
    // less than dt (every step), tiny or huge.
    for ok in [0.0015, 0.0004, 1e-300, 1e300] {
        let (mut net, a, _) = small_net();
        net.probe(Probe::decoded(a).sample_every(ok)).unwrap();
        let mut sim = Simulator::new(&net, cfg()).unwrap();
        sim.run_steps(3).unwrap();
    }
    let (mut net, a, _) = small_net();
    net.probe(Probe::decoded(a).sample_every(0.003)).unwrap();
    Simulator::new(&net, cfg()).unwrap();
}

#[test]
fn bad_dt_batch_and_backend() {
    let (net, _, _) = small_net();
    for dt in [0.0, -0.001, f64::NAN, f64::INFINITY] {
        expect_invalid(
            Simulator::new(&net, cfg().dt(dt)),
            "Simulator",
            "dt",
            &dt.to_string(),
        );
    }
    expect_invalid(
        Simulator::new(&net, cfg().batch(0)),
        "Simulator",
        "batch",
        "0",
    );
    let mut config = cfg();
    config.chunk_steps = 0;
    expect_invalid(
        Simulator::new(&net, config),
        "SimConfig",
        "chunk_steps",
        "0",
    );
    // A batch too large to allocate is an error, not an abort.
    match Simulator::new(&net, cfg().batch(usize::MAX)) {
        Err(Error::Backend { .. }) => {}
        Err(e) => panic!("expected a Backend error, got {e:?}"),
        Ok(_) => panic!("a batch of usize::MAX was accepted"),
    }
    expect_invalid(
        BackendChoice::from_str("gpu2"),
        "Simulator",
        "backend",
        "\"gpu2\"",
    );
    expect_invalid(BackendChoice::from_str(""), "Simulator", "backend", "\"\"");
    assert_eq!(BackendChoice::from_str("cpu").unwrap(), BackendChoice::Cpu);
}

#[test]
fn bad_run_lengths_and_instances() {
    let (mut net, a, _) = small_net();
    let p = net.probe(Probe::decoded(a)).unwrap();
    let mut sim = Simulator::new(&net, cfg().batch(2)).unwrap();
    for s in [-1.0, -1e-9, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        expect_invalid(sim.run(s), "Simulator::run", "seconds", &s.to_string());
    }
    assert_eq!(sim.n_steps(), 0, "a rejected run must not advance time");
    sim.run(0.01).unwrap();
    assert_eq!(sim.data_instance(p, 1).unwrap().dim(), (10, 1));
    for i in [2, 3, usize::MAX] {
        expect_invalid(
            sim.data_instance(p, i),
            "Simulator::data_instance",
            "instance",
            &i.to_string(),
        );
    }
}

#[test]
fn values_beyond_f32_range_are_rejected() {
    // The backends compute in f32: a value finite in f64 but beyond f32::MAX (3.4e38) would
    // become infinite there and silently turn the neurons' state into NaN.
    let mut net = Network::new(0);
    let n = net.add_node(Node::constant(vec![1.0]).label("in")).unwrap();
    let a = net.add_ensemble(Ensemble::new(10, 1).label("a")).unwrap();
    net.connect(Connection::new(n, a).transform(Transform::Scalar(1e300)))
        .unwrap();
    expect_invalid(
        Simulator::new(&net, cfg()),
        "Connection 0 (Node 0 \"in\" -> Ensemble 0 \"a\")",
        "transform",
        "1e300",
    );

    let mut net = Network::new(0);
    net.add_ensemble(
        Ensemble::new(2, 1)
            .label("big")
            .gain_bias(vec![1.0, 1.0], vec![0.0, 1e39]),
    )
    .unwrap();
    expect_invalid(
        Simulator::new(&net, cfg()),
        "Ensemble 0 \"big\"",
        "bias",
        "1e39",
    );

    let mut net = Network::new(0);
    net.add_node(Node::function(1, |_| vec![1e300]).label("huge"))
        .unwrap();
    let mut sim = Simulator::new(&net, cfg()).unwrap();
    expect_invalid(sim.run(0.01), "Node 0 \"huge\"", "output", "1e300");
}

#[test]
fn silent_ensemble_decoders_are_a_numerical_error() {
    // Every neuron far below threshold at every evaluation point: the activities are all zero
    // and the regularised Gram matrix is singular. An error naming the connection, not a panic
    // or NaN decoders.
    let mut net = Network::new(0);
    let a = net
        .add_ensemble(
            Ensemble::new(10, 1)
                .label("silent")
                .gain_bias(vec![1.0; 10], vec![-10.0; 10]),
        )
        .unwrap();
    let b = net.add_ensemble(Ensemble::new(10, 1).label("b")).unwrap();
    net.connect(Connection::new(a, b)).unwrap();
    match Simulator::new(&net, cfg()) {
        Err(Error::Numerical { object, reason }) => {
            assert!(object.contains("Connection 0"), "{object}");
            assert!(object.contains("\"silent\""), "{object}");
            assert!(!reason.is_empty());
        }
        Err(e) => panic!("expected Error::Numerical, got {e:?}"),
        Ok(_) => panic!("decoders of a silent ensemble were accepted"),
    }
}
