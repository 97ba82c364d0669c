//! Request bodies → domain values, with every problem reported at once as a field error.
//! Unknown top-level fields are refused (a typo must not silently drop data); `metadata` is
//! free form and carried through.
//!
//! | file | what |
//! |---|---|
//! | `reader` | reads typed fields of JSON objects, collecting field errors |
//! | `checks` | what each text field must be (`Invalid` says why not) |
//! | `transaction`, `account`, `top_up` | one body each |
//! | `patch` | a JSON Merge Patch of an account, checked as a new account is |

mod account;
mod checks;
mod patch;
mod reader;
mod top_up;
mod transaction;

pub use account::{ACCOUNT_FIELDS, account};
pub use checks::{EARLIEST_BOOKED_AT, Invalid, MAX_BOOKED_AHEAD_HOURS, check_id};
pub use patch::{IMMUTABLE_FIELDS, PATCHABLE_FIELDS, merge, patched};
pub use reader::{Object, Reader};
pub use top_up::{TOP_UP_FIELDS, TopUpRequest, top_up};
pub use transaction::{TRANSACTION_FIELDS, transaction};
