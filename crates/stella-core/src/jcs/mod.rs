//! RFC 8785, the JSON Canonicalization Scheme (JCS), over a strict I-JSON reader.
//!
//! `canonical_id = sha256(JCS(document))` only means something if every tool derives the same bytes
//! from the same document, so this module is exact where the RFC is and strict where it defers:
//!
//! - **Reading** ([`parse`]): RFC 8259 JSON restricted to I-JSON (RFC 7493), which RFC 8785 §3.1
//!   requires. Duplicate object keys, integer literals outside ±2^53 that an IEEE 754 double cannot
//!   hold exactly (`9007199254740993` would silently become `…992`; a literal that is exactly the
//!   canonical spelling of a double, such as JCS's own `100000000000000000000`, is kept so that
//!   canonical output always reads back), numbers that overflow a double or underflow it to zero
//!   (`1e-400` would silently become `0`), lone UTF-16 surrogates, invalid UTF-8 and a byte order
//!   mark are all rejected with a [`JcsError`] that names the JSON pointer and the byte offset.
//!   Input size and nesting depth are bounded by [`Limits`].
//! - **Writing** ([`Value::to_canonical`]): no insignificant whitespace (§3.2.1); strings escaped as
//!   ECMAScript's `JSON.stringify` does (§3.2.2.2); numbers in ECMAScript's `Number.prototype.toString`
//!   form (§3.2.2.3); object members sorted by the UTF-16 code units of their names (§3.2.3).
//!
//! Objects are kept sorted from the moment they are read, so a parsed [`Value`] is already in
//! canonical order and can be inspected or edited (e.g. dropping volatile fields) before writing.
//!
//! ```
//! use stella_core::jcs;
//!
//! // RFC 8785 §3.2.2.3 number forms and §3.2.3 member order.
//! let canon = jcs::canonicalize(br#"{"b": 1E30, "a": [4.50, 2e-3, -0]}"#).unwrap();
//! assert_eq!(canon, br#"{"a":[4.5,0.002,0],"b":1e+30}"#);
//!
//! // I-JSON: a duplicate key is an error that names where it is.
//! let err = jcs::canonicalize(br#"{"x": {"k": 1, "k": 2}}"#).unwrap_err();
//! assert_eq!(err.pointer(), Some("/x/k"));
//! ```
//!
//! What this module does not do: decide whether a document is a valid SBOM (that is `stella-sbom`),
//! or preserve anything the canonical form drops (whitespace, member order, number spelling).

mod read;
mod value;
mod write;

use std::fmt;

pub use read::parse_with;
pub use value::{Object, Value, cmp_utf16};

/// Largest document accepted by default: 256 MiB. Real SBOMs of large images are tens of MiB; the
/// parsed tree costs about three times the input, so this keeps memory well under a gigabyte.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024 * 1024;

/// Deepest nesting of arrays and objects accepted by default. CycloneDX documents nest components a
/// few dozen levels at most; the limit keeps recursion far from the stack's end on any thread.
pub const MAX_DEPTH: usize = 256;

/// Largest integer magnitude accepted in an integer literal: 2^53, the last integer up to which
/// every integer is exactly representable as an IEEE 754 double (RFC 7493 §2.2).
pub const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// Bounds on untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum document size in bytes.
    pub max_bytes: usize,
    /// Maximum nesting depth of arrays and objects.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: MAX_DOCUMENT_BYTES,
            max_depth: MAX_DEPTH,
        }
    }
}

/// Where in a document something went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// RFC 6901 JSON pointer of the value (or member) concerned; empty for the document root.
    pub pointer: String,
    /// Byte offset into the input, when the error comes from reading bytes.
    pub offset: Option<usize>,
    /// 1-based line of `offset`.
    pub line: Option<usize>,
    /// 1-based column (in characters) of `offset`.
    pub column: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str("at the document root")?;
        } else {
            write!(f, "at {}", self.pointer)?;
        }
        match (self.line, self.column, self.offset) {
            (Some(line), Some(column), Some(offset)) => {
                write!(f, " (line {line}, column {column}, byte {offset})")
            }
            (_, _, Some(offset)) => write!(f, " (byte {offset})"),
            _ => Ok(()),
        }
    }
}

/// Why a document could not be read or canonicalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JcsError {
    /// The input is larger than [`Limits::max_bytes`].
    #[error("document is {size} bytes, larger than the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input in bytes.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The input is not UTF-8 (RFC 8259 §8.1).
    #[error("invalid UTF-8 at byte {offset} (JSON text must be UTF-8, RFC 8259 §8.1)")]
    InvalidUtf8 {
        /// Offset of the first byte that is not valid UTF-8.
        offset: usize,
    },
    /// The input starts with a UTF-8 byte order mark (RFC 8259 §8.1 forbids adding one).
    #[error(
        "the document starts with a UTF-8 byte order mark, which JSON text must not carry (RFC 8259 §8.1)"
    )]
    ByteOrderMark,
    /// Not JSON: a token other than the one the grammar allows here.
    #[error("{at}: expected {expected}, found {found}")]
    Syntax {
        /// Where.
        at: Location,
        /// What the grammar allows here.
        expected: &'static str,
        /// What the input holds instead.
        found: String,
    },
    /// Arrays and objects nested deeper than [`Limits::max_depth`].
    #[error("{at}: nesting is deeper than the limit of {limit} levels")]
    TooDeep {
        /// Where the limit was crossed.
        at: Location,
        /// The limit in force.
        limit: usize,
    },
    /// An object names the same member twice (I-JSON, RFC 7493 §2.3).
    #[error("{at}: duplicate member name {key:?} (I-JSON forbids duplicates, RFC 7493 §2.3)")]
    DuplicateKey {
        /// The member (pointer includes the repeated name).
        at: Location,
        /// The repeated name.
        key: String,
    },
    /// An integer literal beyond ±2^53 that a double cannot hold exactly (RFC 7493 §2.2).
    #[error(
        "{at}: integer {literal} is outside ±2^53 and not exactly representable; it would silently become {read_as} (RFC 7493 §2.2: write it as a string)"
    )]
    IntegerOutOfRange {
        /// Where.
        at: Location,
        /// The literal as written.
        literal: String,
        /// What an IEEE 754 reader would turn it into.
        read_as: String,
    },
    /// A number literal whose magnitude overflows a double.
    #[error("{at}: number {literal} overflows an IEEE 754 double (RFC 7493 §2.2)")]
    NumberOutOfRange {
        /// Where.
        at: Location,
        /// The literal as written.
        literal: String,
    },
    /// A non-zero number literal too small for a double, which would silently read as zero.
    #[error(
        "{at}: number {literal} underflows an IEEE 754 double; it would silently become 0 (RFC 7493 §2.2)"
    )]
    NumberUnderflow {
        /// Where.
        at: Location,
        /// The literal as written.
        literal: String,
    },
    /// A `\uD800`–`\uDFFF` escape that is not half of a surrogate pair (RFC 7493 §2.1).
    #[error("{at}: lone surrogate \\u{unit:04x} is not a Unicode scalar value (RFC 7493 §2.1)")]
    LoneSurrogate {
        /// Where.
        at: Location,
        /// The unpaired UTF-16 code unit.
        unit: u16,
    },
    /// A value that JSON cannot represent (NaN, an infinity, or an integer beyond ±2^53) in a
    /// document built in memory rather than read from bytes.
    #[error("{at}: {what} cannot be represented in canonical JSON")]
    Unrepresentable {
        /// Where.
        at: Location,
        /// What the value is.
        what: String,
    },
}

impl JcsError {
    /// The JSON pointer of the offending value, when the error has one.
    pub fn pointer(&self) -> Option<&str> {
        self.location().map(|l| l.pointer.as_str())
    }

    /// The full location, when the error has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            JcsError::Syntax { at, .. }
            | JcsError::TooDeep { at, .. }
            | JcsError::DuplicateKey { at, .. }
            | JcsError::IntegerOutOfRange { at, .. }
            | JcsError::NumberOutOfRange { at, .. }
            | JcsError::NumberUnderflow { at, .. }
            | JcsError::LoneSurrogate { at, .. }
            | JcsError::Unrepresentable { at, .. } => Some(at),
            JcsError::TooLarge { .. } | JcsError::InvalidUtf8 { .. } | JcsError::ByteOrderMark => {
                None
            }
        }
    }
}

/// Reads `input` as I-JSON under the default [`Limits`].
///
/// # Errors
/// Any [`JcsError`] that reading can produce; see the module documentation.
pub fn parse(input: &[u8]) -> Result<Value<'_>, JcsError> {
    parse_with(input, Limits::default())
}

/// The RFC 8785 canonical bytes of the JSON document `input`, under the default [`Limits`].
///
/// # Errors
/// As [`parse`].
pub fn canonicalize(input: &[u8]) -> Result<Vec<u8>, JcsError> {
    Ok(parse(input)?.to_canonical())
}

/// Appends `text` to `out` as a canonical JSON string (RFC 8785 §3.2.2.2), quotes included: for
/// a writer that puts canonical bytes together itself, members in canonical order.
pub fn write_str(text: &str, out: &mut Vec<u8>) {
    write::write_string(text, out);
}

/// The canonical bytes of any serialisable value (for documents Stella builds itself).
///
/// # Errors
/// [`JcsError::Unrepresentable`] for integers beyond ±2^53; serialisation failures of `T` are
/// reported the same way at the document root.
pub fn to_canonical<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, JcsError> {
    let json = serde_json::to_value(value).map_err(|e| JcsError::Unrepresentable {
        at: Location::root(),
        what: format!("a value that failed to serialise ({e})"),
    })?;
    Ok(Value::from_serde(&json)?.to_canonical())
}

/// The RFC 6901 pointer of the member where a `serde_path_to_error` deserialisation stopped
/// (the document root is the empty pointer).
pub fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", escape_pointer_segment(key))),
            Segment::Enum { variant } => Some(format!("/{variant}")),
            Segment::Unknown => None,
        })
        .collect()
}

/// RFC 6901 pointer segment escaping (`~` → `~0`, `/` → `~1`).
pub fn escape_pointer_segment(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains(['~', '/']) {
        std::borrow::Cow::Owned(segment.replace('~', "~0").replace('/', "~1"))
    } else {
        std::borrow::Cow::Borrowed(segment)
    }
}

impl Location {
    /// The document root, with no byte position.
    pub fn root() -> Self {
        Location {
            pointer: String::new(),
            offset: None,
            line: None,
            column: None,
        }
    }

    /// A pointer with no byte position.
    pub fn at_pointer(pointer: String) -> Self {
        Location {
            pointer,
            offset: None,
            line: None,
            column: None,
        }
    }
}

#[cfg(test)]
mod tests;
