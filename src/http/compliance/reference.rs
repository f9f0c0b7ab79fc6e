//! A2P 10DLC reference data in one place: brand types, company and business types,
//! industry verticals, campaign use cases (Twilio / TCR codes), and the limits the
//! validators enforce. `GET /compliance/a2p/config` serves it as is.

use schemars::JsonSchema;
use serde::Serialize;

pub const BRAND_TYPES: &[&str] = &["sole_proprietor", "standard"];
pub const COMPANY_TYPES: &[&str] = &["private", "public", "non_profit", "government"];
pub const BUSINESS_TYPES: &[&str] = &[
    "Sole Proprietorship",
    "Partnership",
    "Limited Liability Corporation",
    "Corporation",
    "Co-operative",
    "Non-profit Corporation",
];
pub const STOCK_EXCHANGES: &[&str] = &["NASDAQ", "NYSE", "AMEX", "TSX", "LSE", "OTHER"];
pub const JOB_POSITIONS: &[&str] = &["Director", "GM", "VP", "CEO", "CFO", "General Counsel", "Other"];
pub const VERTICALS: &[&str] = &[
    "AGRICULTURE",
    "AUTOMOTIVE",
    "BANKING",
    "CONSTRUCTION",
    "CONSUMER",
    "EDUCATION",
    "ELECTRONICS",
    "ENERGY",
    "ENGINEERING",
    "FAST_MOVING_CONSUMER_GOODS",
    "FINANCIAL",
    "FINTECH",
    "FOOD_AND_BEVERAGE",
    "GOVERNMENT",
    "HEALTHCARE",
    "HOSPITALITY",
    "INSURANCE",
    "JEWELRY",
    "LEGAL",
    "MANUFACTURING",
    "MEDIA",
    "NOT_FOR_PROFIT",
    "OIL_AND_GAS",
    "ONLINE",
    "PROFESSIONAL_SERVICES",
    "RAW_MATERIALS",
    "REAL_ESTATE",
    "RELIGION",
    "RETAIL",
    "TECHNOLOGY",
    "TELECOMMUNICATIONS",
    "TRANSPORTATION",
    "TRAVEL",
];
/// Use cases and whether they need post-approval by the carriers.
pub const USE_CASES: &[(&str, &str, bool)] = &[
    ("2FA", "One-time passwords and two-factor authentication", false),
    ("ACCOUNT_NOTIFICATION", "Account status notifications", false),
    ("AGENTS_FRANCHISES", "Brands with multiple agents or franchises", true),
    ("CHARITY", "Charitable organisations (501(c)(3))", false),
    ("CUSTOMER_CARE", "Customer support and account management", false),
    (
        "DELIVERY_NOTIFICATION",
        "Delivery status of products and services",
        false,
    ),
    ("EMERGENCY", "Public safety and emergency notifications", true),
    ("FRAUD_ALERT", "Notifications of potential fraud", false),
    ("HIGHER_EDUCATION", "Colleges and universities", false),
    ("K12_EDUCATION", "Primary and secondary schools", true),
    (
        "LOW_VOLUME",
        "Low-volume mixed traffic (under 2,000 messages a month)",
        false,
    ),
    ("MARKETING", "Promotional content", false),
    ("MIXED", "Several use cases on one campaign", false),
    ("POLITICAL", "Political campaigns (requires Campaign Verify)", false),
    ("POLLING_VOTING", "Surveys and polls (non-political)", false),
    ("PROXY", "Peer-to-peer masked communication", true),
    ("PUBLIC_SERVICE_ANNOUNCEMENT", "Public awareness messages", false),
    ("SECURITY_ALERT", "Security breach notifications", false),
    ("SOCIAL", "Social media communities", true),
    ("SOLE_PROPRIETOR", "The only use case of sole-proprietor brands", false),
    ("SWEEPSTAKE", "Sweepstakes and contests", true),
];

pub fn use_case_codes() -> Vec<&'static str> {
    USE_CASES.iter().map(|(code, _, _)| *code).collect()
}

/// Field lengths of a campaign submission (Twilio's limits).
pub const DESCRIPTION_LEN: (usize, usize) = (40, 4096);
pub const MESSAGE_FLOW_LEN: (usize, usize) = (40, 2048);
pub const SAMPLE_LEN: (usize, usize) = (20, 1024);
pub const SAMPLES_COUNT: (usize, usize) = (2, 5);
pub const KEYWORD_MESSAGE_LEN: (usize, usize) = (20, 320);

/// A brand type and the fields its registration needs.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrandTypeOut {
    pub value: &'static str,
    pub description: &'static str,
    pub requires: &'static [&'static str],
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UseCaseOut {
    pub value: &'static str,
    pub description: &'static str,
    /// The carriers review it again after approval.
    pub requires_post_approval: bool,
}

/// Length limits in characters.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LengthLimit {
    pub min: usize,
    pub max: usize,
}

impl From<(usize, usize)> for LengthLimit {
    fn from((min, max): (usize, usize)) -> Self {
        Self { min, max }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SamplesLimit {
    pub min_items: usize,
    pub max_items: usize,
    pub min_length: usize,
    pub max_length: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignLimits {
    pub description: LengthLimit,
    pub message_flow: LengthLimit,
    pub message_samples: SamplesLimit,
    pub opt_in_message: LengthLimit,
    pub opt_out_message: LengthLimit,
    pub help_message: LengthLimit,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypicalTimelines {
    pub brand: &'static str,
    pub campaign: &'static str,
}

/// `GET /compliance/a2p/config`: every value a registration may use, and the limits.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct A2pConfigOut {
    pub brand_types: Vec<BrandTypeOut>,
    pub company_types: &'static [&'static str],
    pub business_types: &'static [&'static str],
    pub stock_exchanges: &'static [&'static str],
    pub job_positions: &'static [&'static str],
    pub verticals: &'static [&'static str],
    pub use_cases: Vec<UseCaseOut>,
    pub campaign_limits: CampaignLimits,
    pub typical_timelines: TypicalTimelines,
    pub opt_out_keywords: &'static [&'static str],
    pub opt_in_keywords: &'static [&'static str],
    pub help_keywords: &'static [&'static str],
}

pub fn config() -> A2pConfigOut {
    A2pConfigOut {
        brand_types: vec![
            BrandTypeOut {
                value: "sole_proprietor",
                description: "Individuals and businesses without an EIN; one campaign (SOLE_PROPRIETOR use case), one number, low throughput; the contact confirms a one-time code by SMS",
                requires: &["companyName", "email", "phone", "address", "contact", "vertical"],
            },
            BrandTypeOut {
                value: "standard",
                description: "Businesses with an EIN (US) or tax id; any use case; throughput from the brand's vetting score",
                requires: &[
                    "companyName",
                    "ein",
                    "businessType",
                    "companyType",
                    "vertical",
                    "website",
                    "email",
                    "phone",
                    "address",
                    "contact",
                ],
            },
        ],
        company_types: COMPANY_TYPES,
        business_types: BUSINESS_TYPES,
        stock_exchanges: STOCK_EXCHANGES,
        job_positions: JOB_POSITIONS,
        verticals: VERTICALS,
        use_cases: USE_CASES
            .iter()
            .map(|(value, description, post)| UseCaseOut {
                value,
                description,
                requires_post_approval: *post,
            })
            .collect(),
        campaign_limits: CampaignLimits {
            description: DESCRIPTION_LEN.into(),
            message_flow: MESSAGE_FLOW_LEN.into(),
            message_samples: SamplesLimit {
                min_items: SAMPLES_COUNT.0,
                max_items: SAMPLES_COUNT.1,
                min_length: SAMPLE_LEN.0,
                max_length: SAMPLE_LEN.1,
            },
            opt_in_message: KEYWORD_MESSAGE_LEN.into(),
            opt_out_message: KEYWORD_MESSAGE_LEN.into(),
            help_message: KEYWORD_MESSAGE_LEN.into(),
        },
        typical_timelines: TypicalTimelines {
            brand: "minutes to 3 business days (secondary vetting can take longer)",
            campaign: "several business days up to 2-3 weeks (manual review)",
        },
        opt_out_keywords: &[
            "STOP",
            "STOPALL",
            "UNSUBSCRIBE",
            "CANCEL",
            "END",
            "QUIT",
            "REVOKE",
            "OPTOUT",
        ],
        opt_in_keywords: &["START", "YES", "UNSTOP"],
        help_keywords: &["HELP", "INFO"],
    }
}
