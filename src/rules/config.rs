//! The rules file as written (TOML), before it is checked and compiled.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    pub version: u32,
    pub categories: CategoriesConfig,
    #[serde(default)]
    pub thresholds: ThresholdsConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoriesConfig {
    pub default: String,
    #[serde(default)]
    pub by_kind: BTreeMap<String, String>,
    #[serde(default)]
    pub by_merchant: Vec<MerchantPattern>,
    #[serde(default)]
    pub by_mcc: Vec<MccEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantPattern {
    pub pattern: String,
    pub category: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MccEntry {
    pub category: String,
    pub mcc: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsConfig {
    /// Currency code → thresholds.
    #[serde(default)]
    pub currency: BTreeMap<String, ThresholdValues>,
    /// Category → currency code → thresholds.
    #[serde(default)]
    pub category: BTreeMap<String, BTreeMap<String, ThresholdValues>>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdValues {
    pub large_amount_minor: Option<i64>,
    pub low_balance_minor: Option<i64>,
    pub cash_withdrawal_minor: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    pub large_transaction: Option<AlertConfig>,
    pub low_balance: Option<AlertConfig>,
    pub spending_limit: Option<AlertConfig>,
    pub foreign_transaction: Option<AlertConfig>,
    pub cash_withdrawal: Option<AlertConfig>,
    pub high_risk_merchant: Option<AlertConfig>,
    pub top_up: Option<AlertConfig>,
    pub refund: Option<AlertConfig>,
    /// Transactions booked longer ago than this get no alerts (a back-fill alarms no one).
    pub max_alert_age_hours: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub severity: Option<String>,
    pub kinds: Option<Vec<String>>,
    pub categories: Option<Vec<String>>,
    pub mcc: Option<Vec<String>>,
    pub decline_reasons: Option<Vec<String>>,
}

fn enabled_by_default() -> bool {
    true
}
