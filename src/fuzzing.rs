//! The fuzz targets: every parser of third-party input, and the configuration loaders, as
//! functions of arbitrary bytes that must return (an error is fine) and never panic, hang
//! or run away with memory.
//!
//! One list serves both ways of running them: cargo-fuzz's targets in `fuzz/` call
//! [`run`] by name for long runs, and `tests/fuzz.rs` replays each target's seeds (the
//! test fixtures, see [`Target::seeds`]) and a bounded, seeded run of mutations of them on
//! every `cargo test`.

use std::io::Cursor;
use std::path::Path;

use crate::catalog::rdf::{RdfSyntax, parse_dcat};
use crate::catalog::{ckan, parse_datajson, table};

/// A fuzz target: a name, the function, and where its seeds are.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    /// Seed files: paths relative to the repository, by directory and extension.
    pub seeds: &'static [(&'static str, &'static str)],
}

/// The base IRI relative references in fuzzed RDF resolve against.
const BASE: &str = "http://fuzz.invalid/catalog";

fn dcat(syntax: RdfSyntax, bytes: &[u8]) {
    let _ = parse_dcat(syntax, bytes, Some(BASE), |_| {});
}

fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// A configuration file's path that does not exist, so files it names cannot be read.
fn nowhere() -> &'static Path {
    Path::new("/nonexistent/dtindex-fuzz/dtindex.toml")
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "datajson",
        run: |b| {
            let _ = parse_datajson(std::io::Cursor::new(b), |_| {});
        },
        seeds: &[("tests/fixtures/datajson", "json")],
    },
    Target {
        name: "dcat_turtle",
        run: |b| dcat(RdfSyntax::Turtle, b),
        seeds: &[("tests/fixtures/dcat", "ttl")],
    },
    Target {
        name: "dcat_rdfxml",
        run: |b| dcat(RdfSyntax::RdfXml, b),
        seeds: &[("tests/fixtures/dcat", "rdf")],
    },
    Target {
        name: "dcat_jsonld",
        run: |b| dcat(RdfSyntax::JsonLd, b),
        seeds: &[("tests/fixtures/dcat", "jsonld")],
    },
    Target {
        name: "ckan",
        run: |b| {
            let _ = ckan::parse_package_search(b, |_| {});
            let _ = ckan::parse_package_show(b);
            let _ = ckan::parse_organization_list(b);
        },
        seeds: &[("tests/fixtures/ckan", "json")],
    },
    Target {
        name: "csv",
        run: |b| {
            let _ = table::parse_csv(b, |_| {});
        },
        seeds: &[("tests/fixtures/csv", "csv")],
    },
    Target {
        name: "xlsx",
        run: |b| {
            let _ = table::parse_xlsx(Cursor::new(b), |_| {});
        },
        seeds: &[("tests/fixtures/csv", "xlsx")],
    },
    Target {
        name: "sniff",
        run: |b| {
            let _ = crate::harvest::detect(
                crate::registry::CatalogFormat::Auto,
                Some("application/octet-stream"),
                b,
                "/catalog",
            );
        },
        seeds: &[
            ("tests/fixtures/datajson", "json"),
            ("tests/fixtures/dcat", "ttl"),
            ("tests/fixtures/csv", "csv"),
        ],
    },
    Target {
        name: "declaration",
        run: |b| {
            let _ = crate::declaration::parse(b);
        },
        seeds: &[("tests/fixtures/declaration", "json")],
    },
    Target {
        name: "config",
        run: |b| {
            let source = text(b);
            let _ = crate::config::Settings::parse(nowhere(), &source);
            let _ = crate::registry::Registry::parse(nowhere(), &source);
            let _ = crate::score::Method::parse(nowhere(), &source);
        },
        seeds: &[("config", "toml")],
    },
];

/// Runs the target called `name` on `bytes`; for cargo-fuzz's targets.
pub fn run(name: &str, bytes: &[u8]) {
    if let Some(t) = TARGETS.iter().find(|t| t.name == name) {
        (t.run)(bytes);
    }
}
