//! The check routes that take hashes or bytes: `/v1/confirm`, `/v1/scan` and gate mode.

use schoon_core::receipt::Receipt;
use schoon_core::set::{Match, Query};
use schoon_core::wire;
use serde_json::{Value, json};

use crate::app::{App, VerdictBody};
use crate::artifact::LoadedIndex;
use crate::auth;
use crate::backend::Backend;
use crate::config::Policy;
use crate::counters::Counts;
use crate::error::{ApiError, ErrorBody};
use crate::http::{Forward, HOP_BY_HOP, Head, Outcome, Reply, Response};
use crate::multipart;
use crate::query::{self, HashesIn, parse_json};
use crate::sets;
use crate::shards;
use crate::subject::Subject;
use crate::tenant::TenantRecord;

/// The answer of `/v1/scan`: the verdict, the upload's hashes, and why there is no PDQ.
#[derive(serde::Serialize)]
struct ScanBody {
    #[serde(flatten)]
    verdict: VerdictBody,
    hashes: Value,
    /// The kinds that were checked when the image did not decode and nothing matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    checked: Option<[&'static str; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody>,
}

/// The outcome of hashing one upload in gate mode or `/v1/scan`.
struct Checked {
    query: Query,
    matches: Vec<Match>,
    hashes: Value,
    error: Option<schoon_core::Error>,
}

impl<B: Backend> App<'_, B> {
    pub(crate) async fn confirm(&self, head: &Head, body: &[u8]) -> Result<Reply, ApiError> {
        let tenant = self.checker(head).await?;
        let hashes = parse_json::<HashesIn>(body)?;
        let (query, windows) = (hashes.to_query()?, hashes.windows()?);
        let subject = hashes.subject()?;
        let loaded = sets::current_index(self.backend, self.config, self.isolate).await?;
        let matches = shards::lookup(
            self.backend,
            &loaded,
            &tenant.policy,
            &query,
            &windows,
            &self.config.match_options,
        )
        .await?;
        let v =
            self.verdict(&tenant.tenant, &query, &matches, loaded.meta.version, &subject).await?;
        Ok(Reply { outcome: Outcome::Respond(Response::json(200, &v.body)), deferred: v.deferred })
    }

    async fn check_bytes(
        &self,
        tenant: &TenantRecord,
        loaded: &LoadedIndex,
        bytes: &[u8],
    ) -> Result<Checked, ApiError> {
        // As `schoon scan` decides: plain PDQ, then region windows when the index has region
        // hashes and plain PDQ missed (schoon_core::set::lookup_hashed).
        let shards::Hashed { report, query, matches } =
            shards::check_bytes(self.backend, self.config, loaded, tenant, bytes).await?;
        let mut fields = wire::exact_fields(&report.exact);
        if let Ok(image) = &report.image {
            fields.extend(wire::image_fields(image, false));
        }
        let hashes = Value::Object(wire::fields_json(fields));
        Ok(Checked { query, matches, hashes, error: report.image.err() })
    }

    pub(crate) async fn scan(&self, head: &Head, body: &[u8]) -> Result<Reply, ApiError> {
        let tenant = self.checker(head).await?;
        let subject = query::subject(None, head.header("x-schoon-url"))?;
        let loaded = sets::current_index(self.backend, self.config, self.isolate).await?;
        let checked = self.check_bytes(&tenant, &loaded, body).await?;
        let version = loaded.meta.version;
        let v = self
            .verdict(&tenant.tenant, &checked.query, &checked.matches, version, &subject)
            .await?;
        // A match stands even if the image did not decode (exact hashes always count); a clean
        // verdict without PDQ is answered with the decoding error's status.
        let error = match (checked.error, v.matched) {
            (Some(e), false) => Some(ApiError::Core(e).body()),
            _ => None,
        };
        let status = error.as_ref().map_or(200, |e| e.status);
        let body = ScanBody {
            verdict: v.body,
            hashes: checked.hashes,
            checked: error.as_ref().map(|_| ["md5", "sha1", "sha256"]),
            error,
        };
        Ok(Reply { outcome: Outcome::Respond(Response::json(status, &body)), deferred: v.deferred })
    }

    pub(crate) fn forward(
        &self,
        head: &Head,
        verdict: &str,
        set_version: Option<u64>,
    ) -> Result<Forward, ApiError> {
        let gate = self
            .config
            .gate
            .as_ref()
            .ok_or_else(|| ApiError::NotFound("gate mode is off".into()))?;
        let mut headers: Vec<(String, String)> = head
            .headers
            .iter()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !HOP_BY_HOP.contains(&k.as_str()) && !k.starts_with("x-schoon-")
            })
            .cloned()
            .collect();
        headers.push(("x-schoon-verdict".into(), verdict.into()));
        if let Some(v) = set_version {
            headers.push(("x-schoon-set-version".into(), v.to_string()));
        }
        if let Some(secret) = &gate.origin_secret {
            headers.push(("x-schoon-origin-secret".into(), secret.clone()));
        }
        let query = if head.query.is_empty() { String::new() } else { format!("?{}", head.query) };
        Ok(Forward {
            url: format!("{}{}{query}", gate.origin, head.path),
            method: head.method,
            headers,
        })
    }

    pub(crate) async fn gate(&self, head: &Head, body: &[u8]) -> Result<Reply, ApiError> {
        let Some(gate) = self.config.gate.clone() else {
            return Err(ApiError::NotFound("gate mode is off".into()));
        };
        self.client_limit(head, gate.rate_per_minute)?;
        let forward_with = |verdict: &str, version: Option<u64>| -> Result<Reply, ApiError> {
            Ok(Reply {
                outcome: Outcome::Forward {
                    forward: self.forward(head, verdict, version)?,
                    body: body.to_vec(),
                },
                deferred: Vec::new(),
            })
        };
        let index_and_tenant = async {
            let loaded = sets::current_index(self.backend, self.config, self.isolate).await?;
            let tenant =
                auth::tenant_record(&gate.tenant, self.config, self.isolate, self.backend).await?;
            Ok::<_, ApiError>((loaded, tenant.unwrap_or_default()))
        };
        let (loaded, tenant) = match index_and_tenant.await {
            Ok(l) => l,
            Err(e) => {
                return match gate.unavailable {
                    Policy::Forward => forward_with("unchecked", None),
                    Policy::Reject => Err(e),
                };
            }
        };
        let version = loaded.meta.version;
        // The files of a form, or the whole body.
        let boundary = head.header("content-type").and_then(multipart::boundary);
        let items: Vec<&[u8]> = match &boundary {
            Some(b) => multipart::files(body, b)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?
                .into_iter()
                .map(|f| f.data)
                .collect(),
            None if body.is_empty() => Vec::new(),
            None => vec![body],
        };
        let mut matches: Vec<(Query, Vec<Match>)> = Vec::new();
        let mut failure: Option<schoon_core::Error> = None;
        for item in items {
            let c = match self.check_bytes(&tenant, &loaded, item).await {
                Ok(c) => c,
                Err(e) => {
                    return match gate.unavailable {
                        Policy::Forward => forward_with("unchecked", None),
                        Policy::Reject => Err(e),
                    };
                }
            };
            if !c.matches.is_empty() {
                matches.push((c.query, c.matches));
            } else if failure.is_none() {
                failure = c.error;
            }
        }
        if !matches.is_empty() {
            let mut all_matches = Vec::new();
            let mut all_receipts: Vec<Receipt> = Vec::new();
            let mut deferred = Vec::new();
            for (query, m) in &matches {
                let v = self.verdict(&gate.tenant, query, m, version, &Subject::default()).await?;
                all_matches.extend(v.body.matches);
                all_receipts.extend(v.body.receipts.unwrap_or_default());
                deferred.extend(v.deferred);
            }
            let body = json!({
                "verdict": "match",
                "set_version": version,
                "message": "this upload matches a list of known child sexual abuse material and was not accepted",
                "matches": all_matches,
                "receipts": all_receipts,
            });
            return Ok(Reply { outcome: Outcome::Respond(Response::json(451, &body)), deferred });
        }
        let deferred = self.count(&gate.tenant, Counts { checks: 1, ..Counts::default() });
        let mut reply = match (failure, gate.undecodable) {
            (None, _) => forward_with("clean", Some(version))?,
            (Some(_), Policy::Forward) => forward_with("unchecked", Some(version))?,
            (Some(e), Policy::Reject) => Reply::respond(ApiError::Core(e).to_response()),
        };
        reply.deferred = deferred;
        Ok(reply)
    }

    // ---- health and filter ---------------------------------------------------------------
}
