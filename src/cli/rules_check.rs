use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use crate::rules::{Alert, Rules};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The rules file (TOML).
    file: PathBuf,
    /// Print one JSON object: {"valid": bool, "problems": [{"path", "message"}]}.
    #[arg(long)]
    json: bool,
}

pub fn run(args: CheckArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(e) => return super::fail(args.json, &format!("cannot read {}: {e}", args.file.display())),
    };
    match Rules::from_toml(&text) {
        Ok(rules) => {
            let enabled = Alert::ALL.iter().filter(|a| rules.alert(**a).enabled).count();
            if args.json {
                println!(
                    "{}",
                    json!({ "valid": true, "problems": [], "alerts_enabled": enabled })
                );
            } else {
                println!(
                    "{}: valid rules ({enabled} of {} alerts enabled)",
                    args.file.display(),
                    Alert::ALL.len()
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            if args.json {
                let problems: Vec<_> = error
                    .problems
                    .iter()
                    .map(|p| json!({ "path": p.path, "message": p.message }))
                    .collect();
                println!("{}", json!({ "valid": false, "problems": problems }));
            } else {
                eprintln!("{}: {} problem(s)", args.file.display(), error.problems.len());
                for problem in &error.problems {
                    eprintln!("  {problem}");
                }
            }
            ExitCode::from(1)
        }
    }
}
