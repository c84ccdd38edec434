//! The health check and the published filter: current, by version, deltas, metadata.

use serde_json::{Value, json};

use crate::app::App;
use crate::artifact::ArtifactMeta;
use crate::backend::Backend;
use crate::error::ApiError;
use crate::http::{Head, Outcome, Reply, Response};
use crate::keys;
use crate::sets;

impl<B: Backend> App<'_, B> {
    pub(crate) async fn health(&self) -> Result<Reply, ApiError> {
        let loaded = match sets::current_index(self.backend, self.config, self.isolate).await {
            Ok(l) => l,
            Err(e) => {
                let status = crate::error::status_for(&e);
                let status = if status == 503 { 503 } else { 500 };
                return Ok(Reply::respond(Response::json(
                    status,
                    &json!({ "status": "unavailable", "reason": e.to_string() }),
                )));
            }
        };
        let now_s = self.backend.now_ms() / 1000;
        let age = now_s.saturating_sub(loaded.meta.created);
        let filter = sets::pointer(self.backend, self.config, self.isolate)
            .await
            .ok()
            .and_then(|p| p.filter.as_ref().map(sets::meta_json));
        let stale = age > self.config.max_set_age_seconds;
        let body = json!({
            "status": if stale { "stale" } else { "ok" },
            "index": sets::meta_json(&loaded.meta),
            "age_seconds": age,
            "max_age_seconds": self.config.max_set_age_seconds,
            "filter": filter,
        });
        Ok(Reply::respond(Response::json(if stale { 503 } else { 200 }, &body)))
    }

    pub(crate) async fn current_filter(&self) -> Result<ArtifactMeta, ApiError> {
        let pointer = sets::pointer(self.backend, self.config, self.isolate).await?;
        pointer.filter.clone().ok_or_else(|| ApiError::Unavailable {
            reason: "no filter published yet (PUT /v1/admin/filter)".into(),
            retry_after: Some(60),
        })
    }

    pub(crate) async fn filter_current(&self) -> Result<Reply, ApiError> {
        let meta = self.current_filter().await?;
        Ok(Reply::respond(
            Response::empty(302)
                .with_header("location", &format!("/v1/filter/{}", meta.version))
                .with_header("cache-control", "public, max-age=60"),
        ))
    }

    pub(crate) async fn filter_meta(&self) -> Result<Reply, ApiError> {
        let pointer = sets::pointer(self.backend, self.config, self.isolate).await?;
        let meta = self.current_filter().await?;
        let mut v = sets::meta_json(&meta);
        if let Some(obj) = v.as_object_mut() {
            obj.insert("url".into(), json!(format!("/v1/filter/{}", meta.version)));
            let deltas: Vec<Value> = pointer
                .deltas
                .iter()
                .map(|d| {
                    json!({
                        "base_version": d.base_version, "version": d.version, "sha256": d.sha256, "size": d.size,
                        "url": format!("/v1/filter/delta/{}/{}", d.base_version, d.version),
                    })
                })
                .collect();
            obj.insert("deltas".into(), json!(deltas));
        }
        let mut r = Response::json(200, &v);
        r.set_header("cache-control", "public, max-age=60");
        Ok(Reply::respond(r))
    }

    pub(crate) async fn artifact_record(
        &self,
        key: &str,
    ) -> Result<Option<ArtifactMeta>, ApiError> {
        match self.backend.kv_get(key).await.map_err(ApiError::storage)? {
            None => Ok(None),
            Some(t) => serde_json::from_str(&t)
                .map(Some)
                .map_err(|e| ApiError::Internal(format!("stored record {key} is unreadable: {e}"))),
        }
    }

    pub(crate) fn serve_immutable(head: &Head, meta: &ArtifactMeta) -> Reply {
        let etag = format!("\"{}\"", meta.sha256);
        let cache = "public, max-age=31536000, immutable";
        let matches = head.header("if-none-match").is_some_and(|v| {
            v.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || t == etag)
        });
        let base = |status| {
            Response::empty(status)
                .with_header("etag", &etag)
                .with_header("cache-control", cache)
                .with_header("x-schoon-set-version", &meta.version.to_string())
        };
        if matches {
            return Reply::respond(base(304));
        }
        let r = base(200)
            .with_header("content-type", "application/octet-stream")
            .with_header("content-length", &meta.size.to_string());
        Reply { outcome: Outcome::Blob { key: meta.object.clone(), head: r }, deferred: Vec::new() }
    }

    pub(crate) async fn filter_version(
        &self,
        head: &Head,
        version: u64,
    ) -> Result<Reply, ApiError> {
        let pointer = sets::pointer(self.backend, self.config, self.isolate).await?;
        let meta = match pointer.filter.as_ref().filter(|f| f.version == version) {
            Some(m) => Some(m.clone()),
            None => self.artifact_record(&keys::filter_record(version)).await?,
        };
        let meta =
            meta.ok_or_else(|| ApiError::NotFound(format!("no filter version {version}")))?;
        Ok(Self::serve_immutable(head, &meta))
    }

    pub(crate) async fn filter_delta(
        &self,
        head: &Head,
        base: u64,
        version: u64,
    ) -> Result<Reply, ApiError> {
        let meta = self
            .artifact_record(&keys::delta_record(base, version))
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no filter delta {base} -> {version}")))?;
        Ok(Self::serve_immutable(head, &meta))
    }

    // ---- receipts ------------------------------------------------------------------------
}
