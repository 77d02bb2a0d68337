//! The JSON string maps stored in `x-amz-t`, `x-amz-m` and `x-amz-matdesc`.
//!
//! Written exactly as the official Python client writes them (`json.dumps` with
//! its defaults): `{"k": "v", "k2": "v2"}` in insertion order, with every
//! character outside printable ASCII escaped. Byte-identical metadata for the same
//! inputs follows, and so does a value that is valid in an HTTP header: S3 user
//! metadata travels as headers, which must be ASCII.

use std::fmt::Write as _;

/// Serializes string pairs as a compact-but-spaced, ASCII-only JSON object.
pub(crate) fn write_object<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_string(&mut out, key);
        out.push_str(": ");
        write_string(&mut out, value);
    }
    out.push('}');
    out
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Parses a JSON object whose values are all strings, keeping the stored order.
/// Duplicate keys are rejected: a context with two values for one key is
/// ambiguous, and different parsers would resolve it differently.
pub(crate) fn parse_object(text: &str) -> Result<Vec<(String, String)>, String> {
    use serde::de::{Deserializer, Error, MapAccess, Visitor};

    struct StringPairs;
    impl<'de> Visitor<'de> for StringPairs {
        type Value = Vec<(String, String)>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object whose values are strings")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut pairs: Vec<(String, String)> = Vec::new();
            while let Some((key, value)) = map.next_entry::<String, String>()? {
                if pairs.iter().any(|(k, _)| *k == key) {
                    return Err(A::Error::custom(format!("duplicate key {key:?}")));
                }
                pairs.push((key, value));
            }
            Ok(pairs)
        }
    }

    let mut de = serde_json::Deserializer::from_str(text);
    let pairs = de.deserialize_map(StringPairs).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_like_python_json_dumps() {
        assert_eq!(write_object([]), "{}");
        assert_eq!(
            write_object([("sealdrop:key", "a/b.txt"), ("aws:x-amz-cek-alg", "115")]),
            r#"{"sealdrop:key": "a/b.txt", "aws:x-amz-cek-alg": "115"}"#
        );
        // json.dumps({"k": "é\"\\\n\x01\x7f😀"}) in Python 3.11:
        assert_eq!(
            write_object([("k", "é\"\\\n\u{1}\u{7f}😀")]),
            r#"{"k": "\u00e9\"\\\n\u0001\u007f\ud83d\ude00"}"#
        );
    }

    #[test]
    fn round_trips_through_the_parser() {
        let text = write_object([("ü", "x\ty"), ("b", "😀")]);
        assert_eq!(
            parse_object(&text).unwrap(),
            vec![("ü".into(), "x\ty".into()), ("b".into(), "😀".into())]
        );
    }

    #[test]
    fn rejects_non_string_values_duplicates_and_non_objects() {
        assert!(parse_object(r#"{"a": 1}"#).is_err());
        assert!(parse_object(r#"{"a": "1", "a": "2"}"#).is_err());
        assert!(parse_object(r#"["a"]"#).is_err());
        assert!(parse_object("{").is_err());
        assert!(parse_object("{} {}").is_err());
    }
}
