//! Routing: request head and body in, [`Reply`] out. The handlers of the routes are methods of
//! [`App`] in `handlers/` (one file per area) and `bulk.rs`; this file plans, authenticates,
//! counts and dispatches.
//!
//! [`plan`] is pure: from the head alone it picks the route and refuses wrong methods (405),
//! media types (415) and declared sizes (413) before any body is read. [`App::handle`] then runs
//! the route against a [`Backend`]; every error becomes a JSON response through
//! [`ApiError::to_response`], so nothing a request carries can end in a panic or a bare 500.
//! [`App::serve`] does both for native tests and fuzzing.

use schoon_core::receipt::Receipt;
use schoon_core::set::{Match, Query};
use serde_json::{Value, json};

use crate::auth::{self, Need};
use crate::backend::Backend;
use crate::config::{Config, Policy};
use crate::counters::Counts;
use crate::error::ApiError;
use crate::http::{Deferred, Head, Method, NDJSON, Outcome, Reply, Response};
use crate::isolate::Isolate;
use crate::keys;
use crate::query::{match_json, parse_json, verdict_of};
use crate::receipts;
use crate::sets;
use crate::shards;
use crate::subject::Subject;
use crate::tenant::{Principal, TenantRecord};
use crate::time;

/// Body limit of small JSON routes (follow-ups, receipt verification, tenant settings).
const SMALL_JSON: u64 = 16 * 1024;

/// Pages of 1000 keys read at most for one statistics answer.
pub(crate) const MAX_PAGES: usize = 10;

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
    /// `PUT /v1/admin/shards/{n}`: one shard of a sharded index.
    AdminShard(u32),
    /// `PUT /v1/admin/shards/manifest`: a sharded index's manifest (makes it current).
    AdminShardManifest,
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
        ["admin", "shards", "manifest"] => set_upload(Route::AdminShardManifest, "shard manifest"),
        ["admin", "shards", n] => {
            let n = n.parse::<u32>().map_err(|_| {
                ApiError::NotFound(format!(
                    "no route /v1/admin/shards/{n}: a shard number (0 to 4095) or manifest"
                ))
            })?;
            set_upload(Route::AdminShard(n), "index shard")
        }
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

/// The JSON of a check's verdict: `/v1/confirm`, and the core of `/v1/scan`, of each line of
/// `/v1/check` and of gate mode's 451.
#[derive(Debug, serde::Serialize)]
pub(crate) struct VerdictBody {
    /// `match` or `clean`.
    pub(crate) verdict: &'static str,
    /// The version of the set that decided.
    pub(crate) set_version: u64,
    /// The matches, as the core's wire module writes them (with their receipt ids).
    pub(crate) matches: Vec<Value>,
    /// The receipts issued (left out where a caller omits them for a clean line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) receipts: Option<Vec<Receipt>>,
}

/// A check's result.
pub(crate) struct Verdict {
    /// What to answer.
    pub(crate) body: VerdictBody,
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

    pub(crate) async fn dispatch(
        &self,
        route: Route,
        head: &Head,
        body: Vec<u8>,
    ) -> Result<Reply, ApiError> {
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
            Route::AdminShard(n) => {
                self.admin(head).await?;
                let (created, v) =
                    shards::publish_shard(self.backend, self.config, n, body).await?;
                json(if created { 201 } else { 200 }, v)
            }
            Route::AdminShardManifest => {
                self.admin(head).await?;
                let (created, v) =
                    shards::publish_manifest(self.backend, self.config, self.isolate, body).await?;
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
                let b = crate::backfill::start_backfill(self.backend, self.config, input).await?;
                json(202, json!({ "backfill": b }))
            }
        }
    }

    // ---- helpers -------------------------------------------------------------------------

    pub(crate) async fn admin(&self, head: &Head) -> Result<(), ApiError> {
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
    pub(crate) async fn checker(&self, head: &Head) -> Result<TenantRecord, ApiError> {
        let p =
            auth::authenticate(head, Need::Check, self.config, self.isolate, self.backend).await?;
        let Principal::Tenant { tenant, .. } = p else {
            return Err(ApiError::Forbidden("the admin key cannot make checks".into()));
        };
        auth::rate_limit(&tenant, self.config, self.isolate, self.backend).await?;
        Ok(tenant)
    }

    /// The server-key tenant (or `None` for the admin) reading receipts and statistics.
    pub(crate) async fn reader(&self, head: &Head) -> Result<Option<TenantRecord>, ApiError> {
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

    pub(crate) fn client_limit(&self, head: &Head, rate: u32) -> Result<(), ApiError> {
        let ip = head.header("cf-connecting-ip").unwrap_or("unknown");
        let burst = (rate / 4).max(10);
        self.isolate
            .take_token(&keys::ip_limit(ip), self.backend.now_ms(), rate, burst)
            .map_err(|retry_after| ApiError::RateLimited { retry_after })
    }

    pub(crate) fn count(&self, tenant: &str, delta: Counts) -> Vec<Deferred> {
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

    pub(crate) fn preflight(&self, head: &Head) -> Response {
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
        let matches_json = matches.iter().map(|m| match_json(m, id_of(m))).collect();
        let issued_count = issued.len() as u64;
        let body = VerdictBody {
            verdict: verdict_of(matches),
            set_version,
            matches: matches_json,
            receipts: Some(issued),
        };
        let matched = !matches.is_empty();
        let deferred = self.count(
            tenant,
            Counts {
                checks: 1,
                matches: u64::from(matched),
                receipts: issued_count,
                ..Counts::default()
            },
        );
        Ok(Verdict { body, matched, deferred })
    }
}
