//! Splits a JSON catalog into its records, so that each record is parsed from a slice.
//!
//! serde_json reading from an `io::Read` takes its input a byte at a time and copies every
//! string; reading from a slice scans strings in bulk and borrows them, roughly twice as
//! fast on catalogs, which are mostly strings. A catalog can be a gigabyte, so it cannot
//! be read into one slice; but its records are small. This module keeps the input in a
//! buffer a chunk at a time, and either lets the caller parse the next record where it
//! lies ([`Splitter::parse`], reading more when the record runs past the buffer), or finds
//! where a value begins and ends with a scan that only tracks strings and brackets and
//! hands its bytes over ([`Splitter::value`]).
//!
//! The scan checks only the structure it walks through (commas, colons, brackets around
//! the records); everything else is checked by the slice parser the caller runs on each
//! record. Anything unexpected makes it give up with [`Bail`] rather than describe the
//! problem: the caller then reads the document again with serde_json's streaming parser,
//! which names the first error with its line and column. So a well-formed catalog takes the
//! fast path, and a broken one gets exactly the same diagnosis as before.

use std::io::Read;

/// The fast path gave up; read the document the careful way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

/// How deep a record may nest before the fast path leaves it to the careful one, whose
/// recursion limit (128 levels, counted from the document's root) decides then.
pub const MAX_DEPTH: usize = 100;

/// Bytes read from the underlying reader at a time.
const CHUNK: usize = 1 << 20;

/// A buffered cursor over a JSON document that can hand out one whole value as a slice.
pub struct Splitter<R> {
    reader: R,
    buf: Vec<u8>,
    /// The next unread byte in `buf`; bytes before it are done with.
    pos: usize,
    /// Where the UTF-8 checked from `pos` ends ([`Splitter::text`]).
    checked: usize,
    eof: bool,
}

impl<R: Read> Splitter<R> {
    pub fn new(reader: R) -> Self {
        Splitter {
            reader,
            buf: Vec::with_capacity(CHUNK),
            pos: 0,
            checked: 0,
            eof: false,
        }
    }

    /// Reads more input after what is buffered, dropping the bytes before `pos` first.
    /// False at the end of the input.
    fn fill(&mut self) -> Result<bool, Bail> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.checked = self.checked.saturating_sub(self.pos);
            self.pos = 0;
        }
        // Appended into the buffer's spare room, which is not zeroed first.
        let read = match (&mut self.reader)
            .take(CHUNK as u64)
            .read_to_end(&mut self.buf)
        {
            Ok(n) => n,
            Err(_) => return Err(Bail),
        };
        if read == 0 {
            self.eof = true;
        }
        Ok(read > 0)
    }

    /// The next byte that is not JSON white space, without consuming it; `None` at the end.
    pub fn peek(&mut self) -> Result<Option<u8>, Bail> {
        loop {
            while let Some(&b) = self.buf.get(self.pos) {
                if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Consumes `byte`, the next one after white space, or gives up.
    pub fn expect(&mut self, byte: u8) -> Result<(), Bail> {
        if self.peek()? == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// Parses the next value (after white space) where it lies in the buffer, so that its
    /// bytes are not walked once to delimit it and again to parse it. `parse` reads one
    /// value from the start of the text it is given: what is buffered, as far as it is
    /// valid UTF-8. When the text ends inside the value, more is read and `parse` runs
    /// again from the value's start; at least as much again as was tried is read each time
    /// (and no less than a chunk), so a value is parsed about twice at worst, whatever its
    /// size. `None` when `parse` declines the value: it is still there, for
    /// [`Splitter::value`]. So is a number, `true`, `false` or `null`: with no closing
    /// mark, a parser would take one cut by the buffer's end for a whole one. Bytes that
    /// are not UTF-8 inside the value give up: the careful path names them.
    pub fn parse<T>(
        &mut self,
        mut parse: impl FnMut(&str) -> Attempt<T>,
    ) -> Result<Option<T>, Bail> {
        if !matches!(self.peek()?.ok_or(Bail)?, b'{' | b'[' | b'"') {
            return Ok(None);
        }
        loop {
            let text = self.text();
            let tried = text.len();
            match parse(text) {
                // The text goes on from `pos`: it must end the value on a character.
                Attempt::Took(value, len) if text.is_char_boundary(len) => {
                    self.pos += len;
                    return Ok(Some(value));
                }
                Attempt::Took(..) => return Err(Bail),
                Attempt::Declined => return Ok(None),
                Attempt::Short => {
                    let wanted = tried + tried.max(CHUNK);
                    while self.buf.len() - self.pos < wanted && self.fill()? {}
                    if self.text().len() == tried {
                        // The input ends inside the value, or is not UTF-8 there.
                        return Err(Bail);
                    }
                }
            }
        }
    }

    /// The buffer from `pos` on, as far as it is valid UTF-8. Each byte is checked once,
    /// as it first comes into the text: one pass of the standard library's check over
    /// the input, instead of serde_json checking each string it reads.
    fn text(&mut self) -> &str {
        if self.checked < self.pos {
            self.checked = self.pos;
        }
        if let Err(e) = std::str::from_utf8(&self.buf[self.checked..]) {
            // Up to bytes that are not UTF-8, or a character cut by the buffer's end.
            self.checked += e.valid_up_to();
        } else {
            self.checked = self.buf.len();
        }
        let checked = &self.buf[self.pos..self.checked];
        // SAFETY: `buf[pos..checked]` is valid UTF-8. Every byte in it was checked when it
        // joined, and validity holds across the joins: each check ended on a character
        // boundary (`valid_up_to`, or the end of valid bytes), and the next started there.
        // Wherever `pos` stops inside the checked text, it is on a character boundary:
        // `peek` and `expect` step over single ASCII bytes, `value` ends just after an
        // ASCII byte (a quote or bracket) or on one (a scalar's delimiter), and `parse`
        // moves it only to a boundary of the text. Past `checked`, the checking restarts
        // from `pos`. `fill` moves both down together when it drops the bytes before `pos`.
        unsafe { std::str::from_utf8_unchecked(checked) }
    }

    /// The bytes of the next value (after white space), consumed. They are only delimited
    /// here, not validated: parse them.
    pub fn value(&mut self) -> Result<&[u8], Bail> {
        let first = self.peek()?.ok_or(Bail)?;
        // `pos` stays on the value's first byte until the value is whole, and offsets are
        // relative to it: `fill` moves it to the buffer's start but keeps what follows.
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        let mut depth = usize::from(matches!(first, b'{' | b'['));
        let mut in_string = first == b'"';
        let mut at = 1;
        loop {
            let buf = &self.buf[self.pos..];
            let ended = if in_string {
                match scan_string(buf, at) {
                    Ok(end) if depth == 0 => Some(end),
                    Ok(end) => {
                        in_string = false;
                        at = end;
                        continue;
                    }
                    Err(resume) => {
                        at = resume;
                        None
                    }
                }
            } else if depth > 0 {
                match scan_structure(buf, at, &mut depth)? {
                    Scan::Closed(end) => Some(end),
                    Scan::OpensString(next) => {
                        in_string = true;
                        at = next;
                        continue;
                    }
                    Scan::NeedMore => {
                        at = buf.len();
                        None
                    }
                }
            } else {
                // A number, `true`, `false` or `null`: up to the next delimiter or the end.
                let delimiter = buf[at..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'));
                match delimiter {
                    Some(i) => Some(at + i),
                    None if self.eof => Some(buf.len()),
                    None => {
                        at = buf.len();
                        None
                    }
                }
            };
            if let Some(end) = ended {
                let start = self.pos;
                self.pos += end;
                return Ok(&self.buf[start..start + end]);
            }
            if !self.fill()? && !scalar {
                return Err(Bail);
            }
        }
    }
}

/// What a parser made of the bytes it was given ([`Splitter::parse`]).
pub enum Attempt<T> {
    /// A value, and how many bytes it took.
    Took(T, usize),
    /// The bytes ended inside the value.
    Short,
    /// Not a value this parser reads.
    Declined,
}

enum Scan {
    /// The value's closing bracket is at this offset minus one: the value ends here.
    Closed(usize),
    /// A string opens; scanning resumes inside it at this offset.
    OpensString(usize),
    /// The buffer ended first.
    NeedMore,
}

/// Walks brackets from `at`, outside strings, until the value closes or a string opens.
fn scan_structure(buf: &[u8], at: usize, depth: &mut usize) -> Result<Scan, Bail> {
    for (i, &b) in buf[at..].iter().enumerate() {
        match b {
            b'"' => return Ok(Scan::OpensString(at + i + 1)),
            b'{' | b'[' => {
                *depth += 1;
                if *depth > MAX_DEPTH {
                    return Err(Bail);
                }
            }
            b'}' | b']' => {
                *depth -= 1;
                if *depth == 0 {
                    return Ok(Scan::Closed(at + i + 1));
                }
            }
            _ => {}
        }
    }
    Ok(Scan::NeedMore)
}

/// `Ok` with the offset just past the quote that closes the string being scanned from
/// `at`, or `Err` with where to resume once more input is buffered. An escape never ends a
/// string.
fn scan_string(buf: &[u8], mut at: usize) -> Result<usize, usize> {
    loop {
        let Some(i) = buf
            .get(at..)
            .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
        else {
            return Err(at.max(buf.len()));
        };
        let i = at + i;
        if buf[i] == b'"' {
            return Ok(i + 1);
        }
        // Skip the escaped character (a `u` escape's hex digits need no care).
        at = i + 2;
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use std::io::Read;

    /// A reader that hands out at most `step` bytes per read, so values straddle refills.
    pub struct Trickle<'a> {
        pub bytes: &'a [u8],
        pub step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use testing::Trickle;

    fn values(text: &str, step: usize) -> Result<Vec<String>, Bail> {
        let mut s = Splitter::new(Trickle {
            bytes: text.as_bytes(),
            step,
        });
        let mut out = Vec::new();
        s.expect(b'[')?;
        loop {
            out.push(String::from_utf8_lossy(s.value()?).into_owned());
            if s.peek()? == Some(b',') {
                s.expect(b',')?;
            } else {
                s.expect(b']')?;
                return Ok(out);
            }
        }
    }

    /// A parser for [`Splitter::parse`]: serde_json reading one value from the start.
    fn one_value(rest: &str) -> Attempt<String> {
        let mut values =
            serde_json::Deserializer::from_str(rest).into_iter::<serde::de::IgnoredAny>();
        match values.next() {
            Some(Ok(_)) => {
                let len = values.byte_offset();
                Attempt::Took(rest[..len].to_string(), len)
            }
            Some(Err(e)) if e.is_eof() => Attempt::Short,
            _ => Attempt::Declined,
        }
    }

    #[test]
    fn values_parsed_in_place_are_the_values_delimited() {
        let text =
            r#"[ {"a":"}]\"\\","b":[1,{"c":null}]} , "x\"]" ,[[]], {"d":"é"},12.5e3,true,null ]"#;
        for step in 1..=text.len() {
            let mut s = Splitter::new(Trickle {
                bytes: text.as_bytes(),
                step,
            });
            let mut out = Vec::new();
            s.expect(b'[').unwrap();
            loop {
                // Scalars have no closing mark: left to `value`.
                match s.parse(one_value).unwrap() {
                    Some(v) => out.push(v),
                    None => out.push(String::from_utf8_lossy(s.value().unwrap()).into_owned()),
                }
                if s.peek().unwrap() == Some(b',') {
                    s.expect(b',').unwrap();
                } else {
                    s.expect(b']').unwrap();
                    break;
                }
            }
            assert_eq!(out, values(text, step).unwrap(), "step {step}");
        }
    }

    #[test]
    fn a_value_larger_than_the_buffer_is_parsed_a_few_times_not_once_a_refill() {
        let text = format!("[\"{}\"]", "a".repeat(5 * CHUNK));
        let mut s = Splitter::new(Trickle {
            bytes: text.as_bytes(),
            step: 4096,
        });
        s.expect(b'[').unwrap();
        let (mut attempts, mut bytes_tried) = (0, 0);
        let value = s
            .parse(|rest| {
                attempts += 1;
                bytes_tried += rest.len();
                one_value(rest)
            })
            .unwrap()
            .unwrap();
        assert_eq!(value.len(), 5 * CHUNK + 2);
        // Twice as much buffered at each try: a handful of tries, about twice the bytes.
        assert!(attempts <= 5, "{attempts} attempts");
        assert!(bytes_tried <= 3 * value.len(), "{bytes_tried} bytes tried");
    }

    #[test]
    fn a_value_cut_off_by_the_end_of_input_gives_up_and_a_declined_one_stays() {
        let mut s = Splitter::new(r#"["abc"#.as_bytes());
        s.expect(b'[').unwrap();
        assert_eq!(s.parse(one_value).err(), Some(Bail));
        let mut s = Splitter::new(r#"[nul, 1]"#.as_bytes());
        s.expect(b'[').unwrap();
        assert_eq!(s.parse(one_value), Ok(None));
        assert_eq!(s.value(), Ok(&b"nul"[..]));
    }

    #[test]
    fn values_are_delimited_by_brackets_outside_strings() {
        let text = r#"[ {"a":"}]\"\\","b":[1,{"c":null}]} , "x\"]" ,12.5e3,true,null,[[]] ]"#;
        let expected = vec![
            r#"{"a":"}]\"\\","b":[1,{"c":null}]}"#,
            r#""x\"]""#,
            "12.5e3",
            "true",
            "null",
            "[[]]",
        ];
        // Every refill boundary, an escape split from what it escapes included.
        for step in 1..=text.len() {
            assert_eq!(values(text, step).unwrap(), expected, "step {step}");
        }
    }

    #[test]
    fn an_unclosed_value_or_a_missing_separator_gives_up() {
        for text in [
            r#"[{"a":1}"#,
            r#"[{"a":"1}]"#,
            r#"[{"a":1} {"b":2}]"#,
            r#"[1 2]"#,
            "[",
            "",
        ] {
            for step in [1, 3, 1 << 20] {
                assert_eq!(values(text, step), Err(Bail), "{text:?} step {step}");
            }
        }
    }

    #[test]
    fn a_record_nested_deeper_than_the_limit_is_left_to_the_careful_path() {
        let deep = format!(
            "[{}{}]",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(values(&deep, 1 << 20), Err(Bail));
        let ok = format!("[{}{}]", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(values(&ok, 7).unwrap().len(), 1);
    }

    #[test]
    fn a_read_error_gives_up() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk gone"))
            }
        }
        assert_eq!(Splitter::new(Failing).peek(), Err(Bail));
    }
}
