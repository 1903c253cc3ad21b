//! The pages in a real browser: headless Chromium driven over WebDriver (chromedriver),
//! against a daemon serving a seeded history. Each page in both languages: its content,
//! no console errors, nothing wider than a phone's screen, and a screenshot kept under
//! target/test-artifacts/pages/. Text a hostile agency published shows as text.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;

use serde_json::{Value, json};

mod common;

use common::{Proc, eventually};
use dtindex::pages::i18n::{EN, Lang, VI};

const HOSTILE: &str = r#"<script>window.pwned=1</script><b id="pwn">=HYPERLINK("http://x")</b>"#;
const CYCLES: u32 = 6;

/// A WebDriver session of a headless Chromium, on a profile of its own.
struct Browser {
    http: reqwest::Client,
    base: String,
    _driver: Proc,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Option<Browser> {
        common::tool("chromium", "chromium")?;
        let mut driver = common::tool("chromedriver", "chromium-driver")?;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Proc(
            driver
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        eventually("chromedriver", || async {
            let r = http.get(format!("{root}/status")).send().await.ok()?;
            let v: Value = serde_json::from_str(&r.text().await.ok()?).ok()?;
            v["value"]["ready"].as_bool().filter(|r| *r)
        })
        .await;
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"args": args, "binary": "/usr/bin/chromium"},
        }}});
        let session = send(http.post(format!("{root}/session")), Some(caps)).await;
        let id = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {session}"));
        Some(Browser {
            http,
            base: format!("{root}/session/{id}"),
            _driver: driver,
            _profile: profile,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let req = self.http.request(method, format!("{}{path}", self.base));
        let v = send(req, body).await;
        assert!(
            v["value"]["error"].is_null(),
            "WebDriver {path}: {}",
            v["value"]
        );
        v["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Runs `script` in the page (a function body) and returns what it returns.
    async fn eval(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    async fn text(&self, selector: &str) -> String {
        let v = self
            .eval(&format!(
                "const e = document.querySelector({}); return e ? e.innerText : null;",
                json!(selector)
            ))
            .await;
        v.as_str()
            .unwrap_or_else(|| panic!("no element {selector}"))
            .trim()
            .to_string()
    }

    async fn count(&self, selector: &str) -> u64 {
        self.eval(&format!(
            "return document.querySelectorAll({}).length;",
            json!(selector)
        ))
        .await
        .as_u64()
        .unwrap()
    }

    /// The console's errors since the last call (reading the log empties it).
    async fn console_errors(&self) -> Vec<String> {
        let log = self
            .call(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await;
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// The page as a PNG, kept under target/test-artifacts/pages/.
    async fn screenshot(&self, name: &str) {
        use base64::Engine as _;
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/pages");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Loads `url` and checks what every page must be: no console error, no script run
    /// by injected markup, nothing wider than the window.
    async fn visit(&self, url: &str, shot: &str) {
        self.open(url).await;
        assert_eq!(
            self.eval("return document.readyState;").await,
            "complete",
            "{url}"
        );
        let errors = self.console_errors().await;
        assert!(errors.is_empty(), "console errors on {url}: {errors:?}");
        assert_eq!(
            self.eval("return typeof window.pwned;").await,
            "undefined",
            "{url}"
        );
        assert_eq!(self.count("script, #pwn").await, 0, "{url}");
        let overflow = self
            .eval("return document.documentElement.scrollWidth - window.innerWidth;")
            .await;
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "{url} is wider than the window by {overflow}px"
        );
        self.screenshot(shot).await;
    }
}

/// A WebDriver request: a JSON body in, a JSON body out.
async fn send(req: reqwest::RequestBuilder, body: Option<Value>) -> Value {
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(b.to_string()),
        None => req,
    };
    let text = req.send().await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("WebDriver said {text}: {e}"))
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Close the session so chromedriver takes Chromium down with it.
        let http = self.http.clone();
        let base = self.base.clone();
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(http.delete(base).send()))
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_renders_in_both_languages_in_chromium() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_daemon, base, config) =
        common::history_daemon(dir.path(), 7, CYCLES, Some(HOSTILE)).await;
    let registry = dtindex::registry::Registry::builtin();
    let hostile = &registry.agencies[0];

    for (lang, t) in [(Lang::Vi, &VI), (Lang::En, &EN)] {
        let code = lang.code();
        // The national page.
        browser.resize(1280, 900).await;
        browser
            .visit(&format!("{base}/?lang={code}"), &format!("national-{code}"))
            .await;
        assert_eq!(
            browser.eval("return document.documentElement.lang;").await,
            code
        );
        assert_eq!(browser.text("h1").await, t.national_title);
        assert_eq!(browser.text("header a.lang").await, t.switch_to);
        assert_eq!(browser.count("table.ranking").await, 2);
        assert_eq!(
            browser.count("table.ranking tbody tr").await,
            registry.agencies.len() as u64
        );
        // Four targets and their eight parts, each against its goal.
        assert_eq!(browser.count("tr[data-target]").await, 12);
        let bands = [
            t.band_excellent,
            t.band_good,
            t.band_sufficient,
            t.band_poor,
        ];
        let band = browser.text("table.ranking tbody tr .band").await;
        assert!(bands.contains(&band.as_str()), "{band}");
        let headers = browser.text("table.ranking thead").await;
        for word in [t.rank, t.index, t.band, t.movement, "T1", "T4"] {
            assert!(headers.contains(word), "{word} in {headers}");
        }
        // After six cycles every agency has a movement, none is new.
        let moves = browser
            .eval("return [...document.querySelectorAll('table.ranking tbody tr td:nth-child(5)')].map(e => e.innerText.trim());")
            .await;
        assert!(
            moves
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m != t.movement_new && !m.as_str().unwrap().is_empty()),
            "{moves}"
        );

        // The agency whose declaration cites documents under a hostile number.
        let page = format!("{base}/agencies/{}?lang={code}", hostile.code);
        browser.visit(&page, &format!("agency-{code}")).await;
        assert_eq!(browser.text("#agency-name").await, hostile.name);
        assert!(browser.text("#index").await.parse::<f64>().is_ok());
        assert_eq!(browser.count("section.target").await, 4);
        assert_eq!(browser.count(".dims .dim").await, 4);
        assert_eq!(browser.count("svg.chart circle").await, u64::from(CYCLES));
        let findings_text = browser.text("#findings-table").await;
        assert!(
            findings_text.contains(HOSTILE),
            "the hostile number shows as text: {findings_text}"
        );
        let all = browser.count("#findings-table tbody tr").await;
        assert!(all > 0);
        let dims = browser.text(".dims").await;
        for d in [t.dim_sufficient, t.dim_correct, t.dim_clean, t.dim_alive] {
            assert!(dims.contains(d), "{d} in {dims}");
        }

        // Filtered to medium severity: fewer rows, each of them medium, and the CSV link
        // carries the same filter.
        browser
            .visit(
                &format!("{page}&severity=medium"),
                &format!("agency-medium-{code}"),
            )
            .await;
        let severities = browser
            .eval("return [...document.querySelectorAll('#findings-table tbody td.sev')].map(e => e.className);")
            .await;
        let severities = severities.as_array().unwrap();
        assert!(!severities.is_empty() && (severities.len() as u64) < all);
        assert!(
            severities.iter().all(|c| c == "sev medium"),
            "{severities:?}"
        );
        let csv_href = browser
            .eval("return document.querySelector('a[download]').getAttribute('href');")
            .await;
        let csv = reqwest::get(format!("{base}{}", csv_href.as_str().unwrap()))
            .await
            .unwrap();
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
        let body = csv.bytes().await.unwrap();
        let mut rows = csv::Reader::from_reader(&body[3..]);
        let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), severities.len());
        assert!(rows.iter().all(|r| &r[1] == "medium"));

        // The national catalog, searched for the hostile title: it shows as text.
        browser
            .visit(
                &format!("{base}/datasets?lang={code}&q=hyperlink"),
                &format!("datasets-{code}"),
            )
            .await;
        assert_eq!(browser.text("h1").await, t.catalog_title);
        assert_eq!(browser.count("#datasets-table tbody tr").await, 1);
        assert_eq!(browser.text("#datasets-table td.title").await, HOSTILE);
        browser
            .visit(
                &format!("{base}/datasets?lang={code}&kind=province&per_page=5&page=2"),
                &format!("datasets-page-2-{code}"),
            )
            .await;
        assert_eq!(browser.count("#datasets-table tbody tr").await, 5);
        assert_eq!(browser.text("a[rel=prev]").await, t.previous);
        assert_eq!(browser.text("a[rel=next]").await, t.next);

        // On a phone.
        browser.resize(390, 844).await;
        browser.visit(&page, &format!("agency-phone-{code}")).await;
        browser
            .visit(
                &format!("{base}/?lang={code}"),
                &format!("national-phone-{code}"),
            )
            .await;
        browser
            .visit(
                &format!("{base}/datasets?lang={code}"),
                &format!("datasets-phone-{code}"),
            )
            .await;

        // The month's HTML report, opened as a file, on a phone too.
        let report = std::process::Command::new(common::BIN)
            .args(["report", "--config", config.to_str().unwrap()])
            .args(["--period", "2026-06", "--format", "html", "--lang", code])
            .output()
            .unwrap();
        assert!(report.status.success());
        let file = dir.path().join(format!("report-{code}.html"));
        std::fs::write(&file, &report.stdout).unwrap();
        let url = format!("file://{}", file.display());
        browser.visit(&url, &format!("report-phone-{code}")).await;
        browser.resize(1280, 900).await;
        browser.visit(&url, &format!("report-{code}")).await;
        assert!(browser.text("h1").await.starts_with(t.report_title));
        assert_eq!(browser.count("svg").await, 2);

        // An unknown agency: a page in the language, with a 404.
        let missing = reqwest::get(format!("{base}/agencies/NOPE?lang={code}"))
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        assert!(missing.text().await.unwrap().contains(t.not_found));
    }
}

/// The switch links to the same page in the other language, filters kept.
#[tokio::test(flavor = "multi_thread")]
async fn the_language_switch_keeps_the_page_and_its_filters() {
    let dir = tempfile::tempdir().unwrap();
    let (_daemon, base, _) = common::history_daemon(dir.path(), 7, 2, None).await;
    let code = &dtindex::registry::Registry::builtin().agencies[3].code;
    let page = reqwest::get(format!("{base}/agencies/{code}?severity=low"))
        .await
        .unwrap();
    assert_eq!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .split(';')
            .next(),
        Some("default-src 'none'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"vi\">"));
    assert!(
        html.contains(&format!(
            "href=\"/agencies/{code}?lang=en&#38;severity=low\""
        )),
        "{html}"
    );
}
