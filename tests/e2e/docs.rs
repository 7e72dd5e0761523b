//! The documentation is checked like code: `README.md`, `CHANGELOG.md` and `docs/*.md`.
//!
//! - **TOML examples.** Every ```` ```toml ```` block is one of:
//!   - an *excerpt*: its first line is `# excerpt of PATH`; its lines (comments and indentation
//!     stripped, blank lines skipped) must appear in that repository file in the same order;
//!   - a *whole scenario*: it has a `[scenario]` table and must load (validate) as it is;
//!   - a *fragment*: anything else; it is appended to a small base scenario ([`FRAGMENT_BASE`]:
//!     a `[scenario]`, a service and a workload both named `docs-base`) and the result must load.
//!     A fragment therefore starts with a table header and defines the services it refers to.
//!
//!   A block marked ```` ```toml,ignore ```` is skipped; it must start with a line
//!   `# not checked: REASON`, and there may be at most [`MAX_IGNORED`] of them.
//! - **Commands.** In ```` ```sh ```` and ```` ```console ```` blocks, every line that starts with
//!   `meshsim ` (or `cargo run --release -- `, run as the built binary) is run with the built
//!   binary, in order, in one fresh temporary folder per page whose `scenarios` is a link to the
//!   repository's. To keep the test fast, `run` and `compare` get
//!   `--set scenario.duration=2s --set scenario.warmup=0s` appended (the last `--set` wins), and
//!   `compare` runs at most 2 replications. `> FILE` writes standard output to FILE in that
//!   folder; other shell syntax (pipes, `&&`, `;`) is refused so the pages stay copy-pasteable.
//!   Other lines (`cargo build`, `export`, ...) are not run. A command that fails fails the test.
//! - **Scenario files named.** Every path `scenarios/...` a page mentions must exist; every
//!   `.toml` one under `scenarios/` must validate and run (2 simulated seconds, no warm-up), and
//!   every isotope `.yaml` one must validate and run through the binary (a `.yaml` file of
//!   Kubernetes objects, the input of `meshsim import istio`, need only exist).
//! - **`summary.json`.** A ```` ```json ```` block is valid JSON; one that has a `"scenario"` key
//!   shows `summary.json`, and every key it shows must be in a real `summary.json`.
//! - **Links.** Every relative link and image (`[text](path#anchor)`) resolves to a file or folder
//!   of the repository, and its anchor to a heading of the target page (GitHub's slugs). A link to
//!   a page listed in [`PENDING_PAGES`] (written on another branch) that does not exist yet fails
//!   under `CI` and is reported loudly on standard error otherwise.

use crate::common::{meshsim, root, temp_dir};
use meshsim::scenario;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Appended to by every TOML fragment (see the module's documentation).
const FRAGMENT_BASE: &str = r#"[scenario]
name = "docs-fragment"
duration = "2s"

[[service]]
name = "docs-base"
service_time = "exp(1ms)"

[[workload]]
name = "docs-base"
target = "docs-base"
rate = 10

"#;

/// Most ```` ```toml,ignore ```` blocks allowed across the pages.
const MAX_IGNORED: usize = 3;

/// Pages other branches write, linked from here before they land.
const PENDING_PAGES: &[&str] = &[];

/// The overrides that keep documented runs short.
const SHORT_RUN: [&str; 2] = ["scenario.duration=2s", "scenario.warmup=0s"];

/// A Markdown page of the repository.
struct Page {
    /// Path relative to the repository's root, with `/`.
    name: String,
    text: String,
}

fn pages() -> Vec<Page> {
    let root = root();
    let mut names = vec!["README.md".to_string(), "CHANGELOG.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("docs/ entry").file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    names.extend(docs);
    names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(root.join(&name))
                .unwrap_or_else(|error| panic!("cannot read {name}: {error}"));
            Page { name, text }
        })
        .collect()
}

/// A fenced code block: its info string, its body (the fence's indentation removed) and the
/// 1-based line of its opening fence.
struct Block {
    info: String,
    body: String,
    line: usize,
}

/// The fenced code blocks of `text`, and the text with every block's lines blanked (so that line
/// numbers still match).
fn split_blocks(text: &str) -> (Vec<Block>, String) {
    let mut blocks = Vec::new();
    let mut prose = String::new();
    let mut open: Option<(usize, String, usize, String)> = None; // indent, info, line, body
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None if trimmed.starts_with("```") => {
                let info = trimmed.trim_start_matches('`').trim().to_string();
                open = Some((indent, info, index + 1, String::new()));
                prose.push('\n');
            }
            None => {
                prose.push_str(line);
                prose.push('\n');
            }
            Some((fence_indent, info, start, body)) => {
                if trimmed.starts_with("```") && trimmed.trim_start_matches('`').trim().is_empty() {
                    blocks.push(Block {
                        info: std::mem::take(info),
                        body: std::mem::take(body),
                        line: *start,
                    });
                    open = None;
                } else {
                    let cut = line
                        .char_indices()
                        .take_while(|&(i, c)| i < *fence_indent && c == ' ')
                        .count();
                    body.push_str(&line[cut..]);
                    body.push('\n');
                }
                prose.push('\n');
            }
        }
    }
    assert!(open.is_none(), "a code block is not closed");
    (blocks, prose)
}

// ----- TOML examples ----------------------------------------------------------------------------

/// A line of TOML without its comment (a `#` outside a string) and surrounding spaces.
fn strip_toml_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return line[..i].trim(),
            None => {}
        }
    }
    line.trim()
}

fn meaningful_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(strip_toml_comment)
        .filter(|line| !line.is_empty())
        .collect()
}

/// Checks one TOML block; `Err` says why it is wrong.
fn check_toml_block(body: &str, label: &str) -> Result<(), String> {
    let first = body.lines().next().unwrap_or("").trim();
    if let Some(path) = first.strip_prefix("# excerpt of ") {
        let path = path.trim();
        let file = std::fs::read_to_string(root().join(path))
            .map_err(|error| format!("excerpt of {path}: cannot read it: {error}"))?;
        let mut wanted = meaningful_lines(body).into_iter().peekable();
        for line in meaningful_lines(&file) {
            if wanted.peek() == Some(&line) {
                wanted.next();
            }
        }
        return match wanted.next() {
            None => Ok(()),
            Some(line) => Err(format!(
                "excerpt of {path}: {line:?} is not in the file (in this order)"
            )),
        };
    }
    let whole = body
        .lines()
        .any(|line| strip_toml_comment(line) == "[scenario]");
    let text = if whole {
        body.to_string()
    } else {
        format!("{FRAGMENT_BASE}{body}")
    };
    scenario::load_str(&text, label, &root(), &[])
        .map(|_| ())
        .map_err(|errors| {
            let kind = if whole {
                "whole scenario".to_string()
            } else {
                format!(
                    "fragment (its line n is line n + {} here)",
                    FRAGMENT_BASE.lines().count()
                )
            };
            format!("{kind} does not validate:\n{errors}")
        })
}

#[test]
fn every_toml_example_validates() {
    let mut checked = 0;
    let mut ignored = Vec::new();
    let mut problems = Vec::new();
    for page in pages() {
        let (blocks, _) = split_blocks(&page.text);
        for block in blocks {
            let label = format!("{}:{}", page.name, block.line);
            match block.info.as_str() {
                "toml" => {
                    checked += 1;
                    if let Err(problem) = check_toml_block(&block.body, &label) {
                        problems.push(format!("{label}: {problem}"));
                    }
                }
                "toml,ignore" => {
                    if !block.body.starts_with("# not checked: ") {
                        problems.push(format!(
                            "{label}: an ignored TOML block must start with `# not checked: REASON`"
                        ));
                    }
                    ignored.push(label);
                }
                info if info.starts_with("toml") => {
                    problems.push(format!("{label}: unknown info string {info:?}"))
                }
                _ => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        ignored.len() <= MAX_IGNORED,
        "too many unchecked TOML blocks: {ignored:?}"
    );
    // The pages hold dozens of examples: far fewer means the blocks were not found.
    assert!(checked >= 20, "only {checked} TOML blocks found");
}

#[test]
fn the_toml_checker_refuses_what_is_wrong() {
    // A fragment with an unknown balancer, a whole scenario without a workload, an excerpt that is
    // not in its file, and an excerpt out of order: each must be refused.
    assert!(check_toml_block("[policy]\nbalancer = \"fastest\"\n", "t").is_err());
    assert!(check_toml_block(
        "[scenario]\nname = \"x\"\nduration = \"1s\"\n[[service]]\nname = \"a\"\nservice_time = \"exp(1ms)\"\n",
        "t"
    )
    .is_err());
    assert!(check_toml_block("# excerpt of scenarios/blog.toml\nseed = 43\n", "t").is_err());
    assert!(check_toml_block(
        "# excerpt of scenarios/blog.toml\nseed = 42\nname = \"blog\"\n",
        "t"
    )
    .is_err());
    // ... and what is right passes: the same excerpt in order, a fragment using the base.
    check_toml_block(
        "# excerpt of scenarios/blog.toml\nname = \"blog\"   # a comment\nseed = 42\n",
        "t",
    )
    .expect("an excerpt in order");
    check_toml_block("[policy]\nbalancer = \"p2c\"\n", "t").expect("a valid fragment");
}

// ----- commands ---------------------------------------------------------------------------------

/// One command line of a page: the binary's arguments and where its standard output goes.
#[derive(Debug, PartialEq)]
struct DocCommand {
    args: Vec<String>,
    stdout_to: Option<String>,
    line: usize,
}

/// Splits a command line into words as a POSIX shell does for simple commands (quotes and
/// backslashes); `Err` for syntax the pages must not use.
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(next) = chars.next() {
                                word.push(next);
                            }
                        }
                        '$' | '`' => return Err("expansions are not run".into()),
                        _ => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            '#' if !in_word => break,
            '|' | '&' | ';' | '<' | '$' | '`' | '(' | ')' => {
                return Err(format!("shell syntax {c:?} is not run"))
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// The `meshsim` commands of a shell block starting at line `first_line`.
fn commands_of(body: &str, first_line: usize) -> Result<Vec<DocCommand>, String> {
    let mut commands = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (index, raw) in body.lines().enumerate() {
        if logical.is_empty() {
            start = first_line + 1 + index;
        }
        let raw = raw.trim();
        if let Some(head) = raw.strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        let rest = if let Some(rest) = line.strip_prefix("meshsim ") {
            rest
        } else if let Some(rest) = line.strip_prefix("cargo run --release -- ") {
            rest
        } else {
            continue;
        };
        let words = shell_words(rest).map_err(|e| format!("line {start}: {e}: {line}"))?;
        let mut args = Vec::new();
        let mut stdout_to = None;
        let mut words = words.into_iter();
        while let Some(word) = words.next() {
            if word == ">" {
                stdout_to = Some(
                    words
                        .next()
                        .ok_or_else(|| format!("line {start}: `>` without a file"))?,
                );
            } else if let Some(file) = word.strip_prefix('>') {
                stdout_to = Some(file.to_string());
            } else {
                args.push(word);
            }
        }
        commands.push(DocCommand {
            args,
            stdout_to,
            line: start,
        });
    }
    Ok(commands)
}

/// `args` made cheap to run (see the module's documentation).
fn shortened(args: &[String]) -> Vec<String> {
    let mut args = args.to_vec();
    let command = args.first().cloned().unwrap_or_default();
    let command = command.as_str();
    if command == "compare" {
        let mut replications_given = false;
        let mut i = 0;
        while i < args.len() {
            let flag = args[i].as_str();
            if flag == "-r" || flag == "--replications" {
                replications_given = true;
                if let Some(value) = args.get_mut(i + 1) {
                    let asked: u32 = value.parse().unwrap_or(2);
                    *value = asked.min(2).to_string();
                }
                i += 1;
            } else if let Some(value) = flag.strip_prefix("--replications=") {
                replications_given = true;
                let asked: u32 = value.parse().unwrap_or(2);
                args[i] = format!("--replications={}", asked.min(2));
            }
            i += 1;
        }
        if !replications_given {
            args.extend(["-r".to_string(), "2".to_string()]);
        }
    }
    if matches!(command, "run" | "compare") {
        for set in SHORT_RUN {
            args.extend(["--set".to_string(), set.to_string()]);
        }
    }
    args
}

/// A fresh folder to run a page's commands in, with `scenarios` linked to the repository's.
fn command_dir(page: &str) -> PathBuf {
    let dir = temp_dir(&format!("docs-{}", page.replace(['/', '.'], "-")));
    std::os::unix::fs::symlink(root().join("scenarios"), dir.join("scenarios"))
        .expect("link scenarios/ into the temporary folder");
    dir
}

fn run_binary(dir: &Path, args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the meshsim binary runs")
}

#[test]
fn every_documented_command_runs() {
    let mut problems = Vec::new();
    let mut subcommands = BTreeSet::new();
    let mut count = 0;
    for page in pages() {
        let (blocks, _) = split_blocks(&page.text);
        let mut commands = Vec::new();
        for block in blocks {
            if block.info == "sh" || block.info == "console" {
                match commands_of(&block.body, block.line) {
                    Ok(found) => commands.extend(found),
                    Err(problem) => problems.push(format!("{}: {problem}", page.name)),
                }
            }
        }
        if commands.is_empty() {
            continue;
        }
        let dir = command_dir(&page.name);
        for command in commands {
            count += 1;
            let args = shortened(&command.args);
            subcommands.insert(args.first().cloned().unwrap_or_default());
            let output = run_binary(&dir, &args);
            if !output.status.success() {
                problems.push(format!(
                    "{}:{}: `meshsim {}` failed ({}):\n{}",
                    page.name,
                    command.line,
                    args.join(" "),
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                ));
                continue;
            }
            if let Some(file) = &command.stdout_to {
                std::fs::write(dir.join(file), &output.stdout).expect("write redirected output");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let expected: BTreeSet<String> = [
        "init",
        "validate",
        "run",
        "compare",
        "plot",
        "import",
        "schema",
        "completions",
        "man",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let missing: Vec<_> = expected.difference(&subcommands).collect();
    assert!(missing.is_empty(), "no documented example runs {missing:?}");
    assert!(count >= 15, "only {count} documented commands found");
}

#[test]
fn command_lines_are_read_as_a_shell_would() {
    let found = commands_of(
        "# a comment\nmeshsim run a.toml --set 'x=a b' \\\n    --out o  # trailing\n\
         cargo build --release\nmeshsim import isotope y.yaml > y.toml\n",
        10,
    )
    .expect("simple commands");
    assert_eq!(
        found,
        vec![
            DocCommand {
                args: ["run", "a.toml", "--set", "x=a b", "--out", "o"]
                    .map(String::from)
                    .to_vec(),
                stdout_to: None,
                line: 12,
            },
            DocCommand {
                args: ["import", "isotope", "y.yaml"].map(String::from).to_vec(),
                stdout_to: Some("y.toml".into()),
                line: 15,
            },
        ]
    );
    assert!(commands_of("meshsim run a.toml | head\n", 1).is_err());
    assert!(commands_of("meshsim run a.toml && echo\n", 1).is_err());
    let compare: Vec<String> = ["compare", "s.toml", "-r", "10"].map(String::from).to_vec();
    let short = shortened(&compare);
    assert_eq!(&short[..4], &["compare", "s.toml", "-r", "2"]);
    assert!(short.ends_with(&[
        "--set".into(),
        "scenario.duration=2s".into(),
        "--set".into(),
        "scenario.warmup=0s".into()
    ]));
}

// ----- scenario files named ---------------------------------------------------------------------

/// Every `scenarios/...` path mentioned in `text` (trailing punctuation removed).
fn scenario_paths(text: &str) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("scenarios/") {
        let boundary_ok = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '/'));
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_alphanumeric() || "_-./".contains(c)))
            .unwrap_or(tail.len());
        let path = tail[..end].trim_end_matches('.');
        if boundary_ok && path.len() > "scenarios/".len() {
            paths.insert(path.to_string());
        }
        rest = &tail[end.max(1)..];
    }
    paths
}

#[test]
fn every_scenario_file_named_exists_validates_and_runs() {
    let root = root();
    let mut named = BTreeMap::<String, String>::new();
    for page in pages() {
        for path in scenario_paths(&page.text) {
            named.entry(path).or_insert_with(|| page.name.clone());
        }
    }
    let overrides: Vec<scenario::Override> = SHORT_RUN
        .iter()
        .map(|text| scenario::Override::parse(text).expect("override syntax"))
        .collect();
    let mut problems = Vec::new();
    let mut ran = 0;
    let out = temp_dir("docs-named");
    for (path, page) in &named {
        let full = root.join(path);
        if !full.exists() {
            problems.push(format!("{page} names {path}, which does not exist"));
            continue;
        }
        if path.ends_with(".toml") {
            match scenario::load_file(&full, &overrides) {
                Ok(model) => {
                    let result = crate::common::run(&model);
                    assert!(result.events_handled > 0, "{path}: nothing happened");
                    ran += 1;
                }
                Err(errors) => problems.push(format!("{page} names {path}:\n{errors}")),
            }
        } else if (path.ends_with(".yaml") || path.ends_with(".yml")) && !is_kubernetes(&full) {
            let report = out.join(format!("run-{ran}"));
            let mut args = vec![
                "run".to_string(),
                full.to_string_lossy().into_owned(),
                "--quiet".into(),
                "--out".into(),
                report.to_string_lossy().into_owned(),
            ];
            args.extend(shortened(&["run".to_string()]).into_iter().skip(1));
            let output = run_binary(&out, &args);
            if output.status.success() && report.join("summary.json").is_file() {
                ran += 1;
            } else {
                problems.push(format!(
                    "{page} names {path}; `meshsim {}` failed:\n{}",
                    args.join(" "),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(ran >= 15, "only {ran} scenario files named and run");
}

/// Whether a YAML file holds Kubernetes/Istio objects (the input of `meshsim import istio`, not a
/// topology to run): some line starts with `kind: `.
fn is_kubernetes(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.lines().any(|l| l.starts_with("kind: ")))
}

#[test]
fn scenario_paths_are_found_in_prose_and_code() {
    let found = scenario_paths(
        "See `scenarios/blog.toml`. Also scenarios/validation/ and (scenarios/a-b/c_d.yaml), \
         not myscenarios/x.toml.",
    );
    let expected: BTreeSet<String> = [
        "scenarios/blog.toml",
        "scenarios/validation/",
        "scenarios/a-b/c_d.yaml",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(found, expected);
}

// ----- summary.json -----------------------------------------------------------------------------

/// Key paths of `value` shown in `doc` that `actual` lacks; under `services`, any one service of
/// `actual` stands for the service the page shows.
fn missing_keys(doc: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    let (Value::Object(doc), Value::Object(actual)) = (doc, actual) else {
        return;
    };
    for (key, doc_value) in doc {
        let here = format!("{path}.{key}");
        let actual_value = if path == ".services" {
            actual.values().next()
        } else {
            actual.get(key)
        };
        match actual_value {
            Some(actual_value) => missing_keys(doc_value, actual_value, &here, out),
            None => out.push(here),
        }
    }
}

#[test]
fn json_examples_parse_and_summary_keys_exist() {
    let dir = temp_dir("docs-summary");
    let output = meshsim(&[
        "run",
        "scenarios/blog.toml",
        "--quiet",
        "--out",
        dir.to_str().expect("UTF-8 temp path"),
        "--set",
        SHORT_RUN[0],
        "--set",
        SHORT_RUN[1],
    ]);
    assert!(output.status.success(), "{output:?}");
    let actual: Value = serde_json::from_slice(
        &std::fs::read(dir.join("summary.json")).expect("summary.json written"),
    )
    .expect("summary.json is JSON");
    let _ = std::fs::remove_dir_all(&dir);
    let mut summaries = 0;
    let mut problems = Vec::new();
    for page in pages() {
        let (blocks, _) = split_blocks(&page.text);
        for block in blocks.iter().filter(|b| b.info == "json") {
            let label = format!("{}:{}", page.name, block.line);
            match serde_json::from_str::<Value>(&block.body) {
                Err(error) => problems.push(format!("{label}: not JSON: {error}")),
                Ok(doc) if doc.get("scenario").is_some() => {
                    summaries += 1;
                    let mut missing = Vec::new();
                    missing_keys(&doc, &actual, "", &mut missing);
                    if !missing.is_empty() {
                        problems.push(format!("{label}: not in summary.json: {missing:?}"));
                    }
                }
                Ok(_) => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(summaries >= 1, "no summary.json example found");
    // The comparison itself can fail: a key the program does not write is reported.
    let mut missing = Vec::new();
    let invented = serde_json::json!({"services": {"x": {"latency_ms": {"p75": 0}}}, "nope": 1});
    missing_keys(&invented, &actual, "", &mut missing);
    assert_eq!(missing, vec![".nope", ".services.x.latency_ms.p75"]);
}

// ----- links ------------------------------------------------------------------------------------

/// GitHub's anchor for a heading's text: inline code marks, emphasis and link targets dropped,
/// lower case, punctuation but `-` and `_` removed, each space a `-`.
fn slug(heading: &str) -> String {
    let text = strip_links(heading);
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// `[text](target)` replaced by `text`.
fn strip_links(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The anchors of a page's headings (outside code blocks), with GitHub's `-1`, `-2` for repeats.
fn anchors(text: &str) -> BTreeSet<String> {
    let (_, prose) = split_blocks(text);
    let mut seen = BTreeMap::<String, usize>::new();
    let mut anchors = BTreeSet::new();
    for line in prose.lines() {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(line[hashes..].trim().trim_end_matches('#'));
        let count = seen.entry(base.clone()).or_insert(0);
        anchors.insert(if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        });
        *count += 1;
    }
    anchors
}

/// Inline code spans blanked out (a link inside one is not a link).
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else {
            out.push(if in_code { ' ' } else { c });
        }
    }
    out
}

/// The link targets of a page's prose, with their line numbers.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let (_, prose) = split_blocks(text);
    let mut targets = Vec::new();
    for (index, line) in prose.lines().enumerate() {
        let line = without_code_spans(line);
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            if let Some(close) = trimmed.find("]:") {
                let target = trimmed[close + 2..].split_whitespace().next();
                targets.extend(target.map(|t| (index + 1, t.to_string())));
                continue;
            }
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let tail = &rest[at + 2..];
            let end = tail.find(')').unwrap_or(tail.len());
            let target = tail[..end].split_whitespace().next().unwrap_or("");
            targets.push((index + 1, target.to_string()));
            rest = &tail[end..];
        }
    }
    targets
}

/// Problems of the relative links of the pages `names` under `root`; pending pages that do not
/// exist are returned apart.
fn link_problems(root: &Path, names: &[String]) -> (Vec<String>, Vec<String>, usize) {
    let canonical_root = root.canonicalize().expect("the root exists");
    let mut problems = Vec::new();
    let mut pending = Vec::new();
    let mut checked = 0;
    for name in names {
        let text = std::fs::read_to_string(root.join(name)).expect("page readable");
        let folder = Path::new(name).parent().unwrap_or(Path::new(""));
        for (line, target) in link_targets(&text) {
            let at = format!("{name}:{line}: link {target:?}");
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let relative = if path.is_empty() {
                PathBuf::from(name)
            } else {
                normalise(&folder.join(path))
            };
            let full = root.join(&relative);
            let relative_text = relative.to_string_lossy().replace('\\', "/");
            if !full.exists() {
                if PENDING_PAGES.contains(&relative_text.as_str()) {
                    pending.push(at);
                } else {
                    problems.push(format!("{at}: {relative_text} does not exist"));
                }
                continue;
            }
            let inside = full
                .canonicalize()
                .is_ok_and(|p| p.starts_with(&canonical_root));
            if !inside {
                problems.push(format!("{at}: points outside the repository"));
                continue;
            }
            if let Some(anchor) = anchor {
                let page = std::fs::read_to_string(&full).unwrap_or_default();
                if !relative_text.ends_with(".md") || !anchors(&page).contains(anchor) {
                    problems.push(format!("{at}: no heading #{anchor} in {relative_text}"));
                }
            }
        }
    }
    (problems, pending, checked)
}

/// `a/b/../c` as `a/c` (without touching the file system); a leading `..` is kept.
fn normalise(path: &Path) -> PathBuf {
    let mut parts: Vec<std::path::Component> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir
                if matches!(parts.last(), Some(std::path::Component::Normal(_))) =>
            {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.iter().collect()
}

#[test]
fn every_relative_link_resolves() {
    let names: Vec<String> = pages().into_iter().map(|page| page.name).collect();
    let (problems, pending, checked) = link_problems(&root(), &names);
    assert!(problems.is_empty(), "dead links:\n{}", problems.join("\n"));
    if !pending.is_empty() {
        let message = format!(
            "links to pages written on other branches, not here yet:\n{}\n",
            pending.join("\n")
        );
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        let _ = std::io::stderr().write_all(
            format!("\nSKIPPED (not yet resolvable, fails under CI): {message}").as_bytes(),
        );
    }
    assert!(checked >= 50, "only {checked} relative links found");
}

#[test]
fn the_link_checker_finds_dead_links_and_anchors() {
    let dir = temp_dir("docs-links");
    std::fs::create_dir_all(dir.join("docs")).expect("docs folder");
    std::fs::write(
        dir.join("README.md"),
        "# Top\n\n[ok](docs/a.md#the-first-part) [dead](docs/b.md) `[code](nowhere.md)`\n\
         [bad anchor](docs/a.md#nothing) [self](#top) [web](https://example.com/x)\n\
         ```sh\n[in a block](gone.md)\n```\n[ref]: docs/a.md#a-b_c-d\n",
    )
    .expect("write README");
    std::fs::write(
        dir.join("docs/a.md"),
        "# The first part\n\n## A: b_c `d`\n\n[up](../README.md#top) [out](../../x.md)\n",
    )
    .expect("write a.md");
    let names = vec!["README.md".to_string(), "docs/a.md".to_string()];
    let (problems, pending, checked) = link_problems(&dir, &names);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(pending.is_empty());
    // ok, dead, bad anchor, self, ref, up, out: seven relative links (the web one and the ones in
    // code are not checked).
    assert_eq!(checked, 7, "{problems:?}");
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems[0].contains("docs/b.md does not exist"),
        "{problems:?}"
    );
    assert!(problems[1].contains("no heading #nothing"), "{problems:?}");
    assert!(problems[2].contains("x.md"), "{problems:?}");
}

#[test]
fn slugs_follow_github() {
    // Worked out by hand from GitHub's rule (lower case; drop punctuation but - and _; spaces
    // become -), for headings of these pages.
    assert_eq!(
        slug("Discovery, health and scaling"),
        "discovery-health-and-scaling"
    );
    assert_eq!(
        slug("`[policy]` and `[service.policy]`"),
        "policy-and-servicepolicy"
    );
    assert_eq!(
        slug("Overriding values: `--set`"),
        "overriding-values---set"
    );
    assert_eq!(
        slug("The real systems' semantics and defaults"),
        "the-real-systems-semantics-and-defaults"
    );
    assert_eq!(slug("[Link](x.md) text"), "link-text");
    let repeated = anchors("# A\n## Stories\n### Stories\n```\n# Stories\n```\n");
    let expected: BTreeSet<String> = ["a", "stories", "stories-1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(repeated, expected);
}

// ----- the README's promises --------------------------------------------------------------------

#[test]
fn readme_keeps_its_two_commands_and_stays_short() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    for command in [
        "cargo run --release -- run scenarios/blog.toml",
        "cargo test --release --all-targets",
    ] {
        assert!(
            readme.lines().any(|line| line.trim() == command),
            "README.md lost `{command}`"
        );
    }
    let ci = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    assert!(
        ci.lines()
            .any(|line| line.trim() == "cargo test --release --all-targets"),
        ".ci/run no longer runs the README's test command"
    );
    assert!(
        readme.len() <= 12 * 1024,
        "README.md is {} bytes: reference material belongs in docs/",
        readme.len()
    );
}

#[test]
fn nothing_points_outside_the_repository() {
    let root = root();
    let mut problems = Vec::new();
    let mut stack = vec![root.clone()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable folder") {
            let path = entry.expect("entry").path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | ".git" | "reports") {
                    stack.push(path);
                }
                continue;
            }
            let text_kind = ["rs", "md", "sh", "toml", "py", "yaml", "tsv"]
                .iter()
                .any(|ext| name.ends_with(&format!(".{ext}")))
                || name == "run";
            if !text_kind {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            files += 1;
            for (index, line) in text.lines().enumerate() {
                // The folder's name is written apart from its slash so that this file, and a
                // grep for the folder, do not match it.
                let folder = ["shared", "/"].concat();
                let needles = [
                    format!("../{folder}"),
                    format!("{folder}spec/"),
                    format!("{folder}peers/"),
                    format!("{folder}reference/"),
                    format!("{folder}topologies/"),
                ];
                if needles.iter().any(|needle| line.contains(needle.as_str())) {
                    problems.push(format!(
                        "{}:{}: {}",
                        path.strip_prefix(&root).unwrap_or(&path).display(),
                        index + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(files > 100, "only {files} files read");
}
