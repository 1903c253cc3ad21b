//! Lists of databases as CSV or XLSX: the form many agencies publish under Decree 47/2020,
//! and inventories elsewhere (Project Open Data's CSV, city dataset inventories).
//!
//! A header names each column in Vietnamese or English, with or without diacritics, in any
//! case and spacing; [`field_for_header`] maps it to a [`Column`] of the normalized
//! [`Dataset`]. Unknown columns are ignored. CSV is read row by row; a workbook is read
//! sheet by sheet (it is a zip archive, so it cannot stream).

use std::io::{Read, Seek};

use unicode_normalization::UnicodeNormalization;

use super::{CatalogError, CatalogSummary, Dataset, Distribution, FieldProblem};

/// The field a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Identifier,
    Title,
    Description,
    Publisher,
    ContactPoint,
    Keywords,
    Themes,
    Spatial,
    Temporal,
    Issued,
    Modified,
    AccrualPeriodicity,
    License,
    AccessLevel,
    Rights,
    AccessUrl,
    DownloadUrl,
    MediaType,
    Format,
    DatabaseKind,
    Owner,
    RoadmapStatus,
    RoadmapTarget,
    SharedVia,
}

/// Header names, normalized (lowercase, no diacritics, words separated by one space).
const SYNONYMS: &[(Column, &[&str])] = &[
    (
        Column::Identifier,
        &[
            "ma",
            "ma csdl",
            "ma co so du lieu",
            "ma dinh danh",
            "identifier",
            "id",
            "record id",
            "dataset id",
        ],
    ),
    (
        Column::Title,
        &[
            "ten",
            "ten csdl",
            "ten co so du lieu",
            "ten du lieu",
            "ten bo du lieu",
            "title",
            "name",
            "dataset name",
            "dataset title",
        ],
    ),
    (
        Column::Description,
        &[
            "mo ta",
            "mo ta tom tat",
            "noi dung",
            "description",
            "dataset summary",
            "summary",
            "notes",
        ],
    ),
    (
        Column::Publisher,
        &[
            "publisher",
            "publisher name",
            "don vi cong bo",
            "co quan cong bo",
            "agency name",
            "organization",
        ],
    ),
    (
        Column::ContactPoint,
        &[
            "contactpoint",
            "contact point",
            "contact",
            "contact name",
            "fn",
            "hasemail",
            "email",
            "dau moi lien he",
            "contactpoint fn",
            "contactpoint hasemail",
            "nguoi lien he",
            "lien he",
        ],
    ),
    (
        Column::Keywords,
        &["tu khoa", "keyword", "keywords", "tags"],
    ),
    (
        Column::Themes,
        &[
            "theme",
            "linh vuc",
            "chu de",
            "category",
            "dataset category",
        ],
    ),
    (Column::Spatial, &["spatial", "pham vi", "pham vi dia ly"]),
    (
        Column::Temporal,
        &["temporal", "thoi gian du lieu", "earliest date of records"],
    ),
    (
        Column::Issued,
        &["issued", "ngay ban hanh", "ngay cong bo", "published date"],
    ),
    (
        Column::Modified,
        &[
            "modified",
            "ngay cap nhat",
            "cap nhat lan cuoi",
            "last updated",
            "date last modified",
        ],
    ),
    (
        Column::AccrualPeriodicity,
        &[
            "accrualperiodicity",
            "tan suat cap nhat",
            "frequency",
            "update frequency",
            "update interval",
        ],
    ),
    (Column::License, &["license", "licence", "giay phep"]),
    (
        Column::AccessLevel,
        &[
            "accesslevel",
            "access level",
            "muc do truy cap",
            "che do chia se",
            "dataset classification name",
        ],
    ),
    (Column::Rights, &["rights", "quyen"]),
    (
        Column::AccessUrl,
        &[
            "duong dan",
            "lien ket",
            "url",
            "accessurl",
            "access url",
            "landingpage",
            "landing page",
            "dataset url",
        ],
    ),
    (
        Column::DownloadUrl,
        &["downloadurl", "download url", "tai ve"],
    ),
    (Column::MediaType, &["mediatype", "media type"]),
    (Column::Format, &["dinh dang", "format"]),
    (
        Column::DatabaseKind,
        &[
            "loai csdl",
            "loai co so du lieu",
            "phan loai",
            "database type",
            "dataset type",
        ],
    ),
    (
        Column::Owner,
        &[
            "co quan quan ly",
            "don vi quan ly",
            "don vi chu quan",
            "co quan chu quan",
            "chu quan",
            "owner",
            "data owner",
            "owning agency",
        ],
    ),
    (
        Column::RoadmapStatus,
        &[
            "lo trinh",
            "trang thai",
            "tinh trang",
            "status",
            "roadmap status",
        ],
    ),
    (
        Column::RoadmapTarget,
        &[
            "thoi gian hoan thanh",
            "nam hoan thanh",
            "thoi han",
            "han hoan thanh",
            "target date",
            "roadmap target",
        ],
    ),
    (
        Column::SharedVia,
        &[
            "chia se qua",
            "nen tang chia se",
            "lgsp ndxp",
            "shared via",
            "sharing platform",
        ],
    ),
];

/// Lowercase, without diacritics (đ → d), words separated by one space.
fn normalize(header: &str) -> String {
    let folded: String = header
        .trim_start_matches('\u{feff}')
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            c if c.is_alphanumeric() => c.to_ascii_lowercase(),
            _ => ' ',
        })
        .collect();
    // camelCase headers (accessLevel) compare equal to their lowercase synonyms.
    folded
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Maps a header cell to the field it names. Inventories exported from DCAT tools prefix
/// columns with their entity (`dataset_title`); the prefix is dropped when that matches.
pub fn field_for_header(header: &str) -> Option<Column> {
    let h = normalize(header);
    let lookup = |h: &str| {
        SYNONYMS
            .iter()
            .find(|(_, names)| names.contains(&h))
            .map(|(c, _)| *c)
    };
    lookup(&h).or_else(|| h.strip_prefix("dataset ").and_then(lookup))
}

/// Column positions, once the header row is known.
struct Layout {
    columns: Vec<Option<Column>>,
}

impl Layout {
    fn of(headers: &[String]) -> Layout {
        Layout {
            columns: headers.iter().map(|h| field_for_header(h)).collect(),
        }
    }

    fn mapped(&self) -> usize {
        self.columns.iter().filter(|c| c.is_some()).count()
    }

    fn usable(&self) -> bool {
        self.columns
            .iter()
            .any(|c| matches!(c, Some(Column::Title) | Some(Column::Identifier)))
    }

    /// One row into a dataset; `None` for an empty row.
    fn dataset(&self, cells: &[String], width: usize) -> Option<Dataset> {
        if cells.iter().all(|c| c.trim().is_empty()) {
            return None;
        }
        let mut d = Dataset::default();
        let mut dist = Distribution::default();
        let mut owner = None;
        let set = |slot: &mut Option<String>, v: &str| {
            if slot.is_none() {
                *slot = Some(v.to_string());
            }
        };
        for (column, cell) in self.columns.iter().zip(cells) {
            let v = cell.trim();
            let Some(column) = column else { continue };
            if v.is_empty() {
                continue;
            }
            match column {
                Column::Identifier => set(&mut d.identifier, v),
                Column::Title => set(&mut d.title, v),
                Column::Description => set(&mut d.description, v),
                Column::Publisher => set(&mut d.publisher, v),
                Column::ContactPoint => set(&mut d.contact_point, v),
                Column::Keywords => d.keywords.extend(split_list(v)),
                Column::Themes => d.themes.extend(split_list(v)),
                Column::Spatial => set(&mut d.spatial, v),
                Column::Temporal => set(&mut d.temporal, v),
                Column::Issued => set(&mut d.issued, v),
                Column::Modified => set(&mut d.modified, v),
                Column::AccrualPeriodicity => set(&mut d.accrual_periodicity, v),
                Column::License => set(&mut d.license, v),
                Column::AccessLevel => set(&mut d.access_level, v),
                Column::Rights => set(&mut d.rights, v),
                Column::AccessUrl => set(&mut dist.access_url, v),
                Column::DownloadUrl => set(&mut dist.download_url, v),
                Column::MediaType => set(&mut dist.media_type, v),
                Column::Format => set(&mut dist.format, v),
                Column::DatabaseKind => set(&mut d.database.kind, v),
                Column::Owner => set(&mut owner, v),
                Column::RoadmapStatus => set(&mut d.database.roadmap_status, v),
                Column::RoadmapTarget => set(&mut d.database.roadmap_target, v),
                Column::SharedVia => set(&mut d.database.shared_via, v),
            }
        }
        // The managing agency publishes its own list when no publisher column says otherwise.
        if d.publisher.is_none() {
            d.publisher.clone_from(&owner);
        }
        d.database.owner = owner;
        if dist != Distribution::default() {
            d.distributions.push(dist);
        }
        if cells.len() != width {
            d.problems.push(FieldProblem {
                field: "row".into(),
                message: format!("has {} cells where the header has {width}", cells.len()),
            });
        }
        Some(d)
    }
}

fn split_list(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split([',', ';', '|'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn unusable(format: &'static str, headers: &[String]) -> CatalogError {
    CatalogError::Format {
        format,
        message: format!(
            "no column names the databases (found: {}); a list needs a \"Tên cơ sở dữ liệu\" / \"title\" or \"Mã CSDL\" / \"identifier\" column",
            headers.join(", ")
        ),
    }
}

/// Reads a CSV list, calling `each` for every non-empty row. The delimiter (`,` `;` or tab)
/// is taken from the header line.
pub fn parse_csv<R: Read>(
    reader: R,
    mut each: impl FnMut(Dataset),
) -> Result<CatalogSummary, CatalogError> {
    let mut reader = std::io::BufReader::new(reader);
    let first_line = {
        use std::io::BufRead as _;
        let buf = reader
            .fill_buf()
            .map_err(|e| CatalogError::Io(e.to_string()))?;
        let end = buf.iter().position(|b| *b == b'\n').unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    };
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first_line.bytes().filter(|b| b == d).count())
        .unwrap_or(b',');
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(reader);
    let mut records = csv.byte_records();
    let csv_error = |e: csv::Error| CatalogError::Format {
        format: "CSV",
        message: e.to_string(),
    };
    let utf8 = |row: &csv::ByteRecord, line: u64| -> Result<Vec<String>, CatalogError> {
        row.iter()
            .map(|cell| {
                std::str::from_utf8(cell)
                    .map(str::to_string)
                    .map_err(|_| CatalogError::Format {
                        format: "CSV",
                        message: format!("line {line} is not valid UTF-8; save the list as UTF-8"),
                    })
            })
            .collect()
    };
    let Some(header) = records.next() else {
        return Ok(CatalogSummary::default());
    };
    let header = header.map_err(csv_error)?;
    let headers = utf8(&header, 1)?;
    let layout = Layout::of(&headers);
    if !layout.usable() {
        return Err(unusable("CSV", &headers));
    }
    let mut summary = CatalogSummary::default();
    for row in records {
        let row = row.map_err(csv_error)?;
        let line = row.position().map_or(0, |p| p.line());
        if let Some(d) = layout.dataset(&utf8(&row, line)?, headers.len()) {
            summary.datasets += 1;
            each(d);
        }
    }
    Ok(summary)
}

/// Reads an XLSX workbook: the sheet whose header row names the most fields (a sheet
/// called like "dataset" or "danh mục" first), its header found among the first rows.
pub fn parse_xlsx<R: Read + Seek>(
    reader: R,
    mut each: impl FnMut(Dataset),
) -> Result<CatalogSummary, CatalogError> {
    use calamine::Reader as _;
    let fail = |e: calamine::XlsxError| CatalogError::Format {
        format: "XLSX",
        message: e.to_string(),
    };
    let mut book: calamine::Xlsx<R> = calamine::open_workbook_from_rs(reader).map_err(fail)?;
    let mut names = book.sheet_names();
    let preferred = |n: &String| {
        let n = normalize(n);
        !["dataset", "datasets", "danh muc", "csdl", "co so du lieu"]
            .iter()
            .any(|p| n.contains(p))
    };
    names.sort_by_key(preferred);
    let mut best: Option<(usize, Vec<Vec<String>>, usize)> = None;
    for name in names {
        let range = book.worksheet_range(&name).map_err(fail)?;
        let rows: Vec<Vec<String>> = range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        // The header may sit under a title block: look at the first ten rows.
        for (at, row) in rows.iter().take(10).enumerate() {
            let layout = Layout::of(row);
            if layout.usable()
                && best
                    .as_ref()
                    .is_none_or(|(score, _, _)| layout.mapped() > *score)
            {
                best = Some((layout.mapped(), rows.clone(), at));
            }
        }
    }
    let Some((_, rows, at)) = best else {
        return Err(CatalogError::Format {
            format: "XLSX",
            message: "no sheet has a header naming the databases (\"Tên cơ sở dữ liệu\" / \"title\" or \"Mã CSDL\" / \"identifier\")".into(),
        });
    };
    let headers = &rows[at];
    let layout = Layout::of(headers);
    let mut summary = CatalogSummary::default();
    for row in &rows[at + 1..] {
        if let Some(d) = layout.dataset(row, headers.len()) {
            summary.datasets += 1;
            each(d);
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<Vec<Dataset>, CatalogError> {
        let mut all = Vec::new();
        parse_csv(text.as_bytes(), |d| all.push(d))?;
        Ok(all)
    }

    #[test]
    fn headers_match_in_vietnamese_and_english_whatever_the_spelling() {
        assert_eq!(field_for_header("Tên cơ sở dữ liệu"), Some(Column::Title));
        assert_eq!(field_for_header("TEN CO SO DU LIEU"), Some(Column::Title));
        assert_eq!(field_for_header("  Đơn vị chủ quản "), Some(Column::Owner));
        assert_eq!(field_for_header("accessLevel"), Some(Column::AccessLevel));
        assert_eq!(field_for_header("DATASET_NAME"), Some(Column::Title));
        assert_eq!(
            field_for_header("\u{feff}Mã CSDL"),
            Some(Column::Identifier)
        );
        assert_eq!(
            field_for_header("dataset_contactPoint_fn"),
            Some(Column::ContactPoint)
        );
        assert_eq!(
            field_for_header("dataset_accrualPeriodicity"),
            Some(Column::AccrualPeriodicity)
        );
        assert_eq!(field_for_header("Ghi chú"), None);
    }

    #[test]
    fn a_decree_47_list_is_read() {
        let all = csv(
            "\u{feff}Mã CSDL;Tên cơ sở dữ liệu;Cơ quan quản lý;Loại CSDL;Trạng thái;Năm hoàn thành;Chia sẻ qua;Từ khóa;Ghi chú\n\
             HN-01;CSDL dân cư;Sở Tư pháp;CSDL chuyên ngành;Đang vận hành;2024;LGSP;dân cư, hộ tịch;x\n\
             ;;;;;;;;\n\
             HN-02;CSDL đất đai;Sở Tài nguyên và Môi trường;CSDL dùng chung;Đang xây dựng;2026;NDXP;đất đai;\n",
        )
        .unwrap();
        assert_eq!(all.len(), 2, "the empty row is skipped");
        let d = &all[0];
        assert_eq!(d.identifier.as_deref(), Some("HN-01"));
        assert_eq!(d.title.as_deref(), Some("CSDL dân cư"));
        assert_eq!(d.publisher.as_deref(), Some("Sở Tư pháp"));
        assert_eq!(d.database.owner.as_deref(), Some("Sở Tư pháp"));
        assert_eq!(d.database.kind.as_deref(), Some("CSDL chuyên ngành"));
        assert_eq!(d.database.roadmap_status.as_deref(), Some("Đang vận hành"));
        assert_eq!(d.database.roadmap_target.as_deref(), Some("2024"));
        assert_eq!(d.database.shared_via.as_deref(), Some("LGSP"));
        assert_eq!(d.keywords, vec!["dân cư", "hộ tịch"]);
    }

    #[test]
    fn headers_that_name_nothing_are_an_error_that_says_what_is_expected() {
        let err = csv("a,b,c\n1,2,3\n").unwrap_err();
        match err {
            CatalogError::Format {
                format: "CSV",
                message,
            } => {
                assert!(
                    message.contains("a, b, c") && message.contains("Tên cơ sở dữ liệu"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ragged_rows_are_kept_and_noted() {
        let all = csv("title,description\nA\nB,b,extra\n").unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].title.as_deref(), Some("A"));
        assert_eq!(all[0].problems[0].field, "row");
        assert_eq!(all[1].description.as_deref(), Some("b"));
    }

    #[test]
    fn invalid_utf8_is_named_with_its_line() {
        let mut bytes = b"title\nok\n".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        let err = parse_csv(bytes.as_slice(), |_| {}).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }
}
