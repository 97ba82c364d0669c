//! The outbox: emails as RFC 5322 `.eml` files (multipart/alternative, text then HTML), and a
//! Mailer that keeps what it sent, writes those files when given a folder, and fails on
//! demand for tests.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use mail_builder::MessageBuilder;

use crate::domain::email::{Email, Mailbox};
use crate::ports::{MailError, Mailer};

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
    for tag in &email.tags {
        builder = builder.header(
            format!("X-Tag-{}", tag.name),
            mail_builder::headers::raw::Raw::new(tag.value.clone()),
        );
    }
    builder.write_to_string().expect("writing to a String cannot fail")
}

/// One email the mailer accepted.
#[derive(Debug, Clone)]
pub struct SentEmail {
    pub message_id: String,
    pub email: Email,
    /// The `.eml` file, when the mailer writes an outbox.
    pub file: Option<PathBuf>,
}

#[derive(Default)]
pub struct MemoryMailer {
    outbox: Option<PathBuf>,
    sent: Mutex<Vec<SentEmail>>,
    faults: Mutex<VecDeque<MailError>>,
}

impl MemoryMailer {
    pub fn new() -> Self {
        MemoryMailer::default()
    }

    /// Also writes each email as `<n>.eml` into this folder.
    pub fn writing_to(folder: PathBuf) -> Self {
        MemoryMailer {
            outbox: Some(folder),
            ..MemoryMailer::default()
        }
    }

    /// The next sends fail with these errors, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = MailError>) {
        self.faults.lock().expect("mailer lock").extend(errors);
    }

    pub fn sent(&self) -> Vec<SentEmail> {
        self.sent.lock().expect("mailer lock").clone()
    }
}

impl Mailer for MemoryMailer {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        if let Some(error) = self.faults.lock().expect("mailer lock").pop_front() {
            return Err(error);
        }
        let mut sent = self.sent.lock().expect("mailer lock");
        let number = sent.len() + 1;
        let message_id = format!("{number:06}@outbox.txn-notify.local");
        let file = match &self.outbox {
            Some(folder) => {
                let path = folder.join(format!("{number:06}.eml"));
                std::fs::create_dir_all(folder)
                    .and_then(|()| std::fs::write(&path, to_eml(email, &message_id, Utc::now())))
                    .map_err(|e| MailError::Transient(format!("cannot write the outbox: {e}")))?;
                Some(path)
            }
            None => None,
        };
        sent.push(SentEmail {
            message_id: message_id.clone(),
            email: email.clone(),
            file,
        });
        Ok(message_id)
    }
}
