//! Routing and the handlers: request head and body in, [`Reply`] out.
//!
//! [`plan`] is pure: from the head alone it picks the route and refuses wrong methods (405),
//! media types (415) and declared sizes (413) before any body is read. [`App::handle`] then runs
//! the route against a [`Backend`]; every error becomes a JSON response through
//! [`ApiError::to_response`], so nothing a request carries can end in a panic or a bare 500.
//! [`App::serve`] does both for native tests and fuzzing.

use std::collections::BTreeMap;

use schoon_core::receipt::Receipt;
use schoon_core::set::{Match, Query};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::artifact::ArtifactMeta;
use crate::auth::{self, Need};
use crate::backend::Backend;
use crate::bucket;
use crate::config::{Config, Policy, valid_tenant};
use crate::counters::Counts;
use crate::error::ApiError;
use crate::http::{Deferred, Forward, HOP_BY_HOP, Head, Method, NDJSON, Outcome, Reply, Response};
use crate::isolate::Isolate;
use crate::keys;
use crate::multipart;
use crate::policy::{self, ListPolicy};
use crate::query::{self, HashesIn, match_json, parse_json, verdict_of};
use crate::receipts::{self, ListFilter, Status};
use crate::sets;
use crate::subject::Subject;
use crate::tenant::{KeyRecord, Principal, Scope, TenantRecord};
use crate::time;

/// Body limit of small JSON routes (follow-ups, receipt verification, tenant settings).
const SMALL_JSON: u64 = 16 * 1024;

/// Pages of 1000 keys read at most for one statistics answer.
const MAX_PAGES: usize = 10;

/// A route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /v1/health`
    Health,
    /// `GET /v1/filter`: redirect to the current version.
    FilterCurrent,
    /// `GET /v1/filter/meta`
    FilterMeta,
    /// `GET /v1/filter/{version}`
    FilterVersion(u64),
    /// `GET /v1/filter/delta/{base}/{version}`
    FilterDelta(u64, u64),
    /// `POST /v1/confirm`
    Confirm,
    /// `POST /v1/scan`
    Scan,
    /// `POST /v1/check` (NDJSON, see [`crate::bulk`])
    Check,
    /// `GET /v1/receipts`
    Receipts,
    /// `GET /v1/receipts/key`
    ReceiptKey,
    /// `POST /v1/receipts/verify`
    ReceiptVerify,
    /// `GET /v1/receipts/{id}`
    Receipt(String),
    /// `GET /v1/receipts/{id}/report`
    ReceiptReport(String),
    /// `POST /v1/receipts/{id}/follow-up`
    FollowUp(String),
    /// `GET /v1/stats`
    Stats,
    /// `PUT /v1/admin/index`
    AdminIndex,
    /// `PUT /v1/admin/filter`
    AdminFilter,
    /// `PUT /v1/admin/filter/delta`
    AdminDelta,
    /// `GET /v1/admin/status`
    AdminStatus,
    /// `PUT /v1/admin/tenants/{tenant}`
    AdminTenant(String),
    /// `GET /v1/admin/tenants/{tenant}`
    AdminTenantRead(String),
    /// `POST /v1/admin/tenants/{tenant}/keys`
    AdminKey(String),
    /// `DELETE /v1/admin/keys/{sha256}`
    AdminRevoke(String),
    /// `GET /v1/admin/stats`
    AdminStats,
    /// `POST /v1/admin/backfill`: scan the existing uploads bucket through the queue.
    AdminBackfill,
    /// An upload under the gate prefix, to check and forward.
    Gate,
    /// A request under the gate prefix forwarded unchecked: no body (GET, DELETE, ...) or, when
    /// `GATE_OVERSIZED=forward`, a declared size over the limit.
    GatePass {
        /// The `x-schoon-verdict` to send (`none` or `unchecked`).
        verdict: &'static str,
    },
    /// `OPTIONS` on an API route (CORS preflight).
    Preflight,
}

/// A route and how many body bytes to read for it (0: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The route.
    pub route: Route,
    /// Largest body to read; a longer one is refused with 413.
    pub body_limit: u64,
}

const GET: &[Method] = &[Method::Get, Method::Head];
const POST: &[Method] = &[Method::Post];
const PUT: &[Method] = &[Method::Put];
const DELETE: &[Method] = &[Method::Delete];

fn only(head: &Head, allowed: &'static [Method]) -> Result<(), ApiError> {
    if allowed.contains(&head.method) { Ok(()) } else { Err(ApiError::MethodNotAllowed(allowed)) }
}

fn media(head: &Head, accept: &[&str], what: &str) -> Result<(), ApiError> {
    let found = head.media_type().unwrap_or_default();
    let ok = accept.iter().any(|a| match a.strip_suffix("/*") {
        Some(top) => found.split_once('/').is_some_and(|(t, s)| t == top && !s.is_empty()),
        None => found == *a,
    });
    if ok {
        Ok(())
    } else {
        let shown = if found.is_empty() { "none".to_owned() } else { format!("'{found}'") };
        Err(ApiError::UnsupportedMedia(format!(
            "{what} needs Content-Type {}; got {shown}",
            accept.join(" or ")
        )))
    }
}

fn sized(head: &Head, max: u64, what: &'static str) -> Result<u64, ApiError> {
    match head.content_length() {
        Some(n) if n > max => Err(ApiError::TooLarge { what, max }),
        _ => Ok(max),
    }
}

fn version(s: &str) -> Result<u64, ApiError> {
    s.parse().map_err(|_| ApiError::NotFound(format!("no filter version '{s}'")))
}

/// Picks the route for a request head, or refuses it.
pub fn plan(head: &Head, config: &Config) -> Result<Planned, ApiError> {
    let at = |route: Route| Ok(Planned { route, body_limit: 0 });
    if let Some(gate) = &config.gate {
        let p = head.path.as_str();
        let under = p
            .strip_prefix(gate.prefix.as_str())
            .is_some_and(|r| r.is_empty() || r.starts_with('/'));
        if under {
            if !head.method.has_body() {
                return at(Route::GatePass { verdict: "none" });
            }
            if head.content_length().is_some_and(|n| n > gate.max_bytes) {
                return match gate.oversized {
                    Policy::Forward => at(Route::GatePass { verdict: "unchecked" }),
                    Policy::Reject => {
                        Err(ApiError::TooLarge { what: "upload", max: gate.max_bytes })
                    }
                };
            }
            return Ok(Planned { route: Route::Gate, body_limit: gate.max_bytes });
        }
    }
    let segments: Vec<&str> = head.path.trim_start_matches('/').split('/').collect();
    let Some(rest) = segments.strip_prefix(&["v1"]) else {
        return Err(ApiError::NotFound(format!("no route {}", head.path)));
    };
    if head.method == Method::Options && !rest.is_empty() {
        return at(Route::Preflight);
    }
    let json_body = |route: Route, max: u64, what: &'static str| -> Result<Planned, ApiError> {
        only(head, POST)?;
        media(head, &["application/json"], what)?;
        Ok(Planned { route, body_limit: sized(head, max, what)? })
    };
    let set_upload = |route: Route, what: &'static str| -> Result<Planned, ApiError> {
        only(head, PUT)?;
        media(head, &["application/octet-stream"], what)?;
        Ok(Planned { route, body_limit: sized(head, config.admin_max_bytes, what)? })
    };
    match rest {
        ["health"] => only(head, GET).and_then(|()| at(Route::Health)),
        ["filter"] => only(head, GET).and_then(|()| at(Route::FilterCurrent)),
        ["filter", "meta"] => only(head, GET).and_then(|()| at(Route::FilterMeta)),
        ["filter", "delta", base, v] => {
            only(head, GET)?;
            at(Route::FilterDelta(version(base)?, version(v)?))
        }
        ["filter", v] => {
            only(head, GET)?;
            at(Route::FilterVersion(version(v)?))
        }
        ["confirm"] => json_body(Route::Confirm, config.confirm_max_bytes, "confirm body"),
        ["scan"] => {
            only(head, POST)?;
            media(head, &["image/*", "application/octet-stream"], "scan")?;
            Ok(Planned {
                route: Route::Scan,
                body_limit: sized(head, config.scan_max_bytes, "image")?,
            })
        }
        ["check"] => {
            only(head, POST)?;
            media(head, &[NDJSON], "check")?;
            Ok(Planned {
                route: Route::Check,
                body_limit: sized(head, config.check_max_bytes, "check body")?,
            })
        }
        ["receipts"] => only(head, GET).and_then(|()| at(Route::Receipts)),
        ["receipts", "key"] => only(head, GET).and_then(|()| at(Route::ReceiptKey)),
        ["receipts", "verify"] => json_body(Route::ReceiptVerify, SMALL_JSON, "receipt"),
        ["receipts", id] => only(head, GET).and_then(|()| at(Route::Receipt((*id).to_owned()))),
        ["receipts", id, "report"] => {
            only(head, GET).and_then(|()| at(Route::ReceiptReport((*id).to_owned())))
        }
        ["receipts", id, "follow-up"] => {
            json_body(Route::FollowUp((*id).to_owned()), SMALL_JSON, "follow-up")
        }
        ["stats"] => only(head, GET).and_then(|()| at(Route::Stats)),
        ["admin", "index"] => set_upload(Route::AdminIndex, "index"),
        ["admin", "filter"] => set_upload(Route::AdminFilter, "filter"),
        ["admin", "filter", "delta"] => set_upload(Route::AdminDelta, "filter delta"),
        ["admin", "status"] => only(head, GET).and_then(|()| at(Route::AdminStatus)),
        ["admin", "stats"] => only(head, GET).and_then(|()| at(Route::AdminStats)),
        ["admin", "backfill"] => json_body(Route::AdminBackfill, SMALL_JSON, "backfill"),
        ["admin", "tenants", t] if GET.contains(&head.method) => {
            at(Route::AdminTenantRead((*t).to_owned()))
        }
        ["admin", "tenants", t] => {
            only(head, &[Method::Put, Method::Get, Method::Head])?;
            media(head, &["application/json"], "tenant settings")?;
            Ok(Planned {
                route: Route::AdminTenant((*t).to_owned()),
                body_limit: sized(head, SMALL_JSON, "tenant settings")?,
            })
        }
        ["admin", "tenants", t, "keys"] => {
            json_body(Route::AdminKey((*t).to_owned()), SMALL_JSON, "key request")
        }
        ["admin", "keys", k] => {
            only(head, DELETE).and_then(|()| at(Route::AdminRevoke((*k).to_owned())))
        }
        _ => Err(ApiError::NotFound(format!("no route {}", head.path))),
    }
}

/// Whether a route is readable from any origin (public, no credentials).
fn public_route(route: &Route) -> bool {
    matches!(
        route,
        Route::FilterCurrent
            | Route::FilterMeta
            | Route::FilterVersion(_)
            | Route::FilterDelta(..)
            | Route::ReceiptKey
            | Route::ReceiptVerify
            | Route::Health
    )
}

/// The handler with everything it works with.
#[derive(Debug, Clone, Copy)]
pub struct App<'a, B: Backend> {
    /// The configuration.
    pub config: &'a Config,
    /// This isolate's state.
    pub isolate: &'a Isolate,
    /// The platform.
    pub backend: &'a B,
}

/// The outcome of hashing one upload in gate mode or `/v1/scan`.
struct Checked {
    query: Query,
    matches: Vec<Match>,
    hashes: Value,
    error: Option<schoon_core::Error>,
}

/// A check's result for the verdict JSON.
pub(crate) struct Verdict {
    /// `{verdict, set_version, matches, receipts}`.
    pub(crate) body: Value,
    /// Whether anything matched.
    pub(crate) matched: bool,
    /// The counter flush the check scheduled, if any.
    pub(crate) deferred: Vec<Deferred>,
}

impl<B: Backend> App<'_, B> {
    /// Plans, enforces the body limit and handles (for tests and fuzzing, where the body is
    /// already in memory).
    pub async fn serve(&self, head: &Head, body: Vec<u8>) -> Reply {
        match plan(head, self.config) {
            Err(e) => Reply::respond(e.to_response()),
            Ok(planned) => {
                if body.len() as u64 > planned.body_limit && planned.body_limit > 0 {
                    let what = if planned.route == Route::Gate { "upload" } else { "body" };
                    return Reply::respond(
                        ApiError::TooLarge { what, max: planned.body_limit }.to_response(),
                    );
                }
                self.handle(planned, head, body).await
            }
        }
    }

    /// Handles a planned request with its body (at most `planned.body_limit` bytes).
    pub async fn handle(&self, planned: Planned, head: &Head, body: Vec<u8>) -> Reply {
        let public = public_route(&planned.route);
        let mut reply = match self.dispatch(planned.route, head, body).await {
            Ok(r) => r,
            Err(e) => Reply::respond(e.to_response()),
        };
        let origin = head.header("origin").map(str::to_owned);
        let respond = match &mut reply.outcome {
            Outcome::Respond(r) | Outcome::Blob { head: r, .. } => Some(r),
            _ => None,
        };
        if let (Some(r), Some(origin)) = (respond, origin) {
            if public {
                r.set_header("access-control-allow-origin", "*");
            } else if self.config.cors_allows(&origin) {
                r.set_header("access-control-allow-origin", &origin);
                r.set_header("vary", "Origin");
            }
        }
        reply
    }

    async fn dispatch(&self, route: Route, head: &Head, body: Vec<u8>) -> Result<Reply, ApiError> {
        let json = |status: u16, v: Value| Ok(Reply::respond(Response::json(status, &v)));
        match route {
            Route::Health => self.health().await,
            Route::FilterCurrent => self.filter_current().await,
            Route::FilterMeta => self.filter_meta().await,
            Route::FilterVersion(v) => self.filter_version(head, v).await,
            Route::FilterDelta(base, v) => self.filter_delta(head, base, v).await,
            Route::Confirm => self.confirm(head, &body).await,
            Route::Scan => self.scan(head, &body).await,
            Route::Check => self.bulk_check(head, &body).await,
            Route::Gate => self.gate(head, &body).await,
            Route::GatePass { verdict } => Ok(Reply {
                outcome: Outcome::ForwardUnread(self.forward(head, verdict, None)?),
                deferred: Vec::new(),
            }),
            Route::Preflight => Ok(Reply::respond(self.preflight(head))),
            Route::ReceiptKey => json(200, receipts::issuer_json(self.config)),
            Route::ReceiptVerify => self.receipt_verify(head, &body).await,
            Route::Receipts => self.receipt_list(head).await,
            Route::Receipt(id) => {
                let record = self.owned_receipt(head, &id).await?;
                json(200, receipts::record_json(self.config, &record, self.backend.now_ms()))
            }
            Route::ReceiptReport(id) => {
                let record = self.owned_receipt(head, &id).await?;
                json(200, receipts::report_json(self.config, &record, self.backend.now_ms()))
            }
            Route::FollowUp(id) => self.follow_up(head, &id, &body).await,
            Route::Stats => self.stats(head).await,
            Route::AdminIndex | Route::AdminFilter | Route::AdminDelta => {
                self.admin(head).await?;
                let (a, b, c, i) = (self.backend, self.config, self.isolate, body);
                let (created, v) = match route {
                    Route::AdminIndex => sets::publish_index(a, b, c, i).await?,
                    Route::AdminFilter => sets::publish_filter(a, b, c, i).await?,
                    _ => sets::publish_delta(a, b, c, i).await?,
                };
                json(if created { 201 } else { 200 }, v)
            }
            Route::AdminStatus => {
                self.admin(head).await?;
                self.admin_status().await
            }
            Route::AdminTenant(t) => {
                self.admin(head).await?;
                self.admin_tenant(&t, &body).await
            }
            Route::AdminTenantRead(t) => {
                self.admin(head).await?;
                self.admin_tenant_read(&t).await
            }
            Route::AdminKey(t) => {
                self.admin(head).await?;
                self.admin_key(&t, &body).await
            }
            Route::AdminRevoke(k) => {
                self.admin(head).await?;
                self.admin_revoke(&k).await
            }
            Route::AdminStats => {
                self.admin(head).await?;
                self.admin_stats(head).await
            }
            Route::AdminBackfill => {
                self.admin(head).await?;
                let input = parse_json(&body)?;
                let b = crate::bucket::start_backfill(self.backend, self.config, input).await?;
                json(202, json!({ "backfill": b }))
            }
        }
    }

    // ---- helpers -------------------------------------------------------------------------

    async fn admin(&self, head: &Head) -> Result<(), ApiError> {
        if self.config.admin_key_sha256.is_none() {
            return Err(ApiError::Forbidden(
                "admin routes are off: ADMIN_KEY_SHA256 is not set".into(),
            ));
        }
        auth::authenticate(head, Need::Admin, self.config, self.isolate, self.backend)
            .await
            .map(|_| ())
    }

    /// A tenant allowed to check, after its rate limit.
    async fn checker(&self, head: &Head) -> Result<TenantRecord, ApiError> {
        let p =
            auth::authenticate(head, Need::Check, self.config, self.isolate, self.backend).await?;
        let Principal::Tenant { tenant, .. } = p else {
            return Err(ApiError::Forbidden("the admin key cannot make checks".into()));
        };
        auth::rate_limit(&tenant, self.config, self.isolate, self.backend).await?;
        Ok(tenant)
    }

    /// The server-key tenant (or `None` for the admin) reading receipts and statistics.
    async fn reader(&self, head: &Head) -> Result<Option<TenantRecord>, ApiError> {
        match auth::authenticate(head, Need::Server, self.config, self.isolate, self.backend)
            .await?
        {
            Principal::Admin => Ok(None),
            Principal::Tenant { tenant, .. } => {
                auth::rate_limit(&tenant, self.config, self.isolate, self.backend).await?;
                Ok(Some(tenant))
            }
        }
    }

    fn client_limit(&self, head: &Head, rate: u32) -> Result<(), ApiError> {
        let ip = head.header("cf-connecting-ip").unwrap_or("unknown");
        let burst = (rate / 4).max(10);
        self.isolate
            .take_token(&keys::ip_limit(ip), self.backend.now_ms(), rate, burst)
            .map_err(|retry_after| ApiError::RateLimited { retry_after })
    }

    fn count(&self, tenant: &str, delta: Counts) -> Vec<Deferred> {
        let now = self.backend.now_ms();
        self.isolate.count(tenant, &time::date(now), &delta, now).into_iter().collect()
    }

    /// Writes this isolate's counter shard of a tenant and day (run for a [`Deferred`]).
    pub async fn flush_counters(&self, tenant: &str, day: &str) -> Result<(), ApiError> {
        let now = self.backend.now_ms();
        let Some(counts) = self.isolate.take_flush(tenant, day, now) else { return Ok(()) };
        let text = serde_json::to_string(&counts).map_err(|e| ApiError::Internal(e.to_string()))?;
        let key = keys::count_shard(tenant, day, &self.isolate.id);
        self.backend.kv_put(&key, &text, Some(&text)).await.map_err(ApiError::storage)
    }

    /// Runs deferred work (the adapter calls this inside `waitUntil` after any delay).
    pub async fn run_deferred(&self, deferred: &Deferred) -> Result<(), ApiError> {
        match deferred {
            Deferred::FlushCounters { tenant, day, .. } => self.flush_counters(tenant, day).await,
        }
    }

    fn preflight(&self, head: &Head) -> Response {
        let origin = head.header("origin").unwrap_or_default();
        let mut r = Response::empty(204)
            .with_header("access-control-allow-methods", "GET, HEAD, POST")
            .with_header(
                "access-control-allow-headers",
                "authorization, content-type, x-schoon-url",
            )
            .with_header("access-control-max-age", "86400");
        if self.config.cors_allows(origin) {
            r.set_header("access-control-allow-origin", origin);
            r.set_header("vary", "Origin");
        }
        r
    }

    // ---- checks --------------------------------------------------------------------------

    /// Issues the receipts of a check's matches (with their subject), counts the check and
    /// makes the verdict JSON.
    pub(crate) async fn verdict(
        &self,
        tenant: &str,
        query: &Query,
        matches: &[Match],
        set_version: u64,
        subject: &Subject,
    ) -> Result<Verdict, ApiError> {
        let issued = receipts::issue(
            self.backend,
            self.config,
            tenant,
            query,
            matches,
            set_version,
            subject,
        )
        .await?;
        let id_of = |m: &Match| {
            issued.iter().find(|r| r.kind == m.kind && r.list == m.list).map(|r| r.id.as_str())
        };
        let body = json!({
            "verdict": verdict_of(matches),
            "set_version": set_version,
            "matches": matches.iter().map(|m| match_json(m, id_of(m))).collect::<Vec<_>>(),
            "receipts": issued,
        });
        let matched = !matches.is_empty();
        let deferred = self.count(
            tenant,
            Counts {
                checks: 1,
                matches: u64::from(matched),
                receipts: issued.len() as u64,
                ..Counts::default()
            },
        );
        Ok(Verdict { body, matched, deferred })
    }

    async fn confirm(&self, head: &Head, body: &[u8]) -> Result<Reply, ApiError> {
        let tenant = self.checker(head).await?;
        let hashes = parse_json::<HashesIn>(body)?;
        let (query, windows) = (hashes.to_query()?, hashes.windows()?);
        let subject = hashes.subject()?;
        let loaded = sets::current_index(self.backend, self.config, self.isolate).await?;
        let matches = policy::lookup(
            &tenant.policy,
            &loaded.index,
            &query,
            &windows,
            &self.config.match_options,
        );
        let v =
            self.verdict(&tenant.tenant, &query, &matches, loaded.meta.version, &subject).await?;
        Ok(Reply { outcome: Outcome::Respond(Response::json(200, &v.body)), deferred: v.deferred })
    }

    fn check_bytes(
        &self,
        tenant: &TenantRecord,
        index: &schoon_core::set::Index,
        bytes: &[u8],
    ) -> Checked {
        // As `schoon scan` decides: plain PDQ, then region windows when the index has region
        // hashes and plain PDQ missed (schoon_core::set::lookup_hashed).
        let bucket::Hashed { report, query, matches } =
            bucket::check_bytes(self.config, index, tenant, bytes);
        let image = report.image.as_ref().ok();
        let e = &report.exact;
        let mut hashes = json!({ "bytes": e.bytes, "md5": e.md5.to_hex(), "sha1": e.sha1.to_hex(), "sha256": e.sha256.to_hex() });
        if let (Some(obj), Some(i)) = (hashes.as_object_mut(), image) {
            obj.insert("pdq".into(), json!(i.pdq.hash.to_hex()));
            obj.insert("quality".into(), json!(i.pdq.quality));
            obj.insert("format".into(), json!(i.info.format.name()));
            obj.insert("width".into(), json!(i.info.width));
            obj.insert("height".into(), json!(i.info.height));
        }
        Checked { query, matches, hashes, error: report.image.err() }
    }

    async fn scan(&self, head: &Head, body: &[u8]) -> Result<Reply, ApiError> {
        let tenant = self.checker(head).await?;
        let subject = query::subject(None, head.header("x-schoon-url"))?;
        let loaded = sets::current_index(self.backend, self.config, self.isolate).await?;
        let checked = self.check_bytes(&tenant, &loaded.index, body);
        let version = loaded.meta.version;
        let mut v = self
            .verdict(&tenant.tenant, &checked.query, &checked.matches, version, &subject)
            .await?;
        if let Some(obj) = v.body.as_object_mut() {
            obj.insert("hashes".into(), checked.hashes);
        }
        // A match stands even if the image did not decode (exact hashes always count); a clean
        // verdict without PDQ is answered with the decoding error's status.
        let status = match (&checked.error, v.matched) {
            (Some(e), false) => {
                let err = ApiError::Core(e.clone());
                if let Some(obj) = v.body.as_object_mut() {
                    obj.insert("checked".into(), json!(["md5", "sha1", "sha256"]));
                    obj.insert(
                        "error".into(),
                        json!({ "status": crate::error::status_for(&err), "code": crate::error::code_for(&err), "message": err.to_string() }),
                    );
                }
                crate::error::status_for(&err)
            }
            _ => 200,
        };
        Ok(Reply {
            outcome: Outcome::Respond(Response::json(status, &v.body)),
            deferred: v.deferred,
        })
    }

    fn forward(
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

    async fn gate(&self, head: &Head, body: &[u8]) -> Result<Reply, ApiError> {
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
            let c = self.check_bytes(&tenant, &loaded.index, item);
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
                let field = |name: &str| v.body.get(name).cloned().unwrap_or_default();
                all_matches.extend(field("matches").as_array().cloned().unwrap_or_default());
                all_receipts.extend(
                    serde_json::from_value::<Vec<Receipt>>(field("receipts")).unwrap_or_default(),
                );
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

    async fn health(&self) -> Result<Reply, ApiError> {
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

    async fn current_filter(&self) -> Result<ArtifactMeta, ApiError> {
        let pointer = sets::pointer(self.backend, self.config, self.isolate).await?;
        pointer.filter.clone().ok_or_else(|| ApiError::Unavailable {
            reason: "no filter published yet (PUT /v1/admin/filter)".into(),
            retry_after: Some(60),
        })
    }

    async fn filter_current(&self) -> Result<Reply, ApiError> {
        let meta = self.current_filter().await?;
        Ok(Reply::respond(
            Response::empty(302)
                .with_header("location", &format!("/v1/filter/{}", meta.version))
                .with_header("cache-control", "public, max-age=60"),
        ))
    }

    async fn filter_meta(&self) -> Result<Reply, ApiError> {
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

    async fn artifact_record(&self, key: &str) -> Result<Option<ArtifactMeta>, ApiError> {
        match self.backend.kv_get(key).await.map_err(ApiError::storage)? {
            None => Ok(None),
            Some(t) => serde_json::from_str(&t)
                .map(Some)
                .map_err(|e| ApiError::Internal(format!("stored record {key} is unreadable: {e}"))),
        }
    }

    fn serve_immutable(head: &Head, meta: &ArtifactMeta) -> Reply {
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

    async fn filter_version(&self, head: &Head, version: u64) -> Result<Reply, ApiError> {
        let pointer = sets::pointer(self.backend, self.config, self.isolate).await?;
        let meta = match pointer.filter.as_ref().filter(|f| f.version == version) {
            Some(m) => Some(m.clone()),
            None => self.artifact_record(&keys::filter_record(version)).await?,
        };
        let meta =
            meta.ok_or_else(|| ApiError::NotFound(format!("no filter version {version}")))?;
        Ok(Self::serve_immutable(head, &meta))
    }

    async fn filter_delta(&self, head: &Head, base: u64, version: u64) -> Result<Reply, ApiError> {
        let meta = self
            .artifact_record(&keys::delta_record(base, version))
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no filter delta {base} -> {version}")))?;
        Ok(Self::serve_immutable(head, &meta))
    }

    // ---- receipts ------------------------------------------------------------------------

    async fn receipt_verify(&self, head: &Head, body: &[u8]) -> Result<Reply, ApiError> {
        self.client_limit(head, self.config.rate_per_minute)?;
        let receipt: Receipt = parse_json(body)?;
        let mut v = receipts::verification(self.config, &receipt);
        let stored = receipts::load(self.backend, &receipt.id).await?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("stored".into(), json!(stored.is_some_and(|r| r.receipt == receipt)));
            obj.insert(
                "key_id".into(),
                json!(schoon_core::hex::encode(&self.config.receipt_key.public_key().key_id())),
            );
        }
        Ok(Reply::respond(Response::json(200, &v)))
    }

    async fn owned_receipt(&self, head: &Head, id: &str) -> Result<receipts::Record, ApiError> {
        let tenant = self.reader(head).await?;
        let record = receipts::load(self.backend, id).await?;
        match (record, tenant) {
            (Some(r), None) => Ok(r),
            (Some(r), Some(t)) if r.receipt.tenant == t.tenant => Ok(r),
            _ => Err(ApiError::NotFound(format!("no receipt '{id}'"))),
        }
    }

    async fn follow_up(&self, head: &Head, id: &str, body: &[u8]) -> Result<Reply, ApiError> {
        let record = self.owned_receipt(head, id).await?;
        let input: receipts::FollowUpIn = parse_json(body)?;
        let status = input.status;
        let record = receipts::follow_up(self.backend, record, input).await?;
        let delta = Counts {
            removed: u64::from(status == Status::Removed),
            disputed: u64::from(status == Status::Disputed),
            ..Counts::default()
        };
        let deferred = self.count(&record.receipt.tenant, delta);
        let body = receipts::record_json(self.config, &record, self.backend.now_ms());
        Ok(Reply { outcome: Outcome::Respond(Response::json(200, &body)), deferred })
    }

    fn wants_csv(head: &Head) -> bool {
        head.param("format").as_deref() == Some("csv")
            || head.header("accept").is_some_and(|a| a.contains("text/csv"))
    }

    /// `include=followup`: the CSV exports add the follow-up verification columns.
    fn wants_followup(head: &Head) -> bool {
        head.param("include").is_some_and(|v| v.split(',').any(|p| p == "followup"))
    }

    fn csv(text: String, name: &str) -> Reply {
        Reply::respond(
            Response::text(200, "text/csv; charset=utf-8", text)
                .with_header("content-disposition", &format!("attachment; filename=\"{name}\"")),
        )
    }

    fn tenant_param(head: &Head, tenant: Option<TenantRecord>) -> Result<String, ApiError> {
        match tenant {
            Some(t) => Ok(t.tenant),
            None => head
                .param("tenant")
                .filter(|t| valid_tenant(t))
                .ok_or_else(|| ApiError::Invalid("the admin names the tenant: ?tenant=ID".into())),
        }
    }

    async fn receipt_list(&self, head: &Head) -> Result<Reply, ApiError> {
        let tenant = Self::tenant_param(head, self.reader(head).await?)?;
        let status = match head.param("status").as_deref() {
            None | Some("") | Some("all") => None,
            Some("open") => Some(Status::Open),
            Some("removed") => Some(Status::Removed),
            Some("disputed") => Some(Status::Disputed),
            Some(s) => {
                return Err(ApiError::Invalid(format!(
                    "status '{s}': expected open, removed, disputed or all"
                )));
            }
        };
        let number = |name: &str| -> Result<Option<u64>, ApiError> {
            head.param(name)
                .map(|v| {
                    v.parse()
                        .map_err(|_| ApiError::Invalid(format!("{name} '{v}' is not a number")))
                })
                .transpose()
        };
        let older_than_s = match head.param("overdue").as_deref() {
            Some("true" | "1") => Some(self.config.open_receipt_seconds),
            _ => number("older_than")?,
        };
        let limit = number("limit")?.unwrap_or(1000).min(1000) as u32;
        let verified = receipts::verified_filter(head.param("verification").as_deref())?;
        let filter = ListFilter { status, older_than_s, verified };
        let cursor = head.param("cursor");
        let (entries, next) =
            receipts::list(self.backend, &tenant, &filter, cursor.as_deref(), limit).await?;
        let now = self.backend.now_ms();
        if Self::wants_csv(head) {
            return Ok(Self::csv(
                receipts::entries_csv(self.config, &entries, now, Self::wants_followup(head)),
                &format!("receipts-{tenant}.csv"),
            ));
        }
        let list: Vec<Value> =
            entries.iter().map(|e| receipts::entry_json(self.config, e, now)).collect();
        Ok(Reply::respond(Response::json(
            200,
            &json!({ "tenant": tenant, "receipts": list, "cursor": next }),
        )))
    }

    /// A tenant's counters by day: every isolate's shards from KV, this isolate's from memory.
    async fn counts_by_day(
        &self,
        tenant: &str,
    ) -> Result<(BTreeMap<String, Counts>, bool), ApiError> {
        let mut days: BTreeMap<String, Counts> = BTreeMap::new();
        let mut cursor: Option<String> = None;
        let mut truncated = false;
        for page_no in 0..MAX_PAGES {
            let page = self
                .backend
                .kv_list(&keys::count_prefix(tenant), cursor.as_deref(), 1000)
                .await
                .map_err(ApiError::storage)?;
            for (key, meta) in &page.keys {
                let Some((day, isolate)) = keys::parse_count_shard(tenant, key) else { continue };
                if isolate == self.isolate.id {
                    continue;
                }
                if let Some(c) =
                    meta.as_deref().and_then(|m| serde_json::from_str::<Counts>(m).ok())
                {
                    days.entry(day.to_owned()).or_default().add(&c);
                }
            }
            cursor = page.cursor;
            if cursor.is_none() {
                break;
            }
            truncated = page_no + 1 == MAX_PAGES;
        }
        for (day, c) in self.isolate.counts_of(tenant) {
            days.entry(day).or_default().add(&c);
        }
        Ok((days, truncated))
    }

    /// Open and overdue receipts of a tenant by issue day.
    async fn open_by_day(
        &self,
        tenant: &str,
    ) -> Result<(BTreeMap<String, (u64, u64)>, bool), ApiError> {
        let now = self.backend.now_ms();
        let mut days: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut cursor: Option<String> = None;
        let mut truncated = false;
        let open = ListFilter { status: Some(Status::Open), ..ListFilter::default() };
        for page_no in 0..MAX_PAGES {
            let (entries, next) =
                receipts::list(self.backend, tenant, &open, cursor.as_deref(), 1000).await?;
            for e in entries {
                let slot = days.entry(time::date(e.issued)).or_default();
                slot.0 += 1;
                slot.1 += u64::from(receipts::overdue(self.config, e.status, e.issued, now, None));
            }
            cursor = next;
            if cursor.is_none() {
                break;
            }
            truncated = page_no + 1 == MAX_PAGES;
        }
        Ok((days, truncated))
    }

    async fn tenant_summary(&self, tenant: &str) -> Result<(Value, Vec<Vec<String>>), ApiError> {
        let (counts, counts_truncated) = self.counts_by_day(tenant).await?;
        let (open, open_truncated) = self.open_by_day(tenant).await?;
        let mut total = Counts::default();
        counts.values().for_each(|c| total.add(c));
        let (open_total, overdue_total) =
            open.values().fold((0, 0), |(a, b), (o, d)| (a + o, b + d));
        let mut all_days: Vec<&String> = counts.keys().chain(open.keys()).collect();
        all_days.sort();
        all_days.dedup();
        let row = |day: &str, c: &Counts, o: (u64, u64)| {
            vec![
                tenant.to_owned(),
                day.to_owned(),
                c.checks.to_string(),
                c.matches.to_string(),
                c.receipts.to_string(),
                c.removed.to_string(),
                c.disputed.to_string(),
                o.0.to_string(),
                o.1.to_string(),
            ]
        };
        let (figures, figures_total, figures_truncated) =
            crate::followup::tenant_figures(self.backend, self.config, tenant, MAX_PAGES).await?;
        let mut rows: Vec<Vec<String>> = all_days
            .iter()
            .map(|d| {
                let mut r = row(
                    d,
                    counts.get(*d).unwrap_or(&Counts::default()),
                    open.get(*d).copied().unwrap_or_default(),
                );
                r.extend(figures.get(*d).cloned().unwrap_or_default().cells());
                r
            })
            .collect();
        let mut total_row = row("total", &total, (open_total, overdue_total));
        total_row.extend(figures_total.cells());
        rows.push(total_row);
        let by_day: Vec<Value> = all_days
            .iter()
            .map(|d| {
                let c = counts.get(*d).copied().unwrap_or_default();
                let o = open.get(*d).copied().unwrap_or_default();
                let f = figures.get(*d).cloned().unwrap_or_default();
                json!({ "day": d, "checks": c.checks, "matches": c.matches, "receipts": c.receipts, "removed": c.removed, "disputed": c.disputed, "open": o.0, "overdue": o.1, "follow_up": f })
            })
            .collect();
        let bucket = match self.config.bucket.as_ref().filter(|b| b.tenant == tenant) {
            Some(_) => {
                crate::bucket::progress_json(self.backend, self.isolate, self.config, &total)
                    .await?
            }
            None => None,
        };
        let mut v = json!({
            "tenant": tenant,
            "counters": total,
            "receipts": {
                "open": open_total,
                "overdue": overdue_total,
                "overdue_after_seconds": self.config.open_receipt_seconds,
            },
            "by_day": by_day,
            "truncated": counts_truncated || open_truncated || figures_truncated,
        });
        if let Some(obj) = v.as_object_mut() {
            obj.insert(
                "follow_up".into(),
                crate::followup::figures_json(self.config, &figures_total),
            );
            if let Some(b) = bucket {
                obj.insert("bucket".into(), b);
            }
        }
        Ok((v, rows))
    }

    /// The statistics CSV; `followup` adds the columns of [`crate::followup::CSV_COLUMNS`].
    fn rows_csv(rows: &[Vec<String>], followup: bool) -> String {
        let mut out =
            String::from("tenant,day,checks,matches,receipts,removed,disputed,open,overdue");
        if followup {
            out.push(',');
            out.push_str(crate::followup::CSV_COLUMNS);
        }
        out.push_str("\r\n");
        for r in rows {
            let shown = if followup { r.len() } else { r.len().min(9) };
            let cells: Vec<String> = r.iter().take(shown).map(|c| receipts::csv_cell(c)).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }

    async fn stats(&self, head: &Head) -> Result<Reply, ApiError> {
        let tenant = Self::tenant_param(head, self.reader(head).await?)?;
        let (v, rows) = self.tenant_summary(&tenant).await?;
        if Self::wants_csv(head) {
            let text = Self::rows_csv(&rows, Self::wants_followup(head));
            return Ok(Self::csv(text, &format!("stats-{tenant}.csv")));
        }
        Ok(Reply::respond(Response::json(200, &v)))
    }

    // ---- admin ---------------------------------------------------------------------------

    async fn admin_status(&self) -> Result<Reply, ApiError> {
        let pointer = sets::read_pointer(self.backend).await?;
        let held = self.isolate.index().map(|l| {
            json!({
                "version": l.meta.version,
                "memory_bytes": l.index.memory_bytes(),
                "multi_index": l.index.uses_mih(),
                "entries": {
                    "md5": l.index.count(schoon_core::set::HashKind::Md5),
                    "sha1": l.index.count(schoon_core::set::HashKind::Sha1),
                    "sha256": l.index.count(schoon_core::set::HashKind::Sha256),
                    "pdq": l.index.count(schoon_core::set::HashKind::Pdq) - l.index.region_count(),
                    "regions": l.index.region_count(),
                },
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

    async fn admin_tenant(&self, tenant: &str, body: &[u8]) -> Result<Reply, ApiError> {
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
            policy.check(loaded.index.lists(), self.config.match_options.threshold)?
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
    async fn admin_tenant_read(&self, tenant: &str) -> Result<Reply, ApiError> {
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
            let missing = loaded.as_ref().map(|l| record.policy.missing(l.index.lists()));
            obj.insert("policy_missing".into(), json!(missing));
            obj.insert("set_version".into(), json!(loaded.map(|l| l.meta.version)));
        }
        Ok(Reply::respond(Response::json(200, &v)))
    }

    async fn admin_key(&self, tenant: &str, body: &[u8]) -> Result<Reply, ApiError> {
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

    async fn admin_revoke(&self, key_sha256: &str) -> Result<Reply, ApiError> {
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

    async fn admin_stats(&self, head: &Head) -> Result<Reply, ApiError> {
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
pub fn wasm_memory_bytes() -> Option<u64> {
    #[cfg(target_arch = "wasm32")]
    {
        Some(core::arch::wasm32::memory_size(0) as u64 * 65_536)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}
