//! Email: domains, sending, emails and threads; an agent's mailbox (`PUT /agents/:id/email`,
//! or `emailConfig` in `PATCH /agents/:id`);
//! the provider's signed webhook (`provider.rs`) and the sandbox's debug routes
//! (`sandbox.rs`). The use cases are `app::email`'s.

mod provider;
mod sandbox;
pub mod wire;

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use serde_json::json;
use sha2::{Digest, Sha256};

pub use self::provider::configure;
use self::wire::{
    DomainDeletedOut, DomainIn, DomainOut, EmailOut, MailboxBody, MailboxOut, SendIn, ThreadOut, VerifyOut,
};
use super::core::{
    envelope::{self, PageInfo, Sorted},
    extract::{Body, Ctx, ListQuery},
    route_spec::{PAGED, Param, RouteSpec},
};
use crate::{
    error::{ApiError, ApiResult},
    store::email as mail,
};

const READ: Option<&str> = Some("email:read");
const WRITE: Option<&str> = Some("email:write");

pub async fn add_domain(ctx: Ctx, Body(input): Body<DomainIn>) -> ApiResult<HttpResponse> {
    let row = ctx
        .state
        .email
        .add_domain(
            ctx.org(),
            &input.domain,
            input.region.as_deref(),
            input.receiving.unwrap_or(true),
        )
        .await?;
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::CREATED, &Sorted(DomainOut::from(row)))
        .await
}

pub async fn list_domains(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let (rows, total) = ctx
        .state
        .email
        .domains(ctx.org(), page.offset(), page.page_size)
        .await?;
    let items: Vec<DomainOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("emailDomains", &items, page.info(total)))
}

pub async fn get_domain(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = ctx.state.email.domain(ctx.org(), &id).await?;
    Ok(envelope::ok(&Sorted(DomainOut::from(row))))
}

pub async fn verify_domain(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = ctx.state.email.verify_domain(ctx.org(), &id).await?;
    let out = DomainOut::from(row);
    let verified = out.status == "verified";
    let missing = out
        .records
        .iter()
        .filter(|r| r.required && r.status != "verified")
        .cloned()
        .collect();
    let txn = ctx.begin().await?;
    let out = VerifyOut {
        verified,
        missing,
        domain: out,
    };
    ctx.commit(txn, StatusCode::OK, &Sorted(out)).await
}

pub async fn delete_domain(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let gone = ctx.state.email.delete_domain(ctx.org(), &id).await?;
    let n = gone.cleared_agents.len();
    let out = DomainDeletedOut {
        message: format!(
            "Email domain '{}' deleted{}",
            gone.domain.name,
            match n {
                0 => String::new(),
                1 => "; 1 agent no longer has a mailbox".into(),
                n => format!("; {n} agents no longer have a mailbox"),
            }
        ),
        id: gone.domain.id,
        name: gone.domain.name,
        deleted: true,
        cleared_agents: gone.cleared_agents,
    };
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::OK, &Sorted(out)).await
}

pub async fn configure_mailbox(
    ctx: Ctx,
    id: web::Path<String>,
    Body(input): Body<MailboxBody>,
) -> ApiResult<HttpResponse> {
    let mailbox = ctx
        .state
        .email
        .configure_mailbox(ctx.org(), &id, Some(input.into()))
        .await?;
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::OK, &Sorted(MailboxOut::of(id.into_inner(), mailbox)))
        .await
}

pub async fn send(ctx: Ctx, Body(input): Body<SendIn>) -> ApiResult<HttpResponse> {
    ctx.state.billing.admit(ctx.org()).await?;
    // Exactly one send per key: the provider dedupes on it too, scoped to the organisation
    // (one provider account serves them all).
    let key = ctx.idempotency_key().map(|k| {
        let digest = Sha256::digest(format!("{}\n{k}", ctx.org()));
        digest.iter().map(|b| format!("{b:02x}")).collect::<String>()
    });
    let row = ctx.state.email.send(ctx.org(), input.into_request(key)).await?;
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::CREATED, &Sorted(EmailOut::from(row))).await
}

pub async fn list_emails(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let owned = |k: &str| q.get(k).filter(|s| !s.is_empty()).map(str::to_string);
    let filter = mail::MessageFilter {
        thread_id: owned("threadId"),
        agent_id: owned("agentId"),
        status: q.one_of(
            "status",
            &[
                "queued",
                "sent",
                "delivered",
                "bounced",
                "complained",
                "failed",
                "received",
            ],
        )?,
        direction: q.one_of("direction", &["inbound", "outbound"])?,
    };
    let (rows, total) = mail::list_messages(ctx.db(), ctx.org(), &filter, page.offset(), page.page_size).await?;
    let items: Vec<EmailOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("emails", &items, page.info(total)))
}

pub async fn get_email(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = mail::find_message(ctx.db(), &id)
        .await?
        .filter(|m| m.org_id == ctx.org())
        .ok_or_else(|| ApiError::not_found("Email", &id))?;
    Ok(envelope::ok(&Sorted(EmailOut::from(row))))
}

pub async fn list_threads(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let filter = mail::ThreadFilter {
        status: q.one_of("status", &["open", "waiting", "closed"])?,
        agent_id: q.get("agentId").filter(|s| !s.is_empty()).map(str::to_string),
    };
    let (rows, total) = mail::list_threads(ctx.db(), ctx.org(), &filter, page.offset(), page.page_size).await?;
    let items: Vec<ThreadOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("emailThreads", &items, page.info(total)))
}

async fn load_thread(ctx: &Ctx, id: &str) -> ApiResult<thruai_entities::email_thread::Model> {
    mail::find_thread(ctx.db(), ctx.org(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("Email thread", id))
}

pub async fn get_thread(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let thread = load_thread(&ctx, &id).await?;
    Ok(envelope::ok(&Sorted(ThreadOut::from(thread))))
}

/// A thread with one page of its messages, oldest first.
#[derive(Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ThreadMessagesOut {
    pub thread: ThreadOut,
    pub messages: Vec<EmailOut>,
    pub pagination: PageInfo,
}

pub async fn thread_messages(ctx: Ctx, id: web::Path<String>, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let thread = load_thread(&ctx, &id).await?;
    let filter = mail::MessageFilter {
        thread_id: Some(thread.id.clone()),
        ..Default::default()
    };
    let (rows, total) = mail::list_messages(ctx.db(), ctx.org(), &filter, page.offset(), page.page_size).await?;
    let info = page.info(total);
    let out = ThreadMessagesOut {
        thread: thread.into(),
        messages: rows.into_iter().map(Into::into).collect(),
        pagination: info,
    };
    let body = envelope::to_bytes(Some(&Sorted(out)), None, Some(info));
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}

const EMAIL_FILTERS: &[Param] = &[
    Param {
        name: "status",
        ty: "string",
        description: "queued, sent, delivered, bounced, complained, failed or received",
    },
    Param {
        name: "direction",
        ty: "string",
        description: "inbound or outbound",
    },
    Param {
        name: "threadId",
        ty: "string",
        description: "Only this thread's messages",
    },
    Param {
        name: "agentId",
        ty: "string",
        description: "Only this agent's messages",
    },
];

const THREAD_FILTERS: &[Param] = &[
    Param {
        name: "status",
        ty: "string",
        description: "open (their word last), waiting (ours last) or closed",
    },
    Param {
        name: "agentId",
        ty: "string",
        description: "Only this agent's threads",
    },
];

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    let mut routes = vec![
        RouteSpec::new(
            M::GET,
            "/email-domains",
            "email",
            "list_email_domains",
            "List all email domains with verification status and DNS records",
            |r| r.to(list_domains),
        )
        .key(READ)
        .returns_list::<DomainOut>("emailDomains"),
        RouteSpec::new(
            M::POST,
            "/email-domains",
            "email",
            "add_email_domain",
            "Add a custom email domain. Returns DNS records to configure at your registrar.",
            |r| r.to(add_domain),
        )
        .key(WRITE)
        .body::<DomainIn>()
        .example(|| json!({ "domain": "mail.example.com", "region": "us-east-1" }))
        .returns::<DomainOut>(),
        RouteSpec::new(
            M::GET,
            "/email-domains/:id",
            "email",
            "get_email_domain",
            "Get an email domain with its DNS records and their status",
            |r| r.to(get_domain),
        )
        .key(READ)
        .extension()
        .returns::<DomainOut>(),
        RouteSpec::new(
            M::POST,
            "/email-domains/:id/verify",
            "email",
            "verify_email_domain",
            "Trigger DNS verification for a domain after adding required records",
            |r| r.to(verify_domain),
        )
        .key(WRITE)
        .returns::<VerifyOut>(),
        RouteSpec::new(
            M::DELETE,
            "/email-domains/:id",
            "email",
            "delete_email_domain",
            "Delete an email domain and clean up agent configurations",
            |r| r.to(delete_domain),
        )
        .key(WRITE)
        .returns::<DomainDeletedOut>(),
        RouteSpec::new(
            M::POST,
            "/emails/send",
            "email",
            "send_agent_email",
            "Send an email from an agent or the organization. Requires a verified domain.",
            |r| r.to(send),
        )
        .billed()
        .key(WRITE)
        .body::<SendIn>()
        .example(|| {
            json!({ "from": "Support <support@mail.example.com>", "to": "customer@example.org", "subject": "Your appointment", "text": "See you Tuesday at 3pm." })
        })
        .returns::<EmailOut>(),
        RouteSpec::new(M::GET, "/emails", "email", "list_emails", "List all emails", |r| {
            r.to(list_emails)
        })
        .key(READ)
        .query(EMAIL_FILTERS)
        .returns_list::<EmailOut>("emails"),
        RouteSpec::new(M::GET, "/emails/:id", "email", "get_email", "Get an email by ID", |r| {
            r.to(get_email)
        })
        .key(READ)
        .extension()
        .returns::<EmailOut>(),
        RouteSpec::new(
            M::GET,
            "/email-threads",
            "email",
            "list_email_threads",
            "List email conversation threads with pagination and optional status filter",
            |r| r.to(list_threads),
        )
        .key(READ)
        .query(THREAD_FILTERS)
        .returns_list::<ThreadOut>("emailThreads"),
        RouteSpec::new(
            M::GET,
            "/email-threads/:id",
            "email",
            "get_email_thread",
            "Get a specific email thread by ID",
            |r| r.to(get_thread),
        )
        .key(READ)
        .returns::<ThreadOut>(),
        RouteSpec::new(
            M::GET,
            "/email-threads/:id/messages",
            "email",
            "get_email_thread_messages",
            "Get messages within an email thread",
            |r| r.to(thread_messages),
        )
        .key(READ)
        .query(PAGED)
        .returns::<ThreadMessagesOut>(),
        RouteSpec::new(
            M::PUT,
            "/agents/:id/email",
            "email",
            "configure_agent_email",
            "Give an agent a mailbox on a verified domain: address, display name, reply-to, signature, and whether it answers inbound mail itself",
            |r| r.to(configure_mailbox),
        )
        .key(WRITE)
        .body::<MailboxBody>()
        .example(|| json!({ "address": "sam@mail.example.com", "displayName": "Sam from Acme", "autoReply": true }))
        .extension()
        .returns::<MailboxOut>(),
    ];
    routes.extend(sandbox::routes());
    routes
}
