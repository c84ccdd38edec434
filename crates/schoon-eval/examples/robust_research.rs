//! Research harness for the robust PDQ scheme: tries a [`Scheme`] on a sample of a corpus and
//! prints, per crop or rotation, plain PDQ recall, robust recall at a few thresholds and the
//! extra distances, then the smallest extra distance among distinct images.
//!
//! ```text
//! cargo run --release -p schoon-eval --example robust_research -- [CORPUS] [STEP]
//! ```
//!
//! Every STEP-th image of CORPUS (default `../shared/corpus/bsds500`, 3). Scheme overrides
//! from the environment, comma-separated: `LISTED` (margins), `ANGLES` (degrees), `ROTM`
//! (margins searched under rotation), `STEP` (crop step), `BORDER` (largest border).
#![allow(clippy::print_stdout)]

use anyhow::{Context, Result};
use rayon::prelude::*;
use schoon_eval::edits::{Corners, Edit, OverlayStyle};
use schoon_eval::eval::list_images;
use schoon_eval::robust::{LumaPlane, Region, Scheme, extra_distance, region_pdq};

fn list(key: &str) -> Result<Option<Vec<f32>>> {
    match std::env::var(key) {
        Ok(v) => Ok(Some(
            v.split(',')
                .map(|x| x.trim().parse::<f32>())
                .collect::<Result<_, _>>()
                .with_context(|| key.to_string())?,
        )),
        Err(_) => Ok(None),
    }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "../shared/corpus/bsds500".into());
    let step: usize = args.next().map_or(Ok(3), |s| s.parse()).context("STEP")?;
    let files: Vec<_> =
        list_images(std::path::Path::new(&dir))?.into_iter().step_by(step.max(1)).collect();
    let imgs: Vec<_> = files
        .par_iter()
        .map(|p| image::open(p).with_context(|| p.display().to_string()))
        .collect::<Result<_>>()?;
    let mut scheme = Scheme::standard();
    if let Some(v) = list("LISTED")? {
        scheme.listed_margins = v;
    }
    if let Some(v) = list("ANGLES")? {
        scheme.angles = v;
    }
    if let Some(v) = list("ROTM")? {
        scheme.rotation_margins = v;
    }
    if let Some(v) = list("STEP")? {
        scheme.crop_step = v.first().copied().unwrap_or(scheme.crop_step);
    }
    if let Some(v) = list("EXTRA")? {
        // Groups of four: cx, cy, w, h.
        scheme.extra_listed = v
            .chunks_exact(4)
            .map(|c| Region { cx: c[0], cy: c[1], w: c[2], h: c[3], degrees: 0.0 })
            .collect();
    }
    if let Some(v) = list("BORDER")? {
        scheme.max_border = v.first().copied().unwrap_or(scheme.max_border);
    }
    let t0 = std::time::Instant::now();
    for img in imgs.iter().take(20) {
        std::hint::black_box(scheme.query_variants(&LumaPlane::from_image(img)));
    }
    let per = t0.elapsed().as_secs_f64() * 1000.0 / imgs.len().clamp(1, 20) as f64;
    println!(
        "{} images; {} query windows; {per:.1} ms per query (1 thread)",
        imgs.len(),
        scheme.query_regions(481, 321).len()
    );
    let listed: Vec<_> =
        imgs.par_iter().map(|i| scheme.listed_variants(&LumaPlane::from_image(i))).collect();

    let mut edits = Vec::new();
    for f in [0.025, 0.05, 0.0625, 0.075, 0.0875, 0.1, 0.125, 0.1625, 0.2, 0.25] {
        edits.push(Edit::CropOneSide { fraction: f, side: None });
        edits.push(Edit::CropAllSides(f));
    }
    for d in [1.0f32, 2.25, 3.0, 3.75, 5.0, 6.75, 8.0, 10.0] {
        for corners in [Corners::Fill, Corners::Crop] {
            edits.push(Edit::Rotate { degrees: d, corners });
            edits.push(Edit::Rotate { degrees: -d, corners });
        }
    }
    if std::env::var("ONLY_OVERLAYS").is_ok() {
        edits.clear();
        edits.push(Edit::CropOneSide { fraction: 0.1, side: None });
        edits.push(Edit::CropAllSides(0.1));
        edits.push(Edit::Rotate { degrees: 5.0, corners: Corners::Fill });
        edits.push(Edit::Rotate { degrees: -5.0, corners: Corners::Crop });
        edits.push(Edit::Resize(0.25));
        edits.push(Edit::CropOneSide { fraction: 0.2, side: None });
        edits.push(Edit::CropAllSides(0.2));
    }
    edits.extend([
        Edit::Border(0.1),
        Edit::Screenshot,
        Edit::Overlay { fraction: 0.1, style: OverlayStyle::Text },
        Edit::Overlay { fraction: 0.1, style: OverlayStyle::Label },
    ]);
    for e in &edits {
        let ds: Vec<(u32, u32)> = imgs
            .par_iter()
            .enumerate()
            .filter_map(|(k, img)| {
                let top = std::env::var("TOP_OVERLAY").is_ok() && matches!(e, Edit::Overlay { .. });
                let src = if top { img.flipv() } else { img.clone() };
                let bytes = e.render(&src, k as u64).ok()?;
                let q = image::load_from_memory(&bytes).ok()?;
                let q = if top { q.flipv() } else { q };
                let plain = region_pdq(img, &Region::FULL);
                let qp = region_pdq(&q, &Region::FULL);
                let pd = qp.dihedral.iter().map(|h| h.distance(&plain.hash)).min().unwrap_or(256);
                let xd =
                    extra_distance(&listed[k], &scheme.query_variants(&LumaPlane::from_image(&q)))
                        .map_or(999, |m| m.distance);
                Some((pd, xd))
            })
            .collect();
        let n = ds.len().max(1) as f64;
        let mut x: Vec<u32> = ds.iter().map(|d| d.1).collect();
        x.sort_unstable();
        let rec = |t: u32| ds.iter().filter(|d| d.0 <= 31 || d.1 <= t).count() as f64 / n;
        let plain = ds.iter().filter(|d| d.0 <= 31).count() as f64 / n;
        println!(
            "{:32} plain@31 {plain:.3} robust@25 {:.3} @31 {:.3} @40 {:.3}  extra median {} p90 {}",
            e.name(),
            rec(25),
            rec(31),
            rec(40),
            x.get(x.len() / 2).copied().unwrap_or(0),
            x.get(x.len() * 9 / 10).copied().unwrap_or(0)
        );
    }
    let qv: Vec<_> =
        imgs.par_iter().map(|i| scheme.query_variants(&LumaPlane::from_image(i))).collect();
    let mut d: Vec<u32> = (0..imgs.len())
        .into_par_iter()
        .flat_map_iter(|i| {
            let (qv, listed) = (&qv, &listed);
            (0..qv.len())
                .filter(move |&j| j != i)
                .filter_map(move |j| extra_distance(&listed[i], &qv[j]).map(|m| m.distance))
        })
        .collect();
    d.sort_unstable();
    println!(
        "distinct ordered pairs {}; smallest extra distances {:?}",
        d.len(),
        &d[..20.min(d.len())]
    );
    Ok(())
}
