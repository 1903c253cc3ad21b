//! The scoring method as configured: the national targets with their sources, goals and
//! weights, the weight of data quality, and the bands. Read from `config/targets.toml`
//! (parsed and checked in [`crate::config`]), so a new year's plan is a config change.
//!
//! What counts as evidence for each part of a target is code ([`Evidence`]): the config
//! picks which parts a plan has and what each is worth, the code knows how to check them.

use serde::Serialize;

/// The targets file compiled into the binary: the 2023 National Digital Data Year plan.
pub const BUILTIN_TARGETS: &str = include_str!("../../config/targets.toml");

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Method {
    pub version: String,
    pub targets: Vec<Target>,
    /// Points of the index for the four quality dimensions together (split equally).
    pub quality_weight: f64,
    pub bands: Bands,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub id: String,
    pub name: String,
    pub name_vi: String,
    /// The document the target comes from.
    pub source: String,
    pub parts: Vec<Part>,
}

/// One checkable part of a target, with the share of agencies the plan expects to meet it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    pub evidence: Evidence,
    pub name: String,
    pub weight: f64,
    /// Share of agencies expected to meet the part (0–1).
    pub goal: f64,
    /// The goal is "over" the share (more than half), not "at least".
    pub above: bool,
}

impl Part {
    pub fn id(&self) -> &'static str {
        self.evidence.id()
    }

    /// Whether a national share meets this part's goal.
    pub fn goal_met(&self, share: f64) -> bool {
        if self.above {
            share > self.goal + 1e-9
        } else {
            share >= self.goal - 1e-9
        }
    }
}

/// The kinds of evidence dtindex can check, each the id of a part in the targets file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Evidence {
    /// A machine-readable catalog is published, parses and is not empty.
    Catalog,
    /// Each database in the catalog has a roadmap (status and target date).
    Roadmap,
    /// The declaration cites an issued open-data plan whose document resolves.
    OpenDataPlan,
    /// The catalog lists open datasets (public, openly licensed, downloadable).
    OpenData,
    /// The declaration cites an issued plan for an aggregated data-analysis platform.
    AnalyticsPlan,
    /// The declaration names a deployed analysis platform that answers.
    AnalyticsPlatform,
    /// The agency's data-sharing services on LGSP/NDXP answer.
    ServicesUp,
    /// The services describe their API (OpenAPI/Swagger or WSDL).
    ApiDescribed,
}

impl Evidence {
    pub const ALL: [Evidence; 8] = [
        Evidence::Catalog,
        Evidence::Roadmap,
        Evidence::OpenDataPlan,
        Evidence::OpenData,
        Evidence::AnalyticsPlan,
        Evidence::AnalyticsPlatform,
        Evidence::ServicesUp,
        Evidence::ApiDescribed,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Evidence::Catalog => "T1.catalog",
            Evidence::Roadmap => "T1.roadmap",
            Evidence::OpenDataPlan => "T2.plan",
            Evidence::OpenData => "T2.open-data",
            Evidence::AnalyticsPlan => "T3.plan",
            Evidence::AnalyticsPlatform => "T3.platform",
            Evidence::ServicesUp => "T4.services",
            Evidence::ApiDescribed => "T4.api",
        }
    }

    pub fn parse(id: &str) -> Option<Evidence> {
        Evidence::ALL.into_iter().find(|e| e.id() == id)
    }
}

/// Lower bounds of the bands, out of 1000.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bands {
    pub excellent: f64,
    pub good: f64,
    pub sufficient: f64,
}

impl Default for Bands {
    fn default() -> Self {
        Bands {
            excellent: 850.0,
            good: 700.0,
            sufficient: 500.0,
        }
    }
}

impl Method {
    /// The method compiled into the binary (checked by a unit test, so it cannot fail in
    /// a release).
    pub fn builtin() -> Method {
        Method::parse_builtin()
            .unwrap_or_else(|e| panic!("the built-in config/targets.toml is invalid: {e}"))
    }

    fn parse_builtin() -> Result<Method, crate::config::ConfigError> {
        Method::parse(
            std::path::Path::new("<built-in config/targets.toml>"),
            BUILTIN_TARGETS,
        )
    }

    pub fn parts(&self) -> impl Iterator<Item = (&Target, &Part)> {
        self.targets
            .iter()
            .flat_map(|t| t.parts.iter().map(move |p| (t, p)))
    }

    pub fn targets_weight(&self) -> f64 {
        self.parts().map(|(_, p)| p.weight).sum()
    }

    /// Points of the index per quality dimension.
    pub fn dimension_weight(&self) -> f64 {
        self.quality_weight / super::quality::Dimension::ALL.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_method_is_valid_and_adds_up_to_1000() {
        let m = Method::parse_builtin().unwrap();
        assert_eq!(m.targets.len(), 4);
        assert!((m.targets_weight() + m.quality_weight - 1000.0).abs() < 1e-9);
        let t3 = &m.targets[2];
        assert_eq!(t3.parts.len(), 2);
        assert!(t3.parts[0].above && t3.parts[0].goal == 0.5);
        assert!(!t3.parts[0].goal_met(0.5) && t3.parts[0].goal_met(0.51));
        assert!(m.targets[0].parts[0].goal_met(1.0));
    }
}
