//! A PATCH /v1/accounts/{id} body: a JSON Merge Patch (RFC 7396) of the members a bank may
//! change. The patched account is checked by the same rules as a new one, so a patch can
//! never store what a creation would refuse.

use serde_json::{Value, json};

use super::account::account;
use super::reader::Object;
use crate::domain::{Account, AccountStatus};
use crate::pipeline::ingest::problem::FieldError;

/// What a patch may change.
pub const PATCHABLE_FIELDS: &[&str] = &[
    "email",
    "holder",
    "locale",
    "time_zone",
    "thresholds",
    "preferences",
    "status",
];

/// What the account keeps for good, or what only the server sets.
pub const IMMUTABLE_FIELDS: &[&str] = &[
    "account_id",
    "currency",
    "country",
    "created_at",
    "version",
    "email_status",
    "previous_email",
    "updated_at",
];

/// RFC 7396 §2: a `null` member removes, an object merges into an object, anything else
/// replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let object = target.as_object_mut().expect("an object, just made so");
    for (name, value) in members {
        if value.is_null() {
            object.remove(name);
        } else {
            merge(object.entry(name.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The account as a creation request carries it: what the patch merges into.
fn as_request(current: &Account) -> Value {
    let mut body = json!({
        "account_id": current.account_id,
        "holder": {"first_name": current.holder.first_name.expose(), "last_name": current.holder.last_name.expose()},
        "email": current.email.expose(),
        "locale": current.locale.as_str(),
        "country": current.country.as_str(),
        "currency": current.currency.code(),
        "preferences": {
            "email_enabled": current.preferences.email_enabled,
            "muted_categories": current.preferences.muted_categories,
            "statement_enabled": current.preferences.statement_enabled,
        },
    });
    if let Some(zone) = &current.time_zone {
        body["time_zone"] = json!(zone);
    }
    if let Some(min) = current.preferences.min_amount_minor {
        body["preferences"]["min_amount_minor"] = json!(min);
    }
    let t = &current.thresholds;
    let mut thresholds = serde_json::Map::new();
    for (name, value) in [
        ("large_amount_minor", t.large_amount_minor),
        ("low_balance_minor", t.low_balance_minor),
        ("cash_withdrawal_minor", t.cash_withdrawal_minor),
    ] {
        if let Some(value) = value {
            thresholds.insert(name.into(), json!(value));
        }
    }
    if !thresholds.is_empty() {
        body["thresholds"] = Value::Object(thresholds);
    }
    body
}

/// The account with the patch applied, or every problem of the patch. What only the server
/// sets (version, the time of the change, the address history) is left as it was: the use
/// case sets it once it knows something changed.
pub fn patched(current: &Account, patch: &Object) -> Result<Account, Vec<FieldError>> {
    let mut errors = Vec::new();
    for name in patch.keys() {
        if IMMUTABLE_FIELDS.contains(&name.as_str()) {
            errors.push(FieldError::new(name.as_str(), "cannot be changed"));
        } else if !PATCHABLE_FIELDS.contains(&name.as_str()) {
            errors.push(FieldError::new(name.as_str(), "unknown field"));
        }
    }
    let status = match patch.get("status") {
        None => Some(current.status),
        Some(Value::String(text)) => AccountStatus::parse(text).or_else(|| {
            errors.push(FieldError::new(
                "status",
                format!("must be one of {}", AccountStatus::NAMES.join(", ")),
            ));
            None
        }),
        Some(_) => {
            errors.push(FieldError::new(
                "status",
                format!("must be one of {}", AccountStatus::NAMES.join(", ")),
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut body = as_request(current);
    let mut changes = Value::Object(patch.clone());
    changes.as_object_mut().expect("an object").remove("status");
    merge(&mut body, &changes);
    let Value::Object(body) = body else {
        unreachable!("a merge into an object stays one")
    };
    let mut next = account(&body, current.created_at)?;
    next.status = status.expect("checked above");
    next.version = current.version;
    next.email_status = current.email_status.clone();
    next.previous_email = current.previous_email.clone();
    next.updated_at = current.updated_at;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_follow_rfc_7396_appendix_a() {
        // The examples of RFC 7396, Appendix A.
        for (original, patch, result) in [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
            (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
        ] {
            let mut target = original.clone();
            merge(&mut target, &patch);
            assert_eq!(target, result, "{original} + {patch}");
        }
    }
}
