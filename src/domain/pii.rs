//! Personal data that must never reach a log line.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Holds personal data (a name, an email address). `Debug` and `Display` print a
/// placeholder, so a `{:?}` of a struct that holds one cannot leak it; serde sees the value.
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pii<T>(pub T);

impl<T> Pii<T> {
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value_but_serde_keeps_it() {
        let email = Pii("marie@example.com".to_string());
        assert_eq!(format!("{email:?} {email}"), "<redacted> <redacted>");
        assert_eq!(serde_json::to_string(&email).unwrap(), "\"marie@example.com\"");
    }
}
