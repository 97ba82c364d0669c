//! In-memory adapters of the ledger and the bus, with fault injection for tests.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, RwLock};

use serde_dynamo::Item;
use serde_json::Value;

use crate::domain::audit::AuditRecord;
use crate::domain::idempotency::KeyRecord;
use crate::domain::item::LedgerItem;
use crate::domain::keys::{self, PROFILE_SK, account_pk, transaction_range};
use crate::domain::{Account, Transaction};
use crate::ports::{
    AccountBatch, AccountPage, AccountWrite, AuditLog, BusEntry, Claim, EntryResult, EventBus, Idempotency, Ledger,
    MAX_ACCOUNTS_PER_BATCH_GET, PortError, PutOutcome, ScanSegment, TransactionPage, TransactionQuery,
    TransactionWrite,
};

/// Ledger items by (pk, sk).
#[derive(Default)]
pub struct MemoryLedger {
    items: RwLock<BTreeMap<(String, String), Item>>,
    faults: Mutex<LedgerFaults>,
}

/// Faults the next lookups will meet.
#[derive(Debug, Default, Clone)]
pub struct LedgerFaults {
    /// This many next calls fail with a transient error.
    pub failing_calls: u32,
    /// This many next calls return only their first key and leave the rest unprocessed.
    pub partial_calls: u32,
    /// Every call fails with a permanent error.
    pub always_fail: bool,
}

impl MemoryLedger {
    pub fn new() -> Self {
        MemoryLedger::default()
    }

    pub fn put(&self, item: Item) {
        let key = |name: &str| match item.get(name) {
            Some(serde_dynamo::AttributeValue::S(s)) => s.clone(),
            _ => String::new(),
        };
        let (pk, sk) = (key("pk"), key("sk"));
        self.items.write().expect("ledger lock").insert((pk, sk), item);
    }

    /// Writes the profile unconditionally (test setup); the `Ledger` port's `put_account`
    /// is the conditional write ingest uses.
    pub fn insert_account(&self, account: &Account) {
        self.put(account.to_item());
    }

    /// Writes the transaction unconditionally, without a uniqueness marker (as a system that
    /// writes straight into the table would).
    pub fn insert_transaction(&self, transaction: &crate::domain::Transaction) {
        self.put(transaction.to_item());
    }

    pub fn get(&self, pk: &str, sk: &str) -> Option<Item> {
        self.items
            .read()
            .expect("ledger lock")
            .get(&(pk.to_string(), sk.to_string()))
            .cloned()
    }

    /// Applies the injected faults to one call.
    fn fault(&self) -> Result<(), PortError> {
        let mut faults = self.faults.lock().expect("ledger lock");
        if faults.always_fail {
            return Err(PortError::permanent("AccessDeniedException: injected"));
        }
        if faults.failing_calls > 0 {
            faults.failing_calls -= 1;
            return Err(PortError::transient("ProvisionedThroughputExceededException: injected"));
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.items.read().expect("ledger lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn inject(&self, faults: LedgerFaults) {
        *self.faults.lock().expect("ledger lock") = faults;
    }

    /// Holds the NewImage of every INSERT and MODIFY record of a stream event (a record
    /// exists only because its item was written), in record order. Records that are not
    /// objects, or whose image is not a DynamoDB attribute map, are skipped.
    pub fn load_stream_images(&self, event: &Value) {
        let Some(records) = event.get("Records").and_then(Value::as_array) else {
            return;
        };
        for record in records {
            let name = record.get("eventName").and_then(Value::as_str);
            if !matches!(name, Some("INSERT" | "MODIFY")) {
                continue;
            }
            let Some(image) = record.pointer("/dynamodb/NewImage") else {
                continue;
            };
            if let Ok(item) = serde_json::from_value::<Item>(image.clone()) {
                self.put(item);
            }
        }
    }
}

impl Ledger for MemoryLedger {
    async fn batch_get_accounts(&self, account_ids: &[String]) -> Result<AccountBatch, PortError> {
        if account_ids.len() > MAX_ACCOUNTS_PER_BATCH_GET {
            return Err(PortError::permanent("BatchGetItem takes at most 100 keys"));
        }
        self.fault()?;
        let take_first_only = {
            let mut faults = self.faults.lock().expect("ledger lock");
            let partial = faults.partial_calls > 0;
            faults.partial_calls = faults.partial_calls.saturating_sub(1);
            partial
        };
        let (served, unprocessed) = if take_first_only && account_ids.len() > 1 {
            account_ids.split_at(1)
        } else {
            (account_ids, &[][..])
        };
        let items = self.items.read().expect("ledger lock");
        let accounts = served
            .iter()
            .filter_map(|id| items.get(&(account_pk(id), PROFILE_SK.to_string())))
            .filter_map(|item| match LedgerItem::decode(item) {
                Ok(LedgerItem::Account(account)) => Some(*account),
                // A profile that does not decode is treated as absent: the rules that need it skip.
                _ => None,
            })
            .collect();
        Ok(AccountBatch {
            accounts,
            unprocessed: unprocessed.to_vec(),
        })
    }

    async fn scan_accounts(
        &self,
        segment: ScanSegment,
        after: Option<&str>,
        limit: u32,
    ) -> Result<AccountPage, PortError> {
        self.fault()?;
        let items = self.items.read().expect("ledger lock");
        let mut page = AccountPage::default();
        let start = after.map_or(Bound::Unbounded, |pk| {
            Bound::Excluded((pk.to_string(), PROFILE_SK.to_string()))
        });
        for ((pk, sk), item) in items.range((start, Bound::Unbounded)) {
            if sk != PROFILE_SK || !segment.holds(pk) {
                continue;
            }
            match LedgerItem::decode(item) {
                Ok(LedgerItem::Account(account)) => page.accounts.push(*account),
                _ => page.undecodable += 1,
            }
            // Like DynamoDB: at the limit, hand back where it stopped (the next page may be empty).
            if page.accounts.len() + page.undecodable as usize >= limit as usize {
                page.next = Some(pk.clone());
                break;
            }
        }
        Ok(page)
    }

    async fn query_transactions(&self, query: &TransactionQuery<'_>) -> Result<TransactionPage, PortError> {
        self.fault()?;
        let pk = account_pk(query.account_id);
        let (low, high) = transaction_range(query.from, query.to);
        let items = self.items.read().expect("ledger lock");
        let range = items.range((pk.clone(), low)..(pk.clone(), high));
        let in_order: Box<dyn Iterator<Item = _>> = if query.newest_first {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut page = TransactionPage::default();
        let mut taken = 0u32;
        for ((_, sk), item) in in_order {
            if let Some(after) = query.after {
                let past = if query.newest_first {
                    sk.as_str() < after
                } else {
                    sk.as_str() > after
                };
                if !past {
                    continue;
                }
            }
            if taken == query.limit {
                break;
            }
            taken += 1;
            page.next = (taken == query.limit).then(|| sk.clone());
            page.take(item, query);
        }
        Ok(page)
    }

    async fn put_transaction(
        &self,
        transaction: &Transaction,
        fingerprint: &str,
    ) -> Result<TransactionWrite, PortError> {
        self.fault()?;
        let pk = account_pk(&transaction.account_id);
        let marker_key = (pk.clone(), keys::marker_sk(&transaction.transaction_id));
        let mut items = self.items.write().expect("ledger lock");
        if let Some(marker) = items.get(&marker_key) {
            let fingerprint = match marker.get("fingerprint") {
                Some(serde_dynamo::AttributeValue::S(f)) => f.clone(),
                _ => String::new(),
            };
            return Ok(TransactionWrite::AlreadyStored { fingerprint });
        }
        let txn_key = (pk, transaction.sort_key());
        if items.contains_key(&txn_key) {
            // Written straight into the table by another system, without a marker.
            return Ok(TransactionWrite::AlreadyStored {
                fingerprint: String::new(),
            });
        }
        items.insert(marker_key, transaction.uniqueness_marker(fingerprint));
        items.insert(txn_key, transaction.to_item());
        Ok(TransactionWrite::Stored)
    }

    async fn put_account(&self, account: &Account) -> Result<AccountWrite, PortError> {
        self.fault()?;
        let key = (account_pk(&account.account_id), PROFILE_SK.to_string());
        let mut items = self.items.write().expect("ledger lock");
        if let Some(existing) = items.get(&key) {
            return match LedgerItem::decode(existing) {
                Ok(LedgerItem::Account(existing)) => Ok(AccountWrite::AlreadyExists(existing)),
                _ => Err(PortError::permanent("the existing ACCOUNT item does not decode")),
            };
        }
        items.insert(key, account.to_item());
        Ok(AccountWrite::Created)
    }
}

type EntryFault = Box<dyn Fn(u32, &BusEntry) -> Option<String> + Send + Sync>;
type CallFault = Box<dyn Fn(u32) -> Option<PortError> + Send + Sync>;

/// A bus that keeps what it accepted, in order, and every call it was sent.
#[derive(Default)]
pub struct MemoryBus {
    published: Mutex<Vec<BusEntry>>,
    calls: Mutex<Vec<Vec<BusEntry>>>,
    log_calls: bool,
    entry_fault: Option<EntryFault>,
    call_fault: Option<CallFault>,
}

impl MemoryBus {
    pub fn new() -> Self {
        MemoryBus::default()
    }

    /// Fails an entry of call number n (0-based) with the returned error code.
    pub fn failing_entries(fault: impl Fn(u32, &BusEntry) -> Option<String> + Send + Sync + 'static) -> Self {
        MemoryBus {
            entry_fault: Some(Box::new(fault)),
            ..MemoryBus::default()
        }
    }

    /// Fails call number n (0-based) as a whole.
    pub fn failing_calls(fault: impl Fn(u32) -> Option<PortError> + Send + Sync + 'static) -> Self {
        MemoryBus {
            call_fault: Some(Box::new(fault)),
            ..MemoryBus::default()
        }
    }

    pub fn published(&self) -> Vec<BusEntry> {
        self.published.lock().expect("bus lock").clone()
    }

    /// Also keep a copy of every call's entries (see `calls`).
    pub fn logging_calls(mut self) -> Self {
        self.log_calls = true;
        self
    }

    /// The entries of every call made, failed calls and entries included (when logging).
    pub fn calls(&self) -> Vec<Vec<BusEntry>> {
        self.calls.lock().expect("bus lock").clone()
    }

    pub fn call_count(&self) -> usize {
        self.calls.lock().expect("bus lock").len()
    }
}

impl EventBus for MemoryBus {
    async fn put_events(&self, entries: &[&BusEntry]) -> Result<Vec<EntryResult>, PortError> {
        let call_index = {
            let mut calls = self.calls.lock().expect("bus lock");
            calls.push(if self.log_calls {
                entries.iter().map(|e| (*e).clone()).collect()
            } else {
                Vec::new()
            });
            (calls.len() - 1) as u32
        };
        if let Some(error) = self.call_fault.as_ref().and_then(|fault| fault(call_index)) {
            return Err(error);
        }
        crate::ports::check_put_events_call(entries)?;
        let mut published = self.published.lock().expect("bus lock");
        let results = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                if let Some(refused) = entry.refusal() {
                    return refused;
                }
                match self.entry_fault.as_ref().and_then(|fault| fault(call_index, entry)) {
                    Some(error_code) => EntryResult::Failed {
                        error_code,
                        error_message: "injected failure".into(),
                    },
                    None => {
                        published.push((*entry).clone());
                        EntryResult::Accepted {
                            event_id: format!("{call_index}-{i}"),
                        }
                    }
                }
            })
            .collect();
        Ok(results)
    }
}

/// Audit records by event_id, with a conditional put as DynamoDB's.
#[derive(Default)]
pub struct MemoryAuditLog {
    records: Mutex<BTreeMap<String, AuditRecord>>,
    /// This many next writes fail with a transient error.
    failing_writes: Mutex<u32>,
}

impl MemoryAuditLog {
    pub fn new() -> Self {
        MemoryAuditLog::default()
    }

    pub fn fail_next_writes(&self, count: u32) {
        *self.failing_writes.lock().expect("audit lock") = count;
    }

    pub fn records(&self) -> Vec<AuditRecord> {
        self.records.lock().expect("audit lock").values().cloned().collect()
    }
}

impl AuditLog for MemoryAuditLog {
    async fn put_if_absent(&self, record: &AuditRecord) -> Result<PutOutcome, PortError> {
        {
            let mut failing = self.failing_writes.lock().expect("audit lock");
            if *failing > 0 {
                *failing -= 1;
                return Err(PortError::transient("ProvisionedThroughputExceededException: injected"));
            }
        }
        let mut records = self.records.lock().expect("audit lock");
        if records.contains_key(&record.event_id) {
            return Ok(PutOutcome::AlreadyPresent);
        }
        records.insert(record.event_id.clone(), record.clone());
        Ok(PutOutcome::Written)
    }
}

/// Idempotency records in memory, with the conditional semantics of the DynamoDB store.
#[derive(Default)]
pub struct MemoryIdempotency {
    keys: Mutex<BTreeMap<String, KeyRecord>>,
}

impl MemoryIdempotency {
    pub fn new() -> Self {
        MemoryIdempotency::default()
    }
}

impl Idempotency for MemoryIdempotency {
    async fn claim(
        &self,
        key: &str,
        now: chrono::DateTime<chrono::Utc>,
        in_progress_until: chrono::DateTime<chrono::Utc>,
    ) -> Result<Claim, PortError> {
        let mut keys = self.keys.lock().expect("idempotency lock");
        if let Some(found) = keys.get(key).and_then(|record| record.holds_at(now)) {
            return Ok(found);
        }
        keys.insert(key.to_string(), KeyRecord::in_progress(in_progress_until));
        Ok(Claim::Acquired)
    }

    async fn complete(&self, key: &str, expires_at: chrono::DateTime<chrono::Utc>) -> Result<(), PortError> {
        self.keys
            .lock()
            .expect("idempotency lock")
            .insert(key.to_string(), KeyRecord::completed(expires_at));
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), PortError> {
        let mut keys = self.keys.lock().expect("idempotency lock");
        if keys.get(key).is_some_and(KeyRecord::is_releasable) {
            keys.remove(key);
        }
        Ok(())
    }
}

/// The signing secret of local runs and of the sample API Gateway events in `events/api/`.
/// Public on purpose: it protects nothing.
pub const LOCAL_SIGNING_SECRET: &str = "txn-notify-local-signing-secret";

/// Signing secrets held in memory; rotating moves the current one to previous, as Secrets
/// Manager's AWSCURRENT / AWSPREVIOUS do. Counts the fetches, for cache tests.
pub struct MemorySecrets {
    secrets: Mutex<crate::ports::SigningSecrets>,
    fetches: std::sync::atomic::AtomicU32,
    failing: std::sync::atomic::AtomicBool,
}

impl MemorySecrets {
    pub fn new(current: &[u8]) -> Self {
        MemorySecrets {
            secrets: Mutex::new(crate::ports::SigningSecrets {
                current: current.to_vec(),
                previous: None,
            }),
            fetches: std::sync::atomic::AtomicU32::new(0),
            failing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn local() -> Self {
        MemorySecrets::new(LOCAL_SIGNING_SECRET.as_bytes())
    }

    pub fn rotate(&self, new_current: &[u8]) {
        let mut secrets = self.secrets.lock().expect("secrets lock");
        let old = std::mem::replace(&mut secrets.current, new_current.to_vec());
        secrets.previous = Some(old);
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn fetches(&self) -> u32 {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl crate::ports::Secrets for MemorySecrets {
    async fn signing_secrets(&self) -> Result<crate::ports::SigningSecrets, PortError> {
        self.fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(PortError::transient("InternalServiceError: injected"));
        }
        Ok(self.secrets.lock().expect("secrets lock").clone())
    }
}
