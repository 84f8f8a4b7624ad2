//! Replaying a FuncProof against a binary ([`FuncProof::verify`]): every statement the proof
//! makes is derived again from the binary, the way [`FuncProof::build`] derived it, and compared
//! member by member.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use stella_core::BuildId;

use super::{
    ABSENT, BuildOptions, FileDigest, FuncProof, Mismatch, MismatchKind, SectionDigest, Slice,
};
use crate::BinaryError;
use crate::functions::{Addr, Fragment, Function, Inactive};
use crate::identity::Identity;

impl FuncProof {
    /// Derives the proof of `data` again and lists every way this proof differs from it; an
    /// empty list means the binary is the one the proof describes, function names included.
    ///
    /// What is derived again, and therefore checked:
    /// - `buildId` and every member of `identity` (format, arch, build-id source, debug id,
    ///   code id, Mach-O uuid);
    /// - `file`: size, SHA-256 and BLAKE3;
    /// - `sections`: the set of names, and each one's address, size and BLAKE3;
    /// - `functions`: the set of ranges, and each function's end, BLAKE3, name, aliases,
    ///   demangled name, `source`, DWARF `file` and `line`, and its fragments (range, BLAKE3,
    ///   name). Every source of names — `.symtab`, `.dynsym`, DWARF, `.eh_frame` ranges named
    ///   `sub_<addr>`, disassembly of uncovered code — is inside the binary itself (no separate
    ///   debug file, no symbol server), so no name is taken on trust;
    /// - `inactive`: the set of ranges, and each one's BLAKE3 and role, derived by the same rule
    ///   (so a function moved there, or a range of BOLT's left out, is a mismatch);
    /// - `slices` of a universal file: each slice's presence, offset, and all of the above for
    ///   it (identity, file, sections, functions);
    /// - `meta.compiler`, `meta.flags` and `meta.warnings`;
    /// - `callgraph`, when the proof has one, and each stored trace: its path is searched again
    ///   in the binary's call graph (breadth first, as [`crate::callgraph::traces`] does), so a
    ///   trace that claims "no path" where there is one fails. The `--entry` / `--sink` globs a
    ///   proof was built with are not stored, so a trace left out of a proof cannot be noticed;
    ///   each stored one is checked.
    ///
    /// Not checked: `meta.tool` and `meta.version`, which say who made the proof and nothing
    /// about the binary. The derivation is this version's: a proof made by a version of Stella
    /// that derived something differently shows that difference as a mismatch, and
    /// `meta.version` says why.
    ///
    /// Demangled names are derived again when the proof stores any: a proof built with
    /// `--no-demangle` stores none and [`FuncProof::query`] demangles as it reads, so leaving
    /// them all out claims nothing; a proof that stores some must store each one this version
    /// derives.
    ///
    /// Costs what building the proof costs (plus the call graph when the proof has one): the
    /// function list is derived again, hashing every function once, demangling every mangled
    /// name when the proof stores demangled names.
    ///
    /// # Errors
    /// [`BinaryError::Format`] when `data` is not a readable binary.
    pub fn verify(&self, data: &[u8]) -> Result<Vec<Mismatch>, BinaryError> {
        let options = BuildOptions {
            callgraph: self.callgraph.is_some() || !self.traces.is_empty(),
            entries: Vec::new(),
            sinks: Vec::new(),
            demangle: std::iter::once(&self.functions)
                .chain(self.slices.iter().map(|s| &s.functions))
                .flatten()
                .any(|f| f.demangled.is_some()),
        };
        let actual = FuncProof::build_with(data, &options)?;
        let mut out = Vec::new();
        compare_identity(
            (self.build_id.as_ref(), &self.identity),
            (actual.build_id.as_ref(), &actual.identity),
            &mut out,
        );
        compare_file(&self.file, &actual.file, &mut out);
        compare_sections(&self.sections, &actual.sections, &mut out);
        compare_functions(&self.functions, &actual.functions, &mut out);
        compare_inactive(&self.inactive, &actual.inactive, &mut out);
        compare_slices(&self.slices, &actual.slices, &mut out);
        compare_meta(self, &actual, &mut out);
        compare_callgraph(self, &actual, &mut out);
        Ok(out)
    }
}

/// Each slice of a universal file against the slice of the same architecture: its presence and
/// offset, then everything a thin binary's proof is checked for, each mismatch naming the slice.
fn compare_slices(expected: &[Slice], actual: &[Slice], out: &mut Vec<Mismatch>) {
    let slice = |s: &Slice, field| Mismatch {
        slice: Some(s.arch.clone()),
        ..whole(MismatchKind::Slice, &s.arch, field)
    };
    let at = |s: &Slice| format!("{:#x}+{:#x}", s.offset, s.file.size);
    for e in expected {
        let Some(a) = actual.iter().find(|a| a.arch == e.arch) else {
            out.push(Mismatch {
                expected: at(e),
                actual: ABSENT.to_owned(),
                ..slice(e, None)
            });
            continue;
        };
        if e.offset != a.offset {
            out.push(Mismatch {
                expected: at(e),
                actual: at(a),
                ..slice(e, Some("offset"))
            });
        }
        let from = out.len();
        compare_identity(
            (e.build_id.as_ref(), &e.identity),
            (a.build_id.as_ref(), &a.identity),
            out,
        );
        compare_file(&e.file, &a.file, out);
        compare_sections(&e.sections, &a.sections, out);
        compare_functions(&e.functions, &a.functions, out);
        for m in &mut out[from..] {
            m.slice = Some(e.arch.clone());
        }
    }
    for a in actual {
        if !expected.iter().any(|e| e.arch == a.arch) {
            out.push(Mismatch {
                expected: ABSENT.to_owned(),
                actual: at(a),
                ..slice(a, None)
            });
        }
    }
}

/// A mismatch without a range.
fn whole(kind: MismatchKind, name: &str, field: Option<&'static str>) -> Mismatch {
    Mismatch {
        kind,
        name: name.to_owned(),
        range: None,
        field,
        expected: String::new(),
        actual: String::new(),
        slice: None,
    }
}

fn said(value: Option<&str>) -> String {
    value.map_or_else(|| ABSENT.to_owned(), str::to_owned)
}

fn compare_identity(
    (expected_id, e): (Option<&BuildId>, &Identity),
    (actual_id, a): (Option<&BuildId>, &Identity),
    out: &mut Vec<Mismatch>,
) {
    let members: [(&str, Option<&str>, Option<&str>); 7] = [
        (
            "buildId",
            expected_id.map(BuildId::as_str),
            actual_id.map(BuildId::as_str),
        ),
        ("identity.format", Some(&e.format), Some(&a.format)),
        ("identity.arch", Some(&e.arch), Some(&a.arch)),
        (
            "identity.buildIdSource",
            Some(e.build_id_source.as_str()),
            Some(a.build_id_source.as_str()),
        ),
        (
            "identity.debugId",
            e.debug_id.as_deref(),
            a.debug_id.as_deref(),
        ),
        (
            "identity.codeId",
            e.code_id.as_deref(),
            a.code_id.as_deref(),
        ),
        ("identity.uuid", e.uuid.as_deref(), a.uuid.as_deref()),
    ];
    for (name, e, a) in members {
        if e != a {
            out.push(Mismatch {
                expected: said(e),
                actual: said(a),
                ..whole(MismatchKind::Identity, name, None)
            });
        }
    }
}

fn compare_file(e: &FileDigest, a: &FileDigest, out: &mut Vec<Mismatch>) {
    if e.size != a.size {
        out.push(Mismatch {
            expected: e.size.to_string(),
            actual: a.size.to_string(),
            ..whole(MismatchKind::FileSize, "file", Some("size"))
        });
    }
    for (field, e, a) in [
        ("sha256", e.sha256.to_string(), a.sha256.to_string()),
        ("blake3", e.blake3.clone(), a.blake3.clone()),
    ] {
        if e != a {
            out.push(Mismatch {
                expected: e,
                actual: a,
                ..whole(MismatchKind::FileHash, "file", Some(field))
            });
        }
    }
}

fn section_range(s: &SectionDigest) -> Option<(Addr, Addr)> {
    Some((s.addr, Addr(s.addr.0.saturating_add(s.size))))
}

fn compare_sections(
    expected: &BTreeMap<String, SectionDigest>,
    actual: &BTreeMap<String, SectionDigest>,
    out: &mut Vec<Mismatch>,
) {
    let section = |name: &str, s: &SectionDigest, field| Mismatch {
        range: section_range(s),
        ..whole(MismatchKind::Section, name, field)
    };
    for (name, e) in expected {
        let Some(a) = actual.get(name) else {
            out.push(Mismatch {
                expected: e.blake3.clone(),
                actual: ABSENT.to_owned(),
                ..section(name, e, None)
            });
            continue;
        };
        if (e.addr, e.size) != (a.addr, a.size) {
            out.push(Mismatch {
                expected: format!("{}+{:#x}", e.addr, e.size),
                actual: format!("{}+{:#x}", a.addr, a.size),
                ..section(name, e, Some("range"))
            });
        } else if e.blake3 != a.blake3 {
            out.push(Mismatch {
                expected: e.blake3.clone(),
                actual: a.blake3.clone(),
                ..section(name, e, Some("blake3"))
            });
        }
    }
    for (name, a) in actual {
        if !expected.contains_key(name) {
            out.push(Mismatch {
                expected: ABSENT.to_owned(),
                actual: a.blake3.clone(),
                ..section(name, a, None)
            });
        }
    }
}

/// The entry of `list` (sorted by start, then end) that `[start, end)` stands for, not yet
/// `taken`: the one with that very range, else one with the same start (whose end then differs).
/// In a relocatable object one start can have several ends, every section starting at 0.
fn counterpart(list: &[(Addr, Addr)], taken: &[bool], (start, end): (Addr, Addr)) -> Option<usize> {
    let from = list.partition_point(|&(s, _)| s < start);
    let to = from + list[from..].partition_point(|&(s, _)| s == start);
    let free = || (from..to).filter(|&i| !taken[i]);
    free().find(|&i| list[i].1 == end).or_else(|| free().next())
}

fn compare_functions(expected: &[Function], actual: &[Function], out: &mut Vec<Mismatch>) {
    let ranges: Vec<(Addr, Addr)> = actual.iter().map(|f| (f.start, f.end)).collect();
    let mut matched = vec![false; actual.len()];
    for e in expected {
        let function = |field| Mismatch {
            range: Some((e.start, e.end)),
            ..whole(MismatchKind::Function, &e.sym, field)
        };
        let Some(i) = counterpart(&ranges, &matched, (e.start, e.end)) else {
            out.push(Mismatch {
                expected: e.blake3.clone(),
                actual: ABSENT.to_owned(),
                ..function(None)
            });
            continue;
        };
        matched[i] = true;
        let a = &actual[i];
        if e.end != a.end {
            out.push(Mismatch {
                expected: e.end.to_string(),
                actual: a.end.to_string(),
                ..function(Some("end"))
            });
        } else if e.blake3 != a.blake3 {
            out.push(Mismatch {
                expected: e.blake3.clone(),
                actual: a.blake3.clone(),
                ..function(Some("blake3"))
            });
        }
        compare_names(e, a, out);
        compare_origin(e, a, out);
        compare_fragments(e, a, out);
    }
    for (a, _) in actual.iter().zip(&matched).filter(|(_, m)| !**m) {
        out.push(Mismatch {
            range: Some((a.start, a.end)),
            expected: ABSENT.to_owned(),
            actual: a.blake3.clone(),
            ..whole(MismatchKind::Function, &a.sym, None)
        });
    }
}

fn compare_inactive(expected: &[Inactive], actual: &[Inactive], out: &mut Vec<Mismatch>) {
    let ranges: Vec<(Addr, Addr)> = actual.iter().map(|r| (r.start, r.end)).collect();
    let mut matched = vec![false; actual.len()];
    let mismatch = |r: &Inactive, field, expected: String, actual: String| Mismatch {
        range: Some((r.start, r.end)),
        expected,
        actual,
        ..whole(MismatchKind::Inactive, r.role.as_str(), field)
    };
    for e in expected {
        let Some(i) = counterpart(&ranges, &matched, (e.start, e.end)) else {
            out.push(mismatch(e, None, e.blake3.clone(), ABSENT.to_owned()));
            continue;
        };
        matched[i] = true;
        let a = &actual[i];
        if e.end != a.end {
            out.push(mismatch(
                e,
                Some("end"),
                e.end.to_string(),
                a.end.to_string(),
            ));
        } else if e.blake3 != a.blake3 {
            out.push(mismatch(
                e,
                Some("blake3"),
                e.blake3.clone(),
                a.blake3.clone(),
            ));
        }
        if e.role != a.role {
            let role = |r: &Inactive| r.role.as_str().to_owned();
            out.push(mismatch(e, Some("role"), role(e), role(a)));
        }
    }
    for (a, _) in actual.iter().zip(&matched).filter(|(_, m)| !**m) {
        out.push(mismatch(a, None, ABSENT.to_owned(), a.blake3.clone()));
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

fn compare_names(e: &Function, a: &Function, out: &mut Vec<Mismatch>) {
    let name = |field, expected: String, actual: String| Mismatch {
        range: Some((e.start, e.end)),
        expected,
        actual,
        ..whole(MismatchKind::Name, &e.sym, Some(field))
    };
    if e.sym != a.sym {
        out.push(name("sym", e.sym.clone(), a.sym.clone()));
    }
    if e.aliases != a.aliases {
        out.push(name("aliases", list(&e.aliases), list(&a.aliases)));
    }
    if e.demangled != a.demangled {
        out.push(name(
            "demangled",
            said(e.demangled.as_deref()),
            said(a.demangled.as_deref()),
        ));
    }
}

fn compare_origin(e: &Function, a: &Function, out: &mut Vec<Mismatch>) {
    let origin = |field, expected: String, actual: String| Mismatch {
        range: Some((e.start, e.end)),
        expected,
        actual,
        ..whole(MismatchKind::Origin, &e.sym, Some(field))
    };
    if e.source != a.source {
        let (expected, actual) = (e.source.as_str(), a.source.as_str());
        out.push(origin("source", expected.to_owned(), actual.to_owned()));
    }
    if e.file != a.file {
        out.push(origin(
            "file",
            said(e.file.as_deref()),
            said(a.file.as_deref()),
        ));
    }
    if e.line != a.line {
        let line = |l: Option<u32>| l.map_or_else(|| ABSENT.to_owned(), |l| l.to_string());
        out.push(origin("line", line(e.line), line(a.line)));
    }
}

fn compare_fragments(parent: &Function, actual: &Function, out: &mut Vec<Mismatch>) {
    let fragment = |f: &Fragment, field| Mismatch {
        range: Some((f.start, f.end)),
        ..whole(MismatchKind::Fragment, &f.sym, field)
    };
    let ranges: Vec<(Addr, Addr)> = actual.fragments.iter().map(|f| (f.start, f.end)).collect();
    let mut matched = vec![false; actual.fragments.len()];
    for e in &parent.fragments {
        let Some(i) = counterpart(&ranges, &matched, (e.start, e.end)) else {
            out.push(Mismatch {
                expected: e.blake3.clone(),
                actual: ABSENT.to_owned(),
                ..fragment(e, None)
            });
            continue;
        };
        matched[i] = true;
        let a = &actual.fragments[i];
        if e.end != a.end {
            out.push(Mismatch {
                expected: e.end.to_string(),
                actual: a.end.to_string(),
                ..fragment(e, Some("end"))
            });
        } else if e.blake3 != a.blake3 {
            out.push(Mismatch {
                expected: e.blake3.clone(),
                actual: a.blake3.clone(),
                ..fragment(e, Some("blake3"))
            });
        }
        if e.sym != a.sym {
            out.push(Mismatch {
                kind: MismatchKind::Name,
                expected: e.sym.clone(),
                actual: a.sym.clone(),
                ..fragment(e, Some("fragment"))
            });
        }
    }
    for (a, _) in actual.fragments.iter().zip(&matched).filter(|(_, m)| !**m) {
        out.push(Mismatch {
            expected: ABSENT.to_owned(),
            actual: a.blake3.clone(),
            ..fragment(a, None)
        });
    }
}

fn compare_meta(expected: &FuncProof, actual: &FuncProof, out: &mut Vec<Mismatch>) {
    let (e, a) = (&expected.meta, &actual.meta);
    for (name, e, a) in [
        ("meta.compiler", &e.compiler, &a.compiler),
        ("meta.flags", &e.flags, &a.flags),
    ] {
        if e != a {
            out.push(Mismatch {
                expected: said(e.as_deref()),
                actual: said(a.as_deref()),
                ..whole(MismatchKind::Meta, name, None)
            });
        }
    }
    if e.warnings != a.warnings {
        out.push(Mismatch {
            expected: list(&e.warnings),
            actual: list(&a.warnings),
            ..whole(MismatchKind::Meta, "meta.warnings", None)
        });
    }
}

type Edge = (Arc<str>, Arc<str>);

/// The first edge in one sorted edge list and not the other, as `caller -> callee`.
fn first_difference(a: &[Edge], b: &[Edge]) -> Option<String> {
    let b: BTreeSet<&Edge> = b.iter().collect();
    a.iter()
        .find(|e| !b.contains(e))
        .map(|(from, to)| format!("{from} -> {to}"))
}

fn compare_callgraph(expected: &FuncProof, actual: &FuncProof, out: &mut Vec<Mismatch>) {
    let Some(graph) = actual.callgraph.as_ref() else {
        return;
    };
    let Some(stored) = &expected.callgraph else {
        // Traces without the graph they were searched in.
        out.push(Mismatch {
            expected: "a call graph to check the traces against".to_owned(),
            actual: ABSENT.to_owned(),
            ..whole(MismatchKind::Trace, "callgraph", None)
        });
        return;
    };
    if stored != graph {
        let describe = |edges: &[Edge], other: &[Edge]| {
            let only = first_difference(edges, other)
                .map(|e| format!(", {e} among them"))
                .unwrap_or_default();
            format!("{} edges{only}", edges.len())
        };
        out.push(Mismatch {
            expected: describe(&stored.edges, &graph.edges),
            actual: describe(&graph.edges, &stored.edges),
            ..whole(MismatchKind::Callgraph, "callgraph", None)
        });
    }
    let paths = crate::callgraph::retrace(graph, &expected.traces);
    for (t, path) in expected.traces.iter().zip(paths) {
        let trace = |actual: String| Mismatch {
            expected: format!("{} ({})", describe_path(&t.path), t.hash),
            actual,
            ..whole(
                MismatchKind::Trace,
                &format!("{} -> {}", t.entry, t.sink),
                None,
            )
        };
        match path {
            None => out.push(trace(
                "no such pair: the entry or sink is neither a function of the call graph nor a \
                 glob that matches none"
                    .to_owned(),
            )),
            Some(path) => {
                let hash = crate::callgraph::path_hash(&path);
                if path != t.path || hash != t.hash {
                    out.push(trace(format!("{} ({hash})", describe_path(&path))));
                }
            }
        }
    }
}

fn describe_path(path: &[String]) -> String {
    if path.is_empty() {
        "no path".to_owned()
    } else {
        path.join(" -> ")
    }
}
