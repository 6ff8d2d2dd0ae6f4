//! Secrets from the process environment, then from a `.env` file (`KEY=VALUE` lines).

use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;
use viral_core::ports::secrets::validate_name;
use viral_core::ports::{SecretString, Secrets, SecretsError};

#[derive(Clone, Debug, Default)]
pub struct EnvSecrets {
    dotenv: HashMap<String, String>,
    use_process_env: bool,
}

impl EnvSecrets {
    /// Reads the process environment, then `dotenv` if it exists.
    pub fn load(dotenv: Option<&Path>) -> Result<Self, SecretsError> {
        let dotenv = match dotenv {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    SecretsError::Backend(format!("cannot read {}: {e}", p.display()))
                })?;
                parse_dotenv(&text)
            }
            _ => HashMap::new(),
        };
        Ok(Self {
            dotenv,
            use_process_env: true,
        })
    }

    /// Only the given values (tests).
    pub fn from_map(values: HashMap<String, String>) -> Self {
        Self {
            dotenv: values,
            use_process_env: false,
        }
    }
}

/// `KEY=VALUE` per line; `#` comments, blank lines, an optional `export ` and matching single
/// or double quotes around the value are allowed. Malformed lines are skipped.
pub fn parse_dotenv(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if validate_name(k).is_err() {
            continue;
        }
        let v = v.trim();
        let v = ['"', '\'']
            .iter()
            .find_map(|q| v.strip_prefix(*q).and_then(|x| x.strip_suffix(*q)))
            .unwrap_or(v);
        out.insert(k.to_owned(), v.to_owned());
    }
    out
}

#[async_trait]
impl Secrets for EnvSecrets {
    async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretsError> {
        validate_name(name)?;
        let from_env = self
            .use_process_env
            .then(|| std::env::var(name).ok())
            .flatten()
            .filter(|v| !v.is_empty());
        Ok(from_env
            .or_else(|| self.dotenv.get(name).cloned())
            .map(SecretString::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_parsing() {
        let m = parse_dotenv(
            "# c\nA=1\nexport B = \"two words\"\nC='x=y'\nnot a line\nlower=z\n\nD=\n",
        );
        assert_eq!(m.get("A").map(String::as_str), Some("1"));
        assert_eq!(m.get("B").map(String::as_str), Some("two words"));
        assert_eq!(m.get("C").map(String::as_str), Some("x=y"));
        assert_eq!(m.get("D").map(String::as_str), Some(""));
        assert!(!m.contains_key("lower"));
    }
}
