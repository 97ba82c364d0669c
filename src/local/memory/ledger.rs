//! The ledger in memory: items by (pk, sk), with the conditions of the DynamoDB table and
//! faults injected on demand.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, RwLock};

use serde_dynamo::Item;
use serde_json::Value;

use crate::domain::item::LedgerItem;
use crate::domain::keys::{self, PROFILE_SK, account_pk, transaction_range};
use crate::domain::{Account, Transaction};
use crate::ports::{
    AccountBatch, AccountIdPage, AccountUpdate, AccountWrite, Ledger, MAX_ACCOUNTS_PER_BATCH_GET, PortError,
    TransactionPage, TransactionQuery, TransactionWrite,
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
                // An image from before the statement index: its account joins the index.
                self.put(Account::with_statement_zone(item));
            }
        }
    }
}

impl MemoryLedger {
    /// `load_stream_images`, on a batch already read: the NewImage of every INSERT and
    /// MODIFY record that has one.
    pub fn load_stream_batch(&self, batch: &crate::pipeline::StreamBatch<'_>) {
        for record in batch
            .records
            .iter()
            .filter_map(|incoming| incoming.record.as_ref().ok())
        {
            if matches!(record.event_name.as_str(), "INSERT" | "MODIFY") && !record.change.new_image.is_empty() {
                self.put(Account::with_statement_zone(record.change.new_image.to_item().into()));
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

    async fn accounts_in_zone(&self, zone: &str, after: Option<&str>, limit: u32) -> Result<AccountIdPage, PortError> {
        self.fault()?;
        let items = self.items.read().expect("ledger lock");
        let mut page = AccountIdPage::default();
        let start = after.map_or(Bound::Unbounded, |id| {
            Bound::Excluded((account_pk(id), PROFILE_SK.to_string()))
        });
        for ((pk, sk), item) in items.range((start, Bound::Unbounded)) {
            let in_zone =
                matches!(item.get(keys::STATEMENT_ZONE), Some(serde_dynamo::AttributeValue::S(z)) if z == zone);
            let Some(account_id) = keys::account_id_of(pk).filter(|_| sk == PROFILE_SK && in_zone) else {
                continue;
            };
            page.account_ids.push(account_id.to_string());
            // Like DynamoDB: at the limit, hand back where it stopped (the next page may be empty).
            if page.account_ids.len() >= limit.max(1) as usize {
                page.next = Some(account_id.to_string());
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

    async fn get_account(&self, account_id: &str) -> Result<Option<Account>, PortError> {
        self.fault()?;
        let items = self.items.read().expect("ledger lock");
        Ok(
            match items
                .get(&(account_pk(account_id), PROFILE_SK.to_string()))
                .map(|item| LedgerItem::decode(item))
            {
                Some(Ok(LedgerItem::Account(account))) => Some(*account),
                _ => None,
            },
        )
    }

    async fn update_account(&self, account: &Account, expected_version: u64) -> Result<AccountUpdate, PortError> {
        self.fault()?;
        let key = (account_pk(&account.account_id), PROFILE_SK.to_string());
        let mut items = self.items.write().expect("ledger lock");
        let Some(existing) = items.get(&key) else {
            return Ok(AccountUpdate::Missing);
        };
        let current = Account::stored_version(existing);
        if current != expected_version {
            return Ok(AccountUpdate::Stale { current });
        }
        items.insert(key, account.to_item());
        Ok(AccountUpdate::Updated)
    }
}
