//! The figures the report and the plots read off a run, and how numbers are written.

use crate::edits::Corners;
use crate::eval::{AlgoId, AlgoResult, PDQ_THRESHOLD, Run};
use crate::plan::{ANGLE_CURVE, CROP_CURVE, CurvePoint};

/// Recall targets of the default matcher.
pub const BENIGN_TARGET: f64 = 0.99;
/// Recall target of the robust mode at 10 % crops and 5 degree rotations.
pub const ROBUST_TARGET: f64 = 0.90;
/// Extrapolated false-positive-rate target at the operating threshold.
pub const FPR_TARGET: f64 = 1e-6;

pub(super) fn pct(v: f64) -> String {
    format!("{:.1}", v * 100.0)
}

pub(super) fn opt_pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), pct)
}

pub(super) fn sci(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v < 1e-300 {
        "< 1e-300".into()
    } else {
        format!("{v:.1e}")
    }
}

/// The UTC date of a Unix time, `YYYY-MM-DD`.
pub fn utc_date(unix_seconds: u64) -> String {
    // Days to civil date (proleptic Gregorian), by 400-year eras.
    let days = (unix_seconds / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// CPU model and logical core count from `/proc/cpuinfo`.
pub fn machine() -> (String, usize) {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown CPU".to_string(), |(_, v)| v.trim().to_string());
    let cores = info.lines().filter(|l| l.starts_with("processor")).count();
    let cores = if cores == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        cores
    };
    (model, cores)
}

/// Recall pooled over the table cases selected by `keep` at threshold `t`.
pub(super) fn pooled(
    run: &Run,
    a: &AlgoResult,
    t: u32,
    keep: &dyn Fn(usize) -> bool,
) -> Option<f64> {
    let (mut hit, mut all) = (0usize, 0usize);
    for (ci, case) in run.cases.iter().enumerate() {
        if !case.table || !keep(ci) || !a.evaluated[ci] {
            continue;
        }
        let s = &a.same[ci];
        hit += s.iter().filter(|d| d.is_some_and(|d| d <= t)).count();
        all += s.len();
    }
    (all > 0).then(|| hit as f64 / all as f64)
}

pub(super) fn worst_benign(run: &Run, a: &AlgoResult, t: u32) -> Option<(f64, String)> {
    run.cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.benign)
        .filter_map(|(ci, c)| a.recall(ci, t).map(|r| (r, c.edit.name())))
        .min_by(|x, y| x.0.total_cmp(&y.0))
}

/// The largest threshold whose extrapolated FPR is at most `target`.
pub(super) fn fpr_threshold(a: &AlgoResult, target: f64) -> Option<u32> {
    (0..=a.id.bits()).take_while(|&t| a.fit.fpr(t) <= target).last()
}

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(super) fn find(run: &Run, id: AlgoId) -> Option<&AlgoResult> {
    run.algos.iter().find(|a| a.id == id)
}

pub(super) fn curve_index(run: &Run, p: CurvePoint) -> Option<usize> {
    run.cases.iter().position(|c| c.curve == Some(p))
}

pub(super) fn reencode_index(run: &Run) -> Option<usize> {
    run.cases.iter().position(|c| c.edit == crate::edits::Edit::Reencode)
}

pub(super) type Series = Vec<(String, Vec<(f64, f64)>)>;

/// The crop and rotation curves of plain PDQ fast and of the robust mode.
pub(super) fn curve_series(run: &Run) -> (Series, Series) {
    let mut crop = Vec::new();
    let mut rot = Vec::new();
    let zero = reencode_index(run);
    for id in [AlgoId::PdqFast, AlgoId::PdqRobust] {
        let Some(a) = find(run, id) else { continue };
        let label = if id == AlgoId::PdqFast { "PDQ fast" } else { "PDQ + robust" };
        let at = |ci: Option<usize>| ci.and_then(|ci| a.recall(ci, PDQ_THRESHOLD));
        for (name, make) in [
            ("one edge", CurvePoint::CropOne as fn(f32) -> CurvePoint),
            ("every edge", CurvePoint::CropAll as fn(f32) -> CurvePoint),
        ] {
            let mut pts: Vec<(f64, f64)> = at(zero).map(|r| (0.0, r)).into_iter().collect();
            pts.extend(
                CROP_CURVE.iter().filter_map(|&f| {
                    at(curve_index(run, make(f))).map(|r| (f64::from(f) * 100.0, r))
                }),
            );
            crop.push((format!("{label}, {name}"), pts));
        }
        for corners in [Corners::Fill, Corners::Crop] {
            let mut angles: Vec<f32> = ANGLE_CURVE.iter().flat_map(|&a| [-a, a]).collect();
            angles.push(0.0);
            angles.sort_by(f32::total_cmp);
            let pts: Vec<(f64, f64)> = angles
                .iter()
                .filter_map(|&d| {
                    let ci = if d == 0.0 {
                        zero
                    } else {
                        curve_index(run, CurvePoint::Rotate(d, corners))
                    };
                    at(ci).map(|r| (f64::from(d), r))
                })
                .collect();
            let c = if corners == Corners::Fill { "corners filled" } else { "corners cropped" };
            rot.push((format!("{label}, {c}"), pts));
        }
    }
    (crop, rot)
}

/// The non-PDQ algorithm with the best benign recall at its zero-FP threshold.
pub(super) fn best_secondary(run: &Run) -> Option<(&AlgoResult, u32)> {
    run.algos
        .iter()
        .filter(|a| !matches!(a.id, AlgoId::PdqFast | AlgoId::PdqReference | AlgoId::PdqRobust))
        .filter_map(|a| {
            let t = a.zero_fp?;
            let r = pooled(run, a, t, &|ci| run.cases[ci].benign)?;
            Some((a, t, r))
        })
        .max_by(|x, y| x.2.total_cmp(&y.2))
        .map(|(a, t, _)| (a, t))
}
