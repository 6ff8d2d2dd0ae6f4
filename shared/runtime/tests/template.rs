//! `infra/template.yaml` against the code: cfn-lint finds no error; every crate under
//! `functions/` has exactly one function resource and every function resource a crate; each
//! API route is mapped to its own function, once; every `${…}` in the ASL is substituted; and
//! every IAM statement names only resources of the template (or `*` for the few actions that
//! take no resource). The template is read with cfn-lint's own YAML reader, from the test
//! command's virtualenv (`VIRAL_TEST_PYTHON`); without it the test fails rather than skips.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;
use viral_api::Route;
use viral_steps::Step;

use support::{python, root, template};

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().unwrap()
}

fn functions(t: &Value) -> BTreeMap<String, (String, Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, r)| {
            let uri = r["Properties"]["CodeUri"].as_str().unwrap().to_owned();
            let name = uri.strip_prefix("../functions/").unwrap_or(&uri).to_owned();
            (name, (id.clone(), r.clone()))
        })
        .collect()
}

#[test]
fn cfn_lint_finds_no_error() {
    let out = Command::new(python())
        .args(["-m", "cfnlint"])
        .arg(root().join("infra/template.yaml"))
        .output()
        .expect("cfn-lint");
    // Exit bits: 2 errors, 4 warnings, 8 informational.
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code >= 0 && code & 2 == 0,
        "cfn-lint: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_function_crate_has_one_resource_and_every_route_its_own_function() {
    let t = template();
    let fns = functions(&t);
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let declared: BTreeSet<String> = fns.keys().cloned().collect();
    assert_eq!(declared, crates, "function resources vs functions/ crates");
    let code_uris: Vec<&Value> = resources(&t)
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .map(|r| &r["Properties"]["CodeUri"])
        .collect();
    assert_eq!(code_uris.len(), crates.len(), "one resource per crate");
    for (name, (id, r)) in &fns {
        assert_eq!(
            r["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{id} builds with cargo lambda"
        );
        let timeout = r["Properties"]["Timeout"].as_u64().unwrap_or(10);
        assert!(timeout <= 900, "{name}: timeout {timeout}");
    }
    // Each route: its function, with exactly one HttpApi event for its method and path.
    let mut seen = BTreeSet::new();
    for route in Route::ALL {
        let (id, r) = fns
            .get(route.function_name())
            .unwrap_or_else(|| panic!("no function for {route:?}"));
        let events: Vec<&Value> = r["Properties"]["Events"]
            .as_object()
            .map(|e| e.values().filter(|v| v["Type"] == "HttpApi").collect())
            .unwrap_or_default();
        assert_eq!(events.len(), 1, "{id}: one route");
        let p = &events[0]["Properties"];
        assert_eq!(p["Method"], route.method(), "{id}");
        assert_eq!(p["Path"], route.path(), "{id}");
        assert_eq!(p["ApiId"], serde_json::json!({"Ref": "HttpApi"}), "{id}");
        assert!(
            seen.insert((route.method(), route.path())),
            "{route:?} twice"
        );
    }
    // Every other function is a step, the worker or the reconciler, with no HTTP route.
    let steps: BTreeSet<&str> = Step::ALL.iter().map(|s| s.function_name()).collect();
    for (name, (id, r)) in &fns {
        if Route::ALL.iter().any(|x| x.function_name() == name) {
            continue;
        }
        assert!(
            steps.contains(name.as_str())
                || [
                    "provider-worker",
                    "reconcile-jobs",
                    "refresh-tokens",
                    "collect-metrics",
                    "autopilot-tick",
                    "deliver-webhooks",
                ]
                .contains(&name.as_str()),
            "{id} is neither a route, a step, the worker, nor one of the scheduled functions"
        );
        let has_http = r["Properties"]["Events"]
            .as_object()
            .is_some_and(|e| e.values().any(|v| v["Type"] == "HttpApi"));
        assert!(!has_http, "{id} has an HTTP route");
    }
}

#[test]
fn every_asl_substitution_resolves_to_a_step_or_the_queue() {
    let t = template();
    let fns = functions(&t);
    let machines: Vec<&Value> = resources(&t)
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::StateMachine")
        .collect();
    let uris: BTreeSet<&str> = machines
        .iter()
        .filter_map(|m| m["Properties"]["DefinitionUri"].as_str())
        .collect();
    assert_eq!(
        uris,
        BTreeSet::from([
            "../statemachines/autopilot.asl.json",
            "../statemachines/publish.asl.json",
            "../statemachines/video-generation.asl.json"
        ])
    );
    let mut steps_seen = BTreeSet::new();
    for sm in machines {
        let uri = sm["Properties"]["DefinitionUri"].as_str().unwrap();
        let asl = std::fs::read_to_string(
            root()
                .join("statemachines")
                .join(uri.trim_start_matches("../statemachines/")),
        )
        .unwrap();
        let used: BTreeSet<String> = asl
            .split("${")
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(v, _)| v.to_owned()))
            .collect();
        let subs = sm["Properties"]["DefinitionSubstitutions"]
            .as_object()
            .unwrap();
        let given: BTreeSet<String> = subs.keys().cloned().collect();
        assert_eq!(
            used, given,
            "{uri}: ASL variables vs DefinitionSubstitutions"
        );
        // Each step's ARN substitution points at that step's function.
        for step in Step::ALL {
            let (id, _) = &fns[step.function_name()];
            let var = format!("{}Arn", id);
            if let Some(v) = subs.get(&var) {
                assert_eq!(v, &serde_json::json!({"Fn::GetAtt": [id, "Arn"]}), "{var}");
                assert_eq!(
                    step.publishes(),
                    uri.contains("publish"),
                    "{var} in the wrong machine"
                );
                steps_seen.insert(step.function_name());
            }
        }
        // Only service integrations (no region, no account) are written into the ASL.
        for (at, _) in asl.match_indices("arn:") {
            assert!(
                asl[at..].starts_with("arn:aws:states:::"),
                "an ARN written into the ASL: {}",
                &asl[at..(at + 60).min(asl.len())]
            );
        }
    }
    assert_eq!(
        steps_seen.len(),
        Step::ALL.len(),
        "every step is in a machine"
    );
}

/// Each provider has its own queue, named as the definition's `ProviderQueueUrlPrefix` +
/// provider expects, consumed by the worker with that provider's own concurrency, and the
/// state machine may send to each.
#[test]
fn every_provider_has_its_own_queue_and_worker_concurrency() {
    let t = template();
    let res = resources(&t);
    let sm = &res["VideoStateMachine"];
    let prefix = sm["Properties"]["DefinitionSubstitutions"]["ProviderQueueUrlPrefix"]["Fn::Sub"]
        .as_str()
        .expect("ProviderQueueUrlPrefix is a Fn::Sub");
    let name_prefix = prefix
        .strip_prefix("https://sqs.${AWS::Region}.${AWS::URLSuffix}/${AWS::AccountId}/")
        .expect("an SQS queue URL of this account and region");
    let (worker_id, worker) = &functions(&t)["provider-worker"];
    let events = worker["Properties"]["Events"].as_object().unwrap();
    let sends: Vec<&Value> = sm["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.get("SQSSendMessagePolicy"))
        .collect();
    for provider in viral_runtime::provider_config::KNOWN {
        let want = serde_json::json!({"Fn::Sub": format!("{name_prefix}{provider}")});
        let (queue, _) = res
            .iter()
            .find(|(_, r)| r["Type"] == "AWS::SQS::Queue" && r["Properties"]["QueueName"] == want)
            .unwrap_or_else(|| panic!("no queue named {want} for {provider}"));
        let source = events
            .values()
            .find(|e| {
                e["Type"] == "SQS"
                    && e["Properties"]["Queue"] == serde_json::json!({"Fn::GetAtt": [queue, "Arn"]})
            })
            .unwrap_or_else(|| panic!("{worker_id} does not consume {queue}"));
        let cap = source["Properties"]["ScalingConfig"]["MaximumConcurrency"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{queue}'s consumer has no MaximumConcurrency parameter"));
        assert!(
            cap.to_lowercase().starts_with(provider),
            "{queue} is capped by {cap}, not {provider}'s own parameter"
        );
        assert!(t["Parameters"][cap].is_object(), "no parameter {cap}");
        assert_eq!(
            source["Properties"]["FunctionResponseTypes"],
            serde_json::json!(["ReportBatchItemFailures"])
        );
        assert!(
            sends
                .contains(&&serde_json::json!({"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}})),
            "the state machine cannot send to {queue}"
        );
    }
}

/// `sam build` must rebuild every function each time: SAM's own cache keys a function on its
/// `CodeUri` folder alone, so with it a change under `shared/` would deploy stale binaries.
#[test]
fn sam_build_does_not_use_its_per_folder_cache() {
    let text = std::fs::read_to_string(root().join("infra/samconfig.toml")).unwrap();
    let build = text
        .split("[default.build.parameters]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("samconfig.toml has [default.build.parameters]");
    let cached: Vec<&str> = build
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("cached"))
        .collect();
    assert_eq!(cached, ["cached = false"], "{build}");
}

/// The logical ids an intrinsic value refers to (`Ref`, `Fn::GetAtt`, `${Id}` / `${Id.Attr}` in
/// `Fn::Sub`), and whether it is a plain string.
fn references(v: &Value, out: &mut Vec<String>) -> bool {
    match v {
        Value::String(s) => s == "*",
        Value::Object(o) => {
            if let Some(r) = o.get("Ref").and_then(Value::as_str) {
                out.push(r.to_owned());
            } else if let Some(g) = o.get("Fn::GetAtt") {
                out.push(g[0].as_str().unwrap_or_default().to_owned());
            } else if let Some(s) = o.get("Fn::Sub").and_then(Value::as_str) {
                for var in s
                    .split("${")
                    .skip(1)
                    .filter_map(|x| x.split_once('}').map(|(v, _)| v))
                {
                    out.push(var.split('.').next().unwrap_or_default().to_owned());
                }
            }
            true
        }
        Value::Array(a) => a.iter().all(|x| references(x, out)),
        _ => false,
    }
}

/// Actions that take no resource-level permission, and so `*`.
const RESOURCELESS: [&str; 9] = [
    // Its only resource type is a pronunciation lexicon; a call without one is on `*`.
    "polly:SynthesizeSpeech",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
];

#[test]
fn iam_statements_name_only_resources_of_the_template() {
    let t = template();
    let ids: BTreeSet<String> = resources(&t).keys().cloned().collect();
    let params: BTreeSet<String> = t["Parameters"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let pseudo = [
        "AWS::Partition",
        "AWS::Region",
        "AWS::AccountId",
        "AWS::StackName",
        "AWS::URLSuffix",
    ];
    let mut checked = 0;
    for (id, r) in resources(&t) {
        let Some(policies) = r["Properties"]["Policies"].as_array() else {
            continue;
        };
        for p in policies {
            // A role's inline policy keeps its statements in a policy document.
            let statements = p["Statement"]
                .as_array()
                .or_else(|| p["PolicyDocument"]["Statement"].as_array());
            let Some(statements) = statements else {
                // A SAM policy template: its arguments must be references too.
                for args in p.as_object().into_iter().flat_map(|o| o.values()) {
                    let mut refs = Vec::new();
                    for a in args.as_object().into_iter().flat_map(|o| o.values()) {
                        assert!(references(a, &mut refs), "{id}: {a}");
                    }
                    assert!(refs.iter().all(|r| ids.contains(r)), "{id}: {refs:?}");
                }
                continue;
            };
            for s in statements {
                let mut refs = Vec::new();
                assert!(
                    references(&s["Resource"], &mut refs),
                    "{id}: resource {}",
                    s["Resource"]
                );
                let wildcard = s["Resource"] == "*"
                    || s["Resource"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "*"));
                if wildcard {
                    let actions: Vec<&str> = match &s["Action"] {
                        Value::String(a) => vec![a.as_str()],
                        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                        _ => vec![],
                    };
                    assert!(
                        actions.iter().all(|a| RESOURCELESS.contains(a)),
                        "{id}: `*` for {actions:?}"
                    );
                }
                for r in &refs {
                    assert!(
                        ids.contains(r) || pseudo.contains(&r.as_str()) || params.contains(r),
                        "{id}: statement {} names {r}, not in the template",
                        s["Sid"]
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "only {checked} statements found");
}

/// The dashboard's distribution sends every API route to the API (never to the page rewrite,
/// which would answer an API call with index.html), and the rewrite serves index.html for
/// the dashboard's pages while leaving its files alone. The function runs in Node here, as
/// CloudFront's JavaScript runtime would run it.
#[test]
fn the_dashboard_distribution_routes_api_paths_to_the_api_and_pages_to_the_app() {
    let t = template();
    let dist = &resources(&t)["DashboardDistribution"]["Properties"]["DistributionConfig"];
    let api_patterns: Vec<String> = dist["CacheBehaviors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["TargetOriginId"] == "api")
        .map(|b| b["PathPattern"].as_str().unwrap().to_owned())
        .collect();
    let matches = |pattern: &str, path: &str| match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    };
    for route in Route::ALL {
        let path = route.path();
        assert!(
            api_patterns.iter().any(|p| matches(p, path)),
            "{path} would be served by the dashboard's bucket"
        );
    }
    for page in viral_web::PAGES {
        assert!(
            !api_patterns.iter().any(|p| matches(p, page)),
            "the page {page} would go to the API"
        );
    }
    let code = resources(&t)["DashboardPageRewrite"]["Properties"]["FunctionCode"]
        .as_str()
        .unwrap();
    let script = format!(
        "{code}\nconst uris = JSON.parse(process.argv[1]);\n\
         console.log(JSON.stringify(uris.map(u => handler({{request: {{uri: u}}}}).uri)));"
    );
    let uris = [
        "/",
        "/videos/job_0123",
        "/billing/done",
        "/assets/app.0a1b2c3d4e.js",
        "/config.json",
        "/index.html",
    ];
    let out = Command::new("node")
        .args(["-e", &script, &serde_json::to_string(&uris).unwrap()])
        .output()
        .expect("node runs the CloudFront function");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        got,
        [
            "/index.html",
            "/index.html",
            "/index.html",
            "/assets/app.0a1b2c3d4e.js",
            "/config.json",
            "/index.html"
        ]
    );
}
