//! A2P 10DLC reference data in one place: brand types, company and business types,
//! industry verticals, campaign use cases (Twilio / TCR codes), and the limits the
//! validators enforce. `GET /compliance/a2p/config` serves it as is.

use serde_json::{Value, json};

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

pub fn config() -> Value {
    json!({
        "brandTypes": [
            { "value": "sole_proprietor", "description": "Individuals and businesses without an EIN; one campaign (SOLE_PROPRIETOR use case), one number, low throughput; the contact confirms a one-time code by SMS", "requires": ["companyName", "email", "phone", "address", "contact", "vertical"] },
            { "value": "standard", "description": "Businesses with an EIN (US) or tax id; any use case; throughput from the brand's vetting score", "requires": ["companyName", "ein", "businessType", "companyType", "vertical", "website", "email", "phone", "address", "contact"] },
        ],
        "companyTypes": COMPANY_TYPES,
        "businessTypes": BUSINESS_TYPES,
        "stockExchanges": STOCK_EXCHANGES,
        "jobPositions": JOB_POSITIONS,
        "verticals": VERTICALS,
        "useCases": USE_CASES.iter().map(|(code, description, post)| json!({
            "value": code, "description": description, "requiresPostApproval": post,
        })).collect::<Vec<_>>(),
        "campaignLimits": {
            "description": { "min": DESCRIPTION_LEN.0, "max": DESCRIPTION_LEN.1 },
            "messageFlow": { "min": MESSAGE_FLOW_LEN.0, "max": MESSAGE_FLOW_LEN.1 },
            "messageSamples": { "minItems": SAMPLES_COUNT.0, "maxItems": SAMPLES_COUNT.1, "minLength": SAMPLE_LEN.0, "maxLength": SAMPLE_LEN.1 },
            "optInMessage": { "min": KEYWORD_MESSAGE_LEN.0, "max": KEYWORD_MESSAGE_LEN.1 },
            "optOutMessage": { "min": KEYWORD_MESSAGE_LEN.0, "max": KEYWORD_MESSAGE_LEN.1 },
            "helpMessage": { "min": KEYWORD_MESSAGE_LEN.0, "max": KEYWORD_MESSAGE_LEN.1 },
        },
        "typicalTimelines": {
            "brand": "minutes to 3 business days (secondary vetting can take longer)",
            "campaign": "several business days up to 2-3 weeks (manual review)",
        },
        "optOutKeywords": ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"],
        "optInKeywords": ["START", "YES", "UNSTOP"],
        "helpKeywords": ["HELP", "INFO"],
    })
}
