//! The one place that builds AWS SDK clients, with the lean setup: SDK crates without
//! default features, and one HTTP client of our own on rustls with ring (no aws-lc, no
//! second TLS stack). Region and credentials come from the standard chain, and
//! `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_<SERVICE>`) is honoured, which is how tests
//! point the clients at DynamoDB Local and moto.
//!
//! | setting | value | why |
//! |---|---|---|
//! | connect timeout | 2 s | a Lambda in a VPC without a route fails fast instead of hanging |
//! | attempt timeout | 5 s | one slow attempt is retried rather than eating the invocation |
//! | operation timeout | 20 s | bounded well inside the functions' timeouts |
//! | SDK retries | standard mode, 3 attempts | throttling and 5xx; our own resend of PutEvents failed entries and UnprocessedKeys sits on top |

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The longest one SDK call may take, its own retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

pub fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

/// The configuration loader with our HTTP client, timeouts and retries; region, credentials
/// and endpoints still come from the standard chain unless the caller sets them (tests
/// point it at the emulators).
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(timeouts())
        .retry_config(retries())
}

/// The shared SDK configuration, built once at start-up.
pub async fn sdk_config() -> SdkConfig {
    loader().load().await
}

pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub sesv2: aws_sdk_sesv2::Client,
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Self {
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            eventbridge: aws_sdk_eventbridge::Client::new(config),
            sesv2: aws_sdk_sesv2::Client::new(config),
            secretsmanager: aws_sdk_secretsmanager::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
        }
    }
}
