//! The Workers adapter (wasm32 only): converts `worker::Request` to a [`Head`] and a capped
//! body, runs [`App`], converts the [`Reply`] back, and implements [`Backend`] over the
//! bindings: KV `SCHOON_KV`, R2 `SCHOON_R2`, the optional rate limiter `SCHOON_RATE_LIMITER`,
//! the uploads bucket `SCHOON_UPLOADS`, the scan queue producer `SCHOON_SCAN` and `fetch`. The
//! queue handler passes each message's JSON text to [`Scanner`] and acknowledges or retries it
//! as told; the scheduled handler runs [`followup::run`].
//!
//! Nothing here decides anything: routing, limits, statuses and JSON are in the pure modules.
//! The fetch handler never returns `Err` (which the runtime would turn into a bare 500): every
//! failure is answered as JSON through [`ApiError::to_response`].

use std::cell::OnceCell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::StreamExt;
use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{
    Context, Delay, Env, Fetch, Headers, Request, RequestInit, RequestRedirect, Response,
    ResponseBody, ResponseBuilder, event,
};

use crate::app::{App, plan};
use crate::backend::{Backend, Fetched, KvPage, ObjectInfo, ObjectPage, ObjectRead, StoreError};
use crate::bucket::{Ack, Scanner};
use crate::config::Config;
use crate::error::ApiError;
use crate::followup;
use crate::http::{self, Deferred, Forward, Head, Method, Outcome, Reply};
use crate::isolate::Isolate;

const KV: &str = "SCHOON_KV";
const R2: &str = "SCHOON_R2";
const LIMITER: &str = "SCHOON_RATE_LIMITER";
const UPLOADS: &str = "SCHOON_UPLOADS";
const SCAN_QUEUE: &str = "SCHOON_SCAN";
/// The `IndexShard` Durable Object namespace (sharded indexes; see `shard_object`).
const SHARDS: &str = "SCHOON_SHARDS";

thread_local! {
    static ISOLATE: OnceCell<Rc<Isolate>> = const { OnceCell::new() };
    static CONFIG: OnceCell<Result<Rc<Config>, ApiError>> = const { OnceCell::new() };
}

fn js_error(e: impl std::fmt::Debug) -> StoreError {
    StoreError(format!("{e:?}"))
}

fn random_fill(buf: &mut [u8]) -> Result<(), StoreError> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let crypto = scope.crypto().map_err(js_error)?;
    // getRandomValues takes at most 65536 bytes at a time.
    for chunk in buf.chunks_mut(65_536) {
        crypto.get_random_values_with_u8_array(chunk).map_err(js_error)?;
    }
    Ok(())
}

fn isolate() -> Rc<Isolate> {
    ISOLATE.with(|cell| {
        cell.get_or_init(|| {
            let mut id = [0u8; 8];
            let id = match random_fill(&mut id) {
                Ok(()) => schoon_core::hex::encode(&id),
                Err(_) => format!("{:016x}", js_sys::Date::now() as u64),
            };
            Rc::new(Isolate::new(id))
        })
        .clone()
    })
}

pub(crate) fn config(env: &Env) -> Result<Rc<Config>, ApiError> {
    CONFIG.with(|cell| {
        cell.get_or_init(|| {
            Config::from_lookup(|name| {
                env.var(name)
                    .map(|v| v.to_string())
                    .or_else(|_| env.secret(name).map(|s| s.to_string()))
                    .ok()
            })
            .map(Rc::new)
        })
        .clone()
    })
}

/// The backend over this request's bindings.
#[derive(Clone)]
pub(crate) struct Bindings {
    pub(crate) env: Env,
}

impl Bindings {
    fn kv(&self) -> Result<worker::kv::KvStore, StoreError> {
        self.env.kv(KV).map_err(js_error)
    }
}

async fn promise(value: JsValue) -> Result<JsValue, StoreError> {
    let p: Promise = value.dyn_into().map_err(js_error)?;
    JsFuture::from(p).await.map_err(js_error)
}

impl Backend for Bindings {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), StoreError> {
        random_fill(buf)
    }

    async fn kv_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.kv()?.get(key).text().await.map_err(js_error)
    }

    async fn kv_put(
        &self,
        key: &str,
        value: &str,
        metadata: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut put = self.kv()?.put(key, value).map_err(js_error)?;
        if let Some(m) = metadata {
            let m: serde_json::Value = serde_json::from_str(m).map_err(js_error)?;
            put = put.metadata(m).map_err(js_error)?;
        }
        put.execute().await.map_err(js_error)
    }

    async fn kv_delete(&self, key: &str) -> Result<(), StoreError> {
        self.kv()?.delete(key).await.map_err(js_error)
    }

    async fn kv_list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KvPage, StoreError> {
        let mut list = self.kv()?.list().prefix(prefix.to_owned()).limit(u64::from(limit));
        if let Some(c) = cursor {
            list = list.cursor(c.to_owned());
        }
        let page = list.execute().await.map_err(js_error)?;
        Ok(KvPage {
            keys: page
                .keys
                .into_iter()
                .map(|k| (k.name, k.metadata.map(|m| m.to_string())))
                .collect(),
            cursor: if page.list_complete { None } else { page.cursor },
        })
    }

    async fn blob_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let bucket = self.env.bucket(R2).map_err(js_error)?;
        let Some(object) = bucket.get(key).execute().await.map_err(js_error)? else {
            return Ok(None);
        };
        match object.body() {
            Some(body) => body.bytes().await.map(Some).map_err(js_error),
            None => Ok(Some(Vec::new())),
        }
    }

    async fn blob_put(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        // Straight from wasm memory into one JS buffer: the worker crate's `put` wants an owned
        // Vec, which would be a second copy of a 36 MB index inside the 128 MB isolate.
        let bucket = Reflect::get(&self.env, &JsValue::from_str(R2)).map_err(js_error)?;
        let put: Function = Reflect::get(&bucket, &JsValue::from_str("put"))
            .map_err(js_error)?
            .dyn_into()
            .map_err(js_error)?;
        let data = Uint8Array::from(bytes);
        let result = put.call2(&bucket, &JsValue::from_str(key), &data).map_err(js_error)?;
        promise(result).await.map(|_| ())
    }

    async fn ask_shards(
        &self,
        version: u64,
        shards: &[u32],
        query: &str,
    ) -> Vec<Result<String, StoreError>> {
        let ns = match self.env.durable_object(SHARDS) {
            Ok(ns) => ns,
            Err(e) => {
                let why = format!(
                    "index shards of version {version} cannot be asked: no {SHARDS} Durable Object binding ({e})"
                );
                return shards.iter().map(|_| Err(StoreError(why.clone()))).collect();
            }
        };
        let ns = &ns;
        let asks = shards.iter().map(|&n| async move {
            let transport = |e: worker::Error| {
                StoreError(format!("index shard {n} of version {version} did not answer: {e}"))
            };
            let name = crate::keys::shard_host(version, n);
            let stub = ns.id_from_name(&name).and_then(|id| id.get_stub()).map_err(transport)?;
            let headers = Headers::new();
            headers.set("content-type", "application/json").map_err(transport)?;
            let mut init = RequestInit::new();
            init.with_method(worker::Method::Post)
                .with_headers(headers)
                .with_body(Some(JsValue::from_str(query)));
            let url = format!("https://shard.internal/answer?version={version}&shard={n}");
            let request = Request::new_with_init(&url, &init).map_err(transport)?;
            let mut response = stub.fetch_with_request(request).await.map_err(transport)?;
            let text = response.text().await.map_err(transport)?;
            if response.status_code() == 200 {
                return Ok(text);
            }
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| {
                    v.pointer("/error/message").and_then(|m| m.as_str().map(str::to_owned))
                })
                .unwrap_or(text);
            Err(StoreError(message))
        });
        futures_util::future::join_all(asks).await
    }

    async fn rate_limit(&self, key: &str) -> Result<Option<bool>, StoreError> {
        let Ok(limiter) = self.env.rate_limiter(LIMITER) else { return Ok(None) };
        let outcome = limiter.limit(key.to_owned()).await.map_err(js_error)?;
        Ok(Some(outcome.success))
    }

    async fn uploads_head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let bucket = self.env.bucket(UPLOADS).map_err(js_error)?;
        let object = bucket.head(key).await.map_err(js_error)?;
        Ok(object.map(|o| ObjectInfo { key: o.key(), size: o.size(), etag: o.etag() }))
    }

    async fn uploads_get(&self, key: &str, max_bytes: u64) -> Result<ObjectRead, StoreError> {
        let bucket = self.env.bucket(UPLOADS).map_err(js_error)?;
        let Some(object) = bucket.get(key).execute().await.map_err(js_error)? else {
            return Ok(ObjectRead::Missing);
        };
        let info = ObjectInfo { key: object.key(), size: object.size(), etag: object.etag() };
        if info.size > max_bytes {
            return Ok(ObjectRead::TooLarge(info));
        }
        let bytes = match object.body() {
            Some(body) => body.bytes().await.map_err(js_error)?,
            None => Vec::new(),
        };
        Ok(ObjectRead::Bytes(info, bytes))
    }

    async fn uploads_list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ObjectPage, StoreError> {
        let bucket = self.env.bucket(UPLOADS).map_err(js_error)?;
        let mut list = bucket.list().prefix(prefix.to_owned()).limit(limit.clamp(1, 1000));
        if let Some(c) = cursor {
            list = list.cursor(c.to_owned());
        }
        let page = list.execute().await.map_err(js_error)?;
        Ok(ObjectPage {
            objects: page
                .objects()
                .into_iter()
                .map(|o| ObjectInfo { key: o.key(), size: o.size(), etag: o.etag() })
                .collect(),
            cursor: if page.truncated() { page.cursor() } else { None },
        })
    }

    async fn queue_send(&self, messages: &[String], delay_seconds: u32) -> Result<(), StoreError> {
        let queue = self.env.queue(SCAN_QUEUE).map_err(js_error)?;
        let mut batch = Vec::with_capacity(messages.len());
        for text in messages {
            let value = js_sys::JSON::parse(text).map_err(js_error)?;
            let mut message = worker::RawMessageBuilder::new(value);
            if delay_seconds > 0 {
                message = message.delay_seconds(delay_seconds);
            }
            batch.push(message.build_with_content_type(worker::QueueContentType::Json));
        }
        queue.send_raw_batch(batch).await.map_err(js_error)
    }

    async fn fetch_url(
        &self,
        url: &str,
        max_bytes: u64,
        timeout_ms: u64,
    ) -> Result<Fetched, StoreError> {
        let controller = worker::AbortController::default();
        let signal = controller.signal();
        let mut init = RequestInit::new();
        init.with_method(worker::Method::Get).with_redirect(RequestRedirect::Manual);
        let request = Request::new_with_init(url, &init).map_err(js_error)?;
        let work = Box::pin(async move {
            let mut response =
                Fetch::Request(request).send_with_signal(&signal).await.map_err(js_error)?;
            let status = response.status_code();
            let location = response.headers().get("location").ok().flatten();
            let mut body = Vec::new();
            let mut too_large = false;
            if (200..300).contains(&status) {
                let mut stream = response.stream().map_err(js_error)?;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(js_error)?;
                    if body.len() as u64 + chunk.len() as u64 > max_bytes {
                        too_large = true;
                        body = Vec::new();
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
            }
            Ok(Fetched { status, location, body, too_large })
        });
        let timeout = Box::pin(Delay::from(Duration::from_millis(timeout_ms)));
        match futures_util::future::select(work, timeout).await {
            futures_util::future::Either::Left((result, _)) => result,
            futures_util::future::Either::Right(_) => {
                controller.abort();
                Err(StoreError(format!("timeout after {timeout_ms} ms")))
            }
        }
    }
}

fn head_of(req: &Request) -> Head {
    let url = req.url().ok();
    let path = url.as_ref().map(|u| u.path().to_owned()).unwrap_or_else(|| "/".into());
    let query = url.as_ref().and_then(|u| u.query().map(str::to_owned)).unwrap_or_default();
    Head {
        method: Method::parse(req.inner().method().as_str()),
        path,
        query,
        headers: req.headers().entries().collect(),
    }
}

/// Reads at most `max` bytes of the body; a longer body is refused while it streams in.
async fn read_capped(req: &mut Request, head: &Head, max: u64) -> Result<Vec<u8>, ApiError> {
    let declared = head.content_length().unwrap_or(0).min(max);
    let mut body = Vec::with_capacity(declared as usize);
    let mut stream = match req.stream() {
        Ok(s) => s,
        // No body at all.
        Err(_) => return Ok(body),
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if body.len() as u64 + chunk.len() as u64 > max {
            return Err(ApiError::TooLarge { what: "body", max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn headers_of(pairs: &[(String, String)]) -> Headers {
    let headers = Headers::new();
    for (k, v) in pairs {
        // An invalid header value is dropped rather than failing the response.
        let _ = headers.append(k, v);
    }
    headers
}

pub(crate) fn response_of(r: http::Response) -> Response {
    let body = if r.body.is_empty() { ResponseBody::Empty } else { ResponseBody::Body(r.body) };
    ResponseBuilder::new().with_status(r.status).with_headers(headers_of(&r.headers)).body(body)
}

pub(crate) fn error_response(e: ApiError) -> Response {
    response_of(e.to_response())
}

async fn forward(forward: Forward, body: Option<JsValue>) -> Response {
    let mut init = RequestInit::new();
    init.with_method(worker::Method::from(forward.method.as_str().to_owned()))
        .with_headers(headers_of(&forward.headers))
        .with_redirect(RequestRedirect::Manual)
        .with_body(body);
    let request = match Request::new_with_init(&forward.url, &init) {
        Ok(r) => r,
        Err(e) => return error_response(ApiError::BadGateway(format!("origin request: {e}"))),
    };
    match Fetch::Request(request).send().await {
        Ok(r) => r,
        Err(e) => error_response(ApiError::BadGateway(format!("origin unreachable: {e}"))),
    }
}

async fn blob(env: &Env, key: &str, head: http::Response) -> Response {
    let object = match env.bucket(R2) {
        Ok(b) => b.get(key).execute().await,
        Err(e) => Err(e),
    };
    match object {
        Ok(Some(object)) => match object.body().map(|b| b.response_body()) {
            Some(Ok(body)) => ResponseBuilder::new()
                .with_status(head.status)
                .with_headers(headers_of(&head.headers))
                .body(body),
            _ => error_response(ApiError::Internal(format!("object {key} has no body"))),
        },
        Ok(None) => error_response(ApiError::NotFound(format!("object {key} is missing"))),
        Err(e) => error_response(ApiError::storage(e)),
    }
}

fn defer(ctx: &Context, deferred: Vec<Deferred>, env: &Env, config: &Rc<Config>) {
    for d in deferred {
        let (env, config, isolate) = (env.clone(), config.clone(), isolate());
        ctx.wait_until(async move {
            let Deferred::FlushCounters { after_ms, .. } = &d;
            if *after_ms > 0 {
                Delay::from(Duration::from_millis(*after_ms)).await;
            }
            let backend = Bindings { env };
            let app = App { config: &config, isolate: &isolate, backend: &backend };
            if let Err(e) = app.run_deferred(&d).await {
                worker::console_error!("deferred work failed: {e}");
            }
        });
    }
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let head = head_of(&req);
    let config = match config(&env) {
        Ok(c) => c,
        Err(e) => return Ok(error_response(e)),
    };
    let planned = match plan(&head, &config) {
        Ok(p) => p,
        Err(e) => return Ok(error_response(e)),
    };
    let body = if planned.body_limit > 0 {
        match read_capped(&mut req, &head, planned.body_limit).await {
            Ok(b) => b,
            Err(e) => return Ok(error_response(e)),
        }
    } else {
        Vec::new()
    };
    let isolate = isolate();
    let backend = Bindings { env: env.clone() };
    let app = App { config: &config, isolate: &isolate, backend: &backend };
    let Reply { outcome, deferred } = app.handle(planned, &head, body).await;
    defer(&ctx, deferred, &env, &config);
    Ok(match outcome {
        Outcome::Respond(r) => response_of(r),
        Outcome::Blob { key, head } => blob(&env, &key, head).await,
        Outcome::Forward { forward: f, body } => {
            let body = (!body.is_empty()).then(|| JsValue::from(Uint8Array::from(&body[..])));
            forward(f, body).await
        }
        Outcome::ForwardUnread(f) => {
            let body = req.inner().body().map(JsValue::from);
            forward(f, body).await
        }
    })
}

/// The scan queue's and the dead-letter queue's consumer: each message's JSON text goes to
/// [`Scanner::handle`], which records the outcome; the message is acknowledged or retried as it
/// says. Never fails (a failure would retry the whole batch).
#[event(queue)]
async fn queue(
    batch: worker::MessageBatch<serde_json::Value>,
    env: Env,
    ctx: Context,
) -> worker::Result<()> {
    use worker::MessageExt;
    let config = match config(&env) {
        Ok(c) => c,
        Err(e) => {
            // Misconfigured: retry everything later rather than lose it.
            worker::console_error!("queue consumer: {e}");
            batch.retry_all();
            return Ok(());
        }
    };
    let isolate = isolate();
    let backend = Bindings { env: env.clone() };
    let scanner = Scanner { config: &config, isolate: &isolate, backend: &backend };
    let name = batch.queue();
    let messages: Vec<worker::RawMessage> = batch.raw_iter().collect();
    let bodies: Vec<String> = messages
        .iter()
        .map(|m| {
            js_sys::JSON::stringify(&m.body()).ok().and_then(|s| s.as_string()).unwrap_or_default()
        })
        .collect();
    let (acks, deferred) = scanner.handle_batch(&name, &bodies).await;
    for (message, ack) in messages.iter().zip(acks) {
        match ack {
            Ack::Ack => message.ack(),
            Ack::Retry(0) => message.retry(),
            Ack::Retry(seconds) => message.retry_with_options(
                &worker::QueueRetryOptionsBuilder::new().with_delay_seconds(seconds).build(),
            ),
        }
    }
    defer(&ctx, deferred, &env, &config);
    Ok(())
}

/// The cron trigger: one bounded run of the follow-up verification.
#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    let config = match config(&env) {
        Ok(c) => c,
        Err(e) => {
            worker::console_error!("follow-up verification: {e}");
            return;
        }
    };
    let isolate = isolate();
    let backend = Bindings { env };
    match followup::run(&backend, &config, &isolate).await {
        Ok(report) => worker::console_log!(
            "follow-up verification: {} checked ({} removed, {} present, {} unreachable)",
            report.checked,
            report.verified_removed,
            report.still_present,
            report.unreachable
        ),
        Err(e) => worker::console_error!("follow-up verification failed: {e}"),
    }
}
