//! Email feedback from SES: SES's events about the emails the notifier sent, read from the
//! configuration set's EventBridge events. `ses_event` reads them; the
//! delivery state they move is `domain::DeliveryState::advanced_by`.

pub mod address;
pub mod ses_event;

pub use address::{AddressMark, mark_undeliverable};
pub use ses_event::{BounceType, FeedbackKind, SesEventError, SesFeedback};
