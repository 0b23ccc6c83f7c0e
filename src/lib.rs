//! # volley
//!
//! A spiking-neural-network simulator whose state lives in GPU buffers, with a CPU reference
//! backend that defines what every kernel computes. Networks are described the way Nengo users
//! describe them (ensembles, nodes, connections, probes); [`compile`] lowers a network to a
//! [`Plan`](compile::Plan) of buffers and ops; a [`backend`] runs the plan; [`Simulator`] is the
//! user-facing driver.
//!
//! ```
//! use volley::prelude::*;
//! let mut net = Network::new(0);
//! let input = net.add_node(Node::function(1, |t| vec![t.sin()])).unwrap();
//! let a = net.add_ensemble(Ensemble::new(50, 1)).unwrap();
//! net.connect(Connection::new(input, a)).unwrap();
//! let p = net.probe(Probe::decoded(a).synapse(Synapse::Lowpass(0.01))).unwrap();
//! let mut sim = Simulator::new(&net, SimConfig::default()).unwrap();
//! sim.run(0.1).unwrap();
//! assert_eq!(sim.data_instance(p, 0).unwrap().dim(), (100, 1));
//! ```

pub mod backend;
pub mod compile;
pub mod data;
pub mod error;
pub mod fsutil;
pub mod mnist;
pub mod model;
pub mod nef;
pub mod networks;
pub mod plot;
pub mod rng;
pub mod sim;
pub mod stdp_window;

pub use error::{Error, Result};
pub use sim::{BackendChoice, SimConfig, Simulator, Snapshot};

/// The names most programs need.
pub mod prelude {
    pub use crate::error::{Error, Result};
    pub use crate::model::{
        Bcm, Connection, ConnectionId, DcParams, Delays, Dist, Encoders, Endpoint, Ensemble,
        EnsembleId, EvalPoints, LearningRule, Network, NeuronType, Node, NodeId, Oja, Pes, Port,
        Probe, ProbeId, Sparse, Stdp, Synapse, Transform, WhiteSignal,
    };
    pub use crate::nef::Solver;
    pub use crate::sim::{BackendChoice, Keying, SimConfig, Simulator, Snapshot};
}
