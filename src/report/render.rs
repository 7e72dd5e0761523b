//! Plots and `report.html` written into a folder: after `meshsim run` and `meshsim compare`
//! (before their files are renamed into place, so a failure leaves no partial report), and by
//! `meshsim plot DIR` from the folder's files alone.

use super::format::{self, display_unit, metric_title, variant_label};
use super::html;
use super::plots::{self, cdf, comparison, Rendered};
use super::rundata::{self, LoadError, RunData};
use super::OutputFiles;
use crate::analysis::comparison::Comparison;
use std::io;
use std::path::{Path, PathBuf};

/// Writes the plots and `report.html` of the run whose files `files` holds (read back from
/// their temporary names: call it after the CSV files and `summary.json` are written, before
/// [`OutputFiles::commit`]).
pub fn render_run(files: &mut OutputFiles) -> io::Result<()> {
    let data = RunData::read_with(&mut |name| {
        Ok(files
            .open(name)?
            .map(|file| Box::new(file) as Box<dyn io::Read>))
    })?;
    write_run(&data, files)
}

fn write_plots(plots: &[Rendered], files: &mut OutputFiles) -> io::Result<()> {
    for plot in plots {
        files.write(&format!("{}.svg", plot.name), plot.svg.as_bytes())?;
        files.write(&format!("{}.png", plot.name), &plot.png)?;
    }
    Ok(())
}

fn write_run(data: &RunData, files: &mut OutputFiles) -> io::Result<()> {
    let plots = plots::run_plots(data)?;
    write_plots(&plots, files)?;
    files.write("report.html", html::run_report(data, &plots).as_bytes())
}

/// Writes `cdf` and `comparison` plots and `report.html` of the comparison whose files `files`
/// holds (`comparison.json` and the `latency-<slug>.csv` files, written so far or already in
/// the folder); call it before [`OutputFiles::commit`].
pub fn render_comparison_files(files: &mut OutputFiles) -> io::Result<()> {
    let text = files
        .read("comparison.json")?
        .ok_or_else(|| io::Error::other("comparison.json is missing"))?;
    let comparison: Comparison = serde_json::from_slice(&text)
        .map_err(|e| io::Error::other(format!("comparison.json: {e}")))?;
    let mut distributions = Vec::new();
    for (index, variant) in comparison
        .variants
        .iter()
        .enumerate()
        .take(cdf::MAX_DISTRIBUTIONS)
    {
        let quantiles = match files.read(&variant.latency_file)? {
            Some(bytes) => rundata::parse_quantiles(&bytes)
                .map_err(|e| io::Error::other(format!("{}: {e}", variant.latency_file)))?,
            None => Vec::new(),
        };
        distributions.push(cdf::Distribution {
            label: format!("{} {}", index + 1, variant_label(&comparison, index)),
            quantiles,
        });
    }
    let plots = comparison_plots(&comparison, distributions)?;
    write_plots(&plots, files)?;
    files.write(
        "report.html",
        html::comparison_report(&comparison, &plots).as_bytes(),
    )
}

/// Re-renders the plots and `report.html` of the comparison folder `dir` from its files.
pub fn render_comparison(dir: &Path) -> io::Result<()> {
    let mut files = OutputFiles::new(dir)?;
    render_comparison_files(&mut files)?;
    files.commit()
}

fn comparison_plots(
    comparison: &Comparison,
    distributions: Vec<cdf::Distribution>,
) -> io::Result<Vec<Rendered>> {
    let subtitle = format!(
        "{} – {} replications per variant, common random numbers – {}% confidence intervals",
        comparison.scenario,
        comparison.replications,
        format::number(comparison.confidence * 100.0, 0)
    );
    let labels: Vec<String> = (0..comparison.variants.len())
        .map(|i| variant_label(comparison, i))
        .collect();
    let panels = comparison
        .metrics
        .iter()
        .map(|metric| {
            let (unit, scale) = display_unit(&metric.unit);
            comparison::MetricPanel {
                title: metric_title(&metric.name),
                percent: unit == "%",
                significant: comparison
                    .variants
                    .iter()
                    .map(|v| v.metrics.get(&metric.name).is_some_and(|m| m.significant))
                    .collect(),
                unit,
                lower_is_better: match metric.better.as_str() {
                    "lower" => Some(true),
                    "higher" => Some(false),
                    _ => None,
                },
                values: comparison
                    .variants
                    .iter()
                    .map(|variant| {
                        variant.metrics.get(&metric.name).map(|m| {
                            (
                                m.mean * scale,
                                m.ci_low.unwrap_or(m.mean) * scale,
                                m.ci_high.unwrap_or(m.mean) * scale,
                            )
                        })
                    })
                    .collect(),
            }
        })
        .collect();
    let chart = comparison::ComparisonPlot::new(subtitle.clone(), labels, panels);
    let cdf_subtitle = if comparison.variants.len() > cdf::MAX_DISTRIBUTIONS {
        format!(
            "{} – the first {} of {} variants, first replication, succeeded measured requests",
            comparison.scenario,
            cdf::MAX_DISTRIBUTIONS,
            comparison.variants.len()
        )
    } else {
        format!(
            "{} – each variant's first replication, succeeded measured requests",
            comparison.scenario
        )
    };
    let mut plots = vec![plots::render(&chart)?];
    if distributions.iter().any(|d| !d.quantiles.is_empty()) {
        plots.push(plots::render(&cdf::CdfPlot::new(
            cdf_subtitle,
            distributions,
        ))?);
    }
    Ok(plots)
}

/// What [`render_folder`] found in a folder and re-rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderKind {
    /// A folder written by `meshsim run`.
    Run,
    /// A folder written by `meshsim compare`.
    Comparison,
}

/// Why [`render_folder`] could not re-render a folder.
#[derive(Debug)]
pub enum RenderError {
    /// The path is not a folder written by `meshsim run` or `meshsim compare` (the user's
    /// mistake); the message says what was expected.
    NotAReportFolder(String),
    /// Reading or writing the folder's files failed.
    Io(PathBuf, io::Error),
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenderError::NotAReportFolder(message) => f.write_str(message),
            RenderError::Io(dir, error) => {
                write!(f, "writing the plots to {}: {error}", dir.display())
            }
        }
    }
}

/// Re-renders the plots and `report.html` of a run (or comparison) folder from its files alone
/// (`meshsim plot DIR`).
pub fn render_folder(dir: &Path) -> Result<FolderKind, RenderError> {
    let failed = |error: io::Error| RenderError::Io(dir.to_path_buf(), error);
    if !dir.is_dir() {
        return Err(RenderError::NotAReportFolder(format!(
            "{} is not a folder (expected a folder written by `meshsim run` or `meshsim compare`)",
            dir.display()
        )));
    }
    if dir.join("comparison.json").is_file() {
        render_comparison(dir).map_err(failed)?;
        return Ok(FolderKind::Comparison);
    }
    let data = match RunData::load(dir) {
        Ok(data) => data,
        Err(LoadError::Missing(file)) => {
            return Err(RenderError::NotAReportFolder(format!(
                "{} is not a run folder: it has no {file} (write one with `meshsim run SCENARIO --out {}`)",
                dir.display(),
                dir.display()
            )))
        }
        Err(error) => {
            return Err(RenderError::NotAReportFolder(format!(
                "{} is not a readable run folder: {error}",
                dir.display()
            )))
        }
    };
    OutputFiles::new(dir)
        .and_then(|mut files| {
            write_run(&data, &mut files)?;
            files.commit()
        })
        .map_err(failed)?;
    Ok(FolderKind::Run)
}
