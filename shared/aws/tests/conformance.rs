//! The AWS adapters against the port conformance suites, on moto in server mode (started by
//! `tests/run`). No hand-written fake of an AWS API is involved.

use std::sync::Arc;

use viral_aws::{
    DynamoItemStore, S3BlobStore, SecretsManagerSecrets, SqsQueue, emulator_sdk_config,
};
use viral_testkit::{moto_endpoint, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_item_store_conforms() {
    let conf = emulator_sdk_config(&moto_endpoint()).await;
    let store = DynamoItemStore::from_conf(&conf, &unique("viral-items-"));
    store.create_table().await.expect("create table on moto");
    viral_testkit::item_store::run_all(Arc::new(store)).await;
}

/// The learner's path on DynamoDB: observations that replace earlier ones, folded into the
/// prior without counting a tenant's own evidence twice. One at a time: moto's transactions
/// are not safe under concurrency (see `viral_testkit::learner::Load`); the 1,000 concurrent
/// observations run on the embedded store (viral-steps' metrics tests).
#[tokio::test]
async fn the_learner_loses_no_observation_on_dynamodb() {
    let conf = emulator_sdk_config(&moto_endpoint()).await;
    let store = DynamoItemStore::from_conf(&conf, &unique("viral-learner-"));
    store.create_table().await.expect("create table on moto");
    viral_testkit::learner::concurrent_observations_lose_none(
        Arc::new(store),
        viral_testkit::learner::Load {
            tenants: 10,
            per_tenant: 5,
            concurrent: false,
        },
    )
    .await;
}

#[tokio::test]
async fn s3_blob_store_conforms() {
    let conf = emulator_sdk_config(&moto_endpoint()).await;
    let store = S3BlobStore::from_conf(&conf, &unique("viral-media-").to_lowercase(), true);
    store.create_bucket().await.expect("create bucket on moto");
    let http = reqwest::Client::new();
    let fetch = |url: String| {
        let http = http.clone();
        async move {
            let resp = http.get(&url).send().await.ok()?;
            if resp.status().is_success() {
                Some(resp.bytes().await.ok()?.to_vec())
            } else {
                None
            }
        }
    };
    viral_testkit::blob_store::run_all(&store, fetch).await;
}

#[tokio::test]
async fn sqs_queue_conforms() {
    let conf = emulator_sdk_config(&moto_endpoint()).await;
    let (q, dlq) = SqsQueue::create_with_redrive(&conf, &unique("viral-jobs-"), 2)
        .await
        .expect("create queues on moto");
    viral_testkit::queue::run_all(&q, &dlq).await;
}

#[tokio::test]
async fn secrets_manager_conforms() {
    let conf = emulator_sdk_config(&moto_endpoint()).await;
    let prefix = format!("{}/", unique("viral-"));
    let secrets = SecretsManagerSecrets::from_conf(&conf, &prefix);
    secrets
        .create("VIRAL_TEST_SECRET", "s3cr3t-value")
        .await
        .expect("create secret on moto");
    viral_testkit::secrets::run_all(&secrets).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_from_the_lambda_environment_conforms() {
    // The client Lambdas build: region, credentials and endpoint without aws-config.
    let env = viral_aws::LambdaEnv {
        region: "us-east-1".into(),
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
        session_token: Some("token".into()),
        endpoint_url: Some(moto_endpoint()),
        trust_system_store: false,
    };
    let store = DynamoItemStore::from_lambda_env(&env, &unique("viral-lambda-"));
    store.create_table().await.expect("create table on moto");
    viral_testkit::item_store::run_all(Arc::new(store)).await;
}

#[tokio::test]
async fn step_functions_workflow_starts_once_and_takes_callbacks() {
    use viral_core::ports::{TaskCallbacks, Workflow};
    let endpoint = moto_endpoint();
    // Real ASL execution on moto, as tests/moto/sfn_video_generation.py does.
    reqwest::Client::new()
        .post(format!("{endpoint}/moto-api/config"))
        .json(&serde_json::json!({"stepfunctions": {"execute_state_machine": true}, "lambda": {"use_docker": false}}))
        .send()
        .await
        .unwrap();
    let conf = emulator_sdk_config(&endpoint).await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queue = sqs
        .create_queue()
        .queue_name(unique("cb-"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let definition = serde_json::json!({"StartAt": "Submit", "States": {"Submit": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token", "job.$": "$.job_id"}},
        "TimeoutSeconds": 60, "HeartbeatSeconds": 30, "End": true}}});
    let sfn = aws_sdk_sfn::Client::new(&conf);
    let machine = sfn
        .create_state_machine()
        .name(unique("video-"))
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/viral-test")
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let wf = viral_aws::SfnWorkflow::from_conf(&conf, &machine);
    let job = unique("job_");
    assert!(wf.start_job("tn_1", &job).await.unwrap());
    // Starting again never starts a second execution.
    wf.start_job("tn_1", &job).await.unwrap();
    let token = loop {
        let msgs = sqs
            .receive_message()
            .queue_url(&queue)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = msgs.messages.unwrap_or_default().into_iter().next() {
            let body: serde_json::Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            assert_eq!(body["job"], job.as_str());
            break body["token"].as_str().unwrap().to_owned();
        }
    };
    assert!(wf.task_heartbeat(&token).await.unwrap(), "the task is open");
    assert!(
        wf.task_succeeded(&token, serde_json::json!({"task_id": "t1", "eta_s": 0}))
            .await
            .unwrap()
    );
    // Once answered, the token is closed: a late worker learns it before doing any work.
    // moto settles the answer on its execution thread, so the close may take a moment.
    let mut closed = false;
    for _ in 0..50 {
        if !wf.task_heartbeat(&token).await.unwrap() {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(closed, "an answered token stays closed to heartbeats");
    let mut status = serde_json::Value::Null;
    for _ in 0..50 {
        let h = wf
            .job_history("tn_1", &job)
            .await
            .unwrap()
            .expect("an execution");
        status = h["status"].clone();
        if status == "SUCCEEDED" {
            assert!(
                h["history"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["state"] == "Submit")
            );
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "SUCCEEDED");
    assert_eq!(
        wf.job_history("tn_1", "job_never_started").await.unwrap(),
        None
    );
    // A second start of the ended job is refused by name: not started again.
    assert!(!wf.start_job("tn_1", &job).await.unwrap());
}

#[tokio::test]
async fn job_lifecycle_and_reconciler_on_dynamodb() {
    use std::time::Duration;
    use viral_core::domain::{JobSpec, Plan};
    use viral_core::service::{tenants, usage, videos};
    use viral_core::{ManualClock, Timestamp};
    let conf = emulator_sdk_config(&moto_endpoint()).await;
    let store = DynamoItemStore::from_conf(&conf, &unique("viral-jobs-"));
    store.create_table().await.unwrap();
    let clock = ManualClock::new(Timestamp(1_795_569_153_000));
    let t = tenants::create_tenant(&store, &clock, "Acme", Plan::Starter)
        .await
        .unwrap()
        .tenant;
    let spec = JobSpec {
        prompt: "p".into(),
        concept_id: None,
        provider: "auto".into(),
        platforms: vec!["tiktok".into()],
        duration_s: 15.0,
        narration: None,
    };
    let storyboard = [viral_core::domain::routing::ProviderInfo::storyboard().profile];
    let stuck = videos::accept(&store, &clock, &t, spec.clone(), Some("a"), &storyboard)
        .await
        .unwrap()
        .job;
    let replay = videos::accept(&store, &clock, &t, spec.clone(), Some("a"), &storyboard)
        .await
        .unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.job.id, stuck.id);
    let done = videos::accept(&store, &clock, &t, spec, Some("b"), &storyboard)
        .await
        .unwrap()
        .job;
    assert!(
        videos::finish_succeeded(&store, &clock, &t.id, &done.id, vec![])
            .await
            .unwrap()
    );
    assert_eq!(
        usage::current_usage(&store, &clock, &t)
            .await
            .unwrap()
            .videos
            .used,
        2
    );

    // Within the deadline nothing happens; past it the open job ends, refunded once.
    assert!(
        videos::reconcile(&store, &clock, Duration::from_secs(3700))
            .await
            .unwrap()
            .ended
            .is_empty()
    );
    clock.advance(Duration::from_secs(2 * 3600));
    let pass = videos::reconcile(&store, &clock, Duration::from_secs(3700))
        .await
        .unwrap();
    assert_eq!(pass.ended.len(), 1);
    assert_eq!(pass.ended[0].job_id, stuck.id);
    assert!(
        videos::reconcile(&store, &clock, Duration::from_secs(3700))
            .await
            .unwrap()
            .ended
            .is_empty()
    );
    let job = videos::get(&store, &t.id, &stuck.id).await.unwrap();
    assert_eq!(job.status.as_str(), "failed");
    assert_eq!(
        usage::current_usage(&store, &clock, &t)
            .await
            .unwrap()
            .videos
            .used,
        1
    );
}

#[tokio::test]
async fn kms_token_vault_conforms() {
    let conf = emulator_sdk_config(&moto_endpoint()).await;
    let key_id = viral_aws::KmsTokenVault::create_key(&conf)
        .await
        .expect("create a KMS key on moto");
    let vault = viral_aws::KmsTokenVault::from_conf(&conf, &key_id);
    viral_testkit::token_vault::run_all(&vault).await;
}

/// Autopilot's schedules on moto's EventBridge Scheduler: created at the tenant's local run
/// hours in its zone, aimed at the autopilot state machine with the tenant in its input,
/// changed in place, deleted, and a second delete is fine.
#[tokio::test]
async fn eventbridge_schedules_follow_the_settings() {
    use viral_core::ports::AutopilotSchedules;
    let conf = emulator_sdk_config(&moto_endpoint()).await;
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:autopilot";
    let role = "arn:aws:iam::123456789012:role/autopilot-scheduler";
    let schedules = viral_aws::EventBridgeSchedules::from_conf(&conf, machine, role);
    let client = aws_sdk_scheduler::Client::new(&conf);
    let tenant = viral_core::ids::new_id("tn");
    let name = viral_core::domain::autopilot::schedule_name(&tenant);
    schedules
        .ensure(&tenant, &[7, 12, 17], "Europe/Paris")
        .await
        .unwrap();
    let got = client.get_schedule().name(&name).send().await.unwrap();
    assert_eq!(got.schedule_expression(), Some("cron(0 7,12,17 * * ? *)"));
    assert_eq!(got.schedule_expression_timezone(), Some("Europe/Paris"));
    let target = got.target().unwrap();
    assert_eq!(target.arn(), machine);
    assert_eq!(target.role_arn(), role);
    let input: serde_json::Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input, serde_json::json!({"tenant_id": tenant}));
    schedules.ensure(&tenant, &[9], "UTC").await.unwrap();
    let got = client.get_schedule().name(&name).send().await.unwrap();
    assert_eq!(got.schedule_expression(), Some("cron(0 9 * * ? *)"));
    assert_eq!(got.schedule_expression_timezone(), Some("UTC"));
    schedules.remove(&tenant).await.unwrap();
    assert!(client.get_schedule().name(&name).send().await.is_err());
    schedules.remove(&tenant).await.unwrap();
}

/// The call log sees every request an SDK client sends, by service and operation, with the
/// unit of work its labeller names.
#[tokio::test]
async fn counted_clients_record_their_calls() {
    use viral_core::ports::{BlobKey, BlobStore, Cond, Item, ItemStore};
    let log = viral_aws::calls::CallLog::new(|| Some("get-me"));
    let conf = log.counted(&emulator_sdk_config(&moto_endpoint()).await);
    let name = unique("counted-").to_lowercase();
    let store = DynamoItemStore::from_conf(&conf, &name);
    store.create_table().await.unwrap();
    let blobs = S3BlobStore::from_conf(&conf, &name, true);
    blobs.create_bucket().await.unwrap();
    log.take();
    store.put(Item::new("T#1", "A"), Cond::None).await.unwrap();
    assert!(store.get("T#1", "A").await.unwrap().is_some());
    let key = BlobKey::parse("tenants/tn_1/videos/a.mp4").unwrap();
    blobs.put(&key, vec![7; 1000], "video/mp4").await.unwrap();
    let calls = log.take();
    let seen: Vec<(String, String)> = calls
        .iter()
        .map(|c| (c.service.clone(), c.operation.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("dynamodb".to_owned(), "PutItem".to_owned()),
            ("dynamodb".to_owned(), "GetItem".to_owned()),
            ("s3".to_owned(), "PUT object".to_owned()),
        ]
    );
    assert!(calls.iter().all(|c| c.by == Some("get-me")));
    assert_eq!(calls[2].request_bytes, 1000);
    assert_eq!(
        calls[2].object,
        format!("/{name}/tenants/tn_1/videos/a.mp4")
    );
    assert!(calls[1].response_bytes > 0, "{:?}", calls[1]);
    assert!(log.take().is_empty());
}
