//! The audit table on DynamoDB: one item per event_id, written by a PutItem on
//! `attribute_not_exists(event_id)`. A failed condition is a duplicate (a redelivery or a
//! replay), never an overwrite.
//!
//! Item: `event_id` (key), `account_id` and `occurred_at` (the `by-account` index; left out
//! when the event has none, so the index stays sparse), `detail_type`, `source`, `detail`
//! (a map, as the event carried it), `replay_name`, `received_at`, `expires_at` (TTL,
//! epoch seconds).

use aws_sdk_dynamodb::Client;
use serde::Serialize;

use super::item::to_sdk;
use crate::aws::failure::classify;
use crate::domain::audit::AuditRecord;
use crate::domain::time::format_rfc3339;
use crate::ports::{AuditLog, PortError, PutOutcome};

#[derive(Clone)]
pub struct DynamoAuditLog {
    client: Client,
    table: String,
}

impl DynamoAuditLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoAuditLog {
            client,
            table: table.into(),
        }
    }
}

#[derive(Serialize)]
struct AuditItem<'a> {
    event_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    occurred_at: Option<String>,
    detail_type: &'a str,
    source: &'a str,
    detail: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay_name: Option<&'a str>,
    received_at: String,
    expires_at: i64,
}

pub fn audit_item(record: &AuditRecord) -> Result<serde_dynamo::Item, PortError> {
    serde_dynamo::to_item(AuditItem {
        event_id: &record.event_id,
        account_id: record.account_id.as_deref(),
        occurred_at: record.occurred_at.as_ref().map(format_rfc3339),
        detail_type: &record.detail_type,
        source: &record.source,
        detail: &record.detail,
        replay_name: record.replay_name.as_deref(),
        received_at: format_rfc3339(&record.received_at),
        expires_at: record.expires_at,
    })
    .map_err(|e| PortError::permanent(format!("the audit record does not fit an item: {e}")))
}

impl AuditLog for DynamoAuditLog {
    async fn put_if_absent(&self, record: &AuditRecord) -> Result<PutOutcome, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_sdk(audit_item(record)?)))
            .condition_expression("attribute_not_exists(event_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOutcome::Written),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(PutOutcome::AlreadyPresent)
            }
            Err(error) => Err(classify("PutItem", &error)),
        }
    }
}
