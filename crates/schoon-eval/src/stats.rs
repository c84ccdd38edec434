//! Statistics of hash distances: ROC curves, the zero-false-match threshold, and the
//! extrapolated false-positive rate beyond what a corpus can show.
//!
//! Distances are Hamming distances of `bits`-bit hashes; a pair *matches* at threshold `t` when
//! its distance is `<= t`. A pair with no distance (`None`: for instance a PDQ query of quality
//! under 50) never matches.
//!
//! ```
//! use schoon_eval::stats::{TailFit, zero_fp_threshold};
//! let distinct = [120u32, 131, 126, 90, 140, 118, 127, 135, 129, 124];
//! assert_eq!(zero_fp_threshold(&distinct), Some(89));
//! let fit = TailFit::fit(&distinct, 256);
//! assert!(fit.fpr(31) < 1e-6);
//! ```

/// The largest threshold with no distinct pair matching: one under the smallest distinct
/// distance (`None` when a distinct pair has distance 0, or when there are no distances).
pub fn zero_fp_threshold(distinct: &[u32]) -> Option<u32> {
    distinct.iter().min().and_then(|&m| m.checked_sub(1))
}

/// Fraction of `distances` that match at threshold `t`, over `total` pairs (pairs without a
/// distance count in `total` but never match).
pub fn rate(distances: &[u32], total: usize, t: u32) -> f64 {
    if total == 0 {
        return 0.0;
    }
    distances.iter().filter(|&&d| d <= t).count() as f64 / total as f64
}

/// One point of a ROC curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RocPoint {
    /// The threshold.
    pub threshold: u32,
    /// True-positive rate: same-image pairs that match.
    pub tpr: f64,
    /// False-positive rate: distinct pairs that match.
    pub fpr: f64,
}

/// The ROC curve over thresholds `0..=bits`. `same` and `distinct` hold the distances of the
/// pairs that have one; `same_total` and `distinct_total` count all pairs.
pub fn roc(
    same: &[u32],
    same_total: usize,
    distinct: &[u32],
    distinct_total: usize,
    bits: u32,
) -> Vec<RocPoint> {
    let hist = |d: &[u32]| {
        let mut h = vec![0usize; bits as usize + 2];
        for &x in d {
            h[(x.min(bits + 1)) as usize] += 1;
        }
        h
    };
    let (hs, hd) = (hist(same), hist(distinct));
    let (mut cs, mut cd) = (0usize, 0usize);
    (0..=bits)
        .map(|t| {
            cs += hs[t as usize];
            cd += hd[t as usize];
            RocPoint {
                threshold: t,
                tpr: cs as f64 / same_total.max(1) as f64,
                fpr: cd as f64 / distinct_total.max(1) as f64,
            }
        })
        .collect()
}

/// Area under the ROC curve (trapezoids over the points plus (0,0) and (1,1)).
pub fn auc(points: &[RocPoint]) -> f64 {
    let mut pts: Vec<(f64, f64)> = points.iter().map(|p| (p.fpr, p.tpr)).collect();
    pts.push((0.0, 0.0));
    pts.push((1.0, 1.0));
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    pts.windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum()
}

/// Extrapolation of the false-positive rate from the distinct-pair distances.
///
/// Distances are normalised (`d / bits`). Two models are fitted:
/// * **normal**: mean and standard deviation of all distinct distances; `P(d <= t)` is the
///   normal CDF at `t + 0.5` (continuity correction). For independent, unbiased bits this is
///   the normal approximation of the binomial, with the spread measured rather than assumed.
/// * **tail** (probit regression): for the lowest distinct distances (every distinct value up
///   to the 5th percentile, at least 20 pairs), `z = Φ⁻¹(empirical CDF)` is fitted as a
///   straight line in `d` by least squares, and `P(d <= t) = Φ(a + b t)`. It follows the real
///   lower tail, which is heavier than the normal one when pictures are alike.
///
/// [`TailFit::fpr`] returns the larger (more pessimistic) of the two.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TailFit {
    /// Number of bits of the hash.
    pub bits: u32,
    /// Number of distinct distances fitted.
    pub n: usize,
    /// Mean normalised distance.
    pub mean: f64,
    /// Standard deviation of the normalised distance.
    pub sd: f64,
    /// Tail fit intercept `a` of `z = a + b d` (`NaN` without a tail fit).
    pub tail_a: f64,
    /// Tail fit slope `b`.
    pub tail_b: f64,
    /// Number of distinct values used by the tail fit.
    pub tail_points: usize,
}

impl TailFit {
    /// Fits both models.
    pub fn fit(distinct: &[u32], bits: u32) -> TailFit {
        let n = distinct.len();
        let b = f64::from(bits.max(1));
        let mean = distinct.iter().map(|&d| f64::from(d) / b).sum::<f64>() / n.max(1) as f64;
        let var = distinct.iter().map(|&d| (f64::from(d) / b - mean).powi(2)).sum::<f64>()
            / (n.max(2) - 1) as f64;
        let mut sorted = distinct.to_vec();
        sorted.sort_unstable();
        // Empirical CDF at each distinct value of the lower tail.
        let cut = ((n as f64 * 0.05).ceil() as usize).max(20).min(n);
        let mut pts: Vec<(f64, f64)> = Vec::new();
        let mut i = 0;
        while i < n {
            let v = sorted[i];
            let mut j = i;
            while j < n && sorted[j] == v {
                j += 1;
            }
            if i >= cut {
                break;
            }
            // Plotting position: (count <= v) / (n + 1), never 0 or 1.
            let f = j as f64 / (n + 1) as f64;
            pts.push((f64::from(v), inv_norm_cdf(f)));
            i = j;
        }
        let (tail_a, tail_b) = least_squares(&pts).unwrap_or((f64::NAN, f64::NAN));
        TailFit { bits, n, mean, sd: var.sqrt(), tail_a, tail_b, tail_points: pts.len() }
    }

    /// The normal model's `P(d <= t)`.
    pub fn normal_fpr(&self, t: u32) -> f64 {
        if self.sd <= 0.0 || self.n == 0 {
            return 0.0;
        }
        norm_cdf(((f64::from(t) + 0.5) / f64::from(self.bits) - self.mean) / self.sd)
    }

    /// The tail model's `P(d <= t)` (`None` without a usable fit: fewer than 2 distinct values
    /// or a slope that is not positive).
    pub fn tail_fpr(&self, t: u32) -> Option<f64> {
        (self.tail_b.is_finite() && self.tail_b > 0.0)
            .then(|| norm_cdf(self.tail_a + self.tail_b * f64::from(t)))
    }

    /// The extrapolated false-positive rate at threshold `t`: the larger of the two models.
    pub fn fpr(&self, t: u32) -> f64 {
        let normal = self.normal_fpr(t);
        self.tail_fpr(t).map_or(normal, |tail| tail.max(normal))
    }
}

/// Least-squares line `y = a + b x`; `None` with fewer than 2 distinct `x`.
fn least_squares(pts: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx = pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    let sxy = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>();
    if sxx <= 0.0 {
        return None;
    }
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

/// The complementary error function (Chebyshev fit, relative error under 1.2e-7 everywhere,
/// which keeps tiny tail probabilities accurate to a few digits).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The standard normal CDF Φ.
pub fn norm_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The standard normal quantile Φ⁻¹ (bisection on [`norm_cdf`]; `p` is clamped to
/// `[1e-300, 1 - 1e-16]`).
pub fn inv_norm_cdf(p: f64) -> f64 {
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let (mut lo, mut hi) = (-40.0f64, 10.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if norm_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The `q` quantile (0..=1) of a sorted slice (nearest rank), `None` when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    Some(sorted[i])
}

/// The median of unsorted values, `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    quantile(&v, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edits::Rng;

    /// Log of the binomial probability mass, for exact tails.
    fn binom_cdf(n: u32, p: f64, k: u32) -> f64 {
        let mut ln_fact = vec![0f64; n as usize + 1];
        for i in 1..=n as usize {
            ln_fact[i] = ln_fact[i - 1] + (i as f64).ln();
        }
        (0..=k)
            .map(|i| {
                let i = i as usize;
                (ln_fact[n as usize] - ln_fact[i] - ln_fact[n as usize - i]
                    + i as f64 * p.ln()
                    + (n as usize - i) as f64 * (1.0 - p).ln())
                .exp()
            })
            .sum()
    }

    fn binomial_sample(n: u32, rng: &mut Rng) -> u32 {
        (0..n).filter(|_| rng.next_u64() & 1 == 1).count() as u32
    }

    #[test]
    fn normal_functions() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((norm_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((norm_cdf(-5.0) / 2.866_515_7e-7 - 1.0).abs() < 1e-5);
        assert!((norm_cdf(-10.0) / 7.619_853e-24 - 1.0).abs() < 1e-5);
        for p in [1e-12, 1e-6, 0.01, 0.3, 0.5, 0.9] {
            assert!((norm_cdf(inv_norm_cdf(p)) / p - 1.0).abs() < 1e-6, "{p}");
        }
    }

    #[test]
    fn threshold_and_rates() {
        assert_eq!(zero_fp_threshold(&[]), None);
        assert_eq!(zero_fp_threshold(&[0, 5]), None);
        assert_eq!(zero_fp_threshold(&[40, 35, 90]), Some(34));
        assert_eq!(rate(&[1, 2, 3, 10], 5, 3), 0.6);
        assert_eq!(rate(&[], 0, 3), 0.0);
    }

    #[test]
    fn roc_is_monotone_and_ends_at_the_totals() {
        let mut rng = Rng::new(1);
        let same: Vec<u32> = (0..500).map(|_| binomial_sample(64, &mut rng) / 4).collect();
        let distinct: Vec<u32> = (0..2000).map(|_| binomial_sample(256, &mut rng)).collect();
        // 10 same pairs have no distance: recall tops out below 1.
        let r = roc(&same, 510, &distinct, 2000, 256);
        assert_eq!(r.len(), 257);
        assert!(r.windows(2).all(|w| w[1].tpr >= w[0].tpr && w[1].fpr >= w[0].fpr));
        let last = r[256];
        assert!((last.tpr - 500.0 / 510.0).abs() < 1e-12 && last.fpr == 1.0);
        // Well separated: the area is close to the best reachable.
        let a = auc(&r);
        assert!(a > 0.97 && a <= 1.0, "{a}");
        // At the zero-FP threshold no distinct pair matches and every same pair does.
        let t = zero_fp_threshold(&distinct).unwrap();
        assert_eq!(r[t as usize].fpr, 0.0);
        assert!(r[t as usize].tpr > 0.97);
    }

    #[test]
    fn extrapolation_follows_a_binomial() {
        // 44,850 distinct distances of independent fair bits: both models must land near the
        // exact binomial tail well below what the sample shows.
        let mut rng = Rng::new(7);
        let d: Vec<u32> = (0..44_850).map(|_| binomial_sample(256, &mut rng)).collect();
        let fit = TailFit::fit(&d, 256);
        assert!((fit.mean - 0.5).abs() < 0.002);
        assert!((fit.sd - 0.5 / 16.0).abs() < 0.001, "{}", fit.sd);
        for t in [90u32, 80, 70] {
            let exact = binom_cdf(256, 0.5, t);
            let normal = fit.normal_fpr(t);
            let tail = fit.tail_fpr(t).unwrap();
            // Within two orders of magnitude at 1e-6..1e-12 (log-scale agreement).
            assert!((normal.log10() - exact.log10()).abs() < 1.0, "t {t}: {normal} vs {exact}");
            assert!((tail.log10() - exact.log10()).abs() < 2.0, "t {t}: {tail} vs {exact}");
            assert!(fit.fpr(t) >= normal && fit.fpr(t) >= tail);
        }
        assert!(fit.tail_points >= 10);
    }

    #[test]
    fn a_heavy_tail_is_caught_by_the_tail_fit() {
        // Mostly fair bits, plus 3 % of look-alike pairs far closer than the bulk.
        let mut rng = Rng::new(3);
        let mut d: Vec<u32> = (0..20_000).map(|_| binomial_sample(256, &mut rng)).collect();
        d.extend((0..600).map(|_| 60 + binomial_sample(64, &mut rng)));
        let fit = TailFit::fit(&d, 256);
        let (normal, tail) = (fit.normal_fpr(50), fit.tail_fpr(50).unwrap());
        assert!(tail > 100.0 * normal, "tail {tail} normal {normal}");
        assert_eq!(fit.fpr(50), tail);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let fit = TailFit::fit(&[], 64);
        assert_eq!(fit.fpr(10), 0.0);
        let fit = TailFit::fit(&[30, 30, 30], 64);
        assert!(fit.tail_fpr(10).is_none());
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[]), None);
    }
}
