//! The Anthropic concept writer against a local server speaking the Messages API: a forced
//! tool call, refusal and max_tokens stops, a malformed answer repaired once (and twice
//! failing clearly), 429/529 retries, auth and request errors, bodies cut short or not JSON.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Reply, Scripted, fast_retry, truncating_server};
use viral_core::domain::concept::{Brief, sample_trends};
use viral_core::domain::learner::{Evidence, Posterior};
use viral_core::ports::{ConceptWriter, SourceError};
use viral_providers::{AnthropicWriter, Credential};

const KEY: &str = "sk-ant-test-5b2e";
const MODEL: &str = "claude-haiku-4-5";

fn writer(base: &str) -> AnthropicWriter {
    AnthropicWriter::new(
        base,
        Credential::fixed(KEY),
        MODEL,
        Duration::from_secs(5),
        fast_retry(),
    )
    .unwrap()
}

fn brief(count: usize) -> Brief {
    Brief {
        count,
        duration_s: 15.0,
        niche: Some("a calm science channel".into()),
    }
}

fn concept(i: usize, format: &str) -> Value {
    json!({
        "title": format!("Concept {i}"),
        "hook": "Did you know octopuses dream?",
        "beats": [{"text": "They change colour in their sleep.", "duration_s": 4},
                  {"text": "Scientists filmed it.", "duration_s": 4},
                  {"text": "Here is what it means.", "duration_s": 5}],
        "visual_prompt": "Macro shot of an octopus shifting colours in a dark tank, slow push-in",
        "caption": "Octopus dreams",
        "hashtags": ["#octopus", "science"],
        "category": "science",
        "format": format,
        "hook_style": "question",
        "trend_indexes": [i % 8],
        "rationale": "Animal science does well"
    })
}

fn tool_answer(input: Value, stop: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": MODEL,
            "content": [{"type": "tool_use", "id": "toolu_01", "name": "emit_concepts", "input": input}],
            "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": 900, "output_tokens": 1200}
        }),
    )
}

fn good(count: usize) -> Reply {
    let formats = ["listicle", "story", "myth-busting", "how-to"];
    tool_answer(
        json!({"concepts": (0..count).map(|i| concept(i, formats[i % 4])).collect::<Vec<_>>()}),
        "tool_use",
    )
}

fn text_answer(text: &str, stop: &str) -> Reply {
    Reply::json(
        200,
        json!({"id": "msg_02", "type": "message", "role": "assistant", "model": MODEL,
               "content": [{"type": "text", "text": text}], "stop_reason": stop,
               "usage": {"input_tokens": 900, "output_tokens": 10}}),
    )
}

fn learner() -> Posterior {
    Posterior::of(&Evidence::default())
}

async fn write(
    w: &AnthropicWriter,
    count: usize,
) -> Result<Vec<viral_core::domain::concept::Concept>, SourceError> {
    w.write(&sample_trends(), &brief(count), &learner(), 7)
        .await
}

#[tokio::test]
async fn a_forced_tool_call_becomes_the_batch() {
    let server = Scripted::start(vec![good(5)]).await;
    let concepts = write(&writer(&server.base), 5).await.unwrap();
    assert_eq!(concepts.len(), 5);
    assert!(
        concepts
            .iter()
            .all(|c| c.id.starts_with("cn_") && c.platforms.len() == 3)
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(r.headers["x-api-key"], KEY);
    assert_eq!(r.headers["anthropic-version"], "2023-06-01");
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body = r.json();
    assert_eq!(body["model"], MODEL);
    assert!(body["max_tokens"].as_u64().unwrap() >= 3000);
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "emit_concepts"})
    );
    assert_eq!(body["tools"][0]["name"], "emit_concepts");
    assert_eq!(
        body["tools"][0]["input_schema"]["properties"]["concepts"]["minItems"],
        5
    );
    assert!(body["system"].as_str().unwrap().contains("never follow"));
    let prompt = body["messages"][0]["content"].as_str().unwrap();
    assert!(prompt.contains("Octopuses dream in colour"), "{prompt}");
    assert!(prompt.contains("a calm science channel"));
}

#[tokio::test]
async fn a_refusal_ends_the_batch_without_a_retry() {
    let server = Scripted::start(vec![text_answer("I can't help with that.", "refusal")]).await;
    let e = write(&writer(&server.base), 5).await.unwrap_err();
    assert!(
        matches!(e, SourceError::Unusable(ref m) if m.contains("declined")),
        "{e:?}"
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn max_tokens_is_retried_once_with_a_bigger_budget() {
    let cut = tool_answer(json!({"concepts": [concept(0, "story")]}), "max_tokens");
    let server = Scripted::start(vec![cut.clone(), good(5)]).await;
    assert_eq!(write(&writer(&server.base), 5).await.unwrap().len(), 5);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let (first, second) = (
        seen[0].json()["max_tokens"].as_u64().unwrap(),
        seen[1].json()["max_tokens"].as_u64().unwrap(),
    );
    assert_eq!(second, first * 2);

    server.script(vec![cut]);
    let e = write(&writer(&server.base), 5).await.unwrap_err();
    assert!(
        matches!(e, SourceError::Unusable(ref m) if m.contains("max_tokens")),
        "{e:?}"
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_malformed_answer_is_repaired_once_then_fails_clearly() {
    let bad = tool_answer(
        json!({"concepts": [concept(0, "vlog"), concept(1, "story")]}),
        "tool_use",
    );
    let server = Scripted::start(vec![bad.clone(), good(2)]).await;
    assert_eq!(write(&writer(&server.base), 2).await.unwrap().len(), 2);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let messages = seen[1].json()["messages"].clone();
    assert_eq!(messages.as_array().unwrap().len(), 3, "{messages}");
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"][0]["type"], "tool_use");
    let result = &messages[2]["content"][0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], "toolu_01");
    assert_eq!(result["is_error"], true);
    assert!(result["content"].as_str().unwrap().contains("vlog"));

    server.script(vec![bad]);
    let e = write(&writer(&server.base), 2).await.unwrap_err();
    assert!(
        matches!(e, SourceError::Unusable(ref m) if m.contains("after one retry") && m.contains("format")),
        "{e:?}"
    );
    assert_eq!(server.hits(), 2);

    // No tool call at all: asked again, then a clear error.
    server.script(vec![text_answer("Here are some ideas: …", "end_turn")]);
    let e = write(&writer(&server.base), 2).await.unwrap_err();
    assert!(
        matches!(e, SourceError::Unusable(ref m) if m.contains("did not call emit_concepts")),
        "{e:?}"
    );
    assert_eq!(server.hits(), 2);
    assert_eq!(server.seen()[1].json()["messages"][2]["role"], "user");
}

#[tokio::test]
async fn concepts_written_as_text_are_read() {
    let good_json = json!({"concepts": [concept(0, "story"), concept(1, "how-to")]});
    let server = Scripted::start(vec![text_answer(
        &format!("```json\n{good_json}\n```"),
        "end_turn",
    )])
    .await;
    assert_eq!(write(&writer(&server.base), 2).await.unwrap().len(), 2);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn overload_and_rate_limits_are_retried_and_errors_are_named() {
    let overloaded = Reply::json(
        529,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    let server = Scripted::start(vec![
        Reply::json(
            429,
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}),
        )
        .with_header("retry-after", "0"),
        overloaded.clone(),
        good(2),
    ])
    .await;
    assert_eq!(write(&writer(&server.base), 2).await.unwrap().len(), 2);
    assert_eq!(server.hits(), 3);

    server.script(vec![overloaded]);
    let e = write(&writer(&server.base), 2).await.unwrap_err();
    assert!(
        matches!(e, SourceError::Transient(ref m) if m.contains("overloaded")),
        "{e:?}"
    );

    let cases = [
        (401, "authentication_error", "invalid x-api-key"),
        (403, "permission_error", "not allowed"),
        (400, "invalid_request_error", "max_tokens: too large"),
        (404, "not_found_error", "model: claude-nope"),
    ];
    for (status, kind, message) in cases {
        server.script(vec![Reply::json(
            status,
            json!({"type": "error", "error": {"type": kind, "message": message}}),
        )]);
        let e = write(&writer(&server.base), 2).await.unwrap_err();
        assert!(!e.to_string().contains(KEY));
        match status {
            401 | 403 => assert!(matches!(e, SourceError::Credentials(_)), "{status}: {e:?}"),
            404 => assert!(
                matches!(e, SourceError::Permanent(ref m) if m.contains("ANTHROPIC_MODEL")),
                "{e:?}"
            ),
            _ => assert!(
                matches!(e, SourceError::Permanent(ref m) if m.contains("invalid_request_error")),
                "{e:?}"
            ),
        }
        assert_eq!(server.hits(), 1, "{status} is not retried");
    }
}

#[tokio::test]
async fn bodies_that_are_not_messages_are_retried_once_then_fail() {
    let server = Scripted::start(vec![
        Reply::raw(200, "text/html", "<html>gateway</html>"),
        good(2),
    ])
    .await;
    assert_eq!(write(&writer(&server.base), 2).await.unwrap().len(), 2);

    let cut = writer(&truncating_server("{\"id\": \"msg_01\", \"content\": [").await);
    let e = write(&cut, 2).await.unwrap_err();
    assert!(matches!(e, SourceError::Transient(_)), "{e:?}");
    assert!(!e.to_string().contains(KEY));

    server.script(vec![Reply::raw(
        200,
        "application/json",
        "{\"content\": 5}",
    )]);
    let e = write(&writer(&server.base), 2).await.unwrap_err();
    assert!(
        matches!(e, SourceError::Unusable(ref m) if m.contains("not a Messages API message")),
        "{e:?}"
    );
    assert_eq!(server.hits(), 2);
}
