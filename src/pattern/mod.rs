//! EventBridge event patterns with AWS's documented semantics: parse and validate a pattern
//! into a compiled form (`Pattern::parse`), match it against an event (`Pattern::matches`),
//! and match many at once (`PatternSet`). See docs/patterns.md for the semantics and for
//! where this follows the EventBridge documentation rather than event-ruler.

mod matching;
mod model;
mod number;
mod parse;
mod projection;
mod set;
mod text;

pub use model::Pattern;
pub use parse::PatternError;
pub use projection::Projection;
pub use set::{PatternSet, Scratch};

impl Pattern {
    /// Parses and validates a pattern given as JSON text.
    pub fn parse_str(text: &str) -> Result<Pattern, PatternError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| PatternError::new("", format!("not valid JSON: {e}")))?;
        Pattern::parse(&value)
    }

    pub fn parse(value: &serde_json::Value) -> Result<Pattern, PatternError> {
        parse::parse_pattern(value)
    }

    /// Whether the event (a JSON object, as EventBridge delivers it) matches.
    pub fn matches(&self, event: &serde_json::Value) -> bool {
        matching::object_matches(&self.root, Some(event))
    }
}
