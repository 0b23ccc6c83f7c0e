#!/usr/bin/env python3
"""Brian2 twin of `volley bench dc-train-<n> --backend cpu`: Diehl & Cook (2015) unsupervised
training on the first N MNIST training images, with volley's constants and protocol, timed the
same way (the presentations only; build/compile reported separately). Prints one JSON line.

    python brian2_dc.py --images 20 [--neurons 400] [--data DIR] [--mode cpp_standalone|runtime]

The model is the one volley builds in `src/networks.rs` (`DiehlCookConfig::default()`,
`DcParams::excitatory()/inhibitory()`, `Stdp::diehl_cook()`) and presents with
`src/mnist/protocol.rs` (`Protocol::default()`); see README.md in this folder for what differs.
"""

import argparse
import gzip
import json
import os
import resource
import shutil
import sys
import tempfile
import time

import numpy as np

# ---- constants: copied from volley (file and item named on each line) -------------------------
DT_MS = 0.5  # Protocol::default().dt = 0.0005 s
T_PRESENT_MS = 350.0  # Protocol.t_present
T_REST_MS = 150.0  # Protocol.t_rest
INTENSITY = 2.0  # Protocol.intensity: rate = pixel / 8 * intensity Hz
INTENSITY_STEP = 1.0  # Protocol.intensity_step
MIN_SPIKES = 5  # Protocol.min_spikes
MAX_REPEATS = 20  # Protocol.max_repeats
N_INPUT = 784  # DiehlCookConfig.n_input
INIT_SCALE, INIT_OFFSET = 0.3, 0.01  # DiehlCookConfig: w0 = clip((U(0,1) + 0.01) * 0.3, 0, w_max)
NORMALIZE = 78.0  # DiehlCookConfig.normalize (sum of each excitatory neuron's input weights)
W_EXC_INH = 10.4  # DiehlCookConfig.w_exc_inh (one-to-one)
W_INH_EXC = 17.0  # DiehlCookConfig.w_inh_exc (all but self)
# DcParams::excitatory() (mV, ms)
EXC = dict(v_rest=-65.0, v_reset=-65.0, v_thresh=-52.0, tau_m=100.0, refractory=5.0,
           e_exc=0.0, e_inh=-100.0, tau_ge=1.0, tau_gi=2.0, theta_plus=0.05,
           tau_theta=1e7, theta_offset=20.0, min_interval=50.0)
# DcParams::inhibitory() (no adaptive threshold: theta_plus 0, theta stays 0)
INH = dict(v_rest=-60.0, v_reset=-45.0, v_thresh=-40.0, tau_m=10.0, refractory=2.0,
           e_exc=0.0, e_inh=-85.0, tau_ge=1.0, tau_gi=2.0)
# Stdp::diehl_cook(): pre trace 20 ms, post traces 20 ms (depression) and 40 ms (potentiation),
# nearest-spike (set to 1), nu_pre 1e-4, nu_post 1e-2, weights clipped to [0, 1].
TAU_PRE, TAU_POST1, TAU_POST2 = 20.0, 20.0, 40.0
NU_PRE, NU_POST, W_MAX = 1e-4, 1e-2, 1.0


def load_images(data_dir, n):
    """The first n images of train-images-idx3-ubyte(.gz) as an (n, 784) uint8 array."""
    for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            break
    else:
        sys.exit(f"no train-images-idx3-ubyte(.gz) in {data_dir}")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        head = np.frombuffer(f.read(16), dtype=">u4")
        if head[0] != 2051:
            sys.exit(f"{path}: bad IDX magic {head[0]}")
        count, rows, cols = (int(x) for x in head[1:])
        data = np.frombuffer(f.read(min(n, count) * rows * cols), dtype=np.uint8)
    imgs = data.reshape(-1, rows * cols)
    # volley's bench cycles through the set when asked for more images than it has.
    return imgs[np.arange(n) % len(imgs)]


def refractory_ms(ms):
    """volley holds a spiking neuron for round(refractory / dt) steps after its spike step and
    integrates again on the step after; Brian2 integrates again at the first step with
    timestep(t - lastspike) >= timestep(refractory), i.e. one step earlier for the same value.
    Adding one dt makes the two hold the neuron for the same steps."""
    return (round(ms / DT_MS) + 1) * DT_MS


def initial_weights(n_exc, seed):
    """Initial input weights as an (N_INPUT, n_exc) matrix, drawn like volley's (same
    distribution; `volley_rng.volley_initial_weights` gives volley's exact numbers)."""
    rng = np.random.default_rng(seed)
    return np.clip((rng.random((n_exc, N_INPUT)) + INIT_OFFSET) * INIT_SCALE, 0.0, W_MAX).T.copy()


def build_network(b2, n_exc, seed, inp=None, w0=None, delay_max_ms=0.0, delays_ms=None):
    """Brian2 objects of the Diehl & Cook network; returns them and the initial weights
    (N_INPUT x n_exc, not normalised yet). `inp` replaces the Poisson input group, `w0` the
    initial weights and `delays_ms` the input delays (N_INPUT x n_exc, ms) instead of drawing
    them (check_equivalence.py feeds volley's own spikes, weights and delays)."""
    ms, mV, Hz = b2.ms, b2.mV, b2.Hz
    b2.defaultclock.dt = DT_MS * ms
    ns = {}
    for k, v in EXC.items():
        unit = ms if k.startswith("tau") or k in ("refractory", "min_interval") else mV
        ns[k + "_e"] = v * unit
    # Diehl & Cook's spike gate: `dtimer/dt = 0.1`, threshold `timer > refrac_e` (5 ms), so one
    # spike per 50 ms; volley's DcParams::min_interval. The first step with timer > 5 ms is the
    # 101st after a spike at dt 0.5 ms (the summed 0.05 ms steps stay below 5 ms at the 100th).
    ns["timer_gate_e"] = 0.1 * EXC["min_interval"] * ms
    for k, v in INH.items():
        unit = ms if k.startswith("tau") or k == "refractory" else mV
        ns[k + "_i"] = v * unit
    ns.update(tau_pre=TAU_PRE * ms, tau_post1=TAU_POST1 * ms, tau_post2=TAU_POST2 * ms,
              nu_pre=NU_PRE, nu_post=NU_POST, wmax=W_MAX)

    if inp is None:
        inp = b2.PoissonGroup(N_INPUT, rates=np.zeros(N_INPUT) * Hz, name="inp")
    # Conductances in units of the leak conductance, as in volley and in Diehl & Cook's code.
    # exponential_euler: v is integrated exactly for the conductances held at their start-of-step
    # values, and ge, gi, theta decay exactly -- the same scheme as volley's dc_one().
    exc = b2.NeuronGroup(
        n_exc,
        """
        dv/dt = ((v_rest_e - v) + ge*(e_exc_e - v) + gi*(e_inh_e - v)) / tau_m_e : volt (unless refractory)
        dge/dt = -ge / tau_ge_e : 1
        dgi/dt = -gi / tau_gi_e : 1
        dtheta/dt = -theta / tau_theta_e : volt
        dtimer/dt = 0.1 : second
        count : 1
        counting : 1 (shared)
        """,
        threshold="v > v_thresh_e + theta - theta_offset_e and timer > timer_gate_e",
        reset="v = v_reset_e; theta += theta_plus_e; timer = 0*ms; count += counting",
        refractory=refractory_ms(EXC["refractory"]) * ms,
        method="exponential_euler",
        namespace=ns,
        name="exc",
    )
    inh = b2.NeuronGroup(
        n_exc,
        """
        dv/dt = ((v_rest_i - v) + ge*(e_exc_i - v) + gi*(e_inh_i - v)) / tau_m_i : volt (unless refractory)
        dge/dt = -ge / tau_ge_i : 1
        dgi/dt = -gi / tau_gi_i : 1
        """,
        threshold="v > v_thresh_i",
        reset="v = v_reset_i",
        refractory=refractory_ms(INH["refractory"]) * ms,
        method="exponential_euler",
        namespace=ns,
        name="inh",
    )
    exc.v = EXC["v_rest"] * mV  # volley starts voltages at v_rest
    exc.theta = EXC["theta_offset"] * mV  # and theta at theta_offset (threshold -52 mV at start)
    exc.timer = 1 * b2.second  # and with the gate open
    inh.v = INH["v_rest"] * mV

    # Diehl & Cook's rule as in their Brian code (pre pathway runs before post in a step);
    # their traces pre, post1, post2 are called apre, apost1, apost2 here (`Synapses.pre` is
    # the pre pathway).
    syn = b2.Synapses(
        inp, exc,
        model="""
        w : 1
        dapre/dt = -apre / tau_pre : 1 (event-driven)
        dapost1/dt = -apost1 / tau_post1 : 1 (event-driven)
        dapost2/dt = -apost2 / tau_post2 : 1 (event-driven)
        """,
        on_pre="ge_post += w; apre = 1.; w = clip(w - nu_pre * apost1, 0, wmax)",
        on_post="w = clip(w + nu_post * apre * apost2, 0, wmax); apost1 = 1.; apost2 = 1.",
        namespace=ns,
        name="syn_in",
    )
    # Synapse k = i * n_exc + j (pre i, post j): the weights are an (N_INPUT, n_exc) matrix.
    syn.connect(i=np.repeat(np.arange(N_INPUT), n_exc), j=np.tile(np.arange(n_exc), N_INPUT))
    if w0 is None:
        w0 = initial_weights(n_exc, seed)
    syn.w = w0.ravel()
    # Diehl & Cook's random input delays, U(0, max) per synapse. Brian2 runs the whole delayed
    # on_pre pathway at arrival: the conductance (with the weight at arrival), the pre trace and
    # the depression; so does volley (`Delays` in src/model/connectivity.rs).
    if delays_ms is not None:
        syn.delay = np.asarray(delays_ms, dtype=np.float64).ravel() * ms
    elif delay_max_ms > 0:
        rng = np.random.default_rng(seed + 1)
        syn.delay = rng.uniform(0.0, delay_max_ms, N_INPUT * n_exc) * ms
    ei = b2.Synapses(exc, inh, on_pre=f"ge_post += {W_EXC_INH!r}", name="syn_ei")
    ei.connect(j="i")
    ie = b2.Synapses(inh, exc, on_pre=f"gi_post += {W_INH_EXC!r}", name="syn_ie")
    ie.connect(condition="i != j")
    return dict(inp=inp, exc=exc, inh=inh, syn=syn, ei=ei, ie=ie), w0


def normalize(w):
    """Scale each excitatory neuron's input weights (a column) to sum to NORMALIZE."""
    s = w.sum(axis=0)
    ok = s > 0
    w[:, ok] *= NORMALIZE / s[ok]
    return w


def cpu_s():
    """CPU time (user + system) of this process and its finished children."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def rates_for(img, intensity):
    return img.astype(np.float64) / 8.0 * intensity


class Standalone:
    """cpp_standalone: one compiled program runs one presentation (350 ms with the image, 150 ms
    without input); the state (weights, thresholds, voltages, conductances, traces) goes in with
    `device.run(run_args=...)` and comes back from the results files. One process per
    presentation, because the retry rule needs the spike count before deciding what to show."""

    def __init__(self, b2, n_exc, seed, build_dir, threads, spike_input=False, w0=None,
                 delay_max_ms=0.0, delays_ms=None):
        self.b2 = b2
        t_build = time.perf_counter()  # network construction, code generation, C++ compilation
        b2.set_device("cpp_standalone", build_on_run=False, directory=build_dir)
        if threads:
            b2.prefs.devices.cpp_standalone.openmp_threads = threads
        inp = self.spk = None
        if spike_input:
            # For check_equivalence.py: input spikes given per presentation as a 0/1 matrix
            # (steps x inputs) instead of drawn by a PoissonGroup.
            n_steps = round((T_PRESENT_MS + T_REST_MS) / DT_MS)
            self.spk = b2.TimedArray(np.zeros((n_steps, N_INPUT)), dt=DT_MS * b2.ms,
                                     name="spk_in")
            inp = b2.NeuronGroup(N_INPUT, "rates : Hz", threshold="spk_in(t, i) > 0.5",
                                 namespace={"spk_in": self.spk}, name="inp")
        self.o, w0 = build_network(b2, n_exc, seed, inp=inp, w0=w0, delay_max_ms=delay_max_ms,
                                   delays_ms=delays_ms)
        self.n_exc = n_exc
        o = self.o
        net = b2.Network(list(o.values()))
        self.net = net
        o["exc"].counting = 1
        # Time the two network runs inside the program (C++), to separate simulation from
        # process start and state transfer.
        b2.device.insert_code(
            "main",
            "auto _dc_t0 = std::chrono::steady_clock::now(); std::clock_t _dc_c0 = std::clock();")
        b2.device.apply_run_args()
        net.run(T_PRESENT_MS * b2.ms, namespace={})
        o["inp"].rates = 0 * b2.Hz
        o["exc"].counting = 0
        net.run(T_REST_MS * b2.ms, namespace={})
        b2.device.insert_code(
            "main",
            "{ double _s = std::chrono::duration<double>(std::chrono::steady_clock::now() - _dc_t0)"
            ".count(); double _c = double(std::clock() - _dc_c0) / CLOCKS_PER_SEC;"
            " std::ofstream _f(std::string(brian::results_dir) + \"dc_sim_s.txt\");"
            " _f.precision(17); _f << _s << \" \" << _c << std::endl; }",
        )
        b2.device.headers += ["<chrono>", "<ctime>", "<fstream>"]
        b2.device.build(directory=build_dir, compile=True, run=False, with_output=False)
        self.compile_s = time.perf_counter() - t_build
        self.build_dir = build_dir
        T = (T_PRESENT_MS + T_REST_MS) * 1e-3
        self.T = T
        self.state = {
            "exc.v": np.full(n_exc, EXC["v_rest"] * 1e-3),
            "exc.ge": np.zeros(n_exc), "exc.gi": np.zeros(n_exc),
            "exc.theta": np.full(n_exc, EXC["theta_offset"] * 1e-3),
            "exc.lastspike": np.full(n_exc, -1e4),
            "exc.timer": np.full(n_exc, 1.0),
            "inh.v": np.full(n_exc, INH["v_rest"] * 1e-3),
            "inh.ge": np.zeros(n_exc), "inh.gi": np.zeros(n_exc),
            "inh.lastspike": np.full(n_exc, -1e4),
            "syn_in.pre": np.zeros(N_INPUT * n_exc),
            "syn_in.post1": np.zeros(N_INPUT * n_exc),
            "syn_in.post2": np.zeros(N_INPUT * n_exc),
        }
        self.w = w0
        self.sim_s = 0.0
        self.sim_cpu_s = 0.0
        self.binary_s = 0.0
        self.checked = False

    def present(self, rates, spikes=None):
        b2, o = self.b2, self.o
        normalize(self.w)
        views = {
            "exc.v": o["exc"].v, "exc.ge": o["exc"].ge, "exc.gi": o["exc"].gi,
            "exc.theta": o["exc"].theta, "exc.lastspike": o["exc"].lastspike,
            "exc.timer": o["exc"].timer,
            "inh.v": o["inh"].v, "inh.ge": o["inh"].ge, "inh.gi": o["inh"].gi,
            "inh.lastspike": o["inh"].lastspike,
            "syn_in.pre": o["syn"].apre, "syn_in.post1": o["syn"].apost1,
            "syn_in.post2": o["syn"].apost2,
        }
        units = {"v": b2.volt, "theta": b2.volt, "lastspike": b2.second, "timer": b2.second}
        run_args = {o["inp"].rates: rates * b2.Hz, o["syn"].w: self.w.ravel()}
        if spikes is not None:
            run_args[self.spk] = spikes
        for k, view in views.items():
            run_args[view] = self.state[k] * units.get(k.split(".")[1], 1)
        b2.device.run(directory=self.build_dir, with_output=False, run_args=run_args)
        # Remove this run's input files (Brian2 keeps every run_args array otherwise).
        for fname in b2.device.run_args_arrays:
            try:
                os.remove(os.path.join(self.build_dir, "static_arrays", fname))
            except FileNotFoundError:
                pass
        self.binary_s += b2.device.timers["run_binary"]
        with open(os.path.join(b2.device.results_dir, "dc_sim_s.txt")) as f:
            wall_s, cpu_s = (float(x) for x in f.read().split())
        self.sim_s += wall_s
        self.sim_cpu_s += cpu_s
        s = self.state
        for k in ("exc.v", "exc.ge", "exc.gi", "exc.theta", "exc.timer", "inh.v", "inh.ge",
                  "inh.gi"):
            s[k] = np.asarray(views[k][:])
        # Times restart at 0 in the next program: shift the last spike times, and decay the
        # event-driven traces to the end of this run (their lastupdate starts at 0 there).
        for k in ("exc.lastspike", "inh.lastspike"):
            s[k] = np.asarray(views[k][:]) - self.T
        lastupdate = np.asarray(o["syn"].lastupdate[:])
        for k, tau in (("syn_in.pre", TAU_PRE), ("syn_in.post1", TAU_POST1),
                       ("syn_in.post2", TAU_POST2)):
            s[k] = np.asarray(views[k][:]) * np.exp(-(self.T - lastupdate) / (tau * 1e-3))
        self.w = np.asarray(o["syn"].w[:]).reshape(N_INPUT, self.n_exc)
        if not self.checked:
            i, j = np.asarray(o["syn"].i[:]), np.asarray(o["syn"].j[:])
            assert np.array_equal(i, np.repeat(np.arange(N_INPUT), self.n_exc))
            assert np.array_equal(j, np.tile(np.arange(self.n_exc), N_INPUT))
            self.checked = True
        return np.asarray(o["exc"].count[:])


class Runtime:
    """Runtime mode (Cython code generation): the Python loop drives one network whose state
    persists between runs."""

    def __init__(self, b2, n_exc, seed):
        self.b2 = b2
        t = time.perf_counter()  # network construction, code generation, Cython compilation
        b2.set_device("runtime")
        b2.prefs.codegen.target = "cython"
        b2.seed(seed)
        self.o, w0 = build_network(b2, n_exc, seed)
        self.net = b2.Network(list(self.o.values()))
        self.n_exc = n_exc
        self.net.run(0 * b2.ms, namespace={})  # generates and compiles every code object
        self.compile_s = time.perf_counter() - t
        self.sim_s = 0.0

    def present(self, rates):
        b2, o = self.b2, self.o
        w = np.asarray(o["syn"].w[:]).reshape(N_INPUT, self.n_exc)
        o["syn"].w[:] = normalize(w.copy()).ravel()
        o["exc"].count = 0
        o["exc"].counting = 1
        o["inp"].rates = rates * b2.Hz
        t = time.perf_counter()
        self.net.run(T_PRESENT_MS * b2.ms, namespace={})
        self.sim_s += time.perf_counter() - t
        counts = np.asarray(o["exc"].count[:]).copy()
        o["inp"].rates = 0 * b2.Hz
        o["exc"].counting = 0
        t = time.perf_counter()
        self.net.run(T_REST_MS * b2.ms, namespace={})
        self.sim_s += time.perf_counter() - t
        return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=20, help="training images (default 20)")
    ap.add_argument("--neurons", type=int, default=400, help="excitatory neurons (default 400)")
    ap.add_argument("--data", default=None,
                    help="MNIST directory (else $VOLLEY_DATA_DIR, else ~/.cache/volley/mnist, where scripts/fetch-mnist.sh puts it)")
    ap.add_argument("--mode", choices=["cpp_standalone", "runtime"], default="cpp_standalone")
    ap.add_argument("--build-dir", default=None,
                    help="cpp_standalone project directory (default: a fresh temporary one)")
    ap.add_argument("--threads", type=int, default=0,
                    help="OpenMP threads for cpp_standalone (default 0: single-threaded, as "
                         "volley's CPU backend)")
    ap.add_argument("--seed", type=int, default=0,
                    help="seed of the initial weights (and of runtime mode's Poisson input; "
                         "cpp_standalone seeds each presentation's program from the OS)")
    ap.add_argument("--keep", action="store_true", help="keep the build directory")
    ap.add_argument("--delay-max-ms", type=float, default=0.0,
                    help="random input delays U(0, max) ms, as Diehl & Cook's code (default 0: "
                         "none; cpp_standalone only)")
    ap.add_argument("--save", default=None,
                    help="write the trained network to this directory as weights.npy "
                         "(n_exc x 784, normalised) and theta.npy (mV), the layout of volley's, "
                         "for `volley mnist eval --weights DIR/weights.npy --theta "
                         "DIR/theta.npy` (cpp_standalone only)")
    ap.add_argument("--volley-init", action="store_true",
                    help="start from the initial weights and input delays that `volley mnist "
                         "train --seed SEED [--input-delay-max-ms X]` draws (volley_rng.py), "
                         "instead of NumPy's draws of the same distributions (cpp_standalone "
                         "only); the Poisson input stays Brian2's own")
    ap.add_argument("--progress", type=int, default=0,
                    help="print a line to stderr every this many images (default 0: never)")
    a = ap.parse_args()
    if a.images < 1:
        sys.exit("--images must be >= 1")
    if a.mode != "cpp_standalone" and (a.delay_max_ms > 0 or a.save or a.volley_init):
        sys.exit("--delay-max-ms, --save and --volley-init need --mode cpp_standalone")
    if not a.delay_max_ms >= 0:
        sys.exit(f"--delay-max-ms must be >= 0 (got {a.delay_max_ms})")
    data = a.data or os.environ.get("VOLLEY_DATA_DIR") or os.path.expanduser("~/.cache/volley/mnist")
    imgs = load_images(data, a.images)

    import brian2 as b2
    b2.prefs.logging.console_log_level = "ERROR"

    tmp = None
    if a.mode == "cpp_standalone":
        build_dir = a.build_dir or (tmp := tempfile.mkdtemp(prefix="brian2_dc_"))
        w0 = delays_ms = None
        if a.volley_init:
            sys.dont_write_bytecode = True  # no __pycache__ in the repository
            from volley_rng import volley_initial_weights, volley_input_delays_ms
            w0 = volley_initial_weights(a.neurons, seed=a.seed)
            delays_ms = volley_input_delays_ms(a.neurons, a.delay_max_ms, seed=a.seed)
        sim = Standalone(b2, a.neurons, a.seed, build_dir, a.threads, w0=w0,
                         delay_max_ms=a.delay_max_ms, delays_ms=delays_ms)
    else:
        sim = Runtime(b2, a.neurons, a.seed)

    presentations = 0
    exc_spikes = 0.0
    c0 = cpu_s()
    t0 = time.perf_counter()
    for n_done, img in enumerate(imgs):
        if a.progress and n_done and n_done % a.progress == 0:
            el = time.perf_counter() - t0
            print(f"{n_done} images, {presentations} presentations, {el:.0f} s, "
                  f"{n_done / el:.2f} images/s", file=sys.stderr, flush=True)
        intensity, repeats = INTENSITY, 0
        while True:
            counts = sim.present(rates_for(img, intensity))
            presentations += 1
            repeats += 1
            if counts.sum() >= MIN_SPIKES or repeats >= MAX_REPEATS:
                exc_spikes += float(counts.sum())
                break
            intensity += INTENSITY_STEP
    wall = time.perf_counter() - t0
    cpu = cpu_s() - c0
    steps = presentations * round((T_PRESENT_MS + T_REST_MS) / DT_MS)
    out = {
        "workload": f"dc-train-{a.neurons}",
        "simulator": f"brian2 {b2.__version__} {a.mode}",
        "backend": "cpu",
        "threads": (a.threads or 1) if a.mode == "cpp_standalone" else 1,
        "n_exc": a.neurons,
        "images": a.images,
        "presentations": presentations,
        "steps_per_s": steps / wall,
        "images_per_s": a.images / wall,
        "exc_spikes_per_image": exc_spikes / a.images,
        "wall_s": wall,
        # Time inside the simulation proper (C++ network runs for cpp_standalone, net.run
        # calls for runtime); the rest of wall_s is process start and state transfer
        # (cpp_standalone) or the Python loop.
        "sim_s": sim.sim_s,
        "images_per_s_sim_only": a.images / sim.sim_s if sim.sim_s > 0 else None,
        # cpp_standalone: wall time of the program runs (sim_s plus loading the state and
        # creating the synapses, writing the results, process start and exit).
        "program_s": getattr(sim, "binary_s", None),
        # CPU time (user + system, this process and the program runs) of the timed loop: less
        # sensitive than wall_s to other jobs on a shared machine.
        "cpu_s": cpu,
        # cpp_standalone: CPU time of the network runs alone (std::clock() in the program).
        "sim_cpu_s": getattr(sim, "sim_cpu_s", None),
        "compile_s": sim.compile_s,
    }
    if a.save:
        os.makedirs(a.save, exist_ok=True)
        w = normalize(sim.w.copy()).T.astype(np.float32)  # (n_exc, N_INPUT), as volley's
        theta_mv = (sim.state["exc.theta"] * 1e3).astype(np.float32)
        for name, arr in (("weights.npy", w), ("theta.npy", theta_mv)):
            path = os.path.join(a.save, name)
            np.save(path + ".tmp.npy", arr)
            os.replace(path + ".tmp.npy", path)  # atomically
        out["saved"] = a.save
    out["delay_max_ms"] = a.delay_max_ms
    out["initial_draws"] = "volley" if a.volley_init else "numpy"
    print(json.dumps(out))
    if tmp and not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
