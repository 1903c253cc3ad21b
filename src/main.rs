//! The `dtindex` command line: the daemon, the demo, the simulator and the checks.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use dtindex::config::{self, Settings};
use dtindex::registry::AgencyKind;
use dtindex::registry::{CatalogFormat, Registry};
use dtindex::simulate;
use dtindex::{daemon, inspect, score};

#[derive(Parser)]
#[command(
    name = "dtindex",
    version,
    about = "Measures and ranks how ministries and provinces publish and share their data"
)]
struct Cli {
    /// Log format: human-readable text or JSON lines (for journald or Loki).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "DTINDEX_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: a cycle at start, then on the schedule; serve the API and metrics.
    Serve {
        /// The settings file; without it, built-in defaults and the built-in registry.
        #[arg(long, short, env = "DTINDEX_CONFIG")]
        config: Option<PathBuf>,
        /// Override the listen address of the settings.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run one cycle now, store it, and print the rankings.
    Crawl {
        #[arg(long, short, env = "DTINDEX_CONFIG")]
        config: Option<PathBuf>,
        /// Run this many cycles back to back (the later ones find the federation
        /// unchanged), each reported with its wall time, CPU time and the peak RSS so far.
        #[arg(long, default_value_t = 1)]
        cycles: u32,
    },
    /// Check the settings and the registry; report every error with file, line and column.
    CheckConfig {
        #[arg(long, short, env = "DTINDEX_CONFIG")]
        config: Option<PathBuf>,
        /// Check this registry instead of the one the settings name.
        #[arg(long)]
        registry: Option<PathBuf>,
    },
    /// Read one catalog (a file or a URL) and print its datasets, findings and score.
    Inspect {
        /// A local file or an http(s) URL.
        source: String,
        /// The catalog's format; `auto` recognises it.
        #[arg(long, default_value = "auto", value_parser = parse_format)]
        format: CatalogFormat,
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a list of links (one URL per line; `-` for stdin) as the daemon checks
    /// catalog links, and print one line per URL: class, status, URL.
    CheckLinks {
        /// The file of URLs, or `-` for stdin.
        input: PathBuf,
        /// Requests in flight at once, over all hosts.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Requests in flight at once to one host.
        #[arg(long, default_value_t = 4)]
        per_host: usize,
        /// The least time between two requests to one host, in milliseconds.
        #[arg(long, default_value_t = 50)]
        interval_ms: u64,
        #[arg(long, default_value_t = 15_000)]
        timeout_ms: u64,
        /// Retries of a link after a transient failure (5xx, 429, timeouts, resets).
        #[arg(long, default_value_t = 2)]
        retries: u32,
        /// Let links reach loopback addresses (the simulator, tests).
        #[arg(long)]
        allow_loopback: bool,
        /// One JSON object per URL instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Serve a simulated federation of every agency on loopback.
    Simulate {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// The seed the federation is drawn from: the same seed, the same federation.
        #[arg(long, default_value_t = 2023)]
        seed: u64,
        /// Write a registry pointing at the simulator here, for `serve --config`.
        #[arg(long)]
        write_registry: Option<PathBuf>,
        /// A benchmark's federation: this many agencies (the registry's, repeated under
        /// numbered codes past 51), every one publishing a data.json of `--datasets`
        /// records with `--links` links each.
        #[arg(long)]
        agencies: Option<usize>,
        #[arg(long, default_value_t = 2000, requires = "agencies")]
        datasets: usize,
        #[arg(long, default_value_t = 3, requires = "agencies")]
        links: usize,
    },
    /// Write the report of a month (2026-11), a quarter (2026-Q3) or a year (2026) from
    /// the stored cycles, to stdout.
    Report {
        #[arg(long, short, env = "DTINDEX_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long, value_parser = clap::value_parser!(dtindex::report::Period))]
        period: dtindex::report::Period,
        /// md, csv or html.
        #[arg(long, default_value = "md", value_parser = clap::value_parser!(dtindex::report::Format))]
        format: dtindex::report::Format,
        /// vi (the default) or en.
        #[arg(long, default_value = "vi")]
        lang: String,
    },
    /// Start the simulated federation and the daemon wired to it.
    Demo {
        #[arg(long, default_value = "dtindex-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value_t = 2023)]
        seed: u64,
    },
}

fn parse_format(s: &str) -> Result<CatalogFormat, String> {
    s.parse::<CatalogFormat>()
        .map_err(|e| format!("{e}; use one of {}", CatalogFormat::NAMES.join(", ")))
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("dtindex: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run_cli())
}

/// Caps glibc's malloc arenas at 4, before any thread starts, unless `MALLOC_ARENA_MAX`
/// says otherwise. glibc gives each thread that contends for the heap an arena of its own,
/// up to 8 per core, and memory freed in one arena is not reused by another: on the
/// national cycle (100 agencies × 2,000 datasets × 3 links) that was a fifth of the peak
/// RSS. Measured in BENCHMARKS.md: peak 253 MiB → 201 MiB; 2 arenas gave 173 MiB but a
/// 25 % slower first cycle.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called before any other
        // thread exists, so nothing allocates concurrently.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 4);
        }
    }
}

async fn run_cli() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dtindex: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_settings(path: Option<&Path>) -> anyhow::Result<Settings> {
    let mut settings = match path {
        Some(p) => Settings::load(p)?,
        None => {
            let state = std::env::var_os("STATE_DIRECTORY")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(config::DEFAULT_STATE_DIR));
            Settings::with_state_dir(state)
        }
    };
    // The environment's token wins over the file's: a secret kept out of the file.
    if let Some(token) = admin_token_from_env()? {
        settings.admin_token = Some(token);
    }
    Ok(settings)
}

/// `DTINDEX_ADMIN_TOKEN`, checked (the error never repeats it).
fn admin_token_from_env() -> anyhow::Result<Option<dtindex::admin::AdminToken>> {
    std::env::var_os("DTINDEX_ADMIN_TOKEN")
        .map(|t| {
            dtindex::admin::AdminToken::new(&t.to_string_lossy())
                .map_err(|e| anyhow::anyhow!("DTINDEX_ADMIN_TOKEN: {e}"))
        })
        .transpose()
}

/// Binds, then says where on stdout: tests and scripts read this line to find the port.
async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for the {what}"))?;
    let bound = listener.local_addr()?;
    println!("{what} listening on http://{bound}");
    std::io::stdout().flush().ok();
    Ok(listener)
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { config, listen } => {
            let mut settings = load_settings(config.as_deref())?;
            if let Some(listen) = listen {
                settings.listen = listen;
            }
            let registry = settings.load_registry()?;
            let listener = bind(settings.listen, "daemon").await?;
            let shutdown = CancellationToken::new();
            daemon::cancel_on_signals(shutdown.clone());
            daemon::run(settings, registry, listener, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Crawl { config, cycles } => {
            let settings = load_settings(config.as_deref())?;
            let method = settings.load_method()?;
            let (store, metrics) = daemon::open_store(&settings, &method).await?;
            let live = config::Live::new(settings.load_registry()?, method);
            let crawler = daemon::crawler(&settings, live, store, metrics)?;
            let shutdown = CancellationToken::new();
            daemon::cancel_on_signals(shutdown.clone());
            let mut report = None;
            for _ in 0..cycles.max(1) {
                let cpu = process_cpu_seconds();
                let r = crawler.run_cycle(&shutdown).await?;
                // One line per cycle, for bench/national-cycle.sh.
                println!(
                    "cycle {} finished in {:.2}s: cpu {:.2}s, peak rss {} MiB",
                    r.cycle_id,
                    r.duration.as_secs_f64(),
                    process_cpu_seconds() - cpu,
                    peak_rss_kib() / 1024
                );
                report = Some(r);
            }
            let Some(report) = report else {
                return Ok(ExitCode::SUCCESS);
            };
            println!(
                "{:>4}  {:<8} {:<9} {:>7}  name",
                "rank", "code", "kind", "index"
            );
            for r in &report.ranked {
                println!(
                    "{:>4}  {:<8} {:<9} {:>7.1}  {}",
                    r.rank, r.score.code, r.score.kind, r.score.index, r.score.name
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect {
            source,
            format,
            json,
        } => {
            let report =
                inspect::inspect(&source, format, &config::CrawlSettings::default()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", inspect::render_text(&report));
            }
            // A catalog that cannot be read fails the command, so scripts can gate on it.
            Ok(if report.outcome == "parsed" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::CheckConfig { config, registry } => {
            check_config(config.as_deref(), registry.as_deref())
        }
        Command::CheckLinks {
            input,
            concurrency,
            per_host,
            interval_ms,
            timeout_ms,
            retries,
            allow_loopback,
            json,
        } => {
            let policy = dtindex::links::LinkPolicy {
                global_concurrency: concurrency,
                per_host_concurrency: per_host,
                per_host_interval: Duration::from_millis(interval_ms),
                timeout: Duration::from_millis(timeout_ms),
                retries,
                allow_loopback,
                ..dtindex::links::LinkPolicy::default()
            };
            check_links(&input, policy, json).await
        }
        Command::Simulate {
            listen,
            seed,
            write_registry,
            agencies,
            datasets,
            links,
        } => {
            let listener = bind(listen, "simulated federation").await?;
            let scale = agencies.map(|agencies| simulate::Scale {
                agencies,
                datasets,
                links,
            });
            let registry = match scale {
                Some(scale) => scale.registry(&Registry::builtin()),
                None => Registry::builtin(),
            };
            let sim = simulate::launch_scaled(&registry, seed, scale, listener).await?;
            println!(
                "HTTPS services at {} (CA: see --write-registry)",
                sim.tls_base
            );
            if let Some(path) = write_registry {
                std::fs::write(&path, config::registry_to_toml(&sim.registry)?)
                    .with_context(|| format!("writing {}", path.display()))?;
                // Beside the registry, so a daemon can trust the simulator's HTTPS services
                // with `[crawl] extra_ca_file = "simulator-ca.pem"`, and check its data files
                // with `[links] allow_loopback = true` and
                // `[links.hosts] "files.federation.dtindex" = "127.0.0.1"`.
                let ca = path.with_file_name("simulator-ca.pem");
                std::fs::write(&ca, &sim.ca_pem)
                    .with_context(|| format!("writing {}", ca.display()))?;
                println!(
                    "registry pointing at the simulator written to {} (its CA: {})",
                    path.display(),
                    ca.display()
                );
            }
            std::io::stdout().flush().ok();
            let shutdown = CancellationToken::new();
            daemon::cancel_on_signals(shutdown.clone());
            shutdown.cancelled().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            config,
            period,
            format,
            lang,
        } => {
            let settings = load_settings(config.as_deref())?;
            let registry = settings.load_registry()?;
            let method = settings.load_method()?;
            let lang = dtindex::pages::i18n::Lang::from_param(Some(lang.as_str()));
            let url = settings.database_url.clone();
            // Read only: a daemon may be running a cycle on the same database.
            let store = tokio::task::spawn_blocking(move || dtindex::store::Store::open(&url))
                .await?
                .with_context(|| format!("opening the database {}", settings.database_url))?;
            let report = store
                .run(move |c| dtindex::report::build(c, &method, &registry, period))
                .await?;
            let Some(report) = report else {
                eprintln!("dtindex: no assessment cycle finished in that period");
                return Ok(ExitCode::FAILURE);
            };
            let bytes =
                dtindex::report::render(&report, format, lang).map_err(anyhow::Error::msg)?;
            std::io::stdout().write_all(&bytes)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            data_dir,
            listen,
            seed,
        } => {
            let sim = simulate::launch(
                &Registry::builtin(),
                seed,
                TcpListener::bind("127.0.0.1:0").await?,
            )
            .await?;
            let mut settings = Settings::with_state_dir(data_dir);
            settings.listen = listen;
            // The simulator answers in milliseconds; a demo cycle every ten minutes shows
            // history building up without hammering anything.
            settings.schedule.cron = "0 */10 * * * *".to_string();
            settings.crawl.total_timeout = Duration::from_secs(10);
            settings.crawl.agency_deadline = Duration::from_secs(30);
            sim.configure(&mut settings);
            // The simulator's failing files fail for good: the demo shows them as broken
            // from the first cycle.
            settings.links.broken_after_cycles = 1;
            let listener = bind(settings.listen, "daemon").await?;
            let addr = listener.local_addr()?;
            println!(
                "dtindex demo: {} simulated agencies (seed {seed}) at {} and {}",
                sim.registry.agencies.len(),
                sim.base,
                sim.tls_base
            );
            println!("  rankings:  http://{addr}/api/v1/rankings");
            println!("  an agency: http://{addr}/api/v1/agencies/01  (…/findings, …/history)");
            println!("  metrics:   http://{addr}/metrics");
            println!("  data:      {}", settings.database_url);
            println!("Ctrl-C to stop.");
            std::io::stdout().flush().ok();
            let shutdown = CancellationToken::new();
            daemon::cancel_on_signals(shutdown.clone());
            daemon::run(settings, sim.registry, listener, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn check_links(
    input: &Path,
    policy: dtindex::links::LinkPolicy,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let text = if input == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading URLs from stdin")?
    } else {
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?
    };
    let mut urls = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match url::Url::parse(line) {
            Ok(u) => urls.push(u),
            Err(e) => eprintln!("{}:{}: `{line}` is not a URL: {e}", input.display(), n + 1),
        }
    }
    let checker = dtindex::links::LinkChecker::new(policy)?;
    let started = std::time::Instant::now();
    let results = checker.check_all(urls.iter().cloned()).await;
    let elapsed = started.elapsed();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failures = 0usize;
    for url in &urls {
        let Some(r) = results.get(url) else { continue };
        failures += usize::from(r.class.is_failure());
        if json {
            let line = serde_json::json!({ "url": url.as_str(), "result": r });
            writeln!(out, "{line}")?;
        } else {
            let status = r.status.map_or("-".to_string(), |s| s.to_string());
            writeln!(out, "{}\t{status}\t{url}", r.class.as_str())?;
        }
    }
    out.flush()?;
    let stats = checker.stats();
    eprintln!(
        "{} links in {:.2} s ({:.0}/s): {failures} failing; {} requests, {} retries",
        results.len(),
        elapsed.as_secs_f64(),
        results.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        stats.requests,
        stats.retries
    );
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// User and system CPU time of this process so far (Linux; 0 elsewhere).
fn process_cpu_seconds() -> f64 {
    // Fields 14 and 15 of /proc/self/stat, after the parenthesised command name, in clock
    // ticks; the kernel's USER_HZ is 100 on every Linux this runs on.
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            Some(ticks as f64 / 100.0)
        })
        .unwrap_or(0.0)
}

/// The process's peak resident set (VmHWM) in KiB (Linux; 0 elsewhere).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn check_config(config: Option<&Path>, registry: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut errors = Vec::new();
    let settings = match config {
        Some(path) => match Settings::load(path) {
            Ok(s) => Some(s),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None => None,
    };
    let registry_path = registry
        .map(Path::to_path_buf)
        .or_else(|| settings.as_ref().and_then(|s| s.registry.clone()));
    let loaded = match &registry_path {
        Some(p) => Registry::load(p),
        None => Ok(Registry::builtin()),
    };
    let reg = match loaded {
        Ok(r) => Some(r),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let method = match settings
        .as_ref()
        .map_or(Ok(score::Method::builtin()), Settings::load_method)
    {
        Ok(m) => Some(m),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let token = admin_token_from_env();
    if !errors.is_empty() || token.is_err() {
        for e in &errors {
            eprintln!("{e}");
        }
        if let Err(e) = token {
            eprintln!("{e}");
        }
        return Ok(ExitCode::FAILURE);
    }
    if let Some(s) = &settings {
        println!(
            "settings ok: listen {}, database {}, schedule `{}` (UTC)",
            s.listen, s.database_url, s.schedule.cron
        );
    }
    if let Some(m) = &method {
        println!(
            "scoring method {} ok: {} targets in {} parts ({} points), quality {} points",
            m.version,
            m.targets.len(),
            m.parts().count(),
            m.targets_weight(),
            m.quality_weight
        );
    }
    if let Some(reg) = reg {
        let count = |k: AgencyKind| reg.agencies.iter().filter(|a| a.kind == k).count();
        let with_catalog = reg.agencies.iter().filter(|a| a.catalog.is_some()).count();
        let with_services = reg
            .agencies
            .iter()
            .filter(|a| !a.services.is_empty())
            .count();
        println!(
            "registry ok ({}): {} agencies ({} ministries, {} provinces); {} publish a catalog, {} register sharing services",
            registry_path.map_or_else(|| "built-in".to_string(), |p| p.display().to_string()),
            reg.agencies.len(),
            count(AgencyKind::Ministry),
            count(AgencyKind::Province),
            with_catalog,
            with_services
        );
    }
    Ok(ExitCode::SUCCESS)
}
