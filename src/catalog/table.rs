//! Lists of databases as CSV or XLSX, one dataset per row: the "danh mục cơ sở dữ liệu"
//! an agency publishes under Decree 47/2020, a Project Open Data CSV, or an inventory
//! spreadsheet.
//!
//! Such lists are made by hand in a spreadsheet, so their headers are matched loosely (case,
//! Vietnamese diacritics, spacing, punctuation and parenthesised notes are ignored, and
//! Vietnamese and English synonyms name the same field) and a title or a blank row above
//! the header is skipped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Cursor, Read, Seek};

use calamine::{Data, Reader, SheetType, SheetVisible, Xlsx};

use super::{CatalogError, CatalogSummary, Dataset, Distribution, FieldProblem};

/// The header is looked for among this many rows at the top of a sheet.
const HEADER_SCAN_ROWS: usize = 10;

/// How much of a CSV is read ahead to choose its delimiter: enough for the header under a
/// few title rows, without holding a large file.
const SNIFF_LINES: usize = 16;
const SNIFF_BYTES: u64 = 64 * 1024;

/// The field a column of a list of databases fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

impl Column {
    fn is_distribution(self) -> bool {
        matches!(
            self,
            Column::AccessUrl | Column::DownloadUrl | Column::MediaType | Column::Format
        )
    }
}

/// Header names, folded as [`header_key`] folds them (no diacritics, no spaces), and the
/// field each names. Vietnamese first, then English, then the Project Open Data CSV and
/// the Washington DC inventory (whose `DATASET_` prefix is dropped before lookup).
const SYNONYMS: &[(&str, Column)] = &[
    // Identifier
    ("ma", Column::Identifier),
    ("macsdl", Column::Identifier),
    ("macosodulieu", Column::Identifier),
    ("madinhdanh", Column::Identifier),
    ("maso", Column::Identifier),
    ("madulieu", Column::Identifier),
    ("identifier", Column::Identifier),
    ("id", Column::Identifier),
    ("recordid", Column::Identifier),
    ("uniqueidentifier", Column::Identifier),
    // Title
    ("ten", Column::Title),
    ("tencsdl", Column::Title),
    ("tencosodulieu", Column::Title),
    ("tendulieu", Column::Title),
    ("tenbodulieu", Column::Title),
    ("tentapdulieu", Column::Title),
    ("tieude", Column::Title),
    ("title", Column::Title),
    ("name", Column::Title),
    // Description
    ("mota", Column::Description),
    ("motacsdl", Column::Description),
    ("motacosodulieu", Column::Description),
    ("noidung", Column::Description),
    ("tomtat", Column::Description),
    ("description", Column::Description),
    ("summary", Column::Description),
    ("notes", Column::Description),
    ("abstract", Column::Description),
    // Publisher
    ("donvicongbo", Column::Publisher),
    ("coquancongbo", Column::Publisher),
    ("donvicungcap", Column::Publisher),
    ("coquancungcap", Column::Publisher),
    ("donvixuatban", Column::Publisher),
    ("tochuccongbo", Column::Publisher),
    ("publisher", Column::Publisher),
    ("publishername", Column::Publisher),
    ("agency", Column::Publisher),
    ("agencyname", Column::Publisher),
    ("organization", Column::Publisher),
    ("organisation", Column::Publisher),
    // ContactPoint
    ("daumoilienhe", Column::ContactPoint),
    ("lienhe", Column::ContactPoint),
    ("nguoilienhe", Column::ContactPoint),
    ("thongtinlienhe", Column::ContactPoint),
    ("emaillienhe", Column::ContactPoint),
    ("contactpoint", Column::ContactPoint),
    ("contactpointfn", Column::ContactPoint),
    ("contactpointhasemail", Column::ContactPoint),
    ("contact", Column::ContactPoint),
    ("contactname", Column::ContactPoint),
    ("contactemail", Column::ContactPoint),
    ("maintainer", Column::ContactPoint),
    ("maintaineremail", Column::ContactPoint),
    ("email", Column::ContactPoint),
    ("fn", Column::ContactPoint),
    ("hasemail", Column::ContactPoint),
    // Keywords
    ("tukhoa", Column::Keywords),
    ("keyword", Column::Keywords),
    ("keywords", Column::Keywords),
    ("tags", Column::Keywords),
    ("tag", Column::Keywords),
    // Themes
    ("linhvuc", Column::Themes),
    ("chude", Column::Themes),
    ("nhomchude", Column::Themes),
    ("theme", Column::Themes),
    ("themes", Column::Themes),
    ("category", Column::Themes),
    ("categories", Column::Themes),
    // Spatial
    ("phamvidialy", Column::Spatial),
    ("phamvikhonggian", Column::Spatial),
    ("diaban", Column::Spatial),
    ("spatial", Column::Spatial),
    ("spatialcoverage", Column::Spatial),
    ("geographiccoverage", Column::Spatial),
    // Temporal
    ("phamvithoigian", Column::Temporal),
    ("khoangthoigian", Column::Temporal),
    ("temporal", Column::Temporal),
    ("temporalcoverage", Column::Temporal),
    ("earliestdateofrecords", Column::Temporal),
    // Issued
    ("ngaybanhanh", Column::Issued),
    ("ngaycongbo", Column::Issued),
    ("ngayphathanh", Column::Issued),
    ("ngaytao", Column::Issued),
    ("issued", Column::Issued),
    ("published", Column::Issued),
    ("publisheddate", Column::Issued),
    ("datepublished", Column::Issued),
    ("releasedate", Column::Issued),
    ("created", Column::Issued),
    // Modified
    ("ngaycapnhat", Column::Modified),
    ("ngaycapnhatcuoi", Column::Modified),
    ("capnhatlancuoi", Column::Modified),
    ("ngaysuadoi", Column::Modified),
    ("modified", Column::Modified),
    ("lastmodified", Column::Modified),
    ("datelastmodified", Column::Modified),
    ("lastupdated", Column::Modified),
    ("updated", Column::Modified),
    // AccrualPeriodicity
    ("tansuatcapnhat", Column::AccrualPeriodicity),
    ("tansuat", Column::AccrualPeriodicity),
    ("chukycapnhat", Column::AccrualPeriodicity),
    ("accrualperiodicity", Column::AccrualPeriodicity),
    ("frequency", Column::AccrualPeriodicity),
    ("updatefrequency", Column::AccrualPeriodicity),
    ("updateinterval", Column::AccrualPeriodicity),
    // License
    ("giayphep", Column::License),
    ("giayphepsudung", Column::License),
    ("license", Column::License),
    ("licence", Column::License),
    // AccessLevel
    ("mucdotruycap", Column::AccessLevel),
    ("capdotruycap", Column::AccessLevel),
    ("mucdocongkhai", Column::AccessLevel),
    ("domat", Column::AccessLevel),
    ("accesslevel", Column::AccessLevel),
    ("classification", Column::AccessLevel),
    ("classificationname", Column::AccessLevel),
    // Rights
    ("quyentruycap", Column::Rights),
    ("dieukiensudung", Column::Rights),
    ("rights", Column::Rights),
    ("accessrights", Column::Rights),
    ("classificationreason", Column::Rights),
    // AccessUrl
    ("duongdan", Column::AccessUrl),
    ("duongdantruycap", Column::AccessUrl),
    ("diachitruycap", Column::AccessUrl),
    ("lienket", Column::AccessUrl),
    ("url", Column::AccessUrl),
    ("link", Column::AccessUrl),
    ("accessurl", Column::AccessUrl),
    ("landingpage", Column::AccessUrl),
    // DownloadUrl
    ("duongdantaive", Column::DownloadUrl),
    ("lienkettaive", Column::DownloadUrl),
    ("taive", Column::DownloadUrl),
    ("downloadurl", Column::DownloadUrl),
    ("download", Column::DownloadUrl),
    // MediaType
    ("mediatype", Column::MediaType),
    ("mimetype", Column::MediaType),
    // Format
    ("dinhdang", Column::Format),
    ("dinhdangdulieu", Column::Format),
    ("format", Column::Format),
    ("fileformat", Column::Format),
    // DatabaseKind
    ("loai", Column::DatabaseKind),
    ("loaicsdl", Column::DatabaseKind),
    ("loaicosodulieu", Column::DatabaseKind),
    ("phanloaicsdl", Column::DatabaseKind),
    ("databasetype", Column::DatabaseKind),
    ("databasekind", Column::DatabaseKind),
    // Owner
    ("coquanquanly", Column::Owner),
    ("donviquanly", Column::Owner),
    ("donvichuquan", Column::Owner),
    ("coquanchuquan", Column::Owner),
    ("chuquan", Column::Owner),
    ("coquanchutri", Column::Owner),
    ("donvichutri", Column::Owner),
    ("owner", Column::Owner),
    ("dataowner", Column::Owner),
    // RoadmapStatus
    ("lotrinh", Column::RoadmapStatus),
    ("trangthai", Column::RoadmapStatus),
    ("tinhtrang", Column::RoadmapStatus),
    ("hientrang", Column::RoadmapStatus),
    ("tinhtrangtrienkhai", Column::RoadmapStatus),
    ("trangthaitrienkhai", Column::RoadmapStatus),
    ("status", Column::RoadmapStatus),
    ("roadmapstatus", Column::RoadmapStatus),
    // RoadmapTarget
    ("thoigianhoanthanh", Column::RoadmapTarget),
    ("namhoanthanh", Column::RoadmapTarget),
    ("thoihan", Column::RoadmapTarget),
    ("thoihanhoanthanh", Column::RoadmapTarget),
    ("dukienhoanthanh", Column::RoadmapTarget),
    ("targetdate", Column::RoadmapTarget),
    ("deadline", Column::RoadmapTarget),
    ("roadmaptarget", Column::RoadmapTarget),
    // SharedVia
    ("chiasequa", Column::SharedVia),
    ("nentangchiase", Column::SharedVia),
    ("hinhthucchiase", Column::SharedVia),
    ("phuongthucchiase", Column::SharedVia),
    ("lgspndxp", Column::SharedVia),
    ("lgsp", Column::SharedVia),
    ("ndxp", Column::SharedVia),
    ("sharedvia", Column::SharedVia),
];

/// Maps a header cell to the field it names, if any.
pub fn field_for_header(header: &str) -> Option<Column> {
    let key = header_key(header);
    let lookup = |key: &str| {
        SYNONYMS
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, column)| *column)
    };
    lookup(&key)
        // Inventories prefix their columns with the record they describe
        // (`dataset_title`, `distribution_downloadURL`).
        .or_else(|| key.strip_prefix("dataset").and_then(lookup))
        .or_else(|| {
            key.strip_prefix("distribution")
                .and_then(lookup)
                .filter(|c| c.is_distribution())
        })
}

/// A header folded for lookup: lowercase, without diacritics, notes in parentheses,
/// spaces or punctuation, so `Tên CSDL (*)`, `ten_csdl` and `TÊN CSDL` are all `tencsdl`.
fn header_key(header: &str) -> String {
    let key = fold(header, true);
    if key.is_empty() {
        fold(header, false)
    } else {
        key
    }
}

fn fold(text: &str, skip_notes: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            '(' | '[' if skip_notes => depth += 1,
            ')' | ']' if skip_notes => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c => {
                let c = base_letter(c);
                if c.is_alphanumeric() {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// The letter without its diacritics (Vietnamese, and the Latin-1 accents of other
/// catalogs). Combining marks, from decomposed text, are not alphanumeric and drop out.
pub(crate) fn base_letter(c: char) -> char {
    const FOLDS: &[(&str, char)] = &[
        ("àáảãạăằắẳẵặâầấẩẫậäåāą", 'a'),
        ("èéẻẽẹêềếểễệëēęě", 'e'),
        ("ìíỉĩịîïī", 'i'),
        ("òóỏõọôồốổỗộơờớởỡợöøō", 'o'),
        ("ùúủũụưừứửữựûüūů", 'u'),
        ("ỳýỷỹỵÿ", 'y'),
        ("đď", 'd'),
        ("ñńň", 'n'),
        ("çćč", 'c'),
        ("šś", 's'),
        ("žźż", 'z'),
    ];
    if c.is_ascii() {
        return c;
    }
    FOLDS
        .iter()
        .find(|(variants, _)| variants.contains(c))
        .map_or(c, |(_, base)| *base)
}

/// How the columns of one header row map to fields.
struct Layout {
    headers: Vec<String>,
    columns: Vec<Option<Column>>,
    /// With no publisher column, the managing agency is taken as the publisher.
    owner_is_publisher: bool,
}

impl Layout {
    fn new(headers: Vec<String>) -> Self {
        let columns: Vec<Option<Column>> = headers.iter().map(|h| field_for_header(h)).collect();
        let owner_is_publisher = !columns.contains(&Some(Column::Publisher));
        Layout {
            headers,
            columns,
            owner_is_publisher,
        }
    }

    /// How many distinct fields the row names: the header is the row that names most.
    fn score(&self) -> usize {
        let mut seen: Vec<Column> = self.columns.iter().flatten().copied().collect();
        seen.sort_by_key(|c| *c as u8);
        seen.dedup();
        seen.len()
    }

    fn has(&self, column: Column) -> bool {
        self.columns.contains(&Some(column))
    }

    fn is_usable(&self) -> bool {
        self.has(Column::Title) || self.has(Column::Identifier)
    }

    fn header(&self, i: usize) -> &str {
        self.headers.get(i).map_or("", String::as_str)
    }

    /// One row as a dataset. Where several columns name one field, the first that is
    /// filled in wins; keywords and themes from every such column are kept.
    fn dataset(&self, cells: &[String], problems: Vec<FieldProblem>) -> Dataset {
        let mut ds = Dataset {
            problems,
            ..Dataset::default()
        };
        let mut dist = Distribution::default();
        for (column, value) in self.columns.iter().zip(cells) {
            let value = value.trim();
            if let (Some(column), false) = (column, value.is_empty()) {
                self.fill(&mut ds, &mut dist, *column, value);
            }
        }
        if dist != Distribution::default() {
            ds.distributions.push(dist);
        }
        ds
    }

    fn fill(&self, ds: &mut Dataset, dist: &mut Distribution, column: Column, value: &str) {
        let slot = match column {
            Column::Identifier => &mut ds.identifier,
            Column::Title => &mut ds.title,
            Column::Description => &mut ds.description,
            Column::Publisher => &mut ds.publisher,
            Column::ContactPoint => &mut ds.contact_point,
            Column::Spatial => &mut ds.spatial,
            Column::Temporal => &mut ds.temporal,
            Column::Issued => &mut ds.issued,
            Column::Modified => &mut ds.modified,
            Column::AccrualPeriodicity => &mut ds.accrual_periodicity,
            Column::License => &mut ds.license,
            Column::AccessLevel => &mut ds.access_level,
            Column::Rights => &mut ds.rights,
            Column::AccessUrl => &mut dist.access_url,
            Column::DownloadUrl => &mut dist.download_url,
            Column::MediaType => &mut dist.media_type,
            Column::Format => &mut dist.format,
            Column::DatabaseKind => &mut ds.database.kind,
            Column::RoadmapStatus => &mut ds.database.roadmap_status,
            Column::RoadmapTarget => &mut ds.database.roadmap_target,
            Column::SharedVia => &mut ds.database.shared_via,
            Column::Owner => {
                if self.owner_is_publisher {
                    set_once(&mut ds.publisher, value);
                }
                &mut ds.database.owner
            }
            Column::Keywords => return add_items(&mut ds.keywords, value),
            Column::Themes => return add_items(&mut ds.themes, value),
        };
        set_once(slot, value);
    }
}

fn set_once(slot: &mut Option<String>, value: &str) {
    if slot.is_none() {
        *slot = Some(value.to_string());
    }
}

/// A list in one cell, as people type it: `a, b; c | d`, or one item a line.
fn add_items(list: &mut Vec<String>, value: &str) {
    for item in value.split([',', ';', '|', '\n', '\r']).map(str::trim) {
        if !item.is_empty() && !list.iter().any(|x| x == item) {
            list.push(item.to_string());
        }
    }
}

/// The header among the first rows: the one naming most fields (the first such), if it
/// names a title or an identifier.
fn find_header(rows: &[Vec<String>]) -> Option<(usize, Layout)> {
    let mut best: Option<(usize, Layout)> = None;
    for (i, row) in rows.iter().enumerate().take(HEADER_SCAN_ROWS) {
        let layout = Layout::new(row.clone());
        let better = best
            .as_ref()
            .is_none_or(|(_, b)| layout.score() > b.score());
        if layout.is_usable() && better {
            best = Some((i, layout));
        }
    }
    best
}

/// The error for a table with no title or identifier column, naming what it has and what
/// was looked for, in both languages of its readers.
fn no_header(format: &'static str, rows: &[Vec<String>], note: &str) -> CatalogError {
    let found = rows
        .iter()
        .take(HEADER_SCAN_ROWS)
        .find(|row| row.iter().any(|c| !c.trim().is_empty()))
        .map(|row| {
            row.iter()
                .filter(|c| !c.trim().is_empty())
                .map(|c| format!("\"{}\"", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| "không có / none".into());
    CatalogError::Format {
        format,
        message: format!(
            "không tìm thấy cột tên hoặc mã cơ sở dữ liệu / no column names a title or an \
             identifier. Các cột có / headers found: {found}. Cần một cột như / expected a \
             column such as \"Tên cơ sở dữ liệu\", \"Tên CSDL\", \"title\", \"name\" (tên / \
             title) or \"Mã CSDL\", \"Mã\", \"identifier\", \"id\" (mã / identifier).{note}"
        ),
    }
}

/// Under the header, many Vietnamese tables number their columns `(1) (2) (3)…`: cells
/// counting up from one, which a real row (a code and a year, say) hardly ever is.
fn is_numbering_row(cells: &[String]) -> bool {
    let mut expected = 1u32;
    for cell in cells.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        let number = cell
            .strip_prefix('(')
            .and_then(|c| c.strip_suffix(')'))
            .unwrap_or(cell);
        if number.parse() != Ok(expected) {
            return false;
        }
        expected += 1;
    }
    expected > 3
}

fn is_empty_row(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

/// Feeds the rows under the header to `each`, skipping empty rows and a numbering row.
struct RowSink<'a, F> {
    layout: &'a Layout,
    each: F,
    datasets: usize,
}

impl<F: FnMut(Dataset)> RowSink<'_, F> {
    fn row(&mut self, cells: &[String], problems: Vec<FieldProblem>) -> Option<Dataset> {
        if is_empty_row(cells) || (self.datasets == 0 && is_numbering_row(cells)) {
            return None;
        }
        Some(self.layout.dataset(cells, problems))
    }

    fn emit(&mut self, dataset: Dataset) {
        self.datasets += 1;
        (self.each)(dataset);
    }
}

// ---------------------------------------------------------------------------------------
// CSV

/// Parses a CSV list of databases (`,` `;` or tab delimited, UTF-8 with or without BOM),
/// calling `each` for every non-empty row under the header, streaming.
///
/// A cell that is not UTF-8 is decoded with replacement characters and noted on its
/// record: one stray byte should not cost the whole list. A file whose header cannot be
/// read for its encoding is refused with a message saying to save it as UTF-8.
pub fn parse_csv<R: Read>(
    reader: R,
    each: impl FnMut(Dataset),
) -> Result<CatalogSummary, CatalogError> {
    let mut reader = BufReader::new(reader);
    let head = read_head(&mut reader)?;
    let (delimiter, skip) = choose_delimiter(&head);
    let head_is_utf8 = valid_utf8_prefix(&head);
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(Cursor::new(head).chain(reader));
    let mut record = csv::ByteRecord::new();
    for _ in 0..skip {
        next_record(&mut csv, &mut record)?;
    }

    let mut first = Vec::new();
    let mut lines = Vec::new();
    while first.len() < HEADER_SCAN_ROWS && next_record(&mut csv, &mut record)? {
        first.push(record.clone());
        lines.push(record.position().map_or(0, |p| p.line()));
    }
    let texts: Vec<Vec<String>> = first.iter().map(|r| decode(r).0).collect();
    let Some((header_at, layout)) = find_header(&texts) else {
        let note = if head_is_utf8 {
            ""
        } else {
            " Tệp không phải UTF-8 (có thể là Windows-1258 hay TCVN3): hãy lưu lại dạng \
             \"CSV UTF-8\" / the file is not UTF-8 (perhaps Windows-1258 or TCVN3): save it \
             as \"CSV UTF-8\"."
        };
        return Err(no_header("CSV", &texts, note));
    };

    let mut sink = RowSink {
        layout: &layout,
        each,
        datasets: 0,
    };
    for (buffered, line) in first.iter().zip(&lines).skip(header_at + 1) {
        csv_row(&mut sink, buffered, *line);
    }
    while next_record(&mut csv, &mut record)? {
        let line = record.position().map_or(0, |p| p.line());
        csv_row(&mut sink, &record, line);
    }
    Ok(CatalogSummary {
        datasets: sink.datasets,
        ..CatalogSummary::default()
    })
}

fn csv_row<F: FnMut(Dataset)>(sink: &mut RowSink<'_, F>, record: &csv::ByteRecord, line: u64) {
    let (cells, bad) = decode(record);
    let layout = sink.layout;
    let mut problems: Vec<FieldProblem> = bad
        .into_iter()
        .map(|i| FieldProblem {
            field: layout.header(i).to_string(),
            message: format!(
                "on line {line} is not UTF-8; it was read with replacement characters"
            ),
        })
        .collect();
    let width = layout.headers.len();
    if cells.len() != width && !is_empty_row(&cells) {
        problems.push(FieldProblem {
            field: "row".into(),
            message: format!(
                "line {line} has {} cells where the header has {width}",
                cells.len()
            ),
        });
    }
    if let Some(dataset) = sink.row(&cells, problems) {
        sink.emit(dataset);
    }
}

/// The cells as text, and the columns whose bytes were not UTF-8.
fn decode(record: &csv::ByteRecord) -> (Vec<String>, Vec<usize>) {
    let mut bad = Vec::new();
    let cells = record
        .iter()
        .enumerate()
        .map(|(i, field)| match String::from_utf8_lossy(field) {
            Cow::Borrowed(s) => s.to_string(),
            Cow::Owned(s) => {
                bad.push(i);
                s
            }
        })
        .collect();
    (cells, bad)
}

fn next_record<R: Read>(
    csv: &mut csv::Reader<R>,
    record: &mut csv::ByteRecord,
) -> Result<bool, CatalogError> {
    csv.read_byte_record(record).map_err(|e| match e.kind() {
        csv::ErrorKind::Io(io) => CatalogError::Io(io.to_string()),
        _ => CatalogError::Format {
            format: "CSV",
            message: e.to_string(),
        },
    })
}

/// The first lines, to choose the delimiter from, without a UTF-8 byte order mark.
fn read_head<R: BufRead>(reader: &mut R) -> Result<Vec<u8>, CatalogError> {
    let mut head = Vec::new();
    let mut limited = reader.take(SNIFF_BYTES);
    for _ in 0..SNIFF_LINES {
        let read = limited
            .read_until(b'\n', &mut head)
            .map_err(|e| CatalogError::Io(e.to_string()))?;
        if read == 0 {
            break;
        }
    }
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err(CatalogError::Format {
            format: "CSV",
            message: "tệp được mã hóa UTF-16 (\"Unicode Text\" của Excel): hãy lưu lại dạng \
                      \"CSV UTF-8\" / the file is UTF-16 (Excel's \"Unicode Text\"): save it \
                      as \"CSV UTF-8\""
                .into(),
        });
    }
    if head.starts_with("\u{feff}".as_bytes()) {
        head.drain(..3);
    }
    Ok(head)
}

/// Whether the bytes are UTF-8, but for a character cut at the end of the sample.
fn valid_utf8_prefix(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// The delimiter under which the header names most fields (ties: the one the first line
/// holds most of), and how many lines to skip: Excel's `sep=;` hint line names it outright.
fn choose_delimiter(head: &[u8]) -> (u8, usize) {
    let first_line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    if let [b's', b'e', b'p', b'=', d, rest @ ..] = first_line
        && rest.iter().all(u8::is_ascii_whitespace)
    {
        return (*d, 1);
    }
    let score = |d: u8| {
        let rows = sample_rows(head, d);
        let named = rows.iter().map(|r| Layout::new(r.clone()).score()).max();
        let in_first = first_line.iter().filter(|b| **b == d).count();
        (named.unwrap_or(0), in_first)
    };
    // `max_by_key` keeps the last of equals: reversed, ties go to the comma.
    let best = [b',', b';', b'\t']
        .into_iter()
        .rev()
        .max_by_key(|d| score(*d));
    (best.unwrap_or(b','), 0)
}

fn sample_rows(head: &[u8], delimiter: u8) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(head)
        .byte_records()
        .take(HEADER_SCAN_ROWS)
        .map_while(Result::ok)
        .map(|r| decode(&r).0)
        .collect()
}

// ---------------------------------------------------------------------------------------
// XLSX

/// Parses an XLSX list of databases: the first worksheet with a usable header (sheets
/// named like "Dataset", "Danh mục" or "CSDL" first). A "Distribution" sheet keyed by
/// dataset identifier, as DCAT workbooks have, adds its rows as distributions.
pub fn parse_xlsx<R: Read + Seek>(
    reader: R,
    each: impl FnMut(Dataset),
) -> Result<CatalogSummary, CatalogError> {
    let mut book = Xlsx::new(reader).map_err(xlsx_error)?;
    let sheets = sheet_order(&book);
    let mut tried: Vec<Vec<String>> = Vec::new();
    let mut unreadable = String::new();
    let mut found = None;
    for name in &sheets {
        let range = match book.worksheet_range(name) {
            Ok(range) => range,
            Err(e) => {
                unreadable.push_str(&format!(" Sheet \"{name}\" could not be read: {e}."));
                continue;
            }
        };
        let rows = sheet_rows(&range);
        let top: Vec<Vec<String>> = rows
            .iter()
            .take(HEADER_SCAN_ROWS)
            .map(|(cells, _)| cells.clone())
            .collect();
        match find_header(&top) {
            Some((at, layout)) => {
                found = Some((name.clone(), rows, at, layout));
                break;
            }
            None => tried.extend(top),
        }
    }
    let Some((sheet, rows, header_at, layout)) = found else {
        return Err(no_header("XLSX", &tried, &unreadable));
    };
    let mut attached = distribution_sheet(&mut book, &sheets, &sheet);

    let mut sink = RowSink {
        layout: &layout,
        each,
        datasets: 0,
    };
    for (cells, problems) in rows.into_iter().skip(header_at + 1) {
        let Some(mut dataset) = sink.row(&cells, problems) else {
            continue;
        };
        if let Some(more) = dataset
            .identifier
            .as_deref()
            .and_then(|id| attached.remove(id))
        {
            dataset.distributions.extend(more);
        }
        sink.emit(dataset);
    }
    Ok(CatalogSummary {
        datasets: sink.datasets,
        ..CatalogSummary::default()
    })
}

fn xlsx_error(e: calamine::XlsxError) -> CatalogError {
    CatalogError::Format {
        format: "XLSX",
        message: e.to_string(),
    }
}

/// Worksheets to look in: those named like a list of datasets first, hidden ones last.
fn sheet_order<R: Read + Seek>(book: &Xlsx<R>) -> Vec<String> {
    let mut sheets: Vec<(u8, String)> = book
        .sheets_metadata()
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet)
        .map(|s| {
            let key = header_key(&s.name);
            let named = ["dataset", "danhmuc", "csdl", "cosodulieu"]
                .iter()
                .any(|n| key.contains(n));
            let hidden = s.visible != SheetVisible::Visible;
            let rank = u8::from(hidden) * 2 + u8::from(!named);
            (rank, s.name.clone())
        })
        .collect();
    // A stable sort keeps workbook order within each rank.
    sheets.sort_by_key(|(rank, _)| *rank);
    sheets.into_iter().map(|(_, name)| name).collect()
}

/// Rows of a sheet as text, with the problems of their cells, in sheet order.
fn sheet_rows(range: &calamine::Range<Data>) -> Vec<(Vec<String>, Vec<FieldProblem>)> {
    let (first_row, first_col) = range
        .start()
        .map_or((0, 0), |(row, col)| (row as usize, col as usize));
    range
        .rows()
        .enumerate()
        .map(|(i, row)| {
            let mut problems = Vec::new();
            let cells = row
                .iter()
                .enumerate()
                .map(|(j, cell)| {
                    cell_text(cell).unwrap_or_else(|error| {
                        let at = format!("{}{}", column_name(first_col + j), first_row + i + 1);
                        problems.push(FieldProblem {
                            field: "row".into(),
                            message: format!("cell {at} holds {error}"),
                        });
                        String::new()
                    })
                })
                .collect();
            (cells, problems)
        })
        .collect()
}

/// A column's name as a spreadsheet shows it: A…Z, AA….
fn column_name(index: usize) -> String {
    let mut name = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        name.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    name.reverse();
    String::from_utf8_lossy(&name).into_owned()
}

fn cell_text(cell: &Data) -> Result<String, String> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        // A code or a year typed into a number cell comes back as a float.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
            }
        }
        Data::DateTime(dt) => dt.as_f64().to_string(),
        Data::Error(e) => return Err(format!("the Excel error {e}")),
    })
}

/// The distributions of a "Distribution" sheet by the (trimmed) dataset identifier they
/// name; empty when the workbook has none or it cannot be read, as it only adds detail.
fn distribution_sheet<R: Read + Seek>(
    book: &mut Xlsx<R>,
    sheets: &[String],
    datasets_sheet: &str,
) -> HashMap<String, Vec<Distribution>> {
    let mut by_dataset: HashMap<String, Vec<Distribution>> = HashMap::new();
    let Some(name) = sheets.iter().find(|name| {
        let key = header_key(name);
        name.as_str() != datasets_sheet
            && ["distribution", "resource", "phanphoi", "tainguyen"]
                .iter()
                .any(|n| key.contains(n))
    }) else {
        return by_dataset;
    };
    let Ok(range) = book.worksheet_range(name) else {
        return by_dataset;
    };
    let rows = sheet_rows(&range);
    let header = rows.iter().take(HEADER_SCAN_ROWS).position(|(cells, _)| {
        let layout = Layout::new(cells.clone());
        layout.has(Column::Identifier)
            && layout.columns.iter().flatten().any(|c| c.is_distribution())
    });
    let Some(header_at) = header else {
        return by_dataset;
    };
    let layout = Layout::new(rows[header_at].0.clone());
    for (cells, _) in rows.iter().skip(header_at + 1) {
        let row = layout.dataset(cells, Vec::new());
        if let (Some(id), Some(dist)) = (row.identifier, row.distributions.into_iter().next()) {
            by_dataset.entry(id).or_default().push(dist);
        }
    }
    by_dataset
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            std::fs::File::open(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/csv/",
                $name
            ))
            .unwrap()
        };
    }

    fn csv_all(bytes: &[u8]) -> Result<(CatalogSummary, Vec<Dataset>), CatalogError> {
        let mut all = Vec::new();
        let summary = parse_csv(bytes, |d| all.push(d))?;
        Ok((summary, all))
    }

    fn xlsx_all<R: Read + Seek>(reader: R) -> Result<(CatalogSummary, Vec<Dataset>), CatalogError> {
        let mut all = Vec::new();
        let summary = parse_xlsx(reader, |d| all.push(d))?;
        Ok((summary, all))
    }

    fn format_message(result: Result<(CatalogSummary, Vec<Dataset>), CatalogError>) -> String {
        match result {
            Err(CatalogError::Format { message, .. }) => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn headers_match_whatever_their_case_accents_and_punctuation() {
        use Column::*;
        let cases = [
            ("Tên cơ sở dữ liệu", Some(Title)),
            ("TÊN CSDL (*)", Some(Title)),
            ("ten_csdl", Some(Title)),
            // Decomposed (NFD), as macOS writes it.
            (
                "Te\u{302}n co\u{31b}\u{309} so\u{31b}\u{309} du\u{31b}\u{303} lie\u{302}\u{323}u",
                Some(Title),
            ),
            ("name", Some(Title)),
            ("Mã", Some(Identifier)),
            ("Mã CSDL", Some(Identifier)),
            ("identifier", Some(Identifier)),
            ("Mô tả", Some(Description)),
            ("Cơ quan quản lý", Some(Owner)),
            ("Đơn vị chủ quản", Some(Owner)),
            ("Cơ quan chủ quản", Some(Owner)),
            ("Loại CSDL", Some(DatabaseKind)),
            ("Loại cơ sở dữ liệu", Some(DatabaseKind)),
            ("database type", Some(DatabaseKind)),
            ("Lộ trình", Some(RoadmapStatus)),
            ("Trạng thái", Some(RoadmapStatus)),
            ("Tình trạng", Some(RoadmapStatus)),
            ("Thời gian hoàn thành", Some(RoadmapTarget)),
            ("Năm hoàn thành", Some(RoadmapTarget)),
            ("Thời hạn", Some(RoadmapTarget)),
            ("target date", Some(RoadmapTarget)),
            ("Chia sẻ qua", Some(SharedVia)),
            ("Nền tảng chia sẻ", Some(SharedVia)),
            ("LGSP/NDXP", Some(SharedVia)),
            ("Từ khóa", Some(Keywords)),
            ("tags", Some(Keywords)),
            ("Giấy phép", Some(License)),
            ("Tần suất cập nhật", Some(AccrualPeriodicity)),
            ("accrualPeriodicity", Some(AccrualPeriodicity)),
            ("Ngày cập nhật", Some(Modified)),
            ("last updated", Some(Modified)),
            ("Đường dẫn", Some(AccessUrl)),
            ("landing page", Some(AccessUrl)),
            ("downloadURL", Some(DownloadUrl)),
            ("Định dạng", Some(Format)),
            ("mediaType", Some(MediaType)),
            ("Đơn vị công bố", Some(Publisher)),
            ("Đầu mối liên hệ", Some(ContactPoint)),
            ("email", Some(ContactPoint)),
            ("Lĩnh vực", Some(Themes)),
            ("Chủ đề", Some(Themes)),
            // Project Open Data CSV, DC inventory, DCAT workbooks.
            ("hasEmail", Some(ContactPoint)),
            ("bureauCode", None),
            ("DATASET_NAME", Some(Title)),
            ("DATASET_CLASSIFICATION_NAME", Some(AccessLevel)),
            ("UPDATE_INTERVAL", Some(AccrualPeriodicity)),
            ("RECORD_ID", Some(Identifier)),
            ("OBJECTID", None),
            ("dataset_contactPoint_fn", Some(ContactPoint)),
            ("distribution_downloadURL", Some(DownloadUrl)),
            // A distribution's title is not the dataset's.
            ("distribution_title", None),
            ("STT", None),
            ("", None),
            ("(*)", None),
        ];
        for (header, expected) in cases {
            assert_eq!(field_for_header(header), expected, "{header:?}");
        }
    }

    #[test]
    fn the_synonym_table_is_folded_and_unambiguous() {
        for (i, (name, _)) in SYNONYMS.iter().enumerate() {
            assert_eq!(header_key(name), *name, "{name} is not in folded form");
            assert!(
                SYNONYMS[..i].iter().all(|(other, _)| other != name),
                "{name} appears twice"
            );
        }
    }

    #[test]
    fn a_vietnamese_list_with_a_title_and_numbered_columns() {
        let text = "DANH MỤC CƠ SỞ DỮ LIỆU CỦA UBND TỈNH,,,,,,,,,\n\
            ,,,,,,,,,\n\
            STT,Mã CSDL,Tên cơ sở dữ liệu,Mô tả,Cơ quan quản lý,Loại CSDL,Lộ trình,Thời gian hoàn thành,Chia sẻ qua,Từ khóa\n\
            (1),(2),(3),(4),(5),(6),(7),(8),(9),(10)\n\
            1,HT-01,Cơ sở dữ liệu hộ tịch,\"Hộ tịch, khai sinh, khai tử\",Sở Tư pháp,CSDL chuyên ngành,Đang vận hành,2023,LGSP,\"hộ tịch; khai sinh | khai tử\"\n\
            2,DD-02,Cơ sở dữ liệu đất đai,,Sở Tài nguyên và Môi trường,CSDL quốc gia,Đang xây dựng,2025-12-31,NDXP,\n";
        let (summary, all) = csv_all(text.as_bytes()).unwrap();
        assert_eq!(summary.datasets, 2);
        assert_eq!(all.len(), 2);
        let ht = &all[0];
        assert_eq!(ht.identifier.as_deref(), Some("HT-01"));
        assert_eq!(ht.title.as_deref(), Some("Cơ sở dữ liệu hộ tịch"));
        assert_eq!(
            ht.description.as_deref(),
            Some("Hộ tịch, khai sinh, khai tử")
        );
        // No publisher column: the managing agency publishes.
        assert_eq!(ht.publisher.as_deref(), Some("Sở Tư pháp"));
        assert_eq!(ht.database.owner.as_deref(), Some("Sở Tư pháp"));
        assert_eq!(ht.database.kind.as_deref(), Some("CSDL chuyên ngành"));
        assert_eq!(ht.database.roadmap_status.as_deref(), Some("Đang vận hành"));
        assert_eq!(ht.database.roadmap_target.as_deref(), Some("2023"));
        assert_eq!(ht.database.shared_via.as_deref(), Some("LGSP"));
        assert_eq!(ht.keywords, ["hộ tịch", "khai sinh", "khai tử"]);
        assert!(ht.problems.is_empty(), "{:?}", ht.problems);
        let dd = &all[1];
        assert_eq!(dd.description, None);
        assert_eq!(dd.database.roadmap_target.as_deref(), Some("2025-12-31"));
        assert!(dd.keywords.is_empty());
    }

    #[test]
    fn a_semicolon_list_with_a_byte_order_mark() {
        let text = "\u{feff}Mã;Tên CSDL;Đơn vị công bố;Cơ quan chủ quản;Ngày cập nhật;Đường dẫn\r\n\
            YT-1;Cơ sở y tế, bệnh viện;Sở Y tế;UBND tỉnh;2024-05-01;https://x/yt.csv\r\n\
            YT-2;\"Tiêm chủng; vắc xin\";Sở Y tế;UBND tỉnh;;\r\n";
        let (summary, all) = csv_all(text.as_bytes()).unwrap();
        assert_eq!(summary.datasets, 2);
        let yt = &all[0];
        // The mark is gone, so `Mã` is recognised.
        assert_eq!(yt.identifier.as_deref(), Some("YT-1"));
        assert_eq!(yt.title.as_deref(), Some("Cơ sở y tế, bệnh viện"));
        // A publisher column is there: the owner stays the owner.
        assert_eq!(yt.publisher.as_deref(), Some("Sở Y tế"));
        assert_eq!(yt.database.owner.as_deref(), Some("UBND tỉnh"));
        assert_eq!(yt.modified.as_deref(), Some("2024-05-01"));
        assert_eq!(
            yt.distributions[0].access_url.as_deref(),
            Some("https://x/yt.csv")
        );
        assert_eq!(all[1].title.as_deref(), Some("Tiêm chủng; vắc xin"));
        assert!(all[1].distributions.is_empty());
    }

    #[test]
    fn tabs_and_excels_separator_hint() {
        let (_, all) = csv_all("title\tidentifier\nA, B\ta\n".as_bytes()).unwrap();
        assert_eq!(all[0].title.as_deref(), Some("A, B"));
        let (_, all) = csv_all("sep=;\nMã;Tên\nA,1;Alpha\n".as_bytes()).unwrap();
        assert_eq!(all[0].identifier.as_deref(), Some("A,1"));
        assert_eq!(all[0].title.as_deref(), Some("Alpha"));
    }

    #[test]
    fn headers_that_name_nothing_are_an_error_in_both_languages() {
        let message = format_message(csv_all(
            "STT,Họ và tên,Ngày sinh\n1,Nguyễn Văn A,1990\n".as_bytes(),
        ));
        for part in [
            "\"Họ và tên\"",
            "\"Ngày sinh\"",
            "không tìm thấy cột",
            "no column names a title or an identifier",
            "\"Tên cơ sở dữ liệu\"",
            "\"title\"",
            "\"Mã CSDL\"",
            "\"identifier\"",
        ] {
            assert!(message.contains(part), "{part} not in {message}");
        }
        assert!(matches!(
            csv_all(b""),
            Err(CatalogError::Format { format: "CSV", .. })
        ));
    }

    #[test]
    fn ragged_and_empty_rows_are_lenient() {
        let text = "Mã,Tên CSDL,Mô tả\nA,Alpha\n\n,,\n  ,  \nB,Beta,desc,extra\nC,Gamma,ok\n";
        let (summary, all) = csv_all(text.as_bytes()).unwrap();
        assert_eq!(summary.datasets, 3);
        let ids: Vec<_> = all
            .iter()
            .map(|d| d.identifier.as_deref().unwrap())
            .collect();
        assert_eq!(ids, ["A", "B", "C"]);
        assert_eq!(all[0].problems.len(), 1);
        assert_eq!(all[0].problems[0].field, "row");
        assert_eq!(
            all[0].problems[0].message,
            "line 2 has 2 cells where the header has 3"
        );
        assert_eq!(all[1].description.as_deref(), Some("desc"));
        assert_eq!(
            all[1].problems[0].message,
            "line 6 has 4 cells where the header has 3"
        );
        assert!(all[2].problems.is_empty());
    }

    #[test]
    fn encodings_other_than_utf8() {
        // One stray Windows-1258 byte in a cell: read, and noted.
        let (_, all) = csv_all(b"Ma,Title\nA,caf\xe9\n").unwrap();
        assert_eq!(all[0].title.as_deref(), Some("caf\u{fffd}"));
        assert_eq!(all[0].problems[0].field, "Title");
        assert!(all[0].problems[0].message.contains("not UTF-8"));
        // A whole file in Windows-1258: the headers cannot be read.
        let message = format_message(csv_all(b"M\xe3,T\xean CSDL\nA,B\n"));
        assert!(message.contains("không phải UTF-8"), "{message}");
        assert!(message.contains("save it as \"CSV UTF-8\""), "{message}");
        // Excel's "Unicode Text".
        let message = format_message(csv_all(b"\xff\xfeM\x00a\x00"));
        assert!(message.contains("UTF-16"), "{message}");
    }

    /// The Project Open Data example: 3 datasets, checked by hand.
    #[test]
    fn reads_the_project_open_data_csv() {
        let mut all = Vec::new();
        let summary = parse_csv(fixture!("pod-v1.1_example_catalog-sample.csv"), |d| {
            all.push(d)
        })
        .unwrap();
        assert_eq!(summary.datasets, 3);
        let first = &all[0];
        assert_eq!(
            first.identifier.as_deref(),
            Some("http://dx.doi.org/10.7927/H4PZ56R2")
        );
        assert_eq!(
            first.title.as_deref(),
            Some("U.S. Widget Manufacturing Statistics")
        );
        // `fn` comes before `hasEmail`; the first filled in wins.
        assert_eq!(first.contact_point.as_deref(), Some("Jane Doe"));
        assert_eq!(first.keywords, ["widget", "manufacturing", "factory"]);
        assert_eq!(first.access_level.as_deref(), Some("public"));
        assert_eq!(first.modified.as_deref(), Some("2011-11-19T12:00:00Z"));
        assert!(
            first
                .publisher
                .as_deref()
                .unwrap()
                .starts_with("Widget Services,")
        );
        assert_eq!(
            first.distributions[0].download_url.as_deref(),
            Some("https://data.agency.gov/datasets/widgets-statistics/widgets.csv")
        );
        assert_eq!(
            first.distributions[0].media_type.as_deref(),
            Some("text/csv")
        );
        // The second has neither downloadURL nor mediaType.
        assert!(all[1].distributions.is_empty());
        assert_eq!(all[1].contact_point.as_deref(), Some("James Doe"));
        assert!(all.iter().all(|d| d.problems.is_empty()));
    }

    /// Washington DC's inventory: 1640 rows, all 19 cells wide, no empty row; 545 have
    /// DATE_LAST_MODIFIED and 773 DATASET_URL (counted with Python's csv module).
    #[test]
    fn reads_the_dc_enterprise_dataset_inventory() {
        let mut all = Vec::new();
        let summary = parse_csv(
            fixture!("us-dc_enterprise-dataset-inventory_2018-03-11.csv"),
            |d| all.push(d),
        )
        .unwrap();
        assert_eq!(summary.datasets, 1640);
        assert!(all.iter().all(|d| d.problems.is_empty()));
        assert_eq!(all.iter().filter(|d| d.modified.is_some()).count(), 545);
        assert_eq!(
            all.iter().filter(|d| !d.distributions.is_empty()).count(),
            773
        );
        let mut ids: Vec<_> = all.iter().filter_map(|d| d.identifier.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 1640);

        let first = &all[0];
        assert_eq!(first.identifier.as_deref(), Some("4570"));
        assert_eq!(first.title.as_deref(), Some("Programs and Outreach"));
        assert_eq!(first.publisher.as_deref(), Some("DC Public Library"));
        assert_eq!(first.database.owner.as_deref(), Some("DCPL"));
        assert_eq!(first.issued.as_deref(), Some("2018-03-11"));
        assert_eq!(
            first.access_level.as_deref(),
            Some("Public Not Proactively Released")
        );
        assert_eq!(first.themes, ["Public Services"]);
        assert_eq!(first.accrual_periodicity.as_deref(), Some("Yearly"));
        assert_eq!(
            first.keywords,
            [
                "public service",
                "Programs",
                "Outreach",
                "Story Time",
                "Technology",
                "Computer"
            ]
        );
        // The URL cell ends in a newline inside its quotes.
        assert_eq!(
            all[1].distributions[0].access_url.as_deref(),
            Some("https://www.dclibrary.org/godigital/all")
        );
        let last = &all[1639];
        assert_eq!(last.identifier.as_deref(), Some("6175"));
        assert_eq!(last.title.as_deref(), Some("Emergency Walkout Routes"));
        assert_eq!(last.access_level.as_deref(), Some("Open"));
    }

    /// Argentina's Ministry of Justice: sheets Catalog, Theme, Dataset (18 filled rows
    /// under the header, then 4 empty ones), Distribution (71 rows), Field, Notas.
    #[test]
    fn reads_a_dcat_workbook_with_a_distribution_sheet() {
        let (summary, all) = xlsx_all(fixture!("argentina-minjus_catalogo-justicia.xlsx")).unwrap();
        assert_eq!(summary.datasets, 18);
        let infoleg = &all[0];
        assert_eq!(
            infoleg.identifier.as_deref(),
            Some("d9a963ea-8b1d-4ca3-9dd9-07a4773e8c23")
        );
        assert_eq!(
            infoleg.title.as_deref(),
            Some("Base de datos legislativos Infoleg")
        );
        assert_eq!(infoleg.accrual_periodicity.as_deref(), Some("R/P1M"));
        assert_eq!(
            infoleg.license.as_deref(),
            Some("Open Data Commons Open Database License (ODbL)")
        );
        assert_eq!(infoleg.themes, ["informacion-juridica"]);
        assert_eq!(infoleg.keywords.len(), 7);
        assert_eq!(infoleg.keywords[1], "boletín oficial");
        // The landing page, then the sheet's 3 CSV files for this dataset.
        assert_eq!(infoleg.distributions.len(), 4);
        assert_eq!(
            infoleg.distributions[0].access_url.as_deref(),
            Some("http://datos.jus.gob.ar/dataset/base-de-datos-legislativos-infoleg")
        );
        assert!(
            infoleg.distributions[1..]
                .iter()
                .all(|d| d.format.as_deref() == Some("CSV") && d.download_url.is_some())
        );
        // Its identifier cell ends in a newline, and still finds its one distribution.
        let caj = &all[1];
        assert_eq!(
            caj.identifier.as_deref(),
            Some("9775fcdf-99b9-47f6-87ae-6d46cfd15b40")
        );
        assert_eq!(caj.distributions.len(), 2);
        // Every dataset has a landing page; the sheet has 71 distributions.
        let total: usize = all.iter().map(|d| d.distributions.len()).sum();
        assert_eq!(total, 18 + 71);
        assert!(all.iter().all(|d| d.problems.is_empty()));
    }

    #[test]
    fn reads_a_handmade_vietnamese_workbook() {
        let (summary, all) = xlsx_all(fixture!("handmade_danh-muc-csdl.xlsx")).unwrap();
        // The instructions sheet, title, blank, numbering and empty rows are all skipped.
        assert_eq!(summary.datasets, 2);
        let dc = &all[0];
        assert_eq!(dc.identifier.as_deref(), Some("CSDL-01"));
        assert_eq!(dc.title.as_deref(), Some("Cơ sở dữ liệu dân cư"));
        assert_eq!(dc.database.kind.as_deref(), Some("CSDL quốc gia"));
        assert_eq!(dc.database.owner.as_deref(), Some("Bộ Công an"));
        assert_eq!(dc.publisher.as_deref(), Some("Bộ Công an"));
        assert_eq!(dc.database.roadmap_status.as_deref(), Some("Đang vận hành"));
        assert_eq!(dc.database.roadmap_target.as_deref(), Some("2021"));
        assert_eq!(dc.database.shared_via.as_deref(), Some("NDXP"));
        assert_eq!(dc.modified.as_deref(), Some("2024-06-01"));
        assert_eq!(dc.keywords, ["dân cư", "căn cước"]);
        assert!(dc.problems.is_empty(), "{:?}", dc.problems);
        let land = &all[1];
        // A code typed as a number.
        assert_eq!(land.identifier.as_deref(), Some("42"));
        assert_eq!(land.modified, None);
        assert_eq!(land.problems.len(), 1);
        assert_eq!(
            land.problems[0].message,
            "cell I7 holds the Excel error #N/A"
        );
    }

    #[test]
    fn a_file_that_is_not_a_workbook_is_an_error() {
        let result = xlsx_all(Cursor::new(b"Ma,Title\nA,B\n".to_vec()));
        assert!(
            matches!(result, Err(CatalogError::Format { format: "XLSX", .. })),
            "{result:?}"
        );
    }

    #[test]
    fn column_names_run_past_z() {
        let names = [0, 8, 25, 26, 27, 701, 702].map(column_name);
        assert_eq!(names, ["A", "I", "Z", "AA", "AB", "ZZ", "AAA"]);
    }

    #[test]
    fn numbering_rows_are_told_from_data() {
        let row = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert!(is_numbering_row(&row(&["(1)", "(2)", "(3)", ""])));
        assert!(is_numbering_row(&row(&["1", "2", "3", "4"])));
        assert!(!is_numbering_row(&row(&["1", "2025", "3"])));
        assert!(!is_numbering_row(&row(&["1", "2"])));
        assert!(!is_numbering_row(&row(&["(1)", "Dân cư", "(3)"])));
    }
}
