//! The string columns with a closed set of values, as enums: each keeps the column a plain
//! string (no migration) and reads and writes exactly the values the API has always used.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Declares `as_str` (the stored and served value) and `parse` for a string enum.
macro_rules! string_values {
    ($t:ident { $($variant:ident => $value:literal),* $(,)? }) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$variant),*];
            /// The stored and served values, in declaration order.
            pub const VALUES: &'static [&'static str] = &[$($value),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $value),* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($value => Some(Self::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// An agent's status: `active`, `inactive` (takes no calls) or `draft`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "inactive")]
    Inactive,
    #[sea_orm(string_value = "draft")]
    Draft,
}

string_values!(AgentStatus { Active => "active", Inactive => "inactive", Draft => "draft" });

/// How an agent speaks: one speech-to-speech session, or STT → LLM → TTS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum PipelineMode {
    #[sea_orm(string_value = "s2s")]
    S2s,
    #[sea_orm(string_value = "traditional")]
    Traditional,
}

string_values!(PipelineMode { S2s => "s2s", Traditional => "traditional" });

/// Which way a call (or a message) went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[sea_orm(string_value = "inbound")]
    Inbound,
    #[sea_orm(string_value = "outbound")]
    Outbound,
}

string_values!(Direction { Inbound => "inbound", Outbound => "outbound" });

/// The carrier a number was bought or imported on, and its calls placed through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum TelephonyProvider {
    #[sea_orm(string_value = "twilio")]
    Twilio,
    #[sea_orm(string_value = "sandbox")]
    Sandbox,
}

string_values!(TelephonyProvider { Twilio => "twilio", Sandbox => "sandbox" });

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ActiveEnum;

    #[test]
    fn stored_served_and_parsed_values_agree() {
        for s in AgentStatus::ALL {
            assert_eq!(s.to_value(), s.as_str());
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::json!(s.as_str())));
            assert_eq!(AgentStatus::parse(s.as_str()), Some(*s));
        }
        for p in PipelineMode::ALL {
            assert_eq!(p.to_value(), p.as_str());
            assert_eq!(serde_json::to_value(p).ok(), Some(serde_json::json!(p.as_str())));
        }
        for d in Direction::ALL {
            assert_eq!(d.to_value(), d.as_str());
            assert_eq!(serde_json::to_value(d).ok(), Some(serde_json::json!(d.as_str())));
        }
        for t in TelephonyProvider::ALL {
            assert_eq!(t.to_value(), t.as_str());
            assert_eq!(serde_json::to_value(t).ok(), Some(serde_json::json!(t.as_str())));
        }
        for c in CampaignStatus::ALL {
            assert_eq!(c.to_value(), c.as_str());
            assert_eq!(CampaignStatus::parse(c.as_str()), Some(*c));
        }
        for r in RegistrationStatus::ALL {
            assert_eq!(r.to_value(), r.as_str());
            assert_eq!(serde_json::to_value(r).ok(), Some(serde_json::json!(r.as_str())));
        }
        for n in NumberStatus::ALL {
            assert_eq!(n.to_value(), n.as_str());
        }
        assert_eq!(PipelineMode::parse("pipeline"), None);
    }
}

/// A call's lifecycle status: `queued → ringing → in_progress → completed / failed / busy /
/// no_answer / canceled`, and `interrupted` after a crash. The transitions are the call
/// actor's (`thruai_actors::call::state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    #[sea_orm(string_value = "queued")]
    Queued,
    #[sea_orm(string_value = "ringing")]
    Ringing,
    #[sea_orm(string_value = "in_progress")]
    InProgress,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "busy")]
    Busy,
    #[sea_orm(string_value = "no_answer")]
    NoAnswer,
    #[sea_orm(string_value = "canceled")]
    Canceled,
    #[sea_orm(string_value = "interrupted")]
    Interrupted,
}

string_values!(CallStatus {
    Queued => "queued",
    Ringing => "ringing",
    InProgress => "in_progress",
    Completed => "completed",
    Failed => "failed",
    Busy => "busy",
    NoAnswer => "no_answer",
    Canceled => "canceled",
    Interrupted => "interrupted",
});

impl CallStatus {
    /// Not ended yet.
    pub const OPEN: [CallStatus; 3] = [Self::Queued, Self::Ringing, Self::InProgress];

    /// Ended: nothing more happens to the call.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Queued | Self::Ringing | Self::InProgress)
    }
}

/// A campaign's status: `draft → running ⇄ paused → completed`. The transitions are the
/// campaign actor's (`thruai_actors::campaign::state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    #[sea_orm(string_value = "draft")]
    Draft,
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "paused")]
    Paused,
    #[sea_orm(string_value = "completed")]
    Completed,
}

string_values!(CampaignStatus { Draft => "draft", Running => "running", Paused => "paused", Completed => "completed" });

/// An A2P brand's or campaign's registration status: `draft → pending → in_review →
/// approved / rejected / failed`. The transitions are the A2P actor's
/// (`thruai_actors::a2p::state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    #[sea_orm(string_value = "draft")]
    Draft,
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "in_review")]
    InReview,
    #[sea_orm(string_value = "approved")]
    Approved,
    #[sea_orm(string_value = "rejected")]
    Rejected,
    /// The submission itself was refused (a permanent error); nothing is under review.
    #[sea_orm(string_value = "failed")]
    Failed,
}

string_values!(RegistrationStatus {
    Draft => "draft",
    Pending => "pending",
    InReview => "in_review",
    Approved => "approved",
    Rejected => "rejected",
    Failed => "failed",
});

impl RegistrationStatus {
    pub const TERMINAL: [RegistrationStatus; 3] = [Self::Approved, Self::Rejected, Self::Failed];

    /// The carrier has given its final word (or the submission was refused).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Approved | Self::Rejected | Self::Failed)
    }

    /// Refused for good: a new registration may replace it.
    pub fn is_refused(self) -> bool {
        matches!(self, Self::Rejected | Self::Failed)
    }
}

/// A phone number's status: `active` (takes calls and messages) or `inactive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum NumberStatus {
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "inactive")]
    Inactive,
}

string_values!(NumberStatus { Active => "active", Inactive => "inactive" });
