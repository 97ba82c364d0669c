//! The `Ledger` port on the embedded store, with the conditions of the DynamoDB adapter.

use std::collections::HashMap;

use rusqlite::params;
use rusqlite::types::ValueRef;

use super::{EmbeddedStore, atomic, codec, insert_in, item_exists, item_of, read_item, write_in};
use crate::domain::item::LedgerItem;
use crate::domain::keys::{self, PROFILE_SK, account_pk, transaction_range};
use crate::domain::{Account, Transaction};
use crate::ports::{
    AccountBatch, AccountIdPage, AccountUpdate, AccountWrite, Clock, Ledger, MAX_ACCOUNTS_PER_BATCH_GET, PortError,
    TransactionPage, TransactionQuery, TransactionWrite,
};

/// Account profiles decoded before, by account id, with the stored bytes each was decoded
/// from: a profile read again is decoded again only when its bytes changed. Checked against
/// the bytes, never invalidated by writes, so no write path, rollback or crash can leave it
/// stale.
#[derive(Default)]
pub(super) struct DecodedProfiles {
    by_account: HashMap<String, (Vec<u8>, Option<Account>)>,
}

/// Profiles kept decoded at most (about 2 KB each); past it they are all let go.
const DECODED_PROFILES_KEPT: usize = 5_000;

impl DecodedProfiles {
    /// The profile stored as `stored` (a ledger item's column) for `account_id`: None for an
    /// item that is no account. A stored value that does not read as an item is an error,
    /// as it is for every read of the ledger.
    fn account(&mut self, account_id: &str, stored: ValueRef<'_>) -> rusqlite::Result<Option<&Account>> {
        let bytes = match stored {
            ValueRef::Blob(bytes) | ValueRef::Text(bytes) => bytes,
            _ => &[],
        };
        let known = self.by_account.get(account_id).is_some_and(|(kept, _)| kept == bytes);
        if !known {
            let text = codec::unpack(stored).map_err(|error| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    stored.data_type(),
                    Box::new(rusqlite::types::FromSqlError::Other(Box::new(error))),
                )
            })?;
            let item = item_of(&text)?;
            let account = match LedgerItem::decode(&item) {
                Ok(LedgerItem::Account(account)) => Some(*account),
                _ => None,
            };
            if self.by_account.len() >= DECODED_PROFILES_KEPT {
                self.by_account.clear();
            }
            self.by_account
                .insert(account_id.to_string(), (bytes.to_vec(), account));
        }
        Ok(self
            .by_account
            .get(account_id)
            .and_then(|(_, account)| account.as_ref()))
    }
}

fn decode_text(text: &str) -> Option<serde_dynamo::Item> {
    serde_json::from_str(text).ok()
}

impl<C: Clock> Ledger for EmbeddedStore<C> {
    async fn batch_get_accounts(&self, account_ids: &[String]) -> Result<AccountBatch, PortError> {
        if account_ids.len() > MAX_ACCOUNTS_PER_BATCH_GET {
            return Err(PortError::permanent("BatchGetItem takes at most 100 keys"));
        }
        let mut batch = AccountBatch::default();
        self.with(|connection| {
            let mut decoded = self.profiles.lock().expect("profiles lock");
            let mut select = connection.prepare_cached("SELECT item FROM ledger WHERE pk = ?1 AND sk = ?2")?;
            for id in account_ids {
                let mut rows = select.query(params![account_pk(id), PROFILE_SK])?;
                let Some(row) = rows.next()? else { continue };
                if let Some(account) = decoded.account(id, row.get_ref(0)?)?
                    && !batch.accounts.iter().any(|a| a.account_id == account.account_id)
                {
                    batch.accounts.push(account.clone());
                }
            }
            Ok(())
        })?;
        Ok(batch)
    }

    async fn accounts_in_zone(&self, zone: &str, after: Option<&str>, limit: u32) -> Result<AccountIdPage, PortError> {
        // The partial index `ledger_by_zone` plays the sparse GSI.
        let after_pk = after.map(account_pk).unwrap_or_default();
        let pks: Vec<String> = self.with(|connection| {
            let mut statement = connection.prepare_cached(&format!(
                "SELECT pk FROM ledger WHERE sk = '{PROFILE_SK}' AND statement_zone = ?1 AND pk > ?2 ORDER BY pk LIMIT ?3"
            ))?;
            let rows = statement.query_map(params![zone, after_pk, i64::from(limit.max(1))], |row| row.get(0))?;
            rows.collect()
        })?;
        let full = pks.len() == limit.max(1) as usize;
        let account_ids: Vec<String> = pks
            .iter()
            .filter_map(|pk| keys::account_id_of(pk).map(str::to_string))
            .collect();
        Ok(AccountIdPage {
            next: if full { account_ids.last().cloned() } else { None },
            account_ids,
        })
    }

    async fn query_transactions(&self, query: &TransactionQuery<'_>) -> Result<TransactionPage, PortError> {
        let pk = account_pk(query.account_id);
        let (low, high) = transaction_range(query.from, query.to);
        let sql = if query.newest_first {
            "SELECT sk, item FROM ledger WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 AND sk < ?4 ORDER BY sk DESC LIMIT ?5"
        } else {
            "SELECT sk, item FROM ledger WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 AND sk > ?4 ORDER BY sk LIMIT ?5"
        };
        // Past the cursor: below it going down, above it going up.
        let cursor = match (query.after, query.newest_first) {
            (Some(after), _) => after.to_string(),
            (None, true) => high.clone(),
            (None, false) => String::new(),
        };
        // An item that does not read back counts as undecodable, as one that is not JSON.
        let rows: Vec<(String, Option<String>)> = self.with(|connection| {
            let mut statement = connection.prepare_cached(sql)?;
            let rows = statement.query_map(params![pk, low, high, cursor, query.limit as i64], |row| {
                Ok((row.get(0)?, codec::unpack(row.get_ref(1)?).ok().map(String::from)))
            })?;
            rows.collect()
        })?;
        let mut page = TransactionPage::default();
        let full = rows.len() as u32 == query.limit;
        let last = rows.last().map(|(sk, _)| sk.clone());
        for (_, text) in rows {
            match text.as_deref().and_then(decode_text) {
                Some(item) => page.take(&item, query),
                None => page.undecodable += 1,
            }
        }
        // Like DynamoDB: at the limit, hand back where it stopped (the next page may be empty).
        page.next = if full { last } else { None };
        Ok(page)
    }

    async fn put_transaction(
        &self,
        transaction: &Transaction,
        fingerprint: &str,
    ) -> Result<TransactionWrite, PortError> {
        let now = self.clock.now();
        let pk = account_pk(&transaction.account_id);
        let marker_sk = keys::marker_sk(&transaction.transaction_id);
        let item_sk = transaction.sort_key();
        self.with(|connection| {
            atomic(connection, |tx| {
                if let Some(marker) = read_item(tx, &pk, &marker_sk)? {
                    let fingerprint = match marker.get("fingerprint") {
                        Some(serde_dynamo::AttributeValue::S(f)) => f.clone(),
                        _ => String::new(),
                    };
                    return Ok(TransactionWrite::AlreadyStored { fingerprint });
                }
                if item_exists(tx, &pk, &item_sk)? {
                    // Written straight into the table by another system, without a marker.
                    return Ok(TransactionWrite::AlreadyStored {
                        fingerprint: String::new(),
                    });
                }
                insert_in(tx, &pk, &marker_sk, transaction.uniqueness_marker(fingerprint), now)?;
                insert_in(tx, &pk, &item_sk, transaction.to_item(), now)?;
                Ok(TransactionWrite::Stored)
            })
        })
    }

    async fn put_account(&self, account: &Account) -> Result<AccountWrite, PortError> {
        let now = self.clock.now();
        let pk = account_pk(&account.account_id);
        let existing = self.with(|connection| {
            atomic(connection, |tx| {
                if let Some(existing) = read_item(tx, &pk, PROFILE_SK)? {
                    return Ok(Some(existing));
                }
                insert_in(tx, &pk, PROFILE_SK, account.to_item(), now)?;
                Ok(None)
            })
        })?;
        match existing.map(|item| LedgerItem::decode(&item)) {
            None => Ok(AccountWrite::Created),
            Some(Ok(LedgerItem::Account(existing))) => Ok(AccountWrite::AlreadyExists(existing)),
            Some(_) => Err(PortError::permanent("the existing ACCOUNT item does not decode")),
        }
    }

    async fn get_account(&self, account_id: &str) -> Result<Option<Account>, PortError> {
        let item = self.with(|connection| read_item(connection, &account_pk(account_id), PROFILE_SK))?;
        Ok(match item.map(|item| LedgerItem::decode(&item)) {
            Some(Ok(LedgerItem::Account(account))) => Some(*account),
            _ => None,
        })
    }

    async fn update_account(&self, account: &Account, expected_version: u64) -> Result<AccountUpdate, PortError> {
        let now = self.clock.now();
        let pk = account_pk(&account.account_id);
        self.with(|connection| {
            atomic(connection, |tx| {
                let Some(existing) = read_item(tx, &pk, PROFILE_SK)? else {
                    return Ok(AccountUpdate::Missing);
                };
                let current = Account::stored_version(&existing);
                if current != expected_version {
                    return Ok(AccountUpdate::Stale { current });
                }
                write_in(tx, &pk, PROFILE_SK, Some(account.to_item()), now, false)?;
                Ok(AccountUpdate::Updated)
            })
        })
    }
}
