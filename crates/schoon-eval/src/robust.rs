//! The region ("robust") scheme, as the evaluation uses it: the core's
//! [`schoon_core::regions`], so the report measures exactly what `schoon scan` does (plain PDQ,
//! then, when that misses and the upload's quality is at least 50, the region windows against
//! the listed region hashes).

use image::DynamicImage;
use schoon_core::Pdq;
pub use schoon_core::regions::{
    EXTRA_THRESHOLD, ExtraMatch, LumaPlane, MAX_LISTED, MIN_QUALITY, PLANE_SIDE, Region, Scheme,
    extra_distance, inscribed_scale, region_pdq,
};

/// The listed region hashes of a decoded image, with their region ids.
pub fn listed_variants(img: &DynamicImage) -> Vec<(u8, Pdq)> {
    Scheme::standard().listed_variants(&LumaPlane::from_image(img))
}

/// The query windows of a decoded image.
pub fn query_variants(img: &DynamicImage) -> Vec<(Region, Pdq)> {
    Scheme::standard().query_variants(&LumaPlane::from_image(img))
}
