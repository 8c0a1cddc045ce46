//! `tripline`: detection for CloudTrail. One module per subcommand in `cmd/`.

mod cmd;
mod ruleset;
mod suppressions;

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(name = "tripline", version, about = "Detection rules over AWS CloudTrail logs", propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: cmd::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cmd::run(cli.command) {
        Ok(status) => status.into(),
        Err(e) => {
            // A closed pipe (`tripline scan … | head`) is not a failure.
            if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
                return ExitCode::SUCCESS;
            }
            eprintln!("tripline: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
