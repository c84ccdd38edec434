//! The Markdown report, the CSV of recall per edit, and the plots.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::edits::Corners;
use crate::eval::{AlgoId, AlgoResult, PDQ_MIN_QUALITY, PDQ_THRESHOLD, Run, SPEED_IMAGES};
use crate::plan::{ANGLE_CURVE, CROP_CURVE, CurvePoint, Group};
use crate::plot::{self, Bars, Curves, HistPanel, Histograms, Roc};
use crate::robust::{self, Scheme};
use crate::stats;

/// Recall targets of the default matcher.
pub const BENIGN_TARGET: f64 = 0.99;
/// Recall target of the robust mode at 10 % crops and 5 degree rotations.
pub const ROBUST_TARGET: f64 = 0.90;
/// Extrapolated false-positive-rate target at the operating threshold.
pub const FPR_TARGET: f64 = 1e-6;

fn pct(v: f64) -> String {
    format!("{:.1}", v * 100.0)
}

fn opt_pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), pct)
}

fn sci(v: f64) -> String {
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
fn pooled(run: &Run, a: &AlgoResult, t: u32, keep: &dyn Fn(usize) -> bool) -> Option<f64> {
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

fn worst_benign(run: &Run, a: &AlgoResult, t: u32) -> Option<(f64, String)> {
    run.cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.benign)
        .filter_map(|(ci, c)| a.recall(ci, t).map(|r| (r, c.edit.name())))
        .min_by(|x, y| x.0.total_cmp(&y.0))
}

/// The largest threshold whose extrapolated FPR is at most `target`.
fn fpr_threshold(a: &AlgoResult, target: f64) -> Option<u32> {
    (0..=a.id.bits()).take_while(|&t| a.fit.fpr(t) <= target).last()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn find(run: &Run, id: AlgoId) -> Option<&AlgoResult> {
    run.algos.iter().find(|a| a.id == id)
}

fn curve_index(run: &Run, p: CurvePoint) -> Option<usize> {
    run.cases.iter().position(|c| c.curve == Some(p))
}

fn reencode_index(run: &Run) -> Option<usize> {
    run.cases.iter().position(|c| c.edit == crate::edits::Edit::Reencode)
}

/// Writes everything into the output folder; returns the report path.
#[allow(clippy::print_stderr)]
pub fn write(run: &Run) -> Result<PathBuf> {
    let out = &run.config.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // A failed plot costs the plots, not the run: the tables are written regardless.
    let plots = plot::register_font().and_then(|font| {
        eprintln!("plots: font {}", font.display());
        write_plots(run, out).map(|()| font).map_err(|e| format!("plotting failed: {e:#}"))
    });
    if let Err(why) = &plots {
        eprintln!("plots skipped: {why}");
    }
    write_csv(run, &out.join("recall.csv"))?;
    let md = markdown(run, plots.as_ref().map(|_| ()).map_err(|e| e.as_str()));
    let path = out.join("README.md");
    std::fs::write(&path, md)?;
    Ok(path)
}

fn write_csv(run: &Run, path: &Path) -> Result<()> {
    let mut s = String::from("edit,group,benign,table,algorithm,threshold,recall\n");
    for a in &run.algos {
        let mut thresholds: Vec<u32> = a.zero_fp.into_iter().collect();
        if let Some(f) = a.fixed
            && !thresholds.contains(&f)
        {
            thresholds.push(f);
        }
        for (ci, case) in run.cases.iter().enumerate() {
            for &t in &thresholds {
                if let Some(r) = a.recall(ci, t) {
                    let _ = writeln!(
                        s,
                        "\"{}\",{},{},{},{},{},{:.4}",
                        case.edit.name(),
                        case.group.name(),
                        case.benign,
                        case.table,
                        a.id.short(),
                        t,
                        r
                    );
                }
            }
        }
    }
    std::fs::write(path, s)?;
    Ok(())
}

fn write_plots(run: &Run, out: &Path) -> Result<()> {
    let benign = |ci: usize| run.cases[ci].benign;
    let table = |ci: usize| run.cases[ci].table;
    let gather = |a: &AlgoResult, keep: &dyn Fn(usize) -> bool| -> (Vec<u32>, usize) {
        let mut d = Vec::new();
        let mut total = 0;
        for (ci, s) in a.same.iter().enumerate() {
            if keep(ci) && a.evaluated[ci] {
                total += s.len();
                d.extend(s.iter().flatten());
            }
        }
        (d, total)
    };
    // Histograms: every algorithm but the robust row (its same-image distances are only
    // computed where plain PDQ misses).
    let panels: Vec<HistPanel> = run
        .algos
        .iter()
        .filter(|a| a.id != AlgoId::PdqRobust)
        .map(|a| {
            let (b, bt) = gather(a, &benign);
            let (all, at) = gather(a, &table);
            let mut markers = Vec::new();
            if let Some(t) = a.zero_fp {
                markers.push((format!("zero-FP threshold {t}"), t));
            }
            if let Some(f) = a.fixed {
                markers.push((format!("threshold {f}"), f));
            }
            HistPanel {
                title: a.id.name(),
                bits: a.id.bits(),
                series: vec![
                    ("same, benign edits".into(), b, bt),
                    ("same, all table edits".into(), all, at),
                    ("different images".into(), a.distinct.clone(), a.distinct_total),
                ],
                markers,
            }
        })
        .collect();
    plot::save(&Histograms { panels, columns: 3 }, &out.join("histograms"))?;

    let curves: Vec<(String, Vec<stats::RocPoint>)> = run
        .algos
        .iter()
        .filter(|a| a.id != AlgoId::PdqRobust)
        .map(|a| {
            let (b, bt) = gather(a, &benign);
            (a.id.name(), stats::roc(&b, bt, &a.distinct, a.distinct_total, a.id.bits()))
        })
        .collect();
    let floor = 0.5 / run.algos.first().map_or(1, |a| a.distinct_total.max(1)) as f64;
    plot::save(
        &Roc {
            title: "ROC: benign edits vs all distinct pairs".into(),
            curves,
            floor: floor.min(1e-5),
        },
        &out.join("roc"),
    )?;

    // Recall per edit at the operating thresholds.
    let table_cases: Vec<usize> = (0..run.cases.len()).filter(|&ci| run.cases[ci].table).collect();
    let labels: Vec<String> = table_cases.iter().map(|&ci| run.cases[ci].edit.name()).collect();
    let mut series = Vec::new();
    if let Some(a) = find(run, AlgoId::PdqFast) {
        series.push((
            format!("PDQ fast, threshold {PDQ_THRESHOLD}"),
            table_cases.iter().map(|&ci| a.recall(ci, PDQ_THRESHOLD)).collect(),
        ));
        if let Some(t) = a.zero_fp {
            series.push((
                format!("PDQ fast, zero-FP threshold {t}"),
                table_cases.iter().map(|&ci| a.recall(ci, t)).collect(),
            ));
        }
    }
    if let Some(a) = find(run, AlgoId::PdqRobust) {
        series.push((
            format!("PDQ fast + robust regions, {PDQ_THRESHOLD}"),
            table_cases.iter().map(|&ci| a.recall(ci, PDQ_THRESHOLD)).collect(),
        ));
    }
    if let Some((a, t)) = best_secondary(run) {
        series.push((
            format!("{} (best other), zero-FP threshold {t}", a.id.name()),
            table_cases.iter().map(|&ci| a.recall(ci, t)).collect(),
        ));
    }
    plot::save(
        &Bars {
            title: "Recall per edit at the operating thresholds".into(),
            labels,
            series,
            target: Some(BENIGN_TARGET),
        },
        &out.join("recall_per_edit"),
    )?;

    let (crop, rot) = curve_series(run);
    plot::save(
        &Curves {
            title: format!("Recall vs crop, threshold {PDQ_THRESHOLD}"),
            x_desc: "fraction cut off (one edge, or every edge), %".into(),
            x_range: (0.0, f64::from(CROP_CURVE[CROP_CURVE.len() - 1]) * 100.0),
            series: crop,
            target: Some(ROBUST_TARGET),
        },
        &out.join("crop_curve"),
    )?;
    let max_angle = f64::from(ANGLE_CURVE[ANGLE_CURVE.len() - 1]);
    plot::save(
        &Curves {
            title: format!("Recall vs rotation, threshold {PDQ_THRESHOLD}"),
            x_desc: "rotation, degrees (counter-clockwise positive)".into(),
            x_range: (-max_angle, max_angle),
            series: rot,
            target: Some(ROBUST_TARGET),
        },
        &out.join("rotation_curve"),
    )?;
    Ok(())
}

type Series = Vec<(String, Vec<(f64, f64)>)>;

/// The crop and rotation curves of plain PDQ fast and of the robust mode.
fn curve_series(run: &Run) -> (Series, Series) {
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
fn best_secondary(run: &Run) -> Option<(&AlgoResult, u32)> {
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

fn markdown(run: &Run, plots: Result<(), &str>) -> String {
    let mut s = String::new();
    let n = run.originals.len();
    let pairs = n * (n - 1) / 2;
    let table_cases = run.cases.iter().filter(|c| c.table).count();
    let curve_only = run.cases.len() - table_cases;
    let (cpu, cores) = machine();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let fast = find(run, AlgoId::PdqFast);
    let robust_row = find(run, AlgoId::PdqRobust);

    let _ = writeln!(s, "# Detection quality: how well schoon's matchers find edited copies\n");
    let _ = writeln!(
        s,
        "Generated by `schoon-eval` (crate `crates/schoon-eval`); do not edit by hand. \
         Users choosing a matcher can read its measured recall per edit and its false-match \
         rate here; the numbers come from one command:\n"
    );
    let _ = writeln!(s, "```sh\n{}\n```\n", run.config.command);
    let _ = writeln!(s, "## Set-up\n");
    let _ = writeln!(
        s,
        "| | |\n|---|---|\n\
         | corpus | `{}`: {n} distinct photos (BSDS500 train + val when run with the default; read-only, not in the repository) |\n\
         | distinct pairs | {pairs} (every pair of originals) |\n\
         | edits | {table_cases} edits for every algorithm + {curve_only} crop/rotation curve points for PDQ = {} edited files |\n\
         | machine | {cpu}, {cores} logical cores; {} rayon threads; shared with other builds, so speeds are indicative |\n\
         | date | {} (UTC) |\n\
         | hashing wall time | {:.0} s |\n\
         | Python peer | {} |\n",
        display_corpus(&run.config.corpus),
        run.cases.len() * n,
        rayon::current_num_threads(),
        utc_date(now),
        run.hashing_seconds,
        match &run.peer_status {
            Ok(k) => format!("imagehash pHash and dHash over {k} files"),
            Err(why) => format!("skipped: {why}"),
        }
    );
    let _ = writeln!(
        s,
        "Every edit is saved as a real file (JPEG quality 95 unless the edit is a JPEG quality; \
         the screenshot as PNG) and hashed from those bytes with `schoon_core::hash_image`, the \
         path of `schoon hash`. PDQ rows use the **dihedral rule**: a query matches when any of \
         its 8 dihedral hashes is within the threshold of the listed hash, and only when the \
         query's quality is at least {PDQ_MIN_QUALITY} (lower-quality queries count as misses). \
         The `image_hasher` and imagehash rows compare one 64-bit hash with no dihedral variants.\n"
    );
    let full = run.originals.iter().filter(|o| o.fast_path == schoon_core::PdqPath::Full).count();
    let _ = writeln!(
        s,
        "PDQ *fast* and *reference* differ only in how they reach PDQ's 64 × 64 buffer: fast \
         averages blocks of 2, 4 or 8 pixels (DCT-scaled JPEG decoding) when the image is large \
         enough against the reference filter window, and is otherwise the reference pipeline. \
         Here {full} of the {n} originals take the full-size path in fast mode{}\n",
        if full == n {
            ", so the two rows can differ only on edited files large enough for blocks (the \
             enlargements)."
        } else {
            "."
        }
    );

    // Summary.
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(
        s,
        "Recall in % of edited copies found, at each algorithm's **zero-FP threshold** (the \
         largest threshold at which none of the {pairs} distinct pairs matches) and, for PDQ, at \
         its standard threshold **{PDQ_THRESHOLD}**; also at the largest threshold whose \
         extrapolated FPR stays at or under 1e-6 (*FPR ≤ 1e-6*, a model-based operating point). \
         *Extrap. FPR* is the false-positive rate per pair extrapolated from the tail of the \
         distinct distances (method below). \
         *Benign* pools the target set (JPEG ≥ q30, resize ≥ 0.25, mirrors, quarter turns, \
         greyscale, ±30 % brightness, blur σ ≤ 1.5, 10 % text overlay); *worst* is its weakest \
         edit. Speed: images per second, one thread, median over the first {SPEED_IMAGES} \
         originals, decoding included.\n"
    );
    let mut header = String::from(
        "| algorithm | threshold | false matches | extrap. FPR | benign | worst benign edit |",
    );
    let mut rule = String::from("|---|---:|---:|---:|---:|---|");
    for g in Group::ALL {
        let _ = write!(header, " {} |", g.name());
        rule.push_str("---:|");
    }
    header.push_str(" images/s |");
    rule.push_str("---:|");
    let _ = writeln!(s, "{header}\n{rule}");
    for a in &run.algos {
        let mut thresholds: Vec<(u32, &str)> = Vec::new();
        if let Some(t) = a.zero_fp {
            thresholds.push((t, "zero-FP"));
        }
        if let Some(t) = fpr_threshold(a, FPR_TARGET)
            && Some(t) != a.zero_fp
        {
            thresholds.push((t, "FPR ≤ 1e-6"));
        }
        if let Some(f) = a.fixed {
            thresholds.push((f, "standard"));
        }
        if a.id == AlgoId::PdqRobust {
            thresholds.retain(|(_, k)| *k == "standard");
        }
        if thresholds.is_empty() {
            let zeros = a.distinct.iter().filter(|&&d| d == 0).count();
            let _ = writeln!(
                s,
                "| **{}** | none: {} at distance 0 | – | – | – | – |{} {} |",
                a.id.name(),
                plural(zeros, "distinct pair", "distinct pairs"),
                " – |".repeat(Group::ALL.len()),
                a.seconds.map_or_else(|| "–".into(), |x| format!("{:.0}", 1.0 / x))
            );
            continue;
        }
        for (k, (t, kind)) in thresholds.iter().enumerate() {
            let name = if k == 0 { format!("**{}**", a.id.name()) } else { String::new() };
            let worst = worst_benign(run, a, *t)
                .map_or_else(|| "–".into(), |(r, e)| format!("{e} {}", pct(r)));
            let mut row = format!(
                "| {name} | {t} ({kind}) | {} | {} | {} | {worst} |",
                a.false_matches(*t),
                sci(a.fit.fpr(*t)),
                opt_pct(pooled(run, a, *t, &|ci| run.cases[ci].benign)),
            );
            for g in Group::ALL {
                let _ = write!(
                    row,
                    " {} |",
                    opt_pct(pooled(run, a, *t, &|ci| run.cases[ci].group == g))
                );
            }
            let speed = if k == 0 {
                a.seconds.map_or_else(|| "–".into(), |x| format!("{:.0}", 1.0 / x))
            } else {
                String::new()
            };
            let _ = writeln!(s, "{row} {speed} |");
        }
    }
    let _ = writeln!(
        s,
        "\nThe robust row's speed adds decoding and all {} query windows to PDQ fast; in use \
         the windows are computed only when plain PDQ does not match (as in this evaluation).\n",
        run.query_windows
    );
    observations(&mut s, run);

    // Targets: the default matcher is what `schoon scan` does with an index built from
    // images (plain PDQ, then region windows); an index built from hash lists alone has no
    // region hashes and matches as the plain PDQ row.
    let _ = writeln!(
        s,
        "## Targets of the default matcher (`schoon scan`: PDQ fast, dihedral, {PDQ_THRESHOLD}, quality ≥ {PDQ_MIN_QUALITY}, then region windows)\n"
    );
    let _ = writeln!(
        s,
        "`schoon scan` with an index built from images (`schoon build --images`) matches plain \
         PDQ first and, when that misses, the region windows against the listed region hashes \
         (`schoon_core::set::lookup_hashed`): the *PDQ fast + robust regions* row. An index built \
         from hash lists alone has no region hashes; it matches as the *PDQ fast* row (its \
         shortfalls are listed after this table).\n"
    );
    let default_row = robust_row.or(fast);
    if let Some(a) = default_row {
        let _ = writeln!(s, "| target | measured | met |\n|---|---|---|");
        for (ci, case) in run.cases.iter().enumerate().filter(|(_, c)| c.benign) {
            let r = a.recall(ci, PDQ_THRESHOLD).unwrap_or(0.0);
            let low = a.same[ci].iter().filter(|d| d.is_none()).count();
            let _ = writeln!(
                s,
                "| recall ≥ 99 % on {} | {} %{} | {} |",
                case.edit.name(),
                pct(r),
                if low > 0 {
                    format!(" ({})", plural(low, "low-quality query", "low-quality queries"))
                } else {
                    String::new()
                },
                if r >= BENIGN_TARGET { "yes" } else { "**no**" }
            );
        }
        let fm = a.false_matches(PDQ_THRESHOLD);
        let _ = writeln!(
            s,
            "| 0 false matches among the {pairs} distinct pairs | {fm} (smallest distinct distance {}; so FPR < {} with 95 % confidence, no model) | {} |",
            a.distinct.iter().min().map_or_else(|| "–".into(), |m| m.to_string()),
            sci(3.0 / pairs as f64),
            if fm == 0 { "yes" } else { "**no**" }
        );
        let f = a.fit.fpr(PDQ_THRESHOLD);
        let _ = writeln!(
            s,
            "| extrapolated FPR at {PDQ_THRESHOLD} ≤ 1e-6 | {} | {} |\n",
            sci(f),
            if f <= FPR_TARGET { "yes" } else { "**no**" }
        );
        let low_orig = run.originals.iter().filter(|o| o.fast.quality < PDQ_MIN_QUALITY).count();
        let _ = writeln!(
            s,
            "{} of the {n} originals {} PDQ fast quality under {PDQ_MIN_QUALITY}: as queries such \
             pictures match nothing, in the distinct pairs as in the edits.\n",
            low_orig,
            if low_orig == 1 { "has" } else { "have" }
        );
        shortfalls(&mut s, run, a, "the default matcher");
        if let (Some(plain), Some(_)) = (fast, robust_row) {
            shortfalls(
                &mut s,
                run,
                plain,
                "plain PDQ alone (an index built from hash lists, without region hashes)",
            );
        }
    }

    // Robust scheme.
    robust_section(&mut s, run, robust_row, plots.is_ok());

    // Recall per edit.
    let _ = writeln!(s, "## Recall per edit\n");
    let _ = writeln!(
        s,
        "Recall in %. PDQ columns at {PDQ_THRESHOLD} and at their zero-FP threshold; every other \
         algorithm at its own zero-FP threshold (in the header). *LQ*: queries of PDQ fast \
         quality under {PDQ_MIN_QUALITY} (misses for PDQ). *B*: in the benign target set. \
         All numbers are also in [`recall.csv`](recall.csv).\n"
    );
    let mut cols: Vec<(String, &AlgoResult, u32)> = Vec::new();
    for a in &run.algos {
        match a.id {
            AlgoId::PdqFast | AlgoId::PdqReference => {
                cols.push((format!("{} @{PDQ_THRESHOLD}", a.id.short()), a, PDQ_THRESHOLD));
                if let Some(t) = a.zero_fp {
                    cols.push((format!("{} @{t}", a.id.short()), a, t));
                }
            }
            AlgoId::PdqRobust => {
                cols.push((format!("{} @{PDQ_THRESHOLD}", a.id.short()), a, PDQ_THRESHOLD))
            }
            _ => {
                if let Some(t) = a.zero_fp {
                    cols.push((format!("{} @{t}", a.id.short()), a, t));
                }
            }
        }
    }
    let mut header = String::from("| edit | B | LQ |");
    let mut rule = String::from("|---|:-:|---:|");
    for (name, _, _) in &cols {
        let _ = write!(header, " {name} |");
        rule.push_str("---:|");
    }
    let _ = writeln!(s, "{header}\n{rule}");
    for (ci, case) in run.cases.iter().enumerate().filter(|(_, c)| c.table) {
        let lq = fast.map_or(0, |a| a.same[ci].iter().filter(|d| d.is_none()).count());
        let mut row =
            format!("| {} | {} | {lq} |", case.edit.name(), if case.benign { "✓" } else { "" });
        for (_, a, t) in &cols {
            let _ = write!(row, " {} |", opt_pct(a.recall(ci, *t)));
        }
        let _ = writeln!(s, "{row}");
    }
    let _ = writeln!(s);

    // Distributions.
    let _ = writeln!(s, "## Distance distributions and false-positive extrapolation\n");
    let _ = writeln!(
        s,
        "Distances are normalised by the hash length. *Distinct*: all pairs of originals (PDQ: \
         the smaller of the two query directions, each the best of 8 dihedral hashes). *Same*: \
         original vs edit, pooled over the benign target set.\n"
    );
    let _ = writeln!(
        s,
        "| algorithm | bits | distinct mean | distinct sd | smallest distinct | distinct 0.1 % | same median | same 99 % | AUC | extrap. FPR at zero-FP thr. | normal model | tail model (points) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for a in run.algos.iter().filter(|a| a.id != AlgoId::PdqRobust) {
        let mut d: Vec<f64> = a.distinct.iter().map(|&x| f64::from(x)).collect();
        d.sort_by(f64::total_cmp);
        let mut same: Vec<f64> = Vec::new();
        let mut total = 0;
        for (ci, v) in a.same.iter().enumerate() {
            if run.cases[ci].benign && a.evaluated[ci] {
                total += v.len();
                same.extend(v.iter().flatten().map(|&x| f64::from(x)));
            }
        }
        same.sort_by(f64::total_cmp);
        let benign: Vec<u32> = same.iter().map(|&x| x as u32).collect();
        let auc =
            stats::auc(&stats::roc(&benign, total, &a.distinct, a.distinct_total, a.id.bits()));
        let t = a.zero_fp.unwrap_or(0);
        let q = |v: &[f64], p: f64| {
            stats::quantile(v, p).map_or_else(|| "–".into(), |x| format!("{x:.0}"))
        };
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {:.3} | {} | {} | {} | {} | {:.4} | {} | {} | {} ({}) |",
            a.id.name(),
            a.id.bits(),
            a.fit.mean,
            a.fit.sd,
            q(&d, 0.0),
            q(&d, 0.001),
            q(&same, 0.5),
            q(&same, 0.99),
            auc,
            sci(a.fit.fpr(t)),
            sci(a.fit.normal_fpr(t)),
            a.fit.tail_fpr(t).map_or_else(|| "–".into(), sci),
            a.fit.tail_points
        );
    }
    let _ = writeln!(
        s,
        "\n**Extrapolation.** A corpus of {n} images shows false-positive rates down to \
         1/{pairs} ≈ {} only. Below that the rate is extrapolated from the distinct distances \
         normalised by the hash length, with two models: a **normal** fit (mean and standard \
         deviation of all distinct distances, CDF at threshold + 0.5: the normal approximation of \
         a binomial with the measured spread rather than the spread of independent bits), and a \
         **tail** fit (probit regression: Φ⁻¹ of the empirical CDF at each distinct distance \
         value in the lowest 5 % of pairs, fitted as a straight line in the distance by least \
         squares, then Φ of that line at the threshold). The tail fit follows the real lower \
         tail, which is heavier than the normal one because some photos look alike (same \
         scene type, large flat areas). The reported value is the larger of the two. Both are \
         models: treat values far below 1/{pairs} as orders of magnitude, not measurements. \
         The only model-free statement is the measured one: with no false match among {pairs} \
         pairs, the rate is under 3/{pairs} ≈ {} with 95 % confidence (rule of three). \
         Distinct photos of one corpus are also easier than real traffic, where near-duplicate \
         but different pictures (series shot seconds apart, templates, memes) occur.\n",
        sci(1.0 / pairs as f64),
        sci(3.0 / pairs as f64)
    );

    match plots {
        Ok(()) => {
            let _ = writeln!(s, "## Plots\n");
            let _ = writeln!(s, "Each plot is also in SVG beside the PNG.\n");
            for (file, caption) in [
                (
                    "histograms",
                    "Distance histograms per algorithm: same image (benign edits, all table edits) vs different images, with the thresholds.",
                ),
                (
                    "roc",
                    "ROC curves over the benign target set; false-positive rate on a log axis.",
                ),
                ("recall_per_edit", "Recall per edit at the operating thresholds."),
            ] {
                let _ =
                    writeln!(s, "![{caption}]({file}.png)\n\n*{caption}* ([SVG]({file}.svg))\n");
            }
        }
        Err(why) => {
            let _ = writeln!(s, "## Plots\n\nNot generated: {why}.\n");
        }
    }

    let _ = writeln!(s, "## Edits\n");
    let _ = writeln!(
        s,
        "Defined in `crates/schoon-eval/src/edits.rs` (reusable: `schoon_eval::edits::Edit`). \
         Crops: *one side* cuts the fraction off one edge of the width (left/right) or height \
         (top/bottom), the edge cycling over the images (right, left, bottom, top); *all sides* \
         cuts the fraction off **each** of the four edges (10 % keeps the central 80 % × 80 %). \
         Small rotations turn about the centre with bilinear resampling, either keeping the canvas \
         with the **corners filled black** (*fill*) or **cropped** to the largest centred \
         rectangle of the original aspect ratio without black (*crop*, not resized back). \
         Brightness multiplies every channel by 1 ± 0.3 and contrast scales the distance to the \
         mean grey (PIL's `ImageEnhance` definitions); gamma maps v → 255 (v/255)^γ. Blur is \
         Gaussian; sharpen is an unsharp mask (σ 1, amount 1); noise is Gaussian per channel \
         (seeded by the image index). The text overlay writes \"SAMPLE\" in bold white block letters \
         with a black outline (a meme-style caption), its bounding box 10 % of the area near the \
         bottom; the watermark writes the same letters in white at 40 % opacity without outline, \
         centred; the opaque label is a white plate with black text over 10 % of the area in the bottom-right \
         corner. The border adds 5 % of each dimension in white on every side. The screenshot \
         scales to 75 %, adds a dark status bar and white margins and saves a PNG. Combined: \
         resize 0.5 + brightness +30 % + JPEG q50, and mirror + crop 5 % all sides + \
         greyscale + JPEG q75.\n"
    );
    let _ = writeln!(
        s,
        "## Files\n\n- `README.md`: this report\n- `recall.csv`: recall per edit, algorithm and threshold\n- `histograms`, `roc`, `recall_per_edit`, `crop_curve`, `rotation_curve`: `.svg` and `.png`\n"
    );
    s
}

fn display_corpus(p: &Path) -> String {
    // Relative to the repository root when possible (the default), else as given.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    match (p.canonicalize(), root.canonicalize()) {
        (Ok(p), Ok(r)) => match r.parent().and_then(|parent| p.strip_prefix(parent).ok()) {
            Some(rel) => format!("../{}", rel.display()),
            None => p.display().to_string(),
        },
        _ => p.display().to_string(),
    }
}

/// A few statements read off the results.
fn observations(s: &mut String, run: &Run) {
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
fn shortfalls(s: &mut String, run: &Run, a: &AlgoResult, who: &str) {
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

fn robust_section(s: &mut String, run: &Run, row: Option<&AlgoResult>, plots: bool) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_767_225_600), "2026-01-01");
    }

    #[test]
    fn formatting() {
        assert_eq!(pct(0.995), "99.5");
        assert_eq!(sci(0.0), "0");
        assert_eq!(sci(2.5e-9), "2.5e-9");
        assert_eq!(opt_pct(None), "–");
    }

    #[test]
    fn machine_is_described() {
        let (cpu, cores) = machine();
        assert!(!cpu.is_empty());
        assert!(cores >= 1);
    }
}
