//! The idempotency table on DynamoDB, with the record shape of Powertools' idempotency
//! utility: `id` (key), `status` (INPROGRESS or COMPLETED), `in_progress_expiration` (epoch
//! milliseconds), `expiration` (epoch seconds, the table's TTL attribute) and `data` (the
//! effect's result, completed records only).
//!
//! | port call | DynamoDB |
//! |---|---|
//! | `claim` | PutItem INPROGRESS on: no record, or a COMPLETED one whose `expiration` passed, or an INPROGRESS one whose `in_progress_expiration` passed (`domain::idempotency`'s rule, as a condition). A failed condition returns the record (ALL_OLD), which says Completed or InProgress |
//! | `complete` | UpdateItem: `status = COMPLETED`, `expiration`, `data` (or removed), `in_progress_expiration` removed |
//! | `release` | DeleteItem on `status = INPROGRESS` (a completed record is never deleted) |
//!
//! TTL deletes lazily (within days), so the expiry checks never rely on it: an expired
//! record that is still there counts as absent.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Utc};

use super::item::{n, s, string};
use crate::aws::failure::classify;
use crate::domain::idempotency::{KeyRecord, KeyStatus};
use crate::ports::{Claim, Idempotency, PortError};

const IN_PROGRESS: &str = KeyStatus::InProgress.as_str();
const COMPLETED: &str = KeyStatus::Completed.as_str();

#[derive(Clone)]
pub struct DynamoIdempotency {
    client: Client,
    table: String,
}

impl DynamoIdempotency {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoIdempotency {
            client,
            table: table.into(),
        }
    }
}

impl Idempotency for DynamoIdempotency {
    async fn claim(&self, key: &str, now: DateTime<Utc>, in_progress_until: DateTime<Utc>) -> Result<Claim, PortError> {
        let record = KeyRecord::in_progress(in_progress_until);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", s(key))
            .item("status", s(IN_PROGRESS))
            .item(
                "in_progress_expiration",
                n(record.in_progress_until_ms.unwrap_or_default()),
            )
            .item("expiration", n(record.expires_at_s))
            .condition_expression(
                "attribute_not_exists(id) \
                 OR (#status = :completed AND #expiration < :now_s) \
                 OR (#status = :in_progress AND in_progress_expiration < :now_ms)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#expiration", "expiration")
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":now_s", n(now.timestamp()))
            .expression_attribute_values(":now_ms", n(now.timestamp_millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(Claim::Acquired),
            Err(error) => error,
        };
        let Some(PutItemError::ConditionalCheckFailedException(failed)) = error.as_service_error() else {
            return Err(classify("PutItem", &error));
        };
        match failed.item().and_then(|old| string(old, "status")) {
            Some(COMPLETED) => Ok(Claim::Completed {
                result: failed.item().and_then(|old| string(old, "data")).map(str::to_string),
            }),
            // The record held; without ALL_OLD (older emulators) the safe reading is "busy":
            // the delivery is retried and sees the record again.
            _ => Ok(Claim::InProgress),
        }
    }

    async fn complete(&self, key: &str, expires_at: DateTime<Utc>, result: Option<&str>) -> Result<(), PortError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(key))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#expiration", "expiration")
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":expiration", n(KeyRecord::completed(expires_at, None).expires_at_s));
        let update = match result {
            Some(result) => update
                .update_expression(
                    "SET #status = :completed, #expiration = :expiration, #data = :data REMOVE in_progress_expiration",
                )
                .expression_attribute_names("#data", "data")
                .expression_attribute_values(":data", s(result)),
            None => update
                .update_expression(
                    "SET #status = :completed, #expiration = :expiration REMOVE in_progress_expiration, #data",
                )
                .expression_attribute_names("#data", "data"),
        };
        update.send().await.map_err(|e| classify("UpdateItem", &e))?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), PortError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("id", s(key))
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Nothing in progress to release (already completed, or gone): nothing to do.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(classify("DeleteItem", &error)),
        }
    }
}
