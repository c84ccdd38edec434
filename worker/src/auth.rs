//! Tenants, their API keys, the admin key, and rate limits.
//!
//! API keys are `sk_` and 64 hex digits (256 random bits), shown once when issued. KV stores
//! only their SHA-256: `key:{sha256 hex}` names the tenant and the key's scope, `tenant:{id}`
//! holds the tenant's settings. A `browser` key may only check (`/v1/confirm`, `/v1/scan`): it
//! is meant to sit in a web page. A `server` key also reads and follows up the tenant's
//! receipts and statistics. The admin key is not stored at all: the worker holds its SHA-256
//! (`ADMIN_KEY_SHA256`).

use subtle::ConstantTimeEq;

use crate::backend::Backend;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::Head;
use crate::isolate::Isolate;
use crate::keys;
use crate::tenant::{KeyRecord, Principal, Scope, TenantRecord};

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any tenant key (checks).
    Check,
    /// A tenant's server key, or the admin key (receipts: the admin reads every tenant's).
    Server,
    /// The admin key.
    Admin,
}

async fn lookup<B: Backend>(backend: &B, key_hash: &str) -> Result<Option<Principal>, ApiError> {
    let Some(text) = backend.kv_get(&keys::api_key(key_hash)).await.map_err(ApiError::storage)?
    else {
        return Ok(None);
    };
    let key: KeyRecord = serde_json::from_str(&text)
        .map_err(|e| ApiError::Internal(format!("stored key record is unreadable: {e}")))?;
    let tenant = match backend
        .kv_get(&keys::tenant(&key.tenant))
        .await
        .map_err(ApiError::storage)?
    {
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| ApiError::Internal(format!("stored tenant record is unreadable: {e}")))?,
        // A key whose tenant record is gone counts as a disabled tenant.
        None => {
            TenantRecord { tenant: key.tenant.clone(), disabled: true, ..TenantRecord::default() }
        }
    };
    Ok(Some(Principal::Tenant { tenant, scope: key.scope }))
}

/// Authenticates a request for a route's need.
pub async fn authenticate<B: Backend>(
    head: &Head,
    need: Need,
    config: &Config,
    isolate: &Isolate,
    backend: &B,
) -> Result<Principal, ApiError> {
    let Some(token) = head.bearer() else {
        return Err(ApiError::Unauthorized(
            "missing API key: send Authorization: Bearer <key>".into(),
        ));
    };
    let hash = schoon_core::sha256(token.as_bytes());
    if config.admin_key_sha256.as_ref().is_some_and(|a| bool::from(a.ct_eq(&hash.0))) {
        return match need {
            Need::Check => Err(ApiError::Forbidden(
                "the admin key cannot make checks: use a tenant key".into(),
            )),
            Need::Server | Need::Admin => Ok(Principal::Admin),
        };
    }
    let hash = hash.to_hex();
    let now = backend.now_ms();
    let principal = match isolate.cached_key(&hash, now) {
        Some(p) => p,
        None => {
            let p = lookup(backend, &hash).await?;
            let ttl = config.tenant_cache_seconds.saturating_mul(1000);
            isolate.cache_key(&hash, now.saturating_add(ttl), p.clone());
            p
        }
    };
    let Some(principal) = principal else {
        return Err(ApiError::Unauthorized("unknown API key".into()));
    };
    if let Principal::Tenant { tenant, scope } = &principal {
        if tenant.disabled {
            return Err(ApiError::Forbidden(format!("tenant '{}' is disabled", tenant.tenant)));
        }
        match (need, scope) {
            (Need::Admin, _) => {
                return Err(ApiError::Forbidden("this route needs the admin key".into()));
            }
            (Need::Server, Scope::Browser) => {
                return Err(ApiError::Forbidden(
                    "a browser key can only make checks: use a server key".into(),
                ));
            }
            _ => {}
        }
    }
    Ok(principal)
}

/// A tenant's record by id (gate mode, whose tenant has no key in the request), cached in the
/// isolate like key lookups (`TENANT_CACHE_SECONDS`). `None` when there is no such tenant.
pub async fn tenant_record<B: Backend>(
    tenant: &str,
    config: &Config,
    isolate: &Isolate,
    backend: &B,
) -> Result<Option<TenantRecord>, ApiError> {
    // The key cache holds key hashes (64 hex digits); `tenant:` entries cannot collide.
    let cache_key = keys::tenant(tenant);
    let now = backend.now_ms();
    if let Some(cached) = isolate.cached_key(&cache_key, now) {
        return Ok(cached.and_then(|p| match p {
            Principal::Tenant { tenant, .. } => Some(tenant),
            Principal::Admin => None,
        }));
    }
    let record: Option<TenantRecord> =
        match backend.kv_get(&cache_key).await.map_err(ApiError::storage)? {
            Some(t) => Some(serde_json::from_str(&t).map_err(|e| {
                ApiError::Internal(format!("stored tenant record is unreadable: {e}"))
            })?),
            None => None,
        };
    let ttl = config.tenant_cache_seconds.saturating_mul(1000);
    let principal = record.clone().map(|tenant| Principal::Tenant { tenant, scope: Scope::Server });
    isolate.cache_key(&cache_key, now.saturating_add(ttl), principal);
    Ok(record)
}

/// Applies the tenant's rate limit: this isolate's bucket, then the shared limiter if bound.
pub async fn rate_limit<B: Backend>(
    tenant: &TenantRecord,
    config: &Config,
    isolate: &Isolate,
    backend: &B,
) -> Result<(), ApiError> {
    let rate = tenant.rate_per_minute.unwrap_or(config.rate_per_minute);
    let burst = tenant.burst.unwrap_or(config.rate_burst);
    isolate
        .take_token(&keys::tenant_limit(&tenant.tenant), backend.now_ms(), rate, burst)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    shared_limit(&keys::tenant_limit(&tenant.tenant), backend).await
}

/// Asks the shared limiter (when bound). A limiter failure lets the request through: the
/// per-isolate bucket still applies.
pub async fn shared_limit<B: Backend>(key: &str, backend: &B) -> Result<(), ApiError> {
    match backend.rate_limit(key).await {
        Ok(Some(false)) => Err(ApiError::RateLimited { retry_after: 10 }),
        _ => Ok(()),
    }
}

/// A new API key: `sk_` and 64 hex digits.
pub fn new_api_key<B: Backend>(backend: &B) -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    backend
        .fill_random(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    Ok(format!("sk_{}", schoon_core::hex::encode(&bytes)))
}
