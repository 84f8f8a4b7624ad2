//! The RFC 8785 writer: §3.2.2 serialisation of primitives, §3.2.3 member order (already held by
//! [`Object`](super::Object)), no whitespace.

use super::MAX_EXACT_INTEGER;
use super::value::Value;
use crate::digest::Sha256Writer;

pub(super) fn write_value(value: &Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(*n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(object) => {
            out.push(b'{');
            for (i, (key, item)) in object.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out);
            }
            out.push(b'}');
        }
    }
}

/// Bytes of canonical output gathered before they are fed to a hash: large enough that hashing
/// runs over long slices, small enough to stay in cache however large the document.
const HASH_CHUNK: usize = 64 * 1024;

/// What the hashing buffer is made with: a chunk and room for the value that passes it.
pub(super) const HASH_CHUNK_CAPACITY: usize = 2 * HASH_CHUNK;

/// Feeds the canonical bytes of `value` to `hasher` through `buffer`, which never grows much past
/// [`HASH_CHUNK`] (plus one scalar): the document's canonical form is never held whole.
pub(super) fn hash_value(value: &Value<'_>, buffer: &mut Vec<u8>, hasher: &mut Sha256Writer) {
    match value {
        Value::Array(items) => {
            buffer.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buffer.push(b',');
                }
                hash_value(item, buffer, hasher);
            }
            buffer.push(b']');
        }
        Value::Object(object) => {
            buffer.push(b'{');
            for (i, (key, item)) in object.iter().enumerate() {
                if i > 0 {
                    buffer.push(b',');
                }
                write_string(key, buffer);
                buffer.push(b':');
                hash_value(item, buffer, hasher);
            }
            buffer.push(b'}');
        }
        scalar => write_value(scalar, buffer),
    }
    if buffer.len() >= HASH_CHUNK {
        hasher.update(buffer);
        buffer.clear();
    }
}

/// Writes `value` leaving out the members at `excluded` (pointer segments, each path relative to
/// `value`); paths that do not exist are ignored.
pub(super) fn write_value_excluding(
    value: &Value<'_>,
    excluded: &[Vec<String>],
    out: &mut Vec<u8>,
) {
    if excluded.is_empty() {
        return write_value(value, out);
    }
    let narrowed = |segment: &str| -> Option<Vec<Vec<String>>> {
        let matching: Vec<&Vec<String>> = excluded
            .iter()
            .filter(|p| p.first().is_some_and(|s| s == segment))
            .collect();
        if matching.iter().any(|p| p.len() == 1) {
            return None; // this member itself is excluded
        }
        Some(matching.into_iter().map(|p| p[1..].to_vec()).collect())
    };
    match value {
        Value::Array(items) => {
            out.push(b'[');
            let mut first = true;
            for (i, item) in items.iter().enumerate() {
                let Some(rest) = narrowed(&i.to_string()) else {
                    continue;
                };
                if !first {
                    out.push(b',');
                }
                first = false;
                write_value_excluding(item, &rest, out);
            }
            out.push(b']');
        }
        Value::Object(object) => {
            out.push(b'{');
            let mut first = true;
            for (key, item) in object.iter() {
                let Some(rest) = narrowed(key) else {
                    continue;
                };
                if !first {
                    out.push(b',');
                }
                first = false;
                write_string(key, out);
                out.push(b':');
                write_value_excluding(item, &rest, out);
            }
            out.push(b'}');
        }
        scalar => write_value(scalar, out),
    }
}

/// ECMAScript `Number.prototype.toString` (ECMA-262 §7.1.12.1), as RFC 8785 §3.2.2.3 requires.
fn write_number(n: f64, out: &mut Vec<u8>) {
    // Whole numbers within ±2^53 print as their integer digits in ECMAScript (and -0 as "0"); this
    // is the common case in real documents and needs no shortest-round-trip search.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    if n.fract() == 0.0 && n.abs() <= MAX_EXACT_INTEGER as f64 {
        let i = n as i64;
        if i < 0 {
            out.push(b'-');
        }
        write_u64(i.unsigned_abs(), out);
        return;
    }
    let mut buffer = ryu_js::Buffer::new();
    out.extend_from_slice(buffer.format_finite(n).as_bytes());
}

fn write_u64(mut v: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        // `v % 10` is below 10, so the narrowing is exact.
        #[allow(clippy::cast_possible_truncation)]
        let d = (v % 10) as u8;
        digits[i] = b'0' + d;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// What a byte becomes inside a canonical string: 0 = itself, otherwise the escape's second
/// character (`u` for `\u00XX`).
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// RFC 8785 §3.2.2.2: `"`, `\` and control characters escaped (short forms where JSON has them,
/// else `\u00xx` in lower-case hex); everything else, including non-ASCII, as UTF-8.
///
/// Strings are scanned eight bytes at a time ([`needs_escape`]); only a word that may hold a
/// byte to escape is looked at byte by byte.
pub(super) fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8)
            && !needs_escape(u64::from_le_bytes(
                <[u8; 8]>::try_from(word).unwrap_or_default(),
            ))
        {
            at += 8;
            continue;
        }
        let end = (at + 8).min(bytes.len());
        for (i, &b) in bytes.iter().enumerate().take(end).skip(at) {
            let escape = ESCAPE[usize::from(b)];
            if escape == 0 {
                continue;
            }
            out.extend_from_slice(&bytes[run..i]);
            out.push(b'\\');
            out.push(escape);
            if escape == b'u' {
                out.extend_from_slice(&[
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]);
            }
            run = i + 1;
        }
        at = end;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// Whether the eight bytes of `word` may hold one that a canonical string escapes: a control
/// character (below 0x20), `"` or `\`. Never false when one is there; a true answer is checked
/// byte by byte.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte below `n` (n ≤ 0x80) sets its high bit in `(x - n·ONES) & !x & HIGH`; a borrow can
    // only add bits above a byte that truly matched.
    let below = |x: u64, n: u64| x.wrapping_sub(n * ONES) & !x & HIGH;
    below(word, 0x20)
        | below(word ^ (u64::from(b'"') * ONES), 1)
        | below(word ^ (u64::from(b'\\') * ONES), 1)
        != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The escaping, one byte at a time: what [`write_string`] must agree with.
    fn escaped_bytewise(s: &str) -> Vec<u8> {
        let mut out = vec![b'"'];
        for &b in s.as_bytes() {
            match ESCAPE[usize::from(b)] {
                0 => out.push(b),
                b'u' => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
                e => out.extend_from_slice(&[b'\\', e]),
            }
        }
        out.push(b'"');
        out
    }

    #[test]
    fn every_byte_that_needs_an_escape_is_found_in_every_position_of_a_word() {
        for b in 0u8..=0x7f {
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = b;
                let flagged = needs_escape(u64::from_le_bytes(word));
                assert_eq!(
                    flagged,
                    ESCAPE[usize::from(b)] != 0,
                    "byte {b:#04x} at {at}"
                );
            }
        }
        // Bytes of multi-byte characters are never escaped.
        assert!(!needs_escape(u64::from_le_bytes(
            *b"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98"
        )));
    }

    proptest! {
        #[test]
        fn strings_are_escaped_as_byte_by_byte(
            s in proptest::collection::vec(
                prop_oneof![Just('"'), Just('\\'), Just('\u{1f}'), Just('\n'), Just('\u{7f}'),
                    Just('é'), Just('😀'), proptest::char::range('\u{0}', '\u{80}'),
                    proptest::char::any()],
                0..40,
            ).prop_map(|c| c.into_iter().collect::<String>())
        ) {
            let mut out = Vec::new();
            write_string(&s, &mut out);
            prop_assert_eq!(out, escaped_bytewise(&s));
        }
    }
}
