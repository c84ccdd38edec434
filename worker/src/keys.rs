//! Every storage key name in one place: KV keys, R2 object keys and rate-limiter keys.
//!
//! One function or const per key family; the modules that read and write a family call it, so
//! a key's shape is written once. A leaf: nothing of the crate is used here.

/// KV key of the set pointer.
pub const SET_POINTER: &str = "set:current";

/// KV key of the follow-up job's cursor.
pub const FOLLOWUP_CURSOR: &str = "followup:cursor";

/// KV key of the follow-up job's last run summary.
pub const FOLLOWUP_LAST_RUN: &str = "followup:last";

/// KV key prefix of every tenant record.
pub const TENANT_PREFIX: &str = "tenant:";

/// KV key of a tenant record.
pub fn tenant(tenant: &str) -> String {
    format!("{TENANT_PREFIX}{tenant}")
}

/// The tenant id of a tenant record's key.
pub fn tenant_of(key: &str) -> Option<&str> {
    key.strip_prefix(TENANT_PREFIX)
}

/// KV key of an API key record.
pub fn api_key(key_sha256: &str) -> String {
    format!("key:{key_sha256}")
}

/// Rate-limiter key of a tenant.
pub fn tenant_limit(tenant: &str) -> String {
    format!("t:{tenant}")
}

/// Rate-limiter key of an anonymous caller's address.
pub fn ip_limit(ip: &str) -> String {
    format!("ip:{ip}")
}

/// KV key prefix of every receipt listing entry (all tenants).
pub const RECEIPT_INDEX_PREFIX: &str = "receipts:";

/// KV key of a receipt record.
pub fn receipt(id: &str) -> String {
    format!("receipt:{id}")
}

/// KV key prefix of a tenant's receipt listing.
pub fn receipt_index_prefix(tenant: &str) -> String {
    format!("{RECEIPT_INDEX_PREFIX}{tenant}:")
}

/// KV key of a receipt's listing entry (sorted by issue time).
pub fn receipt_index(tenant: &str, issued: u64, id: &str) -> String {
    format!("{RECEIPT_INDEX_PREFIX}{tenant}:{issued:013}:{id}")
}

/// KV key prefix of a tenant's counter shards.
pub fn count_prefix(tenant: &str) -> String {
    format!("count:{tenant}:")
}

/// KV key of one counter shard.
pub fn count_shard(tenant: &str, day: &str, isolate: &str) -> String {
    format!("count:{tenant}:{day}:{isolate}")
}

/// Splits a counter shard key into `(day, isolate)`.
pub fn parse_count_shard<'a>(tenant: &str, key: &'a str) -> Option<(&'a str, &'a str)> {
    key.strip_prefix("count:")?.strip_prefix(tenant)?.strip_prefix(':')?.split_once(':')
}

/// KV key of a scanned bucket object's record.
pub fn scan_object(bucket: &str, key: &str) -> String {
    format!("scan:{bucket}:{}", schoon_core::sha256(key.as_bytes()).to_hex())
}

/// KV key prefix of every backfill.
pub const BACKFILL_PREFIX: &str = "backfill:";

/// KV key of a backfill.
pub fn backfill(id: &str) -> String {
    format!("{BACKFILL_PREFIX}{id}")
}

/// The id of a backfill's key.
pub fn backfill_of(key: &str) -> Option<&str> {
    key.strip_prefix(BACKFILL_PREFIX)
}

/// The counter name of a backfill's objects (not a valid tenant id, so no tenant's counters can
/// collide with it).
pub fn backfill_counter(id: &str) -> String {
    format!("~backfill.{id}")
}

fn padded(version: u64) -> String {
    format!("{version:020}")
}

/// R2 key of an index version.
pub fn index_object(version: u64) -> String {
    format!("index/{}.idx", padded(version))
}

/// R2 key of a filter version.
pub fn filter_object(version: u64) -> String {
    format!("filter/{}.flt", padded(version))
}

/// R2 key of a delta.
pub fn delta_object(base: u64, version: u64) -> String {
    format!("filter/delta/{}-{}.dlt", padded(base), padded(version))
}

/// R2 key of a sharded index's manifest.
pub fn manifest_object(version: u64) -> String {
    format!("shards/{}/{}", padded(version), schoon_core::set::SHARD_MANIFEST_FILE)
}

/// R2 key of one shard of a sharded index.
pub fn shard_object(version: u64, number: u32) -> String {
    format!("shards/{}/{}", padded(version), schoon_core::set::shard_file_name(number))
}

/// KV key of an uploaded shard's record (its checksum, hex), checked when the manifest is
/// published.
pub fn shard_record(version: u64, number: u32) -> String {
    format!("shard:{version}:{number}")
}

/// The name of the Durable Object that holds shard `number` of `version` (a new version gets
/// new objects, so no object ever answers from two versions).
pub fn shard_host(version: u64, number: u32) -> String {
    format!("v{version}-shard-{number}")
}

/// KV key of a published filter version's record.
pub fn filter_record(version: u64) -> String {
    format!("filter:v:{version}")
}

/// KV key of a published delta's record.
pub fn delta_record(base: u64, version: u64) -> String {
    format!("filter:d:{base}:{version}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_keys_round_trip() {
        let k = count_shard("acme", "2026-11-29", "abcd");
        assert_eq!(parse_count_shard("acme", &k), Some(("2026-11-29", "abcd")));
        assert_eq!(parse_count_shard("acm", &k), None);
        assert!(k.starts_with(&count_prefix("acme")));
    }

    #[test]
    fn listing_keys_share_their_prefix() {
        assert_eq!(tenant_of(&tenant("acme")), Some("acme"));
        assert_eq!(backfill_of(&backfill("00ff")), Some("00ff"));
        assert!(receipt_index("acme", 5, "r").starts_with(&receipt_index_prefix("acme")));
        assert_eq!(receipt_index("acme", 5, "r"), "receipts:acme:0000000000005:r");
        assert_eq!(
            delta_object(1, 2),
            "filter/delta/00000000000000000001-00000000000000000002.dlt"
        );
    }
}
