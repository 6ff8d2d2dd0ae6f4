//! Live trend sources behind the TrendSource port: YouTube's most-popular chart and GNews
//! headlines. What they share: cleaning of hostile text and URLs from their answers.

pub mod gnews;
pub mod youtube;

pub use gnews::GNewsTrends;
pub use youtube::YouTubeTrends;

use viral_core::ports::SourceError;

/// `base` with the query parameters encoded. The key travels in the query (both APIs want it
/// there), so the URL is never logged or put in an error.
pub(crate) fn endpoint(base: &str, query: &[(&str, &str)]) -> Result<url::Url, SourceError> {
    url::Url::parse_with_params(base, query)
        .map_err(|e| SourceError::Permanent(format!("bad trend source base URL: {e}")))
}

/// Outside text as one line (see `one_line`).
pub(crate) use viral_core::domain::concept::one_line as clean;

/// A link we are willing to show: absolute http(s), no credentials, bounded.
pub(crate) fn web_url(s: &str) -> Option<String> {
    let u = url::Url::parse(s.trim()).ok()?;
    let ok = matches!(u.scheme(), "https" | "http")
        && u.host_str().is_some()
        && u.username().is_empty()
        && u.password().is_none()
        && u.as_str().len() <= 2048;
    ok.then(|| u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_and_links_are_cleaned() {
        assert_eq!(clean("a\u{0}b\n\n c\t", 10), "a b c");
        assert_eq!(clean("abcdef", 3), "abc");
        assert_eq!(
            web_url("https://news.example/a?b=1").as_deref(),
            Some("https://news.example/a?b=1")
        );
        assert_eq!(web_url("javascript:alert(1)"), None);
        assert_eq!(web_url("https://user:pw@x.example/"), None);
        assert_eq!(web_url("/relative"), None);
    }
}
