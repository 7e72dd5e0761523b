//! `meshsim init [FILE]`: the commented starter scenario.

use super::{say, AppError};
use crate::scenario;
use std::io::Write;
use std::path::PathBuf;

/// The arguments of `meshsim init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to write it; refused if it exists, unless --force.
    pub file: Option<PathBuf>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Writes the starter scenario to the file (never over an existing one without `--force`), or to
/// standard output without a file.
pub fn run(args: &InitArgs) -> Result<(), AppError> {
    let Some(path) = &args.file else {
        say(scenario::STARTER);
        return Ok(());
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    options
        .open(path)
        .and_then(|mut f| f.write_all(scenario::STARTER.as_bytes()))
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::AlreadyExists => AppError::invalid(format!(
                "{} exists; use --force to overwrite it",
                path.display()
            )),
            _ => AppError::Failed(format!("cannot write {}: {error}", path.display())),
        })?;
    say(&format!(
        "wrote {} (check it with: meshsim validate {0})\n",
        path.display()
    ));
    Ok(())
}
