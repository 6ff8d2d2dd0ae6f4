//! Which video providers this deployment uses and where they are. Keys are secrets and are
//! not read here: they come through the Secrets port when a provider first needs them
//! (`RUNWAY_API_KEY`, `OPENAI_API_KEY`, `VERTEX_SERVICE_ACCOUNT_KEY`).

use std::collections::HashMap;
use std::path::PathBuf;

use crate::config::{Backend, ConfigError};

pub const KNOWN: [&str; 4] = ["storyboard", "runway", "veo", "sora"];

#[derive(Clone, Debug, PartialEq)]
pub struct ProviderConfig {
    /// `VIRAL_PROVIDERS`, comma-separated. Default: `storyboard`, plus `runway` when
    /// `RUNWAY_API_KEY` is set and `veo` when `VERTEX_PROJECT` is (on AWS, where keys live in
    /// Secrets Manager, list them).
    pub enabled: Vec<String>,
    /// `RUNWAY_BASE_URL`.
    pub runway_base_url: String,
    /// `RUNWAY_MODEL`: `gen4.5` (default), `veo3.1_fast` or `veo3.1`.
    pub runway_model: String,
    /// `RUNWAY_OUTPUT_HOSTS`: where Runway's output URLs may point (`.domain` for subdomains).
    pub runway_output_hosts: Vec<String>,
    /// `OPENAI_BASE_URL`.
    pub openai_base_url: String,
    /// `VIRAL_ENABLE_SORA=1`: OpenAI shut the Sora Videos API down on 2026-09-24, so Sora
    /// needs this to be listed (for a compatible endpoint).
    pub sora_enabled: bool,
    /// `VERTEX_PROJECT`, `VERTEX_LOCATION` (default `us-central1`), `VERTEX_BASE_URL`,
    /// `VERTEX_VEO_MODEL` (default `veo-3.1-fast-generate-001`).
    pub vertex_project: Option<String>,
    pub vertex_location: String,
    pub vertex_base_url: Option<String>,
    pub vertex_model: String,
    /// `GOOGLE_APPLICATION_CREDENTIALS`: a service-account key file, read at start. Without
    /// it the key is the secret `VERTEX_SERVICE_ACCOUNT_KEY` (the file's JSON).
    pub vertex_key_file: Option<PathBuf>,
    /// `VERTEX_VEO_AUDIO_CENTS_PER_SECOND`: when set, Veo is asked for clips with their own
    /// sound (`generateAudio`), which the join keeps, priced at this many cents a second
    /// (Veo with audio costs more than without; say what the account pays). Unset: silent
    /// clips at the model's price.
    pub vertex_audio_cents_per_second: Option<f64>,
    /// `VIRAL_ALLOW_LOOPBACK_PROVIDERS=1`: provider URLs and downloads may use loopback and
    /// plain HTTP to it (local development and tests). Refused with `VIRAL_BACKEND=aws`.
    pub allow_loopback: bool,
    /// `VIRAL_PROVIDER_CONCURRENCY`, e.g. `runway=5,storyboard=2`: how many submits the
    /// local worker runs at once per provider (the rest wait in the provider's queue). On
    /// AWS each queue's `MaximumConcurrency` template parameter does this.
    pub concurrency: HashMap<String, usize>,
    /// `VIRAL_VOICE`: who narrates storyboard videos. `piper` (neural, offline, when
    /// installed in `piper_dir`), `espeak` (espeak-ng, offline, when installed),
    /// `elevenlabs`, `polly`, `none`, or unset: Piper for the languages it has a voice for,
    /// espeak-ng for the rest, else no voice.
    pub voice: VoiceChoice,
    /// `VIRAL_PIPER_DIR` (default `~/.cache/viral/piper`, where `tests/run` installs it): a
    /// Python environment with Piper (`venv/`) and its voices (`voices/*.onnx`).
    pub piper_dir: Option<PathBuf>,
    /// `ELEVENLABS_BASE_URL`, `ELEVENLABS_VOICE_ID` (required with `VIRAL_VOICE=elevenlabs`),
    /// `ELEVENLABS_MODEL` (default `eleven_multilingual_v2`) and
    /// `ELEVENLABS_CENTS_PER_1K_CHARS` (what the account's plan pays, default 30). The key is
    /// the secret `ELEVENLABS_API_KEY`.
    pub elevenlabs: ElevenLabsConfig,
    /// `POLLY_VOICE_ID` (default `Joanna`), `POLLY_ENGINE` (`neural`, `long-form` or
    /// `standard`: the engines with word speech marks) and `POLLY_CENTS_PER_1K_CHARS` (both
    /// calls together; default 3.2, twice neural's $16 per million characters). Credentials
    /// and region come from the environment, as for every AWS client.
    pub polly: PollyConfig,
    /// `VIRAL_PROVIDER_CAPTIONS`: `burn` (default) draws the script's captions into provider
    /// clips at the join (one decode and encode); `files` only stores them beside the video.
    pub provider_captions: viral_steps::ProviderCaptions,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PollyConfig {
    pub voice_id: String,
    pub engine: String,
    pub cents_per_1k_chars: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ElevenLabsConfig {
    pub base_url: String,
    pub voice_id: Option<String>,
    pub model: String,
    pub cents_per_1k_chars: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoiceChoice {
    /// Piper where it has a voice for the language, else espeak-ng, else none.
    Auto,
    Piper,
    Espeak,
    ElevenLabs,
    Polly,
    None,
}

fn err(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

/// An API base URL from `var` (or `default`): https, or loopback http when allowed.
pub(crate) fn checked_url(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: &str,
    allow_loopback: bool,
) -> Result<String, ConfigError> {
    let v = get(var).unwrap_or_else(|| default.to_owned());
    let local = v.starts_with("http://127.0.0.1") || v.starts_with("http://localhost");
    if v.starts_with("https://") || (allow_loopback && local) {
        Ok(v.trim_end_matches('/').to_owned())
    } else {
        Err(err(
            var,
            "expected an https:// URL (http://127.0.0.1 only with VIRAL_ALLOW_LOOPBACK_PROVIDERS=1)",
        ))
    }
}

fn flag(v: Option<String>, var: &'static str) -> Result<bool, ConfigError> {
    match v.as_deref() {
        None | Some("0") | Some("false") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(other) => Err(err(var, format!("expected 1 or 0, got `{other}`"))),
    }
}

/// `name=n` pairs, comma-separated: known providers, 1 to 100 each.
fn concurrency(list: &str) -> Result<HashMap<String, usize>, ConfigError> {
    const VAR: &str = "VIRAL_PROVIDER_CONCURRENCY";
    let mut out = HashMap::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, n) = part
            .split_once('=')
            .ok_or_else(|| err(VAR, format!("expected provider=number, got `{part}`")))?;
        let name = name.trim();
        if !KNOWN.contains(&name) {
            return Err(err(
                VAR,
                format!("unknown provider `{name}`; known: {}", KNOWN.join(", ")),
            ));
        }
        let n: usize = n
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| err(VAR, format!("`{part}`: the number must be 1 to 100")))?;
        out.insert(name.to_owned(), n);
    }
    Ok(out)
}

impl ProviderConfig {
    pub fn from_lookup(
        get: &dyn Fn(&str) -> Option<String>,
        backend: Backend,
    ) -> Result<Self, ConfigError> {
        let allow_loopback = flag(
            get("VIRAL_ALLOW_LOOPBACK_PROVIDERS"),
            "VIRAL_ALLOW_LOOPBACK_PROVIDERS",
        )?;
        if allow_loopback && backend == Backend::Aws {
            return Err(err(
                "VIRAL_ALLOW_LOOPBACK_PROVIDERS",
                "is for local development and tests only; not allowed with VIRAL_BACKEND=aws",
            ));
        }
        let url = |var: &'static str, default: &str| checked_url(get, var, default, allow_loopback);
        let sora_enabled = flag(get("VIRAL_ENABLE_SORA"), "VIRAL_ENABLE_SORA")?;
        let vertex_project = get("VERTEX_PROJECT");
        let enabled: Vec<String> = match get("VIRAL_PROVIDERS") {
            Some(list) => crate::config::names("VIRAL_PROVIDERS", &list, "provider", &KNOWN)?,
            None => {
                let mut v = vec!["storyboard".to_owned()];
                if get("RUNWAY_API_KEY").is_some() {
                    v.push("runway".into());
                }
                if vertex_project.is_some() {
                    v.push("veo".into());
                }
                if sora_enabled && get("OPENAI_API_KEY").is_some() {
                    v.push("sora".into());
                }
                v
            }
        };
        if enabled.iter().any(|p| p == "sora") && !sora_enabled {
            return Err(err(
                "VIRAL_ENABLE_SORA",
                viral_providers::sora::SHUTDOWN_NOTICE,
            ));
        }
        if enabled.iter().any(|p| p == "veo") && vertex_project.is_none() {
            return Err(err("VERTEX_PROJECT", "required when veo is a provider"));
        }
        let runway_model = get("RUNWAY_MODEL").unwrap_or_else(|| "gen4.5".into());
        if viral_providers::runway::model(&runway_model).is_none() {
            return Err(err(
                "RUNWAY_MODEL",
                "expected gen4.5, veo3.1_fast or veo3.1",
            ));
        }
        let vertex_model =
            get("VERTEX_VEO_MODEL").unwrap_or_else(|| viral_providers::veo::VEO_3_1_FAST.id.into());
        if viral_providers::veo::model(&vertex_model).is_none() {
            return Err(err(
                "VERTEX_VEO_MODEL",
                "expected veo-3.1-fast-generate-001 or veo-3.1-generate-001",
            ));
        }
        let vertex_audio_cents_per_second = match get("VERTEX_VEO_AUDIO_CENTS_PER_SECOND") {
            None => None,
            Some(v) => Some(
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|c| c.is_finite() && (1.0..=1000.0).contains(c))
                    .ok_or_else(|| {
                        err(
                            "VERTEX_VEO_AUDIO_CENTS_PER_SECOND",
                            "expected cents a second, 1 to 1000",
                        )
                    })?,
            ),
        };
        let vertex_location = get("VERTEX_LOCATION").unwrap_or_else(|| "us-central1".into());
        let vertex_base_url = match get("VERTEX_BASE_URL") {
            Some(_) => Some(url("VERTEX_BASE_URL", "")?),
            None => None,
        };
        let runway_output_hosts = match get("RUNWAY_OUTPUT_HOSTS") {
            Some(v) => v
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            None => viral_providers::runway::DEFAULT_OUTPUT_HOSTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        };
        let concurrency = match get("VIRAL_PROVIDER_CONCURRENCY") {
            Some(v) => concurrency(&v)?,
            None => HashMap::new(),
        };
        let voice = match get("VIRAL_VOICE").as_deref() {
            None | Some("") => VoiceChoice::Auto,
            Some("piper") => VoiceChoice::Piper,
            Some("espeak") => VoiceChoice::Espeak,
            Some("elevenlabs") => VoiceChoice::ElevenLabs,
            Some("polly") => VoiceChoice::Polly,
            Some("none") => VoiceChoice::None,
            Some(other) => {
                return Err(err(
                    "VIRAL_VOICE",
                    format!("expected piper, espeak, elevenlabs, polly or none, got `{other}`"),
                ));
            }
        };
        let cents = |var: &'static str, default: f64| -> Result<f64, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|c| c.is_finite() && (0.0..=1000.0).contains(c))
                    .ok_or_else(|| err(var, "expected cents, 0 to 1000")),
            }
        };
        let polly = PollyConfig {
            voice_id: get("POLLY_VOICE_ID").unwrap_or_else(|| "Joanna".into()),
            engine: get("POLLY_ENGINE").unwrap_or_else(|| "neural".into()),
            cents_per_1k_chars: cents("POLLY_CENTS_PER_1K_CHARS", 3.2)?,
        };
        if !viral_providers::voice::polly::ENGINES.contains(&polly.engine.as_str()) {
            return Err(err(
                "POLLY_ENGINE",
                "expected neural, long-form or standard (the engines with word speech marks)",
            ));
        }
        let elevenlabs = ElevenLabsConfig {
            base_url: url(
                "ELEVENLABS_BASE_URL",
                viral_providers::voice::elevenlabs::DEFAULT_BASE_URL,
            )?,
            voice_id: get("ELEVENLABS_VOICE_ID"),
            model: get("ELEVENLABS_MODEL")
                .unwrap_or_else(|| viral_providers::voice::elevenlabs::DEFAULT_MODEL.into()),
            cents_per_1k_chars: cents("ELEVENLABS_CENTS_PER_1K_CHARS", 30.0)?,
        };
        if voice == VoiceChoice::ElevenLabs && elevenlabs.voice_id.is_none() {
            return Err(err(
                "ELEVENLABS_VOICE_ID",
                "required with VIRAL_VOICE=elevenlabs",
            ));
        }
        let provider_captions = match get("VIRAL_PROVIDER_CAPTIONS") {
            None => viral_steps::ProviderCaptions::default(),
            Some(v) => viral_steps::ProviderCaptions::parse(v.trim())
                .ok_or_else(|| err("VIRAL_PROVIDER_CAPTIONS", "expected burn or files"))?,
        };
        let piper_dir = get("VIRAL_PIPER_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".cache/viral/piper")));
        Ok(Self {
            provider_captions,
            voice,
            piper_dir,
            elevenlabs,
            polly,
            concurrency,
            enabled,
            runway_base_url: url("RUNWAY_BASE_URL", viral_providers::runway::DEFAULT_BASE_URL)?,
            runway_model,
            runway_output_hosts,
            openai_base_url: url("OPENAI_BASE_URL", viral_providers::sora::DEFAULT_BASE_URL)?,
            sora_enabled,
            vertex_project,
            vertex_location,
            vertex_base_url,
            vertex_model,
            vertex_key_file: get("GOOGLE_APPLICATION_CREDENTIALS").map(PathBuf::from),
            vertex_audio_cents_per_second,
            allow_loopback,
        })
    }

    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.iter().any(|p| p == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)], backend: Backend) -> Result<ProviderConfig, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProviderConfig::from_lookup(&|k| m.get(k).cloned(), backend)
    }

    #[test]
    fn defaults_follow_what_is_configured() {
        assert_eq!(cfg(&[], Backend::Local).unwrap().enabled, ["storyboard"]);
        let c = cfg(
            &[("RUNWAY_API_KEY", "key_x"), ("VERTEX_PROJECT", "viral-dev")],
            Backend::Local,
        )
        .unwrap();
        assert_eq!(c.enabled, ["storyboard", "runway", "veo"]);
        assert_eq!(c.runway_base_url, "https://api.dev.runwayml.com");
        assert_eq!(c.vertex_location, "us-central1");
    }

    #[test]
    fn provider_clips_get_captions_burned_in_unless_told_files() {
        use viral_steps::ProviderCaptions;
        let of = |pairs: &[(&str, &str)]| cfg(pairs, Backend::Local).map(|c| c.provider_captions);
        assert_eq!(of(&[]).unwrap(), ProviderCaptions::Burn);
        assert_eq!(
            of(&[("VIRAL_PROVIDER_CAPTIONS", "files")]).unwrap(),
            ProviderCaptions::Files
        );
        assert_eq!(
            of(&[("VIRAL_PROVIDER_CAPTIONS", "maybe")]).unwrap_err().var,
            "VIRAL_PROVIDER_CAPTIONS"
        );
    }

    #[test]
    fn the_voice_is_chosen_and_a_paid_one_is_priced_into_the_storyboard() {
        assert_eq!(cfg(&[], Backend::Local).unwrap().voice, VoiceChoice::Auto);
        let var = |pairs: &[(&str, &str)]| cfg(pairs, Backend::Local).unwrap_err().var;
        assert_eq!(var(&[("VIRAL_VOICE", "siri")]), "VIRAL_VOICE");
        assert_eq!(var(&[("VIRAL_VOICE", "elevenlabs")]), "ELEVENLABS_VOICE_ID");
        assert_eq!(
            var(&[("ELEVENLABS_CENTS_PER_1K_CHARS", "-1")]),
            "ELEVENLABS_CENTS_PER_1K_CHARS"
        );
        assert_eq!(
            var(&[("ELEVENLABS_BASE_URL", "http://evil.example")]),
            "ELEVENLABS_BASE_URL"
        );
        let c = cfg(
            &[
                ("VIRAL_VOICE", "elevenlabs"),
                ("ELEVENLABS_VOICE_ID", "21m00Tcm4TlvDq8ikWAM"),
                ("ELEVENLABS_CENTS_PER_1K_CHARS", "30"),
            ],
            Backend::Local,
        )
        .unwrap();
        let storyboard = crate::providers::profiles(&c)
            .into_iter()
            .find(|p| p.name == "storyboard")
            .unwrap();
        // 18 characters a second at most, 30 cents per 1,000: 0.54 cents a second.
        assert!((storyboard.cents_per_second - 0.54).abs() < 1e-9);
        assert_eq!(
            var(&[("VIRAL_VOICE", "polly"), ("POLLY_ENGINE", "generative")]),
            "POLLY_ENGINE"
        );
        let polly = cfg(&[("VIRAL_VOICE", "polly")], Backend::Local).unwrap();
        assert_eq!(polly.polly.voice_id, "Joanna");
        let storyboard = &crate::providers::profiles(&polly)[0];
        assert!((storyboard.cents_per_second - 3.2 * 18.0 / 1000.0).abs() < 1e-9);
        let free =
            crate::providers::profiles(&cfg(&[("VIRAL_VOICE", "none")], Backend::Local).unwrap());
        assert_eq!(free[0].cents_per_second, 0.0);
    }

    #[test]
    fn veo_with_its_own_sound_is_priced_as_the_deployment_says() {
        let veo = |pairs: &[(&str, &str)]| {
            let mut all = vec![("VIRAL_PROVIDERS", "veo"), ("VERTEX_PROJECT", "p")];
            all.extend_from_slice(pairs);
            let c = cfg(&all, Backend::Local).unwrap();
            crate::providers::profiles(&c)
                .into_iter()
                .find(|p| p.name == "veo")
                .unwrap()
                .cents_per_second
        };
        assert_eq!(
            veo(&[]),
            viral_providers::veo::VEO_3_1_FAST.cents_per_second
        );
        assert_eq!(veo(&[("VERTEX_VEO_AUDIO_CENTS_PER_SECOND", "20")]), 20.0);
        let bad = [
            ("VIRAL_PROVIDERS", "veo"),
            ("VERTEX_PROJECT", "p"),
            ("VERTEX_VEO_AUDIO_CENTS_PER_SECOND", "free"),
        ];
        assert_eq!(
            cfg(&bad, Backend::Local).unwrap_err().var,
            "VERTEX_VEO_AUDIO_CENTS_PER_SECOND"
        );
    }

    #[test]
    fn bad_settings_name_their_variable() {
        let var = |pairs: &[(&str, &str)], b| cfg(pairs, b).unwrap_err().var;
        assert_eq!(
            var(&[("VIRAL_PROVIDERS", "pika")], Backend::Local),
            "VIRAL_PROVIDERS"
        );
        assert_eq!(
            var(&[("VIRAL_PROVIDERS", "sora")], Backend::Local),
            "VIRAL_ENABLE_SORA"
        );
        assert_eq!(
            var(&[("VIRAL_PROVIDERS", "veo")], Backend::Local),
            "VERTEX_PROJECT"
        );
        assert_eq!(
            var(&[("RUNWAY_MODEL", "gen9")], Backend::Local),
            "RUNWAY_MODEL"
        );
        assert_eq!(
            var(&[("RUNWAY_BASE_URL", "http://127.0.0.1:9")], Backend::Local),
            "RUNWAY_BASE_URL",
            "plain HTTP needs the loopback switch"
        );
        assert_eq!(
            var(&[("VIRAL_ALLOW_LOOPBACK_PROVIDERS", "1")], Backend::Aws),
            "VIRAL_ALLOW_LOOPBACK_PROVIDERS"
        );
        let c = cfg(
            &[
                ("VIRAL_ALLOW_LOOPBACK_PROVIDERS", "1"),
                ("RUNWAY_BASE_URL", "http://127.0.0.1:9/"),
            ],
            Backend::Local,
        )
        .unwrap();
        assert_eq!(c.runway_base_url, "http://127.0.0.1:9");
        for bad in ["runway", "pika=2", "runway=0", "runway=x", "runway=500"] {
            assert_eq!(
                var(&[("VIRAL_PROVIDER_CONCURRENCY", bad)], Backend::Local),
                "VIRAL_PROVIDER_CONCURRENCY",
                "{bad}"
            );
        }
        let c = cfg(
            &[("VIRAL_PROVIDER_CONCURRENCY", "runway=2, storyboard=1")],
            Backend::Local,
        )
        .unwrap();
        assert_eq!(c.concurrency["runway"], 2);
        assert_eq!(c.concurrency["storyboard"], 1);
    }
}
