//! Analytics: `GET /analytics/usage`, `GET /analytics/costs` and `GET /analytics/agents/:id`,
//! from the organisation's calls, their timelines, messages and the usage ledger
//! (`app::analytics`), with the query parsed here.

use actix_web::{HttpResponse, http::Method, web};
use chrono::{Duration, Utc};
use chrono_tz::Tz;

use super::core::{
    envelope::{self, Sorted},
    extract::{Ctx, ListQuery},
    route_spec::{Param, RouteSpec},
};
use crate::{
    app::analytics::{AgentReport, CostReport, Period, RecommendError, RecommendationsReport, UsageReport},
    domain::periods::{Granularity, MAX_BUCKETS, buckets, parse_date},
    error::{ApiError, ApiResult, ErrorCode},
    store,
};

/// The query's period: every parameter has a default (the last 30 days, by day, UTC).
async fn period(ctx: &Ctx, q: &ListQuery) -> ApiResult<Period> {
    let tz: Tz = match q.get("timezone").filter(|s| !s.is_empty()) {
        None => Tz::UTC,
        Some(name) => name.parse().map_err(|_| {
            ApiError::field(
                "timezone",
                format!("'{name}' is not an IANA time zone (e.g. America/New_York)"),
            )
        })?,
    };
    let granularity = match q.get("granularity").filter(|s| !s.is_empty()) {
        None => Granularity::Day,
        Some(g) => Granularity::parse(g).ok_or_else(|| {
            ApiError::field(
                "granularity",
                format!("must be one of {}", Granularity::VALUES.join(", ")),
            )
        })?,
    };
    let date = |field: &str| -> ApiResult<Option<chrono::NaiveDate>> {
        match q.get(field).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(raw) => parse_date(raw, tz)
                .map(Some)
                .ok_or_else(|| ApiError::field(field, format!("'{raw}' is not a date (YYYY-MM-DD)"))),
        }
    };
    let today = Utc::now().with_timezone(&tz).date_naive();
    let (from, to) = match (date("startDate")?, date("endDate")?) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, today.max(f)),
        (None, Some(t)) => (t - Duration::days(29), t),
        (None, None) => (today - Duration::days(29), today),
    };
    if to < from {
        return Err(ApiError::field("endDate", format!("{to} is before startDate {from}")));
    }
    if buckets(from, to, granularity).len() > MAX_BUCKETS {
        return Err(ApiError::field(
            "startDate",
            format!(
                "the range holds more than {MAX_BUCKETS} {}s; narrow it or use a larger granularity",
                granularity.as_str()
            ),
        ));
    }
    let agent_id = q.get("agentId").filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(id) = &agent_id
        && store::agents::find(ctx.db(), ctx.org(), id).await?.is_none()
    {
        return Err(ApiError::not_found("Agent", id));
    }
    Ok(Period {
        from,
        to,
        granularity,
        tz,
        agent_id,
    })
}

pub async fn usage(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let p = period(&ctx, &q).await?;
    let report = ctx.state.analytics.usage(ctx.org(), &p).await?;
    Ok(envelope::ok(&Sorted(report)))
}

pub async fn agent(ctx: Ctx, id: web::Path<String>, q: ListQuery) -> ApiResult<HttpResponse> {
    if store::agents::find(ctx.db(), ctx.org(), &id).await?.is_none() {
        return Err(ApiError::not_found("Agent", &id));
    }
    let p = period(&ctx, &q).await?;
    let report = ctx.state.analytics.agent(ctx.org(), &id, &p).await?;
    Ok(envelope::ok(&Sorted(report)))
}

/// Rules for every agent asked for (one, or the organisation's), and the analyst model's
/// recommendations when one is configured (`source=rules` leaves it out); asking for them
/// (`source=all|llm`) without an analyst is 503 saying which key to set.
pub async fn recommendations(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let p = period(&ctx, &q).await?;
    let analyst = match q.one_of("source", &["all", "rules", "llm"])?.as_deref() {
        Some("rules") => None,
        None => ctx.state.analytics.analyst(),
        Some(_) => Some(ctx.state.analytics.analyst().ok_or_else(|| {
            ApiError::unavailable(
                ErrorCode::ServiceUnavailable,
                "Written recommendations require an Anthropic API key (providers.anthropic.api_key), or the \
                 sandbox analyst in development (providers.sandbox.analyst = true); ask for source=rules for the \
                 recommendations that need no model",
            )
        })?),
    };
    let agents: Vec<String> = match &p.agent_id {
        Some(id) => vec![id.clone()],
        None => store::agents::list(ctx.db(), ctx.org(), None, 0, 100)
            .await?
            .0
            .into_iter()
            .map(|a| a.id)
            .collect(),
    };
    let mut all = RecommendationsReport {
        period: crate::app::analytics::Analytics::period_out(&p),
        calls_considered: 0,
        analyst: if let Some(model) = &analyst {
            model.provider().to_string()
        } else if ctx.state.analytics.analyst().is_some() {
            "not asked for (source=rules)".into()
        } else {
            "not configured: set providers.anthropic.api_key for written recommendations".into()
        },
        recommendations: Vec::new(),
    };
    for agent_id in agents {
        let r = ctx
            .state
            .analytics
            .recommendations(ctx.org(), &agent_id, &p, analyst.clone())
            .await
            .map_err(|e| match e {
                RecommendError::Db(e) => ApiError::from(e),
                model => ApiError::internal(ErrorCode::UpstreamUnavailable, model),
            })?;
        all.calls_considered += r.calls_considered;
        all.recommendations.extend(r.recommendations);
    }
    Ok(envelope::ok(&Sorted(all)))
}

pub async fn costs(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let p = period(&ctx, &q).await?;
    let report = ctx.state.analytics.costs(ctx.org(), &p).await?;
    Ok(envelope::ok(&Sorted(report)))
}

const START_DATE: Param = Param {
    name: "startDate",
    ty: "string",
    description: "First day, YYYY-MM-DD (default: 29 days before endDate)",
};
const END_DATE: Param = Param {
    name: "endDate",
    ty: "string",
    description: "Last day, included, YYYY-MM-DD (default: today)",
};
const GRANULARITY: Param = Param {
    name: "granularity",
    ty: "string",
    description: "day (default), week (ISO, from Monday) or month",
};
const TIMEZONE: Param = Param {
    name: "timezone",
    ty: "string",
    description: "IANA time zone the days are counted in (default UTC)",
};
const AGENT: Param = Param {
    name: "agentId",
    ty: "string",
    description: "Only this agent (recommendations: default every agent of the organisation)",
};
const SOURCE: Param = Param {
    name: "source",
    ty: "string",
    description: "all (rules and the analyst's; 503 without an analyst), rules (no model needed) or llm; default: all when an analyst is configured, else rules",
};

const PERIOD: &[Param] = &[START_DATE, END_DATE, GRANULARITY, TIMEZONE, AGENT];
const RECOMMEND: &[Param] = &[AGENT, SOURCE, START_DATE, END_DATE, TIMEZONE];

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/analytics/usage",
            "analytics",
            "get_usage_analytics",
            "Get usage analytics",
            |r| r.to(usage),
        )
        .key(Some("analytics:read"))
        .query(PERIOD)
        .returns::<UsageReport>(),
        RouteSpec::new(
            M::GET,
            "/analytics/costs",
            "analytics",
            "get_cost_analytics",
            "Get cost analytics",
            |r| r.to(costs),
        )
        .key(Some("analytics:read"))
        .query(PERIOD)
        .returns::<CostReport>(),
        RouteSpec::new(
            M::GET,
            "/analytics/agents/:id",
            "analytics",
            "get_agent_analytics",
            "Get per-agent analytics including call metrics, sentiment, resolution rate, trends, and turn-taking analysis",
            |r| r.to(agent),
        )
        .key(Some("agents:read"))
        .query(PERIOD)
        .returns::<AgentReport>(),
        RouteSpec::new(
            M::GET,
            "/analytics/recommendations",
            "analytics",
            "get_recommendations",
            "AI-powered prompt improvement recommendations based on call patterns (requires Anthropic API key)",
            |r| r.to(recommendations),
        )
        .key(Some("agents:read"))
        .query(RECOMMEND)
        .returns::<RecommendationsReport>(),
    ]
}
