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

/// The text with every email address in it replaced by `<address>`: error messages from a
/// mail service quote the recipient, and logs must not.
pub fn redact_addresses(text: &str) -> String {
    static ADDRESS: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let address = ADDRESS
        .get_or_init(|| regex::Regex::new(r#"[^\s@<>()\[\],;:"']+@[^\s@<>()\[\],;:"']+"#).expect("a valid pattern"));
    address.replace_all(text, "<address>").into_owned()
}

#[cfg(test)]
mod redaction_tests {
    use super::redact_addresses;

    #[test]
    fn addresses_are_replaced_wherever_they_appear() {
        assert_eq!(
            redact_addresses(
                "Email address is not verified. The following identities failed the check in region EU-WEST-3: marie.dupont@example.com, <bob+x@mail.example.org>"
            ),
            "Email address is not verified. The following identities failed the check in region EU-WEST-3: <address>, <<address>>"
        );
        assert_eq!(
            redact_addresses("Throttling: Maximum sending rate exceeded."),
            "Throttling: Maximum sending rate exceeded."
        );
    }
}
