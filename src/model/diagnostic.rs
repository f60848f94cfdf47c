//! Diagnostics: a message tied to `file:line:col`, and the collector that parsing, import
//! and validation push errors and notes into so that one pass reports every problem.

use std::fmt;

/// A 1-based line and column in the source text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub const START: Pos = Pos { line: 1, column: 1 };

    pub fn new(line: usize, column: usize) -> Pos {
        Pos { line, column }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem (or note) found in a definition file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, counted in characters.
    pub column: usize,
    /// Lowercase, no trailing period.
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: &str, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }

    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// The most errors one load reports; past it, one last diagnostic says how many were left
/// out, so a huge garbage document cannot produce a huge answer.
pub const MAX_ERRORS: usize = 500;

/// Errors and notes collected during one load, in the order they were found.
#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    file: String,
    pub errors: Vec<Diagnostic>,
    pub notes: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new(file: &str) -> Diagnostics {
        Diagnostics {
            file: file.to_string(),
            errors: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.errors.push(Diagnostic::new(&self.file, pos, message));
    }

    pub fn note(&mut self, pos: Pos, message: impl Into<String>) {
        self.notes.push(Diagnostic::new(&self.file, pos, message));
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Errors sorted by position (stable, so problems at one spot keep their order), capped
    /// at [`MAX_ERRORS`].
    pub fn into_sorted_errors(self) -> Vec<Diagnostic> {
        let mut errors = sorted(self.errors);
        if errors.len() > MAX_ERRORS {
            let left_out = errors.len() - MAX_ERRORS;
            errors.truncate(MAX_ERRORS);
            let last = errors.last().map(Diagnostic::pos).unwrap_or(Pos::START);
            errors.push(Diagnostic::new(
                &self.file,
                last,
                format!("{left_out} more problems not shown"),
            ));
        }
        errors
    }

    pub fn into_sorted_notes(self) -> Vec<Diagnostic> {
        sorted(self.notes)
    }
}

fn sorted(mut list: Vec<Diagnostic>) -> Vec<Diagnostic> {
    list.sort_by_key(Diagnostic::pos);
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_file_line_col_message() {
        let d = Diagnostic::new("p.yaml", Pos::new(3, 7), "unknown field `x`");
        assert_eq!(d.to_string(), "p.yaml:3:7: unknown field `x`");
    }

    #[test]
    fn sorts_by_position_and_caps_the_count() {
        let mut diags = Diagnostics::new("f");
        for i in (1..=MAX_ERRORS + 3).rev() {
            diags.error(Pos::new(i, 1), format!("e{i}"));
        }
        let errors = diags.into_sorted_errors();
        assert_eq!(errors.len(), MAX_ERRORS + 1);
        assert_eq!(errors[0].message, "e1");
        assert_eq!(errors[MAX_ERRORS].message, "3 more problems not shown");
    }
}
