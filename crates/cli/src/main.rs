//! `tripline`: detection for CloudTrail. One module per subcommand in `cmd/`.

mod cmd;
mod options;

use std::process::ExitCode;

use clap::Parser;

/// A scan builds and drops a few dozen small allocations per signal; with a rule set that
/// flags most records, glibc's allocator spent over a quarter of the time consolidating its
/// free lists. mimalloc made that run about 10 % faster at equal peak memory, and the
/// built-in pack's run no slower (crates/bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tripline",
    version,
    about = "Detection rules over AWS CloudTrail logs",
    propagate_version = true
)]
pub(crate) struct Cli {
    /// A configuration file (default: tripline.toml in the current folder, if present).
    #[arg(long, global = true, env = "TRIPLINE_CONFIG", value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: cmd::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config =
        tripline_pipeline::Config::find(cli.config.as_deref()).map_err(anyhow::Error::from);
    match config.and_then(|config| cmd::run(cli.command, &config)) {
        Ok(status) => status.into(),
        Err(e) => {
            // A closed pipe (`tripline scan … | head`) is not a failure.
            let broken_pipe = |cause: &(dyn std::error::Error + 'static)| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            };
            if e.chain().any(broken_pipe) {
                return ExitCode::SUCCESS;
            }
            eprintln!("tripline: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
