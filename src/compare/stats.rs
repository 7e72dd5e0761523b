//! Means over replications with Student-t confidence intervals, and paired differences.
//!
//! Replications are independent runs (different seeds), so their results are independent and
//! identically distributed even though the requests inside one run are not; each replication's
//! figure is an average over many requests, close to normal. The interval for the mean of `n`
//! replication results x₁..xₙ is x̄ ± t(1 − α/2, n − 1) · s / √n, with s the sample standard
//! deviation (divisor n − 1). A paired difference is the same interval over dᵢ = xᵢ − bᵢ, the
//! difference between a variant's replication i and the baseline's replication i: with common
//! random numbers both saw the same offered work, so the variance of dᵢ is usually far smaller
//! than that of either, and identical variants give exactly dᵢ = 0.

/// The confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// A mean with its confidence interval (`None` bounds: a single sample has no interval).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Sample mean.
    pub mean: f64,
    /// Lower bound of the interval.
    pub low: Option<f64>,
    /// Upper bound of the interval.
    pub high: Option<f64>,
}

impl Estimate {
    /// The mean with a `confidence` Student-t interval over `samples` (which must not be empty).
    pub fn of(samples: &[f64], confidence: f64) -> Estimate {
        assert!(!samples.is_empty(), "an estimate needs at least one sample");
        let n = samples.len();
        // A constant sample is its own mean exactly (summing could round), with no spread.
        if samples.iter().all(|&x| x == samples[0]) {
            let mean = samples[0];
            let bound = (n > 1).then_some(mean);
            return Estimate {
                mean,
                low: bound,
                high: bound,
            };
        }
        let mean = samples.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Estimate {
                mean,
                low: None,
                high: None,
            };
        }
        let variance =
            samples.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        let quantile = student_t_quantile(0.5 + confidence / 2.0, (n - 1) as u32);
        let half_width = quantile * (variance / n as f64).sqrt();
        Estimate {
            mean,
            low: Some(mean - half_width),
            high: Some(mean + half_width),
        }
    }

    /// The mean of `samples[i] − baseline[i]` with its interval (the slices pair up by index and
    /// must have the same, non-zero, length).
    pub fn paired(samples: &[f64], baseline: &[f64], confidence: f64) -> Estimate {
        assert_eq!(
            samples.len(),
            baseline.len(),
            "paired samples come in pairs"
        );
        let differences: Vec<f64> = samples.iter().zip(baseline).map(|(x, b)| x - b).collect();
        Estimate::of(&differences, confidence)
    }

    /// Half the interval's width (`None` without an interval).
    pub fn half_width(&self) -> Option<f64> {
        Some((self.high? - self.low?) / 2.0)
    }

    /// The interval excludes zero (a difference is significant at the interval's level).
    pub fn excludes_zero(&self) -> bool {
        matches!((self.low, self.high), (Some(low), Some(high)) if low > 0.0 || high < 0.0)
    }
}

/// The `p` quantile (0 < p < 1) of Student's t distribution with `df` ≥ 1 degrees of freedom.
///
/// Inverts the exact distribution function for integer degrees of freedom (the finite series of
/// Abramowitz & Stegun 26.7.3 and 26.7.4 in θ = atan(t / √df)) by bisection on θ, to about
/// machine precision.
pub fn student_t_quantile(p: f64, df: u32) -> f64 {
    assert!(p > 0.0 && p < 1.0, "a quantile needs 0 < p < 1, got {p}");
    assert!(df >= 1, "Student's t needs at least one degree of freedom");
    if p == 0.5 {
        return 0.0;
    }
    // P(|T| <= t) = |2p - 1|, solved for θ in (0, π/2); the sign follows p.
    let target = (2.0 * p - 1.0).abs();
    let (mut low, mut high) = (0.0_f64, std::f64::consts::FRAC_PI_2);
    for _ in 0..200 {
        let middle = 0.5 * (low + high);
        if middle <= low || middle >= high {
            break;
        }
        if central_probability(middle, df) < target {
            low = middle;
        } else {
            high = middle;
        }
    }
    let theta = 0.5 * (low + high);
    let t = f64::from(df).sqrt() * theta.tan();
    if p > 0.5 {
        t
    } else {
        -t
    }
}

/// P(|T| <= √df · tan θ) for Student's t with `df` degrees of freedom (A&S 26.7.3-4).
fn central_probability(theta: f64, df: u32) -> f64 {
    let (sin, cos) = theta.sin_cos();
    let cos2 = cos * cos;
    if df % 2 == 1 {
        // (2/π) [θ + sin θ (cos θ + 2/3 cos³θ + ... + (2·4···(df−3))/(1·3···(df−2)) cos^(df−2) θ)]
        let mut sum = 0.0;
        if df > 1 {
            let mut term = cos;
            sum = term;
            let mut k = 1;
            while k + 2 < df {
                // term_{k+2} = term_k · cos²θ · (k + 1) / (k + 2), k odd.
                term *= cos2 * f64::from(k + 1) / f64::from(k + 2);
                sum += term;
                k += 2;
            }
        }
        std::f64::consts::FRAC_2_PI * (theta + sin * sum)
    } else {
        // sin θ [1 + 1/2 cos²θ + (1·3)/(2·4) cos⁴θ + ... + (1·3···(df−3))/(2·4···(df−2)) cos^(df−2) θ]
        let mut term = 1.0;
        let mut sum = 1.0;
        let mut k = 0;
        while k + 2 <= df - 2 {
            // term_{k+2} = term_k · cos²θ · (k + 1) / (k + 2), k even.
            term *= cos2 * f64::from(k + 1) / f64::from(k + 2);
            sum += term;
            k += 2;
        }
        sin * sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables() {
        // (p, df, tabulated quantile) from standard Student-t tables.
        let table = [
            (0.975, 1, 12.706_204_736),
            (0.975, 2, 4.302_652_730),
            (0.975, 3, 3.182_446_305),
            (0.975, 4, 2.776_445_105),
            (0.975, 5, 2.570_581_836),
            (0.975, 9, 2.262_157_163),
            (0.975, 19, 2.093_024_054),
            (0.975, 29, 2.045_229_642),
            (0.975, 120, 1.979_930_405),
            (0.95, 10, 1.812_461_123),
            (0.995, 4, 4.604_094_871),
            (0.99995, 19, 4.897_461_589),
            (0.9, 1, 3.077_683_537),
        ];
        for (p, df, expected) in table {
            let t = student_t_quantile(p, df);
            assert!(
                (t - expected).abs() < 1e-8,
                "t({p}, {df}) = {t}, expected {expected}"
            );
            assert!((student_t_quantile(1.0 - p, df) + expected).abs() < 1e-8);
        }
        // Many degrees of freedom: close to the normal quantile 1.959964.
        assert!((student_t_quantile(0.975, 100_000) - 1.959_987_708).abs() < 1e-8);
        assert_eq!(student_t_quantile(0.5, 7), 0.0);
    }

    #[test]
    fn interval_of_a_known_sample() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample variance 32/7, s/√8 = 0.755929; t(0.975, 7) =
        // 2.364624252: half-width 1.787488.
        let estimate = Estimate::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], 0.95);
        assert_eq!(estimate.mean, 5.0);
        let half = estimate.half_width().expect("an interval");
        assert!(
            (half - 2.364_624_252 * (32.0_f64 / 7.0 / 8.0).sqrt()).abs() < 1e-9,
            "{half}"
        );
        assert!((half - 1.787_488).abs() < 1e-6, "{half}");
        // 1, 2, 3: mean 2, s = 1, t(0.975, 2) = 4.302653: [2 - 2.484138, 2 + 2.484138].
        let estimate = Estimate::of(&[1.0, 2.0, 3.0], 0.95);
        assert!((estimate.low.expect("low") - (2.0 - 2.484_138_3)).abs() < 1e-6);
        assert!((estimate.high.expect("high") - (2.0 + 2.484_138_3)).abs() < 1e-6);
    }

    #[test]
    fn single_and_constant_samples() {
        let one = Estimate::of(&[3.5], 0.95);
        assert_eq!((one.mean, one.low, one.high), (3.5, None, None));
        assert!(!one.excludes_zero());
        let constant = Estimate::of(&[0.1, 0.1, 0.1], 0.95);
        assert_eq!(
            (constant.mean, constant.low, constant.high),
            (0.1, Some(0.1), Some(0.1))
        );
        assert!(constant.excludes_zero());
    }

    #[test]
    fn paired_differences() {
        let baseline = [10.0, 12.0, 11.0, 15.0];
        // Identical: exactly zero, zero width, not significant.
        let same = Estimate::paired(&baseline, &baseline, 0.95);
        assert_eq!(
            (same.mean, same.low, same.high),
            (0.0, Some(0.0), Some(0.0))
        );
        assert!(!same.excludes_zero());
        // Shifted by 1 with a little noise: differences 1.1, 0.9, 1.0, 1.0 (mean 1, s = 0.08165),
        // half-width t(0.975, 3) · 0.08165 / 2 = 0.129920: significant.
        let variant = [11.1, 12.9, 12.0, 16.0];
        let diff = Estimate::paired(&variant, &baseline, 0.95);
        assert!((diff.mean - 1.0).abs() < 1e-12);
        assert!((diff.half_width().expect("interval") - 0.129_920).abs() < 1e-5);
        assert!(diff.excludes_zero());
        // The unpaired interval of the variant alone is far wider than the paired one.
        assert!(Estimate::of(&variant, 0.95).half_width().expect("interval") > 2.0);
    }

    #[test]
    fn intervals_of_normal_samples_cover_at_exactly_the_nominal_rate() {
        // For normal samples the t interval covers the true mean with probability exactly 95%:
        // over 20,000 intervals the count is Binomial(20,000, 0.95), sd 0.15 percentage points,
        // and 5 sd (0.77 points) tells 95% from 94% or 92% (a z quantile instead of t, the wrong
        // degrees of freedom or variance divisor all land there or lower).
        use rand::SeedableRng;
        use rand_distr::{Distribution, Normal};
        const INTERVALS: usize = 20_000;
        let (mean, sd) = (7.0, 3.0);
        let normal = Normal::new(mean, sd).expect("a normal");
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(95);
        for replications in [2usize, 3, 5, 10] {
            let covering = (0..INTERVALS)
                .filter(|_| {
                    let samples: Vec<f64> =
                        (0..replications).map(|_| normal.sample(&mut rng)).collect();
                    let estimate = Estimate::of(&samples, 0.95);
                    estimate.low.expect("low") <= mean && mean <= estimate.high.expect("high")
                })
                .count();
            let coverage = covering as f64 / INTERVALS as f64;
            let five_sd = 5.0 * (0.95 * 0.05 / INTERVALS as f64).sqrt();
            assert!(
                (coverage - 0.95).abs() < five_sd,
                "{replications} replications: coverage {coverage}, expected 0.95 +- {five_sd:.4}"
            );
        }
    }
}
