//! DCAT and DCAT-AP catalogs in RDF: Turtle, RDF/XML and JSON-LD.
//!
//! The maintained oxigraph parsers (oxttl, oxrdfxml, oxjsonld) turn the document into
//! triples; this module groups them by subject and reads each `dcat:Dataset` (and
//! `dcat:DatasetSeries`) into the normalized [`Dataset`]. RDF says nothing about the order
//! of statements, so the whole document's triples are held (the body is capped before it
//! gets here), in a compact map from subject to its statements, not a triple store.
//!
//! Text in several languages is read preferring Vietnamese, then English, then untagged,
//! then whatever there is. JSON-LD remote contexts are never fetched: a catalog that names
//! one is refused with a message asking the publisher to inline it (fetching would let a
//! catalog make dtindex call arbitrary addresses).

use std::collections::{HashMap, HashSet};
use std::io::Read;

use oxrdf::{NamedOrBlankNode, Term};

use super::{CatalogError, CatalogSummary, Dataset, Distribution, FieldProblem};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdfSyntax {
    JsonLd,
    Turtle,
    RdfXml,
}

impl RdfSyntax {
    fn name(self) -> &'static str {
        match self {
            RdfSyntax::JsonLd => "JSON-LD",
            RdfSyntax::Turtle => "Turtle",
            RdfSyntax::RdfXml => "RDF/XML",
        }
    }
}

const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const FOAF_NAME: &str = "http://xmlns.com/foaf/0.1/name";
const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
const SKOS_PREF_LABEL: &str = "http://www.w3.org/2004/02/skos/core#prefLabel";
const RDFS_LABEL: &str = "http://www.w3.org/2000/01/rdf-schema#label";
const SCHEMA: &str = "http://schema.org/";
const HYDRA: &str = "http://www.w3.org/ns/hydra/core#";

/// An object of a statement, owned and compact.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Obj {
    Iri(String),
    Blank(String),
    Literal { value: String, lang: Option<String> },
}

/// A node's key: `<iri>` or `_:id`, so IRIs and blank nodes never collide.
fn key_of_subject(s: &NamedOrBlankNode) -> String {
    match s {
        NamedOrBlankNode::NamedNode(n) => format!("<{}>", n.as_str()),
        NamedOrBlankNode::BlankNode(b) => format!("_:{}", b.as_str()),
    }
}

impl Obj {
    fn from_term(t: Term) -> Option<Obj> {
        match t {
            Term::NamedNode(n) => Some(Obj::Iri(n.into_string())),
            Term::BlankNode(b) => Some(Obj::Blank(b.into_string())),
            Term::Literal(l) => {
                let lang = l.language().map(str::to_ascii_lowercase);
                Some(Obj::Literal {
                    value: l.value().to_string(),
                    lang,
                })
            }
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The node this object names, if it is one.
    fn node_key(&self) -> Option<String> {
        match self {
            Obj::Iri(i) => Some(format!("<{i}>")),
            Obj::Blank(b) => Some(format!("_:{b}")),
            Obj::Literal { .. } => None,
        }
    }
}

/// Statements grouped by subject, in order of first appearance.
#[derive(Default)]
struct Graph {
    by_subject: HashMap<String, Vec<(String, Obj)>>,
    order: Vec<String>,
}

impl Graph {
    fn add(&mut self, subject: String, predicate: String, object: Obj) {
        let entry = self.by_subject.entry(subject.clone()).or_insert_with(|| {
            self.order.push(subject);
            Vec::new()
        });
        entry.push((predicate, object));
    }

    fn values<'a>(&'a self, node: &str, predicate: &'a str) -> impl Iterator<Item = &'a Obj> + 'a {
        self.by_subject
            .get(node)
            .into_iter()
            .flatten()
            .filter(move |(p, _)| p == predicate)
            .map(|(_, o)| o)
    }

    fn has_type(&self, node: &str, class: &str) -> bool {
        self.values(node, RDF_TYPE)
            .any(|o| *o == Obj::Iri(class.to_string()))
    }

    /// The best literal among a node's values for `predicate`: vi, en, untagged, any.
    fn text(&self, node: &str, predicate: &str) -> Option<String> {
        let literals: Vec<(&str, Option<&str>)> = self
            .values(node, predicate)
            .filter_map(|o| match o {
                Obj::Literal { value, lang } => Some((value.as_str(), lang.as_deref())),
                _ => None,
            })
            .collect();
        let pick = |want: Option<&str>| {
            literals
                .iter()
                .find(|(_, l)| match (want, l) {
                    (Some(w), Some(l)) => l.split('-').next() == Some(w),
                    (None, None) => true,
                    _ => false,
                })
                .map(|(v, _)| v.trim().to_string())
        };
        pick(Some("vi"))
            .or_else(|| pick(Some("en")))
            .or_else(|| pick(None))
            .or_else(|| literals.first().map(|(v, _)| v.trim().to_string()))
            .filter(|v| !v.is_empty())
    }

    /// A value that may be a literal, an IRI, or a node with a name or label.
    fn label(&self, node: &str, predicate: &str) -> Option<String> {
        if let Some(text) = self.text(node, predicate) {
            return Some(text);
        }
        let target = self.values(node, predicate).next()?;
        let key = target.node_key()?;
        [
            FOAF_NAME,
            SKOS_PREF_LABEL,
            RDFS_LABEL,
            &format!("{VCARD}fn"),
        ]
        .iter()
        .find_map(|p| self.text(&key, p))
        .or(match target {
            Obj::Iri(i) => Some(i.clone()),
            _ => None,
        })
    }

    fn iri(&self, node: &str, predicate: &str) -> Option<String> {
        self.values(node, predicate).find_map(|o| match o {
            Obj::Iri(i) => Some(i.clone()),
            Obj::Literal { value, .. } if !value.trim().is_empty() => {
                Some(value.trim().to_string())
            }
            _ => None,
        })
    }
}

/// Parses a DCAT catalog document, calling `each` for every `dcat:Dataset` and
/// `dcat:DatasetSeries` in order of first appearance.
pub fn parse_dcat<R: Read>(
    syntax: RdfSyntax,
    reader: R,
    base_iri: Option<&str>,
    mut each: impl FnMut(Dataset),
) -> Result<CatalogSummary, CatalogError> {
    let graph = read_graph(syntax, reader, base_iri)?;
    let dataset_class = format!("{DCAT}Dataset");
    let series_class = format!("{DCAT}DatasetSeries");
    let catalog_class = format!("{DCAT}Catalog");
    let linked: HashSet<String> = graph
        .order
        .iter()
        .flat_map(|s| {
            graph
                .values(s, &format!("{DCAT}dataset"))
                .filter_map(Obj::node_key)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut summary = CatalogSummary::default();
    for node in &graph.order {
        if graph.has_type(node, &catalog_class) && summary.conforms_to.is_none() {
            summary.conforms_to = graph.iri(node, &format!("{DCT}conformsTo"));
        }
        if summary.next_page.is_none() {
            summary.next_page = graph
                .iri(node, &format!("{HYDRA}next"))
                .or_else(|| graph.iri(node, &format!("{HYDRA}nextPage")));
        }
        let is_dataset = graph.has_type(node, &dataset_class)
            || graph.has_type(node, &series_class)
            || linked.contains(node);
        if is_dataset {
            summary.datasets += 1;
            each(dataset_of(&graph, node));
        }
    }
    Ok(summary)
}

fn read_graph<R: Read>(
    syntax: RdfSyntax,
    reader: R,
    base_iri: Option<&str>,
) -> Result<Graph, CatalogError> {
    let format = syntax.name();
    let bad_base = |e: oxrdf::IriParseError| CatalogError::Format {
        format,
        message: format!("the base IRI is not valid: {e}"),
    };
    let fail = |message: String| CatalogError::Format { format, message };
    let mut graph = Graph::default();
    let mut add = |s: NamedOrBlankNode, p: oxrdf::NamedNode, o: Term| {
        if let Some(o) = Obj::from_term(o) {
            graph.add(key_of_subject(&s), p.into_string(), o);
        }
    };
    match syntax {
        RdfSyntax::Turtle => {
            let mut parser = oxttl::TurtleParser::new();
            if let Some(base) = base_iri {
                parser = parser.with_base_iri(base).map_err(bad_base)?;
            }
            for triple in parser.for_reader(reader) {
                let t = triple.map_err(|e| fail(e.to_string()))?;
                add(t.subject, t.predicate, t.object);
            }
        }
        RdfSyntax::RdfXml => {
            let mut parser = oxrdfxml::RdfXmlParser::new();
            if let Some(base) = base_iri {
                parser = parser.with_base_iri(base).map_err(bad_base)?;
            }
            for triple in parser.for_reader(reader) {
                let t = triple.map_err(|e| fail(e.to_string()))?;
                add(t.subject, t.predicate, t.object);
            }
        }
        RdfSyntax::JsonLd => {
            let mut parser = oxjsonld::JsonLdParser::new();
            if let Some(base) = base_iri {
                parser = parser.with_base_iri(base).map_err(bad_base)?;
            }
            for quad in parser.for_reader(reader) {
                let q = quad.map_err(|e| {
                    let text = e.to_string();
                    if text.contains("load") || text.contains("remote") {
                        fail(format!(
                            "{text}; the catalog names a remote @context, which dtindex does not fetch: inline the context in the document"
                        ))
                    } else {
                        fail(text)
                    }
                })?;
                add(q.subject, q.predicate, q.object);
            }
        }
    }
    Ok(graph)
}

/// Reduces well-known vocabulary IRIs to their short form: IANA media types to `text/csv`,
/// EU file types to `CSV`.
fn short_form(value: String) -> String {
    for prefix in [
        "http://www.iana.org/assignments/media-types/",
        "https://www.iana.org/assignments/media-types/",
        "http://publications.europa.eu/resource/authority/file-type/",
    ] {
        if let Some(rest) = value.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    value
}

fn dataset_of(graph: &Graph, node: &str) -> Dataset {
    let dct = |p: &str| format!("{DCT}{p}");
    let dcat = |p: &str| format!("{DCAT}{p}");
    let mut problems = Vec::new();
    let identifier = graph.text(node, &dct("identifier")).or_else(|| {
        graph.iri(node, &dct("identifier")).or_else(|| {
            node.strip_prefix('<')
                .and_then(|n| n.strip_suffix('>'))
                .map(str::to_string)
        })
    });
    let title = graph.text(node, &dct("title"));
    if title.is_none() && graph.values(node, &dct("title")).next().is_some() {
        problems.push(FieldProblem {
            field: "dct:title".into(),
            message: "is not a literal".into(),
        });
    }
    let mut keywords: Vec<String> = Vec::new();
    for o in graph.values(node, &dcat("keyword")) {
        if let Obj::Literal { value, .. } = o {
            let v = value.trim().to_string();
            if !v.is_empty() && !keywords.contains(&v) {
                keywords.push(v);
            }
        }
    }
    let themes: Vec<String> = graph
        .values(node, &dcat("theme"))
        .filter_map(|o| match o {
            Obj::Iri(i) => Some(i.clone()),
            Obj::Literal { value, .. } if !value.trim().is_empty() => {
                Some(value.trim().to_string())
            }
            Obj::Blank(b) => graph.text(&format!("_:{b}"), SKOS_PREF_LABEL),
            _ => None,
        })
        .collect();
    let temporal = graph.values(node, &dct("temporal")).find_map(|o| match o {
        Obj::Literal { value, .. } => Some(value.clone()),
        other => {
            let key = other.node_key()?;
            let start = graph
                .text(&key, &dcat("startDate"))
                .or_else(|| graph.text(&key, &format!("{SCHEMA}startDate")));
            let end = graph
                .text(&key, &dcat("endDate"))
                .or_else(|| graph.text(&key, &format!("{SCHEMA}endDate")));
            (start.is_some() || end.is_some())
                .then(|| format!("{}/{}", start.unwrap_or_default(), end.unwrap_or_default()))
        }
    });
    let distributions: Vec<(Distribution, Option<String>)> = graph
        .values(node, &dcat("distribution"))
        .filter_map(Obj::node_key)
        .map(|d| distribution_of(graph, &d, &mut problems))
        .collect();
    let license = graph
        .iri(node, &dct("license"))
        .or_else(|| distributions.iter().find_map(|(_, l)| l.clone()));
    Dataset {
        identifier,
        title,
        description: graph.text(node, &dct("description")),
        publisher: graph.label(node, &dct("publisher")),
        contact_point: graph
            .values(node, &dcat("contactPoint"))
            .filter_map(Obj::node_key)
            .find_map(|c| {
                graph
                    .text(&c, &format!("{VCARD}fn"))
                    .or_else(|| graph.iri(&c, &format!("{VCARD}hasEmail")))
            }),
        keywords,
        themes,
        spatial: graph.label(node, &dct("spatial")),
        temporal,
        issued: graph.text(node, &dct("issued")),
        modified: graph.text(node, &dct("modified")),
        accrual_periodicity: graph.iri(node, &dct("accrualPeriodicity")),
        license,
        access_level: graph.iri(node, &dct("accessRights")),
        rights: graph.label(node, &dct("rights")),
        distributions: distributions.into_iter().map(|(d, _)| d).collect(),
        problems,
        ..Dataset::default()
    }
}

/// A distribution, and its license (DCAT-AP puts licenses there).
fn distribution_of(
    graph: &Graph,
    node: &str,
    problems: &mut Vec<FieldProblem>,
) -> (Distribution, Option<String>) {
    let byte_size = graph
        .values(node, &format!("{DCAT}byteSize"))
        .find_map(|o| match o {
            Obj::Literal { value, .. } => match value.trim().parse::<f64>() {
                Ok(n) if n >= 0.0 && n.is_finite() => Some(n as u64),
                _ => {
                    problems.push(FieldProblem {
                        field: "dcat:byteSize".into(),
                        message: format!("`{value}` is not a number of bytes"),
                    });
                    None
                }
            },
            _ => None,
        });
    let dist = Distribution {
        access_url: graph.iri(node, &format!("{DCAT}accessURL")),
        download_url: graph.iri(node, &format!("{DCAT}downloadURL")),
        media_type: graph.iri(node, &format!("{DCAT}mediaType")).map(short_form),
        format: graph.label(node, &format!("{DCT}format")).map(short_form),
        byte_size,
    };
    (dist, graph.iri(node, &format!("{DCT}license")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(syntax: RdfSyntax, text: &str) -> (CatalogSummary, Vec<Dataset>) {
        let mut all = Vec::new();
        let summary = parse_dcat(
            syntax,
            text.as_bytes(),
            Some("http://example.gov.vn/catalog"),
            |d| all.push(d),
        )
        .unwrap();
        (summary, all)
    }

    const TURTLE: &str = r#"
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix vcard: <http://www.w3.org/2006/vcard/ns#> .
@prefix hydra: <http://www.w3.org/ns/hydra/core#> .

<#catalog> a dcat:Catalog ; dct:conformsTo <https://semiceu.github.io/DCAT-AP/> ;
  dcat:dataset <#ds1>, <#ds2> .
<> hydra:next <?page=2> .
<#ds1> a dcat:Dataset ;
  dct:identifier "ds-1" ;
  dct:title "Population"@en, "Dân cư"@vi, "Bevölkerung"@de ;
  dct:description "Số dân"@vi ;
  dcat:keyword "dân cư"@vi, "population"@en, "dân cư"@vi ;
  dcat:theme <http://publications.europa.eu/resource/authority/data-theme/SOCI> ;
  dct:publisher [ a foaf:Agent ; foaf:name "UBND Hà Nội" ] ;
  dcat:contactPoint [ vcard:fn "Phòng dữ liệu" ] ;
  dct:temporal [ dcat:startDate "2020-01-01" ; dcat:endDate "2024-12-31" ] ;
  dct:modified "2026-01-01" ;
  dcat:distribution [ a dcat:Distribution ;
     dcat:downloadURL <https://data.hanoi.gov.vn/a.csv> ;
     dcat:mediaType <http://www.iana.org/assignments/media-types/text/csv> ;
     dct:format <http://publications.europa.eu/resource/authority/file-type/CSV> ;
     dct:license <https://creativecommons.org/licenses/by/4.0/> ;
     dcat:byteSize "2048" ] .
<#ds2> dct:title "Only linked, never typed" ;
  dcat:distribution [ dcat:accessURL <https://x> ; dcat:byteSize "many" ] .
"#;

    #[test]
    fn turtle_datasets_are_read_with_language_preference() {
        let (summary, all) = read(RdfSyntax::Turtle, TURTLE);
        assert_eq!(summary.datasets, 2);
        assert_eq!(
            summary.conforms_to.as_deref(),
            Some("https://semiceu.github.io/DCAT-AP/")
        );
        assert_eq!(
            summary.next_page.as_deref(),
            Some("http://example.gov.vn/catalog?page=2")
        );
        let ds = &all[0];
        assert_eq!(ds.identifier.as_deref(), Some("ds-1"));
        assert_eq!(ds.title.as_deref(), Some("Dân cư"));
        assert_eq!(ds.keywords, vec!["dân cư", "population"]);
        assert_eq!(ds.publisher.as_deref(), Some("UBND Hà Nội"));
        assert_eq!(ds.contact_point.as_deref(), Some("Phòng dữ liệu"));
        assert_eq!(ds.temporal.as_deref(), Some("2020-01-01/2024-12-31"));
        assert_eq!(
            ds.license.as_deref(),
            Some("https://creativecommons.org/licenses/by/4.0/")
        );
        let d = &ds.distributions[0];
        assert_eq!(d.media_type.as_deref(), Some("text/csv"));
        assert_eq!(d.format.as_deref(), Some("CSV"));
        assert_eq!(d.byte_size, Some(2048));
        let linked = &all[1];
        assert_eq!(
            linked.identifier.as_deref(),
            Some("http://example.gov.vn/catalog#ds2")
        );
        assert_eq!(linked.problems[0].field, "dcat:byteSize");
    }

    #[test]
    fn json_ld_with_and_without_graph() {
        let with_graph = r#"{"@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"},
          "@graph": [{"@id": "http://x/ds1", "@type": "dcat:Dataset", "dct:title": {"@value": "Đất đai", "@language": "vi"}},
                     {"@id": "http://x/ds2", "@type": "dcat:Dataset", "dct:title": "Hộ tịch"}]}"#;
        let (summary, all) = read(RdfSyntax::JsonLd, with_graph);
        assert_eq!(summary.datasets, 2);
        assert_eq!(all[0].title.as_deref(), Some("Đất đai"));
        let without = r#"{"@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"},
          "@id": "http://x/ds1", "@type": "dcat:Dataset", "dct:title": "Doanh nghiệp", "dcat:keyword": ["a", "b"]}"#;
        let (summary, all) = read(RdfSyntax::JsonLd, without);
        assert_eq!(summary.datasets, 1);
        assert_eq!(all[0].keywords, vec!["a", "b"]);
    }

    #[test]
    fn rdf_xml_is_read() {
        let xml = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:dcat="http://www.w3.org/ns/dcat#" xmlns:dct="http://purl.org/dc/terms/">
  <dcat:Catalog rdf:about="http://x/catalog">
    <dcat:dataset>
      <dcat:Dataset rdf:about="http://x/ds1">
        <dct:title xml:lang="vi">Giáo dục</dct:title>
        <dcat:keyword>trường học</dcat:keyword>
      </dcat:Dataset>
    </dcat:dataset>
  </dcat:Catalog>
</rdf:RDF>"#;
        let (summary, all) = read(RdfSyntax::RdfXml, xml);
        assert_eq!(summary.datasets, 1);
        assert_eq!(all[0].title.as_deref(), Some("Giáo dục"));
        assert_eq!(all[0].keywords, vec!["trường học"]);
    }

    #[test]
    fn syntax_errors_name_the_position_and_remote_contexts_are_refused() {
        let err = parse_dcat(
            RdfSyntax::Turtle,
            "@prefix dcat: <http://www.w3.org/ns/dcat#> .\n<a> dcat:x ".as_bytes(),
            Some("http://x/"),
            |_| {},
        )
        .unwrap_err();
        match err {
            CatalogError::Format {
                format: "Turtle",
                message,
            } => assert!(message.contains('2'), "{message}"),
            other => panic!("{other:?}"),
        }
        let remote = r#"{"@context": "https://example.org/context.jsonld", "@id": "http://x/a", "title": "t"}"#;
        let err = parse_dcat(RdfSyntax::JsonLd, remote.as_bytes(), None, |_| {}).unwrap_err();
        assert!(
            matches!(
                err,
                CatalogError::Format {
                    format: "JSON-LD",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_document_without_datasets_is_empty_not_an_error() {
        let (summary, all) = read(RdfSyntax::Turtle, "<http://x/a> <http://x/b> \"c\" .");
        assert_eq!((summary.datasets, all.len()), (0, 0));
    }
}
