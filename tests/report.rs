//! `dtindex report` over a fixed simulated history (a seed, weekly cycles on fixed days):
//! the output must match the golden files in tests/golden/ byte for byte.
//!
//! To regenerate them after an intended change: `UPDATE_GOLDEN=1 cargo test --test report`,
//! then read the diff before committing it.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

const HOSTILE: &str = "<script>alert(1)</script> | =cmd";

fn report(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(common::BIN)
        .args(["report", "--config", config.to_str().unwrap()])
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn golden(name: &str, actual: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/report");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join(name), actual).unwrap();
        panic!(
            "{name} differs from its golden file; the output is in target/test-artifacts/report/{name} (UPDATE_GOLDEN=1 to accept it)"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_of_a_fixed_history_match_their_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    // Weekly from 2026-06-01 to 2026-10-12: a baseline before Q3, thirteen cycles in it.
    let config = common::write_history(dir.path(), 42, 20, Some(HOSTILE)).await;

    for (args, name) in [
        (
            &["--period", "2026-Q3", "--format", "md"][..],
            "report-2026-Q3.vi.md",
        ),
        (
            &["--period", "2026-Q3", "--format", "csv"][..],
            "report-2026-Q3.csv",
        ),
        (
            &["--period", "2026-Q3", "--format", "html"][..],
            "report-2026-Q3.vi.html",
        ),
        (
            &["--period", "2026-08", "--format", "md", "--lang", "en"][..],
            "report-2026-08.en.md",
        ),
        (
            &["--period", "2026", "--format", "md", "--lang", "en"][..],
            "report-2026.en.md",
        ),
    ] {
        let out = report(&config, args);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        golden(name, &out.stdout);
    }

    // What the golden files must show, whatever they are regenerated to.
    let md = String::from_utf8(report(&config, &["--period", "2026-Q3"]).stdout).unwrap();
    for heading in [
        "## Mức độ đạt mục tiêu",
        "## Xếp hạng",
        "## Tiến bộ nhiều nhất",
        "## Giảm nhiều nhất",
        "## Cơ quan cần chú ý",
        "## Các phát hiện chính",
    ] {
        assert!(md.contains(heading), "{heading}");
    }
    assert!(!md.contains("<script>"), "markup from a catalog is escaped");
    assert!(md.contains("\\<script\\>alert(1)\\</script\\> \\| =cmd"));
    let ranked = md
        .lines()
        .filter(|l| l.starts_with("| ") && l[2..].starts_with(|c: char| c.is_ascii_digit()))
        .count();
    assert_eq!(ranked, 51);
    let html =
        String::from_utf8(report(&config, &["--period", "2026-Q3", "--format", "html"]).stdout)
            .unwrap();
    assert_eq!(
        html.matches("<svg").count(),
        2,
        "the attainment bars and the trend"
    );
    assert!(!html.contains("<script>"));
    let csv = report(&config, &["--period", "2026-Q3", "--format", "csv"]).stdout;
    let mut rows = csv::Reader::from_reader(&csv[3..]);
    let sections: Vec<String> = rows.records().map(|r| r.unwrap()[0].to_string()).collect();
    assert_eq!(sections.iter().filter(|s| *s == "ranking").count(), 51);
    assert_eq!(sections.iter().filter(|s| *s == "attainment").count(), 36);
    assert!(sections.iter().any(|s| s == "improver") && sections.iter().any(|s| s == "decliner"));

    // No cycle in the period: a clear error, not an empty report.
    let none = report(&config, &["--period", "2025-Q1"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&none.stderr)
            .contains("no assessment cycle finished in that period")
    );
    let bad = report(&config, &["--period", "2026-Q5"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("2026-Q3 (a quarter)"));
}
