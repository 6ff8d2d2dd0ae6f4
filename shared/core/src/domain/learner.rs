//! The learner: what kinds of concept work, per tenant, learned from performance feedback.
//!
//! A concept's kind is `category × format × hook style`. Engagement (a 0–1 score from views,
//! completion, likes, shares…) is modelled as additive in those features — a baseline plus
//! one effect per category, per format and per hook style — by Bayesian linear regression
//! (ridge prior, noise estimated from the residuals). Every observation teaches about three
//! effects at once and the estimates do not confound one another, so the learner converges in
//! tens of videos. A tenant's model is its own evidence plus everyone's, down-weighted, so a new
//! tenant starts from what works for all and drifts to what works for its audience. Thompson
//! sampling (one draw of the coefficients from the posterior per decision) ranks concepts: it
//! exploits what looks best and keeps trying what is still uncertain.

use serde::{Deserialize, Serialize};

/// A concept's kind: the features the learner scores.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Kind {
    pub category: String,
    pub format: String,
    pub hook: String,
}

impl Kind {
    /// The feature names the model keeps an effect for.
    pub fn features(&self) -> [String; 3] {
        [
            format!("category:{}", self.category),
            format!("format:{}", self.format),
            format!("hook:{}", self.hook),
        ]
    }
}

/// How much one global observation counts for a tenant, against one of its own.
pub const GLOBAL_WEIGHT: f64 = 0.2;
/// Engagement of a typical short video: the baseline before any evidence.
pub const PRIOR_MEAN: f64 = 0.1;
/// Ridge prior: each effect starts as if seen this many times at zero.
pub const RIDGE: f64 = 1.0;
/// The spread of scores assumed until the residuals say otherwise (two pseudo-observations).
pub const PRIOR_SD: f64 = 0.1;
/// At most this many features (the rest of a long tail of categories is ignored).
pub const MAX_FEATURES: usize = 96;

/// Sufficient statistics of the regression: X'X, X'y, n and Σy² over centred scores
/// (y − PRIOR_MEAN), for an intercept (index 0) and each named feature.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub features: Vec<String>,
    /// Row-major, (1 + features)².
    pub xtx: Vec<f64>,
    pub xty: Vec<f64>,
    pub n: f64,
    pub yy: f64,
}

impl Evidence {
    fn dim(&self) -> usize {
        self.features.len() + 1
    }

    /// The column of a feature, added if new (and if there is room).
    fn column(&mut self, name: &str) -> Option<usize> {
        if let Some(i) = self.features.iter().position(|f| f == name) {
            return Some(i + 1);
        }
        if self.features.len() >= MAX_FEATURES {
            return None;
        }
        let old = self.dim();
        let mut xtx = vec![0.0; (old + 1) * (old + 1)];
        for r in 0..old {
            for c in 0..old {
                xtx[r * (old + 1) + c] = self.xtx.get(r * old + c).copied().unwrap_or(0.0);
            }
        }
        self.xtx = xtx;
        self.xty.resize(old + 1, 0.0);
        self.features.push(name.to_owned());
        Some(old)
    }

    fn ensure_intercept(&mut self) {
        if self.xtx.is_empty() {
            self.xtx = vec![0.0];
            self.xty = vec![0.0];
        }
    }

    /// Records one observed score of a concept of `kind`, with weight `w` (1 for the
    /// tenant's own videos).
    pub fn observe(&mut self, kind: &Kind, score: f64, w: f64) {
        self.observe_features(&kind.features(), score, w);
    }

    /// Records one observed score of a video with these features (its kind's, and what the
    /// loop measures besides: platform, posting hour, provider, length), with weight `w`; a
    /// negative weight takes an earlier observation back out.
    pub fn observe_features(&mut self, features: &[String], score: f64, w: f64) {
        self.ensure_intercept();
        let mut cols = vec![0usize];
        for f in features {
            if let Some(c) = self.column(f) {
                cols.push(c);
            }
        }
        let d = self.dim();
        let y = score.clamp(0.0, 1.0) - PRIOR_MEAN;
        for &r in &cols {
            for &c in &cols {
                self.xtx[r * d + c] += w;
            }
            self.xty[r] += w * y;
        }
        self.n += w;
        self.yy += w * y * y;
    }

    /// This evidence plus `other` weighted by `w`, on the union of their features.
    pub fn merged(&self, other: &Evidence, w: f64) -> Evidence {
        let mut out = self.clone();
        out.ensure_intercept();
        if other.xtx.is_empty() {
            return out;
        }
        let cols: Vec<Option<usize>> = std::iter::once(Some(0))
            .chain(other.features.iter().map(|f| out.column(f)))
            .collect();
        let (d, od) = (out.dim(), other.dim());
        for (r, rc) in cols.iter().enumerate() {
            let Some(rc) = rc else { continue };
            for (c, cc) in cols.iter().enumerate() {
                let Some(cc) = cc else { continue };
                out.xtx[rc * d + cc] += w * other.xtx[r * od + c];
            }
            out.xty[*rc] += w * other.xty[r];
        }
        out.n += w * other.n;
        out.yy += w * other.yy;
        out
    }
}

/// The posterior: coefficient means, the Cholesky factor of the precision, and the noise.
#[derive(Clone, Debug)]
pub struct Posterior {
    pub features: Vec<String>,
    mean: Vec<f64>,
    /// Lower-triangular L with L·Lᵀ = X'X + ridge.
    chol: Vec<f64>,
    /// Residual standard deviation.
    pub sigma: f64,
}

fn cholesky(a: &[f64], d: usize) -> Vec<f64> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            if i == j {
                l[i * d + i] = (a[i * d + i] - s).max(1e-12).sqrt();
            } else {
                l[i * d + j] = (a[i * d + j] - s) / l[j * d + j];
            }
        }
    }
    l
}

/// Solves L·x = b.
fn forward(l: &[f64], d: usize, b: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; d];
    for i in 0..d {
        let s: f64 = (0..i).map(|k| l[i * d + k] * x[k]).sum();
        x[i] = (b[i] - s) / l[i * d + i];
    }
    x
}

/// Solves Lᵀ·x = b.
fn backward(l: &[f64], d: usize, b: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; d];
    for i in (0..d).rev() {
        let s: f64 = (i + 1..d).map(|k| l[k * d + i] * x[k]).sum();
        x[i] = (b[i] - s) / l[i * d + i];
    }
    x
}

impl Posterior {
    pub fn of(e: &Evidence) -> Self {
        let mut e = e.clone();
        e.ensure_intercept();
        let d = e.dim();
        let mut a = e.xtx.clone();
        for i in 0..d {
            a[i * d + i] += RIDGE;
        }
        let chol = cholesky(&a, d);
        let mean = backward(&chol, d, &forward(&chol, d, &e.xty));
        // Residual sum of squares of the ridge fit, plus two pseudo-observations at PRIOR_SD.
        let fit: f64 = mean.iter().zip(&e.xty).map(|(m, b)| m * b).sum();
        let rss = (e.yy - fit).max(0.0);
        let sigma = ((rss + 2.0 * PRIOR_SD * PRIOR_SD) / (e.n + 2.0)).sqrt();
        Self {
            features: e.features,
            mean,
            chol,
            sigma,
        }
    }

    fn dim(&self) -> usize {
        self.features.len() + 1
    }

    fn index(&self, feature: &str) -> Option<usize> {
        self.features
            .iter()
            .position(|f| f == feature)
            .map(|i| i + 1)
    }

    /// One draw of the coefficients: mean + σ·L⁻ᵀ·z, which has covariance σ²(X'X + ridge)⁻¹.
    pub fn draw(&self, rng: &mut Rng) -> Vec<f64> {
        let d = self.dim();
        let z: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
        let v = backward(&self.chol, d, &z);
        self.mean
            .iter()
            .zip(v)
            .map(|(m, v)| m + self.sigma * v)
            .collect()
    }

    fn predict(&self, coef: &[f64], kind: &Kind) -> f64 {
        self.predict_features(coef, &kind.features())
    }

    /// Engagement predicted by one set of coefficients (the mean, or a Thompson draw) for a
    /// post with these features; features the learner has not seen count zero.
    pub fn predict_features(&self, coef: &[f64], features: &[String]) -> f64 {
        let effects: f64 = features
            .iter()
            .filter_map(|f| self.index(f))
            .filter_map(|i| coef.get(i))
            .sum();
        (PRIOR_MEAN + coef.first().copied().unwrap_or(0.0) + effects).clamp(0.0, 1.0)
    }

    /// The expected engagement of a kind.
    pub fn expected(&self, kind: &Kind) -> f64 {
        self.predict(&self.mean, kind)
    }

    /// The expected engagement of a post with these features.
    pub fn expected_features(&self, features: &[String]) -> f64 {
        self.predict_features(&self.mean, features)
    }

    /// The standard deviation of a kind's expected engagement.
    pub fn expected_sd(&self, kind: &Kind) -> f64 {
        self.expected_sd_features(&kind.features())
    }

    /// The standard deviation of the expected engagement of a post with these features:
    /// σ·‖L⁻¹x‖ for its feature vector x (the intercept and each feature the learner knows).
    pub fn expected_sd_features(&self, features: &[String]) -> f64 {
        let d = self.dim();
        let mut x = vec![0.0; d];
        x[0] = 1.0;
        for i in features.iter().filter_map(|f| self.index(f)) {
            x[i] = 1.0;
        }
        let w = forward(&self.chol, d, &x);
        self.sigma * w.iter().map(|v| v * v).sum::<f64>().sqrt()
    }

    /// A feature's effect on engagement and its standard deviation.
    pub fn effect(&self, feature: &str) -> Option<(f64, f64)> {
        let i = self.index(feature)?;
        let d = self.dim();
        let mut unit = vec![0.0; d];
        unit[i] = 1.0;
        // Var(βᵢ) = σ²·[(LLᵀ)⁻¹]ᵢᵢ = σ²·‖L⁻¹eᵢ‖².
        let w = forward(&self.chol, d, &unit);
        let var: f64 = w.iter().map(|x| x * x).sum();
        Some((self.mean[i], self.sigma * var.sqrt()))
    }

    /// Candidates in Thompson order, best first (one draw of the coefficients for all).
    pub fn thompson_rank(&self, kinds: &[Kind], rng: &mut Rng) -> Vec<Kind> {
        let coef = self.draw(rng);
        let mut scored: Vec<(f64, &Kind)> =
            kinds.iter().map(|k| (self.predict(&coef, k), k)).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().map(|(_, k)| k.clone()).collect()
    }
}

/// The engagement score of one observation, 0–1: how much of the video people watched, and
/// how many of them acted on it. Shares and saves count more than likes: they spread a video.
pub fn engagement_score(
    views: u64,
    likes: u64,
    comments: u64,
    shares: u64,
    saves: u64,
    completion_rate: Option<f64>,
) -> f64 {
    if views == 0 {
        return 0.0;
    }
    let actions = likes as f64 + 2.0 * comments as f64 + 3.0 * (shares + saves) as f64;
    // A 20 % weighted action rate is exceptional on short video: it maps to 1.
    let action_score = (actions / views as f64 / 0.2).min(1.0);
    match completion_rate {
        Some(c) => 0.5 * c.clamp(0.0, 1.0) + 0.5 * action_score,
        None => action_score,
    }
}

/// A small deterministic generator (splitmix64) with the draws sampling needs.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n.saturating_sub(1))
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Gamma(shape, 1) by Marsaglia and Tsang (shape < 1 boosted by U^(1/shape)).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a.max(1e-6));
        let y = self.gamma(b.max(1e-6));
        x / (x + y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(c: &str, f: &str, h: &str) -> Kind {
        Kind {
            category: c.into(),
            format: f.into(),
            hook: h.into(),
        }
    }

    #[test]
    fn beta_draws_have_the_right_mean_and_spread() {
        let mut rng = Rng::new(1);
        for (a, b) in [(2.0f64, 5.0f64), (0.5, 0.5), (30.0, 10.0)] {
            let n = 20_000;
            let xs: Vec<f64> = (0..n).map(|_| rng.beta(a, b)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            let want_mean = a / (a + b);
            let want_sd = ((a * b) / ((a + b).powi(2) * (a + b + 1.0))).sqrt();
            assert!((mean - want_mean).abs() < 0.01, "{a},{b}: mean {mean}");
            assert!(
                (var.sqrt() - want_sd).abs() < 0.01,
                "{a},{b}: sd {}",
                var.sqrt()
            );
        }
    }

    #[test]
    fn scores_reward_completion_and_spreading() {
        assert_eq!(engagement_score(0, 5, 0, 0, 0, None), 0.0);
        let liked = engagement_score(1000, 50, 0, 0, 0, None);
        let shared = engagement_score(1000, 0, 0, 50, 0, None);
        assert!(shared > liked);
        assert_eq!(engagement_score(100, 1000, 0, 0, 0, Some(1.0)), 1.0);
    }

    #[test]
    fn the_regression_recovers_additive_effects() {
        // Truth: baseline 0.1, science +0.05, story +0.03, question +0.02; exact scores.
        let mut e = Evidence::default();
        let truth = |k: &Kind| {
            0.1 + if k.category == "science" { 0.05 } else { 0.0 }
                + if k.format == "story" { 0.03 } else { 0.0 }
                + if k.hook == "question" { 0.02 } else { 0.0 }
        };
        for _ in 0..200 {
            for c in ["science", "food"] {
                for f in ["story", "listicle"] {
                    for h in ["question", "pov"] {
                        let k = kind(c, f, h);
                        e.observe(&k, truth(&k), 1.0);
                    }
                }
            }
        }
        let p = Posterior::of(&e);
        let best = kind("science", "story", "question");
        assert!(
            (p.expected(&best) - 0.2).abs() < 0.005,
            "{}",
            p.expected(&best)
        );
        assert!((p.expected(&kind("food", "listicle", "pov")) - 0.1).abs() < 0.005);
        let (sci, sci_sd) = p.effect("category:science").unwrap();
        let (food, _) = p.effect("category:food").unwrap();
        assert!((sci - food - 0.05).abs() < 0.003, "{sci} {food}");
        assert!(sci_sd < 0.01);
        // A kind seen often is predicted tightly; with no evidence the spread is wide.
        let fresh = Posterior::of(&Evidence::default());
        let any = kind("science", "story", "question");
        assert!(p.expected_sd(&best) < 0.01, "{}", p.expected_sd(&best));
        assert!(fresh.expected_sd(&any) > 5.0 * p.expected_sd(&best));
        let mut rng = Rng::new(3);
        let kinds = [kind("food", "listicle", "pov"), best.clone()];
        assert_eq!(p.thompson_rank(&kinds, &mut rng)[0], best);
    }

    #[test]
    fn global_evidence_counts_less_and_unknown_features_are_uncertain() {
        let mut tenant = Evidence::default();
        let mut global = Evidence::default();
        for _ in 0..50 {
            tenant.observe(&kind("tech", "story", "pov"), 0.3, 1.0);
            global.observe(&kind("tech", "story", "pov"), 0.05, 1.0);
        }
        let p = Posterior::of(&tenant.merged(&global, GLOBAL_WEIGHT));
        let e = p.expected(&kind("tech", "story", "pov"));
        assert!(e > 0.2 && e < 0.3, "the tenant's own data dominates: {e}");
        assert!(p.effect("category:comedy").is_none());
        let fresh = Posterior::of(&Evidence::default());
        assert!((fresh.expected(&kind("a", "b", "c")) - PRIOR_MEAN).abs() < 1e-9);
    }
}
