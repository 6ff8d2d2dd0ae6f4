//! Routing: which provider and model render a job, in which clips, at what estimated cost.
//! Pure functions of the providers' profiles, their recent health and the request.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// What routing knows about a provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderProfile {
    pub name: String,
    pub model: String,
    pub cents_per_second: f64,
    /// Clip lengths it renders, seconds; empty when any length up to `max_clip_s` works.
    pub clip_durations: Vec<u32>,
    pub max_clip_s: u32,
    /// 1 (a text-card preview) to 5 (the best generative video).
    pub quality: u8,
}

/// A provider as the API lists it: its profile, and whether this deployment uses it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderInfo {
    #[serde(flatten)]
    pub profile: ProviderProfile,
    pub enabled: bool,
    /// `enabled`, or why it is off and what it needs.
    pub status: String,
}

impl ProviderInfo {
    /// The built-in `storyboard` renderer: free, any length in one clip, always there.
    pub fn storyboard() -> Self {
        Self {
            profile: ProviderProfile {
                name: "storyboard".into(),
                model: "cards-v1".into(),
                cents_per_second: 0.0,
                clip_durations: vec![],
                max_clip_s: 60,
                quality: 1,
            },
            enabled: true,
            status: "enabled".into(),
        }
    }
}

/// At most how many clips make a video.
pub const MAX_CLIPS: usize = 4;

/// Clip lengths that cover `target_s`: the fewest seconds rendered beyond the target, then
/// the fewest clips (10 + 5 for 2–10 s models, 8 + 8 for 4/6/8 s ones). `None` when no
/// combination of up to [`MAX_CLIPS`] clips reaches it.
pub fn plan_clips(p: &ProviderProfile, target_s: f64) -> Option<Vec<f64>> {
    if !(target_s.is_finite() && target_s > 0.0) {
        return None;
    }
    if p.clip_durations.is_empty() {
        let max = f64::from(p.max_clip_s.max(1));
        let n = (target_s / max).ceil() as usize;
        if n == 0 || n > MAX_CLIPS {
            return None;
        }
        // Equal clips, each within the limit.
        return Some(vec![target_s / n as f64; n]);
    }
    let mut durations: Vec<u32> = p.clip_durations.clone();
    durations.sort_unstable();
    durations.dedup();
    let mut best: Option<(f64, usize, Vec<u32>)> = None;
    let mut stack: Vec<(Vec<u32>, usize)> = vec![(Vec::new(), 0)];
    // Non-increasing sequences only, so each multiset is visited once.
    while let Some((clips, from)) = stack.pop() {
        let sum: u32 = clips.iter().sum();
        if f64::from(sum) >= target_s {
            let over = f64::from(sum) - target_s;
            let mut desc = clips.clone();
            desc.sort_unstable_by(|a, b| b.cmp(a));
            // Least waste, then fewest clips, then the longest clips first (10 + 5, not 8 + 7).
            let better = match &best {
                None => true,
                Some((o, n, d)) => {
                    over < *o - 1e-9
                        || ((over - *o).abs() < 1e-9
                            && (desc.len() < *n || (desc.len() == *n && desc > *d)))
                }
            };
            if better {
                best = Some((over, desc.len(), desc));
            }
            continue;
        }
        if clips.len() == MAX_CLIPS {
            continue;
        }
        for (i, d) in durations.iter().enumerate().skip(from) {
            let mut next = clips.clone();
            next.push(*d);
            stack.push((next, i));
        }
    }
    best.map(|(_, _, clips)| clips.into_iter().map(f64::from).collect())
}

/// Recent outcomes of one provider, as the health tracker keeps them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub successes: u32,
    pub failures: u32,
    pub consecutive_failures: u32,
    /// Mean seconds from submit to a finished render, over recent successes.
    pub mean_latency_s: f64,
    /// While set and in the future, the circuit is open: the provider is skipped.
    pub open_until: Option<Timestamp>,
}

/// After this many failures in a row the circuit opens for [`OPEN_FOR_S`].
pub const TRIP_AFTER: u32 = 3;
pub const OPEN_FOR_S: i64 = 300;

impl Health {
    /// Success rate with a prior of 9 successes in 10, so a new provider is trusted and a few
    /// failures do not condemn an old one.
    pub fn success_rate(&self) -> f64 {
        (f64::from(self.successes) + 9.0) / (f64::from(self.successes + self.failures) + 10.0)
    }

    pub fn is_open(&self, now: Timestamp) -> bool {
        self.open_until.is_some_and(|t| now < t)
    }

    pub fn record(&mut self, ok: bool, latency_s: f64, now: Timestamp) {
        if ok {
            let n = f64::from(self.successes.min(49));
            self.mean_latency_s = (self.mean_latency_s * n + latency_s) / (n + 1.0);
            self.successes += 1;
            self.consecutive_failures = 0;
            self.open_until = None;
        } else {
            self.failures += 1;
            self.consecutive_failures += 1;
            if self.consecutive_failures >= TRIP_AFTER {
                self.open_until = Some(Timestamp(now.0 + OPEN_FOR_S * 1000));
            }
        }
        // A sliding memory: halve the counts once they grow, so recovery shows within hours.
        if self.successes + self.failures > 200 {
            self.successes /= 2;
            self.failures /= 2;
        }
    }
}

/// What the tenant's plan asks of routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QualityTier {
    /// Text-card previews are acceptable (the free plan).
    Preview,
    /// Generative video, cost first.
    Standard,
    /// The best quality the spend cap allows.
    Premium,
}

/// The best quality a preview provider has (the built-in storyboard is 1).
pub const PREVIEW_QUALITY: u8 = 1;

impl QualityTier {
    /// What the tier aims for; routing takes a lower quality only when nothing else can serve
    /// the job, and says so (`degraded`).
    pub fn min_quality(self) -> u8 {
        match self {
            QualityTier::Preview => 1,
            QualityTier::Standard | QualityTier::Premium => 3,
        }
    }

    /// Whether the tier may use a provider of this quality at all: a preview plan renders
    /// previews only; the paid tiers may use any provider their cost cap allows.
    pub fn allows(self, quality: u8) -> bool {
        match self {
            QualityTier::Preview => quality <= PREVIEW_QUALITY,
            QualityTier::Standard | QualityTier::Premium => true,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QualityTier::Preview => "preview",
            QualityTier::Standard => "standard",
            QualityTier::Premium => "premium",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RouteRequest<'a> {
    /// `auto`, or a provider the tenant named.
    pub requested: &'a str,
    pub target_s: f64,
    pub tier: QualityTier,
    /// Most this attempt may cost, in cents: what is left of the job's budget.
    pub spend_cap_cents: u32,
    /// Providers that already failed this job: tried last, if at all.
    pub failed: &'a [String],
    /// No fallback follows this attempt: its failure fails the job, so reliability comes
    /// before price.
    pub last_attempt: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub provider: String,
    pub model: String,
    pub clips: Vec<f64>,
    pub estimated_cost_cents: u32,
    /// Why this one, for people reading the job.
    pub reason: String,
    /// The provider is below the quality the plan aims for (no better one could serve the
    /// job here); `reason` says why.
    #[serde(default)]
    pub degraded: bool,
}

/// Why no provider can render a job.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NoRoute {
    #[error("{0:?} is not a provider of this deployment")]
    Unknown(String),
    #[error("the {tier} plan tier does not include {provider:?}")]
    NotInPlan {
        provider: String,
        tier: &'static str,
    },
    #[error(
        "the cheapest way to render this costs {cheapest_cents} cents, over the {cap_cents} cents this job may still spend"
    )]
    OverCap { cheapest_cents: u32, cap_cents: u32 },
    #[error("no provider of this deployment can render {0} s in at most {MAX_CLIPS} clips")]
    CannotRender(f64),
}

/// Cost of rendering `clips` with `p`, in cents (what is rendered is billed, trim included).
pub fn cost_cents(p: &ProviderProfile, clips: &[f64]) -> u32 {
    (p.cents_per_second * clips.iter().sum::<f64>()).ceil() as u32
}

/// Chance that every clip of a video renders.
fn video_success(clips: &[f64], h: &Health) -> f64 {
    h.success_rate().powi(clips.len().max(1) as i32)
}

/// Expected cost of one successful video: a failed try is paid for too, so cost is divided
/// by the chance of success.
fn expected_cost(p: &ProviderProfile, clips: &[f64], h: &Health) -> f64 {
    f64::from(cost_cents(p, clips)).max(0.5) / video_success(clips, h)
}

/// The provider a request names is `auto` or one this deployment has: the check every
/// caller (API, estimate, CLI) makes before anything runs, and routing makes again.
pub fn check_known(profiles: &[ProviderProfile], requested: &str) -> Result<(), NoRoute> {
    if requested == "auto" || profiles.iter().any(|p| p.name == requested) {
        Ok(())
    } else {
        Err(NoRoute::Unknown(requested.to_owned()))
    }
}

/// Picks a provider for the request. `health` is looked up by provider name (missing = new).
/// A named provider is used as asked if the plan's tier includes it and it fits the cap.
pub fn choose(
    profiles: &[ProviderProfile],
    health: &dyn Fn(&str) -> Health,
    req: &RouteRequest<'_>,
    now: Timestamp,
) -> Result<Route, NoRoute> {
    let cap = req.spend_cap_cents;
    let route = |p: &ProviderProfile, clips: Vec<f64>, reason: String| Route {
        provider: p.name.clone(),
        model: p.model.clone(),
        estimated_cost_cents: cost_cents(p, &clips),
        clips,
        degraded: p.quality < req.tier.min_quality() && req.requested == "auto",
        reason,
    };
    if req.requested != "auto" {
        let p = profiles
            .iter()
            .find(|p| p.name == req.requested)
            .ok_or_else(|| NoRoute::Unknown(req.requested.to_owned()))?;
        if !req.tier.allows(p.quality) {
            return Err(NoRoute::NotInPlan {
                provider: p.name.clone(),
                tier: req.tier.as_str(),
            });
        }
        let clips = plan_clips(p, req.target_s).ok_or(NoRoute::CannotRender(req.target_s))?;
        let cost = cost_cents(p, &clips);
        if cost > cap {
            return Err(NoRoute::OverCap {
                cheapest_cents: cost,
                cap_cents: cap,
            });
        }
        return Ok(route(p, clips, "requested by name".into()));
    }
    let coverable: Vec<(&ProviderProfile, Vec<f64>, Health)> = profiles
        .iter()
        .filter(|p| req.tier.allows(p.quality))
        .filter_map(|p| Some((p, plan_clips(p, req.target_s)?, health(&p.name))))
        .collect();
    let cheapest = coverable
        .iter()
        .map(|(p, clips, _)| cost_cents(p, clips))
        .min()
        .ok_or(NoRoute::CannotRender(req.target_s))?;
    let mut candidates: Vec<_> = coverable
        .into_iter()
        .filter(|(p, clips, _)| cost_cents(p, clips) <= cap)
        .collect();
    // Order: not failed for this job, of the tier's quality (a lower one only when nothing
    // else is configured or left), circuit closed, then the tier's preference.
    candidates.sort_by(|(a, ca, ha), (b, cb, hb)| {
        let key = |p: &ProviderProfile, h: &Health| {
            (
                req.failed.contains(&p.name),
                p.quality < req.tier.min_quality(),
                h.is_open(now),
            )
        };
        key(a, ha).cmp(&key(b, hb)).then_with(|| match req.tier {
            _ if req.last_attempt => video_success(cb, hb)
                .total_cmp(&video_success(ca, ha))
                .then(expected_cost(a, ca, ha).total_cmp(&expected_cost(b, cb, hb))),
            QualityTier::Premium => b
                .quality
                .cmp(&a.quality)
                .then(hb.success_rate().total_cmp(&ha.success_rate()))
                .then(expected_cost(a, ca, ha).total_cmp(&expected_cost(b, cb, hb))),
            _ => expected_cost(a, ca, ha)
                .total_cmp(&expected_cost(b, cb, hb))
                .then(b.quality.cmp(&a.quality)),
        })
    });
    let Some((p, clips, h)) = candidates.into_iter().next() else {
        return Err(NoRoute::OverCap {
            cheapest_cents: cheapest,
            cap_cents: cap,
        });
    };
    let tier_here = profiles.iter().any(|q| q.quality >= req.tier.min_quality());
    let why = if p.quality < req.tier.min_quality() && !tier_here {
        format!(
            "this deployment has no provider of the {} tier; a {} preview instead",
            req.tier.as_str(),
            p.name
        )
    } else if p.quality < req.tier.min_quality() {
        format!(
            "no provider of the {} tier is available within this job's budget here; a {} preview instead",
            req.tier.as_str(),
            p.name
        )
    } else if h.is_open(now) {
        "every provider is failing; trying the best of them".to_owned()
    } else if req.last_attempt {
        format!(
            "last attempt: the most reliable provider ({:.0}% recent success)",
            h.success_rate() * 100.0
        )
    } else {
        match req.tier {
            QualityTier::Premium => format!(
                "best quality within the cap ({:.0}% recent success)",
                h.success_rate() * 100.0
            ),
            _ => format!(
                "lowest expected cost per successful video ({:.0}% recent success)",
                h.success_rate() * 100.0
            ),
        }
    };
    Ok(route(p, clips, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, cps: f64, durations: &[u32], quality: u8) -> ProviderProfile {
        ProviderProfile {
            name: name.into(),
            model: format!("{name}-model"),
            cents_per_second: cps,
            clip_durations: durations.to_vec(),
            max_clip_s: durations.iter().copied().max().unwrap_or(60),
            quality,
        }
    }

    #[test]
    fn clips_cover_the_target_with_least_waste() {
        let runway = profile("runway", 12.0, &[2, 3, 4, 5, 6, 7, 8, 9, 10], 4);
        let veo = profile("veo", 15.0, &[4, 6, 8], 5);
        let sora = profile("sora", 10.0, &[4, 8, 12], 4);
        let any = profile("storyboard", 0.0, &[], 1);
        assert_eq!(plan_clips(&runway, 15.0), Some(vec![10.0, 5.0]));
        assert_eq!(plan_clips(&veo, 15.0), Some(vec![8.0, 8.0]));
        assert_eq!(plan_clips(&sora, 15.0), Some(vec![12.0, 4.0]));
        assert_eq!(plan_clips(&veo, 8.0), Some(vec![8.0]));
        assert_eq!(plan_clips(&any, 15.0), Some(vec![15.0]));
        assert_eq!(plan_clips(&veo, 100.0), None, "more than four clips");
        assert_eq!(plan_clips(&veo, f64::NAN), None);
    }

    #[test]
    fn the_circuit_opens_after_failures_in_a_row_and_closes_on_success() {
        let mut h = Health::default();
        let now = Timestamp(1_000_000);
        for _ in 0..TRIP_AFTER {
            assert!(!h.is_open(now));
            h.record(false, 0.0, now);
        }
        assert!(h.is_open(now));
        assert!(!h.is_open(Timestamp(now.0 + OPEN_FOR_S * 1000)));
        h.record(true, 40.0, now);
        assert!(!h.is_open(now));
        assert_eq!(h.consecutive_failures, 0);
    }

    #[test]
    fn standard_takes_the_cheapest_healthy_and_premium_the_best() {
        let profiles = vec![
            profile("runway", 12.0, &[2, 3, 4, 5, 6, 7, 8, 9, 10], 4),
            profile("veo", 15.0, &[4, 6, 8], 5),
            profile("storyboard", 0.0, &[], 1),
        ];
        let now = Timestamp(0);
        let healthy = |_: &str| Health::default();
        let req = RouteRequest {
            requested: "auto",
            target_s: 15.0,
            tier: QualityTier::Standard,
            spend_cap_cents: u32::MAX,
            failed: &[],
            last_attempt: false,
        };
        let r = choose(&profiles, &healthy, &req, now).unwrap();
        assert_eq!(
            (r.provider.as_str(), r.estimated_cost_cents),
            ("runway", 180)
        );
        let premium = RouteRequest {
            tier: QualityTier::Premium,
            ..req.clone()
        };
        assert_eq!(
            choose(&profiles, &healthy, &premium, now).unwrap().provider,
            "veo"
        );
        // A cap below every generative provider leaves the free preview, and says so.
        let capped = RouteRequest {
            spend_cap_cents: 100,
            ..req.clone()
        };
        let r = choose(&profiles, &healthy, &capped, now).unwrap();
        assert_eq!(r.provider, "storyboard");
        assert!(r.reason.contains("preview"), "{}", r.reason);
        assert!(
            r.degraded,
            "a standard plan served by a preview is degraded"
        );
        let nothing = [profiles[1].clone()];
        assert_eq!(
            choose(&nothing, &healthy, &capped, now),
            Err(NoRoute::OverCap {
                cheapest_cents: 240,
                cap_cents: 100
            })
        );
        // The free plan's tier takes the free renderer first.
        let preview = RouteRequest {
            tier: QualityTier::Preview,
            ..req.clone()
        };
        assert_eq!(
            choose(&profiles, &healthy, &preview, now).unwrap().provider,
            "storyboard"
        );
        // A provider whose circuit is open, or that failed this job, goes last.
        let broken = |n: &str| {
            let mut h = Health::default();
            if n == "runway" {
                for _ in 0..TRIP_AFTER {
                    h.record(false, 0.0, now);
                }
            }
            h
        };
        assert_eq!(
            choose(&profiles, &broken, &req, now).unwrap().provider,
            "veo"
        );
        let failed = vec!["runway".to_owned()];
        let retry = RouteRequest {
            failed: &failed,
            ..req.clone()
        };
        assert_eq!(
            choose(&profiles, &healthy, &retry, now).unwrap().provider,
            "veo"
        );
        // On the last attempt the most reliable provider wins over the cheapest.
        let shaky = |n: &str| {
            let mut h = Health::default();
            if n == "runway" {
                for i in 0..20 {
                    h.record(i % 5 != 0, 60.0, now);
                }
            }
            h
        };
        assert_eq!(
            choose(&profiles, &shaky, &req, now).unwrap().provider,
            "runway"
        );
        let last = RouteRequest {
            last_attempt: true,
            ..req.clone()
        };
        let r = choose(&profiles, &shaky, &last, now).unwrap();
        assert_eq!(r.provider, "veo");
        assert!(r.reason.contains("last attempt"), "{}", r.reason);
        // Named providers are used as asked, and are not a downgrade.
        let named = RouteRequest {
            requested: "storyboard",
            ..req.clone()
        };
        let r = choose(&profiles, &healthy, &named, now).unwrap();
        assert_eq!((r.provider.as_str(), r.degraded), ("storyboard", false));
    }

    #[test]
    fn a_named_provider_must_be_in_the_plan_and_fit_the_budget() {
        let profiles = vec![
            profile("runway", 12.0, &[2, 3, 4, 5, 6, 7, 8, 9, 10], 4),
            profile("veo", 30.0, &[4, 6, 8], 5),
            profile("storyboard", 0.0, &[], 1),
        ];
        let now = Timestamp(0);
        let healthy = |_: &str| Health::default();
        let free = RouteRequest {
            requested: "runway",
            target_s: 15.0,
            tier: QualityTier::Preview,
            spend_cap_cents: 0,
            failed: &[],
            last_attempt: false,
        };
        assert_eq!(
            choose(&profiles, &healthy, &free, now),
            Err(NoRoute::NotInPlan {
                provider: "runway".into(),
                tier: "preview"
            })
        );
        let starter = RouteRequest {
            requested: "veo",
            tier: QualityTier::Standard,
            spend_cap_cents: 300,
            ..free.clone()
        };
        // 8 + 8 s at 30 cents a second.
        assert_eq!(
            choose(&profiles, &healthy, &starter, now),
            Err(NoRoute::OverCap {
                cheapest_cents: 480,
                cap_cents: 300
            })
        );
        let runway = RouteRequest {
            requested: "runway",
            ..starter.clone()
        };
        assert_eq!(
            choose(&profiles, &healthy, &runway, now)
                .unwrap()
                .estimated_cost_cents,
            180
        );
        // What is left of the budget after a first attempt is the cap of the next.
        let second = RouteRequest {
            spend_cap_cents: 120,
            ..runway.clone()
        };
        assert!(matches!(
            choose(&profiles, &healthy, &second, now),
            Err(NoRoute::OverCap { .. })
        ));
        let unknown = RouteRequest {
            requested: "nope",
            ..runway
        };
        assert_eq!(
            choose(&profiles, &healthy, &unknown, now),
            Err(NoRoute::Unknown("nope".into()))
        );
        // The preview tier never routes to a paid provider, whatever its price.
        let free_auto = RouteRequest {
            requested: "auto",
            spend_cap_cents: u32::MAX,
            ..free
        };
        let r = choose(&profiles, &healthy, &free_auto, now).unwrap();
        assert_eq!((r.provider.as_str(), r.degraded), ("storyboard", false));
    }
}
