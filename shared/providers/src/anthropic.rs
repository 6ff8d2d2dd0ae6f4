//! The concept writer on Anthropic's Messages API: one call per batch with the
//! `emit_concepts` tool forced, so the answer is structured. A `refusal` stop ends the batch
//! with a clear error; a `max_tokens` stop is retried once with twice the budget; an answer
//! that does not hold up (wrong shape, missing tool call, unparsable body) is sent back once
//! with what is wrong so the model can repair it, then fails clearly. 429 and 529
//! (overloaded) are retried with backoff honouring `retry-after`.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use viral_core::domain::concept::{Brief, Concept, Trend};
use viral_core::domain::concept_llm::{self, TOOL_NAME};
use viral_core::domain::learner::Posterior;
use viral_core::ports::{ConceptWriter, ProviderError, SecretString, SourceError};

use crate::credential::Credential;
use crate::http::{Http, HttpFailure, RetryPolicy};

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// Fast enough to answer inside API Gateway's 29 s limit for five concepts.
pub const DEFAULT_MODEL: &str = "claude-haiku-4-5";
pub const API_VERSION: &str = "2023-06-01";
const NAME: &str = "Anthropic";
const MAX_BODY: usize = 1024 * 1024;
/// Output budget per concept, and the ceiling after a `max_tokens` retry.
const TOKENS_PER_CONCEPT: u32 = 700;
const MAX_TOKENS_CEILING: u32 = 16_000;

/// What a batch's prompt (system, user and tool) can take, in tokens, at most: about 8 KB of
/// trends, brief and beliefs, with room to spare.
const PROMPT_TOKENS_BOUND: u64 = 8_000;

/// Anthropic's list price of a model, US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenPrice {
    pub input: f64,
    pub output: f64,
}

/// [`DEFAULT_MODEL`]'s list price (claude-haiku-4-5: $1 in, $5 out).
pub const DEFAULT_PRICE: TokenPrice = TokenPrice {
    input: 1.0,
    output: 5.0,
};

pub struct AnthropicWriter {
    http: Http,
    base_url: String,
    key: Credential,
    model: String,
    price: TokenPrice,
    /// Requests per call at most (timeouts and overloads are retried, and each may be billed).
    requests_per_call: u32,
}

/// The most one request of each of a batch's two attempts can cost at `price`, in cents
/// (rounded up): the second attempt sends the first answer back for repair or asks for twice
/// the output budget. A call may send its request more than once (see
/// [`AnthropicWriter::max_cost_cents`]).
pub fn max_batch_cents(price: TokenPrice, count: usize) -> u32 {
    let first = u64::from(output_budget(count));
    let second = (first * 2).min(u64::from(MAX_TOKENS_CEILING));
    let input = PROMPT_TOKENS_BOUND * 2 + first;
    let output = first + second;
    let dollars = (input as f64 * price.input + output as f64 * price.output) / 1e6;
    (dollars * 100.0).ceil() as u32
}

fn output_budget(count: usize) -> u32 {
    (TOKENS_PER_CONCEPT * count as u32 + 500).min(MAX_TOKENS_CEILING)
}

impl AnthropicWriter {
    pub fn new(
        base_url: &str,
        key: Credential,
        model: &str,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderError> {
        let requests_per_call = retry.attempts.max(1);
        Ok(Self {
            http: Http::new(timeout, retry)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            model: model.to_owned(),
            price: DEFAULT_PRICE,
            requests_per_call,
        })
    }

    /// The model's price (the default is [`DEFAULT_MODEL`]'s).
    pub fn with_price(mut self, price: TokenPrice) -> Self {
        self.price = price;
        self
    }
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Vec<Value>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

fn classify(f: HttpFailure, model: &str) -> SourceError {
    let detail = serde_json::from_str::<ErrorBody>(&f.body)
        .ok()
        .map(|b| b.error);
    match (f.status.map(|s| s.as_u16()), detail) {
        (Some(404), Some(d)) if d.kind == "not_found_error" => SourceError::Permanent(format!(
            "Anthropic does not know model {model:?} (check ANTHROPIC_MODEL): {}",
            d.message
        )),
        (Some(400), Some(d)) => SourceError::Permanent(format!(
            "Anthropic refused the request ({}): {}",
            d.kind, d.message
        )),
        (Some(529), _) => SourceError::Transient("Anthropic is overloaded (529)".into()),
        _ => f.into_source_error(NAME),
    }
}

/// What one answer turned out to be.
enum Outcome {
    Concepts(Vec<Concept>),
    /// Worth one more try: the problem, and the messages to send next.
    Repair(String, Vec<Value>),
    /// Cut off by `max_tokens`.
    CutShort,
}

impl AnthropicWriter {
    async fn call(
        &self,
        key: &SecretString,
        body: &Value,
    ) -> Result<Result<Message, String>, SourceError> {
        let url = format!("{}/v1/messages", self.base_url);
        let raw = self
            .http
            .send(MAX_BODY, |c| {
                c.post(&url)
                    .header("x-api-key", key.expose())
                    .header("anthropic-version", API_VERSION)
                    .json(body)
            })
            .await
            .map_err(|f| classify(f, &self.model))?;
        Ok(serde_json::from_slice::<Message>(&raw)
            .map_err(|e| format!("the response was not a Messages API message ({e})")))
    }
}

#[async_trait]
impl ConceptWriter for AnthropicWriter {
    fn name(&self) -> &str {
        &self.model
    }

    /// Every request a batch may send is counted as billed: a timed-out or overloaded
    /// request may have been, and is retried.
    fn max_cost_cents(&self, count: usize) -> u32 {
        max_batch_cents(self.price, count).saturating_mul(self.requests_per_call)
    }

    async fn write(
        &self,
        trends: &[Trend],
        brief: &Brief,
        learner: &Posterior,
        seed: u64,
    ) -> Result<Vec<Concept>, SourceError> {
        if trends.is_empty() {
            return Err(SourceError::Unusable("no trends to write from".into()));
        }
        let key = self.key.get_for_source().await?;
        let mut messages = vec![json!({
            "role": "user",
            "content": concept_llm::user_prompt(trends, brief, learner),
        })];
        let mut max_tokens = output_budget(brief.count);
        let mut last_problem = String::new();
        for attempt in 0..2 {
            let body = json!({
                "model": self.model,
                "max_tokens": max_tokens,
                "system": concept_llm::system_prompt(brief),
                "messages": messages,
                "tools": [concept_llm::tool(brief.count)],
                "tool_choice": {"type": "tool", "name": TOOL_NAME},
            });
            let outcome = match self.call(&key, &body).await? {
                Err(problem) => Outcome::Repair(problem, messages.clone()),
                Ok(msg) => {
                    tracing::info!(model = %self.model, usage = ?msg.usage, stop = ?msg.stop_reason, "concept writer answered");
                    self.read(msg, &messages, trends, brief, learner, seed)?
                }
            };
            match outcome {
                Outcome::Concepts(c) => return Ok(c),
                Outcome::CutShort => {
                    last_problem = format!("the answer was cut short at max_tokens ({max_tokens})");
                    max_tokens = (max_tokens * 2).min(MAX_TOKENS_CEILING);
                }
                Outcome::Repair(problem, next) => {
                    tracing::warn!(attempt, %problem, "concept writer's answer needs a repair");
                    last_problem = problem;
                    messages = next;
                }
            }
        }
        Err(SourceError::Unusable(format!(
            "the concept writer's answer was unusable after one retry: {last_problem}"
        )))
    }
}

impl AnthropicWriter {
    fn read(
        &self,
        msg: Message,
        messages: &[Value],
        trends: &[Trend],
        brief: &Brief,
        learner: &Posterior,
        seed: u64,
    ) -> Result<Outcome, SourceError> {
        match msg.stop_reason.as_deref() {
            Some("refusal") => {
                return Err(SourceError::Unusable(
                    "the model declined to write concepts for these trends; try other topics or categories".into(),
                ));
            }
            Some("max_tokens") => return Ok(Outcome::CutShort),
            _ => {}
        }
        let mut new_id = || viral_core::ids::new_id("cn");
        let tool_use = msg
            .content
            .iter()
            .find(|b| b["type"] == "tool_use" && b["name"] == TOOL_NAME);
        let mut next = messages.to_vec();
        next.push(json!({"role": "assistant", "content": msg.content}));
        match tool_use {
            Some(block) => {
                match concept_llm::concepts_from(
                    &block["input"],
                    trends,
                    brief,
                    learner,
                    seed,
                    &mut new_id,
                ) {
                    Ok(c) => Ok(Outcome::Concepts(c)),
                    Err(problem) => {
                        next.push(json!({"role": "user", "content": [{
                            "type": "tool_result",
                            "tool_use_id": block["id"],
                            "is_error": true,
                            "content": format!("{problem}. Call {TOOL_NAME} again with the whole, corrected set."),
                        }]}));
                        Ok(Outcome::Repair(problem, next))
                    }
                }
            }
            None => {
                // A proxy that ignored tool_choice may have written the JSON as text.
                let text: String = msg
                    .content
                    .iter()
                    .filter(|b| b["type"] == "text")
                    .filter_map(|b| b["text"].as_str())
                    .collect();
                let problem = match concept_llm::json_in_text(&text) {
                    Some(v) => match concept_llm::concepts_from(
                        &v,
                        trends,
                        brief,
                        learner,
                        seed,
                        &mut new_id,
                    ) {
                        Ok(c) => return Ok(Outcome::Concepts(c)),
                        Err(p) => p,
                    },
                    None => format!("the answer did not call {TOOL_NAME}"),
                };
                next.push(json!({"role": "user", "content": format!("{problem}. Answer only by calling {TOOL_NAME}.")}));
                Ok(Outcome::Repair(problem, next))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_costs_at_most_two_attempts_at_the_models_price() {
        // Five concepts: 4,000 output tokens, then 8,000 on a retry; 20,000 input tokens at
        // most. At Haiku 4.5's $1/$5: 2 ¢ + 6 ¢.
        assert_eq!(max_batch_cents(DEFAULT_PRICE, 5), 8);
        let sonnet = TokenPrice {
            input: 3.0,
            output: 15.0,
        };
        assert_eq!(max_batch_cents(sonnet, 5), 24);
        assert_eq!(
            max_batch_cents(
                TokenPrice {
                    input: 0.0,
                    output: 0.0
                },
                5
            ),
            0
        );
    }
}
