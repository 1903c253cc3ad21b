//! The simulated agencies' catalogs, written in every format dtindex reads.
//!
//! One neutral [`SimRecord`] per dataset, rendered as data.json, a CKAN package, DCAT
//! Turtle, DCAT JSON-LD or a row of a Decree 47 CSV list, so that the same federation can
//! be published in any of them and must score the same whichever is used.

use serde_json::{Value, json};

/// A dataset as the simulator thinks of it; `None` is a field the agency left out.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRecord {
    pub identifier: String,
    pub title: String,
    pub description: Option<String>,
    pub keyword: Option<String>,
    pub theme: Option<String>,
    pub modified: Option<String>,
    pub periodicity: Option<String>,
    pub spatial: Option<String>,
    pub temporal: Option<String>,
    pub publisher: Option<String>,
    pub contact: Option<String>,
    pub license: Option<String>,
    pub download_url: Option<String>,
    /// Further distributions (a benchmark's several links per dataset); data.json only.
    pub more_downloads: Vec<String>,
}

pub fn datajson(records: &[SimRecord]) -> String {
    let datasets: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut d = json!({ "@type": "dcat:Dataset", "identifier": r.identifier, "title": r.title, "accessLevel": "public" });
            let o = d.as_object_mut().expect("an object");
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    o.insert(k.into(), v);
                }
            };
            put("description", r.description.clone().map(Value::from));
            put("keyword", r.keyword.clone().map(|k| json!([k])));
            put("theme", r.theme.clone().map(|t| json!([t])));
            put("modified", r.modified.clone().map(Value::from));
            put("accrualPeriodicity", r.periodicity.clone().map(Value::from));
            put("spatial", r.spatial.clone().map(Value::from));
            put("temporal", r.temporal.clone().map(Value::from));
            put("publisher", r.publisher.clone().map(|n| json!({ "@type": "org:Organization", "name": n })));
            put(
                "contactPoint",
                r.contact
                    .clone()
                    .map(|n| json!({ "@type": "vcard:Contact", "fn": n, "hasEmail": "mailto:dulieu@example.gov.vn" })),
            );
            put("license", r.license.clone().map(Value::from));
            let distributions: Vec<Value> = r
                .download_url
                .iter()
                .chain(&r.more_downloads)
                .map(|u| json!({ "@type": "dcat:Distribution", "downloadURL": u, "mediaType": "text/csv" }))
                .collect();
            put("distribution", (!distributions.is_empty()).then(|| Value::from(distributions)));
            d
        })
        .collect();
    let doc = json!({
        "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld",
        "@type": "dcat:Catalog",
        "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
        "dataset": datasets,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// One CKAN package dict.
pub fn ckan_package(r: &SimRecord) -> Value {
    json!({
        "id": r.identifier,
        "name": r.identifier,
        "title": r.title,
        "notes": r.description,
        "metadata_modified": r.modified.as_ref().map(|m| format!("{m}T00:00:00.000000")),
        "organization": r.publisher.as_ref().map(|p| json!({ "name": "org", "title": p })),
        "maintainer": r.contact,
        "spatial_text": r.spatial,
        "temporal": r.temporal,
        "tags": r.keyword.iter().map(|k| json!({ "name": k, "display_name": k })).collect::<Vec<_>>(),
        "groups": r.theme.iter().map(|t| json!({ "name": t, "title": t })).collect::<Vec<_>>(),
        "license_url": r.license,
        "extras": r.periodicity.iter().map(|p| json!({ "key": "frequency", "value": p })).collect::<Vec<_>>(),
        "resources": r.download_url.iter().map(|u| json!({ "url": u, "format": "CSV", "mimetype": "text/csv" })).collect::<Vec<_>>(),
        "private": false,
    })
}

/// A `package_search` answer: rows `start..start+rows` of `records`.
pub fn ckan_search(records: &[SimRecord], start: usize, rows: usize) -> String {
    let page: Vec<Value> = records
        .iter()
        .skip(start)
        .take(rows)
        .map(ckan_package)
        .collect();
    serde_json::to_string(&json!({
        "help": "package_search",
        "success": true,
        "result": { "count": records.len(), "results": page, "sort": "metadata_modified asc", "facets": {} },
    }))
    .unwrap_or_default()
}

/// A Turtle literal, escaped.
fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A page of a DCAT catalog in Turtle, with `hydra:next` when more pages follow.
pub fn turtle(base: &str, records: &[SimRecord], next: Option<&str>) -> String {
    let mut out = String::from(
        "@prefix dcat: <http://www.w3.org/ns/dcat#> .\n@prefix dct: <http://purl.org/dc/terms/> .\n\
         @prefix foaf: <http://xmlns.com/foaf/0.1/> .\n@prefix vcard: <http://www.w3.org/2006/vcard/ns#> .\n\
         @prefix hydra: <http://www.w3.org/ns/hydra/core#> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\n",
    );
    out.push_str(&format!("<{base}#catalog> a dcat:Catalog"));
    for r in records {
        out.push_str(&format!(" ;\n    dcat:dataset <{base}#{}>", r.identifier));
    }
    out.push_str(" .\n");
    if let Some(next) = next {
        out.push_str(&format!(
            "<{base}> a hydra:PartialCollectionView ; hydra:next <{next}> .\n"
        ));
    }
    for r in records {
        out.push_str(&format!(
            "\n<{base}#{}> a dcat:Dataset ;\n    dct:identifier {} ;\n    dct:title {}@vi",
            r.identifier,
            lit(&r.identifier),
            lit(&r.title)
        ));
        if let Some(v) = &r.description {
            out.push_str(&format!(" ;\n    dct:description {}@vi", lit(v)));
        }
        if let Some(v) = &r.keyword {
            out.push_str(&format!(" ;\n    dcat:keyword {}@vi", lit(v)));
        }
        if let Some(v) = &r.theme {
            out.push_str(&format!(" ;\n    dcat:theme {}", lit(v)));
        }
        if let Some(v) = &r.modified {
            out.push_str(&format!(" ;\n    dct:modified \"{v}\"^^xsd:date"));
        }
        if let Some(v) = &r.periodicity {
            out.push_str(&format!(" ;\n    dct:accrualPeriodicity {}", lit(v)));
        }
        if let Some(v) = &r.spatial {
            out.push_str(&format!(" ;\n    dct:spatial {}@vi", lit(v)));
        }
        if let Some(v) = &r.temporal {
            out.push_str(&format!(" ;\n    dct:temporal {}", lit(v)));
        }
        if let Some(v) = &r.publisher {
            out.push_str(&format!(
                " ;\n    dct:publisher [ a foaf:Agent ; foaf:name {} ]",
                lit(v)
            ));
        }
        if let Some(v) = &r.contact {
            out.push_str(&format!(
                " ;\n    dcat:contactPoint [ a vcard:Kind ; vcard:fn {} ; vcard:hasEmail <mailto:dulieu@example.gov.vn> ]",
                lit(v)
            ));
        }
        if let Some(v) = &r.license {
            out.push_str(&format!(" ;\n    dct:license <{v}>"));
        }
        if let Some(v) = &r.download_url {
            out.push_str(&format!(
                " ;\n    dcat:distribution [ a dcat:Distribution ; dcat:downloadURL <{v}> ; dcat:mediaType <http://www.iana.org/assignments/media-types/text/csv> ]"
            ));
        }
        out.push_str(" .\n");
    }
    out
}

/// The whole catalog as DCAT JSON-LD, with an inline context and an `@graph`.
pub fn jsonld(base: &str, records: &[SimRecord]) -> String {
    let graph: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut d = json!({
                "@id": format!("{base}#{}", r.identifier),
                "@type": "dcat:Dataset",
                "dct:identifier": r.identifier,
                "dct:title": { "@value": r.title, "@language": "vi" },
            });
            let o = d.as_object_mut().expect("an object");
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    o.insert(k.into(), v);
                }
            };
            put(
                "dct:description",
                r.description
                    .clone()
                    .map(|v| json!({ "@value": v, "@language": "vi" })),
            );
            put("dcat:keyword", r.keyword.clone().map(Value::from));
            put("dcat:theme", r.theme.clone().map(Value::from));
            put(
                "dct:modified",
                r.modified
                    .clone()
                    .map(|v| json!({ "@value": v, "@type": "xsd:date" })),
            );
            put(
                "dct:accrualPeriodicity",
                r.periodicity.clone().map(Value::from),
            );
            put("dct:spatial", r.spatial.clone().map(Value::from));
            put("dct:temporal", r.temporal.clone().map(Value::from));
            put(
                "dct:publisher",
                r.publisher
                    .clone()
                    .map(|n| json!({ "@type": "foaf:Agent", "foaf:name": n })),
            );
            put(
                "dcat:contactPoint",
                r.contact
                    .clone()
                    .map(|n| json!({ "@type": "vcard:Kind", "vcard:fn": n })),
            );
            put(
                "dct:license",
                r.license.clone().map(|l| json!({ "@id": l })),
            );
            put(
                "dcat:distribution",
                r.download_url.clone().map(
                    |u| json!({ "@type": "dcat:Distribution", "dcat:downloadURL": { "@id": u },
                        "dcat:mediaType": { "@id": "http://www.iana.org/assignments/media-types/text/csv" } }),
                ),
            );
            d
        })
        .collect();
    let mut all = vec![json!({
        "@id": format!("{base}#catalog"),
        "@type": "dcat:Catalog",
        "dcat:dataset": records.iter().map(|r| json!({ "@id": format!("{base}#{}", r.identifier) })).collect::<Vec<_>>(),
    })];
    all.extend(graph);
    serde_json::to_string_pretty(&json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "vcard": "http://www.w3.org/2006/vcard/ns#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@graph": all,
    }))
    .unwrap_or_default()
}

/// The Decree 47 list of databases: Vietnamese headers, one row per database.
const LIST_HEADERS: [&str; 14] = [
    "Mã CSDL",
    "Tên cơ sở dữ liệu",
    "Mô tả",
    "Cơ quan quản lý",
    "Đầu mối liên hệ",
    "Từ khóa",
    "Lĩnh vực",
    "Ngày cập nhật",
    "Tần suất cập nhật",
    "Phạm vi địa lý",
    "Phạm vi thời gian",
    "Giấy phép",
    "Đường dẫn",
    "Định dạng",
];

fn list_row(r: &SimRecord) -> [String; 14] {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        r.identifier.clone(),
        r.title.clone(),
        o(&r.description),
        o(&r.publisher),
        o(&r.contact),
        o(&r.keyword),
        o(&r.theme),
        o(&r.modified),
        o(&r.periodicity),
        o(&r.spatial),
        o(&r.temporal),
        o(&r.license),
        o(&r.download_url),
        r.download_url
            .as_ref()
            .map(|_| "text/csv".to_string())
            .unwrap_or_default(),
    ]
}

/// The list as CSV.
pub fn csv(records: &[SimRecord]) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(LIST_HEADERS);
    for r in records {
        let _ = w.write_record(list_row(r));
    }
    w.into_inner()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The list as an XLSX workbook, under a title block as agencies' spreadsheets often are.
pub fn xlsx(records: &[SimRecord], agency: &str) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    // A fixed creation time, not the clock's: the same list gives the same bytes, so an
    // unchanged catalog reads as unchanged (and two crawls of it compare equal).
    let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2025, 7, 1)?;
    book.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    let sheet = book.add_worksheet();
    sheet.set_name("Danh mục CSDL")?;
    sheet.write_string(0, 0, format!("Danh mục cơ sở dữ liệu — {agency}"))?;
    for (col, h) in LIST_HEADERS.iter().enumerate() {
        sheet.write_string(2, col as u16, *h)?;
    }
    for (row, r) in records.iter().enumerate() {
        for (col, cell) in list_row(r).iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string(3 + row as u32, col as u16, cell)?;
            }
        }
    }
    book.save_to_buffer()
}
