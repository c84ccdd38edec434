//! The Markdown report, the CSV of recall per edit, and the plots.
//!
//! `figures` reads the numbers off a run, `plots` draws them, `markdown` and `sections` write
//! the report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::eval::Run;
use crate::plot;

mod figures;
mod markdown;
mod plots;
mod sections;

pub use figures::{BENIGN_TARGET, FPR_TARGET, ROBUST_TARGET, machine, utc_date};
use markdown::markdown;
use plots::write_plots;

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
        use figures::{opt_pct, pct, sci};
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
