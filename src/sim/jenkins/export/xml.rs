//! The XML flavour (`api/xml`), following Stapler's `XMLDataWriter`: the root element is
//! the decapitalised simple class name, `_class` is a single-quoted attribute, list items
//! repeat the property name in the singular, and nulls are simply absent. No prolog.

use super::Value;

/// Writes a value as Jenkins' `api/xml` does; `fallback_root` names the root element of
/// an object without a class.
pub(in crate::sim::jenkins) fn to_xml(value: &Value, fallback_root: &str) -> String {
    let root = match value {
        Value::Obj(obj) => obj
            .class
            .map_or_else(|| fallback_root.to_string(), root_name),
        _ => fallback_root.to_string(),
    };
    let mut out = String::new();
    element(&mut out, &root, value);
    out
}

/// `hudson.model.Queue$LeftItem` → `leftItem`.
fn root_name(class: &str) -> String {
    let simple = class.rsplit(['.', '$']).next().unwrap_or(class);
    let mut chars = simple.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "object".to_string(),
    }
}

fn element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Arr(items) => {
            let singular = singular(name);
            for item in items {
                element(out, &singular, item);
            }
        }
        Value::Obj(obj) => {
            out.push('<');
            out.push_str(name);
            if let Some(class) = obj.class {
                out.push_str(" _class='");
                escape(out, class);
                out.push('\'');
            }
            out.push('>');
            for (field, value) in &obj.fields {
                element(out, field, value);
            }
            close(out, name);
        }
        scalar => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            match scalar {
                Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                Value::Int(i) => out.push_str(&i.to_string()),
                Value::Float(f) => out.push_str(&f.to_string()),
                Value::Str(s) => escape(out, s),
                Value::Null | Value::Arr(_) | Value::Obj(_) => {}
            }
            close(out, name);
        }
    }
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// `actions` → `action`, `causes` → `cause`, `property` stays.
fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = name.strip_suffix('s') {
        stem.to_string()
    } else {
        name.to_string()
    }
}

fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Obj;
    use super::*;

    #[test]
    fn writes_stapler_xml() {
        let cause = Value::Obj(Obj {
            class: Some("hudson.model.Cause$UserIdCause"),
            fields: vec![("userId".into(), Value::Str("ci-bot".into()))],
        });
        let action = Value::Obj(Obj {
            class: Some("hudson.model.CauseAction"),
            fields: vec![("causes".into(), Value::Arr(vec![cause]))],
        });
        let item = Value::Obj(Obj {
            class: Some("hudson.model.Queue$LeftItem"),
            fields: vec![
                ("actions".into(), Value::Arr(vec![action])),
                ("params".into(), Value::Str("\nA=<b>".into())),
                ("why".into(), Value::Null),
                ("cancelled".into(), Value::Bool(false)),
            ],
        });
        assert_eq!(
            to_xml(&item, "item"),
            "<leftItem _class='hudson.model.Queue$LeftItem'><action _class='hudson.model.CauseAction'>\
             <cause _class='hudson.model.Cause$UserIdCause'><userId>ci-bot</userId></cause></action>\
             <params>\nA=&lt;b&gt;</params><cancelled>false</cancelled></leftItem>"
        );
    }
}
