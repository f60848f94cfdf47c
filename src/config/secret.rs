//! `Secret`: a string that never shows itself in `Debug` or `Display`. Written in the
//! config as a literal or as a `${ENV_VAR}` reference; `Settings::resolve_secrets` expands
//! references when the daemon starts, so `baton validate` needs none of them set.

use std::fmt;

use serde::{Deserialize, Deserializer};

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself; call it only where it is used, never to print. Before
    /// `resolve` this is the text as written, `${VAR}` references included.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Expands `${VAR}` references from the environment.
    pub fn resolve(&mut self) -> Result<(), String> {
        self.0 = expand(&self.0, |name| std::env::var(name).ok())?;
        Ok(())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Replaces `${NAME}` with the variable's value; an unset variable is an error that names it.
pub(crate) fn expand(raw: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in a secret reference: {}", &rest[start..]))?;
        let name = &after[..end];
        let value =
            lookup(name).ok_or_else(|| format!("environment variable `{name}` is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
