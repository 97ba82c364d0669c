//! A POST /v1/accounts body.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::checks::{check_category, check_email, check_id, check_name, check_time_zone};
use super::reader::{Object, Reader};
use crate::domain::Account;
use crate::domain::account::{AccountStatus, AccountThresholds, Holder, Locale, Preferences};
use crate::domain::pii::Pii;
use crate::pipeline::ingest::problem::FieldError;

pub const ACCOUNT_FIELDS: &[&str] = &[
    "account_id",
    "holder",
    "email",
    "locale",
    "country",
    "currency",
    "time_zone",
    "thresholds",
    "preferences",
];

/// A POST /v1/accounts body; the account is created active, now.
pub fn account(body: &Object, now: DateTime<Utc>) -> Result<Account, Vec<FieldError>> {
    let mut r = Reader::default();
    r.refuse_unknown(body, "", ACCOUNT_FIELDS);
    let account_id = r.string(body, "", "account_id", true, check_id);
    let holder = r.object(body, "", "holder", true).and_then(|h| {
        r.refuse_unknown(h, "holder", &["first_name", "last_name"]);
        let first_name = r.string(h, "holder", "first_name", true, check_name);
        let last_name = r.string(h, "holder", "last_name", true, check_name);
        Some(Holder {
            first_name: Pii(first_name?),
            last_name: Pii(last_name?),
        })
    });
    let email = r.string(body, "", "email", true, check_email);
    let locale = match body.get("locale") {
        None | Some(Value::Null) => Some(Locale::Fr),
        Some(_) => r.parsed(body, "", "locale", true, Locale::parse, "fr or en"),
    };
    let country = r.country(body, "", "country");
    let currency = r.currency(body, "", "currency");
    let time_zone = r.string(body, "", "time_zone", false, check_time_zone);
    let thresholds = match r.object(body, "", "thresholds", false) {
        None => AccountThresholds::default(),
        Some(t) => {
            r.refuse_unknown(
                t,
                "thresholds",
                &["large_amount_minor", "low_balance_minor", "cash_withdrawal_minor"],
            );
            AccountThresholds {
                large_amount_minor: r.positive(t, "thresholds", "large_amount_minor", false),
                low_balance_minor: r.integer(t, "thresholds", "low_balance_minor", false),
                cash_withdrawal_minor: r.positive(t, "thresholds", "cash_withdrawal_minor", false),
            }
        }
    };
    let preferences = match r.object(body, "", "preferences", false) {
        None => Preferences::default(),
        Some(p) => {
            r.refuse_unknown(
                p,
                "preferences",
                &[
                    "email_enabled",
                    "muted_categories",
                    "min_amount_minor",
                    "statement_enabled",
                ],
            );
            let muted = match p.get("muted_categories") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| match item.as_str().map(|t| (t, check_category(t))) {
                        Some((text, Ok(()))) => Some(text.to_string()),
                        Some((_, Err(invalid))) => {
                            r.error(format!("preferences.muted_categories[{i}]"), invalid.0);
                            None
                        }
                        None => {
                            r.error(format!("preferences.muted_categories[{i}]"), "must be a string");
                            None
                        }
                    })
                    .collect(),
                Some(_) => {
                    r.error("preferences.muted_categories".into(), "must be an array of categories");
                    Vec::new()
                }
            };
            Preferences {
                email_enabled: r.boolean(p, "preferences", "email_enabled").unwrap_or(true),
                muted_categories: muted,
                min_amount_minor: r.positive(p, "preferences", "min_amount_minor", false),
                statement_enabled: r.boolean(p, "preferences", "statement_enabled").unwrap_or(true),
            }
        }
    };
    let account = (|| {
        Some(Account {
            account_id: account_id?,
            holder: holder?,
            email: Pii(email?),
            locale: locale?,
            country: country?,
            currency: currency?,
            status: AccountStatus::Active,
            created_at: now,
            thresholds,
            preferences,
            time_zone,
            version: 1,
            email_status: None,
            previous_email: None,
            updated_at: None,
        })
    })();
    r.into_result(account)
}
