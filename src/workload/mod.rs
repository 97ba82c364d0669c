//! A realistic, seeded workload: accounts, then a day of their transactions, as the writes
//! that land in the ledger. `stream` turns the writes into a DynamoDB stream event.
//! The same seed gives the same workload.

pub(crate) mod catalog;
pub mod stream;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_dynamo::{AttributeValue, Item};

use crate::domain::account::{AccountStatus, AccountThresholds, Holder, Locale, Preferences};
use crate::domain::fields::CountryCode;
use crate::domain::pii::Pii;
use crate::domain::transaction::{Channel, DeclineReason, Merchant, TransactionKind, TransactionStatus};
use crate::domain::{Account, Currency, Money, Transaction};
use catalog::{COUNTRIES, FIRST_NAMES, LAST_NAMES, MERCHANTS, MerchantProfile};

#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    pub accounts: usize,
    pub transactions: usize,
    pub seed: u64,
    /// The day the transactions are booked on (00:00 UTC).
    pub day: DateTime<Utc>,
    /// Share of transactions written malformed, in parts per thousand.
    pub malformed_per_mille: u32,
}

impl WorkloadSpec {
    pub fn new(accounts: usize, transactions: usize, seed: u64) -> Self {
        WorkloadSpec {
            accounts,
            transactions,
            seed,
            day: Utc
                .with_ymd_and_hms(2026, 11, 20, 0, 0, 0)
                .single()
                .expect("a valid date"),
            malformed_per_mille: 5,
        }
    }
}

/// One write to the ledger, as its stream reports it.
#[derive(Debug, Clone)]
pub enum LedgerWrite {
    Insert { item: Item, at: DateTime<Utc> },
    Modify { old: Item, new: Item, at: DateTime<Utc> },
    Remove { old: Item, at: DateTime<Utc>, by_ttl: bool },
}

impl LedgerWrite {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            LedgerWrite::Insert { at, .. } | LedgerWrite::Modify { at, .. } | LedgerWrite::Remove { at, .. } => *at,
        }
    }
}

/// Ways a transaction item can be written wrong, one of each in turn.
const MALFORMATIONS: &[&str] = &[
    "bad_currency",
    "negative_amount",
    "fractional_amount",
    "short_mcc",
    "missing_account_id",
    "full_card_number",
    "bad_booked_at",
    "unknown_kind",
    "amount_as_string",
];

pub struct Generator {
    rng: fastrand::Rng,
    spec: WorkloadSpec,
    accounts: Vec<Account>,
    balances: HashMap<String, i64>,
    card_last4: HashMap<String, String>,
    /// Writes made but not handed out yet, earliest first (ties: in the order made).
    pending: BinaryHeap<Reverse<Pending>>,
    made: u64,
    /// The next transaction to book.
    booked: usize,
    malformed_written: usize,
    /// Recent approved purchases, which reversals and annotations pick from.
    approved_purchases: Vec<Transaction>,
    purchases_kept: usize,
}

/// The recent approved purchases a workload keeps to reverse: a bound, so that memory stays
/// flat however many transactions a run books (runs below it are as they always were).
const PURCHASES_KEPT: usize = 10_000;

struct Pending {
    at: DateTime<Utc>,
    made: u64,
    write: LedgerWrite,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.made) == (other.at, other.made)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.made).cmp(&(other.at, other.made))
    }
}

/// The whole workload in time order (what a stable sort of it by `at` gives).
pub fn generate(spec: &WorkloadSpec) -> Vec<LedgerWrite> {
    Workload::new(spec).collect()
}

/// The workload as it goes, in time order: only the writes that a later transaction could
/// still come before are held, so a run of a million transactions takes no more memory than
/// one of a thousand.
pub struct Workload {
    generator: Generator,
}

impl Workload {
    pub fn new(spec: &WorkloadSpec) -> Self {
        let mut generator = Generator {
            rng: fastrand::Rng::with_seed(spec.seed),
            spec: spec.clone(),
            accounts: Vec::new(),
            balances: HashMap::new(),
            card_last4: HashMap::new(),
            pending: BinaryHeap::new(),
            made: 0,
            booked: 0,
            malformed_written: 0,
            approved_purchases: Vec::new(),
            purchases_kept: 0,
        };
        generator.open_accounts();
        Workload { generator }
    }

    /// How many writes the whole workload holds, at most (accounts, transactions and their
    /// follow-ups): for a progress bar.
    pub fn len_hint(&self) -> usize {
        self.generator.spec.accounts + self.generator.spec.transactions * 104 / 100
    }
}

impl Iterator for Workload {
    type Item = LedgerWrite;

    fn next(&mut self) -> Option<LedgerWrite> {
        let generator = &mut self.generator;
        loop {
            let total = if generator.accounts.is_empty() {
                0
            } else {
                generator.spec.transactions
            };
            let done = generator.booked >= total;
            // Every write of transaction n is at or after this instant.
            let earliest_to_come =
                generator.spec.day + Duration::milliseconds(generator.step_ms() * generator.booked as i64 + 20);
            match generator.pending.peek() {
                Some(Reverse(first)) if done || first.at <= earliest_to_come => {
                    return generator.pending.pop().map(|Reverse(p)| p.write);
                }
                None if done => return None,
                _ => {
                    let n = generator.booked;
                    generator.book_transaction(n);
                    generator.booked += 1;
                }
            }
        }
    }
}

impl Generator {
    fn open_accounts(&mut self) {
        for n in 0..self.spec.accounts {
            let country = &COUNTRIES[self.weighted(COUNTRIES.iter().map(|c| c.weight))];
            let currency = Currency::from_code(country.currency).expect("catalog currencies are valid");
            let first = FIRST_NAMES[self.rng.usize(..FIRST_NAMES.len())];
            let last = LAST_NAMES[self.rng.usize(..LAST_NAMES.len())];
            let account_id = format!("acc-{:04x}-{n:05}", self.spec.seed & 0xffff);
            let mut thresholds = AccountThresholds::default();
            if self.rng.u8(..10) == 0 {
                thresholds.large_amount_minor = Some(scale(50_000, currency));
            }
            if self.rng.u8(..10) == 0 {
                thresholds.low_balance_minor = Some(scale(20_000, currency));
            }
            let mut preferences = Preferences::default();
            if self.rng.u8(..20) == 0 {
                preferences.email_enabled = false;
            }
            if self.rng.u8(..10) == 0 {
                preferences.muted_categories = vec!["groceries".into(), "transport".into()];
            }
            if self.rng.u8(..10) == 0 {
                preferences.min_amount_minor = Some(scale(1_000, currency));
            }
            // Accounts are opened before the day, the first writes of the stream.
            let created_at = self.spec.day - Duration::seconds(i64::from(self.rng.u32(60..86_400)));
            let account = Account {
                account_id: account_id.clone(),
                holder: Holder {
                    first_name: Pii(first.to_string()),
                    last_name: Pii(last.to_string()),
                },
                email: Pii(format!("{}.{}.{n}@example.com", ascii_lower(first), ascii_lower(last))),
                locale: if country.code == "FR" || self.rng.u8(..10) < 3 {
                    Locale::Fr
                } else {
                    Locale::En
                },
                country: CountryCode::parse(country.code).expect("catalog countries are valid"),
                currency,
                status: AccountStatus::Active,
                created_at,
                thresholds,
                preferences,
                time_zone: Some(country.time_zone.to_string()),
                version: 1,
                email_status: None,
                previous_email: None,
                updated_at: None,
            };
            self.balances
                .insert(account_id.clone(), scale(self.rng.i64(5_000..400_000), currency));
            self.card_last4
                .insert(account_id.clone(), format!("{:04}", self.rng.u16(0..10_000)));
            self.push(LedgerWrite::Insert {
                item: account.to_item(),
                at: created_at,
            });
            self.accounts.push(account);
        }
    }

    fn step_ms(&self) -> i64 {
        86_400_000 / self.spec.transactions.max(1) as i64
    }

    fn push(&mut self, write: LedgerWrite) {
        self.made += 1;
        self.pending.push(Reverse(Pending {
            at: write.at(),
            made: self.made,
            write,
        }));
    }

    fn book_transaction(&mut self, n: usize) {
        let step_ms = self.step_ms();
        let booked_at = self.spec.day + Duration::milliseconds(step_ms * n as i64 + self.rng.i64(0..step_ms.max(1)));
        let account = self.accounts[self.rng.usize(..self.accounts.len())].clone();
        let transaction = self.transaction(&account, n, booked_at);
        let at = booked_at + Duration::milliseconds(self.rng.i64(20..900));
        let malformed_due = (n + 1) * self.spec.malformed_per_mille as usize / 1000 > self.malformed_written;
        if malformed_due {
            let kind = MALFORMATIONS[self.malformed_written % MALFORMATIONS.len()];
            self.malformed_written += 1;
            self.push(LedgerWrite::Insert {
                item: malformed(transaction.to_item(), kind),
                at,
            });
            return;
        }
        self.push(LedgerWrite::Insert {
            item: transaction.to_item(),
            at,
        });
        if transaction.status == TransactionStatus::Approved && transaction.kind == TransactionKind::CardPurchase {
            self.keep_purchase(transaction.clone());
        }
        self.maybe_follow_up(&transaction, at);
    }

    /// Keeps an approved purchase to reverse later; past the bound, it takes one of the
    /// kept places in turn.
    fn keep_purchase(&mut self, transaction: Transaction) {
        if self.approved_purchases.len() < PURCHASES_KEPT {
            self.approved_purchases.push(transaction);
        } else {
            let slot = self.purchases_kept % PURCHASES_KEPT;
            self.approved_purchases[slot] = transaction;
        }
        self.purchases_kept += 1;
    }

    /// Now and then: a reversal of an earlier purchase, a MODIFY that is not one, a
    /// uniqueness marker, or a marker expiring by TTL.
    fn maybe_follow_up(&mut self, transaction: &Transaction, at: DateTime<Utc>) {
        let later = at + Duration::milliseconds(self.rng.i64(1..500));
        match self.rng.u16(..1000) {
            0..=9 if !self.approved_purchases.is_empty() => {
                let index = self.rng.usize(..self.approved_purchases.len());
                let original = self.approved_purchases.swap_remove(index);
                let mut reversed = original.clone();
                reversed.status = TransactionStatus::Reversed;
                self.push(LedgerWrite::Modify {
                    old: original.to_item(),
                    new: reversed.to_item(),
                    at: later,
                });
            }
            10..=19 if !self.approved_purchases.is_empty() => {
                let original = self.approved_purchases[self.rng.usize(..self.approved_purchases.len())].clone();
                let mut annotated = original.clone();
                annotated.metadata =
                    crate::domain::metadata::Metadata::from_json(&serde_json::json!({"note": "receipt attached"}));
                self.push(LedgerWrite::Modify {
                    old: original.to_item(),
                    new: annotated.to_item(),
                    at: later,
                });
            }
            20..=29 => {
                let marker = transaction.uniqueness_marker(WORKLOAD_FINGERPRINT);
                self.push(LedgerWrite::Insert {
                    item: marker,
                    at: later,
                });
            }
            30..=34 => {
                let marker = transaction.uniqueness_marker(WORKLOAD_FINGERPRINT);
                self.push(LedgerWrite::Remove {
                    old: marker,
                    at: later,
                    by_ttl: true,
                });
            }
            _ => {}
        }
    }

    fn transaction(&mut self, account: &Account, n: usize, booked_at: DateTime<Utc>) -> Transaction {
        use TransactionKind as K;
        let kind = [
            (K::CardPurchase, 620),
            (K::AtmWithdrawal, 80),
            (K::TransferIn, 60),
            (K::TransferOut, 70),
            (K::TopUp, 70),
            (K::Refund, 50),
            (K::Fee, 50),
        ];
        let kind = kind[self.weighted(kind.iter().map(|(_, w)| *w))].0;
        let foreign = matches!(kind, K::CardPurchase | K::AtmWithdrawal) && self.rng.u8(..100) < 8;
        let (merchant, merchant_profile) = self.merchant(kind, account, foreign);
        let currency = match (&merchant, foreign) {
            (Some(m), true) if self.rng.bool() => {
                let country = COUNTRIES.iter().find(|c| c.code == m.country.as_str());
                country.map_or(account.currency, |c| {
                    Currency::from_code(c.currency).unwrap_or(account.currency)
                })
            }
            _ => account.currency,
        };
        let mut amount = match merchant_profile {
            Some(p) => self.log_uniform(p.min_eur_cents, p.max_eur_cents),
            None => match kind {
                K::TransferIn | K::TopUp => self.log_uniform(2_000, 300_000),
                K::TransferOut => self.log_uniform(1_000, 250_000),
                K::Fee => self.log_uniform(100, 2_500),
                _ => self.log_uniform(500, 10_000),
            },
        };
        if self.rng.u16(..100) == 0 {
            amount *= 25; // now and then, a large one
        }
        let amount_minor = scale(amount, currency).max(1);
        let balance = self.balances.get(&account.account_id).copied().unwrap_or(0);
        let outgoing = !kind.is_incoming();
        let mut status = TransactionStatus::Approved;
        let mut decline_reason = None;
        if outgoing
            && kind != K::Fee
            && currency == account.currency
            && amount_minor > balance + scale(20_000, currency)
        {
            status = TransactionStatus::Declined;
            decline_reason = Some(DeclineReason::InsufficientFunds);
        } else if outgoing && kind != K::Fee && self.rng.u8(..100) < 4 {
            status = TransactionStatus::Declined;
            decline_reason = Some(
                [
                    DeclineReason::LimitExceeded,
                    DeclineReason::SuspectedFraud,
                    DeclineReason::CardBlocked,
                    DeclineReason::Other,
                ][self.rng.usize(..4)],
            );
        }
        let mut balance_after = balance;
        if status == TransactionStatus::Approved && currency == account.currency {
            balance_after = if outgoing {
                balance - amount_minor
            } else {
                balance + amount_minor
            };
            self.balances.insert(account.account_id.clone(), balance_after);
        }
        let card = matches!(kind, K::CardPurchase | K::AtmWithdrawal | K::Refund);
        Transaction {
            transaction_id: format!("txn-{:04x}-{n:07}", self.spec.seed & 0xffff),
            account_id: account.account_id.clone(),
            kind,
            status,
            decline_reason,
            amount: Money::new(amount_minor, currency),
            balance_after_minor: (currency == account.currency).then_some(balance_after),
            channel: match kind {
                K::CardPurchase if merchant_profile.is_some_and(|p| p.online) => Channel::Ecommerce,
                K::CardPurchase | K::Refund => Channel::Pos,
                K::AtmWithdrawal => Channel::Atm,
                K::TopUp => Channel::TopUp,
                _ => Channel::Transfer,
            },
            merchant,
            card_last4: card.then(|| self.card_last4[&account.account_id].clone()),
            booked_at,
            metadata: (self.rng.u8(..10) == 0)
                .then(|| serde_json::json!({"terminal_id": format!("T{:06}", self.rng.u32(..1_000_000))}))
                .and_then(|m| crate::domain::metadata::Metadata::from_json(&m)),
        }
    }

    fn merchant(
        &mut self,
        kind: TransactionKind,
        account: &Account,
        foreign: bool,
    ) -> (Option<Merchant>, Option<&'static MerchantProfile>) {
        let profile: &'static MerchantProfile = match kind {
            TransactionKind::CardPurchase | TransactionKind::Refund => {
                let shops: Vec<&'static MerchantProfile> = MERCHANTS.iter().filter(|m| m.mcc != "6011").collect();
                shops[self.weighted(shops.iter().map(|m| m.weight))]
            }
            TransactionKind::AtmWithdrawal => MERCHANTS
                .iter()
                .find(|m| m.mcc == "6011")
                .expect("an ATM in the catalog"),
            _ => return (None, None),
        };
        let country = if foreign {
            let others: Vec<_> = COUNTRIES
                .iter()
                .filter(|c| c.code != account.country.as_str())
                .collect();
            others[self.rng.usize(..others.len())]
        } else {
            COUNTRIES
                .iter()
                .find(|c| c.code == account.country.as_str())
                .unwrap_or(&COUNTRIES[0])
        };
        let merchant = Merchant {
            name: profile.name.to_string(),
            mcc: crate::domain::transaction::Mcc::parse(profile.mcc).expect("catalog MCCs are valid"),
            country: CountryCode::parse(country.code).expect("catalog countries are valid"),
            city: Some(country.cities[self.rng.usize(..country.cities.len())].to_string()),
        };
        (Some(merchant), Some(profile))
    }

    fn weighted(&mut self, weights: impl Iterator<Item = u32> + Clone) -> usize {
        let total: u32 = weights.clone().sum();
        let mut pick = self.rng.u32(..total.max(1));
        for (i, w) in weights.enumerate() {
            if pick < w {
                return i;
            }
            pick -= w;
        }
        0
    }

    /// Roughly log-uniform in [min, max]: a random octave, then uniform within it, so
    /// there are many small amounts and a few large ones. Integers only.
    fn log_uniform(&mut self, min: i64, max: i64) -> i64 {
        let min = min.max(1);
        let max = max.max(min);
        let octaves = (max / min).ilog2();
        let low = min << self.rng.u32(0..=octaves);
        self.rng.i64(low..=(low.saturating_mul(2)).min(max))
    }
}

/// Converts an amount in euro cents into minor units of `currency`, with rough, fixed rates.
pub fn scale(eur_cents: i64, currency: Currency) -> i64 {
    let (numerator, denominator) = match currency.code() {
        "USD" => (108, 100),
        "GBP" => (85, 100),
        "CHF" => (95, 100),
        "XAF" | "XOF" => (656, 100),
        "JPY" => (160, 100),
        "KWD" => (33, 10),
        "BHD" => (41, 10),
        _ => (1, 1),
    };
    eur_cents.saturating_mul(numerator) / denominator
}

fn ascii_lower(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'é' | 'è' | 'ê' => Some('e'),
            'ï' | 'î' => Some('i'),
            'ç' => Some('c'),
            c if c.is_ascii_alphabetic() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// The fingerprint the workload's own uniqueness markers carry (ingest's are a digest of
/// the request that stored the transaction).
const WORKLOAD_FINGERPRINT: &str = "workload";

/// A transaction item written wrong in one way, as another system might.
fn malformed(mut item: Item, kind: &str) -> Item {
    use AttributeValue as A;
    match kind {
        "bad_currency" => {
            item.insert("currency".into(), A::S("EURO".into()));
        }
        "negative_amount" => {
            item.insert("amount_minor".into(), A::N("-2500".into()));
        }
        "fractional_amount" => {
            item.insert("amount_minor".into(), A::N("12.5".into()));
        }
        "short_mcc" => {
            let merchant = A::M(
                [
                    ("name".to_string(), A::S("Boulangerie Paul".into())),
                    ("mcc".to_string(), A::S("546".into())),
                    ("country".to_string(), A::S("FR".into())),
                ]
                .into(),
            );
            item.insert("merchant".into(), merchant);
        }
        "missing_account_id" => {
            item.remove("account_id");
        }
        "full_card_number" => {
            item.insert("card_last4".into(), A::S("4111111111111111".into()));
        }
        "bad_booked_at" => {
            item.insert("booked_at".into(), A::S("yesterday 14:00".into()));
        }
        "unknown_kind" => {
            item.insert("kind".into(), A::S("purchase".into()));
        }
        _ => {
            item.insert("amount_minor".into(), A::S("1999".into()));
        }
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::item::LedgerItem;

    #[test]
    fn the_same_seed_gives_the_same_workload() {
        let spec = WorkloadSpec::new(20, 300, 42);
        let a = stream::to_stream_event(&generate(&spec));
        let b = stream::to_stream_event(&generate(&spec));
        assert_eq!(a, b);
        let c = stream::to_stream_event(&generate(&WorkloadSpec::new(20, 300, 43)));
        assert_ne!(a, c);
    }

    #[test]
    fn the_workload_comes_in_time_order_and_holds_few_writes_at_a_time() {
        for spec in [WorkloadSpec::new(50, 2000, 7), WorkloadSpec::new(3, 30_000, 3)] {
            let mut workload = Workload::new(&spec);
            let (mut last, mut count, mut most_held) = (None, 0, 0);
            while let Some(write) = workload.next() {
                assert!(
                    last.is_none_or(|last| last <= write.at()),
                    "out of order at write {count}"
                );
                last = Some(write.at());
                count += 1;
                most_held = most_held.max(workload.generator.pending.len());
            }
            assert!(count > spec.transactions, "{count}");
            assert!(count <= workload.len_hint(), "{count} > {}", workload.len_hint());
            // The accounts wait for the first transaction; after them, a handful at a time.
            assert!(most_held <= spec.accounts + 16, "{most_held} held at once");
            assert!(workload.generator.approved_purchases.len() <= PURCHASES_KEPT);
        }
    }

    #[test]
    fn the_workload_is_varied_and_has_each_malformation() {
        let writes = generate(&WorkloadSpec::new(50, 2000, 7));
        let mut kinds = std::collections::HashSet::new();
        let mut currencies = std::collections::HashSet::new();
        let (mut declined, mut foreign, mut malformed, mut modifies, mut removes, mut others) = (0, 0, 0, 0, 0, 0);
        for write in &writes {
            match write {
                LedgerWrite::Insert { item, .. } => match LedgerItem::decode(item) {
                    Ok(LedgerItem::Transaction(t)) => {
                        kinds.insert(t.kind);
                        currencies.insert(t.currency());
                        declined += usize::from(t.status == TransactionStatus::Declined);
                        foreign += usize::from(t.merchant.as_ref().is_some_and(|m| {
                            !t.account_id.is_empty() && m.city.is_some() && m.country.as_str() != "FR"
                        }));
                    }
                    Ok(LedgerItem::Account(_)) => {}
                    Ok(LedgerItem::Other { .. }) => others += 1,
                    Err(_) => malformed += 1,
                },
                LedgerWrite::Modify { .. } => modifies += 1,
                LedgerWrite::Remove { .. } => removes += 1,
            }
        }
        assert_eq!(kinds.len(), TransactionKind::ALL.len(), "{kinds:?}");
        assert!(currencies.len() >= 5, "{currencies:?}");
        assert!(declined > 20 && foreign > 20, "declined {declined}, foreign {foreign}");
        assert_eq!(malformed, 10, "5 per mille of 2000");
        assert!(modifies > 0 && removes > 0 && others > 0);
    }
}
