//! `txn-notify dev` as a user runs it: the compiled binary on a free loopback port, signed
//! requests over HTTP, emails appearing in /outbox/, Ctrl-C (SIGINT to its PID), and a
//! restart on the same folder that goes on from where it stopped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use txn_notify::local::memory::LOCAL_SIGNING_SECRET;
use txn_notify::pipeline::ingest::auth::sign;

const BIN: &str = env!("CARGO_BIN_EXE_txn-notify");

struct Dev {
    child: Child,
    address: String,
    stdout: BufReader<std::process::ChildStdout>,
    secret: String,
    banner: String,
}

impl Dev {
    fn start(dir: &Path) -> Dev {
        let dev = Dev::start_with(dir, None);
        assert!(
            dev.banner.contains(&format!("signing secret: {LOCAL_SIGNING_SECRET}")),
            "the banner shows the built-in test secret: {}",
            dev.banner
        );
        dev
    }

    /// `secret`: TXN_NOTIFY_SIGNING_SECRET, None for the built-in local test secret.
    fn start_with(dir: &Path, secret: Option<&str>) -> Dev {
        let mut command = Command::new(BIN);
        command
            .args(["dev", "--port", "0", "--tick-ms", "50", "--data-dir"])
            .arg(dir)
            .env_remove("TXN_NOTIFY_SIGNING_SECRET");
        if let Some(secret) = secret {
            command.env("TXN_NOTIFY_SIGNING_SECRET", secret);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("txn-notify dev starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        let address = loop {
            let mut line = String::new();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "dev ended early: {banner}");
            banner.push_str(&line);
            if let Some(rest) = line.trim().strip_prefix("txn-notify dev: listening on http://") {
                break rest.to_string();
            }
        };
        assert!(address.starts_with("127.0.0.1:"), "{address}");
        while !banner.contains("Ctrl-C stops") {
            assert!(stdout.read_line(&mut banner).unwrap() > 0);
        }
        Dev {
            child,
            address,
            stdout,
            secret: secret.unwrap_or(LOCAL_SIGNING_SECRET).to_string(),
            banner,
        }
    }

    /// Ctrl-C, then the exit status and what it printed last.
    fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                break exit;
            }
            assert!(Instant::now() < deadline, "dev did not stop within 15 s of SIGINT");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut tail = String::new();
        self.stdout.read_to_string(&mut tail).unwrap();
        (exit, tail)
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, String)], body: &str) -> Response {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.address,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        // A server that refuses a body past its limit answers and closes without reading the
        // rest: the write then fails (broken pipe, reset) and the answer is still there to read.
        if let Err(error) = stream.write_all(body.as_bytes()) {
            assert!(
                matches!(
                    error.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ),
                "{error}"
            );
        }
        let mut raw = Vec::new();
        if let Err(error) = stream.read_to_end(&mut raw) {
            assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
        }
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        Response {
            status,
            head: head.to_ascii_lowercase(),
            body: String::from_utf8_lossy(&raw[split + 4..]).to_string(),
        }
    }

    fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], "")
    }

    /// A request signed with the local secret, as a client of the API signs it.
    fn signed(&self, method: &str, path: &str, body: &Value) -> Response {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let now = chrono::Utc::now().timestamp();
        let signature = sign(self.secret.as_bytes(), now, method, path, body.as_bytes());
        self.request(
            method,
            path,
            &[
                ("X-Signature", signature),
                ("Content-Type", "application/json".to_string()),
            ],
            &body,
        )
    }

    /// A POST of this exact text, signed with `secret`, with this Content-Type (None: none).
    fn post_text(&self, secret: &str, path: &str, body: &str, content_type: Option<&str>) -> Response {
        let now = chrono::Utc::now().timestamp();
        let mut headers = vec![(
            "X-Signature",
            sign(secret.as_bytes(), now, "POST", path, body.as_bytes()),
        )];
        if let Some(t) = content_type {
            headers.push(("Content-Type", t.to_string()));
        }
        self.request("POST", path, &headers, body)
    }

    fn status(&self) -> Value {
        let response = self.get("/status");
        assert_eq!(response.status, 200, "{}", response.body);
        serde_json::from_str(&response.body).unwrap()
    }

    /// Waits until the pipeline has nothing left and returns the status.
    fn settled(&self, emails: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self.status();
            if status["emails"] == emails
                && status["stream_records_waiting"] == 0
                && status["queue_messages_waiting"] == 0
            {
                return status;
            }
            assert!(Instant::now() < deadline, "the pipeline did not settle: {status}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A test that fails half-way still ends the process it started.
impl Drop for Dev {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

struct Response {
    status: u16,
    head: String,
    body: String,
}

fn account() -> Value {
    json!({
        "account_id": "acc-dev-001",
        "holder": {"first_name": "Camille", "last_name": "Martin"},
        "email": "camille.martin@example.com",
        "locale": "fr", "country": "FR", "currency": "EUR", "time_zone": "Europe/Paris",
        "thresholds": {"large_amount_minor": 80000}
    })
}

fn large_purchase() -> Value {
    json!({
        "transaction_id": "t-dev-1", "account_id": "acc-dev-001",
        "kind": "card_purchase", "status": "approved",
        "amount_minor": 150_000, "currency": "EUR", "balance_after_minor": 231_000,
        "channel": "ecommerce",
        "merchant": {"name": "SNCF Connect", "mcc": "4112", "country": "FR", "city": "Paris"},
        "card_last4": "4242",
        "booked_at": txn_notify::domain::time::format_rfc3339(&chrono::Utc::now())
    })
}

#[test]
fn dev_serves_signed_ingest_runs_the_pipeline_and_stops_cleanly_on_ctrl_c() {
    let dir = tempdir("dev-flow");
    let dev = Dev::start(&dir);
    let purchase = large_purchase();

    // The `sign` command's header is accepted as is, as the banner says to use it.
    let body = account().to_string();
    let header = Command::new(BIN)
        .args(["sign", "POST", "/v1/accounts", &body])
        .env_remove("TXN_NOTIFY_SIGNING_SECRET")
        .output()
        .unwrap();
    let header = String::from_utf8(header.stdout).unwrap().trim().to_string();
    let created = dev.request(
        "POST",
        "/v1/accounts",
        &[("X-Signature", header), ("Content-Type", "application/json".into())],
        &body,
    );
    assert_eq!(created.status, 201, "{}", created.body);

    let unsigned = dev.request(
        "POST",
        "/v1/transactions",
        &[("Content-Type", "application/json".into())],
        &purchase.to_string(),
    );
    assert_eq!(unsigned.status, 401);
    assert!(
        unsigned.head.contains("content-type: application/problem+json"),
        "{}",
        unsigned.head
    );
    let unknown = dev.signed("GET", "/v2/nothing", &Value::Null);
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert!(unknown.head.contains("application/problem+json"));

    let stored = dev.signed("POST", "/v1/transactions", &purchase);
    assert_eq!(stored.status, 201, "{}", stored.body);

    // The welcome email and the large-amount alert; three events audited.
    let status = dev.settled(2);
    assert_eq!(status["audit_items"], 3, "{status}");
    assert_eq!(status["dead_letters"], 0);

    let index = dev.get("/outbox/");
    assert_eq!(index.status, 200);
    assert!(index.head.contains("text/html"));
    assert!(index.body.contains("Outbox: 2 emails"), "{}", index.body);
    assert!(index.body.contains("SNCF Connect"), "{}", index.body);
    let redirect = dev.get("/outbox");
    assert_eq!(redirect.status, 308);
    let eml = dev.get("/outbox/000001.eml");
    assert_eq!(eml.status, 200);
    assert!(eml.body.contains("multipart/alternative"), "{}", eml.body);
    assert!(eml.body.contains("X-Tag-event_id: "), "{}", eml.body);
    // The dashboard, drawn from what this run wrote to metrics.emf.
    let dashboard = dev.get("/dashboard");
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.head.contains("text/html"));
    assert!(dashboard.body.contains("txn-notify dashboard") && dashboard.body.contains("\"label\":\"sent\""));
    // Only the outbox's own files are served.
    assert_eq!(dev.get("/outbox/..%2Ftxn-notify.db").status, 404);
    assert_eq!(dev.get("/outbox/000099.eml").status, 404);

    let (exit, tail) = dev.interrupt();
    assert!(exit.success(), "{exit:?}");
    assert!(tail.contains("stopped: 4 ingest requests"), "{tail}");
    assert!(tail.contains("the store holds 2 emails and 3 audit items"), "{tail}");

    // A restart goes on with the same store: the history is there, a resent transaction is
    // a duplicate, and nothing is sent again.
    let dev = Dev::start(&dir);
    let history = dev.signed("GET", "/v1/accounts/acc-dev-001/transactions", &Value::Null);
    assert_eq!(history.status, 200, "{}", history.body);
    assert!(history.body.contains("t-dev-1"), "{}", history.body);
    let again = dev.signed("POST", "/v1/transactions", &purchase);
    assert_eq!(again.status, 200, "a resent transaction is a duplicate: {}", again.body);
    std::thread::sleep(Duration::from_millis(300));
    let status = dev.settled(2);
    assert_eq!(status["audit_items"], 3, "{status}");
    let (exit, _) = dev.interrupt();
    assert!(exit.success());
}

#[test]
fn a_second_process_on_the_same_folder_is_refused_with_a_clear_error() {
    let dir = tempdir("dev-owned");
    let dev = Dev::start(&dir);
    // Writes committed, and time for the store's writeback thread to open the files and
    // sync them: its descriptors must not cost the store its lock.
    let created = dev.signed("POST", "/v1/accounts", &account());
    assert_eq!(created.status, 201, "{}", created.body);
    dev.settled(1);
    std::thread::sleep(Duration::from_millis(200));
    let mut second = Command::new(BIN)
        .args(["dev", "--port", "0", "--data-dir"])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // One that got the store would serve until stopped.
    let deadline = Instant::now() + Duration::from_secs(20);
    while second.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if second.try_wait().unwrap().is_none() {
        let _ = second.kill();
        let _ = second.wait();
        panic!("a second dev process opened the store the first one holds");
    }
    let second = second.wait_with_output().unwrap();
    assert_eq!(second.status.code(), Some(2));
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(message.contains("is in use by another txn-notify process"), "{message}");
    let (exit, _) = dev.interrupt();
    assert!(exit.success());
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("txn-notify-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_secret_of_ones_own_is_never_printed_and_is_the_one_that_signs() {
    let dir = tempdir("dev-secret");
    let secret = "bank-own-secret-3f9a1c";
    let dev = Dev::start_with(&dir, Some(secret));
    assert!(!dev.banner.contains(secret), "{}", dev.banner);
    assert!(!dev.banner.contains(LOCAL_SIGNING_SECRET), "{}", dev.banner);
    assert!(
        dev.banner
            .contains("signing secret: from TXN_NOTIFY_SIGNING_SECRET (not shown)")
    );
    let account = json!({
        "account_id": "acc-own-001",
        "holder": {"first_name": "Ada", "last_name": "Lovelace"},
        "email": "ada@example.com",
        "country": "GB",
        "currency": "GBP"
    });
    assert_eq!(dev.signed("POST", "/v1/accounts", &account).status, 201);
    // The built-in test secret opens nothing here.
    let refused = dev.post_text(
        LOCAL_SIGNING_SECRET,
        "/v1/accounts",
        &account.to_string(),
        Some("application/json"),
    );
    assert_eq!(refused.status, 401);
    let (exit, _) = dev.interrupt();
    assert!(exit.success());
}

#[test]
fn one_body_limit_and_clear_media_type_errors_whatever_the_path_in() {
    let dir = tempdir("dev-limits");
    let dev = Dev::start(&dir);
    let limit = txn_notify::pipeline::ingest::MAX_BODY_BYTES;
    let mut details = Vec::new();
    for size in [limit + 1, 2 * 1024 * 1024] {
        let body = format!("{{\"metadata\":\"{}\"}}", "x".repeat(size));
        let response = dev.post_text(
            LOCAL_SIGNING_SECRET,
            "/v1/transactions",
            &body,
            Some("application/json"),
        );
        assert_eq!(response.status, 413, "{size}: {}", response.body);
        assert!(response.head.contains("application/problem+json"), "{}", response.head);
        let problem: Value = serde_json::from_str(&response.body).unwrap();
        details.push(problem["detail"].as_str().unwrap().to_string());
    }
    assert_eq!(details[0], details[1], "one limit, one message");
    assert_eq!(details[0], "the body may hold at most 64 KiB (65536 bytes)");
    // A body just at the limit is read (and answered on its merits).
    let body = format!("{{\"x\":\"{}\"}}", "x".repeat(limit - 8));
    assert_eq!(body.len(), limit);
    let response = dev.post_text(
        LOCAL_SIGNING_SECRET,
        "/v1/transactions",
        &body,
        Some("application/json"),
    );
    assert_eq!(response.status, 400, "{}", response.body);
    for content_type in [None, Some(""), Some("text/plain")] {
        let response = dev.post_text(LOCAL_SIGNING_SECRET, "/v1/accounts", "{}", content_type);
        assert_eq!(response.status, 415, "{content_type:?}");
        let problem: Value = serde_json::from_str(&response.body).unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("Content-Type: application/json"), "{detail}");
        if content_type == Some("text/plain") {
            assert!(detail.contains("\"text/plain\""), "{detail}");
        } else {
            assert!(detail.contains("no Content-Type was given"), "{detail}");
        }
    }
    let (exit, _) = dev.interrupt();
    assert!(exit.success());
}

impl Dev {
    /// A signed request with these extra headers and this exact body.
    fn signed_with_headers(&self, method: &str, path: &str, headers: &[(&str, String)], body: &str) -> Response {
        let now = chrono::Utc::now().timestamp();
        let mut all = vec![(
            "X-Signature",
            sign(self.secret.as_bytes(), now, method, path, body.as_bytes()),
        )];
        all.extend(headers.iter().cloned());
        self.request(method, path, &all, body)
    }

    fn patch(&self, path: &str, if_match: &str, body: &Value) -> Response {
        self.signed_with_headers(
            "PATCH",
            path,
            &[
                ("Content-Type", "application/merge-patch+json".into()),
                ("If-Match", if_match.into()),
            ],
            &body.to_string(),
        )
    }

    fn notifications(&self, account_id: &str) -> Vec<Value> {
        let path = format!("/v1/accounts/{account_id}/notifications");
        let now = chrono::Utc::now().timestamp();
        let signature = sign(self.secret.as_bytes(), now, "GET", &path, b"");
        let response = self.request("GET", &format!("{path}?limit=100"), &[("X-Signature", signature)], "");
        assert_eq!(response.status, 200, "{}", response.body);
        let page: Value = serde_json::from_str(&response.body).unwrap();
        page["notifications"].as_array().unwrap().clone()
    }

    /// Waits until the history holds a notification that `wanted` picks.
    fn notification(&self, account_id: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(found) = self.notifications(account_id).into_iter().find(&wanted) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no such notification: {:?}",
                self.notifications(account_id)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The outbox's emails, in order, headers unfolded.
fn outbox_emails(dir: &Path) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .replace("\r\n ", " ")
                .replace("\r\n\t", " ")
        })
        .collect()
}

fn header<'a>(eml: &'a str, name: &str) -> Option<&'a str> {
    eml.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

/// The account's life through the API of `dev`: a new address warns the old one and
/// confirms the new one, a muted purchase is in the history as suppressed, the statement
/// carries a one-click unsubscribe that works, and a closure is the last email.
#[test]
fn an_account_changes_address_mutes_unsubscribes_and_closes_through_dev() {
    let dir = tempdir("dev-lifecycle");
    let dev = Dev::start(&dir);
    let id = "acc-dev-001";
    assert_eq!(dev.signed("POST", "/v1/accounts", &account()).status, 201);
    dev.settled(1);

    // The address changes: a notice to the old one, a confirmation to the new one.
    let read = dev.signed("GET", &format!("/v1/accounts/{id}"), &Value::Null);
    assert!(read.head.contains("etag: \"1\""), "{}", read.head);
    let moved = dev.patch(
        &format!("/v1/accounts/{id}"),
        "\"1\"",
        &json!({"email": "camille@new.example"}),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert!(moved.head.contains("etag: \"2\""), "{}", moved.head);
    dev.settled(3);
    let emails = outbox_emails(&dir);
    let to = |eml: &str| header(eml, "To").unwrap_or_default().to_string();
    assert!(to(&emails[1]).contains("camille.martin@example.com"), "{}", emails[1]);
    assert!(header(&emails[1], "X-Tag-template") == Some("address_changed"));
    assert!(to(&emails[2]).contains("camille@new.example"), "{}", emails[2]);
    assert!(header(&emails[2], "X-Tag-template") == Some("address_confirmed"));
    let change = dev.notification(id, |n| n["detail_type"] == "Account Updated");
    assert_eq!(change["decision"], "sent");
    assert_eq!(change["emails"].as_array().unwrap().len(), 2, "{change}");

    // Groceries muted: the purchase is recorded, not emailed, and the history says why.
    let muted = dev.patch(
        &format!("/v1/accounts/{id}"),
        "\"2\"",
        &json!({"preferences": {"muted_categories": ["groceries"]}}),
    );
    assert_eq!(muted.status, 200, "{}", muted.body);
    let mut groceries = large_purchase();
    groceries["transaction_id"] = json!("t-dev-groceries");
    groceries["amount_minor"] = json!(2_350);
    groceries["channel"] = json!("pos");
    groceries["merchant"] = json!({"name": "Carrefour City", "mcc": "5411", "country": "FR", "city": "Paris"});
    assert_eq!(dev.signed("POST", "/v1/transactions", &groceries).status, 201);
    let suppressed = dev.notification(id, |n| n["transaction_id"] == "t-dev-groceries");
    assert_eq!(
        (&suppressed["decision"], &suppressed["reason"]),
        (&json!("suppressed"), &json!("muted_category")),
        "{suppressed}"
    );
    assert!(suppressed.get("message_id").is_none());
    let welcome = dev.notification(id, |n| n["detail_type"] == "Account Opened");
    // The outbox plays SES's mailbox simulator: an ordinary address is delivered, and the
    // feedback moved the state.
    assert_eq!(welcome["delivery_state"], "delivered", "{welcome}");
    assert!(
        welcome["message_id"].as_str().is_some_and(|m| !m.is_empty()),
        "{welcome}"
    );
    dev.settled(3);

    // The week's statement (the digest run on the stopped store), sent once dev is back.
    let (exit, _) = dev.interrupt();
    assert!(exit.success());
    // The planner's run of the hour of next Monday 06:00 in Paris (the account's zone): the
    // week it closes is the one of today.
    let run = {
        use chrono::{Datelike, TimeZone};
        let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive();
        let next = today + chrono::Duration::days(7 - today.weekday().num_days_from_monday() as i64);
        let six = chrono_tz::Europe::Paris
            .from_local_datetime(&next.and_hms_opt(6, 0, 0).unwrap())
            .single()
            .unwrap();
        six.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let event = dir.join("weekly-digest.json");
    std::fs::write(
        &event,
        json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.scheduler", "time": run, "detail": {}})
            .to_string(),
    )
    .unwrap();
    let digest = Command::new(BIN)
        .args(["invoke", "digest", "--event"])
        .arg(&event)
        .arg("--data-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(digest.status.success(), "{}", String::from_utf8_lossy(&digest.stdout));
    let dev = Dev::start(&dir);
    dev.settled(4);
    let statement = outbox_emails(&dir).pop().unwrap();
    assert_eq!(header(&statement, "X-Tag-template"), Some("statement"), "{statement}");
    assert_eq!(
        header(&statement, "List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    let link = header(&statement, "List-Unsubscribe").unwrap();
    let url = link.trim_start_matches('<').trim_end_matches('>');
    let path = url
        .strip_prefix(&format!("http://{}", dev.address))
        .unwrap_or_else(|| panic!("the link points at this dev: {url}"));
    // A link scanner's GET changes nothing; the mail client's one-click POST does, unsigned.
    let page = dev.get(path);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<form method=\"post\">"), "{}", page.body);
    let account_now = |dev: &Dev| -> Value {
        serde_json::from_str(&dev.signed("GET", &format!("/v1/accounts/{id}"), &Value::Null).body).unwrap()
    };
    assert_eq!(account_now(&dev)["preferences"]["statement_enabled"], true);
    let clicked = dev.request(
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded".into())],
        "List-Unsubscribe=One-Click",
    );
    assert_eq!(clicked.status, 200, "{}", clicked.body);
    let after = account_now(&dev);
    assert_eq!(after["preferences"]["statement_enabled"], false, "{after}");
    let version = after["version"].as_u64().unwrap();
    assert_eq!(dev.request("POST", path, &[], "").status, 200, "a second click");
    assert_eq!(account_now(&dev)["version"], version, "changes nothing more");

    // Closed: the closure confirmation, then no email, even for a large purchase.
    let closed = dev.patch(
        &format!("/v1/accounts/{id}"),
        &format!("\"{version}\""),
        &json!({"status": "closed"}),
    );
    assert_eq!(closed.status, 200, "{}", closed.body);
    dev.settled(5);
    assert_eq!(
        header(&outbox_emails(&dir)[4], "X-Tag-template"),
        Some("account_closed")
    );
    let mut large = large_purchase();
    large["transaction_id"] = json!("t-dev-after-closure");
    assert_eq!(dev.signed("POST", "/v1/transactions", &large).status, 201);
    let after_closure = dev.notification(id, |n| n["transaction_id"] == "t-dev-after-closure");
    assert_eq!(after_closure["reason"], "account_closed", "{after_closure}");
    std::thread::sleep(Duration::from_millis(300));
    dev.settled(5);
    let (exit, _) = dev.interrupt();
    assert!(exit.success());
}

/// SES's feedback, end to end on the embedded runtime: the outbox plays SES's mailbox
/// simulator. A bounce marks the address; the next alert is not sent and is reported
/// undeliverable; a new address clears it and the next alert is delivered.
#[test]
fn a_bounce_blocks_the_address_until_the_customer_gives_a_new_one_through_dev() {
    let dir = tempdir("dev-feedback");
    let dev = Dev::start(&dir);
    let id = "acc-dev-bounce";
    let mut opened = account();
    opened["account_id"] = json!(id);
    opened["email"] = json!("bounce@simulator.amazonses.com");
    assert_eq!(dev.signed("POST", "/v1/accounts", &opened).status, 201);
    dev.settled(1);
    let welcome = dev.notification(id, |n| n["detail_type"] == "Account Opened");
    assert_eq!(welcome["delivery_state"], "bounced", "{welcome}");
    let read = dev.signed("GET", &format!("/v1/accounts/{id}"), &Value::Null);
    let profile: Value = serde_json::from_str(&read.body).unwrap();
    assert_eq!(profile["email_status"]["state"], "undeliverable", "{profile}");
    assert_eq!(profile["email_status"]["reason"], "bounce");
    assert!(
        read.head.contains("etag: \"2\""),
        "the mark is a new version: {}",
        read.head
    );

    // The next alert: nothing to the address, and the history says why.
    let mut purchase = large_purchase();
    purchase["account_id"] = json!(id);
    purchase["transaction_id"] = json!("t-dev-after-bounce");
    assert_eq!(dev.signed("POST", "/v1/transactions", &purchase).status, 201);
    let suppressed = dev.notification(id, |n| n["transaction_id"] == "t-dev-after-bounce");
    assert_eq!(
        (&suppressed["decision"], &suppressed["reason"]),
        (&json!("suppressed"), &json!("address_undeliverable")),
        "{suppressed}"
    );
    dev.settled(1);

    // A new address: the mark goes, the old address hears of the change (and bounces
    // again, which blocks nothing now), the new one confirms and gets the next alert.
    let moved = dev.patch(
        &format!("/v1/accounts/{id}"),
        "\"2\"",
        &json!({"email": "success@simulator.amazonses.com"}),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let moved: Value = serde_json::from_str(&moved.body).unwrap();
    assert!(
        moved.get("email_status").is_none() || moved["email_status"].is_null(),
        "{moved}"
    );
    dev.settled(3);
    purchase["transaction_id"] = json!("t-dev-after-move");
    assert_eq!(dev.signed("POST", "/v1/transactions", &purchase).status, 201);
    dev.settled(4);
    let delivered = dev.notification(id, |n| {
        n["transaction_id"] == "t-dev-after-move" && n["delivery_state"] == "delivered"
    });
    assert_eq!(delivered["decision"], "sent", "{delivered}");
    let read = dev.signed("GET", &format!("/v1/accounts/{id}"), &Value::Null);
    let profile: Value = serde_json::from_str(&read.body).unwrap();
    assert!(
        profile.get("email_status").is_none(),
        "the old address's bounce did not block the new one: {profile}"
    );
    let index = dev.get("/outbox/");
    assert!(
        index.body.contains("bounced") && index.body.contains("delivered"),
        "{}",
        index.body
    );

    // What the audit trail kept: the Notification Undeliverable of the suppressed alert.
    let (status, _) = dev.interrupt();
    assert!(status.success());
    let store = txn_notify::local::embedded::store::EmbeddedStore::open(&dir, txn_notify::clock::SystemClock).unwrap();
    let reports: Vec<Value> = store
        .audit_records()
        .unwrap()
        .into_iter()
        .filter(|r| r["detail_type"] == "Notification Undeliverable")
        .collect();
    let reasons: Vec<&str> = reports
        .iter()
        .map(|r| r["detail"]["reason"].as_str().unwrap_or("?"))
        .collect();
    assert!(reasons.contains(&"address_undeliverable"), "{reports:#?}");
    assert!(reasons.contains(&"bounced"), "the welcome's bounce: {reports:#?}");
}

/// The pipeline commits a batch at a time; the API commits before it answers. So a write
/// the API said was made is there after a `kill -9` that lands while the pipeline has a
/// batch open.
#[test]
fn what_the_api_answered_for_survives_a_kill_9_mid_batch() {
    let dir = tempdir("dev-kill");
    let mut dev = Dev::start(&dir);
    let mut written = Vec::new();
    for n in 0..30 {
        let account_id = format!("acc-kill-{n:03}");
        let account = json!({
            "account_id": account_id,
            "holder": {"first_name": "Ada", "last_name": "Lovelace"},
            "email": format!("ada{n}@example.com"),
            "country": "GB",
            "currency": "GBP"
        });
        assert_eq!(dev.signed("POST", "/v1/accounts", &account).status, 201);
        let mut transaction = large_purchase();
        transaction["transaction_id"] = json!(format!("t-kill-{n:03}"));
        transaction["account_id"] = json!(account_id);
        transaction["currency"] = json!("GBP");
        let response = dev.signed("POST", "/v1/transactions", &transaction);
        assert_eq!(response.status, 201, "{}", response.body);
        written.push(account_id);
    }
    // SIGKILL: no shutdown, whatever the pipeline has open.
    dev.child.kill().unwrap();
    dev.child.wait().unwrap();
    drop(dev);

    let dev = Dev::start(&dir);
    for account_id in &written {
        let history = dev.signed("GET", &format!("/v1/accounts/{account_id}/transactions"), &Value::Null);
        assert_eq!(history.status, 200, "{account_id}: {}", history.body);
        let body: Value = serde_json::from_str(&history.body).unwrap();
        assert_eq!(
            body["transactions"].as_array().map(Vec::len),
            Some(1),
            "{account_id}: {body}"
        );
    }
    let (exit, _) = dev.interrupt();
    assert!(exit.success());
}
