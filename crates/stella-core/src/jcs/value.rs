//! The parsed document: a JSON tree whose objects are always in canonical member order.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::{JcsError, Location, MAX_EXACT_INTEGER, escape_pointer_segment};

/// A JSON value as I-JSON allows it. Strings borrow from the input where they hold no escapes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A finite IEEE 754 double; integer literals are within ±2^53.
    Number(f64),
    /// A string of Unicode scalar values.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object, members sorted by UTF-16 code units and unique.
    Object(Object<'a>),
}

/// An object whose members are unique and sorted by the UTF-16 code units of their names
/// (RFC 8785 §3.2.3), so lookups are binary searches and writing needs no sort.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object<'a> {
    members: Vec<(Cow<'a, str>, Value<'a>)>,
}

/// Orders two strings by their UTF-16 code units, as RFC 8785 §3.2.3 requires.
///
/// UTF-8 byte order is code-point order, which agrees with UTF-16 order except between a
/// supplementary-plane character (a surrogate pair, `0xD800..`) and one in `U+E000..=U+FFFF`. In
/// UTF-8 those differ first at a lead byte `0xF0..=0xF4` against `0xEE`/`0xEF`, so only that case
/// is flipped; everything else is a plain byte comparison.
pub fn cmp_utf16(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    match first_difference(x, y) {
        None => x.len().cmp(&y.len()),
        Some(i) => {
            let (p, q) = (x[i], y[i]);
            let supplementary_vs_high_bmp = |s: u8, t: u8| s >= 0xF0 && (t == 0xEE || t == 0xEF);
            if supplementary_vs_high_bmp(p, q) {
                Ordering::Less
            } else if supplementary_vs_high_bmp(q, p) {
                Ordering::Greater
            } else {
                p.cmp(&q)
            }
        }
    }
}

/// The first index at which `x` and `y` differ, within the shorter; eight bytes compared at a
/// time.
fn first_difference(x: &[u8], y: &[u8]) -> Option<usize> {
    let word = |c: &[u8]| u64::from_le_bytes(<[u8; 8]>::try_from(c).unwrap_or_default());
    let (mut xs, mut ys) = (x.chunks_exact(8), y.chunks_exact(8));
    let mut at = 0;
    for (p, q) in xs.by_ref().zip(ys.by_ref()) {
        let diff = word(p) ^ word(q);
        if diff != 0 {
            // Little-endian: the lowest set bit is in the first differing byte.
            return Some(at + (diff.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    x[at..]
        .iter()
        .zip(&y[at..])
        .position(|(p, q)| p != q)
        .map(|i| at + i)
}

/// Objects with at most this many members are searched from the front by equality (which
/// compares lengths first), larger ones by binary search.
const LINEAR_LOOKUP: usize = 12;

impl<'a> Object<'a> {
    /// Builds an object from members in any order.
    ///
    /// # Errors
    /// The first duplicated name, if any.
    pub fn from_members(mut members: Vec<(Cow<'a, str>, Value<'a>)>) -> Result<Self, String> {
        members.sort_unstable_by(|a, b| cmp_utf16(&a.0, &b.0));
        if let Some(pair) = members.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(pair[0].0.to_string());
        }
        Ok(Object { members })
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.members.binary_search_by(|(k, _)| cmp_utf16(k, key))
    }

    /// The member named `key`.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        if self.members.len() <= LINEAR_LOOKUP {
            return (self.members.iter())
                .find(|(k, _)| k.as_ref() == key)
                .map(|(_, v)| v);
        }
        self.position(key).ok().map(|i| &self.members[i].1)
    }

    /// The member named `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value<'a>> {
        self.position(key).ok().map(|i| &mut self.members[i].1)
    }

    /// Removes and returns the member named `key`.
    pub fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        self.position(key).ok().map(|i| self.members.remove(i).1)
    }

    /// Inserts or replaces the member named `key`, keeping canonical order.
    pub fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: Value<'a>) {
        let key = key.into();
        match self.position(&key) {
            Ok(i) => self.members[i].1 = value,
            Err(i) => self.members.insert(i, (key, value)),
        }
    }

    /// Members in canonical order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value<'a>)> {
        self.members.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the object has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl<'a> Value<'a> {
    /// The member `key` if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(o) => o.get(key),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The object, mutably, if this is one.
    pub fn as_object_mut(&mut self) -> Option<&mut Object<'a>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The canonical (RFC 8785) bytes of this value.
    pub fn to_canonical(&self) -> Vec<u8> {
        let mut out = Vec::new();
        super::write::write_value(self, &mut out);
        out
    }

    /// Appends the canonical (RFC 8785) bytes of this value to `out`, for callers that gather
    /// many values' canonical forms in one buffer.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        super::write::write_value(self, out);
    }

    /// SHA-256 of this value's canonical (RFC 8785) bytes, the same as hashing
    /// [`Value::to_canonical`], computed as they are written so that they are never held whole.
    pub fn canonical_sha256(&self) -> crate::Digest {
        let mut buffer = Vec::with_capacity(super::write::HASH_CHUNK_CAPACITY);
        let mut hasher = crate::digest::Sha256Writer::default();
        super::write::hash_value(self, &mut buffer, &mut hasher);
        hasher.update(&buffer);
        hasher.finish()
    }

    /// The canonical bytes of this value with the members at the given RFC 6901 `pointers`
    /// left out, as if they had been removed first (without copying the tree).
    pub fn to_canonical_excluding(&self, pointers: &[&str]) -> Vec<u8> {
        let excluded: Vec<Vec<String>> = pointers
            .iter()
            .map(|p| {
                p.split('/')
                    .skip(1)
                    .map(|s| s.replace("~1", "/").replace("~0", "~"))
                    .collect()
            })
            .collect();
        let mut out = Vec::new();
        super::write::write_value_excluding(self, &excluded, &mut out);
        out
    }

    /// Converts a `serde_json` value, checking what JCS cannot represent.
    ///
    /// # Errors
    /// [`JcsError::Unrepresentable`] for an integer beyond ±2^53 (named by its pointer).
    pub fn from_serde(value: &serde_json::Value) -> Result<Value<'static>, JcsError> {
        let mut path = Vec::new();
        from_serde_at(value, &mut path)
    }

    /// Converts to a `serde_json` value (integers within ±2^53 become integer numbers).
    pub fn to_serde(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_serde(*n),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_serde).collect())
            }
            Value::Object(o) => serde_json::Value::Object(
                o.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_serde()))
                    .collect(),
            ),
        }
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Number(n) => Value::Number(n),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::into_owned).collect()),
            Value::Object(o) => Value::Object(Object {
                members: o
                    .members
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            }),
        }
    }
}

fn number_to_serde(n: f64) -> serde_json::Value {
    // Whole numbers within ±2^53 convert exactly to i64, so `1` stays an integer for typed readers.
    #[allow(clippy::cast_possible_truncation)]
    if n.fract() == 0.0 && n.abs() <= MAX_EXACT_INTEGER as f64 {
        return serde_json::Value::from(n as i64);
    }
    serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

fn pointer_of(path: &[String]) -> String {
    path.iter()
        .map(|s| format!("/{}", escape_pointer_segment(s)))
        .collect()
}

fn from_serde_at(
    value: &serde_json::Value,
    path: &mut Vec<String>,
) -> Result<Value<'static>, JcsError> {
    Ok(match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Number(serde_number(n, path)?),
        serde_json::Value::String(s) => Value::String(Cow::Owned(s.clone())),
        serde_json::Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                out.push(from_serde_at(item, path)?);
                path.pop();
            }
            Value::Array(out)
        }
        serde_json::Value::Object(map) => {
            let mut members = Vec::with_capacity(map.len());
            for (k, v) in map {
                path.push(k.clone());
                members.push((Cow::Owned(k.clone()), from_serde_at(v, path)?));
                path.pop();
            }
            // A serde_json map cannot hold duplicates, so `from_members` cannot fail here; stay
            // total anyway rather than assume it.
            Value::Object(
                Object::from_members(members).map_err(|key| JcsError::DuplicateKey {
                    at: Location::at_pointer(pointer_of(path)),
                    key,
                })?,
            )
        }
    })
}

fn serde_number(n: &serde_json::Number, path: &[String]) -> Result<f64, JcsError> {
    let out_of_range = || JcsError::Unrepresentable {
        at: Location::at_pointer(pointer_of(path)),
        what: format!("integer {n} (outside ±2^53)"),
    };
    if let Some(i) = n.as_u64() {
        return if i <= MAX_EXACT_INTEGER {
            #[allow(clippy::cast_precision_loss)]
            Ok(i as f64)
        } else {
            Err(out_of_range())
        };
    }
    if let Some(i) = n.as_i64() {
        return if i.unsigned_abs() <= MAX_EXACT_INTEGER {
            #[allow(clippy::cast_precision_loss)]
            Ok(i as f64)
        } else {
            Err(out_of_range())
        };
    }
    match n.as_f64() {
        Some(f) if f.is_finite() => Ok(f),
        _ => Err(JcsError::Unrepresentable {
            at: Location::at_pointer(pointer_of(path)),
            what: format!("number {n}"),
        }),
    }
}
