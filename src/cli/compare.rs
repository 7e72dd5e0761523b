//! `meshsim compare SCENARIO`: variants × replications with common random numbers.

use super::{load, say, AppError};
use crate::compare::gate::{self, Rule};
use crate::compare::items::{self, ItemId, ItemsError, Manifest, Shard};
use crate::compare::results::Comparison;
use crate::compare::{self, export, replicate::Progress, Plan};
use crate::report;
use std::path::{Path, PathBuf};

/// Every file `meshsim compare` writes, for `meshsim compare --help` (and the man page); the
/// test `compare_help_lists_every_file_written` compares it with a comparison's folder.
pub const FILES_WRITTEN: &str = "\
Files written into the output folder (--out DIR, default reports/<scenario name>-compare/):
  comparison.json          per variant and metric: mean, interval, paired difference, SLO verdicts
  comparison.csv           the same, one row per variant and metric
  comparison.md            the tables in Markdown, to paste into a design document
  replications.csv         one row per variant and replication
  latency-<variant>.csv    each variant's end-to-end latency quantiles (replication 0); <variant>
                           is its values joined by '-' (latency-p2c.csv, latency-p2c-64.csv)
  comparison.svg, .png     a panel per metric: means with confidence intervals
  cdf.svg, .png            a latency distribution per variant
  report.html              one self-contained page with all of the above
  .meshsim-files           the list of these files (files of an earlier comparison in the folder
                           that this one does not write are removed; no other file is touched)
With --shard/--only: only the items, in OUT/items/ (meshsim merge writes the files above).
Standard output: the comparison table (--quiet: nothing). Files: docs/reports.md.";

/// The arguments of `meshsim compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// The scenario file (TOML), or an Istio isotope topology (.yaml), imported with defaults.
    pub scenario: PathBuf,
    /// An axis of variants, KEY=V1,V2,... (repeatable: several make a cross product);
    /// without one, the file's `[compare]` table.
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub vary: Vec<String>,
    /// Replications per variant (default: the file's `[compare]` replications, else 5).
    #[arg(long, short = 'r', value_name = "R")]
    pub replications: Option<u32>,
    /// Output folder (default: `reports/<scenario name>-compare/`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Root seed, overriding the file's `[scenario]` seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Override one value of the file for every variant (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Worker threads [default: all cores]; results do not depend on it.
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the sweep's work items (variant x replication), their count and the fingerprint;
    /// run nothing.
    #[arg(long)]
    pub plan: bool,
    /// Run only shard I of N (I from 1): the items at positions i (from 0, plan order) with
    /// i mod N = I - 1, each written to OUT/items/; merge the shards with `meshsim merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Run only these items (e.g. v3-r7,v0-r2), written to OUT/items/ (with --shard: those of
    /// the shard).
    #[arg(long, value_name = "ITEMS", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Exit with status 3 when a variant misses an `[slo]` objective or breaks a --fail-if rule.
    #[arg(long)]
    pub check: bool,
    /// With --check: a rule a variant must not break, METRIC OP VALUE: relative to the
    /// baseline and significant ('latency_p99_ms>+10%') or absolute ('availability<0.999')
    /// (repeatable).
    #[arg(long = "fail-if", value_name = "RULE")]
    pub fail_if: Vec<String>,
}

/// Plans, runs every replication on a pool of `--threads`, writes the comparison folder and
/// prints its table.
pub fn run(args: &CompareArgs) -> Result<(), AppError> {
    let rules = rules(&args.fail_if, args.check)?;
    let shard = args
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()
        .map_err(AppError::invalid)?;
    let only = args
        .only
        .iter()
        .map(|text| ItemId::parse(text).map_err(|m| format!("--only: {m}")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(AppError::invalid)?;
    let sharded = shard.is_some() || !only.is_empty();
    if sharded && args.check {
        return Err(AppError::invalid(
            "--check judges a whole comparison: give it to `meshsim merge`, not to one shard",
        ));
    }
    let overrides = load::overrides(&args.overrides, args.seed)?;
    compare::check_threads(args.threads).map_err(|message| AppError::Invalid(vec![message]))?;
    let source = load::source(&args.scenario)?;
    let plan = compare::plan(&source, &args.vary, args.replications, &overrides)
        .map_err(AppError::Invalid)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(format!("{}-compare", plan.base.name)));
    let manifest = Manifest::of(&plan, &rerun_command(args, &dir));
    if args.plan {
        say(&plan_text(&plan, &manifest, shard));
        return Ok(());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .map_err(|error| AppError::Failed(format!("cannot start the worker threads: {error}")))?;
    if sharded {
        let only = (!only.is_empty()).then_some(only.as_slice());
        let ids = items::select(&plan, shard, only).map_err(AppError::invalid)?;
        let bar =
            report::Progress::replications(ids.len() as u64, report::progress::wanted(args.quiet));
        let done = pool.install(|| items::run_items(&plan, &manifest, &ids, &dir, &|| bar.inc()));
        bar.finish();
        let done = done.map_err(|error| match error {
            ItemsError::OtherSweep(message) => AppError::invalid(message),
            ItemsError::Io(message) => AppError::Failed(message),
        })?;
        if !args.quiet {
            say(&format!(
                "{} item{} run, {} already there; items in {}\n",
                done.ran,
                if done.ran == 1 { "" } else { "s" },
                done.skipped,
                dir.join(items::ITEMS_DIR).display()
            ));
        }
        return Ok(());
    }
    let bar = progress_bar(&plan, args.quiet);
    let outcome = pool.install(|| compare::execute(&plan, &|_: Progress| bar.inc()));
    bar.finish();
    if let Some(reason) = outcome.stopped {
        return Err(AppError::Failed(format!(
            "{reason}; no comparison was written to {} (the figures of a stopped run are partial)",
            dir.display()
        )));
    }
    compare::write_report(&outcome, &dir).map_err(|error| {
        AppError::Failed(format!(
            "writing the comparison to {}: {error}",
            dir.display()
        ))
    })?;
    if !args.quiet {
        say(&export::render_terminal(&outcome.comparison));
        say(&format!("  report        {}\n", dir.display()));
    }
    judge(&outcome.comparison, &rules, args.check)
}

/// Parses the `--fail-if` rules (before anything runs: a malformed rule is exit status 2);
/// rules without `--check` are an error too, since they would judge nothing.
pub fn rules(texts: &[String], check: bool) -> Result<Vec<Rule>, AppError> {
    if !texts.is_empty() && !check {
        return Err(AppError::invalid(
            "--fail-if needs --check (the rules decide the exit status of a check)",
        ));
    }
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for text in texts {
        match Rule::parse(text) {
            Ok(rule) => rules.push(rule),
            Err(message) => problems.push(message),
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(AppError::Invalid(problems))
    }
}

/// With `check`: every objective missed (exit status 3), or Ok.
pub fn judge(comparison: &Comparison, rules: &[Rule], check: bool) -> Result<(), AppError> {
    if !check {
        return Ok(());
    }
    let failed = gate::failures(comparison, rules, true);
    if failed.is_empty() {
        Ok(())
    } else {
        Err(AppError::ObjectivesMissed(failed))
    }
}

/// `--plan`: the fingerprint, the count, and every item (of the shard, with `--shard`).
fn plan_text(plan: &Plan, manifest: &Manifest, shard: Option<Shard>) -> String {
    let ids = items::select(plan, shard, None).unwrap_or_default();
    let mut text = format!(
        "sweep {}: {} variant{} x {} replication{} = {} item{}{}\nfingerprint {}\n",
        manifest.scenario,
        plan.variants.len(),
        if plan.variants.len() == 1 { "" } else { "s" },
        plan.replications,
        if plan.replications == 1 { "" } else { "s" },
        manifest.item_count(),
        if manifest.item_count() == 1 { "" } else { "s" },
        shard.map_or_else(String::new, |s| format!(
            " ({} in shard {}/{})",
            ids.len(),
            s.index,
            s.count
        )),
        manifest.fingerprint
    );
    for id in ids {
        let (variant, model) = &plan.variants[id.variant];
        text.push_str(&format!(
            "{id}\tseed {}\t{}\n",
            compare::replicate::replication_seed(model.seed, id.replication),
            variant.name
        ));
    }
    text
}

/// The `meshsim compare` command that runs items of this sweep into `dir` (the manifest keeps
/// it, so that `meshsim merge` can say how to run missing items).
fn rerun_command(args: &CompareArgs, dir: &Path) -> String {
    let mut words = vec![
        "meshsim".to_string(),
        "compare".to_string(),
        shell_word(&args.scenario.to_string_lossy()),
    ];
    for vary in &args.vary {
        words.push("--vary".into());
        words.push(shell_word(vary));
    }
    if let Some(r) = args.replications {
        words.push(format!("--replications {r}"));
    }
    if let Some(seed) = args.seed {
        words.push(format!("--seed {seed}"));
    }
    for set in &args.overrides {
        words.push("--set".into());
        words.push(shell_word(set));
    }
    words.push("--out".into());
    words.push(shell_word(&dir.to_string_lossy()));
    words.join(" ")
}

/// `text` as one POSIX shell word (single-quoted unless it is plainly safe).
fn shell_word(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@%".contains(c));
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The progress bar over every replication (on a terminal, without `--quiet`, past a second).
fn progress_bar(plan: &Plan, quiet: bool) -> report::Progress {
    let total = plan.variants.len() as u64 * u64::from(plan.replications);
    report::Progress::replications(total, report::progress::wanted(quiet))
}
