//! The dashboard in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver) against the real `viral up` on loopback, as a user would use it.
//!
//! Needs `chromium` and `chromedriver` (the test command installs them) and, for the
//! accessibility pass, axe-core's `axe.min.js` at `VIRAL_TEST_AXE` (also installed by it).
//! Screenshots of every page at 360×800 and 1280×800 go to `target/dashboard-screenshots/`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::{free_port, json_of, viral};

const WEBHOOK_SECRET: &str = "whsec_dashboard_test_secret";

struct Browser {
    client: Client,
    driver_url: String,
    session: String,
    shots: PathBuf,
    http: reqwest::Client,
    /// Console lines the steps so far expected (a 404 or 401 the step provoked).
    allowed: Vec<&'static str>,
}

impl Browser {
    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Waits until `css` matches an element whose text contains `text`; panics with the
    /// page's text after `secs`.
    async fn wait_text(&self, css: &str, text: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(els) = self.client.find_all(Locator::Css(css)).await {
                for e in els {
                    if let Ok(t) = e.text().await
                        && t.contains(text)
                    {
                        return t;
                    }
                }
            }
            if Instant::now() > deadline {
                let body = self
                    .client
                    .find(Locator::Css("body"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap_or_default();
                panic!("no {css:?} with {text:?} after {secs} s; the page says:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn click_text(&self, css: &str, text: &str) {
        for e in self.client.find_all(Locator::Css(css)).await.unwrap() {
            if e.text().await.unwrap_or_default().trim() == text {
                e.click().await.unwrap();
                return;
            }
        }
        panic!("no {css:?} reading {text:?}");
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// Chromium's console since the last call: every SEVERE line fails the test unless the
    /// step said it provoked it (a 404 or 401 answer is logged as a failed resource load).
    async fn assert_clean_console(&mut self, step: &str) {
        let logs: Value = self
            .http
            .post(format!(
                "{}/session/{}/se/log",
                self.driver_url, self.session
            ))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for entry in logs["value"].as_array().cloned().unwrap_or_default() {
            let message = entry["message"].as_str().unwrap_or_default();
            if entry["level"] != "SEVERE" {
                continue;
            }
            let expected = self.allowed.iter().any(|a| message.contains(a));
            assert!(expected, "{step}: console error: {message}");
        }
        self.allowed.clear();
    }

    /// Screenshots at phone and desktop width, and the accessibility pass (desktop).
    async fn capture(&mut self, name: &str, ready_css: &str, ready_text: &str) {
        for (w, h) in [(360, 800), (1280, 800)] {
            self.client.set_window_size(w, h).await.unwrap();
            self.wait_text(ready_css, ready_text, 10).await;
            // Let layout settle after the resize.
            tokio::time::sleep(Duration::from_millis(150)).await;
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(self.shots.join(format!("{name}-{w}x{h}.png")), png).unwrap();
            let overflow: Value = self
                .client
                .execute(
                    "const w = document.documentElement.clientWidth;\
                     const over = document.documentElement.scrollWidth - w;\
                     if (over <= 0) return 0;\
                     const wide = [...document.querySelectorAll('body *')]\
                       .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.nav'))\
                       .slice(0, 5).map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 40));\
                     return over + ' px: ' + wide.join(' | ');",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(overflow, json!(0), "{name} at {w}px scrolls sideways");
        }
        self.axe(name).await;
        self.assert_clean_console(name).await;
    }

    async fn axe(&self, page: &str) {
        let Some(source) = axe_source() else {
            panic!("VIRAL_TEST_AXE must point at axe-core's axe.min.js (tests/run installs it)");
        };
        self.client.execute(&source, vec![]).await.unwrap();
        let result = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, { resultTypes: ["violations"] })
                  .then(r => done(r.violations
                    .filter(v => v.impact === "serious" || v.impact === "critical")
                    .map(v => ({ id: v.id, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.html) }))))
                  .catch(e => done([{ id: "axe-failed", help: String(e) }]));"#,
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            result,
            json!([]),
            "{page}: serious accessibility violations"
        );
    }
}

fn axe_source() -> Option<String> {
    let path = std::env::var_os("VIRAL_TEST_AXE")?;
    std::fs::read_to_string(path).ok()
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

async fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The sign-in link `viral up` prints on stderr.
async fn printed_link(log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("/signin#token=")) {
            return line.trim().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "viral up printed no sign-in link:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_runs_everything_from_the_dashboard_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let idp = idp::start().await;
    let (authorize, token_url) = (format!("{idp}/authorize"), format!("{idp}/token"));
    let tiktok = tiktok::start().await;
    let tiktok_authorize = format!("{tiktok}/v2/auth/authorize/");
    let env: &[(&str, &str)] = &[
        ("VIRAL_JWT_ISSUER", &idp),
        ("VIRAL_JWT_AUDIENCE", idp::CLIENT_ID),
        ("VIRAL_DASHBOARD_OIDC_AUTHORIZE_URL", &authorize),
        ("VIRAL_DASHBOARD_OIDC_TOKEN_URL", &token_url),
        ("VIRAL_DASHBOARD_OIDC_CLIENT_ID", idp::CLIENT_ID),
        ("STRIPE_PRICE_STARTER", "price_dash_starter"),
        ("STRIPE_PRICE_PRO", "price_dash_pro"),
        ("STRIPE_PRICE_AGENCY", "price_dash_agency"),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        // A driven browser clicks faster than a person: the default 10 requests per 10 s
        // per key would make it wait out 429s (which the dashboard does, slowly).
        ("VIRAL_RATE_LIMIT", "300/10s"),
        // TikTok, on a local server that speaks its OAuth and posting shapes.
        ("VIRAL_ALLOW_LOOPBACK_PROVIDERS", "1"),
        ("TIKTOK_BASE_URL", &tiktok),
        ("TIKTOK_AUTHORIZE_URL", &tiktok_authorize),
        ("TIKTOK_CLIENT_KEY", tiktok::CLIENT_KEY),
        ("TIKTOK_CLIENT_SECRET", "tiktok-dashboard-secret"),
        // Autopilot's scheduler looks every second (30 s by default).
        ("VIRAL_AUTOPILOT_EVERY", "1"),
    ];
    // `viral up`, as a user starts it; its stderr is where the sign-in link is printed.
    let port = free_port();
    let log = dir.path().join("up.log");
    let child = viral(&data, env, &["up", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _server = support::Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let link = printed_link(&log).await;
    wait_port(port, "viral up").await;
    served_with_its_headers(&base).await;

    let driver_port = free_port();
    let _driver = tokio::process::Command::new("chromedriver")
        .arg(format!("--port={driver_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver is not installed: apt-get install chromium chromium-driver (tests/run does)");
    wait_port(driver_port, "chromedriver").await;
    let profile = dir.path().join("chromium");
    let caps = json!({
        "goog:loggingPrefs": {"browser": "ALL"},
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--window-size=1280,800",
                     "--autoplay-policy=no-user-gesture-required",
                     format!("--user-data-dir={}", profile.display())]
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let driver_url = format!("http://127.0.0.1:{driver_port}");
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver_url)
        .await
        .expect("a WebDriver session");
    let session = client.session_id().await.unwrap().expect("a session id");
    let mut b = Browser {
        client,
        driver_url,
        session,
        shots: screenshots_dir(),
        http: reqwest::Client::new(),
        allowed: Vec::new(),
    };

    // 1. The printed link signs the local owner in, and the token leaves the address bar.
    b.goto(&link).await;
    // When the overview's data was drawn (ms after navigation began, the sign-in exchange
    // included), and the layout shift it caused (CLS; below 0.1 is "good").
    let paint = b
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            let shift = 0;
            new PerformanceObserver(l => l.getEntries().forEach(e => { if (!e.hadRecentInput) shift += e.value; }))
              .observe({ type: "layout-shift", buffered: true });
            const t0 = Date.now();
            (function poll() {
              const drawn = [...document.querySelectorAll(".card h2")].some(h => h.textContent.includes("Usage this period"));
              if (drawn) { const at = performance.now(); setTimeout(() => done({ at, shift }), 300); }
              else if (Date.now() - t0 > 15000) done({ at: null, shift });
              else setTimeout(poll, 10);
            })();"#,
            vec![],
        )
        .await
        .unwrap();
    b.wait_text(".card h2", "Local demo", 10).await;
    assert!(
        paint["at"].is_number(),
        "the overview was never drawn: {paint}"
    );
    assert!(
        paint["shift"].as_f64().unwrap() < 0.1,
        "the overview shifts as its data loads: {paint}"
    );
    let url = b.client.current_url().await.unwrap();
    assert!(
        url.fragment().is_none(),
        "the token stays in the URL: {url}"
    );
    b.capture("overview", ".card h2", "Usage this period").await;
    // The link works once.
    b.goto(&link).await;
    b.allowed.push("401");
    b.wait_text(".notice", "used, expired or wrong", 10).await;
    b.assert_clean_console("a used link").await;
    b.capture("signin-used-link", "h1", "Sign in").await;
    let again = viral(&data, env, &["dashboard", "--no-open"])
        .output()
        .unwrap();
    assert!(again.status.success());
    let link = String::from_utf8(again.stdout).unwrap().trim().to_owned();
    assert!(link.contains("/signin#token=vs_"), "{link}");
    let link = format!(
        "{base}/signin#token={}",
        link.rsplit_once("#token=").unwrap().1
    );
    b.goto(&link).await;
    b.wait_text("h1", "Overview", 15).await;

    // 1b. Settings: the workspace's narration, which the video below takes.
    b.click("a[href='/settings']").await;
    b.wait_text("h1", "Settings", 10).await;
    b.type_into("#narration-language", "en-gb").await;
    b.type_into("#narration-speed", "1.1").await;
    b.click_text("button", "Save").await;
    b.wait_text("[role=status]", "Saved.", 10).await;
    b.capture("settings", "[role=status]", "Saved.").await;

    // 2. Concepts: write a batch, open one, make a video from it, watch it succeed and play.
    b.click("a[href='/concepts']").await;
    b.wait_text("h1", "Concepts", 10).await;
    b.click_text("button", "Write concepts").await;
    b.wait_text(".status-line", "Wrote 5 concepts", 60).await;
    b.capture("concepts", ".rows li", "score").await;
    b.click(".rows li a").await;
    b.wait_text("h2", "Beats", 10).await;
    b.capture("concept", "h2", "How did it do?").await;
    b.click_text("button", "Make video").await;
    b.wait_text("h1", "New video", 10).await;
    b.wait_text(".estimate", "Estimated $0.00", 20).await;
    b.capture("new-video", ".estimate", "Estimated").await;
    b.click_text("button", "Make the video").await;
    b.wait_text(".badge", "succeeded", 180).await;
    let video_path = b.path().await;
    assert!(video_path.starts_with("/videos/job_"), "{video_path}");
    let played = b
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            (async () => {
              const v = document.querySelector("video");
              if (!v) return done({ error: "no video element" });
              v.muted = true;
              const t0 = Date.now();
              while (v.readyState < 2 && Date.now() - t0 < 10000) await new Promise(r => setTimeout(r, 100));
              const ready = v.readyState;
              await v.play();
              const start = v.currentTime;
              await new Promise(r => setTimeout(r, 800));
              v.currentTime = 10;
              await new Promise(r => v.seeking ? v.addEventListener("seeked", r, { once: true }) : r());
              done({ ready, start, after: v.currentTime, width: v.videoWidth, height: v.videoHeight });
            })().catch(e => done({ error: String(e) }));"#,
            vec![],
        )
        .await
        .unwrap();
    assert!(played["ready"].as_i64().unwrap_or(0) >= 2, "{played}");
    assert!(
        played["after"].as_f64().unwrap_or(0.0) >= 10.0,
        "seeks: {played}"
    );
    assert_eq!(
        (played["width"].as_i64(), played["height"].as_i64()),
        (Some(1080), Some(1920)),
        "{played}"
    );
    b.wait_text("dl.facts", "en-gb, 1.1×", 5).await;
    b.wait_text("p.small", "with AAC sound (48 kHz, stereo", 5)
        .await;
    let vtt = b
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            const a = document.querySelector("figcaption a[download$='.vtt']");
            if (!a) return done("no captions link");
            fetch(a.href).then(r => r.text()).then(done, e => done(String(e)));"#,
            vec![],
        )
        .await
        .unwrap();
    assert!(
        vtt.as_str().unwrap_or_default().starts_with("WEBVTT"),
        "the captions link serves WebVTT: {vtt}"
    );
    b.wait_text("table", "passes", 5).await;
    b.capture("video", "h2", "Platform checks").await;

    // 2b. Accounts: a sandbox channel, and TikTok through its consent page and back.
    b.click("a[href='/accounts']").await;
    b.wait_text("h1", "Accounts", 10).await;
    b.wait_text(".empty", "No accounts yet", 10).await;
    b.type_into("#sandbox-name", "Browser channel").await;
    b.click_text("button", "Add sandbox channel").await;
    b.wait_text(".rows li", "Browser channel", 10).await;
    b.click_text("button", "Connect TikTok").await;
    b.wait_text("[role=status]", "Connected.", 20).await;
    assert!(b.path().await.starts_with("/accounts"));
    b.wait_text(".rows li", "Octo Facts", 10).await;
    b.wait_text(".rows li", "0 of 15", 10).await;
    b.capture("accounts", ".rows li", "Octo Facts").await;
    b.assert_clean_console("accounts").await;

    // 2c. Publishing to TikTok follows TikTok's posting experience.
    b.goto(&format!("{base}{video_path}")).await;
    b.wait_text("h2", "Publish", 15).await;
    b.client
        .find(Locator::Css("#publish-account"))
        .await
        .unwrap()
        .select_by_label("Octo Facts (TikTok)")
        .await
        .unwrap();
    b.wait_text(".creator", "Posting as Octo Facts", 10).await;
    let form = b
        .client
        .execute(
            r##"const q = (s) => document.querySelector(s);
            const checks = [...document.querySelectorAll(".publish input[type=checkbox]")].map(c => ({ label: c.parentElement.textContent.trim(), checked: c.checked, disabled: c.disabled }));
            return { privacy: q("#publish-privacy").value, options: [...q("#publish-privacy").options].map(o => o.value),
                     post: q(".publish button[type=submit]").disabled, checks,
                     consent: q(".consent").textContent };"##,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        form["privacy"], "",
        "no privacy is chosen for the user: {form}"
    );
    assert_eq!(
        form["options"],
        json!(["", "FOLLOWER_OF_CREATOR", "SELF_ONLY"])
    );
    assert_eq!(
        form["post"], true,
        "nothing posts before a privacy is chosen: {form}"
    );
    let duet = form["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"].as_str().unwrap().starts_with("Duet"))
        .unwrap();
    assert_eq!(
        (&duet["checked"], &duet["disabled"]),
        (&json!(false), &json!(true)),
        "{form}"
    );
    assert!(
        form["consent"]
            .as_str()
            .unwrap()
            .contains("Music Usage Confirmation")
    );
    b.capture("publish-tiktok", ".creator", "Posting as").await;
    b.client
        .find(Locator::Css("#publish-privacy"))
        .await
        .unwrap()
        .select_by_value("FOLLOWER_OF_CREATOR")
        .await
        .unwrap();
    b.click_text(".publish button", "Post").await;
    b.wait_text("h1", "Posts", 10).await;
    b.wait_text(".rows li", "View on TikTok", 60).await;
    let received = tiktok::inits();
    assert_eq!(received.len(), 1, "posted once: {received:?}");
    let info = &received[0]["post_info"];
    assert_eq!(info["privacy_level"], "FOLLOWER_OF_CREATOR");
    assert_eq!(info["is_aigc"], true);
    assert_eq!(info["disable_duet"], true);
    // And to the sandbox channel.
    b.goto(&format!("{base}{video_path}")).await;
    b.wait_text("h2", "Publish", 15).await;
    b.client
        .find(Locator::Css("#publish-account"))
        .await
        .unwrap()
        .select_by_label("Browser channel (Sandbox)")
        .await
        .unwrap();
    b.wait_text(".creator", "sandbox: never public", 10).await;
    b.client
        .find(Locator::Css("#publish-privacy"))
        .await
        .unwrap()
        .select_by_value("public")
        .await
        .unwrap();
    b.click_text(".publish button", "Post").await;
    b.wait_text("h1", "Posts", 10).await;
    b.wait_text(".rows li", "sandbox posts have no public link", 60)
        .await;
    b.capture("posts", ".rows li", "View on TikTok").await;
    b.assert_clean_console("publishing").await;

    // 3. API keys: create one (shown once), use it, revoke it, see it refused.
    b.click("a[href='/keys']").await;
    b.wait_text("h1", "API keys", 10).await;
    b.type_into("#key-name", "browser-made").await;
    b.click_text("button", "Create key").await;
    let key = b.wait_text("#new-key", "vk_live_", 10).await;
    let me = b
        .http
        .get(format!("{base}/v1/me"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "the new key works");
    b.capture("keys", "table", "browser-made").await;
    b.click("button[aria-label='Revoke browser-made']").await;
    b.click_text(".confirm button", "Revoke").await;
    b.wait_text("tr", "revoked", 10).await;
    let me = b
        .http
        .get(format!("{base}/v1/me"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "a revoked key is refused");

    // 4. Other pages.
    for (href, heading, ready) in [
        ("/videos", "Videos", "succeeded"),
        ("/providers", "Providers", "storyboard"),
        ("/analytics", "Analytics", "No numbers yet"),
        ("/insights", "Insights", "Nothing learned yet"),
        ("/billing", "Billing", "Plans"),
        ("/docs", "API docs", "/v1/videos"),
    ] {
        b.click(&format!("a[href='{href}']")).await;
        b.wait_text("h1", heading, 10).await;
        b.capture(&href[1..], "main", ready).await;
    }

    // 5. Stripe Checkout's return page: "processing" until the signed webhook lands.
    let listed = viral(&data, env, &["tenant", "list", "--json"])
        .output()
        .unwrap();
    let tenant_id = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|t| t["name"] == "Local demo")
        .and_then(|t| t["tenant_id"].as_str().map(str::to_owned))
        .expect("the local tenant is listed");
    b.goto(&format!("{base}/billing/done?session_id=cs_test_dashboard"))
        .await;
    b.wait_text("[role=status]", "Processing your payment", 10)
        .await;
    b.capture("billing-done", "[role=status]", "Processing")
        .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let event = json!({
        "id": "evt_dashboard_1", "object": "event", "api_version": "2026-06-24.dahlia",
        "created": now, "type": "customer.subscription.updated", "livemode": false,
        "data": {"object": {
            "id": "sub_dashboard_1", "object": "subscription", "customer": "cus_dashboard_1",
            "status": "active", "cancel_at_period_end": false,
            "collection_method": "charge_automatically",
            "metadata": {"tenant_id": tenant_id},
            "items": {"object": "list", "data": [{
                "id": "si_dashboard_1", "object": "subscription_item", "quantity": 1,
                "current_period_start": now - 60, "current_period_end": now + 30 * 86_400,
                "price": {"id": "price_dash_pro", "object": "price", "currency": "usd",
                          "unit_amount": 14_900, "recurring": {"interval": "month", "interval_count": 1}}
            }]}
        }}
    })
    .to_string();
    let signature = viral_core::domain::stripe_webhook::sign(event.as_bytes(), WEBHOOK_SECRET, now);
    let hook = b
        .http
        .post(format!("{base}/webhooks/stripe"))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(
        hook.status(),
        200,
        "{}",
        hook.text().await.unwrap_or_default()
    );
    b.wait_text("h2", "You are on pro", 20).await;
    b.assert_clean_console("billing done").await;

    // 5b. The loop: `viral demo`, beside the running server, posts its video to the local
    // tenant's sandbox channel and collects a simulated day's numbers; Analytics draws them,
    // labelled simulated.
    let demo = viral(&data, env, &["demo"]).output().unwrap();
    assert!(
        demo.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&demo.stdout),
        String::from_utf8_lossy(&demo.stderr)
    );
    b.click("a[href='/analytics']").await;
    b.wait_text("h2", "Views over time", 15).await;
    b.wait_text("table th[scope=row]", "simulated", 10).await;
    b.wait_text(".legend li", "simulated", 5).await;
    b.wait_text("h2", "What the learner believes", 5).await;
    b.capture("analytics", "h2", "Predicted against actual")
        .await;

    // 5c. Webhooks: an endpoint is added, its secret shown once; its deliveries are listed.
    b.click("a[href='/webhooks']").await;
    b.wait_text("h2", "Add an endpoint", 10).await;
    b.type_into("#hook-url", "https://hooks.example.com/viral")
        .await;
    b.click_text("button", "Add endpoint").await;
    let secret = b.wait_text("#new-secret", "whsec_", 10).await;
    assert_eq!(secret.len(), "whsec_".len() + 64, "{secret}");
    b.wait_text(".rows li", "hooks.example.com/viral", 10).await;
    b.click_text("button", "Deliveries").await;
    b.wait_text(".deliveries", "No deliveries yet", 10).await;
    b.capture("webhooks", ".deliveries", "No deliveries yet")
        .await;

    // 5d. Autopilot: turned on for the tenant's sandbox channel, waiting for approval, with no
    // quiet hours (so the day's one slot is due now); `viral up`'s scheduler runs it — trends,
    // concepts, the pick, the video — and it waits; one click posts it; the kill switch pauses.
    // GET /v1/autopilot answers 404 until autopilot is set; the browser logs that.
    b.allowed.push("404");
    b.click("a[href='/autopilot']").await;
    b.wait_text("h2", "Settings", 10).await;
    b.wait_text("[role=status]", "not set up yet", 10).await;
    b.wait_text("label.choice", "Browser channel", 10).await;
    b.client
        .find(Locator::XPath(
            "//label[contains(., 'Browser channel')]/input[@type='checkbox']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.type_into("#ap-per-day", "1").await;
    b.click("#ap-quiet").await;
    b.click_text("button", "Turn autopilot on").await;
    b.wait_text("[role=status]", "Autopilot is on", 10).await;
    b.wait_text(".runs li", "waiting for your approval", 120)
        .await;
    b.wait_text(".runs li", "Why this concept", 5).await;
    b.capture("autopilot", ".runs li", "waiting for your approval")
        .await;
    b.client
        .find(Locator::XPath(
            "//button[starts-with(normalize-space(.), 'Show the')]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.capture("autopilot-concepts", ".runs table", "(picked)")
        .await;
    b.click_text("button", "Approve and post").await;
    b.wait_text(".runs li", "posted", 20).await;
    b.click_text("button", "Pause…").await;
    b.click_text("button", "Pause autopilot").await;
    b.wait_text("[role=status]", "Autopilot is paused", 10)
        .await;
    b.assert_clean_console("autopilot").await;

    // 6. Another tenant's video is "not found" here.
    let other = json_of(
        &viral(
            &data,
            env,
            &["tenant", "create", "--name", "Other studio", "--json"],
        )
        .output()
        .unwrap(),
    );
    let other_key = other["api_key"].as_str().unwrap().to_owned();
    let job: Value = b
        .http
        .post(format!("{base}/v1/videos"))
        .bearer_auth(&other_key)
        .json(&json!({"prompt": "Someone else's video. It is private."}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other_job = job["job_id"].as_str().unwrap();
    b.goto(&format!("{base}/videos/{other_job}")).await;
    b.allowed.push("404");
    b.wait_text("h1", "Video not found", 10).await;
    b.capture("video-not-found", "[role=alert]", "not found")
        .await;

    // 7. Sign out; a wrong key shows an error (not a blank page); a real key signs in.
    b.click_text("button", "Sign out").await;
    b.wait_text("h1", "Sign in", 10).await;
    b.type_into("#api-key", "not-a-key").await;
    b.click_text("button", "Sign in with the key").await;
    b.wait_text("[role=alert]", "That is not an API key", 10)
        .await;
    let wrong = format!("vk_live_{}_{}", "A".repeat(12), "b".repeat(32));
    b.type_into("#api-key", &wrong).await;
    b.click_text("button", "Sign in with the key").await;
    b.allowed.push("401");
    b.wait_text("[role=alert]", "Not signed in. Invalid API key", 10)
        .await;
    b.capture("signin", "h1", "Sign in").await;
    b.type_into("#api-key", &other_key).await;
    b.click_text("button", "Sign in with the key").await;
    b.wait_text(".card h2", "Other studio", 15).await;
    b.assert_clean_console("signed in with a key").await;

    // 8. The OIDC provider: Authorization Code + PKCE through a local provider that checks
    // the verifier; the API verifies the ID token against the provider's JWKS and the
    // organisation gets its tenant. A callback this tab did not start is refused.
    // Signed out, a deep link asks for sign-in and, after the provider, lands where it aimed.
    b.click_text("button", "Sign out").await;
    b.wait_text("h1", "Sign in", 10).await;
    b.goto(&format!("{base}/billing")).await;
    b.click_text("button", "Sign in with your account").await;
    b.wait_text("h1", "Billing", 15).await;
    assert_eq!(b.path().await, "/billing");
    b.click("a[href='/']").await;
    b.wait_text(".card h2", "browser-org", 15).await;
    b.wait_text(".meter", "Videos", 5).await;
    b.assert_clean_console("signed in through OIDC").await;
    b.goto(&format!("{base}/auth/callback?code=forged&state=forged"))
        .await;
    b.wait_text("[role=alert]", "not started here", 10).await;
    b.assert_clean_console("a forged callback").await;

    // The page's budget: JavaScript size, gzipped, and the first useful paint on loopback.
    let js: usize = viral_web::Bundle::get()
        .javascript()
        .map(|a| gzip_len(&a.bytes))
        .sum();
    eprintln!(
        "dashboard: {} KB of JavaScript gzipped; signed in and overview drawn {:.0} ms after the link opened (debug build), layout shift {:.3}; screenshots in {}",
        js / 1024,
        paint["at"].as_f64().unwrap_or_default(),
        paint["shift"].as_f64().unwrap_or_default(),
        b.shots.display()
    );
    assert!(js <= 150 * 1024, "{js} bytes of JavaScript gzipped");
    b.client.close().await.unwrap();
}

/// The pages, assets and config as `viral up` serves them: security headers, caching, deep
/// links, and the API's JSON 404 left alone for paths that are not pages.
async fn served_with_its_headers(base: &str) {
    let http = reqwest::Client::new();
    let index = http
        .get(format!("{base}/concepts/cn_anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(index.status(), 200, "a deep link serves the app");
    let h = index.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap().to_owned();
    for directive in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "default-src 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-cache");
    let html = index.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "no inline script or style"
    );
    let app = html
        .split('"')
        .find(|s| s.starts_with("/assets/app.") && s.ends_with(".js"))
        .expect("index.html names the hashed app.js");
    let asset = http.get(format!("{base}{app}")).send().await.unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let config: Value = http
        .get(format!("{base}/config.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["sign_in_links"], true, "{config}");
    for path in ["/nope", "/v1/nope", "/assets/app.js"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let api_404: Value = http
        .get(format!("{base}/v1/nope"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api_404["error"]["code"], "route_not_found");
}

/// A small OIDC provider on loopback speaking the Authorization Code flow with PKCE (S256):
/// `/authorize` redirects back with a code, `/token` checks the verifier against the
/// challenge and answers with an RS256 ID token, `/.well-known/jwks.json` has its key.
mod idp {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::{Query, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Redirect, Response};
    use axum::routing::{get, post};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;
    use sha2::{Digest, Sha256};

    pub const CLIENT_ID: &str = "dashboard-client";
    const KEY: &[u8] = include_bytes!("../../api/tests/fixtures/rsa_private.pem");
    const JWKS: &str = include_str!("../../api/tests/fixtures/jwks.json");

    #[derive(Clone, Default)]
    struct Idp {
        issuer: String,
        /// code → (challenge, redirect_uri)
        codes: Arc<Mutex<HashMap<String, (String, String)>>>,
    }

    pub async fn start() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Idp {
            issuer: issuer.clone(),
            ..Default::default()
        };
        let app = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route(
                "/.well-known/jwks.json",
                get(|| async { ([("content-type", "application/json")], JWKS) }),
            )
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        issuer
    }

    async fn authorize(
        State(idp): State<Idp>,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        let ok = q.get("response_type").map(String::as_str) == Some("code")
            && q.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && q.get("code_challenge_method").map(String::as_str) == Some("S256")
            && q.get("scope")
                .is_some_and(|s| s.split(' ').any(|x| x == "openid"));
        let (Some(challenge), Some(redirect), Some(state)) = (
            q.get("code_challenge"),
            q.get("redirect_uri"),
            q.get("state"),
        ) else {
            return (StatusCode::BAD_REQUEST, "missing parameters").into_response();
        };
        if !ok {
            return (StatusCode::BAD_REQUEST, "unsupported request").into_response();
        }
        let code = format!("code{}", idp.codes.lock().unwrap().len() + 1);
        idp.codes
            .lock()
            .unwrap()
            .insert(code.clone(), (challenge.clone(), redirect.clone()));
        Redirect::to(&format!("{redirect}?code={code}&state={state}")).into_response()
    }

    async fn token(State(idp): State<Idp>, body: String) -> Response {
        let f: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let refuse = |what: &str| {
            (
                StatusCode::BAD_REQUEST,
                [("access-control-allow-origin", "*")],
                axum::Json(json!({"error": "invalid_grant", "error_description": what})),
            )
                .into_response()
        };
        let Some((challenge, redirect)) = f
            .get("code")
            .and_then(|c| idp.codes.lock().unwrap().remove(c))
        else {
            return refuse("unknown or used code");
        };
        let verifier = f.get("code_verifier").cloned().unwrap_or_default();
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
            return refuse("the verifier does not match the challenge");
        }
        if f.get("redirect_uri") != Some(&redirect)
            || f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
            || f.get("grant_type").map(String::as_str) != Some("authorization_code")
        {
            return refuse("redirect_uri, client_id or grant_type do not match");
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({
            "iss": idp.issuer, "aud": CLIENT_ID, "sub": "user_browser", "iat": now,
            "exp": now + 600, "o": {"id": "org_browser", "rol": "org:admin", "slg": "browser-org"}
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some("test-rsa".into());
        let id_token = jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_rsa_pem(KEY).unwrap(),
        )
        .unwrap();
        (
            [("access-control-allow-origin", "*")],
            axum::Json(json!({
                "id_token": id_token, "access_token": "opaque", "token_type": "Bearer", "expires_in": 600
            })),
        )
            .into_response()
    }
}

/// TikTok on loopback: Login Kit's authorize page (which consents at once and sends the browser
/// back with a code), the token and user endpoints, and the Content Posting API's
/// `creator_info` (a creator who turned duets off), `video/init`, the upload and `status/fetch`.
mod tiktok {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use axum::Router;
    use axum::extract::Query;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Redirect, Response};
    use axum::routing::{get, post, put};
    use serde_json::{Value, json};

    pub const CLIENT_KEY: &str = "tiktok-dashboard-key";
    static INITS: Mutex<Vec<Value>> = Mutex::new(Vec::new());
    static BASE: Mutex<String> = Mutex::new(String::new());

    pub fn inits() -> Vec<Value> {
        INITS.lock().unwrap().clone()
    }

    fn ok(data: Value) -> Response {
        axum::Json(json!({"data": data, "error": {"code": "ok", "message": "", "log_id": "L"}}))
            .into_response()
    }

    fn authorized(h: &HeaderMap) -> bool {
        h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer act.dashboard")
    }

    pub async fn start() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        *BASE.lock().unwrap() = base.clone();
        let app = Router::new()
            .route("/v2/auth/authorize/", get(authorize))
            .route("/v2/oauth/token/", post(|| async {
                axum::Json(json!({"access_token": "act.dashboard", "expires_in": 7200, "open_id": "open-dash",
                    "refresh_token": "rft.dashboard", "refresh_expires_in": 15_552_000,
                    "scope": "user.info.basic,video.publish,video.upload,video.list", "token_type": "Bearer"}))
            }))
            .route("/v2/user/info/", get(|h: HeaderMap| async move {
                if !authorized(&h) { return StatusCode::UNAUTHORIZED.into_response(); }
                ok(json!({"user": {"open_id": "open-dash", "display_name": "Octo Facts"}}))
            }))
            .route("/v2/post/publish/creator_info/query/", post(|h: HeaderMap| async move {
                if !authorized(&h) { return StatusCode::UNAUTHORIZED.into_response(); }
                ok(json!({"creator_username": "octofacts", "creator_nickname": "Octo Facts",
                    "privacy_level_options": ["FOLLOWER_OF_CREATOR", "SELF_ONLY"],
                    "comment_disabled": false, "duet_disabled": true, "stitch_disabled": false,
                    "max_video_post_duration_sec": 600}))
            }))
            .route("/v2/post/publish/video/init/", post(|h: HeaderMap, body: String| async move {
                if !authorized(&h) { return StatusCode::UNAUTHORIZED.into_response(); }
                INITS.lock().unwrap().push(serde_json::from_str(&body).unwrap());
                let base = BASE.lock().unwrap().clone();
                ok(json!({"publish_id": "v_pub_file~v2-1.dash", "upload_url": format!("{base}/upload/")}))
            }))
            .route("/upload/", put(|| async { StatusCode::CREATED }))
            .route("/v2/post/publish/status/fetch/", post(|h: HeaderMap| async move {
                if !authorized(&h) { return StatusCode::UNAUTHORIZED.into_response(); }
                ok(json!({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7_400_000_000_000_000_001_u64]}))
            }));
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        base
    }

    async fn authorize(Query(q): Query<HashMap<String, String>>) -> Response {
        if q.get("client_key").map(String::as_str) != Some(CLIENT_KEY) {
            return (StatusCode::BAD_REQUEST, "unknown client_key").into_response();
        }
        let (Some(redirect), Some(state)) = (q.get("redirect_uri"), q.get("state")) else {
            return (StatusCode::BAD_REQUEST, "missing parameters").into_response();
        };
        let state = url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>();
        Redirect::to(&format!("{redirect}?code=dash-code&state={state}")).into_response()
    }
}

/// Size after gzip, by the ffmpeg-free route: Python's zlib is on every test machine.
fn gzip_len(bytes: &[u8]) -> usize {
    let python = std::env::var("VIRAL_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = std::process::Command::new(python)
        .args(["-c", "import sys,gzip; sys.stdout.write(str(len(gzip.compress(sys.stdin.buffer.read(), 9))))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
