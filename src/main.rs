//! The `volley` command-line tool.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use volley::prelude::*;

#[derive(Parser)]
#[command(
    name = "volley",
    version,
    about = "Spiking neural networks on any GPU, with a CPU reference"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the compiled plan (buffers and the ops of one timestep) of a built-in network.
    Plan {
        /// Which network: nef-minimal, communication-channel or diehl-cook (100 neurons).
        #[arg(default_value = "nef-minimal")]
        network: String,
        /// Timestep in seconds [default: 0.001; 0.0005 for diehl-cook, the step `mnist train`
        /// runs it at].
        #[arg(long, allow_negative_numbers = true)]
        dt: Option<f64>,
        /// Batch size.
        #[arg(long, allow_negative_numbers = true, value_parser = cli::count::<1, { usize::MAX }>, default_value_t = 1)]
        batch: usize,
    },
    /// Show version, backends, and every GPU adapter with the limits that matter.
    Info,
    /// Unsupervised MNIST learning with the Diehl & Cook (2015) network.
    #[command(subcommand)]
    Mnist(cli::mnist::MnistCommand),
    /// Named benchmark workloads; one JSON object per workload and backend.
    Bench(cli::bench::BenchArgs),
}

fn run(cli: Cli) -> volley::Result<()> {
    match cli.command {
        Command::Plan { network, dt, batch } => {
            let net = match network.as_str() {
                "nef-minimal" => volley::networks::nef_minimal(0)?.net,
                "communication-channel" => volley::networks::communication_channel(0)?.net,
                "diehl-cook" => {
                    volley::networks::diehl_cook(&volley::networks::DiehlCookConfig::default(), 0)?
                        .net
                }
                other => {
                    return Err(Error::invalid(
                        "volley plan",
                        "network",
                        format!("\"{other}\""),
                        "nef-minimal, communication-channel or diehl-cook",
                    ));
                }
            };
            let dt = dt.unwrap_or(if network == "diehl-cook" {
                volley::mnist::protocol::Protocol::default().dt
            } else {
                volley::SimConfig::default().dt
            });
            if !(dt.is_finite() && dt > 0.0) {
                return Err(Error::invalid(
                    "volley plan",
                    "--dt",
                    dt,
                    "a finite step > 0 s",
                ));
            }
            let (plan, _) = volley::compile::compile(&net, dt, batch)?;
            print!("{plan}");
        }
        Command::Mnist(cmd) => cli::mnist::run(cmd)?,
        Command::Bench(args) => cli::bench::run(args)?,
        Command::Info => {
            println!("volley {}", env!("CARGO_PKG_VERSION"));
            println!("backends: cpu (reference), gpu (wgpu: Vulkan, Metal, DX12, GL)");
            let adapters = volley::backend::gpu::list_adapters();
            if adapters.is_empty() {
                println!(
                    "gpu adapters: none ({})",
                    volley::backend::gpu::NO_ADAPTER_HELP
                );
            }
            for a in adapters {
                println!(
                    "adapter: {}\n  backend: {}\n  driver: {}\n  device type: {}{}\n  max_storage_buffer_binding_size: {} B\n  max_buffer_size: {} B\n  max_storage_buffers_per_shader_stage: {}\n  max_compute_workgroups_per_dimension: {}\n  max_compute_workgroup_storage_size: {} B",
                    a.name,
                    a.backend,
                    a.driver,
                    a.device_type,
                    if a.software {
                        " (software: used only with --backend gpu, never by auto)"
                    } else {
                        ""
                    },
                    a.max_storage_buffer_binding_size,
                    a.max_buffer_size,
                    a.max_storage_buffers_per_shader_stage,
                    a.max_compute_workgroups_per_dimension,
                    a.max_compute_workgroup_storage_size
                );
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    // Output piped into a program that stops reading (`volley plan | head`) ends volley
    // quietly, as it does any Unix tool, instead of a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: restores the default action of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version: clap's own output on stdout.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // `volley` or `volley mnist` alone: the commands there are, on stderr.
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            // A bad command line: clap's message (it names the argument, the value and what is
            // allowed) on one line, without the usage block and the hint after it.
            // Some messages go on over several lines (the missing arguments of "the following
            // required arguments were not provided:"), so everything before the usage block.
            let msg = e.to_string();
            let first = msg
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| !(l.is_empty() || l.starts_with("For more information")))
                .collect::<Vec<_>>()
                .join(" ");
            // Rust's number-parsing messages, said as what is allowed.
            let first = first
                .trim_start_matches("error:")
                .trim()
                .replace(
                    "invalid digit found in string",
                    "allowed: a whole number >= 0",
                )
                .replace("invalid float literal", "allowed: a number");
            eprintln!("error: {first} (see `volley --help`)");
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, so that scripts and logs keep the whole message together.
            let msg = e.to_string();
            let one_line: Vec<&str> = msg
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("error: {}", one_line.join(" "));
            ExitCode::FAILURE
        }
    }
}
