//! The rule engine (docs/rules.md). Rules are data: a TOML file checked by
//! `schemas/rules.schema.json`, with a built-in default compiled into the binary.
//! `Rules` is the checked, compiled form; `engine::assess` applies it.

mod compile;
pub(crate) mod config;
pub(crate) mod engine;

use std::fmt;
use std::path::Path;

use regex::RegexSet;
use rustc_hash::FxHashMap;

use crate::domain::events::Severity;
use crate::domain::transaction::{DeclineReason, Mcc, TransactionKind};
use crate::domain::{Category, Currency};
use config::{RulesFile, ThresholdValues};

pub use engine::{Alert, Assessment, Finding, FindingDetail, assess};

/// The built-in rules, as shipped in `rules/default.toml`.
pub const DEFAULT_RULES_TOML: &str = include_str!("../../rules/default.toml");
/// The JSON Schema of a rules file.
pub const RULES_SCHEMA_JSON: &str = include_str!("../../schemas/rules.schema.json");

const MCC_COUNT: usize = 10_000;
/// Limits on a merchant-pattern regex, so a rules file cannot make the engine slow.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// One thing wrong with a rules file, at a path such as `/categories/by_mcc/3/mcc/0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RulesError {
    pub problems: Vec<RuleProblem>,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid rules: ")?;
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl RulesError {
    fn one(path: &str, message: impl Into<String>) -> Self {
        RulesError {
            problems: vec![RuleProblem {
                path: path.into(),
                message: message.into(),
            }],
        }
    }
}

/// Thresholds that apply for one currency (or one category in one currency).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Thresholds {
    pub large_amount_minor: Option<i64>,
    pub low_balance_minor: Option<i64>,
    pub cash_withdrawal_minor: Option<i64>,
}

impl From<ThresholdValues> for Thresholds {
    fn from(v: ThresholdValues) -> Self {
        Thresholds {
            large_amount_minor: v.large_amount_minor,
            low_balance_minor: v.low_balance_minor,
            cash_withdrawal_minor: v.cash_withdrawal_minor,
        }
    }
}

/// When one alert fires and how severe it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRule {
    pub enabled: bool,
    pub severity: Severity,
    /// Kinds the alert applies to; empty = every kind.
    pub kinds: Vec<TransactionKind>,
    pub categories: Vec<Category>,
    pub mcc: Vec<Mcc>,
    pub decline_reasons: Vec<DeclineReason>,
}

impl AlertRule {
    fn defaults(severity: Severity) -> Self {
        AlertRule {
            enabled: true,
            severity,
            kinds: Vec::new(),
            categories: Vec::new(),
            mcc: Vec::new(),
            decline_reasons: Vec::new(),
        }
    }

    pub fn applies_to_kind(&self, kind: TransactionKind) -> bool {
        self.enabled && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
}

/// The compiled rules: lookups are table reads, nothing is parsed per transaction (the maps
/// hash their small keys with Fx: SipHash's resistance to chosen keys buys nothing for keys
/// the rules file fixes, and cost a sixth of the rules' time).
#[derive(Debug, Clone)]
pub struct Rules {
    by_kind: FxHashMap<TransactionKind, Category>,
    merchant_patterns: Option<RegexSet>,
    merchant_categories: Vec<Category>,
    mcc_table: Vec<Option<Category>>,
    default_category: Category,
    currency_thresholds: FxHashMap<Currency, Thresholds>,
    category_thresholds: FxHashMap<(Category, Currency), Thresholds>,
    pub alerts: FxHashMap<Alert, AlertRule>,
    pub max_alert_age: Option<chrono::Duration>,
}

impl Rules {
    /// The built-in rules, compiled once. They are checked by the test suite, so this
    /// cannot fail at run time.
    pub fn builtin() -> Rules {
        static BUILTIN: std::sync::OnceLock<Rules> = std::sync::OnceLock::new();
        BUILTIN
            .get_or_init(|| Rules::from_toml(DEFAULT_RULES_TOML).expect("the built-in rules are valid"))
            .clone()
    }

    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RulesError::one("", format!("cannot read {}: {e}", path.display())))?;
        Rules::from_toml(&text)
    }

    /// Parses, checks against the JSON Schema, then compiles. Every problem found is reported.
    pub fn from_toml(text: &str) -> Result<Rules, RulesError> {
        let document: toml::Value =
            toml::from_str(text).map_err(|e| RulesError::one("", format!("not valid TOML: {}", e.message())))?;
        let json =
            serde_json::to_value(&document).map_err(|e| RulesError::one("", format!("cannot convert to JSON: {e}")))?;
        compile::check_schema(&json)?;
        let file: RulesFile = serde_json::from_value(json).map_err(|e| RulesError::one("", e.to_string()))?;
        compile::compile(&file)
    }

    pub fn category_for_kind(&self, kind: TransactionKind) -> Option<Category> {
        self.by_kind.get(&kind).copied()
    }

    pub fn category_for_merchant_name(&self, name: &str) -> Option<Category> {
        let set = self.merchant_patterns.as_ref()?;
        // The first pattern of the file that matches wins.
        set.matches(name).iter().next().map(|i| self.merchant_categories[i])
    }

    pub fn category_for_mcc(&self, mcc: Mcc) -> Option<Category> {
        self.mcc_table[usize::from(mcc.code())]
    }

    pub fn default_category(&self) -> Category {
        self.default_category
    }

    pub fn currency_thresholds(&self, currency: Currency) -> Thresholds {
        self.currency_thresholds.get(&currency).copied().unwrap_or_default()
    }

    pub fn category_thresholds(&self, category: Category, currency: Currency) -> Thresholds {
        self.category_thresholds
            .get(&(category, currency))
            .copied()
            .unwrap_or_default()
    }

    pub fn alert(&self, alert: Alert) -> &AlertRule {
        &self.alerts[&alert]
    }
}
