//! The daemon's own surface, as an attacker on the network sees it: the public API is
//! read-only, requests are held to header and body limits, the admin endpoint needs the
//! bearer token and does not exist without one, and the token never reaches the logs.
//! The real binary, over HTTP.

use std::path::Path;
use std::process::{Command, Stdio};

use reqwest::StatusCode;

mod common;

use common::{BIN, eventually, get_json, start_command};

const TOKEN: &str = "s3cr3t-admin-token-0123456789abcdef";

fn write_settings(dir: &Path, extra_server: &str) -> std::path::PathBuf {
    let path = dir.join("dtindex.toml");
    std::fs::write(
        &path,
        format!(
            r#"registry = "agencies.toml"
[server]
listen = "127.0.0.1:0"
{extra_server}
[state]
dir = "state"
[schedule]
cron = "0 0 0 1 1 *"
run_at_start = true
[crawl]
extra_ca_file = "simulator-ca.pem"
[links]
allow_loopback = true
per_host_interval_ms = 1
[links.hosts]
"files.federation.dtindex" = "127.0.0.1"
"#
        ),
    )
    .unwrap();
    path
}

async fn cycle_id(base: &str) -> Option<i64> {
    let (status, body) = get_json(&format!("{base}/api/v1/rankings")).await;
    (status == 200)
        .then(|| body["cycle"]["id"].as_i64())
        .flatten()
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_needs_the_token_the_public_api_is_read_only_and_no_secret_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, _) = common::start_simulator(dir.path(), 13).await;
    let config = write_settings(dir.path(), "");
    let log = dir.path().join("daemon.log");
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--config", config.to_str().unwrap()])
        .env("DTINDEX_ADMIN_TOKEN", TOKEN)
        // Everything the daemon has to say, so that the secret has every chance to show.
        .env("RUST_LOG", "debug")
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
    let (mut daemon, base) = start_command(cmd);
    let first = eventually("the first cycle", || cycle_id(&base)).await;

    let client = reqwest::Client::new();
    let crawl = format!("{base}/api/v1/crawl");
    // Without the token, or with a wrong one: 401, and nothing starts.
    let none = client.post(&crawl).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(none.headers().contains_key("www-authenticate"));
    for wrong in [
        "Bearer wrong",
        "Bearer s3cr3t-admin-token-0123456789abcde",
        &format!("Bearer {TOKEN}x"),
        &format!("Basic {TOKEN}"),
        TOKEN,
    ] {
        let r = client
            .post(&crawl)
            .header("authorization", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{wrong}");
    }
    // A body over the limit is refused before anything else.
    let big = client
        .post(&crawl)
        .bearer_auth(TOKEN)
        .body(vec![b'x'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // With the token: a cycle starts (202), or one is running (409) and we ask again.
    eventually("an admin-started cycle", || async {
        let r = client.post(&crawl).bearer_auth(TOKEN).send().await.ok()?;
        match r.status() {
            StatusCode::ACCEPTED => Some(()),
            StatusCode::CONFLICT => None,
            other => panic!("POST /api/v1/crawl: {other}"),
        }
    })
    .await;
    eventually("the admin-started cycle finished", || async {
        cycle_id(&base).await.filter(|id| *id > first)
    })
    .await;

    // The public API is read-only: no other method than GET does anything.
    let before = get_json(&format!("{base}/api/v1/rankings")).await.1;
    for path in [
        "/api/v1/rankings",
        "/api/v1/national",
        "/api/v1/agencies/HNI",
        "/api/v1/agencies/HNI/findings",
        "/api/v1/agencies/HNI/history",
        "/api/v1/agencies/HNI/links",
        "/metrics",
        "/healthz",
    ] {
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            let r = client
                .request(method.parse().unwrap(), format!("{base}{path}"))
                .body("{}")
                .send()
                .await
                .unwrap();
            assert!(
                matches!(
                    r.status(),
                    StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND
                ),
                "{method} {path}: {}",
                r.status()
            );
        }
    }
    assert_eq!(get_json(&format!("{base}/api/v1/rankings")).await.1, before);

    // Header limit: 431, not a daemon that buffers whatever it is sent.
    let r = client
        .get(format!("{base}/api/v1/rankings"))
        .header("x-padding", "a".repeat(20 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    common::sigterm(&mut daemon);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("admin request refused"),
        "the log has the refusals"
    );
    assert!(!logged.contains(TOKEN), "the admin token is in the log");
    assert!(
        !logged.contains(&TOKEN[..16]),
        "part of the token is in the log"
    );

    // Without a token the admin endpoint does not exist.
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--config", config.to_str().unwrap()])
        .env_remove("DTINDEX_ADMIN_TOKEN")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit());
    let (_daemon, base) = start_command(cmd);
    let r = client
        .post(format!("{base}/api/v1/crawl"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[test]
fn a_bad_admin_token_is_a_clear_error_that_does_not_repeat_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dtindex.toml");
    let settings = |server: &str| {
        // The built-in registry: only the token can be wrong.
        let text = format!("[server]\n{server}\n");
        std::fs::write(&config, text).unwrap();
    };
    settings("admin_token = \"hunter2-short\"");
    let out = Command::new(BIN)
        .args(["check-config", "--config", config.to_str().unwrap()])
        .env_remove("DTINDEX_ADMIN_TOKEN")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    assert!(said.contains("at least 16 characters"), "{said}");
    assert!(!said.contains("hunter2"), "{said}");

    settings("");
    let out = Command::new(BIN)
        .args(["check-config", "--config", config.to_str().unwrap()])
        .env("DTINDEX_ADMIN_TOKEN", "tiny")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(said.contains("DTINDEX_ADMIN_TOKEN"), "{said}");
}
