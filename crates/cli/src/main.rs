//! `tripline`: detection for CloudTrail. One module per subcommand in `cmd/`.

/// `eprintln!` that never panics: a closed or full stderr (a pipe whose reader left,
/// `2>/dev/full`) loses the message, not the run.
macro_rules! note {
    ($($arg:tt)*) => {{
        $crate::log::write(&format!($($arg)*));
    }};
}

mod cmd;
mod log;
mod options;
mod serve;

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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    let config =
        tripline_pipeline::Config::find(cli.config.as_deref()).map_err(anyhow::Error::from);
    match config.and_then(|config| cmd::run(cli.command, &config)) {
        Ok(status) => status.into(),
        Err(e) => {
            // A closed pipe (`tripline scan … | head`) is not a failure.
            // (serde_json wraps the io error it met; it says the kind.)
            let broken_pipe = |cause: &(dyn std::error::Error + 'static)| {
                let kind = cause
                    .downcast_ref::<std::io::Error>()
                    .map(std::io::Error::kind)
                    .or_else(|| {
                        cause
                            .downcast_ref::<serde_json::Error>()
                            .and_then(serde_json::Error::io_error_kind)
                    });
                kind == Some(std::io::ErrorKind::BrokenPipe)
            };
            if e.chain().any(broken_pipe) {
                return ExitCode::SUCCESS;
            }
            note!("tripline: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `--help`, `--version` or a usage error, as clap renders it. Help that cannot be written
/// (`--help >/dev/full`) is an error, not a success.
fn usage(e: &clap::Error) -> ExitCode {
    use std::io::{IsTerminal as _, Write as _};
    let text = e.render();
    if e.use_stderr() {
        if std::io::stderr().is_terminal() {
            note!("{}", text.ansi());
        } else {
            note!("{text}");
        }
        return ExitCode::from(2);
    }
    let mut stdout = std::io::stdout().lock();
    let styled = stdout.is_terminal();
    let written = if styled { write!(stdout, "{}", text.ansi()) } else { write!(stdout, "{text}") };
    match written.and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            note!("tripline: error: cannot write to stdout: {e}");
            ExitCode::from(2)
        }
    }
}
