//! Campaigns that run a workflow for each contact (`workflowId`): the campaign keeps its
//! queue, cap, calling windows and retries; what it starts for a contact is an execution of
//! the workflow's published version instead of a call (the workflow's call step dials the
//! contact). The execution's id stands where a dial's call id stands, so the cap counts
//! running executions and a contact's outcome is its execution's.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbErr};
use serde_json::{Value, json};
use thruai_actors::{
    campaign::ports::{DueContact, PortError, Settle},
    workflow::graph::Compiled,
};
use thruai_entities::{campaign, workflow, workflow_execution};

use super::{
    db_err, fence_err, on_runtime,
    ports::{ServerCampaignPorts, apply_settles, count_settled},
};
use crate::{
    app::workflows::{self, WorkflowError},
    domain::ids,
    store::{campaigns as cs, workflows as wf},
};

/// The workflow a campaign runs, as published now.
pub(super) struct Flow {
    row: workflow::Model,
    graph: Compiled,
}

/// The published workflow of a campaign with a `workflowId` (`Ok(None)`: the campaign
/// dials its contacts itself).
///
/// # Errors
/// The workflow is gone or not published (no contact can start), or the database failed.
pub(super) async fn flow_of(db: &impl ConnectionTrait, row: &campaign::Model) -> Result<Option<Flow>, WorkflowError> {
    let Some(id) = row.workflow_id.as_deref() else {
        return Ok(None);
    };
    let wf_row = wf::find(db, &row.org_id, id)
        .await?
        .ok_or_else(|| WorkflowError::NotFound(id.to_string()))?;
    let graph = workflows::published(db, &wf_row).await?;
    Ok(Some(Flow { row: wf_row, graph }))
}

impl Flow {
    /// The execution a contact's attempt starts (recorded when its intent starts): its input
    /// is the contact, the campaign's agent and the number the campaign would dial from,
    /// for the graph's templates (`{{input.contact.phoneNumber}}`, `{{input.from}}`, …).
    pub(super) fn execution(
        &self,
        campaign: &campaign::Model,
        contact: &DueContact,
        key: &str,
        attempt: u32,
        from: &str,
    ) -> workflow_execution::Model {
        let input = json!({
            "contact": {
                "id": contact.id,
                "phoneNumber": contact.phone_number,
                "name": contact.name,
                "timezone": contact.timezone,
                "customData": contact.custom_data,
            },
            "campaignId": campaign.id,
            "agentId": campaign.agent_id,
            "from": from,
            "attempt": attempt,
        });
        let trigger = json!({
            "type": "campaign", "campaignId": campaign.id, "contactId": contact.id, "intentKey": key,
        });
        workflows::new_execution(&self.row, &self.graph, input, trigger, Some(format!("campaign:{key}")))
    }
}

/// The status of each dial's call (or, for a workflow's dial, its execution's outcome as
/// the call status it stands for; see [`outcomes`]) by the dial's call id.
///
/// # Errors
/// When the database fails.
pub async fn dial_statuses(db: &impl ConnectionTrait, call_ids: &[String]) -> Result<HashMap<String, String>, DbErr> {
    let mut statuses = cs::call_statuses(db, call_ids).await?;
    statuses.extend(outcomes(db, call_ids).await?);
    Ok(statuses)
}

/// Whether a dial's "call" is a workflow execution.
pub fn is_execution(call_id: &str) -> bool {
    call_id.starts_with(ids::EXECUTION) && call_id.as_bytes().get(ids::EXECUTION.len()) == Some(&b'-')
}

/// The outcome of each finished execution among `ids`, as the call status it stands for:
/// a succeeded execution's is that of the last call it placed (`completed` when it placed
/// none), a failed or canceled one's `failed`. Unfinished ones are left out.
async fn outcomes(db: &impl ConnectionTrait, ids: &[String]) -> Result<HashMap<String, String>, DbErr> {
    let ids: Vec<String> = ids.iter().filter(|id| is_execution(id)).cloned().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(wf::finished_executions(db, &ids)
        .await?
        .into_iter()
        .map(|(id, status, state)| {
            let outcome = if status == "succeeded" {
                last_call_status(&state).unwrap_or_else(|| "completed".into())
            } else {
                "failed".into()
            };
            (id, outcome)
        })
        .collect())
}

/// The status of the last call step an execution's state went through.
fn last_call_status(state: &Value) -> Option<String> {
    let steps = state.get("steps")?;
    state
        .get("path")?
        .as_array()?
        .iter()
        .rev()
        .filter_map(|node| steps.get(node.as_str()?))
        .find(|out| out.get("callId").is_some())
        .and_then(|out| out.get("status")?.as_str().map(str::to_string))
}

impl ServerCampaignPorts {
    /// The campaign's published workflow (`Ok(Ok(None))`: it has none); `Ok(Err(why))`
    /// when it names one that cannot run.
    pub(super) async fn published_flow(
        &self,
        row: &campaign::Model,
    ) -> Result<Result<Option<Flow>, String>, PortError> {
        let (db, row) = (self.db.clone(), row.clone());
        match tokio::spawn(async move { flow_of(&db, &row).await }).await {
            Ok(Ok(flow)) => Ok(Ok(flow)),
            Ok(Err(WorkflowError::Db(e))) => Err(db_err(e)),
            Ok(Err(e)) => Ok(Err(e.to_string())),
            Err(e) => Err(PortError::Unavailable(e.to_string())),
        }
    }

    /// Pauses a running campaign that cannot start its contacts, applying `settles`.
    pub(super) async fn pause(
        &self,
        campaign_id: &str,
        epoch: i64,
        settles: &[Settle],
        why: &str,
    ) -> Result<(), PortError> {
        let (db, id, lease, owned) = (self.db.clone(), campaign_id.to_string(), self.lease(), settles.to_vec());
        on_runtime(
            async move {
                cs::fenced(&db, &id.clone(), epoch, lease, move |txn| {
                    Box::pin(async move {
                        apply_settles(txn, &id, &owned).await?;
                        cs::pause(txn, &id).await
                    })
                })
                .await
            },
            fence_err,
        )
        .await?;
        count_settled(settles);
        tracing::warn!(
            campaign = campaign_id,
            reason = why,
            "campaign paused: its workflow cannot run"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_call_decides() {
        let state = json!({
            "path": ["t", "first", "sms", "second", "end"],
            "steps": {
                "first": {"callId": "CAL-1", "status": "busy"},
                "sms": {"smsId": "SMS-1", "status": "sent"},
                "second": {"callId": "CAL-2", "status": "no_answer"},
            }
        });
        assert_eq!(last_call_status(&state).as_deref(), Some("no_answer"));
        assert_eq!(last_call_status(&json!({"path": ["t"], "steps": {}})), None);
        assert!(is_execution("EXE-abc"));
        assert!(!is_execution("CAL-abc"));
        assert!(!is_execution("EXECUTOR"));
    }
}
