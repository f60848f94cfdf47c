//! Item names in URLs: Jenkins' `Util.rawEncode` for each `job/<segment>`, the
//! branch-api `NameEncoder` that names multibranch jobs (`feature/foo` → `feature%2Ffoo`),
//! and the servlet container's single percent-decoding of request path segments.

/// `Util.rawEncode`: letters, digits and `!$&'()*+,-.=@_` stay; every other byte of the
/// UTF-8 form becomes `%XX`. So `feature%2Ffoo` is written `feature%252Ffoo`.
pub(super) fn raw_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        let c = char::from(byte);
        if c.is_ascii_alphanumeric() || "!$&'()*+,-.=@_".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The characters `NameEncoder` escapes, with their escapes.
const ESCAPES: [(char, &str); 7] = [
    ('%', "%25"),
    ('/', "%2F"),
    ('#', "%23"),
    ('?', "%3F"),
    ('[', "%5B"),
    (']', "%5D"),
    ('\\', "%5C"),
];

/// `NameEncoder.encode`: the job name of a branch.
pub(super) fn name_encode(branch: &str) -> String {
    match branch {
        "" => return "%00".to_string(),
        "." => return "%2E".to_string(),
        ".." => return "%2E.".to_string(),
        _ => {}
    }
    let mut out = String::with_capacity(branch.len());
    for c in branch.chars() {
        match ESCAPES.iter().find(|(e, _)| *e == c) {
            Some((_, escape)) => out.push_str(escape),
            None => out.push(c),
        }
    }
    out
}

/// `NameEncoder.decode`: the branch name of a job name (its display name).
pub(super) fn name_decode(name: &str) -> String {
    match name {
        "%00" => return String::new(),
        "%2E" => return ".".to_string(),
        "%2E." => return "..".to_string(),
        _ => {}
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while !rest.is_empty() {
        match ESCAPES
            .iter()
            .find(|(_, escape)| rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(escape))
        {
            Some((c, _)) => {
                out.push(*c);
                rest = &rest[3..];
            }
            None => {
                let c = rest.chars().next().unwrap_or_default();
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// Decodes `%XX` escapes once, as the servlet container does for path segments (`+`
/// stays). `None` for a malformed escape or bytes that are not UTF-8.
pub(super) fn percent_decode(text: &str) -> Option<String> {
    percent_decode_bytes(text, false)
}

/// Decodes a form or query component: `%XX` escapes and `+` for space.
pub(super) fn form_decode(text: &str) -> Option<String> {
    percent_decode_bytes(text, true)
}

fn percent_decode_bytes(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Parses `a=1&b=2` (a query string or an `application/x-www-form-urlencoded` body),
/// keeping repeated names.
pub(super) fn parse_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((form_decode(name)?, form_decode(value)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_jenkins() {
        assert_eq!(raw_encode("feature%2Ffoo"), "feature%252Ffoo");
        assert_eq!(raw_encode("my app"), "my%20app");
        assert_eq!(raw_encode("a-b_c.d@e"), "a-b_c.d@e");
        assert_eq!(raw_encode("é"), "%C3%A9");
        assert_eq!(name_encode("feature/foo"), "feature%2Ffoo");
        assert_eq!(name_encode("100%"), "100%25");
        assert_eq!(name_encode(".."), "%2E.");
        assert_eq!(name_decode("feature%2Ffoo"), "feature/foo");
        assert_eq!(name_decode("a%252Fb"), "a%2Fb");
        assert_eq!(name_decode("%2E."), "..");
    }

    #[test]
    fn decodes_paths_and_forms() {
        assert_eq!(
            percent_decode("feature%252Ffoo").as_deref(),
            Some("feature%2Ffoo")
        );
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(
            parse_form("A=1&B=x+y%26z&A=2&flag"),
            vec![
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "x y&z".to_string()),
                ("A".to_string(), "2".to_string()),
                ("flag".to_string(), String::new()),
            ]
        );
    }
}
