//! The application layer: the `meshsim` command line. It parses the arguments (clap), hands each
//! command to its own module, prints an error once and maps it to the exit status in one place
//! ([`main`]). Every command returns `Result<(), AppError>`; nothing below this module prints an
//! error or knows an exit status, and nothing below imports it.
//!
//! One module per command: [`run`], [`validate`], [`compare`], [`merge`], [`plot`], [`import`], [`init`],
//! [`schema`], [`completions`] (with `man`); [`load`] chooses between a TOML scenario and a file an
//! importer reads; [`error`] holds [`AppError`] and the exit statuses.

pub mod compare;
pub mod completions;
pub mod error;
pub mod import;
pub mod init;
pub mod load;
pub mod merge;
pub mod plot;
pub mod run;
pub mod schema;
pub mod validate;

pub use error::{AppError, EXIT_FAILED, EXIT_INVALID, EXIT_OBJECTIVES_MISSED};

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;

/// meshsim: a deterministic discrete-event simulator of microservice systems.
///
/// Describe services, network, registry, balancers, resilience policies, load and faults in a
/// TOML scenario file; meshsim replays it and reports latency and availability. The same file and
/// seed always give the same bytes out.
#[derive(Debug, Parser)]
#[command(name = "meshsim", version, about, long_about = None, arg_required_else_help = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and write its report folder (summary.json, CSV time series, plots,
    /// report.html).
    ///
    /// Example: meshsim run scenarios/blog.toml --set policy.balancer=p2c --out reports/blog-p2c
    #[command(after_long_help = run::FILES_WRITTEN)]
    Run(run::RunArgs),
    /// Compare variants of a scenario over replications, with confidence intervals.
    ///
    /// Replication r of every variant runs with the same seed (common random numbers), so the
    /// differences to the baseline (the first variant) are paired. Writes comparison.json,
    /// comparison.csv, comparison.md, replications.csv, `latency-<variant>.csv`, plots and
    /// report.html.
    ///
    /// Example: meshsim compare scenarios/blog.toml --vary policy.balancer=round_robin,p2c --replications 10
    #[command(after_long_help = compare::FILES_WRITTEN)]
    Compare(compare::CompareArgs),
    /// Merge the item folders of a sharded sweep (`meshsim compare --shard I/N`) into the
    /// comparison folder one `meshsim compare` writes, byte for byte.
    ///
    /// Example: meshsim merge sweep/shard-* --out reports/blog-compare
    Merge(merge::MergeArgs),
    /// Re-render the plots and report.html of a run folder from its CSV files, without re-running.
    Plot(plot::PlotArgs),
    /// Print a meshsim scenario made from another tool's topology file.
    ///
    /// Example: meshsim import isotope topology.yaml --rate 200 > scenario.toml
    Import {
        /// The format of the file.
        #[command(subcommand)]
        format: import::ImportFormat,
    },
    /// Check a scenario file and list every problem with its line and column.
    Validate(validate::ValidateArgs),
    /// Print the JSON Schema of scenario files (for editors: Taplo / Even Better TOML).
    Schema,
    /// Write a commented starter scenario to FILE (standard output without FILE).
    Init(init::InitArgs),
    /// Print a shell completion script (bash, elvish, fish, powershell, zsh).
    ///
    /// Example: meshsim completions bash > ~/.local/share/bash-completion/completions/meshsim
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff).
    ///
    /// Example: meshsim man > meshsim.1 && man ./meshsim.1
    Man,
}

/// Runs the command line; returns the process's exit status (0, or [`AppError::exit_code`]).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = dispatch(&cli.command);
    if std::env::var_os(PEAK_RSS_VARIABLE).is_some_and(|value| !value.is_empty()) {
        report_peak_rss();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut stderr = std::io::stderr().lock();
            for line in error.lines() {
                let _ = writeln!(stderr, "error: {line}");
            }
            ExitCode::from(error.exit_code())
        }
    }
}

/// Set (to anything but the empty string), `meshsim` prints its peak resident memory to
/// standard error as it exits: `meshsim: peak RSS N kB` (Linux; `VmHWM` of
/// `/proc/self/status`). The tests measure memory bounds with it, free of other processes.
pub const PEAK_RSS_VARIABLE: &str = "MESHSIM_PEAK_RSS";

/// Prints `meshsim: peak RSS N kB` to standard error, if the system tells it.
fn report_peak_rss() {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return;
    };
    let peak = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .map(str::trim);
    if let Some(kilobytes) = peak {
        let _ = writeln!(std::io::stderr().lock(), "meshsim: peak RSS {kilobytes} kB");
    }
}

/// Hands the command to its module.
fn dispatch(command: &Command) -> Result<(), AppError> {
    match command {
        Command::Run(args) => run::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Import { format } => import::run(format),
        Command::Validate(args) => validate::run(args),
        Command::Schema => schema::run(),
        Command::Init(args) => init::run(args),
        Command::Completions(args) => completions::completions(args),
        Command::Man => completions::man(),
    }
}

/// Prints to standard output; a closed pipe (`meshsim run ... | head`) is not an error.
fn say(text: &str) {
    let _ = std::io::stdout().write_all(text.as_bytes());
}
