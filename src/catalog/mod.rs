//! The normalized catalog model and the parsers that produce it, one module per format:
//! [`datajson`] (DCAT-US), [`rdf`] (DCAT/DCAT-AP in JSON-LD, Turtle, RDF/XML), [`ckan`]
//! (the CKAN Action API) and [`table`] (CSV and XLSX lists of databases).
//!
//! Every catalog format an agency may publish is read into the same [`Dataset`] so that
//! scoring never cares where a record came from. Parsing is pure: it takes bytes (any
//! [`std::io::Read`]) and hands back datasets one at a time, so a catalog of a million
//! records is never held whole in memory as a JSON tree.
//!
//! Third-party catalogs are hostile by default. A parser never panics on input; a record
//! whose fields have the wrong types still yields a [`Dataset`] (with the bad fields left
//! empty and noted in [`Dataset::problems`]), and only a document that cannot be read at
//! all is a [`CatalogError`].

use serde::Serialize;

pub mod ckan;
pub mod datajson;
pub mod national;
mod pod;
pub mod rdf;
mod records;
pub mod table;

pub use datajson::{parse_datajson, parse_datajson_all};

/// One dataset (in Decree 47 terms, possibly a database) as published in a catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Hash)]
pub struct Dataset {
    pub identifier: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub publisher: Option<String>,
    pub contact_point: Option<String>,
    pub keywords: Vec<String>,
    pub themes: Vec<String>,
    pub spatial: Option<String>,
    pub temporal: Option<String>,
    pub issued: Option<String>,
    pub modified: Option<String>,
    pub accrual_periodicity: Option<String>,
    pub license: Option<String>,
    pub access_level: Option<String>,
    pub rights: Option<String>,
    pub distributions: Vec<Distribution>,
    /// Decree 47/2020 database fields, where the catalog gives them.
    pub database: DatabaseInfo,
    /// Fields present but unusable (wrong type, empty), for the record's findings.
    pub problems: Vec<FieldProblem>,
    /// The record checked against its format's schema, where the format has one.
    pub schema: Option<SchemaCheck>,
}

/// How a record fared against its format's schema: every error counted, the first few kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Hash)]
pub struct SchemaCheck {
    /// The schema's name, e.g. `DCAT-US v1.1 (non-federal)`.
    pub schema: &'static str,
    pub errors: usize,
    pub first: Vec<SchemaIssue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Hash)]
pub struct SchemaIssue {
    /// JSON Pointer into the record, e.g. `/contactPoint/hasEmail`.
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Hash)]
pub struct Distribution {
    pub access_url: Option<String>,
    pub download_url: Option<String>,
    pub media_type: Option<String>,
    pub format: Option<String>,
    pub byte_size: Option<u64>,
}

/// What Decree 47/2020 asks an agency to declare about each database it manages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Hash)]
pub struct DatabaseInfo {
    /// national, specialised (chuyên ngành) or shared; as written in the catalog.
    pub kind: Option<String>,
    /// The agency that owns (manages) the database.
    pub owner: Option<String>,
    /// Where the database is on its roadmap (planned, building, in operation…).
    pub roadmap_status: Option<String>,
    /// When the roadmap says it will be in operation (ISO 8601 date, or a year).
    pub roadmap_target: Option<String>,
    /// Shared through LGSP/NDXP, as written in the catalog.
    pub shared_via: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Hash)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl Dataset {
    /// The name a finding uses for this record: its identifier, else its title.
    pub fn subject(&self) -> String {
        self.identifier
            .clone()
            .or_else(|| self.title.clone())
            .unwrap_or_else(|| "(a dataset with neither identifier nor title)".to_string())
    }
}

/// What a parse saw of the catalog as a whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CatalogSummary {
    /// `conformsTo` of a data.json, when given.
    pub conforms_to: Option<String>,
    pub datasets: usize,
    /// The next page of a paged catalog (`hydra:next`), if it names one.
    pub next_page: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CatalogError {
    #[error("the catalog is not valid JSON at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the catalog ends before its JSON is complete (line {line}, column {column})")]
    Truncated { line: usize, column: usize },
    #[error("the catalog does not have the expected shape: {0}")]
    Shape(String),
    #[error("the catalog could not be read: {0}")]
    Io(String),
    /// A format-specific failure (RDF syntax, a spreadsheet that will not open…).
    #[error("the {format} catalog could not be read: {message}")]
    Format {
        format: &'static str,
        message: String,
    },
}

impl From<serde_json::Error> for CatalogError {
    fn from(e: serde_json::Error) -> Self {
        use serde_json::error::Category;
        let (line, column) = (e.line(), e.column());
        match e.classify() {
            Category::Eof => CatalogError::Truncated { line, column },
            Category::Io => CatalogError::Io(e.to_string()),
            Category::Syntax => CatalogError::Syntax {
                line,
                column,
                message: strip_position(&e.to_string()),
            },
            // Errors raised by our own visitors describe the catalog's shape.
            Category::Data => CatalogError::Shape(strip_position(&e.to_string())),
        }
    }
}

/// serde_json appends " at line L column C"; the variants carry those separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
