//! The strict I-JSON reader (RFC 8259 grammar, RFC 7493 restrictions).
//!
//! Recursive descent with an explicit depth bound. Errors are built without cost on the success
//! path: the failing level records its byte offset, and each enclosing level adds its pointer
//! segment while the error unwinds.

use std::borrow::Cow;

use super::value::{Object, Value, cmp_utf16};
use super::{JcsError, Limits, Location, MAX_EXACT_INTEGER, escape_pointer_segment};

/// Reads `input` as I-JSON under explicit `limits`.
///
/// # Errors
/// Any [`JcsError`] that reading can produce; see the module documentation.
pub fn parse_with(input: &[u8], limits: Limits) -> Result<Value<'_>, JcsError> {
    if input.len() > limits.max_bytes {
        return Err(JcsError::TooLarge {
            size: input.len() as u64,
            limit: limits.max_bytes as u64,
        });
    }
    let src = std::str::from_utf8(input).map_err(|e| JcsError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    if src.starts_with('\u{feff}') {
        return Err(JcsError::ByteOrderMark);
    }
    let mut reader = Reader {
        src,
        bytes: input,
        pos: 0,
        depth: 0,
        max_depth: limits.max_depth,
        key_offsets: Vec::new(),
    };
    let result = reader.document();
    result.map_err(|failure| failure.into_error(input))
}

/// What went wrong, before the pointer is known.
enum Kind {
    Syntax { expected: &'static str },
    TooDeep { limit: usize },
    Duplicate { key: String },
    IntegerOutOfRange { literal: String, read_as: String },
    NumberOutOfRange { literal: String },
    NumberUnderflow { literal: String },
    LoneSurrogate { unit: u16 },
}

/// A pointer segment collected while unwinding.
enum Segment {
    Key(String),
    Index(usize),
}

struct Failure {
    kind: Kind,
    offset: usize,
    /// Innermost first.
    path: Vec<Segment>,
}

type Parsed<T> = Result<T, Box<Failure>>;

impl Failure {
    fn into_error(self, input: &[u8]) -> JcsError {
        let pointer: String = self
            .path
            .iter()
            .rev()
            .map(|seg| match seg {
                Segment::Key(k) => format!("/{}", escape_pointer_segment(k)),
                Segment::Index(i) => format!("/{i}"),
            })
            .collect();
        let at = located(pointer, input, self.offset);
        match self.kind {
            Kind::Syntax { expected } => JcsError::Syntax {
                expected,
                found: describe(input, self.offset),
                at,
            },
            Kind::TooDeep { limit } => JcsError::TooDeep { at, limit },
            Kind::Duplicate { key } => JcsError::DuplicateKey { at, key },
            Kind::IntegerOutOfRange { literal, read_as } => JcsError::IntegerOutOfRange {
                at,
                literal,
                read_as,
            },
            Kind::NumberOutOfRange { literal } => JcsError::NumberOutOfRange { at, literal },
            Kind::NumberUnderflow { literal } => JcsError::NumberUnderflow { at, literal },
            Kind::LoneSurrogate { unit } => JcsError::LoneSurrogate { at, unit },
        }
    }
}

fn located(pointer: String, input: &[u8], offset: usize) -> Location {
    let before = &input[..offset.min(input.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    // Columns count characters, not bytes; the prefix is valid UTF-8 up to any offset we report.
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Location {
        pointer,
        offset: Some(offset),
        line: Some(line),
        column: Some(column),
    }
}

fn describe(input: &[u8], offset: usize) -> String {
    let Some(rest) = input.get(offset..).filter(|r| !r.is_empty()) else {
        return "end of input".to_owned();
    };
    let head = String::from_utf8_lossy(&rest[..rest.len().min(4)]);
    match head.chars().next() {
        Some(c) if c.is_ascii_graphic() || c == ' ' => format!("'{c}'"),
        Some(c) => format!("U+{:04X}", u32::from(c)),
        None => "end of input".to_owned(),
    }
}

/// Bytes that end the fast scan inside a string: the quote, the backslash and control characters.
const STRING_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

struct Reader<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
    /// Offsets of the member names of the objects being read, innermost last; used only to point
    /// at a duplicate name.
    key_offsets: Vec<usize>,
}

fn fail<T>(kind: Kind, offset: usize) -> Parsed<T> {
    Err(Box::new(Failure {
        kind,
        offset,
        path: Vec::new(),
    }))
}

fn syntax<T>(expected: &'static str, offset: usize) -> Parsed<T> {
    fail(Kind::Syntax { expected }, offset)
}

impl<'a> Reader<'a> {
    fn document(&mut self) -> Parsed<Value<'a>> {
        let value = self.value()?;
        self.skip_whitespace();
        if self.pos != self.bytes.len() {
            return syntax("end of input after the top-level value", self.pos);
        }
        Ok(value)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Parsed<Value<'a>> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => syntax("a JSON value", self.pos),
        }
    }

    fn literal(&mut self, word: &'static str, value: Value<'a>) -> Parsed<Value<'a>> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            syntax("a JSON value", self.pos)
        }
    }

    fn enter(&mut self) -> Parsed<()> {
        if self.depth >= self.max_depth {
            return fail(
                Kind::TooDeep {
                    limit: self.max_depth,
                },
                self.pos,
            );
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    fn array(&mut self) -> Parsed<Value<'a>> {
        self.enter()?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            let index = items.len();
            let item = self.value().map_err(|mut f| {
                f.path.push(Segment::Index(index));
                f
            })?;
            items.push(item);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Array(items));
                }
                _ => {
                    return Err(Box::new(Failure {
                        kind: Kind::Syntax {
                            expected: "',' or ']' after an array element",
                        },
                        offset: self.pos,
                        path: Vec::new(),
                    }));
                }
            }
        }
    }

    fn object(&mut self) -> Parsed<Value<'a>> {
        self.enter()?;
        let base = self.key_offsets.len();
        let mut members: Vec<(Cow<'a, str>, Value<'a>)> = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Object(Object::default()));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return syntax("a member name in double quotes", self.pos);
            }
            let key_offset = self.pos;
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return syntax("':' after a member name", self.pos);
            }
            self.pos += 1;
            let value = match self.value() {
                Ok(v) => v,
                Err(mut f) => {
                    f.path.push(Segment::Key(key.into_owned()));
                    return Err(f);
                }
            };
            self.key_offsets.push(key_offset);
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return syntax("',' or '}' after an object member", self.pos),
            }
        }
        self.depth -= 1;
        let result = Object::from_members(members);
        let object = match result {
            Ok(o) => o,
            Err(key) => return Err(self.duplicate(base, key)),
        };
        self.key_offsets.truncate(base);
        Ok(Value::Object(object))
    }

    /// The error for a duplicated member name, pointing at its second occurrence.
    fn duplicate(&mut self, base: usize, key: String) -> Box<Failure> {
        let offsets = self.key_offsets.split_off(base);
        let second = offsets
            .iter()
            .copied()
            .filter(|&offset| {
                self.pos = offset;
                self.string().is_ok_and(|k| cmp_utf16(&k, &key).is_eq())
            })
            .nth(1)
            .unwrap_or(base);
        Box::new(Failure {
            kind: Kind::Duplicate { key: key.clone() },
            offset: second,
            path: vec![Segment::Key(key)],
        })
    }

    /// Reads a string starting at the opening quote; borrows when there are no escapes.
    fn string(&mut self) -> Parsed<Cow<'a, str>> {
        let start = self.pos + 1;
        let mut i = start;
        while i < self.bytes.len() && !STRING_SPECIAL[usize::from(self.bytes[i])] {
            i += 1;
        }
        match self.bytes.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                return Ok(Cow::Borrowed(&self.src[start..i]));
            }
            Some(b'\\') => {}
            Some(_) => return syntax("an escaped control character (\\u00XX)", i),
            None => return syntax("'\"' to close the string", i),
        }
        let mut out = String::with_capacity(i - start + 16);
        out.push_str(&self.src[start..i]);
        loop {
            // At a backslash.
            i = self.escape(i, &mut out)?;
            let run = i;
            while i < self.bytes.len() && !STRING_SPECIAL[usize::from(self.bytes[i])] {
                i += 1;
            }
            out.push_str(&self.src[run..i]);
            match self.bytes.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {}
                Some(_) => return syntax("an escaped control character (\\u00XX)", i),
                None => return syntax("'\"' to close the string", i),
            }
        }
    }

    /// Decodes the escape at `i` (a backslash) into `out`; returns the offset after it.
    fn escape(&self, i: usize, out: &mut String) -> Parsed<usize> {
        let Some(&c) = self.bytes.get(i + 1) else {
            return syntax("an escape character after '\\'", i + 1);
        };
        let simple = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(i, out),
            _ => return syntax("one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX", i),
        };
        out.push(simple);
        Ok(i + 2)
    }

    fn hex4(&self, at: usize) -> Parsed<u16> {
        let digits = self.bytes.get(at..at + 4);
        let parsed = digits
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u16::from_str_radix(d, 16).ok());
        match parsed {
            Some(unit) => Ok(unit),
            None => syntax("four hex digits after \\u", at),
        }
    }

    /// `\uXXXX`, pairing surrogates; `i` is at the backslash.
    fn unicode_escape(&self, i: usize, out: &mut String) -> Parsed<usize> {
        let unit = self.hex4(i + 2)?;
        let scalar = match unit {
            0xD800..=0xDBFF => {
                let low = if self.bytes.get(i + 6..i + 8) == Some(b"\\u") {
                    Some(self.hex4(i + 8)?)
                } else {
                    None
                };
                match low {
                    Some(low @ 0xDC00..=0xDFFF) => {
                        let high = u32::from(unit - 0xD800);
                        let low_bits = u32::from(low - 0xDC00);
                        let code = 0x10000 + (high << 10) + low_bits;
                        out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                        return Ok(i + 12);
                    }
                    _ => return fail(Kind::LoneSurrogate { unit }, i),
                }
            }
            0xDC00..=0xDFFF => return fail(Kind::LoneSurrogate { unit }, i),
            _ => char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER),
        };
        out.push(scalar);
        Ok(i + 6)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Parsed<Value<'a>> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return syntax("no leading zeros in a number", int_start);
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return syntax("a digit", self.pos),
        }
        let int_digits = self.pos - int_start;
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if self.digits() == 0 {
                return syntax("a digit after the decimal point", self.pos);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return syntax("a digit in the exponent", self.pos);
            }
        }
        let literal = &self.src[start..self.pos];
        if integer {
            // 2^53 has 16 digits, and leading zeros are excluded above.
            let magnitude = if int_digits <= 16 {
                self.src[int_start..self.pos].parse::<u64>().ok()
            } else {
                None
            };
            if let Some(m) = magnitude.filter(|&m| m <= MAX_EXACT_INTEGER) {
                #[allow(clippy::cast_precision_loss)]
                let m = m as f64;
                return Ok(Value::Number(if start == int_start { m } else { -m }));
            }
            // Beyond 2^53 a literal survives only if it is exactly the ECMAScript spelling of
            // its nearest double (as JCS itself writes `1e20`); anything else would be silently
            // rounded, which is what I-JSON forbids.
            let nearest = literal.parse::<f64>().ok().filter(|n| n.is_finite());
            let spelled = nearest.map(|n| ryu_js::Buffer::new().format_finite(n).to_owned());
            return match (nearest, spelled) {
                (Some(n), Some(s)) if s == literal => Ok(Value::Number(n)),
                (_, read_as) => fail(
                    Kind::IntegerOutOfRange {
                        literal: literal.to_owned(),
                        read_as: read_as.unwrap_or_else(|| "infinity".to_owned()),
                    },
                    start,
                ),
            };
        }
        match literal.parse::<f64>() {
            // A non-zero literal read as zero (`1e-400`) is as silent a change of value as an
            // overflow would be: refused the same way, whereas `0e-400` is zero.
            Ok(n) if n == 0.0 && has_nonzero_significand(literal) => fail(
                Kind::NumberUnderflow {
                    literal: literal.to_owned(),
                },
                start,
            ),
            Ok(n) if n.is_finite() => Ok(Value::Number(n)),
            _ => fail(
                Kind::NumberOutOfRange {
                    literal: literal.to_owned(),
                },
                start,
            ),
        }
    }
}

/// Whether a number literal's digits before its exponent include one that is not `0`.
fn has_nonzero_significand(literal: &str) -> bool {
    literal
        .bytes()
        .take_while(|b| !matches!(b, b'e' | b'E'))
        .any(|b| matches!(b, b'1'..=b'9'))
}
