//! Configuration: the daemon's settings (`dtindex.toml`) and the registry of agencies
//! (`agencies.toml`).
//!
//! Both files are written by people, so loading them is a diagnostic exercise as much as a
//! parse: every problem is reported with its file, line and column and what to do about it,
//! and as many problems as can be found are reported in one go. To get there the file is
//! first parsed into a spanned TOML tree (which recovers from syntax errors), then each
//! section and each `[[agency]]` is deserialized on its own (so one agency's type error does
//! not hide another's), and finally the values are checked for meaning (URLs, cron, codes).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use url::Url;

use crate::registry::{
    Agency, AgencyKind, CatalogEndpoint, CatalogFormat, Registry, ServiceEndpoint,
};
use crate::score::Method;

/// The registry compiled into the binary, so that `dtindex demo` works from any directory.
pub const BUILTIN_REGISTRY: &str = include_str!("../config/agencies.toml");
const BUILTIN_REGISTRY_NAME: &str = "<built-in config/agencies.toml>";

/// One problem found in a configuration file, located precisely enough to jump to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if !self.help.is_empty() {
            write!(f, "\n    help: {}", self.help)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render(diagnostics: &[Diagnostic]) -> String {
    let mut out = format!(
        "{} problem{} in the configuration:",
        diagnostics.len(),
        if diagnostics.len() == 1 { "" } else { "s" }
    );
    for d in diagnostics {
        out.push('\n');
        out.push_str(&d.to_string());
    }
    out
}

impl ConfigError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid(d) => d,
            ConfigError::Read { .. } => &[],
        }
    }
}

/// Collects diagnostics for one source file, turning byte spans into line and column.
struct Reporter<'a> {
    file: &'a Path,
    source: &'a str,
    found: Vec<Diagnostic>,
}

impl<'a> Reporter<'a> {
    fn new(file: &'a Path, source: &'a str) -> Self {
        Reporter {
            file,
            source,
            found: Vec::new(),
        }
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>, help: impl Into<String>) {
        let (line, column) = line_column(self.source, span.start);
        self.found.push(Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
            help: help.into(),
        });
    }

    fn toml_error(&mut self, err: &toml::de::Error, help: &str) {
        let span = err.span().unwrap_or(0..0);
        self.error(span, err.message().trim().to_string(), help);
    }

    /// Deserializes one spanned subtree, reporting a type error instead of failing.
    fn decode<T: DeserializeOwned>(
        &mut self,
        value: Spanned<DeValue<'_>>,
        help: &str,
    ) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(v) => Some(v),
            Err(e) => {
                self.toml_error(&e, help);
                None
            }
        }
    }

    fn finish<T>(self, value: T) -> Result<T, ConfigError> {
        if self.found.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError::Invalid(self.found))
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn parse_document<'i>(rep: &mut Reporter<'_>, source: &'i str) -> Spanned<DeTable<'i>> {
    let (table, errors) = DeTable::parse_recoverable(source);
    for e in &errors {
        rep.toml_error(
            e,
            "fix the TOML syntax at this point (https://toml.io/en/v1.0.0)",
        );
    }
    table
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

// ---------------------------------------------------------------------------------------
// The registry

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgency {
    code: Spanned<String>,
    kind: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    name_ascii: Option<String>,
    #[serde(default)]
    predecessors: Vec<String>,
    #[serde(default)]
    catalog_url: Option<Spanned<String>>,
    #[serde(default)]
    catalog_format: Option<Spanned<String>>,
    #[serde(default)]
    catalog_organization: Option<String>,
    #[serde(default)]
    services: Vec<Spanned<RawService>>,
    #[serde(default)]
    declaration_url: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    url: Spanned<String>,
    #[serde(default)]
    platform: Option<Spanned<String>>,
    #[serde(default)]
    api_description: Option<Spanned<String>>,
    #[serde(default)]
    expect_status: Option<Spanned<u16>>,
    #[serde(default)]
    expect_body: Option<String>,
    #[serde(default)]
    timeout_ms: Option<Spanned<u64>>,
}

const AGENCY_HELP: &str = "each [[agency]] needs code, kind and name; optional: name_ascii, \
     predecessors, catalog_url, catalog_format, catalog_organization, services, declaration_url";

impl Registry {
    /// Loads and validates a registry file.
    pub fn load(path: &Path) -> Result<Registry, ConfigError> {
        let source = read(path)?;
        Registry::parse(path, &source)
    }

    /// The registry compiled into the binary (the 34 provinces and 17 ministries of 2025).
    pub fn builtin() -> Registry {
        // The built-in file is checked by a unit test, so this cannot fail in a release.
        Registry::parse(Path::new(BUILTIN_REGISTRY_NAME), BUILTIN_REGISTRY)
            .unwrap_or_else(|e| panic!("the built-in registry is invalid: {e}"))
    }

    /// Parses a registry from text; `file` only names it in diagnostics.
    pub fn parse(file: &Path, source: &str) -> Result<Registry, ConfigError> {
        let mut rep = Reporter::new(file, source);
        let doc = parse_document(&mut rep, source);
        let mut agencies = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let doc_span = doc.span();
        let mut doc = doc.into_inner();
        for (key, _) in doc.iter() {
            if key.get_ref().as_ref() != "agency" {
                rep.error(
                    key.span(),
                    format!("unknown top-level key `{}`", key.get_ref()),
                    "the registry holds only [[agency]] tables",
                );
            }
        }
        let list = doc.remove("agency");
        let Some(list) = list else {
            rep.error(doc_span, "no [[agency]] in the registry", AGENCY_HELP);
            return rep.finish(Registry { agencies });
        };
        let list_span = list.span();
        let DeValue::Array(items) = list.into_inner() else {
            rep.error(
                list_span,
                "`agency` must be an array of tables",
                "write each agency as [[agency]]",
            );
            return rep.finish(Registry { agencies });
        };
        for item in items {
            let span = item.span();
            let Some(raw) = rep.decode::<RawAgency>(item, AGENCY_HELP) else {
                continue;
            };
            if let Some(agency) = validate_agency(&mut rep, raw) {
                if let Some(first) = seen.get(&agency.code) {
                    let (line, _) = line_column(source, *first);
                    rep.error(
                        span,
                        format!("agency code `{}` is used twice", agency.code),
                        format!("it was first used on line {line}; codes must be unique"),
                    );
                    continue;
                }
                seen.insert(agency.code.clone(), span.start);
                agencies.push(agency);
            }
        }
        rep.finish(Registry { agencies })
    }
}

fn validate_agency(rep: &mut Reporter<'_>, raw: RawAgency) -> Option<Agency> {
    let before = rep.found.len();
    let code = raw.code.get_ref().trim().to_string();
    if code.is_empty()
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        rep.error(
            raw.code.span(),
            format!("agency code `{code}` is not valid"),
            "use letters, digits, `-` or `_` (it appears in URLs and metric labels), e.g. \"01\" or \"BTC\"",
        );
    }
    let kind = match raw.kind.get_ref().as_str() {
        "ministry" => Some(AgencyKind::Ministry),
        "province" => Some(AgencyKind::Province),
        other => {
            rep.error(
                raw.kind.span(),
                format!("unknown agency kind `{other}`"),
                "kind is \"ministry\" or \"province\"",
            );
            None
        }
    };
    if raw.name.get_ref().trim().is_empty() {
        rep.error(
            raw.name.span(),
            "agency name is empty",
            "give the agency's Vietnamese name",
        );
    }
    let catalog_url = optional_url(rep, raw.catalog_url.as_ref(), "catalog_url");
    let format = match &raw.catalog_format {
        None => CatalogFormat::Auto,
        Some(f) => match f.get_ref().parse::<CatalogFormat>() {
            Ok(format) => format,
            Err(e) => {
                rep.error(
                    f.span(),
                    e,
                    format!("supported formats: {}", CatalogFormat::NAMES.join(", ")),
                );
                CatalogFormat::Auto
            }
        },
    };
    let mut services = Vec::new();
    for s in &raw.services {
        let s = s.get_ref();
        let url = optional_url(rep, Some(&s.url), "services.url");
        let platform = s.platform.as_ref().map(|p| p.get_ref().trim().to_string());
        let api_description =
            optional_url(rep, s.api_description.as_ref(), "services.api_description");
        let mut check = crate::registry::ServiceCheck {
            expect_body: s.expect_body.clone().filter(|b| !b.is_empty()),
            ..Default::default()
        };
        if let Some(status) = &s.expect_status {
            if (100..=599).contains(status.get_ref()) {
                check.expect_status = Some(*status.get_ref());
            } else {
                rep.error(
                    status.span(),
                    format!("{} is not an HTTP status", status.get_ref()),
                    "write a status between 100 and 599, e.g. 200",
                );
            }
        }
        if let Some(ms) = &s.timeout_ms {
            if *ms.get_ref() == 0 {
                rep.error(
                    ms.span(),
                    "timeout_ms must be greater than zero",
                    "use a positive integer",
                );
            } else {
                check.timeout = Some(Duration::from_millis(*ms.get_ref()));
            }
        }
        if let Some(url) = url {
            services.push(ServiceEndpoint {
                url,
                platform: platform.filter(|p| !p.is_empty()),
                api_description,
                check,
            });
        } else if s.url.get_ref().trim().is_empty() {
            rep.error(
                s.url.span(),
                "a sharing service with an empty URL",
                "remove the entry, or give the service's URL on the LGSP/NDXP",
            );
        }
    }
    let declaration_url = optional_url(rep, raw.declaration_url.as_ref(), "declaration_url");
    if rep.found.len() > before {
        return None;
    }
    Some(Agency {
        code,
        kind: kind?,
        name: raw.name.into_inner().trim().to_string(),
        name_ascii: raw.name_ascii.unwrap_or_default(),
        predecessors: raw.predecessors,
        catalog: catalog_url.map(|url| CatalogEndpoint {
            url,
            format,
            organization: raw.catalog_organization.filter(|o| !o.trim().is_empty()),
        }),
        services,
        declaration_url,
    })
}

/// An optional http(s) URL: absent or empty means "not published".
fn optional_url(
    rep: &mut Reporter<'_>,
    value: Option<&Spanned<String>>,
    field: &str,
) -> Option<Url> {
    let value = value?;
    let text = value.get_ref().trim();
    if text.is_empty() {
        return None;
    }
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
        Ok(url) => {
            rep.error(
                value.span(),
                format!("{field} `{text}` is not an http(s) URL (scheme `{}`)", url.scheme()),
                "use an absolute http:// or https:// URL, or leave it empty if nothing is published",
            );
            None
        }
        Err(e) => {
            rep.error(
                value.span(),
                format!("{field} `{text}` is not a valid URL: {e}"),
                "use an absolute http:// or https:// URL, or leave it empty if nothing is published",
            );
            None
        }
    }
}

/// Writes a registry back as `agencies.toml` (the simulator uses it to point a daemon at
/// itself). Parsing the output gives the same registry.
pub fn registry_to_toml(registry: &Registry) -> Result<String, toml::ser::Error> {
    #[derive(serde::Serialize)]
    struct File<'a> {
        agency: Vec<Entry<'a>>,
    }
    #[derive(serde::Serialize)]
    struct Entry<'a> {
        code: &'a str,
        kind: &'a str,
        name: &'a str,
        name_ascii: &'a str,
        predecessors: &'a [String],
        catalog_url: String,
        catalog_format: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        catalog_organization: Option<&'a str>,
        services: Vec<Service<'a>>,
        declaration_url: String,
    }
    #[derive(serde::Serialize)]
    struct Service<'a> {
        url: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        platform: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        api_description: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        expect_status: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        expect_body: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    }
    let file = File {
        agency: registry
            .agencies
            .iter()
            .map(|a| Entry {
                code: &a.code,
                kind: a.kind.as_str(),
                name: &a.name,
                name_ascii: &a.name_ascii,
                predecessors: &a.predecessors,
                catalog_url: a
                    .catalog
                    .as_ref()
                    .map(|c| c.url.to_string())
                    .unwrap_or_default(),
                catalog_format: a.catalog.as_ref().map_or("auto", |c| c.format.as_str()),
                catalog_organization: a.catalog.as_ref().and_then(|c| c.organization.as_deref()),
                services: a
                    .services
                    .iter()
                    .map(|s| Service {
                        url: s.url.as_str(),
                        platform: s.platform.as_deref(),
                        api_description: s.api_description.as_ref().map(Url::as_str),
                        expect_status: s.check.expect_status,
                        expect_body: s.check.expect_body.as_deref(),
                        timeout_ms: s.check.timeout.map(|t| t.as_millis() as u64),
                    })
                    .collect(),
                declaration_url: a
                    .declaration_url
                    .as_ref()
                    .map(|u| u.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
    };
    toml::to_string(&file)
}

/// What a running daemon reloads on SIGHUP: the registry and the scoring method. A cycle
/// takes the current one when it starts and keeps it to the end, so a reload never mixes
/// two registries in one cycle.
#[derive(Clone)]
pub struct Live(std::sync::Arc<std::sync::RwLock<std::sync::Arc<LiveConfig>>>);

#[derive(Debug)]
pub struct LiveConfig {
    pub registry: Registry,
    pub method: Method,
    /// Counts the reloads: what was derived from an earlier version is out of date.
    pub version: u64,
}

impl Live {
    pub fn new(registry: Registry, method: Method) -> Live {
        Live(std::sync::Arc::new(std::sync::RwLock::new(
            std::sync::Arc::new(LiveConfig {
                registry,
                method,
                version: 0,
            }),
        )))
    }

    pub fn current(&self) -> std::sync::Arc<LiveConfig> {
        // A poisoned lock only means a writer panicked mid-swap of an Arc: the value is whole.
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, registry: Registry, method: Method) {
        let mut guard = match self.0.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let version = guard.version + 1;
        *guard = std::sync::Arc::new(LiveConfig {
            registry,
            method,
            version,
        });
    }
}

// ---------------------------------------------------------------------------------------
// The daemon's settings

/// Everything the daemon needs besides the registry.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file these settings were read from, reread on SIGHUP; `None` for built-in ones.
    pub source: Option<PathBuf>,
    /// Where the registry lives; `None` means the built-in one.
    pub registry: Option<PathBuf>,
    pub listen: SocketAddr,
    pub state_dir: PathBuf,
    pub database_url: String,
    /// How long a daemon holds an agency's crawl before another may take it over (on a
    /// database several daemons share); renewed at a third of it while the crawl runs.
    pub work_lease: Duration,
    pub schedule: ScheduleSettings,
    pub crawl: CrawlSettings,
    pub links: LinkSettings,
    /// Where the scoring method lives; `None` means the built-in one.
    pub targets: Option<PathBuf>,
    /// The admin endpoints' bearer token (`[server] admin_token`, or the environment's
    /// `DTINDEX_ADMIN_TOKEN`); `None` turns them off.
    pub admin_token: Option<crate::admin::AdminToken>,
}

/// Checking the catalogs' dataset links (`[links]`).
#[derive(Debug, Clone)]
pub struct LinkSettings {
    pub enabled: bool,
    /// Consecutive failed cycles before a link counts as broken.
    pub broken_after_cycles: u32,
    /// How long a failure stands before the link is asked again, so that the failures a
    /// link is counted broken for are this far apart at least: cycles run back to back
    /// (a manual `crawl --cycles 3`, a restart) cannot make one bad minute count three
    /// times, and an unchanged federation re-crawled within it asks nothing again.
    pub failure_recheck: Duration,
    /// Longest one agency's link checks may take; links not reached keep their history.
    pub deadline: Duration,
    /// The checker's limits and address policy; its extra CAs are the crawler's.
    pub policy: crate::links::LinkPolicy,
}

impl Default for LinkSettings {
    fn default() -> Self {
        LinkSettings {
            enabled: true,
            broken_after_cycles: 3,
            failure_recheck: Duration::from_secs(600),
            deadline: Duration::from_secs(600),
            policy: crate::links::LinkPolicy::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    /// Six-field cron expression (seconds first), evaluated in UTC.
    pub cron: String,
    pub run_at_start: bool,
}

#[derive(Debug, Clone)]
pub struct CrawlSettings {
    /// How many agencies are crawled at once.
    pub concurrency: usize,
    pub connect_timeout: Duration,
    /// Longest silence between two chunks of a body.
    pub read_timeout: Duration,
    /// Longest a whole request (headers and body) may take.
    pub total_timeout: Duration,
    /// Longest one agency (catalog and every probe) may take before it is cut off.
    pub agency_deadline: Duration,
    /// Largest catalog body accepted, after decompression.
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    /// Certificate authorities trusted besides the system's (PEM), e.g. a government PKI
    /// that browsers do not ship, or the simulator's.
    pub extra_roots_pem: Vec<String>,
}

impl Default for CrawlSettings {
    fn default() -> Self {
        CrawlSettings {
            concurrency: 8,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(15),
            total_timeout: Duration::from_secs(60),
            agency_deadline: Duration::from_secs(300),
            max_body_bytes: 64 * 1024 * 1024,
            max_redirects: 10,
            extra_roots_pem: Vec::new(),
        }
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_CRON: &str = "0 0 1 * * *";
pub const DEFAULT_STATE_DIR: &str = "dtindex-data";
pub const DEFAULT_WORK_LEASE: Duration = Duration::from_secs(60);

impl Settings {
    /// Defaults for a daemon keeping its state in `state_dir`.
    pub fn with_state_dir(state_dir: PathBuf) -> Settings {
        Settings {
            source: None,
            registry: None,
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080))),
            database_url: default_database_url(&state_dir),
            work_lease: DEFAULT_WORK_LEASE,
            state_dir,
            schedule: ScheduleSettings {
                cron: DEFAULT_CRON.to_string(),
                run_at_start: true,
            },
            crawl: CrawlSettings::default(),
            links: LinkSettings::default(),
            targets: None,
            admin_token: None,
        }
    }

    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let source = read(path)?;
        Settings::parse(path, &source)
    }

    /// Loads the scoring method these settings name, or the built-in one.
    pub fn load_method(&self) -> Result<Method, ConfigError> {
        match &self.targets {
            Some(path) => Method::load(path),
            None => Ok(Method::builtin()),
        }
    }

    /// Loads the registry these settings name, or the built-in one.
    pub fn load_registry(&self) -> Result<Registry, ConfigError> {
        match &self.registry {
            Some(path) => Registry::load(path),
            None => Ok(Registry::builtin()),
        }
    }

    pub fn parse(file: &Path, source: &str) -> Result<Settings, ConfigError> {
        let mut rep = Reporter::new(file, source);
        let doc = parse_document(&mut rep, source);
        let base = file.parent().unwrap_or(Path::new("."));
        let state_default = std::env::var_os("STATE_DIRECTORY")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        let mut settings = Settings::with_state_dir(state_default);
        settings.source = Some(file.to_path_buf());
        let mut database_url: Option<Spanned<String>> = None;

        for (key, value) in doc.into_inner() {
            let help = SECTION_HELP
                .iter()
                .find(|(name, _)| *name == key.get_ref().as_ref())
                .map(|(_, help)| *help);
            let Some(help) = help else {
                rep.error(
                    key.span(),
                    format!("unknown key `{}`", key.get_ref()),
                    format!(
                        "known keys: {}",
                        SECTION_HELP
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                continue;
            };
            match key.get_ref().as_ref() {
                "registry" => {
                    if let Some(path) = rep.decode::<Spanned<String>>(value, help) {
                        settings.registry = Some(base.join(path.get_ref()));
                    }
                }
                "server" => {
                    let Some(s) = rep.decode::<RawServer>(value, help) else {
                        continue;
                    };
                    if let Some(listen) = s.listen {
                        match listen.get_ref().parse::<SocketAddr>() {
                            Ok(addr) => settings.listen = addr,
                            Err(e) => rep.error(
                                listen.span(),
                                format!("listen address `{}` is not valid: {e}", listen.get_ref()),
                                "write an IP address and port, e.g. \"127.0.0.1:8080\" or \"[::]:8080\"",
                            ),
                        }
                    }
                    if let Some(token) = s.admin_token {
                        match crate::admin::AdminToken::new(token.get_ref()) {
                            Ok(t) => settings.admin_token = Some(t),
                            // The message never quotes the token.
                            Err(e) => rep.error(
                                token.span(),
                                e,
                                "generate one, e.g. `openssl rand -hex 32`, and keep the file readable by the daemon only (or set DTINDEX_ADMIN_TOKEN instead)",
                            ),
                        }
                    }
                }
                "state" => {
                    if let Some(s) = rep.decode::<RawState>(value, help)
                        && let Some(dir) = s.dir
                    {
                        settings.state_dir = base.join(dir);
                    }
                }
                "database" => {
                    if let Some(d) = rep.decode::<RawDatabase>(value, help) {
                        database_url = d.url;
                        if let Some(n) = positive(&mut rep, d.lease_secs, "lease_secs") {
                            settings.work_lease = Duration::from_secs(n);
                        }
                    }
                }
                "schedule" => {
                    if let Some(s) = rep.decode::<RawSchedule>(value, help) {
                        if let Some(cron) = s.cron {
                            if let Err(e) = crate::schedule::validate_cron(cron.get_ref()) {
                                rep.error(
                                    cron.span(),
                                    format!("cron `{}` is not valid: {e}", cron.get_ref()),
                                    CRON_HELP,
                                );
                            }
                            settings.schedule.cron = cron.into_inner();
                        }
                        if let Some(run) = s.run_at_start {
                            settings.schedule.run_at_start = run;
                        }
                    }
                }
                "crawl" => {
                    if let Some(c) = rep.decode::<RawCrawl>(value, help) {
                        apply_crawl(&mut rep, &mut settings.crawl, c, base);
                    }
                }
                "links" => {
                    if let Some(l) = rep.decode::<RawLinks>(value, help) {
                        apply_links(&mut rep, &mut settings.links, l);
                    }
                }
                "targets" => {
                    if let Some(path) = rep.decode::<Spanned<String>>(value, help) {
                        settings.targets = Some(base.join(path.get_ref()));
                    }
                }
                _ => {}
            }
        }

        settings.database_url = match database_url {
            Some(url) if !url.get_ref().trim().is_empty() => {
                if let Err(e) = crate::store::check_database_url(url.get_ref()) {
                    rep.error(url.span(), e.to_string(), "leave it empty for a SQLite file in the state directory, or write sqlite:///path/to/dtindex.sqlite or postgres://user@host/database");
                }
                url.into_inner()
            }
            _ => default_database_url(&settings.state_dir),
        };
        rep.finish(settings)
    }
}

fn default_database_url(state_dir: &Path) -> String {
    format!("sqlite://{}", state_dir.join("dtindex.sqlite").display())
}

const CRON_HELP: &str = "six fields, seconds first, in UTC: \"sec min hour day-of-month month day-of-week\", e.g. \"0 0 1 * * *\" for 01:00 UTC daily";

const SECTION_HELP: &[(&str, &str)] = &[
    (
        "registry",
        "registry = \"agencies.toml\" (a path relative to this file)",
    ),
    (
        "server",
        "[server] takes listen = \"127.0.0.1:8080\" and admin_token = \"…\" (at least 16 characters; turns on POST /api/v1/crawl)",
    ),
    ("state", "[state] takes dir = \"/var/lib/dtindex\""),
    (
        "database",
        "[database] takes url = \"sqlite:///var/lib/dtindex/dtindex.sqlite\" (or \"postgres://user@host/db\") and lease_secs = 60",
    ),
    (
        "schedule",
        "[schedule] takes cron = \"0 0 1 * * *\" and run_at_start = true",
    ),
    (
        "crawl",
        "[crawl] takes concurrency, connect_timeout_secs, read_timeout_secs, total_timeout_secs, \
         agency_deadline_secs, max_body_bytes, max_redirects (positive integers) and extra_ca_file (a path)",
    ),
    (
        "links",
        "[links] takes enabled, broken_after_cycles, failure_recheck_secs, deadline_secs, global_concurrency, \
         per_host_concurrency, per_host_interval_ms, timeout_ms, retries, cache_ttl_secs, \
         head_first, allow_loopback, allow_private, allow_networks (a list of CIDR ranges) \
         and a [links.hosts] table of name = \"address\"",
    ),
    (
        "targets",
        "targets = \"targets.toml\": the scoring method (targets, weights, bands), relative to this file",
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinks {
    enabled: Option<bool>,
    broken_after_cycles: Option<Spanned<u64>>,
    failure_recheck_secs: Option<u64>,
    deadline_secs: Option<Spanned<u64>>,
    global_concurrency: Option<Spanned<u64>>,
    per_host_concurrency: Option<Spanned<u64>>,
    per_host_interval_ms: Option<u64>,
    timeout_ms: Option<Spanned<u64>>,
    retries: Option<u32>,
    cache_ttl_secs: Option<u64>,
    head_first: Option<bool>,
    allow_loopback: Option<bool>,
    allow_private: Option<bool>,
    #[serde(default)]
    allow_networks: Vec<Spanned<String>>,
    #[serde(default)]
    hosts: std::collections::BTreeMap<String, Spanned<String>>,
}

fn apply_links(rep: &mut Reporter<'_>, links: &mut LinkSettings, raw: RawLinks) {
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let p = &mut links.policy;
    if let Some(e) = raw.enabled {
        links.enabled = e;
    }
    if let Some(n) = positive(rep, raw.broken_after_cycles, "broken_after_cycles") {
        links.broken_after_cycles = u32::try_from(n).unwrap_or(u32::MAX);
    }
    if let Some(n) = raw.failure_recheck_secs {
        links.failure_recheck = Duration::from_secs(n);
    }
    if let Some(n) = positive(rep, raw.deadline_secs, "deadline_secs") {
        links.deadline = Duration::from_secs(n);
    }
    if let Some(n) = positive(rep, raw.global_concurrency, "global_concurrency") {
        p.global_concurrency = to_usize(n);
    }
    if let Some(n) = positive(rep, raw.per_host_concurrency, "per_host_concurrency") {
        p.per_host_concurrency = to_usize(n);
    }
    if let Some(n) = raw.per_host_interval_ms {
        p.per_host_interval = Duration::from_millis(n);
    }
    if let Some(n) = positive(rep, raw.timeout_ms, "timeout_ms") {
        p.timeout = Duration::from_millis(n);
    }
    if let Some(n) = raw.retries {
        p.retries = n;
    }
    if let Some(n) = raw.cache_ttl_secs {
        p.cache_ttl = Duration::from_secs(n);
    }
    if let Some(b) = raw.head_first {
        p.head_first = b;
    }
    if let Some(b) = raw.allow_loopback {
        p.allow_loopback = b;
    }
    if let Some(b) = raw.allow_private {
        p.allow_private = b;
    }
    for net in raw.allow_networks {
        match crate::links::address::Network::parse(net.get_ref()) {
            Ok(_) => p.allow_networks.push(net.into_inner()),
            Err(reason) => rep.error(
                net.span(),
                format!("`{}` is not a network: {reason}", net.get_ref()),
                "write an address or a CIDR range such as \"10.20.0.0/16\"",
            ),
        }
    }
    for (name, addr) in raw.hosts {
        match addr.get_ref().parse::<std::net::IpAddr>() {
            Ok(ip) => {
                p.hosts.insert(name, ip);
            }
            Err(e) => rep.error(
                addr.span(),
                format!("`{}` is not an IP address: {e}", addr.get_ref()),
                "write the address the name should resolve to, e.g. \"10.20.1.5\"",
            ),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    admin_token: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    dir: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<Spanned<String>>,
    lease_secs: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    cron: Option<Spanned<String>>,
    run_at_start: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCrawl {
    concurrency: Option<Spanned<u64>>,
    connect_timeout_secs: Option<Spanned<u64>>,
    read_timeout_secs: Option<Spanned<u64>>,
    total_timeout_secs: Option<Spanned<u64>>,
    agency_deadline_secs: Option<Spanned<u64>>,
    max_body_bytes: Option<Spanned<u64>>,
    max_redirects: Option<Spanned<u64>>,
    extra_ca_file: Option<Spanned<String>>,
}

fn positive(rep: &mut Reporter<'_>, value: Option<Spanned<u64>>, name: &str) -> Option<u64> {
    let value = value?;
    if *value.get_ref() == 0 {
        rep.error(
            value.span(),
            format!("{name} must be greater than zero"),
            "use a positive integer",
        );
        return None;
    }
    Some(*value.get_ref())
}

fn apply_crawl(rep: &mut Reporter<'_>, crawl: &mut CrawlSettings, raw: RawCrawl, base: &Path) {
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    if let Some(n) = positive(rep, raw.concurrency, "concurrency") {
        crawl.concurrency = to_usize(n);
    }
    if let Some(n) = positive(rep, raw.connect_timeout_secs, "connect_timeout_secs") {
        crawl.connect_timeout = Duration::from_secs(n);
    }
    if let Some(n) = positive(rep, raw.read_timeout_secs, "read_timeout_secs") {
        crawl.read_timeout = Duration::from_secs(n);
    }
    if let Some(n) = positive(rep, raw.total_timeout_secs, "total_timeout_secs") {
        crawl.total_timeout = Duration::from_secs(n);
    }
    if let Some(n) = positive(rep, raw.agency_deadline_secs, "agency_deadline_secs") {
        crawl.agency_deadline = Duration::from_secs(n);
    }
    if let Some(n) = positive(rep, raw.max_body_bytes, "max_body_bytes") {
        crawl.max_body_bytes = n;
    }
    if let Some(r) = raw.max_redirects {
        crawl.max_redirects = to_usize(*r.get_ref());
    }
    if let Some(file) = raw.extra_ca_file {
        let path = base.join(file.get_ref());
        match std::fs::read_to_string(&path) {
            Ok(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => {
                crawl.extra_roots_pem.push(pem)
            }
            Ok(_) => rep.error(
                file.span(),
                format!("{} holds no PEM certificate", path.display()),
                "give a file with one or more -----BEGIN CERTIFICATE----- blocks",
            ),
            Err(e) => rep.error(
                file.span(),
                format!("cannot read {}: {e}", path.display()),
                "give the path of a PEM file of CA certificates, relative to this file",
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The scoring method (`targets.toml`)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMethod {
    version: String,
    quality_weight: Spanned<f64>,
    #[serde(default)]
    bands: Option<Spanned<RawBands>>,
    #[serde(default)]
    target: Vec<Spanned<RawTarget>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBands {
    excellent: f64,
    good: f64,
    sufficient: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    id: Spanned<String>,
    name: String,
    #[serde(default)]
    name_vi: Option<String>,
    source: String,
    #[serde(default)]
    part: Vec<Spanned<RawPart>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPart {
    id: Spanned<String>,
    name: String,
    weight: Spanned<f64>,
    goal: Spanned<f64>,
    #[serde(default)]
    above: bool,
}

const TARGETS_HELP: &str = "the targets file holds version, quality_weight, [bands] and \
     [[target]] tables (id, name, name_vi, source) each with [[target.part]] (id, name, weight, goal, above)";

impl Method {
    pub fn load(path: &Path) -> Result<Method, ConfigError> {
        let source = read(path)?;
        Method::parse(path, &source)
    }

    /// Parses and checks a targets file: known evidence, weights adding up to 1000, goals
    /// between 0 and 1, bands in order.
    pub fn parse(file: &Path, source: &str) -> Result<Method, ConfigError> {
        use crate::score::method::{Bands, Evidence, Part, Target};
        let mut rep = Reporter::new(file, source);
        let doc = parse_document(&mut rep, source);
        let span = doc.span();
        let value = Spanned::new(span.clone(), DeValue::Table(doc.into_inner()));
        let Some(raw) = rep.decode::<RawMethod>(value, TARGETS_HELP) else {
            return Err(ConfigError::Invalid(rep.found));
        };
        let mut method = Method {
            version: raw.version,
            targets: Vec::new(),
            quality_weight: *raw.quality_weight.get_ref(),
            bands: Bands::default(),
        };
        let check_weight = |rep: &mut Reporter<'_>, w: &Spanned<f64>| {
            let ok = w.get_ref().is_finite() && *w.get_ref() >= 0.0;
            if !ok {
                rep.error(
                    w.span(),
                    "a weight must be a finite number of points, zero or more",
                    "e.g. weight = 150.0",
                );
            }
            ok
        };
        check_weight(&mut rep, &raw.quality_weight);
        if let Some(b) = raw.bands {
            let (bspan, b) = (b.span(), b.into_inner());
            if !(b.excellent > b.good
                && b.good > b.sufficient
                && b.sufficient >= 0.0
                && b.excellent <= INDEX_POINTS)
            {
                rep.error(
                    bspan,
                    "the bands must be ordered: 1000 ≥ excellent > good > sufficient ≥ 0",
                    "e.g. excellent = 850.0, good = 700.0, sufficient = 500.0",
                );
            }
            method.bands = Bands {
                excellent: b.excellent,
                good: b.good,
                sufficient: b.sufficient,
            };
        }
        let mut seen: Vec<Evidence> = Vec::new();
        for t in raw.target {
            let (tspan, t) = (t.span(), t.into_inner());
            if method
                .targets
                .iter()
                .any(|x: &Target| x.id == *t.id.get_ref())
            {
                rep.error(
                    t.id.span(),
                    format!("target `{}` is defined twice", t.id.get_ref()),
                    "give each target its own id",
                );
            }
            if t.part.is_empty() {
                rep.error(
                    tspan,
                    format!("target `{}` has no [[target.part]]", t.id.get_ref()),
                    "a target is scored by its parts: add at least one",
                );
            }
            let mut parts = Vec::new();
            for p in t.part {
                let p = p.into_inner();
                let Some(evidence) = Evidence::parse(p.id.get_ref()) else {
                    rep.error(
                        p.id.span(),
                        format!("no evidence check is named `{}`", p.id.get_ref()),
                        format!(
                            "known parts: {}",
                            Evidence::ALL.map(Evidence::id).join(", ")
                        ),
                    );
                    continue;
                };
                if !evidence.id().starts_with(&format!("{}.", t.id.get_ref())) {
                    rep.error(
                        p.id.span(),
                        format!(
                            "part `{}` does not belong to target `{}`",
                            evidence.id(),
                            t.id.get_ref()
                        ),
                        "a part's id starts with its target's id",
                    );
                }
                if seen.contains(&evidence) {
                    rep.error(
                        p.id.span(),
                        format!("part `{}` appears twice", evidence.id()),
                        "each evidence is scored once",
                    );
                }
                seen.push(evidence);
                check_weight(&mut rep, &p.weight);
                let goal = *p.goal.get_ref();
                if !(0.0..=1.0).contains(&goal) {
                    rep.error(
                        p.goal.span(),
                        format!("goal {goal} is not a share between 0 and 1"),
                        "write 1.0 for all agencies, 0.5 for half",
                    );
                }
                parts.push(Part {
                    evidence,
                    name: p.name,
                    weight: *p.weight.get_ref(),
                    goal,
                    above: p.above,
                });
            }
            method.targets.push(Target {
                id: t.id.into_inner(),
                name_vi: t.name_vi.unwrap_or_else(|| t.name.clone()),
                name: t.name,
                source: t.source,
                parts,
            });
        }
        let total = method.targets_weight() + method.quality_weight;
        if rep.found.is_empty() && (total - INDEX_POINTS).abs() > 1e-6 {
            rep.error(
                raw.quality_weight.span(),
                format!("the weights add up to {total}, not {INDEX_POINTS}"),
                "the index is out of 1000 points, like the official DTI: make the parts' weights and quality_weight add up to 1000",
            );
        }
        rep.finish(method)
    }
}

const INDEX_POINTS: f64 = crate::score::INDEX_SCALE;

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(src: &str) -> Result<Settings, ConfigError> {
        Settings::parse(Path::new("/etc/dtindex/dtindex.toml"), src)
    }

    fn registry(src: &str) -> Result<Registry, ConfigError> {
        Registry::parse(Path::new("agencies.toml"), src)
    }

    #[test]
    fn builtin_registry_has_the_2025_agencies() {
        let reg = Registry::builtin();
        let provinces = reg
            .agencies
            .iter()
            .filter(|a| a.kind == AgencyKind::Province)
            .count();
        let ministries = reg
            .agencies
            .iter()
            .filter(|a| a.kind == AgencyKind::Ministry)
            .count();
        assert_eq!((provinces, ministries), (34, 17));
        let hanoi = reg.get("01").expect("Hà Nội is code 01");
        assert_eq!(hanoi.name, "Hà Nội");
        let tuyen_quang = reg.get("08").expect("Tuyên Quang is code 08");
        assert_eq!(tuyen_quang.predecessors, vec!["02", "08"]);
        let finance = reg.get("BTC").expect("the Ministry of Finance");
        assert!(finance.predecessors.contains(&"BKHDT".to_string()));
    }

    #[test]
    fn line_column_counts_characters_not_bytes() {
        let src = "a = 1\nname = \"Hà Nội\" x";
        let offset = src.find('x').unwrap();
        assert_eq!(line_column(src, offset), (2, 17));
    }

    #[test]
    fn every_agency_error_is_reported_with_its_position() {
        let src = r#"
[[agency]]
code = "01"
kind = "city"
name = "Hà Nội"
catalog_url = "ftp://example.org/data.json"

[[agency]]
code = "02"
kind = "province"
name = 7

[[agency]]
code = "01"
kind = "province"
name = "Again"
catalog_format = "yaml"
"#;
        let err = registry(src).unwrap_err();
        let d = err.diagnostics();
        let at = |needle: &str| {
            d.iter()
                .find(|d| d.message.contains(needle))
                .unwrap_or_else(|| panic!("no diagnostic mentions {needle:?} in {d:#?}"))
        };
        assert_eq!(
            (
                at("unknown agency kind").line,
                at("unknown agency kind").column
            ),
            (4, 8)
        );
        assert_eq!(at("not an http(s) URL").line, 6);
        assert_eq!(at("invalid type").line, 11);
        assert_eq!(at("yaml").line, 17);
        assert!(at("yaml").help.contains("datajson"));
        // The duplicate is only detected among valid agencies; the first `01` was invalid.
        assert_eq!(d.len(), 4, "{d:#?}");
    }

    #[test]
    fn duplicate_codes_are_reported() {
        let src = "[[agency]]\ncode = \"01\"\nkind = \"province\"\nname = \"A\"\n\n[[agency]]\ncode = \"01\"\nkind = \"province\"\nname = \"B\"\n";
        let err = registry(src).unwrap_err();
        assert_eq!(err.diagnostics().len(), 1);
        assert!(err.diagnostics()[0].message.contains("used twice"));
        assert_eq!(err.diagnostics()[0].line, 6);
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = registry("[[agency]]\ncode = \"01\nkind = \"province\"\n").unwrap_err();
        assert!(err.diagnostics().iter().any(|d| d.line == 2), "{err}");
    }

    #[test]
    fn empty_endpoints_mean_nothing_published() {
        let reg = registry(
            "[[agency]]\ncode = \"BYT\"\nkind = \"ministry\"\nname = \"Bộ Y tế\"\ncatalog_url = \"\"\nservices = []\ndeclaration_url = \"\"\n",
        )
        .unwrap();
        let a = reg.get("BYT").unwrap();
        assert!(a.catalog.is_none() && a.services.is_empty() && a.declaration_url.is_none());
    }

    #[test]
    fn settings_defaults_and_overrides() {
        let s = settings(
            "registry = \"agencies.toml\"\n[server]\nlisten = \"0.0.0.0:9000\"\n[state]\ndir = \"state\"\n[schedule]\ncron = \"0 */5 * * * *\"\n[crawl]\nconcurrency = 3\n",
        )
        .unwrap();
        assert_eq!(
            s.registry,
            Some(PathBuf::from("/etc/dtindex/agencies.toml"))
        );
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.state_dir, PathBuf::from("/etc/dtindex/state"));
        assert_eq!(s.database_url, "sqlite:///etc/dtindex/state/dtindex.sqlite");
        assert_eq!(s.crawl.concurrency, 3);
        assert_eq!(s.schedule.cron, "0 */5 * * * *");
    }

    #[test]
    fn a_shared_database_and_its_lease() {
        let s = settings(
            "[database]\nurl = \"postgres://dt@db:5432/dtindex?application_name=dt-a\"\nlease_secs = 3\n",
        )
        .unwrap();
        assert_eq!(
            s.database_url,
            "postgres://dt@db:5432/dtindex?application_name=dt-a"
        );
        assert_eq!(s.work_lease, Duration::from_secs(3));
        assert_eq!(settings("").unwrap().work_lease, DEFAULT_WORK_LEASE);
        let err = settings("[database]\nurl = \"mysql://x\"\nlease_secs = 0\n").unwrap_err();
        let lines: Vec<usize> = err.diagnostics().iter().map(|d| d.line).collect();
        assert_eq!(lines.len(), 2, "{err}");
        assert!(lines.contains(&2) && lines.contains(&3), "{err}");
    }

    #[test]
    fn settings_errors_are_all_reported() {
        let err = settings(
            "targets = 5\n[server]\nlisten = \"localhost\"\n[schedule]\ncron = \"*/5 * * * *\"\n[crawl]\nconcurrency = 0\nmax_body_bytes = \"big\"\n[colour]\n",
        )
        .unwrap_err();
        let mut lines: Vec<usize> = err.diagnostics().iter().map(|d| d.line).collect();
        lines.sort();
        // listen, cron, the crawl section's type error (reported once for the section),
        // a targets path that is not a string, and the unknown section.
        assert_eq!(lines, [1, 3, 5, 8, 9], "{err}");
    }

    #[test]
    fn a_written_registry_reads_back_the_same() {
        let mut reg = Registry::builtin();
        reg.agencies[0].catalog = Some(CatalogEndpoint {
            url: Url::parse("http://127.0.0.1:1234/BQP/ckan/").unwrap(),
            format: CatalogFormat::Ckan,
            organization: Some("bqp".into()),
        });
        reg.agencies[0].services.push(ServiceEndpoint {
            url: Url::parse("http://127.0.0.1:1234/BQP/services/0").unwrap(),
            platform: Some("LGSP".into()),
            api_description: Url::parse("http://127.0.0.1:1234/BQP/services/0/openapi.json").ok(),
            check: Default::default(),
        });
        let text = registry_to_toml(&reg).unwrap();
        assert_eq!(registry(&text).unwrap(), reg);
    }

    #[test]
    fn shipped_config_files_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let s = Settings::load(&dir.join("dtindex.toml")).unwrap_or_else(|e| panic!("{e}"));
        let reg = s.load_registry().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reg.agencies.len(), 51);
        assert_eq!(
            s.load_method().unwrap_or_else(|e| panic!("{e}")),
            Method::builtin()
        );
    }

    fn method(src: &str) -> Result<Method, ConfigError> {
        Method::parse(Path::new("targets.toml"), src)
    }

    #[test]
    fn every_targets_error_is_located() {
        let src = "version = \"v9\"\nquality_weight = 300.0\n[bands]\nexcellent = 500.0\ngood = 700.0\nsufficient = 100.0\n\n[[target]]\nid = \"T1\"\nname = \"x\"\nsource = \"y\"\n  [[target.part]]\n  id = \"T1.catalogue\"\n  name = \"n\"\n  weight = 100.0\n  goal = 1.0\n  [[target.part]]\n  id = \"T4.api\"\n  name = \"n\"\n  weight = -1.0\n  goal = 2.0\n";
        let err = method(src).unwrap_err();
        let found: Vec<(usize, &str)> = err
            .diagnostics()
            .iter()
            .map(|d| (d.line, d.message.as_str()))
            .collect();
        assert_eq!(found.len(), 5, "{err}");
        assert!(found[0].1.contains("bands must be ordered"), "{err}");
        assert_eq!(found[1], (13, "no evidence check is named `T1.catalogue`"));
        assert_eq!(
            found[2],
            (18, "part `T4.api` does not belong to target `T1`")
        );
        assert_eq!(found[3].0, 20, "{err}");
        assert_eq!(found[4].0, 21, "{err}");
        // Weights that do not add up are the last thing checked.
        let src = method_source().replace("quality_weight = 300.0", "quality_weight = 250.0");
        let err = method(&src).unwrap_err().to_string();
        assert!(err.contains("add up to 950"), "{err}");
    }

    fn method_source() -> String {
        crate::score::method::BUILTIN_TARGETS.to_string()
    }
}
