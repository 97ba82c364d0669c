//! From a rules file to `Rules`: the JSON Schema check, then every semantic problem
//! collected (unknown categories, currencies, MCCs, bad patterns) rather than the first.

use rustc_hash::FxHashMap;

use regex::RegexSetBuilder;

use super::config::{AlertConfig, RulesFile, ThresholdValues};
use super::{AlertRule, MCC_COUNT, PATTERN_SIZE_LIMIT, RULES_SCHEMA_JSON, RuleProblem, Rules, RulesError, Thresholds};
use crate::domain::events::Severity;
use crate::domain::transaction::{DeclineReason, Mcc, TransactionKind};
use crate::domain::{Category, Currency};
use crate::rules::engine::Alert;

pub(super) fn check_schema(document: &serde_json::Value) -> Result<(), RulesError> {
    let schema: serde_json::Value = serde_json::from_str(RULES_SCHEMA_JSON).expect("the rules schema is valid JSON");
    let validator = jsonschema::draft4::new(&schema).expect("the rules schema is a valid Draft 4 schema");
    let problems: Vec<RuleProblem> = validator
        .iter_errors(document)
        .map(|error| RuleProblem {
            path: error.instance_path().as_str().to_string(),
            message: error.to_string(),
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RulesError { problems })
    }
}

/// Collects every semantic problem rather than stopping at the first.
struct Compiler {
    problems: Vec<RuleProblem>,
}

impl Compiler {
    fn problem(&mut self, path: String, message: impl Into<String>) {
        self.problems.push(RuleProblem {
            path,
            message: message.into(),
        });
    }

    fn category(&mut self, path: String, name: &str) -> Category {
        Category::parse(name).unwrap_or_else(|| {
            self.problem(
                path,
                format!("unknown category {name:?}; expected one of {:?}", Category::NAMES),
            );
            Category::Other
        })
    }

    /// A word of a closed vocabulary; an unknown one is a problem at `path`.
    fn named<T>(&mut self, path: String, text: &str, parse: fn(&str) -> Option<T>, what: &str) -> Option<T> {
        let parsed = parse(text);
        if parsed.is_none() {
            self.problem(path, format!("unknown {what} {text:?}"));
        }
        parsed
    }

    /// Every item of a list, each checked at `<path>/<index>`; bad items are left out.
    fn list<T>(
        &mut self,
        path: &str,
        items: &[String],
        mut parse: impl FnMut(&mut Self, String, &str) -> Option<T>,
    ) -> Vec<T> {
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| parse(self, format!("{path}/{i}"), item))
            .collect()
    }

    fn currency(&mut self, path: String, code: &str) -> Option<Currency> {
        match Currency::from_code(code) {
            Ok(currency) => Some(currency),
            Err(e) => {
                self.problem(path, format!("{code:?}: {e}"));
                None
            }
        }
    }

    fn mcc(&mut self, path: String, text: &str) -> Option<Mcc> {
        let parsed = Mcc::parse(text);
        if parsed.is_none() {
            self.problem(path, format!("{text:?} is not a 4-digit MCC"));
        }
        parsed
    }

    /// "5411" or "5811-5814", inclusive.
    fn mcc_range(&mut self, path: String, text: &str) -> Option<(Mcc, Mcc)> {
        match text.split_once('-') {
            None => self.mcc(path, text).map(|m| (m, m)),
            Some((low, high)) => {
                let (low, high) = (self.mcc(path.clone(), low)?, self.mcc(path.clone(), high)?);
                if low > high {
                    self.problem(path, format!("range {text:?} runs backwards"));
                    return None;
                }
                Some((low, high))
            }
        }
    }

    fn thresholds(&mut self, path: &str, values: &ThresholdValues) -> Thresholds {
        for (name, value) in [
            ("large_amount_minor", values.large_amount_minor),
            ("cash_withdrawal_minor", values.cash_withdrawal_minor),
        ] {
            if let Some(v) = value
                && v <= 0
            {
                self.problem(format!("{path}/{name}"), "must be greater than zero");
            }
        }
        (*values).into()
    }

    fn alert(&mut self, path: &str, config: Option<&AlertConfig>, defaults: AlertRule) -> AlertRule {
        let Some(config) = config else {
            return AlertRule {
                enabled: false,
                ..defaults
            };
        };
        let mut rule = defaults;
        rule.enabled = config.enabled;
        if let Some(severity) = &config.severity {
            match Severity::parse(severity) {
                Some(s) => rule.severity = s,
                None => self.problem(format!("{path}/severity"), format!("unknown severity {severity:?}")),
            }
        }
        if let Some(kinds) = &config.kinds {
            rule.kinds = self.list(&format!("{path}/kinds"), kinds, |c, at, k| {
                c.named(at, k, TransactionKind::parse, "kind")
            });
        }
        if let Some(categories) = &config.categories {
            rule.categories = self.list(&format!("{path}/categories"), categories, |c, at, name| {
                Some(c.category(at, name))
            });
        }
        if let Some(codes) = &config.mcc {
            rule.mcc = self.list(&format!("{path}/mcc"), codes, Compiler::mcc);
        }
        if let Some(reasons) = &config.decline_reasons {
            rule.decline_reasons = self.list(&format!("{path}/decline_reasons"), reasons, |c, at, r| {
                c.named(at, r, DeclineReason::parse, "decline reason")
            });
        }
        rule
    }
}

pub(super) fn compile(file: &RulesFile) -> Result<Rules, RulesError> {
    let mut c = Compiler { problems: Vec::new() };
    if file.version != 1 {
        c.problem(
            "/version".into(),
            format!("version {} is not supported (expected 1)", file.version),
        );
    }
    let categories = &file.categories;
    let default_category = c.category("/categories/default".into(), &categories.default);

    let mut by_kind = FxHashMap::default();
    for (kind_name, category_name) in &categories.by_kind {
        let path = format!("/categories/by_kind/{kind_name}");
        let category = c.category(path.clone(), category_name);
        if let Some(kind) = c.named(path, kind_name, TransactionKind::parse, "kind") {
            by_kind.insert(kind, category);
        }
    }

    let mut merchant_categories = Vec::new();
    let mut patterns = Vec::new();
    for (i, entry) in categories.by_merchant.iter().enumerate() {
        let path = format!("/categories/by_merchant/{i}");
        merchant_categories.push(c.category(format!("{path}/category"), &entry.category));
        // Checked one by one so that the error names the pattern.
        match regex::RegexBuilder::new(&entry.pattern)
            .case_insensitive(true)
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
        {
            Ok(_) => patterns.push(entry.pattern.clone()),
            Err(e) => c.problem(
                format!("{path}/pattern"),
                format!("not a valid regular expression: {e}"),
            ),
        }
    }
    let merchant_patterns = if patterns.is_empty() || patterns.len() != merchant_categories.len() {
        None
    } else {
        RegexSetBuilder::new(&patterns)
            .case_insensitive(true)
            .size_limit(PATTERN_SIZE_LIMIT * 4)
            .build()
            .map_err(|e| c.problem("/categories/by_merchant".into(), e.to_string()))
            .ok()
    };

    let mut mcc_table = vec![None; MCC_COUNT];
    for (i, entry) in categories.by_mcc.iter().enumerate() {
        let category = c.category(format!("/categories/by_mcc/{i}/category"), &entry.category);
        for (j, text) in entry.mcc.iter().enumerate() {
            if let Some((low, high)) = c.mcc_range(format!("/categories/by_mcc/{i}/mcc/{j}"), text) {
                for code in low.code()..=high.code() {
                    // The first entry that lists a code wins.
                    mcc_table[usize::from(code)].get_or_insert(category);
                }
            }
        }
    }

    let mut currency_thresholds = FxHashMap::default();
    for (code, values) in &file.thresholds.currency {
        let path = format!("/thresholds/currency/{code}");
        let thresholds = c.thresholds(&path, values);
        if let Some(currency) = c.currency(path, code) {
            currency_thresholds.insert(currency, thresholds);
        }
    }
    let mut category_thresholds = FxHashMap::default();
    for (category_name, per_currency) in &file.thresholds.category {
        let category = c.category(format!("/thresholds/category/{category_name}"), category_name);
        for (code, values) in per_currency {
            let path = format!("/thresholds/category/{category_name}/{code}");
            let thresholds = c.thresholds(&path, values);
            if let Some(currency) = c.currency(path, code) {
                category_thresholds.insert((category, currency), thresholds);
            }
        }
    }

    let a = &file.alerts;
    let mut alerts = FxHashMap::default();
    for alert in Alert::ALL.iter().copied() {
        let config = match alert {
            Alert::LargeTransaction => &a.large_transaction,
            Alert::LowBalance => &a.low_balance,
            Alert::SpendingLimit => &a.spending_limit,
            Alert::ForeignTransaction => &a.foreign_transaction,
            Alert::CashWithdrawal => &a.cash_withdrawal,
            Alert::HighRiskMerchant => &a.high_risk_merchant,
            Alert::TopUp => &a.top_up,
            Alert::Refund => &a.refund,
        };
        let rule = c.alert(
            &format!("/alerts/{}", alert.as_str()),
            config.as_ref(),
            alert_defaults(alert),
        );
        alerts.insert(alert, rule);
    }

    if !c.problems.is_empty() {
        return Err(RulesError { problems: c.problems });
    }
    Ok(Rules {
        by_kind,
        merchant_patterns,
        merchant_categories,
        mcc_table,
        default_category,
        currency_thresholds,
        category_thresholds,
        alerts,
        max_alert_age: a.max_alert_age_hours.map(|h| chrono::Duration::hours(i64::from(h))),
    })
}

/// What an alert table of the rules file means where it leaves a field out.
fn alert_defaults(alert: Alert) -> AlertRule {
    use TransactionKind as K;
    match alert {
        Alert::LargeTransaction => AlertRule {
            kinds: vec![K::CardPurchase, K::AtmWithdrawal, K::TransferOut],
            ..AlertRule::defaults(Severity::Critical)
        },
        Alert::LowBalance => AlertRule::defaults(Severity::Warning),
        Alert::SpendingLimit => AlertRule {
            decline_reasons: vec![DeclineReason::InsufficientFunds, DeclineReason::LimitExceeded],
            ..AlertRule::defaults(Severity::Warning)
        },
        Alert::ForeignTransaction => AlertRule::defaults(Severity::Info),
        Alert::CashWithdrawal => AlertRule {
            kinds: vec![K::AtmWithdrawal],
            ..AlertRule::defaults(Severity::Info)
        },
        Alert::HighRiskMerchant => AlertRule {
            kinds: vec![K::CardPurchase],
            categories: vec![Category::Gambling],
            mcc: ["4829", "6051", "6540"].iter().filter_map(|m| Mcc::parse(m)).collect(),
            ..AlertRule::defaults(Severity::Warning)
        },
        Alert::TopUp => AlertRule {
            kinds: vec![K::TopUp],
            ..AlertRule::defaults(Severity::Info)
        },
        Alert::Refund => AlertRule {
            kinds: vec![K::Refund],
            ..AlertRule::defaults(Severity::Info)
        },
    }
}
