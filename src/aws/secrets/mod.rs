//! Secrets Manager: the ingest signing secret, AWSCURRENT and (during a rotation)
//! AWSPREVIOUS. The secret is the SecretString as is (or SecretBinary). Caching with a TTL is
//! the use case's (`pipeline::ingest::auth::SecretCache`), so each fetch here is two calls.
//!
//! | what comes back | result |
//! |---|---|
//! | AWSCURRENT | the current secret |
//! | AWSPREVIOUS: ResourceNotFoundException (never rotated) | no previous secret |
//! | throttling, 5xx, InternalServiceError, no response | transient `PortError`: ingest answers 503 |
//! | AccessDenied, no such secret, an empty secret | permanent `PortError`: ingest answers 503 and logs it |

use aws_sdk_secretsmanager::Client;

use crate::aws::failure::{classify, service_code};
use crate::ports::{PortError, Secrets, SigningSecrets};

#[derive(Clone)]
pub struct SecretsManagerSecrets {
    client: Client,
    secret_id: String,
}

impl SecretsManagerSecrets {
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerSecrets {
            client,
            secret_id: secret_id.into(),
        }
    }

    /// The secret at a staging label; None when no version carries that label.
    async fn at_stage(&self, stage: &str) -> Result<Option<Vec<u8>>, PortError> {
        let output = match self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if service_code(&error) == Some("ResourceNotFoundException") && stage != "AWSCURRENT" => {
                return Ok(None);
            }
            Err(error) => return Err(classify("GetSecretValue", &error)),
        };
        let secret = match (output.secret_string, output.secret_binary) {
            (Some(text), _) => text.into_bytes(),
            (None, Some(binary)) => binary.into_inner(),
            (None, None) => Vec::new(),
        };
        if secret.is_empty() {
            return Err(PortError::permanent(format!(
                "GetSecretValue: the {stage} secret is empty"
            )));
        }
        Ok(Some(secret))
    }
}

impl Secrets for SecretsManagerSecrets {
    async fn signing_secrets(&self) -> Result<SigningSecrets, PortError> {
        let current = self
            .at_stage("AWSCURRENT")
            .await?
            .ok_or_else(|| PortError::permanent("GetSecretValue: no AWSCURRENT version"))?;
        let previous = self.at_stage("AWSPREVIOUS").await?;
        Ok(SigningSecrets { current, previous })
    }
}
