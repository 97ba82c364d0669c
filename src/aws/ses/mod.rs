//! SES v2 SendEmail with Simple content: subject, HTML and text parts in UTF-8, the
//! configuration set (event publishing: bounces, complaints) and message tags that never
//! hold personal data.
//!
//! | what SES answers | `MailError` | what the notifier does |
//! |---|---|---|
//! | a MessageId | — | sent |
//! | TooManyRequestsException, LimitExceededException, ThrottlingException (after the SDK's retries) | `Throttled` | the message is retried |
//! | HTTP 5xx, no response, timeout | `Transient` | the message is retried |
//! | MessageRejected, BadRequestException (this message) | `Rejected` | counted, never retried |
//! | AccountSuspendedException, SendingPausedException, MailFromDomainNotVerifiedException, NotFoundException (every message) | `Blocked` | the message stays queued, then in the DLQ |
//! | anything else | `Rejected` | counted, never retried |
//!
//! Display names go out as RFC 2047 encoded words when they are not plain ASCII, as SES asks.

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader, MessageTag};
use base64::Engine;

use crate::aws::failure::{classify, service_code};
use crate::domain::email::{Email, Mailbox, ses_tag_value};
use crate::domain::pii::redact_addresses;
use crate::ports::{MailError, Mailer};

#[derive(Clone)]
pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client, configuration_set: Option<String>) -> Self {
        SesMailer {
            client,
            configuration_set,
        }
    }
}

const THROTTLED: &[&str] = &[
    "TooManyRequestsException",
    "LimitExceededException",
    "ThrottlingException",
    "Throttling",
];
const BLOCKED: &[&str] = &[
    "AccountSuspendedException",
    "SendingPausedException",
    "MailFromDomainNotVerifiedException",
    "NotFoundException",
];

/// A mailbox as SES takes it: `addr`, `"Name" <addr>`, or `=?UTF-8?B?…?= <addr>`.
pub fn mailbox_header(mailbox: &Mailbox) -> String {
    let address = mailbox.address.expose();
    let Some(name) = &mailbox.display_name else {
        return address.clone();
    };
    let name = name.expose().as_str();
    if name.is_empty() {
        return address.clone();
    }
    if name.is_ascii() {
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{quoted}\" <{address}>")
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(name.as_bytes());
        format!("=?UTF-8?B?{encoded}?= <{address}>")
    }
}

/// SES tag names: letters, digits, `_ - . @`, at most 256 characters (ours already are).
fn tag_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

fn utf8(data: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError::Rejected(format!("SendEmail: {e}")))
}

impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        let headers = email
            .headers
            .iter()
            .map(|header| {
                MessageHeader::builder()
                    .name(header.name)
                    .value(header.value.as_str())
                    .build()
                    .map_err(|e| MailError::Rejected(format!("SendEmail: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let message = Message::builder()
            .subject(utf8(email.subject.as_str())?)
            .body(
                Body::builder()
                    .html(utf8(&email.html)?)
                    .text(utf8(&email.text)?)
                    .build(),
            )
            .set_headers((!headers.is_empty()).then_some(headers))
            .build();
        let mut tags = Vec::with_capacity(email.tags.len());
        for tag in &email.tags {
            // Too long once encoded (an id from outside the API): left off, not refused.
            let Some(value) = ses_tag_value(&tag.value) else {
                tracing::warn!(tag = %tag.name, "a message tag value is too long for SES; left off");
                continue;
            };
            tags.push(
                MessageTag::builder()
                    .name(tag_text(&tag.name))
                    .value(value)
                    .build()
                    .map_err(|e| MailError::Rejected(format!("SendEmail: {e}")))?,
            );
        }
        let result = self
            .client
            .send_email()
            .from_email_address(mailbox_header(&email.from))
            .destination(Destination::builder().to_addresses(mailbox_header(&email.to)).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .set_email_tags(Some(tags))
            .send()
            .await;
        let error = match result {
            Ok(output) => return Ok(output.message_id.unwrap_or_default()),
            Err(error) => error,
        };
        let failure = classify("SendEmail", &error);
        let text = redact_addresses(&failure.message);
        Err(match service_code(&error) {
            Some(code) if THROTTLED.contains(&code) => MailError::Throttled(text),
            Some(code) if BLOCKED.contains(&code) => MailError::Blocked(text),
            _ if failure.is_transient() => MailError::Transient(text),
            _ => MailError::Rejected(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_quoted_or_encoded() {
        let plain = Mailbox::new(Some("Bob \"B\" Smith"), "bob@example.com").unwrap();
        assert_eq!(mailbox_header(&plain), r#""Bob \"B\" Smith" <bob@example.com>"#);
        let accented = Mailbox::new(Some("Zoé Lefèvre"), "zoe@example.com").unwrap();
        assert_eq!(
            mailbox_header(&accented),
            "=?UTF-8?B?Wm/DqSBMZWbDqHZyZQ==?= <zoe@example.com>"
        );
        let bare = Mailbox::new(None, "a@example.com").unwrap();
        assert_eq!(mailbox_header(&bare), "a@example.com");
    }

    #[test]
    fn tag_values_keep_only_what_ses_allows() {
        assert_eq!(tag_text("Transaction Recorded"), "Transaction_Recorded");
        assert_eq!(tag_text("fr-FR.v1@x"), "fr-FR.v1@x");
        assert_eq!(tag_text(&"x".repeat(300)).len(), 256);
    }
}
