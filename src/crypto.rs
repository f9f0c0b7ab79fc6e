//! Secrets at rest: AES-256-GCM with the key from `security.encryption_key`, or — when that
//! is empty — a random key generated on first use and kept in `platform_secrets`.

use std::sync::Arc;

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use rand::RngCore;
use sea_orm::DatabaseConnection;
use tokio::sync::OnceCell;

use crate::store;

/// Name of the generated key in `platform_secrets`.
pub const GENERATED_KEY_NAME: &str = "encryption_key_v1";
/// Ciphertexts carry their format version, so the scheme can change later.
const PREFIX: &str = "v1:";
/// How every sealed value begins.
pub const SEALED_PREFIX: &str = PREFIX;
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption key unavailable: {0}")]
    Key(String),
    #[error("ciphertext is malformed or was encrypted with another key")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
}

/// Encrypts and decrypts short secrets. Cheap to clone.
#[derive(Clone)]
pub struct Crypto {
    configured: Option<[u8; 32]>,
    db: DatabaseConnection,
    generated: Arc<OnceCell<[u8; 32]>>,
}

impl std::fmt::Debug for Crypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crypto")
            .field("configured", &self.configured.is_some())
            .finish()
    }
}

impl Crypto {
    /// # Errors
    /// When `key_b64` is not empty and not base64 of 32 bytes.
    pub fn new(key_b64: &str, db: DatabaseConnection) -> Result<Self, CryptoError> {
        let configured = if key_b64.trim().is_empty() {
            None
        } else {
            Some(decode_key(key_b64.trim())?)
        };
        Ok(Self {
            configured,
            db,
            generated: Arc::new(OnceCell::new()),
        })
    }

    /// The key comes from `security.encryption_key`, not from the database.
    pub fn is_configured(&self) -> bool {
        self.configured.is_some()
    }

    /// Reads (or, the first time, generates) the key now rather than at first use.
    ///
    /// # Errors
    /// When a generated key cannot be read or stored.
    pub async fn ready(&self) -> Result<(), CryptoError> {
        self.key().await.map(|_| ())
    }

    /// A fresh key, as `security.encryption_key` takes it (base64 of 32 random bytes).
    pub fn generate_key() -> String {
        let mut fresh = [0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        STANDARD.encode(fresh)
    }

    async fn key(&self) -> Result<[u8; 32], CryptoError> {
        if let Some(key) = self.configured {
            return Ok(key);
        }
        let key = self
            .generated
            .get_or_try_init(|| async {
                let stored = store::secrets::get_or_insert(&self.db, GENERATED_KEY_NAME, &Self::generate_key())
                    .await
                    .map_err(|e| CryptoError::Key(e.to_string()))?;
                decode_key(&stored)
            })
            .await?;
        Ok(*key)
    }

    /// `v1:<base64(nonce ‖ ciphertext ‖ tag)>`.
    ///
    /// # Errors
    /// When the key is unavailable.
    pub async fn encrypt(&self, plaintext: &str) -> Result<String, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(&self.key().await?).map_err(|_| CryptoError::Encrypt)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), plaintext.as_bytes())
            .map_err(|_| CryptoError::Encrypt)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// # Errors
    /// When the text was not produced by [`Crypto::encrypt`] with this key.
    pub async fn decrypt(&self, text: &str) -> Result<String, CryptoError> {
        let raw = text
            .strip_prefix(PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|raw| raw.len() > NONCE_LEN)
            .ok_or(CryptoError::Decrypt)?;
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Decrypt)?;
        let cipher = Aes256Gcm::new_from_slice(&self.key().await?).map_err(|_| CryptoError::Decrypt)?;
        let plain = cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
    }
}

fn decode_key(b64: &str) -> Result<[u8; 32], CryptoError> {
    STANDARD
        .decode(b64)
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
        .ok_or_else(|| CryptoError::Key("not base64 of 32 bytes".into()))
}
