//! Work items of a sweep: one item per variant × replication, so that a sweep can be split over
//! machines by any scheduler (a Slurm job array, a Kubernetes Indexed Job, GNU parallel, CI jobs)
//! and merged back ([`super::merge`]) into exactly the folder one `meshsim compare` writes.
//!
//! Items are numbered in plan order (variant-major: `v0-r0, v0-r1, ..., v1-r0, ...`; `v0` is the
//! baseline, replication 0 runs with the scenario's own seed). Shard `I/N` (I from 1, as GNU
//! split's `-n K/N`) owns the items whose position `i` (from 0) has `i mod N = I − 1`.
//!
//! A shard writes `OUT/items/plan.json` (the [`Manifest`]: what the sweep is, and its
//! fingerprint) and one `OUT/items/vV-rR.json` per item ([`ItemResult`]). Every file is written
//! under a unique temporary name and renamed into place, so a reader sees a whole file or none;
//! an item whose file already holds this sweep's result is not run again (a requeued array task
//! or a replaced pod is harmless).

use super::grid::{Axis, Variant};
use super::replicate::{run_replication, ReplicationRun, METRICS};
use super::results::{AxisResult, Setting};
use super::Plan;
use crate::analysis::slo::SloReport;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Version of the item and manifest file format (part of the fingerprint).
pub const FORMAT: u32 = 1;

/// The folder under a sweep's output folder that holds its manifest and item files.
pub const ITEMS_DIR: &str = "items";

/// The manifest's file name under [`ITEMS_DIR`].
pub const MANIFEST_FILE: &str = "plan.json";

/// One work item: a replication of a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemId {
    /// Index of the variant in plan order (0: the baseline).
    pub variant: usize,
    /// Replication index (0: the scenario's own seed).
    pub replication: u32,
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}-r{}", self.variant, self.replication)
    }
}

impl ItemId {
    /// Parses `v3-r7`.
    pub fn parse(text: &str) -> Result<ItemId, String> {
        let bad =
            || format!("\"{text}\" is not an item name like v3-r7 (variant 3, replication 7)");
        let (v, r) = text.trim().split_once('-').ok_or_else(bad)?;
        let variant = v
            .strip_prefix('v')
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad)?;
        let replication = r
            .strip_prefix('r')
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad)?;
        Ok(ItemId {
            variant,
            replication,
        })
    }

    /// Its position in plan order.
    pub fn position(&self, replications: u32) -> u64 {
        self.variant as u64 * u64::from(replications) + u64::from(self.replication)
    }

    /// The item file's name, `v3-r7.json`.
    pub fn file_name(&self) -> String {
        format!("{self}.json")
    }
}

/// Shard `index` of `count` (`--shard I/N`, index from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// From 1 to `count`.
    pub index: u64,
    /// Number of shards, at least 1.
    pub count: u64,
}

impl Shard {
    /// Parses `I/N` with 1 ≤ I ≤ N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let message = || {
            format!(
                "--shard {text}: expected I/N with 1 <= I <= N, like 2/8 (a Kubernetes completion index adds 1)"
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(message)?;
        let index: u64 = i.trim().parse().map_err(|_| message())?;
        let count: u64 = n.trim().parse().map_err(|_| message())?;
        if count == 0 || index == 0 || index > count {
            return Err(message());
        }
        Ok(Shard { index, count })
    }

    /// Whether the item at `position` (plan order, from 0) is this shard's.
    pub fn owns(&self, position: u64) -> bool {
        position % self.count == self.index - 1
    }
}

/// Every item of `plan`, in plan order.
pub fn all_items(plan: &Plan) -> impl Iterator<Item = ItemId> + '_ {
    (0..plan.variants.len()).flat_map(move |variant| {
        (0..plan.replications).map(move |replication| ItemId {
            variant,
            replication,
        })
    })
}

/// The items to run: those of `shard` (all without one), narrowed to `only` when given. An
/// `only` item outside the plan is an error.
pub fn select(
    plan: &Plan,
    shard: Option<Shard>,
    only: Option<&[ItemId]>,
) -> Result<Vec<ItemId>, String> {
    if let Some(only) = only {
        for id in only {
            if id.variant >= plan.variants.len() || id.replication >= plan.replications {
                return Err(format!(
                    "--only {id}: the sweep has variants v0..v{} and replications r0..r{}",
                    plan.variants.len() - 1,
                    plan.replications - 1
                ));
            }
        }
    }
    Ok(all_items(plan)
        .filter(|id| shard.is_none_or(|s| s.owns(id.position(plan.replications))))
        .filter(|id| only.is_none_or(|only| only.contains(id)))
        .collect())
}

/// 128-bit FNV-1a: a stable hash (the same on every machine and build) for fingerprints.
#[derive(Debug, Clone, Copy)]
struct Fnv(u128);

impl Fnv {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;

    fn new() -> Self {
        Fnv(Self::OFFSET)
    }

    /// Adds `bytes`, preceded by their length (so that field boundaries count).
    fn add(&mut self, bytes: &[u8]) {
        for byte in (bytes.len() as u64)
            .to_le_bytes()
            .iter()
            .chain(bytes.iter())
        {
            self.0 ^= u128::from(*byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }
}

/// The sweep's fingerprint (32 hex digits): a hash of meshsim's version, the item format, the
/// replications, and every variant's name, slug and resolved scenario (the loaded model, seed
/// included). Shards of another scenario, seed, grid, replication count or meshsim version have
/// another fingerprint.
pub fn fingerprint(plan: &Plan) -> String {
    let mut hash = Fnv::new();
    hash.add(env!("CARGO_PKG_VERSION").as_bytes());
    hash.add(&FORMAT.to_le_bytes());
    hash.add(&plan.replications.to_le_bytes());
    hash.add(plan.base.name.as_bytes());
    for axis in &plan.axes {
        hash.add(axis.key.as_bytes());
        for value in &axis.values {
            hash.add(value.as_bytes());
        }
    }
    for (variant, model) in &plan.variants {
        hash.add(variant.name.as_bytes());
        hash.add(variant.slug.as_bytes());
        // The model's Debug text: every resolved field, in declaration order (no hash maps).
        hash.add(format!("{model:?}").as_bytes());
    }
    format!("{:032x}", hash.0)
}

/// What a sweep is: enough to summarize its items without the scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Item file format ([`FORMAT`]).
    pub format: u32,
    /// [`fingerprint`] of the plan.
    pub fingerprint: String,
    /// The meshsim version that planned it.
    pub meshsim_version: String,
    /// Scenario name.
    pub scenario: String,
    /// The baseline's scenario seed.
    pub seed: u64,
    /// Replications per variant.
    pub replications: u32,
    /// The axes varied.
    pub axes: Vec<AxisResult>,
    /// The variants in plan order.
    pub variants: Vec<ManifestVariant>,
    /// The `meshsim compare` command that runs items of this sweep (append `--only ITEMS`).
    pub command: String,
}

/// A variant in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestVariant {
    /// `key=value, ...`.
    pub name: String,
    /// File-name-safe short name.
    pub slug: String,
    /// Its settings, in axis order.
    pub settings: Vec<Setting>,
}

impl Manifest {
    /// The manifest of `plan`; `command` runs items of it (see [`Manifest::command`]).
    pub fn of(plan: &Plan, command: &str) -> Manifest {
        Manifest {
            format: FORMAT,
            fingerprint: fingerprint(plan),
            meshsim_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: plan.base.name.clone(),
            seed: plan.variants[0].1.seed,
            replications: plan.replications,
            axes: plan
                .axes
                .iter()
                .map(|axis| AxisResult {
                    key: axis.key.clone(),
                    values: axis.values.clone(),
                })
                .collect(),
            variants: plan
                .variants
                .iter()
                .map(|(variant, _)| ManifestVariant {
                    name: variant.name.clone(),
                    slug: variant.slug.clone(),
                    settings: variant
                        .settings
                        .iter()
                        .map(|(key, value)| Setting {
                            key: key.clone(),
                            value: value.clone(),
                        })
                        .collect(),
                })
                .collect(),
            command: command.to_string(),
        }
    }

    /// Number of items.
    pub fn item_count(&self) -> u64 {
        self.variants.len() as u64 * u64::from(self.replications)
    }

    /// The axes, as the grid has them.
    pub fn grid_axes(&self) -> Vec<Axis> {
        self.axes
            .iter()
            .map(|axis| Axis {
                key: axis.key.clone(),
                values: axis.values.clone(),
            })
            .collect()
    }

    /// The variants, as the grid has them.
    pub fn grid_variants(&self) -> Vec<Variant> {
        self.variants
            .iter()
            .map(|variant| Variant {
                name: variant.name.clone(),
                slug: variant.slug.clone(),
                settings: variant
                    .settings
                    .iter()
                    .map(|s| (s.key.clone(), s.value.clone()))
                    .collect(),
            })
            .collect()
    }
}

/// One item's result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The sweep's fingerprint.
    pub fingerprint: String,
    /// `v3-r7`.
    pub item: String,
    /// Replication's seed.
    pub seed: u64,
    /// Measured end-to-end requests.
    pub offered: u64,
    /// Of those, succeeded.
    pub succeeded: u64,
    /// The values of [`METRICS`], in that order (JSON numbers that read back to the same bits).
    pub values: Vec<f64>,
    /// The SLO verdict, when the scenario has `[slo]`.
    pub slo: Option<SloReport>,
    /// The `[[alert]]` rules' report, when the scenario has rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<crate::analysis::alerts::AlertsReport>,
    /// Replication 0 only: the variant's `latency-<slug>.csv`.
    pub latency_csv: Option<String>,
    /// Why the run was stopped before its end, if it was (such an item fails its comparison).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl ItemResult {
    /// The result file of `run`, item `id` of the sweep with `fingerprint`.
    pub fn of(fingerprint: &str, id: ItemId, run: &ReplicationRun) -> ItemResult {
        ItemResult {
            fingerprint: fingerprint.to_string(),
            item: id.to_string(),
            seed: run.seed,
            offered: run.offered,
            succeeded: run.succeeded,
            values: run.values.to_vec(),
            slo: run.slo.clone(),
            alerts: run.alerts.clone(),
            latency_csv: run.latency_csv.clone(),
            stopped: run.stopped.clone(),
        }
    }

    /// Back to a replication (without its latency distribution), for the summary.
    pub fn to_run(&self, replication: u32) -> Result<ReplicationRun, String> {
        let values: [f64; METRICS.len()] = self.values.as_slice().try_into().map_err(|_| {
            format!(
                "item {} has {} metric values, expected {}",
                self.item,
                self.values.len(),
                METRICS.len()
            )
        })?;
        Ok(ReplicationRun {
            index: replication,
            seed: self.seed,
            offered: self.offered,
            succeeded: self.succeeded,
            values,
            slo: self.slo.clone(),
            alerts: self.alerts.clone(),
            latency_csv: None,
            stopped: self.stopped.clone(),
        })
    }

    /// Reads an item file.
    pub fn read(path: &Path) -> Result<ItemResult, String> {
        let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Reads `DIR/items/plan.json`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, String> {
    let path = dir.join(ITEMS_DIR).join(MANIFEST_FILE);
    let text = fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (not a sweep folder: run `meshsim compare ... --shard I/N --out {}` first)",
            path.display(),
            dir.display()
        )
    })?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    // Each variant's slug names its `latency-<slug>.csv` in the merged folder: a slug that is
    // not a plain file name part, or that two variants share, is a damaged or forged plan.
    let mut slugs = std::collections::BTreeSet::new();
    for variant in &manifest.variants {
        let slug = &variant.slug;
        if !crate::report::is_plain_name(slug) {
            return Err(format!(
                "{}: variant {:?} has the slug {slug:?}, which is not a plain file name part",
                path.display(),
                variant.name
            ));
        }
        if !slugs.insert(slug.as_str()) {
            return Err(format!(
                "{}: two variants have the slug {slug:?} (each variant's must be its own)",
                path.display()
            ));
        }
    }
    Ok(manifest)
}

/// Writes `bytes` to `path` whole or not at all: into a temporary file unique to this process
/// and thread next to it, then renamed over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(
        ".{name}.{}.{:?}.partial",
        std::process::id(),
        std::thread::current().id()
    ));
    let result = (|| {
        let mut file = fs::File::create(&temporary)?;
        // No fsync: a process killed mid-write leaves only the temporary name; after an OS crash
        // an empty item file reads as unreadable, and the next run of its shard replaces it.
        file.write_all(bytes)?;
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// What [`run_items`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunItemsReport {
    /// Items run and written.
    pub ran: usize,
    /// Items whose result file already held this sweep's result.
    pub skipped: usize,
}

/// Why [`run_items`] stopped.
#[derive(Debug)]
pub enum ItemsError {
    /// The folder holds another sweep's files (exit status 2 in the CLI).
    OtherSweep(String),
    /// A file could not be written.
    Io(String),
}

/// Runs the items `ids` of `plan` on the current rayon pool, writing `OUT/items/plan.json` and
/// one file per item; an item whose file already holds this sweep's result is skipped. Each item
/// is written as soon as it finishes and then dropped, so memory does not grow with the grid.
/// `on_finished` is called after each item run (from its thread).
pub fn run_items(
    plan: &Plan,
    manifest: &Manifest,
    ids: &[ItemId],
    out: &Path,
    on_finished: &(dyn Fn() + Sync),
) -> Result<RunItemsReport, ItemsError> {
    let dir = out.join(ITEMS_DIR);
    let io_error = |path: &Path, e: io::Error| ItemsError::Io(format!("{}: {e}", path.display()));
    fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    let manifest_path = dir.join(MANIFEST_FILE);
    if manifest_path.exists() {
        let existing = read_manifest(out).map_err(ItemsError::OtherSweep)?;
        if existing.fingerprint != manifest.fingerprint {
            return Err(ItemsError::OtherSweep(format!(
                "{} holds items of another sweep (fingerprint {}, this one {}): use another --out",
                out.display(),
                existing.fingerprint,
                manifest.fingerprint
            )));
        }
    }
    let json = serde_json::to_string_pretty(manifest).unwrap_or_default() + "\n";
    write_atomically(&manifest_path, json.as_bytes()).map_err(|e| io_error(&manifest_path, e))?;
    let skipped = AtomicUsize::new(0);
    let ran = AtomicUsize::new(0);
    ids.par_iter().try_for_each(|&id| {
        let path = dir.join(id.file_name());
        if path.exists() {
            match ItemResult::read(&path) {
                Ok(existing) if existing.fingerprint == manifest.fingerprint => {
                    skipped.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Ok(existing) => {
                    return Err(ItemsError::OtherSweep(format!(
                        "{} is an item of another sweep (fingerprint {})",
                        path.display(),
                        existing.fingerprint
                    )))
                }
                // Unreadable (not one of ours, or from before a crash of the file system): run it
                // again and replace it.
                Err(_) => {}
            }
        }
        let model = &plan.variants[id.variant].1;
        let run = run_replication(model, id.replication, id.replication == 0);
        let item = ItemResult::of(&manifest.fingerprint, id, &run);
        let json = serde_json::to_string(&item).unwrap_or_default() + "\n";
        write_atomically(&path, json.as_bytes()).map_err(|e| io_error(&path, e))?;
        ran.fetch_add(1, Ordering::Relaxed);
        on_finished();
        Ok(())
    })?;
    Ok(RunItemsReport {
        ran: ran.into_inner(),
        skipped: skipped.into_inner(),
    })
}

/// The item files under `DIR/items/`, by name (`v3-r7.json` → its id), in no particular order.
pub fn item_files(dir: &Path) -> Result<Vec<(ItemId, PathBuf)>, String> {
    let items = dir.join(ITEMS_DIR);
    let entries = fs::read_dir(&items).map_err(|e| format!("{}: {e}", items.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", items.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == MANIFEST_FILE {
            continue;
        }
        if let Some(stem) = name.strip_suffix(".json") {
            if let Ok(id) = ItemId::parse(stem) {
                files.push((id, entry.path()));
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_names_round_trip_and_reject_garbage() {
        let id = ItemId {
            variant: 3,
            replication: 7,
        };
        assert_eq!(id.to_string(), "v3-r7");
        assert_eq!(ItemId::parse("v3-r7"), Ok(id));
        for bad in ["3-7", "v3r7", "v-r7", "v3-r", "x3-r7", "v3-r7-", ""] {
            assert!(ItemId::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(id.position(10), 37);
    }

    #[test]
    fn shards_partition_the_items() {
        for count in 1..=7u64 {
            let shards: Vec<Shard> = (1..=count)
                .map(|i| Shard::parse(&format!("{i}/{count}")).expect("valid"))
                .collect();
            for position in 0..100 {
                let owners = shards.iter().filter(|s| s.owns(position)).count();
                assert_eq!(owners, 1, "position {position} of {count} shards");
            }
        }
        assert!(Shard::parse("1/3").expect("valid").owns(3));
        for bad in ["0/3", "4/3", "1/0", "1", "a/b", "-1/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fnv_is_the_published_128_bit_fnv1a() {
        // FNV-1a 128 of the empty input is the offset basis (draft-eastlake-fnv).
        assert_eq!(Fnv::new().0, 0x6c62272e07bb014262b821756295c58d);
        let mut a = Fnv::new();
        a.add(b"ab");
        a.add(b"c");
        let mut b = Fnv::new();
        b.add(b"a");
        b.add(b"bc");
        assert_ne!(a.0, b.0, "field boundaries count");
    }
}
