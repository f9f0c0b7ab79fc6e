//! Sending domains: added with the records to publish, verified (with a deadline), deleted
//! with the agent mailboxes on them.

use chrono::{Duration, Utc};
use sea_orm::SqlErr;
use thruai_entities::{
    email_domain,
    values::email::{DnsRecord, DnsRecords},
};

use super::{Email, MailError};
use crate::{
    domain::{email::parse_domain, ids},
    providers::email::{EmailError, ProviderDomain},
    store::email as mail,
};

/// The regions a domain can send from (Resend's).
pub const REGIONS: &[&str] = &["us-east-1", "eu-west-1", "sa-east-1", "ap-northeast-1"];

/// A deleted domain and the agents whose mailbox went with it.
#[derive(Debug)]
pub struct DomainDeleted {
    pub domain: email_domain::Model,
    pub cleared_agents: Vec<String>,
}

/// The recommended DMARC record: not needed to send, but mailbox providers reward it.
fn dmarc(name: &str) -> DnsRecord {
    DnsRecord {
        record: "DMARC".into(),
        kind: "TXT".into(),
        name: format!("_dmarc.{name}"),
        value: "v=DMARC1; p=none;".into(),
        priority: None,
        ttl: "Auto".into(),
        status: "optional".into(),
        required: false,
    }
}

/// The stored records with the statuses the provider found.
fn merge(stored: &[DnsRecord], found: &ProviderDomain) -> Vec<DnsRecord> {
    stored
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(f) = found
                .records
                .iter()
                .find(|f| f.record == r.record && f.kind == r.kind && f.name.eq_ignore_ascii_case(&r.name))
            {
                r.status.clone_from(&f.status);
            }
            r
        })
        .collect()
}

impl Email {
    /// # Errors
    /// A bad name or region, a domain already added (here or by another organisation), the
    /// provider refusing it.
    pub async fn add_domain(
        &self,
        org_id: &str,
        raw: &str,
        region: Option<&str>,
        receiving: bool,
    ) -> Result<email_domain::Model, MailError> {
        let name = parse_domain(raw).map_err(|why| MailError::field("domain", format!("'{raw}' {why}")))?;
        let region = region.unwrap_or(REGIONS[0]);
        if !REGIONS.contains(&region) {
            return Err(MailError::field(
                "region",
                format!("must be one of {}", REGIONS.join(", ")),
            ));
        }
        if let Some(existing) = mail::domain_named(&self.db, &name).await? {
            return Err(taken(&name, &existing, org_id));
        }
        let found = self.provider.create_domain(&name, region, receiving).await?;
        let now = Utc::now();
        let mut records = found.records.clone();
        records.push(dmarc(&name));
        let row = email_domain::Model {
            id: ids::new_id(ids::EMAIL_DOMAIN),
            org_id: org_id.to_string(),
            name: name.clone(),
            region: region.to_string(),
            provider: self.provider.name().to_string(),
            provider_domain_id: Some(found.id.clone()),
            status: found.status.clone(),
            records: DnsRecords(records),
            receiving,
            failure_reason: None,
            verify_started_at: None,
            verified_at: None,
            created_at: now,
            updated_at: now,
        };
        match mail::insert_domain(&self.db, row).await {
            Ok(row) => Ok(row),
            Err(e) => {
                // Lost a race for the name (or the insert failed): the provider's copy goes.
                if let Err(cleanup) = self.provider.delete_domain(&found.id).await {
                    tracing::warn!(domain = %name, error = %cleanup, "could not remove the provider's copy of a domain not kept");
                }
                if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                    let existing = mail::domain_named(&self.db, &name).await?;
                    return Err(existing.map_or_else(|| MailError::Db(e), |d| taken(&name, &d, org_id)));
                }
                Err(e.into())
            }
        }
    }

    /// The organisation's domains; a verification past its deadline is ended first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn domains(
        &self,
        org_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<email_domain::Model>, u64), MailError> {
        let (rows, total) = mail::list_domains(&self.db, org_id, offset, limit).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.expire(row).await?);
        }
        Ok((out, total))
    }

    /// # Errors
    /// Another organisation's or an unknown id.
    pub async fn domain(&self, org_id: &str, id: &str) -> Result<email_domain::Model, MailError> {
        let row = mail::find_domain(&self.db, org_id, id)
            .await?
            .ok_or_else(|| MailError::NotFound("Email domain", id.to_string()))?;
        self.expire(row).await
    }

    /// Ends a verification that has waited longer than `email.verification_timeout_secs`.
    async fn expire(&self, mut row: email_domain::Model) -> Result<email_domain::Model, MailError> {
        let deadline =
            Duration::seconds(i64::try_from(self.settings.verification_timeout_secs).unwrap_or(i64::MAX / 2));
        let waited_out = row.status != "verified"
            && row.status != "failed"
            && row.verify_started_at.is_some_and(|t| Utc::now() - t > deadline);
        if !waited_out {
            return Ok(row);
        }
        let hours = self.settings.verification_timeout_secs as f64 / 3600.0;
        row.status = "failed".into();
        row.failure_reason = Some(format!(
            "The DNS records were not all found within {hours:.0} hours of the first verification; publish them as \
             listed and verify again"
        ));
        for r in &mut row.records.0 {
            if r.required && r.status != "verified" {
                r.status = "failed".into();
            }
        }
        row.updated_at = Utc::now();
        Ok(mail::save_domain(&self.db, row).await?)
    }

    /// Asks the provider to check the records now; starts the verification deadline.
    ///
    /// # Errors
    /// Another organisation's or an unknown id; the provider failing.
    pub async fn verify_domain(&self, org_id: &str, id: &str) -> Result<email_domain::Model, MailError> {
        let mut row = self.domain(org_id, id).await?;
        let provider_id = row.provider_domain_id.clone().unwrap_or_default();
        let found = match self.provider.verify_domain(&provider_id).await {
            Err(EmailError::NotFound(_)) => {
                return Err(MailError::Conflict(format!(
                    "The email provider no longer knows domain '{}': delete it and add it again",
                    row.name
                )));
            }
            other => other?,
        };
        let now = Utc::now();
        if row.status == "failed" || row.verify_started_at.is_none() {
            // A new attempt: the deadline starts again.
            row.verify_started_at = Some(now);
            row.failure_reason = None;
        }
        apply(&mut row, &found);
        row.updated_at = now;
        let row = mail::save_domain(&self.db, row).await?;
        self.expire(row).await
    }

    /// The provider reports a domain changed: its records are read again (no new deadline).
    pub(super) async fn refresh_domain(&self, provider_domain_id: &str) -> Result<(), MailError> {
        let Some(mut row) = mail::domain_by_provider_id(&self.db, provider_domain_id).await? else {
            return Ok(());
        };
        let found = self.provider.verify_domain(provider_domain_id).await?;
        apply(&mut row, &found);
        row.updated_at = Utc::now();
        let row = mail::save_domain(&self.db, row).await?;
        self.expire(row).await?;
        Ok(())
    }

    /// Removes the domain at the provider and here, and the mailboxes on it.
    ///
    /// # Errors
    /// Another organisation's or an unknown id; the provider failing (nothing is removed).
    pub async fn delete_domain(&self, org_id: &str, id: &str) -> Result<DomainDeleted, MailError> {
        let row = mail::find_domain(&self.db, org_id, id)
            .await?
            .ok_or_else(|| MailError::NotFound("Email domain", id.to_string()))?;
        if let Some(provider_id) = &row.provider_domain_id {
            match self.provider.delete_domain(provider_id).await {
                Ok(()) | Err(EmailError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let txn = crate::store::begin(&self.db).await?;
        let agents: Vec<String> = mail::agents_with_mailbox(&txn, org_id, Some(&row.id))
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        mail::clear_mailboxes(&txn, &agents).await?;
        mail::delete_domain(&txn, org_id, &row.id).await?;
        txn.commit().await?;
        Ok(DomainDeleted {
            domain: row,
            cleared_agents: agents,
        })
    }
}

/// The provider's verdict on the stored domain.
fn apply(row: &mut email_domain::Model, found: &ProviderDomain) {
    row.records = DnsRecords(merge(&row.records.0, found));
    row.status.clone_from(&found.status);
    if found.status == "verified" {
        row.failure_reason = None;
        if row.verified_at.is_none() {
            row.verified_at = Some(Utc::now());
        }
    }
}

fn taken(name: &str, existing: &email_domain::Model, org_id: &str) -> MailError {
    if existing.org_id == org_id {
        MailError::Conflict(format!("Email domain '{name}' is already added ({})", existing.id))
    } else {
        MailError::Conflict(format!(
            "Email domain '{name}' is already in use by another organization"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_records_keep_their_order_and_dmarc_stays_optional() {
        let stored = vec![
            DnsRecord {
                record: "DKIM".into(),
                kind: "TXT".into(),
                name: "resend._domainkey.a.com".into(),
                status: "not_started".into(),
                required: true,
                ..DnsRecord::default()
            },
            dmarc("a.com"),
        ];
        let found = ProviderDomain {
            id: "d".into(),
            status: "verified".into(),
            records: vec![DnsRecord {
                record: "DKIM".into(),
                kind: "TXT".into(),
                name: "RESEND._domainkey.a.com".into(),
                status: "verified".into(),
                ..DnsRecord::default()
            }],
        };
        let merged = merge(&stored, &found);
        assert_eq!(merged[0].status, "verified");
        assert_eq!(merged[1].status, "optional");
    }
}
