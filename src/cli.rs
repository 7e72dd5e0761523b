//! The command line: `meshsim run`, `validate`, `compare`, `plot`, `schema`, `init`. Thin: parse,
//! build, run, export.

use crate::report::{self, EdgeRecorder, FileRecorder, OutputFiles, Summary};
use crate::scenario::{self, Override};
use crate::sim::Simulation;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
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
    /// Run a scenario and write summary.json, timeseries.csv and events.csv.
    ///
    /// Example: meshsim run scenarios/blog.toml --set policy.balancer=p2c --out reports/blog-p2c
    Run {
        /// The scenario file (TOML), or an Istio isotope topology (.yaml), imported with defaults.
        scenario: PathBuf,
        /// Output folder [default: reports/<scenario name>/].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Root seed, overriding [scenario] seed.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Override one value of the file, e.g. policy.balancer=p2c, service.article.workers=64,
        /// workload.readers.rate=2000, fault.0.at=10s (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Compare variants of a scenario over replications, with confidence intervals.
    ///
    /// Replication r of every variant runs with the same seed (common random numbers), so the
    /// differences to the baseline (the first variant) are paired. Writes comparison.json,
    /// comparison.csv, comparison.md, replications.csv and latency-<variant>.csv.
    ///
    /// Example: meshsim compare scenarios/blog.toml --vary policy.balancer=round_robin,p2c --replications 10
    Compare {
        /// The scenario file (TOML), or an Istio isotope topology (.yaml), imported with defaults.
        scenario: PathBuf,
        /// An axis of variants, KEY=V1,V2,... (repeatable: several make a cross product);
        /// without one, the file's [compare] table.
        #[arg(long, value_name = "KEY=V1,V2,...")]
        vary: Vec<String>,
        /// Replications per variant [default: the file's [compare] replications, else 5].
        #[arg(long, short = 'r', value_name = "R")]
        replications: Option<u32>,
        /// Output folder [default: reports/<scenario name>-compare/].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Root seed, overriding [scenario] seed.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Override one value of the file for every variant (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Worker threads [default: all cores]; results do not depend on it.
        #[arg(long, short = 'j', value_name = "N")]
        threads: Option<usize>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Re-render the plots and report.html of a run folder from its CSV files, without re-running.
    Plot {
        /// A folder written by `meshsim run` (or `meshsim compare`).
        dir: PathBuf,
    },
    /// Print a meshsim scenario made from another tool's topology file.
    ///
    /// Example: meshsim import isotope topology.yaml --rate 200 > scenario.toml
    Import {
        /// The format of the file.
        #[command(subcommand)]
        format: ImportFormat,
    },
    /// Check a scenario file and list every problem with its line and column.
    Validate {
        /// The scenario file (TOML), or an Istio isotope topology (.yaml), imported with defaults.
        scenario: PathBuf,
        /// Override one value of the file before checking (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Print the JSON Schema of scenario files (for editors: Taplo / Even Better TOML).
    Schema,
    /// Write a commented starter scenario to FILE (standard output without FILE).
    Init {
        /// Where to write it; refused if it exists, unless --force.
        file: Option<PathBuf>,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
}

/// Formats `meshsim import` reads.
#[derive(Debug, Subcommand)]
pub enum ImportFormat {
    /// An Istio isotope service graph (YAML): services, replicas, scripts of calls and sleeps.
    Isotope(crate::import::IsotopeArgs),
}

/// Exit status: the scenario or the arguments are invalid.
pub const EXIT_INVALID: u8 = 2;
/// Exit status: the run failed (e.g. the report could not be written).
pub const EXIT_FAILED: u8 = 1;

/// Runs the command line; returns the process's exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenario,
            out,
            seed,
            overrides,
            quiet,
        } => run(&scenario, out.as_deref(), seed, &overrides, quiet),
        Command::Compare {
            scenario,
            vary,
            replications,
            out,
            seed,
            overrides,
            threads,
            quiet,
        } => crate::compare::command(crate::compare::CompareArgs {
            scenario,
            vary,
            replications,
            out,
            seed,
            overrides,
            threads,
            quiet,
        }),
        Command::Plot { dir } => report::plot_command(&dir),
        Command::Import {
            format: ImportFormat::Isotope(args),
        } => crate::import::isotope_command(&args),
        Command::Validate {
            scenario,
            overrides,
        } => validate(&scenario, &overrides),
        Command::Schema => {
            say(&scenario::json_schema());
            ExitCode::SUCCESS
        }
        Command::Init { file, force } => init(file.as_deref(), force),
    }
}

/// `meshsim init [FILE] [--force]`: the starter scenario to FILE, or to standard output.
fn init(file: Option<&Path>, force: bool) -> ExitCode {
    let Some(path) = file else {
        say(scenario::STARTER);
        return ExitCode::SUCCESS;
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let written = options.open(path).and_then(|mut f| {
        use std::io::Write;
        f.write_all(scenario::STARTER.as_bytes())
    });
    match written {
        Ok(()) => {
            say(&format!(
                "wrote {} (check it with: meshsim validate {0})\n",
                path.display()
            ));
            ExitCode::SUCCESS
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "error: {} exists; use --force to overwrite it",
                path.display()
            );
            ExitCode::from(EXIT_INVALID)
        }
        Err(error) => {
            eprintln!("error: cannot write {}: {error}", path.display());
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Parses `--set` arguments (and `--seed`) into overrides.
pub(crate) fn parse_overrides(raw: &[String], seed: Option<u64>) -> Result<Vec<Override>, String> {
    let mut overrides = raw
        .iter()
        .map(|arg| Override::parse(arg))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(seed) = seed {
        overrides.push(Override {
            key: "scenario.seed".into(),
            value: seed.to_string(),
        });
    }
    Ok(overrides)
}

fn load(path: &Path, raw: &[String], seed: Option<u64>) -> Result<crate::model::Model, ExitCode> {
    let overrides = parse_overrides(raw, seed).map_err(|message| {
        eprintln!("error: --set: {message}");
        ExitCode::from(EXIT_INVALID)
    })?;
    scenario::load_file(path, &overrides).map_err(|errors| {
        for error in &errors.0 {
            eprintln!("error: {error}");
        }
        ExitCode::from(EXIT_INVALID)
    })
}

fn validate(path: &Path, raw: &[String]) -> ExitCode {
    match load(path, raw, None) {
        Ok(model) => {
            say(&format!(
                "{}: ok ({} services, {} endpoints, {} workloads, {} faults)\n",
                path.display(),
                model.services.len(),
                model.endpoints.len(),
                model.workloads.len(),
                model.faults.len()
            ));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn run(
    path: &Path,
    out: Option<&Path>,
    seed: Option<u64>,
    raw: &[String],
    quiet: bool,
) -> ExitCode {
    let model = match load(path, raw, seed) {
        Ok(model) => model,
        Err(code) => return code,
    };
    let dir = out.map_or_else(|| Path::new("reports").join(&model.name), Path::to_path_buf);
    let progress =
        report::Progress::simulation(model.duration as f64 / 1e9, report::progress::wanted(quiet));
    let written = run_to_folder_with_progress(&model, &dir, &progress);
    progress.finish();
    match written {
        Ok((summary, simulation_wall)) => {
            if !quiet {
                say(&report::render_terminal(&summary));
                say(&engine_line(&summary, simulation_wall));
                say(&format!("  report        {}\n", dir.display()));
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: writing the report to {}: {error}", dir.display());
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Prints to standard output; a closed pipe (`meshsim run ... | head`) is not an error.
fn say(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(text.as_bytes());
}

/// Runs `model` and writes its report into `dir` (atomically: all files or none).
pub fn run_to_folder(model: &crate::model::Model, dir: &Path) -> std::io::Result<Summary> {
    run_to_folder_with_progress(model, dir, &report::Progress::hidden()).map(|(summary, _)| summary)
}

/// How fast the simulation itself ran (wall-clock: printed, never written to a report file).
fn engine_line(summary: &Summary, wall: std::time::Duration) -> String {
    let seconds = wall.as_secs_f64().max(1e-9);
    format!(
        "  engine        {} events in {:.3} s wall: {:.2} M events/s, {:.0} measured requests/s\n",
        summary.events,
        seconds,
        summary.events as f64 / seconds / 1e6,
        summary.requests.offered as f64 / seconds
    )
}

/// [`run_to_folder`], moving `progress` along simulated time; also returns the wall-clock time the
/// simulation itself took (reports and plots excluded).
pub fn run_to_folder_with_progress(
    model: &crate::model::Model,
    dir: &Path,
    progress: &report::Progress,
) -> std::io::Result<(Summary, std::time::Duration)> {
    let mut files = OutputFiles::new(dir)?;
    let recorder = EdgeRecorder::for_model(
        report::ProgressRecorder::new(FileRecorder::new(&mut files)?, progress),
        model,
    );
    let started = std::time::Instant::now();
    let (result, recorder) = Simulation::run(model, recorder);
    let simulation_wall = started.elapsed();
    if let Some(reason) = result.stopped {
        return Err(std::io::Error::other(reason));
    }
    let (recorder, edge_windows) = recorder.into_parts();
    recorder.into_inner().finish()?;
    let mut summary = Summary::new(model, &result);
    summary.slo = model
        .slo
        .as_ref()
        .map(|slo| report::slo::evaluate(model, slo, &result, &edge_windows));
    files.write("summary.json", summary.to_json().as_bytes())?;
    files.write(
        "latency.csv",
        report::latency_quantiles_csv(&result.latency).as_bytes(),
    )?;
    report::render_run(&mut files)?;
    files.commit()?;
    Ok((summary, simulation_wall))
}
