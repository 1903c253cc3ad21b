//! What one crawl saw of one agency, as plain values.
//!
//! Harvesting and probing produce these; scoring and the store consume them. Keeping them
//! free of I/O types (no reqwest errors, no sockets) is what lets scoring be tested with
//! values written by hand.

use serde::{Deserialize, Serialize};

use crate::declaration::DocumentKind;
use crate::registry::AgencyKind;
use crate::score::QualityTally;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgencyObservation {
    pub code: String,
    pub kind: AgencyKind,
    pub name: String,
    pub catalog: CatalogObservation,
    /// The registry's services and those the declaration adds, each probed once.
    pub services: Vec<ProbeObservation>,
    pub declaration: DeclarationObservation,
    /// What the link checks found among the catalog's access and download URLs; `None`
    /// when they were not checked.
    pub links: Option<LinkSummary>,
}

/// The catalog's links, as the link checker saw them in this cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSummary {
    pub checked: u64,
    /// Failed in as many consecutive cycles as the config asks before a link is broken.
    pub broken: u64,
    /// Served a Content-Type other than the media type the catalog declares.
    pub type_mismatch: u64,
    /// A few of the broken links, each with what went wrong, for the finding.
    #[serde(default)]
    pub broken_examples: Vec<String>,
    #[serde(default)]
    pub mismatch_examples: Vec<String>,
}

/// The agency's declaration and what checking its claims found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeclarationObservation {
    pub url: Option<String>,
    pub outcome: CatalogOutcome,
    pub documents: Vec<CheckedDocument>,
    /// `None` when the declaration says nothing of an analytics platform.
    pub platform: Option<CheckedClaim>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedDocument {
    pub kind: DocumentKind,
    pub number: Option<String>,
    pub date: Option<String>,
    pub claim: CheckedClaim,
}

/// A claim with a URL, and whether the URL answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedClaim {
    /// For a platform: whether it is said to be deployed; for a document: always true.
    pub claimed: bool,
    pub url: Option<String>,
    /// `None` when there was no URL to check.
    pub resolves: Option<bool>,
    /// Why it did not resolve.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogObservation {
    /// `None` when the agency has published no catalog.
    pub url: Option<String>,
    /// The format it was read as, once recognised.
    pub format: Option<String>,
    pub outcome: CatalogOutcome,
    /// True when nothing changed since the last good harvest (a 304, or the same bytes),
    /// so what was read then was reused.
    pub unchanged: bool,
    /// HTTP requests this harvest made (pages included).
    pub requests: u32,
    pub http_status: Option<u16>,
    /// Bytes of the body after decompression.
    pub bytes: u64,
    pub duration_ms: u64,
    /// Records read, including those of a catalog that broke off part-way.
    pub datasets: usize,
    /// Records new or changed since the last good harvest (by content digest).
    #[serde(default)]
    pub datasets_changed: usize,
    /// Records that failed their format's schema (data.json).
    pub schema_invalid: usize,
    pub tally: QualityTally,
    /// What else was noticed on the way, each worth telling the agency.
    pub notes: Vec<Note>,
    /// The datasets read, for the national catalog: carried with the observation (shared
    /// daemons hand observations on through the database) until the cycle is stored. The
    /// harvest state keeps none (see `harvest_into`).
    #[serde(
        default,
        skip_serializing_if = "crate::catalog::national::Records::is_keep"
    )]
    pub records: crate::catalog::national::Records,
}

/// Something a harvest noticed that does not stop the catalog from being read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Note {
    /// The Content-Type header names another format than the body is.
    ContentTypeMismatch(String),
    /// Paging stopped early: a loop, a repeated page, a count that does not add up.
    Paging(String),
    /// How many records reuse an identifier already seen in the catalog.
    DuplicateIdentifiers(usize),
    /// The CKAN organization registered for the agency is not on the portal.
    UnknownOrganization(String),
    /// Records whose text would do harm if shown unescaped.
    UnsafeText(UnsafeText),
}

/// How many records carry text that does harm where it is shown unescaped: markup a web
/// page would run, control characters a terminal or log would obey, and formula prefixes a
/// spreadsheet would evaluate. dtindex itself only ever serves such text escaped (JSON), so
/// this is a finding for the agency, whose own portal or exports may not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsafeText {
    pub markup: usize,
    pub control: usize,
    pub formula: usize,
}

impl UnsafeText {
    pub fn is_empty(&self) -> bool {
        *self == UnsafeText::default()
    }

    /// Counts `texts` (one record's) once per kind of harm found in any of them.
    pub fn add_record<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) {
        let (mut markup, mut control, mut formula) = (false, false, false);
        for t in texts {
            markup = markup || has_markup(t);
            control = control || has_control(t);
            let mut chars = t.chars();
            formula |= match (chars.next(), chars.next()) {
                (Some('=' | '+' | '@' | '\t' | '\r'), _) => true,
                // A leading minus is a formula unless a number or a dash in prose follows.
                (Some('-'), Some(next)) => !(next.is_ascii_digit() || next.is_whitespace()),
                _ => false,
            };
        }
        self.markup += usize::from(markup);
        self.control += usize::from(control);
        self.formula += usize::from(formula);
    }
}

/// A `<` that opens a tag, a closing tag or a comment. Every text field of every record is
/// scanned, so the `<`s are found with memchr rather than byte by byte.
fn has_markup(t: &str) -> bool {
    let b = t.as_bytes();
    memchr::memchr_iter(b'<', b).any(|i| {
        b.get(i + 1)
            .is_some_and(|&n| n.is_ascii_alphabetic() || matches!(n, b'/' | b'!'))
    })
}

/// A control character (Unicode's Cc: U+0000–U+001F, U+007F–U+009F) other than a line
/// break or a tab. The bytes are first sifted in blocks without a branch per byte (which
/// the compiler turns into vector code): only a block with a byte below 0x20, a DEL, or the
/// lead byte 0xC2 of U+0080–U+00BF (a no-break space is one) can hold one, and only such a
/// block is looked at byte by byte. In UTF-8, U+0080–U+009F are 0xC2 then 0x80–0x9F, and
/// 0xC2 is never a continuation byte, so bytes tell them without decoding.
fn has_control(t: &str) -> bool {
    const BLOCK: usize = 64;
    let b = t.as_bytes();
    b.chunks(BLOCK).enumerate().any(|(n, block)| {
        let suspect = block.iter().fold(false, |seen, &c| {
            seen | (c < 0x20) | (c == 0x7f) | (c == 0xc2)
        });
        suspect
            && block.iter().enumerate().any(|(i, &c)| match c {
                b'\n' | b'\r' | b'\t' => false,
                0..0x20 | 0x7f => true,
                0xc2 => b
                    .get(n * BLOCK + i + 1)
                    .is_some_and(|next| (0x80..0xa0).contains(next)),
                _ => false,
            })
    })
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum CatalogOutcome {
    #[default]
    NotPublished,
    FetchFailed(Failure),
    ParseFailed(String),
    Parsed,
}

impl CatalogOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            CatalogOutcome::NotPublished => "not_published",
            CatalogOutcome::FetchFailed(_) => "fetch_failed",
            CatalogOutcome::ParseFailed(_) => "parse_failed",
            CatalogOutcome::Parsed => "parsed",
        }
    }

    pub fn detail(&self) -> Option<String> {
        match self {
            CatalogOutcome::FetchFailed(f) => Some(f.message.clone()),
            CatalogOutcome::ParseFailed(m) => Some(m.clone()),
            _ => None,
        }
    }
}

/// Why a request to an agency's server did not give a usable answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub class: FailureClass,
    pub message: String,
}

/// A small, fixed set, so it can be a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// No answer within the connect, read or total timeout.
    Timeout,
    /// Refused, reset, DNS or TLS failure.
    Connect,
    /// Answered with a status that is not a success.
    Status,
    /// The body is larger than the cap (after decompression).
    TooLarge,
    /// Too many redirects, or a loop.
    Redirect,
    /// The body broke off or could not be decoded.
    Body,
    /// The crawl of the agency itself failed or overran its deadline.
    Deadline,
}

impl FailureClass {
    pub const ALL: [FailureClass; 7] = [
        FailureClass::Timeout,
        FailureClass::Connect,
        FailureClass::Status,
        FailureClass::TooLarge,
        FailureClass::Redirect,
        FailureClass::Body,
        FailureClass::Deadline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Timeout => "timeout",
            FailureClass::Connect => "connect",
            FailureClass::Status => "status",
            FailureClass::TooLarge => "too_large",
            FailureClass::Redirect => "redirect",
            FailureClass::Body => "body",
            FailureClass::Deadline => "deadline",
        }
    }
}

/// Whether a service publishes a description of its API, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiDescription {
    pub url: String,
    /// OpenAPI, Swagger or WSDL, recognised in the document's first bytes.
    pub kind: Option<String>,
    /// Why it is not a usable description (it did not answer, or is something else).
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeObservation {
    pub url: String,
    pub platform: Option<String>,
    pub http_status: Option<u16>,
    pub latency_ms: u64,
    /// `None` when the service answered with a success status.
    pub failure: Option<Failure>,
    /// When the service's TLS certificate expires (Unix seconds), for HTTPS services.
    pub tls_expires_at: Option<i64>,
    /// `None` when no description URL is registered or declared for the service.
    pub api_description: Option<ApiDescription>,
    /// The protocol it answered in (`HTTP/1.1`, `HTTP/2`); `None` when it did not answer.
    #[serde(default)]
    pub http_version: Option<String>,
    /// How long each phase of reaching it took (on a connection of its own); `None` when
    /// it could not be reached.
    #[serde(default)]
    pub phases: Option<crate::probe::phases::Phases>,
}

impl ProbeObservation {
    pub fn is_up(&self) -> bool {
        self.failure.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::UnsafeText;

    fn of(texts: &[&str]) -> UnsafeText {
        let mut t = UnsafeText::default();
        t.add_record(texts.iter().copied());
        t
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// The sifted scans find what the plain definitions find, on ordinary text (with
        /// `<`, no-break spaces, Vietnamese) holding one character of the range they sift
        /// for (controls, and their neighbours that are not), anywhere, across the sifting
        /// blocks' edges too.
        #[test]
        fn the_fast_scans_agree_with_the_definitions(
            t in "[a-z <>/!\\u{a0}àđươạ]{0,90}[\\x00-\\x1f\\x7f\\u{80}-\\u{a1}][a-z <>/!\\u{a0}àđươạ]{0,90}"
        ) {
            let b = t.as_bytes();
            let markup = b.windows(2).any(|w| {
                w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'/' | b'!'))
            });
            let control = t
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
            proptest::prop_assert_eq!(super::has_markup(&t), markup);
            proptest::prop_assert_eq!(super::has_control(&t), control);
        }
    }

    #[test]
    fn unsafe_text_is_told_from_ordinary_prose() {
        let none = UnsafeText::default();
        // Ordinary Vietnamese catalog text, a negative number, a dash in prose, a comparison.
        for ok in [
            "Cơ sở dữ liệu dân cư",
            "-5 độ C",
            "- danh mục",
            "a < b và c > d",
            "dòng 1\ndòng 2\ttab",
            "email@example.gov.vn",
        ] {
            assert_eq!(of(&[ok]), none, "{ok:?}");
        }
        let markup = UnsafeText { markup: 1, ..none };
        assert_eq!(of(&["<script>alert(1)</script>"]), markup);
        assert_eq!(of(&["Dữ liệu </b>"]), markup);
        assert_eq!(of(&["<!-- x -->"]), markup);
        let control = UnsafeText { control: 1, ..none };
        assert_eq!(of(&["x\u{0}y"]), control);
        assert_eq!(of(&["\u{1b}[31mđỏ"]), control);
        let formula = UnsafeText { formula: 1, ..none };
        for f in ["=1+1", "+cmd", "@SUM(A1)", "-cmd", "\tx"] {
            assert_eq!(of(&[f]), formula, "{f:?}");
        }
        // Counted once per record, whatever the number of fields.
        assert_eq!(
            of(&["<b>", "<i>", "=x"]),
            UnsafeText {
                markup: 1,
                formula: 1,
                ..none
            }
        );
    }
}
