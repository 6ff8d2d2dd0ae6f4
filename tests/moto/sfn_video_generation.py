"""Runs statemachines/video-generation.asl.json on moto's Step Functions (real ASL execution)
with canned Lambda results and a real SQS queue for the `.waitForTaskToken` Submit state,
proving the file is valid ASL that Step Functions' interpreter runs, not only valid JSON.

Usage: python sfn_video_generation.py http://127.0.0.1:PORT
Exits non-zero with a message when an expectation fails.
"""

import io
import json
import pathlib
import re
import sys
import time
import urllib.request
import zipfile

import boto3

ENDPOINT = sys.argv[1]
REGION = "us-east-1"
ROOT = pathlib.Path(__file__).resolve().parents[2]
FUNCTIONS = {
    "PlanJobFunctionArn": "plan-job",
    "JoinVideoFunctionArn": "join-video",
    "RefundJobFunctionArn": "refund-job",
}


def client(name):
    return boto3.client(
        name,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def post(path, body):
    req = urllib.request.Request(
        ENDPOINT + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(req).read()


def canned(*results):
    post("/moto-api/static/lambda-simple/response", {"results": [json.dumps(r) for r in results], "region": REGION})


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})

iam, lam, sqs, sfn = client("iam"), client("lambda"), client("sqs"), client("stepfunctions")
suffix = str(int(time.time() * 1000))
role = iam.create_role(
    RoleName="viral-test-" + suffix,
    AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
)["Role"]["Arn"]
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("bootstrap", "#!/bin/sh\n")
subs = {}
for var, name in FUNCTIONS.items():
    fn = lam.create_function(
        FunctionName=f"{name}-{suffix}",
        Runtime="provided.al2023",
        Role=role,
        Handler="bootstrap",
        Code={"ZipFile": buf.getvalue()},
    )
    subs[var] = fn["FunctionArn"]
# A queue per provider, named as the template names them: the definition builds the URL
# from the prefix and the plan's provider.
prefix = f"provider-jobs-{suffix}-"
queue_urls = {p: sqs.create_queue(QueueName=prefix + p)["QueueUrl"] for p in ("storyboard", "runway", "veo", "sora")}
subs["ProviderQueueUrlPrefix"] = queue_urls["storyboard"][: -len("storyboard")]

text = (ROOT / "statemachines" / "video-generation.asl.json").read_text()
missing = set(re.findall(r"\$\{(\w+)\}", text)) - set(subs)
if missing:
    fail(f"definition uses substitutions the template would not provide: {missing}")
definition = re.sub(r"\$\{(\w+)\}", lambda m: subs[m.group(1)], text)
machine = sfn.create_state_machine(name="video-generation-" + suffix, definition=definition, roleArn=role)[
    "stateMachineArn"
]


def history_failures(arn):
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [
        (e["type"], v)
        for e in events
        for k, v in e.items()
        if k.endswith("EventDetails") and ("error" in v or "cause" in v)
    ]


def take_token(provider="storyboard", timeout=30, arn=None):
    """The task token of the next Submit message on `provider`'s queue (and none elsewhere)."""
    deadline = time.time() + timeout
    queue_url = queue_urls[provider]
    while time.time() < deadline:
        msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1).get("Messages", [])
        if msgs:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msgs[0]["ReceiptHandle"])
            for other, url in queue_urls.items():
                if other != provider and sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages"):
                    fail(f"a {provider} clip was also queued for {other}")
            body = json.loads(msgs[0]["Body"])
            for k in ("token", "tenant_id", "job_id", "provider", "clip"):
                if k not in body:
                    fail(f"the Submit message lacks {k}: {body}")
            return body["token"]
    fail(f"no Submit message arrived on the {provider} queue" + (f"; failures: {history_failures(arn)}" if arn else ""))


def wait_end(arn, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.2)
    fail("the execution did not end")


# 1. The happy path: plan, one clip in the Map (one state: the worker submits, polls and
#    fetches it, then answers the task token), then the join (which validates, stores and
#    ends the job).
plan = {"provider": "storyboard", "model": "cards-v1", "attempt": 1, "max_attempts": 2, "estimated_cost_cents": 0,
        "clips": [{"index": 0, "duration_s": 15.0}], "reason": "requested by name"}
canned(plan)
arn = sfn.start_execution(stateMachineArn=machine, name="job_ok", input=json.dumps({"tenant_id": "tn_1", "job_id": "job_ok", "attempt": 1}))[
    "executionArn"
]
token = take_token()
canned({"video_key": "tenants/tn_1/videos/job_ok.mp4", "mode": "copied", "size_bytes": 1, "changed": True})
sfn.send_task_success(taskToken=token, output=json.dumps({"clip_key": "tenants/tn_1/staging/job_ok/clip-0.mp4", "size_bytes": 1}))
d = wait_end(arn)
if d["status"] != "SUCCEEDED":
    fail(f"happy path ended {d['status']}: {d.get('error')} {d.get('cause')}; failures: {history_failures(arn)}")
out = json.loads(d["output"])
if out.get("joined", {}).get("video_key") != "tenants/tn_1/videos/job_ok.mp4":
    fail(f"unexpected output {out}")
if out.get("joined", {}).get("mode") != "copied" or len(out.get("fetched", [])) != 1:
    fail(f"the clip was not fetched and joined: {out}")

# 2. The provider fails twice: Catch → Fallback → a second plan (another provider, so its
#    clip goes to that provider's queue) → Catch → Refund → Fail.
canned(plan)
arn = sfn.start_execution(stateMachineArn=machine, name="job_bad", input=json.dumps({"tenant_id": "tn_1", "job_id": "job_bad", "attempt": 1}))[
    "executionArn"
]
token = take_token(arn=arn)
canned(dict(plan, attempt=2, provider="runway", model="gen4.5"))
sfn.send_task_failure(taskToken=token, error="Provider.Permanent", cause="invalid API key")
token = take_token("runway", arn=arn)
canned({"status": "failed", "refunded": True})
sfn.send_task_failure(taskToken=token, error="Provider.Permanent", cause="invalid API key")
d = wait_end(arn)
if d["status"] != "FAILED":
    fail(f"failure path ended {d['status']}")
events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
for state in ("Fallback", "Refund", "JobFailed"):
    if state not in entered:
        fail(f"the failure path never entered {state}: {entered}")
if entered.count("PlanJob") != 2:
    fail(f"expected two plans (one fallback), got {entered}")

def refunded_at_once(job_id, error, cause, what):
    """The clip's task fails with `error`: the job is refunded with no second plan."""
    canned(plan)
    arn = sfn.start_execution(stateMachineArn=machine, name=job_id, input=json.dumps({"tenant_id": "tn_1", "job_id": job_id, "attempt": 1}))[
        "executionArn"
    ]
    token = take_token(arn=arn)
    canned({"status": "failed", "refunded": True})
    sfn.send_task_failure(taskToken=token, error=error, cause=cause)
    d = wait_end(arn)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    if d["status"] != "FAILED" or entered.count("PlanJob") != 1 or "Refund" not in entered:
        fail(f"{what} ended {d['status']} through {entered}")


# 2b. A failure of our own records (Job.*, Store.*, Blob.*) is refunded at once: another
#     provider's render would not fix it, and would be paid for again.
refunded_at_once("job_ours", "Job.Invalid", "bad tenant or job id", "our own failure")

# 2c. A submitted render the worker could not follow (the provider's own error while polling
#     or fetching) is refunded, not sent to another provider: this one may still be rendering,
#     and billing, it.
refunded_at_once("job_lost", "Provider.FollowFailed", "404 no such task", "an unfollowable render")

# 3. Execution names are job ids: a second start of an ended job is refused by name, which
#    the Workflow adapter reads as "already started" (no second run, no second charge).
try:
    sfn.start_execution(stateMachineArn=machine, name="job_ok", input=json.dumps({"tenant_id": "tn_1", "job_id": "job_ok", "attempt": 1}))
    fail("a second start with the same name was accepted")
except sfn.exceptions.ExecutionAlreadyExists:
    pass

# 4. The publish workflow: check → upload → wait → poll → done, and a post waiting for its
#    time (TimestampPath) before it goes.
publish_subs = {}
for var, name in {
    "CheckPostFunctionArn": "check-post",
    "UploadPostFunctionArn": "upload-post",
    "PollPostFunctionArn": "poll-post",
    "FailPostFunctionArn": "fail-post",
}.items():
    fn = lam.create_function(
        FunctionName=f"{name}-{suffix}",
        Runtime="provided.al2023",
        Role=role,
        Handler="bootstrap",
        Code={"ZipFile": buf.getvalue()},
    )
    publish_subs[var] = fn["FunctionArn"]
text = (ROOT / "statemachines" / "publish.asl.json").read_text()
missing = set(re.findall(r"\$\{(\w+)\}", text)) - set(publish_subs)
if missing:
    fail(f"the publish definition uses substitutions the template would not provide: {missing}")
definition = re.sub(r"\$\{(\w+)\}", lambda m: publish_subs[m.group(1)], text)
publish = sfn.create_state_machine(name="publish-" + suffix, definition=definition, roleArn=role)["stateMachineArn"]
canned({"action": "upload"}, {"action": "poll", "after_s": 0}, {"action": "poll", "after_s": 0}, {"action": "done"})
arn = sfn.start_execution(stateMachineArn=publish, name="post_ok", input=json.dumps({"tenant_id": "tn_1", "post_id": "post_ok"}))[
    "executionArn"
]
d = wait_end(arn)
if d["status"] != "SUCCEEDED":
    fail(f"publish ended {d['status']}: {d.get('error')} {d.get('cause')}; failures: {history_failures(arn)}")
events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
if entered.count("PollPost") != 2 or "UploadPost" not in entered or "Done" not in entered:
    fail(f"the publish path was {entered}")
past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
canned({"action": "wait", "until": past}, {"action": "done"})
arn = sfn.start_execution(stateMachineArn=publish, name="post_later", input=json.dumps({"tenant_id": "tn_1", "post_id": "post_later"}))[
    "executionArn"
]
d = wait_end(arn)
events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
if d["status"] != "SUCCEEDED" or "WaitUntilDue" not in entered or entered.count("CheckPost") != 2:
    fail(f"the scheduled path ended {d['status']} through {entered}")

print("ok: video-generation.asl.json runs on moto's Step Functions (success, fallback + refund, our failure and an unfollowable render refunded); publish.asl.json too (post, scheduled post)")
