//! Loading account profiles the way BatchGetItem wants it: at most 100 keys a call, with
//! UnprocessedKeys and transient errors retried with backoff. The processor and the notifier
//! share it.

use std::collections::{HashMap, HashSet};

use crate::domain::Account;
use crate::ports::{Clock, Ledger, MAX_ACCOUNTS_PER_BATCH_GET};

use super::retry::{Deadline, RetryPolicy};

#[derive(Debug, Default)]
pub struct ProfileLoad {
    /// Profiles found, by account id. A missing or undecodable profile is simply absent.
    pub profiles: HashMap<String, Account>,
    /// Ids that could not be read (the ledger kept failing): not the same as "not found".
    pub unread: HashSet<String>,
    pub lookups: u32,
    pub last_error: Option<String>,
}

pub async fn load_profiles<L: Ledger, C: Clock>(
    ledger: &L,
    clock: &C,
    retry: &RetryPolicy,
    wanted: &[String],
) -> ProfileLoad {
    load_profiles_until(ledger, clock, retry, wanted, &Deadline::none()).await
}

/// `load_profiles`, starting no round of lookups the deadline leaves no time for: what was
/// not read is `unread`.
pub async fn load_profiles_until<L: Ledger, C: Clock>(
    ledger: &L,
    clock: &C,
    retry: &RetryPolicy,
    wanted: &[String],
    deadline: &Deadline,
) -> ProfileLoad {
    let mut load = ProfileLoad::default();
    let mut pending: Vec<String> = wanted.to_vec();
    let mut rng = fastrand::Rng::new();
    let mut attempt = 0;
    let mut wait = std::time::Duration::ZERO;
    while !pending.is_empty() {
        if !deadline.allows_call(clock.now(), wait) {
            load.last_error = Some("profile lookup: stopped before the invocation's deadline".into());
            break;
        }
        if !wait.is_zero() {
            clock.sleep(wait).await;
        }
        attempt += 1;
        let mut again = Vec::new();
        let mut permanent = false;
        for chunk in pending.chunks(MAX_ACCOUNTS_PER_BATCH_GET) {
            load.lookups += 1;
            match ledger.batch_get_accounts(chunk).await {
                Ok(batch) => {
                    for account in batch.accounts {
                        load.profiles.insert(account.account_id.clone(), account);
                    }
                    again.extend(batch.unprocessed);
                }
                Err(error) => {
                    permanent |= !error.is_transient();
                    load.last_error = Some(format!("profile lookup: {}", error.message));
                    again.extend_from_slice(chunk);
                }
            }
        }
        pending = again;
        if pending.is_empty() || permanent || attempt >= retry.max_attempts {
            break;
        }
        wait = retry.delay(attempt, &mut rng);
    }
    load.unread = pending.into_iter().collect();
    load
}
