//! String comparisons: case-insensitive ones without allocation, and wildcards.

/// Whether `text` starts with `prefix_lower` (already lower-cased), ignoring case.
pub(crate) fn starts_with_ignore_case(text: &str, prefix_lower: &str) -> bool {
    let mut lowered = text.chars().flat_map(char::to_lowercase);
    prefix_lower.chars().all(|p| lowered.next() == Some(p))
}

pub(crate) fn ends_with_ignore_case(text: &str, suffix_lower: &str) -> bool {
    let mut lowered = text.chars().rev().flat_map(|c| c.to_lowercase().rev());
    suffix_lower.chars().rev().all(|p| lowered.next() == Some(p))
}

pub(crate) fn equals_ignore_case(text: &str, other_lower: &str) -> bool {
    text.chars().flat_map(char::to_lowercase).eq(other_lower.chars())
}

/// A wildcard value: `*` matches any run of characters, `\*` a literal asterisk and `\\`
/// a backslash. Stored as the literal pieces between the wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wildcard {
    pieces: Vec<String>,
}

impl Wildcard {
    /// Refuses consecutive wildcards and escapes of anything but `*` and `\`, as EventBridge does.
    pub fn parse(text: &str) -> Result<Wildcard, String> {
        let mut pieces = vec![String::new()];
        let mut chars = text.chars();
        let mut previous_was_wildcard = false;
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    if previous_was_wildcard {
                        return Err("consecutive wildcard characters are not allowed".into());
                    }
                    pieces.push(String::new());
                    previous_was_wildcard = true;
                    continue;
                }
                '\\' => match chars.next() {
                    Some(escaped @ ('*' | '\\')) => pieces.last_mut().expect("never empty").push(escaped),
                    _ => return Err("a backslash may only escape `*` or `\\`".into()),
                },
                c => pieces.last_mut().expect("never empty").push(c),
            }
            previous_was_wildcard = false;
        }
        Ok(Wildcard { pieces })
    }

    pub fn matches(&self, text: &str) -> bool {
        let (first, rest) = self.pieces.split_first().expect("never empty");
        let Some((last, middle)) = rest.split_last() else {
            return text == first;
        };
        if text.len() < first.len() + last.len() || !text.starts_with(first.as_str()) || !text.ends_with(last.as_str())
        {
            return false;
        }
        let mut remaining = &text[first.len()..text.len() - last.len()];
        for piece in middle {
            match remaining.find(piece.as_str()) {
                Some(at) => remaining = &remaining[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_runs_and_honour_escapes() {
        let w = |p: &str| Wildcard::parse(p).unwrap();
        assert!(w("Simple*Service").matches("Simple Notification Service"));
        assert!(w("Simple*Service").matches("SimpleService"));
        assert!(!w("Simple*Service").matches("Simple Service Bus"));
        assert!(w("*").matches(""));
        assert!(w("a*a").matches("aa") && !w("a*a").matches("a"));
        assert!(w("*/lib/*").matches("/usr/lib/x") && !w("*/lib/*").matches("/usr/bin"));
        assert!(w(r"a\*b").matches("a*b") && !w(r"a\*b").matches("axb"));
        assert!(w(r"a\\*").matches(r"a\anything"));
        assert!(w("a*b*c").matches("abbc") && !w("a*b*c").matches("acb"));
        assert!(Wildcard::parse("a**b").is_err());
        assert!(Wildcard::parse(r"a\b").is_err());
        assert!(Wildcard::parse(r"a\").is_err());
    }

    #[test]
    fn ignore_case_comparisons_fold_unicode() {
        assert!(starts_with_ignore_case("EventBridge", "eventb"));
        assert!(!starts_with_ignore_case("Even", "eventb"));
        assert!(ends_with_ignore_case("IMAGE.PNG", ".png"));
        assert!(equals_ignore_case("ÉTÉ", "été"));
        assert!(!equals_ignore_case("ÉTÉS", "été"));
    }
}
