//! Lower-case hexadecimal, the one encoder every Stella identifier uses (digests, build ids,
//! log leaf hashes, key ids). A thin face over the `hex` crate so callers share one spelling.

/// Lower-case hex of `bytes`.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    ::hex::encode(bytes)
}

/// Bytes of a hex string (either case); `None` when it is not an even-length hex string.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    ::hex::decode(text).ok()
}

/// Bytes of a hex string into a fixed-size array; `None` on any other length or a non-hex
/// character.
pub fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    ::hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_refuses_odd_or_foreign_text() {
        assert_eq!(super::encode([0x00, 0xab, 0xff]), "00abff");
        assert_eq!(super::decode("00ABff"), Some(vec![0x00, 0xab, 0xff]));
        assert_eq!(super::decode("abc"), None);
        assert_eq!(super::decode("zz"), None);
        assert_eq!(super::decode_array::<2>("abcd"), Some([0xab, 0xcd]));
        assert_eq!(super::decode_array::<2>("abcdef"), None);
    }
}
