//! The rules that match an advisory's vulnerable symbol to the functions a binary holds.
//!
//! Advisories name symbols as people write them; binaries hold them as compilers emit them.
//! Each rule below is a way the two legitimately differ. A match says which rule it rests on,
//! and rules are **certain** or not: only certain rules can prove presence, and only the
//! absence of every certain *and* uncertain match proves absence — an uncertain match is never
//! reported as absence ([`Search::Uncertain`]).
//!
//! | language | advisory writes | binary holds | rule | certain |
//! |---|---|---|---|---|
//! | any | `inflateGetHeader` | `inflateGetHeader` | [`Rule::Exact`] | yes |
//! | C | `SSL_select_next_proto` | `SSL_select_next_proto@@OPENSSL_3.0.0` (versioned) | [`Rule::VersionedSymbol`] | yes |
//! | Go | `net/http` + `Server.Serve` | `net/http.(*Server).Serve` | [`Rule::GoPointerReceiver`] | yes |
//! | Go | `golang.org/x/exp/slices` + `Index` | `golang.org/x/exp/slices.Index[go.shape.int]` | [`Rule::GoGenericInstance`] | yes |
//! | Go | `pkg` + `Func` | `pkg.Func.func1` (a closure inside it) | [`Rule::GoClosure`] | no |
//! | Rust | `http::header::HeaderMap::reserve` | `http::header::map::HeaderMap<T>::reserve` | [`Rule::RustDefiningPath`] (re-exported: the module path differs, generics dropped) | yes |
//! | Rust | `smallvec::SmallVec::insert_many` | `<smallvec::SmallVec<A>>::insert_many` or `… as Trait>::insert_many` | [`Rule::RustDefiningPath`] | yes |
//! | Rust | `crate::Type::method` | `crate::…::Type<T>::method_inner` / `…::method::{{closure}}` (what a generic public method delegates to once inlined into its caller) | [`Rule::RustInlinedHelper`] | no |
//!
//! Rust names are compared after demangling with the legacy hash (`::h0123456789abcdef`) and
//! v0 crate disambiguators (`[1a2b3c4d5e6f]`) removed. A Rust path matches by its crate (first
//! segment), its type (last but one, generics removed) and its function (last); the modules in
//! between may differ, since advisories name the public, re-exported path.
//!
//! What this module does not own: where function names come from (FuncProofs,
//! `stella-binary`) or what a match decides (the assessment).

use crate::osv::Symbol;

/// The language whose naming rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Language {
    /// C and everything that exports C symbols.
    C,
    /// Go.
    Go,
    /// Rust.
    Rust,
}

/// Why a binary's function was taken for an advisory's symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// The same name.
    Exact,
    /// A versioned ELF symbol (`name@@VER`, `name@VER`) of the name.
    VersionedSymbol,
    /// A Go method named without its pointer receiver (`T.M` is `(*T).M`).
    GoPointerReceiver,
    /// A Go generic function or a method of a generic type, instantiated (`F[…]`).
    GoGenericInstance,
    /// A closure defined inside the Go function (`F.func1`).
    GoClosure,
    /// A Rust path as defined, not as re-exported (other modules, generics, trait impls).
    RustDefiningPath,
    /// A Rust helper or closure of the function, what remains of it after inlining.
    RustInlinedHelper,
}

impl Rule {
    /// Whether the rule alone proves that the symbol is there.
    pub fn is_certain(self) -> bool {
        !matches!(self, Rule::GoClosure | Rule::RustInlinedHelper)
    }

    /// A stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Exact => "exact",
            Rule::VersionedSymbol => "versioned_symbol",
            Rule::GoPointerReceiver => "go_pointer_receiver",
            Rule::GoGenericInstance => "go_generic_instance",
            Rule::GoClosure => "go_closure",
            Rule::RustDefiningPath => "rust_defining_path",
            Rule::RustInlinedHelper => "rust_inlined_helper",
        }
    }
}

/// One function of a binary, as a search sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// The symbol as the binary holds it.
    pub name: &'a str,
    /// Its demangled form, when it has one.
    pub demangled: Option<&'a str>,
}

/// A function taken for the symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Its index among the candidates.
    pub index: usize,
    /// The rule it rests on.
    pub rule: Rule,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// Matched by certain rules (uncertain hits listed beside them).
    Present(Vec<Hit>),
    /// Only uncertain rules matched: neither presence nor absence is proven.
    Uncertain(Vec<Hit>),
    /// No rule matched any candidate.
    Absent,
}

/// Searches `candidates` for `symbol` under `language`'s rules.
pub fn search(symbol: &Symbol, language: Language, candidates: &[Candidate<'_>]) -> Search {
    let mut hits = Vec::new();
    for (index, c) in candidates.iter().enumerate() {
        if let Some(rule) = rule_for(symbol, language, c) {
            hits.push(Hit { index, rule });
        }
    }
    if hits.is_empty() {
        Search::Absent
    } else if hits.iter().any(|h| h.rule.is_certain()) {
        Search::Present(hits)
    } else {
        Search::Uncertain(hits)
    }
}

fn rule_for(symbol: &Symbol, language: Language, c: &Candidate<'_>) -> Option<Rule> {
    match language {
        Language::C => c_rule(&symbol.name, c.name),
        Language::Go => go_rule(symbol, c.name),
        Language::Rust => {
            let name = c.demangled.unwrap_or(c.name);
            rust_rule(&symbol.name, name).or_else(|| c_rule(&symbol.name, c.name))
        }
    }
}

fn c_rule(wanted: &str, name: &str) -> Option<Rule> {
    if name == wanted {
        return Some(Rule::Exact);
    }
    let base = name.split_once('@').map(|(b, _)| b)?;
    (base == wanted).then_some(Rule::VersionedSymbol)
}

fn go_rule(symbol: &Symbol, name: &str) -> Option<Rule> {
    let full = if symbol.path.is_empty() {
        symbol.name.clone()
    } else {
        format!("{}.{}", symbol.path, symbol.name)
    };
    if name == full {
        return Some(Rule::Exact);
    }
    let rest = name.strip_prefix(symbol.path.as_str())?;
    let rest = if symbol.path.is_empty() {
        rest
    } else {
        rest.strip_prefix('.')?
    };
    // `Type.Method` in the advisory; `(*Type).Method`, `Type[…].Method`, `(*Type[…]).Method`
    // in the binary.
    let (wanted_type, wanted_fn) = match symbol.name.split_once('.') {
        Some((t, f)) => (Some(t), f),
        None => (None, symbol.name.as_str()),
    };
    let (held_type, held_fn, pointer, generic) = split_go(rest)?;
    // A closure of a plain function: `F.func1` reads as type `F`, method `func1`.
    if wanted_type.is_none()
        && held_type == Some(wanted_fn)
        && held_fn.starts_with("func")
        && !pointer
    {
        return Some(Rule::GoClosure);
    }
    if held_type != wanted_type {
        return None;
    }
    let (held_fn, closure) = match dot_outside_brackets(held_fn) {
        Some(i) if held_fn[i + 1..].starts_with("func") => (&held_fn[..i], true),
        Some(_) => return None,
        None => (held_fn, false),
    };
    let (held_fn, fn_generic) = strip_brackets(held_fn);
    if held_fn != wanted_fn {
        return None;
    }
    Some(if closure {
        Rule::GoClosure
    } else if generic || fn_generic {
        Rule::GoGenericInstance
    } else if pointer {
        Rule::GoPointerReceiver
    } else {
        Rule::Exact
    })
}

/// `(*T[…]).M…` / `T.M…` / `F…` → (type, rest, pointer receiver, generic type).
fn split_go(rest: &str) -> Option<(Option<&str>, &str, bool, bool)> {
    if let Some(inner) = rest.strip_prefix("(*") {
        let (receiver, after) = inner.split_once(").")?;
        let (t, generic) = strip_brackets(receiver);
        return Some((Some(t), after, true, generic));
    }
    // A receiver type may hold dots inside its brackets: split outside them.
    match dot_outside_brackets(rest) {
        Some(i) => {
            let (t, generic) = strip_brackets(&rest[..i]);
            Some((Some(t), &rest[i + 1..], false, generic))
        }
        None => Some((None, rest, false, false)),
    }
}

/// The index of the first `.` outside `[…]`.
fn dot_outside_brackets(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, ch) in s.char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// `Name[…]` → (`Name`, true); `Name` → (`Name`, false).
fn strip_brackets(s: &str) -> (&str, bool) {
    match s.find('[') {
        Some(i) if s.ends_with(']') => (&s[..i], true),
        _ => (s, false),
    }
}

/// A demangled Rust name without the legacy hash and v0 crate disambiguators.
fn clean_rust(name: &str) -> String {
    let mut out = name.to_owned();
    if let Some(i) = out.rfind("::h")
        && out.len() - i == 19
        && out[i + 3..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        out.truncate(i);
    }
    // `crate[1a2b3c]::…` (v0) → `crate::…`
    let mut cleaned = String::with_capacity(out.len());
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '[' {
            let rest: String = chars.clone().take_while(|&c| c != ']').collect();
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit()) {
                for _ in 0..=rest.len() {
                    chars.next();
                }
                continue;
            }
        }
        cleaned.push(c);
    }
    cleaned
}

/// The `::`-separated segments of a Rust path outside `<…>`, each with its generics removed;
/// `<A as B>::f` keeps `A`'s segments (the type the method is on) then `f`.
fn rust_segments(path: &str) -> Vec<String> {
    let path = path.trim();
    // `<Type as Trait>::method` or `<Type>::method`: the type's path, then what follows.
    if let Some(inner) = path.strip_prefix('<') {
        let mut depth = 1usize;
        let mut end = None;
        for (i, ch) in inner.char_indices() {
            match ch {
                '<' => depth += 1,
                '>' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some(end) = end {
            let qualified = &inner[..end];
            let ty = split_outside(qualified, " as ").map_or(qualified, |(t, _)| t);
            let mut segments = rust_segments(ty);
            if let Some(after) = inner[end + 1..].strip_prefix("::") {
                segments.extend(rust_segments(after));
            }
            return segments;
        }
    }
    let mut segments = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'<' => depth += 1,
            b'>' => depth = depth.saturating_sub(1),
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                segments.push(std::mem::take(&mut current));
                i += 2;
                continue;
            }
            _ if depth == 0 => current.push(char::from(c)),
            _ => {}
        }
        i += 1;
    }
    segments.push(current);
    segments.into_iter().filter(|s| !s.is_empty()).collect()
}

fn split_outside<'s>(s: &'s str, sep: &str) -> Option<(&'s str, &'s str)> {
    let mut depth = 0usize;
    for (i, ch) in s.char_indices() {
        match ch {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 && s[i..].starts_with(sep) => {
                return Some((&s[..i], &s[i + sep.len()..]));
            }
            _ => {}
        }
    }
    None
}

fn rust_rule(wanted: &str, held: &str) -> Option<Rule> {
    let held = clean_rust(held);
    if held == wanted {
        return Some(Rule::Exact);
    }
    let want = rust_segments(wanted);
    let have = rust_segments(&held);
    let (want_crate, want_fn) = (want.first()?, want.last()?);
    if have.first() != Some(want_crate) || want.len() < 2 {
        return None;
    }
    // Closures and inner items: `…::method::{{closure}}`, `…::method::inner`.
    let closure_at = have.iter().position(|s| s.starts_with("{{closure}}"));
    let have_core: &[String] = match closure_at {
        Some(i) => &have[..i],
        None => &have,
    };
    let want_type = (want.len() >= 3).then(|| &want[want.len() - 2]);
    let type_matches = |segments: &[String]| match want_type {
        Some(t) => segments.len() >= 2 && segments[segments.len() - 2] == *t,
        None => true,
    };
    let last = have_core.last()?;
    if last == want_fn && type_matches(have_core) {
        return Some(if closure_at.is_some() {
            Rule::RustInlinedHelper
        } else {
            Rule::RustDefiningPath
        });
    }
    // A helper the public function delegates to: `method_inner`, `inner_method`, or an item
    // nested in it (`…::method::helper`).
    let helper = last.starts_with(&format!("{want_fn}_"))
        || last.ends_with(&format!("_{want_fn}"))
        || have_core.len() >= 2 && have_core[have_core.len() - 2] == *want_fn;
    let helper_type = match want_type {
        Some(t) => have_core.iter().any(|s| s == t),
        None => true,
    };
    (helper && helper_type).then_some(Rule::RustInlinedHelper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(path: &str, name: &str) -> Symbol {
        Symbol {
            path: path.to_owned(),
            name: name.to_owned(),
        }
    }

    fn one(symbol: &Symbol, language: Language, name: &str, demangled: Option<&str>) -> Search {
        search(symbol, language, &[Candidate { name, demangled }])
    }

    fn rule(s: &Search) -> Option<Rule> {
        match s {
            Search::Present(h) | Search::Uncertain(h) => h.first().map(|h| h.rule),
            Search::Absent => None,
        }
    }

    #[test]
    fn c_names_and_versioned_symbols() {
        let s = sym("", "SSL_select_next_proto");
        assert_eq!(
            rule(&one(&s, Language::C, "SSL_select_next_proto", None)),
            Some(Rule::Exact)
        );
        assert_eq!(
            rule(&one(
                &s,
                Language::C,
                "SSL_select_next_proto@@OPENSSL_3.0.0",
                None
            )),
            Some(Rule::VersionedSymbol)
        );
        assert_eq!(
            one(&s, Language::C, "SSL_select_next_proto_cb", None),
            Search::Absent
        );
    }

    #[test]
    fn go_receivers_generics_and_closures() {
        let serve = sym("net/http", "Server.Serve");
        assert_eq!(
            rule(&one(&serve, Language::Go, "net/http.(*Server).Serve", None)),
            Some(Rule::GoPointerReceiver)
        );
        assert_eq!(
            rule(&one(&serve, Language::Go, "net/http.Server.Serve", None)),
            Some(Rule::Exact)
        );
        assert_eq!(
            one(&serve, Language::Go, "net/http.(*Server).ServeTLS", None),
            Search::Absent
        );
        assert_eq!(
            one(&serve, Language::Go, "net/http2.(*Server).Serve", None),
            Search::Absent
        );
        let index = sym("golang.org/x/exp/slices", "Index");
        assert_eq!(
            rule(&one(
                &index,
                Language::Go,
                "golang.org/x/exp/slices.Index[go.shape.int]",
                None
            )),
            Some(Rule::GoGenericInstance)
        );
        let m = sym("example.com/q", "Queue.Push");
        assert_eq!(
            rule(&one(
                &m,
                Language::Go,
                "example.com/q.(*Queue[go.shape.string]).Push",
                None
            )),
            Some(Rule::GoGenericInstance)
        );
        let closure = one(&serve, Language::Go, "net/http.(*Server).Serve.func1", None);
        assert!(matches!(closure, Search::Uncertain(_)), "{closure:?}");
        let plain = sym("net/http", "ListenAndServe");
        let closure = one(&plain, Language::Go, "net/http.ListenAndServe.func2", None);
        assert!(matches!(closure, Search::Uncertain(_)), "{closure:?}");
        assert_eq!(
            rule(&one(&plain, Language::Go, "net/http.ListenAndServe", None)),
            Some(Rule::Exact)
        );
    }

    #[test]
    fn rust_paths_as_defined_and_what_inlining_leaves() {
        let reserve = sym("", "http::header::HeaderMap::reserve");
        for held in [
            "http::header::map::HeaderMap<T>::reserve::h0123456789abcdef",
            "<http::header::map::HeaderMap<T>>::reserve",
            "http[1a2b3c4d5e6f]::header::map::HeaderMap<T>::reserve",
        ] {
            assert_eq!(
                rule(&one(&reserve, Language::Rust, "_ZN…", Some(held))),
                Some(Rule::RustDefiningPath),
                "{held}"
            );
        }
        let via_trait = sym("", "smallvec::SmallVec::insert_many");
        assert_eq!(
            rule(&one(
                &via_trait,
                Language::Rust,
                "_R…",
                Some("<smallvec::SmallVec<[u8; 8]> as smallvec::Ext>::insert_many")
            )),
            Some(Rule::RustDefiningPath)
        );
        for held in [
            "http::header::map::HeaderMap<T>::reserve_inner",
            "http::header::map::HeaderMap<T>::reserve::{{closure}}",
        ] {
            let s = one(&reserve, Language::Rust, "_ZN…", Some(held));
            assert!(matches!(s, Search::Uncertain(_)), "{held}: {s:?}");
        }
        for held in [
            "http::header::map::HeaderMap<T>::insert",
            "hyper::header::HeaderMap::reserve",
            "http::header::map::OtherMap<T>::reserve",
        ] {
            assert_eq!(
                one(&reserve, Language::Rust, "_ZN…", Some(held)),
                Search::Absent,
                "{held}"
            );
        }
    }

    #[test]
    fn certain_hits_win_over_uncertain_ones() {
        let reserve = sym("", "http::header::HeaderMap::reserve");
        let candidates = [
            Candidate {
                name: "a",
                demangled: Some("http::header::map::HeaderMap<T>::reserve_inner"),
            },
            Candidate {
                name: "b",
                demangled: Some("http::header::map::HeaderMap<T>::reserve"),
            },
        ];
        match search(&reserve, Language::Rust, &candidates) {
            Search::Present(hits) => assert_eq!(hits.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
