//! The HTTP surface of ingest, on `http` types: size limit, signature, routing, content
//! type, then the use case. Checks run in that order, so an unsigned request learns nothing
//! about routes or accounts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use http::{Method, Request, Response, StatusCode, header};
use serde::Serialize;
use serde_json::json;

use crate::domain::HistoryPosition;
use crate::domain::time::parse_timestamp;
use crate::ports::{Clock, Ledger, NotificationLog, Secrets};

use super::auth::{SIGNATURE_HEADER, verify};
use super::body::check_id;
use super::json_body::{BodyError, JsonBody};
use super::problem::{self, FieldError, Problem};
use super::{Ingest, PageRequest, Written};

/// The routes, as `schemas/openapi.yaml` names them.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/transactions"),
    ("POST", "/v1/accounts"),
    ("POST", "/v1/accounts/{account_id}/top-ups"),
    ("GET", "/v1/accounts/{account_id}/transactions"),
    ("GET", "/v1/accounts/{account_id}"),
    ("PATCH", "/v1/accounts/{account_id}"),
    ("GET", "/v1/accounts/{account_id}/notifications"),
    ("GET", "/v1/unsubscribe/{token}"),
    ("POST", "/v1/unsubscribe/{token}"),
];

/// Where the one-click unsubscribe links point (no X-Signature: the token is the
/// credential).
pub const UNSUBSCRIBE_PREFIX: &str = "/v1/unsubscribe/";

/// The content type of a JSON Merge Patch (RFC 7396).
pub const MERGE_PATCH: &str = "application/merge-patch+json";

const POST: &[Method] = &[Method::POST];
const GET: &[Method] = &[Method::GET];
const GET_OR_PATCH: &[Method] = &[Method::GET, Method::PATCH];
const GET_OR_POST: &[Method] = &[Method::GET, Method::POST];

enum Route<'a> {
    CreateTransaction,
    CreateAccount,
    TopUp(&'a str),
    ListTransactions(&'a str),
    Account(&'a str),
    ListNotifications(&'a str),
    Unsubscribe(&'a str),
}

/// The route API Gateway matched (`routeKey`, e.g. `POST /v1/accounts/{account_id}/top-ups`)
/// with its path parameters, decoded as API Gateway decodes them. Requests that come another
/// way (`dev`) are routed on their path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRoute {
    pub key: String,
    pub path_parameters: std::collections::BTreeMap<String, String>,
}

/// The route of an API Gateway route key; `$default` (a catch-all route) routes on the path.
fn route_of_key(matched: &MatchedRoute) -> Option<Option<(Route<'_>, &'static [Method])>> {
    if matched.key == "$default" {
        return None;
    }
    let (method, template) = matched.key.split_once(' ')?;
    let method: &'static [Method] = match method {
        "GET" => GET,
        "POST" => POST,
        "PATCH" => &[Method::PATCH],
        _ => return Some(None),
    };
    let account = || matched.path_parameters.get("account_id").map(String::as_str);
    let route = match template {
        "/v1/transactions" => Some(Route::CreateTransaction),
        "/v1/accounts" => Some(Route::CreateAccount),
        "/v1/accounts/{account_id}/top-ups" => account().map(Route::TopUp),
        "/v1/accounts/{account_id}/transactions" => account().map(Route::ListTransactions),
        "/v1/accounts/{account_id}" => account().map(Route::Account),
        "/v1/accounts/{account_id}/notifications" => account().map(Route::ListNotifications),
        "/v1/unsubscribe/{token}" => matched
            .path_parameters
            .get("token")
            .map(|token| Route::Unsubscribe(token.as_str())),
        _ => None,
    };
    Some(route.map(|route| (route, method)))
}

/// The route a path names, and the methods it allows.
fn route(path: &str) -> Option<(Route<'_>, &'static [Method])> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match segments.as_slice() {
        ["v1", "transactions"] => Some((Route::CreateTransaction, POST)),
        ["v1", "accounts"] => Some((Route::CreateAccount, POST)),
        ["v1", "accounts", id, "top-ups"] => Some((Route::TopUp(id), POST)),
        ["v1", "accounts", id, "transactions"] => Some((Route::ListTransactions(id), GET)),
        ["v1", "accounts", id] => Some((Route::Account(id), GET_OR_PATCH)),
        ["v1", "accounts", id, "notifications"] => Some((Route::ListNotifications(id), GET)),
        ["v1", "unsubscribe", token] => Some((Route::Unsubscribe(token), GET_OR_POST)),
        _ => None,
    }
}

/// The account with its version as the ETag.
fn account_response(account: &crate::domain::Account) -> Response<Vec<u8>> {
    let mut response = json_response(StatusCode::OK, account);
    response.headers_mut().insert(
        header::ETAG,
        header::HeaderValue::from_str(&etag(account.version)).expect("a number is a valid header"),
    );
    response
}

fn respond(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_str(content_type).expect("a valid header"),
    );
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Vec<u8>> {
    let body = serde_json::to_vec(body).expect("responses always serialize");
    respond(status, "application/json", body)
}

pub fn problem_response(problem: &Problem) -> Response<Vec<u8>> {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = respond(
        status,
        problem::CONTENT_TYPE,
        serde_json::to_vec(problem).expect("problems always serialize"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

fn method_not_allowed(path: &str, allowed: &[Method]) -> Response<Vec<u8>> {
    let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    let mut response = problem_response(&Problem::method_not_allowed(format!(
        "{path} takes {}",
        names.join(" or ")
    )));
    response.headers_mut().insert(
        header::ALLOW,
        header::HeaderValue::from_str(&names.join(", ")).expect("methods are a valid header"),
    );
    response
}

fn written(result: Result<Written, Problem>) -> Response<Vec<u8>> {
    match result {
        Ok(Written::Created(mut body)) => {
            body["status"] = json!("created");
            json_response(StatusCode::CREATED, &body)
        }
        Ok(Written::Duplicate(mut body)) => {
            body["status"] = json!("duplicate");
            json_response(StatusCode::OK, &body)
        }
        Err(problem) => problem_response(&problem),
    }
}

/// The entity tag of an account: its version, quoted (RFC 9110).
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

pub fn encode_cursor(sort_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(sort_key)
}

/// A cursor is the base64url text of a position in the account's history; the page goes on
/// after it. Any base64url text is a position (schemas/openapi.yaml says which texts those
/// are): one this API did not hand out is clamped to the page's window, never refused.
fn decode_cursor(cursor: &str) -> Option<String> {
    if cursor.is_empty() || cursor.len() > MAX_CURSOR_CHARS {
        return None;
    }
    let mut position = decode_cursor_text(cursor)?;
    // A DynamoDB key holds at most 1024 bytes; only a forged cursor is longer.
    while position.len() > MAX_POSITION_BYTES {
        position.pop();
    }
    Some(position)
}

/// A history cursor: the base64url of the position, `<occurred_at>\n<key>`.
pub fn encode_history_cursor(position: &HistoryPosition) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}\n{}", position.occurred_at, position.key))
}

/// Any base64url text is a position in the account's history, as for the transactions:
/// one this API did not hand out starts the page somewhere in the same account's history,
/// never elsewhere. Each part is cut to what a DynamoDB key holds; an empty one sorts first.
fn decode_history_cursor(cursor: &str) -> Option<HistoryPosition> {
    if cursor.is_empty() || cursor.len() > MAX_HISTORY_CURSOR_CHARS {
        return None;
    }
    let text = decode_cursor_text(cursor)?;
    let (occurred_at, key) = text.split_once('\n').unwrap_or((&text, ""));
    let part = |text: &str| {
        let mut part = text.to_string();
        while part.len() > MAX_POSITION_BYTES {
            part.pop();
        }
        if part.is_empty() { " ".to_string() } else { part }
    };
    Some(HistoryPosition {
        occurred_at: part(occurred_at),
        key: part(key),
    })
}

/// The longest history cursor taken: the base64url of two 1024-byte key parts.
pub const MAX_HISTORY_CURSOR_CHARS: usize = 2734;

/// The query's parameters, each named once; one named twice is an error (which of the two
/// was meant cannot be told).
type QueryPairs<'a> = Vec<(std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>;

fn query_pairs(query: Option<&str>) -> (QueryPairs<'_>, Vec<FieldError>) {
    let mut pairs: QueryPairs<'_> = Vec::new();
    let mut errors = Vec::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if pairs.iter().any(|(seen, _)| *seen == name) {
            if !errors.iter().any(|e: &FieldError| e.field == name) {
                errors.push(FieldError::new(name.as_ref(), "given more than once"));
            }
            continue;
        }
        pairs.push((name, value));
    }
    (pairs, errors)
}

/// `limit` and `cursor` of the notification history; anything else is refused.
fn history_request(
    query: Option<&str>,
    default_limit: u32,
    max_limit: u32,
) -> Result<(u32, Option<HistoryPosition>), Vec<FieldError>> {
    let (mut limit, mut after) = (default_limit, None);
    let (pairs, mut errors) = query_pairs(query);
    for (name, value) in pairs {
        match name.as_ref() {
            "limit" => match value.parse::<u32>() {
                Ok(n) if (1..=max_limit).contains(&n) => limit = n,
                _ => errors.push(FieldError::new(
                    "limit",
                    format!("must be an integer from 1 to {max_limit}"),
                )),
            },
            "cursor" => match decode_history_cursor(&value) {
                Some(position) => after = Some(position),
                None => errors.push(FieldError::new(
                    "cursor",
                    format!("must be base64url text of at most {MAX_HISTORY_CURSOR_CHARS} characters, as next_cursor gives it"),
                )),
            },
            other => errors.push(FieldError::new(other, "unknown query parameter")),
        }
    }
    if errors.is_empty() {
        Ok((limit, after))
    } else {
        Err(errors)
    }
}

fn html_response(status: StatusCode, body: String) -> Response<Vec<u8>> {
    let mut response = respond(status, "text/html; charset=utf-8", body.into_bytes());
    // The page is only ever ours: no framing, no referrer carrying the token away.
    let headers = response.headers_mut();
    headers.insert("x-frame-options", header::HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
    );
    response
}

/// The account's id as the page shows it: its last four characters.
fn masked(account_id: &str) -> String {
    let tail: String = account_id
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("••••{tail}")
}

/// Base64url (padded or not, trailing bits allowed) to text, invalid UTF-8 replaced.
fn decode_cursor_text(cursor: &str) -> Option<String> {
    const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = LENIENT.decode(cursor).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The longest cursor taken: the base64url of a 1024-byte sort key.
pub const MAX_CURSOR_CHARS: usize = 1366;
const MAX_POSITION_BYTES: usize = 1024;

/// `from`, `to`, `limit`, `cursor`; anything else is refused.
fn page_request(query: Option<&str>, default_limit: u32, max_limit: u32) -> Result<PageRequest, Vec<FieldError>> {
    let mut page = PageRequest {
        from: DateTime::<Utc>::UNIX_EPOCH,
        to: parse_timestamp("9999-12-31T23:59:59Z").expect("a valid timestamp"),
        limit: default_limit,
        after: None,
    };
    let (pairs, mut errors) = query_pairs(query);
    for (name, value) in pairs {
        match name.as_ref() {
            "from" | "to" => match parse_timestamp(&value) {
                Some(t) if name == "from" => page.from = t,
                Some(t) => page.to = t,
                None => errors.push(FieldError::new(name.as_ref(), "must be an RFC 3339 timestamp")),
            },
            "limit" => match value.parse::<u32>() {
                Ok(n) if (1..=max_limit).contains(&n) => page.limit = n,
                _ => errors.push(FieldError::new(
                    "limit",
                    format!("must be an integer from 1 to {max_limit}"),
                )),
            },
            "cursor" => match decode_cursor(&value) {
                Some(key) => page.after = Some(key),
                None => errors.push(FieldError::new(
                    "cursor",
                    format!("must be base64url text of at most {MAX_CURSOR_CHARS} characters, as next_cursor gives it"),
                )),
            },
            other => errors.push(FieldError::new(other, "unknown query parameter")),
        }
    }
    // `from` at or after `to` is an empty window: an empty page.
    if errors.is_empty() { Ok(page) } else { Err(errors) }
}

fn is_json(request: &Request<Vec<u8>>) -> Result<(), Problem> {
    has_content_type(request, "application/json")
}

fn has_content_type(request: &Request<Vec<u8>>, expected: &str) -> Result<(), Problem> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(a value that is not text)"));
    let essence = content_type.map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some(essence) if essence == expected => Ok(()),
        _ => Err(Problem::unsupported_media_type(expected, content_type)),
    }
}

/// The body of a POST: JSON (415 otherwise), an object that names each member once (400
/// otherwise).
fn json_body(request: &Request<Vec<u8>>) -> Result<JsonBody, Problem> {
    is_json(request)?;
    object_body(request)
}

fn object_body(request: &Request<Vec<u8>>) -> Result<JsonBody, Problem> {
    JsonBody::parse(request.body()).map_err(|error| match error {
        BodyError::DuplicateKey { path } => Problem::validation(vec![FieldError::new(
            path,
            "given more than once; each member may be named once, at any depth",
        )]),
        other => Problem::malformed(other.to_string()),
    })
}

impl<L: Ledger, N: NotificationLog, S: Secrets, C: Clock> Ingest<L, N, S, C> {
    /// One HTTP request → one response. Never panics on input.
    pub async fn handle(&self, request: Request<Vec<u8>>) -> Response<Vec<u8>> {
        let response = self.respond(&request).await;
        let path = request.uri().path();
        // The token is a credential: it stays out of the logs.
        let path = if path.starts_with(UNSUBSCRIBE_PREFIX) {
            "/v1/unsubscribe/{token}"
        } else {
            path
        };
        tracing::info!(
            method = %request.method(),
            path,
            status = response.status().as_u16(),
            "ingest request"
        );
        response
    }

    /// GET shows the page (it changes nothing: link scanners open links), POST unsubscribes.
    async fn unsubscribe_response(&self, method: &Method, token: &str) -> Response<Vec<u8>> {
        match self.unsubscribe(token, method == Method::POST).await {
            Ok((account, outcome)) => {
                match crate::pipeline::notify::page_templates().unsubscribe_page(
                    account.locale,
                    outcome.as_str(),
                    &masked(&account.account_id),
                ) {
                    Ok(page) => html_response(StatusCode::OK, page),
                    Err(error) => {
                        tracing::error!(error = %error, "the unsubscribe page could not be rendered");
                        problem_response(&Problem::internal("the page could not be rendered"))
                    }
                }
            }
            Err(problem) => problem_response(&problem),
        }
    }

    async fn respond(&self, request: &Request<Vec<u8>>) -> Response<Vec<u8>> {
        let body = request.body();
        if body.len() > self.config.max_body_bytes {
            return problem_response(&Problem::too_large(self.config.max_body_bytes));
        }
        let secrets = match self.secrets.get(&self.clock).await {
            Ok(secrets) => secrets,
            Err(error) => {
                tracing::error!(error = %error, "the signing secret could not be read");
                return problem_response(&Problem::unavailable("the signing secret could not be read"));
            }
        };
        let path = request.uri().path();
        let matched = match request.extensions().get::<MatchedRoute>().and_then(route_of_key) {
            Some(from_key) => from_key,
            None => route(path),
        };
        if let Some((Route::Unsubscribe(token), allowed)) = &matched {
            if !allowed.contains(request.method()) {
                return method_not_allowed(path, allowed);
            }
            return self.unsubscribe_response(request.method(), token).await;
        }
        let signature = request.headers().get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
        if let Err(error) = verify(
            signature,
            &secrets,
            self.clock.now(),
            request.method().as_str(),
            path,
            body,
        ) {
            tracing::warn!(path, reason = %error, "unauthenticated request refused");
            return problem_response(&Problem::unauthorized(error.to_string()));
        }
        let Some((route, allowed)) = matched else {
            return problem_response(&Problem::not_found(format!("no route {path}")));
        };
        if !allowed.contains(request.method()) {
            return method_not_allowed(path, allowed);
        }
        match route {
            Route::TopUp(id) | Route::ListTransactions(id) | Route::Account(id) | Route::ListNotifications(id)
                if check_id(id).is_err() =>
            {
                problem_response(&Problem::unknown_account(id))
            }
            // Answered before the signature check.
            Route::Unsubscribe(token) => self.unsubscribe_response(request.method(), token).await,
            Route::ListNotifications(id) => match history_request(
                request.uri().query(),
                self.config.default_page_size,
                self.config.max_page_size,
            ) {
                Err(errors) => problem_response(&Problem::validation(errors)),
                Ok((limit, after)) => match self.list_notifications(id, limit, after.as_ref()).await {
                    Ok(list) => json_response(StatusCode::OK, &list),
                    Err(problem) => problem_response(&problem),
                },
            },
            Route::Account(id) if request.method() == Method::GET => match self.get_account(id).await {
                Ok(account) => account_response(&account),
                Err(problem) => problem_response(&problem),
            },
            Route::Account(id) => {
                let if_match = request
                    .headers()
                    .get(header::IF_MATCH)
                    .map(|v| v.to_str().unwrap_or("(not text)"));
                let patch = has_content_type(request, MERGE_PATCH).and_then(|()| object_body(request));
                match patch {
                    Ok(body) => match self.patch_account(id, if_match, &body.object).await {
                        Ok(account) => account_response(&account),
                        Err(problem) => problem_response(&problem),
                    },
                    Err(problem) => problem_response(&problem),
                }
            }
            Route::ListTransactions(id) => {
                match page_request(
                    request.uri().query(),
                    self.config.default_page_size,
                    self.config.max_page_size,
                ) {
                    Err(errors) => problem_response(&Problem::validation(errors)),
                    Ok(page) => match self.list_transactions(id, &page).await {
                        Ok(list) => json_response(StatusCode::OK, &list),
                        Err(problem) => problem_response(&problem),
                    },
                }
            }
            Route::CreateTransaction => match json_body(request) {
                Ok(body) => written(self.create_transaction(&body).await),
                Err(problem) => problem_response(&problem),
            },
            Route::CreateAccount => match json_body(request) {
                Ok(body) => written(self.create_account(&body.object).await),
                Err(problem) => problem_response(&problem),
            },
            Route::TopUp(id) => match json_body(request) {
                Ok(body) => written(self.top_up(id, &body.object).await),
                Err(problem) => problem_response(&problem),
            },
        }
    }
}
