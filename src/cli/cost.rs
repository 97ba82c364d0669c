//! `txn-notify cost`: the monthly AWS cost of a workload, line by line, for template.yaml's
//! design and the same flow on EventBridge Pipes.

use std::process::ExitCode;

use crate::ops::cost::{Deployment, Design, Estimate, Workload, dollars, estimate};
use crate::template::Template;

#[derive(Debug, clap::Args)]
pub struct CostArgs {
    /// Transactions written to the ledger per day.
    #[arg(long, value_name = "N")]
    transactions_per_day: u64,
    /// Alert events (Large Transaction, Low Balance, …) per transaction.
    #[arg(long, default_value_t = 0.2, value_name = "R", value_parser = non_negative)]
    alert_rate: f64,
    /// Emails per transaction (the email policy and preferences decide; simulate measures 0.93).
    #[arg(long, default_value_t = 0.93, value_name = "R", value_parser = non_negative)]
    email_rate: f64,
    /// Accounts (each gets a weekly statement). Default: a tenth of the daily transactions.
    #[arg(long, value_name = "N")]
    accounts: Option<u64>,
    /// The design whose lines are listed (both totals are always given).
    #[arg(long, value_enum, default_value_t = Design::Lambda)]
    design: Design,
    /// Print {"lambda": …, "pipes": …} with every line, amounts in picodollars.
    #[arg(long)]
    json: bool,
}

fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
        _ => Err(format!("{text:?} is not a rate (a number, 0 or more)")),
    }
}

pub fn run(args: CostArgs) -> ExitCode {
    let deployment = match Deployment::from_template(Template::builtin()) {
        Ok(deployment) => deployment,
        Err(error) => return super::fail(args.json, &error.to_string()),
    };
    let workload = Workload {
        transactions_per_day: args.transactions_per_day,
        alert_rate: args.alert_rate,
        email_rate: args.email_rate,
        accounts: args.accounts.unwrap_or(args.transactions_per_day / 10).max(1),
    };
    let lambda = estimate(&workload, Design::Lambda, &deployment);
    let pipes = estimate(&workload, Design::Pipes, &deployment);
    if args.json {
        println!("{}", serde_json::json!({ "lambda": lambda, "pipes": pipes }));
        return ExitCode::SUCCESS;
    }
    let shown = if args.design == Design::Lambda { &lambda } else { &pipes };
    print_estimate(shown);
    println!();
    println!(
        "template.yaml (Lambda on the stream): {}/month; on EventBridge Pipes: {}/month ({} per million transactions)",
        dollars(lambda.total_picodollars),
        dollars(pipes.total_picodollars),
        dollars(pipes.per_million_transactions_picodollars)
    );
    println!(
        "Prices: us-east-1 list prices ({}), no free tier; the model: docs/cost.md",
        lambda.prices_as_of
    );
    ExitCode::SUCCESS
}

fn print_estimate(e: &Estimate) {
    println!(
        "{} transactions/day ({} a month), {} alert events and {} emails per transaction, {} accounts; design: {:?}",
        e.workload.transactions_per_day,
        e.transactions_per_month,
        e.workload.alert_rate,
        e.workload.email_rate,
        e.workload.accounts,
        e.design
    );
    println!(
        "{:<18} {:<32} {:>16} {:<16} {:>12}",
        "service", "item", "quantity", "unit", "per month"
    );
    for line in &e.lines {
        println!(
            "{:<18} {:<32} {:>16} {:<16} {:>12}",
            line.service,
            line.item,
            line.quantity,
            line.unit,
            dollars(line.picodollars)
        );
    }
    println!(
        "{:<18} {:<32} {:>16} {:<16} {:>12}",
        "total",
        "",
        "",
        "",
        dollars(e.total_picodollars)
    );
    println!(
        "per million transactions: {}",
        dollars(e.per_million_transactions_picodollars)
    );
}
