//! The architecture, checked: every `crate::…` path in `src/` goes down the layers, never up or
//! sideways, so no import loop can form between the top-level modules.

use std::collections::BTreeMap;
use std::path::Path;

/// The layers, top first. A module may use only modules of a strictly lower layer (a larger
/// number); two modules of one layer know nothing of each other.
const LAYERS: &[(&str, u32)] = &[
    ("cli", 0),
    ("compare", 1),
    ("report", 2),
    ("analysis", 3),
    ("import", 3),
    ("scenario", 4),
    ("sim", 4),
    ("model", 5),
    ("engine", 6),
];

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
}

/// Every `crate::<module>` named in code (comment lines skipped) of each file below `dir`, with
/// the file and line where it stands.
fn uses(dir: &Path, found: &mut Vec<(String, usize, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src readable")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            uses(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("source is text");
            for (number, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for (at, _) in line.match_indices("crate::") {
                    let rest = &line[at + "crate::".len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    found.push((path.display().to_string(), number + 1, name));
                }
            }
        }
    }
}

/// The top-level module a file under `src/` belongs to (`src/cli/run.rs` -> `cli`).
fn owner(src: &Path, file: &str) -> Option<String> {
    let relative = Path::new(file).strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
}

/// The imports of the tree `src` that go up or sideways, and the count of each edge between
/// top-level modules.
fn violations(src: &Path) -> (Vec<String>, BTreeMap<(String, String), usize>) {
    let mut found = Vec::new();
    uses(src, &mut found);
    let mut wrong = Vec::new();
    let mut edges: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (file, line, target) in &found {
        let Some(from) = owner(src, file) else {
            continue;
        };
        if from == "lib" || from == "main" || from == *target {
            continue;
        }
        let (Some(from_layer), Some(to_layer)) = (layer(&from), layer(target)) else {
            wrong.push(format!(
                "{file}:{line}: crate::{target} from {from}: a module missing from LAYERS"
            ));
            continue;
        };
        *edges.entry((from.clone(), target.clone())).or_default() += 1;
        if to_layer <= from_layer {
            wrong.push(format!(
                "{file}:{line}: {from} (layer {from_layer}) uses crate::{target} (layer {to_layer})"
            ));
        }
    }
    (wrong, edges)
}

#[test]
fn imports_only_go_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (wrong, edges) = violations(&src);
    assert!(
        wrong.is_empty(),
        "imports going up or sideways:\n{}",
        wrong.join("\n")
    );
    // The scan must see the edges the layering is about, or it checks nothing.
    for edge in [
        ("cli", "compare"),
        ("compare", "report"),
        ("report", "analysis"),
        ("sim", "engine"),
    ] {
        assert!(
            edges.contains_key(&(edge.0.to_string(), edge.1.to_string())),
            "no {} -> {} import seen: {edges:?}",
            edge.0,
            edge.1
        );
    }
}

#[test]
fn the_layer_check_catches_the_imports_the_issue_named() {
    // A tree with the two wrong-way imports the refactor removed: `cli` used from `report`, and
    // `import` used from `scenario` (a sideways-then-up loop); and one right one.
    let src = std::env::temp_dir().join(format!("meshsim-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(src.join("scenario")).expect("temp tree");
    std::fs::create_dir_all(src.join("report")).expect("temp tree");
    std::fs::write(
        src.join("scenario/mod.rs"),
        "use crate::model::Model;\nfn f() { crate::import::is_isotope_path(p); }\n",
    )
    .expect("write");
    std::fs::write(
        src.join("report/render.rs"),
        "// crate::cli in a comment does not count\nuse crate::cli::EXIT_FAILED;\n",
    )
    .expect("write");
    let (wrong, edges) = violations(&src);
    let _ = std::fs::remove_dir_all(&src);
    assert_eq!(wrong.len(), 2, "{wrong:?}");
    assert!(
        wrong[0].contains("report (layer 2) uses crate::cli (layer 0)"),
        "{wrong:?}"
    );
    assert!(
        wrong[1].contains("scenario (layer 4) uses crate::import (layer 3)"),
        "{wrong:?}"
    );
    assert_eq!(edges.len(), 3, "{edges:?}");
}
