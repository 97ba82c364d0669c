//! The test stack: endpoints of DynamoDB Local and moto (started by scripts/with-emulators.sh),
//! SDK configurations pointed at them, tables built from template.yaml's own definitions,
//! and names unique to each test so that tests run side by side.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;

pub const REGION: &str = "eu-west-1";

fn endpoint(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!(
            "{variable} is not set: the emulator tests need DynamoDB Local and moto. \
             Run them through scripts/with-emulators.sh (scripts/test.sh does), e.g. \
             `scripts/with-emulators.sh cargo test --test emulators`"
        )
    })
}

pub fn dynamodb_url() -> String {
    endpoint("TXN_NOTIFY_TEST_DYNAMODB_URL")
}

pub fn moto_url() -> String {
    endpoint("TXN_NOTIFY_TEST_MOTO_URL")
}

fn assert_loopback(url: &str) {
    assert!(
        url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:"),
        "tests talk to loopback only, not {url}"
    );
}

/// Our production client settings (HTTP client, timeouts, retries), pointed at `url`.
pub async fn config_for(url: &str) -> SdkConfig {
    assert_loopback(url);
    txn_notify::aws::clients::loader()
        .endpoint_url(url)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "emulators"))
        .load()
        .await
}

pub async fn dynamodb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&config_for(&dynamodb_url()).await)
}

pub async fn moto() -> SdkConfig {
    config_for(&moto_url()).await
}

/// A name no other test (or earlier run against the same servers) uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn template() -> Yaml {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The properties of a resource of template.yaml, as JSON (CloudFormation tags are kept as
/// tagged values, which these helpers never read).
pub fn resource_properties(logical_id: &str) -> Yaml {
    template()["Resources"][logical_id]["Properties"].clone()
}

fn text(value: &Yaml) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string in template.yaml, found {value:?}"))
}

fn key_schema(list: &Yaml) -> Vec<KeySchemaElement> {
    list.as_sequence()
        .unwrap()
        .iter()
        .map(|key| {
            KeySchemaElement::builder()
                .attribute_name(text(&key["AttributeName"]))
                .key_type(KeyType::from(text(&key["KeyType"])))
                .build()
                .unwrap()
        })
        .collect()
}

/// Creates the table `logical_id` of template.yaml under `name`: same keys, indexes and
/// stream, so the adapters meet the production schema.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, logical_id: &str, name: &str) {
    let properties = resource_properties(logical_id);
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&properties["KeySchema"])));
    for definition in properties["AttributeDefinitions"].as_sequence().unwrap() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(&definition["AttributeName"]))
                .attribute_type(ScalarAttributeType::from(text(&definition["AttributeType"])))
                .build()
                .unwrap(),
        );
    }
    if let Some(indexes) = properties["GlobalSecondaryIndexes"].as_sequence() {
        for index in indexes {
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(text(&index["IndexName"]))
                    .set_key_schema(Some(key_schema(&index["KeySchema"])))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(text(&index["Projection"]["ProjectionType"])))
                            .build(),
                    )
                    .build()
                    .unwrap(),
            );
        }
    }
    if let Some(view) = properties["StreamSpecification"]["StreamViewType"].as_str() {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view))
                .build()
                .unwrap(),
        );
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTable {name}: {e:?}"));
}

/// The EventPattern of a rule of template.yaml, as the JSON EventBridge takes.
pub fn rule_pattern(logical_id: &str) -> Value {
    let pattern = resource_properties(logical_id)["EventPattern"].clone();
    serde_json::to_value(pattern).unwrap()
}

/// Everything moto keeps (`/moto-api/data.json`): sent emails are under ses.Message.
pub async fn moto_data() -> Value {
    let url = format!("{}/moto-api/data.json", moto_url());
    let body = http_get(&url).await;
    serde_json::from_str(&body).unwrap()
}

/// A plain HTTP/1.1 GET on loopback.
pub async fn http_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    assert_loopback(url);
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let body = &response[split + 4..];
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_vec()
    };
    String::from_utf8(body).unwrap()
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let chunk = &body[line_end + 2..];
        out.extend_from_slice(&chunk[..size]);
        body = &chunk[size + 2..];
    }
    out
}

/// A queue that a rule of the bus delivers to.
pub struct Queue {
    pub url: String,
    pub arn: String,
}

/// A new queue (its name made unique from `name`).
pub async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Queue {
    let url = sqs
        .create_queue()
        .queue_name(unique(name))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    Queue { url, arn }
}

/// Creates a queue and a rule of `bus` with the pattern of template.yaml's rule `rule`
/// that targets it.
pub async fn route(events: &aws_sdk_eventbridge::Client, sqs: &aws_sdk_sqs::Client, bus: &str, rule: &str) -> Queue {
    let Queue { url, arn } = queue(sqs, rule).await;
    let name = unique(rule);
    events
        .put_rule()
        .name(&name)
        .event_bus_name(bus)
        .event_pattern(rule_pattern(rule).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&name)
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    Queue { url, arn }
}

/// A new bus and an archive of it (of every event, or of those `pattern` matches):
/// (bus name, bus ARN, archive name, archive ARN).
pub async fn bus_with_archive(
    events: &aws_sdk_eventbridge::Client,
    pattern: Option<&Value>,
) -> (String, String, String, String) {
    let bus = unique("bus");
    let bus_arn = events
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap()
        .event_bus_arn
        .unwrap();
    let archive = unique("archive");
    let archive_arn = events
        .create_archive()
        .archive_name(&archive)
        .event_source_arn(&bus_arn)
        .set_event_pattern(pattern.map(Value::to_string))
        .send()
        .await
        .unwrap()
        .archive_arn
        .unwrap();
    (bus, bus_arn, archive, archive_arn)
}
