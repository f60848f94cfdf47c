//! CodePipeline's limits on names, counts and lengths, as plain checks that return the
//! message to report. Lengths count characters, as CodePipeline does.

pub const MIN_STAGES: usize = 2;
pub const MAX_STAGES: usize = 50;
pub const MAX_ACTIONS_PER_STAGE: usize = 50;
pub const MAX_ACTIONS: usize = 500;
pub const MAX_VARIABLES: usize = 50;
pub const MAX_CONFIG_KEY: usize = 50;
pub const MAX_CONFIG_VALUE: usize = 1000;
pub const MAX_DEFAULT_VALUE: usize = 1000;
pub const MAX_DESCRIPTION: usize = 200;
pub const RUN_ORDER: (i64, i64) = (1, 999);
pub const TIMEOUT_MINUTES: (i64, i64) = (5, 86_400);
pub const MAX_TRIGGERS: usize = 50;
pub const MAX_PUSH_FILTERS: usize = 3;
pub const MAX_FILTER_PATTERNS: usize = 8;
pub const MAX_FILTER_PATTERN: usize = 255;

/// Allowed characters: a pattern for messages and the test itself.
type Alphabet = (&'static str, fn(char) -> bool);

/// The kinds of text CodePipeline constrains, each with its length and alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Text {
    PipelineName,
    StageName,
    ActionName,
    ArtifactName,
    VariableName,
    Namespace,
    Provider,
    Version,
    ConfigKey,
}

impl Text {
    fn what(self) -> &'static str {
        match self {
            Text::PipelineName => "pipeline name",
            Text::StageName => "stage name",
            Text::ActionName => "action name",
            Text::ArtifactName => "artifact name",
            Text::VariableName => "variable name",
            Text::Namespace => "namespace",
            Text::Provider => "provider",
            Text::Version => "action type version",
            Text::ConfigKey => "configuration key",
        }
    }

    fn max(self) -> usize {
        match self {
            Text::PipelineName | Text::StageName | Text::ActionName => 100,
            Text::ArtifactName | Text::Namespace => 100,
            Text::VariableName => 128,
            Text::Provider => 35,
            Text::Version => 9,
            Text::ConfigKey => MAX_CONFIG_KEY,
        }
    }

    /// The allowed characters, as a pattern for the message and as a test.
    fn alphabet(self) -> Option<Alphabet> {
        fn entity(c: char) -> bool {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '_' | '-')
        }
        fn variable(c: char) -> bool {
            c.is_ascii_alphanumeric() || matches!(c, '@' | '_' | '-')
        }
        fn type_id(c: char) -> bool {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
        }
        match self {
            Text::PipelineName | Text::StageName | Text::ActionName => {
                Some(("[A-Za-z0-9.@_-]", entity))
            }
            Text::VariableName | Text::Namespace => Some(("[A-Za-z0-9@_-]", variable)),
            Text::Provider | Text::Version => Some(("[A-Za-z0-9_-]", type_id)),
            Text::ArtifactName | Text::ConfigKey => None,
        }
    }

    /// Why `value` is not a valid text of this kind, if it is not.
    pub fn problem(self, value: &str) -> Option<String> {
        let len = value.chars().count();
        if len == 0 || len > self.max() {
            return Some(format!(
                "{} must be 1 to {} characters long, found {len}",
                self.what(),
                self.max()
            ));
        }
        let (pattern, allowed) = self.alphabet()?;
        value.chars().find(|c| !allowed(*c)).map(|bad| {
            format!(
                "{} `{value}` may only hold characters in {pattern}, found {bad:?}",
                self.what()
            )
        })
    }
}

/// Why a text of at most `max` characters is too long, if it is.
pub(crate) fn too_long(what: &str, value: &str, max: usize) -> Option<String> {
    let len = value.chars().count();
    (len > max).then(|| format!("{what} must be at most {max} characters long, found {len}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_length_and_alphabet() {
        assert_eq!(Text::StageName.problem("Build.1@x_y-z"), None);
        assert_eq!(
            Text::StageName.problem("a b").as_deref(),
            Some("stage name `a b` may only hold characters in [A-Za-z0-9.@_-], found ' '")
        );
        assert_eq!(
            Text::ActionName.problem("").as_deref(),
            Some("action name must be 1 to 100 characters long, found 0")
        );
        assert_eq!(
            Text::Namespace.problem("a.b").as_deref(),
            Some("namespace `a.b` may only hold characters in [A-Za-z0-9@_-], found '.'")
        );
        assert!(Text::VariableName.problem(&"v".repeat(128)).is_none());
        assert!(Text::VariableName.problem(&"v".repeat(129)).is_some());
        assert!(Text::ArtifactName.problem("any thing/at.all").is_none());
        assert!(Text::Version.problem("1234567890").is_some());
        assert_eq!(
            too_long("description", &"é".repeat(201), MAX_DESCRIPTION).as_deref(),
            Some("description must be at most 200 characters long, found 201")
        );
    }
}
