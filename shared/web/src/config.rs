//! `config.json`: what the dashboard learns about its deployment when it starts.

use serde::Serialize;

/// Sign-in through an OIDC provider (Cognito's hosted UI, Clerk): Authorization Code + PKCE,
/// tokens kept in memory.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Oidc {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub client_id: String,
    /// Space-separated, e.g. `openid email`.
    pub scope: String,
    /// Which token of the token response the API accepts: `id_token` or `access_token`.
    pub token: String,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ClientConfig {
    /// Base URL of the API, without a trailing slash; empty for the page's own origin.
    pub api_base: String,
    /// Whether sign-in links (`viral up`, `viral dashboard`) are offered.
    pub sign_in_links: bool,
    pub oidc: Option<Oidc>,
}

impl ClientConfig {
    /// `viral up`: the API on the same origin, sign-in links, no OIDC.
    pub fn local() -> Self {
        Self {
            api_base: String::new(),
            sign_in_links: true,
            oidc: None,
        }
    }

    /// Origins the page must reach besides its own (the API's, the OIDC token endpoint's).
    pub fn connect_origins(&self) -> Vec<String> {
        let mut out = Vec::new();
        for url in [
            Some(self.api_base.as_str()),
            self.oidc.as_ref().map(|o| o.token_endpoint.as_str()),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(origin) = origin_of(url)
                && !out.contains(&origin)
            {
                out.push(origin);
            }
        }
        out
    }
}

/// `https://host[:port]` of a URL; `None` for an empty or relative one, or one whose host
/// could break out of a CSP source expression.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .filter(|h| !h.is_empty())?;
    // Refuse anything that would break out of a CSP source expression.
    if host
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b == b';' || b == b',' || b == b'\'')
    {
        return None;
    }
    Some(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_for_the_policy() {
        let mut c = ClientConfig::local();
        assert!(c.connect_origins().is_empty());
        c.api_base = "https://abc.execute-api.us-east-1.amazonaws.com".into();
        c.oidc = Some(Oidc {
            authorization_endpoint: "https://auth.example.com/oauth2/authorize".into(),
            token_endpoint: "https://auth.example.com/oauth2/token".into(),
            client_id: "c".into(),
            scope: "openid".into(),
            token: "id_token".into(),
        });
        assert_eq!(
            c.connect_origins(),
            vec![
                "https://abc.execute-api.us-east-1.amazonaws.com".to_owned(),
                "https://auth.example.com".to_owned()
            ]
        );
        assert_eq!(origin_of("https://a.example; script-src *"), None);
        assert_eq!(origin_of("/relative"), None);
    }
}
