//! The simulated federation: every agency of a registry, served on loopback.
//!
//! Real endpoints are unknown for most agencies, so the demo, the tests and the benchmarks
//! crawl this instead. Each agency gets a profile, from exemplary to broken, drawn from a
//! seed so that a run repeats exactly; its catalog (a DCAT-US data.json) and its sharing
//! services are generated on request from the same seed, so nothing is held in memory.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use crate::memo::Memo;
use crate::registry::{CatalogEndpoint, CatalogFormat, Registry, ServiceEndpoint};

pub mod history;
pub mod hostile;
mod render;
pub mod tls;
pub use hostile::{Faults, Hostility};
pub use render::SimRecord;

/// Datasets per page of a paged (Turtle, CKAN) simulated catalog.
pub const PAGE_SIZE: usize = 10;

/// The host name the simulated data files are published under. Catalogs on loopback
/// addresses are placeholders to the quality rules, so the files get a name of their own;
/// the link checker is told it is the simulator's address (`[links.hosts]`). Under a
/// top-level domain that does not exist, so it can never reach anyone else.
pub const FILES_HOST: &str = "files.federation.dtindex";

/// How a simulated data file answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileAnswer {
    Ok,
    /// 404.
    Missing,
    /// 500.
    ServerError,
    /// A 301 to where the file now is (which answers).
    Moved,
    /// 200, but as an HTML page where the catalog declares CSV.
    WrongType,
}

/// How well a simulated agency publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Complete metadata, every service up.
    Exemplary,
    /// Most metadata, the odd service down.
    Average,
    /// A few sparse records; services often down.
    Neglected,
    /// A catalog that cannot be read; services refuse connections.
    Broken,
    /// Nothing published at all, as most agencies today.
    Silent,
    /// Slow, broken, lying or attacking, one way each (see [`Hostility`]).
    Hostile,
}

/// How a broken catalog fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Breakage {
    ServerError,
    HtmlPage,
    Truncated,
    EmptyCatalog,
}

/// The form in which a simulated agency publishes its catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Published {
    DataJson,
    Ckan,
    DcatTurtle,
    DcatJsonLd,
    Csv,
    Xlsx,
}

impl Published {
    pub const ALL: [Published; 6] = [
        Published::DataJson,
        Published::Ckan,
        Published::DcatTurtle,
        Published::DcatJsonLd,
        Published::Csv,
        Published::Xlsx,
    ];

    /// The catalog's path under the agency's prefix.
    fn path(self) -> &'static str {
        match self {
            Published::DataJson => "data.json",
            Published::Ckan => "ckan/",
            Published::DcatTurtle => "catalog.ttl",
            Published::DcatJsonLd => "catalog.jsonld",
            Published::Csv => "danh-muc.csv",
            Published::Xlsx => "danh-muc.xlsx",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SimAgency {
    pub code: String,
    pub name: String,
    pub profile: Profile,
    pub published: Published,
    pub breakage: Option<Breakage>,
    pub datasets: usize,
    /// Per service: whether it answers 200 (else 500, or refused for broken agencies).
    pub services_up: Vec<bool>,
    /// What a hostile agency does.
    pub hostility: Option<Hostility>,
}

/// A federation's size, for benchmarks: `agencies` of them (the registry's, repeated under
/// numbered codes when more are asked for), each publishing a data.json of `datasets`
/// records with `links` download links each. Profiles are drawn from the publishing ones
/// (exemplary, average, neglected) so that every agency costs a whole harvest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Scale {
    pub agencies: usize,
    pub datasets: usize,
    pub links: usize,
}

impl Scale {
    /// `registry` grown or cut to `self.agencies`: the first round keeps the codes, later
    /// rounds add `-2`, `-3`… (and drop predecessors, which would be shared otherwise).
    pub fn registry(&self, registry: &Registry) -> Registry {
        let mut agencies = Vec::with_capacity(self.agencies);
        for n in 0..self.agencies {
            let Some(base) = registry.agencies.get(n % registry.agencies.len().max(1)) else {
                break;
            };
            let round = n / registry.agencies.len() + 1;
            let mut a = base.clone();
            if round > 1 {
                a.code = format!("{}-{round}", base.code);
                a.name = format!("{} ({round})", base.name);
                a.name_ascii = format!("{} ({round})", base.name_ascii);
                a.predecessors.clear();
            }
            agencies.push(a);
        }
        Registry { agencies }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Federation {
    pub seed: u64,
    /// Set for a benchmark's federation: every agency the same size.
    pub scale: Option<Scale>,
    /// The day the federation was planned: exemplary agencies' data is current as of it.
    pub today: chrono::NaiveDate,
    pub agencies: Vec<SimAgency>,
    /// Catalogs as rendered for a request (see `catalog`).
    #[serde(skip)]
    rendered: Arc<Memo<String, Result<Arc<Rendered>, String>>>,
}

/// How many rendered catalogs the simulator keeps.
const RENDERED_KEPT: usize = 4096;

#[derive(Debug)]
struct Rendered {
    content_type: &'static str,
    body: axum::body::Bytes,
    etag: String,
}

/// Mixes the seed with an agency code, so each agency has its own stream of choices.
fn agency_seed(seed: u64, code: &str) -> u64 {
    code.bytes().fold(seed ^ 0x9E37_79B9_7F4A_7C15, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    })
}

impl Federation {
    /// Assigns profiles across the registry: about a fifth each, shuffled by the seed.
    pub fn plan(registry: &Registry, seed: u64) -> Federation {
        Federation::plan_scaled(registry, seed, None)
    }

    /// [`Federation::plan`], or with `scale`, a benchmark's federation over `registry`
    /// (see [`Scale::registry`] for one of the right size).
    pub fn plan_scaled(registry: &Registry, seed: u64, scale: Option<Scale>) -> Federation {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let all = [
            Profile::Exemplary,
            Profile::Average,
            Profile::Neglected,
            Profile::Broken,
            Profile::Silent,
        ];
        let profiles = if scale.is_some() { &all[..3] } else { &all[..] };
        let mut order: Vec<usize> = (0..registry.agencies.len()).collect();
        order.shuffle(&mut rng);
        let mut assigned = vec![Profile::Average; registry.agencies.len()];
        for (n, i) in order.into_iter().enumerate() {
            assigned[i] = profiles[n % profiles.len()];
        }
        let agencies = registry
            .agencies
            .iter()
            .zip(assigned)
            .map(|(a, profile)| {
                let mut rng = ChaCha8Rng::seed_from_u64(agency_seed(seed, &a.code));
                let (datasets, services_up, breakage) = match profile {
                    Profile::Exemplary => (rng.random_range(8..=20), vec![true, true], None),
                    Profile::Average => (
                        rng.random_range(5..=15),
                        (0..rng.random_range(1..=2))
                            .map(|_| rng.random_bool(0.85))
                            .collect(),
                        None,
                    ),
                    Profile::Neglected => {
                        (rng.random_range(1..=5), vec![rng.random_bool(0.5)], None)
                    }
                    Profile::Broken => {
                        let kinds = [
                            Breakage::ServerError,
                            Breakage::HtmlPage,
                            Breakage::Truncated,
                            Breakage::EmptyCatalog,
                        ];
                        (
                            rng.random_range(3..=8),
                            vec![false],
                            Some(kinds[rng.random_range(0..kinds.len())]),
                        )
                    }
                    // Hostile agencies are made so afterwards (hostile::make_hostile).
                    Profile::Silent | Profile::Hostile => (0, vec![], None),
                };
                // About two in five publish data.json; the rest spread over the other forms.
                let mut published = match rng.random_range(0..10) {
                    0..=3 => Published::DataJson,
                    n => Published::ALL[1 + (n as usize - 4) % 5],
                };
                let mut datasets = datasets;
                if let Some(scale) = scale {
                    published = Published::DataJson;
                    datasets = scale.datasets;
                }
                SimAgency {
                    code: a.code.clone(),
                    name: a.name.clone(),
                    profile,
                    published,
                    breakage,
                    datasets,
                    services_up,
                    hostility: None,
                }
            })
            .collect();
        Federation {
            seed,
            scale,
            today: chrono::Utc::now().date_naive(),
            agencies,
            // The federation does not change while it is served: a day is its lifetime.
            rendered: Arc::new(Memo::keeping(
                std::time::Duration::from_secs(86_400),
                Result::is_ok,
            )),
        }
    }

    /// The agency's declaration (see [`crate::declaration`]), by profile: an exemplary
    /// agency cites every plan with a document that resolves and runs its platform; an
    /// average one cites the open-data plan, claims an analytics plan without a URL and
    /// has no platform yet; a neglected one declares nothing.
    pub fn declaration(&self, sim: &SimAgency) -> Option<serde_json::Value> {
        let doc = |kind: &str, number: &str, url: Option<&str>| json!({"kind": kind, "number": number, "date": "2023-06-01", "url": url});
        let documents = match sim.profile {
            Profile::Exemplary => vec![
                doc(
                    "database_catalog",
                    "12/QĐ-UBND",
                    Some("docs/danh-muc-csdl.pdf"),
                ),
                doc(
                    "open_data_plan",
                    "34/KH-UBND",
                    Some("docs/ke-hoach-du-lieu-mo.pdf"),
                ),
                doc(
                    "analytics_plan",
                    "56/KH-UBND",
                    Some("docs/ke-hoach-nen-tang.pdf"),
                ),
            ],
            Profile::Average => vec![
                doc(
                    "open_data_plan",
                    "34/KH-UBND",
                    Some("docs/ke-hoach-du-lieu-mo.pdf"),
                ),
                doc("analytics_plan", "56/KH-UBND", None),
            ],
            Profile::Neglected => vec![],
            Profile::Broken | Profile::Silent | Profile::Hostile => return None,
        };
        let deployed = sim.profile == Profile::Exemplary;
        Some(json!({
            "agency": sim.code,
            "updated": self.today.to_string(),
            "documents": documents,
            "analytics_platform": {"deployed": deployed, "url": deployed.then_some("platform")},
        }))
    }

    /// Whether a service publishes an OpenAPI description: all of an exemplary agency's,
    /// the first of an average one's, none of the others'.
    fn describes_api(sim: &SimAgency, service: usize) -> bool {
        match sim.profile {
            Profile::Exemplary => true,
            Profile::Average => service == 0,
            _ => false,
        }
    }

    pub fn agency(&self, code: &str) -> Option<&SimAgency> {
        self.agencies.iter().find(|a| a.code == code)
    }

    /// The registry with each agency's endpoints pointing at the simulator on `base`.
    /// Services of broken agencies point at `refused`, a port where nothing listens; the
    /// first service of exemplary agencies answers over HTTPS on `tls_base`, when given.
    pub fn registry_for(
        &self,
        registry: &Registry,
        base: &Url,
        refused: SocketAddr,
        tls_base: Option<&Url>,
    ) -> Registry {
        let mut out = registry.clone();
        for agency in &mut out.agencies {
            let Some(sim) = self.agency(&agency.code) else {
                continue;
            };
            if sim.profile == Profile::Silent {
                agency.catalog = None;
                agency.services.clear();
                agency.declaration_url = None;
                continue;
            }
            agency.declaration_url = base.join(&format!("{}/declaration.json", sim.code)).ok();
            let join = |path: String| base.join(&path).ok();
            let format = match sim.published {
                Published::Ckan => CatalogFormat::Ckan,
                _ => CatalogFormat::Auto,
            };
            agency.catalog =
                join(format!("{}/{}", sim.code, sim.published.path())).map(|url| CatalogEndpoint {
                    url,
                    format,
                    organization: None,
                });
            agency.services = (0..sim.services_up.len())
                .filter_map(|i| {
                    let url = if sim.profile == Profile::Broken {
                        Url::parse(&format!("http://{refused}/{}/services/{i}", sim.code)).ok()
                    } else if let (Profile::Exemplary, 0, Some(tls)) = (sim.profile, i, tls_base) {
                        tls.join(&format!("{}/services/{i}", sim.code)).ok()
                    } else {
                        join(format!("{}/services/{i}", sim.code))
                    }?;
                    let api_description = Federation::describes_api(sim, i)
                        .then(|| {
                            base.join(&format!("{}/services/{i}/openapi.json", sim.code))
                                .ok()
                        })
                        .flatten();
                    Some(ServiceEndpoint {
                        url,
                        platform: Some(if i == 0 { "LGSP" } else { "NDXP" }.to_string()),
                        api_description,
                        // Up means answering that it is up, not only answering.
                        check: crate::registry::ServiceCheck {
                            expect_body: Some("\"status\":\"ok\"".into()),
                            ..Default::default()
                        },
                    })
                })
                .collect();
        }
        out
    }

    /// How file `i` of an agency answers, by profile: an exemplary agency's all work;
    /// an average one's mostly; a neglected one's often don't.
    pub fn file_answer(&self, sim: &SimAgency, i: usize) -> FileAnswer {
        let mut rng = ChaCha8Rng::seed_from_u64(
            agency_seed(self.seed, &sim.code) ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D),
        );
        let roll: u32 = rng.random_range(0..100);
        let (missing, error, moved, wrong) = match sim.profile {
            Profile::Exemplary | Profile::Hostile => (0, 0, 0, 0),
            Profile::Average => (4, 0, 2, 2),
            _ => (15, 8, 7, 5),
        };
        match roll {
            r if r < missing => FileAnswer::Missing,
            r if r < missing + error => FileAnswer::ServerError,
            r if r < missing + error + moved => FileAnswer::Moved,
            r if r < missing + error + moved + wrong => FileAnswer::WrongType,
            _ => FileAnswer::Ok,
        }
    }

    /// The records of an agency, generated from the seed; their files are under `files`
    /// (`http://files.federation.dtindex:8080/`).
    pub fn records(&self, sim: &SimAgency, files: &str) -> Vec<SimRecord> {
        let mut rng = ChaCha8Rng::seed_from_u64(agency_seed(self.seed, &sim.code) ^ 0xDA7A);
        let links = self.scale.map_or(1, |s| s.links.max(1));
        // Hostile agencies publish complete records: what is wrong with them is elsewhere.
        let keep = match sim.profile {
            Profile::Exemplary | Profile::Hostile => 1.0,
            Profile::Average => 0.75,
            _ => 0.3,
        };
        (0..sim.datasets)
            .map(|i| {
                let topic = TOPICS[(i + sim.code.len()) % TOPICS.len()];
                let mut field = |v: String| rng.random_bool(keep).then_some(v);
                SimRecord {
                    identifier: format!("{}-{i:04}", sim.code.to_lowercase()),
                    title: format!("{} — {}", topic.0, sim.name),
                    description: field(format!(
                        "Cơ sở dữ liệu {} do {} quản lý.",
                        topic.0.to_lowercase(),
                        sim.name
                    )),
                    keyword: field(topic.1.to_string()),
                    theme: field(topic.2.to_string()),
                    // Exemplary agencies keep their monthly data current; the others
                    // let it age.
                    modified: field(
                        if matches!(sim.profile, Profile::Exemplary | Profile::Hostile) {
                            (self.today - chrono::Days::new((i % 20) as u64)).to_string()
                        } else {
                            format!("2026-{:02}-{:02}", 1 + i % 11, 1 + i % 27)
                        },
                    ),
                    periodicity: field("R/P1M".into()),
                    spatial: field(sim.name.clone()),
                    temporal: field("2020-01-01/2026-12-31".into()),
                    publisher: field(sim.name.clone()),
                    contact: field(format!("Phòng dữ liệu, {}", sim.name)),
                    license: field("https://creativecommons.org/licenses/by/4.0/".into()),
                    download_url: field(format!("{files}{}/files/{}.csv", sim.code, i * links)),
                    more_downloads: (1..links)
                        .map(|j| format!("{files}{}/files/{}.csv", sim.code, i * links + j))
                        .collect(),
                }
            })
            .collect()
    }
}

const TOPICS: &[(&str, &str, &str)] = &[
    ("Dân cư", "dân cư", "Xã hội"),
    ("Đất đai", "đất đai", "Tài nguyên"),
    ("Doanh nghiệp", "doanh nghiệp", "Kinh tế"),
    ("Hộ tịch", "hộ tịch", "Tư pháp"),
    ("Giáo dục phổ thông", "giáo dục", "Giáo dục"),
    ("Cơ sở khám chữa bệnh", "y tế", "Y tế"),
    ("Giao thông vận tải", "giao thông", "Hạ tầng"),
    ("Quan trắc môi trường", "môi trường", "Môi trường"),
    ("Lao động việc làm", "lao động", "Xã hội"),
    ("Thủ tục hành chính", "dịch vụ công", "Hành chính"),
];

/// A simulated federation running: where it is, and the registry that points at it.
pub struct Launched {
    pub base: Url,
    pub tls_base: Url,
    /// The registry with every agency's endpoints on the simulator.
    pub registry: Registry,
    /// The CA the simulator's HTTPS services are signed by.
    pub ca_pem: String,
    pub federation: Arc<Federation>,
}

impl Launched {
    /// Points a daemon's settings at the simulator: trust its CA, and let the link
    /// checker reach its data files (on loopback, under [`FILES_HOST`]).
    pub fn configure(&self, settings: &mut crate::config::Settings) {
        settings.crawl.extra_roots_pem.push(self.ca_pem.clone());
        let policy = &mut settings.links.policy;
        policy.allow_loopback = true;
        for host in [FILES_HOST, hostile::FLOOD_HOST] {
            policy.hosts.insert(host.to_string(), [127, 0, 0, 1].into());
        }
    }
}

/// Plans the federation from `seed` and serves it over HTTP on `listener` and over HTTPS on
/// a second loopback port, in background tasks that live as long as the runtime.
pub async fn launch(
    registry: &Registry,
    seed: u64,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<Launched> {
    launch_scaled(registry, seed, None, listener).await
}

/// [`launch`] with a benchmark's [`Scale`]; `registry` should have its size already.
pub async fn launch_scaled(
    registry: &Registry,
    seed: u64,
    scale: Option<Scale>,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<Launched> {
    launch_federation(
        registry,
        Federation::plan_scaled(registry, seed, scale),
        listener,
    )
    .await
}

/// Serves a federation already planned (e.g. made partly hostile with
/// [`hostile::make_hostile`]); with hostile agencies, also the faulty listeners they need.
pub async fn launch_federation(
    registry: &Registry,
    federation: Federation,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<Launched> {
    let federation = Arc::new(federation);
    let base = Url::parse(&format!("http://{}/", listener.local_addr()?))?;
    let tls = tls::generate(90)?;
    let tls_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let tls_base = Url::parse(&format!(
        "https://127.0.0.1:{}/",
        tls_listener.local_addr()?.port()
    ))?;
    let mut pointed = federation.registry_for(registry, &base, refused_address()?, Some(&tls_base));
    if federation.agencies.iter().any(|a| a.hostility.is_some()) {
        let faults = Faults::start(federation.clone()).await?;
        federation.point_hostile(&mut pointed, &base, &faults);
    }
    let (f, t) = (federation.clone(), tls.clone());
    tokio::spawn(async move {
        if let Err(e) = tls::serve_tls(tls_listener, f, &t).await {
            tracing::error!(error = %e, "the simulator's HTTPS server stopped");
        }
    });
    let f = federation.clone();
    tokio::spawn(async move {
        if let Err(e) = serve(listener, f).await {
            tracing::error!(error = %e, "the simulator's HTTP server stopped");
        }
    });
    Ok(Launched {
        base,
        tls_base,
        registry: pointed,
        ca_pem: tls.ca_pem,
        federation,
    })
}

/// Serves the federation until the listener closes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    federation: Arc<Federation>,
) -> std::io::Result<()> {
    axum::serve(listener, router(federation)).await
}

pub fn router(federation: Arc<Federation>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/{code}/data.json", get(catalog))
        .route("/{code}/catalog.ttl", get(catalog))
        .route("/{code}/catalog.jsonld", get(catalog))
        .route("/{code}/danh-muc.csv", get(catalog))
        .route("/{code}/danh-muc.xlsx", get(catalog))
        .route("/{code}/ckan/api/3/action/package_search", get(catalog))
        .route("/{code}/files/{file}", get(file))
        .route("/links/{n}", get(bench_link))
        .route("/links/{n}/moved", get(|| async { "ma,ten\n" }))
        .route("/{code}/services/{n}", get(service))
        .route("/{code}/services/{n}/openapi.json", get(openapi))
        .route("/{code}/declaration.json", get(declaration))
        .route("/{code}/docs/{name}", get(document))
        .route("/{code}/platform", get(platform))
        .with_state(federation)
}

async fn index(State(f): State<Arc<Federation>>) -> impl IntoResponse {
    axum::Json(json!({ "seed": f.seed, "agencies": f.agencies }))
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<usize>,
    start: Option<usize>,
    rows: Option<usize>,
}

/// Any catalog route: the agency's catalog in the form it publishes, or its breakage.
async fn catalog(
    State(f): State<Arc<Federation>>,
    Path(code): Path<String>,
    Query(q): Query<PageQuery>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let Some(sim) = f.agency(&code).filter(|a| a.profile != Profile::Silent) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some(h) = sim.hostility {
        return f.hostile_catalog(sim, h, &headers, &uri).await;
    }
    if !uri.path().ends_with(sim.published.path()) && !uri.path().contains("/ckan/") {
        return StatusCode::NOT_FOUND.into_response();
    }
    // The files are served here too, under their own name (see FILES_HOST).
    let port = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map_or("80", |(_, port)| port);
    // A catalog is a function of the federation and the request alone, so it is rendered
    // once: a real portal answers a conditional GET from its stored ETag, and rendering
    // thousands of records for each request made the simulator, not the crawler, most of
    // what an unchanged re-crawl cost in the benchmarks.
    // What the rendering reads of the request, and no more: another query parameter must
    // not make another entry.
    let key = format!(
        "{port} {} {:?} {:?} {:?}",
        uri.path(),
        q.page,
        q.start,
        q.rows
    );
    let render = || {
        render_catalog(&f, sim, port, &q, &uri).map(|(content_type, body)| {
            let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&body));
            Arc::new(Rendered {
                content_type,
                body: body.into(),
                etag,
            })
        })
    };
    // Page numbers and paths under /ckan/ are the requester's to choose: past a bound,
    // catalogs are rendered without being kept.
    let rendered = if f.rendered.len() < RENDERED_KEPT {
        f.rendered.get_or_run(&key, || async { render() }).await.0
    } else {
        render()
    };
    let rendered = match rendered {
        Ok(r) => r,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    };
    let (content_type, body, etag) = (rendered.content_type, &rendered.body, &rendered.etag);
    match sim.breakage {
        Some(Breakage::ServerError) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
        Some(Breakage::HtmlPage) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html><html><body><h1>Cổng dữ liệu</h1><p>Trang đang bảo trì.</p></body></html>",
        )
            .into_response(),
        Some(Breakage::Truncated) => {
            let cut = body.len() * 2 / 3;
            ([(header::CONTENT_TYPE, content_type)], body.slice(..cut)).into_response()
        }
        _ => {
            // An ETag, as most portals send: an unchanged catalog costs a 304.
            let etag = etag.clone();
            let fresh = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
            if fresh {
                (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response()
            } else {
                ([(header::CONTENT_TYPE, content_type.to_string()), (header::ETAG, etag)], body.clone())
                    .into_response()
            }
        }
    }
}

/// An agency's catalog for one request, in the form it publishes.
fn render_catalog(
    f: &Federation,
    sim: &SimAgency,
    port: &str,
    q: &PageQuery,
    uri: &axum::http::Uri,
) -> Result<(&'static str, Vec<u8>), String> {
    let mut records = f.records(sim, &format!("http://{FILES_HOST}:{port}/"));
    if sim.breakage == Some(Breakage::EmptyCatalog) {
        records.clear();
    }
    let here = format!("http://simulated.invalid{}", uri.path());
    let rendered: (&'static str, Vec<u8>) = match sim.published {
        Published::DataJson => ("application/json", render::datajson(&records).into_bytes()),
        Published::Xlsx => match render::xlsx(&records, &sim.name) {
            Ok(bytes) => (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                bytes,
            ),
            Err(e) => {
                return Err(e.to_string());
            }
        },
        Published::DcatJsonLd => (
            "application/ld+json",
            render::jsonld(&here, &records).into_bytes(),
        ),
        Published::Csv => (
            "text/csv; charset=utf-8",
            render::csv(&records).into_bytes(),
        ),
        Published::Ckan => {
            let rows = q.rows.unwrap_or(PAGE_SIZE).clamp(1, 1000);
            (
                "application/json",
                render::ckan_search(&records, q.start.unwrap_or(0), rows).into_bytes(),
            )
        }
        Published::DcatTurtle => {
            let page = q.page.unwrap_or(0);
            let chunk: Vec<SimRecord> = records
                .iter()
                .skip(page * PAGE_SIZE)
                .take(PAGE_SIZE)
                .cloned()
                .collect();
            let next = ((page + 1) * PAGE_SIZE < records.len())
                .then(|| format!("{}?page={}", uri.path(), page + 1));
            (
                "text/turtle",
                render::turtle(&here, &chunk, next.as_deref()).into_bytes(),
            )
        }
    };
    Ok(rendered)
}

/// A data file: a few bytes of CSV, or what its answer says instead.
async fn file(
    State(f): State<Arc<Federation>>,
    Path((code, file)): Path<(String, String)>,
    Query(q): Query<FileQuery>,
    uri: axum::http::Uri,
) -> Response {
    if let Some(h) = f.agency(&code).and_then(|a| a.hostility) {
        return Federation::hostile_file(&code, h, &uri).await;
    }
    let i = file
        .strip_suffix(".csv")
        .and_then(|n| n.parse::<usize>().ok());
    let (Some(sim), Some(i)) = (f.agency(&code), i) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let csv = || {
        (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            "ma,ten\n1,mot\n",
        )
            .into_response()
    };
    if q.moved.is_some() {
        return csv();
    }
    match f.file_answer(sim, i) {
        FileAnswer::Ok => csv(),
        FileAnswer::Missing => StatusCode::NOT_FOUND.into_response(),
        FileAnswer::ServerError => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        FileAnswer::Moved => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, format!("/{code}/files/{i}.csv?moved=1"))],
        )
            .into_response(),
        FileAnswer::WrongType => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<html><body>Không tìm thấy trang</body></html>",
        )
            .into_response(),
    }
}

/// How link `n` of the benchmark's list answers: the mix of a real federation's links,
/// by `n` alone so that every tool sees the same list answer the same way.
pub fn bench_link_answer(n: u64) -> (FileAnswer, bool) {
    // Spread over the residues so that each hundred URLs has the same mix.
    let r = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 57; // 0..128
    let slow = r % 64 == 7;
    let answer = match r {
        0..=4 => FileAnswer::Missing,
        5..=7 => FileAnswer::ServerError,
        8..=13 => FileAnswer::Moved,
        _ => FileAnswer::Ok,
    };
    (answer, slow)
}

/// `/links/{n}`: the benchmark's links (see `bench/links-vs-lychee.sh`): mostly 200,
/// some 404 and 500, redirects, and slow ones (200 after 200 ms).
async fn bench_link(Path(n): Path<u64>) -> Response {
    let (answer, slow) = bench_link_answer(n);
    if slow {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    match answer {
        FileAnswer::Missing => StatusCode::NOT_FOUND.into_response(),
        FileAnswer::ServerError => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        FileAnswer::Moved => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, format!("/links/{n}/moved"))],
        )
            .into_response(),
        _ => ([(header::CONTENT_TYPE, "text/csv")], "ma,ten\n").into_response(),
    }
}

#[derive(Deserialize)]
struct FileQuery {
    moved: Option<String>,
}

async fn service(
    State(f): State<Arc<Federation>>,
    Path((code, n)): Path<(String, usize)>,
    uri: axum::http::Uri,
) -> Response {
    if let Some(h) = f.agency(&code).and_then(|a| a.hostility) {
        return f.hostile_service(&code, h, &uri).await;
    }
    match f.agency(&code).and_then(|a| a.services_up.get(n)) {
        Some(true) => {
            axum::Json(json!({ "service": format!("{code}/{n}"), "status": "ok" })).into_response()
        }
        Some(false) => (StatusCode::INTERNAL_SERVER_ERROR, "service unavailable").into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn openapi(
    State(f): State<Arc<Federation>>,
    Path((code, n)): Path<(String, usize)>,
) -> Response {
    if let Some(h) = f.agency(&code).and_then(|a| a.hostility) {
        return Federation::hostile_openapi(h);
    }
    match f.agency(&code) {
        Some(a) if Federation::describes_api(a, n) && n < a.services_up.len() => axum::Json(json!({
            "openapi": "3.1.0",
            "info": {"title": format!("Dịch vụ chia sẻ dữ liệu {code}/{n}"), "version": "1.0"},
            "paths": {format!("/{code}/services/{n}"): {"get": {"responses": {"200": {"description": "ok"}}}}},
        }))
        .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn declaration(State(f): State<Arc<Federation>>, Path(code): Path<String>) -> Response {
    match f.agency(&code) {
        Some(a) if a.profile == Profile::Broken => {
            (StatusCode::INTERNAL_SERVER_ERROR, "declaration unavailable").into_response()
        }
        Some(a) => match f.declaration(a) {
            Some(d) => axum::Json(d).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A cited plan's document: present for the agencies whose declaration cites one.
async fn document(
    State(f): State<Arc<Federation>>,
    Path((code, name)): Path<(String, String)>,
) -> Response {
    let cited = f
        .agency(&code)
        .and_then(|a| f.declaration(a))
        .is_some_and(|d| d.to_string().contains(&format!("docs/{name}")));
    if cited {
        (
            [(header::CONTENT_TYPE, "application/pdf")],
            "%PDF-1.4 simulated plan",
        )
            .into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

async fn platform(State(f): State<Arc<Federation>>, Path(code): Path<String>) -> Response {
    match f.agency(&code) {
        Some(a) if a.profile == Profile::Exemplary => "Nền tảng phân tích dữ liệu".into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A loopback address where nothing listens: connections to it are refused.
pub fn refused_address() -> std::io::Result<SocketAddr> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    probe.local_addr()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The benchmark list's mix, which `bench/links-vs-lychee.sh` describes.
    #[test]
    fn the_bench_links_have_the_mix_the_script_describes() {
        let n = 100_000u64;
        let mut count = std::collections::HashMap::new();
        let mut slow = 0;
        for i in 0..n {
            let (answer, s) = bench_link_answer(i);
            *count.entry(format!("{answer:?}")).or_insert(0u64) += 1;
            slow += u64::from(s);
        }
        let share = |k: &str| count.get(k).copied().unwrap_or(0) as f64 / n as f64;
        assert!((0.03..0.05).contains(&share("Missing")), "{count:?}");
        assert!((0.015..0.03).contains(&share("ServerError")), "{count:?}");
        assert!((0.04..0.06).contains(&share("Moved")), "{count:?}");
        assert!((0.87..0.91).contains(&share("Ok")), "{count:?}");
        assert!((0.01..0.02).contains(&(slow as f64 / n as f64)), "{slow}");
    }

    #[test]
    fn the_same_seed_gives_the_same_federation() {
        let reg = Registry::builtin();
        let a = Federation::plan(&reg, 7);
        let b = Federation::plan(&reg, 7);
        let c = Federation::plan(&reg, 8);
        let view = |f: &Federation| {
            f.agencies
                .iter()
                .map(|a| (a.profile, a.datasets, a.services_up.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(view(&a), view(&b));
        assert_ne!(view(&a), view(&c));
        assert_eq!(
            a.records(&a.agencies[0], "http://f/"),
            b.records(&b.agencies[0], "http://f/")
        );
    }

    #[test]
    fn every_profile_is_present_and_silent_agencies_publish_nothing() {
        let reg = Registry::builtin();
        let fed = Federation::plan(&reg, 1);
        for p in [
            Profile::Exemplary,
            Profile::Average,
            Profile::Neglected,
            Profile::Broken,
            Profile::Silent,
        ] {
            assert!(
                fed.agencies.iter().filter(|a| a.profile == p).count() >= 10,
                "{p:?}"
            );
        }
        let base = Url::parse("http://127.0.0.1:9/").unwrap();
        let pointed = fed.registry_for(&reg, &base, "127.0.0.1:1".parse().unwrap(), None);
        for (sim, agency) in fed.agencies.iter().zip(&pointed.agencies) {
            assert_eq!(sim.profile == Profile::Silent, agency.catalog.is_none());
        }
    }

    #[test]
    fn exemplary_records_are_complete() {
        let reg = Registry::builtin();
        let fed = Federation::plan(&reg, 3);
        let sim = fed
            .agencies
            .iter()
            .find(|a| a.profile == Profile::Exemplary)
            .unwrap();
        let mut tally = crate::score::QualityTally::default();
        let text = render::datajson(&fed.records(sim, "http://f/"));
        crate::catalog::parse_datajson(std::io::Cursor::new(text), |d| {
            tally.add(&crate::score::quality::mark(&d))
        })
        .unwrap();
        assert_eq!(tally.datasets as usize, sim.datasets);
        // Every quality rule is passed: complete, correct, clean and current.
        assert_eq!(
            tally.failing,
            vec![0; crate::score::quality::DATASET_RULES.len()]
        );
        assert_eq!(tally.completeness(), 1.0);
        assert_eq!(tally.stale_at(crate::score::today()), 0);
    }

    #[test]
    fn every_published_form_reads_back_to_the_same_tally() {
        use crate::catalog::rdf::{RdfSyntax, parse_dcat};
        use crate::catalog::{ckan, parse_datajson, table};
        use crate::score::quality::{DATASET_RULES, Dimension, mark};
        /// Datasets, and how many fail each metadata-completeness (đủ) rule.
        #[derive(Debug, Default, PartialEq)]
        struct CompletenessTally {
            datasets: u64,
            missing: Vec<u64>,
        }
        impl CompletenessTally {
            fn add(&mut self, d: &crate::catalog::Dataset) {
                let m = mark(d);
                self.datasets += 1;
                let sufficient = DATASET_RULES
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.dimension == Dimension::Sufficient);
                self.missing.resize(DATASET_RULES.len(), 0);
                for (i, _) in sufficient {
                    self.missing[i] += u64::from(m.fails(i));
                }
            }
        }
        let reg = Registry::builtin();
        let fed = Federation::plan(&reg, 5);
        let sim = fed
            .agencies
            .iter()
            .find(|a| a.profile == Profile::Average)
            .unwrap();
        let records = fed.records(sim, "http://f/");
        type Reader<'a> = &'a dyn Fn(&mut dyn FnMut(crate::catalog::Dataset));
        let tally = |read: Reader<'_>| {
            let mut t = CompletenessTally::default();
            read(&mut |d| t.add(&d));
            t
        };
        let base = "http://sim.invalid/x/catalog";
        let expected = tally(&|each| {
            parse_datajson(std::io::Cursor::new(render::datajson(&records)), each).unwrap();
        });
        assert_eq!(expected.datasets as usize, records.len());
        assert!(
            expected.missing.iter().any(|&m| m > 0),
            "an average agency leaves fields out"
        );
        let forms: Vec<(&str, CompletenessTally)> = vec![
            (
                "turtle",
                tally(&|each| {
                    parse_dcat(
                        RdfSyntax::Turtle,
                        render::turtle(base, &records, None).as_bytes(),
                        Some(base),
                        each,
                    )
                    .unwrap();
                }),
            ),
            (
                "json-ld",
                tally(&|each| {
                    parse_dcat(
                        RdfSyntax::JsonLd,
                        render::jsonld(base, &records).as_bytes(),
                        Some(base),
                        each,
                    )
                    .unwrap();
                }),
            ),
            (
                "ckan",
                tally(&|each| {
                    ckan::parse_package_search(
                        render::ckan_search(&records, 0, 1000).as_bytes(),
                        each,
                    )
                    .unwrap();
                }),
            ),
            (
                "csv",
                tally(&|each| {
                    table::parse_csv(render::csv(&records).as_bytes(), each).unwrap();
                }),
            ),
        ];
        for (form, got) in forms {
            assert_eq!(got, expected, "{form}");
        }
    }

    #[tokio::test]
    async fn a_catalog_is_rendered_once_and_a_stranger_query_makes_no_entry() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim = launch(&Registry::builtin(), 3, listener).await.unwrap();
        let url = sim
            .registry
            .agencies
            .iter()
            .zip(&sim.federation.agencies)
            .find(|(_, s)| s.profile == Profile::Exemplary && s.published == Published::DataJson)
            .and_then(|(a, _)| a.catalog.as_ref())
            .map(|c| c.url.clone())
            .expect("an exemplary agency publishing data.json");
        let client = reqwest::Client::new();
        let first = client.get(url.clone()).send().await.unwrap();
        let etag = first.headers()[reqwest::header::ETAG].clone();
        let body = first.bytes().await.unwrap();
        for junk in 0..20 {
            let again = client
                .get(format!("{url}?junk={junk}"))
                .send()
                .await
                .unwrap();
            assert_eq!(again.headers()[reqwest::header::ETAG], etag);
            assert_eq!(again.bytes().await.unwrap(), body, "the same catalog");
        }
        let unchanged = client
            .get(url)
            .header(reqwest::header::IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();
        assert_eq!(unchanged.status(), reqwest::StatusCode::NOT_MODIFIED);
        assert_eq!(
            sim.federation.rendered.len(),
            1,
            "one entry for one catalog"
        );
    }
}
