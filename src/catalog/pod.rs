//! The fast path for one data.json record: its bytes read straight into a borrowed, typed
//! record, and the POD v1.1 schema decided by hand-checks where they can decide.
//!
//! Building a `serde_json::Value` per record, then moving it field by field into a
//! [`Dataset`], and walking the tree again with the JSON Schema validator (whose date and
//! duration patterns need `fancy_regex`) cost more than the parse itself. Most records in
//! real catalogs are ordinary: strings where strings belong, dates as `YYYY-MM-DD`, plain
//! `https://` URLs. For those, [`Reader::dataset`] gives the same [`Dataset`] as
//! `datajson::dataset_from_record` would, without a tree ([`Reader`]).
//!
//! It is deliberately one-sided. The typed read accepts only the shapes the lenient mapping
//! takes without a finding of its own; anything else (a wrong type, a duplicate key) returns
//! `None`, and the caller takes the full path, which describes the record as before. The
//! schema is decided member by member: each hand-check accepts a subset of what the
//! schema's keyword accepts, never more, and a member it does not accept (an unusual date,
//! a value the schema rejects) goes to the validator, which sees only those members (see
//! [`Reader::schema_check`]). So the verdicts and the errors cannot differ; the tests hold the two
//! paths to the same answer on valid, mutated and damaged records.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{
    self, Deserialize, DeserializeSeed as _, Deserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::Value;

use super::records::{Attempt, MAX_DEPTH};
use super::{Dataset, Distribution, FieldProblem, SchemaCheck, datajson};

/// The schemas' names, as the full check reports them.
pub const FEDERAL: &str = "DCAT-US v1.1 (federal)";
pub const NON_FEDERAL: &str = "DCAT-US v1.1 (non-federal)";

/// Reads one catalog's records the fast way. It remembers the validator's verdicts on the
/// members it was shown: the records of one catalog break the schema in the same few ways
/// (the CDC's: 197 `accrualPeriodicity` of `Weekly`, 160 records without `keyword`), so
/// most of those verdicts are asked for again.
#[derive(Debug, Default)]
pub struct Reader {
    verdicts: HashMap<String, SchemaCheck>,
}

/// How many verdicts a [`Reader`] keeps, and the longest members it keeps them for: a
/// bound on the memory a catalog of a million different breakages can take. A verdict's
/// messages quote the members, so each costs up to ~15 KiB: 4 MiB at most, against the
/// 150 MB a 1 GB catalog may take. The CDC's 550 undecided records need 236.
const VERDICTS_KEPT: usize = 256;
const VERDICT_KEY_MAX: usize = 2048;

impl Reader {
    /// Reads the record at the start of `rest` (the buffered text from a record's first
    /// byte on, [`Splitter::parse`]) as a [`Dataset`] with its schema check. Declined when the
    /// full path must read it (see the module's documentation).
    ///
    /// [`Splitter::parse`]: super::records::Splitter::parse
    pub fn read(&mut self, rest: &str) -> Attempt<Dataset> {
        let mut records = serde_json::Deserializer::from_str(rest).into_iter::<Object<Record>>();
        let record = match records.next() {
            Some(Ok(Object(record))) => record,
            Some(Err(e)) if e.is_eof() => return Attempt::Short,
            _ => return Attempt::Declined,
        };
        let len = records.byte_offset();
        let Some(schema) = self.schema_check(&rest[..len], &record) else {
            return Attempt::Declined;
        };
        match record.into_dataset() {
            Some(mut dataset) => {
                dataset.schema = Some(schema);
                Attempt::Took(dataset, len)
            }
            None => Attempt::Declined,
        }
    }

    /// The record's schema check. When every member passes its hand-check, the record is
    /// valid. Otherwise the validator runs on a record of the members that did not pass,
    /// read again from `text`, and stand-ins for the required members that did: each
    /// member is validated on its own (the schemas have only `properties`, `required` and
    /// `type` at the top), so the validator reports exactly what it would on the whole
    /// record, in the same order, without walking the members already known to be valid.
    /// `None` when `text` cannot be read again as an object (the full path then describes
    /// it).
    fn schema_check(&mut self, text: &str, r: &Record) -> Option<SchemaCheck> {
        let (schema, checks) = member_checks(r);
        let undecided: Vec<&str> = checks
            .iter()
            .filter(|(_, ok)| !ok)
            .map(|(key, _)| *key)
            .collect();
        if undecided.is_empty() {
            return Some(SchemaCheck {
                schema,
                ..SchemaCheck::default()
            });
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let mut members = Members(&undecided).deserialize(&mut de).ok()?;
        // The schema, the members left undecided (absent ones too: a required member
        // that is missing gets no stand-in) and the values shown decide the verdict.
        let key = format!(
            "{schema}\n{}\n{}",
            undecided.join(","),
            serde_json::to_string(&members).ok()?
        );
        if let Some(check) = self.verdicts.get(&key) {
            return Some(check.clone());
        }
        for (name, ok) in checks {
            if ok
                && datajson::required(schema).iter().any(|k| k == name)
                && let Some(stand_in) = STAND_INS.get(name)
            {
                members.insert(name.to_string(), stand_in.clone());
            }
        }
        let check = datajson::check_members(&Value::Object(members));
        if check.schema != schema {
            return None;
        }
        if self.verdicts.len() < VERDICTS_KEPT && key.len() <= VERDICT_KEY_MAX {
            self.verdicts.insert(key, check.clone());
        }
        Some(check)
    }
}

/// A JSON string, borrowed from the record's bytes unless it had escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A member of an object: absent, `null`, or a value of the expected type. The schema
/// tells absent from `null` (a required member, or one whose type excludes null).
#[derive(Debug, Default)]
enum Field<T> {
    #[default]
    Absent,
    Null,
    Is(T),
}

impl<T> Field<T> {
    fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    /// Absent or `null`: what the schema allows for a nullable, optional member.
    fn is_empty(&self) -> bool {
        !matches!(self, Field::Is(_))
    }

    fn value(&self) -> Option<&T> {
        match self {
            Field::Is(v) => Some(v),
            _ => None,
        }
    }

    /// Absent, or present and passing `ok`: an optional member whose type excludes null.
    fn absent_or(&self, ok: impl FnOnce(&T) -> bool) -> bool {
        match self {
            Field::Absent => true,
            Field::Null => false,
            Field::Is(v) => ok(v),
        }
    }

    /// Absent, `null`, or passing `ok`: an optional, nullable member.
    fn empty_or(&self, ok: impl FnOnce(&T) -> bool) -> bool {
        self.value().is_none_or(ok)
    }

    /// Present and passing `ok`: a required member.
    fn is_and(&self, ok: impl FnOnce(&T) -> bool) -> bool {
        self.value().is_some_and(ok)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Field::Null,
            Some(v) => Field::Is(v),
        })
    }
}

/// A JSON object, and only an object: serde's derived structs would also take an array
/// positionally, which the full path maps differently.
struct Object<T>(T);

impl<'de, T: FromMap<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: FromMap<'de>> Visitor<'de> for V<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let _level = Nesting::enter()?;
                T::from_map(map).map(Object)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

trait FromMap<'de>: Sized {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// Any JSON value, checked as the full path's `Value` parse checks it (numbers in range
/// included, which `IgnoredAny` does not check) but not kept.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        let _level = Nesting::enter()?;
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        let _level = Nesting::enter()?;
        while map.next_entry::<Str, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// One level of objects or arrays the typed read is inside. A record nested deeper than
/// the splitter's limit must be declined, as the splitter bails on it: the careful path
/// counts its recursion limit from the document's root, and decides such a record. Only
/// the typed read's objects and skipped values are counted: its arrays hold strings or
/// objects, so a record is at most one level deeper than the count (the `distribution`
/// array), and the count stops one short of the limit.
struct Nesting;

thread_local! {
    static NESTING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Nesting {
    fn enter<E: de::Error>() -> Result<Nesting, E> {
        let depth = NESTING.get() + 1;
        if depth >= MAX_DEPTH {
            return Err(E::custom("nested deeper than the fast path reads"));
        }
        NESTING.set(depth);
        Ok(Nesting)
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        NESTING.set(NESTING.get() - 1);
    }
}

/// A distribution's `byteSize` as the lenient mapping reads it: a whole number, or a
/// string holding one; anything else (checked, as `Skip` checks it) is no size.
struct ByteSize(Option<u64>);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ByteSize, E> {
                Ok(ByteSize(None))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ByteSize, E> {
                Ok(ByteSize(u64::try_from(n).ok()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(Some(n)))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ByteSize, E> {
                Ok(ByteSize(None))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ByteSize, E> {
                Ok(ByteSize(s.trim().parse().ok()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ByteSize, A::Error> {
                Skip.visit_seq(seq).map(|_| ByteSize(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ByteSize, A::Error> {
                Skip.visit_map(map).map(|_| ByteSize(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Declares a typed object and reads it from a map: each listed key into its field, a
/// duplicate listed key refused (the full path keeps the last; leave that to it), any
/// other key's value checked and dropped.
macro_rules! typed_object {
    ($name:ident { $($field:ident: $ty:ty = $key:literal),* $(,)? }) => {
        #[derive(Default)]
        struct $name<'a> {
            $($field: $ty,)*
            _borrowed: std::marker::PhantomData<&'a str>,
        }

        impl $name<'_> {
            /// The members read into fields; the tests hold these to the schema's.
            #[cfg(test)]
            const KEYS: &'static [&'static str] = &[$($key),*];
        }

        impl<'de> FromMap<'de> for $name<'de> {
            fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
                let mut out = Self::default();
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    match &*key {
                        $($key => {
                            if !out.$field.is_absent() {
                                return Err(de::Error::custom("a duplicate key"));
                            }
                            out.$field = map.next_value()?;
                        })*
                        _ => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
    };
}

type Text<'a> = Field<Str<'a>>;
type Texts<'a> = Field<Vec<Str<'a>>>;

typed_object!(Record {
    kind: Text<'a> = "@type",
    identifier: Text<'a> = "identifier",
    title: Text<'a> = "title",
    description: Text<'a> = "description",
    spatial: Text<'a> = "spatial",
    temporal: Text<'a> = "temporal",
    issued: Text<'a> = "issued",
    modified: Text<'a> = "modified",
    accrual_periodicity: Text<'a> = "accrualPeriodicity",
    license: Text<'a> = "license",
    access_level: Text<'a> = "accessLevel",
    rights: Text<'a> = "rights",
    publisher: Field<Object<Organization<'a>>> = "publisher",
    contact_point: Field<Object<Contact<'a>>> = "contactPoint",
    keyword: Texts<'a> = "keyword",
    theme: Texts<'a> = "theme",
    distribution: Field<Vec<Object<Dist<'a>>>> = "distribution",
    bureau_code: Texts<'a> = "bureauCode",
    program_code: Texts<'a> = "programCode",
    landing_page: Text<'a> = "landingPage",
    described_by: Text<'a> = "describedBy",
    described_by_type: Text<'a> = "describedByType",
    conforms_to: Text<'a> = "conformsTo",
    data_quality: Field<bool> = "dataQuality",
    language: Texts<'a> = "language",
    primary_it_investment_uii: Text<'a> = "primaryITInvestmentUII",
    references: Texts<'a> = "references",
    system_of_records: Text<'a> = "systemOfRecords",
    is_part_of: Text<'a> = "isPartOf",
});

typed_object!(Organization {
    kind: Text<'a> = "@type",
    name: Text<'a> = "name",
    sub_organization_of: Field<Box<Object<Organization<'a>>>> = "subOrganizationOf",
});

typed_object!(Contact {
    kind: Text<'a> = "@type",
    name: Text<'a> = "fn",
    has_email: Text<'a> = "hasEmail",
});

typed_object!(Dist {
    kind: Text<'a> = "@type",
    access_url: Text<'a> = "accessURL",
    download_url: Text<'a> = "downloadURL",
    media_type: Text<'a> = "mediaType",
    format: Text<'a> = "format",
    byte_size: Field<ByteSize> = "byteSize",
    title: Text<'a> = "title",
    description: Text<'a> = "description",
    conforms_to: Text<'a> = "conformsTo",
    described_by: Text<'a> = "describedBy",
    described_by_type: Text<'a> = "describedByType",
});

impl Record<'_> {
    /// The lenient mapping of `datajson::dataset_from_value`, for the shapes the typed read
    /// took; `None` where that mapping would note a problem this one does not reproduce.
    fn into_dataset(self) -> Option<Dataset> {
        let mut problems = Vec::new();
        let mut text = |field: Text, key: &str| match field {
            Field::Is(Str(s)) if s.trim().is_empty() => {
                problems.push(FieldProblem {
                    field: key.into(),
                    message: "is empty".into(),
                });
                None
            }
            Field::Is(Str(s)) => Some(s.trim().to_string()),
            Field::Absent | Field::Null => None,
        };
        let mut ds = Dataset {
            identifier: text(self.identifier, "identifier"),
            title: text(self.title, "title"),
            description: text(self.description, "description"),
            spatial: text(self.spatial, "spatial"),
            temporal: text(self.temporal, "temporal"),
            issued: text(self.issued, "issued"),
            modified: text(self.modified, "modified"),
            accrual_periodicity: text(self.accrual_periodicity, "accrualPeriodicity"),
            license: text(self.license, "license"),
            access_level: text(self.access_level, "accessLevel"),
            rights: text(self.rights, "rights"),
            ..Dataset::default()
        };
        ds.publisher = match self.publisher {
            Field::Absent | Field::Null => None,
            Field::Is(Object(org)) => Some(named([org.name])?),
        };
        ds.contact_point = match self.contact_point {
            Field::Absent | Field::Null => None,
            Field::Is(Object(c)) => Some(named([c.name, c.has_email])?),
        };
        ds.keywords = non_blank(self.keyword);
        ds.themes = non_blank(self.theme);
        ds.distributions = match self.distribution {
            Field::Absent | Field::Null => Vec::new(),
            Field::Is(items) => items.into_iter().map(|Object(d)| d.into()).collect(),
        };
        ds.problems = problems;
        Some(ds)
    }
}

/// The first of `names` that is a non-blank string, trimmed; `None` (the full path notes
/// the missing name) when there is none.
fn named<const N: usize>(names: [Text; N]) -> Option<String> {
    names.into_iter().find_map(|n| match n {
        Field::Is(Str(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    })
}

fn non_blank(list: Texts) -> Vec<String> {
    match list {
        Field::Is(items) => items
            .iter()
            .map(|Str(s)| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Field::Absent | Field::Null => Vec::new(),
    }
}

impl From<Dist<'_>> for Distribution {
    fn from(d: Dist) -> Self {
        let text = |f: Text| match f {
            Field::Is(Str(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => None,
        };
        Distribution {
            access_url: text(d.access_url),
            download_url: text(d.download_url),
            media_type: text(d.media_type),
            format: text(d.format),
            byte_size: d.byte_size.value().and_then(|b| b.0),
        }
    }
}

/// The schema the record is held to and each member's hand-check: `true` where the member
/// is certainly valid as it stands (absent or null included, where the schema allows it),
/// `false` where the validator must decide. Every member the schemas constrain is here (the
/// tests hold the list to the schemas); `dataQuality` is not, because the typed read took
/// only what its schema allows, a boolean or null.
fn member_checks(r: &Record) -> (&'static str, [(&'static str, bool); 28]) {
    // As the full check: any `bureauCode` member, even null, selects the federal schema.
    let federal = !r.bureau_code.is_absent();
    let keywords = |k: &Vec<Str>| !k.is_empty() && k.iter().all(non_empty);
    let modified = |s: &Str| date_time(&s.0);
    let checks = [
        ("@type", r.kind.absent_or(|s| s.0 == "dcat:Dataset")),
        ("title", r.title.is_and(non_empty)),
        ("description", r.description.is_and(non_empty)),
        ("identifier", r.identifier.is_and(non_empty)),
        (
            "accessLevel",
            r.access_level
                .is_and(|s| matches!(&*s.0, "public" | "restricted public" | "non-public")),
        ),
        ("publisher", r.publisher.is_and(|o| organization(&o.0))),
        (
            "contactPoint",
            r.contact_point.is_and(|c| contact(&c.0, federal)),
        ),
        (
            "keyword",
            if federal {
                r.keyword.is_and(keywords)
            } else {
                r.keyword.absent_or(keywords)
            },
        ),
        (
            "modified",
            if federal {
                r.modified.is_and(modified)
            } else {
                r.modified.absent_or(modified)
            },
        ),
        // Absent from a non-federal record, by the choice of schema.
        (
            "bureauCode",
            !federal || r.bureau_code.is_and(|c| codes(c, 2)),
        ),
        (
            "programCode",
            if federal {
                r.program_code.is_and(|c| codes(c, 3))
            } else {
                r.program_code.absent_or(|c| codes(c, 3))
            },
        ),
        ("issued", r.issued.empty_or(|s| date_time(&s.0))),
        ("temporal", r.temporal.empty_or(|s| date_range(&s.0))),
        (
            "accrualPeriodicity",
            r.accrual_periodicity
                .empty_or(|s| s.0 == "irregular" || repeating_duration(&s.0)),
        ),
        ("license", r.license.empty_or(uri)),
        ("landingPage", r.landing_page.empty_or(uri)),
        ("describedBy", r.described_by.empty_or(uri)),
        ("conformsTo", r.conforms_to.empty_or(uri)),
        (
            "describedByType",
            r.described_by_type.empty_or(|s| media_type(&s.0)),
        ),
        (
            "rights",
            r.rights.empty_or(|s| !s.0.is_empty() && s.0.len() <= 255),
        ),
        ("spatial", r.spatial.empty_or(non_empty)),
        ("systemOfRecords", r.system_of_records.empty_or(non_empty)),
        ("isPartOf", r.is_part_of.absent_or(non_empty)),
        (
            "theme",
            r.theme
                .empty_or(|t| !t.is_empty() && t.iter().all(non_empty) && unique(t)),
        ),
        (
            "references",
            r.references
                .empty_or(|t| !t.is_empty() && t.iter().all(uri) && unique(t)),
        ),
        (
            "language",
            r.language.empty_or(|l| l.iter().all(|s| language(&s.0))),
        ),
        // A rare member with a pattern of its own: left to the validator.
        (
            "primaryITInvestmentUII",
            r.primary_it_investment_uii.is_empty(),
        ),
        (
            "distribution",
            r.distribution
                .empty_or(|ds| ds.iter().all(|d| distribution(&d.0))),
        ),
    ];
    (if federal { FEDERAL } else { NON_FEDERAL }, checks)
}

/// A valid value for each member a schema requires, standing in for a member that passed
/// its hand-check so that the validator does not report it missing.
static STAND_INS: std::sync::LazyLock<serde_json::Map<String, Value>> =
    std::sync::LazyLock::new(|| {
        let Value::Object(map) = serde_json::json!({
            "title": "t",
            "description": "d",
            "identifier": "i",
            "accessLevel": "public",
            "publisher": {"name": "p"},
            "contactPoint": {"fn": "c", "hasEmail": "mailto:c@example.org"},
            "keyword": ["k"],
            "modified": "2020-01-01",
            "bureauCode": ["015:11"],
            "programCode": ["015:001"],
        }) else {
            unreachable!("an object literal")
        };
        map
    });

/// Reads the members of an object named in the list into a map of values, skipping the
/// others unbuilt.
struct Members<'k>(&'k [&'k str]);

impl<'de> de::DeserializeSeed<'de> for Members<'_> {
    type Value = serde_json::Map<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Members<'_> {
    type Value = serde_json::Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            if self.0.contains(&&*key) {
                out.insert(key.into_owned(), map.next_value()?);
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

fn organization(o: &Organization) -> bool {
    o.kind.absent_or(|s| s.0 == "org:Organization")
        && o.name.is_and(non_empty)
        && o.sub_organization_of.absent_or(|sub| organization(&sub.0))
}

fn contact(c: &Contact, federal: bool) -> bool {
    let email = |s: &Str| mailto(&s.0);
    c.kind.absent_or(|s| s.0 == "vcard:Contact")
        && c.name.is_and(non_empty)
        && if federal {
            c.has_email.is_and(email)
        } else {
            c.has_email.absent_or(email)
        }
}

fn distribution(d: &Dist) -> bool {
    d.kind.absent_or(|s| s.0 == "dcat:Distribution")
        && d.access_url.empty_or(uri)
        && d.download_url.absent_or(uri)
        // `downloadURL` makes `mediaType` required (the schema's `dependencies`).
        && if d.download_url.is_absent() {
            d.media_type.empty_or(|s| media_type(&s.0))
        } else {
            d.media_type.is_and(|s| media_type(&s.0))
        }
        && d.format.empty_or(non_empty)
        && d.title.empty_or(non_empty)
        && d.description.empty_or(non_empty)
        && d.conforms_to.empty_or(uri)
        && d.described_by.empty_or(uri)
        && d.described_by_type.empty_or(|s| media_type(&s.0))
}

/// `minLength: 1`: at least one character, however the validator counts them.
fn non_empty(s: &Str) -> bool {
    !s.0.is_empty()
}

/// `uniqueItems` over strings (the lists are short).
fn unique(items: &[Str]) -> bool {
    items
        .iter()
        .enumerate()
        .all(|(i, a)| items[i + 1..].iter().all(|b| a != b))
}

/// `bureauCode` (`[0-9]{3}:[0-9]{2}`) and `programCode` (`[0-9]{3}:[0-9]{3}`): each item
/// has the pattern somewhere in it (the schema's pattern is not anchored), at least one
/// item, no two alike.
fn codes(items: &[Str], tail: usize) -> bool {
    let has_code = |s: &str| {
        let b = s.as_bytes();
        b.windows(4 + tail).any(|w| {
            w[..3].iter().all(u8::is_ascii_digit)
                && w[3] == b':'
                && w[4..].iter().all(u8::is_ascii_digit)
        })
    };
    !items.is_empty() && items.iter().all(|s| has_code(&s.0)) && unique(items)
}

/// Whether `b[at..]` starts with `n` ASCII digits.
fn digits(b: &[u8], at: usize, n: usize) -> bool {
    b.get(at..at + n)
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
}

fn two(b: &[u8], at: usize) -> Option<u8> {
    digits(b, at, 2).then(|| (b[at] - b'0') * 10 + (b[at + 1] - b'0'))
}

/// A subset of the schema's ISO 8601 date pattern: `YYYY-MM-DD`, optionally followed by
/// `THH:MM:SS`, a fraction of a second and `Z` or an offset `±HH:MM`.
fn date_time(s: &str) -> bool {
    let b = s.as_bytes();
    if !date(b) {
        return false;
    }
    let t = &b[10..];
    if t.is_empty() {
        return true;
    }
    // T, hour 00–23, minute and second 00–59 (the pattern's `[0-5]\d`).
    let (Some(h), Some(m), Some(sec)) = (two(t, 1), two(t, 4), two(t, 7)) else {
        return false;
    };
    if !(t[0] == b'T' && t[3] == b':' && t[6] == b':' && h < 24 && m < 60 && sec < 60) {
        return false;
    }
    let mut rest = &t[9..];
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &tail[n..];
    }
    match rest {
        [] | [b'Z'] => true,
        [sign, ..] if (*sign == b'+' || *sign == b'-') && rest.len() == 6 => {
            two(rest, 1).is_some_and(|h| h < 24)
                && rest[3] == b':'
                && two(rest, 4).is_some_and(|m| m < 60)
        }
        _ => false,
    }
}

/// `YYYY-MM-DD` at the start of `b`, month 01–12, day 01–31 (the pattern checks no more).
fn date(b: &[u8]) -> bool {
    b.len() >= 10
        && digits(b, 0, 4)
        && b[4] == b'-'
        && b[7] == b'-'
        && two(b, 5).is_some_and(|m| (1..=12).contains(&m))
        && two(b, 8).is_some_and(|d| (1..=31).contains(&d))
}

/// A subset of the schema's first `temporal` form: two dates (`2020-01-01/2026-12-31`) or
/// two bare years (`2019/2023`). Not a year and a date: the pattern's second end reuses the
/// first end's separator by back-reference, so `2019/2023-12-31` is invalid.
fn date_range(s: &str) -> bool {
    let dates = |e: &str| e.len() == 10 && date(e.as_bytes());
    let year = |e: &str| e.len() == 4 && e.bytes().all(|c| c.is_ascii_digit());
    s.split_once('/')
        .is_some_and(|(from, to)| (dates(from) && dates(to)) || (year(from) && year(to)))
}

/// The `accrualPeriodicity` pattern, exactly: `R/P`, then optional `nY`, `nM`, `nW`, `nD`
/// in that order, then optionally `T` and `nH`, `nM`, `nS`; `n` is digits with an optional
/// decimal part. Non-ASCII digits, which the pattern's `\d` would take, are left to it.
fn repeating_duration(s: &str) -> bool {
    let Some(mut rest) = s.strip_prefix("R/P").map(str::as_bytes) else {
        return false;
    };
    if !duration_units(&mut rest, b"YMWD") {
        return false;
    }
    if let [b'T', tail @ ..] = rest {
        rest = tail;
        if !duration_units(&mut rest, b"HMS") {
            return false;
        }
    }
    rest.is_empty()
}

/// Consumes `n` or `n.n` followed by a unit, repeatedly, the units in `order`'s order, each
/// at most once; false on a number without its unit or a unit out of order.
fn duration_units(rest: &mut &[u8], order: &[u8]) -> bool {
    let mut next = 0;
    loop {
        let whole = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if whole == 0 {
            return true;
        }
        let mut len = whole;
        if rest.get(len) == Some(&b'.') {
            let frac = rest[len + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if frac == 0 {
                return false;
            }
            len += 1 + frac;
        }
        let Some(at) = rest
            .get(len)
            .and_then(|u| order[next..].iter().position(|o| o == u))
        else {
            return false;
        };
        next += at + 1;
        *rest = &rest[len + 1..];
    }
}

/// A subset of `format: uri`: `http` or `https`, a host of letters, digits, dots and
/// hyphens with an optional port, then a path, query and fragment of RFC 3986's characters
/// with well-formed percent escapes.
fn uri(s: &Str) -> bool {
    let s = &*s.0;
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let b = rest.as_bytes();
    let end = b
        .iter()
        .position(|c| matches!(c, b'/' | b'?' | b'#'))
        .unwrap_or(b.len());
    let (authority, tail) = b.split_at(end);
    let (host, port) = match authority.iter().position(|&c| c == b':') {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    host_ok && port_ok && uri_tail(tail)
}

fn uri_tail(b: &[u8]) -> bool {
    let mut in_fragment = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            c if URI_CHAR[usize::from(c)] => {}
            b'%' => {
                if !b
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
                {
                    return false;
                }
                i += 2;
            }
            b'#' if in_fragment => return false,
            b'#' => in_fragment = true,
            _ => return false,
        }
        i += 1;
    }
    true
}

/// The bytes a URI's path, query and fragment take as they are (RFC 3986's unreserved
/// and sub-delimiters, `:`, `@`, `/` and `?`): one lookup per byte of a long URL.
const URI_CHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        table[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    let others = b"-._~!$&'()*+,;=:@/?";
    let mut i = 0;
    while i < others.len() {
        table[others[i] as usize] = true;
        i += 1;
    }
    table
};

/// The media type pattern `^[-\w]+/[-\w]+(\.[-\w]+)*([+][-\w]+)?$`, in ASCII: one pass
/// over the bytes, each part between `/`, `.` and `+` a non-empty word.
fn media_type(s: &str) -> bool {
    // What may come next: the separator that ends the part being read, in order.
    #[derive(PartialEq)]
    enum Part {
        Kind,
        Tree,
        Suffix,
    }
    let mut part = Part::Kind;
    let mut len = 0;
    for &c in s.as_bytes() {
        match c {
            b'/' if part == Part::Kind && len > 0 => part = Part::Tree,
            b'.' if part == Part::Tree && len > 0 => {}
            b'+' if part == Part::Tree && len > 0 => part = Part::Suffix,
            c if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_') => {
                len += 1;
                continue;
            }
            _ => return false,
        }
        len = 0;
    }
    part != Part::Kind && len > 0
}

/// A subset of the `hasEmail` pattern
/// `^mailto:[\w\_\~\!\$\&\'\(\)\*\+\,\;\=\:.-]+@[\w.-]+\.[\w.-]+?$`, in ASCII.
fn mailto(s: &str) -> bool {
    let Some((local, domain)) = s
        .strip_prefix("mailto:")
        .and_then(|rest| rest.split_once('@'))
    else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.bytes().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'_' | b'~'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b':'
                        | b'.'
                        | b'-'
                )
        });
    let d = domain.as_bytes();
    let domain_ok = d
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        && d.len() >= 3
        && d[1..d.len() - 1].contains(&b'.');
    local_ok && domain_ok
}

/// A subset of the `language` pattern: a language subtag of two to eight letters alone
/// (`en`, `vie`, and `English`, which the pattern's 5–8-letter form takes), or a two- or
/// three-letter one with a two-letter region (`en-US`).
fn language(s: &str) -> bool {
    let b = s.as_bytes();
    let letters = |b: &[u8]| b.iter().all(u8::is_ascii_alphabetic);
    match b.iter().position(|&c| c == b'-') {
        None => (2..=8).contains(&b.len()) && letters(b),
        Some(i) => {
            (2..=3).contains(&i) && letters(&b[..i]) && b.len() == i + 3 && letters(&b[i + 1..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::datajson::dataset_from_record;
    use proptest::prelude::*;
    use serde_json::json;

    /// What the full path makes of these bytes, when they are a JSON value at all.
    fn full(bytes: &[u8]) -> Option<Dataset> {
        serde_json::from_slice(bytes).ok().map(dataset_from_record)
    }

    /// The fast path, on its own.
    fn dataset_from_bytes(bytes: &[u8]) -> Option<Dataset> {
        read_whole(&mut Reader::default(), bytes)
    }

    /// The fast path on one record's bytes: `None` unless they are text and it reads all
    /// of them.
    fn read_whole(reader: &mut Reader, bytes: &[u8]) -> Option<Dataset> {
        let text = std::str::from_utf8(bytes).ok()?;
        match reader.read(text) {
            Attempt::Took(dataset, len) if text[len..].trim_ascii().is_empty() => Some(dataset),
            _ => None,
        }
    }

    /// The fast path either stands aside or agrees with the full one, schema check
    /// included.
    fn agrees(bytes: &[u8]) -> Result<bool, TestCaseError> {
        agrees_in(&mut Reader::default(), bytes)
    }

    /// As [`agrees`], with a reader that may have read other records before.
    fn agrees_in(reader: &mut Reader, bytes: &[u8]) -> Result<bool, TestCaseError> {
        let Some(fast) = read_whole(reader, bytes) else {
            return Ok(false);
        };
        prop_assert_eq!(
            Some(fast),
            full(bytes),
            "{}",
            String::from_utf8_lossy(bytes)
        );
        Ok(true)
    }

    fn plain() -> Value {
        json!({
            "@type": "dcat:Dataset",
            "identifier": "vn-1",
            "title": " Dân cư ",
            "description": "Số dân",
            "keyword": ["dân cư", " ", "thống kê"],
            "modified": "2026-03-04",
            "publisher": {"@type": "org:Organization", "name": "UBND", "subOrganizationOf": {"name": "Chính phủ"}},
            "contactPoint": {"@type": "vcard:Contact", "fn": "Phòng", "hasEmail": "mailto:a.b@x.gov.vn"},
            "accessLevel": "public",
            "license": "https://creativecommons.org/licenses/by/4.0/",
            "accrualPeriodicity": "R/P1M",
            "temporal": "2020-01-01/2026-12-31",
            "theme": ["Môi trường"],
            "landingPage": "https://x.gov.vn/d/1?x=%C3%A9#top",
            "language": ["vi", "en-US"],
            "distribution": [
                {"@type": "dcat:Distribution", "downloadURL": "https://x.gov.vn/1.csv", "mediaType": "text/csv", "byteSize": 10, "title": "t"},
                {"accessURL": "http://api.x.gov.vn:8080/v1", "format": "API", "byteSize": "12"}
            ],
            "extra": {"nested": [1, 2.5, null, true]}
        })
    }

    /// The ordinary record, given the federal budget codes when `federal`.
    fn plain_as(federal: bool) -> Value {
        let mut r = plain();
        if federal {
            r["bureauCode"] = json!(["015:11"]);
            r["programCode"] = json!(["015:001"]);
        }
        r
    }

    #[test]
    fn an_ordinary_record_takes_the_fast_path_and_reads_the_same() {
        for record in [plain_as(false), plain_as(true)] {
            let bytes = serde_json::to_vec(&record).unwrap();
            assert!(agrees(&bytes).unwrap(), "{record}");
        }
    }

    #[test]
    fn the_fast_path_stands_aside_for_what_it_does_not_decide() {
        for text in [
            // A duplicate key, a number out of range, an array where the record belongs,
            // a positional publisher, a single keyword string, a publisher without a name.
            r#"{"title":"a","title":"b"}"#,
            r#"{"title":"a","x":1e400}"#,
            r#"["a","b"]"#,
            r#"{"publisher":["x"]}"#,
            r#"{"keyword":"one"}"#,
            r#"{"publisher":{"@type":"org:Organization"}}"#,
        ] {
            assert_eq!(dataset_from_bytes(text.as_bytes()), None, "{text}");
        }
    }

    /// Records that break the schema in the ways real catalogs do (the CDC's: no keyword, a
    /// periodicity in words, free text where a range belongs, a name where a URL belongs)
    /// are read the fast way, and the validator, shown only the members that failed their
    /// hand-checks, reports what it reports on the whole record.
    #[test]
    fn an_invalid_record_is_read_fast_with_the_validators_own_errors() {
        let breakages = [
            ("keyword", None),
            ("accrualPeriodicity", Some(json!("Weekly"))),
            ("temporal", Some(json!("since 2019"))),
            ("license", Some(json!("Creative Commons"))),
            ("title", None),
            ("identifier", Some(json!(""))),
            ("contactPoint", Some(json!({"fn": "x", "hasEmail": "x"}))),
            (
                "distribution",
                Some(json!([{"downloadURL": "https://x.gov.vn/1.csv"}])),
            ),
        ];
        for federal in [false, true] {
            for n in 1..=breakages.len() {
                let mut r = plain_as(federal);
                let Value::Object(obj) = &mut r else {
                    unreachable!("plain() is an object")
                };
                for (key, value) in &breakages[..n] {
                    match value {
                        Some(v) => obj.insert(key.to_string(), v.clone()),
                        None => obj.remove(*key),
                    };
                }
                let bytes = serde_json::to_vec(&r).unwrap();
                assert!(agrees(&bytes).unwrap(), "{r}");
                let schema = dataset_from_bytes(&bytes).unwrap().schema.unwrap();
                // A record without `keyword` is valid under the non-federal schema.
                assert_eq!(schema.errors > 0, federal || n > 1, "{schema:?}");
            }
        }
    }

    /// The stand-ins must be valid and cover every member each schema requires, or the
    /// validator would report errors the record does not have.
    #[test]
    fn the_stand_ins_are_valid_and_cover_what_each_schema_requires() {
        for schema in [FEDERAL, NON_FEDERAL] {
            let listed = datajson::required(schema);
            assert!(listed.len() >= 6, "{listed:?}");
            let record: serde_json::Map<String, Value> = listed
                .iter()
                .map(|k| (k.clone(), STAND_INS[k.as_str()].clone()))
                .collect();
            let check = datajson::check_members(&Value::Object(record));
            assert_eq!((check.schema, check.errors), (schema, 0), "{check:?}");
        }
    }

    /// A catalog of endless different breakages, or of huge ones, must not grow the
    /// reader's memory without bound: past the limits, verdicts are asked for, not kept.
    #[test]
    fn a_reader_keeps_a_bounded_number_of_verdicts() {
        let mut reader = Reader::default();
        for i in 0..VERDICTS_KEPT + 50 {
            let mut r = plain();
            r["accrualPeriodicity"] = json!(format!("every {i} days"));
            assert!(agrees_in(&mut reader, &serde_json::to_vec(&r).unwrap()).unwrap());
        }
        assert_eq!(reader.verdicts.len(), VERDICTS_KEPT);
        let mut reader = Reader::default();
        let mut r = plain();
        r["accrualPeriodicity"] = json!("x".repeat(VERDICT_KEY_MAX));
        assert!(agrees_in(&mut reader, &serde_json::to_vec(&r).unwrap()).unwrap());
        assert!(reader.verdicts.is_empty());
    }

    /// Values for one member: ordinary ones, near misses of each hand-check, other types.
    fn pool(field: &str) -> Vec<Value> {
        let dates = [
            "2024-06-01",
            "2024-13-01",
            "2024-02-31",
            "2024-02-00",
            "2024-06-01T12:30:45Z",
            "2024-06-01T12:30:45.123+07:00",
            "2024-06-01T23:59:59-11:30",
            "2024-06-01T24:00:00",
            "2024-06-01T12:60:00",
            "2024-06-01T12:30",
            "2024-06-01T12:30:45.",
            "2024-06-01T12:30:45+0700",
            "2024-06-01 12:30:45",
            "20240601",
            "2024",
            "R/P1Y",
            " 2024-06-01",
            "2024-06-01\n",
            "２０２４-06-01",
            "2020-01-01/2026-12-31",
            "2020-01-01/2026-13-31",
            "2020-01-01/P1Y",
            "R/2020-01-01/P1Y",
            "2019/2023",
            "2019/2023-12-31",
            "2019-01-01/2023",
            "201/2023",
            "20190/2023",
            "2019/202３",
            "2019/2023/2024",
            "2019/",
            "2019-2023",
        ];
        let uris = [
            "https://x.vn/a",
            "http://a:80/b?c=d#e",
            "https://a b",
            "https://x/%zz",
            "https://x/%41",
            "https://x/%4",
            "ftp://x/a",
            "https://",
            "https://x/#a#b",
            "https://[::1]/",
            "https://x:/a",
            "https://x:8a/",
            "not a uri",
            "https://x/é",
            "https://x/a|b",
            "https://user@x/",
            "https://X-y.Z:8080/p~a!$&'()*+,;=:@/?q=1&r#f/?",
            "https://x/%41%",
            "https://x/a^b",
            "https://x/a\\b",
            "https://x/a\u{7f}",
        ];
        let media = [
            "text/csv",
            "application/vnd.ms-excel",
            "application/ld+json",
            "text",
            "text/",
            "a/b+c+d",
            "a/b.",
            "a/.b",
            "ấ/b",
            "a/b+",
            "/b",
            "a/b/c",
            "a+b/c",
            "a/b..c",
            "a/b+c.d",
            "a_b/c-d.e_f+g-h",
            "a/b c",
        ];
        let texts = ["x", "", "  ", " a ", "é\"\\/"];
        let s = |items: &[&str]| items.iter().map(|s| json!(s)).collect::<Vec<_>>();
        let mut values = match field {
            "modified" | "issued" | "temporal" => s(&dates),
            "accrualPeriodicity" => s(&[
                "R/P1M",
                "R/P1.5D",
                "R/PT1H",
                "R/P1Y2M3W4DT5H6M7S",
                "R/P1M1Y",
                "R/P",
                "R/PT",
                "R/P1",
                "R/P.5D",
                "R/P1.D",
                "irregular",
                "Weekly",
                "P1Y",
                "R/P1YT",
            ]),
            "license" | "landingPage" | "describedBy" | "conformsTo" => s(&uris),
            "describedByType" => s(&media),
            "accessLevel" => s(&["public", "restricted public", "non-public", "Public"]),
            "@type" => s(&["dcat:Dataset", "dcat:Distribution"]),
            "rights" => vec![
                json!("r"),
                json!(""),
                json!("é".repeat(200)),
                json!("a".repeat(256)),
            ],
            "keyword" | "theme" => vec![
                json!(["a", "b"]),
                json!([]),
                json!([""]),
                json!(["a", "a"]),
                json!("a"),
                json!([1]),
            ],
            "references" => vec![
                json!([uris[0], uris[1]]),
                json!([uris[0], uris[0]]),
                json!([uris[2]]),
                json!([]),
            ],
            "language" => vec![
                json!(["en-US"]),
                json!(["vi"]),
                json!(["english"]),
                json!(["English", "Engl", "Tiếng"]),
                json!(["Englishes"]),
                json!(["en-us-x"]),
                json!(["e"]),
                json!([]),
                json!("en"),
            ],
            "bureauCode" => vec![
                json!(["009:20"]),
                json!(["009:20", "009:20"]),
                json!([]),
                json!(["x009:20y"]),
                json!(["09:20"]),
                json!("009:20"),
            ],
            "programCode" => vec![json!(["009:001"]), json!(["009:01"]), json!(["a009:0011"])],
            "publisher" => vec![
                json!({"name": "x"}),
                json!({"@type": "org:Organization", "name": "x", "subOrganizationOf": {"name": "y"}}),
                json!({"name": "x", "subOrganizationOf": {"name": ""}}),
                json!({"name": "x", "subOrganizationOf": null}),
                json!({"@type": "org:Org", "name": "x"}),
                json!({"name": ""}),
                json!({"name": "  "}),
                json!({"fn": "x"}),
                json!("x"),
            ],
            "contactPoint" => {
                let mut v: Vec<Value> = [
                    "mailto:a@b.vn",
                    "mailto:a@b",
                    "a@b.vn",
                    "mailto:a@.b",
                    "mailto:a@b.",
                    "mailto:@b.vn",
                    "mailto:a@b@c.vn",
                    "mailto:a b@c.vn",
                    "mailto:a+b'c@b.c.vn",
                    "mailto:é@b.vn",
                ]
                .iter()
                .map(|e| json!({"fn": "x", "hasEmail": e}))
                .collect();
                v.extend([
                    json!({"fn": "x"}),
                    json!({"hasEmail": "mailto:a@b.vn"}),
                    json!({"fn": " ", "hasEmail": "mailto:a@b.vn"}),
                    json!({"@type": "vcard:Contact", "fn": "x", "hasEmail": null}),
                ]);
                v
            }
            "distribution" => {
                let d = |u: &str, m: Option<&str>| match m {
                    Some(m) => json!({"downloadURL": u, "mediaType": m}),
                    None => json!({"downloadURL": u}),
                };
                let mut v: Vec<Value> =
                    media.iter().map(|m| json!([d(uris[0], Some(m))])).collect();
                v.extend(
                    uris.iter()
                        .map(|u| json!([{"accessURL": u, "format": "CSV"}])),
                );
                v.extend([
                    json!([d(uris[0], None)]),
                    json!([{"downloadURL": null, "mediaType": "text/csv"}]),
                    json!([{"@type": "dcat:Dataset"}]),
                    json!([{"format": ""}, {"format": " "}]),
                    json!([{"title": ""}, {"description": " "}]),
                    json!([{"title": "t", "description": ""}]),
                    json!([{"title": null, "description": 1}]),
                    json!([{"describedByType": "text/csv", "describedBy": uris[1], "conformsTo": uris[3]}]),
                    json!([{"byteSize": -1}, {"byteSize": 1.5}, {"byteSize": " 7 "}, {"byteSize": [1]}]),
                    json!([{"byteSize": -0.0}, {"byteSize": 1e3}, {"byteSize": 18_446_744_073_709_551_615_u64}, {"byteSize": 1.844_674_407_370_955_2e19}, {"byteSize": {"a": [null]}}, {"byteSize": "x"}, {"byteSize": true}]),
                    json!({"accessURL": uris[0]}),
                    json!([1]),
                    json!([]),
                ]);
                v
            }
            "dataQuality" => vec![json!(true), json!("true")],
            "primaryITInvestmentUII" => s(&["123-123456789", "x"]),
            _ => s(&texts),
        };
        values.extend([Value::Null, json!(42)]);
        values
    }

    const FIELDS: &[&str] = &[
        "@type",
        "identifier",
        "title",
        "description",
        "spatial",
        "temporal",
        "issued",
        "modified",
        "accrualPeriodicity",
        "license",
        "accessLevel",
        "rights",
        "publisher",
        "contactPoint",
        "keyword",
        "theme",
        "distribution",
        "bureauCode",
        "programCode",
        "landingPage",
        "describedBy",
        "describedByType",
        "conformsTo",
        "dataQuality",
        "language",
        "primaryITInvestmentUII",
        "references",
        "systemOfRecords",
        "isPartOf",
    ];

    /// A record: the ordinary one (federal or not), with some members replaced by values
    /// from their pools or removed.
    fn record() -> impl Strategy<Value = Value> {
        let change = (0..FIELDS.len(), any::<prop::sample::Index>(), 0..8u8);
        (any::<bool>(), proptest::collection::vec(change, 0..4)).prop_map(|(federal, changes)| {
            let mut r = plain_as(federal);
            let Value::Object(obj) = &mut r else {
                unreachable!("plain() is an object")
            };
            for (field, pick, how) in changes {
                let name = FIELDS[field];
                if how == 0 {
                    obj.remove(name);
                } else {
                    let values = pool(name);
                    obj.insert(name.to_string(), values[pick.index(values.len())].clone());
                }
            }
            r
        })
    }

    /// A member the typed read skipped would escape the hand-checks.
    #[test]
    fn the_typed_objects_read_every_member_the_schemas_constrain() {
        let schema = |text: &str| -> Vec<String> {
            let v: Value = serde_json::from_str(text).unwrap();
            let mut keys: Vec<String> = v["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            keys.sort();
            keys
        };
        let sorted = |keys: &[&str]| {
            let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            keys.sort();
            keys
        };
        for (text, keys) in [
            (include_str!("pod-v1.1/dataset.json"), Record::KEYS),
            (
                include_str!("pod-v1.1/dataset-non-federal.json"),
                Record::KEYS,
            ),
            (include_str!("pod-v1.1/distribution.json"), Dist::KEYS),
            (
                include_str!("pod-v1.1/organization.json"),
                Organization::KEYS,
            ),
            (include_str!("pod-v1.1/vcard.json"), Contact::KEYS),
            (
                include_str!("pod-v1.1/vcard-non-federal.json"),
                Contact::KEYS,
            ),
        ] {
            let mut read = sorted(keys);
            // `byteSize` is read for the mapping; the schema leaves it free.
            read.retain(|k| k != "byteSize");
            assert_eq!(schema(text), read);
        }
        assert_eq!(sorted(FIELDS), sorted(Record::KEYS));
    }

    #[test]
    fn every_value_of_every_pool_reads_the_same_both_ways() {
        let mut fast = 0;
        for federal in [false, true] {
            for name in FIELDS {
                for value in pool(name) {
                    let mut r = plain_as(federal);
                    r[*name] = value;
                    let bytes = serde_json::to_vec(&r).unwrap();
                    fast += usize::from(agrees(&bytes).unwrap());
                }
            }
        }
        // Not vacuous: the near misses aside, the ordinary values are decided here.
        assert!(fast > 150, "{fast}");
    }

    /// A reader remembers the validator's verdicts by the members it was shown and the
    /// schema: a verdict reused for another record (or the other schema) must still be the
    /// validator's own.
    #[test]
    fn a_readers_remembered_verdicts_are_the_validators() {
        let mut records = Vec::new();
        for federal in [false, true] {
            for name in FIELDS {
                for value in pool(name) {
                    let mut r = plain_as(federal);
                    r[*name] = value;
                    records.push(serde_json::to_vec(&r).unwrap());
                }
            }
        }
        let mut reader = Reader::default();
        // Twice over: the second time, every verdict is a remembered one.
        for bytes in records.iter().chain(&records) {
            agrees_in(&mut reader, bytes).unwrap();
        }
        assert!(reader.verdicts.len() > 20, "{}", reader.verdicts.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(250))]

        #[test]
        fn records_read_the_same_by_one_reader(
            records in proptest::collection::vec(record(), 1..16)
        ) {
            let mut reader = Reader::default();
            for r in records {
                agrees_in(&mut reader, &serde_json::to_vec(&r).unwrap())?;
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn records_read_the_same_both_ways(record in record()) {
            agrees(&serde_json::to_vec(&record).unwrap())?;
        }

        #[test]
        fn damaged_records_read_the_same_both_ways(
            record in record(),
            at in any::<prop::sample::Index>(),
            byte in prop::sample::select(b"{}[]\",:\\ x1e.-/\xc3".to_vec()),
            remove in any::<bool>(),
        ) {
            let mut bytes = serde_json::to_vec(&record).unwrap();
            let i = at.index(bytes.len());
            if remove {
                bytes.remove(i);
            } else {
                bytes.insert(i, byte);
            }
            agrees(&bytes)?;
        }
    }
}
