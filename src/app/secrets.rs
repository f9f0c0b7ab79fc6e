//! Re-sealing every secret at rest under a new encryption key (`thruai rotate-key`);
//! values stored before they were sealed (old webhook secrets, tool header values) are
//! sealed on the way.

use sea_orm::{DatabaseConnection, DbErr};

use crate::{
    app::{tools::is_sealed, webhooks::open_secret},
    crypto::{Crypto, CryptoError, GENERATED_KEY_NAME},
    store::secrets::{self, SealedColumn},
};

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// A value the current key does not open: nothing was changed.
    #[error("a sealed value ({column:?} of {row}) does not open with the current key: {source}")]
    Open {
        column: SealedColumn,
        row: String,
        source: CryptoError,
    },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Opens every sealed value with `current` and seals it again with `next`, in one
/// transaction: all of them or none. A key that was generated and kept in the database is
/// then forgotten — `next` is the key from now on. Returns how many values were re-sealed.
///
/// # Errors
/// A value that does not open with `current` (nothing changes), or the database.
pub async fn rotate(db: &DatabaseConnection, current: &Crypto, next: &Crypto) -> Result<usize, RotateError> {
    // Both keys are read before the transaction (a generated key may be read from the
    // database, which the transaction below locks on SQLite).
    current.ready().await?;
    next.ready().await?;
    let txn = crate::store::begin(db).await?;
    let values = secrets::sealed_values(&txn).await?;
    for value in &values {
        let opened = match value.column {
            SealedColumn::WebhookSecret => open_secret(current, &value.text).await,
            SealedColumn::ToolHeader if !is_sealed(&value.text) => Ok(value.text.clone()),
            _ => current.decrypt(&value.text).await,
        };
        let plain = opened.map_err(|source| RotateError::Open {
            column: value.column,
            row: value.row.clone(),
            source,
        })?;
        secrets::reseal(&txn, value, next.encrypt(&plain).await?).await?;
    }
    if !current.is_configured() {
        secrets::remove(&txn, GENERATED_KEY_NAME).await?;
    }
    txn.commit().await?;
    Ok(values.len())
}
