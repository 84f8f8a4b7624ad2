//! Alpine's version order, as apk-tools 2.x (every released Alpine's package manager) decides
//! it: `number{.number}[letter]{_suffix[number]}[-r<revision>]`.
//!
//! A version is read as a stream of tokens, each with a kind and a value:
//! - the first number (kind *digit*), read as a number;
//! - each `.number` (kind *digit-or-zero*): a number, except that leading zeros make a token
//!   worth minus their count, followed by the rest as a *digit* token — so `1.05 < 1.5`,
//!   `1.00 < 1.0` and `2.15.05 < 2.15.4`, as apk sorts them;
//! - a lower-case letter after a number (kind *letter*), worth its character code; a number right
//!   after the letter is a *digit* token again (`3.3.3p1`);
//! - `_alpha`, `_beta`, `_pre`, `_rc` (kind *suffix*, worth -4..-1: before the release) and
//!   `_cvs`, `_svn`, `_git`, `_hg`, `_p` (worth 0..4: after it), each optionally numbered (kind
//!   *suffix number*);
//! - `-r` and a number (kind *revision*);
//! - the end.
//!
//! Kinds may only follow in that order (a `.` after a letter, or anything unknown, makes the rest
//! invalid). Two versions are compared token by token while their kinds agree; the first
//! differing value decides; when the values agree and the kinds differ, a pre-release suffix
//! sorts first, then the version whose next token's kind comes *earlier* in the list above is
//! the greater (`1.0 < 1.0-r0 < 1.0.1`). This is apk's own rule, quirks included: a `.0`
//! component followed by a suffix (`1.0_rc1`) reads the suffix as an empty number first, so apk
//! sorts `1.0_rc1` above `1.0`.
//!
//! Not here: the other ecosystems ([`crate::version`]).

use std::cmp::Ordering;

/// Token kinds, in the order a version may hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNumber,
    Revision,
    End,
    Invalid,
}

const PRE_RELEASE: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_RELEASE: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

/// Where a reader is in a version.
struct Reader<'a> {
    rest: &'a [u8],
    /// The kind of the token about to be read.
    kind: Kind,
}

impl Reader<'_> {
    fn new(text: &str) -> Reader<'_> {
        Reader {
            rest: text.as_bytes(),
            kind: Kind::Digit,
        }
    }

    /// The value of the token about to be read; moves to the next one.
    fn token(&mut self) -> i64 {
        if self.rest.is_empty() {
            self.kind = Kind::End;
            return 0;
        }
        let mut used = 0;
        let mut forced = None;
        let value: i64 = match self.kind {
            Kind::DigitOrZero if self.rest[0] == b'0' => {
                used = self.rest.iter().take_while(|&&b| b == b'0').count();
                forced = Some(Kind::Digit);
                -i64::try_from(used).unwrap_or(i64::MAX)
            }
            Kind::DigitOrZero | Kind::Digit | Kind::SuffixNumber | Kind::Revision => {
                let mut v: i64 = 0;
                while used < self.rest.len() && self.rest[used].is_ascii_digit() {
                    v = v
                        .saturating_mul(10)
                        .saturating_add(i64::from(self.rest[used] - b'0'));
                    used += 1;
                }
                v
            }
            Kind::Letter => {
                used = 1;
                i64::from(self.rest[0])
            }
            Kind::Suffix => {
                let starts = |word: &str| self.rest.starts_with(word.as_bytes());
                if let Some(i) = PRE_RELEASE.iter().position(|w| starts(w)) {
                    used = PRE_RELEASE[i].len();
                    i as i64 - PRE_RELEASE.len() as i64
                } else if let Some(i) = POST_RELEASE.iter().position(|w| starts(w)) {
                    used = POST_RELEASE[i].len();
                    i as i64
                } else {
                    self.kind = Kind::Invalid;
                    return -1;
                }
            }
            Kind::End | Kind::Invalid => {
                self.kind = Kind::Invalid;
                return -1;
            }
        };
        self.rest = &self.rest[used..];
        if self.rest.is_empty() {
            self.kind = Kind::End;
        } else if let Some(kind) = forced {
            self.kind = kind;
        } else {
            self.advance();
        }
        value
    }

    /// Reads the separator after a token and sets the kind of the next one.
    fn advance(&mut self) {
        let here = self.kind;
        let c = self.rest[0];
        let mut next = if matches!(here, Kind::Digit | Kind::DigitOrZero) && c.is_ascii_lowercase()
        {
            Kind::Letter
        } else if here == Kind::Letter && c.is_ascii_digit() {
            Kind::Digit
        } else if here == Kind::Suffix && c.is_ascii_digit() {
            Kind::SuffixNumber
        } else {
            let (kind, skip) = match c {
                b'.' => (Kind::DigitOrZero, 1),
                b'_' => (Kind::Suffix, 1),
                b'-' if self.rest.get(1) == Some(&b'r') => (Kind::Revision, 2),
                _ => (Kind::Invalid, 1),
            };
            self.rest = &self.rest[skip.min(self.rest.len())..];
            kind
        };
        let allowed_back = matches!(
            (here, next),
            (Kind::Digit, Kind::DigitOrZero)
                | (Kind::SuffixNumber, Kind::Suffix)
                | (Kind::Letter, Kind::Digit)
        );
        if next < here && !allowed_back {
            next = Kind::Invalid;
        }
        self.kind = next;
    }
}

/// Whether `text` is a version apk accepts.
pub fn is_valid(text: &str) -> bool {
    let mut r = Reader::new(text);
    while !matches!(r.kind, Kind::End | Kind::Invalid) {
        r.token();
    }
    r.kind == Kind::End && !text.is_empty()
}

/// Orders two apk versions (see the module documentation). Both should be valid
/// ([`is_valid`]); an invalid one is compared as far as it reads.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut ra, mut rb) = (Reader::new(a), Reader::new(b));
    let (mut va, mut vb) = (0, 0);
    while ra.kind == rb.kind && !matches!(ra.kind, Kind::End | Kind::Invalid) && va == vb {
        va = ra.token();
        vb = rb.token();
    }
    match va.cmp(&vb) {
        Ordering::Equal => {}
        other => return other,
    }
    if ra.kind == rb.kind {
        return Ordering::Equal;
    }
    // The values agree and one goes on: a pre-release suffix sorts first.
    if ra.kind == Kind::Suffix && ra.token() < 0 {
        return Ordering::Less;
    }
    if rb.kind == Kind::Suffix && rb.token() < 0 {
        return Ordering::Greater;
    }
    // Otherwise the version whose next token comes earlier in a version is the greater.
    rb.kind.cmp(&ra.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(a: &str, b: &str, expected: Ordering) {
        assert_eq!(compare(a, b), expected, "{a} vs {b}");
        assert_eq!(compare(b, a), expected.reverse(), "{b} vs {a}");
    }

    #[test]
    fn alpine_versions_sort_as_apk_sorts_them() {
        use Ordering::{Equal, Greater, Less};
        for (a, b, o) in [
            ("1.2.3-r0", "1.2.3-r1", Less),
            ("1.2.3-r9", "1.2.3-r10", Less),
            ("1.2.3-r10", "1.2.4-r0", Less),
            ("1.2.3", "1.2.3-r0", Less),
            ("1.2.3-r0", "1.2.3.1", Less),
            ("1.2.3_rc1", "1.2.3", Less),
            ("1.2.3_alpha", "1.2.3_beta", Less),
            ("1.2.3_beta2", "1.2.3_rc1", Less),
            ("1.2.3_pre1", "1.2.3_rc1", Less),
            ("1.2.3", "1.2.3_p1", Less),
            ("1.2.3_p1", "1.2.3_p2", Less),
            ("1.2.3_git20240101", "1.2.3_p0", Less),
            ("1.2.3", "1.2.3a", Less),
            ("1.2.3a", "1.2.3b", Less),
            ("3.3.3p1-r2", "3.3.3p1-r3", Less),
            ("1.05", "1.5", Less),
            ("1.00", "1.0", Less),
            ("2.15.05", "2.15.4", Less),
            ("2.16.01", "2.16.1", Less),
            ("1.0.05", "1.0.06", Less),
            ("1.0.0", "1.0.05", Less),
            ("05.1", "5.1", Equal),
            ("1.0-r00", "1.0-r0", Equal),
            ("1.2.3-r1", "1.2.3-r1", Equal),
            ("1.0_p", "1.0_p0", Less),
            ("10.2", "9.9", Greater),
            ("1.1.1w-r0", "1.1.1v-r3", Greater),
            ("3.0.11-r0", "3.0.9-r5", Greater),
        ] {
            check(a, b, o);
        }
    }

    #[test]
    fn what_apk_accepts() {
        for ok in [
            "1",
            "1.2.3",
            "1.2.3-r0",
            "1.2.3a_rc1-r2",
            "3.3.3p1-r3",
            "1.0_git20240101",
            "2.16.01",
        ] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in ["", "1.2.3-x", "1.2.3_foo", "1.2a.3", "1.2.3-r1.4"] {
            assert!(!is_valid(bad), "{bad}");
        }
    }
}
