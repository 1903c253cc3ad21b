//! The registry: which agencies exist and what each has published.
//!
//! This is plain data; loading and validating it from TOML lives in [`crate::config`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgencyKind {
    Ministry,
    Province,
}

impl AgencyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AgencyKind::Ministry => "ministry",
            AgencyKind::Province => "province",
        }
    }
}

impl fmt::Display for AgencyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AgencyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ministry" => Ok(AgencyKind::Ministry),
            "province" => Ok(AgencyKind::Province),
            other => Err(format!("unknown agency kind `{other}`")),
        }
    }
}

/// How a catalog is published. `Auto` recognises it from the Content-Type and the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CatalogFormat {
    Auto,
    /// DCAT-US / Project Open Data `data.json` v1.1.
    DataJson,
    /// DCAT / DCAT-AP as JSON-LD, Turtle or RDF/XML (told apart by the body).
    Dcat,
    /// A CKAN portal: the URL is its root or its `package_search` API.
    Ckan,
    /// A CSV list of databases (Decree 47/2020), Vietnamese or English headers.
    Csv,
    /// The same list as an XLSX workbook.
    Xlsx,
}

impl CatalogFormat {
    pub const ALL: [CatalogFormat; 6] = [
        CatalogFormat::Auto,
        CatalogFormat::DataJson,
        CatalogFormat::Dcat,
        CatalogFormat::Ckan,
        CatalogFormat::Csv,
        CatalogFormat::Xlsx,
    ];
    pub const NAMES: &'static [&'static str] = &["auto", "datajson", "dcat", "ckan", "csv", "xlsx"];

    pub fn as_str(self) -> &'static str {
        match self {
            CatalogFormat::Auto => "auto",
            CatalogFormat::DataJson => "datajson",
            CatalogFormat::Dcat => "dcat",
            CatalogFormat::Ckan => "ckan",
            CatalogFormat::Csv => "csv",
            CatalogFormat::Xlsx => "xlsx",
        }
    }
}

impl FromStr for CatalogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CatalogFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("catalog format `{s}` is not supported"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogEndpoint {
    pub url: Url,
    pub format: CatalogFormat,
    /// On a CKAN portal that carries several publishers, the organization that is this
    /// agency (its `name` in `organization_list`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// A data-sharing service the agency runs on its LGSP or on the NDXP.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceEndpoint {
    pub url: Url,
    pub platform: Option<String>,
    /// Where the service's OpenAPI/Swagger or WSDL description is published.
    pub api_description: Option<Url>,
    pub check: ServiceCheck,
}

/// What counts as the service being up, beyond answering.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServiceCheck {
    /// The status it must answer; any 2xx when unset.
    pub expect_status: Option<u16>,
    /// Text its answer must contain within the first 64 KiB of the body.
    pub expect_body: Option<String>,
    /// How long it may take to answer; the crawl's total timeout when unset.
    pub timeout: Option<std::time::Duration>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agency {
    /// Stable code: the statistics office's two digits for provinces, a slug for ministries.
    pub code: String,
    pub kind: AgencyKind,
    pub name: String,
    pub name_ascii: String,
    /// Codes of the agencies merged into this one (2025), so history stays continuous.
    pub predecessors: Vec<String>,
    pub catalog: Option<CatalogEndpoint>,
    pub services: Vec<ServiceEndpoint>,
    pub declaration_url: Option<Url>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Registry {
    pub agencies: Vec<Agency>,
}

impl Registry {
    pub fn get(&self, code: &str) -> Option<&Agency> {
        self.agencies.iter().find(|a| a.code == code)
    }

    /// Whether `host` (as `Url::host_str` writes it) is one the registry names: a
    /// catalog's, a service's or a declaration's.
    pub fn names_host(&self, host: &str) -> bool {
        let names = |url: &Url| {
            url.host_str()
                .is_some_and(|h| h.trim_end_matches('.').eq_ignore_ascii_case(host))
        };
        self.agencies.iter().any(|a| {
            a.catalog.as_ref().is_some_and(|c| names(&c.url))
                || a.services.iter().any(|s| names(&s.url))
                || a.declaration_url.as_ref().is_some_and(names)
        })
    }
}
