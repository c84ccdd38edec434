//! The schoon Cloudflare Worker: confirms filter candidates against the private index, hashes
//! uploads (`/v1/scan` and gate mode), issues signed hit receipts and records follow-ups, serves
//! the public filter under immutable URLs, and publishes new signed sets. KV and R2 hold the
//! state; see `README.md` for the API.
//!
//! Everything but `glue.rs` is platform-free and runs natively: [`app::plan`] picks a route from
//! the request head (pure), [`app::App::handle`] runs it against a [`backend::Backend`] (KV, R2,
//! clock, randomness) and returns a [`http::Reply`] value. The Workers adapter (`glue.rs`,
//! wasm32 only) converts requests and responses and implements the backend over the bindings.
//! Besides requests, the worker consumes the scan queue (bucket scanning, [`bucket::Scanner`]:
//! the adapter hands it each message's JSON text and acknowledges or retries as it answers) and
//! runs a cron trigger (follow-up verification, [`followup::run`]).
//! Native tests use [`backend::MemoryBackend`]:
//!
//! ```
//! use schoon_worker::app::App;
//! use schoon_worker::backend::{block_on, MemoryBackend};
//! use schoon_worker::config::Config;
//! use schoon_worker::http::{Head, Method};
//! use schoon_worker::isolate::Isolate;
//!
//! let config = Config::from_lookup(|name| match name {
//!     "ALLOW_UNSIGNED_SETS" => Some("true".into()),
//!     "RECEIPT_SIGNING_KEY" => Some("07".repeat(32)),
//!     _ => None,
//! })?;
//! let backend = MemoryBackend::new(1_764_400_000_000);
//! let isolate = Isolate::new("test".into());
//! let app = App { config: &config, isolate: &isolate, backend: &backend };
//!
//! // Nothing is published yet: the health check says so with 503.
//! let reply = block_on(app.serve(&Head::new(Method::Get, "/v1/health"), Vec::new())).unwrap();
//! assert_eq!(reply.outcome.response().unwrap().status, 503);
//! # Ok::<(), schoon_worker::error::ApiError>(())
//! ```

// Indexing panics on a bad index: the request path uses `get`. Tests may index.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

pub mod app;
pub mod artifact;
pub mod auth;
pub mod backend;
pub mod backfill;
pub mod bucket;
pub mod bulk;
pub mod config;
pub mod counters;
pub mod error;
pub mod followup;
mod handlers;
pub mod http;
pub mod isolate;
pub mod keys;
pub mod multipart;
pub mod policy;
pub mod query;
pub mod ratelimit;
pub mod receipts;
pub mod sets;
pub mod shards;
pub mod subject;
pub mod tenant;
pub mod time;
pub mod url;

#[cfg(target_arch = "wasm32")]
mod glue;
#[cfg(target_arch = "wasm32")]
mod shard_object;
