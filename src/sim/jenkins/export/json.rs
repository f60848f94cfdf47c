//! The JSON flavour: `_class` first, `null` for absent values, compact unless
//! `?pretty=true` asked for indentation, numbers written as Java writes them.

use super::Value;

/// Writes a value as Jenkins' `api/json` does.
pub(in crate::sim::jenkins) fn to_json(value: &Value, pretty: bool) -> String {
    let mut out = String::new();
    write(&mut out, value, pretty.then_some(0));
    out
}

fn write(out: &mut String, value: &Value, indent: Option<usize>) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&java_double(*f)),
        Value::Str(s) => string(out, s),
        Value::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent.map(|n| n + 1));
                write(out, item, indent.map(|n| n + 1));
            }
            if !items.is_empty() {
                newline(out, indent);
            }
            out.push(']');
        }
        Value::Obj(obj) => {
            out.push('{');
            let class = obj.class.map(|c| ("_class", Value::Str(c.to_string())));
            let fields = class
                .iter()
                .map(|(n, v)| (*n, v))
                .chain(obj.fields.iter().map(|(n, v)| (n.as_str(), v)));
            let mut empty = true;
            for (i, (name, value)) in fields.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                empty = false;
                newline(out, indent.map(|n| n + 1));
                string(out, name);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write(out, value, indent.map(|n| n + 1));
            }
            if !empty {
                newline(out, indent);
            }
            out.push('}');
        }
    }
}

fn newline(out: &mut String, indent: Option<usize>) {
    if let Some(n) = indent {
        out.push('\n');
        out.push_str(&"  ".repeat(n));
    }
}

fn string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::String(s.to_string()).to_string());
}

/// `Double.toString` for the values Jenkins exports (durations in seconds): always a
/// decimal point, so `0.0` rather than `0`.
fn java_double(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_string();
    }
    if f.fract() == 0.0 && f.abs() < 1e7 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::Obj;
    use super::*;

    #[test]
    fn writes_compact_and_pretty_json() {
        let value = Value::Obj(Obj {
            class: Some("a.B$C"),
            fields: vec![
                ("n".into(), Value::Null),
                ("d".into(), Value::Float(0.0)),
                ("e".into(), Value::Float(12.877)),
                ("s".into(), Value::Str("q\"\n".into())),
                (
                    "l".into(),
                    Value::Arr(vec![Value::Int(1), Value::Bool(false)]),
                ),
                ("o".into(), Value::Obj(Obj::default())),
            ],
        });
        assert_eq!(
            to_json(&value, false),
            r#"{"_class":"a.B$C","n":null,"d":0.0,"e":12.877,"s":"q\"\n","l":[1,false],"o":{}}"#
        );
        let pretty = to_json(&value, true);
        assert!(pretty.starts_with("{\n  \"_class\": \"a.B$C\",\n  \"n\": null,"));
        let parsed: serde_json::Value = serde_json::from_str(&pretty).expect("valid json");
        assert_eq!(parsed["l"][1], serde_json::Value::Bool(false));
    }
}
