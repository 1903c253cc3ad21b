//! The CKAN Action API: `package_search` pages (streamed one package at a time),
//! `package_show`, `organization_list`, and the URL of each `package_search` page.
//!
//! Portals extend CKAN's core package dict differently: ckanext-scheming puts DCAT-AP
//! fields at the top level, ckanext-dcat and ckanext-harvest put them in `extras` as
//! `{key, value}` pairs (sometimes JSON-encoded). So each field is looked up in the package
//! first and in its extras second, under every name those extensions are known to use.

use std::fmt;
use std::io::Read;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use url::Url;

use super::table::{Column, field_for_header};
use super::{CatalogError, DatabaseInfo, Dataset, Distribution, FieldProblem};

const FORMAT: &str = "CKAN";

/// The `package_search` order. `name` is unique, so the order is total; and unlike
/// `metadata_modified` it does not change when a package is edited, which matters because
/// pages are fetched by offset: under `metadata_modified asc`, every package edited while a
/// harvest runs (ckanext-harvest re-touches hundreds at a time) jumps to the end and pushes
/// one not-yet-read package back onto a page already read, where it is lost. Under
/// `name asc` only new and deleted packages shift the pages.
const SORT: &str = "name asc";

/// Of an error message from a hostile portal, this many characters are kept.
const KEPT_MESSAGE_CHARS: usize = 500;

/// What one `package_search` page said about the search as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPage {
    /// How many packages match the search, over all pages.
    pub count: u64,
    /// How many packages this page held.
    pub returned: usize,
    /// The greatest `metadata_modified` on the page: the `modified_since` of the next
    /// incremental harvest, once every page has been read.
    pub last_modified: Option<String>,
    /// Package ids (else names) in page order, to notice a portal serving a page twice.
    pub ids: Vec<String>,
}

/// Reads one page of `package_search` (the `{"help", "success", "result"}` envelope, or the
/// bare `result` object), calling `each` for every package in page order.
pub fn parse_package_search<R: Read>(
    reader: R,
    mut each: impl FnMut(Dataset),
) -> Result<SearchPage, CatalogError> {
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    let answer = AnswerSeed { each: &mut each }
        .deserialize(&mut de)
        .map_err(json_error)?;
    de.end().map_err(json_error)?;
    match answer {
        Answer::Failed(error) => Err(failure(error)),
        Answer::Page(page) => page.finish(&mut each),
    }
}

/// Reads `package_show` (enveloped or bare) into one dataset.
pub fn parse_package_show<R: Read>(reader: R) -> Result<Dataset, CatalogError> {
    match unwrap_envelope(read_json(reader)?)? {
        Value::Object(obj) if !["id", "name", "title"].iter().any(|k| obj.contains_key(*k)) => {
            Err(format_error(
                "package_show answered an object with no `id`, `name` or `title`, not a package",
            ))
        }
        package @ Value::Object(_) => Ok(package_to_dataset(package)),
        other => Err(format_error(format!(
            "package_show answered {} instead of a package",
            kind_of(&other)
        ))),
    }
}

/// Reads `organization_list` (enveloped or bare): an array of names, or of organization
/// objects when asked with `all_fields=true`. Entries without a name are skipped.
pub fn parse_organization_list<R: Read>(reader: R) -> Result<Vec<String>, CatalogError> {
    let Value::Array(items) = unwrap_envelope(read_json(reader)?)? else {
        return Err(format_error(
            "organization_list did not answer an array of organizations",
        ));
    };
    Ok(items
        .into_iter()
        .filter_map(|item| match item {
            Value::String(name) => Some(name),
            Value::Object(mut org) => match org.remove("name") {
                Some(Value::String(name)) => Some(name),
                _ => None,
            },
            _ => None,
        })
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect())
}

/// The URL of page `start` (an offset, in packages) of `package_search`, `rows` per page,
/// in a stable order, optionally only packages modified since a timestamp (a CKAN
/// `metadata_modified`, RFC 3339, or a date) and of one organization.
///
/// `base` is the portal's root (`https://data.gov.uk`, `https://x/ckan/`); an API root
/// (`…/api/3/action`) is accepted too.
pub fn package_search_url(
    base: &Url,
    rows: u32,
    start: u64,
    modified_since: Option<&str>,
    organization: Option<&str>,
) -> Result<Url, url::ParseError> {
    let mut root = base.clone();
    root.set_query(None);
    root.set_fragment(None);
    let path = portal_root(root.path()).to_string();
    root.set_path(&format!("{path}/"));
    let mut url = root.join("api/3/action/package_search")?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("rows", &rows.to_string());
        query.append_pair("start", &start.to_string());
        query.append_pair("sort", SORT);
        if let Some(fq) = filter_query(modified_since, organization) {
            query.append_pair("fq", &fq);
        }
    }
    Ok(url)
}

/// The path of the portal's root, without a trailing slash or an API suffix.
fn portal_root(path: &str) -> &str {
    let mut path = path.trim_end_matches('/');
    for suffix in ["/api/3/action", "/api/3", "/api"] {
        if let Some(root) = path.strip_suffix(suffix) {
            path = root;
            break;
        }
    }
    path
}

fn filter_query(modified_since: Option<&str>, organization: Option<&str>) -> Option<String> {
    let mut clauses = Vec::new();
    if let Some(org) = organization.map(str::trim).filter(|o| !o.is_empty()) {
        clauses.push(format!("organization:{}", solr_quoted(org)));
    }
    if let Some(since) = modified_since.map(str::trim).filter(|s| !s.is_empty()) {
        clauses.push(format!("metadata_modified:[{} TO *]", solr_instant(since)));
    }
    (!clauses.is_empty()).then(|| clauses.join(" AND "))
}

/// Solr only takes UTC instants ending in `Z`; CKAN writes `metadata_modified` in UTC
/// without the `Z` and with microseconds. Truncating to milliseconds only widens the
/// (inclusive) range, so nothing modified at the boundary is missed.
fn solr_instant(since: &str) -> String {
    const SOLR: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";
    if let Ok(t) = DateTime::parse_from_rfc3339(since) {
        return t.with_timezone(&Utc).format(SOLR).to_string();
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(since, "%Y-%m-%dT%H:%M:%S%.f") {
        return t.format(SOLR).to_string();
    }
    if let Ok(d) = NaiveDate::parse_from_str(since, "%Y-%m-%d") {
        return format!("{d}T00:00:00.000Z");
    }
    // Quoted, an unreadable timestamp cannot change the query; Solr reports it instead.
    solr_quoted(since)
}

fn solr_quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

// ---------------------------------------------------------------------------------------
// Envelopes and errors

fn read_json<R: Read>(reader: R) -> Result<Value, CatalogError> {
    serde_json::from_reader(std::io::BufReader::new(reader)).map_err(json_error)
}

/// The `result` of an Action API envelope, or the value itself when it has none.
fn unwrap_envelope(value: Value) -> Result<Value, CatalogError> {
    let Value::Object(mut obj) = value else {
        return Ok(value);
    };
    let enveloped = obj.contains_key("success")
        || (obj.contains_key("help") && (obj.contains_key("result") || obj.contains_key("error")));
    if !enveloped {
        return Ok(Value::Object(obj));
    }
    let success = obj.get("success").and_then(Value::as_bool);
    match obj.remove("result") {
        Some(result) if success != Some(false) && !result.is_null() => Ok(result),
        _ => Err(failure(obj.remove("error"))),
    }
}

/// serde_json's own data errors would read as "not a data.json"; here they are CKAN's.
fn json_error(e: serde_json::Error) -> CatalogError {
    match e.classify() {
        serde_json::error::Category::Data => format_error(e.to_string()),
        _ => CatalogError::from(e),
    }
}

fn format_error(message: impl Into<String>) -> CatalogError {
    CatalogError::Format {
        format: FORMAT,
        message: message.into(),
    }
}

/// `{"success": false, "error": {"__type": "Not Found Error", "message": "Not found"}}`;
/// validation errors carry per-field messages instead of `message`.
fn failure(error: Option<Value>) -> CatalogError {
    let said = match error {
        Some(Value::Object(mut obj)) => {
            let kind = obj.remove("__type").map(|v| plain(&v));
            let message = obj.remove("message").map(|v| plain(&v));
            let details = obj
                .iter()
                .map(|(k, v)| format!("{k}: {}", plain(v)))
                .collect::<Vec<_>>()
                .join("; ");
            [kind, message, Some(details)]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(": ")
        }
        Some(other) => plain(&other),
        None => String::new(),
    };
    let said: String = said.chars().take(KEPT_MESSAGE_CHARS).collect();
    if said.is_empty() {
        format_error("the portal answered `success: false` without saying why")
    } else {
        format_error(format!("the portal answered `success: false`: {said}"))
    }
}

/// A JSON value as a person would write it: strings unquoted, lists comma-separated.
fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.trim().to_string(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// Streaming package_search

enum Answer {
    Failed(Option<Value>),
    Page(PageParts),
}

/// What a page has said so far; the envelope and the bare result share it.
#[derive(Default)]
struct PageParts {
    count: Option<u64>,
    saw_results: bool,
    page: SearchPage,
    /// Keys that are not a search result's: the package itself when the document is a
    /// `package_show` answer, or an organization with its `packages`.
    rest: Map<String, Value>,
}

/// Keys of a search result that say nothing about its packages.
const IGNORED_KEYS: [&str; 3] = ["facets", "search_facets", "sort"];

/// The message for a document that is an array: CKAN's name lists are not catalogs.
const NAME_LIST: &str = "this is a list of names (package_list or organization_list), not a catalog; register the portal's root URL and dtindex reads its package_search";

impl PageParts {
    /// Reads the value of `key`: a result's own keys, else kept in `rest`.
    fn read_key<'de, A, F>(&mut self, key: &str, map: &mut A, each: &mut F) -> Result<(), A::Error>
    where
        A: MapAccess<'de>,
        F: FnMut(Dataset),
    {
        match key {
            "count" => match map.next_value::<Value>()? {
                Value::Number(n) if n.as_u64().is_some() => self.count = n.as_u64(),
                other => {
                    return Err(de::Error::custom(format!(
                        "`count` is {} instead of a whole number",
                        kind_of(&other)
                    )));
                }
            },
            "results" if self.saw_results => {
                return Err(de::Error::custom("the key `results` appears twice"));
            }
            "results" => {
                self.saw_results = true;
                map.next_value_seed(ResultsSeed { parts: self, each })?;
            }
            _ if IGNORED_KEYS.contains(&key) => {
                map.next_value::<IgnoredAny>()?;
            }
            _ => {
                let value = map.next_value::<Value>()?;
                self.rest.insert(key.to_string(), value);
            }
        }
        Ok(())
    }

    fn see(&mut self, package: &Value) {
        let name = |key: &str| package.get(key).and_then(Value::as_str).map(str::trim);
        let id = name("id").filter(|s| !s.is_empty()).or(name("name"));
        self.page.ids.push(id.unwrap_or_default().to_string());
        // CKAN writes every timestamp in one format, so text order is time order.
        if let Some(modified) = name("metadata_modified").filter(|s| !s.is_empty())
            && self.page.last_modified.as_deref() < Some(modified)
        {
            self.page.last_modified = Some(modified.to_string());
        }
        self.page.returned += 1;
    }

    fn finish(mut self, each: &mut impl FnMut(Dataset)) -> Result<SearchPage, CatalogError> {
        if self.count.is_none() && !self.saw_results {
            // Not a search page. An organization_show (with include_datasets) lists its
            // packages; a package_show answer is the package.
            if let Some(Value::Array(packages)) = self.rest.remove("packages") {
                for package in packages.into_iter().filter(Value::is_object) {
                    self.see(&package);
                    each(package_to_dataset(package));
                }
                self.page.count = self.page.returned as u64;
                return Ok(self.page);
            }
            if self.rest.get("is_organization") == Some(&Value::Bool(true)) {
                return Ok(self.page);
            }
            if ["id", "name"].iter().any(|k| self.rest.contains_key(*k)) {
                let package = Value::Object(std::mem::take(&mut self.rest));
                self.see(&package);
                each(package_to_dataset(package));
                self.page.count = 1;
                return Ok(self.page);
            }
        }
        let Some(count) = self.count else {
            return Err(format_error(
                "the answer is neither a package_search result (no `count`) nor a package",
            ));
        };
        if !self.saw_results {
            return Err(format_error(
                "the answer is not a package_search result: it has no `results` array",
            ));
        }
        Ok(SearchPage { count, ..self.page })
    }
}

struct AnswerSeed<'a, F> {
    each: &'a mut F,
}

impl<'de, F: FnMut(Dataset)> DeserializeSeed<'de> for AnswerSeed<'_, F> {
    type Value = Answer;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Dataset)> Visitor<'de> for AnswerSeed<'_, F> {
    type Value = Answer;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CKAN package_search answer (an object with `result`)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(NAME_LIST))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut success = None;
        let mut error = None;
        let mut result = None;
        let mut saw_result = false;
        // The bare `result` object: its keys at the top level.
        let mut bare = PageParts::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "success" => success = map.next_value::<Value>()?.as_bool(),
                "error" => error = Some(map.next_value::<Value>()?),
                "result" if saw_result => {
                    return Err(de::Error::custom("the key `result` appears twice"));
                }
                "result" => {
                    saw_result = true;
                    result = map.next_value_seed(ResultSeed {
                        each: &mut *self.each,
                    })?;
                }
                _ => {
                    bare.read_key(&key, &mut map, &mut *self.each)?;
                }
            }
        }
        if success == Some(false) || (error.is_some() && result.is_none()) {
            return Ok(Answer::Failed(error));
        }
        Ok(Answer::Page(result.unwrap_or(bare)))
    }
}

/// The envelope's `result`: `null` when the call failed.
struct ResultSeed<'a, F> {
    each: &'a mut F,
}

impl<'de, F: FnMut(Dataset)> DeserializeSeed<'de> for ResultSeed<'_, F> {
    type Value = Option<PageParts>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Dataset)> Visitor<'de> for ResultSeed<'_, F> {
    type Value = Option<PageParts>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`result` to be an object with `count` and `results`")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(NAME_LIST))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut parts = PageParts::default();
        while let Some(key) = map.next_key::<String>()? {
            parts.read_key(&key, &mut map, &mut *self.each)?;
        }
        Ok(Some(parts))
    }
}

struct ResultsSeed<'a, F> {
    parts: &'a mut PageParts,
    each: &'a mut F,
}

impl<'de, F: FnMut(Dataset)> DeserializeSeed<'de> for ResultsSeed<'_, F> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Dataset)> Visitor<'de> for ResultsSeed<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`results` to be an array of packages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // One package's tree at a time: memory stays bounded by the largest package.
        while let Some(package) = seq.next_element::<Value>()? {
            self.parts.see(&package);
            (self.each)(package_to_dataset(package));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Mapping a package

/// Maps one CKAN package dict to a dataset, leniently: a field of the wrong type is left
/// empty and noted in [`Dataset::problems`]. An empty string is no problem here: CKAN
/// answers `""` for every field a form left blank.
pub fn package_to_dataset(package: Value) -> Dataset {
    let Value::Object(obj) = package else {
        return Dataset {
            problems: vec![problem(
                "package",
                format!("is {} instead of an object", kind_of(&package)),
            )],
            ..Dataset::default()
        };
    };
    let mut p = Package::new(obj);
    // Fields are read in this order: some fall back on others already taken.
    let mut ds = Dataset {
        // `id` never changes; `name` is the URL slug, which an editor may rename.
        identifier: p.text(&["id"]).or_else(|| p.text(&["name"])),
        title: p
            .text(&["title"])
            .or_else(|| p.translated("title_translated")),
        description: p
            .text(&["notes"])
            .or_else(|| p.translated("notes_translated")),
        ..Dataset::default()
    };
    (ds.publisher, ds.contact_point) = publisher_and_contact(&mut p);
    ds.keywords = p.names("tags", &["name", "display_name"]);
    ds.themes = themes(&mut p);
    ds.spatial = spatial(&mut p);
    ds.temporal = temporal(&mut p);
    // CKAN's own record keeping first: an incremental harvest compares `modified` with
    // the `metadata_modified` it asked from. An extension's DCAT dates are the fallback.
    ds.issued = p.text(&["metadata_created", "issued"]);
    ds.modified = p.text(&["metadata_modified", "modified"]);
    ds.accrual_periodicity = p.text(&[
        "frequency",
        "accrual_periodicity",
        "accrualPeriodicity",
        "update_frequency",
        "frequency-of-update",
    ]);
    ds.license = p.text(&["license_url", "license_id", "license_title"]);
    ds.access_level = p.text(&["access_level", "accessLevel", "access-level"]);
    if p.private() {
        ds.access_level = Some("non-public".into());
    }
    ds.rights = p.text(&["rights", "access_rights"]).or_else(|| {
        let constraints = p.list("access_constraints");
        (!constraints.is_empty()).then(|| constraints.join("; "))
    });
    ds.distributions = distributions(&mut p);
    ds.database = database_extras(&mut p);
    ds.problems = p.problems;
    ds
}

/// The organization publishes; the maintainer (else the author) is the contact. A
/// maintainer is not taken for the publisher: completeness would credit a field the
/// agency left empty (ckanext-dcat maps `author` to `dct:creator`, not the publisher).
fn publisher_and_contact(p: &mut Package) -> (Option<String>, Option<String>) {
    let maintainer = p.text(&["maintainer"]);
    let author = p.text(&["author"]);
    let publisher = p
        .names("organization", &["title", "name", "display_name"])
        .into_iter()
        .next()
        .or_else(|| p.text(&["publisher_name"]))
        .or_else(|| p.names("publisher", &["name", "email"]).into_iter().next());
    let contact = maintainer
        .or_else(|| p.text(&["maintainer_email", "contact_name", "contact_email"]))
        .or_else(|| p.text(&["contact-name", "contact-email"]))
        .or_else(|| p.names("contact", &["name", "email"]).into_iter().next())
        .or(author)
        .or_else(|| p.text(&["author_email"]));
    (publisher, contact)
}

/// A package's fields and its extras, each taken once (so a bad field is noted once).
struct Package {
    fields: Map<String, Value>,
    extras: Map<String, Value>,
    problems: Vec<FieldProblem>,
}

impl Package {
    fn new(mut fields: Map<String, Value>) -> Self {
        let mut problems = Vec::new();
        let extras = extras(fields.remove("extras"), &mut problems);
        Package {
            fields,
            extras,
            problems,
        }
    }

    /// `key` from the package, else from its extras, with the name to report it under.
    fn take(&mut self, key: &str) -> Option<(Value, String)> {
        let top = self.fields.remove(key).filter(|v| !is_blank(v));
        let extra = self.extras.remove(key).filter(|v| !is_blank(v));
        match (top, extra) {
            (Some(v), _) => Some((v, key.to_string())),
            (None, Some(v)) => Some((v, format!("extras.{key}"))),
            (None, None) => None,
        }
    }

    /// The first of `keys` that holds text. A list of strings is joined, since
    /// data.gov.uk gives some single values as one-element lists.
    fn text(&mut self, keys: &[&str]) -> Option<String> {
        for key in keys {
            let Some((value, field)) = self.take(key) else {
                continue;
            };
            match value {
                Value::String(s) => return Some(s.trim().to_string()),
                Value::Array(items) if items.iter().all(Value::is_string) => {
                    let parts: Vec<String> =
                        items.iter().map(plain).filter(|s| !s.is_empty()).collect();
                    if !parts.is_empty() {
                        return Some(parts.join("; "));
                    }
                }
                other => self.wrong(&field, &other, "a string"),
            }
        }
        None
    }

    /// ckanext-fluent's `{"vi": …, "en": …}`: Vietnamese first, then English, then any.
    fn translated(&mut self, key: &str) -> Option<String> {
        let (value, field) = self.take(key)?;
        let Value::Object(mut langs) = value else {
            self.wrong(&field, &value, "an object of translations");
            return None;
        };
        let pick = |v: Value| match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => None,
        };
        for lang in ["vi", "en"] {
            if let Some(text) = langs.remove(lang).and_then(pick) {
                return Some(text);
            }
        }
        langs.into_iter().find_map(|(_, v)| pick(v))
    }

    /// A list of strings: an array, a JSON-encoded array (as extras hold them), or a
    /// single string.
    fn list(&mut self, key: &str) -> Vec<String> {
        let Some((value, field)) = self.take(key) else {
            return Vec::new();
        };
        let value = match value {
            Value::String(s) if s.trim_start().starts_with('[') => {
                serde_json::from_str::<Value>(&s).unwrap_or(Value::String(s))
            }
            other => other,
        };
        match value {
            Value::String(s) => vec![s.trim().to_string()],
            Value::Array(items) => self.strings(items, &field),
            other => {
                self.wrong(&field, &other, "a list of strings");
                Vec::new()
            }
        }
    }

    fn strings(&mut self, items: Vec<Value>, field: &str) -> Vec<String> {
        let mut out = Vec::new();
        for item in items {
            match item {
                Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                Value::String(_) | Value::Null => {}
                other => self.problems.push(problem(
                    field,
                    format!("holds {} instead of a string", kind_of(&other)),
                )),
            }
        }
        out
    }

    /// The names of a list of objects (tags, groups, scheming's publisher and contact),
    /// each named by the first of `names` it has; a single object or plain strings are
    /// taken too.
    fn names(&mut self, key: &str, names: &[&str]) -> Vec<String> {
        let Some((value, field)) = self.take(key) else {
            return Vec::new();
        };
        let (items, listed) = match value {
            Value::Array(items) => (items, true),
            single @ (Value::Object(_) | Value::String(_)) => (vec![single], false),
            other => {
                self.wrong(&field, &other, "a list of objects");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let field = if listed {
                format!("{field}[{i}]")
            } else {
                field.clone()
            };
            let name = match item {
                Value::String(s) => Some(s),
                Value::Object(mut obj) => names.iter().find_map(|k| match obj.remove(*k) {
                    Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
                    _ => None,
                }),
                Value::Null => continue,
                other => {
                    self.wrong(&field, &other, "an object");
                    continue;
                }
            };
            match name.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
                Some(name) if !out.contains(&name) => out.push(name),
                Some(_) => {}
                None => self
                    .problems
                    .push(problem(&field, format!("has no {}", names.join(" or ")))),
            }
        }
        out
    }

    fn private(&mut self) -> bool {
        match self.fields.remove("private") {
            Some(Value::Bool(private)) => private,
            None | Some(Value::Null) => false,
            Some(other) => {
                self.wrong("private", &other, "a boolean");
                false
            }
        }
    }

    fn wrong(&mut self, field: &str, value: &Value, expected: &str) {
        self.problems.push(problem(
            field,
            format!("is {} instead of {expected}", kind_of(value)),
        ));
    }
}

/// CKAN's `[{key, value}]` extras as a map; the old API's plain object is taken too.
fn extras(value: Option<Value>, problems: &mut Vec<FieldProblem>) -> Map<String, Value> {
    let items = match value {
        None | Some(Value::Null) => return Map::new(),
        Some(Value::Object(map)) => return map,
        Some(Value::Array(items)) => items,
        Some(other) => {
            problems.push(problem(
                "extras",
                format!("is {} instead of a list", kind_of(&other)),
            ));
            return Map::new();
        }
    };
    let mut map = Map::new();
    for (i, item) in items.into_iter().enumerate() {
        let pair = match item {
            Value::Object(mut obj) => match (obj.remove("key"), obj.remove("value")) {
                (Some(Value::String(key)), value) => Some((key, value.unwrap_or(Value::Null))),
                _ => None,
            },
            _ => None,
        };
        match pair {
            // The first of a repeated key wins, as CKAN's own form shows it.
            Some((key, value)) => {
                map.entry(key).or_insert(value);
            }
            None => problems.push(problem(
                &format!("extras[{i}]"),
                "is not a {key, value} pair".to_string(),
            )),
        }
    }
    map
}

fn themes(p: &mut Package) -> Vec<String> {
    let mut themes = p.names("groups", &["title", "display_name", "name"]);
    let more = [p.list("theme"), p.list("theme-primary")];
    for theme in more.into_iter().flatten() {
        if !themes.contains(&theme) {
            themes.push(theme);
        }
    }
    themes
}

/// Words before geometry: a place name says more to a reader than a GeoJSON polygon.
fn spatial(p: &mut Package) -> Option<String> {
    p.text(&["spatial_text", "spatial_uri"])
        .or_else(|| json_text(p, "spatial"))
        .or_else(|| {
            p.names("spatial_coverage", &["text", "uri"])
                .into_iter()
                .next()
        })
}

/// GeoJSON may come as a string (extras) or as an object (scheming).
fn json_text(p: &mut Package, key: &str) -> Option<String> {
    match p.take(key)? {
        (Value::String(s), _) => Some(s.trim().to_string()),
        (geometry @ Value::Object(_), _) => Some(geometry.to_string()),
        (other, field) => {
            p.wrong(&field, &other, "a string or a GeoJSON object");
            None
        }
    }
}

/// An ISO 8601 interval, `..` standing for an open end.
fn temporal(p: &mut Package) -> Option<String> {
    if let Some(temporal) = p.text(&["temporal"]) {
        return Some(temporal);
    }
    let pairs = [
        ("temporal_start", "temporal_end"),
        ("temporal_coverage-from", "temporal_coverage-to"),
    ];
    for (from, to) in pairs {
        if let Some(interval) = interval(p.text(&[from]), p.text(&[to])) {
            return Some(interval);
        }
    }
    // ckanext-dcat's scheming: `temporal_coverage: [{start, end}]`.
    let (value, field) = p.take("temporal_coverage")?;
    let first = match value {
        Value::Array(items) => items.into_iter().next(),
        single => Some(single),
    };
    match first {
        Some(Value::Object(mut obj)) => {
            let mut date = |key: &str| match obj.remove(key) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => None,
            };
            let start = date("start");
            interval(start, date("end"))
        }
        Some(other) => {
            p.wrong(&field, &other, "a list of {start, end} objects");
            None
        }
        None => None,
    }
}

fn interval(start: Option<String>, end: Option<String>) -> Option<String> {
    match (start, end) {
        (None, None) => None,
        (start, end) => Some(format!(
            "{}/{}",
            start.as_deref().unwrap_or(".."),
            end.as_deref().unwrap_or("..")
        )),
    }
}

/// A Vietnamese portal may carry Decree 47 fields as extras named like the columns of a
/// list of databases ("Loại CSDL", "Cơ quan chủ quản"…).
fn database_extras(p: &mut Package) -> DatabaseInfo {
    let mut info = DatabaseInfo::default();
    let keys: Vec<String> = p.extras.keys().cloned().collect();
    for key in keys {
        let slot = match field_for_header(&key) {
            Some(Column::DatabaseKind) => &mut info.kind,
            Some(Column::Owner) => &mut info.owner,
            Some(Column::RoadmapStatus) => &mut info.roadmap_status,
            Some(Column::RoadmapTarget) => &mut info.roadmap_target,
            Some(Column::SharedVia) => &mut info.shared_via,
            _ => continue,
        };
        if slot.is_none()
            && let Some(Value::String(s)) = p.extras.remove(&key)
            && !s.trim().is_empty()
        {
            *slot = Some(s.trim().to_string());
        }
    }
    info
}

fn distributions(p: &mut Package) -> Vec<Distribution> {
    match p.fields.remove("resources") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, item)| resource(i, item, &mut p.problems))
            .collect(),
        Some(other) => {
            p.wrong("resources", &other, "a list");
            Vec::new()
        }
    }
}

fn resource(i: usize, value: Value, problems: &mut Vec<FieldProblem>) -> Option<Distribution> {
    let field = |key: &str| format!("resources[{i}].{key}");
    let Value::Object(mut obj) = value else {
        problems.push(problem(
            &format!("resources[{i}]"),
            format!("is {} instead of an object", kind_of(&value)),
        ));
        return None;
    };
    let uploaded = obj.get("url_type").and_then(Value::as_str) == Some("upload");
    let mut text = |key: &str| match obj.remove(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        None | Some(Value::Null) | Some(Value::String(_)) => None,
        Some(other) => {
            problems.push(problem(
                &field(key),
                format!("is {} instead of a string", kind_of(&other)),
            ));
            None
        }
    };
    let url = text("url");
    // ckanext-dcat's scheming says outright which URL is which.
    let mut access_url = text("access_url");
    let mut download_url = text("download_url");
    let media_type = text("mimetype");
    let format = text("format");
    if let Some(url) = url {
        let is_file = uploaded || looks_like_file(&url);
        if is_file && download_url.is_none() {
            download_url = Some(url);
        } else if access_url.is_none() && download_url.as_deref() != Some(url.as_str()) {
            access_url = Some(url);
        }
    }
    if access_url.is_none() && download_url.is_none() {
        problems.push(problem(&field("url"), "is missing or empty".into()));
    }
    let byte_size = match obj.remove("size") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => {
            let size = s.trim().parse().ok();
            if size.is_none() {
                problems.push(problem(&field("size"), format!("`{s}` is not a number")));
            }
            size
        }
        Some(other) => {
            problems.push(problem(
                &field("size"),
                format!("is {} instead of a number", kind_of(&other)),
            ));
            None
        }
    };
    Some(Distribution {
        access_url,
        download_url,
        media_type,
        format,
        byte_size,
    })
}

/// Whether a URL names a file (by its extension) rather than a page or an API.
fn looks_like_file(url: &str) -> bool {
    const FILES: &[&str] = &[
        "csv", "tsv", "txt", "json", "geojson", "jsonld", "xml", "rdf", "ttl", "nt", "xls", "xlsx",
        "ods", "doc", "docx", "odt", "pdf", "zip", "gz", "tgz", "bz2", "7z", "rar", "tar", "shp",
        "kml", "kmz", "gpkg", "gml", "parquet", "sqlite", "mdb", "dbf", "sav", "dta", "tif",
        "tiff", "jpg", "jpeg", "png",
    ];
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    // Past the host: `http://data.zip` is a domain, not a file.
    let Some((_, path)) = path.split_once('/') else {
        return false;
    };
    let last = path.rsplit('/').next().unwrap_or_default();
    last.rsplit_once('.')
        .is_some_and(|(_, ext)| FILES.contains(&ext.to_ascii_lowercase().as_str()))
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn problem(field: &str, message: String) -> FieldProblem {
    FieldProblem {
        field: field.to_string(),
        message,
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            std::fs::File::open(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/ckan/",
                $name
            ))
            .unwrap()
        };
    }

    fn search(json: &str) -> (Result<SearchPage, CatalogError>, Vec<Dataset>) {
        let mut all = Vec::new();
        let page = parse_package_search(json.as_bytes(), |d| all.push(d));
        (page, all)
    }

    #[test]
    fn other_documents_a_portal_serves_are_read_or_named() {
        // organization_show with include_datasets: a catalog of its packages.
        let (page, all) = search(
            r#"{"success": true, "result": {"is_organization": true, "name": "so-yte",
               "packages": [{"id": "p1", "title": "Cơ sở y tế"}, {"id": "p2"}]}}"#,
        );
        assert_eq!(page.unwrap().ids, ["p1", "p2"]);
        assert_eq!(all[0].title.as_deref(), Some("Cơ sở y tế"));
        // Without include_datasets: an empty catalog, not an error.
        let (page, all) = search(r#"{"result": {"is_organization": true, "name": "o"}}"#);
        assert_eq!((page.unwrap().count, all.len()), (0, 0));
        // package_show, bare: the one package.
        let (page, all) = search(r#"{"id": "p9", "name": "dan-cu", "num_resources": 0}"#);
        assert_eq!(
            (page.unwrap().count, all[0].identifier.as_deref()),
            (1, Some("p9"))
        );
        // package_list and organization_list are names, not catalogs.
        for list in [r#"["a", "b"]"#, r#"{"success": true, "result": ["a"]}"#] {
            let err = search(list).0.unwrap_err().to_string();
            assert!(err.contains("list of names"), "{err}");
        }
    }

    fn fields(ds: &Dataset) -> Vec<&str> {
        ds.problems.iter().map(|p| p.field.as_str()).collect()
    }

    /// data.gov.uk's answer, trimmed by its authors to 4 of the 10 packages it counts.
    #[test]
    fn reads_the_data_gov_uk_search_page() {
        let mut all = Vec::new();
        let page = parse_package_search(fixture!("uk-datagovuk_package_search.json"), |d| {
            all.push(d)
        })
        .unwrap();
        assert_eq!((page.count, page.returned, all.len()), (10, 4, 4));
        assert_eq!(
            page.ids,
            [
                "df1a587d-836a-4c63-b070-e5b6192117e4",
                "25f3bcfd-619b-43d3-82eb-255859622b9c",
                "98c45342-9145-46bd-a845-3cac8413178e",
                "5622c3ae-e31c-45e5-94ef-60bdcc736055",
            ]
        );
        // The greatest of 2020-03-18T04:48, 2019-12-21, 2020-03-18T04:32 and 2020-01-15.
        assert_eq!(
            page.last_modified.as_deref(),
            Some("2020-03-18T04:48:27.035267")
        );

        let bees = &all[0];
        assert_eq!(bees.identifier.as_deref(), Some(page.ids[0].as_str()));
        assert!(
            bees.title
                .as_deref()
                .unwrap()
                .starts_with("Pollinator and pollination")
        );
        assert_eq!(
            bees.publisher.as_deref(),
            Some("Environmental Information Data Centre")
        );
        // `contact-email` is "\nm.p.garratt@reading.ac.uk\n" in the file.
        assert_eq!(
            bees.contact_point.as_deref(),
            Some("m.p.garratt@reading.ac.uk")
        );
        assert_eq!(bees.keywords.len(), 13);
        assert_eq!(bees.keywords[0], "Common Carder Bee");
        assert_eq!(
            bees.license.as_deref(),
            Some("http://reference.data.gov.uk/id/open-government-licence")
        );
        // From the extra `frequency-of-update`.
        assert_eq!(bees.accrual_periodicity.as_deref(), Some("notPlanned"));
        assert_eq!(bees.temporal.as_deref(), Some("2015-01-01/2015-12-31"));
        assert_eq!(bees.modified.as_deref(), Some("2020-03-18T04:48:27.035267"));
        assert_eq!(bees.issued.as_deref(), Some("2016-08-16T18:34:06.445687"));
        assert_eq!(bees.distributions.len(), 2);
        assert_eq!(
            bees.distributions[0].download_url.as_deref(),
            Some("https://data-package.ceh.ac.uk/sd/5822900b-3af4-4bb9-a2d6-0b5d384e2a3c.zip")
        );
        assert_eq!(bees.distributions[0].format.as_deref(), Some("ZIP"));
        // `…/download?fileIdentifier=…` names no file: a page to go through.
        assert!(bees.distributions[1].download_url.is_none());
        assert!(bees.distributions[1].access_url.is_some());
        assert!(bees.problems.is_empty(), "{:?}", bees.problems);

        let chart = &all[1];
        assert_eq!(chart.title.as_deref(), Some("Organisation Chart"));
        assert_eq!(
            chart.publisher.as_deref(),
            Some("Colchester Borough Council")
        );
        assert_eq!(chart.distributions.len(), 5);
        assert_eq!(chart.contact_point, None);
    }

    #[test]
    fn reads_an_enveloped_package_show() {
        let ds = parse_package_show(fixture!("uk-datagovuk_package_show.json")).unwrap();
        assert_eq!(
            ds.identifier.as_deref(),
            Some("5e2d4ec4-2df6-4c3f-b559-93321a213d29")
        );
        assert_eq!(
            ds.title.as_deref(),
            Some("UK continental shelf seabed sediments (1:1 million scale)")
        );
        assert_eq!(ds.publisher.as_deref(), Some("British Geological Survey"));
        assert_eq!(ds.contact_point.as_deref(), Some("enquiries@bgs.ac.uk"));
        assert_eq!(ds.accrual_periodicity.as_deref(), Some("asNeeded"));
        // `license_id` and `license_title` are both "".
        assert_eq!(ds.license, None);
        assert_eq!(ds.themes, ["environment"]);
        assert!(
            ds.spatial
                .as_deref()
                .unwrap()
                .starts_with("{\"type\":\"Polygon\"")
        );
        assert_eq!(ds.distributions.len(), 1);
        assert_eq!(
            ds.distributions[0].access_url.as_deref(),
            Some("http://www.bgs.ac.uk/")
        );
        assert!(ds.problems.is_empty(), "{:?}", ds.problems);
    }

    #[test]
    fn reads_a_bare_package_show() {
        let ds = parse_package_show(fixture!(
            "uk-datagovuk_package_show_result-only_civil-service-people-survey-2011.json"
        ))
        .unwrap();
        assert_eq!(
            ds.identifier.as_deref(),
            Some("27b635b7-a2a5-4e20-98e4-d521259306ca")
        );
        assert_eq!(
            ds.title.as_deref(),
            Some("Civil Service People Survey 2011")
        );
        assert_eq!(ds.publisher.as_deref(), Some("Cabinet Office"));
        assert_eq!(ds.accrual_periodicity.as_deref(), Some("never"));
        assert_eq!(ds.temporal.as_deref(), Some("2011-09-19/2011-10-21"));
        let formats: Vec<_> = ds
            .distributions
            .iter()
            .map(|d| d.format.as_deref().unwrap())
            .collect();
        assert_eq!(formats, ["PDF", "PDF", "XLS", "CSV"]);
        // All four are files (.pdf, .pdf, .xls, .csv).
        assert!(ds.distributions.iter().all(|d| d.download_url.is_some()));
    }

    /// A ckanext-scheming portal: DCAT fields at the top level, translated notes.
    #[test]
    fn reads_scheming_fields_of_transportdata_be() {
        let ds = parse_package_show(fixture!(
            "be-transportdata_package_show_cambio-belgium.json"
        ))
        .unwrap();
        assert_eq!(ds.title.as_deref(), Some("cambio: Stations"));
        // `notes` is null; `notes_translated` has no "vi", so its "en" is taken.
        assert!(
            ds.description
                .as_deref()
                .unwrap()
                .starts_with("Contains a list of stations")
        );
        assert_eq!(ds.publisher.as_deref(), Some("cambio Belgium"));
        assert_eq!(ds.contact_point.as_deref(), Some("Ward Docx"));
        assert_eq!(ds.keywords, ["Car-sharing"]);
        assert_eq!(ds.accrual_periodicity.as_deref(), Some("On occurence"));
        assert_eq!(
            ds.themes,
            ["http://publications.europa.eu/resource/authority/data-theme/TRAN"]
        );
        assert_eq!(ds.temporal.as_deref(), Some("2020-03-11T17:08:00/.."));
        assert_eq!(ds.license.as_deref(), Some("other-open"));
        assert_eq!(
            ds.distributions[0].access_url.as_deref(),
            Some("https://cwapi.cambio-carsharing.com/pub/stations/BEL")
        );
        assert!(ds.problems.is_empty(), "{:?}", ds.problems);
    }

    #[test]
    fn organization_lists_in_every_shape() {
        let uk = parse_organization_list(fixture!("uk-datagovuk_organization_list.json")).unwrap();
        assert_eq!(uk.len(), 10);
        assert_eq!(uk[0], "aberdeen-city-council");
        assert_eq!(uk[9], "airedale-nhs-foundation-trust");
        let be =
            parse_organization_list(fixture!("be-transportdata_organization_list.json")).unwrap();
        assert_eq!(be.len(), 52);
        assert_eq!(be[0], "agentschap-voor-maritieme-dienstverlening-en-kust");
        assert_eq!(be[51], "zen-car");

        let bare = parse_organization_list(&br#"["bo-y-te", " so-tttt "]"#[..]).unwrap();
        assert_eq!(bare, ["bo-y-te", "so-tttt"]);
        let all_fields = r#"{"success": true, "result": [
            {"name": "bo-y-te", "title": "Bộ Y tế"}, {"title": "no name"}, 7]}"#;
        assert_eq!(
            parse_organization_list(all_fields.as_bytes()).unwrap(),
            ["bo-y-te"]
        );
        assert!(matches!(
            parse_organization_list(&br#"{"success": true, "result": {}}"#[..]),
            Err(CatalogError::Format { format: "CKAN", .. })
        ));
    }

    #[test]
    fn a_failed_answer_carries_ckans_message() {
        let not_found = r#"{"help": "https://x/api/3/action/help_show?name=package_search",
            "success": false,
            "error": {"__type": "Not Found Error", "message": "Not found"}}"#;
        let expected = CatalogError::Format {
            format: "CKAN",
            message: "the portal answered `success: false`: Not Found Error: Not found".into(),
        };
        assert_eq!(search(not_found).0, Err(expected.clone()));
        assert_eq!(parse_package_show(not_found.as_bytes()), Err(expected));

        let invalid = br#"{"success": false, "result": null,
            "error": {"__type": "Validation Error", "name": ["Missing value"]}}"#;
        assert_eq!(
            parse_package_show(&invalid[..]).unwrap_err().to_string(),
            "the CKAN catalog could not be read: the portal answered `success: false`: \
             Validation Error: name: Missing value"
        );
        // The error may come before `success`.
        let denied = br#"{"error": {"message": "Access denied"}, "success": false}"#;
        let err = parse_organization_list(&denied[..]).unwrap_err();
        assert!(err.to_string().ends_with(": Access denied"), "{err}");

        let silent = search(r#"{"success": false}"#).0.unwrap_err();
        assert!(
            silent.to_string().contains("without saying why"),
            "{silent}"
        );
    }

    #[test]
    fn a_bare_result_is_a_page_too() {
        let (page, all) = search(
            r#"{"count": 3, "sort": "name asc", "results": [
                {"id": "a", "metadata_modified": "2024-01-01T00:00:00.000001"},
                {"name": "b-only-name", "metadata_modified": "2024-03-01T00:00:00"},
                {"id": "c"}]}"#,
        );
        let page = page.unwrap();
        assert_eq!((page.count, page.returned), (3, 3));
        assert_eq!(page.ids, ["a", "b-only-name", "c"]);
        assert_eq!(page.last_modified.as_deref(), Some("2024-03-01T00:00:00"));
        assert_eq!(all[1].identifier.as_deref(), Some("b-only-name"));

        let (empty, none) = search(r#"{"success": true, "result": {"count": 0, "results": []}}"#);
        assert_eq!(empty.unwrap(), SearchPage::default());
        assert!(none.is_empty());
    }

    #[test]
    fn packages_are_handed_over_as_they_are_read() {
        let text =
            r#"{"success": true, "result": {"count": 2, "results": [{"id": "first"}, {"id": "sec"#;
        let (page, all) = search(text);
        assert!(
            matches!(page, Err(CatalogError::Truncated { .. })),
            "{page:?}"
        );
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].identifier.as_deref(), Some("first"));
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let format = |json: &str| match search(json).0 {
            Err(CatalogError::Format { format, message }) => {
                assert_eq!(format, "CKAN");
                message
            }
            other => panic!("{json}: {other:?}"),
        };
        assert!(format(r#"{"success": true, "result": {"results": []}}"#).contains("`count`"));
        assert!(format(r#"{"success": true, "result": {"count": 1}}"#).contains("`results`"));
        assert!(format(r#"{"result": {"count": "10", "results": []}}"#).contains("`count`"));
        assert!(format(r#"{"result": {"count": -1, "results": []}}"#).contains("`count`"));
        assert!(format(r#"{"result": {"count": 1, "results": {}}}"#).contains("`results`"));
        assert!(
            format(r#"{"result": {"count": 1, "results": [], "results": []}}"#).contains("twice")
        );
        assert!(format("[1, 2]").contains("package_search"));
        assert!(matches!(
            search("<!DOCTYPE html><html></html>").0,
            Err(CatalogError::Syntax {
                line: 1,
                column: 1,
                ..
            })
        ));
        assert!(matches!(
            search(r#"{"result": {"count": 0, "results": []}} trailing"#).0,
            Err(CatalogError::Syntax { .. })
        ));
        // A package_search page is not a package.
        let err = parse_package_show(fixture!("uk-datagovuk_package_search.json")).unwrap_err();
        assert!(err.to_string().contains("not a package"), "{err}");
    }

    #[test]
    fn wrong_types_everywhere_do_not_panic() {
        let package = serde_json::json!({
            "id": 5, "name": "fallback-name", "title": ["a", 1], "notes": {"x": 1},
            "tags": "just-one", "groups": 7, "organization": 12, "maintainer": false,
            "private": "yes", "metadata_modified": 20200101, "license_url": [],
            "license_id": {"id": "cc-by"}, "temporal_coverage": 3,
            "extras": [{"key": "frequency", "value": 3}, "x", {"key": 1, "value": "v"}],
            "resources": [{"url": 1, "size": "big"}, 4, {"url": "https://x/a.csv", "size": [1]}]
        });
        let ds = package_to_dataset(package);
        // `id` is unusable, so the slug stands in.
        assert_eq!(ds.identifier.as_deref(), Some("fallback-name"));
        assert_eq!(ds.title, None);
        assert_eq!(ds.description, None);
        assert_eq!(ds.publisher, None);
        assert_eq!(ds.keywords, ["just-one"]);
        assert_eq!(ds.access_level, None);
        assert_eq!(ds.license, None);
        assert_eq!(ds.modified, None);
        assert_eq!(ds.distributions.len(), 2);
        assert_eq!(
            ds.distributions[1].download_url.as_deref(),
            Some("https://x/a.csv")
        );
        let noted = fields(&ds);
        for field in [
            "id",
            "title",
            "notes",
            "groups",
            "organization",
            "maintainer",
            "private",
            "metadata_modified",
            "license_id",
            "temporal_coverage",
            "extras.frequency",
            "extras[1]",
            "extras[2]",
            "resources[0].url",
            "resources[0].size",
            "resources[1]",
            "resources[2].size",
        ] {
            assert!(noted.contains(&field), "{field} not in {noted:?}");
        }

        let ds = package_to_dataset(serde_json::json!({"extras": "bad", "resources": {"url": 1}}));
        assert_eq!(fields(&ds), ["extras", "resources"]);
        let ds = package_to_dataset(serde_json::json!("not a package"));
        assert_eq!(fields(&ds), ["package"]);
    }

    #[test]
    fn private_uploads_and_vietnamese_extras() {
        let ds = package_to_dataset(serde_json::json!({
            "id": "p", "private": true,
            "title_translated": {"en": "Health facilities", "vi": "Cơ sở y tế"},
            "extras": [
                {"key": "access_level", "value": "public"},
                {"key": "Loại CSDL", "value": "CSDL chuyên ngành"},
                {"key": "Cơ quan chủ quản", "value": "Bộ Y tế"},
                {"key": "theme", "value": "[\"Y tế\", \"Xã hội\"]"}
            ],
            "resources": [{
                "url": "https://portal/dataset/p/resource/r/download/file",
                "url_type": "upload", "size": "2048", "mimetype": "text/csv"
            }]
        }));
        assert_eq!(ds.access_level.as_deref(), Some("non-public"));
        assert_eq!(ds.title.as_deref(), Some("Cơ sở y tế"));
        assert_eq!(ds.database.kind.as_deref(), Some("CSDL chuyên ngành"));
        assert_eq!(ds.database.owner.as_deref(), Some("Bộ Y tế"));
        assert_eq!(ds.themes, ["Y tế", "Xã hội"]);
        let upload = &ds.distributions[0];
        assert_eq!(
            upload.download_url.as_deref(),
            Some("https://portal/dataset/p/resource/r/download/file")
        );
        assert_eq!(upload.byte_size, Some(2048));
        assert_eq!(upload.media_type.as_deref(), Some("text/csv"));
        assert!(ds.problems.is_empty(), "{:?}", ds.problems);
    }

    #[test]
    fn ckans_dates_come_before_dcat_ones() {
        let ds = package_to_dataset(serde_json::json!({
            "id": "d", "metadata_modified": "2024-02-01T00:00:00", "modified": "2020-01-01",
            "metadata_created": "2023-01-01T00:00:00", "issued": "2019-01-01"
        }));
        assert_eq!(ds.modified.as_deref(), Some("2024-02-01T00:00:00"));
        assert_eq!(ds.issued.as_deref(), Some("2023-01-01T00:00:00"));
        let ds = package_to_dataset(serde_json::json!({"id": "d", "modified": "2020-01-01"}));
        assert_eq!(ds.modified.as_deref(), Some("2020-01-01"));
    }

    #[test]
    fn search_urls_are_encoded_and_stable() {
        let url = |base: &str, since: Option<&str>, org: Option<&str>| {
            package_search_url(&Url::parse(base).unwrap(), 100, 200, since, org)
                .unwrap()
                .to_string()
        };
        assert_eq!(
            url("https://data.gov.uk", None, None),
            "https://data.gov.uk/api/3/action/package_search?rows=100&start=200&sort=name+asc"
        );
        assert_eq!(
            url(
                "https://data.gov.uk",
                Some("2024-01-02T03:04:05.123456"),
                Some("so-tttt-ha-noi")
            ),
            "https://data.gov.uk/api/3/action/package_search?rows=100&start=200&sort=name+asc\
             &fq=organization%3A%22so-tttt-ha-noi%22+AND+\
             metadata_modified%3A%5B2024-01-02T03%3A04%3A05.123Z+TO+*%5D"
        );
        let query = |since| {
            package_search_url(&Url::parse("https://x").unwrap(), 1, 0, Some(since), None)
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == "fq")
                .map(|(_, v)| v.into_owned())
                .unwrap()
        };
        assert_eq!(
            query("2024-01-02T10:00:00+07:00"),
            "metadata_modified:[2024-01-02T03:00:00.000Z TO *]"
        );
        assert_eq!(
            query("2024-01-02"),
            "metadata_modified:[2024-01-02T00:00:00.000Z TO *]"
        );
        // Unreadable, it is quoted rather than let loose in the query.
        assert_eq!(
            query("x TO *] OR *:*"),
            "metadata_modified:[\"x TO *] OR *:*\" TO *]"
        );
        for base in [
            "https://x.gov.vn/ckan",
            "https://x.gov.vn/ckan/",
            "https://x.gov.vn/ckan/api/3/action/",
            "https://x.gov.vn/ckan/?lang=vi#top",
        ] {
            assert_eq!(
                url(base, None, None),
                "https://x.gov.vn/ckan/api/3/action/package_search?rows=100&start=200&sort=name+asc",
                "{base}"
            );
        }
        assert!(
            package_search_url(&Url::parse("mailto:a@b.vn").unwrap(), 1, 0, None, None).is_err()
        );
    }
}
