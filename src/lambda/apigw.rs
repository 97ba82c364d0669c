//! API Gateway HTTP API (payload format 2.0) requests and responses ↔ `http` types.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{Request, Response};

use crate::pipeline::ingest::routes::MatchedRoute;
use serde_json::{Map, Value, json};

/// The request an HTTP API hands to Lambda, as an `http::Request`.
pub fn request_from_v2(event: &Value) -> Result<Request<Vec<u8>>, String> {
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
    let method =
        text("/requestContext/http/method").ok_or("not an HTTP API (v2) request: no requestContext.http.method")?;
    let path = text("/rawPath").ok_or("not an HTTP API (v2) request: no rawPath")?;
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
            .map_err(|e| format!("the body is not base64: {e}"))?,
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
    let mut request = builder
        .body(body)
        .map_err(|e| format!("not a valid HTTP request: {e}"))?;
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
