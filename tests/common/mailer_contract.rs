//! What every `Mailer` must do: run against the in-memory mailer, the embedded outbox and
//! (in tests/emulators) moto's SES v2. `delivered` lists the subjects sent so far.

use std::future::Future;

use txn_notify::domain::{Email, ExtraHeader, HeaderText, Mailbox, Tag};
use txn_notify::ports::Mailer;

pub fn contract_email(from: &str, subject: &str) -> Email {
    Email {
        from: Mailbox::new(Some("txn-notify"), from).unwrap(),
        to: Mailbox::new(Some("Zoé Lefèvre"), "zoe@example.com").unwrap(),
        subject: HeaderText::new(subject).unwrap(),
        html: "<p>Paiement de 12,50&nbsp;€</p>".into(),
        text: "Paiement de 12,50 €".into(),
        tags: vec![Tag {
            name: "event_id".into(),
            value: "ev-contract".into(),
        }],
        headers: vec![ExtraHeader {
            name: "List-Unsubscribe-Post",
            value: HeaderText::new("List-Unsubscribe=One-Click").unwrap(),
        }],
    }
}

pub async fn mailer_contract<M, F, Fut>(mailer: &M, from: &str, prefix: &str, delivered: F)
where
    M: Mailer,
    F: Fn() -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    let first = format!("{prefix} Paiement de 12,50 €");
    let second = format!("{prefix} Retrait de 60,00 €");
    let id_first = mailer.send(&contract_email(from, &first)).await.unwrap();
    let id_second = mailer.send(&contract_email(from, &second)).await.unwrap();
    assert!(!id_first.is_empty() && id_first != id_second, "{id_first} {id_second}");
    let mut subjects: Vec<String> = delivered()
        .await
        .into_iter()
        .filter(|s| s.starts_with(prefix))
        .collect();
    subjects.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(subjects, expected, "each send is one email");
}
