//! CSV for people who open it in a spreadsheet: the findings download and the CSV report
//! both write through here.
//!
//! Catalog titles, URLs and messages come from third parties; a cell that a spreadsheet
//! would read as a formula (`=`, `+`, `-`, `@`, or a tab or carriage return before one) is
//! neutralised with a leading apostrophe, as OWASP advises. A cell that is a plain number
//! (`-3`, `+2.5`) is no formula and stays as it is, so columns of numbers still sum.

/// Excel reads a CSV as UTF-8, Vietnamese diacritics included, only after this mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The cell as a spreadsheet should see it: text, never a formula.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if risky && cell.trim().parse::<f64>().is_err() {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A whole CSV document: a byte-order mark, the header, then each row, every cell
/// neutralised.
pub fn csv<R, C>(header: &[&str], rows: R) -> Result<Vec<u8>, csv::Error>
where
    R: IntoIterator<Item = C>,
    C: IntoIterator,
    C::Item: AsRef<str>,
{
    let mut out = csv::Writer::from_writer(UTF8_BOM.to_vec());
    out.write_record(header)?;
    for row in rows {
        let cells: Vec<String> = row
            .into_iter()
            .map(|c| neutralise(c.as_ref()).into_owned())
            .collect();
        out.write_record(&cells)?;
    }
    out.into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        for risky in [
            "=1+1",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1)",
            "\t=x",
            "=HYPERLINK(\"http://x\")",
        ] {
            assert_eq!(neutralise(risky), format!("'{risky}"), "{risky}");
        }
        for plain in ["-3", "+2.5", "12", "", "a=b", "Sở Tài chính"] {
            assert_eq!(neutralise(plain), plain);
        }
    }

    #[test]
    fn a_document_starts_with_the_mark_and_quotes_what_needs_quoting() {
        let bytes = csv(&["a", "b"], [vec!["=x", "1, 2"], vec!["-1", "\"q\""]]).unwrap();
        assert!(bytes.starts_with(UTF8_BOM));
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert_eq!(text, "a,b\n'=x,\"1, 2\"\n-1,\"\"\"q\"\"\"\n");
    }
}
