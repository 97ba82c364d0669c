use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use crate::pattern::Pattern;

#[derive(Debug, clap::Args)]
pub struct PatternArgs {
    /// The event pattern (JSON).
    #[arg(long, value_name = "FILE")]
    pattern: PathBuf,
    /// The event (JSON object).
    #[arg(long, value_name = "FILE")]
    event: PathBuf,
    /// Print {"match": true|false} or {"error": "..."}.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PatternArgs) -> ExitCode {
    let read =
        |path: &PathBuf| std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()));
    let pattern = match read(&args.pattern).and_then(|text| Pattern::parse_str(&text).map_err(|e| e.to_string())) {
        Ok(pattern) => pattern,
        Err(message) => return super::fail(args.json, &message),
    };
    let event: serde_json::Value = match read(&args.event)
        .and_then(|text| serde_json::from_str(&text).map_err(|e| format!("the event is not valid JSON: {e}")))
    {
        Ok(event) => event,
        Err(message) => return super::fail(args.json, &message),
    };
    if !event.is_object() {
        return super::fail(args.json, "the event must be a JSON object");
    }
    let matched = pattern.matches(&event);
    if args.json {
        println!("{}", json!({ "match": matched }));
    } else {
        println!("{}", if matched { "match" } else { "no match" });
    }
    if matched { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
