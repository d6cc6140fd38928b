//! `recon`: streaming detection of AWS CLI reconnaissance in CloudTrail,
//! with the detection logic in a sandboxed WebAssembly component.
//!
//! The command line is the only code that knows clap or anyhow: each
//! subcommand's module turns its arguments into the library's settings,
//! calls the library, and says what happened.
//!
//! - `detect`: `recon detect` (the configuration resolved once, here);
//! - `progress`: its progress line on a terminal;
//! - `generate`: `recon gen`;
//! - `nats`: `recon nats …` (with the `nats` feature; without it,
//!   `nats_missing` says how to get it);
//! - `choice`: parsers for the library's named settings.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

mod choice;
mod detect;
mod generate;
#[cfg(feature = "nats")]
mod nats;
#[cfg(not(feature = "nats"))]
#[path = "nats_missing.rs"]
mod nats;
mod progress;
mod rules;

use detect::DetectArgs;
use generate::GenArgs;

#[derive(Parser)]
#[command(name = "recon", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the detection rules over CloudTrail and print alerts as NDJSON.
    ///
    /// Inputs may be `{"Records":[...]}` files, JSON arrays, single
    /// objects or one record per line, any of them gzip-compressed; `-` (or
    /// no input) reads stdin. Alerts go to stdout, one JSON object per line;
    /// rejected records and a summary go to stderr.
    Detect(DetectArgs),
    /// Generate realistic CloudTrail records (NDJSON) with injected
    /// reconnaissance bursts and near misses, deterministically.
    ///
    /// The same options always give the same bytes. Output goes to stdout
    /// (or `--output`), ready for `recon detect -`.
    Gen(GenArgs),
    /// Work with the configuration file.
    Config(ConfigArgs),
    /// Write the detector component (the WebAssembly file this program
    /// embeds) for other hosts to load: the Node and Python packages under
    /// `hosts/` take it from here.
    Component(ComponentArgs),
    /// The rules: list the built-ins and the catalogue, check rule files.
    Rules(rules::RulesArgs),
    /// Scale out on NATS JetStream: partitioned records, workers that
    /// take over each other's partitions, every alert exactly once.
    #[cfg_attr(
        not(feature = "nats"),
        command(
            about = "Scale out on NATS JetStream (not in this build: it needs the `nats` feature)",
            long_about = None
        )
    )]
    Nats(nats::NatsArgs),
}

#[derive(Args)]
struct ConfigArgs {
    /// Write the complete default configuration file, every key with its
    /// default and what it does.
    #[arg(long, required = true)]
    print_default: bool,
}

#[derive(Args)]
struct ComponentArgs {
    /// Write here instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

fn run_component(args: ComponentArgs) -> Result<ExitCode> {
    match &args.output {
        Some(path) => std::fs::write(path, recon::runtime::COMPONENT)
            .with_context(|| format!("writing {}", path.display()))?,
        None => io::stdout()
            .lock()
            .write_all(recon::runtime::COMPONENT)
            .context("writing the component to stdout")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Detect(args) => detect::run(args),
        Command::Gen(args) => generate::run(args),
        Command::Component(args) => run_component(args),
        Command::Nats(args) => nats::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Config(_) => {
            print!("{}", recon::settings::default_file());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("recon: error: {e:#}");
            if is_config_error(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// True for errors in the configuration (exit status 2, like a usage
/// error); anything else that stops a run is status 1.
fn is_config_error(e: &anyhow::Error) -> bool {
    use recon::detect::DetectError;
    use recon::runtime::HostError;
    use recon::settings::SettingsError;
    e.chain().any(|c| {
        c.is::<SettingsError>()
            || matches!(c.downcast_ref::<HostError>(), Some(HostError::Config(_)))
            || matches!(
                c.downcast_ref::<DetectError>(),
                Some(DetectError::Host(HostError::Config(_)))
            )
            || nats::is_config_error(c)
    })
}
