//! API Gateway HTTP API (payload format 2.0) requests and responses ↔ `http` types.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{Request, Response};

use crate::pipeline::ingest::routes::MatchedRoute;
use serde_json::{Map, Value, json};

/// The request an HTTP API hands to Lambda, as an `http::Request`.
/// Why an API Gateway event does not make an HTTP request: ingest answers 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("not an HTTP API (v2) request: no {0}")]
    Missing(&'static str),
    #[error("the body is not base64: {0}")]
    BodyNotBase64(String),
    #[error("not a valid HTTP request: {0}")]
    NotHttp(String),
}

pub fn request_from_v2(event: &Value) -> Result<Request<Vec<u8>>, RequestError> {
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
    let method = text("/requestContext/http/method").ok_or(RequestError::Missing("requestContext.http.method"))?;
    let path = text("/rawPath").ok_or(RequestError::Missing("rawPath"))?;
    let uri = match text("/rawQueryString") {
        Some(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_string(),
    };
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(headers) = event.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                builder = builder.header(name.as_str(), value);
            }
        }
    }
    let body = match text("/body") {
        None => Vec::new(),
        Some(body) if event.get("isBase64Encoded") == Some(&Value::Bool(true)) => STANDARD
            .decode(body)
            .map_err(|e| RequestError::BodyNotBase64(e.to_string()))?,
        Some(body) => body.as_bytes().to_vec(),
    };
    let route = text("/routeKey").map(|key| MatchedRoute {
        key: key.to_string(),
        path_parameters: event
            .get("pathParameters")
            .and_then(Value::as_object)
            .map(|params| {
                params
                    .iter()
                    .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
    });
    let mut request = builder.body(body).map_err(|e| RequestError::NotHttp(e.to_string()))?;
    if let Some(route) = route {
        request.extensions_mut().insert(route);
    }
    Ok(request)
}

/// The response as an HTTP API (v2) integration returns it.
pub fn response_to_v2(response: &Response<Vec<u8>>) -> Value {
    let headers: Map<String, Value> = response
        .headers()
        .iter()
        .map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap_or(""))))
        .collect();
    json!({
        "statusCode": response.status().as_u16(),
        "headers": headers,
        "body": String::from_utf8_lossy(response.body()),
        "isBase64Encoded": false,
    })
}
