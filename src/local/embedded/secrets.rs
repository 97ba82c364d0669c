//! The embedded runtime's signing secret: one, fixed for the run (`dev` takes it from
//! `TXN_NOTIFY_SIGNING_SECRET`, else the local one), never rotated.

use crate::ports::{PortError, Secrets, SigningSecrets};

pub struct FixedSecret(Vec<u8>);

impl FixedSecret {
    pub fn new(secret: &[u8]) -> Self {
        FixedSecret(secret.to_vec())
    }
}

impl Secrets for FixedSecret {
    async fn signing_secrets(&self) -> Result<SigningSecrets, PortError> {
        Ok(SigningSecrets {
            current: self.0.clone(),
            previous: None,
        })
    }
}
