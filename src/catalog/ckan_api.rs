//! CKAN portals, through the Action API.
//!
//! The harvester pages `package_search` (the URLs come from [`package_search_url`]); each
//! page is read here as a stream, one package at a time, into the normalized [`Dataset`].
//! Answers come enveloped (`{"success": true, "result": {...}}`) or bare (the `result`
//! object alone); both are read. `{"success": false}` carries CKAN's own error message.

use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use url::Url;

use super::{CatalogError, Dataset, Distribution, FieldProblem};

/// What one `package_search` page said besides its packages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    /// The total the portal announces for the whole search.
    pub count: u64,
    /// Packages on this page.
    pub returned: usize,
    /// The latest `metadata_modified` on the page.
    pub last_modified: Option<String>,
    /// Package ids in page order, to recognise a page served twice.
    pub ids: Vec<String>,
}

/// The URL of rows `start..start+rows` of `package_search`, ordered by `id` so that pages
/// stay stable while the portal changes (ordering by modification date would move a
/// package edited mid-harvest to a later page and read it twice).
pub fn package_search_url(
    base: &Url,
    rows: u32,
    start: u64,
    modified_since: Option<&str>,
    organization: Option<&str>,
) -> Result<Url, url::ParseError> {
    let mut url = base.join("api/3/action/package_search")?;
    let mut filters = Vec::new();
    if let Some(since) = modified_since {
        // CKAN stores UTC without a zone; Solr's date syntax wants the `Z`.
        let zoned = if since.ends_with('Z') || since.contains('+') {
            since.to_string()
        } else {
            format!("{since}Z")
        };
        filters.push(format!("metadata_modified:[{zoned} TO *]"));
    }
    if let Some(org) = organization {
        filters.push(format!("organization:{org}"));
    }
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("rows", &rows.to_string());
        q.append_pair("start", &start.to_string());
        q.append_pair("sort", "id asc");
        if !filters.is_empty() {
            q.append_pair("fq", &filters.join(" AND "));
        }
    }
    Ok(url)
}

/// Reads one `package_search` page, calling `each` for every package.
pub fn parse_package_search<R: Read>(
    reader: R,
    mut each: impl FnMut(Dataset),
) -> Result<SearchPage, CatalogError> {
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    let answer = Envelope { each: &mut each }.deserialize(&mut de)?;
    de.end()?;
    match answer {
        Answer::Failed(message) => Err(CatalogError::Format {
            format: "CKAN",
            message: format!("the portal answered success=false: {message}"),
        }),
        Answer::Page(page) => Ok(page),
    }
}

/// Reads `organization_list`: names, or objects with `name` (with `all_fields=true`).
pub fn parse_organization_list<R: Read>(reader: R) -> Result<Vec<String>, CatalogError> {
    let value: Value = serde_json::from_reader(std::io::BufReader::new(reader))?;
    let list = match value {
        Value::Object(mut o) if o.contains_key("result") => o.remove("result").unwrap_or_default(),
        other => other,
    };
    let Value::Array(items) = list else {
        return Err(CatalogError::Format {
            format: "CKAN",
            message: "organization_list did not give a list".into(),
        });
    };
    Ok(items
        .into_iter()
        .filter_map(|i| match i {
            Value::String(s) => Some(s),
            Value::Object(mut o) => match o.remove("name") {
                Some(Value::String(s)) => Some(s),
                _ => None,
            },
            _ => None,
        })
        .collect())
}

enum Answer {
    Page(SearchPage),
    Failed(String),
}

struct Envelope<'a, F> {
    each: &'a mut F,
}

impl<'de, F: FnMut(Dataset)> DeserializeSeed<'de> for Envelope<'_, F> {
    type Value = Answer;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Answer, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Dataset)> Visitor<'de> for Envelope<'_, F> {
    type Value = Answer;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a CKAN package_search answer (an object with `result`, or `count` and `results`)",
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Answer, A::Error> {
        Err(de::Error::custom(
            "this is a list of names (package_list or organization_list), not a catalog; register the portal's root URL and dtindex reads its package_search",
        ))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Answer, A::Error> {
        let mut page = SearchPage::default();
        let mut success = true;
        let mut error = String::new();
        let mut saw_results = false;
        // Kept in case this is a `package_show` answer (one package, no `results`).
        let mut other = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "success" => success = map.next_value::<Value>()? != Value::Bool(false),
                "error" => error = map.next_value::<Value>()?.to_string(),
                "result" => match map.next_value_seed(Envelope {
                    each: &mut *self.each,
                })? {
                    Answer::Page(p) => {
                        page = p;
                        saw_results = true;
                    }
                    Answer::Failed(m) => return Ok(Answer::Failed(m)),
                },
                "count" => page.count = map.next_value::<Value>()?.as_u64().unwrap_or(0),
                "results" => {
                    saw_results = true;
                    map.next_value_seed(Packages {
                        each: &mut *self.each,
                        page: &mut page,
                    })?;
                }
                "facets" | "search_facets" => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    other.insert(key, map.next_value::<Value>()?);
                }
            }
        }
        if !success {
            return Ok(Answer::Failed(error));
        }
        // organization_show: a catalog of the packages it lists (none, without
        // include_datasets), not a package itself.
        if !saw_results && other.get("is_organization") == Some(&Value::Bool(true)) {
            if let Some(Value::Array(packages)) = other.remove("packages") {
                for package in packages {
                    if let Some(Value::String(id)) = package.get("id") {
                        page.ids.push(id.clone());
                    }
                    page.returned += 1;
                    (self.each)(package_to_dataset(package));
                }
            }
            page.count = page.returned as u64;
            saw_results = true;
        }
        if !saw_results && let Some(Value::Array(packages)) = other.remove("packages") {
            for package in packages {
                if let Some(Value::String(id)) = package.get("id") {
                    page.ids.push(id.clone());
                }
                page.returned += 1;
                (self.each)(package_to_dataset(package));
            }
            page.count = page.returned as u64;
            saw_results = true;
        }
        if !saw_results && (other.contains_key("id") || other.contains_key("name")) {
            let package = Value::Object(other);
            let id = package
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string);
            (self.each)(package_to_dataset(package));
            page.count = 1;
            page.returned = 1;
            page.ids.extend(id);
            saw_results = true;
        }
        if !saw_results {
            return Err(de::Error::custom(
                "it is neither a package_search nor a package_show answer: no `results`, no package",
            ));
        }
        Ok(Answer::Page(page))
    }
}

struct Packages<'a, F> {
    each: &'a mut F,
    page: &'a mut SearchPage,
}

impl<'de, F: FnMut(Dataset)> DeserializeSeed<'de> for Packages<'_, F> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Dataset)> Visitor<'de> for Packages<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`results` to be an array of packages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(package) = seq.next_element::<Value>()? {
            if let Some(Value::String(id)) = package.get("id") {
                self.page.ids.push(id.clone());
            }
            if let Some(Value::String(m)) = package.get("metadata_modified")
                && self
                    .page
                    .last_modified
                    .as_deref()
                    .is_none_or(|seen| m.as_str() > seen)
            {
                self.page.last_modified = Some(m.clone());
            }
            self.page.returned += 1;
            (self.each)(package_to_dataset(package));
        }
        Ok(())
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

/// Maps one CKAN package dict, leniently: wrong types are left out and noted.
pub fn package_to_dataset(package: Value) -> Dataset {
    let Value::Object(p) = package else {
        return Dataset {
            problems: vec![FieldProblem {
                field: "package".into(),
                message: "is not an object".into(),
            }],
            ..Dataset::default()
        };
    };
    let mut problems = Vec::new();
    let mut typed = |key: &str| -> Option<String> {
        match p.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(_) => {
                problems.push(FieldProblem {
                    field: key.into(),
                    message: "is not a string".into(),
                });
                None
            }
        }
    };
    let identifier = typed("id").or_else(|| typed("name"));
    let title = typed("title");
    let description = typed("notes");
    let modified = typed("metadata_modified");
    let issued = typed("metadata_created");
    let license = typed("license_url").or_else(|| typed("license_id"));
    let maintainer = typed("maintainer")
        .or_else(|| typed("maintainer_email"))
        .or_else(|| typed("author_email"));
    let author = typed("author");
    let organization = p
        .get("organization")
        .and_then(|o| text(o.get("title")).or_else(|| text(o.get("name"))));
    let named_list = |key: &str, name_keys: &[&str]| -> Vec<String> {
        match p.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| match i {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(_) => name_keys.iter().find_map(|k| text(i.get(*k))),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let keywords = named_list("tags", &["display_name", "name"]);
    let mut themes = named_list("groups", &["title", "display_name", "name"]);
    // Extras carry what CKAN has no field for; DCAT-AP harvesters use these keys.
    let mut extra = std::collections::HashMap::new();
    if let Some(Value::Array(extras)) = p.get("extras") {
        for e in extras {
            if let (Some(k), Some(v)) = (text(e.get("key")), text(e.get("value"))) {
                extra.insert(k, v);
            }
        }
    }
    let pick = |keys: &[&str]| keys.iter().find_map(|k| extra.get(*k).cloned());
    if let Some(t) = pick(&["theme", "dcat_theme"]) {
        themes.push(t);
    }
    let private = p.get("private") == Some(&Value::Bool(true));
    let distributions = match p.get("resources") {
        Some(Value::Array(resources)) => resources.iter().map(resource_to_distribution).collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(_) => {
            problems.push(FieldProblem {
                field: "resources".into(),
                message: "is not a list".into(),
            });
            Vec::new()
        }
    };
    Dataset {
        identifier,
        title,
        description,
        publisher: organization.or(author),
        contact_point: maintainer,
        keywords,
        themes,
        spatial: pick(&["spatial", "spatial_text", "dct:spatial"]),
        temporal: pick(&["temporal", "temporal_coverage"]).or_else(|| {
            let (s, e) = (pick(&["temporal_start"]), pick(&["temporal_end"]));
            (s.is_some() || e.is_some())
                .then(|| format!("{}/{}", s.unwrap_or_default(), e.unwrap_or_default()))
        }),
        issued: pick(&["issued"]).or(issued),
        modified: pick(&["modified"]).or(modified),
        accrual_periodicity: pick(&["frequency", "accrual_periodicity", "accrualPeriodicity"]),
        license,
        access_level: if private {
            Some("non-public".into())
        } else {
            pick(&["access_level", "accessLevel", "access_rights"])
        },
        rights: pick(&["rights"]),
        distributions,
        problems,
        ..Dataset::default()
    }
}

fn resource_to_distribution(r: &Value) -> Distribution {
    let url = text(r.get("url"));
    // An uploaded file, or a URL that names a file, is a download; anything else (an API,
    // a web page) is an access point.
    let is_file = r.get("url_type").and_then(Value::as_str) == Some("upload")
        || url.as_deref().is_some_and(|u| {
            let path = u.split(['?', '#']).next().unwrap_or(u).to_ascii_lowercase();
            [
                ".csv", ".xlsx", ".xls", ".json", ".xml", ".zip", ".pdf", ".geojson", ".shp",
                ".ods",
            ]
            .iter()
            .any(|ext| path.ends_with(ext))
        });
    let byte_size = match r.get("size") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Distribution {
        access_url: if is_file { None } else { url.clone() },
        download_url: if is_file { url } else { None },
        media_type: text(r.get("mimetype")),
        format: text(r.get("format")),
        byte_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &str) -> Result<(SearchPage, Vec<Dataset>), CatalogError> {
        let mut all = Vec::new();
        let page = parse_package_search(text.as_bytes(), |d| all.push(d))?;
        Ok((page, all))
    }

    #[test]
    fn enveloped_and_bare_pages_are_read() {
        let body = r#"{"help": "h", "success": true, "result": {"count": 3, "sort": "id asc", "results": [
            {"id": "a1", "name": "dan-cu", "title": "Dân cư", "notes": "Số dân", "metadata_modified": "2026-01-02T00:00:00",
             "organization": {"name": "hn", "title": "UBND Hà Nội"}, "maintainer": "Phòng dữ liệu",
             "tags": [{"name": "dan-cu", "display_name": "dân cư"}], "groups": [{"name": "xa-hoi", "title": "Xã hội"}],
             "license_id": "cc-by", "extras": [{"key": "frequency", "value": "R/P1M"}],
             "resources": [{"url": "https://x/a.csv", "format": "CSV", "mimetype": "text/csv", "size": 10},
                           {"url": "https://x/api", "format": "API"}]},
            {"id": "a2", "title": "Đất đai", "metadata_modified": "2026-03-01T00:00:00", "private": true}]}}"#;
        let (p, all) = page(body).unwrap();
        assert_eq!((p.count, p.returned), (3, 2));
        assert_eq!(p.ids, vec!["a1", "a2"]);
        assert_eq!(p.last_modified.as_deref(), Some("2026-03-01T00:00:00"));
        let d = &all[0];
        assert_eq!(d.identifier.as_deref(), Some("a1"));
        assert_eq!(d.publisher.as_deref(), Some("UBND Hà Nội"));
        assert_eq!(d.keywords, vec!["dân cư"]);
        assert_eq!(d.themes, vec!["Xã hội"]);
        assert_eq!(d.accrual_periodicity.as_deref(), Some("R/P1M"));
        assert_eq!(
            d.distributions[0].download_url.as_deref(),
            Some("https://x/a.csv")
        );
        assert_eq!(d.distributions[0].byte_size, Some(10));
        assert_eq!(
            d.distributions[1].access_url.as_deref(),
            Some("https://x/api")
        );
        assert_eq!(all[1].access_level.as_deref(), Some("non-public"));

        let (p, all) = page(r#"{"count": 1, "results": [{"id": "b", "title": "t"}]}"#).unwrap();
        assert_eq!((p.count, all.len()), (1, 1));
    }

    #[test]
    fn a_failed_answer_carries_ckans_message() {
        let err = page(
            r#"{"success": false, "error": {"message": "Not found", "__type": "Not Found Error"}}"#,
        )
        .unwrap_err();
        match err {
            CatalogError::Format {
                format: "CKAN",
                message,
            } => assert!(message.contains("Not found"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            page(r#"{"success": true, "result": {"count": 1}}"#),
            Err(CatalogError::Shape(_))
        ));
        // package_show: one package.
        let (p, all) =
            page(r#"{"success": true, "result": {"id": "x1", "title": "Một gói"}}"#).unwrap();
        assert_eq!(
            (p.count, p.returned, all[0].title.as_deref()),
            (1, 1, Some("Một gói"))
        );
    }

    #[test]
    fn wrong_types_everywhere_do_not_panic() {
        let (_, all) = page(
            r#"{"count": 1, "results": [{"id": 5, "title": [], "notes": {}, "tags": "x", "groups": 3,
               "organization": "o", "resources": "nope", "extras": 1, "metadata_modified": false}, 7]}"#,
        )
        .unwrap();
        assert_eq!(all.len(), 2);
        let fields: Vec<&str> = all[0].problems.iter().map(|p| p.field.as_str()).collect();
        assert!(
            fields.contains(&"id") && fields.contains(&"title") && fields.contains(&"resources"),
            "{fields:?}"
        );
        assert_eq!(all[1].problems[0].field, "package");
    }

    #[test]
    fn search_urls_are_encoded_and_stable() {
        let base = Url::parse("https://data.example.gov.vn/ckan/").unwrap();
        let url = package_search_url(
            &base,
            1000,
            2000,
            Some("2026-01-01T00:00:00Z"),
            Some("so-tn-mt"),
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://data.example.gov.vn/ckan/api/3/action/package_search?rows=1000&start=2000&sort=id+asc&fq=metadata_modified%3A%5B2026-01-01T00%3A00%3A00Z+TO+*%5D+AND+organization%3Aso-tn-mt"
        );
    }

    #[test]
    fn organization_lists_in_both_shapes() {
        assert_eq!(
            parse_organization_list(r#"{"success": true, "result": ["a", "b"]}"#.as_bytes())
                .unwrap(),
            vec!["a", "b"]
        );
        assert_eq!(
            parse_organization_list(r#"[{"name": "c"}]"#.as_bytes()).unwrap(),
            vec!["c"]
        );
    }
}
