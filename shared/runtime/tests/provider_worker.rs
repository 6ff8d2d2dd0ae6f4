//! The provider worker Lambda's handler on the real SQS event in `events/`, with the embedded
//! adapters: a good message's clip is submitted, fetched and answered through its task token, a
//! malformed one is dropped, a message whose answer cannot be delivered is reported for
//! redelivery.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::Value;
use viral_core::domain::{JobSpec, JobStatus, Plan};
use viral_core::ports::{BlobKey, BlobStore, Queue, TaskCallbacks, WorkflowError};
use viral_core::service::{tenants, videos};
use viral_core::{Clock, SystemClock};
use viral_embedded::sqlite_queue::LocalQueue;
use viral_embedded::{FsBlobStore, SqliteItemStore, UrlSigner};
use viral_providers::{Registry, StoryboardProvider};
use viral_steps::Deps;

#[derive(Default)]
struct Callbacks {
    down: bool,
    /// Tokens whose task already ended.
    closed: Vec<&'static str>,
    answers: Mutex<Vec<(String, Result<Value, String>)>>,
}

#[async_trait]
impl TaskCallbacks for Callbacks {
    async fn task_heartbeat(&self, token: &str) -> Result<bool, WorkflowError> {
        if self.down {
            return Err(WorkflowError::Unavailable(
                "Step Functions unreachable".into(),
            ));
        }
        Ok(!self.closed.contains(&token))
    }
    async fn task_succeeded(&self, token: &str, output: Value) -> Result<bool, WorkflowError> {
        if self.down {
            return Err(WorkflowError::Unavailable(
                "Step Functions unreachable".into(),
            ));
        }
        self.answers
            .lock()
            .unwrap()
            .push((token.to_owned(), Ok(output)));
        Ok(true)
    }
    async fn task_failed(&self, token: &str, error: &str, _: &str) -> Result<bool, WorkflowError> {
        if self.down {
            return Err(WorkflowError::Unavailable(
                "Step Functions unreachable".into(),
            ));
        }
        self.answers
            .lock()
            .unwrap()
            .push((token.to_owned(), Err(error.to_owned())));
        Ok(true)
    }
}

/// The render-poll queue, on the process's database.
fn polls(dir: &tempfile::TempDir) -> LocalQueue {
    let db = viral_embedded::Db::open(&dir.path().join("queues.db")).unwrap();
    LocalQueue::new(db, "render-polls", None, Arc::new(SystemClock))
}

async fn setup() -> (Deps, SqsEvent, String, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(
        &dir.path().join("blobs"),
        UrlSigner::new(b"k", "http://127.0.0.1:3000", clock.clone()),
    ));
    let deps = Deps {
        social: Default::default(),
        provider_captions: Default::default(),
        narrator: None,
        store: Arc::new(SqliteItemStore::open(&dir.path().join("viral.db")).unwrap()),
        providers: Registry::new(vec![Arc::new(StoryboardProvider::new(blobs.clone()))]),
        blobs,
        clock,
    };
    let t = tenants::create_tenant(&*deps.store, &*deps.clock, "Acme", Plan::Pro)
        .await
        .unwrap();
    let spec = JobSpec {
        prompt: "Worker test. Second card.".into(),
        concept_id: None,
        provider: "storyboard".into(),
        platforms: vec!["tiktok".into()],
        duration_s: 6.0,
        narration: None,
    };
    let job = videos::accept(
        &*deps.store,
        &*deps.clock,
        &t.tenant,
        spec,
        None,
        &deps.providers.profiles(),
    )
    .await
    .unwrap()
    .job;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/provider-worker.sqs.json"
    ))
    .unwrap()
    .replace("tn_REPLACED_BY_TEST", &t.tenant.id)
    .replace("job_REPLACED_BY_TEST", &job.id);
    let event: SqsEvent = serde_json::from_str(&text).expect("the fixture is an SQS event");
    (deps, event, t.tenant.id, job.id, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_good_messages_and_drops_malformed_ones() {
    let (deps, event, tenant, job_id, dir) = setup().await;
    let callbacks = Callbacks::default();
    let polls = polls(&dir);
    let resp = viral_runtime::lambda::handle_batch(&deps, &callbacks, &polls, event).await;
    assert!(resp.batch_item_failures.is_empty());
    let answers = callbacks.answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, "AQCEAAAAKgAAAAMAAAAAAAAAAQ");
    // The storyboard renders at submit: the clip is fetched into the job's staging at once,
    // with nothing to poll.
    let out = answers[0].1.as_ref().unwrap();
    let clip_key = out["clip_key"].as_str().unwrap();
    assert!(
        clip_key.contains(&tenant) && clip_key.contains(&job_id),
        "{out}"
    );
    let clip = BlobKey::parse(clip_key).unwrap();
    assert!(deps.blobs.get(&clip).await.unwrap().is_some());
    assert_eq!(polls.depth().await.unwrap(), 0);
    let job = videos::get(&*deps.store, &tenant, &job_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Rendering);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_for_a_closed_token_submits_nothing() {
    let (deps, event, tenant, job_id, dir) = setup().await;
    let callbacks = Callbacks {
        closed: vec!["AQCEAAAAKgAAAAMAAAAAAAAAAQ"],
        ..Default::default()
    };
    let polls = polls(&dir);
    let resp = viral_runtime::lambda::handle_batch(&deps, &callbacks, &polls, event).await;
    assert!(resp.batch_item_failures.is_empty(), "dropped, not retried");
    assert!(callbacks.answers.lock().unwrap().is_empty());
    let job = videos::get(&*deps.store, &tenant, &job_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Queued, "no render was submitted");
    assert!(
        !dir.path().join("blobs/renders").exists(),
        "the provider rendered nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeliverable_answers_are_reported_for_redelivery() {
    let (deps, event, _, _, dir) = setup().await;
    let callbacks = Callbacks {
        down: true,
        ..Default::default()
    };
    let polls = polls(&dir);
    let resp = viral_runtime::lambda::handle_batch(&deps, &callbacks, &polls, event).await;
    let ids: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(ids, ["059f36b4-87a3-44ab-83d2-661975830a7d"]);
}

#[test]
fn every_step_has_its_own_lambda_crate_and_substitution() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let video =
        std::fs::read_to_string(root.join("statemachines/video-generation.asl.json")).unwrap();
    let publish = std::fs::read_to_string(root.join("statemachines/publish.asl.json")).unwrap();
    for step in viral_steps::Step::ALL {
        let definition = if step.publishes() { &publish } else { &video };
        let main = root
            .join("functions")
            .join(step.function_name())
            .join("src/main.rs");
        let text = std::fs::read_to_string(&main)
            .unwrap_or_else(|_| panic!("{} is missing", main.display()));
        assert!(
            text.contains(&format!("const {{ viral_steps::Step::{step:?}.entry() }}")),
            "{} does not run Step::{step:?} from its constant entry point",
            main.display()
        );
        assert!(
            definition.contains(&format!("${{{}}}", step.substitution())),
            "{step:?} is not in the definition"
        );
    }
    assert!(root.join("functions/provider-worker/src/main.rs").exists());
}
