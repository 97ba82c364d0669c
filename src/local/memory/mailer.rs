//! A mailer in memory: keeps what it sent, writes `.eml` files when given a folder, and
//! fails on demand.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::Utc;

use crate::domain::email::Email;
use crate::local::eml::to_eml;
use crate::ports::{MailError, Mailer};

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
