//! Probability distributions of durations (service times, network latency, think times).

use rand::Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};

/// A distribution of non-negative durations. Parameters are in nanoseconds (as floats, so that
/// sub-nanosecond means survive arithmetic); samples are rounded to whole nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// Always the same value, nanoseconds.
    Const(f64),
    /// Exponential with the given mean, nanoseconds.
    Exp { mean: f64 },
    /// Uniform on `[low, high]`, nanoseconds.
    Uniform { low: f64, high: f64 },
    /// Lognormal: `exp(mu + sigma * Z)` with `mu`, `sigma` of the log of nanoseconds.
    LogNormal { mu: f64, sigma: f64 },
    /// Normal with mean and standard deviation in nanoseconds, truncated at zero (resampled).
    Normal { mean: f64, sd: f64 },
    /// Pareto with scale (minimum, nanoseconds) and shape.
    Pareto { scale: f64, shape: f64 },
    /// Mixture: each component with its weight; weights sum to 1.
    Mix(Vec<(f64, Dist)>),
    /// Samples drawn uniformly from a list of durations, nanoseconds.
    Empirical(Vec<u64>),
}

/// Largest sample, nanoseconds: larger and infinite draws saturate here.
const LONGEST: f64 = crate::engine::time::LONGEST as f64;

/// `value` (nanoseconds) rounded half up to a whole number of nanoseconds: 0 for NaN or a
/// negative value; a value beyond [`crate::engine::time::LONGEST`] (10,000 hours), infinity
/// included (`pareto(shape=1e-300)`), saturates there instead of wrapping to 0.
#[inline(always)]
fn whole_nanos(value: f64) -> u64 {
    if value > 0.0 {
        // `NaN > 0.0` is false; infinity is capped by `min`.
        (value.min(LONGEST) + 0.5) as u64 // cheaper than `round`
    } else {
        0
    }
}

impl Dist {
    /// Builds a lognormal from its median and 99th percentile, both nanoseconds
    /// (`median < p99`). `mu = ln(median)`, `sigma = ln(p99 / median) / z_0.99`.
    pub fn lognormal_from_median_p99(median: f64, p99: f64) -> Dist {
        const Z_99: f64 = 2.326_347_874_040_841;
        Dist::LogNormal {
            mu: median.ln(),
            sigma: (p99 / median).ln() / Z_99,
        }
    }

    /// Draws one duration, nanoseconds, rounded to the nearest whole nanosecond.
    /// (A constant, such as a fixed network hop, is inlined: a conversion and no call.)
    #[inline(always)]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        match self {
            Dist::Const(value) => whole_nanos(*value),
            _ => self.sample_drawn(rng),
        }
    }

    /// [`Dist::sample`] for the distributions that draw.
    #[inline(never)]
    fn sample_drawn<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        whole_nanos(self.sample_f64(rng))
    }

    fn sample_f64<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Dist::Const(value) => *value,
            Dist::Exp { mean } => {
                let unit: f64 = Exp1.sample(rng);
                unit * mean
            }
            Dist::Uniform { low, high } => low + (high - low) * rng.random::<f64>(),
            Dist::LogNormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Dist::Normal { mean, sd } => loop {
                let z: f64 = StandardNormal.sample(rng);
                let value = mean + sd * z;
                if value >= 0.0 {
                    break value;
                }
            },
            Dist::Pareto { scale, shape } => {
                // Inverse transform: scale / U^(1/shape), U in (0, 1].
                let u = 1.0 - rng.random::<f64>();
                scale / u.powf(1.0 / shape)
            }
            Dist::Mix(components) => {
                let mut pick = rng.random::<f64>();
                for (weight, component) in components {
                    if pick < *weight {
                        return component.sample_f64(rng);
                    }
                    pick -= weight;
                }
                components
                    .last()
                    .map_or(0.0, |(_, last)| last.sample_f64(rng))
            }
            Dist::Empirical(samples) => {
                if samples.is_empty() {
                    0.0
                } else {
                    samples[rng.random_range(0..samples.len())] as f64
                }
            }
        }
    }

    /// The mean, nanoseconds (for a normal, of the untruncated distribution; for a Pareto with
    /// shape <= 1, infinity).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Const(value) => *value,
            Dist::Exp { mean } => *mean,
            Dist::Uniform { low, high } => (low + high) / 2.0,
            Dist::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Normal { mean, .. } => *mean,
            Dist::Pareto { scale, shape } => {
                if *shape <= 1.0 {
                    f64::INFINITY
                } else {
                    shape * scale / (shape - 1.0)
                }
            }
            Dist::Mix(components) => components.iter().map(|(w, d)| w * d.mean()).sum(),
            Dist::Empirical(samples) => {
                if samples.is_empty() {
                    0.0
                } else {
                    samples.iter().map(|&s| s as f64).sum::<f64>() / samples.len() as f64
                }
            }
        }
    }

    /// The second moment E[X^2], nanoseconds squared (untruncated normal; infinite Pareto tails
    /// give infinity). Used by the queueing-theory checks (Pollaczek–Khinchine).
    pub fn second_moment(&self) -> f64 {
        match self {
            Dist::Const(value) => value * value,
            Dist::Exp { mean } => 2.0 * mean * mean,
            Dist::Uniform { low, high } => (low * low + low * high + high * high) / 3.0,
            Dist::LogNormal { mu, sigma } => (2.0 * mu + 2.0 * sigma * sigma).exp(),
            Dist::Normal { mean, sd } => mean * mean + sd * sd,
            Dist::Pareto { scale, shape } => {
                if *shape <= 2.0 {
                    f64::INFINITY
                } else {
                    shape * scale * scale / (shape - 2.0)
                }
            }
            Dist::Mix(components) => components.iter().map(|(w, d)| w * d.second_moment()).sum(),
            Dist::Empirical(samples) => {
                if samples.is_empty() {
                    0.0
                } else {
                    samples
                        .iter()
                        .map(|&s| (s as f64) * (s as f64))
                        .sum::<f64>()
                        / samples.len() as f64
                }
            }
        }
    }

    /// Whether every sample is the same value (no randomness is consumed).
    pub fn is_const(&self) -> bool {
        matches!(self, Dist::Const(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn sample_mean(dist: &Dist, draws: usize) -> f64 {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        (0..draws)
            .map(|_| dist.sample(&mut rng) as f64)
            .sum::<f64>()
            / draws as f64
    }

    #[test]
    fn sample_means_match_closed_form_means() {
        let cases = [
            Dist::Exp { mean: 1e6 },
            Dist::Uniform {
                low: 1e6,
                high: 3e6,
            },
            Dist::lognormal_from_median_p99(5e6, 50e6),
            Dist::Normal { mean: 5e6, sd: 1e6 },
            Dist::Pareto {
                scale: 1e6,
                shape: 3.5,
            },
            Dist::Mix(vec![
                (0.9, Dist::Exp { mean: 1e6 }),
                (0.1, Dist::Exp { mean: 20e6 }),
            ]),
        ];
        for dist in &cases {
            let mean = sample_mean(dist, 400_000);
            let expected = dist.mean();
            // Standard error of the mean is below 1% for these shapes at 400k draws; 3% is ~5 sigma.
            assert!(
                (mean - expected).abs() / expected < 0.03,
                "{dist:?}: {mean} vs {expected}"
            );
        }
    }

    #[test]
    fn lognormal_fit_puts_median_and_p99_where_asked() {
        let dist = Dist::lognormal_from_median_p99(5e6, 50e6);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut draws: Vec<u64> = (0..200_000).map(|_| dist.sample(&mut rng)).collect();
        draws.sort_unstable();
        let median = draws[draws.len() / 2] as f64;
        let p99 = draws[draws.len() * 99 / 100] as f64;
        assert!((median / 5e6 - 1.0).abs() < 0.02, "median {median}");
        assert!((p99 / 50e6 - 1.0).abs() < 0.05, "p99 {p99}");
    }

    #[test]
    fn infinite_and_huge_draws_saturate_instead_of_wrapping_to_zero() {
        let longest = crate::engine::time::LONGEST;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        // scale / U^(1/shape) with shape 1e-300: U^(1e300) is 0 for every U < 1, so the draw is
        // +infinity (or, for U = 1, the scale).
        let pareto = Dist::Pareto {
            scale: 1e6,
            shape: 1e-300,
        };
        let draws: Vec<u64> = (0..1000).map(|_| pareto.sample(&mut rng)).collect();
        assert!(
            draws.iter().all(|&d| d == longest || d == 1_000_000),
            "{draws:?}"
        );
        assert!(draws.iter().filter(|&&d| d == longest).count() > 990);
        assert_eq!(Dist::Const(f64::INFINITY).sample(&mut rng), longest);
        assert_eq!(Dist::Const(1e30).sample(&mut rng), longest);
        assert_eq!(Dist::Const(f64::NAN).sample(&mut rng), 0);
        assert_eq!(Dist::Const(-5.0).sample(&mut rng), 0);
        let huge_exp = Dist::Exp { mean: 1e300 };
        assert!((0..100).all(|_| huge_exp.sample(&mut rng) <= longest));
    }

    #[test]
    fn truncated_normal_is_never_negative() {
        let dist = Dist::Normal { mean: 1e6, sd: 2e6 };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!((0..10_000).all(|_| dist.sample(&mut rng) < u64::MAX));
    }
}
