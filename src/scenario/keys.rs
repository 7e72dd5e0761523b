//! Checks a dotted key (`--set`, `--vary`, `[compare]`) against the scenario format before it is
//! applied, so that a misspelt key is reported as the key the user typed, with the whole dotted
//! key it was probably meant to be ("did you mean policy.balancer?"), instead of as an unknown
//! key on a line of a file the user never wrote.
//!
//! The format is taken from the JSON Schema made from `file.rs` (the single declaration of
//! every table's keys), so this check cannot drift from the reader: a key the reader accepts is
//! declared there (a debug assertion makes sure of it).

use std::sync::OnceLock;

use serde_json::Value;

use super::suggest::closest;

/// Array elements are picked by index or name: a path segment at such a place is taken as it is.
/// Candidates shown for one use this when the user's key has no segment there.
const ELEMENT: &str = "0";

/// How deep candidate keys are listed (the deepest key of the format is
/// `service.NAME.endpoint.NAME.calls.0.0.to`: 8 segments).
const MAX_DEPTH: usize = 9;

/// The scenario format's JSON Schema, made once.
fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(super::file::schema)
}

/// `node` with `$ref` and single-element `allOf` followed.
fn resolve(node: &Value) -> &Value {
    let mut node = node;
    for _ in 0..16 {
        if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
            let name = reference.rsplit('/').next().unwrap_or("");
            match schema().get("definitions").and_then(|d| d.get(name)) {
                Some(target) => node = target,
                None => return node,
            }
        } else if let Some([only]) = node
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            node = only;
        } else {
            return node;
        }
    }
    node
}

/// The shapes `node` may take: its `anyOf` alternatives, or itself.
fn alternatives(node: &Value) -> Vec<&Value> {
    let node = resolve(node);
    match node.get("anyOf").and_then(Value::as_array) {
        Some(list) => list.iter().flat_map(alternatives).collect(),
        None => vec![node],
    }
}

/// What may follow a node: named keys, array elements, or any key (`[compare]`'s axes).
struct Children<'s> {
    /// Declared keys and their schemas, in declaration order.
    keys: Vec<(&'s str, &'s Value)>,
    /// The schema of array elements, if the node may be an array.
    element: Option<&'s Value>,
    /// Whether any key is accepted below this node.
    open: bool,
}

fn children(node: &Value) -> Children<'_> {
    let mut found = Children {
        keys: Vec::new(),
        element: None,
        open: false,
    };
    for shape in alternatives(node) {
        if let Some(properties) = shape.get("properties").and_then(Value::as_object) {
            found
                .keys
                .extend(properties.iter().map(|(key, value)| (key.as_str(), value)));
        }
        if shape
            .get("additionalProperties")
            .is_some_and(|extra| extra != &Value::Bool(false))
        {
            found.open = true;
        }
        if let Some(items) = shape.get("items") {
            found.element = Some(items);
        }
    }
    found
}

/// Checks that `path` names a key of the scenario format (a value, or a whole table or array).
/// The error says which segment is unknown and suggests a whole dotted key when one is close.
pub(crate) fn check(path: &[String]) -> Result<(), String> {
    let mut node = schema();
    for (depth, segment) in path.iter().enumerate() {
        let next = children(node);
        if next.open {
            return Ok(());
        }
        if let Some((_, child)) = next.keys.iter().find(|(key, _)| key == segment) {
            node = child;
            continue;
        }
        if let Some(element) = next.element {
            node = element;
            continue;
        }
        let here = if depth == 0 {
            "at the top level".to_string()
        } else {
            format!("in {}", path[..depth].join("."))
        };
        if next.keys.is_empty() {
            return Err(format!(
                "{} takes a value, not keys: there is no \"{segment}\" in it",
                path[..depth].join(".")
            ));
        }
        let suggestion = suggest(path, depth, &next);
        return Err(match suggestion {
            Some(key) => format!("there is no key \"{segment}\" {here}; did you mean {key}?"),
            None => format!(
                "there is no key \"{segment}\" {here}: expected one of {}",
                next.keys
                    .iter()
                    .map(|(key, _)| *key)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(())
}

/// A whole dotted key the user probably meant by `path`, whose segment `depth` is unknown: the
/// same key with that segment corrected when a key there is close to it, else a key of the
/// format that ends like `path` does (the right key at another level, e.g. `balancer` for
/// `policy.balancer`), preferring the one sharing the longest start with `path`.
fn suggest(path: &[String], depth: usize, here: &Children<'_>) -> Option<String> {
    let segment = path[depth].as_str();
    if let Some(close) = closest(segment, here.keys.iter().map(|(key, _)| *key)) {
        let mut fixed = path.to_vec();
        fixed[depth] = close.to_string();
        if check(&fixed).is_ok() {
            return Some(fixed.join("."));
        }
    }
    let tail = &path[depth..];
    let mut every = Vec::new();
    list_keys(schema(), path, &mut Vec::new(), &mut every);
    every
        .into_iter()
        .filter(|key| key.len() > tail.len() && key.ends_with(tail))
        .max_by_key(|key| {
            let shared = key.iter().zip(path).take_while(|(a, b)| a == b).count();
            // Longest shared start, then the shortest key, then the first listed.
            (shared, usize::MAX - key.len())
        })
        .map(|key| key.join("."))
}

/// Every dotted key of the format (tables, arrays and values), array elements named by the
/// user's segment at that place (else [`ELEMENT`]).
fn list_keys(node: &Value, user: &[String], prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if prefix.len() >= MAX_DEPTH {
        return;
    }
    let next = children(node);
    for (key, child) in &next.keys {
        prefix.push((*key).to_string());
        out.push(prefix.clone());
        list_keys(child, user, prefix, out);
        prefix.pop();
    }
    if let Some(element) = next.element {
        let name = user
            .get(prefix.len())
            .map_or(ELEMENT.to_string(), Clone::clone);
        prefix.push(name);
        list_keys(element, user, prefix, out);
        prefix.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Vec<String> {
        text.split('.').map(str::to_string).collect()
    }

    #[test]
    fn keys_of_the_format_pass() {
        for good in [
            "policy.balancer",
            "policy.retries",
            "policy.retries.max",
            "service.article.workers",
            "service.0.policy.outlier_detection.interval",
            "service.api.endpoint.get.calls.0.to",
            "workload.readers.schedule.1.rate",
            "fault.0.for",
            "registry.self_preservation",
            "compare.policy.balancer",
            "slo.latency.p99",
        ] {
            assert_eq!(check(&key(good)), Ok(()), "{good}");
        }
    }

    #[test]
    fn a_misspelt_segment_suggests_the_whole_key() {
        let error = check(&key("polcy.balancer")).expect_err("unknown");
        assert!(error.contains("did you mean policy.balancer?"), "{error}");
        let error = check(&key("policy.balncer")).expect_err("unknown");
        assert!(error.contains("did you mean policy.balancer?"), "{error}");
        let error = check(&key("service.article.wokers")).expect_err("unknown");
        assert!(
            error.contains("did you mean service.article.workers?"),
            "{error}"
        );
        let error = check(&key("policy.retries.maxx")).expect_err("unknown");
        assert!(
            error.contains("did you mean policy.retries.max?"),
            "{error}"
        );
    }

    #[test]
    fn a_key_at_the_wrong_level_suggests_where_it_lives() {
        let error = check(&key("balancer")).expect_err("unknown");
        assert!(error.contains("did you mean policy.balancer?"), "{error}");
        let error = check(&key("service.article.balancer")).expect_err("unknown");
        assert!(
            error.contains("did you mean service.article.policy.balancer?"),
            "{error}"
        );
    }

    #[test]
    fn nothing_close_lists_the_keys_and_values_take_no_keys() {
        let error = check(&key("policy.zzzzzzzz")).expect_err("unknown");
        assert!(error.contains("expected one of balancer,"), "{error}");
        let error = check(&key("policy.balancer.x")).expect_err("a value");
        assert!(error.contains("policy.balancer takes a value"), "{error}");
    }
}
