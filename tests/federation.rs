//! A province runs its own dtindex over its departments; the national dtindex registers
//! the province's DCAT export as the province's catalog and harvests it like any other,
//! page after page. Both are real daemons over HTTP.

use serde_json::Value;

mod common;

use common::{eventually, get_json, start};

#[tokio::test(flavor = "multi_thread")]
async fn a_national_dtindex_harvests_a_provincial_dtindex() {
    // The province: its departments' history, datasets included, and a hostile title.
    let provincial_dir = tempfile::tempdir().unwrap();
    let hostile = "<i>Sổ</i> =SUM(A1) & \"quoted\"";
    let (_province, province, _) =
        common::history_daemon(provincial_dir.path(), 3, 2, Some(hostile)).await;
    let (status, all) = get_json(&format!("{province}/api/v1/datasets?per_page=500")).await;
    assert_eq!(status, 200, "{all}");
    let total = all["total"].as_i64().unwrap();
    assert!(
        total > 60,
        "the seeded departments publish datasets: {total}"
    );
    let titles: Vec<&str> = all["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["title"].as_str())
        .collect();
    assert!(titles.contains(&hostile));

    // Search: folded words, a format, a kind, paging.
    let (_, found) = get_json(&format!("{province}/api/v1/datasets?q=ha+NOI")).await;
    assert!(found["total"].as_i64().unwrap() > 0, "{found}");
    assert!(
        found["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["title"].as_str().unwrap().contains("Hà Nội"))
    );
    let (_, csv) = get_json(&format!(
        "{province}/api/v1/datasets?format=csv&kind=ministry&per_page=1&page=2"
    ))
    .await;
    assert_eq!(csv["page"], 2);
    assert_eq!(csv["datasets"].as_array().unwrap().len(), 1);
    assert_eq!(csv["datasets"][0]["kind"], "ministry");
    assert!(
        csv["datasets"][0]["formats"]
            .as_array()
            .unwrap()
            .contains(&Value::from("CSV"))
    );
    let (status, _) = get_json(&format!("{province}/api/v1/datasets?per_page=0")).await;
    assert_eq!(status, 400);
    let (status, _) = get_json(&format!("{province}/api/v1/datasets?agency=NOPE")).await;
    assert_eq!(status, 404);

    // The nation: one agency, the province, whose catalog is the province's export in
    // pages of 40 (so the harvest follows hydra:next).
    let national_dir = tempfile::tempdir().unwrap();
    let registry = national_dir.path().join("agencies.toml");
    std::fs::write(
        &registry,
        format!(
            r#"[[agency]]
code = "01"
kind = "province"
name = "Thành phố Hà Nội"
name_ascii = "Thanh pho Ha Noi"
predecessors = []
catalog_url = "{province}/api/v1/catalog.jsonld?per_page=40"
catalog_format = "dcat"
"#
        ),
    )
    .unwrap();
    let config = national_dir.path().join("dtindex.toml");
    std::fs::write(
        &config,
        r#"registry = "agencies.toml"
[server]
listen = "127.0.0.1:0"
[state]
dir = "state"
[schedule]
cron = "0 0 0 1 1 *"
run_at_start = true
[links]
enabled = false
"#,
    )
    .unwrap();
    let (_nation, nation) = start(&["serve", "--config", config.to_str().unwrap()]);
    let harvested = eventually("the national cycle", || async {
        let (status, body) =
            get_json(&format!("{nation}/api/v1/datasets?agency=01&per_page=500")).await;
        (status == 200 && body["total"].as_i64().unwrap_or(0) > 0).then_some(body)
    })
    .await;
    assert_eq!(
        harvested["total"].as_i64().unwrap(),
        total,
        "every page harvested"
    );
    let (_, agency) = get_json(&format!("{nation}/api/v1/agencies/01")).await;
    assert_eq!(agency["catalog"]["outcome"], "parsed", "{agency}");
    assert_eq!(agency["datasets"].as_i64().unwrap(), total);
    // The same datasets, fields and all, the hostile title as it was.
    let key = |d: &Value| d["identifier"].as_str().unwrap_or_default().to_string();
    let mut theirs: Vec<Value> = all["datasets"].as_array().unwrap().clone();
    let mut ours: Vec<Value> = harvested["datasets"].as_array().unwrap().clone();
    theirs.sort_by_key(key);
    ours.sort_by_key(key);
    for (t, o) in theirs.iter().zip(&ours) {
        for field in [
            "identifier",
            "title",
            "modified",
            "license",
            "keywords",
            "formats",
            "download_urls",
        ] {
            assert_eq!(t[field], o[field], "{field} of {}", key(t));
        }
        assert_eq!(o["agency"], "01");
    }
    let (_, search) = get_json(&format!("{nation}/api/v1/datasets?q=sum(a1)")).await;
    assert!(
        search["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["title"] == hostile)
    );
}
