//! What an item of the ledger table is, by its `type` attribute.

use super::account::Account;
use super::fields::{Attributes, DecodeError, Fields};
use super::keys;
use super::transaction::Transaction;

/// What an item of the ledger table is, by its `type` attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum LedgerItem {
    Transaction(Box<Transaction>),
    Account(Box<Account>),
    /// A `type` other than TXN or ACCOUNT (a uniqueness marker, say): not ours to process.
    Other {
        item_type: String,
    },
}

impl LedgerItem {
    pub fn decode(attributes: &Attributes) -> Result<LedgerItem, DecodeError> {
        let fields = Fields::root(attributes);
        match fields.string("type")? {
            keys::TRANSACTION_TYPE => Transaction::decode(attributes).map(|t| LedgerItem::Transaction(Box::new(t))),
            keys::ACCOUNT_TYPE => Account::decode(attributes).map(|a| LedgerItem::Account(Box::new(a))),
            other => Ok(LedgerItem::Other {
                item_type: other.to_string(),
            }),
        }
    }
}
