//! JSON helpers the three formats share: member access that names the JSON pointer of what is
//! wrong, values sorted and deduplicated by their canonical bytes, and strict `%XX` decoding.
//!
//! Each reader keeps its own error type; [`Shape`] converts into it, so a wrong type or a
//! missing member reads the same whatever the format. Not here: anything format-specific.

use serde_json::{Map, Value as Json};
use stella_core::jcs::{self, Object, Value};

/// A document whose shape is not the one expected.
#[derive(Debug)]
pub(crate) enum Shape {
    /// The value at `pointer` is of another type.
    WrongType {
        pointer: String,
        expected: &'static str,
    },
    /// The object at `pointer` lacks `member`.
    MissingMember {
        pointer: String,
        member: &'static str,
    },
    /// The string at `pointer` is not an RFC 3339 time.
    BadTimestamp {
        pointer: String,
        source: stella_core::time::TimeError,
    },
}

/// Implements `From<Shape>` for a reader's error that has the three matching variants.
macro_rules! from_shape {
    ($error:ident) => {
        impl From<crate::json::Shape> for $error {
            fn from(shape: crate::json::Shape) -> Self {
                match shape {
                    crate::json::Shape::WrongType { pointer, expected } => {
                        $error::WrongType { pointer, expected }
                    }
                    crate::json::Shape::MissingMember { pointer, member } => {
                        $error::MissingMember { pointer, member }
                    }
                    crate::json::Shape::BadTimestamp { pointer, source } => {
                        $error::BadTimestamp { pointer, source }
                    }
                }
            }
        }
    };
}
pub(crate) use from_shape;

pub(crate) fn object<'v, 'a>(value: &'v Value<'a>, pointer: &str) -> Result<&'v Object<'a>, Shape> {
    value.as_object().ok_or_else(|| Shape::WrongType {
        pointer: pointer.to_owned(),
        expected: "an object",
    })
}

pub(crate) fn array<'v, 'a>(value: &'v Value<'a>, pointer: &str) -> Result<&'v [Value<'a>], Shape> {
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(Shape::WrongType {
            pointer: pointer.to_owned(),
            expected: "an array",
        }),
    }
}

/// The pointer of `member` inside the object at `pointer`.
pub(crate) fn child(pointer: &str, member: &str) -> String {
    // Built by hand: readers make one for every statement and product they read.
    let segment = jcs::escape_pointer_segment(member);
    let mut out = String::with_capacity(pointer.len() + 1 + segment.len());
    out.push_str(pointer);
    out.push('/');
    out.push_str(&segment);
    out
}

/// The pointer of item `index` of the array at `pointer`.
pub(crate) fn item(pointer: &str, index: usize) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = index;
    loop {
        at -= 1;
        digits[at] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut out = String::with_capacity(pointer.len() + 1 + digits.len() - at);
    out.push_str(pointer);
    out.push('/');
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
    out
}

/// The string member `name` of `obj`, if present.
pub(crate) fn opt_string(
    obj: &Object<'_>,
    pointer: &str,
    name: &str,
) -> Result<Option<String>, Shape> {
    match obj.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| Shape::WrongType {
                pointer: child(pointer, name),
                expected: "a string",
            }),
    }
}

/// The string member `name` of `obj`, which must be there.
pub(crate) fn string(obj: &Object<'_>, pointer: &str, name: &'static str) -> Result<String, Shape> {
    opt_string(obj, pointer, name)?.ok_or_else(|| Shape::MissingMember {
        pointer: pointer.to_owned(),
        member: name,
    })
}

/// The array member `name` of `obj`; empty when absent.
pub(crate) fn opt_array<'v, 'a>(
    obj: &'v Object<'a>,
    pointer: &str,
    name: &str,
) -> Result<&'v [Value<'a>], Shape> {
    match obj.get(name) {
        None => Ok(&[]),
        Some(v) => array(v, &child(pointer, name)),
    }
}

/// The object member `name` of `obj`, if present.
pub(crate) fn opt_object<'v, 'a>(
    obj: &'v Object<'a>,
    pointer: &str,
    name: &str,
) -> Result<Option<&'v Object<'a>>, Shape> {
    obj.get(name)
        .map(|v| object(v, &child(pointer, name)))
        .transpose()
}

/// The RFC 3339 time member `name` of `obj`, if present.
pub(crate) fn time(
    obj: &Object<'_>,
    pointer: &str,
    name: &str,
) -> Result<Option<jiff::Timestamp>, Shape> {
    let Some(text) = opt_string(obj, pointer, name)? else {
        return Ok(None);
    };
    text.parse::<jiff::Timestamp>()
        .map(Some)
        .map_err(|source| Shape::BadTimestamp {
            pointer: child(pointer, name),
            source: stella_core::time::TimeError { text, source },
        })
}

/// Sets `key` when there is a value.
pub(crate) fn put(map: &mut Map<String, Json>, key: &str, value: Option<String>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v.into());
    }
}

/// Values sorted by their canonical bytes, duplicates removed (schemas want unique items, and
/// the order must not depend on the input's).
pub(crate) fn sorted(values: Vec<Json>) -> Result<Vec<Json>, jcs::JcsError> {
    let mut keyed = values
        .into_iter()
        .map(|v| jcs::to_canonical(&v).map(|b| (b, v)))
        .collect::<Result<Vec<_>, _>>()?;
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    Ok(keyed.into_iter().map(|(_, v)| v).collect())
}

/// The text behind `%XX` escapes; `None` when an escape is malformed or the bytes are not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
