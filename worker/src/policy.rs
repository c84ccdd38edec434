//! Per-tenant list policy: which lists of the current set a tenant is matched against, and how
//! close a PDQ match must be for each list.
//!
//! A tenant record may carry `lists` (list names), `categories` (category names; a match must
//! be in both when both are given) and `thresholds` (a PDQ and region distance threshold per
//! list, only ever tighter than `MATCH_THRESHOLD`). [`apply`] is the one place the policy is
//! applied to matches; every check (`/v1/confirm`, `/v1/scan`, gate mode, `/v1/check`, the
//! queue consumer) goes through it, usually by way of [`lookup`] or [`lookup_hashed`], which
//! also keep the rule that region windows are looked at only when no whole-image PDQ match
//! stands, judged after the policy (a PDQ match in a list the tenant did not choose must not
//! hide a region match in one it did).
//!
//! Names are checked against the current set when the policy is written ([`ListPolicy::check`]);
//! a list that disappears from a later set simply matches nothing for that tenant, and
//! [`ListPolicy::missing`] says which names the current set lacks.
//!
//! ```
//! use schoon_core::set::{HashKind, Match};
//! use schoon_worker::tenant::TenantRecord;
//! use schoon_worker::policy::{self, ListPolicy};
//!
//! let m = |list: &str, category: &str, distance| Match {
//!     list: list.into(), category: category.into(), kind: HashKind::Pdq, distance,
//!     value: String::new(), variant: None, region: None,
//! };
//! let tenant = TenantRecord {
//!     tenant: "acme".into(),
//!     policy: ListPolicy {
//!         lists: Some(vec!["a".into(), "b".into()]),
//!         thresholds: [("b".to_owned(), 10)].into(),
//!         ..ListPolicy::default()
//!     },
//!     ..TenantRecord::default()
//! };
//! let kept = policy::apply(&tenant.policy, vec![m("a", "csam", 20), m("b", "csam", 20), m("c", "csam", 0)]);
//! assert_eq!(kept, vec![m("a", "csam", 20)]);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use schoon_core::regions::Scheme;
use schoon_core::set::{HashKind, Index, ListMeta, Match, MatchOptions, Query};
use schoon_core::{ExactHashes, ImageHashes, PdqHash};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A tenant's choice of lists (stored flattened in its `TenantRecord`: the fields `lists`,
/// `categories` and `thresholds`; records written before they existed load with none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPolicy {
    /// Only matches in these lists count (`None`: every list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lists: Option<Vec<String>>,
    /// Only matches in lists of these categories count (`None`: every category).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Per list, the largest PDQ (and region) distance that counts; at most the global
    /// `MATCH_THRESHOLD`, which applies to lists not named here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub thresholds: BTreeMap<String, u32>,
}

/// The names of a policy that the current set lacks (see [`ListPolicy::missing`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// Chosen lists the set does not have.
    pub lists: Vec<String>,
    /// Chosen categories no list of the set has.
    pub categories: Vec<String>,
    /// Lists with a threshold that the set does not have.
    pub thresholds: Vec<String>,
}

impl Missing {
    /// Whether the set has every name.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty() && self.categories.is_empty() && self.thresholds.is_empty()
    }
}

fn names(lists: &[ListMeta], category: bool) -> BTreeSet<&str> {
    lists
        .iter()
        .map(|l| if category { l.info.category.as_str() } else { l.info.name.as_str() })
        .collect()
}

fn joined(set: &BTreeSet<&str>) -> String {
    if set.is_empty() {
        "none".to_owned()
    } else {
        set.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
    }
}

impl ListPolicy {
    /// Whether the tenant is matched against everything (no field set).
    pub fn is_empty(&self) -> bool {
        self.lists.is_none() && self.categories.is_none() && self.thresholds.is_empty()
    }

    /// Whether a match counts for this policy.
    pub fn allows(&self, m: &Match) -> bool {
        let listed = |names: &Option<Vec<String>>, name: &str| {
            names.as_ref().is_none_or(|n| n.iter().any(|x| x == name))
        };
        let close = m.kind != HashKind::Pdq
            || self.thresholds.get(&m.list).is_none_or(|&t| m.distance <= t);
        listed(&self.lists, &m.list) && listed(&self.categories, &m.category) && close
    }

    /// Checks a policy being written against the current set's lists and the global
    /// threshold, and returns it with sorted, deduplicated names. An unknown name is a 422 that
    /// names it and the names the set has.
    pub fn check(mut self, lists: &[ListMeta], max_threshold: u32) -> Result<ListPolicy, ApiError> {
        let (list_names, categories) = (names(lists, false), names(lists, true));
        for (field, chosen, known, what) in [
            ("lists", &mut self.lists, &list_names, "list"),
            ("categories", &mut self.categories, &categories, "category"),
        ] {
            let Some(chosen) = chosen else { continue };
            if chosen.is_empty() {
                return Err(ApiError::Invalid(format!(
                    "{field} is empty: name at least one {what}, or leave {field} out to match every {what}"
                )));
            }
            chosen.sort();
            chosen.dedup();
            if let Some(unknown) = chosen.iter().find(|n| !known.contains(n.as_str())) {
                return Err(ApiError::Invalid(format!(
                    "unknown {what} '{unknown}': the current set has {}",
                    joined(known)
                )));
            }
        }
        for (list, &t) in &self.thresholds {
            if !list_names.contains(list.as_str()) {
                return Err(ApiError::Invalid(format!(
                    "thresholds: unknown list '{list}': the current set has {}",
                    joined(&list_names)
                )));
            }
            if t > max_threshold {
                return Err(ApiError::Invalid(format!(
                    "thresholds: list '{list}' has {t}, over MATCH_THRESHOLD {max_threshold} (a tenant's threshold can only be tighter)"
                )));
            }
        }
        Ok(self)
    }

    /// The names of this policy the set with `lists` lacks (matches in them are impossible
    /// until a set has them again).
    pub fn missing(&self, lists: &[ListMeta]) -> Missing {
        let (list_names, categories) = (names(lists, false), names(lists, true));
        let absent = |chosen: Option<&Vec<String>>, known: &BTreeSet<&str>| -> Vec<String> {
            chosen
                .map(|c| c.iter().filter(|n| !known.contains(n.as_str())).cloned().collect())
                .unwrap_or_default()
        };
        Missing {
            lists: absent(self.lists.as_ref(), &list_names),
            categories: absent(self.categories.as_ref(), &categories),
            thresholds: self
                .thresholds
                .keys()
                .filter(|n| !list_names.contains(n.as_str()))
                .cloned()
                .collect(),
        }
    }
}

/// Keeps the matches the tenant's policy allows, in their order: the one function every check
/// path (and the queue consumer) applies to what the index found for a tenant.
pub fn apply(policy: &ListPolicy, matches: Vec<Match>) -> Vec<Match> {
    if policy.is_empty() {
        return matches;
    }
    matches.into_iter().filter(|m| policy.allows(m)).collect()
}

fn has_pdq(matches: &[Match]) -> bool {
    matches.iter().any(|m| m.kind == HashKind::Pdq)
}

/// A confirmation's matches for a tenant: [`Index::lookup_with_windows`] under the tenant's
/// policy (the windows are looked up when no whole-image PDQ match in the tenant's lists
/// stands). Used by `/v1/confirm` and `/v1/check`.
pub fn lookup(
    policy: &ListPolicy,
    index: &Index,
    query: &Query,
    windows: &[PdqHash],
    options: &MatchOptions,
) -> Vec<Match> {
    if policy.is_empty() {
        return index.lookup_with_windows(query, windows, options);
    }
    let mut matches = apply(policy, index.lookup(query, options));
    if !windows.is_empty() && !has_pdq(&matches) {
        matches.extend(apply(policy, index.lookup_region_hashes(windows, options)));
    }
    matches
}

/// An upload's matches for a tenant: [`schoon_core::set::lookup_hashed`] under the tenant's
/// policy. Used by `/v1/scan` and gate mode.
pub fn lookup_hashed(
    policy: &ListPolicy,
    index: &Index,
    exact: &ExactHashes,
    image: Option<&ImageHashes>,
    options: &MatchOptions,
) -> Vec<Match> {
    let all = schoon_core::set::lookup_hashed(index, exact, image, options);
    if policy.is_empty() {
        return all;
    }
    // A whole-image PDQ match (no region) means the core skipped the windows.
    let windows_skipped = all.iter().any(|m| m.kind == HashKind::Pdq && m.region.is_none());
    let mut matches = apply(policy, all);
    if windows_skipped
        && !has_pdq(&matches)
        && index.has_regions()
        && let Some(image) = image.filter(|i| i.pdq.quality >= options.min_quality)
        && let Some(plane) = &image.plane
    {
        let windows = Scheme::standard().query_variants(plane);
        matches.extend(apply(policy, index.lookup_regions(&windows, options)));
    }
    matches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::TenantRecord;
    use schoon_core::set::ListInfo;

    fn list(name: &str, category: &str) -> ListMeta {
        ListMeta {
            info: ListInfo::new(name, category, "test"),
            md5: 0,
            sha1: 0,
            sha256: 1,
            pdq: 1,
            regions: 0,
        }
    }

    fn m(list: &str, category: &str, kind: HashKind, distance: u32) -> Match {
        Match {
            list: list.into(),
            category: category.into(),
            kind,
            distance,
            value: String::new(),
            variant: None,
            region: None,
        }
    }

    #[test]
    fn lists_and_categories_must_both_allow() {
        let p = ListPolicy {
            lists: Some(vec!["a".into(), "b".into()]),
            categories: Some(vec!["csam".into()]),
            ..ListPolicy::default()
        };
        assert!(p.allows(&m("a", "csam", HashKind::Sha256, 0)));
        assert!(!p.allows(&m("b", "other", HashKind::Sha256, 0)));
        assert!(!p.allows(&m("c", "csam", HashKind::Sha256, 0)));
        assert!(ListPolicy::default().allows(&m("c", "x", HashKind::Pdq, 31)));
    }

    #[test]
    fn thresholds_apply_to_pdq_only() {
        let p = ListPolicy { thresholds: [("a".to_owned(), 5)].into(), ..ListPolicy::default() };
        assert!(p.allows(&m("a", "c", HashKind::Pdq, 5)));
        assert!(!p.allows(&m("a", "c", HashKind::Pdq, 6)));
        assert!(p.allows(&m("a", "c", HashKind::Md5, 0)));
        assert!(p.allows(&m("b", "c", HashKind::Pdq, 30)));
    }

    #[test]
    fn check_names_unknown_values_and_sorts() {
        let set = [list("b", "csam"), list("a", "test")];
        let p = ListPolicy {
            lists: Some(vec!["b".into(), "a".into(), "b".into()]),
            ..ListPolicy::default()
        };
        assert_eq!(p.check(&set, 31).unwrap().lists, Some(vec!["a".into(), "b".into()]));
        let e = ListPolicy { lists: Some(vec!["z".into()]), ..ListPolicy::default() }
            .check(&set, 31)
            .unwrap_err();
        assert_eq!(e.to_string(), "unknown list 'z': the current set has 'a', 'b'");
        assert_eq!(crate::error::status_for(&e), 422);
        let e = ListPolicy { categories: Some(vec!["x".into()]), ..ListPolicy::default() }
            .check(&set, 31)
            .unwrap_err();
        assert_eq!(e.to_string(), "unknown category 'x': the current set has 'csam', 'test'");
        let e = ListPolicy { lists: Some(Vec::new()), ..ListPolicy::default() }
            .check(&set, 31)
            .unwrap_err();
        assert!(e.to_string().starts_with("lists is empty"), "{e}");
        let e = ListPolicy { thresholds: [("a".to_owned(), 32)].into(), ..ListPolicy::default() }
            .check(&set, 31)
            .unwrap_err();
        assert!(e.to_string().contains("list 'a' has 32, over MATCH_THRESHOLD 31"), "{e}");
        let e = ListPolicy { thresholds: [("q".to_owned(), 3)].into(), ..ListPolicy::default() }
            .check(&set, 31)
            .unwrap_err();
        assert!(e.to_string().contains("unknown list 'q'"), "{e}");
    }

    #[test]
    fn missing_names_after_a_new_set() {
        let p = ListPolicy {
            lists: Some(vec!["a".into(), "gone".into()]),
            categories: Some(vec!["csam".into(), "old".into()]),
            thresholds: [("gone".to_owned(), 3)].into(),
        };
        let missing = p.missing(&[list("a", "csam")]);
        assert_eq!(
            missing,
            Missing {
                lists: vec!["gone".into()],
                categories: vec!["old".into()],
                thresholds: vec!["gone".into()]
            }
        );
        assert!(!missing.is_empty());
        assert!(p.missing(&[list("a", "csam"), list("gone", "old")]).is_empty());
    }

    #[test]
    fn old_records_load_without_a_policy() {
        let old = r#"{"tenant":"acme","rate_per_minute":null,"burst":null,"disabled":false,"created_ms":5}"#;
        let t: TenantRecord = serde_json::from_str(old).unwrap();
        assert!(t.policy.is_empty());
        assert_eq!(t.created_ms, 5);
        let text = serde_json::to_string(&t).unwrap();
        assert!(!text.contains("lists") && !text.contains("thresholds"), "{text}");
    }
}
