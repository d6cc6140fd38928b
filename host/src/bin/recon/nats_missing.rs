//! `recon nats …` in a build without the `nats` feature (the default:
//! NATS brings async-nats, tokio and rustls, which `recon detect` does not
//! need). The subcommand still parses, whatever follows it (`--help`
//! included), and says how to get a build that has it, rather than
//! clap's "unrecognized subcommand".

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

/// `recon nats` without NATS: takes any arguments.
#[derive(Args)]
#[command(disable_help_flag = true)]
pub(crate) struct NatsArgs {
    /// Whatever was given after `recon nats`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

/// What `recon nats` says in this build.
pub(crate) const MISSING: &str = "this recon was built without NATS (the `nats` cargo feature, \
     off by default to keep the build small), so it has no `recon nats`; build it with the \
     feature: `cargo run --release -p recon --features nats -- nats …` in the repository, \
     or `cargo install --path host --features nats`";

/// Says that `recon nats` is not in this build: exit status 2, as for a
/// usage error.
pub(crate) fn run(args: NatsArgs) -> Result<ExitCode> {
    let _ = args.args;
    eprintln!("recon: error: {MISSING}");
    Ok(ExitCode::from(2))
}

/// No NATS errors in this build.
pub(crate) fn is_config_error(_: &(dyn std::error::Error + 'static)) -> bool {
    false
}
