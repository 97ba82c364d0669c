//! Reference data the workload draws from: countries, names and merchants.

pub struct CountryProfile {
    pub code: &'static str,
    pub currency: &'static str,
    pub time_zone: &'static str,
    pub cities: &'static [&'static str],
    /// Relative share of account holders.
    pub weight: u32,
}

pub const COUNTRIES: &[CountryProfile] = &[
    CountryProfile {
        code: "FR",
        currency: "EUR",
        time_zone: "Europe/Paris",
        cities: &["Paris", "Lyon", "Marseille", "Lille", "Nantes"],
        weight: 50,
    },
    CountryProfile {
        code: "BE",
        currency: "EUR",
        time_zone: "Europe/Brussels",
        cities: &["Bruxelles", "Liège", "Gand"],
        weight: 5,
    },
    CountryProfile {
        code: "DE",
        currency: "EUR",
        time_zone: "Europe/Berlin",
        cities: &["Berlin", "München", "Köln"],
        weight: 3,
    },
    CountryProfile {
        code: "ES",
        currency: "EUR",
        time_zone: "Europe/Madrid",
        cities: &["Madrid", "Barcelona", "Sevilla"],
        weight: 2,
    },
    CountryProfile {
        code: "GB",
        currency: "GBP",
        time_zone: "Europe/London",
        cities: &["London", "Manchester", "Edinburgh"],
        weight: 8,
    },
    CountryProfile {
        code: "US",
        currency: "USD",
        time_zone: "America/New_York",
        cities: &["New York", "Boston", "Chicago"],
        weight: 5,
    },
    CountryProfile {
        code: "CH",
        currency: "CHF",
        time_zone: "Europe/Zurich",
        cities: &["Genève", "Zürich", "Lausanne"],
        weight: 3,
    },
    CountryProfile {
        code: "CM",
        currency: "XAF",
        time_zone: "Africa/Douala",
        cities: &["Douala", "Yaoundé"],
        weight: 8,
    },
    CountryProfile {
        code: "SN",
        currency: "XOF",
        time_zone: "Africa/Dakar",
        cities: &["Dakar", "Saint-Louis", "Thiès"],
        weight: 8,
    },
    CountryProfile {
        code: "JP",
        currency: "JPY",
        time_zone: "Asia/Tokyo",
        cities: &["Tokyo", "Osaka", "Kyoto"],
        weight: 4,
    },
    CountryProfile {
        code: "KW",
        currency: "KWD",
        time_zone: "Asia/Kuwait",
        cities: &["Kuwait City"],
        weight: 2,
    },
    CountryProfile {
        code: "BH",
        currency: "BHD",
        time_zone: "Asia/Bahrain",
        cities: &["Manama"],
        weight: 2,
    },
];

pub const FIRST_NAMES: &[&str] = &[
    "Marie", "Jean", "Camille", "Lucas", "Léa", "Hugo", "Chloé", "Louis", "Inès", "Gabriel", "Aminata", "Moussa",
    "Fatou", "Olivia", "James", "Emma", "Noah", "Yuki", "Haruto", "Sofía",
];

pub const LAST_NAMES: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Diop",
    "Ndiaye", "Fall", "Mbarga", "Smith", "Jones", "Tanaka", "Sato", "García", "Müller",
];

pub struct MerchantProfile {
    pub name: &'static str,
    pub mcc: &'static str,
    /// Typical amounts, in euro cents (scaled to the transaction currency).
    pub min_eur_cents: i64,
    pub max_eur_cents: i64,
    pub online: bool,
    pub weight: u32,
}

const fn shop(name: &'static str, mcc: &'static str, min: i64, max: i64, online: bool, weight: u32) -> MerchantProfile {
    MerchantProfile {
        name,
        mcc,
        min_eur_cents: min,
        max_eur_cents: max,
        online,
        weight,
    }
}

pub const MERCHANTS: &[MerchantProfile] = &[
    shop("Carrefour City", "5411", 300, 9_000, false, 90),
    shop("Monoprix", "5411", 500, 12_000, false, 60),
    shop("Boulangerie Paul", "5462", 120, 1_500, false, 50),
    shop("Biocoop", "5499", 400, 6_000, false, 20),
    shop("Le Petit Bistrot", "5812", 1_200, 9_000, false, 40),
    shop("McDonald's", "5814", 500, 3_000, false, 40),
    shop("Starbucks", "5814", 300, 1_500, false, 25),
    shop("SNCF Connect", "4112", 1_500, 25_000, true, 20),
    shop("RATP", "4111", 190, 8_640, false, 30),
    shop("Uber", "4121", 800, 6_000, true, 20),
    shop("Air France", "3007", 8_000, 150_000, true, 5),
    shop("Booking.com", "4722", 6_000, 90_000, true, 6),
    shop("Hôtel Ibis", "7011", 6_000, 30_000, false, 5),
    shop("TotalEnergies", "5541", 2_000, 12_000, false, 25),
    shop("Shell", "5542", 2_000, 11_000, false, 10),
    shop("Pharmacie du Centre", "5912", 300, 6_000, false, 20),
    shop("Cabinet Médical", "8011", 2_500, 6_000, false, 5),
    shop("Orange", "4814", 1_000, 6_000, true, 8),
    shop("EDF", "4900", 3_000, 20_000, true, 6),
    shop("Spotify", "5815", 599, 1_799, true, 10),
    shop("Cinéma Pathé", "7832", 900, 4_000, false, 10),
    shop("Fnac", "5732", 1_000, 80_000, true, 15),
    shop("Zara", "5651", 1_500, 20_000, false, 20),
    shop("Decathlon", "5941", 1_000, 30_000, false, 15),
    shop("Amazon", "5999", 800, 40_000, true, 40),
    shop("IKEA", "5712", 2_000, 120_000, false, 8),
    shop("Leroy Merlin", "5200", 1_500, 60_000, false, 8),
    shop("Netflix", "4899", 599, 1_999, true, 10),
    shop("FDJ", "7995", 200, 5_000, false, 6),
    shop("Betclic", "7801", 1_000, 20_000, true, 4),
    shop("Binance", "6051", 5_000, 200_000, true, 3),
    shop("Western Union", "4829", 5_000, 100_000, false, 3),
    shop("Distributeur BNP", "6011", 2_000, 40_000, false, 0),
];
