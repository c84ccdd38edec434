//! Statistics of a tenant: counts and open receipts per day, and the summary (JSON or CSV).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::app::{App, MAX_PAGES};
use crate::backend::Backend;
use crate::counters::Counts;
use crate::error::ApiError;
use crate::http::{Head, Reply, Response};
use crate::keys;
use crate::receipts::{self, ListFilter, Status};
use crate::time;

impl<B: Backend> App<'_, B> {
    /// A tenant's counters by day: every isolate's shards from KV, this isolate's from memory.
    pub(crate) async fn counts_by_day(
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
    pub(crate) async fn open_by_day(
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

    pub(crate) async fn tenant_summary(
        &self,
        tenant: &str,
    ) -> Result<(Value, Vec<Vec<String>>), ApiError> {
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
                crate::backfill::progress_json(self.backend, self.isolate, self.config, &total)
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
    pub(crate) fn rows_csv(rows: &[Vec<String>], followup: bool) -> String {
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

    pub(crate) async fn stats(&self, head: &Head) -> Result<Reply, ApiError> {
        let tenant = Self::tenant_param(head, self.reader(head).await?)?;
        let (v, rows) = self.tenant_summary(&tenant).await?;
        if Self::wants_csv(head) {
            let text = Self::rows_csv(&rows, Self::wants_followup(head));
            return Ok(Self::csv(text, &format!("stats-{tenant}.csv")));
        }
        Ok(Reply::respond(Response::json(200, &v)))
    }

    // ---- admin ---------------------------------------------------------------------------
}
