//! The rule engine against the issue's specification: every category rule, every finding,
//! every threshold per currency, and the precedence of thresholds. The expected values are
//! written here from the specification, not read from the built-in rules file.

mod common;

use common::{account, now, purchase};
use txn_notify::domain::CountryCode;
use txn_notify::domain::{Account, Category, Currency, Money, Transaction};
use txn_notify::domain::{DeclineReason, Mcc, Merchant, TransactionKind, TransactionStatus};
use txn_notify::domain::{DetailType, ForeignReason, Severity, ThresholdSource};
use txn_notify::rules::{Alert, Rules, assess};

fn rules() -> Rules {
    Rules::builtin()
}

fn at_mcc(kind: TransactionKind, mcc: &str) -> Transaction {
    let mut t = purchase("t", "acc", 1000, Currency::EUR);
    t.kind = kind;
    t.merchant.as_mut().unwrap().mcc = Mcc::parse(mcc).unwrap();
    t
}

fn category_of(mcc: &str) -> Category {
    assess(&rules(), &at_mcc(TransactionKind::CardPurchase, mcc), None, now()).category
}

fn codes(list: &[u16]) -> Vec<String> {
    list.iter().map(|c| format!("{c:04}")).collect()
}

fn range(low: u16, high: u16) -> Vec<String> {
    codes(&(low..=high).collect::<Vec<_>>())
}

#[test]
fn mcc_categories_follow_the_specification() {
    use Category::*;
    let spec: Vec<(Category, Vec<String>)> = vec![
        (Groceries, codes(&[5411, 5422, 5441, 5451, 5462, 5499])),
        (Restaurants, range(5811, 5814)),
        (Transport, codes(&[4111, 4112, 4121, 4131, 4789, 7523])),
        (Travel, [range(3000, 3999), codes(&[4511, 4722, 7011, 7512])].concat()),
        (Fuel, codes(&[5541, 5542, 5983])),
        (Cash, codes(&[6010, 6011])),
        (Gambling, [range(7800, 7802), codes(&[7995])].concat()),
        (Transfers, codes(&[4829, 6051, 6540])),
        (Utilities, codes(&[4814, 4900])),
        (Health, codes(&[5912, 8011, 8021, 8062, 8099])),
        (
            Entertainment,
            [range(5815, 5818), codes(&[7832, 7922, 7991, 7996, 7997])].concat(),
        ),
    ];
    let mut listed = std::collections::HashSet::new();
    for (category, mccs) in &spec {
        for mcc in mccs {
            assert_eq!(category_of(mcc), *category, "MCC {mcc}");
            listed.insert(mcc.clone());
        }
    }
    // Shopping: 5300–5399, 5600–5799 and 5900–5999 where not listed above.
    for mcc in [range(5300, 5399), range(5600, 5799), range(5900, 5999)].concat() {
        if !listed.contains(&mcc) {
            assert_eq!(category_of(&mcc), Shopping, "MCC {mcc}");
        }
    }
    // Everything else: other.
    for mcc in [
        "0000", "0742", "2999", "4000", "4110", "5200", "5299", "5400", "5810", "5819", "5899", "6012", "7803", "9999",
    ] {
        assert_eq!(category_of(mcc), Other, "MCC {mcc}");
    }
}

#[test]
fn the_kind_wins_over_the_mcc() {
    use TransactionKind as K;
    for (kind, category) in [
        (K::AtmWithdrawal, Category::Cash),
        (K::TransferIn, Category::Transfers),
        (K::TransferOut, Category::Transfers),
        (K::TopUp, Category::Income),
        (K::Refund, Category::Income),
        (K::Fee, Category::Fees),
    ] {
        // 5411 would say groceries, 7995 gambling.
        for mcc in ["5411", "7995"] {
            assert_eq!(
                assess(&rules(), &at_mcc(kind, mcc), None, now()).category,
                category,
                "{kind} at {mcc}"
            );
        }
    }
    let mut no_merchant = purchase("t", "acc", 1000, Currency::EUR);
    no_merchant.merchant = None;
    assert_eq!(assess(&rules(), &no_merchant, None, now()).category, Category::Other);
}

const WITH_PATTERNS: &str = r#"
version = 1
[categories]
default = "other"
[categories.by_kind]
refund = "income"
[[categories.by_merchant]]
pattern = "^uber\\b"
category = "transport"
[[categories.by_merchant]]
pattern = "eats"
category = "restaurants"
[[categories.by_mcc]]
category = "groceries"
mcc = ["5411"]
"#;

#[test]
fn merchant_name_patterns_override_the_mcc_but_not_the_kind() {
    let rules = Rules::from_toml(WITH_PATTERNS).unwrap();
    let named = |kind, name: &str| {
        let mut t = at_mcc(kind, "5411");
        t.merchant.as_mut().unwrap().name = name.into();
        assess(&rules, &t, None, now()).category
    };
    assert_eq!(
        named(TransactionKind::CardPurchase, "UBER *TRIP"),
        Category::Transport,
        "case-insensitive"
    );
    assert_eq!(
        named(TransactionKind::CardPurchase, "Uber Eats"),
        Category::Transport,
        "the first pattern wins"
    );
    assert_eq!(
        named(TransactionKind::CardPurchase, "Deliveroo eats"),
        Category::Restaurants
    );
    assert_eq!(
        named(TransactionKind::CardPurchase, "Carrefour"),
        Category::Groceries,
        "then the MCC"
    );
    assert_eq!(
        named(TransactionKind::Refund, "Uber"),
        Category::Income,
        "the kind still wins"
    );
}

fn alerts(t: &Transaction, account: Option<&Account>) -> Vec<DetailType> {
    assess(&rules(), t, account, now())
        .findings
        .iter()
        .map(|f| f.alert().detail_type())
        .collect()
}

fn fires(t: &Transaction, account: Option<&Account>, alert: Alert) -> bool {
    alerts(t, account).contains(&alert.detail_type())
}

fn currency(code: &str) -> Currency {
    Currency::from_code(code).unwrap()
}

#[test]
fn large_amount_thresholds_per_currency() {
    for (code, threshold) in [
        ("EUR", 100_000),
        ("USD", 100_000),
        ("GBP", 100_000),
        ("CHF", 100_000),
        ("XAF", 650_000),
        ("XOF", 650_000),
        ("JPY", 150_000),
    ] {
        for kind in [
            TransactionKind::CardPurchase,
            TransactionKind::AtmWithdrawal,
            TransactionKind::TransferOut,
        ] {
            let mut at = purchase("t", "acc", threshold, currency(code));
            at.kind = kind;
            let mut below = at.clone();
            below.amount.amount_minor = threshold - 1;
            assert!(fires(&at, None, Alert::LargeTransaction), "{code} {kind} at threshold");
            assert!(
                !fires(&below, None, Alert::LargeTransaction),
                "{code} {kind} below threshold"
            );
        }
    }
}

#[test]
fn large_transaction_needs_an_approved_outgoing_kind() {
    for kind in [
        TransactionKind::TransferIn,
        TransactionKind::TopUp,
        TransactionKind::Refund,
        TransactionKind::Fee,
    ] {
        let mut t = purchase("t", "acc", 10_000_000, Currency::EUR);
        t.kind = kind;
        assert!(!fires(&t, None, Alert::LargeTransaction), "{kind}");
    }
    for status in [TransactionStatus::Declined, TransactionStatus::Reversed] {
        let mut t = purchase("t", "acc", 10_000_000, Currency::EUR);
        t.status = status;
        assert!(!fires(&t, None, Alert::LargeTransaction), "{status}");
    }
}

#[test]
fn low_balance_thresholds_per_currency() {
    for (code, threshold) in [
        ("EUR", 5_000),
        ("USD", 5_000),
        ("GBP", 5_000),
        ("CHF", 5_000),
        ("XAF", 30_000),
        ("XOF", 30_000),
        ("JPY", 7_500),
    ] {
        let mut t = purchase("t", "acc", 100, currency(code));
        t.balance_after_minor = Some(threshold - 1);
        assert!(fires(&t, None, Alert::LowBalance), "{code} below");
        t.balance_after_minor = Some(threshold);
        assert!(!fires(&t, None, Alert::LowBalance), "{code} at threshold");
        t.balance_after_minor = None;
        assert!(!fires(&t, None, Alert::LowBalance), "{code} without a balance");
    }
    let mut overdrawn = purchase("t", "acc", 100, Currency::EUR);
    overdrawn.balance_after_minor = Some(-20_000);
    let finding = assess(&rules(), &overdrawn, None, now()).findings.remove(0);
    assert_eq!(finding.severity, Severity::Warning);
}

#[test]
fn cash_withdrawal_thresholds_per_currency() {
    for (code, threshold) in [
        ("EUR", 20_000),
        ("USD", 20_000),
        ("GBP", 20_000),
        ("CHF", 20_000),
        ("XAF", 130_000),
        ("XOF", 130_000),
        ("JPY", 30_000),
    ] {
        let mut t = at_mcc(TransactionKind::AtmWithdrawal, "6011");
        t.amount = Money::new(threshold, currency(code));
        assert!(fires(&t, None, Alert::CashWithdrawal), "{code} at threshold");
        t.amount.amount_minor = threshold - 1;
        assert!(!fires(&t, None, Alert::CashWithdrawal), "{code} below");
        t.amount.amount_minor = threshold;
        t.status = TransactionStatus::Declined;
        assert!(!fires(&t, None, Alert::CashWithdrawal), "{code} declined");
    }
    // A card purchase at an ATM-coded merchant is categorised cash, but is no withdrawal.
    let mut purchase_at_atm = at_mcc(TransactionKind::CardPurchase, "6011");
    purchase_at_atm.amount.amount_minor = 50_000;
    assert!(!fires(&purchase_at_atm, None, Alert::CashWithdrawal));
}

#[test]
fn a_currency_with_no_threshold_skips_those_rules() {
    for code in ["KWD", "BHD", "SEK"] {
        let mut t = purchase("t", "acc", i64::MAX, currency(code));
        t.balance_after_minor = Some(i64::MIN);
        assert!(alerts(&t, None).is_empty(), "{code}: {:?}", alerts(&t, None));
        t.kind = TransactionKind::AtmWithdrawal;
        assert!(alerts(&t, None).is_empty(), "{code}");
    }
}

#[test]
fn account_thresholds_apply_in_the_account_currency_and_win() {
    let mut holder = account("acc", "FR", Currency::EUR);
    holder.thresholds.large_amount_minor = Some(30_000);
    holder.thresholds.low_balance_minor = Some(100_000);
    let t = purchase("t", "acc", 30_000, Currency::EUR);
    let findings = assess(&rules(), &t, Some(&holder), now()).findings;
    assert_eq!(findings[0].rule.threshold, Some(Money::new(30_000, Currency::EUR)));
    assert_eq!(findings[0].rule.threshold_source, Some(ThresholdSource::Account));
    // In another currency, the account's override does not apply.
    let dollars = purchase("t", "acc", 30_000, Currency::USD);
    assert!(!fires(&dollars, Some(&holder), Alert::LargeTransaction));
    let mut low = purchase("t", "acc", 100, Currency::EUR);
    low.balance_after_minor = Some(99_999);
    assert!(
        fires(&low, Some(&holder), Alert::LowBalance),
        "the account's higher low-balance threshold"
    );
    assert!(
        !fires(&low, None, Alert::LowBalance),
        "without the profile, the currency default"
    );
}

const CATEGORY_THRESHOLDS: &str = r#"
version = 1
[categories]
default = "other"
[[categories.by_mcc]]
category = "gambling"
mcc = ["7995"]
[thresholds.currency.EUR]
large_amount_minor = 100000
[thresholds.category.gambling.EUR]
large_amount_minor = 10000
[alerts.large_transaction]
"#;

#[test]
fn the_most_specific_threshold_wins() {
    let rules = Rules::from_toml(CATEGORY_THRESHOLDS).unwrap();
    let bet = at_mcc(TransactionKind::CardPurchase, "7995");
    let mut bet = bet;
    bet.amount.amount_minor = 10_000;
    let finding = &assess(&rules, &bet, None, now()).findings[0];
    assert_eq!(finding.rule.threshold_source, Some(ThresholdSource::Category));
    assert_eq!(finding.rule.threshold, Some(Money::new(10_000, Currency::EUR)));
    let mut groceries = at_mcc(TransactionKind::CardPurchase, "5411");
    groceries.amount.amount_minor = 10_000;
    assert!(
        assess(&rules, &groceries, None, now()).findings.is_empty(),
        "the currency default applies"
    );
    let mut holder = account("acc", "FR", Currency::EUR);
    holder.thresholds.large_amount_minor = Some(50_000);
    assert!(
        assess(&rules, &bet, Some(&holder), now()).findings.is_empty(),
        "the account wins over the category"
    );
}

#[test]
fn spending_limit_fires_for_insufficient_funds_and_limit_exceeded() {
    for (reason, expected) in [
        (DeclineReason::InsufficientFunds, true),
        (DeclineReason::LimitExceeded, true),
        (DeclineReason::SuspectedFraud, false),
        (DeclineReason::CardBlocked, false),
        (DeclineReason::Other, false),
    ] {
        let mut t = purchase("t", "acc", 1000, Currency::EUR);
        t.status = TransactionStatus::Declined;
        t.decline_reason = Some(reason);
        assert_eq!(fires(&t, None, Alert::SpendingLimit), expected, "{reason}");
    }
    let mut approved = purchase("t", "acc", 1000, Currency::EUR);
    approved.decline_reason = Some(DeclineReason::InsufficientFunds);
    assert!(!fires(&approved, None, Alert::SpendingLimit));
}

#[test]
fn foreign_transaction_needs_the_profile_and_names_its_reasons() {
    let holder = account("acc", "FR", Currency::EUR);
    let reasons = |t: &Transaction| -> Vec<ForeignReason> {
        assess(&rules(), t, Some(&holder), now())
            .findings
            .into_iter()
            .find_map(|f| match f.detail {
                txn_notify::rules::FindingDetail::Foreign { reasons, .. } => Some(reasons),
                _ => None,
            })
            .unwrap_or_default()
    };
    let home = purchase("t", "acc", 1000, Currency::EUR);
    assert!(reasons(&home).is_empty());
    let mut abroad = home.clone();
    abroad.merchant.as_mut().unwrap().country = CountryCode::parse("ES").unwrap();
    assert_eq!(reasons(&abroad), [ForeignReason::Country]);
    let dollars = purchase("t", "acc", 1000, Currency::USD);
    assert_eq!(reasons(&dollars), [ForeignReason::Currency]);
    let mut both = abroad.clone();
    both.amount.currency = Currency::USD;
    assert_eq!(reasons(&both), [ForeignReason::Country, ForeignReason::Currency]);
    assert!(
        !fires(&both, None, Alert::ForeignTransaction),
        "no profile, no foreign rule"
    );
    let mut reversed = both.clone();
    reversed.status = TransactionStatus::Reversed;
    assert!(reasons(&reversed).is_empty());
}

#[test]
fn high_risk_merchants_are_card_purchases_in_gambling_or_money_transfer_mccs() {
    for mcc in ["7800", "7801", "7802", "7995", "4829", "6051", "6540"] {
        assert!(
            fires(
                &at_mcc(TransactionKind::CardPurchase, mcc),
                None,
                Alert::HighRiskMerchant
            ),
            "{mcc}"
        );
        assert!(
            !fires(
                &at_mcc(TransactionKind::AtmWithdrawal, mcc),
                None,
                Alert::HighRiskMerchant
            ),
            "ATM at {mcc}"
        );
    }
    for mcc in ["5411", "6011", "7996"] {
        assert!(
            !fires(
                &at_mcc(TransactionKind::CardPurchase, mcc),
                None,
                Alert::HighRiskMerchant
            ),
            "{mcc}"
        );
    }
}

#[test]
fn top_ups_and_refunds_are_reported_when_approved() {
    for (kind, alert) in [
        (TransactionKind::TopUp, Alert::TopUp),
        (TransactionKind::Refund, Alert::Refund),
    ] {
        let mut t = purchase("t", "acc", 1000, Currency::EUR);
        t.kind = kind;
        assert_eq!(alerts(&t, None), [alert.detail_type()]);
        t.status = TransactionStatus::Declined;
        assert!(!fires(&t, None, alert), "{kind} declined");
    }
}

#[test]
fn a_reversed_transaction_raises_no_alert() {
    let mut t = purchase("t", "acc", 10_000_000, Currency::EUR);
    t.balance_after_minor = Some(-1);
    t.status = TransactionStatus::Reversed;
    assert!(alerts(&t, None).is_empty());
}

#[test]
fn findings_come_in_a_fixed_order_and_the_worst_severity_leads() {
    let holder = account("acc", "FR", Currency::EUR);
    let mut t = at_mcc(TransactionKind::AtmWithdrawal, "6011");
    t.amount = Money::new(150_000, Currency::EUR);
    t.balance_after_minor = Some(10);
    t.merchant.as_mut().unwrap().country = CountryCode::parse("BE").unwrap();
    let assessment = assess(&rules(), &t, Some(&holder), now());
    assert_eq!(
        assessment.findings.iter().map(|f| f.alert()).collect::<Vec<_>>(),
        [
            Alert::LargeTransaction,
            Alert::LowBalance,
            Alert::ForeignTransaction,
            Alert::CashWithdrawal
        ]
    );
    assert_eq!(assessment.severity(), Severity::Critical);
    let plain = purchase("t", "acc", 100, Currency::EUR);
    assert_eq!(
        assess(&rules(), &plain, Some(&holder), now()).severity(),
        Severity::Info
    );
}

#[test]
fn an_old_transaction_raises_no_alert_when_the_rules_set_a_maximum_age() {
    let with_age = txn_notify::rules::DEFAULT_RULES_TOML
        .replace("# The alerts:", "[alerts]\nmax_alert_age_hours = 72\n\n# The alerts:");
    assert_ne!(with_age, txn_notify::rules::DEFAULT_RULES_TOML);
    let rules = Rules::from_toml(&with_age).unwrap();
    let mut old = purchase("t", "acc", 500_000, Currency::EUR);
    old.booked_at = now() - chrono::Duration::hours(73);
    assert!(assess(&rules, &old, None, now()).findings.is_empty());
    old.booked_at = now() - chrono::Duration::hours(71);
    assert!(!assess(&rules, &old, None, now()).findings.is_empty());
    old.booked_at = now() - chrono::Duration::days(365);
    assert!(
        !assess(&Rules::builtin(), &old, None, now()).findings.is_empty(),
        "no limit by default"
    );
}

#[test]
fn the_engine_is_deterministic() {
    let holder = account("acc", "FR", Currency::EUR);
    let mut t = purchase("t", "acc", 150_000, Currency::USD);
    t.merchant = Some(Merchant {
        name: "Betclic".into(),
        mcc: Mcc::parse("7801").unwrap(),
        country: CountryCode::parse("MT").unwrap(),
        city: None,
    });
    let first = assess(&rules(), &t, Some(&holder), now());
    for _ in 0..10 {
        assert_eq!(assess(&rules(), &t, Some(&holder), now()), first);
    }
}
