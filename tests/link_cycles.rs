//! Dataset links through whole cycles: the simulator publishes data files that answer by
//! plan (ok, 404, 500, moved, served as HTML), a crawler checks every link its catalogs
//! list, and what each agency is told must be exactly what was planned — broken only once
//! a link has failed in `broken_after_cycles` cycles in a row, and the links that worked
//! not asked again while their answer is fresh, nor failing ones before
//! `failure_recheck` (meanwhile they count as they stand).

use std::collections::HashMap;

use dtindex::config::{Live, Settings};
use dtindex::cycle::Crawler;
use dtindex::daemon;
use dtindex::links::LinkClass;
use dtindex::registry::Registry;
use dtindex::simulate::{self, FILES_HOST, FileAnswer, Profile};
use dtindex::store;
use tokio_util::sync::CancellationToken;

/// What the simulator's plan says each agency's links must count for.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Expected {
    links: i64,
    client_error: i64,
    server_error: i64,
    redirect: i64,
    mismatched: i64,
}

#[tokio::test(flavor = "multi_thread")]
async fn links_are_checked_each_cycle_and_broken_only_after_n_failures_in_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = simulate::launch(&Registry::builtin(), 21, listener)
        .await
        .unwrap();
    let mut settings = Settings::with_state_dir(dir.path().to_path_buf());
    sim.configure(&mut settings);
    settings.links.broken_after_cycles = 2;
    // The cycles here run back to back: failures are asked again at once.
    settings.links.failure_recheck = std::time::Duration::ZERO;
    let method = dtindex::score::Method::builtin();
    let (store, metrics) = daemon::open_store(&settings, &method).await.unwrap();
    let live = Live::new(sim.registry.clone(), method);
    let mut crawler: Crawler = daemon::crawler(&settings, live, store.clone(), metrics).unwrap();

    let files = format!(
        "http://{FILES_HOST}:{}/",
        sim.base.port().expect("the simulator's port")
    );
    let fed = &sim.federation;
    let mut expected: HashMap<String, Expected> = HashMap::new();
    for a in &fed.agencies {
        if !matches!(
            a.profile,
            Profile::Exemplary | Profile::Average | Profile::Neglected
        ) {
            continue;
        }
        let mut e = Expected::default();
        for (i, r) in fed.records(a, &files).iter().enumerate() {
            if r.download_url.is_none() {
                continue;
            }
            e.links += 1;
            match fed.file_answer(a, i) {
                FileAnswer::Ok => {}
                FileAnswer::Missing => e.client_error += 1,
                FileAnswer::ServerError => e.server_error += 1,
                FileAnswer::Moved => e.redirect += 1,
                FileAnswer::WrongType => e.mismatched += 1,
            }
        }
        expected.insert(a.code.clone(), e);
    }
    let failing: i64 = expected
        .values()
        .map(|e| e.client_error + e.server_error)
        .sum();
    assert!(failing > 0, "the plan has failing links to find");
    assert!(expected.values().any(|e| e.mismatched > 0));

    let cancel = CancellationToken::new();
    let first = crawler.run_cycle(&cancel).await.unwrap();
    let stage = crawler
        .links
        .as_ref()
        .expect("links are checked by default");
    let after_first = stage.checker.stats();

    // Every class is counted as planned, but nothing is broken after one failure.
    let snapshots = store.run(store::latest_snapshots).await.unwrap();
    for s in &snapshots {
        let Some(e) = expected.get(&s.code) else {
            continue;
        };
        let count = |class: LinkClass| {
            s.links
                .iter()
                .find(|(c, _)| *c == class)
                .map_or(0, |(_, n)| *n)
        };
        assert_eq!(
            (
                s.links.iter().map(|(_, n)| n).sum::<i64>(),
                count(LinkClass::ClientError),
                count(LinkClass::ServerError),
                count(LinkClass::Redirect),
            ),
            (e.links, e.client_error, e.server_error, e.redirect),
            "{}",
            s.code
        );
        assert_eq!(
            s.links_broken,
            Some(0),
            "{}: one failure is not broken",
            s.code
        );
    }
    let score_of = |report: &dtindex::cycle::CycleReport, code: &str| {
        report
            .ranked
            .iter()
            .find(|r| r.score.code == code)
            .expect("every agency is ranked")
            .score
            .clone()
    };
    for (code, e) in &expected {
        let score = score_of(&first, code);
        let rules: Vec<&str> = score.findings.iter().map(|f| f.rule.as_str()).collect();
        assert!(
            !rules.contains(&"Q.clean.broken-links"),
            "{code}: {rules:?}"
        );
        assert_eq!(
            rules.contains(&"Q.correct.served-type"),
            e.mismatched > 0,
            "{code}: {rules:?}"
        );
    }

    let second = crawler.run_cycle(&cancel).await.unwrap();
    let after_second = stage.checker.stats();
    // Links that worked were answered from the cache; the failing ones were asked again
    // (a HEAD, and the ranged GET that confirms a HEAD failure, and retries of a 500).
    let rechecked = after_second.checks - after_first.checks;
    assert_eq!(
        rechecked as i64, failing,
        "only failing links are checked again"
    );

    let snapshots = store.run(store::latest_snapshots).await.unwrap();
    for s in &snapshots {
        let Some(e) = expected.get(&s.code) else {
            continue;
        };
        assert_eq!(
            s.links_broken,
            Some(e.client_error + e.server_error),
            "{}: failed twice in a row",
            s.code
        );
        let score = score_of(&second, &s.code);
        let broken = score
            .findings
            .iter()
            .find(|f| f.rule == "Q.clean.broken-links");
        match broken {
            Some(f) => {
                assert!(e.client_error + e.server_error > 0);
                assert!(f.message.contains(&files), "names a link: {}", f.message);
            }
            None => assert_eq!(e.client_error + e.server_error, 0, "{}", s.code),
        }
    }
    // Within `failure_recheck`, nothing is asked again: the failures stand, and every
    // agency counts for exactly what it did.
    crawler
        .links
        .as_mut()
        .expect("links are checked")
        .failure_recheck = std::time::Duration::from_secs(3600);
    let third = crawler.run_cycle(&cancel).await.unwrap();
    let stage = crawler.links.as_ref().expect("links are checked");
    assert_eq!(
        stage.checker.stats().checks,
        after_second.checks,
        "no link is asked again"
    );
    let standing = store.run(store::latest_snapshots).await.unwrap();
    assert_eq!(standing.len(), snapshots.len());
    for (now, before) in standing.iter().zip(&snapshots) {
        assert_eq!(
            (&now.code, now.links_broken, &now.links),
            (&before.code, before.links_broken, &before.links)
        );
        let (a, b) = (score_of(&third, &now.code), score_of(&second, &now.code));
        assert_eq!(a.index, b.index, "{}", now.code);
        assert_eq!(
            a.findings.iter().map(|f| &f.message).collect::<Vec<_>>(),
            b.findings.iter().map(|f| &f.message).collect::<Vec<_>>(),
            "{}",
            now.code
        );
    }

    // An exemplary agency loses nothing to its links.
    let exemplary = fed
        .agencies
        .iter()
        .find(|a| a.profile == Profile::Exemplary)
        .unwrap();
    assert_eq!(score_of(&second, &exemplary.code).index, 1000.0);

    // The API lists an agency's links, broken ones first, with their history.
    let (code, e) = expected
        .iter()
        .find(|(_, e)| e.client_error > 0)
        .expect("an agency with a missing file");
    let code = code.clone();
    let records = store
        .run(move |c| store::agency_links(c, &code))
        .await
        .unwrap();
    assert_eq!(records.len() as i64, e.links);
    let first_record = &records[0];
    assert!(first_record.broken);
    assert_eq!(first_record.consecutive_failures, 2);
    assert!(first_record.first_failure.is_some());
}
