//! The JSON Schema of scenario files (`meshsim schema`), the starter scenario (`meshsim init`) and
//! `meshsim validate` listing every problem at once.

use crate::common::{meshsim, root, temp_dir, write_file};
use meshsim::scenario::{json_schema, ScenarioFile, STARTER};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

fn validator() -> jsonschema::Validator {
    let schema: Json = serde_json::from_str(&json_schema()).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

/// The problems the schema finds in a TOML text, as "path: message" lines.
fn schema_problems(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
    let instance: Json = toml::from_str(text).expect("TOML");
    validator
        .iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable folder")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            toml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

#[test]
fn the_committed_schema_is_what_meshsim_schema_prints() {
    let output = meshsim(&["schema"]);
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).expect("UTF-8");
    let committed =
        std::fs::read_to_string(root().join("meshsim.schema.json")).expect("meshsim.schema.json");
    assert!(
        printed == committed,
        "meshsim.schema.json is stale: run `meshsim schema > meshsim.schema.json`"
    );
    let schema: Json = serde_json::from_str(&printed).expect("JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    // Descriptions, units and allowed values come from the types' doc comments and enums.
    let balancer = serde_json::to_string(&schema["definitions"]["Balancer"]).expect("json");
    for name in ["round_robin", "peak_ewma", "ring_hash", "maglev"] {
        assert!(balancer.contains(&format!("\"{name}\"")), "{balancer}");
    }
    let timeout = &schema["definitions"]["PolicyTable"]["properties"]["timeout"];
    assert!(
        timeout.to_string().contains("default \\\"15s\\\""),
        "{timeout}"
    );
}

#[test]
fn every_scenario_file_matches_the_schema_and_the_types() {
    let validator = validator();
    let mut files = Vec::new();
    toml_files(&root().join("scenarios"), &mut files);
    assert!(
        files.len() >= 20,
        "found only {} scenario files",
        files.len()
    );
    let mut failures = Vec::new();
    let mut texts: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("readable");
            (p.display().to_string(), text)
        })
        .collect();
    texts.push(("the starter (meshsim init)".into(), STARTER.to_string()));
    for (label, text) in &texts {
        for problem in schema_problems(&validator, text) {
            failures.push(format!("{label}: schema: {problem}"));
        }
        if let Err(error) = toml::from_str::<ScenarioFile>(text) {
            failures.push(format!("{label}: types: {error}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn imported_isotope_topologies_match_the_schema() {
    use meshsim::import::{is_isotope_path, isotope::ImportOptions, isotope_scenario};
    let validator = validator();
    let dir = root().join("scenarios/topologies/isotope");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("topologies")
        .map(|e| e.expect("entry").path())
        .filter(|p| is_isotope_path(p))
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    for path in paths {
        let yaml = std::fs::read_to_string(&path).expect("readable");
        let label = path.display().to_string();
        let text = isotope_scenario(&yaml, &label, &ImportOptions::default())
            .unwrap_or_else(|e| panic!("{label} does not import: {e}"));
        let problems = schema_problems(&validator, &text);
        assert!(problems.is_empty(), "{label}: {problems:?}");
    }
}

#[test]
fn bad_files_fail_the_schema() {
    let validator = validator();
    let good = "[scenario]\nname = \"x\"\nduration = \"10s\"\n\
                [[service]]\nname = \"s\"\nservice_time = \"exp(1ms)\"\n\
                [[workload]]\ntarget = \"s\"\nrate = 10\n";
    assert_eq!(schema_problems(&validator, good), Vec::<String>::new());
    let bad = [
        (
            "an unknown key",
            good.replace("rate = 10", "rate = 10\nrat = 3"),
        ),
        ("a bare-number duration", good.replace("\"10s\"", "10")),
        ("a duration without unit", good.replace("\"10s\"", "\"10\"")),
        (
            "an unknown balancer",
            format!("{good}[policy]\nbalancer = \"fastest\"\n"),
        ),
        (
            "a distribution that is no distribution",
            good.replace("exp(1ms)", "2ms"),
        ),
        (
            "a call that is a number",
            good.replace("service_time", "calls = [3]\nservice_time"),
        ),
        (
            "a probability above 1",
            good.replace(
                "service_time",
                "calls = [{ to = \"s\", p = 2 }]\nservice_time",
            ),
        ),
        (
            "no workload",
            good.replace("[[workload]]\ntarget = \"s\"\nrate = 10\n", ""),
        ),
        (
            "an unknown fault kind",
            format!("{good}[[fault]]\nat = \"1s\"\nkind = \"meteor\"\n"),
        ),
    ];
    for (what, text) in bad {
        assert!(
            !schema_problems(&validator, &text).is_empty(),
            "{what} passes the schema:\n{text}"
        );
    }
}

#[test]
fn init_writes_a_starter_that_validates_and_runs_and_never_overwrites() {
    let dir = temp_dir("init");
    let printed = meshsim(&["init"]);
    assert!(printed.status.success());
    assert_eq!(String::from_utf8_lossy(&printed.stdout), STARTER);

    let file = dir.join("starter.toml");
    let file_arg = file.to_str().expect("UTF-8 path");
    let written = meshsim(&["init", file_arg]);
    assert!(written.status.success(), "{written:?}");
    assert_eq!(std::fs::read_to_string(&file).expect("written"), STARTER);

    // Refuses to overwrite (exit 2), leaving the file as it is; --force overwrites.
    std::fs::write(&file, "edited").expect("edit");
    let again = meshsim(&["init", file_arg]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&file).expect("kept"), "edited");
    let forced = meshsim(&["init", file_arg, "--force"]);
    assert!(forced.status.success());
    assert_eq!(std::fs::read_to_string(&file).expect("rewritten"), STARTER);

    let validated = meshsim(&["validate", file_arg]);
    assert!(validated.status.success(), "{validated:?}");
    let out = dir.join("report");
    let ran = meshsim(&[
        "run",
        file_arg,
        "--quiet",
        "--out",
        out.to_str().expect("UTF-8 path"),
    ]);
    assert!(ran.status.success(), "{ran:?}");
    let summary: Json = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
    )
    .expect("JSON");
    // Measured from the 5 s warm-up to 30 s: 300/s for 10 s, a 5 s ramp to 600/s (mean 450/s),
    // 600/s for 10 s: 3000 + 2250 + 6000 = 11250 requests expected, Poisson (sd ~ 106).
    let offered = summary["requests"]["offered"].as_f64().expect("offered");
    assert!((offered - 11250.0).abs() < 5.0 * 106.0, "offered {offered}");
}

/// 1-based line and column of the first occurrence of `needle` in `text`.
fn line_column_of(text: &str, needle: &str) -> (usize, usize) {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
    (line, column)
}

#[test]
fn validate_lists_every_problem_with_its_line_and_column() {
    let dir = temp_dir("validate-all");
    let text = "[scenario]\nname = \"many\"\nduration = 10\n\n\
                [policy]\nbalancer = \"fastest\"\n\n\
                [[service]]\nname = \"api\"\nwokers = 4\nservice_time = \"exp(1ms)\"\n\
                calls = [\"db\"]\n\n\
                [[workload]]\ntarget = \"api\"\nrate = -5\n";
    let path = write_file(&dir, "many.toml", text.as_bytes());
    let path_arg = path.to_str().expect("UTF-8 path");
    let output = meshsim(&["validate", path_arg]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    // (where the problem is written, what the message says)
    let expected = [
        ("10\n", "bare number"),
        ("\"fastest\"", "unknown balancer \"fastest\""),
        ("wokers", "did you mean \"workers\""),
        ("\"db\"", "unknown service \"db\""),
        ("-5", "rate must be greater than 0"),
    ];
    for (at, message) in expected {
        let (line, column) = line_column_of(text, at);
        let prefix = format!("{path_arg}:{line}:{column}: ");
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("error: {prefix}")) && l.contains(message)),
            "no \"{message}\" at {line}:{column} in:\n{stderr}"
        );
    }
    assert_eq!(stderr.lines().count(), expected.len(), "{stderr}");
}
