//! What a simulation must have done, worked out as it runs and kept compactly.
//!
//! The events come from the rule engine run again, from scratch, on the ledger's stream:
//! after each tick the records written since the last look are read (before the stream
//! trims them, 24 hours after they were written, as DynamoDB Streams does), and only what
//! the report needs of each event is kept — its id in 16 bytes, when its transaction was
//! stored, and which account an email of it goes to — in the judge's file on disk
//! ([`JudgeFile`]), not in memory: what the judge holds grows with the accounts, not with
//! the transactions.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::judge_file::{AccountIndex, EventKey, JudgeFile, JudgeFileError};
use super::{SimulateError, Store};
use crate::domain::Account;
use crate::domain::email::Mailbox;
use crate::local::embedded::mailbox_simulator::Fate;
use crate::local::memory::MemoryBus;
use crate::pipeline::digest::RunHour;
use crate::pipeline::notify::notice::Notice;
use crate::pipeline::notify::policy::{Plan, plan};
use crate::pipeline::{Processor, ProcessorConfig, StreamBatch};
use crate::ports::Ledger;
use crate::rules::Rules;

/// Stream records read at a time.
const STREAM_CHUNK: usize = 500;

/// What must have happened.
#[derive(Debug)]
pub struct Expected {
    /// Every event the pipeline must publish: for the Transaction Recorded of an insert, the
    /// time its transaction was stored (the latency insert → email), and for the events the
    /// email policy sends an email for, the account it goes to.
    pub file: JudgeFile,
    /// Accounts whose address SES's mailbox simulator bounces or complains about: once one
    /// email reached it, it must be marked undeliverable and the rest may be suppressed.
    pub undeliverable_accounts: BTreeSet<String>,
    /// The accounts seen, each with its profile as first read, made deliverable (see
    /// [`Expected::add`]).
    accounts: Vec<(String, Option<Account>)>,
    account_index: HashMap<String, AccountIndex>,
    /// The stream's sequence read up to.
    after: i64,
}

impl Expected {
    /// Nothing expected yet, the judge's file created at `path` (replacing one left there).
    pub fn create(path: &Path) -> Result<Expected, JudgeFileError> {
        Self::create_sharing(path, 1)
    }

    /// As [`create`](Self::create), for one of `shares` shards' judges.
    pub fn create_sharing(path: &Path, shares: usize) -> Result<Expected, JudgeFileError> {
        Ok(Expected {
            file: JudgeFile::create_sharing(path, shares)?,
            undeliverable_accounts: BTreeSet::new(),
            accounts: Vec::new(),
            account_index: HashMap::new(),
            after: 0,
        })
    }

    /// The account an expected email goes to.
    pub fn account_of(&self, index: AccountIndex) -> &str {
        &self.accounts[index as usize].0
    }

    /// The account's index, its profile read from the store the first time.
    async fn account(&mut self, store: &Store, account_id: &str) -> Result<AccountIndex, SimulateError> {
        if let Some(index) = self.account_index.get(account_id) {
            return Ok(*index);
        }
        let batch = store.batch_get_accounts(&[account_id.to_string()]).await?;
        let index = self.accounts.len() as AccountIndex;
        let profile = batch.accounts.into_iter().next().map(|mut account| {
            if Fate::of(account.email.expose()) != Fate::Delivered {
                self.undeliverable_accounts.insert(account_id.to_string());
            }
            // What the policy sends to a deliverable address: the mark the feedback left is
            // judged on its own.
            account.email_status = None;
            account
        });
        self.accounts.push((account_id.to_string(), profile));
        self.account_index.insert(account_id.to_string(), index);
        Ok(index)
    }

    /// Reads the stream records written since the last call and adds the events the rule
    /// engine gives for them. `stored_ms` holds when each transaction was stored (by id):
    /// the entry of a transaction whose insert this reads is taken out of it.
    pub async fn catch_up(
        &mut self,
        store: &Store,
        rules: &Arc<Rules>,
        stored_ms: &mut HashMap<String, i64>,
    ) -> Result<(), SimulateError> {
        let processor = Processor::new(
            Arc::clone(store),
            MemoryBus::new(),
            Arc::clone(store.clock()),
            Arc::clone(rules),
            ProcessorConfig::new("txn-notify"),
        );
        // The rows of a catch-up written together (what was written stays, failed or not).
        self.file.begin()?;
        let caught_up = self.read_stream(store, stored_ms, &processor).await;
        self.file.commit()?;
        caught_up
    }

    async fn read_stream(
        &mut self,
        store: &Store,
        stored_ms: &mut HashMap<String, i64>,
        processor: &Processor<Store, MemoryBus, Arc<crate::clock::SkippingClock>>,
    ) -> Result<(), SimulateError> {
        loop {
            let entries = store.read_stream(self.after, STREAM_CHUNK)?;
            let Some(last) = entries.last() else { break };
            self.after = last.sequence;
            let event = crate::local::embedded::store::stream_event(&entries);
            let batch = StreamBatch::from_json(&event).expect("the store's own stream records");
            let outcome = processor.process_batch(batch).await;
            if !outcome.response.batch_item_failures.is_empty() {
                return Err(SimulateError::ExpectedEffects);
            }
            for entry in processor.bus.take_published() {
                self.add(store, &entry.detail_type, &entry.detail, stored_ms).await?;
            }
        }
        Ok(())
    }

    async fn add(
        &mut self,
        store: &Store,
        detail_type: &str,
        detail_text: &str,
        stored_ms: &mut HashMap<String, i64>,
    ) -> Result<(), SimulateError> {
        let detail = JudgedKeys::of(detail_text);
        let key = EventKey::of(detail.event_id.as_deref().unwrap_or_default());
        let mut email_to = None;
        if let Ok(Some(notice)) = Notice::of(detail_type, detail_text) {
            let index = self.account(store, notice.account_id()).await?;
            let emailed = match &self.accounts[index as usize].1 {
                Some(deliverable) => {
                    matches!(plan(&notice, deliverable), Plan::Send(_))
                        && Mailbox::new(None, deliverable.email.expose()).is_ok()
                }
                None => false,
            };
            if emailed {
                email_to = Some(index);
            }
        }
        // A transaction's own insert (not a reversal, a later write) starts the latency.
        let stored = (detail_type == "Transaction Recorded" && detail.change.as_deref() != Some("reversed"))
            .then(|| detail.transaction.and_then(|t| t.transaction_id))
            .flatten()
            .and_then(|transaction_id| stored_ms.remove(transaction_id.as_ref()));
        self.file.expect(key, stored, email_to)?;
        Ok(())
    }
}

/// What the judge reads of an event's detail besides its notice: read alone, with no JSON
/// tree of the detail. A detail that does not read so (a member of another type, one given
/// twice: never one the processor writes) has none of them.
#[derive(Default, serde::Deserialize)]
struct JudgedKeys<'a> {
    #[serde(default, borrow)]
    event_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    change: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    transaction: Option<JudgedTransaction<'a>>,
}

#[derive(Default, serde::Deserialize)]
struct JudgedTransaction<'a> {
    #[serde(default, borrow)]
    transaction_id: Option<std::borrow::Cow<'a, str>>,
}

impl<'a> JudgedKeys<'a> {
    fn of(detail: &'a str) -> JudgedKeys<'a> {
        serde_json::from_str(detail).unwrap_or_default()
    }
}

/// The Weekly Statements the Monday window must have published, added to `expected`: for
/// each account that is due (not closed, not unsubscribed), the run of the window that holds
/// Monday 06:00 in its zone, and the week that just ended there; a statement when the
/// ledger holds a transaction of that week. Worked out from the profiles and the ledger,
/// not from the planner's index or its pages.
pub async fn expected_statements(
    store: &Store,
    window: &[chrono::DateTime<chrono::Utc>],
    expected: &mut Expected,
) -> Result<u64, SimulateError> {
    let hours: Vec<RunHour> = window.iter().map(|at| RunHour::containing(*at)).collect();
    let mut statements = 0;
    for account in store.accounts()? {
        if account.status == crate::domain::AccountStatus::Closed || !account.preferences.statement_enabled {
            continue;
        }
        let zone = account.zone();
        let Some(due) = hours.iter().find_map(|hour| hour.due(zone)) else {
            continue;
        };
        let query = crate::ports::TransactionQuery {
            account_id: &account.account_id,
            from: due.week.from,
            to: due.week.to,
            newest_first: false,
            limit: 1,
            after: None,
        };
        let mut after: Option<String> = None;
        let mut any = false;
        loop {
            let page = store
                .query_transactions(&crate::ports::TransactionQuery {
                    after: after.as_deref(),
                    ..query.clone()
                })
                .await?;
            if !page.transactions.is_empty() {
                any = true;
                break;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        if !any {
            continue;
        }
        statements += 1;
        let id = crate::domain::event_id::for_weekly_statement(&account.account_id, &due.week.start.to_string());
        if Fate::of(account.email.expose()) != Fate::Delivered {
            expected.undeliverable_accounts.insert(account.account_id.clone());
        }
        let email_to = if account.preferences.email_enabled && Mailbox::new(None, account.email.expose()).is_ok() {
            Some(expected.account(store, &account.account_id).await?)
        } else {
            None
        };
        expected.file.expect(EventKey::of(&id), None, email_to)?;
    }
    Ok(statements)
}
