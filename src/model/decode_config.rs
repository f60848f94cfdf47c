//! Decoding an action's `configuration`: string values (numbers and booleans as written),
//! and for `Parameters` (Jenkins) and `Properties` (TeamCity) a map of strings, given as a
//! mapping or, as CodePipeline stores it, as a JSON-encoded string. Every string is also
//! collected with its position for the variable-reference checks.

use std::collections::BTreeMap;

use super::definition::ConfigValue;
use super::diagnostic::{Diagnostics, Pos};
use super::fields::string;
use super::import::{self, MAP_KEYS};
use super::limits::{self, Text};
use super::tree::{Entry, Node, Value};

/// The configuration mapping `node`; `strings` receives every string value and where it is.
pub(crate) fn decode_configuration(
    node: &Node,
    strings: &mut Vec<(Pos, String)>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, ConfigValue> {
    let mut out = BTreeMap::new();
    let entries = match &node.value {
        Value::Map(entries) => entries.as_slice(),
        Value::Null => &[],
        _ => {
            diags.error(
                node.pos,
                format!(
                    "`configuration` must be a mapping, found {}",
                    node.describe()
                ),
            );
            &[]
        }
    };
    for entry in entries {
        let Some(key) = entry.key.key_text() else {
            diags.error(
                entry.key.pos,
                format!("keys must be strings, found {}", entry.key.describe()),
            );
            continue;
        };
        if let Some(problem) = Text::ConfigKey.problem(key) {
            diags.error(entry.key.pos, problem);
        }
        let value = &entry.value;
        let field = format!("configuration.{key}");
        let is_map_key = MAP_KEYS.contains(&key);
        let decoded = match &value.value {
            Value::Scalar(scalar) => {
                if let Some(problem) = limits::too_long(
                    &format!("`{field}`"),
                    &scalar.text,
                    limits::MAX_CONFIG_VALUE,
                ) {
                    diags.error(value.pos, problem);
                }
                let map = is_map_key
                    .then(|| import::json_object(key, &scalar.text, value.pos, diags))
                    .flatten();
                match map {
                    Some(map) => {
                        strings.extend(map.values().map(|v| (value.pos, v.clone())));
                        ConfigValue::Map(map)
                    }
                    None => {
                        strings.push((value.pos, scalar.text.clone()));
                        ConfigValue::Text(scalar.text.clone())
                    }
                }
            }
            Value::Map(entries) if is_map_key => {
                ConfigValue::Map(string_map(&field, entries, strings, diags))
            }
            Value::Map(_) => {
                diags.error(
                    value.pos,
                    format!(
                        "`{field}` must be a string; only {} may be mappings",
                        MAP_KEYS.join(" and ")
                    ),
                );
                continue;
            }
            Value::Null | Value::Seq(_) => {
                diags.error(
                    value.pos,
                    format!("`{field}` must be a string, found {}", value.describe()),
                );
                continue;
            }
        };
        out.insert(key.to_string(), decoded);
    }
    out
}

/// A mapping of strings, such as Jenkins `Parameters`.
fn string_map(
    field: &str,
    entries: &[Entry],
    strings: &mut Vec<(Pos, String)>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for entry in entries {
        let Some(key) = entry.key.key_text() else {
            diags.error(
                entry.key.pos,
                format!("keys must be strings, found {}", entry.key.describe()),
            );
            continue;
        };
        let item = format!("{field}.{key}");
        let Some(text) = string(&entry.value, &item, diags) else {
            continue;
        };
        if let Some(problem) =
            limits::too_long(&format!("`{item}`"), &text, limits::MAX_CONFIG_VALUE)
        {
            diags.error(entry.value.pos, problem);
        }
        strings.push((entry.value.pos, text.clone()));
        map.insert(key.to_string(), text);
    }
    map
}
