//! Where each platform's API lives. Every base URL can be changed, so tests point the
//! clients at local servers that speak the platforms' documented shapes.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocialConfig {
    /// `TIKTOK_BASE_URL` (`https://open.tiktokapis.com`).
    pub tiktok_base_url: String,
    /// `TIKTOK_AUTHORIZE_URL` (`https://www.tiktok.com/v2/auth/authorize/`).
    pub tiktok_authorize_url: String,
    /// `GOOGLE_OAUTH_BASE_URL` (`https://oauth2.googleapis.com`): token and revoke.
    pub google_oauth_base_url: String,
    /// `GOOGLE_AUTHORIZE_URL` (`https://accounts.google.com/o/oauth2/v2/auth`).
    pub google_authorize_url: String,
    /// `YOUTUBE_API_BASE_URL` (`https://www.googleapis.com`): `/youtube/v3/…`.
    pub youtube_api_base_url: String,
    /// `YOUTUBE_UPLOAD_BASE_URL` (`https://www.googleapis.com`): `/upload/youtube/v3/videos`.
    pub youtube_upload_base_url: String,
    /// `YOUTUBE_ANALYTICS_BASE_URL` (`https://youtubeanalytics.googleapis.com`): `/v2/reports`.
    pub youtube_analytics_base_url: String,
    /// `INSTAGRAM_AUTHORIZE_URL` (`https://www.instagram.com/oauth/authorize`).
    pub instagram_authorize_url: String,
    /// `INSTAGRAM_API_BASE_URL` (`https://api.instagram.com`): the code exchange.
    pub instagram_api_base_url: String,
    /// `INSTAGRAM_GRAPH_BASE_URL` (`https://graph.instagram.com`).
    pub instagram_graph_base_url: String,
    /// `INSTAGRAM_GRAPH_VERSION` (`v23.0`): pinned, as Meta asks.
    pub instagram_graph_version: String,
}

impl Default for SocialConfig {
    fn default() -> Self {
        Self {
            tiktok_base_url: "https://open.tiktokapis.com".into(),
            tiktok_authorize_url: "https://www.tiktok.com/v2/auth/authorize/".into(),
            google_oauth_base_url: "https://oauth2.googleapis.com".into(),
            google_authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            youtube_api_base_url: "https://www.googleapis.com".into(),
            youtube_upload_base_url: "https://www.googleapis.com".into(),
            youtube_analytics_base_url: "https://youtubeanalytics.googleapis.com".into(),
            instagram_authorize_url: "https://www.instagram.com/oauth/authorize".into(),
            instagram_api_base_url: "https://api.instagram.com".into(),
            instagram_graph_base_url: "https://graph.instagram.com".into(),
            instagram_graph_version: "v23.0".into(),
        }
    }
}

impl SocialConfig {
    /// The variables and their defaults, read through `get`; each must be an http(s) URL
    /// (https unless `allow_loopback` and the host is this machine).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        allow_loopback: bool,
    ) -> Result<Self, (&'static str, String)> {
        let d = Self::default();
        let url = |var: &'static str, default: String| -> Result<String, (&'static str, String)> {
            let Some(v) = get(var).filter(|v| !v.trim().is_empty()) else {
                return Ok(default);
            };
            let u =
                reqwest::Url::parse(v.trim()).map_err(|_| (var, format!("{v:?} is not a URL")))?;
            let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            match u.scheme() {
                "https" => Ok(v.trim().to_owned()),
                "http" if allow_loopback && loopback => Ok(v.trim().to_owned()),
                _ => Err((var, "must be an https URL".into())),
            }
        };
        Ok(Self {
            tiktok_base_url: url("TIKTOK_BASE_URL", d.tiktok_base_url)?,
            tiktok_authorize_url: url("TIKTOK_AUTHORIZE_URL", d.tiktok_authorize_url)?,
            google_oauth_base_url: url("GOOGLE_OAUTH_BASE_URL", d.google_oauth_base_url)?,
            google_authorize_url: url("GOOGLE_AUTHORIZE_URL", d.google_authorize_url)?,
            youtube_api_base_url: url("YOUTUBE_API_BASE_URL", d.youtube_api_base_url)?,
            youtube_upload_base_url: url("YOUTUBE_UPLOAD_BASE_URL", d.youtube_upload_base_url)?,
            youtube_analytics_base_url: url(
                "YOUTUBE_ANALYTICS_BASE_URL",
                d.youtube_analytics_base_url,
            )?,
            instagram_authorize_url: url("INSTAGRAM_AUTHORIZE_URL", d.instagram_authorize_url)?,
            instagram_api_base_url: url("INSTAGRAM_API_BASE_URL", d.instagram_api_base_url)?,
            instagram_graph_base_url: url("INSTAGRAM_GRAPH_BASE_URL", d.instagram_graph_base_url)?,
            instagram_graph_version: get("INSTAGRAM_GRAPH_VERSION")
                .filter(|v| !v.trim().is_empty())
                .map(|v| v.trim().to_owned())
                .unwrap_or(d.instagram_graph_version),
        })
    }
}
