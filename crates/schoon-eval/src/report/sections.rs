//! The longer sections of the Markdown report: observations, shortfalls of the default
//! matcher, and the crop-, rotation- and overlay-tolerant mode.

use std::fmt::Write as _;

use crate::edits::Corners;
use crate::eval::{AlgoId, AlgoResult, PDQ_MIN_QUALITY, PDQ_THRESHOLD, Run};
use crate::plan::{CurvePoint, Group};
use crate::robust::{self, Scheme};
use crate::stats;

use super::figures::{
    BENIGN_TARGET, FPR_TARGET, ROBUST_TARGET, curve_index, curve_series, find, fpr_threshold,
    opt_pct, pct, plural, pooled, sci,
};

/// A few statements read off the results.
pub(super) fn observations(s: &mut String, run: &Run) {
    let _ = writeln!(s, "Observations (computed from the numbers above):\n");
    let benign = |a: &AlgoResult, t: u32| pooled(run, a, t, &|ci| run.cases[ci].benign);
    if let Some(a) = find(run, AlgoId::PdqFast) {
        let at31 = benign(a, PDQ_THRESHOLD);
        let line = match (a.zero_fp, fpr_threshold(a, FPR_TARGET)) {
            (Some(z), Some(t6)) => format!(
                "- PDQ's smallest distinct distance is {}: the standard threshold {PDQ_THRESHOLD} \
                 leaves a wide margin. The benign set is found at {} % at {PDQ_THRESHOLD}, {} % at \
                 {t6} (extrapolated FPR ≤ 1e-6) and {} % at {z} (no false match here).",
                z + 1,
                opt_pct(at31),
                opt_pct(benign(a, t6)),
                opt_pct(benign(a, z))
            ),
            _ => format!("- PDQ finds {} % of the benign set at {PDQ_THRESHOLD}.", opt_pct(at31)),
        };
        let _ = writeln!(s, "{line}");
    }
    let others: Vec<&AlgoResult> = run
        .algos
        .iter()
        .filter(|a| !matches!(a.id, AlgoId::PdqFast | AlgoId::PdqReference | AlgoId::PdqRobust))
        .collect();
    let best_dihedral = others
        .iter()
        .filter_map(|a| {
            a.zero_fp.and_then(|t| pooled(run, a, t, &|ci| run.cases[ci].group == Group::Dihedral))
        })
        .fold(0.0f64, f64::max);
    if !others.is_empty() {
        let _ = writeln!(
            s,
            "- The 64-bit hashes have no dihedral variants: on quarter turns and mirrors they find \
             at most {} % at their zero-FP thresholds, where PDQ's dihedral rule finds them all \
             but its low-quality queries.",
            pct(best_dihedral)
        );
    }
    for a in &others {
        if a.fit.mean < 0.4 {
            let zeros = a.distinct.iter().filter(|&&d| d == 0).count();
            let same = if zeros > 0 {
                format!(
                    ", and {} of different photos {} identical hashes",
                    plural(zeros, "pair", "pairs"),
                    if zeros == 1 { "has" } else { "have" }
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "- {}: distinct pairs differ in only {:.0} % of the bits on average (a balanced \
                 hash gives about 50 %){same}: its bits are biased{}.",
                a.id.name(),
                a.fit.mean * 100.0,
                if a.zero_fp.is_none() { ", and no threshold separates these photos" } else { "" }
            );
        }
    }
    if let (Some(f), Some(r)) = (find(run, AlgoId::PdqFast), find(run, AlgoId::PdqRobust)) {
        let frame = |a: &AlgoResult| {
            pooled(run, a, PDQ_THRESHOLD, &|ci| run.cases[ci].group == Group::Frame)
        };
        let _ = writeln!(
            s,
            "- Overlays and frames are PDQ's other weakness: {} % at {PDQ_THRESHOLD} over that \
             group; the robust regions raise it to {} % (per edit in the table below).",
            opt_pct(frame(f)),
            opt_pct(frame(r))
        );
    }
    let _ = writeln!(s);
}

/// Why the default matcher misses benign edits, from the data.
pub(super) fn shortfalls(s: &mut String, run: &Run, a: &AlgoResult, who: &str) {
    let mut any = false;
    for (ci, case) in run.cases.iter().enumerate().filter(|(_, c)| c.benign) {
        let Some(r) = a.recall(ci, PDQ_THRESHOLD) else { continue };
        if r >= BENIGN_TARGET {
            continue;
        }
        if !any {
            let _ = writeln!(s, "\nWhere {who} falls short of the targets:\n");
            any = true;
        }
        let misses: Vec<Option<u32>> =
            a.same[ci].iter().filter(|d| d.is_none_or(|d| d > PDQ_THRESHOLD)).copied().collect();
        let low = misses.iter().filter(|d| d.is_none()).count();
        let mut far: Vec<f64> = misses.iter().flatten().map(|&d| f64::from(d)).collect();
        far.sort_by(f64::total_cmp);
        let _ = writeln!(
            s,
            "- **{}**: {} % ({}: {low} of quality under {PDQ_MIN_QUALITY}, {} over the threshold{})",
            case.edit.name(),
            pct(r),
            plural(misses.len(), "miss", "misses"),
            far.len(),
            stats::quantile(&far, 0.5)
                .map_or_else(String::new, |m| format!(", median distance {m:.0}"))
        );
    }
    if any {
        let _ = writeln!(s);
    }
}

pub(super) fn robust_section(s: &mut String, run: &Run, row: Option<&AlgoResult>, plots: bool) {
    let scheme = Scheme::standard();
    let _ = writeln!(s, "## Crop-, rotation- and overlay-tolerant PDQ (`schoon_core::regions`)\n");
    let listed: Vec<String> = scheme.listed_regions().iter().map(|r| r.describe()).collect();
    let listed_counts: Vec<usize> = run.originals.iter().map(|o| o.listed.len()).collect();
    let mean_listed =
        listed_counts.iter().sum::<usize>() as f64 / listed_counts.len().max(1) as f64;
    let _ = writeln!(
        s,
        "Plain PDQ hashes the whole frame, so a crop or a small turn moves the content against \
         the frame and flips many bits. The robust mode stores, beside the ordinary PDQ hash, \
         the PDQ hashes of **{} regions** of each listed image ({}), dropping any of \
         quality under {}; on average {mean_listed:.2} extra 32-byte hashes per listed image \
         here, at most {} (so the listed size is at most {}x plain PDQ). The query side hashes \
         **{} windows** of the query image: where those regions would be if the query were the \
         original cut by k × {:.1} % off one edge (each of the 4) or off every edge, padded by a \
         border of up to {:.0} % per side, or turned by {} degrees (corners filled, or cropped \
         to the inscribed rectangle). Every region is resampled straight into PDQ's 64 × 64 \
         buffer (one bilinear sample per cell, from a luma plane box-reduced to about {} pixels), then \
         PDQ's DCT, median and quality run unchanged. **Rule**: a query matches when plain PDQ \
         matches (dihedral, {PDQ_THRESHOLD}, quality ≥ {PDQ_MIN_QUALITY}), or when any listed \
         region hash is within **{}** bits of any of the 8 dihedral hashes of any query window \
         of quality ≥ {}.\n",
        listed.len(),
        listed.join(", "),
        robust::MIN_QUALITY,
        robust::MAX_LISTED,
        robust::MAX_LISTED + 1,
        run.query_windows,
        scheme.crop_step * 100.0,
        scheme.max_border * 100.0,
        scheme.angles.iter().map(|a| format!("{a:+}")).collect::<Vec<_>>().join(", "),
        robust::PLANE_SIDE,
        robust::EXTRA_THRESHOLD,
        robust::MIN_QUALITY,
    );
    let Some(r) = row else { return };
    let n = run.originals.len();
    let _ =
        writeln!(s, "| measure | plain PDQ fast | PDQ + robust | target |\n|---|---:|---:|---|");
    let fast = find(run, AlgoId::PdqFast);
    let mut checks = Vec::new();
    for (label, p) in [
        ("crop 10 % one side", CurvePoint::CropOne(0.1)),
        ("crop 10 % all sides", CurvePoint::CropAll(0.1)),
        ("rotate +5°, corners filled", CurvePoint::Rotate(5.0, Corners::Fill)),
        ("rotate −5°, corners filled", CurvePoint::Rotate(-5.0, Corners::Fill)),
        ("rotate +5°, corners cropped", CurvePoint::Rotate(5.0, Corners::Crop)),
        ("rotate −5°, corners cropped", CurvePoint::Rotate(-5.0, Corners::Crop)),
    ] {
        let ci = curve_index(run, p);
        let plain = ci.and_then(|ci| fast.and_then(|a| a.recall(ci, PDQ_THRESHOLD)));
        let rob = ci.and_then(|ci| r.recall(ci, PDQ_THRESHOLD));
        let ok = rob.is_some_and(|x| x >= ROBUST_TARGET);
        checks.push(ok);
        let _ = writeln!(
            s,
            "| recall, {label} | {} % | {} % | ≥ 90 %: {} |",
            opt_pct(plain),
            opt_pct(rob),
            if ok { "yes" } else { "**no**" }
        );
    }
    let fm = r.false_matches(PDQ_THRESHOLD);
    let _ = writeln!(
        s,
        "| false matches among the {} distinct pairs | {} | {fm} (over {} hash comparisons) | 0: {} |",
        r.distinct_total,
        fast.map_or(0, |a| a.false_matches(PDQ_THRESHOLD)),
        r.comparisons,
        if fm == 0 { "yes" } else { "**no**" }
    );
    let _ = writeln!(
        s,
        "| smallest distinct distance (any rule) | {} | {} | |",
        fast.and_then(|a| a.distinct.iter().min().copied())
            .map_or_else(|| "–".into(), |m| m.to_string()),
        r.distinct.iter().min().map_or_else(|| "–".into(), |m| m.to_string())
    );
    let _ = writeln!(
        s,
        "| extrapolated FPR per pair at {PDQ_THRESHOLD} | {} | {} | ≤ 1e-6 |",
        fast.map_or_else(|| "–".into(), |a| sci(a.fit.fpr(PDQ_THRESHOLD))),
        sci(r.fit.fpr(PDQ_THRESHOLD))
    );
    let ms = |x: Option<f64>| x.map_or_else(|| "–".into(), |v| format!("{:.1} ms", v * 1000.0));
    let _ = writeln!(
        s,
        "| listed size per image | 32 B | {} B at most ({:.0} B on average here) | ≤ 4x |",
        32 * (1 + robust::MAX_LISTED),
        32.0 * (1.0
            + run.originals.iter().map(|o| o.listed.len()).sum::<usize>() as f64 / n.max(1) as f64)
    );
    let _ = writeln!(
        s,
        "| listed-side cost (decoded image given) | – | {} per image | |",
        ms(run.speeds.listed)
    );
    let _ = writeln!(
        s,
        "| query-side cost (decoded image given) | – | {} per image for {} windows ({} to decode) | CPU only |\n",
        ms(run.speeds.query),
        run.query_windows,
        ms(run.speeds.decode)
    );
    let all_ok = checks.iter().all(|&c| c) && fm == 0;
    let _ = writeln!(
        s,
        "Robust targets (recall ≥ 90 % at 10 % crops and ±5°, 0 false matches counting every \
         listed × query × dihedral comparison, ≤ 4x listed size): **{}**.\n",
        if all_ok { "met" } else { "not all met" }
    );
    let _ = writeln!(
        s,
        "Recall per edit of the robust mode is in the per-edit table below (column `pdq-robust`). \
         Curves over the crop fraction and the angle, beside plain PDQ fast (threshold \
         {PDQ_THRESHOLD} for both; the point at 0 is the re-encoded original):\n"
    );
    if plots {
        let _ = writeln!(
            s,
            "![Recall vs crop](crop_curve.png)\n\n![Recall vs rotation](rotation_curve.png)\n"
        );
    }
    let (crop, rot) = curve_series(run);
    for (title, series, unit) in [("crop", crop, "%"), ("rotation", rot, "°")] {
        let Some(first) = series.first() else { continue };
        let xs: Vec<f64> = first.1.iter().map(|p| p.0).collect();
        let mut header = format!("| {title} |");
        let mut rule = String::from("|---|");
        for x in &xs {
            let v = format!("{x:.1}");
            let v = v.trim_end_matches('0').trim_end_matches('.');
            let sign = if unit == "°" && *x > 0.0 { "+" } else { "" };
            let _ = write!(header, " {sign}{v}{unit} |");
            rule.push_str("---:|");
        }
        let _ = writeln!(s, "{header}\n{rule}");
        for (name, pts) in &series {
            let mut row = format!("| {name} |");
            for x in &xs {
                let v = pts.iter().find(|p| p.0 == *x).map(|p| p.1);
                let _ = write!(row, " {} |", opt_pct(v));
            }
            let _ = writeln!(s, "{row}");
        }
        let _ = writeln!(s);
    }
}
