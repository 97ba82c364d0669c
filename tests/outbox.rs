//! The outbox: `.eml` files that a mail reader parses back to the same email, and a mailer
//! whose failures can be injected.

use mail_parser::MessageParser;
use txn_notify::domain::{Email, ExtraHeader, HeaderText, Mailbox, Tag};
use txn_notify::local::eml::to_eml;
use txn_notify::local::memory::MemoryMailer;
use txn_notify::ports::{MailError, Mailer};

fn email() -> Email {
    Email {
        from: Mailbox::new(Some("Banque Exemple"), "alertes@banque.example").unwrap(),
        to: Mailbox::new(Some("Marie Dupont-Élise"), "marie@example.com").unwrap(),
        subject: HeaderText::new("Paiement de 1 234,56 € chez Café « Le Zinc »").unwrap(),
        html: "<p>Bonjour Marie,</p><p>Paiement chez Caf&eacute; &lt;b&gt;</p>".into(),
        text: "Bonjour Marie,\nPaiement chez Café <b>\n".into(),
        tags: vec![Tag {
            name: "detail-type".into(),
            value: "Transaction-Recorded".into(),
        }],
        headers: vec![ExtraHeader {
            name: "List-Unsubscribe",
            value: HeaderText::new("<http://127.0.0.1:3000/v1/unsubscribe/abc.statement.1.xyz>").unwrap(),
        }],
    }
}

#[test]
fn an_eml_file_parses_back_to_the_same_email() {
    let eml = to_eml(&email(), "000001@outbox.txn-notify.local", chrono::Utc::now());
    assert!(eml.is_ascii(), "headers are encoded, bodies transfer-encoded");
    let message = MessageParser::default().parse(eml.as_bytes()).unwrap();
    assert_eq!(message.subject(), Some("Paiement de 1 234,56 € chez Café « Le Zinc »"));
    let from = message.from().unwrap().first().unwrap();
    assert_eq!(
        (from.name.as_deref(), from.address.as_deref()),
        (Some("Banque Exemple"), Some("alertes@banque.example"))
    );
    let to = message.to().unwrap().first().unwrap();
    assert_eq!(
        (to.name.as_deref(), to.address.as_deref()),
        (Some("Marie Dupont-Élise"), Some("marie@example.com"))
    );
    // Lines of a message body end in CRLF (RFC 5322).
    assert_eq!(
        message.body_text(0).unwrap().replace("\r\n", "\n").trim_end(),
        email().text.trim_end()
    );
    assert_eq!(message.body_html(0).unwrap().trim_end(), email().html);
    assert!(eml.to_ascii_lowercase().contains("multipart/alternative"));
    assert_eq!(message.message_id(), Some("000001@outbox.txn-notify.local"));
    assert_eq!(
        message.header_raw("List-Unsubscribe").map(str::trim),
        Some("<http://127.0.0.1:3000/v1/unsubscribe/abc.statement.1.xyz>"),
        "our own headers are written as given"
    );
}

#[tokio::test]
async fn the_mailer_writes_the_outbox_and_fails_on_demand() {
    let folder = std::env::temp_dir().join(format!("txn-notify-outbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    let mailer = MemoryMailer::writing_to(folder.clone());
    mailer.fail_next([
        MailError::Transient("Throttling".into()),
        MailError::Rejected("MessageRejected".into()),
    ]);
    assert_eq!(
        mailer.send(&email()).await,
        Err(MailError::Transient("Throttling".into()))
    );
    assert_eq!(
        mailer.send(&email()).await,
        Err(MailError::Rejected("MessageRejected".into()))
    );
    let id = mailer.send(&email()).await.unwrap();
    let sent = mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message_id, id);
    let file = sent[0].file.clone().unwrap();
    assert_eq!(file, folder.join("000001.eml"));
    let written = std::fs::read(&file).unwrap();
    let message = MessageParser::default().parse(&written[..]).unwrap();
    assert_eq!(message.subject(), Some(email().subject.as_str()));
    let _ = std::fs::remove_dir_all(&folder);
}

/// An email written by a send whose group never committed (the process died) is not in the
/// index: the next open cuts it off, in either layout, and the email that comes again takes
/// its number.
#[tokio::test]
async fn what_a_crash_left_past_the_index_is_removed_at_the_next_open() {
    use std::sync::Arc;
    use txn_notify::clock::FrozenClock;
    use txn_notify::local::embedded::store::EmbeddedStore;
    use txn_notify::local::embedded::{OutboxLayout, OutboxMailer};

    for layout in [OutboxLayout::EmlFiles, OutboxLayout::Mailboxes] {
        let dir = std::env::temp_dir().join(format!("txn-notify-outbox-crash-{layout:?}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let folder = dir.join("outbox");
        let open = || {
            let store = Arc::new(EmbeddedStore::open(&dir, FrozenClock::at(chrono::Utc::now())).unwrap());
            let layout = OutboxLayout::prepare(&store, &folder, layout).unwrap();
            (Arc::clone(&store), OutboxMailer::new(store, folder.clone(), layout))
        };
        let files = || {
            let mut names: Vec<(String, u64)> = std::fs::read_dir(&folder)
                .unwrap()
                .map(|e| e.unwrap())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.metadata().unwrap().len(),
                    )
                })
                .collect();
            names.sort();
            names
        };
        {
            let (store, mailer) = open();
            mailer.send(&email()).await.unwrap();
            let before_crash = files();
            let group = store.group();
            mailer.send(&email()).await.unwrap();
            // Written out before its group commits (a full buffer, a reader), then the crash.
            store.write_out_before_commit().unwrap();
            assert_ne!(files(), before_crash, "{layout:?}: the second email is written");
            std::mem::forget(group);
            drop(mailer);
            drop(store);
            let (store, mailer) = open();
            assert_eq!(files(), before_crash, "{layout:?}: only what the index holds is left");
            assert_eq!(store.outbox_count().unwrap(), 1);
            let id = mailer.send(&email()).await.unwrap();
            assert_eq!(id, "000002@outbox.txn-notify.local");
            // Inside a group, the mailbox layout writes its email out when the group commits.
            let before_group = files();
            let group = store.group();
            mailer.send(&email()).await.unwrap();
            if layout == OutboxLayout::Mailboxes {
                assert_eq!(files(), before_group, "waits for the commit");
            }
            group.commit().unwrap();
            assert_ne!(files(), before_group, "{layout:?}: written by the commit");
            assert!(mailer.read_email(3).unwrap().is_some());
            let text = mailer.read_email(2).unwrap().unwrap();
            let message = MessageParser::default().parse(text.as_bytes()).unwrap();
            assert_eq!(message.message_id(), Some("000002@outbox.txn-notify.local"));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The index is written a page of emails at a time: every email once, newest first, its
/// subject escaped, across the pages.
#[tokio::test]
async fn the_index_lists_every_email_newest_first_across_its_pages() {
    use std::sync::Arc;
    use txn_notify::clock::FrozenClock;
    use txn_notify::local::embedded::store::EmbeddedStore;
    use txn_notify::local::embedded::{OutboxLayout, OutboxMailer};

    let dir = std::env::temp_dir().join(format!("txn-notify-outbox-index-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let folder = dir.join("outbox");
    let store = Arc::new(EmbeddedStore::open(&dir, FrozenClock::at(chrono::Utc::now())).unwrap());
    let layout = OutboxLayout::prepare(&store, &folder, OutboxLayout::Mailboxes).unwrap();
    let mailer = OutboxMailer::new(Arc::clone(&store), folder.clone(), layout);
    let mut tricky = email();
    tricky.subject = HeaderText::new("Refund <b>&</b> \"quoted\"").unwrap();
    let plain = email();
    for n in 0..1_005 {
        mailer.send(if n == 1_004 { &tricky } else { &plain }).await.unwrap();
    }
    let index = std::fs::read_to_string(mailer.write_index().unwrap()).unwrap();
    assert!(index.contains("Outbox: 1005 emails"));
    let numbers: Vec<u32> = index
        .split("<tr><td>")
        .skip(1)
        .map(|row| row.split('<').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbers, (1..=1_005).rev().collect::<Vec<_>>());
    assert!(
        index.contains("Refund &lt;b&gt;&amp;&lt;&#x2f;b&gt; &quot;quoted&quot;"),
        "{}",
        &index[..2000]
    );
    assert!(!index.contains("<b>&</b>"));
    assert!(index.contains("000001-001000.mbox") && index.contains("001001-002000.mbox"));
    assert!(index.trim_end().ends_with("</body></html>"));
    assert!(!folder.join("index.html.partial").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
