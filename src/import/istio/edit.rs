//! Writing the settings into the scenario with `toml_edit`: the user's text, comments and layout
//! stay; each key set gets a trailing comment naming the object it came from.

use std::collections::BTreeMap;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, TableLike, Value};

use super::objects::Setting;

/// The names of the scenario's `[[service]]` tables, in order.
pub(super) fn service_names(document: &DocumentMut) -> Vec<String> {
    document
        .get("service")
        .and_then(Item::as_array_of_tables)
        .map(|services| {
            services
                .iter()
                .filter_map(|s| s.get("name").and_then(Item::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The replicas each service without versions starts with: its `replicas`, else 1. (A
/// service with `[[service.version]]` tables has its versions' replicas, which the scenario
/// reader resolves.)
pub(super) fn starting_replicas(document: &DocumentMut) -> BTreeMap<String, u64> {
    let Some(services) = document.get("service").and_then(Item::as_array_of_tables) else {
        return BTreeMap::new();
    };
    services
        .iter()
        .filter(|s| s.get("version").is_none())
        .filter_map(|s| {
            let name = s.get("name").and_then(Item::as_str)?;
            let replicas = match s.get("replicas") {
                None => 1,
                Some(item) => u64::try_from(item.as_integer()?).ok()?,
            };
            Some((name.to_string(), replicas))
        })
        .collect()
}

/// Writes every setting in order (a later one for the same key wins); returns how many keys
/// were written, or why the scenario's layout does not allow it.
pub(super) fn apply(document: &mut DocumentMut, settings: &[Setting]) -> Result<usize, String> {
    for setting in settings {
        let service = service_table(document, &setting.service)?;
        let table: &mut dyn TableLike = match &setting.version {
            None => service,
            Some(version) => version_table(service, &setting.service, version)?,
        };
        let (last, parents) = setting
            .path
            .split_last()
            .expect("a setting names at least one key");
        let mut table = table;
        for key in parents {
            table = child_table(table, key, &setting.service)?;
        }
        let mut value = setting.value.clone();
        value
            .decor_mut()
            .set_suffix(format!(" # {}", setting.origin));
        value.decor_mut().set_prefix(" ");
        match table.get_mut(last) {
            Some(item) => *item = Item::Value(value),
            None => {
                table.insert(last, Item::Value(value));
            }
        }
    }
    Ok(settings.len())
}

/// The `[[service]]` table named `name`.
fn service_table<'d>(document: &'d mut DocumentMut, name: &str) -> Result<&'d mut Table, String> {
    document
        .get_mut("service")
        .and_then(Item::as_array_of_tables_mut)
        .and_then(|services| {
            services
                .iter_mut()
                .find(|s| s.get("name").and_then(Item::as_str) == Some(name))
        })
        .ok_or_else(|| format!("no [[service]] named \"{name}\""))
}

/// The service's `[[service.version]]` named `version`, added at the end when missing.
fn version_table<'t>(
    service: &'t mut Table,
    service_name: &str,
    version: &str,
) -> Result<&'t mut Table, String> {
    if service.get("version").is_none() {
        service.insert("version", Item::ArrayOfTables(ArrayOfTables::new()));
    }
    let versions = service
        .get_mut("version")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(|| {
            format!("[[service]] \"{service_name}\": `version` is not a list of [[service.version]] tables")
        })?;
    let found = versions
        .iter()
        .position(|v| v.get("name").and_then(Item::as_str) == Some(version));
    let index = match found {
        Some(index) => index,
        None => {
            let mut table = Table::new();
            table.insert("name", toml_edit::value(version));
            versions.push(table);
            versions.len() - 1
        }
    };
    Ok(versions
        .get_mut(index)
        .expect("the version just found or added"))
}

/// The sub-table `key` of `table` (a `[a.key]` table or an inline `key = { }`), added as a
/// table when missing.
fn child_table<'t>(
    table: &'t mut dyn TableLike,
    key: &str,
    service: &str,
) -> Result<&'t mut dyn TableLike, String> {
    if table.get(key).is_none() {
        let mut child = Table::new();
        child.set_implicit(false);
        table.insert(key, Item::Table(child));
    }
    match table.get_mut(key) {
        Some(Item::Table(child)) => Ok(child),
        Some(Item::Value(Value::InlineTable(child))) => Ok(child),
        _ => Err(format!(
            "[[service]] \"{service}\": `{key}` is not a table, so it cannot be edited"
        )),
    }
}
