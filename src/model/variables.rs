//! CodePipeline's variable syntax, `#{namespace.name}`: finding references in a string and
//! substituting them. The namespace is what comes before the first dot, so names may hold
//! dots themselves (`#{BuildVariables.build.vcs.number}`).

/// Namespace of pipeline-level variables.
pub const PIPELINE_NAMESPACE: &str = "variables";
/// Reserved namespace with execution facts.
pub const CODEPIPELINE_NAMESPACE: &str = "codepipeline";

/// One `#{namespace.name}` found in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// Byte range of the whole `#{...}` in the scanned text.
    pub span: std::ops::Range<usize>,
}

impl Reference<'_> {
    pub fn display(&self) -> String {
        format!("#{{{}.{}}}", self.namespace, self.name)
    }
}

/// A `#{` that does not close, or whose body is not `namespace.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub offset: usize,
    pub text: String,
}

/// Every reference in `text`, in order, or the first malformed one.
pub fn references(text: &str) -> Result<Vec<Reference<'_>>, Malformed> {
    let mut found = Vec::new();
    let mut rest = 0;
    while let Some(start) = text[rest..].find("#{").map(|i| i + rest) {
        let body_start = start + 2;
        let Some(len) = text[body_start..].find('}') else {
            return Err(Malformed {
                offset: start,
                text: text[start..].to_string(),
            });
        };
        let body = &text[body_start..body_start + len];
        let end = body_start + len + 1;
        match body.split_once('.') {
            Some((namespace, name))
                if !namespace.is_empty() && !name.is_empty() && is_word(namespace) =>
            {
                found.push(Reference {
                    namespace,
                    name,
                    span: start..end,
                });
            }
            _ => {
                return Err(Malformed {
                    offset: start,
                    text: text[start..end].to_string(),
                })
            }
        }
        rest = end;
    }
    Ok(found)
}

fn is_word(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@'))
}

/// Replaces every reference in `text` with what `lookup` gives; the first reference it
/// cannot resolve is returned as the error, written as it appeared.
pub fn substitute(
    text: &str,
    mut lookup: impl FnMut(&str, &str) -> Option<String>,
) -> Result<String, String> {
    let refs = references(text).map_err(|m| m.text)?;
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for reference in refs {
        out.push_str(&text[last..reference.span.start]);
        match lookup(reference.namespace, reference.name) {
            Some(value) => out.push_str(&value),
            None => return Err(reference.display()),
        }
        last = reference.span.end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_references_with_dotted_names() {
        let refs = references("v=#{Build.build.vcs.number} id=#{codepipeline.PipelineExecutionId}")
            .unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].namespace, "Build");
        assert_eq!(refs[0].name, "build.vcs.number");
        assert_eq!(refs[1].namespace, "codepipeline");
    }

    #[test]
    fn rejects_unclosed_and_bare_references() {
        assert!(references("#{variables.X").is_err());
        assert!(references("#{nodot}").is_err());
        assert!(references("plain # { text }").unwrap().is_empty());
    }

    #[test]
    fn substitutes_or_names_the_missing_reference() {
        let lookup = |ns: &str, name: &str| (ns == "variables" && name == "A").then(|| "1".into());
        assert_eq!(substitute("a=#{variables.A}!", lookup).unwrap(), "a=1!");
        assert_eq!(
            substitute("#{variables.B}", lookup).unwrap_err(),
            "#{variables.B}"
        );
    }
}
