//! Importers: systems described in other tools' formats, turned into meshsim scenarios.
//!
//! [`isotope`] reads Istio isotope service graphs (YAML); [`traces`] reads distributed traces
//! (OTLP, Jaeger, Zipkin, Alibaba's call graphs). An import produces scenario *text*
//! (commented TOML, what `meshsim import isotope FILE` prints), which then goes through the
//! ordinary scenario reader: an imported file is checked exactly as a written one, and `--set`
//! works on it. `meshsim run`/`validate`/`compare` accept a `.yaml`/`.yml` file directly and
//! import it in memory with the default [`isotope::ImportOptions`].

pub mod emit;
pub mod isotope;
pub mod traces;
mod yaml;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::model::Model;
use crate::scenario::{self, Override, ScenarioError, ScenarioErrors};
use isotope::{ImportOptions, Topology};

/// Whether `path` names an isotope topology (a `.yaml` or `.yml` file) rather than a scenario.
pub fn is_isotope_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// The scenario text of the isotope topology `text` (labelled `label` in messages and in the
/// header comment), or every problem of the YAML with its line and column.
pub fn isotope_scenario(
    text: &str,
    label: &str,
    options: &ImportOptions,
) -> Result<String, ScenarioErrors> {
    let topology = Topology::parse(text).map_err(|problems| {
        ScenarioErrors(
            problems
                .into_iter()
                .map(|(line, column, message)| ScenarioError {
                    file: label.to_string(),
                    line,
                    column,
                    message,
                })
                .collect(),
        )
    })?;
    Ok(emit::scenario_text(&topology, label, options))
}

/// Reads the isotope topology at `path`, imports it with `options`, applies `overrides` and
/// returns the validated model. Problems of the YAML name `path`; problems of the imported text
/// (a bad `--set` or option) name `path (imported)` with positions in the text that
/// `meshsim import isotope` prints.
pub fn load_isotope_file(
    path: &Path,
    options: &ImportOptions,
    overrides: &[Override],
) -> Result<Model, ScenarioErrors> {
    let label = path.display().to_string();
    let text = read_text(path, &label)?;
    let scenario_text = isotope_scenario(&text, &label, options)?;
    scenario::load_str(
        &scenario_text,
        &format!("{label} (imported)"),
        base_dir(path),
        overrides,
    )
}

fn read_text(path: &Path, label: &str) -> Result<String, ScenarioErrors> {
    let bytes = std::fs::read(path)
        .map_err(|error| ScenarioErrors::single(label, format!("cannot read {label}: {error}")))?;
    String::from_utf8(bytes)
        .map_err(|_| ScenarioErrors::single(label, format!("{label} is not UTF-8 text")))
}

fn base_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `meshsim import isotope` arguments.
#[derive(Debug, clap::Args)]
pub struct IsotopeArgs {
    /// The isotope topology (YAML).
    pub file: PathBuf,
    /// Requests per second sent to each isEntrypoint service (open Poisson).
    #[arg(long, value_name = "PER_SECOND", default_value_t = isotope::DEFAULT_RATE)]
    pub rate: f64,
    /// Simulated load period.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub duration: String,
    /// Warm-up (requests arriving before it are not measured).
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub warmup: String,
    /// Service time of services whose script has no sleep.
    #[arg(long, value_name = "DISTRIBUTION", default_value = isotope::DEFAULT_SERVICE_TIME)]
    pub service_time: String,
    /// Replicas of every service, instead of the file's numReplicas.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub replicas: Option<u32>,
    /// Workers (concurrent requests) per replica.
    #[arg(long, value_name = "N", default_value_t = isotope::DEFAULT_WORKERS, value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: u32,
    /// Scenario seed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Scenario name [default: the file's name without extension].
    #[arg(long)]
    pub name: Option<String>,
}

impl IsotopeArgs {
    /// The import options these arguments ask for.
    pub fn options(&self) -> ImportOptions {
        ImportOptions {
            rate: self.rate,
            duration: self.duration.clone(),
            warmup: self.warmup.clone(),
            service_time: self.service_time.clone(),
            replicas: self.replicas,
            workers: self.workers,
            seed: self.seed,
            name: self.name.clone(),
        }
    }
}

/// `meshsim import isotope FILE`: prints the scenario on standard output once it has been
/// checked as any scenario is; exit status 2 with every problem otherwise.
pub fn isotope_command(args: &IsotopeArgs) -> ExitCode {
    let label = args.file.display().to_string();
    let result = read_text(&args.file, &label).and_then(|text| {
        if !(args.rate.is_finite() && args.rate > 0.0) {
            return Err(ScenarioErrors::single(
                "--rate",
                format!(
                    "must be a positive number of requests per second, found {}",
                    args.rate
                ),
            ));
        }
        let scenario_text = isotope_scenario(&text, &label, &args.options())?;
        scenario::load_str(
            &scenario_text,
            &format!("{label} (imported)"),
            base_dir(&args.file),
            &[],
        )?;
        Ok(scenario_text)
    });
    match result {
        Ok(scenario_text) => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(scenario_text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("error: {error}");
            }
            ExitCode::from(crate::cli::EXIT_INVALID)
        }
    }
}

/// `meshsim import traces` arguments.
#[derive(Debug, clap::Args)]
pub struct TracesArgs {
    /// Trace files, all in one format.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The format [default: detected from the content].
    #[arg(long, value_parser = ["otlp", "jaeger", "zipkin", "alibaba"])]
    pub format: Option<String>,
    /// Write DIR/<name>.toml (and, with --replay, DIR/<name>-arrivals.csv) instead of printing.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replay the traces' arrival times as a trace workload (needs -o).
    #[arg(long)]
    pub replay: bool,
    /// Workers per replica (concurrency cannot be seen in traces).
    #[arg(long, value_name = "N", default_value_t = traces::DEFAULT_WORKERS, value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: u32,
    /// Scenario seed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Scenario name [default: the first file's name without extension].
    #[arg(long)]
    pub name: Option<String>,
}

/// `meshsim import traces FILE...`: prints the scenario (or writes it under `-o DIR`) once it
/// has been checked as any scenario is; warnings (traces skipped) go to standard error; exit
/// status 2 with every problem otherwise.
pub fn traces_command(args: &TracesArgs) -> ExitCode {
    let fail = |errors: &ScenarioErrors| {
        for error in &errors.0 {
            eprintln!("error: {error}");
        }
        ExitCode::from(crate::cli::EXIT_INVALID)
    };
    if args.replay && args.out.is_none() {
        return fail(&ScenarioErrors::single(
            "--replay",
            "needs -o DIR: the arrival times go in a CSV file beside the scenario",
        ));
    }
    let options = traces::ImportOptions {
        format: args.format.as_deref().and_then(traces::Format::from_name),
        name: args.name.clone(),
        workers: args.workers,
        seed: args.seed,
        replay: args.replay,
    };
    let imported = match traces::import(&args.files, &options) {
        Ok(imported) => imported,
        Err(errors) => return fail(&errors),
    };
    for warning in &imported.warnings {
        eprintln!("warning: {warning}");
    }
    match &args.out {
        None => {
            if let Err(errors) = scenario::load_str(&imported.text, "(imported traces)", Path::new("."), &[]) {
                return fail(&errors);
            }
            use std::io::Write;
            let _ = std::io::stdout().write_all(imported.text.as_bytes());
            ExitCode::SUCCESS
        }
        Some(dir) => {
            let path = dir.join(format!("{}.toml", traces::infer::clean_name(&imported.name)));
            let written = std::fs::create_dir_all(dir).and_then(|()| {
                for (name, text) in &imported.side_files {
                    std::fs::write(dir.join(name), text)?;
                }
                std::fs::write(&path, &imported.text)
            });
            if let Err(error) = written {
                eprintln!("error: cannot write {}: {error}", path.display());
                return ExitCode::from(crate::cli::EXIT_FAILED);
            }
            if let Err(errors) = scenario::load_file(&path, &[]) {
                return fail(&errors);
            }
            eprintln!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
    }
}
