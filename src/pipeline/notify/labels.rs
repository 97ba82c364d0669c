//! Words the templates need in each language, for values that come from closed vocabularies
//! (categories, kinds, decline reasons, months). Sentences live in `templates/`.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

use crate::domain::account::Locale;
use crate::domain::category::Category;
use crate::domain::transaction::{DeclineReason, TransactionKind};

pub fn category(category: Category, locale: Locale) -> &'static str {
    use Category::*;
    match locale {
        Locale::Fr => match category {
            Groceries => "Alimentation",
            Restaurants => "Restaurants",
            Transport => "Transports",
            Travel => "Voyages",
            Fuel => "Carburant",
            Cash => "Espèces",
            Gambling => "Jeux d'argent",
            Transfers => "Virements",
            Utilities => "Factures",
            Health => "Santé",
            Entertainment => "Loisirs",
            Shopping => "Shopping",
            Income => "Revenus",
            Fees => "Frais",
            Other => "Autres",
        },
        Locale::En => match category {
            Groceries => "Groceries",
            Restaurants => "Restaurants",
            Transport => "Transport",
            Travel => "Travel",
            Fuel => "Fuel",
            Cash => "Cash",
            Gambling => "Gambling",
            Transfers => "Transfers",
            Utilities => "Bills",
            Health => "Health",
            Entertainment => "Entertainment",
            Shopping => "Shopping",
            Income => "Income",
            Fees => "Fees",
            Other => "Other",
        },
    }
}

/// A noun for the operation: "Paiement par carte", "Card payment".
pub fn kind(kind: TransactionKind, locale: Locale) -> &'static str {
    use TransactionKind::*;
    match locale {
        Locale::Fr => match kind {
            CardPurchase => "Paiement par carte",
            AtmWithdrawal => "Retrait d'espèces",
            TransferIn => "Virement reçu",
            TransferOut => "Virement émis",
            TopUp => "Rechargement",
            Refund => "Remboursement",
            Fee => "Frais",
        },
        Locale::En => match kind {
            CardPurchase => "Card payment",
            AtmWithdrawal => "Cash withdrawal",
            TransferIn => "Incoming transfer",
            TransferOut => "Outgoing transfer",
            TopUp => "Top-up",
            Refund => "Refund",
            Fee => "Fee",
        },
    }
}

pub fn decline_reason(reason: DeclineReason, locale: Locale) -> &'static str {
    use DeclineReason::*;
    match locale {
        Locale::Fr => match reason {
            InsufficientFunds => "solde insuffisant",
            LimitExceeded => "plafond atteint",
            SuspectedFraud => "suspicion de fraude",
            CardBlocked => "carte bloquée",
            Other => "autre motif",
        },
        Locale::En => match reason {
            InsufficientFunds => "insufficient funds",
            LimitExceeded => "limit reached",
            SuspectedFraud => "suspected fraud",
            CardBlocked => "card blocked",
            Other => "other reason",
        },
    }
}

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn month(month0: u32, locale: Locale) -> &'static str {
    let months = match locale {
        Locale::Fr => &MONTHS_FR,
        Locale::En => &MONTHS_EN,
    };
    months[month0 as usize % 12]
}

/// "3 novembre 2026" / "3 November 2026"; "1er" for the first of the month in French.
pub fn date(day: NaiveDate, locale: Locale) -> String {
    let name = month(day.month0(), locale);
    match locale {
        Locale::Fr if day.day() == 1 => format!("1er {name} {}", day.year()),
        _ => format!("{} {name} {}", day.day(), day.year()),
    }
}

/// The instant in the account's time zone: "3 novembre 2026 à 14:05" / "3 November 2026 at 14:05".
pub fn date_time(instant: DateTime<Utc>, zone: Tz, locale: Locale) -> String {
    let local = instant.with_timezone(&zone);
    let day = date(local.date_naive(), locale);
    let joiner = match locale {
        Locale::Fr => "à",
        Locale::En => "at",
    };
    format!("{day} {joiner} {:02}:{:02}", local.hour(), local.minute())
}

/// A short date for statement lines: "03/11" (fr) / "3 Nov" (en).
pub fn short_date(instant: DateTime<Utc>, zone: Tz, locale: Locale) -> String {
    let local = instant.with_timezone(&zone).date_naive();
    match locale {
        Locale::Fr => format!("{:02}/{:02}", local.day(), local.month()),
        Locale::En => format!("{} {}", local.day(), &month(local.month0(), locale)[..3]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::zone_or_default as zone;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn dates_are_written_in_the_account_zone_and_language() {
        let paris = zone(Some("Europe/Paris"));
        // 23:30 UTC is already the next day in Paris (UTC+1 in winter).
        assert_eq!(
            date_time(at("2026-11-30T23:30:00Z"), paris, Locale::Fr),
            "1er décembre 2026 à 00:30"
        );
        assert_eq!(
            date_time(at("2026-11-30T23:30:00Z"), paris, Locale::En),
            "1 December 2026 at 00:30"
        );
        // Summer time: UTC+2.
        assert_eq!(
            date_time(at("2026-07-14T10:00:00Z"), paris, Locale::Fr),
            "14 juillet 2026 à 12:00"
        );
        let tokyo = zone(Some("Asia/Tokyo"));
        assert_eq!(
            date_time(at("2026-11-20T16:00:00Z"), tokyo, Locale::En),
            "21 November 2026 at 01:00"
        );
        assert_eq!(short_date(at("2026-11-03T09:00:00Z"), paris, Locale::Fr), "03/11");
        assert_eq!(short_date(at("2026-11-03T09:00:00Z"), paris, Locale::En), "3 Nov");
    }

    #[test]
    fn an_unknown_or_missing_zone_falls_back_to_paris() {
        assert_eq!(zone(None), chrono_tz::Europe::Paris);
        assert_eq!(zone(Some("Mars/Olympus_Mons")), chrono_tz::Europe::Paris);
        assert_eq!(zone(Some("America/New_York")), chrono_tz::America::New_York);
    }
}
