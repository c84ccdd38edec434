//! The records of tenants and their API keys as KV stores them, and who a request's key names.
//! Plain data: the lookups and checks are in `auth`.

use serde::{Deserialize, Serialize};

use crate::policy::ListPolicy;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Checks only: safe to embed in a page.
    Browser,
    /// Checks, receipts, follow-ups, statistics.
    Server,
}

/// A tenant's settings (`tenant:{id}` in KV).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// The tenant id.
    pub tenant: String,
    /// Requests per minute (per isolate); `None` uses `RATE_PER_MINUTE`; 0 is unlimited.
    #[serde(default)]
    pub rate_per_minute: Option<u32>,
    /// Burst; `None` uses `RATE_BURST`.
    #[serde(default)]
    pub burst: Option<u32>,
    /// A disabled tenant's keys are refused with 403.
    #[serde(default)]
    pub disabled: bool,
    /// When the record was created, unix milliseconds.
    pub created_ms: u64,
    /// Which lists the tenant is matched against (`lists`, `categories`, `thresholds` at the
    /// record's top level; absent in records written before policies existed).
    #[serde(flatten)]
    pub policy: ListPolicy,
}

/// An API key's record (`key:{sha256}` in KV).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The tenant the key belongs to.
    pub tenant: String,
    /// What it may do.
    pub scope: Scope,
    /// When it was issued, unix milliseconds.
    pub created_ms: u64,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A tenant's key.
    Tenant {
        /// The tenant's settings.
        tenant: TenantRecord,
        /// The key's scope.
        scope: Scope,
    },
    /// The admin key.
    Admin,
}
