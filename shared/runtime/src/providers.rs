//! The video providers of this process, from the configuration: clients built without any
//! network call (keys are read through the Secrets port on first use), and the catalog the
//! API lists, disabled providers included with what they need.

use std::sync::Arc;

use viral_core::domain::routing::{ProviderInfo, ProviderProfile};
use viral_core::ports::{BlobStore, Secrets, VideoProvider};
use viral_providers::google_auth::TokenSource;
use viral_providers::http::RetryPolicy;
use viral_providers::voice::{ElevenLabs, Espeak, Offline, Piper, Polly, Voice};
use viral_providers::{
    Credential, DownloadPolicy, Registry, RunwayProvider, SoraProvider, StoryboardProvider,
    VeoProvider,
};

use crate::provider_config::{KNOWN, ProviderConfig, VoiceChoice};
use crate::services::StartError;

fn start_err(name: &str, e: impl std::fmt::Display) -> StartError {
    StartError::Backend(format!("provider {name}: {e}"))
}

fn hosts(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The enabled providers, in the order configured.
pub fn registry(
    cfg: &ProviderConfig,
    secrets: Arc<dyn Secrets>,
    blobs: Arc<dyn BlobStore>,
) -> Result<Registry, StartError> {
    registry_on(cfg, secrets, blobs, None)
}

/// [`registry`] in a Lambda: AWS clients (Polly's) are built on the function's own SDK
/// configuration.
pub fn registry_on_aws(
    cfg: &ProviderConfig,
    secrets: Arc<dyn Secrets>,
    blobs: Arc<dyn BlobStore>,
    aws: &viral_aws::SdkConfig,
) -> Result<Registry, StartError> {
    registry_on(cfg, secrets, blobs, Some(aws))
}

fn registry_on(
    cfg: &ProviderConfig,
    secrets: Arc<dyn Secrets>,
    blobs: Arc<dyn BlobStore>,
    aws: Option<&viral_aws::SdkConfig>,
) -> Result<Registry, StartError> {
    let voice = voice_on(cfg, secrets.clone(), aws)?;
    registry_with(cfg, secrets, blobs, &|blobs| match &voice {
        Some(v) => StoryboardProvider::new(blobs).with_voice(v.clone()),
        None => StoryboardProvider::new(blobs),
    })
}

/// The voice that narrates storyboard videos, from `VIRAL_VOICE` (no network call).
pub fn voice(
    cfg: &ProviderConfig,
    secrets: Arc<dyn Secrets>,
) -> Result<Option<Arc<dyn Voice>>, StartError> {
    voice_on(cfg, secrets, None)
}

/// [`voice`], with Polly on `aws` when given.
fn voice_on(
    cfg: &ProviderConfig,
    secrets: Arc<dyn Secrets>,
    aws: Option<&viral_aws::SdkConfig>,
) -> Result<Option<Arc<dyn Voice>>, StartError> {
    let espeak = || Espeak::load().map(|v| Arc::new(v) as Arc<dyn Voice>);
    match cfg.voice {
        VoiceChoice::None => Ok(None),
        VoiceChoice::ElevenLabs => {
            let e = &cfg.elevenlabs;
            let voice = ElevenLabs::new(
                &e.base_url,
                Credential::named(secrets, "ELEVENLABS_API_KEY"),
                e.voice_id.as_deref().unwrap_or_default(),
                &e.model,
                e.cents_per_1k_chars,
                RetryPolicy::default(),
            )
            .map_err(|e| StartError::Backend(format!("voice elevenlabs: {e}")))?;
            Ok(Some(Arc::new(voice)))
        }
        VoiceChoice::Polly => {
            let p = &cfg.polly;
            let voice = Polly::new(&p.voice_id, &p.engine, p.cents_per_1k_chars)
                .map_err(|e| StartError::Backend(format!("voice polly: {e}")))?;
            Ok(Some(Arc::new(match aws {
                Some(conf) => voice.on(conf),
                None => voice,
            })))
        }
        VoiceChoice::Auto => {
            Ok(Offline::load(cfg.piper_dir.as_deref()).map(|v| Arc::new(v) as Arc<dyn Voice>))
        }
        VoiceChoice::Piper => cfg
            .piper_dir
            .as_deref()
            .and_then(Piper::load)
            .map(|v| Some(Arc::new(v) as Arc<dyn Voice>))
            .ok_or_else(|| {
                StartError::Backend(
                    "VIRAL_VOICE=piper: no Piper with a voice in VIRAL_PIPER_DIR (tests/run installs one in ~/.cache/viral/piper)"
                        .into(),
                )
            }),
        VoiceChoice::Espeak => espeak().map(Some).ok_or_else(|| {
            StartError::Backend(
                "VIRAL_VOICE=espeak: espeak-ng is not installed (Debian: apt-get install espeak-ng)"
                    .into(),
            )
        }),
    }
}

/// The voice from `VIRAL_VOICE` when it costs nothing (an offline engine): what narrates
/// provider clips at the join. A paid voice is not called there, since its price is not in a
/// provider job's estimate.
pub fn free_voice(
    cfg: &ProviderConfig,
    secrets: Arc<dyn Secrets>,
) -> Result<Option<Arc<dyn Voice>>, StartError> {
    Ok(voice(cfg, secrets)?.filter(|v| v.price_cents_per_1k_chars() == 0.0))
}

fn registry_with(
    cfg: &ProviderConfig,
    secrets: Arc<dyn Secrets>,
    blobs: Arc<dyn BlobStore>,
    storyboard: &dyn Fn(Arc<dyn BlobStore>) -> StoryboardProvider,
) -> Result<Registry, StartError> {
    let mut out: Vec<Arc<dyn VideoProvider>> = Vec::new();
    for name in &cfg.enabled {
        let p: Arc<dyn VideoProvider> = match name.as_str() {
            "storyboard" => Arc::new(storyboard(blobs.clone())),
            "runway" => Arc::new(
                RunwayProvider::new(
                    &cfg.runway_base_url,
                    Credential::named(secrets.clone(), "RUNWAY_API_KEY"),
                    viral_providers::runway::model(&cfg.runway_model)
                        .ok_or_else(|| start_err(name, "unknown model"))?,
                    DownloadPolicy::new(&hosts(&cfg.runway_output_hosts), cfg.allow_loopback),
                )
                .map_err(|e| start_err(name, e))?,
            ),
            "veo" => {
                let key = match &cfg.vertex_key_file {
                    Some(path) => {
                        Credential::fixed(std::fs::read_to_string(path).map_err(|e| {
                            start_err(name, format!("cannot read {}: {e}", path.display()))
                        })?)
                    }
                    None => Credential::named(secrets.clone(), "VERTEX_SERVICE_ACCOUNT_KEY"),
                };
                let project = cfg
                    .vertex_project
                    .as_deref()
                    .ok_or_else(|| start_err(name, "VERTEX_PROJECT is not set"))?;
                let base = cfg.vertex_base_url.clone().unwrap_or_else(|| {
                    viral_providers::veo::default_base_url(&cfg.vertex_location)
                });
                Arc::new(
                    VeoProvider::new(
                        &base,
                        project,
                        &cfg.vertex_location,
                        viral_providers::veo::model(&cfg.vertex_model)
                            .ok_or_else(|| start_err(name, "unknown model"))?,
                        Arc::new(TokenSource::new(key).map_err(|e| start_err(name, e))?),
                        RetryPolicy::default(),
                    )
                    .map(|veo| match cfg.vertex_audio_cents_per_second {
                        Some(cents) => veo.with_audio(cents),
                        None => veo,
                    })
                    .map_err(|e| start_err(name, e))?,
                )
            }
            "sora" => Arc::new(
                SoraProvider::new(
                    &cfg.openai_base_url,
                    Credential::named(secrets.clone(), "OPENAI_API_KEY"),
                    DownloadPolicy::new(&viral_providers::sora::OUTPUT_HOSTS, cfg.allow_loopback),
                    RetryPolicy::default(),
                )
                .map_err(|e| start_err(name, e))?,
            ),
            other => return Err(start_err(other, "unknown provider")),
        };
        out.push(p);
    }
    Ok(Registry::new(out))
}

/// What routing knows of the enabled providers, in the order configured, without building a
/// client: what a process that only routes (the PlanJob Lambda) needs. The same profiles as
/// [`registry`]'s.
pub fn profiles(cfg: &ProviderConfig) -> Vec<ProviderProfile> {
    let known = catalog(cfg);
    cfg.enabled
        .iter()
        .filter_map(|name| known.iter().find(|p| p.profile.name == *name))
        .map(|p| p.profile.clone())
        .collect()
}

/// The most narrating a second of storyboard video costs (cents): a paid voice's price is the
/// storyboard's, so estimates, budgets and spend count it.
fn voice_cents_per_second(cfg: &ProviderConfig) -> f64 {
    match cfg.voice {
        VoiceChoice::ElevenLabs => {
            viral_providers::voice::cents_per_video_second(cfg.elevenlabs.cents_per_1k_chars)
        }
        VoiceChoice::Polly => {
            viral_providers::voice::cents_per_video_second(cfg.polly.cents_per_1k_chars)
        }
        VoiceChoice::Auto | VoiceChoice::Piper | VoiceChoice::Espeak | VoiceChoice::None => 0.0,
    }
}

/// Every provider we know, enabled or not, from the configuration alone (no client, no key).
pub fn catalog(cfg: &ProviderConfig) -> Vec<ProviderInfo> {
    KNOWN
        .iter()
        .map(|name| {
            let profile = match *name {
                "storyboard" => ProviderProfile {
                    cents_per_second: voice_cents_per_second(cfg),
                    ..ProviderInfo::storyboard().profile
                },
                "runway" => {
                    let m = viral_providers::runway::model(&cfg.runway_model)
                        .unwrap_or(viral_providers::runway::GEN4_5);
                    ProviderProfile {
                        name: "runway".into(),
                        model: m.id.into(),
                        cents_per_second: m.cents_per_second,
                        clip_durations: m.durations.to_vec(),
                        max_clip_s: m.durations.iter().copied().max().unwrap_or(0),
                        quality: m.quality,
                    }
                }
                "veo" => {
                    let m = viral_providers::veo::model(&cfg.vertex_model)
                        .unwrap_or(viral_providers::veo::VEO_3_1_FAST);
                    ProviderProfile {
                        name: "veo".into(),
                        model: m.id.into(),
                        cents_per_second: cfg
                            .vertex_audio_cents_per_second
                            .unwrap_or(m.cents_per_second),
                        clip_durations: viral_providers::veo::DURATIONS.to_vec(),
                        max_clip_s: 8,
                        quality: 5,
                    }
                }
                _ => ProviderProfile {
                    name: "sora".into(),
                    model: "sora-2".into(),
                    cents_per_second: 10.0,
                    clip_durations: viral_providers::sora::DURATIONS.to_vec(),
                    max_clip_s: 12,
                    quality: 4,
                },
            };
            let enabled = cfg.is_enabled(name);
            let status = match (*name, enabled) {
                (_, true) => "enabled".to_owned(),
                ("runway", false) => "off: set RUNWAY_API_KEY (or list runway in VIRAL_PROVIDERS)".into(),
                ("veo", false) => {
                    "off: set VERTEX_PROJECT and a service-account key (GOOGLE_APPLICATION_CREDENTIALS)".into()
                }
                ("sora", false) => format!("off: {}", viral_providers::sora::SHUTDOWN_NOTICE),
                _ => "off: not in VIRAL_PROVIDERS".into(),
            };
            ProviderInfo {
                profile,
                enabled,
                status,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use viral_core::SystemClock;
    use viral_embedded::{EnvSecrets, FsBlobStore, UrlSigner};

    use super::*;
    use crate::config::Backend;

    /// The PlanJob Lambda routes on [`profiles`] (no clients); every other process on the
    /// registry's. They must agree, or a job would be planned for a model or price the
    /// clients do not have.
    #[test]
    fn profiles_without_clients_are_the_registrys() {
        let dir = tempfile::tempdir().unwrap();
        let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(
            dir.path(),
            UrlSigner::new(b"k", "http://127.0.0.1:3000", Arc::new(SystemClock)),
        ));
        let secrets: Arc<dyn Secrets> = Arc::new(EnvSecrets::from_map(HashMap::new()));
        let settings = [
            [
                ("VIRAL_PROVIDERS", "storyboard,runway,veo,sora"),
                ("RUNWAY_MODEL", "gen4.5"),
            ],
            [
                ("VIRAL_PROVIDERS", "veo,runway"),
                ("RUNWAY_MODEL", "veo3.1_fast"),
            ],
            [
                ("VIRAL_PROVIDERS", "sora,storyboard"),
                ("RUNWAY_MODEL", "veo3.1"),
            ],
        ];
        for pairs in settings {
            let mut env: HashMap<&str, &str> = pairs.into_iter().collect();
            env.extend([("VERTEX_PROJECT", "viral-dev"), ("VIRAL_ENABLE_SORA", "1")]);
            let cfg =
                ProviderConfig::from_lookup(&|k| env.get(k).map(|v| v.to_string()), Backend::Aws)
                    .unwrap();
            let clients = registry(&cfg, secrets.clone(), blobs.clone()).unwrap();
            assert_eq!(profiles(&cfg), clients.profiles(), "{pairs:?}");
            assert_eq!(profiles(&cfg).len(), cfg.enabled.len());
        }
    }
}
