//! `tripline completions SHELL` and `tripline man`: shell completions and a man page, made
//! from the same clap definitions as `--help`, so they cannot disagree with the binary.

use std::io::Write;

use clap::CommandFactory;

use super::ExitStatus;

#[derive(clap::Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Prints the completion script for a shell.
pub fn completions(args: &CompletionArgs) -> anyhow::Result<ExitStatus> {
    let mut command = crate::Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "tripline", &mut out);
    out.flush()?;
    Ok(ExitStatus::Success)
}

/// Prints the man page (roff): `tripline man > tripline.1`.
pub fn man() -> anyhow::Result<ExitStatus> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(crate::Cli::command()).render(&mut out)?;
    out.flush()?;
    Ok(ExitStatus::Success)
}
