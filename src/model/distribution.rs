//! Probability distributions of durations (service times, network latency, think times).

use rand::{Rng, RngExt};
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

/// `value` (nanoseconds) rounded half up to a whole number of nanoseconds: 0 for NaN or a
/// negative value, capped at about 292 years.
#[inline(always)]
fn whole_nanos(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        (value.min(9.2e18) + 0.5) as u64 // cheaper than `round`
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
    use rand::rngs::ChaCha8Rng;
    use rand::SeedableRng;

    /// Mean and standard error of the mean of `draws` samples of `dist` (the standard error from
    /// the draws' own standard deviation, so it does not lean on the closed forms under test).
    fn sample_mean_and_se(dist: &Dist, draws: usize) -> (f64, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let values: Vec<f64> = (0..draws).map(|_| dist.sample(&mut rng) as f64).collect();
        let mean = values.iter().sum::<f64>() / draws as f64;
        let variance =
            values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (draws - 1) as f64;
        (mean, (variance / draws as f64).sqrt())
    }

    #[test]
    fn sample_means_match_closed_form_means() {
        // Relative standard errors of the mean at 400k draws (sd / mean / sqrt(400k)): exp 0.16%,
        // uniform 0.05%, lognormal(5 ms, p99 50 ms) 0.21%, normal(5 ms, 1 ms) 0.03%, Pareto(3.5)
        // 0.07%, the exp mixture 0.47%. Each mean must lie within 5 of its standard errors: a
        // draw 1.5% too long fails all but the mixture.
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
            let (mean, standard_error) = sample_mean_and_se(dist, 400_000);
            let expected = dist.mean();
            assert!(
                standard_error < 0.01 * expected,
                "{dist:?}: the draws spread more than the shape allows ({standard_error})"
            );
            assert!(
                (mean - expected).abs() < 5.0 * standard_error,
                "{dist:?}: {mean} vs {expected} (standard error {standard_error})"
            );
        }
    }

    #[test]
    fn lognormal_fit_puts_median_and_p99_where_asked() {
        let dist = Dist::lognormal_from_median_p99(5e6, 50e6);
        let Dist::LogNormal { sigma, .. } = dist else {
            panic!("a lognormal")
        };
        const DRAWS: usize = 200_000;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut draws: Vec<u64> = (0..DRAWS).map(|_| dist.sample(&mut rng)).collect();
        draws.sort_unstable();
        let median = draws[draws.len() / 2] as f64;
        let p99 = draws[draws.len() * 99 / 100] as f64;
        // The empirical q-quantile has standard error sqrt(q (1 - q) / n) / f(x_q); for a
        // lognormal f(x_q) = phi(z_q) / (x_q sigma), so relative to x_q it is
        // sigma sqrt(q (1 - q) / n) / phi(z_q): 0.28% at the median, 0.83% at the p99 here.
        let phi = |z: f64| (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let relative_se = |q: f64, z: f64| sigma * (q * (1.0 - q) / DRAWS as f64).sqrt() / phi(z);
        let (median_se, p99_se) = (relative_se(0.5, 0.0), relative_se(0.99, 2.326_347_874));
        assert!(
            (median / 5e6 - 1.0).abs() < 5.0 * median_se,
            "median {median} (relative standard error {median_se})"
        );
        assert!(
            (p99 / 50e6 - 1.0).abs() < 5.0 * p99_se,
            "p99 {p99} (relative standard error {p99_se})"
        );
    }

    /// The standard normal distribution function at `x >= 0`: 1/2 plus Simpson's rule on the
    /// density over [0, x] (error far below 1e-12 with 2,000 intervals).
    fn standard_normal_cdf(x: f64) -> f64 {
        let phi = |z: f64| (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let intervals = 2_000;
        let h = x / intervals as f64;
        let inner: f64 = (1..intervals)
            .map(|i| if i % 2 == 1 { 4.0 } else { 2.0 } * phi(i as f64 * h))
            .sum();
        0.5 + h / 3.0 * (phi(0.0) + inner + phi(x))
    }

    #[test]
    fn truncated_normal_redraws_below_zero_instead_of_clamping() {
        // Normal(1 ms, 2 ms) truncated at zero: alpha = -mean / sd = -0.5, and the truncated
        // distribution has mean mu + sd phi(alpha) / (1 - Phi(alpha)) = 2.018 ms and standard
        // deviation 1.394 ms (sd^2 (1 + alpha lambda - lambda^2), lambda = phi / (1 - Phi)).
        // Clamping at zero instead would make 31% of the draws 0 and the mean 1.396 ms.
        let (mean, sd) = (1e6, 2e6);
        let dist = Dist::Normal { mean, sd };
        let alpha = -mean / sd;
        let phi = (-alpha * alpha / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let lambda = phi / standard_normal_cdf(-alpha);
        let truncated_mean = mean + sd * lambda;
        let truncated_sd = sd * (1.0 + alpha * lambda - lambda * lambda).sqrt();
        const DRAWS: usize = 100_000;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let draws: Vec<u64> = (0..DRAWS).map(|_| dist.sample(&mut rng)).collect();
        // A redrawn value rounds to 0 only below 0.5 ns: probability ~1e-7 per draw.
        let zeros = draws.iter().filter(|&&d| d == 0).count();
        assert_eq!(zeros, 0, "{zeros} draws of 0 in {DRAWS}");
        // Standard error of the mean: 1.394 ms / sqrt(100k) = 4.4 us (0.22%); 5 of them.
        let sample_mean = draws.iter().map(|&d| d as f64).sum::<f64>() / DRAWS as f64;
        let standard_error = truncated_sd / (DRAWS as f64).sqrt();
        assert!(
            (sample_mean - truncated_mean).abs() < 5.0 * standard_error,
            "mean {sample_mean}, truncated-normal theory {truncated_mean} +- {}",
            5.0 * standard_error
        );
    }
}
