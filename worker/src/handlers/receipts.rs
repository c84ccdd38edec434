//! The receipt routes: verification, reading, follow-ups and the listing (JSON or CSV).

use schoon_core::receipt::Receipt;
use serde_json::{Value, json};

use crate::app::App;
use crate::backend::Backend;
use crate::config::valid_tenant;
use crate::counters::Counts;
use crate::error::ApiError;
use crate::http::{Head, Outcome, Reply, Response};
use crate::query::parse_json;
use crate::receipts::{self, ListFilter, Status};
use crate::tenant::TenantRecord;

impl<B: Backend> App<'_, B> {
    pub(crate) async fn receipt_verify(&self, head: &Head, body: &[u8]) -> Result<Reply, ApiError> {
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

    pub(crate) async fn owned_receipt(
        &self,
        head: &Head,
        id: &str,
    ) -> Result<receipts::Record, ApiError> {
        let tenant = self.reader(head).await?;
        let record = receipts::load(self.backend, id).await?;
        match (record, tenant) {
            (Some(r), None) => Ok(r),
            (Some(r), Some(t)) if r.receipt.tenant == t.tenant => Ok(r),
            _ => Err(ApiError::NotFound(format!("no receipt '{id}'"))),
        }
    }

    pub(crate) async fn follow_up(
        &self,
        head: &Head,
        id: &str,
        body: &[u8],
    ) -> Result<Reply, ApiError> {
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

    pub(crate) fn wants_csv(head: &Head) -> bool {
        head.param("format").as_deref() == Some("csv")
            || head.header("accept").is_some_and(|a| a.contains("text/csv"))
    }

    /// `include=followup`: the CSV exports add the follow-up verification columns.
    pub(crate) fn wants_followup(head: &Head) -> bool {
        head.param("include").is_some_and(|v| v.split(',').any(|p| p == "followup"))
    }

    pub(crate) fn csv(text: String, name: &str) -> Reply {
        Reply::respond(
            Response::text(200, "text/csv; charset=utf-8", text)
                .with_header("content-disposition", &format!("attachment; filename=\"{name}\"")),
        )
    }

    pub(crate) fn tenant_param(
        head: &Head,
        tenant: Option<TenantRecord>,
    ) -> Result<String, ApiError> {
        match tenant {
            Some(t) => Ok(t.tenant),
            None => head
                .param("tenant")
                .filter(|t| valid_tenant(t))
                .ok_or_else(|| ApiError::Invalid("the admin names the tenant: ?tenant=ID".into())),
        }
    }

    pub(crate) async fn receipt_list(&self, head: &Head) -> Result<Reply, ApiError> {
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
}
