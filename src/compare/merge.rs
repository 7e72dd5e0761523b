//! Merging the item files of a sweep's shards ([`super::items`]) into the comparison one
//! `meshsim compare` on one machine writes, byte for byte: the items are turned back into the
//! same replications (their numbers read back to the same bits) and summarized by the same code.

use super::items::{item_files, read_manifest, ItemId, ItemResult, Manifest};
use super::replicate::ReplicationRun;
use super::results::Comparison;
use super::summarize::{self, Header};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A merged sweep: its comparison, and each variant's `latency-<slug>.csv` text.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The comparison (`comparison.json`).
    pub comparison: Comparison,
    /// Per variant, in order: its latency file's contents (from replication 0).
    pub latency_csv: Vec<String>,
}

/// Why a merge could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeError {
    /// Folders of different sweeps, unreadable files, or duplicates that disagree: one line per
    /// problem.
    Invalid(Vec<String>),
    /// Items no folder holds, with the command that runs them.
    Missing {
        /// The missing items, in plan order.
        items: Vec<ItemId>,
        /// `meshsim compare ... --only v0-r3,...`.
        command: String,
    },
}

/// The most item names a "missing" command lists (a longer list is cut, with a count).
const MISSING_SHOWN: usize = 200;

impl MergeError {
    /// The message lines.
    pub fn lines(&self) -> Vec<String> {
        match self {
            MergeError::Invalid(lines) => lines.clone(),
            MergeError::Missing { items, command } => vec![
                format!(
                    "{} item{} missing: {}",
                    items.len(),
                    if items.len() == 1 { " is" } else { "s are" },
                    list(items)
                ),
                format!("run them with: {command}"),
                "then merge again (items already written are not run again)".to_string(),
            ],
        }
    }
}

fn list(items: &[ItemId]) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(MISSING_SHOWN)
        .map(ToString::to_string)
        .collect();
    let mut text = shown.join(",");
    if items.len() > MISSING_SHOWN {
        text.push_str(&format!(",... ({} more)", items.len() - MISSING_SHOWN));
    }
    text
}

/// Reads the manifests and item files of `dirs` (each a `--out` of `meshsim compare --shard`),
/// checks that they are one sweep (same fingerprint), that every item is there once (or several
/// times with identical contents), and summarizes them.
pub fn merge(dirs: &[PathBuf]) -> Result<Merged, MergeError> {
    if dirs.is_empty() {
        return Err(MergeError::Invalid(vec![
            "no folder to merge: give the --out folders of the shards".into(),
        ]));
    }
    let mut problems = Vec::new();
    let mut manifests: Vec<(PathBuf, Manifest)> = Vec::new();
    for dir in dirs {
        match read_manifest(dir) {
            Ok(manifest) => manifests.push((dir.clone(), manifest)),
            Err(message) => problems.push(message),
        }
    }
    if !problems.is_empty() {
        return Err(MergeError::Invalid(problems));
    }
    let (first_dir, manifest) = &manifests[0];
    for (dir, other) in &manifests[1..] {
        if other.fingerprint != manifest.fingerprint {
            problems.push(format!(
                "{} is another sweep than {}: fingerprint {} (meshsim {}, scenario {}, seed {}, {} replications) vs {} (meshsim {}, scenario {}, seed {}, {} replications)",
                dir.display(),
                first_dir.display(),
                other.fingerprint,
                other.meshsim_version,
                other.scenario,
                other.seed,
                other.replications,
                manifest.fingerprint,
                manifest.meshsim_version,
                manifest.scenario,
                manifest.seed,
                manifest.replications,
            ));
        }
    }
    if !problems.is_empty() {
        return Err(MergeError::Invalid(problems));
    }
    // Item -> (its result, the file it was read from); one at a time, in file-name order.
    let mut found: BTreeMap<ItemId, (ItemResult, PathBuf)> = BTreeMap::new();
    for dir in dirs {
        let mut files = item_files(dir).map_err(|m| MergeError::Invalid(vec![m]))?;
        files.sort();
        for (id, path) in files {
            if id.variant >= manifest.variants.len() || id.replication >= manifest.replications {
                problems.push(format!(
                    "{}: item {id} is outside the sweep ({} variants x {} replications)",
                    path.display(),
                    manifest.variants.len(),
                    manifest.replications
                ));
                continue;
            }
            let item = match ItemResult::read(&path) {
                Ok(item) => item,
                Err(message) => {
                    problems.push(message);
                    continue;
                }
            };
            if item.fingerprint != manifest.fingerprint || item.item != id.to_string() {
                problems.push(format!(
                    "{}: item {} of sweep {}, expected item {id} of sweep {}",
                    path.display(),
                    item.item,
                    item.fingerprint,
                    manifest.fingerprint
                ));
                continue;
            }
            match found.get(&id) {
                Some((existing, other)) if *existing != item => problems.push(format!(
                    "item {id} differs between {} and {}: a replication must give the same result wherever it runs (was one folder written by another meshsim build?)",
                    other.display(),
                    path.display()
                )),
                Some(_) => {}
                None => {
                    found.insert(id, (item, path));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(MergeError::Invalid(problems));
    }
    let missing: Vec<ItemId> = (0..manifest.variants.len())
        .flat_map(|variant| {
            (0..manifest.replications).map(move |replication| ItemId {
                variant,
                replication,
            })
        })
        .filter(|id| !found.contains_key(id))
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(ToString::to_string).collect();
        return Err(MergeError::Missing {
            command: format!("{} --only {}", manifest.command, names.join(",")),
            items: missing,
        });
    }
    summarize_manifest(manifest, found)
}

fn summarize_manifest(
    manifest: &Manifest,
    found: BTreeMap<ItemId, (ItemResult, PathBuf)>,
) -> Result<Merged, MergeError> {
    let mut runs: Vec<Vec<ReplicationRun>> = Vec::with_capacity(manifest.variants.len());
    let mut latency_csv = Vec::with_capacity(manifest.variants.len());
    let mut problems = Vec::new();
    // BTreeMap order is plan order (variant, then replication).
    for (id, (item, path)) in found {
        if id.replication == 0 {
            runs.push(Vec::with_capacity(manifest.replications as usize));
            match &item.latency_csv {
                Some(csv) => latency_csv.push(csv.clone()),
                None => problems.push(format!(
                    "{}: replication 0 has no latency distribution",
                    path.display()
                )),
            }
        }
        match item.to_run(id.replication) {
            Ok(run) => runs[id.variant].push(run),
            Err(message) => problems.push(format!("{}: {message}", path.display())),
        }
    }
    if !problems.is_empty() {
        return Err(MergeError::Invalid(problems));
    }
    let axes = manifest.grid_axes();
    let variants = manifest.grid_variants();
    let header = Header {
        scenario: &manifest.scenario,
        seed: manifest.seed,
        replications: manifest.replications,
        axes: &axes,
    };
    Ok(Merged {
        comparison: summarize::summarize(header, &variants, &runs),
        latency_csv,
    })
}

/// Whether `dir` looks like a sweep folder (has `items/plan.json`).
pub fn is_sweep_folder(dir: &Path) -> bool {
    dir.join(super::items::ITEMS_DIR)
        .join(super::items::MANIFEST_FILE)
        .is_file()
}
