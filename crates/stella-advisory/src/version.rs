//! How each ecosystem orders its versions, so that an advisory's ranges are read as the
//! ecosystem means them.
//!
//! | ecosystem (OSV name) | ordering | implementation |
//! |---|---|---|
//! | `crates.io`, `npm` | SemVer 2.0 (pre-releases before the release, build metadata ignored) | the `semver` crate |
//! | `Go` | SemVer 2.0 after Go's spellings: a leading `v` or `go`, `+incompatible`, pseudo-versions (`v0.0.0-20191109021931-daa7c04131f5`, pre-releases of their base), toolchain versions `1.21` (= `1.21.0`) and `1.21rc2` (= `1.21.0-rc.2`) | the `semver` crate |
//! | `PyPI` | PEP 440: epochs, pre-, post- and dev-releases, local versions | the `pep440_rs` crate |
//! | `Debian`, `Ubuntu` (with or without a release: `Debian:12`) | dpkg: epoch, then upstream and revision compared as `dpkg --compare-versions` does (`~` before everything, even the end; letters before other characters) | here: [`DpkgVersion`] (the algorithm is dpkg's own, a few lines; the crates that have it bring a regex engine and a calendar library) |
//! | `Alpine` (with or without a release: `Alpine:v3.20`) | apk-tools 2.x: numbers, a `.0`-padded component below the unpadded one (`2.15.05` < `2.15.4`), a letter, `_alpha` … `_rc` before and `_cvs` … `_p` after the release, `-r` revisions (`1.0` < `1.0-r0`) | here: [`crate::apk`] |
//! | `GIT` with `ECOSYSTEM` ranges (Stella's overlay: a C library named by its repository) | upstream releases: dotted numbers compared as numbers, a missing one as 0 (`1.2.2` < `1.2.2.1`), then optional trailing lower-case letters, by length and then alphabetically, none first (`1.1.1` < `1.1.1n` < `1.1.1za`, `1.0.2z` < `1.0.2zd`, as OpenSSL numbers its letter releases) | here: [`UpstreamVersion`] |
//!
//! A version an ecosystem does not accept is [`VersionError`] naming it: never guessed into
//! an order, because a guessed order decides whether a component is affected.
//!
//! What this module does not own: OSV ranges and which versions they cover, where versions
//! come from.

use std::cmp::Ordering;
use std::fmt;

/// An ecosystem whose version ordering Stella knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    /// Rust crates (`crates.io`).
    CratesIo,
    /// npm packages.
    Npm,
    /// Go modules and the Go standard library.
    Go,
    /// Python packages (`PyPI`).
    PyPi,
    /// Debian packages.
    Debian,
    /// Ubuntu packages (dpkg's ordering, as Debian).
    Ubuntu,
    /// A C library's own releases, named by its repository (OSV ecosystem `GIT` with
    /// `ECOSYSTEM` ranges, as Stella's overlay writes them).
    Upstream,
    /// Alpine packages (apk-tools' ordering, [`crate::apk`]).
    Alpine,
}

impl Ecosystem {
    /// The ecosystem of an OSV `affected[].package.ecosystem` (`Debian:12` is Debian).
    pub fn from_osv(name: &str) -> Option<Self> {
        let base = name.split(':').next().unwrap_or(name);
        Some(match base {
            "crates.io" => Ecosystem::CratesIo,
            "npm" => Ecosystem::Npm,
            "Go" => Ecosystem::Go,
            "PyPI" => Ecosystem::PyPi,
            "Debian" => Ecosystem::Debian,
            "Ubuntu" => Ecosystem::Ubuntu,
            "GIT" => Ecosystem::Upstream,
            "Alpine" => Ecosystem::Alpine,
            _ => return None,
        })
    }

    /// The OSV name.
    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "Go",
            Ecosystem::PyPi => "PyPI",
            Ecosystem::Debian => "Debian",
            Ecosystem::Ubuntu => "Ubuntu",
            Ecosystem::Upstream => "GIT",
            Ecosystem::Alpine => "Alpine",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.osv_name())
    }
}

/// A version that its ecosystem does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{version:?} is not a {ecosystem} version: {reason}")]
pub struct VersionError {
    /// The ecosystem.
    pub ecosystem: Ecosystem,
    /// The version as written.
    pub version: String,
    /// Why.
    pub reason: String,
}

impl stella_core::Kinded for VersionError {
    fn kind(&self) -> stella_core::ErrorKind {
        stella_core::ErrorKind::Invalid
    }
}

/// A version parsed by its ecosystem's rules; versions of one ecosystem compare with `Ord`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// SemVer (crates.io, npm, Go).
    Semver(semver::Version),
    /// PEP 440 (PyPI).
    Pep440(pep440_rs::Version),
    /// dpkg (Debian, Ubuntu).
    Dpkg(DpkgVersion),
    /// An upstream release of a C library.
    Upstream(UpstreamVersion),
    /// An Alpine package version, as written (apk compares the text).
    Apk(String),
}

impl Version {
    /// Parses `text` as `ecosystem` writes versions.
    ///
    /// # Errors
    /// [`VersionError`] naming the version and why the ecosystem refuses it.
    pub fn parse(ecosystem: Ecosystem, text: &str) -> Result<Self, VersionError> {
        let error = |reason: String| VersionError {
            ecosystem,
            version: text.to_owned(),
            reason,
        };
        match ecosystem {
            Ecosystem::CratesIo | Ecosystem::Npm => semver::Version::parse(text)
                .map(Version::Semver)
                .map_err(|e| error(e.to_string())),
            Ecosystem::Go => go_semver(text).map(Version::Semver).map_err(error),
            Ecosystem::PyPi => text
                .parse::<pep440_rs::Version>()
                .map(Version::Pep440)
                .map_err(|e| error(e.to_string())),
            Ecosystem::Debian | Ecosystem::Ubuntu => {
                DpkgVersion::parse(text).map(Version::Dpkg).map_err(error)
            }
            Ecosystem::Upstream => UpstreamVersion::parse(text)
                .map(Version::Upstream)
                .map_err(error),
            Ecosystem::Alpine if crate::apk::is_valid(text) => Ok(Version::Apk(text.to_owned())),
            Ecosystem::Alpine => Err(error(
                "not number{.number}[letter]{_suffix[number]}[-r<revision>]".to_owned(),
            )),
        }
    }

    /// The order of two versions of one ecosystem; `None` for versions of different kinds.
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        match (self, other) {
            (Version::Semver(a), Version::Semver(b)) => Some(a.cmp_precedence(b)),
            (Version::Pep440(a), Version::Pep440(b)) => Some(a.cmp(b)),
            (Version::Dpkg(a), Version::Dpkg(b)) => Some(a.cmp(b)),
            (Version::Upstream(a), Version::Upstream(b)) => Some(a.cmp(b)),
            (Version::Apk(a), Version::Apk(b)) => Some(crate::apk::compare(a, b)),
            _ => None,
        }
    }
}

/// Compares two versions of `ecosystem`.
///
/// # Errors
/// [`VersionError`] for the first that the ecosystem does not accept.
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (a, b) = (Version::parse(ecosystem, a)?, Version::parse(ecosystem, b)?);
    // Both parsed for one ecosystem: always the same kind.
    Ok(a.compare(&b).unwrap_or(Ordering::Equal))
}

/// A Go version as SemVer: module versions (`v1.2.3`, `v2.0.0+incompatible`, pseudo-versions)
/// and toolchain versions (`go1.21.3`, `1.21`, `1.21rc2`).
fn go_semver(text: &str) -> Result<semver::Version, String> {
    let bare = text
        .strip_prefix("go")
        .or_else(|| text.strip_prefix('v'))
        .unwrap_or(text);
    if let Ok(v) = semver::Version::parse(bare) {
        return Ok(v);
    }
    // Toolchain spellings: `1.21`, `1.21rc2`, `1.21.0rc1`, `1.9beta1`.
    let split = bare
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(bare.len());
    let (release, pre) = bare.split_at(split);
    let parts: Vec<&str> = release.split('.').collect();
    let numeric = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if parts.is_empty() || parts.len() > 3 || !parts.iter().all(numeric) {
        return Err("neither SemVer nor a Go toolchain version".to_owned());
    }
    let mut spelled = parts.join(".");
    for _ in parts.len()..3 {
        spelled.push_str(".0");
    }
    if !pre.is_empty() {
        let kind_end = pre.find(|c: char| c.is_ascii_digit()).unwrap_or(pre.len());
        let (kind, number) = pre.split_at(kind_end);
        spelled.push('-');
        spelled.push_str(kind);
        if !number.is_empty() {
            spelled.push('.');
            spelled.push_str(number);
        }
    }
    semver::Version::parse(&spelled).map_err(|e| e.to_string())
}

/// A Debian package version: `[epoch:]upstream[-revision]`, ordered as dpkg orders them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DpkgVersion {
    /// The epoch (0 when not written).
    pub epoch: u64,
    /// The upstream version.
    pub upstream: String,
    /// The Debian revision (empty when not written).
    pub revision: String,
}

impl DpkgVersion {
    /// Parses a version as dpkg does (`deb-version(7)`): the epoch is the digits before the
    /// first `:`, the revision what follows the last `-`; the upstream version must start with a
    /// digit and hold only alphanumerics and `.+~-:`; the revision only alphanumerics and
    /// `.+~`.
    ///
    /// # Errors
    /// Why dpkg would refuse it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty".to_owned());
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("epoch {e:?} is not a number"));
                }
                let epoch = e
                    .parse::<u64>()
                    .map_err(|_| format!("epoch {e:?} is too large"))?;
                (epoch, rest)
            }
            None => (0, text),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if rest.ends_with('-') {
            return Err("empty revision after '-'".to_owned());
        }
        if !upstream.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            return Err("the upstream version does not start with a digit".to_owned());
        }
        if let Some(c) = upstream
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || ".+~-:".contains(*c)))
        {
            return Err(format!("{c:?} is not allowed in the upstream version"));
        }
        if let Some(c) = revision
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || ".+~".contains(*c)))
        {
            return Err(format!("{c:?} is not allowed in the revision"));
        }
        Ok(DpkgVersion {
            epoch,
            upstream: upstream.to_owned(),
            revision: revision.to_owned(),
        })
    }
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| dpkg_part_cmp(&self.upstream, &other.upstream))
            .then_with(|| dpkg_part_cmp(&self.revision, &other.revision))
    }
}

impl PartialOrd for DpkgVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The weight of one non-digit character in dpkg's order: `~` first (before the end of the
/// string), then the end, then letters, then everything else.
fn dpkg_weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's comparison of one part (upstream or revision): alternating runs of non-digits
/// (compared character by character by [`dpkg_weight`]) and digits (compared as numbers).
fn dpkg_part_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (wa, wb) = (
                dpkg_weight(a.get(i).copied()),
                dpkg_weight(b.get(j).copied()),
            );
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_difference = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_difference == Ordering::Equal {
                first_difference = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_difference != Ordering::Equal {
            return first_difference;
        }
    }
    Ordering::Equal
}

/// Most dotted numbers an upstream release has (`1.2.2.1` has four).
pub const MAX_UPSTREAM_PARTS: usize = 8;

/// Most trailing letters an upstream release has (OpenSSL's `1.0.2zk` has two).
pub const MAX_UPSTREAM_LETTERS: usize = 4;

/// An upstream release of a C library: dotted numbers and optional trailing lower-case letters
/// (`1.2.12`, `8.3.0`, `1.2.2.1`, `1.1.1n`, `1.0.2zd`).
///
/// Ordered number by number (a missing number is 0, so `1.2` equals `1.2.0`), then by the
/// letters: none first, then shorter before longer, then alphabetically — OpenSSL's letter
/// releases go `1.0.2z`, `1.0.2za`, …, `1.0.2zd`, which plain alphabetical order would not
/// put after `1.0.2y` and `1.0.2b` alike.
#[derive(Debug, Clone)]
pub struct UpstreamVersion {
    numbers: Vec<u64>,
    letters: String,
}

impl UpstreamVersion {
    /// Parses a release number.
    ///
    /// # Errors
    /// Why it is not one: an empty or non-numeric part, letters other than trailing
    /// lower-case ones, more than [`MAX_UPSTREAM_PARTS`] numbers or [`MAX_UPSTREAM_LETTERS`]
    /// letters, a number too large. Pre-releases (`8.4.0-DEV`, `3.0.0-alpha1`) are refused:
    /// each project orders them its own way.
    pub fn parse(text: &str) -> Result<Self, String> {
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (dotted, letters) = text.split_at(split);
        if !letters.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(
                "only dotted numbers and trailing lower-case letters are accepted".to_owned(),
            );
        }
        if letters.len() > MAX_UPSTREAM_LETTERS {
            return Err(format!("more than {MAX_UPSTREAM_LETTERS} trailing letters"));
        }
        let parts: Vec<&str> = dotted.split('.').collect();
        if parts.len() > MAX_UPSTREAM_PARTS {
            return Err(format!("more than {MAX_UPSTREAM_PARTS} dotted numbers"));
        }
        let numbers = parts
            .iter()
            .map(|p| {
                if p.is_empty() {
                    return Err("an empty number (two dots, or a dot at an end)".to_owned());
                }
                p.parse::<u64>()
                    .map_err(|_| format!("{p:?} is too large a number"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(UpstreamVersion {
            numbers,
            letters: letters.to_owned(),
        })
    }
}

impl Ord for UpstreamVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.numbers.len().max(other.numbers.len());
        let at = |v: &Self, i: usize| v.numbers.get(i).copied().unwrap_or(0);
        (0..n)
            .map(|i| at(self, i).cmp(&at(other, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
            .then_with(|| self.letters.len().cmp(&other.letters.len()))
            .then_with(|| self.letters.cmp(&other.letters))
    }
}

impl PartialOrd for UpstreamVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for UpstreamVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for UpstreamVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(e: Ecosystem, a: &str, b: &str) -> Ordering {
        compare(e, a, b).unwrap_or_else(|err| panic!("{err}"))
    }

    #[test]
    fn dpkg_orders_as_deb_version_7_says() {
        use Ordering::{Equal, Greater, Less};
        for (a, b, expected) in [
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1:0.9", "2.0", Greater),
            ("1.0-1", "1.0-1ubuntu1", Less),
            ("1.0a", "1.0", Greater),
            ("1.0~~", "1.0~", Less),
            ("1.01", "1.1", Equal),
            ("2.30-21ubuntu1~18.04.7", "2.30-21ubuntu1~18.04.10", Less),
            ("1.2.11.dfsg-2+deb11u2", "1.2.13.dfsg-1", Less),
        ] {
            assert_eq!(cmp(Ecosystem::Debian, a, b), expected, "{a} vs {b}");
            assert_eq!(
                cmp(Ecosystem::Debian, b, a),
                expected.reverse(),
                "{b} vs {a}"
            );
        }
    }

    #[test]
    fn dpkg_refuses_what_dpkg_refuses() {
        for bad in ["", "a1.0", "1:", "x:1.0", "1.0-", "1.0 2", "1.0-a_b"] {
            assert!(DpkgVersion::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn go_spellings_are_semver() {
        use Ordering::{Equal, Greater, Less};
        for (a, b, expected) in [
            ("v1.2.3", "1.2.3", Equal),
            ("v0.0.0-20191109021931-daa7c04131f5", "v0.0.1", Less),
            ("v2.0.0+incompatible", "v2.0.0", Equal),
            ("1.21", "1.21.0", Equal),
            ("1.21rc2", "1.21.0", Less),
            ("go1.21.3", "1.21.10", Less),
            ("1.9beta1", "1.9rc1", Less),
            ("v1.10.0", "v1.9.9", Greater),
        ] {
            assert_eq!(cmp(Ecosystem::Go, a, b), expected, "{a} vs {b}");
        }
        assert!(Version::parse(Ecosystem::Go, "latest").is_err());
    }

    #[test]
    fn pypi_and_crates_follow_their_specifications() {
        assert_eq!(cmp(Ecosystem::PyPi, "1.0.dev1", "1.0a1"), Ordering::Less);
        assert_eq!(cmp(Ecosystem::PyPi, "1.0.post1", "1.0"), Ordering::Greater);
        assert_eq!(cmp(Ecosystem::PyPi, "1!0.1", "2.0"), Ordering::Greater);
        assert_eq!(
            cmp(Ecosystem::CratesIo, "1.0.0-alpha", "1.0.0"),
            Ordering::Less
        );
        assert_eq!(
            cmp(Ecosystem::CratesIo, "1.0.0+b", "1.0.0"),
            Ordering::Equal
        );
        assert!(Version::parse(Ecosystem::CratesIo, "1.0").is_err());
    }

    #[test]
    fn osv_names_round_trip() {
        for e in [
            Ecosystem::CratesIo,
            Ecosystem::Npm,
            Ecosystem::Go,
            Ecosystem::PyPi,
            Ecosystem::Debian,
            Ecosystem::Ubuntu,
            Ecosystem::Upstream,
        ] {
            assert_eq!(Ecosystem::from_osv(e.osv_name()), Some(e));
        }
        assert_eq!(Ecosystem::from_osv("Debian:12"), Some(Ecosystem::Debian));
        assert_eq!(Ecosystem::from_osv("Maven"), None);
    }

    #[test]
    fn upstream_releases_order_as_their_projects_number_them() {
        use Ordering::{Equal, Greater, Less};
        for (a, b, expected) in [
            // zlib: a fourth number is a later release of the third.
            ("1.2.12", "1.2.13", Less),
            ("1.2.2", "1.2.2.1", Less),
            ("1.2.2.1", "1.2.3", Less),
            ("1.2.11", "1.2.9", Greater),
            ("1.3", "1.3.0", Equal),
            // curl and libwebp: numbers, not strings.
            ("8.3.0", "8.4.0", Less),
            ("7.69.0", "7.9.0", Greater),
            ("1.3.1", "1.3.2", Less),
            ("0.5.0", "1.3.1", Less),
            // OpenSSL: the letter releases of a branch, after the branch's first release.
            ("1.1.1", "1.1.1a", Less),
            ("1.1.1m", "1.1.1n", Less),
            ("1.1.1z", "1.1.1za", Less),
            ("1.1.1y", "1.1.1za", Less),
            ("1.0.2zc", "1.0.2zd", Less),
            ("1.0.2zd", "1.0.2zk", Less),
            ("1.0.2zk", "1.1.0", Less),
            ("1.1.1w", "3.0.0", Less),
            ("3.0.1", "3.0.2", Less),
            ("3.0.9", "3.0.15", Less),
        ] {
            assert_eq!(cmp(Ecosystem::Upstream, a, b), expected, "{a} vs {b}");
            assert_eq!(
                cmp(Ecosystem::Upstream, b, a),
                expected.reverse(),
                "{b} vs {a}"
            );
        }
        // OpenSSL's published 1.0.2 letter releases, in release order, sort as released.
        let mut letters: Vec<String> = ('a'..='z')
            .map(|c| format!("1.0.2{c}"))
            .chain(('a'..='k').map(|c| format!("1.0.2z{c}")))
            .collect();
        let released = letters.clone();
        letters.reverse();
        letters.sort_by(|a, b| cmp(Ecosystem::Upstream, a, b));
        assert_eq!(letters, released);
    }

    #[test]
    fn upstream_refuses_what_it_cannot_order() {
        for bad in [
            "",
            "v1.2.3",
            "1..2",
            "1.2.",
            ".1",
            "8.4.0-DEV",
            "3.0.0-alpha1",
            "1.1.1N",
            "1.0.2zzzzz",
            "1.2.3.4.5.6.7.8.9",
            "99999999999999999999",
            "1.2a.3",
        ] {
            assert!(UpstreamVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
