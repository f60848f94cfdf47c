//! The `tree=` expression of Stapler's `NamedPathPruner`: `a,b[c,d]{0,10},e[f[g]]`,
//! with ranges `{M,N}` (M to N exclusive), `{N}` (just N), `{N,}` and `{,M}`, and `*`
//! matching any property.

/// A parsed `tree=` expression: the named children and the range for a collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(in crate::sim::jenkins) struct Tree {
    children: Vec<(String, Tree)>,
    min: usize,
    max: Option<usize>,
}

impl Tree {
    /// The subtree for a property, or `None` when the expression does not name it.
    pub(in crate::sim::jenkins) fn child(&self, name: &str) -> Option<&Tree> {
        let find = |wanted: &str| {
            self.children
                .iter()
                .find(|(n, _)| n == wanted)
                .map(|(_, t)| t)
        };
        find(name).or_else(|| find("*"))
    }

    /// The range of list items to write: `(first, end exclusive)`.
    pub(in crate::sim::jenkins) fn range(&self) -> (usize, Option<usize>) {
        (self.min, self.max)
    }
}

/// Parses a `tree=` value; the error is Stapler's "Malformed tree expression" message.
pub(in crate::sim::jenkins) fn parse_tree(text: &str) -> Result<Tree, String> {
    let tokens = tokenize(text);
    if tokens.is_empty() {
        return Ok(Tree::default());
    }
    let mut parser = Parser { tokens, pos: 0 };
    let children = parser.list().map_err(|e| malformed(text, &e))?;
    if parser.pos != parser.tokens.len() {
        return Err(malformed(text, "unexpected text after the expression"));
    }
    Ok(Tree {
        children,
        min: 0,
        max: None,
    })
}

fn malformed(text: &str, why: &str) -> String {
    format!("Malformed tree expression: {text} ({why})")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Name(String),
    Punct(char),
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut name = String::new();
    for c in text.chars() {
        if matches!(c, '[' | ']' | ',' | '{' | '}') {
            if !name.trim().is_empty() {
                tokens.push(Token::Name(name.trim().to_string()));
            }
            name.clear();
            tokens.push(Token::Punct(c));
        } else {
            name.push(c);
        }
    }
    if !name.trim().is_empty() {
        tokens.push(Token::Name(name.trim().to_string()));
    }
    tokens
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Token::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn list(&mut self) -> Result<Vec<(String, Tree)>, String> {
        let mut children = Vec::new();
        loop {
            let Some(Token::Name(name)) = self.peek().cloned() else {
                return Err("expected a property name".to_string());
            };
            self.pos += 1;
            let mut tree = Tree::default();
            if self.eat('[') {
                tree.children = self.list()?;
                if !self.eat(']') {
                    return Err("expected `]`".to_string());
                }
            }
            if self.eat('{') {
                (tree.min, tree.max) = self.range()?;
            }
            children.push((name, tree));
            if !self.eat(',') {
                return Ok(children);
            }
        }
    }

    fn range(&mut self) -> Result<(usize, Option<usize>), String> {
        let number = |parser: &mut Parser| -> Result<Option<usize>, String> {
            match parser.peek().cloned() {
                Some(Token::Name(n)) => {
                    parser.pos += 1;
                    n.parse()
                        .map(Some)
                        .map_err(|_| format!("`{n}` is not a number"))
                }
                _ => Ok(None),
            }
        };
        let min = number(self)?;
        let range = if self.eat(',') {
            (min.unwrap_or(0), number(self)?)
        } else {
            let n = min.ok_or("empty range")?;
            (n, Some(n + 1))
        };
        if !self.eat('}') {
            return Err("expected `}`".to_string());
        }
        Ok(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_nesting_and_ranges() {
        let tree = parse_tree(
            "name,builds[number,actions[parameters[name,value]]]{0,20},x{3},y{2,},z{,4}",
        )
        .expect("valid tree");
        assert!(tree.child("name").is_some());
        let builds = tree.child("builds").expect("builds");
        assert_eq!(builds.range(), (0, Some(20)));
        let actions = builds.child("actions").expect("actions");
        assert!(actions
            .child("parameters")
            .and_then(|p| p.child("value"))
            .is_some());
        assert!(builds.child("result").is_none());
        assert_eq!(tree.child("x").map(Tree::range), Some((3, Some(4))));
        assert_eq!(tree.child("y").map(Tree::range), Some((2, None)));
        assert_eq!(tree.child("z").map(Tree::range), Some((0, Some(4))));
        assert!(parse_tree("jobs[*]")
            .expect("valid")
            .child("jobs")
            .and_then(|j| j.child("any"))
            .is_some());
    }

    #[test]
    fn rejects_malformed_trees() {
        for bad in ["builds[number", "a]", "a{x}", ",", "a[]", "a{1"] {
            assert!(parse_tree(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_tree("").map(|t| t.children.len()), Ok(0));
    }
}
