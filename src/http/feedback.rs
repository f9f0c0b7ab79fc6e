//! Feedback: the first resource through the whole stack and the model the others copy —
//! wire types, their conversion, handlers, all scoped to the caller's organisation.

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use sea_orm::ActiveValue::Set;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_entities::feedback;

use super::core::{
    envelope,
    extract::{Body, Ctx, ListQuery},
    route_spec::RouteSpec,
    validation::{Validate, Validator},
};
use crate::{
    domain::ids,
    error::{ApiError, ApiResult},
    store,
};

pub const KINDS: &[&str] = &["bug", "feature_request", "question", "general", "praise"];
const PRIORITIES: &[&str] = &["low", "medium", "high"];
pub const STATUSES: &[&str] = &["open", "acknowledged", "in_progress", "resolved", "closed"];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FeedbackIn {
    /// `bug`, `feature_request`, `question`, `general` (default) or `praise`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Short summary, up to 200 characters.
    pub subject: Option<String>,
    /// The feedback itself, 1–5000 characters (`description` is accepted for it).
    #[serde(alias = "description")]
    pub message: String,
    /// 1–5.
    pub rating: Option<i32>,
    /// `low`, `medium` or `high`.
    pub priority: Option<String>,
    /// Free-form object, up to 8 KB serialized.
    pub metadata: Option<Value>,
}

impl Validate for FeedbackIn {
    fn validate(&self, v: &mut Validator) {
        v.one_of("type", self.kind.as_deref(), KINDS);
        v.opt_length("subject", self.subject.as_deref(), 1, 200);
        v.length("message", &self.message, 1, 5000);
        v.range("rating", self.rating, 1, 5);
        v.one_of("priority", self.priority.as_deref(), PRIORITIES);
        check_metadata(v, self.metadata.as_ref());
    }
}

fn check_metadata(v: &mut Validator, metadata: Option<&Value>) {
    if let Some(m) = metadata {
        v.check(m.is_object(), "metadata", "must be an object");
        v.check(
            m.to_string().len() <= 8192,
            "metadata",
            "must be at most 8192 bytes serialized",
        );
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FeedbackPatch {
    /// `open`, `acknowledged`, `in_progress`, `resolved` or `closed`.
    pub status: Option<String>,
    /// A response to the feedback, up to 5000 characters.
    pub response: Option<String>,
    pub metadata: Option<Value>,
}

impl Validate for FeedbackPatch {
    fn validate(&self, v: &mut Validator) {
        v.one_of("status", self.status.as_deref(), STATUSES);
        v.opt_length("response", self.response.as_deref(), 1, 5000);
        check_metadata(v, self.metadata.as_ref());
        v.check(
            self.status.is_some() || self.response.is_some() || self.metadata.is_some(),
            "body",
            "at least one of status, response, metadata is required",
        );
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackOut {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: Option<String>,
    pub message: String,
    /// The same as `message` (the name some clients send and read).
    pub description: String,
    pub rating: Option<i32>,
    /// `low`, `medium` or `high`, when given.
    pub priority: Option<String>,
    pub status: String,
    pub response: Option<String>,
    pub responded_at: Option<DateTime<Utc>>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<feedback::Model> for FeedbackOut {
    fn from(m: feedback::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            subject: m.subject,
            description: m.message.clone(),
            message: m.message,
            rating: m.rating,
            priority: m.priority,
            status: m.status,
            response: m.response,
            responded_at: m.responded_at,
            metadata: m.metadata,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

pub async fn create(ctx: Ctx, Body(input): Body<FeedbackIn>) -> ApiResult<HttpResponse> {
    let now = Utc::now();
    let txn = ctx.begin().await?;
    let row = store::feedback::insert(
        &txn,
        feedback::Model {
            id: ids::new_id(ids::FEEDBACK),
            org_id: ctx.org().to_string(),
            kind: input.kind.unwrap_or_else(|| "general".into()),
            subject: input.subject,
            message: input.message,
            rating: input.rating,
            priority: input.priority,
            status: "open".into(),
            response: None,
            responded_at: None,
            metadata: input.metadata.unwrap_or_else(|| Value::Object(Default::default())),
            created_by: ctx.principal.key_id.clone(),
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    ctx.commit(txn, StatusCode::CREATED, &FeedbackOut::from(row)).await
}

pub async fn list(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let filter = store::feedback::Filter {
        status: q.one_of("status", STATUSES)?,
        kind: q.one_of("type", KINDS)?,
    };
    let (rows, total) = store::feedback::list(ctx.db(), ctx.org(), &filter, page.offset(), page.page_size).await?;
    let items: Vec<FeedbackOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("feedback", &items, page.info(total)))
}

pub async fn get(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = store::feedback::find(ctx.db(), ctx.org(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Feedback", &id))?;
    Ok(envelope::ok(&FeedbackOut::from(row)))
}

pub async fn update(ctx: Ctx, id: web::Path<String>, Body(patch): Body<FeedbackPatch>) -> ApiResult<HttpResponse> {
    let txn = ctx.begin().await?;
    let row = store::feedback::find(&txn, ctx.org(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Feedback", &id))?;
    let now = Utc::now();
    let mut active: feedback::ActiveModel = row.into();
    if let Some(status) = patch.status {
        active.status = Set(status);
    }
    if let Some(response) = patch.response {
        active.response = Set(Some(response));
        active.responded_at = Set(Some(now));
    }
    if let Some(metadata) = patch.metadata {
        active.metadata = Set(metadata);
    }
    active.updated_at = Set(now);
    let row = store::feedback::update(&txn, active).await?;
    ctx.commit(txn, StatusCode::OK, &FeedbackOut::from(row)).await
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::POST,
            "/feedback",
            "feedback",
            "submit_feedback",
            "Submit feedback",
            |r| r.to(create),
        )
        .key(Some("feedback:write"))
        .body::<FeedbackIn>()
        .example(|| json!({ "type": "bug", "subject": "Agent repeats itself", "message": "The agent repeated the greeting twice", "rating": 2 }))
        .returns::<FeedbackOut>(),
        RouteSpec::new(
            M::GET,
            "/feedback",
            "feedback",
            "list_feedback",
            "List submitted feedback",
            |r| r.to(list),
        )
        .key(Some("feedback:read"))
        .returns_list::<FeedbackOut>("feedback"),
        RouteSpec::new(
            M::GET,
            "/feedback/:id",
            "feedback",
            "get_feedback",
            "Get feedback by ID",
            |r| r.to(get),
        )
        .key(Some("feedback:read"))
        .returns::<FeedbackOut>(),
        RouteSpec::new(
            M::PATCH,
            "/feedback/:id",
            "feedback",
            "update_feedback",
            "Respond to feedback",
            |r| r.to(update),
        )
        .key(Some("feedback:write"))
        .body::<FeedbackPatch>()
        .example(|| json!({ "status": "resolved", "response": "Fixed in 1.13.0" }))
        .returns::<FeedbackOut>(),
    ]
}
