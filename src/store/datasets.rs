//! The national catalog's rows: each agency's datasets as its last good harvest listed
//! them, and the search over them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Conn;
use super::schema::datasets;
use crate::catalog::national::{DatasetRecord, Records};

#[derive(Insertable)]
#[diesel(table_name = datasets)]
struct NewDataset<'a> {
    agency_code: &'a str,
    dataset_key: &'a str,
    identifier: Option<&'a str>,
    title: Option<&'a str>,
    publisher: Option<&'a str>,
    modified: Option<&'a str>,
    license: Option<&'a str>,
    keywords: String,
    formats: String,
    download_urls: String,
    landing_url: Option<&'a str>,
    search_text: String,
    harvested_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = datasets)]
struct DatasetRow {
    agency_code: String,
    dataset_key: String,
    identifier: Option<String>,
    title: Option<String>,
    publisher: Option<String>,
    modified: Option<String>,
    license: Option<String>,
    keywords: String,
    formats: String,
    download_urls: String,
    landing_url: Option<String>,
}

fn list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

impl DatasetRow {
    fn into_record(self) -> (String, DatasetRecord) {
        (
            self.agency_code,
            DatasetRecord {
                key: self.dataset_key,
                identifier: self.identifier,
                title: self.title,
                publisher: self.publisher,
                modified: self.modified,
                license: self.license,
                keywords: list(&self.keywords),
                formats: list(&self.formats),
                download_urls: list(&self.download_urls),
                landing_url: self.landing_url,
            },
        )
    }
}

/// What a search matches on: title, keywords and publisher, folded.
fn search_text(r: &DatasetRecord) -> String {
    let mut text = String::new();
    for part in r
        .title
        .iter()
        .chain(r.keywords.iter())
        .chain(r.publisher.iter())
        .chain(r.identifier.iter())
    {
        text.push_str(&crate::score::quality::fold(part));
        text.push('\n');
    }
    text
}

/// Applies one agency's harvest to its stored datasets.
pub(super) fn apply(
    conn: &mut Conn,
    code: &str,
    records: &Records,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let list = match records {
        Records::Keep => return Ok(()),
        Records::Replace(list) => {
            diesel::delete(datasets::table.filter(datasets::agency_code.eq(code))).execute(conn)?;
            list
        }
        Records::Upsert(list) => {
            for batch in list.chunks(500) {
                let keys: Vec<&str> = batch.iter().map(|r| r.key.as_str()).collect();
                diesel::delete(
                    datasets::table
                        .filter(datasets::agency_code.eq(code))
                        .filter(datasets::dataset_key.eq_any(keys)),
                )
                .execute(conn)?;
            }
            list
        }
    };
    let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<NewDataset<'_>> = list
        .iter()
        // One row per key, whatever the catalog repeats.
        .filter(|r| seen.insert(r.key.as_str()))
        .map(|r| NewDataset {
            agency_code: code,
            dataset_key: &r.key,
            identifier: r.identifier.as_deref(),
            title: r.title.as_deref(),
            publisher: r.publisher.as_deref(),
            modified: r.modified.as_deref(),
            license: r.license.as_deref(),
            keywords: json(&r.keywords),
            formats: json(&r.formats),
            download_urls: json(&r.download_urls),
            landing_url: r.landing_url.as_deref(),
            search_text: search_text(r),
            harvested_at: at,
        })
        .collect();
    // SQLite limits bound parameters per statement; 13 columns × 50 rows stays under it.
    for batch in rows.chunks(50) {
        super::per_backend!(conn, c => diesel::insert_into(datasets::table)
            .values(batch)
            .execute(c))?;
    }
    Ok(())
}

/// A search of the national catalog.
#[derive(Debug, Clone, Default)]
pub struct DatasetQuery {
    /// Words that must all appear in the title, keywords, publisher or identifier
    /// (diacritics and case ignored).
    pub text: Option<String>,
    /// Only these agencies (`None`: all).
    pub agencies: Option<Vec<String>>,
    /// A distribution format, any case (`csv`).
    pub format: Option<String>,
    /// The license, exactly as the catalog gives it.
    pub license: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// `%` and `_` match literally in a LIKE pattern once escaped with `\`.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The matching datasets (by agency, then key) and how many match in all.
pub fn search_datasets(
    conn: &mut Conn,
    q: &DatasetQuery,
) -> QueryResult<(i64, Vec<(String, DatasetRecord)>)> {
    let filtered = || {
        let mut query = datasets::table.into_boxed();
        if let Some(text) = &q.text {
            for word in crate::score::quality::fold(text).split_whitespace() {
                query = query.filter(
                    datasets::search_text
                        .like(format!("%{}%", like_escape(word)))
                        .escape('\\'),
                );
            }
        }
        if let Some(codes) = &q.agencies {
            query = query.filter(datasets::agency_code.eq_any(codes.clone()));
        }
        if let Some(format) = &q.format {
            let quoted = serde_json::to_string(&format.trim().to_uppercase()).unwrap_or_default();
            query = query.filter(
                datasets::formats
                    .like(format!("%{}%", like_escape(&quoted)))
                    .escape('\\'),
            );
        }
        if let Some(license) = &q.license {
            query = query.filter(datasets::license.eq(license.clone()));
        }
        query
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order((datasets::agency_code.asc(), datasets::dataset_key.asc()))
        .offset(q.offset.max(0))
        .limit(q.limit.max(0))
        .select(DatasetRow::as_select())
        .load(conn)?;
    Ok((
        total,
        rows.into_iter().map(DatasetRow::into_record).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn record(key: &str, title: &str) -> DatasetRecord {
        DatasetRecord {
            key: key.into(),
            identifier: Some(key.into()),
            title: Some(title.into()),
            formats: vec!["CSV".into()],
            ..DatasetRecord::default()
        }
    }

    #[tokio::test]
    async fn a_full_read_replaces_an_incremental_one_updates_and_a_failure_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!(
            "sqlite://{}",
            dir.path().join("t.sqlite").display()
        ))
        .unwrap();
        let titles = |q: DatasetQuery| {
            let store = store.clone();
            async move {
                let (total, rows) = store.run(move |c| search_datasets(c, &q)).await.unwrap();
                let titles: Vec<String> = rows.into_iter().filter_map(|(_, r)| r.title).collect();
                (total, titles)
            }
        };
        let all = || DatasetQuery {
            limit: 100,
            ..DatasetQuery::default()
        };
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let steps = [
            Records::Replace(vec![
                record("a", "Đất đai"),
                record("b", "Dân cư"),
                record("a", "again"),
            ]),
            Records::Replace(vec![record("a", "Đất đai"), record("c", "Giá 100%")]),
            Records::Upsert(vec![record("c", "Giá cả"), record("d", "Doanh nghiệp")]),
            Records::Keep,
        ];
        let expected: [&[&str]; 4] = [
            &["Đất đai", "Dân cư"],
            &["Đất đai", "Giá 100%"],
            &["Đất đai", "Giá cả", "Doanh nghiệp"],
            &["Đất đai", "Giá cả", "Doanh nghiệp"],
        ];
        for (step, want) in steps.into_iter().zip(expected) {
            store.run(move |c| apply(c, "X", &step, at)).await.unwrap();
            let (total, got) = titles(all()).await;
            assert_eq!(got, want);
            assert_eq!(total, want.len() as i64);
        }
        // Diacritics and case folded; LIKE's wildcards literal.
        let (_, got) = titles(DatasetQuery {
            text: Some("DAT dai".into()),
            ..all()
        })
        .await;
        assert_eq!(got, ["Đất đai"]);
        let (n, _) = titles(DatasetQuery {
            text: Some("%".into()),
            ..all()
        })
        .await;
        assert_eq!(n, 0);
        let (n, _) = titles(DatasetQuery {
            format: Some("csv".into()),
            agencies: Some(vec!["X".into()]),
            offset: 1,
            limit: 1,
            ..all()
        })
        .await;
        assert_eq!(n, 3);
    }
}
