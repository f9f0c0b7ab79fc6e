//! Platform-wide generated secrets (not tenant data), and the sealed values of every
//! organisation, for re-sealing them under a new key.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, sea_query::Expr,
};
use thruai_entities::{platform_secret, telephony_credential, tool, webhook};

/// The stored value of `name`, inserting `fresh` when there is none. Two nodes racing on
/// first use both end up with the value that won the insert.
pub async fn get_or_insert(db: &impl ConnectionTrait, name: &str, fresh: &str) -> Result<String, DbErr> {
    if let Some(row) = platform_secret::Entity::find_by_id(name).one(db).await? {
        return Ok(row.value);
    }
    let inserted = platform_secret::Entity::insert(platform_secret::ActiveModel {
        name: Set(name.to_string()),
        value: Set(fresh.to_string()),
        created_at: Set(Utc::now()),
    })
    .exec(db)
    .await;
    if let Err(err) = inserted {
        tracing::debug!(error = %err, "platform secret insert lost a race; re-reading");
    }
    platform_secret::Entity::find_by_id(name)
        .one(db)
        .await?
        .map(|row| row.value)
        .ok_or_else(|| DbErr::RecordNotFound(format!("platform secret {name}")))
}

/// A column that holds a value sealed with the platform's encryption key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    /// `telephony_credentials.auth_token_ciphertext`, keyed by organisation.
    TelephonyAuthToken,
    /// `tools.secret_ciphertext`.
    ToolSecret,
    /// One value of `tools.headers` (rows older than sealing hold the text itself).
    ToolHeader,
    /// `webhooks.secret` (rows older than sealing hold the `whsec_` text itself).
    WebhookSecret,
}

/// One sealed value and the row it is in.
#[derive(Debug, Clone)]
pub struct SealedValue {
    pub column: SealedColumn,
    pub row: String,
    /// The header's name, for a tool header.
    pub field: Option<String>,
    pub text: String,
}

/// Every sealed value at rest, of every organisation.
pub async fn sealed_values(db: &impl ConnectionTrait) -> Result<Vec<SealedValue>, DbErr> {
    let mut out = Vec::new();
    for row in telephony_credential::Entity::find().all(db).await? {
        out.push(SealedValue {
            column: SealedColumn::TelephonyAuthToken,
            row: row.org_id,
            field: None,
            text: row.auth_token_ciphertext,
        });
    }
    for row in tool::Entity::find().all(db).await? {
        for (name, text) in row.headers.0 {
            out.push(SealedValue {
                column: SealedColumn::ToolHeader,
                row: row.id.clone(),
                field: Some(name),
                text,
            });
        }
        if let Some(text) = row.secret_ciphertext {
            out.push(SealedValue {
                column: SealedColumn::ToolSecret,
                row: row.id,
                field: None,
                text,
            });
        }
    }
    for row in webhook::Entity::find().all(db).await? {
        out.push(SealedValue {
            column: SealedColumn::WebhookSecret,
            row: row.id,
            field: None,
            text: row.secret,
        });
    }
    Ok(out)
}

/// Replaces one sealed value with `text`.
pub async fn reseal(db: &impl ConnectionTrait, value: &SealedValue, text: String) -> Result<(), DbErr> {
    match value.column {
        SealedColumn::TelephonyAuthToken => {
            telephony_credential::Entity::update_many()
                .col_expr(telephony_credential::Column::AuthTokenCiphertext, Expr::value(text))
                .filter(telephony_credential::Column::OrgId.eq(&value.row))
                .exec(db)
                .await?;
        }
        SealedColumn::ToolSecret => {
            tool::Entity::update_many()
                .col_expr(tool::Column::SecretCiphertext, Expr::value(text))
                .filter(tool::Column::Id.eq(&value.row))
                .exec(db)
                .await?;
        }
        SealedColumn::ToolHeader => {
            if let (Some(tool), Some(name)) = (tool::Entity::find_by_id(&value.row).one(db).await?, &value.field) {
                let mut headers = tool.headers.clone();
                headers.0.insert(name.clone(), text);
                let mut active: tool::ActiveModel = tool.into();
                active.headers = Set(headers);
                active.update(db).await?;
            }
        }
        SealedColumn::WebhookSecret => {
            webhook::Entity::update_many()
                .col_expr(webhook::Column::Secret, Expr::value(text))
                .filter(webhook::Column::Id.eq(&value.row))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

/// Forgets a platform secret.
pub async fn remove(db: &impl ConnectionTrait, name: &str) -> Result<(), DbErr> {
    platform_secret::Entity::delete_by_id(name).exec(db).await?;
    Ok(())
}
