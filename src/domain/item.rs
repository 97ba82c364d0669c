//! What an item of the ledger table is, by its `type` attribute.

use super::account::Account;
use super::fields::{Attributes, DecodeError, Fields};
use super::item_view::ItemView;
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
        LedgerItem::decode_view(&ItemView::of_item(attributes))
    }

    /// `decode`, on an item read in place.
    pub fn decode_view(item: &ItemView) -> Result<LedgerItem, DecodeError> {
        let fields = Fields::root(item);
        match fields.string("type")? {
            keys::TRANSACTION_TYPE => Transaction::decode_view(item).map(|t| LedgerItem::Transaction(Box::new(t))),
            keys::ACCOUNT_TYPE => Account::decode_view(item).map(|a| LedgerItem::Account(Box::new(a))),
            other => Ok(LedgerItem::Other {
                item_type: other.to_string(),
            }),
        }
    }
}
