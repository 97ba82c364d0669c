//! An email as the notifier hands it to the Mailer port. Header fields (the subject, display
//! names) are `HeaderText`: CR and LF are refused when one is made, so no header can be
//! injected, whatever a merchant or holder name holds.

use std::fmt;

use super::pii::Pii;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("a header field may not contain CR or LF")]
    LineBreak,
    #[error("a header field may not contain control characters")]
    ControlCharacter,
    #[error("not an email address")]
    BadAddress,
}

/// Text that is safe in an email header: no CR, LF or other control character.
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderText(String);

impl HeaderText {
    pub fn new(text: impl Into<String>) -> Result<Self, HeaderError> {
        let text = text.into();
        if text.contains(['\r', '\n']) {
            return Err(HeaderError::LineBreak);
        }
        if text.chars().any(|c| c.is_control() && c != '\t') {
            return Err(HeaderError::ControlCharacter);
        }
        Ok(HeaderText(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for HeaderText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// A mailbox: an address (personal data) and an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub display_name: Option<Pii<HeaderText>>,
    pub address: Pii<String>,
}

impl Mailbox {
    pub fn new(display_name: Option<&str>, address: &str) -> Result<Self, HeaderError> {
        let address = HeaderText::new(address)?.as_str().to_string();
        let (local, domain) = address.split_once('@').ok_or(HeaderError::BadAddress)?;
        if local.is_empty() || domain.is_empty() || domain.contains('@') || address.contains([' ', '<', '>', ',']) {
            return Err(HeaderError::BadAddress);
        }
        Ok(Mailbox {
            display_name: display_name.map(HeaderText::new).transpose()?.map(Pii),
            address: Pii(address),
        })
    }
}

/// A message tag (SES): names and values are ours, never personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    pub value: String,
}

/// SES's limit on a tag name or value.
pub const MAX_TAG_LENGTH: usize = 256;

/// A tag value as SES takes it (letters, digits, `_ - . @`, at most 256 characters),
/// reversibly: `@` (which no id of ours holds) and any character SES refuses become `@` and
/// two hex digits per UTF-8 byte, so that an account id with `:` comes back from SES's
/// feedback as it was. None: longer than SES allows once encoded.
pub fn ses_tag_value(value: &str) -> Option<String> {
    let mut encoded = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii_alphanumeric() || "_-.".contains(c) {
            encoded.push(c);
        } else {
            let mut bytes = [0u8; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                encoded.push_str(&format!("@{byte:02X}"));
            }
        }
    }
    (!encoded.is_empty() && encoded.len() <= MAX_TAG_LENGTH).then_some(encoded)
}

/// The value `ses_tag_value` encoded. None: not an encoding of ours.
pub fn decode_ses_tag_value(encoded: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'@' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// A header of our own beyond From, To and Subject (List-Unsubscribe): the name is ours,
/// the value header-safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHeader {
    pub name: &'static str,
    pub value: HeaderText,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub from: Mailbox,
    pub to: Mailbox,
    pub subject: HeaderText,
    pub html: String,
    pub text: String,
    pub tags: Vec<Tag>,
    pub headers: Vec<ExtraHeader>,
}

impl Email {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_values_survive_ses_character_rules() {
        for value in ["acc-1", "bank:acc_7", "Zoé 🙂", "a.b@c", "@5F", "Transaction_Recorded"] {
            let encoded = ses_tag_value(value).unwrap();
            assert!(
                encoded.chars().all(|c| c.is_ascii_alphanumeric() || "_-.@".contains(c)),
                "{encoded}"
            );
            assert_eq!(decode_ses_tag_value(&encoded).as_deref(), Some(value));
        }
        assert_eq!(ses_tag_value("acc-1").unwrap(), "acc-1", "plain ids stay readable");
        assert_eq!(ses_tag_value("bank:acc_7").unwrap(), "bank@3Aacc_7");
        assert_eq!(ses_tag_value("Transaction_Recorded").unwrap(), "Transaction_Recorded");
        assert_eq!(ses_tag_value(""), None);
        assert_eq!(ses_tag_value(&":".repeat(86)), None, "258 characters once encoded");
        assert!(ses_tag_value(&":".repeat(85)).is_some());
        assert_eq!(decode_ses_tag_value("bad@Z"), None);
        assert_eq!(decode_ses_tag_value("bad@"), None);
    }

    #[test]
    fn header_text_refuses_line_breaks_and_control_characters() {
        assert_eq!(
            HeaderText::new("Votre paiement de 12,00 €").unwrap().as_str(),
            "Votre paiement de 12,00 €"
        );
        assert_eq!(HeaderText::new("Hi\r\nBcc: x@evil.test"), Err(HeaderError::LineBreak));
        assert_eq!(HeaderText::new("Hi\nthere"), Err(HeaderError::LineBreak));
        assert_eq!(HeaderText::new("Hi\rthere"), Err(HeaderError::LineBreak));
        assert_eq!(HeaderText::new("Hi\u{0}there"), Err(HeaderError::ControlCharacter));
        assert!(HeaderText::new("tab\tok").is_ok());
    }

    #[test]
    fn mailboxes_check_the_address_and_the_display_name() {
        let mailbox = Mailbox::new(Some("Marie Dupont"), "marie@example.com").unwrap();
        assert_eq!(mailbox.address.expose(), "marie@example.com");
        assert!(!format!("{mailbox:?}").contains("marie"), "no personal data in Debug");
        assert_eq!(
            Mailbox::new(Some("Marie\r\nBcc: x@evil.test"), "marie@example.com"),
            Err(HeaderError::LineBreak)
        );
        assert_eq!(
            Mailbox::new(None, "marie@example.com\r\nBcc: x@evil.test"),
            Err(HeaderError::LineBreak)
        );
        for bad in [
            "marie",
            "@example.com",
            "marie@",
            "a@b@c",
            "marie dupont@example.com",
            "<marie@example.com>",
        ] {
            assert_eq!(Mailbox::new(None, bad), Err(HeaderError::BadAddress), "{bad}");
        }
    }
}
