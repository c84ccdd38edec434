//! What a receipt is about: shared by the checks that take it from a request (`query`) and the
//! receipts that store it.

use serde::{Deserialize, Serialize};

/// What a receipt is about, beside the hash: the caller's object id, a URL that served the
/// content, or the bucket and key of a stored object. Stored with the receipt (not signed), so
/// a follow-up check can find the content again. Every field is optional; an empty subject is
/// not stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The caller's own id of the object (a `/v1/check` line's `id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// A URL that served the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The R2 bucket that holds the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The object's key in that bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Subject {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.object_id.is_none()
            && self.url.is_none()
            && self.bucket.is_none()
            && self.key.is_none()
    }
}
