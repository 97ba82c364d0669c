//! `txn-notify dashboard`: template.yaml's CloudWatch dashboard as a local HTML page, drawn
//! from the EMF a `simulate` or `dev` run wrote.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct DashboardArgs {
    /// The folder of a `simulate` or `dev` run (it holds metrics.emf).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Where to write the page (default: DIR/dashboard.html).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(args: DashboardArgs) -> ExitCode {
    let out = args.out.clone().unwrap_or_else(|| args.data_dir.join("dashboard.html"));
    match crate::local::tools::dashboard::render_folder(&args.data_dir)
        .map_err(|e| e.to_string())
        .and_then(|html| std::fs::write(&out, html).map_err(|e| format!("cannot write {}: {e}", out.display())))
    {
        Ok(()) => {
            println!("dashboard: {}", out.display());
            ExitCode::SUCCESS
        }
        Err(message) => super::fail(false, &message),
    }
}
