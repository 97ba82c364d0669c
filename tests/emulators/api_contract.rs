//! The API against its own spec, as schemathesis reads it: `txn-notify dev` on a free
//! loopback port, every request signed (scripts/schemathesis/signing.py), a bounded run with
//! a fixed seed. Zero server errors, zero responses outside the spec (status, content type,
//! headers, body schema), zero schema-valid requests refused, and schema-invalid ones
//! refused. The two rules JSON Schema cannot state (booked_at within 24 hours of the
//! server's clock; a top-up fee that leaves something to credit) are written in the spec's
//! descriptions and left out of generation by the hooks; ingest's tests cover them.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance,positive_data_acceptance,negative_data_rejection";

fn schemathesis() -> std::path::PathBuf {
    let tools = std::env::var("TXN_NOTIFY_TOOLS").unwrap_or_else(|_| {
        panic!(
            "TXN_NOTIFY_TOOLS is not set: the API contract test needs schemathesis from the test \
             venv. Run it through scripts/with-emulators.sh (scripts/test.sh does)"
        )
    });
    let path = Path::new(&tools).join("schemathesis");
    assert!(
        path.exists(),
        "{} is missing: scripts/emulators/requirements.txt installs it",
        path.display()
    );
    path
}

#[test]
fn the_api_answers_as_its_openapi_spec_says() {
    let schemathesis = schemathesis();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("txn-notify-api-contract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut dev = Command::new(env!("CARGO_BIN_EXE_txn-notify"))
        .args(["dev", "--port", "0", "--data-dir"])
        .arg(&dir)
        .env_remove("TXN_NOTIFY_SIGNING_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("txn-notify dev starts");
    let mut stdout = BufReader::new(dev.stdout.take().unwrap());
    let address = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "dev ended before listening");
        if let Some(rest) = line.trim().strip_prefix("txn-notify dev: listening on ") {
            break rest.to_string();
        }
    };
    assert!(address.starts_with("http://127.0.0.1:"), "{address}");
    let statuses = dir.with_extension("statuses");
    let _ = std::fs::remove_file(&statuses);
    let run = Command::new(&schemathesis)
        .current_dir(root.join("scripts/schemathesis"))
        .env("SCHEMATHESIS_HOOKS", "signing")
        .env("TXN_NOTIFY_SCHEMATHESIS_STATUSES", &statuses)
        .env_remove("TXN_NOTIFY_SIGNING_SECRET")
        .args([
            "run",
            "../../schemas/openapi.yaml",
            "--url",
            &address,
            "--checks",
            CHECKS,
        ])
        .args(["--max-examples", "100", "--seed", "1", "--workers", "1"])
        .args(["--suppress-health-check", "all", "--no-color"])
        .output()
        .expect("schemathesis runs");
    // Stop dev by its PID before judging, so that a failure leaves nothing running.
    let _ = Command::new("kill").args(["-INT", &dev.id().to_string()]).status();
    let stopped = dev.wait().unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        run.status.success(),
        "schemathesis found the API and its spec apart:\n{report}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let every = format!("Tested: {}", txn_notify::pipeline::ingest::routes::ROUTES.len());
    assert!(report.contains(&every), "every operation was tested:\n{report}");
    assert!(!report.contains("No tests were run"), "{report}");
    assert!(stopped.success(), "dev stopped cleanly: {stopped:?}");
    // The requests reached the API's logic: accounts and transactions were created, bad
    // bodies were refused, and no request failed its signature.
    let counts = std::fs::read_to_string(&statuses).expect("the hooks recorded the statuses");
    let _ = std::fs::remove_file(&statuses);
    let count = |status: &str| counts.lines().filter(|l| *l == status).count();
    // How many of each depends on the stateful phase's scenarios; that some pass is the point.
    assert!(count("201") >= 3, "201: {}", count("201"));
    assert!(count("200") >= 3, "200: {}", count("200"));
    assert!(count("400") >= 50, "400: {}", count("400"));
    assert_eq!(count("401"), 0, "every request is signed as the spec says");
    assert!(!counts.lines().any(|l| l.starts_with('5')), "no server error");
}
