//! `cargo bench --bench links`: the link checker's rate on loopback, one request per link,
//! at equal global and per-host concurrency (issue 9 compares it with lychee on the same
//! URLs). `DTINDEX_BENCH_LINKS` sets how many (default 100,000), `DTINDEX_BENCH_RUNS` how
//! many runs; the median, min and max are printed.

use std::time::{Duration, Instant};

use dtindex::links::{LinkChecker, LinkClass, LinkPolicy};
use url::Url;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let n = env("DTINDEX_BENCH_LINKS", 100_000);
    let runs = env("DTINDEX_BENCH_RUNS", 3);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().fallback(|| async { "ok" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut rates = Vec::new();
    for _ in 0..runs {
        // A fresh checker each run: no cache hit counts as a check.
        let links = LinkChecker::new(LinkPolicy {
            allow_loopback: true,
            global_concurrency: 128,
            per_host_concurrency: 128,
            per_host_interval: Duration::ZERO,
            retries: 0,
            ..LinkPolicy::default()
        })?;
        let urls: Vec<Url> = (0..n)
            .map(|i| Url::parse(&format!("http://{addr}/dataset/{i}.csv")))
            .collect::<Result<_, _>>()?;
        let started = Instant::now();
        let results = links.check_all(urls).await;
        let took = started.elapsed();
        anyhow::ensure!(
            results.len() == n,
            "{} results for {n} links",
            results.len()
        );
        anyhow::ensure!(
            results.values().all(|r| r.class == LinkClass::Ok),
            "a loopback link failed"
        );
        rates.push(n as f64 / took.as_secs_f64());
        eprintln!("{n} links in {took:.2?}; {:?}", links.stats());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "| links | concurrency | checks/s median | min | max |\n|---|---|---|---|---|\n| {n} | 128 | {:.0} | {:.0} | {:.0} |",
        rates[rates.len() / 2],
        rates[0],
        rates[rates.len() - 1]
    );
    Ok(())
}
