//! The ingest API: every status (200, 201, 400, 401, 404, 405, 409, 413, 415, 503) with
//! problem+json bodies, signatures (expiry, rotation, the secret cache), top-ups net of
//! their fee, and history pages.

mod common;

use base64::Engine;
use chrono::Duration;
use http::{Request, Response};
use serde_json::{Value, json};

use txn_notify::clock::FrozenClock;
use txn_notify::domain::Currency;
use txn_notify::local::memory::{LedgerFaults, MemoryAuditLog, MemoryLedger, MemorySecrets};
use txn_notify::pipeline::ingest::auth::sign;
use txn_notify::pipeline::ingest::{Ingest, IngestConfig};
use txn_notify::ports::Clock;

type TestIngest = Ingest<MemoryLedger, MemoryAuditLog, MemorySecrets, FrozenClock>;

const SECRET: &[u8] = b"test-secret";

fn ingest() -> TestIngest {
    let ledger = common::ledger_with(&[common::account("acc-fr-001", "FR", Currency::EUR)]);
    Ingest::new(
        ledger,
        MemoryAuditLog::new(),
        MemorySecrets::new(SECRET),
        FrozenClock::at(common::now()),
        IngestConfig::default(),
    )
}

fn signed_with(secret: &[u8], at: i64, method: &str, uri: &str, body: &[u8]) -> Request<Vec<u8>> {
    let path = uri.split('?').next().unwrap();
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("x-signature", sign(secret, at, method, path, body))
        .body(body.to_vec())
        .unwrap()
}

fn post(path: &str, body: &Value) -> Request<Vec<u8>> {
    signed_with(
        SECRET,
        common::now().timestamp(),
        "POST",
        path,
        body.to_string().as_bytes(),
    )
}

fn get(uri: &str) -> Request<Vec<u8>> {
    signed_with(SECRET, common::now().timestamp(), "GET", uri, b"")
}

async fn call(ingest: &TestIngest, request: Request<Vec<u8>>) -> (u16, Value) {
    let response: Response<Vec<u8>> = ingest.handle(request).await;
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json", "{body}");
        assert_eq!(body["status"], status, "{body}");
        assert!(body["type"].as_str().unwrap().starts_with("urn:txn-notify:problem:"));
        assert!(body["title"].is_string() && body["detail"].is_string());
    } else {
        assert_eq!(content_type, "application/json");
    }
    (status, body)
}

fn purchase() -> Value {
    json!({
        "transaction_id": "t-1001",
        "account_id": "acc-fr-001",
        "kind": "card_purchase",
        "status": "approved",
        "amount_minor": 4599,
        "currency": "EUR",
        "balance_after_minor": 120000,
        "channel": "pos",
        "merchant": {"name": "Carrefour City", "mcc": "5411", "country": "FR", "city": "Lyon"},
        "card_last4": "4242",
        "booked_at": "2026-11-20T08:15:00Z",
        "metadata": {"terminal": "T-88"}
    })
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_transaction_is_created_once_and_a_retry_is_a_duplicate() {
    let ingest = ingest();
    let (status, body) = call(&ingest, post("/v1/transactions", &purchase())).await;
    assert_eq!((status, body["status"].as_str()), (201, Some("created")));
    let stored = ingest
        .ledger
        .get("ACCOUNT#acc-fr-001", "TXN#2026-11-20T08:15:00Z#t-1001")
        .unwrap();
    let decoded = txn_notify::domain::LedgerItem::decode(&stored).unwrap();
    assert!(matches!(decoded, txn_notify::domain::LedgerItem::Transaction(t) if t.amount.amount_minor == 4599));
    // The same body, keys in another order: the same request.
    let reordered: Value =
        serde_json::from_str(&purchase().to_string().replace("\"transaction_id\":\"t-1001\",", "")).unwrap();
    let mut reordered = reordered;
    reordered["transaction_id"] = json!("t-1001");
    let (status, body) = call(&ingest, post("/v1/transactions", &reordered)).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(ingest.ledger.len(), 3, "profile, transaction, marker: nothing more");
}

#[tokio::test]
async fn the_same_id_with_another_body_or_another_booked_at_is_a_conflict_and_stored_once() {
    let ingest = ingest();
    call(&ingest, post("/v1/transactions", &purchase())).await;
    let mut other = purchase();
    other["amount_minor"] = json!(5000);
    let (status, body) = call(&ingest, post("/v1/transactions", &other)).await;
    assert_eq!(status, 409, "{body}");
    let mut later = purchase();
    later["booked_at"] = json!("2026-11-20T08:15:07Z");
    assert_eq!(call(&ingest, post("/v1/transactions", &later)).await.0, 409);
    assert_eq!(ingest.ledger.len(), 3);
}

#[tokio::test]
async fn a_server_stamped_booked_at_keeps_retries_duplicates() {
    let ingest = ingest();
    let mut body = purchase();
    body.as_object_mut().unwrap().remove("booked_at");
    assert_eq!(call(&ingest, post("/v1/transactions", &body)).await.0, 201);
    ingest.clock.advance(Duration::seconds(5));
    assert_eq!(call(&ingest, post("/v1/transactions", &body)).await.0, 200);
    assert_eq!(
        ingest.ledger.len(),
        3,
        "one transaction although the retry came 5 s later"
    );
}

#[tokio::test]
async fn every_field_problem_is_listed_and_unknown_fields_are_refused() {
    let ingest = ingest();
    let body = json!({
        "transaction_id": "t 1",
        "account_id": "acc-fr-001",
        "kind": "purchase",
        "status": "approved",
        "decline_reason": "insufficient_funds",
        "amount_minor": 12.5,
        "currency": "EURO",
        "channel": "pos",
        "merchant": {"name": "Shop", "mcc": "54", "country": "France", "colour": "red"},
        "card_last4": "4242424242424242",
        "booked_at": "yesterday",
        "amount": 12
    });
    let (status, problem) = call(&ingest, post("/v1/transactions", &body)).await;
    assert_eq!(status, 400);
    let mut got = fields(&problem);
    got.sort();
    assert_eq!(
        got,
        [
            "amount",
            "amount_minor",
            "booked_at",
            "card_last4",
            "currency",
            "decline_reason",
            "kind",
            "merchant.colour",
            "merchant.country",
            "merchant.mcc",
            "transaction_id"
        ]
    );
    assert!(
        !problem.to_string().contains("4242424242424242"),
        "a card number is never echoed"
    );
    for bad in [&b"not json"[..], b"[1, 2]", b"\"text\""] {
        let request = signed_with(SECRET, common::now().timestamp(), "POST", "/v1/transactions", bad);
        let (status, problem) = call(&ingest, request).await;
        assert_eq!(status, 400, "{problem}");
    }
}

#[tokio::test]
async fn accounts_are_created_once_and_a_different_body_conflicts() {
    let ingest = ingest();
    let account = json!({
        "account_id": "acc-gb-002",
        "holder": {"first_name": "James", "last_name": "Smith"},
        "email": "james.smith@example.com",
        "locale": "en",
        "country": "GB",
        "currency": "GBP",
        "time_zone": "Europe/London",
        "thresholds": {"large_amount_minor": 80000, "low_balance_minor": 2000},
        "preferences": {"email_enabled": true, "muted_categories": ["groceries"], "min_amount_minor": 500}
    });
    assert_eq!(call(&ingest, post("/v1/accounts", &account)).await.0, 201);
    ingest.clock.advance(Duration::seconds(30));
    let (status, body) = call(&ingest, post("/v1/accounts", &account)).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")));
    let mut other = account.clone();
    other["email"] = json!("someone.else@example.com");
    assert_eq!(call(&ingest, post("/v1/accounts", &other)).await.0, 409);

    let mut bad = account.clone();
    bad["account_id"] = json!("acc-new");
    bad["email"] = json!("no-at-sign");
    bad["time_zone"] = json!("Mars/Base");
    bad["preferences"]["muted_categories"] = json!(["groceries", "yachts"]);
    bad["holder"]["last_name"] = json!("Smith\r\nBcc: x@evil.example");
    let (status, problem) = call(&ingest, post("/v1/accounts", &bad)).await;
    assert_eq!(status, 400);
    let mut got = fields(&problem);
    got.sort();
    assert_eq!(
        got,
        [
            "email",
            "holder.last_name",
            "preferences.muted_categories[1]",
            "time_zone"
        ]
    );
}

#[tokio::test]
async fn a_new_account_is_version_1_active_and_may_turn_statements_off() {
    let ingest = ingest();
    let account = json!({
        "account_id": "acc-fr-stmt",
        "holder": {"first_name": "Léa", "last_name": "Martin"},
        "email": "lea.martin@example.com",
        "country": "FR",
        "currency": "EUR",
        "preferences": {"statement_enabled": false}
    });
    assert_eq!(call(&ingest, post("/v1/accounts", &account)).await.0, 201);
    let stored = stored(&ingest, "acc-fr-stmt");
    assert_eq!(stored.version, 1);
    assert_eq!(stored.status, txn_notify::domain::AccountStatus::Active);
    assert!(!stored.preferences.statement_enabled);
    assert!(
        stored.preferences.email_enabled,
        "the other preferences keep their defaults"
    );
    // A retry of the same creation is the same account: the version it was given is not the client's to match.
    assert_eq!(
        call(&ingest, post("/v1/accounts", &account)).await.1["status"],
        "duplicate"
    );

    let mut bad = account.clone();
    bad["account_id"] = json!("acc-fr-bad");
    bad["preferences"] = json!({"statement_enabled": "no"});
    bad["version"] = json!(3);
    let (status, problem) = call(&ingest, post("/v1/accounts", &bad)).await;
    assert_eq!(status, 400);
    let mut got = fields(&problem);
    got.sort();
    assert_eq!(
        got,
        ["preferences.statement_enabled", "version"],
        "a version is never the client's to set"
    );
}

#[tokio::test]
async fn an_account_is_read_back_as_stored_with_its_version_as_the_etag() {
    let ingest = ingest();
    let response = ingest.handle(get("/v1/accounts/acc-fr-001")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "personal data is not cached"
    );
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["account_id"], "acc-fr-001");
    assert_eq!(body["email"], "acc-fr-001@example.com");
    assert_eq!(
        (body["status"].as_str(), body["version"].as_u64()),
        (Some("active"), Some(1))
    );
    assert_eq!(body["preferences"]["statement_enabled"], true);

    for (uri, status) in [
        ("/v1/accounts/acc-none", 404),
        ("/v1/accounts/..%2Fetc", 404),
        ("/v1/accounts/acc-fr-001/", 200),
    ] {
        assert_eq!(call(&ingest, get(uri)).await.0, status, "{uri}");
    }
    let (status, _) = call(&ingest, post("/v1/accounts/acc-fr-001", &json!({}))).await;
    assert_eq!(status, 405);
    let unsigned = Request::builder()
        .method("GET")
        .uri("/v1/accounts/acc-fr-001")
        .body(Vec::new())
        .unwrap();
    assert_eq!(call(&ingest, unsigned).await.0, 401, "no signature, no account");
}

#[tokio::test]
async fn a_transaction_for_an_unknown_account_is_404() {
    let ingest = ingest();
    let mut body = purchase();
    body["account_id"] = json!("acc-nobody");
    let (status, problem) = call(&ingest, post("/v1/transactions", &body)).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (404, Some("urn:txn-notify:problem:unknown-account"))
    );
    assert_eq!(call(&ingest, get("/v1/accounts/acc-nobody/transactions")).await.0, 404);
    assert_eq!(call(&ingest, get("/v1/accounts/bad%20id/transactions")).await.0, 404);
    assert_eq!(call(&ingest, get("/v1/nothing-here")).await.0, 404);
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let ingest = ingest();
    let response = ingest.handle(get("/v1/transactions")).await;
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "POST");
}

#[tokio::test]
async fn bodies_over_64_kib_are_413_and_wrong_content_types_415() {
    let ingest = ingest();
    let mut huge = purchase();
    huge["metadata"] = json!({"blob": "x".repeat(64 * 1024)});
    assert_eq!(call(&ingest, post("/v1/transactions", &huge)).await.0, 413);
    let body = purchase().to_string();
    for content_type in [Some("text/plain"), Some("application/xml"), None] {
        let mut request = signed_with(
            SECRET,
            common::now().timestamp(),
            "POST",
            "/v1/transactions",
            body.as_bytes(),
        );
        match content_type {
            Some(t) => request.headers_mut().insert("content-type", t.parse().unwrap()),
            None => request.headers_mut().remove("content-type"),
        };
        assert_eq!(call(&ingest, request).await.0, 415, "{content_type:?}");
    }
    let mut request = signed_with(
        SECRET,
        common::now().timestamp(),
        "POST",
        "/v1/transactions",
        body.as_bytes(),
    );
    request
        .headers_mut()
        .insert("content-type", "Application/JSON; charset=utf-8".parse().unwrap());
    assert_eq!(call(&ingest, request).await.0, 201);
}

#[tokio::test]
async fn unsigned_badly_signed_and_expired_requests_are_401() {
    let ingest = ingest();
    let body = purchase().to_string();
    let now = common::now().timestamp();
    let mut unsigned = signed_with(SECRET, now, "POST", "/v1/transactions", body.as_bytes());
    unsigned.headers_mut().remove("x-signature");
    assert_eq!(call(&ingest, unsigned).await.0, 401);
    assert_eq!(
        call(
            &ingest,
            signed_with(b"guess", now, "POST", "/v1/transactions", body.as_bytes())
        )
        .await
        .0,
        401
    );
    // Signed for another path, or with another body.
    let mut moved = signed_with(SECRET, now, "POST", "/v1/accounts", body.as_bytes());
    *moved.uri_mut() = "/v1/transactions".parse().unwrap();
    assert_eq!(call(&ingest, moved).await.0, 401);
    assert_eq!(
        call(
            &ingest,
            signed_with(SECRET, now - 301, "POST", "/v1/transactions", body.as_bytes())
        )
        .await
        .0,
        401
    );
    assert_eq!(
        call(
            &ingest,
            signed_with(SECRET, now + 301, "POST", "/v1/transactions", body.as_bytes())
        )
        .await
        .0,
        401
    );
    assert_eq!(
        call(
            &ingest,
            signed_with(SECRET, now - 300, "POST", "/v1/transactions", body.as_bytes())
        )
        .await
        .0,
        201
    );
    // An unsigned request learns nothing about routes.
    let mut probe = get("/v1/no-such-route");
    probe.headers_mut().remove("x-signature");
    assert_eq!(call(&ingest, probe).await.0, 401);
}

#[tokio::test]
async fn during_a_rotation_both_secrets_verify_and_the_cache_picks_the_new_one_within_its_ttl() {
    let ingest = ingest();
    let now = || ingest.clock.now().timestamp();
    assert_eq!(call(&ingest, get("/v1/accounts/acc-fr-001/transactions")).await.0, 200);
    assert_eq!(ingest.secrets.source().fetches(), 1);
    ingest.secrets.source().rotate(b"rotated-secret");
    // Within the TTL the cache still holds the old pair: the new secret is not known yet.
    let fresh = signed_with(
        b"rotated-secret",
        now(),
        "GET",
        "/v1/accounts/acc-fr-001/transactions",
        b"",
    );
    assert_eq!(call(&ingest, fresh).await.0, 401);
    assert_eq!(ingest.secrets.source().fetches(), 1, "one fetch per TTL");
    ingest.clock.advance(Duration::seconds(301));
    let fresh = signed_with(
        b"rotated-secret",
        now(),
        "GET",
        "/v1/accounts/acc-fr-001/transactions",
        b"",
    );
    assert_eq!(call(&ingest, fresh).await.0, 200);
    let old = signed_with(SECRET, now(), "GET", "/v1/accounts/acc-fr-001/transactions", b"");
    assert_eq!(call(&ingest, old).await.0, 200, "the previous secret still verifies");
    assert_eq!(ingest.secrets.source().fetches(), 2);
}

#[tokio::test]
async fn a_failing_secret_store_or_ledger_is_503_never_an_unchecked_write() {
    let ingest = ingest();
    ingest.secrets.source().fail(true);
    let response = ingest.handle(post("/v1/transactions", &purchase())).await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(ingest.ledger.len(), 1);
    ingest.secrets.source().fail(false);
    ingest.ledger.inject(LedgerFaults {
        always_fail: true,
        ..LedgerFaults::default()
    });
    assert_eq!(call(&ingest, post("/v1/transactions", &purchase())).await.0, 503);
    ingest.ledger.inject(LedgerFaults {
        failing_calls: 2,
        ..LedgerFaults::default()
    });
    assert_eq!(
        call(&ingest, post("/v1/transactions", &purchase())).await.0,
        201,
        "transient faults are retried"
    );
}

#[tokio::test]
async fn a_top_up_is_stored_net_of_its_fee() {
    let ingest = ingest();
    let body = json!({"top_up_id": "tu-1", "amount_minor": 10000, "currency": "EUR", "payment_method": "card", "fee_rate": 0.015});
    let (status, response) = call(&ingest, post("/v1/accounts/acc-fr-001/top-ups", &body)).await;
    assert_eq!(status, 201, "{response}");
    assert_eq!(
        (
            &response["gross_amount_minor"],
            &response["fee_minor"],
            &response["amount_minor"]
        ),
        (&json!(10000), &json!(150), &json!(9850))
    );
    let (_, list) = call(&ingest, get("/v1/accounts/acc-fr-001/transactions")).await;
    let stored = &list["transactions"][0];
    assert_eq!(
        (&stored["kind"], &stored["amount_minor"], &stored["status"]),
        (&json!("top_up"), &json!(9850), &json!("approved"))
    );
    assert_eq!(stored["metadata"]["top_up"]["fee_rate"], "0.015");
    assert_eq!(stored["metadata"]["top_up"]["payment_method"], "card");
    assert_eq!(
        call(&ingest, post("/v1/accounts/acc-fr-001/top-ups", &body)).await.0,
        200
    );

    for (edit, field) in [
        (json!({"fee_rate": 1.5}), "fee_rate"),
        (json!({"fee_rate": -0.1}), "fee_rate"),
        (json!({"fee_rate": "0.1"}), "fee_rate"),
        (json!({"fee_rate": 1}), "fee_rate"),
        (json!({"amount_minor": 0}), "amount_minor"),
        (json!({"payment_method": "Card!"}), "payment_method"),
        (json!({"tip": 1}), "tip"),
    ] {
        let mut bad = body.clone();
        bad["top_up_id"] = json!("tu-bad");
        for (k, v) in edit.as_object().unwrap() {
            bad[k] = v.clone();
        }
        let (status, problem) = call(&ingest, post("/v1/accounts/acc-fr-001/top-ups", &bad)).await;
        assert_eq!((status, fields(&problem)), (400, vec![field.to_string()]), "{edit}");
    }
    // A well-formed top-up in another currency than the account's conflicts with the account.
    let mut other = body.clone();
    other["top_up_id"] = json!("tu-usd");
    other["currency"] = json!("USD");
    let (status, problem) = call(&ingest, post("/v1/accounts/acc-fr-001/top-ups", &other)).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["type"], "urn:txn-notify:problem:currency-mismatch");
    assert!(problem["detail"].as_str().unwrap().contains("EUR"), "{problem}");
    assert_eq!(
        call(&ingest, post("/v1/accounts/acc-nobody/top-ups", &body)).await.0,
        404
    );
}

#[tokio::test]
async fn history_is_newest_first_in_pages_with_an_opaque_cursor() {
    let ingest = ingest();
    for i in 0..7 {
        let mut body = purchase();
        body["transaction_id"] = json!(format!("t-{i}"));
        body["booked_at"] = json!(format!("2026-11-{:02}T10:00:00Z", 10 + i));
        assert_eq!(call(&ingest, post("/v1/transactions", &body)).await.0, 201);
    }
    let mut seen = Vec::new();
    let mut uri = "/v1/accounts/acc-fr-001/transactions?limit=3&from=2026-11-11T00:00:00Z".to_string();
    loop {
        let (status, page) = call(&ingest, get(&uri)).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["transactions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["transaction_id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert!(!cursor.contains("TXN#"), "the cursor is opaque");
                uri = format!("/v1/accounts/acc-fr-001/transactions?limit=3&from=2026-11-11T00:00:00Z&cursor={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(seen, ["t-6", "t-5", "t-4", "t-3", "t-2", "t-1"]);
    let (_, page) = call(
        &ingest,
        get("/v1/accounts/acc-fr-001/transactions?to=2026-11-12T00:00:00Z"),
    )
    .await;
    assert_eq!(page["transactions"].as_array().unwrap().len(), 2);
    for query in [
        "limit=0",
        "limit=101",
        "limit=x",
        "from=yesterday",
        "cursor=",
        "cursor=a",
        "cursor=not%20base64",
        "sort=asc",
        "limit=1&limit=2",
    ] {
        let (status, problem) = call(&ingest, get(&format!("/v1/accounts/acc-fr-001/transactions?{query}"))).await;
        assert_eq!(status, 400, "{query}: {problem}");
    }
    // Any base64url text is a position; the window clamps it. "AAA" sorts before every
    // transaction key, so nothing comes after it; "not-a-cursor" and a key past the window's
    // end sort after them all, so the page starts at the newest; an empty window is empty.
    let page_of = |query: &str| get(&format!("/v1/accounts/acc-fr-001/transactions?{query}"));
    let (status, page) = call(&ingest, page_of("cursor=QUFB")).await;
    assert_eq!(
        (status, page["transactions"].as_array().unwrap().len()),
        (200, 0),
        "{page}"
    );
    assert_eq!(page["next_cursor"], Value::Null);
    let (status, page) = call(&ingest, page_of("cursor=bm90LWEtY3Vyc29y")).await;
    assert_eq!(
        (status, page["transactions"].as_array().unwrap().len()),
        (200, 7),
        "{page}"
    );
    let beyond = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("TXN#9999-12-31T23:59:59Z#zzz");
    let (status, page) = call(&ingest, page_of(&format!("limit=3&cursor={beyond}"))).await;
    assert_eq!(
        (status, page["transactions"].as_array().unwrap().len()),
        (200, 3),
        "{page}"
    );
    let (status, page) = call(&ingest, page_of("from=2026-11-12T00:00:00Z&to=2026-11-11T00:00:00Z")).await;
    assert_eq!(
        (status, page["transactions"].as_array().unwrap().len()),
        (200, 0),
        "{page}"
    );
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let ingest = ingest();
    let token = token_for(SECRET, "acc-fr-001", "statement", Duration::days(1));
    for (method, path) in txn_notify::pipeline::ingest::routes::ROUTES {
        let path = path.replace("{account_id}", "acc-fr-001").replace("{token}", &token);
        if path.starts_with("/v1/unsubscribe/") {
            assert_eq!(
                page(&ingest, unsigned(method, &path, "")).await.0,
                200,
                "{method} {path}"
            );
            continue;
        }
        let request = match *method {
            "PATCH" => patch(&path, Some("\"1\""), &json!({})),
            "POST" => signed_with(SECRET, common::now().timestamp(), method, &path, b"{}"),
            _ => signed_with(SECRET, common::now().timestamp(), method, &path, b""),
        };
        let (status, problem) = call(&ingest, request).await;
        assert!(
            status == 200 || problem["type"] == "urn:txn-notify:problem:validation",
            "{method} {path}: {status} {problem}"
        );
    }
}

fn stored_transaction(ingest: &TestIngest, sort_key: &str) -> Option<txn_notify::domain::Transaction> {
    let item: txn_notify::domain::Attributes = ingest.ledger.get("ACCOUNT#acc-fr-001", sort_key)?.into();
    match txn_notify::domain::LedgerItem::decode(&item) {
        Ok(txn_notify::domain::LedgerItem::Transaction(t)) => Some(*t),
        _ => None,
    }
}

fn post_text(path: &str, body: &str) -> Request<Vec<u8>> {
    signed_with(SECRET, common::now().timestamp(), "POST", path, body.as_bytes())
}

#[tokio::test]
async fn a_key_given_twice_at_any_depth_is_refused_and_nothing_is_stored() {
    let ingest = ingest();
    let text = purchase().to_string();
    let cases = [
        (
            text.replacen("\"amount_minor\":4599", "\"amount_minor\":1234,\"amount_minor\":5", 1),
            "amount_minor",
        ),
        (
            text.replacen(
                "\"name\":\"Carrefour City\"",
                "\"name\":\"Carrefour City\",\"name\":\"Evil\"",
                1,
            ),
            "merchant.name",
        ),
        (
            text.replacen(
                "\"terminal\":\"T-88\"",
                "\"terminal\":\"T-88\",\"x\":[{\"k\":1,\"k\":2}]",
                1,
            ),
            "metadata.x[0].k",
        ),
        // The same key spelled with an escape is the same key.
        (
            text.replacen(
                "\"kind\":\"card_purchase\"",
                "\"kind\":\"card_purchase\",\"\\u006bind\":\"refund\"",
                1,
            ),
            "kind",
        ),
    ];
    for (body, field) in cases {
        assert_ne!(body, text, "the case edits the body");
        let (status, problem) = call(&ingest, post_text("/v1/transactions", &body)).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(fields(&problem), [field], "{problem}");
    }
    let account = r#"{"account_id":"acc-dup","holder":{"first_name":"A","last_name":"B"},"email":"a@example.com","email":"b@example.com","country":"FR","currency":"EUR"}"#;
    let (status, problem) = call(&ingest, post_text("/v1/accounts", account)).await;
    assert_eq!((status, fields(&problem)), (400, vec!["email".to_string()]));
    let top_up = r#"{"top_up_id":"tu-1","amount_minor":100,"amount_minor":100000,"currency":"EUR","payment_method":"card","fee_rate":0}"#;
    let (status, _) = call(&ingest, post_text("/v1/accounts/acc-fr-001/top-ups", top_up)).await;
    assert_eq!(status, 400);
    assert_eq!(ingest.ledger.len(), 1, "only the seeded profile");
}

#[tokio::test]
async fn bidi_controls_and_invisible_characters_are_refused_in_every_text_an_email_shows() {
    let ingest = ingest();
    for c in [
        '\u{202E}', '\u{2066}', '\u{200F}', '\u{061C}', '\u{2028}', '\u{2029}', '\u{FEFF}', '\u{200B}', '\u{00AD}',
    ] {
        let tainted = format!("Shop{c}gnp.exe");
        let mut body = purchase();
        body["merchant"]["name"] = json!(tainted);
        body["merchant"]["city"] = json!(format!("Ly{c}on"));
        let (status, problem) = call(&ingest, post("/v1/transactions", &body)).await;
        assert_eq!(status, 400, "U+{:04X}: {problem}", c as u32);
        assert_eq!(fields(&problem), ["merchant.name", "merchant.city"]);
        let account = json!({
            "account_id": "acc-bidi",
            "holder": {"first_name": format!("Ma{c}rie"), "last_name": "Dupont"},
            "email": format!("marie{c}@example.com"),
            "country": "FR",
            "currency": "EUR"
        });
        let (status, problem) = call(&ingest, post("/v1/accounts", &account)).await;
        assert_eq!(status, 400);
        let mut got = fields(&problem);
        got.sort();
        assert_eq!(got, ["email", "holder.first_name"], "U+{:04X}", c as u32);
    }
    // Metadata is shown nowhere: it is carried as it is.
    let mut body = purchase();
    body["metadata"] = json!({"note": "\u{202E}reversed"});
    assert_eq!(call(&ingest, post("/v1/transactions", &body)).await.0, 201);
    // Any script without them is welcome.
    let mut body = purchase();
    body["transaction_id"] = json!("t-intl");
    body["merchant"]["name"] = json!("محل القهوة 東京 Ünal");
    assert_eq!(call(&ingest, post("/v1/transactions", &body)).await.0, 201);
}

#[tokio::test]
async fn booked_at_before_2000_or_more_than_a_day_ahead_is_refused() {
    let ingest = ingest();
    let now = common::now();
    let cases = [
        ("1999-12-31T23:59:59Z", 400),
        ("0001-01-01T00:00:00Z", 400),
        ("2000-01-01T00:00:00Z", 201),
        ("2024-03-01T12:00:00Z", 201),
        (
            &*txn_notify::domain::time::format_rfc3339(&(now + Duration::hours(24))),
            201,
        ),
        (
            &*txn_notify::domain::time::format_rfc3339(&(now + Duration::hours(24) + Duration::seconds(1))),
            400,
        ),
        ("9999-12-31T23:59:59Z", 400),
    ];
    for (i, (booked_at, expected)) in cases.iter().enumerate() {
        let mut body = purchase();
        body["transaction_id"] = json!(format!("t-when-{i}"));
        body["booked_at"] = json!(booked_at);
        let (status, problem) = call(&ingest, post("/v1/transactions", &body)).await;
        assert_eq!(status, *expected, "{booked_at}: {problem}");
        if status == 400 {
            assert_eq!(fields(&problem), ["booked_at"]);
        }
    }
}

fn nested(levels: usize) -> Value {
    let mut value = json!("leaf");
    for _ in 0..levels {
        value = json!({ "a": value });
    }
    value
}

#[tokio::test]
async fn metadata_nests_as_deep_as_dynamodb_stores_and_no_deeper() {
    let ingest = ingest();
    let mut body = purchase();
    body["metadata"] = nested(txn_notify::domain::MAX_METADATA_DEPTH);
    assert_eq!(call(&ingest, post("/v1/transactions", &body)).await.0, 201);
    let mut body = purchase();
    body["transaction_id"] = json!("t-deeper");
    body["metadata"] = nested(txn_notify::domain::MAX_METADATA_DEPTH + 1);
    let (status, problem) = call(&ingest, post("/v1/transactions", &body)).await;
    assert_eq!(
        (status, fields(&problem)),
        (400, vec!["metadata".to_string()]),
        "{problem}"
    );
    // Arrays count as levels too.
    let mut body = purchase();
    body["transaction_id"] = json!("t-lists");
    let mut value = json!([]);
    for _ in 0..txn_notify::domain::MAX_METADATA_DEPTH {
        value = json!([value]);
    }
    body["metadata"] = json!({ "l": value });
    assert_eq!(call(&ingest, post("/v1/transactions", &body)).await.0, 400);
}

#[tokio::test]
async fn amounts_have_fifteen_digits_at_most() {
    let ingest = ingest();
    let max = txn_notify::domain::MAX_AMOUNT_MINOR;
    let cases = [
        ("amount_minor", json!(max), 201),
        ("amount_minor", json!(max + 1), 400),
        ("amount_minor", json!(i64::MAX), 400),
        ("amount_minor", json!(u64::MAX), 400),
        ("balance_after_minor", json!(-max), 201),
        ("balance_after_minor", json!(-max - 1), 400),
    ];
    for (i, (field, value, expected)) in cases.iter().enumerate() {
        let mut body = purchase();
        body["transaction_id"] = json!(format!("t-amount-{i}"));
        body[*field] = value.clone();
        let (status, problem) = call(&ingest, post("/v1/transactions", &body)).await;
        assert_eq!(status, *expected, "{field} = {value}: {problem}");
        if status == 400 {
            assert_eq!(fields(&problem), [*field]);
        }
    }
    let top_up = json!({"top_up_id": "tu-big", "amount_minor": max + 1, "currency": "EUR", "payment_method": "card", "fee_rate": 0});
    assert_eq!(
        call(&ingest, post("/v1/accounts/acc-fr-001/top-ups", &top_up)).await.0,
        400
    );
}

#[tokio::test]
async fn metadata_is_stored_with_every_digit_it_was_sent_with() {
    let ingest = ingest();
    let body = purchase().to_string().replacen(
        "\"terminal\":\"T-88\"",
        "\"rate\":0.10,\"ref\":123456789012345678901234567890",
        1,
    );
    assert_eq!(call(&ingest, post_text("/v1/transactions", &body)).await.0, 201);
    let stored = ingest
        .ledger
        .get("ACCOUNT#acc-fr-001", "TXN#2026-11-20T08:15:00Z#t-1001")
        .unwrap();
    let metadata = match stored.get("metadata") {
        Some(serde_dynamo::AttributeValue::M(m)) => m.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(metadata["rate"], serde_dynamo::AttributeValue::N("0.10".into()));
    assert_eq!(
        metadata["ref"],
        serde_dynamo::AttributeValue::N("123456789012345678901234567890".into())
    );
    let transaction = stored_transaction(&ingest, "TXN#2026-11-20T08:15:00Z#t-1001").unwrap();
    assert!(serde_json::to_string(&transaction).unwrap().contains("\"rate\":0.10"));
}

/// An HTTP API (v2) event for this request, as API Gateway sends it to the function.
fn api_gateway_event(route_key: &str, raw_path: &str, account_id: Option<&str>, body: &str) -> Value {
    let method = route_key
        .split(' ')
        .next()
        .filter(|m| *m != "$default")
        .unwrap_or("POST");
    let signature = sign(SECRET, common::now().timestamp(), method, raw_path, body.as_bytes());
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-signature": signature},
        "requestContext": {"http": {"method": method, "path": raw_path}, "routeKey": route_key, "stage": "$default"},
        "isBase64Encoded": false,
        "body": body
    });
    if let Some(id) = account_id {
        event["pathParameters"] = json!({ "account_id": id });
    }
    event
}

#[tokio::test]
async fn behind_api_gateway_the_route_key_and_path_parameters_route_the_request() {
    let ingest = ingest();
    let top_up = r#"{"top_up_id":"tu-1","amount_minor":10000,"currency":"EUR","payment_method":"card","fee_rate":0}"#;
    // The client sent the id percent-encoded; API Gateway decodes it into pathParameters.
    let event = api_gateway_event(
        "POST /v1/accounts/{account_id}/top-ups",
        "/v1/accounts/acc%2Dfr%2D001/top-ups",
        Some("acc-fr-001"),
        top_up,
    );
    let request = txn_notify::lambda::apigw::request_from_v2(&event).unwrap();
    let (status, body) = call(&ingest, request).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["account_id"], "acc-fr-001");
    // A route key this API does not have is not served, whatever the path says.
    let event = api_gateway_event("POST /v1/other", "/v1/transactions", None, &purchase().to_string());
    let request = txn_notify::lambda::apigw::request_from_v2(&event).unwrap();
    assert_eq!(call(&ingest, request).await.0, 404);
    // A catch-all route routes on the path.
    let event = api_gateway_event("$default", "/v1/transactions", None, &purchase().to_string());
    let request = txn_notify::lambda::apigw::request_from_v2(&event).unwrap();
    assert_eq!(call(&ingest, request).await.0, 201);
}

fn patch(uri: &str, if_match: Option<&str>, body: &Value) -> Request<Vec<u8>> {
    let text = body.to_string();
    let path = uri.split('?').next().unwrap();
    let mut builder = Request::builder()
        .method("PATCH")
        .uri(uri)
        .header("content-type", "application/merge-patch+json")
        .header(
            "x-signature",
            sign(SECRET, common::now().timestamp(), "PATCH", path, text.as_bytes()),
        );
    if let Some(tag) = if_match {
        builder = builder.header("if-match", tag);
    }
    builder.body(text.into_bytes()).unwrap()
}

fn stored(ingest: &TestIngest, id: &str) -> txn_notify::domain::Account {
    let item: txn_notify::domain::Attributes = ingest.ledger.get(&format!("ACCOUNT#{id}"), "PROFILE").unwrap().into();
    txn_notify::domain::Account::decode(&item).unwrap()
}

#[tokio::test]
async fn a_merge_patch_changes_what_it_names_against_the_version_it_names() {
    let ingest = ingest();
    let before = stored(&ingest, "acc-fr-001");
    let change = json!({
        "email": "marie.new@example.org",
        "time_zone": "America/New_York",
        "preferences": {"statement_enabled": false, "muted_categories": ["groceries"]},
        "thresholds": {"large_amount_minor": 90000},
        "status": "frozen"
    });
    let response = ingest
        .handle(patch("/v1/accounts/acc-fr-001", Some("\"1\""), &change))
        .await;
    assert_eq!(response.status(), 200, "{}", String::from_utf8_lossy(response.body()));
    assert_eq!(response.headers()["etag"], "\"2\"");
    let after = stored(&ingest, "acc-fr-001");
    assert_eq!(after.version, 2);
    assert_eq!(after.email.expose(), "marie.new@example.org");
    assert_eq!(
        after.previous_email.as_ref().map(|e| e.expose().clone()),
        Some(before.email.expose().clone())
    );
    assert_eq!(after.status, txn_notify::domain::AccountStatus::Frozen);
    assert_eq!(after.time_zone.as_deref(), Some("America/New_York"));
    assert!(
        !after.preferences.statement_enabled && after.preferences.email_enabled,
        "a member not named is kept"
    );
    assert_eq!(after.thresholds.large_amount_minor, Some(90000));
    assert_eq!(after.updated_at, Some(common::now()));
    assert_eq!(
        (after.created_at, after.currency, after.country),
        (before.created_at, before.currency, before.country)
    );

    // The same change again, on the new version: nothing changes, nothing is written.
    let again = ingest
        .handle(patch("/v1/accounts/acc-fr-001", Some("\"2\""), &change))
        .await;
    assert_eq!(
        (again.status().as_u16(), again.headers()["etag"].to_str().unwrap()),
        (200, "\"2\"")
    );
    assert_eq!(stored(&ingest, "acc-fr-001"), after);

    // null removes an optional member; its default applies.
    let removed = json!({"time_zone": null, "thresholds": null, "preferences": {"statement_enabled": null}});
    assert_eq!(
        call(&ingest, patch("/v1/accounts/acc-fr-001", Some("\"2\""), &removed))
            .await
            .0,
        200
    );
    let cleared = stored(&ingest, "acc-fr-001");
    assert_eq!(
        (cleared.time_zone.clone(), cleared.thresholds.large_amount_minor),
        (None, None)
    );
    assert!(cleared.preferences.statement_enabled, "back to its default");
    assert_eq!(cleared.preferences.muted_categories, ["groceries"]);
    assert_eq!(cleared.version, 3);
}

#[tokio::test]
async fn a_patch_without_if_match_or_against_another_version_changes_nothing() {
    let ingest = ingest();
    let change = json!({"locale": "en"});
    let (status, problem) = call(&ingest, patch("/v1/accounts/acc-fr-001", None, &change)).await;
    assert_eq!(
        (
            status,
            problem["type"].as_str().unwrap().ends_with("precondition-required")
        ),
        (428, true),
        "{problem}"
    );
    for stale in ["\"2\"", "W/\"1\"", "1", "\"01\"", "garbage"] {
        let (status, problem) = call(&ingest, patch("/v1/accounts/acc-fr-001", Some(stale), &change)).await;
        assert_eq!(status, 412, "{stale}: {problem}");
    }
    assert_eq!(stored(&ingest, "acc-fr-001").version, 1);
    assert_eq!(
        call(&ingest, patch("/v1/accounts/acc-fr-001", Some("\"0\", \"1\""), &change))
            .await
            .0,
        200,
        "a list naming it"
    );
    assert_eq!(
        call(&ingest, patch("/v1/accounts/acc-none", Some("\"1\""), &change))
            .await
            .0,
        404
    );
    assert_eq!(
        call(&ingest, patch("/v1/accounts/acc-none", None, &change)).await.0,
        404,
        "unknown first"
    );
    let mut as_json = patch("/v1/accounts/acc-fr-001", Some("\"2\""), &change);
    as_json
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    assert_eq!(call(&ingest, as_json).await.0, 415, "a merge patch says it is one");
}

#[tokio::test]
async fn a_patch_of_an_immutable_unknown_or_invalid_member_is_refused_naming_it() {
    let ingest = ingest();
    let bad = json!({
        "account_id": "acc-other",
        "currency": "USD",
        "country": "US",
        "created_at": "2020-01-01T00:00:00Z",
        "version": 9,
        "email_status": null,
        "nickname": "M",
    });
    let (status, problem) = call(&ingest, patch("/v1/accounts/acc-fr-001", Some("\"1\""), &bad)).await;
    assert_eq!(status, 400);
    let mut got = fields(&problem);
    got.sort();
    assert_eq!(
        got,
        [
            "account_id",
            "country",
            "created_at",
            "currency",
            "email_status",
            "nickname",
            "version"
        ]
    );
    let invalid = json!({
        "email": "not-an-address",
        "locale": "de",
        "time_zone": "Mars/Base",
        "status": "suspended",
        "preferences": {"muted_categories": ["yachts"]},
        "holder": {"last_name": null},
    });
    let (status, problem) = call(&ingest, patch("/v1/accounts/acc-fr-001", Some("\"1\""), &invalid)).await;
    assert_eq!(status, 400);
    let mut got = fields(&problem);
    got.sort();
    assert_eq!(got, ["status"], "the status is checked before the rest");
    let mut invalid = invalid;
    invalid.as_object_mut().unwrap().remove("status");
    let (_, problem) = call(&ingest, patch("/v1/accounts/acc-fr-001", Some("\"1\""), &invalid)).await;
    let mut got = fields(&problem);
    got.sort();
    assert_eq!(
        got,
        [
            "email",
            "holder.last_name",
            "locale",
            "preferences.muted_categories[0]",
            "time_zone"
        ]
    );
    let (status, _) = call(
        &ingest,
        patch("/v1/accounts/acc-fr-001", Some("\"1\""), &json!({"email": null})),
    )
    .await;
    assert_eq!(status, 400, "a required member cannot be removed");
    assert_eq!(stored(&ingest, "acc-fr-001").version, 1, "nothing was written");
}

// ---------------------------------------------------------------- notification history

fn notification(n: usize, minutes: i64, decision: &str) -> txn_notify::domain::Notification {
    use common::notification_contract::{sent, suppressed};
    let at = common::now() - Duration::minutes(minutes);
    let id = format!("ev-{n:02}");
    if decision == "sent" {
        sent(&id, "acc-fr-001", at, &format!("ses-{n}"))
    } else {
        suppressed(&id, "acc-fr-001", at, "muted_category")
    }
}

#[tokio::test]
async fn the_notification_history_pages_newest_first_with_an_opaque_cursor() {
    use txn_notify::ports::NotificationLog;
    let ingest = ingest();
    for n in 0..5 {
        let decision = if n == 2 { "suppressed" } else { "sent" };
        ingest
            .notifications
            .record_notification(&notification(n, 10 - n as i64, decision))
            .await
            .unwrap();
    }
    let (status, page) = call(&ingest, get("/v1/accounts/acc-fr-001/notifications?limit=2")).await;
    assert_eq!(status, 200, "{page}");
    let ids = |page: &Value| -> Vec<String> {
        page["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["event_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&page), ["ev-04", "ev-03"]);
    let first = &page["notifications"][0];
    assert_eq!(first["decision"], "sent");
    assert_eq!(first["message_id"], "ses-4");
    assert_eq!(first["delivery_state"], "sent");
    assert_eq!(first["transaction_id"], "t-ev-04");
    assert_eq!(first["detail_type"], "Transaction Recorded");
    assert!(first["delivery_state_at"].is_string() && first["occurred_at"].is_string());
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, second) = call(
        &ingest,
        get(&format!(
            "/v1/accounts/acc-fr-001/notifications?limit=2&cursor={cursor}"
        )),
    )
    .await;
    assert_eq!(ids(&second), ["ev-02", "ev-01"]);
    let muted = &second["notifications"][0];
    assert_eq!(
        (&muted["decision"], &muted["reason"]),
        (&json!("suppressed"), &json!("muted_category"))
    );
    assert!(muted.get("message_id").is_none() && muted.get("delivery_state").is_none());
    let cursor = second["next_cursor"].as_str().unwrap().to_string();
    let (_, last) = call(
        &ingest,
        get(&format!("/v1/accounts/acc-fr-001/notifications?cursor={cursor}")),
    )
    .await;
    assert_eq!(ids(&last), ["ev-00"]);
    assert!(last["next_cursor"].is_null());
}

#[tokio::test]
async fn the_notification_history_refuses_bad_queries_and_unknown_accounts() {
    let ingest = ingest();
    let (status, body) = call(&ingest, get("/v1/accounts/acc-nobody/notifications")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = call(&ingest, get("/v1/accounts/acc-fr-001/notifications")).await;
    assert_eq!((status, body["notifications"].as_array().unwrap().len()), (200, 0));
    assert!(body["next_cursor"].is_null());
    // Any base64url text is a position in this account's history, never another's.
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("9999\nNOTIFICATION#zzz");
    for cursor in ["bm90IGpzb24", "AA", forged.as_str()] {
        let (status, body) = call(
            &ingest,
            get(&format!("/v1/accounts/acc-fr-001/notifications?cursor={cursor}")),
        )
        .await;
        assert_eq!(status, 200, "{cursor}: {body}");
        assert_eq!(body["account_id"], "acc-fr-001");
    }
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=%%%", "cursor"),
        ("cursor=", "cursor"),
        (&format!("cursor={}", "A".repeat(3000)) as &str, "cursor"),
        ("from=2026-11-01T00:00:00Z", "from"),
        ("limit=1&limit=2", "limit"),
    ] {
        let (status, body) = call(&ingest, get(&format!("/v1/accounts/acc-fr-001/notifications?{query}"))).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(fields(&body), [field], "{query}");
    }
    let unsigned = Request::builder()
        .method("GET")
        .uri("/v1/accounts/acc-fr-001/notifications")
        .body(Vec::new())
        .unwrap();
    assert_eq!(call(&ingest, unsigned).await.0, 401);
}

// ---------------------------------------------------------------- one-click unsubscribe

fn token_for(secret: &[u8], account_id: &str, purpose: &str, valid: Duration) -> String {
    txn_notify::domain::unsubscribe::mint(secret, account_id, purpose, common::now() + valid)
}

/// An unsigned request, as a mail client or a browser sends it.
fn unsigned(method: &str, uri: &str, body: &str) -> Request<Vec<u8>> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.as_bytes().to_vec())
        .unwrap()
}

async fn page(ingest: &TestIngest, request: Request<Vec<u8>>) -> (u16, String, String) {
    let response = ingest.handle(request).await;
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    (
        response.status().as_u16(),
        content_type,
        String::from_utf8(response.body().clone()).unwrap(),
    )
}

#[tokio::test]
async fn a_one_click_post_turns_the_statement_off_once_and_a_get_only_asks() {
    let ingest = ingest();
    let token = token_for(SECRET, "acc-fr-001", "statement", Duration::days(180));
    let uri = format!("/v1/unsubscribe/{token}");
    // GET: the page with its button, nothing changes (link scanners open links).
    let (status, content_type, html) = page(&ingest, unsigned("GET", &uri, "")).await;
    assert_eq!((status, content_type.as_str()), (200, "text/html; charset=utf-8"));
    assert!(
        html.contains("<form method=\"post\">") && html.contains("lang=\"fr\""),
        "{html}"
    );
    assert!(html.contains("••••-001"), "the account, masked: {html}");
    assert!(stored(&ingest, "acc-fr-001").preferences.statement_enabled);
    let version = stored(&ingest, "acc-fr-001").version;
    // POST (RFC 8058's body): off, one new version.
    let (status, _, html) = page(&ingest, unsigned("POST", &uri, "List-Unsubscribe=One-Click")).await;
    assert_eq!(status, 200, "{html}");
    let after = stored(&ingest, "acc-fr-001");
    assert!(!after.preferences.statement_enabled);
    assert_eq!(after.version, version + 1);
    assert!(after.updated_at.is_some());
    // Again, and a GET after: nothing more is written.
    for method in ["POST", "GET"] {
        let (status, _, html) = page(&ingest, unsigned(method, &uri, "List-Unsubscribe=One-Click")).await;
        assert_eq!(status, 200);
        assert!(!html.contains("<form"), "{method}: already off, no button: {html}");
        assert_eq!(stored(&ingest, "acc-fr-001").version, version + 1, "{method}");
    }
    // A token made with the previous secret still works during a rotation.
    let secrets = MemorySecrets::new(SECRET);
    secrets.rotate(b"next-secret");
    let rotated = Ingest::new(
        common::ledger_with(&[common::account("acc-fr-001", "FR", Currency::EUR)]),
        MemoryAuditLog::new(),
        secrets,
        FrozenClock::at(common::now()),
        IngestConfig::default(),
    );
    let (status, _, _) = page(&rotated, unsigned("POST", &uri, "")).await;
    assert_eq!(status, 200);
    assert!(!stored(&rotated, "acc-fr-001").preferences.statement_enabled);
}

#[tokio::test]
async fn a_forged_expired_or_foreign_token_changes_nothing() {
    let ingest = ingest();
    let genuine = token_for(SECRET, "acc-fr-001", "statement", Duration::days(1));
    let mut tampered = genuine.clone();
    tampered.replace_range(tampered.len() - 2.., "xx");
    let cases = [
        (
            token_for(b"someone-elses-secret", "acc-fr-001", "statement", Duration::days(1)),
            403,
        ),
        (tampered, 403),
        (token_for(SECRET, "acc-fr-001", "alerts", Duration::days(1)), 403),
        (token_for(SECRET, "acc-fr-001", "statement", Duration::seconds(-1)), 410),
        ("not-a-token".to_string(), 403),
        ("a.b.c.d".to_string(), 403),
        (token_for(SECRET, "acc-nobody", "statement", Duration::days(1)), 404),
    ];
    for (token, expected) in cases {
        for method in ["GET", "POST"] {
            let (status, body) = call(&ingest, unsigned(method, &format!("/v1/unsubscribe/{token}"), "")).await;
            assert_eq!(status, expected, "{method} {token}: {body}");
        }
    }
    assert!(
        stored(&ingest, "acc-fr-001").preferences.statement_enabled,
        "nothing changed"
    );
    let (status, body) = call(&ingest, unsigned("PUT", &format!("/v1/unsubscribe/{genuine}"), "")).await;
    assert_eq!(status, 405, "{body}");
    // The token is the credential: a signature is not asked for, nor does it stand in.
    let signed = signed_with(
        SECRET,
        common::now().timestamp(),
        "POST",
        "/v1/unsubscribe/x.y.1.z",
        b"",
    );
    assert_eq!(call(&ingest, signed).await.0, 403);
}

#[tokio::test]
async fn an_english_account_gets_the_page_in_english() {
    let mut account = common::account("acc-gb-002", "GB", Currency::GBP);
    account.locale = txn_notify::domain::Locale::En;
    let ingest = Ingest::new(
        common::ledger_with(&[account]),
        MemoryAuditLog::new(),
        MemorySecrets::new(SECRET),
        FrozenClock::at(common::now()),
        IngestConfig::default(),
    );
    let token = token_for(SECRET, "acc-gb-002", "statement", Duration::days(1));
    let (status, _, html) = page(&ingest, unsigned("GET", &format!("/v1/unsubscribe/{token}"), "")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("lang=\"en\"") && html.contains("Stop the weekly statement"),
        "{html}"
    );
}
