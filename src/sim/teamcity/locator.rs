//! TeamCity's locator syntax (`dim:value,dim:(nested:value)`), as parsed by the REST
//! plugin's `Locator` class: a single value (`123`), or comma-separated dimensions whose
//! values may be wrapped in balanced parentheses; `$base64:` values are decoded. The same
//! syntax carries `fields=` specifications.

/// A parsed locator: either one bare value or dimensions in the order given (a dimension
/// may repeat, as `item:` and `property:` do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Locator {
    Single(String),
    Dims(Vec<(String, String)>),
}

impl Locator {
    /// Parses `text`; errors read like TeamCity's `LocatorProcessException` messages.
    pub(super) fn parse(text: &str) -> Result<Locator, String> {
        if text.is_empty() {
            return Err("Invalid locator. Cannot be empty.".into());
        }
        if text.len() > 2 && text.starts_with('(') && text.ends_with(')') {
            return Ok(Locator::Single(text[1..text.len() - 1].to_string()));
        }
        if let Some(decoded) = base64_value(text)? {
            return Ok(Locator::Single(decoded));
        }
        if !text.contains(':') && (!text.contains('(') || !text.contains(')')) {
            return Ok(Locator::Single(text.to_string()));
        }
        parse_dims(text).map(Locator::Dims)
    }

    /// Parses a `fields=` specification. The REST plugin reads it in the locator's
    /// extended mode, where a bare name is a dimension too: `id,state` selects two
    /// fields, whereas as a build locator the same text would be one single value.
    pub(super) fn parse_fields(text: &str) -> Result<Vec<(String, String)>, String> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        parse_dims(text)
    }

    /// The first value of `name`, if the dimension is present.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        match self {
            Locator::Single(_) => None,
            Locator::Dims(dims) => dims
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
        }
    }

    /// Every value of `name`, in order.
    pub(super) fn all(&self, name: &str) -> Vec<&str> {
        match self {
            Locator::Single(_) => Vec::new(),
            Locator::Dims(dims) => dims
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect(),
        }
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The names of the dimensions, in order, without repeats.
    pub(super) fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        if let Locator::Dims(dims) = self {
            for (name, _) in dims {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        names
    }
}

/// Writes a dimension value back in locator form, wrapping it when it needs to be.
pub(super) fn quote(value: &str) -> String {
    if value.contains([',', ':', '(', ')']) {
        format!("({value})")
    } else {
        value.to_string()
    }
}

fn parse_dims(text: &str) -> Result<Vec<(String, String)>, String> {
    let bytes = text.as_bytes();
    let mut dims = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let name_end = text[pos..]
            .find([',', '(', ':'])
            .map_or(text.len(), |i| pos + i);
        if name_end == pos {
            let found = &text[pos..pos + 1];
            return Err(format!(
                "Bad locator syntax: {text}\nDetails: Could not find dimension name, found '{found}' instead at position {pos}"
            ));
        }
        let name = text[pos..name_end].to_string();
        let mut value = String::new();
        pos = name_end;
        if pos < bytes.len() {
            match bytes[pos] {
                b',' => pos += 1,
                delimiter => {
                    if delimiter == b':' {
                        pos += 1;
                    }
                    let rest = &text[pos..];
                    if rest.starts_with('(') {
                        let end = balanced_end(rest).ok_or_else(|| {
                            format!(
                                "Bad locator syntax: {text}\nDetails: Could not find matching ')'"
                            )
                        })?;
                        value = rest[1..end - 1].to_string();
                        pos += end;
                        if pos < bytes.len() {
                            if bytes[pos] != b',' {
                                return Err(format!(
                                    "Bad locator syntax: {text}\nDetails: No dimensions delimiter ',' after complex value at position {pos}"
                                ));
                            }
                            pos += 1;
                        }
                    } else {
                        let end = value_end(rest).ok_or_else(|| {
                            format!(
                                "Bad locator syntax: {text}\nDetails: Could not find matching ')'"
                            )
                        })?;
                        value = rest[..end].to_string();
                        pos += end;
                        if pos < bytes.len() {
                            pos += 1;
                        }
                    }
                    if let Some(decoded) = base64_value(&value)? {
                        value = decoded;
                    }
                }
            }
        }
        dims.push((name, value));
    }
    Ok(dims)
}

/// For text starting with `(`: the index just after its matching `)`.
fn balanced_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The end of a plain value: the next top-level `,` or the end of the text.
fn value_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    (depth == 0).then_some(text.len())
}

/// `$base64:<url-safe or standard base64>` decoded, as TeamCity allows for awkward values.
fn base64_value(text: &str) -> Result<Option<String>, String> {
    let Some(encoded) = text.strip_prefix("$base64:") else {
        return Ok(None);
    };
    let bytes = decode_base64(encoded)
        .ok_or_else(|| format!("Invalid Base64url character sequence: '{encoded}'"))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| format!("Error converting decoded '{encoded}' value bytes to UTF-8 string"))
}

/// Decodes standard or URL-safe base64, padded or not; None on a bad character.
pub(super) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for c in text.trim_end_matches('=').bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(pairs: &[(&str, &str)]) -> Locator {
        Locator::Dims(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn parses_the_shapes_teamcity_accepts() {
        assert_eq!(Locator::parse("4821"), Ok(Locator::Single("4821".into())));
        assert_eq!(Locator::parse("id:4821"), Ok(dims(&[("id", "4821")])));
        assert_eq!(
            Locator::parse("buildType:(id:Backend_Deploy),property:(name:env.RUN_ID,value:pl-42),defaultFilter:false"),
            Ok(dims(&[
                ("buildType", "id:Backend_Deploy"),
                ("property", "name:env.RUN_ID,value:pl-42"),
                ("defaultFilter", "false"),
            ]))
        );
        assert_eq!(
            Locator::parse("item:(id:1),item:(id:2),count:5"),
            Ok(dims(&[("item", "id:1"), ("item", "id:2"), ("count", "5")]))
        );
        assert_eq!(
            Locator::parse("id,state,running-info(percentageComplete)"),
            Ok(dims(&[
                ("id", ""),
                ("state", ""),
                ("running-info", "percentageComplete")
            ]))
        );
        assert_eq!(
            Locator::parse("name:$base64:YTpiLGM"),
            Ok(dims(&[("name", "a:b,c")]))
        );
        assert!(Locator::parse("id:(1").is_err());
        assert!(Locator::parse("").is_err());
        assert!(Locator::parse(",id:1").is_err());
    }

    #[test]
    fn fields_specifications_are_always_dimensions() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            Locator::parse_fields("id,state,webUrl"),
            Ok(pairs(&[("id", ""), ("state", ""), ("webUrl", "")]))
        );
        assert_eq!(Locator::parse_fields("id"), Ok(pairs(&[("id", "")])));
        assert_eq!(
            Locator::parse_fields("count,build(id,state)"),
            Ok(pairs(&[("count", ""), ("build", "id,state")]))
        );
        assert_eq!(Locator::parse_fields(""), Ok(Vec::new()));
        assert!(Locator::parse_fields("build(id").is_err());
    }

    #[test]
    fn quotes_values_that_need_it() {
        assert_eq!(quote("pl-42"), "pl-42");
        assert_eq!(quote("a:b"), "(a:b)");
    }

    #[test]
    fn decodes_base64() {
        assert_eq!(
            decode_base64("Y2ktYm90OnNlY3JldA=="),
            Some(b"ci-bot:secret".to_vec())
        );
        assert_eq!(decode_base64("!!"), None);
    }
}
