//! C libraries named by the version banners their code carries: a statically linked or vendored
//! copy is in no package database, but its banner is in `.rodata` wherever its code is.
//!
//! | library | banner (as the library's source writes it) | object it lives in |
//! |---|---|---|
//! | zlib | `" deflate 1.2.13 Copyright 1995-2022 Jean-loup Gailly and Mark Adler "` | `deflate.o` |
//! | zlib | `" inflate 1.2.13 Copyright 1995-2022 Mark Adler "` | `inflate.o` |
//! | OpenSSL | `"OpenSSL 3.0.11 19 Sep 2023"` (`OPENSSL_VERSION_TEXT`) | `libcrypto` |
//! | libpng | `" libpng version 1.6.39 - April 29, 2023"` (`PNG_HEADER_VERSION_STRING`) | `png.o` |
//!
//! A banner is read only in its exact shape (the words around the version, a version made of
//! digits, dots and, for OpenSSL, trailing letters, and for OpenSSL the release date after
//! it), so a message such as "needs OpenSSL 1.1.1 or newer" names nothing. Each library is
//! reported once per version found, with the banner text as the evidence.
//!
//! The banner says which library *release* the code comes from; which of its functions are in
//! the binary is the FuncProof's to say (a program that only compresses links `deflate.o`, not
//! `inflate.o`).
//!
//! What this module does not own: turning libraries into SBOM components (`stella-sbom`) or
//! matching advisories (`stella-advisory`).

use std::collections::BTreeMap;

use memchr::memmem;

/// A library release named by its banner.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Banner {
    /// The library (`zlib`, `openssl`, `libpng`): the name of its `pkg:generic` purl.
    pub library: &'static str,
    /// The release.
    pub version: String,
    /// The banner as found (trimmed).
    pub text: String,
    /// The file offset of the first banner found for this release.
    pub offset: usize,
}

/// Longest version read.
const MAX_VERSION: usize = 24;

/// Every banner in `data`, one per (library, version), sorted.
pub fn banners_in(data: &[u8]) -> Vec<Banner> {
    let mut found: BTreeMap<(&'static str, String), (String, usize)> = BTreeMap::new();
    for (prefix, suffix) in [
        (&b" deflate "[..], &b" Copyright "[..]),
        (&b" inflate "[..], &b" Copyright "[..]),
    ] {
        for at in memmem::find_iter(data, prefix) {
            let rest = &data[at + prefix.len()..];
            if let Some((version, end)) = version_at(rest, false)
                && rest[end..].starts_with(suffix)
            {
                let text = until_nul(&data[at..]);
                found.entry(("zlib", version)).or_insert((text, at));
            }
        }
    }
    for at in memmem::find_iter(data, b"OpenSSL ") {
        // The text starts the string: a NUL (or the start of the data) before it.
        if at > 0 && data[at - 1] != 0 {
            continue;
        }
        let rest = &data[at + 8..];
        if let Some((version, end)) = version_at(rest, true)
            && is_release_date(&rest[end..])
        {
            found
                .entry(("openssl", version))
                .or_insert_with(|| (until_nul(&data[at..]), at));
        }
    }
    for at in memmem::find_iter(data, b" libpng version ") {
        let rest = &data[at + 16..];
        if let Some((version, end)) = version_at(rest, false)
            && rest[end..].starts_with(b" - ")
        {
            found
                .entry(("libpng", version))
                .or_insert_with(|| (until_nul(&data[at..]), at));
        }
    }
    found
        .into_iter()
        .map(|((library, version), (text, offset))| Banner {
            library,
            version,
            text,
            offset,
        })
        .collect()
}

/// A release number at the start of `bytes` (`1.2.13`; with `letters`, `1.1.1w` too): at least
/// two numeric parts. Returns it and where it ends.
fn version_at(bytes: &[u8], letters: bool) -> Option<(String, usize)> {
    let mut end = 0;
    let mut parts = 1;
    let mut last_was_dot = true;
    while end < bytes.len() && end < MAX_VERSION {
        let b = bytes[end];
        if b.is_ascii_digit() {
            last_was_dot = false;
        } else if b == b'.' && !last_was_dot {
            parts += 1;
            last_was_dot = true;
        } else {
            break;
        }
        end += 1;
    }
    if last_was_dot || parts < 2 {
        return None;
    }
    if letters {
        while end < bytes.len() && end < MAX_VERSION && bytes[end].is_ascii_lowercase() {
            end += 1;
        }
    }
    let version = std::str::from_utf8(&bytes[..end]).ok()?.to_owned();
    Some((version, end))
}

/// ` 19 Sep 2023` (OpenSSL's release date after the version).
fn is_release_date(bytes: &[u8]) -> bool {
    let Some(rest) = bytes.strip_prefix(b" ") else {
        return false;
    };
    let day = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=2).contains(&day) || rest.get(day) != Some(&b' ') {
        return false;
    }
    let month = &rest[day + 1..];
    month.len() >= 9
        && month[..3].iter().all(u8::is_ascii_alphabetic)
        && month[3] == b' '
        && month[4..8].iter().all(u8::is_ascii_digit)
}

/// The printable text from the start of `bytes` to its NUL (at most 120 bytes), trimmed.
fn until_nul(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .take(120)
        .position(|&b| b == 0 || !(b.is_ascii_graphic() || b == b' '))
        .unwrap_or(bytes.len().min(120));
    String::from_utf8_lossy(&bytes[..end]).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_in_their_exact_shape_name_their_release() {
        let data = b"\0 deflate 1.2.13 Copyright 1995-2022 Jean-loup Gailly and Mark Adler \0\
            \0 inflate 1.2.13 Copyright 1995-2022 Mark Adler \0\
            \0OpenSSL 3.0.11 19 Sep 2023\0OpenSSL 1.1.1w 11 Sep 2023\0\
            \0 libpng version 1.6.39 - April 29, 2023\n\0";
        let got: Vec<(&str, String)> = banners_in(data)
            .into_iter()
            .map(|b| (b.library, b.version))
            .collect();
        assert_eq!(
            got,
            [
                ("libpng", "1.6.39".to_owned()),
                ("openssl", "1.1.1w".to_owned()),
                ("openssl", "3.0.11".to_owned()),
                ("zlib", "1.2.13".to_owned()),
            ]
        );
    }

    #[test]
    fn messages_that_mention_a_library_name_nothing() {
        let data = b"\0this needs OpenSSL 1.1.1 or newer\0OpenSSL 3 is fine\0\
            deflate 1.2 Copyright\0 inflate 1. Copyright \0 deflate x.y Copyright \0\
            \0OpenSSL 3.0.0 soon\0 libpng version 1.6\0";
        assert_eq!(banners_in(data), []);
    }

    #[test]
    fn debians_zlib_names_its_release() {
        let Ok(data) = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1") else {
            stella_testkit::skip(
                "debians_zlib_names_its_release",
                "/usr/lib/x86_64-linux-gnu/libz.so.1 is missing (apt install zlib1g)",
            );
            return;
        };
        let found = banners_in(&data);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].library, "zlib");
        assert!(found[0].version.starts_with("1."), "{found:?}");
    }
}
