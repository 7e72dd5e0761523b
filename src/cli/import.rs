//! `meshsim import FORMAT FILE`: print a scenario made from another tool's file, checked as any
//! scenario is.

use super::{say, AppError};
use crate::import::{self, isotope, istio, traces};
use crate::scenario::Source;
use std::path::{Path, PathBuf};

/// Formats `meshsim import` reads.
#[derive(Debug, clap::Subcommand)]
pub enum ImportFormat {
    /// An Istio isotope service graph (YAML): services, replicas, scripts of calls and sleeps.
    Isotope(IsotopeArgs),
    /// Distributed traces (OTLP/JSON, Jaeger JSON, Zipkin v2 JSON, Alibaba MS_CallGraph CSV):
    /// a scenario that reproduces the call graph, call probabilities, work and load they show.
    ///
    /// Example: meshsim import traces spans.json -o imported/
    Traces(TracesArgs),
    /// Kubernetes and Istio objects (DestinationRule, VirtualService, Deployment,
    /// HorizontalPodAutoscaler) written into a scenario: prints the scenario with the keys they
    /// set, each marked by a comment naming its object; fields not modelled are warned about.
    ///
    /// Example: meshsim import istio mesh.yaml --into scenarios/blog.toml > blog-istio.toml
    Istio(IstioArgs),
}

/// `meshsim import istio` arguments.
#[derive(Debug, clap::Args)]
pub struct IstioArgs {
    /// YAML files of Kubernetes/Istio objects (several documents per file and `kind: List` are
    /// read).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The scenario the objects' settings are written into (it is not modified: the result is
    /// printed).
    #[arg(long, value_name = "SCENARIO", required = true)]
    pub into: PathBuf,
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
    /// Write `DIR/<name>.toml` (and, with --replay, `DIR/<name>-arrivals.csv`) instead of printing.
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

impl From<&IsotopeArgs> for isotope::ImportOptions {
    fn from(args: &IsotopeArgs) -> Self {
        isotope::ImportOptions {
            rate: args.rate,
            duration: args.duration.clone(),
            warmup: args.warmup.clone(),
            service_time: args.service_time.clone(),
            replicas: args.replicas,
            workers: args.workers,
            seed: args.seed,
            name: args.name.clone(),
        }
    }
}

/// Runs `meshsim import FORMAT ...`.
pub fn run(format: &ImportFormat) -> Result<(), AppError> {
    match format {
        ImportFormat::Isotope(args) => isotope(args),
        ImportFormat::Traces(args) => traces(args),
        ImportFormat::Istio(args) => istio(args),
    }
}

/// Prints the scenario with the objects' settings once it has been checked as any scenario is;
/// warnings (fields not modelled, unknown hosts) go to standard error.
fn istio(args: &IstioArgs) -> Result<(), AppError> {
    let scenario = Source::read(&args.into)?;
    scenario.load(&[])?;
    let mut files = Vec::new();
    for path in &args.files {
        let label = path.display().to_string();
        let text = crate::scenario::read_text(path, &label, "Kubernetes/Istio YAML")?;
        files.push(istio::MeshFile { label, text });
    }
    let imported = istio::import(&files, &scenario.text, &scenario.label)?;
    for warning in &imported.warnings {
        eprintln!("warning: {warning}");
    }
    let label = format!("{} (imported)", scenario.label);
    crate::scenario::load_str(&imported.text, &label, &scenario.base_dir, &[])?;
    eprintln!(
        "{} keys set in {} from {} file(s)",
        imported.changes,
        scenario.label,
        files.len()
    );
    say(&imported.text);
    Ok(())
}

/// Prints the scenario inferred from the traces (or writes it under `-o DIR`, with the arrivals
/// file of `--replay`) once it has been checked as any scenario is; warnings (broken traces
/// skipped) go to standard error.
fn traces(args: &TracesArgs) -> Result<(), AppError> {
    if args.replay && args.out.is_none() {
        return Err(AppError::invalid(
            "--replay: needs -o DIR: the arrival times go in a CSV file beside the scenario",
        ));
    }
    let options = traces::ImportOptions {
        format: args.format.as_deref().and_then(traces::Format::from_name),
        name: args.name.clone(),
        workers: args.workers,
        seed: args.seed,
        replay: args.replay,
    };
    let imported = traces::import(&args.files, &options)?;
    for warning in &imported.warnings {
        eprintln!("warning: {warning}");
    }
    let Some(dir) = &args.out else {
        crate::scenario::load_str(&imported.text, "(imported traces)", Path::new("."), &[])?;
        say(&imported.text);
        return Ok(());
    };
    let path = dir.join(format!(
        "{}.toml",
        traces::infer::clean_name(&imported.name)
    ));
    // The scenario is checked as it would be printed, against its arrivals file (named by a
    // path relative to the scenario's folder), before it is written; if anything fails, what
    // was written is removed again: an import that fails leaves nothing behind.
    let dir_existed = dir.is_dir();
    let mut written_files = Vec::new();
    let result = std::fs::create_dir_all(dir)
        .and_then(|()| {
            for (name, text) in &imported.side_files {
                let side = dir.join(name);
                written_files.push(side.clone());
                std::fs::write(side, text)?;
            }
            Ok(())
        })
        .map_err(|error| AppError::Failed(format!("cannot write {}: {error}", dir.display())))
        .and_then(|()| {
            crate::scenario::load_str(&imported.text, "(imported traces)", dir, &[])?;
            written_files.push(path.clone());
            std::fs::write(&path, &imported.text).map_err(|error| {
                AppError::Failed(format!("cannot write {}: {error}", path.display()))
            })
        });
    if let Err(error) = result {
        for file in &written_files {
            let _ = std::fs::remove_file(file);
        }
        if !dir_existed {
            let _ = std::fs::remove_dir(dir); // only if empty: nothing else is touched
        }
        return Err(error);
    }
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Prints the imported scenario once it has been checked as any scenario is (the options are
/// checked by the import, each problem naming its option).
fn isotope(args: &IsotopeArgs) -> Result<(), AppError> {
    let source: Source = import::isotope_source(&args.file, &args.into())?;
    source.load(&[])?;
    say(&source.text);
    Ok(())
}
