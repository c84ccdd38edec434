//! The list of edits the evaluation applies, grouped as in the report, with the benign target
//! set and the points of the crop and rotation curves.

use crate::edits::{Corners, Edit, OverlayStyle};

/// A group of edits (one column of the summary table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// JPEG re-compression.
    Jpeg,
    /// Scaling and aspect-ratio changes.
    Resize,
    /// Quarter turns and mirrors.
    Dihedral,
    /// Greyscale, brightness, contrast, gamma.
    Colour,
    /// Blur, sharpening, noise.
    Filter,
    /// Overlays, borders, screenshots.
    Frame,
    /// Crops.
    Crop,
    /// Small rotations.
    Rotation,
    /// Combinations.
    Combined,
}

impl Group {
    /// Every group in table order.
    pub const ALL: [Group; 9] = [
        Group::Jpeg,
        Group::Resize,
        Group::Dihedral,
        Group::Colour,
        Group::Filter,
        Group::Frame,
        Group::Crop,
        Group::Rotation,
        Group::Combined,
    ];

    /// Column title.
    pub fn name(self) -> &'static str {
        match self {
            Group::Jpeg => "JPEG",
            Group::Resize => "resize",
            Group::Dihedral => "rot90/mirror",
            Group::Colour => "colour",
            Group::Filter => "blur/noise",
            Group::Frame => "overlay/frame",
            Group::Crop => "crop",
            Group::Rotation => "small rotation",
            Group::Combined => "combined",
        }
    }
}

/// A point of a robustness curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CurvePoint {
    /// Crop of this fraction off one edge.
    CropOne(f32),
    /// Crop of this fraction off every edge.
    CropAll(f32),
    /// Rotation by this many degrees.
    Rotate(f32, Corners),
}

/// One edit of the evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The edit.
    pub edit: Edit,
    /// Its group.
    pub group: Group,
    /// Part of the benign target set (recall must be at least 99 % for the default matcher).
    pub benign: bool,
    /// In the per-edit tables (every algorithm); otherwise a curve point only (PDQ only).
    pub table: bool,
    /// Where it sits on a curve.
    pub curve: Option<CurvePoint>,
}

impl Case {
    fn new(edit: Edit, group: Group, benign: bool) -> Case {
        Case { edit, group, benign, table: true, curve: None }
    }
}

/// Crop fractions of the crop curves.
pub const CROP_CURVE: [f32; 10] = [0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3];

/// Angles of the rotation curves (degrees; both signs are applied).
pub const ANGLE_CURVE: [f32; 9] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0];

/// The evaluation's edits: the table edits first, then the curve-only points.
pub fn cases() -> Vec<Case> {
    use Group::*;
    let mut v = vec![Case::new(Edit::Reencode, Jpeg, true)];
    for q in [90u8, 75, 50, 30, 15] {
        v.push(Case::new(Edit::Jpeg(q), Jpeg, q >= 30));
    }
    for f in [0.25f32, 0.5, 1.5, 2.0] {
        v.push(Case::new(Edit::Resize(f), Resize, true));
    }
    v.push(Case::new(Edit::Aspect(1.2), Resize, false));
    for e in [
        Edit::Rotate90,
        Edit::Rotate180,
        Edit::Rotate270,
        Edit::MirrorHorizontal,
        Edit::MirrorVertical,
    ] {
        v.push(Case::new(e, Dihedral, true));
    }
    v.push(Case::new(Edit::Greyscale, Colour, true));
    v.push(Case::new(Edit::Brightness(0.3), Colour, true));
    v.push(Case::new(Edit::Brightness(-0.3), Colour, true));
    v.push(Case::new(Edit::Contrast(0.3), Colour, false));
    v.push(Case::new(Edit::Contrast(-0.3), Colour, false));
    v.push(Case::new(Edit::Gamma(0.7), Colour, false));
    v.push(Case::new(Edit::Gamma(1.4), Colour, false));
    v.push(Case::new(Edit::Blur(1.0), Filter, true));
    v.push(Case::new(Edit::Blur(1.5), Filter, true));
    v.push(Case::new(Edit::Blur(2.0), Filter, false));
    v.push(Case::new(Edit::Sharpen, Filter, false));
    v.push(Case::new(Edit::Noise(5.0), Filter, false));
    v.push(Case::new(Edit::Noise(10.0), Filter, false));
    v.push(Case::new(Edit::Overlay { fraction: 0.1, style: OverlayStyle::Text }, Frame, true));
    v.push(Case::new(
        Edit::Overlay { fraction: 0.1, style: OverlayStyle::Watermark },
        Frame,
        false,
    ));
    v.push(Case::new(Edit::Overlay { fraction: 0.1, style: OverlayStyle::Label }, Frame, false));
    v.push(Case::new(Edit::Border(0.1), Frame, false));
    v.push(Case::new(Edit::Screenshot, Frame, false));
    for f in [0.05f32, 0.1, 0.2] {
        let mut c = Case::new(Edit::CropOneSide { fraction: f, side: None }, Crop, false);
        c.curve = Some(CurvePoint::CropOne(f));
        v.push(c);
    }
    for f in [0.05f32, 0.1, 0.2] {
        let mut c = Case::new(Edit::CropAllSides(f), Crop, false);
        c.curve = Some(CurvePoint::CropAll(f));
        v.push(c);
    }
    for corners in [Corners::Fill, Corners::Crop] {
        for d in [-5.0f32, -3.0, 3.0, 5.0] {
            let mut c = Case::new(Edit::Rotate { degrees: d, corners }, Rotation, false);
            c.curve = Some(CurvePoint::Rotate(d, corners));
            v.push(c);
        }
    }
    v.push(Case::new(
        Edit::Chain(vec![Edit::Resize(0.5), Edit::Brightness(0.3), Edit::Jpeg(50)]),
        Combined,
        false,
    ));
    v.push(Case::new(
        Edit::Chain(vec![
            Edit::MirrorHorizontal,
            Edit::CropAllSides(0.05),
            Edit::Greyscale,
            Edit::Jpeg(75),
        ]),
        Combined,
        false,
    ));
    // Curve-only points.
    let has = |v: &[Case], p: CurvePoint| v.iter().any(|c| c.curve == Some(p));
    for f in CROP_CURVE {
        for p in [CurvePoint::CropOne(f), CurvePoint::CropAll(f)] {
            if !has(&v, p) {
                let edit = match p {
                    CurvePoint::CropOne(f) => Edit::CropOneSide { fraction: f, side: None },
                    _ => Edit::CropAllSides(f),
                };
                v.push(Case { edit, group: Crop, benign: false, table: false, curve: Some(p) });
            }
        }
    }
    for corners in [Corners::Fill, Corners::Crop] {
        for a in ANGLE_CURVE {
            for d in [-a, a] {
                let p = CurvePoint::Rotate(d, corners);
                if !has(&v, p) {
                    v.push(Case {
                        edit: Edit::Rotate { degrees: d, corners },
                        group: Rotation,
                        benign: false,
                        table: false,
                        curve: Some(p),
                    });
                }
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_complete_and_unique() {
        let c = cases();
        let names: Vec<String> = c.iter().map(|c| c.edit.name()).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "duplicate edits");
        let table = c.iter().filter(|c| c.table).count();
        assert!(table >= 45, "{table}");
        // Every curve point exists once.
        for f in CROP_CURVE {
            assert_eq!(c.iter().filter(|c| c.curve == Some(CurvePoint::CropOne(f))).count(), 1);
            assert_eq!(c.iter().filter(|c| c.curve == Some(CurvePoint::CropAll(f))).count(), 1);
        }
        assert!(c.iter().filter(|c| c.benign).all(|c| c.table));
        assert!(names.contains(&"jpeg q30".to_string()));
        assert!(names.contains(&"blur σ1.5".to_string()));
    }
}
