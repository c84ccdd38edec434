//! The `IndexShard` Durable Object (wasm32 only): one object per shard and version of a sharded
//! index (named `v{version}-shard-{n}`, see `keys::shard_host`). It loads its shard from R2 on
//! the first query (one load however many queries arrive meanwhile), checks it against the
//! manifest ([`shards::load_shard`]) and answers each `POST /answer?version=V&shard=N` with the
//! shard's answer ([`shards::answer`]). A failed load is answered 503 and tried again on the next
//! query. Nothing is decided here: loading, checking and answering are in `shards`.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::FutureExt;
use futures_util::future::{LocalBoxFuture, Shared};
use schoon_core::set::Index;
use worker::{DurableObject, Env, Request, Response, State, durable_object};

use crate::error::ApiError;
use crate::glue::{Bindings, config, error_response, response_of};
use crate::http;
use crate::shards;

type Load = Shared<LocalBoxFuture<'static, Result<Rc<Index>, ApiError>>>;

/// One shard of one version of a sharded index, held in memory.
#[durable_object(fetch)]
pub struct IndexShard {
    env: Env,
    load: RefCell<Option<((u64, u32), Load)>>,
}

fn param(url: &worker::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

impl IndexShard {
    /// The answer and the bytes the shard holds in memory.
    async fn answer(&self, req: &mut Request) -> Result<(String, usize), ApiError> {
        let url = req.url().map_err(|e| ApiError::BadRequest(format!("shard request: {e}")))?;
        let version = param(&url, "version").and_then(|v| v.parse::<u64>().ok());
        let number = param(&url, "shard").and_then(|v| v.parse::<u32>().ok());
        let (Some(version), Some(number)) = (version, number) else {
            return Err(ApiError::BadRequest("shard request without version and shard".into()));
        };
        let config = config(&self.env)?;
        let load = {
            let mut held = self.load.borrow_mut();
            match held.as_ref().filter(|(at, _)| *at == (version, number)) {
                Some((_, load)) => load.clone(),
                None => {
                    let backend = Bindings { env: self.env.clone() };
                    let c = config.clone();
                    let load: Load = async move {
                        shards::load_shard(&backend, &c, version, number).await.map(Rc::new)
                    }
                    .boxed_local()
                    .shared();
                    *held = Some(((version, number), load.clone()));
                    load
                }
            }
        };
        let index = match load.await {
            Ok(index) => index,
            Err(e) => {
                // Tried again on the next query (the shard may be uploaded or repaired).
                self.load.borrow_mut().take();
                return Err(e);
            }
        };
        let body =
            req.text().await.map_err(|e| ApiError::BadRequest(format!("shard query: {e}")))?;
        Ok((shards::answer(&index, &body, &config.match_options)?, index.memory_bytes()))
    }
}

impl DurableObject for IndexShard {
    fn new(_state: State, env: Env) -> Self {
        IndexShard { env, load: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        Ok(match self.answer(&mut req).await {
            // The held bytes, for benchmarks (scripts/bench-scale) and operators.
            Ok((text, held)) => response_of(
                http::Response::text(200, "application/json", text)
                    .with_header("x-schoon-shard-memory", &held.to_string()),
            ),
            Err(e) => error_response(e),
        })
    }
}
