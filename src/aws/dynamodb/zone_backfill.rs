//! Gives the account items of an existing ledger the `statement_zone` key of the
//! `accounts-by-zone` index, one account at a time (`txn-notify backfill-statement-zones`).
//!
//! | step | DynamoDB | why |
//! |---|---|---|
//! | read | GetItem of `(ACCOUNT#id, PROFILE)`, ConsistentRead | the item as it is now; what `Account::to_item` would make of it decides |
//! | nothing to do | — | the key is already what `to_item` would write (or the item is not an account that decodes) |
//! | write | UpdateItem `SET statement_zone = :zone` or `REMOVE statement_zone`, nothing else | on condition that `version`, `status`, `time_zone`, `preferences.statement_enabled` and `statement_zone` are still as read |
//! | the condition fails | read again, up to 5 times | the account changed meanwhile (a PATCH, a mark, another system) |
//!
//! Throttling and 5xx are retried by the SDK; what is left is that account's failure alone.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue as Sdk;

use super::item::{from_sdk, s};
use crate::aws::failure::classify;
use crate::domain::Account;
use crate::domain::keys::{self, PROFILE_SK, account_pk};
use crate::ports::PortError;

/// Reads of an account changed under us before the backfill gives up on it.
pub const MAX_ATTEMPTS: u32 = 5;

/// What became of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneBackfill {
    /// `statement_zone` set to this zone.
    Set(&'static str),
    /// `statement_zone` removed: the account is closed or unsubscribed.
    Removed,
    /// The item already carried what it should.
    Unchanged,
    /// No item at the account's key.
    Missing,
    /// An item that is not an account txn-notify can read: left alone.
    Undecodable,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error(transparent)]
    Store(#[from] PortError),
    #[error("the account changed under every one of {MAX_ATTEMPTS} attempts")]
    KeptChanging,
}

/// The attributes whose values decide `statement_zone`, compared on the write.
const GUARDED: [(&str, &str); 4] = [
    ("version", "#version"),
    ("status", "#status"),
    ("time_zone", "#time_zone"),
    (keys::STATEMENT_ZONE, "#statement_zone"),
];

#[derive(Clone)]
pub struct StatementZoneBackfill {
    client: Client,
    table: String,
}

impl StatementZoneBackfill {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        StatementZoneBackfill {
            client,
            table: table.into(),
        }
    }

    /// Reads the account and writes its `statement_zone` when it lacks the right one;
    /// `dry_run` reads only, and says what it would write.
    pub async fn backfill(&self, account_id: &str, dry_run: bool) -> Result<ZoneBackfill, BackfillError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(item) = self.read(account_id).await? else {
                return Ok(ZoneBackfill::Missing);
            };
            let plain = from_sdk(item.clone());
            if Account::decode(&plain).is_err() {
                return Ok(ZoneBackfill::Undecodable);
            }
            let outcome = match Account::statement_zone_fix(&plain) {
                None => return Ok(ZoneBackfill::Unchanged),
                Some(Some(zone)) => ZoneBackfill::Set(zone),
                Some(None) => ZoneBackfill::Removed,
            };
            if dry_run || self.write(account_id, &item, &outcome).await? {
                return Ok(outcome);
            }
        }
        Err(BackfillError::KeptChanging)
    }

    async fn read(&self, account_id: &str) -> Result<Option<HashMap<String, Sdk>>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(account_pk(account_id)))
            .key("sk", s(PROFILE_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", &e))?;
        Ok(output.item)
    }

    /// The conditional write of `outcome`. false: the item changed since it was read.
    async fn write(
        &self,
        account_id: &str,
        read: &HashMap<String, Sdk>,
        outcome: &ZoneBackfill,
    ) -> Result<bool, PortError> {
        let mut names: HashMap<String, String> = GUARDED
            .iter()
            .map(|(name, placeholder)| (placeholder.to_string(), name.to_string()))
            .collect();
        names.insert("#preferences".into(), "preferences".into());
        names.insert("#statement_enabled".into(), "statement_enabled".into());
        let mut values = HashMap::new();
        let mut conditions = vec!["attribute_exists(pk)".to_string()];
        for (name, placeholder) in GUARDED {
            match read.get(name) {
                Some(value) => {
                    let bound = format!(":was_{name}");
                    conditions.push(format!("{placeholder} = {bound}"));
                    values.insert(bound, value.clone());
                }
                None => conditions.push(format!("attribute_not_exists({placeholder})")),
            }
        }
        let enabled = "#preferences.#statement_enabled";
        match read
            .get("preferences")
            .and_then(|p| p.as_m().ok())
            .and_then(|p| p.get("statement_enabled"))
        {
            Some(value) => {
                conditions.push(format!("{enabled} = :was_statement_enabled"));
                values.insert(":was_statement_enabled".into(), value.clone());
            }
            None => conditions.push(format!("attribute_not_exists({enabled})")),
        }
        let update = match outcome {
            ZoneBackfill::Set(zone) => {
                values.insert(":zone".into(), s(*zone));
                "SET #statement_zone = :zone"
            }
            _ => "REMOVE #statement_zone",
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(account_pk(account_id)))
            .key("sk", s(PROFILE_SK))
            .update_expression(update)
            .condition_expression(conditions.join(" AND "))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(classify("UpdateItem", &error)),
            },
        }
    }
}
