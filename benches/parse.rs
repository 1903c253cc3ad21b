//! Parse-and-validate throughput and memory on data.json, against serde_json in the same run.
//!
//! `cargo bench --bench parse` writes a generated catalog of `DTINDEX_BENCH_BYTES` bytes
//! (default 1 GiB) under target/, then measures, run by run:
//! - the baseline the goal is set against: a raw `serde_json::Value` parse of the same
//!   bytes from memory (the whole tree built, as a naive harvester would);
//! - a stricter one: serde_json reading the file without building anything (`IgnoredAny`,
//!   the fastest a JSON reader can go, in constant memory);
//! - dtindex: streaming parse, POD v1.1 schema check of every record, normalisation and
//!   tallying, exactly as a crawl does (`harvest::read_file`);
//! - the peak resident memory of the dtindex pass (VmHWM, reset before it).
//!
//! And on the largest real catalog of the corpus when ../shared/corpus is there, against a
//! full `serde_json::Value` parse of it. Figures go to stdout as a table; BENCHMARKS.md
//! records them.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use dtindex::harvest::{self, DatasetSink};
use dtindex::registry::CatalogFormat;

fn generate(path: &Path, target_bytes: u64) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    out.write_all(b"{\"conformsTo\":\"https://project-open-data.cio.gov/v1.1/schema\",\"@type\":\"dcat:Catalog\",\"dataset\":[\n")?;
    let mut written = 0u64;
    let mut i = 0u64;
    while written < target_bytes {
        let sep = if i == 0 { "" } else { ",\n" };
        // Mostly complete records, some missing fields, as real catalogs are.
        let keywords = if i.is_multiple_of(7) {
            String::new()
        } else {
            format!(",\"keyword\":[\"dân cư\",\"thống kê\",\"k{}\"]", i % 97)
        };
        let record = format!(
            "{sep}{{\"@type\":\"dcat:Dataset\",\"identifier\":\"vn-{i:09}\",\"title\":\"Cơ sở dữ liệu số {i} — Sở Tài nguyên và Môi trường\",\
\"description\":\"Dữ liệu quan trắc môi trường định kỳ, bản ghi {i}, gồm các chỉ tiêu chất lượng nước, không khí và đất.\"{keywords},\
\"modified\":\"2026-{:02}-{:02}\",\"publisher\":{{\"@type\":\"org:Organization\",\"name\":\"UBND tỉnh {}\"}},\
\"contactPoint\":{{\"@type\":\"vcard:Contact\",\"fn\":\"Phòng Dữ liệu\",\"hasEmail\":\"mailto:dulieu{}@example.gov.vn\"}},\
\"accessLevel\":\"public\",\"license\":\"https://creativecommons.org/licenses/by/4.0/\",\"accrualPeriodicity\":\"R/P1M\",\
\"spatial\":\"Việt Nam\",\"temporal\":\"2020-01-01/2026-12-31\",\"theme\":[\"Môi trường\"],\
\"distribution\":[{{\"@type\":\"dcat:Distribution\",\"downloadURL\":\"https://data.example.gov.vn/{i}.csv\",\"mediaType\":\"text/csv\",\"format\":\"CSV\"}},\
{{\"@type\":\"dcat:Distribution\",\"accessURL\":\"https://api.example.gov.vn/v1/datasets/{i}\",\"format\":\"API\"}}]}}",
            1 + i % 12,
            1 + i % 28,
            i % 34,
            i % 50
        );
        out.write_all(record.as_bytes())?;
        written += record.len() as u64;
        i += 1;
    }
    out.write_all(b"\n]}\n")?;
    out.flush()?;
    Ok(i)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn reset_peak_rss() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn baseline_ignored(path: &Path) -> f64 {
    let started = Instant::now();
    let file = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(path).unwrap());
    let _: serde::de::IgnoredAny = serde_json::from_reader(file).unwrap();
    started.elapsed().as_secs_f64()
}

fn baseline_value(path: &Path) -> f64 {
    let bytes = std::fs::read(path).unwrap();
    let started = Instant::now();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    std::hint::black_box(&v);
    started.elapsed().as_secs_f64()
}

fn dtindex_pass(rt: &tokio::runtime::Runtime, path: &Path) -> (f64, usize) {
    let started = Instant::now();
    let (obs, _) = rt
        .block_on(harvest::read_file(
            path,
            CatalogFormat::Auto,
            DatasetSink::default(),
        ))
        .unwrap();
    assert!(
        matches!(obs.outcome, dtindex::observation::CatalogOutcome::Parsed),
        "{:?}",
        obs.outcome
    );
    (started.elapsed().as_secs_f64(), obs.datasets)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let bytes: u64 = std::env::var("DTINDEX_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let runs: usize = std::env::var("DTINDEX_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join(format!("catalog-{bytes}.json"));
    if !big.exists() {
        eprintln!("generating {} ({bytes} bytes)…", big.display());
        let records = generate(&big, bytes).unwrap();
        eprintln!("  {records} records");
    }
    let size = std::fs::metadata(&big).unwrap().len() as f64 / (1024.0 * 1024.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    println!(
        "| input | MiB | serde_json `Value` s | serde_json `IgnoredAny` s | dtindex s (median, min–max) | dtindex/`Value` throughput | dtindex/`IgnoredAny` throughput | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let (mut value, mut ignored, mut ours) = (Vec::new(), Vec::new(), Vec::new());
    let (mut vs_value, mut vs_ignored) = (Vec::new(), Vec::new());
    let mut rss: f64 = 0.0;
    let mut records = 0;
    for run in 0..runs {
        // dtindex first: the `Value` baseline leaves gigabytes the allocator keeps, which
        // would count as dtindex's peak on later runs; so the peak is the first run's.
        reset_peak_rss();
        let (d, n) = dtindex_pass(&rt, &big);
        if run == 0 {
            rss = peak_rss_mib();
        }
        let v = baseline_value(&big);
        let b = baseline_ignored(&big);
        records = n;
        vs_value.push(v / d);
        vs_ignored.push(b / d);
        value.push(v);
        ignored.push(b);
        ours.push(d);
    }
    let (lo, hi) = (
        ours.iter().copied().fold(f64::INFINITY, f64::min),
        ours.iter().copied().fold(0.0, f64::max),
    );
    println!(
        "| generated data.json, {records} records | {size:.0} | {:.2} | {:.2} | {:.2} ({lo:.2}–{hi:.2}) | {:.2}× | {:.2}× | {rss:.0} |",
        median(value),
        median(ignored),
        median(ours),
        median(vs_value),
        median(vs_ignored)
    );

    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/datajson/us-cdc_data.cdc.gov_data.json");
    if corpus.exists() {
        let size = std::fs::metadata(&corpus).unwrap().len() as f64 / (1024.0 * 1024.0);
        let (mut base, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs.max(5) {
            let b = baseline_value(&corpus);
            let (d, _) = dtindex_pass(&rt, &corpus);
            ratios.push(b / d);
            base.push(b);
            ours.push(d);
        }
        println!(
            "| CDC data.json (corpus; baseline: full Value parse) | {size:.1} | {:.3} | {:.3} | {:.2}× | — |",
            median(base),
            median(ours),
            median(ratios)
        );
    }
}
