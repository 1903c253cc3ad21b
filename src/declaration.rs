//! The declaration: an agency's own statement of the plans it has issued and the services
//! it runs (`declaration.json`, published at the agency's `declaration_url`), in the spirit
//! of the US `digitalstrategy.json`. Its format is defined in `docs/methodology.md`.
//!
//! A declaration is a claim. Parsing here is pure; the crawl then checks what can be
//! checked — that a cited document's URL resolves, that a declared platform or service
//! answers — and scoring gives a claim it could not verify only part of the points.

use serde::{Deserialize, Serialize};

/// The kinds of document the national plan asks agencies to issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// The decision publishing the catalog of databases and their roadmap (Decree 47).
    DatabaseCatalog,
    /// The open-data plan (T2).
    OpenDataPlan,
    /// The plan to deploy an aggregated data-analysis platform (T3).
    AnalyticsPlan,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub kind: DocumentKind,
    /// The document's number, e.g. `123/QĐ-UBND`.
    #[serde(default)]
    pub number: Option<String>,
    /// When it was issued (ISO 8601 date).
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// Where the document can be read; what makes the claim checkable.
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    pub deployed: bool,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredService {
    pub url: String,
    /// `LGSP` or `NDXP`.
    #[serde(default)]
    pub platform: Option<String>,
    /// Where the service's OpenAPI/Swagger or WSDL description is published.
    #[serde(default)]
    pub api_description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    /// The agency's code in the registry, to catch a declaration published for another.
    #[serde(default)]
    pub agency: Option<String>,
    /// When the declaration was last brought up to date.
    #[serde(default)]
    pub updated: Option<String>,
    #[serde(default)]
    pub documents: Vec<Document>,
    #[serde(default)]
    pub analytics_platform: Option<Platform>,
    #[serde(default)]
    pub services: Vec<DeclaredService>,
}

/// Reads a declaration; the error says where and what is wrong.
pub fn parse(bytes: &[u8]) -> Result<Declaration, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("the declaration is not valid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let text = r#"{
          "agency": "01",
          "updated": "2026-10-01",
          "documents": [
            {"kind": "open_data_plan", "number": "45/KH-UBND", "date": "2023-06-01",
             "url": "https://hanoi.gov.vn/vb/45-kh-ubnd.pdf"},
            {"kind": "analytics_plan", "number": "78/KH-UBND", "date": "2023-09-15"}
          ],
          "analytics_platform": {"deployed": true, "url": "https://phantich.hanoi.gov.vn/"},
          "services": [{"url": "https://lgsp.hanoi.gov.vn/dan-cu", "platform": "LGSP",
                        "api_description": "https://lgsp.hanoi.gov.vn/dan-cu/openapi.json"}]
        }"#;
        let d = parse(text.as_bytes()).unwrap();
        assert_eq!(d.documents.len(), 2);
        assert_eq!(d.documents[0].kind, DocumentKind::OpenDataPlan);
        assert_eq!(d.documents[1].url, None);
        assert!(d.analytics_platform.unwrap().deployed);
        assert_eq!(d.services[0].platform.as_deref(), Some("LGSP"));
    }

    #[test]
    fn mistakes_are_named() {
        let err = parse(br#"{"documents": [{"kind": "budget"}]}"#).unwrap_err();
        assert!(err.contains("unknown variant `budget`"), "{err}");
        let err = parse(br#"{"service": []}"#).unwrap_err();
        assert!(err.contains("unknown field `service`"), "{err}");
        assert!(parse(b"<html>").is_err());
    }
}
