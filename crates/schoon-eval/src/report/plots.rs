//! The plots of the report (SVG and PNG).

use std::path::Path;

use anyhow::Result;

use crate::eval::{AlgoId, AlgoResult, PDQ_THRESHOLD, Run};
use crate::plan::{ANGLE_CURVE, CROP_CURVE};
use crate::plot::{self, Bars, Curves, HistPanel, Histograms, Roc};
use crate::stats;

use super::figures::{BENIGN_TARGET, ROBUST_TARGET, best_secondary, curve_series, find};

pub(super) fn write_plots(run: &Run, out: &Path) -> Result<()> {
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
