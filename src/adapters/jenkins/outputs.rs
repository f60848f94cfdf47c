//! Output variables of a finished build: `BuildNumber`, `BuildUrl`, `Result`,
//! `DurationMs`, the test counts (`TestsPassed`, `TestsFailed`, `TestsSkipped`,
//! `TestsTotal`), `Artifacts` (comma-separated relative paths) and every key of the
//! action's `PropertyFile` artifact, read as a JSON object or as Java properties. Pure
//! functions; `finish.rs` fetches what they read.

use std::collections::BTreeMap;

use serde_json::Value;

use super::wire::{Artifact, TestReport};

pub type Outputs = BTreeMap<String, String>;

/// What Jenkins says about every finished build.
pub fn build_outputs(
    number: u64,
    url: &str,
    result: &str,
    duration_ms: i64,
    artifacts: &[Artifact],
) -> Outputs {
    let mut outputs = Outputs::new();
    outputs.insert("BuildNumber".into(), number.to_string());
    outputs.insert("BuildUrl".into(), url.to_string());
    outputs.insert("Result".into(), result.to_string());
    outputs.insert("DurationMs".into(), duration_ms.max(0).to_string());
    let paths: Vec<&str> = artifacts.iter().map(|a| a.relative_path.as_str()).collect();
    outputs.insert("Artifacts".into(), paths.join(","));
    outputs
}

pub fn test_outputs(report: &TestReport, outputs: &mut Outputs) {
    let total = report.pass_count + report.fail_count + report.skip_count;
    outputs.insert("TestsPassed".into(), report.pass_count.to_string());
    outputs.insert("TestsFailed".into(), report.fail_count.to_string());
    outputs.insert("TestsSkipped".into(), report.skip_count.to_string());
    outputs.insert("TestsTotal".into(), total.to_string());
}

/// Adds the property file's keys; a key that names a built-in output does not replace it
/// (Jenkins' own word on the build wins) and is reported back.
pub fn merge_properties(properties: Outputs, outputs: &mut Outputs) -> Vec<String> {
    let mut clashes = Vec::new();
    for (key, value) in properties {
        match outputs.entry(key) {
            std::collections::btree_map::Entry::Occupied(taken) => {
                clashes.push(taken.key().clone())
            }
            std::collections::btree_map::Entry::Vacant(free) => {
                free.insert(value);
            }
        }
    }
    clashes
}

/// Reads a property file: a JSON object when the path ends in `.json` or the text starts
/// with `{`, Java properties otherwise.
pub fn parse_property_file(path: &str, text: &str) -> Result<Outputs, String> {
    let text = text.trim_start_matches('\u{feff}');
    if path.to_ascii_lowercase().ends_with(".json") || text.trim_start().starts_with('{') {
        parse_json(text)
    } else {
        Ok(parse_properties(text))
    }
}

fn parse_json(text: &str) -> Result<Outputs, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err("the JSON is not an object of names to values".into());
    };
    Ok(object
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(text) => text,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (key, text)
        })
        .collect())
}

/// Java `Properties.load`: `#`/`!` comments, `=`, `:` or whitespace between key and
/// value, backslash escapes (`\n`, `\t`, `\uXXXX`, `\=`…) and `\` line continuations.
pub fn parse_properties(text: &str) -> Outputs {
    let mut outputs = Outputs::new();
    let mut lines = text.lines();
    while let Some(first) = lines.next() {
        let mut logical = first.trim_start().to_string();
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some(next) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_entry(&logical);
        outputs.insert(unescape(key), unescape(value));
    }
    outputs
}

/// A line continues when it ends in an odd number of backslashes.
fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or whitespace; the separator and the blanks
/// around it are dropped.
fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (index, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' | ' ' | '\t' | '\x0c' => {
                let key = &line[..index];
                let mut rest = line[index..].trim_start_matches([' ', '\t', '\x0c']);
                if c.is_whitespace() || c == '\x0c' {
                    if let Some(after) = rest.strip_prefix(['=', ':']) {
                        rest = after;
                    }
                } else {
                    rest = &rest[1..];
                }
                return (key, rest.trim_start_matches([' ', '\t', '\x0c']));
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) if hex.len() == 4 => {
                        out.push(decoded);
                        for _ in 0..4 {
                            chars.next();
                        }
                    }
                    _ => out.push('u'),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Outputs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn java_properties() {
        let text = "# comment\n! also a comment\n\nversion=1.4.2\nimage : registry/app:1.4.2\n\
                    spaced   value here\nempty=\nkey\\=with\\:seps=v\nunicode=caf\\u00e9\n\
                    multi=one, \\\n    two\nescaped=a\\\\\ntab=\\tx\nbare\n";
        assert_eq!(
            parse_properties(text),
            map(&[
                ("version", "1.4.2"),
                ("image", "registry/app:1.4.2"),
                ("spaced", "value here"),
                ("empty", ""),
                ("key=with:seps", "v"),
                ("unicode", "café"),
                ("multi", "one, two"),
                ("escaped", "a\\"),
                ("tab", "\tx"),
                ("bare", ""),
            ])
        );
    }

    #[test]
    fn json_property_files() {
        assert_eq!(
            parse_property_file(
                "out/vars.json",
                r#"{"version":"1.4.2","count":3,"ok":true,"none":null,"list":[1]}"#
            )
            .unwrap(),
            map(&[
                ("version", "1.4.2"),
                ("count", "3"),
                ("ok", "true"),
                ("none", ""),
                ("list", "[1]")
            ])
        );
        assert_eq!(
            parse_property_file("vars.txt", " {\"a\":\"b\"}").unwrap(),
            map(&[("a", "b")])
        );
        assert!(parse_property_file("x.json", "[1]").is_err());
        assert!(parse_property_file("x.json", "a=b").is_err());
        assert_eq!(
            parse_property_file("x.properties", "a=b").unwrap(),
            map(&[("a", "b")])
        );
    }

    #[test]
    fn outputs_of_a_build_with_tests_and_artifacts() {
        let artifacts = [
            Artifact {
                relative_path: "build/libs/app.jar".into(),
            },
            Artifact {
                relative_path: "reports/report.html".into(),
            },
        ];
        let mut outputs = build_outputs(57, "http://j/job/a/57/", "SUCCESS", 187311, &artifacts);
        test_outputs(
            &TestReport {
                pass_count: 118,
                fail_count: 0,
                skip_count: 2,
            },
            &mut outputs,
        );
        let clashes = merge_properties(map(&[("Result", "x"), ("version", "1")]), &mut outputs);
        assert_eq!(clashes, ["Result"]);
        assert_eq!(
            outputs,
            map(&[
                ("Artifacts", "build/libs/app.jar,reports/report.html"),
                ("BuildNumber", "57"),
                ("BuildUrl", "http://j/job/a/57/"),
                ("DurationMs", "187311"),
                ("Result", "SUCCESS"),
                ("TestsFailed", "0"),
                ("TestsPassed", "118"),
                ("TestsSkipped", "2"),
                ("TestsTotal", "120"),
                ("version", "1"),
            ])
        );
    }
}
