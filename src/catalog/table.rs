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
fn base_letter(c: char) -> char {
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
        let better = best.as_ref().is_none_or(|(_, b)| layout.score() > b.score());
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

/// Under the header, many Vietnamese tables number their columns `(1) (2) (3)…`.
fn is_numbering_row(cells: &[String]) -> bool {
    let numbers: Vec<Option<u32>> = cells
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .map(|c| {
            let c = c.strip_prefix('(').and_then(|c| c.strip_suffix(')')).unwrap_or(c);
            c.parse().ok()
        })
        .collect();
    numbers.len() >= 2
        && numbers.iter().all(Option::is_some)
        && numbers.windows(2).all(|w| w[0] < w[1])
}

fn is_empty_row(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

/// Feeds the rows under the header to `each`, skipping empty rows and a numbering row.
struct RowSink<'a, F> {
    layout: &'a Layout,
    each: F,
    rows_seen: usize,
    datasets: usize,
}

impl<F: FnMut(Dataset)> RowSink<'_, F> {
    fn row(&mut self, cells: &[String], problems: Vec<FieldProblem>) -> Option<Dataset> {
        self.rows_seen += 1;
        if is_empty_row(cells) || (self.rows_seen == 1 && is_numbering_row(cells)) {
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
        rows_seen: 0,
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
    let best = [b',', b';', b'\t'].into_iter().rev().max_by_key(|d| score(*d));
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
        rows_seen: 0,
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
    let first_row = range.start().map_or(0, |(row, _)| row as usize);
    range
        .rows()
        .enumerate()
        .map(|(i, row)| {
            let mut problems = Vec::new();
            let cells = row
                .iter()
                .map(|cell| {
                    cell_text(cell).unwrap_or_else(|error| {
                        problems.push(FieldProblem {
                            field: "row".into(),
                            message: format!("row {} holds {error}", first_row + i + 1),
                        });
                        String::new()
                    })
                })
                .collect();
            (cells, problems)
        })
        .collect()
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
        layout.has(Column::Identifier) && layout.columns.iter().flatten().any(|c| c.is_distribution())
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
