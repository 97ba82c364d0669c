//! Spending categories. A closed set: every category needs a label in each email language,
//! so adding one is a code change (here and in the templates), not only a rules change.

string_enum! {
    Category {
        Groceries = "groceries",
        Restaurants = "restaurants",
        Transport = "transport",
        Travel = "travel",
        Fuel = "fuel",
        Cash = "cash",
        Gambling = "gambling",
        Transfers = "transfers",
        Utilities = "utilities",
        Health = "health",
        Entertainment = "entertainment",
        Shopping = "shopping",
        Income = "income",
        Fees = "fees",
        Other = "other",
    }
}
