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

pub mod account;
pub mod audit;
pub mod category;
pub mod email;
pub mod event_id;
pub mod events;
pub mod fields;
pub mod idempotency;
pub mod item;
pub mod keys;
pub mod metadata;
pub mod money;
pub mod money_display;
pub mod pii;
pub mod rate;
pub mod text;
pub mod time;
pub mod transaction;

pub use account::Account;
pub use category::Category;
pub use events::{BusEvent, DetailType, Severity};
pub use fields::DecodeError;
pub use item::LedgerItem;
pub use money::{Currency, Money, MoneySum};
pub use transaction::Transaction;
