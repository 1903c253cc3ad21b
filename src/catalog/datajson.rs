//! DCAT-US / Project Open Data `data.json` (v1.1 object, or the v1.0 bare array).

use std::fmt;
use std::io::{Read, Seek, SeekFrom};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::pod;
use super::records::{Bail, Splitter};
use super::{
    CatalogError, CatalogSummary, Dataset, Distribution, FieldProblem, SchemaCheck, SchemaIssue,
};

/// How many schema errors are kept per record (all are counted).
const KEPT_SCHEMA_ERRORS: usize = 5;

/// The Project Open Data v1.1 schemas, compiled once. A record that carries `bureauCode`
/// is held to the federal schema; any other (as a Vietnamese agency's) to the non-federal
/// one, which does not require the US budget codes.
struct PodSchemas {
    federal: Pod,
    non_federal: Pod,
}

/// One schema: its validator, and the members it requires (for `pod`'s stand-ins).
struct Pod {
    validator: jsonschema::Validator,
    required: Vec<String>,
}

/// Serves the schemas' `$ref`s from the copies compiled into the binary: validating a
/// catalog must never fetch anything.
struct EmbeddedSchemas;

const POD_REFS: &[(&str, &str)] = &[
    (
        "distribution.json",
        include_str!("pod-v1.1/distribution.json"),
    ),
    (
        "organization.json",
        include_str!("pod-v1.1/organization.json"),
    ),
    ("vcard.json", include_str!("pod-v1.1/vcard.json")),
    (
        "vcard-non-federal.json",
        include_str!("pod-v1.1/vcard-non-federal.json"),
    ),
];

impl jsonschema::Retrieve for EmbeddedSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri.path().as_str().rsplit('/').next().unwrap_or_default();
        let text = POD_REFS
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, text)| *text)
            .ok_or_else(|| format!("no embedded schema for {uri}"))?;
        Ok(serde_json::from_str(text)?)
    }
}

fn compile(text: &str) -> Pod {
    let schema: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("embedded POD schema: {e}"));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .with_retriever(EmbeddedSchemas)
        .build(&schema)
        .unwrap_or_else(|e| panic!("embedded POD schema does not compile: {e}"));
    let required = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    Pod {
        validator,
        required,
    }
}

/// The members the schema named `schema` (`pod::FEDERAL` or `pod::NON_FEDERAL`) requires.
pub(super) fn required(schema: &str) -> &'static [String] {
    &POD.named(schema).required
}

impl PodSchemas {
    /// The schema named `schema` (`pod::FEDERAL` or `pod::NON_FEDERAL`).
    fn named(&self, schema: &str) -> &Pod {
        if schema == pod::FEDERAL {
            &self.federal
        } else {
            &self.non_federal
        }
    }
}

static POD: std::sync::LazyLock<PodSchemas> = std::sync::LazyLock::new(|| PodSchemas {
    federal: compile(include_str!("pod-v1.1/dataset.json")),
    non_federal: compile(include_str!("pod-v1.1/dataset-non-federal.json")),
});

/// Checks one data.json record against the POD v1.1 dataset schema.
pub fn check_record(record: &Value) -> SchemaCheck {
    check(record, true)
}

/// Checks a record already known to break its schema, or made of the members left to the
/// validator (see `pod`): straight to the errors.
pub(super) fn check_members(record: &Value) -> SchemaCheck {
    check(record, false)
}

/// `likely_valid`: try the cheap yes/no check first. Not worth it for the records the fast
/// path could not accept, most of which the schema rejects.
fn check(record: &Value, likely_valid: bool) -> SchemaCheck {
    let schema = if record.get("bureauCode").is_some() {
        pod::FEDERAL
    } else {
        pod::NON_FEDERAL
    };
    let validator = &POD.named(schema).validator;
    let mut check = SchemaCheck {
        schema,
        ..SchemaCheck::default()
    };
    // Most records are valid: the yes/no check is much cheaper than collecting errors.
    if likely_valid && validator.is_valid(record) {
        return check;
    }
    for error in validator.iter_errors(record) {
        check.errors += 1;
        if check.first.len() < KEPT_SCHEMA_ERRORS {
            check.first.push(SchemaIssue {
                path: error.instance_path().to_string(),
                message: error.to_string(),
            });
        }
    }
    check
}

/// Parses a DCAT-US `data.json` (v1.1 object, or the v1.0 bare array of datasets), calling
/// `each` for every dataset in document order.
///
/// A well-formed catalog is split into records that are parsed from slices (see
/// [`super::records`]); when that fast path meets anything unexpected, the document is read
/// again from where it started by serde_json's streaming parser, which gives the precise
/// error, skipping the records already handed to `each`.
pub fn parse_datajson<R: Read + Seek>(
    mut reader: R,
    mut each: impl FnMut(Dataset),
) -> Result<CatalogSummary, CatalogError> {
    let origin = reader
        .stream_position()
        .map_err(|e| CatalogError::Io(e.to_string()))?;
    let mut delivered = 0;
    let mut records = pod::Reader::default();
    let fast = split_catalog(&mut reader, |splitter| {
        let dataset = read_record(splitter, &mut records)?;
        delivered += 1;
        each(dataset);
        Ok(())
    });
    if let Ok(summary) = fast {
        return Ok(summary);
    }
    reader
        .seek(SeekFrom::Start(origin))
        .map_err(|e| CatalogError::Io(e.to_string()))?;
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    let summary = CatalogSeed {
        each,
        skip: delivered,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(summary)
}

/// Convenience for tests and small catalogs: every dataset in a vector.
pub fn parse_datajson_all(bytes: &[u8]) -> Result<(CatalogSummary, Vec<Dataset>), CatalogError> {
    let mut all = Vec::new();
    let summary = parse_datajson(std::io::Cursor::new(bytes), |d| all.push(d))?;
    Ok((summary, all))
}

/// A record as the catalog's datasets are: schema-checked, then mapped leniently.
pub(super) fn dataset_from_record(record: Value) -> Dataset {
    dataset_checked(record, true)
}

fn dataset_checked(record: Value, likely_valid: bool) -> Dataset {
    let schema = check(&record, likely_valid);
    let mut dataset = dataset_from_value(record);
    dataset.schema = Some(schema);
    dataset
}

/// The fast path: the catalog's structure walked by [`Splitter`], which `record` reads
/// each record from. Gives up on anything the careful path would report or treat
/// differently.
fn split_catalog<R: Read>(
    reader: R,
    mut record: impl FnMut(&mut Splitter<R>) -> Result<(), Bail>,
) -> Result<CatalogSummary, Bail> {
    let mut s = Splitter::new(reader);
    let mut summary = CatalogSummary::default();
    match s.peek()? {
        Some(b'{') => {
            s.expect(b'{')?;
            let mut saw_datasets = false;
            loop {
                let key: String = serde_json::from_slice(s.value()?).map_err(|_| Bail)?;
                s.expect(b':')?;
                match key.as_str() {
                    "dataset" if !saw_datasets => {
                        saw_datasets = true;
                        s.expect(b'[')?;
                        summary.datasets = split_records(&mut s, &mut record)?;
                    }
                    "conformsTo" => {
                        if let Value::String(c) =
                            serde_json::from_slice(s.value()?).map_err(|_| Bail)?
                        {
                            summary.conforms_to = Some(c);
                        }
                    }
                    // A second `dataset` is an error the careful path names.
                    "dataset" => return Err(Bail),
                    _ => {
                        serde_json::from_slice::<IgnoredAny>(s.value()?).map_err(|_| Bail)?;
                    }
                }
                if s.peek()? == Some(b',') {
                    s.expect(b',')?;
                } else {
                    s.expect(b'}')?;
                    break;
                }
            }
            if !saw_datasets {
                return Err(Bail);
            }
        }
        Some(b'[') => {
            s.expect(b'[')?;
            summary.datasets = split_records(&mut s, &mut record)?;
        }
        _ => return Err(Bail),
    }
    // Trailing characters are an error the careful path names.
    match s.peek()? {
        None => Ok(summary),
        Some(_) => Err(Bail),
    }
}

/// The next record: read in place by the typed read, or else cut out and read whole as a
/// `Value` by the lenient mapping.
fn read_record<R: Read>(
    splitter: &mut Splitter<R>,
    records: &mut pod::Reader,
) -> Result<Dataset, Bail> {
    match splitter.parse(|rest| records.read(rest))? {
        Some(dataset) => Ok(dataset),
        None => {
            let bytes = splitter.value()?;
            Ok(dataset_checked(
                serde_json::from_slice(bytes).map_err(|_| Bail)?,
                false,
            ))
        }
    }
}

/// The elements of an array whose `[` has been read, up to and including its `]`.
fn split_records<R: Read>(
    s: &mut Splitter<R>,
    record: &mut impl FnMut(&mut Splitter<R>) -> Result<(), Bail>,
) -> Result<usize, Bail> {
    let mut count = 0;
    if s.peek()? == Some(b']') {
        s.expect(b']')?;
        return Ok(0);
    }
    loop {
        record(s)?;
        count += 1;
        if s.peek()? == Some(b',') {
            s.expect(b',')?;
        } else {
            s.expect(b']')?;
            return Ok(count);
        }
    }
}

/// The careful path: serde_json's streaming parser over the whole document, skipping the
/// first `skip` records (the fast path handed them on already).
struct CatalogSeed<F> {
    each: F,
    skip: usize,
}

impl<'de, F: FnMut(Dataset)> DeserializeSeed<'de> for CatalogSeed<F> {
    type Value = CatalogSummary;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Dataset)> Visitor<'de> for CatalogSeed<F> {
    type Value = CatalogSummary;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a data.json catalog object with a `dataset` array")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut summary = CatalogSummary::default();
        let mut saw_datasets = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "dataset" if !saw_datasets => {
                    saw_datasets = true;
                    summary.datasets = map.next_value_seed(DatasetsSeed {
                        each: &mut self.each,
                        skip: self.skip,
                    })?;
                }
                "dataset" => return Err(de::Error::custom("the key `dataset` appears twice")),
                "conformsTo" => {
                    if let Value::String(s) = map.next_value::<Value>()? {
                        summary.conforms_to = Some(s);
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_datasets {
            return Err(de::Error::custom("it has no `dataset` array"));
        }
        Ok(summary)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, seq: A) -> Result<Self::Value, A::Error> {
        let datasets = DatasetsSeed {
            each: &mut self.each,
            skip: self.skip,
        }
        .visit_seq(seq)?;
        Ok(CatalogSummary {
            datasets,
            ..CatalogSummary::default()
        })
    }
}

struct DatasetsSeed<'a, F> {
    each: &'a mut F,
    skip: usize,
}

impl<'de, F: FnMut(Dataset)> DeserializeSeed<'de> for DatasetsSeed<'_, F> {
    type Value = usize;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Dataset)> Visitor<'de> for DatasetsSeed<'_, F> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`dataset` to be an array of dataset objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut count = 0;
        while count < self.skip {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(count);
            }
            count += 1;
        }
        // One record's tree at a time: memory stays bounded by the largest record.
        while let Some(record) = seq.next_element::<Value>()? {
            count += 1;
            (self.each)(dataset_from_record(record));
        }
        Ok(count)
    }
}

/// Maps one data.json record leniently: a field of the wrong type is left empty and noted.
pub fn dataset_from_value(record: Value) -> Dataset {
    let mut ds = Dataset::default();
    let Value::Object(mut obj) = record else {
        ds.problems.push(FieldProblem {
            field: "dataset".into(),
            message: format!("a record is {} instead of an object", kind_of(&record)),
        });
        return ds;
    };
    let mut problems = Vec::new();
    let mut text = |obj: &mut serde_json::Map<String, Value>, key: &str| -> Option<String> {
        match obj.remove(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => {
                problems.push(FieldProblem {
                    field: key.into(),
                    message: "is empty".into(),
                });
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(other) => {
                problems.push(FieldProblem {
                    field: key.into(),
                    message: format!("is {} instead of a string", kind_of(&other)),
                });
                None
            }
        }
    };
    ds.identifier = text(&mut obj, "identifier");
    ds.title = text(&mut obj, "title");
    ds.description = text(&mut obj, "description");
    ds.spatial = text(&mut obj, "spatial");
    ds.temporal = text(&mut obj, "temporal");
    ds.issued = text(&mut obj, "issued");
    ds.modified = text(&mut obj, "modified");
    ds.accrual_periodicity = text(&mut obj, "accrualPeriodicity");
    ds.license = text(&mut obj, "license");
    ds.access_level = text(&mut obj, "accessLevel");
    ds.rights = text(&mut obj, "rights");
    ds.publisher = named(
        obj.remove("publisher"),
        &["name"],
        "publisher",
        &mut problems,
    );
    // Some catalogs give a contact's e-mail address but no name: either identifies it.
    ds.contact_point = named(
        obj.remove("contactPoint"),
        &["fn", "hasEmail"],
        "contactPoint",
        &mut problems,
    );
    ds.keywords = strings(obj.remove("keyword"), "keyword", &mut problems);
    ds.themes = strings(obj.remove("theme"), "theme", &mut problems);
    ds.distributions = match obj.remove("distribution") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|d| distribution_from_value(d, &mut problems))
            .collect(),
        Some(single @ Value::Object(_)) => distribution_from_value(single, &mut problems)
            .into_iter()
            .collect(),
        Some(other) => {
            problems.push(FieldProblem {
                field: "distribution".into(),
                message: format!("is {} instead of an array", kind_of(&other)),
            });
            Vec::new()
        }
    };
    ds.problems = problems;
    ds
}

fn distribution_from_value(value: Value, problems: &mut Vec<FieldProblem>) -> Option<Distribution> {
    let Value::Object(mut obj) = value else {
        problems.push(FieldProblem {
            field: "distribution".into(),
            message: format!("an entry is {} instead of an object", kind_of(&value)),
        });
        return None;
    };
    let mut text = |key: &str| match obj.remove(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        None | Some(Value::Null) | Some(Value::String(_)) => None,
        Some(other) => {
            problems.push(FieldProblem {
                field: format!("distribution.{key}"),
                message: format!("is {} instead of a string", kind_of(&other)),
            });
            None
        }
    };
    let access_url = text("accessURL");
    let download_url = text("downloadURL");
    let media_type = text("mediaType");
    let format = text("format");
    let byte_size = match obj.remove("byteSize") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Some(Distribution {
        access_url,
        download_url,
        media_type,
        format,
        byte_size,
    })
}

/// `publisher` / `contactPoint`: an object named by the first of `keys` it has, or
/// (leniently) a plain string.
fn named(
    value: Option<Value>,
    keys: &[&str],
    field: &str,
    problems: &mut Vec<FieldProblem>,
) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Object(mut obj)) => {
            let name = keys.iter().find_map(|k| match obj.remove(*k) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => None,
            });
            if name.is_none() {
                problems.push(FieldProblem {
                    field: format!("{field}.{}", keys[0]),
                    message: "is missing or not a string".into(),
                });
            }
            name
        }
        Some(other) => {
            problems.push(FieldProblem {
                field: field.into(),
                message: format!("is {} instead of an object", kind_of(&other)),
            });
            None
        }
    }
}

/// A list of strings; a single string is accepted as a list of one.
fn strings(value: Option<Value>, field: &str, problems: &mut Vec<FieldProblem>) -> Vec<String> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if s.trim().is_empty() => Vec::new(),
        Some(Value::String(s)) => vec![s.trim().to_string()],
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                    Value::String(_) => {}
                    other => problems.push(FieldProblem {
                        field: field.into(),
                        message: format!("holds {} instead of a string", kind_of(&other)),
                    }),
                }
            }
            out
        }
        Some(other) => {
            problems.push(FieldProblem {
                field: field.into(),
                message: format!("is {} instead of an array of strings", kind_of(&other)),
            });
            Vec::new()
        }
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

    const SAMPLE: &str = r#"{
      "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
      "@type": "dcat:Catalog",
      "dataset": [
        {
          "@type": "dcat:Dataset",
          "identifier": "hn-dan-cu-2024",
          "title": "Dân cư theo phường <b>2024</b>",
          "description": "Số dân theo phường",
          "keyword": ["dân cư", "thống kê"],
          "modified": "2024-06-01",
          "publisher": {"@type": "org:Organization", "name": "UBND Thành phố Hà Nội"},
          "contactPoint": {"@type": "vcard:Contact", "fn": "Sở KH&CN", "hasEmail": "mailto:a@b.vn"},
          "accessLevel": "public",
          "license": "https://creativecommons.org/licenses/by/4.0/",
          "distribution": [{"downloadURL": "https://data.hanoi.gov.vn/a.csv", "mediaType": "text/csv", "byteSize": 1024}]
        },
        {"title": 42, "keyword": "one", "publisher": "Sở Tài chính", "distribution": {"accessURL": "https://x"}},
        "not an object"
      ]
    }"#;

    #[test]
    fn parses_records_in_order_leniently() {
        let (summary, all) = parse_datajson_all(SAMPLE.as_bytes()).unwrap();
        assert_eq!(summary.datasets, 3);
        assert_eq!(
            summary.conforms_to.as_deref(),
            Some("https://project-open-data.cio.gov/v1.1/schema")
        );
        let first = &all[0];
        assert_eq!(first.identifier.as_deref(), Some("hn-dan-cu-2024"));
        assert_eq!(
            first.title.as_deref(),
            Some("Dân cư theo phường <b>2024</b>")
        );
        assert_eq!(first.keywords, vec!["dân cư", "thống kê"]);
        assert_eq!(first.publisher.as_deref(), Some("UBND Thành phố Hà Nội"));
        assert_eq!(first.contact_point.as_deref(), Some("Sở KH&CN"));
        assert_eq!(first.distributions[0].byte_size, Some(1024));
        assert!(first.problems.is_empty());

        let second = &all[1];
        assert_eq!(second.title, None);
        assert_eq!(second.keywords, vec!["one"]);
        assert_eq!(second.publisher.as_deref(), Some("Sở Tài chính"));
        assert_eq!(
            second.distributions[0].access_url.as_deref(),
            Some("https://x")
        );
        assert_eq!(second.problems[0].field, "title");

        assert_eq!(all[2].problems[0].field, "dataset");
    }

    #[test]
    fn records_are_checked_against_the_pod_schema() {
        let (_, all) = parse_datajson_all(SAMPLE.as_bytes()).unwrap();
        let first = all[0].schema.as_ref().unwrap();
        assert_eq!(first.schema, "DCAT-US v1.1 (non-federal)");
        assert_eq!(first.errors, 0, "{:?}", first.first);
        let second = all[1].schema.as_ref().unwrap();
        // title is a number; keyword is not an array; no description, identifier, modified,
        // contactPoint, accessLevel; publisher is not an object; distribution not an array.
        assert!(second.errors >= 8, "{second:?}");
        let kept: Vec<(&str, &str)> = second
            .first
            .iter()
            .map(|i| (i.path.as_str(), i.message.as_str()))
            .collect();
        assert!(
            kept.contains(&("", "\"description\" is a required property")),
            "{kept:?}"
        );
        assert!(
            kept.iter().any(|(path, _)| *path == "/distribution"),
            "{kept:?}"
        );
        assert!(second.first.len() <= KEPT_SCHEMA_ERRORS);
    }

    #[test]
    fn a_bureau_code_selects_the_federal_schema() {
        let check = check_record(&serde_json::json!({"bureauCode": ["015:11"], "title": "x"}));
        assert_eq!(check.schema, "DCAT-US v1.1 (federal)");
        assert!(
            check
                .first
                .iter()
                .any(|i| i.message.contains("programCode")),
            "{check:?}"
        );
    }

    #[test]
    fn accepts_the_v1_0_bare_array() {
        let (summary, all) = parse_datajson_all(br#"[{"title":"a"},{"title":"b"}]"#).unwrap();
        assert_eq!(summary.datasets, 2);
        assert_eq!(all[1].title.as_deref(), Some("b"));
    }

    #[test]
    fn html_is_a_syntax_error_with_position() {
        let err = parse_datajson_all(b"<!DOCTYPE html><html></html>").unwrap_err();
        assert!(
            matches!(
                err,
                CatalogError::Syntax {
                    line: 1,
                    column: 1,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn truncation_is_told_apart() {
        let cut = &SAMPLE.as_bytes()[..SAMPLE.len() / 2];
        let err = parse_datajson_all(cut).unwrap_err();
        assert!(matches!(err, CatalogError::Truncated { .. }), "{err:?}");
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let mut bytes = br#"{"dataset":[{"title":""#.to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(br#""}]}"#);
        let err = parse_datajson_all(&bytes).unwrap_err();
        assert!(matches!(err, CatalogError::Syntax { .. }), "{err:?}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut s = String::from(r#"{"dataset":[{"title":"#);
        s.push_str(&"[".repeat(100_000));
        let err = parse_datajson_all(s.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("recursion"), "{err}");
    }

    #[test]
    fn wrong_shapes_are_errors() {
        assert!(matches!(
            parse_datajson_all(br#"{"title":"x"}"#),
            Err(CatalogError::Shape(_))
        ));
        assert!(matches!(
            parse_datajson_all(br#"{"dataset":{}}"#),
            Err(CatalogError::Shape(_))
        ));
        assert!(matches!(
            parse_datajson_all(b"42"),
            Err(CatalogError::Shape(_))
        ));
        assert!(matches!(
            parse_datajson_all(br#"{"dataset":[]} trailing"#),
            Err(CatalogError::Syntax { .. })
        ));
    }

    #[test]
    fn an_empty_catalog_parses() {
        let (summary, all) = parse_datajson_all(br#"{"dataset":[]}"#).unwrap();
        assert_eq!((summary.datasets, all.len()), (0, 0));
    }

    #[test]
    fn records_nested_near_the_recursion_limit_read_as_the_careful_path_reads_them() {
        // The careful path counts its limit from the document's root; records read in
        // place count from their own. Nesting in a skipped member, in `byteSize` and in
        // sub-organizations, on both sides of the limits.
        for depth in (super::super::records::MAX_DEPTH - 4)..=130 {
            let nest = |inner: &str| format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth));
            let orgs = format!(
                r#"{}{{"name":"o"}}{}"#,
                r#"{"name":"o","subOrganizationOf":"#.repeat(depth),
                "}".repeat(depth)
            );
            for record in [
                format!(r#"{{"title":"t","x":{}}}"#, nest("1")),
                format!(
                    r#"{{"title":"t","distribution":[{{"downloadURL":"https://x.vn/a","byteSize":{}}}]}}"#,
                    nest("\"7\"")
                ),
                format!(r#"{{"title":"t","publisher":{orgs}}}"#),
            ] {
                for doc in [
                    format!(r#"{{"dataset":[{record}]}}"#),
                    format!("[{record}]"),
                ] {
                    assert_eq!(either(doc.as_bytes()), careful(doc.as_bytes()), "{depth}");
                }
            }
        }
    }

    #[test]
    fn records_across_many_small_reads_read_as_one_read() {
        use crate::catalog::records::testing::Trickle;
        // A network body arrives in pieces: a record split anywhere is read again whole.
        let whole = parse_datajson_all(SAMPLE.as_bytes()).unwrap();
        for step in [1, 2, 7, 64, 1000] {
            let reader = Trickle {
                bytes: SAMPLE.as_bytes(),
                step,
            };
            let mut all = Vec::new();
            let mut records = pod::Reader::default();
            let summary = split_catalog(reader, |s| {
                all.push(read_record(s, &mut records)?);
                Ok(())
            })
            .unwrap();
            assert_eq!((summary, all), whole, "step {step}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_anywhere_are_named_as_the_careful_path_names_them() {
        use crate::catalog::records::testing::Trickle;
        let good = r#"{"title":"một","keyword":["k"],"x":{"y":"é"}}"#;
        let doc = format!(r#"{{"dataset":[{good},{good},{good}]}}"#);
        // A stray byte, a cut character and a bad lead byte, at every position.
        for bad in [&[0xff][..], &[0xe1, 0xbb], &[0xc0, 0x80]] {
            for at in 0..=doc.len() {
                if !doc.is_char_boundary(at) {
                    continue;
                }
                let mut bytes = doc.as_bytes()[..at].to_vec();
                bytes.extend_from_slice(bad);
                bytes.extend_from_slice(&doc.as_bytes()[at..]);
                let expected = careful(&bytes);
                assert_eq!(either(&bytes), expected, "{bad:?} at {at}");
                // Read in pieces, the character cut by a refill included: the fast path
                // gives up wherever the careful one fails.
                for step in [1, 2, 3] {
                    let reader = Trickle {
                        bytes: &bytes,
                        step,
                    };
                    let mut records = pod::Reader::default();
                    let fast = split_catalog(reader, |s| read_record(s, &mut records).map(|_| ()));
                    assert_eq!(
                        fast.is_ok(),
                        expected.is_ok(),
                        "{bad:?} at {at}, step {step}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_record_larger_than_the_read_buffer_is_read_as_the_careful_path_reads_it() {
        // A huge description (several refills of the splitter's buffer) in an ordinary
        // record, which the typed read takes in place, and in one it declines.
        let huge = "mô tả ".repeat(400_000);
        for record in [
            format!(r#"{{"title":"t","identifier":"a","description":"{huge}","keyword":["k"]}}"#),
            format!(r#"{{"title":42,"description":"{huge}"}}"#),
        ] {
            let doc =
                format!(r#"{{"dataset":[{{"title":"before"}},{record},{{"title":"after"}}]}}"#);
            // On the fast path itself: giving up would hide behind the careful path.
            let (mut records, mut all) = (pod::Reader::default(), Vec::new());
            let summary = split_catalog(doc.as_bytes(), |s| {
                all.push(read_record(s, &mut records)?);
                Ok(())
            });
            assert_eq!(Ok((summary.unwrap(), all)), careful(doc.as_bytes()));
        }
    }

    /// The careful path alone, as the fast one must behave.
    fn careful(bytes: &[u8]) -> Result<(CatalogSummary, Vec<Dataset>), String> {
        let mut all = Vec::new();
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let summary = CatalogSeed {
            each: |d| all.push(d),
            skip: 0,
        }
        .deserialize(&mut de)
        .and_then(|s| de.end().map(|()| s))
        .map_err(|e| CatalogError::from(e).to_string())?;
        Ok((summary, all))
    }

    fn either(bytes: &[u8]) -> Result<(CatalogSummary, Vec<Dataset>), String> {
        parse_datajson_all(bytes).map_err(|e| e.to_string())
    }

    #[test]
    fn a_well_formed_catalog_takes_the_fast_path() {
        let mut records = 0;
        let (mut reader, mut typed) = (pod::Reader::default(), 0);
        let summary = split_catalog(SAMPLE.as_bytes(), |s| {
            // The ordinary record is read in place; the odd ones are cut out for the
            // lenient mapping.
            match s.parse(|rest| reader.read(rest))? {
                Some(_) => typed += 1,
                None => _ = s.value()?,
            }
            records += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((summary.datasets, records, typed), (3, 3, 1));
        assert_eq!(
            summary.conforms_to.as_deref(),
            Some("https://project-open-data.cio.gov/v1.1/schema")
        );
    }

    #[test]
    fn a_broken_record_after_good_ones_is_named_once_and_the_good_ones_kept() {
        let text = r#"{"dataset":[{"title":"a"},{"title":"b"},{"title":"c",}]}"#;
        let mut titles = Vec::new();
        let err = parse_datajson(std::io::Cursor::new(text), |d| titles.push(d.title))
            .unwrap_err()
            .to_string();
        // Each record reaches the sink once, though the document was read twice.
        assert_eq!(titles, [Some("a".to_string()), Some("b".to_string())]);
        assert_eq!(Err(err), careful(text.as_bytes()).map(|_| ()));
    }

    mod agreement {
        use super::*;
        use proptest::prelude::*;

        /// Strings that stress the splitter: quotes, escapes, brackets and non-ASCII.
        fn text() -> impl Strategy<Value = String> {
            proptest::string::string_regex(r#"([a-zđữ \]\[{}:,]|\\"|\\\\|\\u00e9){0,12}"#)
                .expect("a valid regex")
        }

        fn record() -> impl Strategy<Value = String> {
            (text(), text(), proptest::collection::vec(text(), 0..3), any::<u16>()).prop_map(
                |(id, title, keywords, n)| {
                    let keywords: Vec<String> =
                        keywords.iter().map(|k| format!("\"{k}\"")).collect();
                    format!(
                        r#"{{"identifier":"{id}","title":"{title}","keyword":[{}],"byteSize":{n},"distribution":[{{"downloadURL":"https://x.vn/{n}.csv","mediaType":"text/csv"}}]}}"#,
                        keywords.join(",")
                    )
                },
            )
        }

        fn catalog() -> impl Strategy<Value = String> {
            (proptest::collection::vec(record(), 0..6), any::<bool>(), text()).prop_map(
                |(records, bare, extra)| {
                    let list = format!("[\n  {}\n]", records.join(",\n  "));
                    if bare {
                        list
                    } else {
                        format!(r#"{{ "conformsTo": "{extra}", "other": {{"k": [1, "{extra}"]}}, "dataset": {list} }}"#)
                    }
                },
            )
        }

        proptest! {
            #[test]
            fn well_formed_catalogs_read_the_same_both_ways(doc in catalog()) {
                prop_assert!(split_catalog(doc.as_bytes(), |s| s.value().map(|_| ())).is_ok());
                prop_assert_eq!(either(doc.as_bytes()), careful(doc.as_bytes()));
            }

            #[test]
            fn damaged_catalogs_read_the_same_both_ways(
                doc in catalog(),
                at in any::<prop::sample::Index>(),
                byte in prop::sample::select(b"{}[]\",:\\ x1".to_vec()),
                cut in any::<bool>(),
            ) {
                let mut bytes = doc.into_bytes();
                let i = at.index(bytes.len() + 1);
                if cut {
                    bytes.truncate(i);
                } else {
                    bytes.insert(i, byte);
                }
                prop_assert_eq!(either(&bytes), careful(&bytes));
            }
        }
    }
}
