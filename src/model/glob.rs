//! CodePipeline's glob syntax for trigger filters, on the `globset` crate: `*` and `?`
//! stay within one path component, `**` crosses `/`, `[a-z]`/`[!a-z]` are sets, `{a,b}`
//! alternatives and `\` escapes. One deliberate difference from Java's `PathMatcher`, which
//! CodePipeline's documentation follows: `**/` may match no directory at all, so
//! `**/README.md` also matches a top-level `README.md`.

use globset::{GlobBuilder, GlobMatcher};

/// Compiles `pattern`, or says why it is not a valid glob.
pub fn compile(pattern: &str) -> Result<GlobMatcher, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|e| format!("`{pattern}` is not a valid glob: {}", e.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, name: &str, expected: bool) {
        let matcher = compile(pattern).unwrap();
        assert_eq!(matcher.is_match(name), expected, "{pattern} against {name}");
    }

    #[test]
    fn follows_codepipeline_glob_syntax() {
        check("feature/*", "feature/x", true);
        check("feature/*", "feature/x/y", false);
        check("feature/**", "feature/x/y", true);
        check("*.md", "README.md", true);
        check("*.md", "docs/a.md", false);
        check("**/README.md", "README.md", true);
        check("**/README.md", "a/b/README.md", true);
        check("*.{java,class}", "A.class", true);
        check("foo.?", "foo.c", true);
        check("foo.?", "foo.cc", false);
        check("release-[0-9]", "release-7", true);
        check("release-[!0-9]", "release-7", false);
        check("v\\*", "v*", true);
        check("v\\*", "v1", false);
        check("**", "any/thing/at/all", true);
    }

    #[test]
    fn reports_invalid_patterns() {
        let error = compile("release-[").unwrap_err();
        assert!(
            error.starts_with("`release-[` is not a valid glob"),
            "{error}"
        );
        assert!(compile("{a,b").is_err());
    }
}
