//! Emails as RFC 5322 `.eml` files (multipart/alternative, text then HTML), as the outbox
//! and the in-memory mailer write them.

use chrono::{DateTime, Utc};
use mail_builder::MessageBuilder;

use crate::domain::email::{Email, Mailbox};

fn address(mailbox: &Mailbox) -> mail_builder::headers::address::Address<'_> {
    match &mailbox.display_name {
        Some(name) => (name.expose().as_str(), mailbox.address.expose().as_str()).into(),
        None => mailbox.address.expose().as_str().into(),
    }
}

/// The email as an RFC 5322 message. Non-ASCII headers are encoded (RFC 2047) by the builder;
/// header text can hold no CR or LF, since `HeaderText` refuses them.
pub fn to_eml(email: &Email, message_id: &str, sent_at: DateTime<Utc>) -> String {
    let mut builder = MessageBuilder::new()
        .from(address(&email.from))
        .to(address(&email.to))
        .subject(email.subject.as_str())
        .message_id(message_id)
        .date(sent_at.timestamp())
        .text_body(email.text.as_str())
        .html_body(email.html.as_str());
    for header in &email.headers {
        builder = builder.header(
            header.name,
            mail_builder::headers::raw::Raw::new(header.value.as_str().to_string()),
        );
    }
    for tag in &email.tags {
        builder = builder.header(
            format!("X-Tag-{}", tag.name),
            mail_builder::headers::raw::Raw::new(tag.value.clone()),
        );
    }
    builder.write_to_string().expect("writing to a String cannot fail")
}
