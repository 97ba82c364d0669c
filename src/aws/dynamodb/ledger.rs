//! The `ledger` table on DynamoDB.
//!
//! | port call | DynamoDB | what it relies on |
//! |---|---|---|
//! | `batch_get_accounts` | BatchGetItem of `(ACCOUNT#id, PROFILE)`, ≤ 100 keys | UnprocessedKeys handed back; the use case asks again with backoff |
//! | `accounts_in_zone` | Query of the sparse GSI `accounts-by-zone` (keys only): `statement_zone = :zone`, Limit, eventually consistent | only account items carry the key, so no transaction is read; the cursor is the last account_id (LastEvaluatedKey is rebuilt from it) |
//! | `query_transactions` | Query `pk = ACCOUNT#id AND sk BETWEEN TXN#<from> AND TXN#<to>`, ScanIndexForward | the cursor is the last sort key read; booked_at is then checked exactly |
//! | `put_transaction` | TransactWriteItems: the uniqueness marker `TXNID#<id>` and the transaction, each on `attribute_not_exists(pk)` | a cancelled transaction says which condition failed; the marker's fingerprint comes back with it |
//! | `put_account` | PutItem on `attribute_not_exists(pk)` | the existing item comes back on a failed condition |
//! | `get_account` | GetItem of `(ACCOUNT#id, PROFILE)`, ConsistentRead | what a write that returned wrote |
//! | `update_account` | PutItem on `version = :expected` (at 1 also: `attribute_exists(pk) AND attribute_not_exists(version)`) | a failed condition returns the item (ALL_OLD): absent is Missing, else Stale with its version |
//!
//! Throttling and 5xx are retried by the SDK (see `clients`), then reported transient.
//! Every read asks for ReturnConsumedCapacity TOTAL (free) and adds it to `read_units()`,
//! so that a run can say what it cost.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    ConsumedCapacity, KeysAndAttributes, Put, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure, Select,
    TransactWriteItem,
};

use super::item::{SdkItem, from_sdk, n, s, string, to_sdk};
use crate::aws::failure::{classify, service_code};
use crate::domain::item::LedgerItem;
use crate::domain::keys::{self, PROFILE_SK, account_pk, transaction_range};
use crate::domain::{Account, Transaction};
use crate::ports::{
    AccountBatch, AccountIdPage, AccountUpdate, AccountWrite, Ledger, MAX_ACCOUNTS_PER_BATCH_GET, PortError,
    TransactionPage, TransactionQuery, TransactionWrite,
};

const ONLY_IF_NEW: &str = "attribute_not_exists(pk)";

#[derive(Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
    /// Read capacity consumed by this adapter's reads, in thousandths of a unit.
    read_milli_units: Arc<AtomicU64>,
}

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoLedger {
            client,
            table: table.into(),
            read_milli_units: Arc::default(),
        }
    }

    /// Read capacity units its reads consumed so far, as DynamoDB reported them.
    pub fn read_units(&self) -> f64 {
        self.read_milli_units.load(Ordering::Relaxed) as f64 / 1000.0
    }

    fn count_read(&self, consumed: Option<&ConsumedCapacity>) {
        if let Some(units) = consumed.and_then(ConsumedCapacity::capacity_units) {
            self.read_milli_units
                .fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn profile_key(account_id: &str) -> SdkItem {
        HashMap::from([
            ("pk".to_string(), s(account_pk(account_id))),
            ("sk".to_string(), s(PROFILE_SK)),
        ])
    }

    /// The item at (pk, sk), read strongly consistent.
    async fn get(&self, pk: String, sk: String) -> Result<Option<SdkItem>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("GetItem", &e))?;
        self.count_read(output.consumed_capacity());
        Ok(output.item)
    }
}

impl DynamoLedger {
    /// PutItem of an account's profile on `condition` (`:expected` bound when given). None:
    /// written. Some: the condition failed, with the item that was there (ALL_OLD, or read
    /// again when an emulator leaves it out), None when there was none.
    async fn put_profile(
        &self,
        account: &Account,
        condition: &str,
        expected: Option<aws_sdk_dynamodb::types::AttributeValue>,
    ) -> Result<Option<Option<SdkItem>>, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_sdk(account.to_item())))
            .condition_expression(condition)
            .set_expression_attribute_values(expected.map(|v| HashMap::from([(":expected".to_string(), v)])))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(None),
            Err(error) => error,
        };
        let Some(PutItemError::ConditionalCheckFailedException(failed)) = error.as_service_error() else {
            return Err(classify("PutItem", &error));
        };
        Ok(Some(match failed.item() {
            Some(item) => Some(item.clone()),
            None => {
                self.get(account_pk(&account.account_id), PROFILE_SK.to_string())
                    .await?
            }
        }))
    }
}

fn fingerprint_of(marker: &SdkItem) -> String {
    string(marker, "fingerprint").unwrap_or_default().to_string()
}

impl Ledger for DynamoLedger {
    async fn batch_get_accounts(&self, account_ids: &[String]) -> Result<AccountBatch, PortError> {
        if account_ids.is_empty() {
            return Ok(AccountBatch::default());
        }
        if account_ids.len() > MAX_ACCOUNTS_PER_BATCH_GET {
            return Err(PortError::permanent("BatchGetItem takes at most 100 keys"));
        }
        let mut unique: Vec<&String> = account_ids.iter().collect();
        unique.sort();
        unique.dedup();
        let keys = unique.iter().map(|id| Self::profile_key(id)).collect();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .build()
            .map_err(|e| PortError::permanent(format!("BatchGetItem: {e}")))?;
        let output = self
            .client
            .batch_get_item()
            .request_items(&self.table, request)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("BatchGetItem", &e))?;
        for consumed in output.consumed_capacity() {
            self.count_read(Some(consumed));
        }
        let mut batch = AccountBatch::default();
        let items = output
            .responses
            .and_then(|mut responses| responses.remove(&self.table))
            .unwrap_or_default();
        for item in items {
            // A profile that does not decode is treated as absent: the rules that need it skip.
            if let Ok(LedgerItem::Account(account)) = LedgerItem::decode(&from_sdk(item)) {
                batch.accounts.push(*account);
            }
        }
        if let Some(unprocessed) = output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
            batch.unprocessed = unprocessed
                .keys
                .iter()
                .filter_map(|key| keys::account_id_of(string(key, "pk")?).map(str::to_string))
                .collect();
        }
        Ok(batch)
    }

    async fn accounts_in_zone(&self, zone: &str, after: Option<&str>, limit: u32) -> Result<AccountIdPage, PortError> {
        // An index's LastEvaluatedKey holds its own keys and the table's: all four follow
        // from the account id.
        let start = after.map(|account_id| {
            HashMap::from([
                (keys::STATEMENT_ZONE.to_string(), s(zone)),
                (keys::ACCOUNTS_BY_ZONE_SORT_KEY.to_string(), s(account_id)),
                ("pk".to_string(), s(account_pk(account_id))),
                ("sk".to_string(), s(PROFILE_SK)),
            ])
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::ACCOUNTS_BY_ZONE_INDEX)
            .key_condition_expression("#zone = :zone")
            .projection_expression("#id")
            .expression_attribute_names("#zone", keys::STATEMENT_ZONE)
            .expression_attribute_names("#id", keys::ACCOUNTS_BY_ZONE_SORT_KEY)
            .expression_attribute_values(":zone", s(zone))
            .limit(limit.clamp(1, i32::MAX as u32) as i32)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("Query", &e))?;
        self.count_read(output.consumed_capacity());
        let account_ids = output
            .items()
            .iter()
            .filter_map(|item| string(item, keys::ACCOUNTS_BY_ZONE_SORT_KEY).map(str::to_string))
            .collect();
        Ok(AccountIdPage {
            account_ids,
            next: output
                .last_evaluated_key()
                .and_then(|key| string(key, keys::ACCOUNTS_BY_ZONE_SORT_KEY).map(str::to_string)),
        })
    }

    async fn query_transactions(&self, query: &TransactionQuery<'_>) -> Result<TransactionPage, PortError> {
        let pk = account_pk(query.account_id);
        let (low, high) = transaction_range(query.from, query.to);
        let start = query
            .after
            .map(|sk| HashMap::from([("pk".to_string(), s(pk.clone())), ("sk".to_string(), s(sk))]));
        // BETWEEN is inclusive, but `high` is a bare timestamp that every sort key of that
        // second sorts after (they go on with `Z#<id>` or a fraction), so none of them is in.
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(pk.clone()))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high))
            .scan_index_forward(!query.newest_first)
            .limit(query.limit.clamp(1, i32::MAX as u32) as i32)
            .select(Select::AllAttributes)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify("Query", &e))?;
        self.count_read(output.consumed_capacity());
        let mut page = TransactionPage::default();
        for item in output.items.unwrap_or_default() {
            page.take(&from_sdk(item), query);
        }
        page.next = output
            .last_evaluated_key
            .and_then(|key| string(&key, "sk").map(str::to_string));
        Ok(page)
    }

    async fn put_transaction(
        &self,
        transaction: &Transaction,
        fingerprint: &str,
    ) -> Result<TransactionWrite, PortError> {
        let put = |item: serde_dynamo::Item, return_old: bool| {
            let mut put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_sdk(item)))
                .condition_expression(ONLY_IF_NEW);
            if return_old {
                put = put.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            }
            put.build()
                .map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(|e| PortError::permanent(format!("TransactWriteItems: {e}")))
        };
        let marker = put(transaction.uniqueness_marker(fingerprint), true)?;
        let item = put(transaction.to_item(), false)?;
        let error = match self
            .client
            .transact_write_items()
            .transact_items(marker)
            .transact_items(item)
            .send()
            .await
        {
            Ok(_) => return Ok(TransactionWrite::Stored),
            Err(error) => error,
        };
        if service_code(&error) != Some("TransactionCanceledException") {
            return Err(classify("TransactWriteItems", &error));
        }
        let reasons = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                cancelled.cancellation_reasons().to_vec()
            }
            _ => Vec::new(),
        };
        let failed = |index: usize| {
            reasons
                .get(index)
                .and_then(|r| r.code())
                .is_some_and(|code| code == "ConditionalCheckFailed")
        };
        if failed(0) {
            // The id is taken: the marker says by which request.
            let marker = match reasons[0].item() {
                Some(old) => old.clone(),
                None => self
                    .get(
                        account_pk(&transaction.account_id),
                        keys::marker_sk(&transaction.transaction_id),
                    )
                    .await?
                    .unwrap_or_default(),
            };
            return Ok(TransactionWrite::AlreadyStored {
                fingerprint: fingerprint_of(&marker),
            });
        }
        if failed(1) {
            // The transaction item exists without a marker: another system wrote it straight
            // into the table.
            return Ok(TransactionWrite::AlreadyStored {
                fingerprint: String::new(),
            });
        }
        // TransactionConflict, ThrottlingError, … on either item: worth another try.
        let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
        Err(PortError::transient(format!(
            "TransactWriteItems: cancelled ({})",
            codes.join(", ")
        )))
    }

    async fn put_account(&self, account: &Account) -> Result<AccountWrite, PortError> {
        let Some(existing) = self.put_profile(account, ONLY_IF_NEW, None).await? else {
            return Ok(AccountWrite::Created);
        };
        match existing.map(|item| LedgerItem::decode(&from_sdk(item))) {
            Some(Ok(LedgerItem::Account(existing))) => Ok(AccountWrite::AlreadyExists(existing)),
            _ => Err(PortError::permanent("the existing ACCOUNT item does not decode")),
        }
    }

    async fn get_account(&self, account_id: &str) -> Result<Option<Account>, PortError> {
        let item = self.get(account_pk(account_id), PROFILE_SK.to_string()).await?;
        Ok(match item.map(|item| LedgerItem::decode(&from_sdk(item))) {
            Some(Ok(LedgerItem::Account(account))) => Some(*account),
            _ => None,
        })
    }

    async fn update_account(&self, account: &Account, expected_version: u64) -> Result<AccountUpdate, PortError> {
        // An item written before versions has none: it is at version 1.
        let condition = if expected_version == 1 {
            "attribute_exists(pk) AND (attribute_not_exists(version) OR version = :expected)"
        } else {
            "version = :expected"
        };
        let expected = Some(n(expected_version as i64));
        Ok(match self.put_profile(account, condition, expected).await? {
            None => AccountUpdate::Updated,
            Some(None) => AccountUpdate::Missing,
            Some(Some(item)) => AccountUpdate::Stale {
                current: Account::stored_version(&from_sdk(item)),
            },
        })
    }
}
