//! Describing any set file (what `schoon inspect` shows).

use super::container::{self, Artifact, Header, Trust};
use crate::error::Error;

/// What `schoon inspect` shows of any set file.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The verified header.
    pub header: Header,
    /// The metadata (lists, parameters, counts).
    pub metadata: serde_json::Value,
    /// Sections: tag and length in bytes.
    pub sections: Vec<(String, usize)>,
    /// Total file size.
    pub bytes: usize,
}

/// Verifies any set file (index, filter, delta, shard manifest, exact buckets) and describes it.
pub fn inspect(bytes: &[u8], trust: &Trust) -> Result<Inspection, Error> {
    let parsed = container::parse(
        bytes,
        trust,
        &[
            Artifact::Index,
            Artifact::Filter,
            Artifact::FilterDelta,
            Artifact::ShardManifest,
            Artifact::ExactBuckets,
        ],
    )?;
    let metadata = serde_json::from_str(parsed.metadata).map_err(|e| {
        Error::BadInput(crate::error::BadInput::Set { detail: format!("metadata: {e}") })
    })?;
    Ok(Inspection {
        header: parsed.header.clone(),
        metadata,
        sections: parsed
            .sections
            .iter()
            .map(|(t, s)| (String::from_utf8_lossy(t).trim().to_owned(), s.len()))
            .collect(),
        bytes: bytes.len(),
    })
}

/// What a filter file leaves out, when it is the head filter of a budgeted build
/// ([`crate::set::SetBuilder::build_budgeted`]); `None` for a whole filter. Served or scanned
/// alone, such a filter would call listed exact files clean, so adapters refuse it.
pub fn partial_filter(bytes: &[u8], trust: &Trust) -> Result<Option<String>, Error> {
    let inspected = inspect(bytes, trust)?;
    Ok(inspected.metadata.get("partial").and_then(|p| p.as_str()).map(str::to_owned))
}
