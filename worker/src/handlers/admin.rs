//! The admin routes: status, tenant settings, keys, revocation and every tenant's statistics.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::auth;
use crate::backend::Backend;
use crate::config::valid_tenant;
use crate::error::ApiError;
use crate::http::{Head, Reply, Response};
use crate::keys;
use crate::policy::ListPolicy;
use crate::query::parse_json;
use crate::sets;
use crate::tenant::{KeyRecord, Scope, TenantRecord};

impl<B: Backend> App<'_, B> {
    pub(crate) async fn admin_status(&self) -> Result<Reply, ApiError> {
        let pointer = sets::read_pointer(self.backend).await?;
        let held = self.isolate.index().map(|l| {
            json!({
                "version": l.meta.version,
                "memory_bytes": l.memory_bytes(),
                "multi_index": l.whole().map(|i| i.uses_mih()),
                "shards": l.meta.shards,
                "entries": sets::entries_json(&l),
            })
        });
        let v = json!({
            "isolate": self.isolate.id,
            "pointer": pointer,
            "held_index": held,
            "wasm_memory_bytes": wasm_memory_bytes(),
        });
        Ok(Reply::respond(Response::json(200, &v)))
    }

    pub(crate) async fn admin_tenant(&self, tenant: &str, body: &[u8]) -> Result<Reply, ApiError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct In {
            #[serde(default)]
            rate_per_minute: Option<u32>,
            #[serde(default)]
            burst: Option<u32>,
            #[serde(default)]
            disabled: bool,
            #[serde(default)]
            lists: Option<Vec<String>>,
            #[serde(default)]
            categories: Option<Vec<String>>,
            #[serde(default)]
            thresholds: BTreeMap<String, u32>,
        }
        if !valid_tenant(tenant) {
            return Err(ApiError::Invalid(format!(
                "tenant id '{tenant}': 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit"
            )));
        }
        let input: In = parse_json(body)?;
        let policy = ListPolicy {
            lists: input.lists,
            categories: input.categories,
            thresholds: input.thresholds,
        };
        // A policy names lists of the current set and is checked against it: with no index
        // published yet, that is 503.
        let policy = if policy.is_empty() {
            policy
        } else {
            let loaded = sets::current_index(self.backend, self.config, self.isolate).await?;
            policy.check(loaded.lists(), self.config.match_options.threshold)?
        };
        let key = keys::tenant(tenant);
        let existing: Option<TenantRecord> =
            match self.backend.kv_get(&key).await.map_err(ApiError::storage)? {
                Some(t) => serde_json::from_str(&t).ok(),
                None => None,
            };
        let record = TenantRecord {
            tenant: tenant.to_owned(),
            rate_per_minute: input.rate_per_minute,
            burst: input.burst,
            disabled: input.disabled,
            created_ms: existing.as_ref().map_or(self.backend.now_ms(), |e| e.created_ms),
            policy,
        };
        let text = serde_json::to_string(&record).map_err(|e| ApiError::Internal(e.to_string()))?;
        self.backend.kv_put(&key, &text, None).await.map_err(ApiError::storage)?;
        self.isolate.forget_keys();
        let status = if existing.is_some() { 200 } else { 201 };
        Ok(Reply::respond(Response::json(status, &json!(record))))
    }

    /// A tenant's record and which names of its policy the current set lacks
    /// (`policy_missing`, `null` while no index is published).
    pub(crate) async fn admin_tenant_read(&self, tenant: &str) -> Result<Reply, ApiError> {
        let not_found = || ApiError::NotFound(format!("no tenant '{tenant}'"));
        if !valid_tenant(tenant) {
            return Err(not_found());
        }
        let text = self
            .backend
            .kv_get(&keys::tenant(tenant))
            .await
            .map_err(ApiError::storage)?
            .ok_or_else(not_found)?;
        let record: TenantRecord = serde_json::from_str(&text)
            .map_err(|e| ApiError::Internal(format!("stored tenant record is unreadable: {e}")))?;
        let loaded = sets::current_index(self.backend, self.config, self.isolate).await.ok();
        let mut v = json!(record);
        if let Some(obj) = v.as_object_mut() {
            let missing = loaded.as_ref().map(|l| record.policy.missing(l.lists()));
            obj.insert("policy_missing".into(), json!(missing));
            obj.insert("set_version".into(), json!(loaded.map(|l| l.meta.version)));
        }
        Ok(Reply::respond(Response::json(200, &v)))
    }

    pub(crate) async fn admin_key(&self, tenant: &str, body: &[u8]) -> Result<Reply, ApiError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct In {
            #[serde(default)]
            scope: Option<Scope>,
        }
        let input: In = parse_json(body)?;
        if !valid_tenant(tenant)
            || self
                .backend
                .kv_get(&keys::tenant(tenant))
                .await
                .map_err(ApiError::storage)?
                .is_none()
        {
            return Err(ApiError::NotFound(format!(
                "no tenant '{tenant}' (PUT /v1/admin/tenants/{tenant} first)"
            )));
        }
        let api_key = auth::new_api_key(self.backend)?;
        let hash = schoon_core::sha256(api_key.as_bytes()).to_hex();
        let record = KeyRecord {
            tenant: tenant.to_owned(),
            scope: input.scope.unwrap_or(Scope::Server),
            created_ms: self.backend.now_ms(),
        };
        let text = serde_json::to_string(&record).map_err(|e| ApiError::Internal(e.to_string()))?;
        self.backend.kv_put(&keys::api_key(&hash), &text, None).await.map_err(ApiError::storage)?;
        let v = json!({ "tenant": tenant, "scope": record.scope, "api_key": api_key, "key_sha256": hash });
        Ok(Reply::respond(Response::json(201, &v)))
    }

    pub(crate) async fn admin_revoke(&self, key_sha256: &str) -> Result<Reply, ApiError> {
        let valid = key_sha256.len() == 64
            && key_sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(ApiError::Invalid(format!(
                "'{key_sha256}' is not a key's SHA-256 (64 lowercase hex digits)"
            )));
        }
        let key = keys::api_key(key_sha256);
        if self.backend.kv_get(&key).await.map_err(ApiError::storage)?.is_none() {
            return Err(ApiError::NotFound("no such key".into()));
        }
        self.backend.kv_delete(&key).await.map_err(ApiError::storage)?;
        self.isolate.forget_keys();
        Ok(Reply::respond(Response::empty(204)))
    }

    pub(crate) async fn admin_stats(&self, head: &Head) -> Result<Reply, ApiError> {
        let page = self
            .backend
            .kv_list(keys::TENANT_PREFIX, None, 1000)
            .await
            .map_err(ApiError::storage)?;
        let mut all = Vec::new();
        let mut rows = Vec::new();
        let mut tenants: Vec<&str> =
            page.keys.iter().filter_map(|(k, _)| keys::tenant_of(k)).collect();
        // The bucket scan's tenant need not have a tenant record (it has no keys).
        if let Some(b) = &self.config.bucket
            && !tenants.contains(&b.tenant.as_str())
        {
            tenants.push(&b.tenant);
        }
        for tenant in tenants {
            let (v, r) = self.tenant_summary(tenant).await?;
            all.push(v);
            rows.extend(r.into_iter().filter(|r| r.get(1).is_some_and(|d| d == "total")));
        }
        if Self::wants_csv(head) {
            return Ok(Self::csv(Self::rows_csv(&rows, Self::wants_followup(head)), "stats.csv"));
        }
        Ok(Reply::respond(Response::json(
            200,
            &json!({ "tenants": all, "truncated": page.cursor.is_some() }),
        )))
    }
}

/// The size of this module's linear memory (wasm only).
fn wasm_memory_bytes() -> Option<u64> {
    #[cfg(target_arch = "wasm32")]
    {
        Some(core::arch::wasm32::memory_size(0) as u64 * 65_536)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}
