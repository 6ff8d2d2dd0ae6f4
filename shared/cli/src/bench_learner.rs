//! `viral bench learner`: a synthetic audience with a hidden engagement for every kind of
//! concept (8 categories × 4 formats × 4 hook styles, additive effects), and three ways of
//! choosing what to publish each round: the learner (Thompson sampling on its regression's
//! posterior, updated with each round's observed score), an oracle that knows the best kind,
//! and random. Reports cumulative reward as a share of the oracle's over 200 and 1,000
//! rounds, averaged over seeds. Deterministic for a seed.

use crate::failure::Failure;
use std::process::ExitCode;

use viral_core::domain::learner::{Evidence, GLOBAL_WEIGHT, Kind, Posterior, Rng};

const CATEGORIES: [&str; 8] = [
    "science", "food", "money", "tech", "sports", "travel", "health", "comedy",
];
const FORMATS: [&str; 4] = ["listicle", "story", "myth-busting", "how-to"];
const HOOKS: [&str; 4] = ["question", "bold-claim", "number", "pov"];

struct Effects {
    cat: Vec<f64>,
    fmt: Vec<f64>,
    hook: Vec<f64>,
}

struct Audience {
    kinds: Vec<Kind>,
    /// Hidden mean engagement of each kind, index-aligned with `kinds`.
    means: Vec<f64>,
}

impl Audience {
    /// Effects drawn per seed: categories ±0.05, formats and hooks ±0.03 around 0.10, the
    /// spread of engagement rates short videos see. With `like`, the effects are that
    /// audience's plus a small deviation (±0.01): another tenant's audience, which mostly
    /// likes the same things.
    fn new(rng: &mut Rng, like: Option<&Effects>) -> (Self, Effects) {
        let effect = |rng: &mut Rng, w: f64| (rng.uniform() * 2.0 - 1.0) * w;
        let fx = match like {
            None => Effects {
                cat: CATEGORIES.iter().map(|_| effect(rng, 0.05)).collect(),
                fmt: FORMATS.iter().map(|_| effect(rng, 0.03)).collect(),
                hook: HOOKS.iter().map(|_| effect(rng, 0.03)).collect(),
            },
            Some(p) => Effects {
                cat: p.cat.iter().map(|x| x + effect(rng, 0.01)).collect(),
                fmt: p.fmt.iter().map(|x| x + effect(rng, 0.01)).collect(),
                hook: p.hook.iter().map(|x| x + effect(rng, 0.01)).collect(),
            },
        };
        let mut kinds = Vec::new();
        let mut means = Vec::new();
        for (ci, c) in CATEGORIES.iter().enumerate() {
            for (fi, f) in FORMATS.iter().enumerate() {
                for (hi, h) in HOOKS.iter().enumerate() {
                    kinds.push(Kind {
                        category: (*c).into(),
                        format: (*f).into(),
                        hook: (*h).into(),
                    });
                    means.push((0.10 + fx.cat[ci] + fx.fmt[fi] + fx.hook[hi]).clamp(0.005, 0.995));
                }
            }
        }
        (Self { kinds, means }, fx)
    }

    /// One video's observed score: noisy around the kind's mean (Beta, concentration 30).
    fn observe(&self, i: usize, rng: &mut Rng) -> f64 {
        let m = self.means[i];
        rng.beta(m * 30.0, (1.0 - m) * 30.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// A tenant with no evidence at all.
    ColdLearner,
    /// A tenant joining a platform whose other tenants have published 1,000 videos (random
    /// kinds) to audiences like its own: their evidence is its prior, down-weighted.
    WarmLearner,
    Oracle,
    Random,
}

/// Cumulative expected reward (the hidden means of what was chosen) after each round.
pub fn run_policy(policy: Policy, rounds: usize, seed: u64) -> Vec<f64> {
    let mut world_rng = Rng::new(seed);
    let (population, fx) = Audience::new(&mut world_rng, None);
    let (audience, _) = Audience::new(&mut world_rng, Some(&fx));
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut tenant = Evidence::default();
    let global = (policy == Policy::WarmLearner).then(|| {
        let mut g = Evidence::default();
        let mut others = Rng::new(seed ^ 0x07e3);
        for _ in 0..1000 {
            let i = (others.uniform() * population.kinds.len() as f64) as usize;
            let i = i.min(population.kinds.len() - 1);
            g.observe(
                &population.kinds[i],
                population.observe(i, &mut others),
                1.0,
            );
        }
        g
    });
    let best = (0..audience.kinds.len())
        .max_by(|a, b| audience.means[*a].total_cmp(&audience.means[*b]))
        .unwrap_or(0);
    let mut total = 0.0;
    let mut out = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let i = match policy {
            Policy::Oracle => best,
            Policy::Random => (rng.uniform() * audience.kinds.len() as f64) as usize,
            Policy::ColdLearner | Policy::WarmLearner => {
                let evidence = match &global {
                    Some(g) => tenant.merged(g, GLOBAL_WEIGHT),
                    None => tenant.clone(),
                };
                let top = Posterior::of(&evidence).thompson_rank(&audience.kinds, &mut rng);
                audience
                    .kinds
                    .iter()
                    .position(|k| Some(k) == top.first())
                    .unwrap_or(0)
            }
        }
        .min(audience.kinds.len() - 1);
        let score = audience.observe(i, &mut rng);
        tenant.observe(&audience.kinds[i], score, 1.0);
        total += audience.means[i];
        out.push(total);
    }
    out
}

/// Share of the oracle's cumulative reward after `rounds`, averaged over `seeds` audiences.
pub fn share_of_oracle(policy: Policy, rounds: usize, seeds: u64) -> f64 {
    let mut sum = 0.0;
    for seed in 0..seeds {
        let mine = run_policy(policy, rounds, seed)[rounds - 1];
        let oracle = run_policy(Policy::Oracle, rounds, seed)[rounds - 1];
        sum += mine / oracle;
    }
    sum / seeds as f64
}

pub fn run(seeds: u64) -> Result<ExitCode, Failure> {
    println!(
        "learner: synthetic audience, {} kinds of concept (8 categories x 4 formats x 4 hooks), {seeds} seeds",
        CATEGORIES.len() * FORMATS.len() * HOOKS.len()
    );
    println!("rounds   new platform   with others' evidence   random   (share of the oracle)");
    let mut met = true;
    for rounds in [200, 1000] {
        let cold = share_of_oracle(Policy::ColdLearner, rounds, seeds);
        let warm = share_of_oracle(Policy::WarmLearner, rounds, seeds);
        let r = share_of_oracle(Policy::Random, rounds, seeds);
        println!(
            "{rounds:>6}   {:>10.1} %   {:>21.1} %   {:>5.1} %",
            cold * 100.0,
            warm * 100.0,
            r * 100.0
        );
        if rounds == 200 {
            met = warm >= 0.9;
        }
    }
    Ok(crate::bench::verdict(
        "goal (>= 90 % of the oracle at 200 rounds, with the platform's evidence as prior)",
        met,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracle_bounds_everyone_and_runs_repeat() {
        let o = run_policy(Policy::Oracle, 100, 3);
        let l = run_policy(Policy::ColdLearner, 100, 3);
        let r = run_policy(Policy::Random, 100, 3);
        assert_eq!(l, run_policy(Policy::ColdLearner, 100, 3));
        let w = run_policy(Policy::WarmLearner, 100, 3);
        assert!(w[99] <= o[99] + 1e-9);
        assert!(l[99] <= o[99] + 1e-9 && r[99] <= o[99] + 1e-9);
    }
}
