//! Harvesting: fetch an agency's catalog, page by page, and read it into datasets.
//!
//! The fetching is I/O; the reading is the pure parsers of [`crate::catalog`], run on a
//! blocking thread over the body as it was spooled (memory for small bodies, a temporary
//! file for large ones), so memory stays flat whatever the catalog's size. The result is
//! always a [`CatalogObservation`], whatever the server sent: failures are outcomes for
//! scoring, not errors for the caller.
//!
//! An unchanged catalog costs one request: the validators (ETag, Last-Modified) and the
//! body's SHA-256 of the last good harvest are kept, and a 304 or an identical body reuses
//! what was read then.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::io::Read;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::catalog::national::{DatasetRecord, MAX_RECORDS, Records};
use crate::catalog::rdf::{self, RdfSyntax};
use crate::catalog::{self, CatalogError, Dataset, ckan, table};
use crate::fetch::{Answer, Body, Fetcher, Validators};
use crate::observation::{CatalogObservation, CatalogOutcome, Failure, FailureClass, Note};
use crate::registry::{CatalogEndpoint, CatalogFormat};
use crate::score::{Mark, QualityTally, quality};

/// How many pages a paged catalog may have before dtindex stops following it.
pub const MAX_PAGES: usize = 10_000;
/// Rows asked per CKAN `package_search` page (CKAN's usual maximum).
pub const CKAN_ROWS: u32 = 1000;
/// The most distinct links kept of one catalog for checking: 50,000 URLs are a few MB of
/// state, and a catalog listing more is checked on its first 50,000.
pub const MAX_LINKS: usize = 50_000;

/// A concrete format, once `auto` has been resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Format {
    DataJson,
    Dcat(#[serde(skip)] RdfSyntax),
    Ckan,
    Csv,
    Xlsx,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::DataJson => "DCAT-US data.json",
            Format::Dcat(RdfSyntax::JsonLd) => "DCAT JSON-LD",
            Format::Dcat(RdfSyntax::Turtle) => "DCAT Turtle",
            Format::Dcat(RdfSyntax::RdfXml) => "DCAT RDF/XML",
            Format::Ckan => "CKAN Action API",
            Format::Csv => "CSV",
            Format::Xlsx => "XLSX",
        }
    }
}

/// Decides the format from the configuration, the Content-Type and the first bytes.
///
/// The bytes win over the Content-Type: servers often send `text/plain` or
/// `application/octet-stream`, and sometimes simply lie. When the two disagree the
/// returned note says so, since a client that trusts the header would fail.
pub fn detect(
    configured: CatalogFormat,
    content_type: Option<&str>,
    head: &[u8],
    url_path: &str,
) -> Result<(Format, Option<String>), String> {
    let declared = content_type.map(|c| {
        c.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let sniffed = sniff(head);
    // Markup that is not RDF/XML is a web page: the commonest wrong answer to a catalog URL.
    if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
        && sniffed != Some(Format::Dcat(RdfSyntax::RdfXml))
    {
        return Err(format!(
            "the server sent markup (Content-Type {}) where a catalog was expected; an HTML page is not a catalog",
            content_type.unwrap_or("not given")
        ));
    }
    let format = match configured {
        CatalogFormat::DataJson => Format::DataJson,
        CatalogFormat::Ckan => Format::Ckan,
        CatalogFormat::Csv => Format::Csv,
        CatalogFormat::Xlsx => Format::Xlsx,
        CatalogFormat::Dcat => match sniffed {
            Some(Format::Dcat(s)) => Format::Dcat(s),
            _ => Format::Dcat(rdf_from_content_type(declared.as_deref()).unwrap_or(RdfSyntax::Turtle)),
        },
        CatalogFormat::Auto => match sniffed {
            Some(f) => f,
            None => from_content_type(declared.as_deref())
                .or_else(|| from_extension(url_path))
                .ok_or_else(|| {
                    format!(
                        "the format could not be recognised (Content-Type {}); publish data.json, DCAT, a CKAN API, CSV or XLSX",
                        content_type.unwrap_or("not given")
                    )
                })?,
        },
    };
    let media = |d: &str| {
        ["image/", "audio/", "video/", "font/"]
            .iter()
            .any(|p| d.starts_with(p))
    };
    let lie = match (declared.as_deref(), from_content_type(declared.as_deref())) {
        (Some(d), Some(by_header)) if !same_family(by_header, format) => Some(format!(
            "the server declares Content-Type {d} but sends {}",
            format.name()
        )),
        // A type no catalog can have (an image, a sound) is a lie whatever the body is.
        (Some(d), None) if media(d) => Some(format!(
            "the server declares Content-Type {d} but sends {}",
            format.name()
        )),
        _ => None,
    };
    Ok((format, lie))
}

fn same_family(a: Format, b: Format) -> bool {
    let json = |f| {
        matches!(
            f,
            Format::DataJson | Format::Ckan | Format::Dcat(RdfSyntax::JsonLd)
        )
    };
    a == b || (json(a) && json(b))
}

fn rdf_from_content_type(ct: Option<&str>) -> Option<RdfSyntax> {
    match ct? {
        "application/ld+json" => Some(RdfSyntax::JsonLd),
        "text/turtle" | "application/x-turtle" | "text/n3" => Some(RdfSyntax::Turtle),
        "application/rdf+xml" => Some(RdfSyntax::RdfXml),
        _ => None,
    }
}

fn from_content_type(ct: Option<&str>) -> Option<Format> {
    if let Some(rdf) = rdf_from_content_type(ct) {
        return Some(Format::Dcat(rdf));
    }
    match ct? {
        "application/json" | "text/json" => Some(Format::DataJson),
        "text/csv" | "application/csv" => Some(Format::Csv),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => Some(Format::Xlsx),
        _ => None,
    }
}

fn from_extension(path: &str) -> Option<Format> {
    let lower = path.to_ascii_lowercase();
    let ext = lower.rsplit('.').next()?;
    match ext {
        "json" => Some(Format::DataJson),
        "jsonld" => Some(Format::Dcat(RdfSyntax::JsonLd)),
        "ttl" => Some(Format::Dcat(RdfSyntax::Turtle)),
        "rdf" | "xml" => Some(Format::Dcat(RdfSyntax::RdfXml)),
        "csv" => Some(Format::Csv),
        "xlsx" => Some(Format::Xlsx),
        _ => None,
    }
}

/// Recognises a format from its first bytes, or `None` when they do not tell.
fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"PK\x03\x04") {
        return Some(Format::Xlsx);
    }
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        // Keys near the top tell the JSON dialects apart.
        return Some(
            if trimmed.contains("\"@context\"") || trimmed.contains("\"@graph\"") {
                if trimmed.contains("project-open-data.cio.gov") && trimmed.contains("\"dataset\"")
                {
                    Format::DataJson
                } else {
                    Format::Dcat(RdfSyntax::JsonLd)
                }
            } else if (trimmed.contains("\"success\"") && trimmed.contains("\"result\""))
                || (trimmed.contains("\"resources\"")
                    && (trimmed.contains("\"num_resources\"") || trimmed.contains("\"notes\"")))
                || trimmed.contains("\"is_organization\"")
            {
                // An Action API answer, or a bare CKAN package or organization dict.
                Format::Ckan
            } else {
                Format::DataJson
            },
        );
    }
    if trimmed.starts_with("<?xml") || trimmed.starts_with("<rdf:RDF") {
        return trimmed
            .contains("rdf:RDF")
            .then_some(Format::Dcat(RdfSyntax::RdfXml));
    }
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("@prefix") || lower.starts_with("prefix ") || lower.starts_with("@base") {
        return Some(Format::Dcat(RdfSyntax::Turtle));
    }
    None
}

// ---------------------------------------------------------------------------------------
// Reading

/// The keyed hasher of a sink's duplicate checks (see [`DatasetSink::hasher`]).
type Keyed = ahash::RandomState;

/// A callback handed every dataset read.
pub type EachDataset = Box<dyn FnMut(&Dataset, &Mark) + Send>;

/// Everything read from a catalog's datasets, folded as they stream past.
#[derive(Default)]
pub struct DatasetSink {
    pub tally: QualityTally,
    pub datasets: usize,
    pub duplicate_identifiers: usize,
    pub schema_invalid: usize,
    pub unsafe_text: crate::observation::UnsafeText,
    seen: HashSet<u64, Keyed>,
    /// Hashes of each record's title, description and URLs, to spot a record listed twice
    /// under different identifiers.
    records: HashSet<u64, Keyed>,
    /// The identifiers, records and links are hashed with keys drawn for each sink: a
    /// catalog cannot choose values that collide, in these hashes or in the sets'
    /// buckets (hash flooding). aHash, not the standard library's SipHash: it hashes a
    /// record's title and description several times faster, with the same keyed design.
    hasher: Keyed,
    /// Called with every dataset, for callers that want more than the tally (`inspect`).
    each: Option<EachDataset>,
    /// Each package's missing-field mask, kept for CKAN's incremental harvests.
    ckan: Option<CkanState>,
    /// Content digests of the datasets read by the last good harvest, and of this one's.
    previous_digests: HashSet<u64>,
    digests: Vec<u64>,
    /// Datasets new or changed since the last good harvest.
    pub changed: usize,
    /// The catalog's links, for the link checker (a CKAN portal's are kept per package).
    links: Vec<CatalogLink>,
    link_hashes: HashSet<u64, Keyed>,
    /// The first records, for the national catalog (duplicates of an identifier left out).
    kept: Vec<DatasetRecord>,
}

impl DatasetSink {
    /// A sink that also hands every dataset to `each`.
    pub fn with(each: impl FnMut(&Dataset, &Mark) + Send + 'static) -> DatasetSink {
        DatasetSink {
            each: Some(Box::new(each)),
            ..DatasetSink::default()
        }
    }

    /// Folds one dataset in. It takes the dataset, so the national catalog's record keeps
    /// the dataset's strings instead of copies of them.
    pub fn add(&mut self, dataset: Dataset) {
        let digest = content_digest(&dataset);
        self.digests.push(digest);
        self.datasets += 1;
        let duplicate_id = dataset.identifier.as_ref().is_some_and(|id| {
            // Hashes, not the identifiers: a million records cost 8 MB, not the strings.
            !self.seen.insert(self.hasher.hash_one(id))
        });
        if duplicate_id {
            self.duplicate_identifiers += 1;
        }
        let record = {
            // Hashed in place: no allocation per record on the parse path.
            use std::hash::{Hash as _, Hasher as _};
            let mut h = self.hasher.build_hasher();
            (&dataset.title, &dataset.description).hash(&mut h);
            for x in &dataset.distributions {
                (&x.access_url, &x.download_url).hash(&mut h);
            }
            h.finish()
        };
        let duplicate_record = dataset.title.is_some() && !self.records.insert(record);
        let mark = quality::mark(&dataset).with_duplicates(duplicate_id, duplicate_record);
        self.tally.add(&mark);
        // Per-dataset work downstream is done for new and changed datasets only.
        if !self.previous_digests.contains(&digest) {
            self.changed += 1;
            if let Some(each) = &mut self.each {
                each(&dataset, &mark);
            }
        }
        if dataset.schema.as_ref().is_some_and(|s| s.errors > 0) {
            self.schema_invalid += 1;
        }
        let texts = [
            &dataset.identifier,
            &dataset.title,
            &dataset.description,
            &dataset.publisher,
            &dataset.contact_point,
        ];
        self.unsafe_text.add_record(
            texts
                .into_iter()
                .flatten()
                .chain(dataset.keywords.iter().chain(&dataset.themes))
                .map(String::as_str),
        );
        let links = links_of(&dataset);
        if let (Some(ckan), Some(id)) = (&mut self.ckan, &dataset.identifier) {
            ckan.packages.insert(id.clone(), mark);
            if !links.is_empty() {
                ckan.links.insert(id.clone(), links);
            }
            if let Some(m) = &dataset.modified
                && ckan
                    .last_modified
                    .as_deref()
                    .is_none_or(|seen| m.as_str() > seen)
            {
                ckan.last_modified = Some(m.clone());
            }
        } else {
            self.keep_links(links);
        }
        if !duplicate_id && self.kept.len() < MAX_RECORDS {
            self.kept
                .push(DatasetRecord::of(dataset, self.datasets - 1));
        }
    }
}

impl DatasetSink {
    /// The records kept for the national catalog, taken out of the sink.
    pub fn take_records(&mut self) -> Vec<DatasetRecord> {
        std::mem::take(&mut self.kept)
    }

    fn keep_links(&mut self, links: Vec<CatalogLink>) {
        for link in links {
            if self.links.len() >= MAX_LINKS {
                return;
            }
            if self.link_hashes.insert(self.hasher.hash_one(&link.url)) {
                self.links.push(link);
            }
        }
    }
}

/// An access or download URL a catalog lists, with the media type it declares for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogLink {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// A dataset's links worth checking: http(s) URLs that are not placeholders (those are
/// a finding of their own, and must not send the checker to example.com).
pub fn links_of(dataset: &Dataset) -> Vec<CatalogLink> {
    let mut out: Vec<CatalogLink> = Vec::new();
    for x in &dataset.distributions {
        // A media type as such (`text/csv`), not a format name (`CSV`).
        let media_type = x.media_type.as_ref().filter(|m| m.contains('/')).cloned();
        for url in [&x.access_url, &x.download_url].into_iter().flatten() {
            let url = url.trim();
            let usable = quality::classify_url(url) == quality::UrlKind::Web;
            if usable && !out.iter().any(|l| l.url == url) {
                out.push(CatalogLink {
                    url: url.to_string(),
                    media_type: media_type.clone(),
                });
            }
        }
    }
    out
}

/// A dataset's content digest: XXH3 (a fixed, specified 64-bit hash) of its normalized
/// form. Computed on the normalized record, so a catalog re-serialised (keys reordered,
/// whitespace, another format) keeps its digests; only a change of content changes one.
/// Digests are kept across cycles, so they must not depend on the process: no random
/// seed. Should a Rust release change how `Hash` feeds a string to the hasher, the next
/// harvest after the upgrade sees every dataset as changed once: extra work, no wrong
/// verdict. (It was SHA-256 over the record's JSON: a tenth of the parse's time.)
///
/// The record's bytes are gathered first and hashed in one call: XXH3 gives the same
/// digest for bytes fed whole or in pieces, and `Hash` feeds a record in dozens of small
/// pieces, each of which costs the streaming hasher a buffer check and a copy.
pub fn content_digest(dataset: &Dataset) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    thread_local! {
        static BYTES: std::cell::RefCell<Gathered> = const {
            std::cell::RefCell::new(Gathered(Vec::new()))
        };
    }
    BYTES.with_borrow_mut(|gathered| {
        gathered.0.clear();
        dataset.hash(gathered);
        let digest = gathered.finish();
        // A huge record once must not keep its size on every blocking thread.
        gathered.0.shrink_to(GATHERED_KEPT);
        digest
    })
}

/// The most a thread keeps of [`content_digest`]'s buffer between records.
const GATHERED_KEPT: usize = 64 * 1024;

/// The bytes `Hash` writes, gathered for one XXH3 call ([`content_digest`]).
struct Gathered(Vec<u8>);

impl std::hash::Hasher for Gathered {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn finish(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.0)
    }
}

/// Where a page says the catalog goes on.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    End,
    /// `hydra:next`: the URL of the next page.
    Link(String),
    /// CKAN `package_search`: the total, how many rows this page gave, and their ids.
    Ckan {
        count: u64,
        returned: usize,
        ids: Vec<String>,
    },
}

/// Reads one page (or a whole single-document catalog) into `sink`. Pure.
///
/// `previous_ids` are the package ids of the CKAN page read before: a portal that serves
/// the same page again (a broken `start`) does not get its datasets counted twice.
pub fn read_page(
    format: Format,
    base: Option<&str>,
    reader: Box<dyn crate::fetch::ReadSeek + Send>,
    sink: &mut DatasetSink,
    previous_ids: &[String],
) -> Result<Next, CatalogError> {
    match format {
        Format::DataJson => catalog::parse_datajson(reader, |d| sink.add(d)).map(|_| Next::End),
        Format::Dcat(syntax) => rdf::parse_dcat(syntax, reader, base, |d| sink.add(d))
            .map(|s| s.next_page.map_or(Next::End, Next::Link)),
        Format::Ckan => {
            // A page is at most `rows` packages: held until it is known not to repeat.
            let mut page = Vec::new();
            let p = ckan::parse_package_search(reader, |d| page.push(d))?;
            if previous_ids.is_empty() || p.ids != previous_ids {
                page.into_iter().for_each(|d| sink.add(d));
            }
            Ok(Next::Ckan {
                count: p.count,
                returned: p.returned,
                ids: p.ids,
            })
        }
        Format::Csv => table::parse_csv(reader, |d| sink.add(d)).map(|_| Next::End),
        Format::Xlsx => {
            // The xlsx reader needs to seek (a zip archive), so it gets the bytes whole.
            let mut bytes = Vec::new();
            let mut reader = reader;
            reader
                .read_to_end(&mut bytes)
                .map_err(|e| CatalogError::Io(e.to_string()))?;
            table::parse_xlsx(std::io::Cursor::new(bytes), |d| sink.add(d)).map(|_| Next::End)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Harvesting over HTTP

/// What the store keeps of an agency's last good harvest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HarvestState {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub sha256: Option<String>,
    /// The observation made then, reused when nothing changed.
    pub observation: Option<CatalogObservation>,
    /// For a CKAN portal, each package as last read, so the next harvest asks only for
    /// what was modified since.
    #[serde(default)]
    pub ckan: Option<CkanState>,
    /// Content digests of the datasets read ([`content_digest`]), so the next harvest
    /// tells the changed ones from the rest.
    #[serde(default)]
    pub digests: Vec<u64>,
    /// The catalog's links (a CKAN portal's are in `ckan`), checked each cycle whether
    /// or not the catalog changed.
    #[serde(default)]
    pub links: Vec<CatalogLink>,
}

impl HarvestState {
    /// Every distinct link of the catalog, up to [`MAX_LINKS`].
    pub fn links(&self) -> Vec<CatalogLink> {
        let mut seen = HashSet::new();
        let per_package = self.ckan.iter().flat_map(|c| c.links.values().flatten());
        self.links
            .iter()
            .chain(per_package)
            .filter(|l| seen.insert(l.url.as_str()))
            .take(MAX_LINKS)
            .cloned()
            .collect()
    }
}

/// What was read of each package of a CKAN portal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CkanState {
    /// The latest `metadata_modified` seen: the next harvest asks for packages since then.
    pub last_modified: Option<String>,
    /// Package id → what it contributed to the scores.
    pub packages: std::collections::BTreeMap<String, Mark>,
    /// Package id → its links.
    #[serde(default)]
    pub links: std::collections::BTreeMap<String, Vec<CatalogLink>>,
}

/// Harvests one catalog; returns what was seen and the state to keep for next time.
pub async fn harvest(
    fetcher: &Fetcher,
    endpoint: &CatalogEndpoint,
    previous: Option<&HarvestState>,
) -> (CatalogObservation, Option<HarvestState>) {
    let (obs, state, _) = harvest_into(fetcher, endpoint, previous, DatasetSink::default()).await;
    (obs, state)
}

/// [`harvest`], folding the datasets into the given sink and handing it back.
pub async fn harvest_into(
    fetcher: &Fetcher,
    endpoint: &CatalogEndpoint,
    previous: Option<&HarvestState>,
    mut sink: DatasetSink,
) -> (CatalogObservation, Option<HarvestState>, DatasetSink) {
    let started = Instant::now();
    let url = endpoint.url.to_string();
    let previous = previous.filter(|p| p.url == url && p.observation.is_some());
    let validators = previous.map(|p| Validators {
        etag: p.etag.clone(),
        last_modified: p.last_modified.clone(),
    });
    let mut obs = CatalogObservation {
        url: Some(url.clone()),
        requests: 1,
        ..CatalogObservation::default()
    };
    if endpoint.format == CatalogFormat::Ckan
        && let Some(prev) = previous
        && let Some(ckan) = &prev.ckan
        && let Some(done) = ckan_incremental(fetcher, endpoint, prev, ckan, started).await
    {
        return (done.0, Some(done.1), sink);
    }
    // A CKAN portal registered by its root is read through its package_search API.
    let first_url = match endpoint.format {
        CatalogFormat::Ckan if !endpoint.url.path().contains("/api/") => ckan::package_search_url(
            &ckan_base(&endpoint.url),
            CKAN_ROWS,
            0,
            None,
            endpoint.organization.as_deref(),
        )
        .unwrap_or_else(|_| endpoint.url.clone()),
        _ => endpoint.url.clone(),
    };
    let first = fetcher
        .get_if_changed(&first_url, validators.as_ref())
        .await;
    let reuse = |mut kept: CatalogObservation, status: u16, requests: u32| {
        kept.http_status = Some(status);
        kept.unchanged = true;
        kept.datasets_changed = 0;
        kept.requests = requests;
        kept.duration_ms = started.elapsed().as_millis() as u64;
        kept
    };
    let fetched = match first {
        Err((failure, status)) => {
            obs.http_status = status;
            obs.outcome = CatalogOutcome::FetchFailed(failure);
            obs.duration_ms = started.elapsed().as_millis() as u64;
            return (obs, None, sink);
        }
        Ok(Answer::NotModified) => {
            let Some(prev) = previous else {
                unreachable_not_modified(&mut obs);
                return (obs, None, sink);
            };
            let kept = prev.observation.clone().unwrap_or_default();
            return (reuse(kept, 304, 1), Some(prev.clone()), sink);
        }
        Ok(Answer::Fresh(f)) => f,
    };
    obs.http_status = Some(fetched.status.as_u16());
    let state = HarvestState {
        url: url.clone(),
        etag: fetched.validators.etag.clone(),
        last_modified: fetched.validators.last_modified.clone(),
        sha256: Some(fetched.sha256.clone()),
        observation: None,
        ckan: None,
        digests: Vec::new(),
        links: Vec::new(),
    };
    // Same bytes as last time (a server that ignores conditional requests): no re-reading.
    if let Some(prev) = previous
        && prev.sha256.as_deref() == Some(fetched.sha256.as_str())
        && let Some(kept) = prev.observation.clone()
    {
        let kept = reuse(kept, fetched.status.as_u16(), 1);
        // What the last read left (digests, packages, links) stays true of the same bytes.
        let state = HarvestState {
            observation: Some(kept.clone()),
            ..HarvestState {
                url: state.url,
                etag: state.etag,
                last_modified: state.last_modified,
                sha256: state.sha256,
                ..prev.clone()
            }
        };
        return (kept, Some(state), sink);
    }

    let mut body = fetched.body;
    let head = body.head(64 * 1024).unwrap_or_default();
    let (format, lie) = match detect(
        endpoint.format,
        fetched.content_type.as_deref(),
        &head,
        endpoint.url.path(),
    ) {
        Ok(found) => found,
        Err(message) => {
            obs.bytes = fetched.bytes;
            obs.outcome = CatalogOutcome::ParseFailed(message);
            obs.duration_ms = started.elapsed().as_millis() as u64;
            return (obs, None, sink);
        }
    };
    obs.format = Some(format.name().to_string());
    if format == Format::Ckan {
        sink.ckan = Some(CkanState::default());
    }
    if let Some(prev) = previous {
        sink.previous_digests = prev.digests.iter().copied().collect();
    }
    if let Some(lie) = lie {
        obs.notes.push(Note::ContentTypeMismatch(lie));
    }
    obs.bytes = fetched.bytes;

    let mut result = read_blocking(format, &first_url, body, sink, Vec::new()).await;
    let mut visited: HashSet<String> = HashSet::from([url.clone()]);
    let mut pages = 1usize;
    let mut previous_ids: Vec<String> = Vec::new();
    let mut ckan_start: u64 = 0;
    loop {
        let (returned_sink, next) = result;
        sink = returned_sink;
        let next = match next {
            Ok(next) => next,
            Err(e) => {
                obs.outcome = CatalogOutcome::ParseFailed(describe_break(&e, sink.datasets, pages));
                break;
            }
        };
        let next_url = match next {
            Next::End => {
                obs.outcome = CatalogOutcome::Parsed;
                break;
            }
            Next::Link(link) => {
                let Ok(next) = endpoint.url.join(&link) else {
                    obs.notes.push(Note::Paging(format!(
                        "the next-page link `{link}` is not a URL; paging stopped"
                    )));
                    obs.outcome = CatalogOutcome::Parsed;
                    break;
                };
                if !visited.insert(next.to_string()) {
                    obs.notes.push(Note::Paging(format!(
                        "paging loops back to {next} after {pages} pages; paging stopped there"
                    )));
                    obs.outcome = CatalogOutcome::Parsed;
                    break;
                }
                next
            }
            Next::Ckan {
                count,
                returned,
                ids,
            } => {
                if !previous_ids.is_empty() && ids == previous_ids {
                    obs.notes.push(Note::Paging(format!(
                        "the CKAN portal returned the same page twice (at row {ckan_start}); paging stopped"
                    )));
                    obs.outcome = CatalogOutcome::Parsed;
                    break;
                }
                ckan_start += returned as u64;
                previous_ids = ids;
                if returned == 0 || ckan_start >= count {
                    if (sink.datasets as u64) != count {
                        obs.notes.push(Note::Paging(format!(
                            "the CKAN portal announced {count} datasets but {} were returned",
                            sink.datasets
                        )));
                    }
                    obs.outcome = CatalogOutcome::Parsed;
                    break;
                }
                match ckan::package_search_url(
                    &ckan_base(&endpoint.url),
                    CKAN_ROWS,
                    ckan_start,
                    None,
                    endpoint.organization.as_deref(),
                ) {
                    Ok(next) => next,
                    Err(e) => {
                        obs.outcome =
                            CatalogOutcome::ParseFailed(format!("cannot page the CKAN API: {e}"));
                        break;
                    }
                }
            }
        };
        if pages >= MAX_PAGES {
            obs.notes.push(Note::Paging(format!(
                "more than {MAX_PAGES} pages; paging stopped"
            )));
            obs.outcome = CatalogOutcome::Parsed;
            break;
        }
        pages += 1;
        obs.requests += 1;
        match fetcher.get(&next_url).await {
            Ok(page) => {
                obs.bytes += page.bytes;
                result =
                    read_blocking(format, &next_url, page.body, sink, previous_ids.clone()).await;
            }
            Err((failure, _)) => {
                obs.outcome = CatalogOutcome::ParseFailed(format!(
                    "page {pages} ({next_url}) could not be fetched: {}",
                    failure.message
                ));
                break;
            }
        }
    }
    record(&mut obs, &mut sink);
    if format == Format::Ckan
        && sink.datasets == 0
        && let Some(org) = &endpoint.organization
    {
        // No package for the agency's organization: the portal's organization_list tells
        // a misspelt or renamed organization from one that has published nothing.
        obs.requests += 1;
        if let Some(known) = organizations(fetcher, &ckan_base(&endpoint.url)).await
            && !known.iter().any(|o| o == org)
        {
            let sample: Vec<&str> = known.iter().take(20).map(String::as_str).collect();
            obs.notes.push(Note::UnknownOrganization(format!(
                "the portal has no organization `{org}`; it has {} (first: {})",
                known.len(),
                sample.join(", ")
            )));
        }
    }
    obs.duration_ms = started.elapsed().as_millis() as u64;
    // The records go to the store, not into the state kept for the next harvest.
    let records = std::mem::take(&mut obs.records);
    let keep = matches!(obs.outcome, CatalogOutcome::Parsed).then(|| HarvestState {
        observation: Some(obs.clone()),
        ckan: sink.ckan.take(),
        digests: std::mem::take(&mut sink.digests),
        links: std::mem::take(&mut sink.links),
        ..state
    });
    obs.records = records;
    (obs, keep, sink)
}

/// A CKAN portal's `organization_list`, or `None` if it cannot be read.
async fn organizations(fetcher: &Fetcher, base: &Url) -> Option<Vec<String>> {
    let url = base.join("api/3/action/organization_list").ok()?;
    let page = fetcher.get(&url).await.ok()?;
    tokio::task::spawn_blocking(move || {
        ckan::parse_organization_list(page.body.reader().ok()?).ok()
    })
    .await
    .ok()?
}

/// Copies what the sink gathered into the observation; a catalog read to its end
/// replaces the agency's datasets in the national catalog.
fn record(obs: &mut CatalogObservation, sink: &mut DatasetSink) {
    if obs.outcome == CatalogOutcome::Parsed {
        obs.records = Records::Replace(sink.take_records());
    }
    obs.datasets = sink.datasets;
    obs.datasets_changed = sink.changed;
    obs.tally = sink.tally.clone();
    if sink.duplicate_identifiers > 0 {
        obs.notes
            .push(Note::DuplicateIdentifiers(sink.duplicate_identifiers));
    }
    if !sink.unsafe_text.is_empty() {
        obs.notes.push(Note::UnsafeText(sink.unsafe_text));
    }
    obs.schema_invalid = sink.schema_invalid;
}

/// Reads a catalog from a local file, as [`harvest_into`] reads one over HTTP: the format
/// from the configuration, the extension and the first bytes. Used by `dtindex inspect`.
pub async fn read_file(
    path: &std::path::Path,
    format: CatalogFormat,
    sink: DatasetSink,
) -> std::io::Result<(CatalogObservation, DatasetSink)> {
    let started = Instant::now();
    let file = std::fs::File::open(path)?;
    let bytes = file.metadata()?.len();
    let mut body = Body::File(file);
    let head = body.head(64 * 1024)?;
    let mut obs = CatalogObservation {
        url: Some(path.display().to_string()),
        bytes,
        ..CatalogObservation::default()
    };
    let name = path.to_string_lossy();
    let (format, _) = match detect(format, None, &head, &name) {
        Ok(found) => found,
        Err(message) => {
            obs.outcome = CatalogOutcome::ParseFailed(message);
            return Ok((obs, sink));
        }
    };
    obs.format = Some(format.name().to_string());
    let base = Url::from_file_path(std::path::absolute(path)?)
        .unwrap_or_else(|_| Url::parse("file:///").expect("a valid URL"));
    let (mut sink, next) = read_blocking(format, &base, body, sink, Vec::new()).await;
    obs.outcome = match next {
        Ok(Next::Link(link)) => {
            obs.notes.push(Note::Paging(format!(
                "the catalog names a next page ({link}); a local file is read alone"
            )));
            CatalogOutcome::Parsed
        }
        Ok(_) => CatalogOutcome::Parsed,
        Err(e) => CatalogOutcome::ParseFailed(describe_break(&e, sink.datasets, 1)),
    };
    record(&mut obs, &mut sink);
    obs.duration_ms = started.elapsed().as_millis() as u64;
    Ok((obs, sink))
}

/// Asks a CKAN portal only for the packages modified since the last harvest, and folds
/// them over what was kept of the others. Returns `None` to fall back to a full harvest:
/// when the portal's total no longer matches the packages known (some were deleted or
/// made private, which an incremental query cannot see), or anything fails.
async fn ckan_incremental(
    fetcher: &Fetcher,
    endpoint: &CatalogEndpoint,
    previous: &HarvestState,
    kept: &CkanState,
    started: Instant,
) -> Option<(CatalogObservation, HarvestState)> {
    let since = kept.last_modified.as_deref()?;
    let base = ckan_base(&endpoint.url);
    let mut requests = 0u32;
    let mut packages = kept.packages.clone();
    let mut links = kept.links.clone();
    let mut last_modified = kept.last_modified.clone();
    let mut changed = 0usize;
    let mut upserts = Vec::new();
    let mut start = 0u64;
    let mut previous_ids: Vec<String> = Vec::new();
    loop {
        let org = endpoint.organization.as_deref();
        let url = ckan::package_search_url(&base, CKAN_ROWS, start, Some(since), org).ok()?;
        requests += 1;
        let page = fetcher.get(&url).await.ok()?;
        let (datasets, p) = tokio::task::spawn_blocking(move || {
            let mut datasets = Vec::new();
            let reader = page.body.reader().ok()?;
            let p = ckan::parse_package_search(reader, |d| datasets.push(d)).ok()?;
            Some((datasets, p))
        })
        .await
        .ok()??;
        if p.ids == previous_ids && !p.ids.is_empty() {
            return None;
        }
        for d in datasets {
            let id = d.identifier.clone()?;
            let found = links_of(&d);
            if found.is_empty() {
                links.remove(&id);
            } else {
                links.insert(id.clone(), found);
            }
            packages.insert(id, quality::mark(&d));
            // The range is inclusive: the package modified at `since` comes back unchanged.
            if d.modified.as_deref().is_some_and(|m| m > since) {
                changed += 1;
            }
            if upserts.len() < MAX_RECORDS {
                upserts.push(DatasetRecord::of(d, upserts.len()));
            }
        }
        if let Some(m) = p.last_modified
            && last_modified
                .as_deref()
                .is_none_or(|seen| m.as_str() > seen)
        {
            last_modified = Some(m);
        }
        start += p.returned as u64;
        previous_ids = p.ids;
        if p.returned == 0 || start >= p.count || requests as usize >= MAX_PAGES {
            break;
        }
    }
    // The portal's total, to see whether anything disappeared.
    requests += 1;
    let url = ckan::package_search_url(&base, 0, 0, None, endpoint.organization.as_deref()).ok()?;
    let total_page = fetcher.get(&url).await.ok()?;
    let total = tokio::task::spawn_blocking(move || {
        let reader = total_page.body.reader().ok()?;
        ckan::parse_package_search(reader, |_| {})
            .ok()
            .map(|p| p.count)
    })
    .await
    .ok()??;
    if total != packages.len() as u64 {
        return None;
    }
    let mut tally = QualityTally::default();
    packages.values().for_each(|mark| tally.add(mark));
    let mut obs = previous.observation.clone()?;
    obs.datasets = packages.len();
    obs.tally = tally;
    obs.unchanged = changed == 0;
    obs.datasets_changed = changed;
    obs.requests = requests;
    obs.http_status = Some(200);
    obs.outcome = CatalogOutcome::Parsed;
    obs.duration_ms = started.elapsed().as_millis() as u64;
    obs.records = Records::Upsert(upserts);
    let state = HarvestState {
        observation: Some(obs.clone()),
        ckan: Some(CkanState {
            last_modified,
            packages,
            links,
        }),
        ..previous.clone()
    };
    Some((obs, state))
}

fn unreachable_not_modified(obs: &mut CatalogObservation) {
    obs.outcome = CatalogOutcome::FetchFailed(Failure {
        class: FailureClass::Status,
        message: "the server answered 304 Not Modified to an unconditional request".into(),
    });
}

/// The portal root of a CKAN URL, whether the registry gives the root or the API URL.
pub fn ckan_base(url: &Url) -> Url {
    let mut base = url.clone();
    let path = url.path();
    let root = path.find("/api/").map_or(path, |i| &path[..i]);
    base.set_path(&format!("{}/", root.trim_end_matches('/')));
    base.set_query(None);
    base
}

fn describe_break(e: &CatalogError, datasets: usize, pages: usize) -> String {
    let page = if pages > 1 {
        format!(" on page {pages}")
    } else {
        String::new()
    };
    if datasets > 0 {
        format!("{e}{page} (after {datasets} readable datasets)")
    } else {
        format!("{e}{page}")
    }
}

/// Reads a page on the blocking pool, handing the sink back whatever happens.
async fn read_blocking(
    format: Format,
    base: &Url,
    body: Body,
    mut sink: DatasetSink,
    previous_ids: Vec<String>,
) -> (DatasetSink, Result<Next, CatalogError>) {
    let base = base.to_string();
    let task = tokio::task::spawn_blocking(move || {
        let next = body
            .reader()
            .map_err(|e| CatalogError::Io(e.to_string()))
            .and_then(|reader| read_page(format, Some(&base), reader, &mut sink, &previous_ids));
        (sink, next)
    });
    match task.await {
        Ok(done) => done,
        Err(e) => (
            DatasetSink::default(),
            Err(CatalogError::Io(format!(
                "reading the catalog failed inside dtindex: {e}"
            ))),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_win_over_a_lying_content_type() {
        let (format, lie) = detect(
            CatalogFormat::Auto,
            Some("text/csv"),
            br#"{"dataset": []}"#,
            "/x",
        )
        .unwrap();
        assert_eq!(format, Format::DataJson);
        assert!(lie.unwrap().contains("text/csv"));
        let (format, lie) = detect(
            CatalogFormat::Auto,
            Some("application/json; charset=utf-8"),
            b"{\"dataset\":[]}",
            "/",
        )
        .unwrap();
        assert_eq!((format, lie), (Format::DataJson, None));
        // A type no catalog has is a lie too; a generic one says nothing.
        let lie = |ct| {
            detect(CatalogFormat::Auto, Some(ct), b"{\"dataset\":[]}", "/")
                .unwrap()
                .1
        };
        assert!(lie("image/png").unwrap().contains("image/png"));
        assert_eq!(lie("application/octet-stream"), None);
        assert_eq!(lie("text/plain"), None);
    }

    #[test]
    fn formats_are_recognised_by_their_first_bytes() {
        let auto =
            |head: &[u8]| detect(CatalogFormat::Auto, None, head, "/catalog").map(|(f, _)| f);
        assert_eq!(
            auto(b"@prefix dcat: <http://www.w3.org/ns/dcat#> ."),
            Ok(Format::Dcat(RdfSyntax::Turtle))
        );
        assert_eq!(
            auto(br#"{"@context": {}, "@graph": []}"#),
            Ok(Format::Dcat(RdfSyntax::JsonLd))
        );
        assert_eq!(
            auto(br#"{"help": "x", "success": true, "result": {}}"#),
            Ok(Format::Ckan)
        );
        assert_eq!(
            auto(b"<?xml version=\"1.0\"?><rdf:RDF>"),
            Ok(Format::Dcat(RdfSyntax::RdfXml))
        );
        assert_eq!(auto(b"PK\x03\x04rest"), Ok(Format::Xlsx));
        assert!(
            auto(b"<!DOCTYPE html><html>")
                .unwrap_err()
                .contains("HTML page")
        );
        assert!(
            auto(b"title,description\nA,B").is_err(),
            "CSV without a Content-Type or extension is not guessed"
        );
        let csv = detect(
            CatalogFormat::Auto,
            Some("text/csv"),
            b"title,description\n",
            "/x",
        )
        .unwrap();
        assert_eq!(csv.0, Format::Csv);
        let by_ext = detect(CatalogFormat::Auto, None, b"title\n", "/danh-muc.csv").unwrap();
        assert_eq!(by_ext.0, Format::Csv);
    }

    #[test]
    fn html_with_200_is_named_as_such() {
        let err = detect(
            CatalogFormat::DataJson,
            Some("text/html"),
            b"\n<html><body>Portal</body></html>",
            "/",
        )
        .unwrap_err();
        assert!(err.contains("text/html"), "{err}");
    }

    #[test]
    fn the_ckan_root_is_found_from_an_api_url() {
        let api = Url::parse("https://data.gov.uk/api/3/action/package_search?rows=10").unwrap();
        assert_eq!(ckan_base(&api).as_str(), "https://data.gov.uk/");
        let nested = Url::parse("https://x.vn/ckan/api/action/package_search").unwrap();
        assert_eq!(ckan_base(&nested).as_str(), "https://x.vn/ckan/");
        let root = Url::parse("https://x.vn/ckan").unwrap();
        assert_eq!(ckan_base(&root).as_str(), "https://x.vn/ckan/");
    }

    #[test]
    fn duplicate_identifiers_are_counted() {
        let mut sink = DatasetSink::default();
        for id in ["a", "b", "a", "a"] {
            sink.add(Dataset {
                identifier: Some(id.into()),
                ..Dataset::default()
            });
        }
        assert_eq!((sink.datasets, sink.duplicate_identifiers), (4, 2));
        // The national catalog keeps the first of each identifier, at its position.
        let kept: Vec<_> = sink
            .take_records()
            .into_iter()
            .map(|r| (r.key, r.identifier))
            .collect();
        assert_eq!(
            kept,
            [
                ("a".into(), Some("a".into())),
                ("b".into(), Some("b".into()))
            ]
        );
    }

    #[test]
    fn a_digest_is_the_streaming_xxh3_of_the_record_whatever_came_before() {
        // Digests are stored across cycles: the gathered bytes must hash exactly as the
        // streaming hasher did, for a record after a larger one too (the buffer reused).
        use std::hash::{Hash as _, Hasher as _};
        let streaming = |d: &Dataset| {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            d.hash(&mut h);
            h.finish()
        };
        let big = Dataset {
            identifier: Some("big".into()),
            description: Some("mô tả ".repeat(40_000)),
            keywords: vec!["a".into(), "b".into()],
            distributions: vec![crate::catalog::Distribution {
                download_url: Some("https://x.vn/a.csv".into()),
                byte_size: Some(12),
                ..Default::default()
            }],
            ..Dataset::default()
        };
        let small = Dataset {
            identifier: Some("small".into()),
            ..Dataset::default()
        };
        for d in [&big, &small, &big] {
            assert_eq!(content_digest(d), streaming(d));
        }
        assert_ne!(content_digest(&big), content_digest(&small));
    }
}
