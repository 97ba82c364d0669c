//! The domain: money, the ledger's items (transactions and accounts), categories and the
//! typed events that go onto the bus. Nothing here knows about AWS or the rule engine.

/// Declares a closed vocabulary stored as a string in the ledger and in events
/// (`card_purchase`, `approved`, ...), with parsing, printing and serde in one place.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            // Not every vocabulary is listed somewhere.
            #[allow(dead_code)]
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::parse(&text).ok_or_else(|| {
                    serde::de::Error::unknown_variant(&text, $name::NAMES)
                })
            }
        }
    };
}
pub(crate) use string_enum;

pub(crate) mod account;
pub(crate) mod audit;
pub(crate) mod category;
pub(crate) mod email;
pub mod event_id;
pub(crate) mod events;
pub(crate) mod fields;
pub(crate) mod idempotency;
pub(crate) mod item;
pub(crate) mod item_view;
pub(crate) mod json_reader;
pub(crate) mod json_text;
pub mod keys;
pub(crate) mod metadata;
pub(crate) mod money;
pub(crate) mod money_display;
pub(crate) mod notification;
pub(crate) mod pii;
pub(crate) mod rate;
pub mod text;
pub mod time;
pub(crate) mod transaction;
pub mod unsubscribe;

pub use account::{
    Account, AccountStatus, AccountThresholds, EmailState, EmailStatus, Holder, Locale, Preferences,
    UndeliverableReason,
};
pub use audit::AuditRecord;
pub use category::Category;
pub use email::{Email, ExtraHeader, HeaderText, Mailbox, Tag, decode_ses_tag_value, ses_tag_value};
pub use events::{
    AccountOpened, AccountSnapshot, AccountUpdated, BusEvent, CategoryTotal, DetailType, ForeignReason, Header,
    NotificationUndeliverable, Severity, StatementLine, StatementWeek, ThresholdSource, TransactionChange,
    UndeliveredFinding, UndeliveredReason, WeeklyStatement,
};
pub use fields::{Attributes, CountryCode, DecodeError, Fields, parse_integer};
pub use idempotency::{Claim, KeyRecord, KeyStatus};
pub use item::LedgerItem;
pub use metadata::{MAX_METADATA_DEPTH, MetaValue, Metadata, MetadataError};
pub use money::{Currency, MAX_AMOUNT_MINOR, Money, MoneySum};
pub use notification::{
    Decision, DeliveryState, HistoryPosition, Notification, NotificationEmail, Recipient, history_sort_key,
};
pub use pii::Pii;
pub use rate::Rate;
pub use transaction::{Channel, DeclineReason, Mcc, Merchant, Transaction, TransactionKind, TransactionStatus};
