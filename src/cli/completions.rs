//! `meshsim completions SHELL` and `meshsim man`: shell completions and the man page, both made
//! from the same clap definition as the parser, so they cannot drift from it.

use super::{AppError, Cli};
use clap::CommandFactory;
use std::io::Write;

/// The arguments of `meshsim completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for (bash, elvish, fish, powershell, zsh).
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the completion script of the shell on standard output, e.g.
/// `meshsim completions bash > /etc/bash_completion.d/meshsim`.
pub fn completions(args: &CompletionsArgs) -> Result<(), AppError> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "meshsim", &mut script);
    write_out(&script)
}

/// Prints the man page (roff) on standard output, e.g. `meshsim man > meshsim.1; man ./meshsim.1`.
pub fn man() -> Result<(), AppError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|error| AppError::Failed(format!("cannot render the man page: {error}")))?;
    write_out(&page)
}

/// Writes to standard output; a closed pipe is not an error.
fn write_out(bytes: &[u8]) -> Result<(), AppError> {
    let _ = std::io::stdout().write_all(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_completion_offers_every_subcommand() {
        let mut command = Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut command,
            "meshsim",
            &mut script,
        );
        let script = String::from_utf8(script).expect("UTF-8");
        for sub in Cli::command().get_subcommands() {
            assert!(
                script.contains(sub.get_name()),
                "bash completion lacks {}",
                sub.get_name()
            );
        }
    }

    #[test]
    fn man_page_names_every_subcommand_and_option_of_run() {
        let mut page = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut page)
            .expect("renders");
        let page = String::from_utf8(page).expect("UTF-8");
        assert!(
            page.starts_with(".ie") || page.contains(".TH meshsim"),
            "{page}"
        );
        for sub in Cli::command().get_subcommands() {
            assert!(
                page.contains(sub.get_name()),
                "man page lacks {}",
                sub.get_name()
            );
        }
    }
}
