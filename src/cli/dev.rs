//! `txn-notify dev`: the ingest API and the whole pipeline on this machine, until Ctrl-C;
//! `txn-notify sign`: the X-Signature header of a request, for curl.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::local::memory::LOCAL_SIGNING_SECRET;
use crate::local::tools::dev::{DevOptions, serve};
use crate::pipeline::ingest::routes::ROUTES;

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// The port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Where the store, the outbox, the on-failure folder and metrics.emf are kept; kept
    /// between runs, so a restart goes on where the last one stopped.
    #[arg(long, value_name = "DIR", default_value = ".txn-notify")]
    data_dir: PathBuf,
    /// Empty the data folder first.
    #[arg(long)]
    fresh: bool,
    /// How often the pipeline looks for work, in milliseconds.
    #[arg(long, default_value_t = 200, value_name = "MS")]
    tick_ms: u64,
}

fn signing_secret() -> String {
    std::env::var("TXN_NOTIFY_SIGNING_SECRET").unwrap_or_else(|_| LOCAL_SIGNING_SECRET.to_string())
}

pub fn run(args: DevArgs) -> ExitCode {
    crate::telemetry::logs::init_terminal_logs();
    if args.fresh {
        for entry in ["txn-notify.db", "txn-notify.db-wal", "txn-notify.db-shm", "metrics.emf"] {
            let _ = std::fs::remove_file(args.data_dir.join(entry));
        }
        for folder in ["outbox", "on-failure"] {
            let _ = std::fs::remove_dir_all(args.data_dir.join(folder));
        }
    }
    let secret = signing_secret();
    let options = DevOptions {
        listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.port),
        data_dir: args.data_dir.clone(),
        signing_secret: secret.as_bytes().to_vec(),
        tick: Duration::from_millis(args.tick_ms.max(1)),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return super::fail(false, &format!("cannot start the runtime: {e}")),
    };
    let data_dir = args.data_dir.display().to_string();
    let banner = move |address: SocketAddr| {
        let base = format!("http://{address}");
        println!("txn-notify dev: listening on {base}");
        for (method, path) in ROUTES {
            println!("  {method:<4} {base}{path}");
        }
        // A secret of the user's own is theirs to keep: only the built-in one is shown.
        if secret == LOCAL_SIGNING_SECRET {
            println!(
                "signing secret: {secret} (the built-in local test secret; TXN_NOTIFY_SIGNING_SECRET sets another)"
            );
        } else {
            println!("signing secret: from TXN_NOTIFY_SIGNING_SECRET (not shown)");
        }
        println!("  X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.METHOD.path.body\">");
        println!("  or: curl -H \"X-Signature: $(txn-notify sign POST /v1/accounts \"$body\")\" …");
        println!("outbox: {base}/outbox/   status: {base}/status");
        println!("data: {data_dir} (kept between runs; --fresh empties it)");
        println!("Ctrl-C stops");
        use std::io::Write;
        let _ = std::io::stdout().flush();
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match runtime.block_on(serve(options, banner, shutdown)) {
        Err(error) => super::fail(false, &error.to_string()),
        Ok(summary) => {
            println!(
                "stopped: {} ingest requests, {} processor batches, {} queue messages delivered; the store holds {} emails and {} audit items; {} stream records and queue messages left for the next start",
                summary.requests,
                summary.processor_batches,
                summary.messages_delivered,
                summary.emails,
                summary.audit_items,
                summary.left_for_next_start
            );
            ExitCode::SUCCESS
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The request's method.
    method: String,
    /// The request's path (no query string), e.g. /v1/accounts.
    path: String,
    /// The request's body, exactly as sent (empty for a GET).
    #[arg(default_value = "")]
    body: String,
    /// Sign as if it were this Unix time (default: now).
    #[arg(long)]
    timestamp: Option<i64>,
}

/// Prints the X-Signature value for a request, signed with `TXN_NOTIFY_SIGNING_SECRET` or
/// the local test secret.
pub fn sign(args: SignArgs) -> ExitCode {
    let timestamp = args.timestamp.unwrap_or_else(|| chrono::Utc::now().timestamp());
    println!(
        "{}",
        crate::pipeline::ingest::auth::sign(
            signing_secret().as_bytes(),
            timestamp,
            &args.method.to_ascii_uppercase(),
            &args.path,
            args.body.as_bytes(),
        )
    );
    ExitCode::SUCCESS
}
