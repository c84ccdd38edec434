//! Bucket scanning (queue consumer, dead-letter consumer, backfill) and the follow-up
//! verification job, natively against the in-memory backend: every outcome and its record,
//! counters and statistics.
//!
//! Over 600 lines: one state machine (message, check, record, retry, dead letter, backfill,
//! follow-up) tested through each of its outcomes on one in-memory backend.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // tests

use schoon_core::ExactHashes;
use schoon_core::set::{BuildInfo, FilterParams, ListInfo, SetBuilder};
use schoon_worker::backend::{Fetched, MemoryBackend, block_on};
use schoon_worker::bucket::{Ack, ObjectRecord, Scanner, State};
use schoon_worker::followup::{self, RunReport};
use schoon_worker::http::{Head, Method};
use schoon_worker::keys;
use schoon_worker::receipts::{self, Record, Verified};
use serde_json::{Value, json};

mod common;
use common::{ADMIN, Env, NOW, fixture};
const BUCKET: &str = "uploads-bucket";
const QUEUE: &str = "schoon-scan";
const DLQ: &str = "schoon-scan-dlq";

/// The listed image: its SHA-256 and its fast PDQ are in the set.
fn listed() -> Vec<u8> {
    fixture("scene-baseline-420.jpg")
}

impl Env {
    /// A worker with bucket scanning on (the uploads bucket, tenant `host`), then `extra`.
    fn bucket(extra: &[(&str, &str)]) -> Env {
        let mut vars: Vec<(&str, &str)> = vec![
            ("UPLOADS_BUCKET", BUCKET),
            ("BUCKET_TENANT", "host"),
            ("SCAN_RETRY_SECONDS", "5"),
            ("OPEN_RECEIPT_SECONDS", "60"),
            ("SCAN_MAX_BYTES", "200000"),
        ];
        vars.extend_from_slice(extra);
        Env::new(&vars)
    }

    fn scanner(&self) -> Scanner<'_, MemoryBackend> {
        Scanner { config: &self.config, isolate: &self.isolate, backend: &self.backend }
    }

    /// A request whose deferred work (counter flushes) runs at once.
    fn call_now(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let reply = self.call_reply(method, path, key, body.clone());
        self.flush(&reply.deferred);
        let r = reply.outcome.response().unwrap();
        let body = if r.header("content-type").is_some_and(|c| c.starts_with("text/csv")) {
            Value::String(String::from_utf8(r.body.clone()).unwrap())
        } else {
            r.json_body()
        };
        (r.status, body)
    }

    fn publish(&self) {
        let mut b = SetBuilder::new();
        let list = b.add_list(ListInfo::new("native", "test", "tests/bucket.rs")).unwrap();
        b.add_sha256(list, ExactHashes::of(&listed()).sha256);
        b.add_pdq(
            list,
            "970bec4cb5498ded270e9509b84f3179886d273ebcccba4463cecac16ac47ad2".parse().unwrap(),
            Some(100),
        );
        let info =
            BuildInfo { set_version: 1, created: NOW / 1000, signing_key: Some(&self.set_key) };
        let (index, filter) =
            b.build_both(&FilterParams { salt: 3, ..Default::default() }, &info).unwrap();
        for (path, bytes) in [("/v1/admin/index", index), ("/v1/admin/filter", filter)] {
            let head = Head::new(Method::Put, path)
                .with_header("authorization", &format!("Bearer {ADMIN}"))
                .with_header("content-type", "application/octet-stream");
            let reply = block_on(self.app().serve(&head, bytes)).unwrap();
            assert_eq!(reply.outcome.response().unwrap().status, 201);
        }
    }

    fn handle(&self, queue: &str, body: &str) -> Ack {
        let (ack, deferred) = block_on(self.scanner().handle(queue, body)).unwrap();
        self.flush(&deferred);
        ack
    }

    fn put_event(&self, key: &str) -> Ack {
        self.handle(QUEUE, &notification("PutObject", BUCKET, key))
    }

    fn record(&self, key: &str) -> ObjectRecord {
        let text = self.backend.kv_value(&keys::scan_object(BUCKET, key)).expect("a record");
        serde_json::from_str(&text).unwrap()
    }

    fn receipt(&self, id: &str) -> Record {
        block_on(receipts::load(&self.backend, id)).unwrap().unwrap().unwrap()
    }

    /// Runs the scan queue until it is empty (messages from backfills); returns how many ran.
    fn drain(&self) -> usize {
        let mut n = 0;
        loop {
            let batch = self.backend.take_queue();
            if batch.is_empty() {
                return n;
            }
            for (text, _) in batch {
                assert_eq!(self.handle(QUEUE, &text), Ack::Ack, "{text}");
                n += 1;
            }
        }
    }

    fn stats(&self) -> Value {
        let (s, v) = self.call_now(Method::Get, "/v1/stats?tenant=host", Some(ADMIN), None);
        assert_eq!(s, 200, "{v}");
        v
    }
}

fn notification(action: &str, bucket: &str, key: &str) -> String {
    json!({
        "account": "3f4b7e3dcab231cbfdaa90a6a28bd548",
        "action": action,
        "bucket": bucket,
        "object": { "key": key, "size": 1, "eTag": "e" },
        "eventTime": "2026-12-04T12:00:00.000Z",
    })
    .to_string()
}

#[test]
fn notifications_are_checked_and_recorded() {
    let env = Env::bucket(&[]);
    env.publish();
    let objects: [(&str, Vec<u8>); 6] = [
        ("clean.png", fixture("small-160x120.bmp")),
        ("listed.jpg", listed()),
        ("corrupt.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 then nothing".to_vec()),
        ("scan.tif", b"II*\x00 a TIFF header and nothing else".to_vec()),
        ("large.jpg", vec![0u8; 200_001]),
        ("tiny.png", fixture("tiny-4x4.png")),
    ];
    for (key, bytes) in &objects {
        env.backend.put_upload(key, bytes);
        assert_eq!(env.put_event(key), Ack::Ack, "{key}");
    }
    let clean = env.record("clean.png");
    assert_eq!((clean.state, clean.verdict.as_deref()), (State::Checked, Some("clean")));
    assert!(clean.receipts.is_empty() && clean.etag.is_some());

    let hit = env.record("listed.jpg");
    assert_eq!((hit.state, hit.verdict.as_deref()), (State::Checked, Some("match")));
    assert_eq!(hit.receipts.len(), 2, "sha256 and pdq");
    for id in &hit.receipts {
        let r = env.receipt(id);
        assert_eq!(r.receipt.tenant, "host");
        assert_eq!(r.subject.bucket.as_deref(), Some(BUCKET));
        assert_eq!(r.subject.key.as_deref(), Some("listed.jpg"));
        assert!(r.receipt.verify(&env.config.receipt_key.public_key()).is_ok());
    }

    let corrupt = env.record("corrupt.jpg");
    assert_eq!((corrupt.state, corrupt.reason.as_deref()), (State::Failed, Some("corrupt")));
    assert!(corrupt.detail.is_some());
    let text = env.record("scan.tif");
    assert_eq!((text.state, text.reason.as_deref()), (State::Failed, Some("unsupported")));
    let large = env.record("large.jpg");
    assert_eq!((large.state, large.reason.as_deref()), (State::Failed, Some("too_large")));
    assert!(large.detail.unwrap().contains("200001 bytes"));
    let tiny = env.record("tiny.png");
    assert_eq!(tiny.state, State::Checked, "a tiny image is hashed (low quality): {tiny:?}");

    // A redelivered message (same etag) issues nothing new.
    let etag = env.record("listed.jpg").etag.unwrap();
    let again = json!({"schoon": "object", "bucket": BUCKET, "key": "listed.jpg", "etag": etag});
    assert_eq!(env.handle(QUEUE, &again.to_string()), Ack::Ack);
    assert_eq!(env.record("listed.jpg").receipts, hit.receipts);

    let v = env.stats();
    let c = &v["counters"];
    assert_eq!((c["objects_checked"].as_u64(), c["objects_failed"].as_u64()), (Some(3), Some(3)));
    assert_eq!(
        (c["checks"].as_u64(), c["matches"].as_u64(), c["receipts"].as_u64()),
        (Some(5), Some(1), Some(2))
    );
    assert_eq!(v["bucket"]["checked"], 3);
    assert_eq!(v["bucket"]["failed"], 3);
    assert_eq!(v["follow_up"]["hits"], 2);
}

#[test]
fn deletions_unknown_buckets_and_bad_messages_are_skipped() {
    let env = Env::bucket(&[]);
    env.publish();
    env.backend.put_upload("a.png", &fixture("small-160x120.bmp"));
    assert_eq!(env.put_event("a.png"), Ack::Ack);
    env.backend.delete_upload("a.png");
    assert_eq!(env.handle(QUEUE, &notification("DeleteObject", BUCKET, "a.png")), Ack::Ack);
    let r = env.record("a.png");
    assert_eq!(
        (r.state, r.reason.as_deref(), r.verdict.as_deref()),
        (State::Skipped, Some("deleted"), Some("clean"))
    );

    assert_eq!(env.handle(QUEUE, &notification("PutObject", "someone-else", "b.png")), Ack::Ack);
    let text = env.backend.kv_value(&keys::scan_object("someone-else", "b.png")).unwrap();
    assert!(text.contains("\"unknown_bucket\""), "{text}");

    // Deleted before the consumer got to it.
    assert_eq!(env.put_event("never-there.png"), Ack::Ack);
    assert_eq!(env.record("never-there.png").reason.as_deref(), Some("gone"));

    for bad in ["not json", "{\"schoon\": \"nonsense\"}", "{\"action\": 3}"] {
        assert_eq!(env.handle(QUEUE, bad), Ack::Ack, "{bad}");
    }
    assert_eq!(env.stats()["counters"]["objects_skipped"], 6);
}

#[test]
fn unavailable_storage_and_index_are_retried_with_backoff_then_dead_lettered() {
    let env = Env::bucket(&[]);
    env.backend.put_upload("x.jpg", &listed());
    // No index published yet: retried, 5 s, then 10, 20 s.
    let delays: Vec<Ack> = (0..3).map(|_| env.put_event("x.jpg")).collect();
    assert_eq!(delays, [Ack::Retry(5), Ack::Retry(10), Ack::Retry(20)]);
    let r = env.record("x.jpg");
    assert_eq!((r.state, r.reason.as_deref(), r.attempts), (State::Retrying, Some("index"), 3));

    env.publish();
    env.backend.uploads_broken.set(true);
    assert_eq!(env.put_event("x.jpg"), Ack::Retry(40));
    assert_eq!(env.record("x.jpg").reason.as_deref(), Some("storage"));
    // The queue gives up: its dead-letter consumer records the last reason.
    assert_eq!(env.handle(DLQ, &notification("PutObject", BUCKET, "x.jpg")), Ack::Ack);
    let r = env.record("x.jpg");
    assert_eq!(
        (r.state, r.reason.as_deref(), r.attempts),
        (State::DeadLettered, Some("storage"), 4)
    );
    assert!(r.detail.unwrap().contains("broken"));
    assert_eq!(env.stats()["counters"]["objects_dead_lettered"], 1);

    // Backoff stops at an hour.
    let env = Env::bucket(&[("SCAN_RETRY_SECONDS", "1000")]);
    let acks: Vec<Ack> = (0..4).map(|_| env.put_event("x.jpg")).collect();
    assert_eq!(acks, [Ack::Retry(1000), Ack::Retry(2000), Ack::Retry(3600), Ack::Retry(3600)]);

    // A dead-lettered copy of a message that later succeeded changes nothing.
    let env = Env::bucket(&[]);
    env.publish();
    env.backend.put_upload("y.png", &fixture("small-160x120.bmp"));
    assert_eq!(env.put_event("y.png"), Ack::Ack);
    assert_eq!(env.handle(DLQ, &notification("PutObject", BUCKET, "y.png")), Ack::Ack);
    assert_eq!(env.record("y.png").state, State::Checked);

    // Scanning off: everything is acknowledged, nothing recorded.
    let off = Env::bucket(&[("UPLOADS_BUCKET", "")]);
    assert_eq!(off.put_event("z.png"), Ack::Ack);
    assert!(off.backend.kv_value(&keys::scan_object(BUCKET, "z.png")).is_none());
}

#[test]
fn backfill_lists_the_bucket_page_by_page() {
    let env = Env::bucket(&[]);
    env.publish();
    let clean = fixture("flat-grey.png");
    for i in 0..250 {
        let bytes = if i % 50 == 7 { listed() } else { clean.clone() };
        env.backend.put_upload(&format!("old/{i:04}.png"), &bytes);
    }
    env.backend.put_upload("other/skip.png", &clean);
    let (s, _) =
        env.call_now(Method::Post, "/v1/admin/backfill", None, Some(json!({"prefix": "old/"})));
    assert_eq!(s, 401);
    let (s, v) = env.call_now(
        Method::Post,
        "/v1/admin/backfill",
        Some(ADMIN),
        Some(json!({"prefix": "old/"})),
    );
    assert_eq!(s, 202, "{v}");
    let id = v["backfill"]["id"].as_str().unwrap().to_owned();

    // One list page: its 100 objects in one batch and the next page's message.
    let first = env.backend.take_queue();
    assert_eq!(first.len(), 1);
    assert_eq!(env.handle(QUEUE, &first[0].0), Ack::Ack);
    let sent = env.backend.take_queue();
    assert_eq!(sent.len(), 101);
    assert!(sent.last().unwrap().0.contains("\"list\""));
    // A redelivered first page does nothing.
    assert_eq!(env.handle(QUEUE, &first[0].0), Ack::Ack);
    assert!(env.backend.take_queue().is_empty());
    for (text, _) in sent {
        assert_eq!(env.handle(QUEUE, &text), Ack::Ack);
    }
    let ran = env.drain();
    assert_eq!(ran, 100 + 1 + 50);

    let v = env.stats();
    let b = &v["bucket"]["backfills"][0];
    assert_eq!(b["id"], id.as_str());
    assert_eq!(
        (b["listed"].as_u64(), b["enqueued"].as_u64(), b["pages"].as_u64()),
        (Some(250), Some(250), Some(3))
    );
    assert_eq!((b["checked"].as_u64(), b["failed"].as_u64()), (Some(250), Some(0)));
    assert_eq!((b["listing_done"].as_bool(), b["done"].as_bool()), (Some(true), Some(true)));
    assert_eq!(v["counters"]["matches"], 5);
    assert!(env.backend.kv_value(&keys::scan_object(BUCKET, "other/skip.png")).is_none());
    let r = env.record("old/0007.png");
    assert_eq!((r.verdict.as_deref(), r.backfill.as_deref()), (Some("match"), Some(id.as_str())));

    // A failing listing is retried; a dead-lettered page marks the backfill.
    let (_, v) = env.call_now(Method::Post, "/v1/admin/backfill", Some(ADMIN), Some(json!({})));
    let id2 = v["backfill"]["id"].as_str().unwrap().to_owned();
    let page = env.backend.take_queue();
    env.backend.uploads_broken.set(true);
    assert_eq!(env.handle(QUEUE, &page[0].0), Ack::Retry(5));
    assert_eq!(env.handle(DLQ, &page[0].0), Ack::Ack);
    env.backend.uploads_broken.set(false);
    let v = env.stats();
    let b = v["bucket"]["backfills"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id2.as_str())
        .unwrap()
        .clone();
    assert_eq!(b["listing_failed"], "a page message was dead-lettered");
    assert_eq!(b["done"], false);

    // The admin's overview shows the bucket tenant, which has no tenant record.
    let (s, all) = env.call_now(Method::Get, "/v1/admin/stats", Some(ADMIN), None);
    assert_eq!(s, 200);
    let host =
        all["tenants"].as_array().unwrap().iter().find(|t| t["tenant"] == "host").unwrap().clone();
    assert_eq!(host["bucket"]["checked"], 250);
    let (_, csv) = env.call_now(Method::Get, "/v1/admin/stats?format=csv", Some(ADMIN), None);
    assert!(csv.as_str().unwrap().contains("\r\nhost,total,250,5,"), "{csv}");

    // Off without a bucket; unknown fields refused.
    let off = Env::bucket(&[("UPLOADS_BUCKET", "")]);
    assert_eq!(
        off.call_now(Method::Post, "/v1/admin/backfill", Some(ADMIN), Some(json!({}))).0,
        409
    );
    assert_eq!(
        env.call_now(Method::Post, "/v1/admin/backfill", Some(ADMIN), Some(json!({"prefx": ""}))).0,
        422
    );
}

/// Issues receipts for bucket objects and, by editing the stored subject as `/v1/check` would
/// store it, for URLs; returns `(receipt ids by key, receipt ids by url)` (two receipts per
/// object: SHA-256 and PDQ).
#[allow(clippy::type_complexity)]
fn followup_env(
    extra: &[(&str, &str)],
) -> (Env, Vec<(String, Vec<String>)>, Vec<(String, Vec<String>)>) {
    let env = Env::bucket(extra);
    env.publish();
    let mut by_key = Vec::new();
    for i in 0..4 {
        let key = format!("hit-{i}.jpg");
        env.backend.put_upload(&key, &listed());
        assert_eq!(env.put_event(&key), Ack::Ack);
        let ids = env.record(&key).receipts.clone();
        assert_eq!(ids.len(), 2);
        by_key.push((key, ids));
    }
    let urls = [
        "https://img.example.com/present.jpg",
        "https://img.example.com/gone.jpg",
        "https://img.example.com/private.jpg",
        "https://img.example.com/slow.jpg",
        "https://img.example.com/other.jpg",
        "https://img.example.com/loop.jpg",
    ];
    let mut by_url = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let key = format!("url-{i}.jpg");
        env.backend.put_upload(&key, &listed());
        env.put_event(&key);
        let ids = env.record(&key).receipts.clone();
        env.backend.delete_upload(&key);
        for id in &ids {
            let mut r = env.receipt(id);
            r.subject = schoon_worker::subject::Subject {
                url: Some((*url).to_owned()),
                ..Default::default()
            };
            env.backend.kv_set(&keys::receipt(id), &serde_json::to_string(&r).unwrap());
        }
        by_url.push(((*url).to_owned(), ids));
    }
    let ok = |body: Vec<u8>| Ok(Fetched { status: 200, body, ..Fetched::default() });
    let redirect =
        |to: &str| Ok(Fetched { status: 302, location: Some(to.into()), ..Fetched::default() });
    let b = &env.backend;
    b.serve_url(urls[0], redirect("/cdn/present.jpg"));
    b.serve_url("https://img.example.com/cdn/present.jpg", ok(listed()));
    b.serve_url(urls[1], Ok(Fetched { status: 404, ..Fetched::default() }));
    b.serve_url(urls[2], redirect("http://169.254.169.254/latest/meta-data"));
    b.serve_url(urls[3], Err("timeout after 10000 ms".into()));
    b.serve_url(urls[4], ok(fixture("small-160x120.bmp")));
    for i in 0..5 {
        b.serve_url(
            &format!(
                "https://img.example.com/loop{}.jpg",
                if i == 0 { String::new() } else { i.to_string() }
            ),
            redirect(&format!("/loop{}.jpg", i + 1)),
        );
    }
    (env, by_key, by_url)
}

#[test]
fn follow_up_job_records_what_it_finds() {
    let (env, by_key, by_url) = followup_env(&[]);
    // Half of the objects are removed.
    env.backend.delete_upload(&by_key[0].0);
    env.backend.delete_upload(&by_key[1].0);
    // Not due yet: nothing is checked.
    let r = block_on(followup::run(&env.backend, &env.config, &env.isolate)).unwrap().unwrap();
    assert_eq!(r.checked, 0);
    env.backend.advance(61_000);
    let r: RunReport =
        block_on(followup::run(&env.backend, &env.config, &env.isolate)).unwrap().unwrap();
    assert_eq!(
        (r.checked, r.verified_removed, r.still_present, r.unreachable),
        (20, 8, 6, 6),
        "{r:?}"
    );
    assert!(r.pass_done);
    let status = |ids: &[String]| {
        let found: Vec<_> = ids
            .iter()
            .map(|id| env.receipt(id).verified().map(|v| (v.status, v.detail.clone().unwrap())))
            .collect();
        assert_eq!(found[0], found[1], "both receipts of an object agree");
        found[0].clone()
    };
    assert_eq!(status(&by_key[0].1).unwrap(), (Verified::VerifiedRemoved, "object gone".into()));
    assert_eq!(status(&by_key[2].1).unwrap(), (Verified::StillPresent, "object matches".into()));
    assert_eq!(status(&by_url[0].1).unwrap().0, Verified::StillPresent);
    assert_eq!(status(&by_url[1].1).unwrap(), (Verified::VerifiedRemoved, "http 404".into()));
    let private = status(&by_url[2].1).unwrap();
    assert_eq!(private.0, Verified::Unreachable);
    assert!(private.1.contains("private"), "{}", private.1);
    assert!(status(&by_url[3].1).unwrap().1.contains("timeout"));
    assert_eq!(
        status(&by_url[4].1).unwrap(),
        (Verified::VerifiedRemoved, "serves other content".into())
    );
    assert_eq!(
        status(&by_url[5].1).unwrap(),
        (Verified::Unreachable, "more than 3 redirects".into())
    );
    // Nothing private was ever fetched; the loop stopped after 4 requests.
    let fetched = env.backend.fetched_urls();
    assert!(fetched.iter().all(|u| !u.contains("169.254")), "{fetched:?}");
    assert_eq!(fetched.iter().filter(|u| u.contains("/loop")).count(), 8);

    // Idempotent: a second run re-checks what is not removed and adds no history entry.
    env.backend.advance(1000);
    let r = block_on(followup::run(&env.backend, &env.config, &env.isolate)).unwrap().unwrap();
    assert_eq!(r.checked, 12, "removed receipts are not checked again");
    let present = env.receipt(&by_key[2].1[0]);
    assert_eq!(present.verifications.len(), 1);
    assert_eq!(present.verifications[0].checks, 2);

    // The tenant's figures and the listing filter.
    let v = env.stats();
    let f = &v["follow_up"];
    assert_eq!((f["hits"].as_u64(), f["removed"].as_u64()), (Some(20), Some(8)));
    assert_eq!(f["removed_within_deadline"], 0, "found 61 s after issue, deadline 60 s");
    assert_eq!((f["still_present"].as_u64(), f["unreachable"].as_u64()), (Some(6), Some(6)));
    assert_eq!(f["median_seconds_to_removal"], 61);
    assert_eq!(v["by_day"][0]["follow_up"]["hits"], 20, "by issue day too");
    assert_eq!(
        block_on(schoon_worker::backend::Backend::uploads_head(&env.backend, &by_key[2].0))
            .unwrap()
            .unwrap()
            .map(|o| o.size),
        Some(listed().len() as u64)
    );
    let (_, csv) = env.call_now(
        Method::Get,
        "/v1/stats?tenant=host&format=csv&include=followup",
        Some(ADMIN),
        None,
    );
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with("tenant,day,checks,matches,receipts,removed,disputed,open,overdue,hits,removed_within_deadline,still_present,unreachable,median_seconds_to_removal\r\n"), "{csv}");
    assert!(csv.trim_end().ends_with(",20,0,6,6,61"), "{csv}");
    let (_, plain) =
        env.call_now(Method::Get, "/v1/stats?tenant=host&format=csv", Some(ADMIN), None);
    assert!(
        plain
            .as_str()
            .unwrap()
            .starts_with("tenant,day,checks,matches,receipts,removed,disputed,open,overdue\r\n")
    );

    let list = |q: &str| {
        let (s, v) =
            env.call_now(Method::Get, &format!("/v1/receipts?tenant=host&{q}"), Some(ADMIN), None);
        assert_eq!(s, 200, "{v}");
        v["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let removed = list("verification=verified_removed");
    assert_eq!(removed.len(), 8);
    assert!(removed.contains(&by_url[1].1[0]) && removed.contains(&by_key[0].1[1]));
    assert_eq!(list("verification=still_present").len(), 6);
    assert_eq!(list("verification=unreachable").len(), 6);
    assert_eq!(list("verification=unverified").len(), 0);
    assert_eq!(list("verification=all").len(), 20);
    assert_eq!(
        env.call_now(Method::Get, "/v1/receipts?tenant=host&verification=maybe", Some(ADMIN), None)
            .0,
        422
    );
    let (_, csv) = env.call_now(
        Method::Get,
        "/v1/receipts?tenant=host&verification=unreachable&format=csv&include=followup",
        Some(ADMIN),
        None,
    );
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with(
        "id,issued,status,kind,list,distance,age_seconds,overdue,verification,verified\r\n"
    ));
    assert_eq!(csv.matches(",unreachable,").count(), 6);
    let (_, one) =
        env.call_now(Method::Get, &format!("/v1/receipts/{}", by_url[1].1[0]), Some(ADMIN), None);
    assert_eq!(one["verification"], "verified_removed");
    assert_eq!(one["verifications"][0]["detail"], "http 404");

    // A storage failure of the uploads bucket stops the run before the object's receipt.
    env.backend.uploads_broken.set(true);
    let r = block_on(followup::run(&env.backend, &env.config, &env.isolate)).unwrap().unwrap();
    assert!(r.stopped.unwrap().contains("broken") && !r.pass_done);
    assert_eq!(env.receipt(&by_key[2].1[0]).verifications[0].checks, 2);
}

#[test]
fn follow_up_work_is_bounded_and_resumes() {
    let (env, by_key, _) = followup_env(&[("FOLLOWUP_PER_RUN", "3")]);
    env.backend.advance(61_000);
    let mut total = 0;
    let mut runs = 0;
    loop {
        let r = block_on(followup::run(&env.backend, &env.config, &env.isolate)).unwrap().unwrap();
        assert!(r.checked <= 3);
        total += r.checked;
        runs += 1;
        if r.pass_done {
            break;
        }
    }
    assert_eq!((total, runs), (20, 7));
    // An unreadable record is passed over, not a reason to stop.
    let bad = &by_key[0].1[0];
    env.backend.kv_set(&keys::receipt(bad), "{not a record");
    env.backend.advance(1000);
    let mut checked = 0;
    loop {
        let r = block_on(followup::run(&env.backend, &env.config, &env.isolate)).unwrap().unwrap();
        assert!(r.stopped.is_none(), "{r:?}");
        checked += r.checked;
        if r.pass_done {
            break;
        }
    }
    // 20, less the four verified removed in the first pass, less the unreadable one.
    assert_eq!(checked, 15);
    assert_eq!(env.receipt(&by_key[3].1[0]).verifications.len(), 1);
}

#[test]
fn batches_answer_in_order() {
    let env = Env::bucket(&[]);
    env.publish();
    let mut bodies = Vec::new();
    for i in 0..40 {
        let key = format!("b/{i:02}.png");
        if i % 10 != 9 {
            env.backend.put_upload(&key, &fixture("small-160x120.bmp"));
        }
        bodies.push(notification("PutObject", BUCKET, &key));
    }
    bodies.push("not json".into());
    let (acks, deferred) = block_on(env.scanner().handle_batch(QUEUE, &bodies)).unwrap();
    env.flush(&deferred);
    assert_eq!(acks.len(), 41);
    assert!(acks.iter().all(|a| *a == Ack::Ack));
    for i in 0..40 {
        let r = env.record(&format!("b/{i:02}.png"));
        let want = if i % 10 == 9 { State::Skipped } else { State::Checked };
        assert_eq!(r.state, want, "{i}");
    }
    let c = &env.stats()["counters"];
    assert_eq!((c["objects_checked"].as_u64(), c["objects_skipped"].as_u64()), (Some(36), Some(5)));
    // Retries keep their place in the batch.
    let off = Env::bucket(&[]);
    let (acks, _) = block_on(off.scanner().handle_batch(QUEUE, &bodies[..3])).unwrap();
    assert_eq!(acks, [Ack::Retry(5), Ack::Retry(5), Ack::Retry(5)]);
}

#[test]
fn removal_within_the_deadline_counts() {
    let (env, by_key, _) = followup_env(&[]);
    // Removed 30 s after issue, found by the first run after the deadline.
    env.backend.advance(30_000);
    env.backend.delete_upload(&by_key[0].0);
    env.backend.advance(31_000);
    block_on(followup::run(&env.backend, &env.config, &env.isolate)).unwrap().unwrap();
    let f = &env.stats()["follow_up"];
    // The object's removal is first seen at 61 s: over the 60 s deadline (with the 404 and the
    // replaced URL: six receipts).
    assert_eq!((f["removed"].as_u64(), f["removed_within_deadline"].as_u64()), (Some(6), Some(0)));
    let tenant = env.call_now(Method::Put, "/v1/admin/tenants/host", Some(ADMIN), Some(json!({})));
    assert_eq!(tenant.0, 201);
    let (_, k) = env.call_now(
        Method::Post,
        "/v1/admin/tenants/host/keys",
        Some(ADMIN),
        Some(json!({"scope": "server"})),
    );
    let key = k["api_key"].as_str().unwrap().to_owned();
    // The tenant's own `removed` follow-up, dated now (61 s), on a still-present receipt.
    let (s, _) = env.call_now(
        Method::Post,
        &format!("/v1/receipts/{}/follow-up", by_key[1].1[0]),
        Some(&key),
        Some(json!({"status": "removed"})),
    );
    assert_eq!(s, 200);
    let f = &env.stats()["follow_up"];
    assert_eq!(f["removed"], 7);
    // A fresh receipt removed at once by the tenant counts within the deadline.
    env.backend.put_upload("fresh.jpg", &listed());
    env.put_event("fresh.jpg");
    let id = env.record("fresh.jpg").receipts[0].clone();
    env.backend.advance(5_000);
    let (s, _) = env.call_now(
        Method::Post,
        &format!("/v1/receipts/{id}/follow-up"),
        Some(&key),
        Some(json!({"status": "removed"})),
    );
    assert_eq!(s, 200);
    let f = &env.stats()["follow_up"];
    assert_eq!((f["removed"].as_u64(), f["removed_within_deadline"].as_u64()), (Some(8), Some(1)));
    // Median of seven times 61 and once 5 seconds.
    assert_eq!(f["median_seconds_to_removal"], 61);
}

#[test]
fn old_records_still_load() {
    let old = r#"{"receipt":{"v":1,"id":"0123456789abcdef0123456789abcdef","issued":1,"tenant":"a","kind":"sha256","value":"00","list":"l","category":"c","distance":0,"set_version":1,"key_id":"00","signature":"00"},"status":"open","follow_ups":[]}"#;
    let r: Record = serde_json::from_str(old).unwrap();
    assert!(r.verifications.is_empty() && r.verified().is_none() && r.removed_ms().is_none());
    let entry: receipts::IndexEntry = serde_json::from_str(
        r#"{"id":"x","issued":1,"status":"open","kind":"pdq","list":"l","distance":3}"#,
    )
    .unwrap();
    assert_eq!((entry.verified, entry.removed_ms), (None, None));
    let counts: schoon_worker::counters::Counts =
        serde_json::from_str(r#"{"checks":1,"matches":0,"receipts":0,"removed":0,"disputed":0}"#)
            .unwrap();
    assert_eq!((counts.checks, counts.objects_checked), (1, 0));
    assert_eq!(followup::median(&mut [5, 1, 3]), Some(3));
    assert_eq!(followup::median(&mut [4, 1, 3, 10]), Some(3));
    assert_eq!(followup::median(&mut []), None);
}

#[test]
fn the_bucket_tenants_list_policy_applies() {
    let env = Env::bucket(&[]);
    env.publish();
    // A greyscale copy of the listed scene: a PDQ match at a few bits, no exact match.
    let grey = fixture("scene-grey.jpg");
    env.backend.put_upload("grey-1.jpg", &grey);
    assert_eq!(env.put_event("grey-1.jpg"), Ack::Ack);
    let before = env.record("grey-1.jpg");
    assert_eq!(before.verdict.as_deref(), Some("match"), "{before:?}");

    // The bucket tenant now takes PDQ matches of the list only at distance 0.
    let (s, v) = env.call_now(
        Method::Put,
        "/v1/admin/tenants/host",
        Some(ADMIN),
        Some(json!({"thresholds": {"native": 0}})),
    );
    assert!(s == 200 || s == 201, "{s} {v}");
    env.backend.advance(61_000); // past TENANT_CACHE_SECONDS in every isolate
    env.backend.put_upload("grey-2.jpg", &grey);
    assert_eq!(env.put_event("grey-2.jpg"), Ack::Ack);
    let after = env.record("grey-2.jpg");
    assert_eq!((after.verdict.as_deref(), after.receipts.len()), (Some("clean"), 0), "{after:?}");
    // The listed file itself still matches by its exact hash.
    env.backend.put_upload("listed-2.jpg", &listed());
    assert_eq!(env.put_event("listed-2.jpg"), Ack::Ack);
    assert_eq!(env.record("listed-2.jpg").verdict.as_deref(), Some("match"));
}
