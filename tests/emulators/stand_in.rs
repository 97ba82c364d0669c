//! A scripted HTTP endpoint on loopback, for the answers no emulator gives: throttling,
//! 5xx, BatchGetItem's UnprocessedKeys, PutEvents failed entries. It answers each request
//! with the next canned response (the last one repeats) and records what it was sent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Canned {
    /// A JSON-protocol (DynamoDB, EventBridge, Secrets Manager) success.
    pub fn json(body: serde_json::Value) -> Canned {
        Canned {
            status: 200,
            headers: vec![("content-type".into(), "application/x-amz-json-1.0".into())],
            body: body.to_string(),
        }
    }

    /// A JSON-protocol error: the code travels in `__type`.
    pub fn json_error(status: u16, code: &str, message: &str) -> Canned {
        Canned {
            status,
            headers: vec![("content-type".into(), "application/x-amz-json-1.0".into())],
            body: serde_json::json!({ "__type": code, "message": message }).to_string(),
        }
    }

    /// A REST-JSON (SES v2) error: the code travels in `x-amzn-ErrorType`.
    pub fn rest_error(status: u16, code: &str, message: &str) -> Canned {
        Canned {
            status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-amzn-errortype".into(), code.into()),
            ],
            body: serde_json::json!({ "message": message }).to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    /// `X-Amz-Target` of JSON-protocol calls, e.g. `DynamoDB_20120810.BatchGetItem`.
    pub target: Option<String>,
    pub body: String,
}

struct Script {
    canned: VecDeque<Canned>,
    last: Option<Canned>,
    requests: Vec<Recorded>,
}

pub struct StandIn {
    pub url: String,
    script: Arc<Mutex<Script>>,
}

impl StandIn {
    pub async fn start(canned: Vec<Canned>) -> StandIn {
        let script = Arc::new(Mutex::new(Script {
            canned: canned.into(),
            last: None,
            requests: Vec::new(),
        }));
        let shared = script.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let script = shared.clone();
            async move { answer(&script, uri, headers, body) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        StandIn { url, script }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.script.lock().unwrap().requests.clone()
    }
}

fn answer(script: &Mutex<Script>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut script = script.lock().unwrap();
    script.requests.push(Recorded {
        path: uri.path().to_string(),
        target: headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let canned = match script.canned.pop_front() {
        Some(next) => {
            script.last = Some(next.clone());
            next
        }
        None => script.last.clone().expect("the stand-in was given no response"),
    };
    let mut response = (StatusCode::from_u16(canned.status).unwrap(), canned.body).into_response();
    for (name, value) in canned.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}
