//! Detection-quality evaluation for schoon: the image edits a picture goes through
//! ([`edits`]), the statistics of hash distances ([`stats`]: ROC, zero-false-match thresholds,
//! extrapolated false-positive rates), the evaluation run and its report ([`eval`],
//! [`report`], [`plot`]), and research on crop- and rotation-tolerant PDQ matching
//! ([`robust`]).
//!
//! The `schoon-eval` binary runs the whole evaluation over a folder of distinct images and
//! writes the report under `docs/eval/`; see the crate README.

pub mod edits;
pub mod eval;
pub mod peer;
pub mod plan;
pub mod plot;
pub mod report;
pub mod robust;
pub mod stats;
