//! The national catalog: a few fields of every harvested dataset, kept per agency, and
//! the federation's DCAT export as JSON-LD that another dtindex harvests like any
//! agency's catalog (a province runs dtindex over its departments; the national one
//! registers the province's export as its catalog, format `dcat`).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Dataset;

/// Datasets kept per agency: a catalog larger than this is still scored in full, but
/// the national catalog lists its first records only.
pub const MAX_RECORDS: usize = 5_000;

/// Longest text kept of a field; past it the field is cut (on a character boundary).
const MAX_FIELD: usize = 1_000;
const MAX_LIST: usize = 20;

/// One dataset as the national catalog keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetRecord {
    /// The identifier, or `#n` (its position in the catalog) when it has none.
    pub key: String,
    pub identifier: Option<String>,
    pub title: Option<String>,
    pub publisher: Option<String>,
    pub modified: Option<String>,
    pub license: Option<String>,
    pub keywords: Vec<String>,
    /// Distribution formats, upper case (`CSV`, `JSON`).
    pub formats: Vec<String>,
    pub download_urls: Vec<String>,
    /// The first access URL: where a person reads about the data.
    pub landing_url: Option<String>,
}

/// What a harvest tells the national catalog to do with an agency's stored datasets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "apply", content = "datasets", rename_all = "snake_case")]
pub enum Records {
    /// Nothing read anew (unchanged, or the catalog failed): the last good list stands.
    #[default]
    Keep,
    /// A full read: these are the agency's datasets now.
    Replace(Vec<DatasetRecord>),
    /// An incremental read: these datasets are new or changed; the others stand.
    Upsert(Vec<DatasetRecord>),
}

impl Records {
    pub fn is_keep(&self) -> bool {
        *self == Records::Keep
    }
}

/// The first `MAX_FIELD` characters of `s`.
fn clip(s: &str) -> &str {
    // No more characters than bytes: most fields need no walk through their characters.
    if s.len() <= MAX_FIELD {
        return s;
    }
    s.char_indices()
        .nth(MAX_FIELD)
        .map_or(s, |(at, _)| &s[..at])
}

/// `s` clipped in place: the dataset's own string, not a copy of it.
fn clipped(mut s: String) -> String {
    let keep = clip(&s).len();
    if keep < s.len() {
        s.truncate(keep);
        // The record is kept until the harvest is stored: not the whole of a huge field.
        s.shrink_to_fit();
    }
    s
}

/// `s` trimmed and clipped in place.
fn tidy(mut s: String) -> String {
    let end = s.trim_end().len();
    s.truncate(end);
    let start = s.len() - s.trim_start().len();
    s.drain(..start);
    clipped(s)
}

fn text(s: Option<String>) -> Option<String> {
    s.map(tidy).filter(|s| !s.is_empty())
}

impl DatasetRecord {
    /// The record of the `position`th dataset of a catalog.
    pub fn of(d: Dataset, position: usize) -> DatasetRecord {
        let mut formats: Vec<String> = Vec::new();
        for f in d
            .distributions
            .iter()
            .filter_map(|x| x.format.as_deref().or(x.media_type.as_deref()))
        {
            let f = clip(f.trim()).to_uppercase();
            if !f.is_empty() && !formats.contains(&f) && formats.len() < MAX_LIST {
                formats.push(f);
            }
        }
        let landing_url = d
            .distributions
            .iter()
            .find_map(|x| x.access_url.as_deref())
            .map(|u| clip(u).to_string());
        let identifier = text(d.identifier);
        DatasetRecord {
            key: identifier.clone().unwrap_or_else(|| format!("#{position}")),
            identifier,
            title: text(d.title),
            publisher: text(d.publisher),
            modified: text(d.modified),
            license: text(d.license),
            keywords: d.keywords.into_iter().take(MAX_LIST).map(tidy).collect(),
            formats,
            download_urls: d
                .distributions
                .into_iter()
                .filter_map(|x| x.download_url)
                .take(MAX_LIST)
                .map(clipped)
                .collect(),
            landing_url,
        }
    }
}

/// A stored dataset with the agency it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FederationDataset {
    pub agency: String,
    pub agency_name: String,
    /// `ministry` or `province`.
    pub kind: String,
    #[serde(flatten)]
    pub record: DatasetRecord,
}

const CONTEXT: &str = r#"{
  "dcat": "http://www.w3.org/ns/dcat#",
  "dct": "http://purl.org/dc/terms/",
  "foaf": "http://xmlns.com/foaf/0.1/",
  "hydra": "http://www.w3.org/ns/hydra/core#"
}"#;

/// An http(s) URL, normalised; `None` for anything else (`javascript:`, a malformed
/// URL), so a catalog's URL is only ever a link or an IRI when it is safe to be one.
pub fn web_url(url: &str) -> Option<url::Url> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then_some(parsed)
}

/// An IRI node for a URL that parses as one; anything else is left out, so one
/// agency's malformed URL can never make the export unreadable.
fn iri(url: &str) -> Option<Value> {
    web_url(url).map(|u| json!({ "@id": u.as_str() }))
}

/// One page of the federation's DCAT catalog as JSON-LD: `self_url` names the catalog,
/// `next` the following page (as `hydra:next`, which dtindex's harvester follows).
pub fn jsonld_page(
    title: &str,
    self_url: &str,
    next: Option<&str>,
    datasets: &[FederationDataset],
) -> Value {
    let context: Value = serde_json::from_str(CONTEXT).unwrap_or(Value::Null);
    let datasets: Vec<Value> = datasets.iter().map(dataset_node).collect();
    let mut catalog = json!({
        "@context": context,
        "@type": "dcat:Catalog",
        "dct:title": title,
        "dct:conformsTo": { "@id": "https://www.w3.org/TR/vocab-dcat-3/" },
        "dcat:dataset": datasets,
    });
    if let Some(id) = iri(self_url) {
        catalog["@id"] = id["@id"].clone();
    }
    if let Some(next) = next.and_then(iri) {
        catalog["hydra:next"] = next;
    }
    catalog
}

fn dataset_node(d: &FederationDataset) -> Value {
    let r = &d.record;
    let mut node = json!({
        "@type": "dcat:Dataset",
        "dct:identifier": r.identifier.clone().unwrap_or_else(|| format!("{}/{}", d.agency, r.key)),
        "dct:publisher": {
            "@type": "foaf:Agent",
            "foaf:name": r.publisher.clone().unwrap_or_else(|| d.agency_name.clone()),
        },
        "dcat:keyword": r.keywords,
    });
    if let Some(id) = r.identifier.as_deref().and_then(iri) {
        node["@id"] = id["@id"].clone();
    }
    if let Some(t) = &r.title {
        node["dct:title"] = json!(t);
    }
    if let Some(m) = &r.modified {
        node["dct:modified"] = json!(m);
    }
    if let Some(l) = &r.license {
        node["dct:license"] = iri(l).unwrap_or_else(|| json!(l));
    }
    let mut distributions: Vec<Value> = r
        .download_urls
        .iter()
        .filter_map(|u| iri(u))
        .enumerate()
        .map(|(i, url)| {
            let mut dist = json!({ "@type": "dcat:Distribution", "dcat:downloadURL": url });
            if let Some(f) = r.formats.get(i).or(r.formats.first()) {
                dist["dct:format"] = json!(f);
            }
            dist
        })
        .collect();
    if let Some(landing) = r.landing_url.as_deref().and_then(iri) {
        distributions.push(json!({ "@type": "dcat:Distribution", "dcat:accessURL": landing }));
    }
    node["dcat:distribution"] = json!(distributions);
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Distribution;
    use crate::catalog::rdf::{RdfSyntax, parse_dcat};

    #[test]
    fn fields_are_cut_at_a_number_of_characters_not_bytes() {
        let long_ascii = "a".repeat(MAX_FIELD + 1);
        assert_eq!(clip(&long_ascii).len(), MAX_FIELD);
        assert_eq!(clipped(long_ascii).len(), MAX_FIELD);
        // Two bytes a character: over the limit in bytes, not in characters.
        let wide = "đ".repeat(MAX_FIELD);
        assert_eq!(clip(&wide), wide);
        assert_eq!(clip(&format!("{wide}đ")), wide);
        assert_eq!(clipped(format!("{wide}đ")), wide);
        // A clipped field keeps no more room than it needs.
        assert!(clipped("a".repeat(1 << 20)).capacity() <= 2 * MAX_FIELD);
        assert_eq!(clip("ngắn"), "ngắn");
    }

    fn federation() -> Vec<FederationDataset> {
        let full = Dataset {
            identifier: Some("https://so-tai-chinh.example/ds/1".into()),
            title: Some("<b>Ngân sách</b> 2026".into()),
            publisher: Some("Sở Tài chính".into()),
            modified: Some("2026-10-01".into()),
            license: Some("https://creativecommons.org/licenses/by/4.0/".into()),
            keywords: vec!["ngân sách".into(), "=1+1".into()],
            distributions: vec![Distribution {
                download_url: Some("https://so-tai-chinh.example/ds/1.csv".into()),
                format: Some("csv".into()),
                ..Distribution::default()
            }],
            ..Dataset::default()
        };
        let bare = Dataset {
            title: Some("no identifier, a bad URL".into()),
            license: Some("giấy phép riêng".into()),
            distributions: vec![Distribution {
                download_url: Some("not a url at all".into()),
                ..Distribution::default()
            }],
            ..Dataset::default()
        };
        [(full, 0), (bare, 1)]
            .into_iter()
            .map(|(d, i)| FederationDataset {
                agency: "STC".into(),
                agency_name: "Sở Tài chính".into(),
                kind: "ministry".into(),
                record: DatasetRecord::of(d, i),
            })
            .collect()
    }

    #[test]
    fn the_export_reads_back_as_the_same_datasets() {
        let page = jsonld_page(
            "Tỉnh",
            "http://127.0.0.1:1/api/v1/catalog.jsonld",
            Some("http://127.0.0.1:1/api/v1/catalog.jsonld?page=2"),
            &federation(),
        );
        let mut read = Vec::new();
        let summary = parse_dcat(RdfSyntax::JsonLd, page.to_string().as_bytes(), None, |d| {
            read.push(d)
        })
        .unwrap();
        assert_eq!(
            summary.next_page.as_deref(),
            Some("http://127.0.0.1:1/api/v1/catalog.jsonld?page=2")
        );
        read.sort_by(|a, b| a.title.cmp(&b.title));
        let [first, second] = &read[..] else {
            panic!("{read:?}")
        };
        assert_eq!(first.title.as_deref(), Some("<b>Ngân sách</b> 2026"));
        assert_eq!(
            first.identifier.as_deref(),
            Some("https://so-tai-chinh.example/ds/1")
        );
        assert_eq!(first.publisher.as_deref(), Some("Sở Tài chính"));
        assert_eq!(first.modified.as_deref(), Some("2026-10-01"));
        assert_eq!(
            first.license.as_deref(),
            Some("https://creativecommons.org/licenses/by/4.0/")
        );
        assert_eq!(first.keywords, ["ngân sách", "=1+1"]);
        assert_eq!(
            first.distributions[0].download_url.as_deref(),
            Some("https://so-tai-chinh.example/ds/1.csv")
        );
        assert_eq!(first.distributions[0].format.as_deref(), Some("CSV"));
        // No identifier: one is made from the agency and position; the bad URL is left out.
        assert_eq!(second.identifier.as_deref(), Some("STC/#1"));
        assert_eq!(second.license.as_deref(), Some("giấy phép riêng"));
        assert!(second.distributions.is_empty());
    }

    #[test]
    fn long_fields_are_cut_on_a_character_boundary() {
        let d = Dataset {
            title: Some("ệ".repeat(MAX_FIELD + 10)),
            keywords: vec!["k".into(); 50],
            ..Dataset::default()
        };
        let r = DatasetRecord::of(d, 3);
        assert_eq!(r.title.unwrap().chars().count(), MAX_FIELD);
        assert_eq!(r.keywords.len(), MAX_LIST);
        assert_eq!(r.key, "#3");
    }

    #[test]
    fn fields_are_trimmed_before_they_are_cut() {
        let d = Dataset {
            identifier: Some("  ds-1\t".into()),
            title: Some(format!("  \n{}", "ệ".repeat(MAX_FIELD + 10))),
            publisher: Some(" \t ".into()),
            keywords: vec![" thuế ".into()],
            ..Dataset::default()
        };
        let r = DatasetRecord::of(d, 0);
        assert_eq!(r.key, "ds-1");
        assert_eq!(r.identifier.as_deref(), Some("ds-1"));
        let title = r.title.unwrap();
        assert!(title.starts_with('ệ'), "{title:?}");
        assert_eq!(title.chars().count(), MAX_FIELD);
        assert_eq!(r.publisher, None);
        assert_eq!(r.keywords, ["thuế"]);
    }
}
