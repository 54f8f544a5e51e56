//! in-toto Statement v1: the payload of every reprove DSSE envelope.
//!
//! ```json
//! {"_type": "https://in-toto.io/Statement/v1",
//!  "subject": [{"name": "hello-1.0.tar.gz", "digest": {"sha256": "<64 lowercase hex>"}}],
//!  "predicateType": "<TypeURI>",
//!  "predicate": {}}
//! ```
//!
//! [`Statement::parse`] follows the in-toto parsing rules: unknown fields (top level and in
//! subjects) and unknown digest algorithms are ignored, an unset or `null` subject `name` is the
//! empty name, and an unset or `null` `predicate` is the empty object. It is stricter than
//! plain JSON in one way that matters for signed data: a duplicated object key anywhere is an
//! error, so two parsers can never see two different statements in the same bytes. Trailing
//! data after the object is refused.
//!
//! Subjects match by digest only, and only by SHA-256 ([`Subject::matches_sha256`]): `blake3` may
//! ride along as an extra algorithm, but it is not an in-toto predefined algorithm, so no match
//! relies on it alone.
//!
//! [`Statement::encode`] writes compact JSON with object keys sorted (byte order) at every level,
//! so equal statements encode to equal bytes whatever `serde_json` features are enabled. It
//! refuses a subject without `sha256`, which reprove requires in every digest it emits.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// The DSSE `payloadType` of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The largest statement [`Statement::parse`] reads, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 1 << 20;

/// Errors from parsing, building or encoding a statement.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    /// The statement is larger than [`MAX_STATEMENT_BYTES`].
    #[error("statement is {len} bytes, the limit is {max}")]
    TooLarge { len: usize, max: usize },
    /// Not JSON, a duplicated key, trailing data, or a field of the wrong JSON type.
    #[error("statement is not valid JSON of the in-toto shape: {0}")]
    Json(#[source] serde_json::Error),
    /// `_type` is not [`STATEMENT_TYPE`].
    #[error("statement _type is {found:?}, expected {STATEMENT_TYPE:?}")]
    WrongType { found: String },
    /// The `subject` list is empty.
    #[error("statement has no subjects")]
    NoSubjects,
    /// A subject's digest set is empty.
    #[error("subject {index} has an empty digest set")]
    EmptyDigestSet { index: usize },
    /// A digest set has an empty algorithm name.
    #[error("digest set has an empty algorithm name")]
    EmptyAlgorithm,
    /// A `sha256` digest is not 64 lowercase hex characters.
    #[error("sha256 digest {value:?} is not 64 lowercase hex characters")]
    MalformedSha256 { value: String },
    /// A subject has no `sha256` digest, which reprove requires in everything it emits.
    #[error("subject {index} ({name:?}) has no sha256 digest")]
    MissingSha256 { index: usize, name: String },
    /// `predicateType` is empty.
    #[error("predicateType is empty")]
    EmptyPredicateType,
    /// `predicate` is neither an object nor unset.
    #[error("predicate is not a JSON object")]
    PredicateNotObject,
}

/// A digest set: algorithm name to digest value, all algorithms kept (sorted by name).
///
/// Every value of this type has at least one entry and, when a `sha256` entry is present, it
/// is 64 lowercase hex characters. Values of other algorithms are kept as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSet(BTreeMap<String, String>);

/// One subject of a statement: an artifact named and identified by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The artifact's name; empty when the statement leaves it unset.
    pub name: String,
    /// The artifact's digests.
    pub digest: DigestSet,
}

/// A parsed in-toto Statement v1.
///
/// Invariants: at least one subject, a non-empty predicate type, and a predicate that is a JSON
/// object. Statements built with [`Statement::new`] also have a `sha256` in every subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    subjects: Vec<Subject>,
    predicate_type: String,
    predicate: Value,
}

impl DigestSet {
    /// A digest set holding just `sha256`.
    pub fn from_sha256(digest: &[u8; 32]) -> Self {
        DigestSet(BTreeMap::from([("sha256".to_owned(), hex::encode(digest))]))
    }

    /// Adds (or replaces) a BLAKE3 digest, as lowercase hex. An extra for consumers that want
    /// it; matching never relies on it.
    pub fn with_blake3(mut self, digest: &[u8; 32]) -> Self {
        self.0.insert("blake3".to_owned(), hex::encode(digest));
        self
    }

    /// Adds (or replaces) the digest of one algorithm. A `sha256` value must be 64 lowercase hex
    /// characters; other algorithms' values are not checked.
    pub fn insert(&mut self, algorithm: &str, value: &str) -> Result<(), StatementError> {
        if algorithm.is_empty() {
            return Err(StatementError::EmptyAlgorithm);
        }
        if algorithm == "sha256" && parse_hex32(value).is_none() {
            return Err(StatementError::MalformedSha256 {
                value: value.to_owned(),
            });
        }
        self.0.insert(algorithm.to_owned(), value.to_owned());
        Ok(())
    }

    /// The SHA-256 digest, if the set has one.
    pub fn sha256(&self) -> Option<[u8; 32]> {
        self.0.get("sha256").and_then(|v| parse_hex32(v))
    }

    /// The value recorded for `algorithm`, as written.
    pub fn get(&self, algorithm: &str) -> Option<&str> {
        self.0.get(algorithm).map(String::as_str)
    }

    /// All `(algorithm, value)` pairs, sorted by algorithm.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(a, v)| (a.as_str(), v.as_str()))
    }
}

impl Subject {
    /// Whether this subject's SHA-256 digest is `digest`. The only way reprove matches
    /// subjects: a subject without `sha256` matches nothing.
    pub fn matches_sha256(&self, digest: &[u8; 32]) -> bool {
        self.digest.sha256().is_some_and(|d| &d == digest)
    }
}

impl Statement {
    /// Builds a statement to emit. Every subject must carry `sha256`; the predicate must be a
    /// JSON object; the predicate type must be non-empty.
    pub fn new(
        subjects: Vec<Subject>,
        predicate_type: &str,
        predicate: Value,
    ) -> Result<Self, StatementError> {
        let st = Statement::checked(subjects, predicate_type.to_owned(), predicate)?;
        st.check_sha256_everywhere()?;
        Ok(st)
    }

    /// Parses a statement. See the module docs for the rules.
    pub fn parse(bytes: &[u8]) -> Result<Self, StatementError> {
        if bytes.len() > MAX_STATEMENT_BYTES {
            return Err(StatementError::TooLarge {
                len: bytes.len(),
                max: MAX_STATEMENT_BYTES,
            });
        }
        let StrictValue(value) = serde_json::from_slice(bytes).map_err(StatementError::Json)?;
        let raw: RawStatement = serde_json::from_value(value).map_err(StatementError::Json)?;
        if raw.type_ != STATEMENT_TYPE {
            return Err(StatementError::WrongType { found: raw.type_ });
        }
        let mut subjects = Vec::with_capacity(raw.subject.len());
        for (index, s) in raw.subject.into_iter().enumerate() {
            if s.digest.is_empty() {
                return Err(StatementError::EmptyDigestSet { index });
            }
            let mut digest = DigestSet(BTreeMap::new());
            for (algorithm, value) in &s.digest {
                digest.insert(algorithm, value)?;
            }
            subjects.push(Subject {
                name: s.name.unwrap_or_default(),
                digest,
            });
        }
        let predicate = raw.predicate.unwrap_or_else(|| Value::Object(Map::new()));
        Statement::checked(subjects, raw.predicate_type, predicate)
    }

    /// Encodes the statement as compact JSON with sorted keys (an empty subject name is left
    /// out). Fails only for a parsed statement with a subject lacking `sha256`.
    pub fn encode(&self) -> Result<Vec<u8>, StatementError> {
        self.check_sha256_everywhere()?;
        Ok(self.encode_unchecked())
    }

    /// The subjects, at least one.
    pub fn subjects(&self) -> &[Subject] {
        &self.subjects
    }

    /// The predicate type URI.
    pub fn predicate_type(&self) -> &str {
        &self.predicate_type
    }

    /// The predicate, a JSON object.
    pub fn predicate(&self) -> &Value {
        &self.predicate
    }

    /// Consumes the statement, returning its subjects and predicate.
    pub fn into_parts(self) -> (Vec<Subject>, String, Value) {
        (self.subjects, self.predicate_type, self.predicate)
    }

    /// Builds a statement the caller has already checked, such as one made from a validated
    /// reprove entry: no subject may lack `sha256`, or `encode_unchecked` would emit it.
    pub(crate) fn from_checked_parts(
        subjects: Vec<Subject>,
        predicate_type: &str,
        predicate: Value,
    ) -> Self {
        debug_assert!(Statement::new(subjects.clone(), predicate_type, predicate.clone()).is_ok());
        Statement {
            subjects,
            predicate_type: predicate_type.to_owned(),
            predicate,
        }
    }

    /// The encoding, without the `sha256` check.
    pub(crate) fn encode_unchecked(&self) -> Vec<u8> {
        let subjects = self
            .subjects
            .iter()
            .map(|s| {
                let mut m = Map::new();
                let digest = s
                    .digest
                    .0
                    .iter()
                    .map(|(a, v)| (a.clone(), Value::String(v.clone())));
                m.insert("digest".to_owned(), Value::Object(digest.collect()));
                if !s.name.is_empty() {
                    m.insert("name".to_owned(), Value::String(s.name.clone()));
                }
                Value::Object(m)
            })
            .collect();
        let mut top = Map::new();
        top.insert("_type".to_owned(), Value::String(STATEMENT_TYPE.to_owned()));
        top.insert("subject".to_owned(), Value::Array(subjects));
        top.insert(
            "predicateType".to_owned(),
            Value::String(self.predicate_type.clone()),
        );
        top.insert("predicate".to_owned(), self.predicate.clone());
        let mut out = Vec::new();
        write_sorted_json(&Value::Object(top), &mut out);
        out
    }

    fn checked(
        subjects: Vec<Subject>,
        predicate_type: String,
        predicate: Value,
    ) -> Result<Self, StatementError> {
        if subjects.is_empty() {
            return Err(StatementError::NoSubjects);
        }
        if let Some(index) = subjects.iter().position(|s| s.digest.0.is_empty()) {
            return Err(StatementError::EmptyDigestSet { index });
        }
        if predicate_type.is_empty() {
            return Err(StatementError::EmptyPredicateType);
        }
        if !predicate.is_object() {
            return Err(StatementError::PredicateNotObject);
        }
        Ok(Statement {
            subjects,
            predicate_type,
            predicate,
        })
    }

    fn check_sha256_everywhere(&self) -> Result<(), StatementError> {
        match self
            .subjects
            .iter()
            .position(|s| s.digest.sha256().is_none())
        {
            Some(index) => Err(StatementError::MissingSha256 {
                index,
                name: self.subjects[index].name.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// A 32-byte digest (SHA-256 or BLAKE3) as every reprove format spells it: exactly 64
/// lowercase hex digits. The one parser of that spelling; where a URL tolerates uppercase,
/// the caller lowercases first.
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Parses JSON into a [`Value`], like `serde_json`, but refusing duplicate object keys (which
/// `serde_json::Value` would silently resolve to the last one).
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value without duplicate object keys")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Writes compact JSON with every object's keys in byte order.
fn write_sorted_json(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<_> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::String(k.clone()).to_string().as_bytes());
                out.push(b':');
                write_sorted_json(v, out);
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_sorted_json(v, out);
            }
            out.push(b']');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

#[derive(Deserialize)]
struct RawStatement {
    #[serde(rename = "_type")]
    type_: String,
    subject: Vec<RawSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    #[serde(default)]
    predicate: Option<Value>,
}

#[derive(Deserialize)]
struct RawSubject {
    #[serde(default)]
    name: Option<String>,
    digest: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    fn statement_json(subject: &str, rest: &str) -> String {
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{subject}],"predicateType":"https://example.com/p"{rest}}}"#
        )
    }

    #[test]
    fn parses_and_encodes_canonically() {
        let json = format!(
            r#"{{"predicate":{{"z":1,"a":[true,null,"x"]}},"predicateType":"https://example.com/p",
               "subject":[{{"name":"hello.tar.gz","digest":{{"sha512":"abc","sha256":"{SHA}"}},"uri":"https://x"}}],
               "_type":"https://in-toto.io/Statement/v1","extra":{{"ignored":true}}}}"#
        );
        let st = Statement::parse(json.as_bytes()).unwrap();
        assert_eq!(st.subjects().len(), 1);
        assert_eq!(st.subjects()[0].name, "hello.tar.gz");
        assert_eq!(st.subjects()[0].digest.get("sha512"), Some("abc"));
        assert_eq!(st.predicate_type(), "https://example.com/p");
        let encoded = String::from_utf8(st.encode().unwrap()).unwrap();
        assert_eq!(
            encoded,
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","predicate":{{"a":[true,null,"x"],"z":1}},"predicateType":"https://example.com/p","subject":[{{"digest":{{"sha256":"{SHA}","sha512":"abc"}},"name":"hello.tar.gz"}}]}}"#
            )
        );
        assert_eq!(Statement::parse(encoded.as_bytes()).unwrap(), st);
    }

    #[test]
    fn matches_by_sha256_only() {
        let sha: [u8; 32] = hex::decode(SHA).unwrap().try_into().unwrap();
        let mut digest = DigestSet::from_sha256(&sha);
        digest.insert("blake3", &"ab".repeat(32)).unwrap();
        let s = Subject {
            name: "a".into(),
            digest,
        };
        assert!(s.matches_sha256(&sha));
        assert!(!s.matches_sha256(&[0; 32]));
        let blake3_only = statement_json(
            &format!(r#"{{"name":"a","digest":{{"blake3":"{SHA}"}}}}"#),
            "",
        );
        let st = Statement::parse(blake3_only.as_bytes()).unwrap();
        assert!(
            !st.subjects()[0].matches_sha256(&sha),
            "a blake3 value equal to the sha256 must not match"
        );
        assert_eq!(st.subjects()[0].digest.sha256(), None);
        assert!(matches!(
            st.encode(),
            Err(StatementError::MissingSha256 { index: 0, .. })
        ));
    }

    #[test]
    fn unset_or_null_name_and_predicate_are_empty() {
        let json = statement_json(
            &format!(
                r#"{{"digest":{{"sha256":"{SHA}"}}}},{{"name":null,"digest":{{"sha256":"{SHA}"}}}}"#
            ),
            r#","predicate":null"#,
        );
        let st = Statement::parse(json.as_bytes()).unwrap();
        assert_eq!(st.subjects()[0].name, "");
        assert_eq!(st.subjects()[1].name, "");
        assert_eq!(st.predicate(), &serde_json::json!({}));
        let encoded = st.encode().unwrap();
        assert!(!String::from_utf8_lossy(&encoded).contains("name"));
        assert_eq!(Statement::parse(&encoded).unwrap(), st);
    }

    #[test]
    fn rejects_malformed_statements() {
        let good_subject = format!(r#"{{"name":"a","digest":{{"sha256":"{SHA}"}}}}"#);
        let upper = SHA.to_uppercase();
        let cases = [
            (
                statement_json(&good_subject, r#","predicate":[]"#),
                "array predicate",
            ),
            (
                statement_json(&good_subject, r#","predicate":"x""#),
                "string predicate",
            ),
            (statement_json("", ""), "no subjects"),
            (
                statement_json(r#"{"name":"a","digest":{}}"#, ""),
                "empty digest set",
            ),
            (statement_json(r#"{"name":"a"}"#, ""), "missing digest"),
            (
                statement_json(
                    &format!(r#"{{"name":"a","digest":{{"sha256":"{upper}"}}}}"#),
                    "",
                ),
                "uppercase sha256",
            ),
            (
                statement_json(r#"{"name":"a","digest":{"sha256":"abc"}}"#, ""),
                "short sha256",
            ),
            (
                statement_json(&format!(r#"{{"name":"a","digest":{{"":"{SHA}"}}}}"#), ""),
                "empty algorithm",
            ),
            (
                statement_json(r#"{"name":"a","digest":{"sha256":1}}"#, ""),
                "numeric digest",
            ),
            (
                statement_json(
                    &format!(r#"{{"name":7,"digest":{{"sha256":"{SHA}"}}}}"#),
                    "",
                ),
                "numeric name",
            ),
            (
                statement_json(
                    &format!(r#"{{"name":"a","digest":{{"sha256":"{SHA}","sha256":"{SHA}"}}}}"#),
                    "",
                ),
                "duplicate digest key",
            ),
            (
                statement_json(&good_subject, r#","predicate":{"a":1,"a":2}"#),
                "duplicate predicate key",
            ),
            (
                statement_json(&good_subject, r#","predicateType":"x""#),
                "duplicate top-level key",
            ),
            (statement_json(&good_subject, "") + "x", "trailing garbage"),
            (
                statement_json(&good_subject, "").replace("Statement/v1", "Statement/v0.1"),
                "old _type",
            ),
            (
                statement_json(&good_subject, "").replace(r#""https://example.com/p""#, r#""""#),
                "empty predicateType",
            ),
            (
                statement_json(&good_subject, "")
                    .replace(r#","predicateType":"https://example.com/p""#, ""),
                "missing predicateType",
            ),
            (
                statement_json(&good_subject, "")
                    .replace(r#""_type":"https://in-toto.io/Statement/v1","#, ""),
                "missing _type",
            ),
            (
                format!(r#"{{"_type":"{STATEMENT_TYPE}","predicateType":"p"}}"#),
                "missing subject",
            ),
            ("[]".to_owned(), "not an object"),
        ];
        for (json, what) in cases {
            assert!(
                Statement::parse(json.as_bytes()).is_err(),
                "accepted: {what}: {json}"
            );
        }
        let deep = "[".repeat(10_000);
        assert!(Statement::parse(deep.as_bytes()).is_err());
        assert!(matches!(
            Statement::parse(&vec![b' '; MAX_STATEMENT_BYTES + 1]),
            Err(StatementError::TooLarge { .. })
        ));
    }

    #[test]
    fn new_requires_sha256_and_an_object_predicate() {
        let mut no_sha = DigestSet::from_sha256(&[1; 32]);
        no_sha.0.remove("sha256");
        no_sha.insert("sha512", "00").unwrap();
        let err = Statement::new(
            vec![Subject {
                name: "a".into(),
                digest: no_sha,
            }],
            "p",
            serde_json::json!({}),
        );
        assert!(matches!(
            err,
            Err(StatementError::MissingSha256 { index: 0, .. })
        ));
        let ok = Subject {
            name: "a".into(),
            digest: DigestSet::from_sha256(&[1; 32]),
        };
        assert!(matches!(
            Statement::new(vec![ok.clone()], "p", serde_json::json!([])),
            Err(StatementError::PredicateNotObject)
        ));
        assert!(matches!(
            Statement::new(vec![ok.clone()], "", serde_json::json!({})),
            Err(StatementError::EmptyPredicateType)
        ));
        assert!(matches!(
            Statement::new(vec![], "p", serde_json::json!({})),
            Err(StatementError::NoSubjects)
        ));
        let mut d = DigestSet::from_sha256(&[1; 32]);
        assert!(matches!(
            d.insert("sha256", "zz"),
            Err(StatementError::MalformedSha256 { .. })
        ));
        let st = Statement::new(vec![ok], "p", serde_json::json!({"k": "v"})).unwrap();
        assert_eq!(Statement::parse(&st.encode().unwrap()).unwrap(), st);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = Statement::parse(&bytes);
            }

            #[test]
            fn encode_parse_round_trips(names in proptest::collection::vec("\\PC{0,12}", 1..4), key in "\\PC{0,8}", val in "\\PC{0,8}") {
                let subjects = names.iter().enumerate().map(|(i, n)| Subject { name: n.clone(), digest: DigestSet::from_sha256(&[i as u8; 32]) }).collect();
                let st = Statement::new(subjects, "https://example.com/p", serde_json::json!({ key: val })).unwrap();
                prop_assert_eq!(Statement::parse(&st.encode().unwrap()).unwrap(), st);
            }
        }
    }
}
