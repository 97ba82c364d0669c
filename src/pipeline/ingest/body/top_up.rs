//! A POST /v1/accounts/{id}/top-ups body.

use serde_json::Value;

use super::checks::{check_id, check_payment_method};
use super::reader::{Object, Reader};
use crate::domain::money::Money;
use crate::domain::rate::{MAX_RATE_DECIMALS, Rate};
use crate::pipeline::ingest::problem::FieldError;

#[derive(Debug, Clone, PartialEq)]
pub struct TopUpRequest {
    pub top_up_id: String,
    pub amount: Money,
    pub payment_method: String,
    pub fee_rate: Rate,
}

pub const TOP_UP_FIELDS: &[&str] = &["top_up_id", "amount_minor", "currency", "payment_method", "fee_rate"];

/// A POST /v1/accounts/{id}/top-ups body.
pub fn top_up(body: &Object) -> Result<TopUpRequest, Vec<FieldError>> {
    let mut r = Reader::default();
    r.refuse_unknown(body, "", TOP_UP_FIELDS);
    let top_up_id = r.string(body, "", "top_up_id", true, check_id);
    let amount_minor = r.positive(body, "", "amount_minor", true);
    let currency = r.currency(body, "", "currency");
    let payment_method = r.string(body, "", "payment_method", true, check_payment_method);
    let fee_rate = match r.field(body, "", "fee_rate", true) {
        None => None,
        Some(Value::Number(n)) => {
            let rate = Rate::parse(&n.to_string());
            if rate.is_none() {
                r.error(
                    "fee_rate".into(),
                    format!("must be a number between 0 and 1 with at most {MAX_RATE_DECIMALS} decimals"),
                );
            }
            rate
        }
        Some(_) => {
            r.error("fee_rate".into(), "must be a number between 0 and 1");
            None
        }
    };
    let request = (|| {
        Some(TopUpRequest {
            top_up_id: top_up_id?,
            amount: Money::new(amount_minor?, currency?),
            payment_method: payment_method?,
            fee_rate: fee_rate?,
        })
    })();
    r.into_result(request)
}
