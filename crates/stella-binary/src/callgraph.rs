//! The direct call graph and entry → sink traces.
//!
//! Linear-sweep disassembly of every proven function (iced-x86 on x86-64, yaxpeax-arm on
//! aarch64: [`aarch64`] says which branches count there) finds direct calls and tail jumps that
//! leave the function. Calls through the PLT, or through the GOT with `-fno-plt`, are
//! resolved to the imported symbol's name via the dynamic relocations, so `main → inflateGetHeader` is an edge even when zlib is a
//! shared library. Indirect calls through registers are not followed: a trace is a proof that a
//! path exists, and its absence means "no direct path", which the trace states.
//!
//! A trace is the shortest path (breadth first, ties broken by name) from a function matching an
//! `--entry` glob to one matching a `--sink` glob; its `hash` is the BLAKE3 of its edge list
//! (`caller\tcallee\n` per edge), so a stored answer can be checked against the stored graph.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use iced_x86::{Decoder, DecoderOptions, OpKind};
use object::{Architecture, Object, ObjectSection, ObjectSymbol, RelocationTarget};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::functions::{AddressMap, Function};
use crate::proof::Trace;

pub(crate) mod aarch64;

/// The call graph: sorted, unique `[caller, callee]` edges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallGraph {
    /// Edges by name; a name is stored once however many edges it is on.
    pub edges: Vec<(Arc<str>, Arc<str>)>,
}

impl CallGraph {
    /// Whether the edge `caller → callee` is in the graph.
    pub fn has_edge(&self, caller: &str, callee: &str) -> bool {
        self.edges
            .binary_search_by(|(a, b)| (&**a, &**b).cmp(&(caller, callee)))
            .is_ok()
    }
}

/// PLT entries are 16 bytes on x86-64 (`.plt`, `.plt.sec`, `.plt.got`).
const PLT_ENTRY: u64 = 16;

/// Builds the direct call graph of `functions`.
pub fn build(file: &object::File<'_>, data: &[u8], functions: &[Function]) -> CallGraph {
    let map = AddressMap::new(file);
    let imports = ImportNames::new(file, data, &map);
    let arch = file.architecture();
    // Every body and fragment as `(start, end, index of its function)`, by start; at one start
    // the widest part wins.
    let mut parts: Vec<(u64, u64, usize)> = functions
        .iter()
        .enumerate()
        .flat_map(|(i, f)| {
            std::iter::once((f.start.0, f.end.0, i))
                .chain(f.fragments.iter().map(move |g| (g.start.0, g.end.0, i)))
        })
        .collect();
    parts.sort_unstable();
    parts.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            *earlier = *later;
        }
        same
    });
    // Every name an edge can carry, sorted and unique: an edge is a pair of ranks, so sorting
    // and deduplicating a million edges compares integers, and gives the order of the names.
    let mut names: Vec<&str> = functions
        .iter()
        .map(|f| f.sym.as_str())
        .chain(imports.plt.values().map(String::as_str))
        .chain(imports.got.values().map(String::as_str))
        .collect();
    names.par_sort_unstable();
    names.dedup();
    let rank = |name: &str| names.binary_search(&name).ok();
    let ranks: Vec<Option<usize>> = functions.par_iter().map(|f| rank(&f.sym)).collect();
    let name_of = |target: u64| -> Option<usize> {
        if let Some(name) = imports.plt.get(&target) {
            return rank(name);
        }
        let at = parts.partition_point(|&(start, _, _)| start <= target);
        let &(start, end, i) = parts.get(at.checked_sub(1)?)?;
        (start..end.max(start + 1))
            .contains(&target)
            .then_some(ranks[i])
            .flatten()
    };
    let entry_of = |target: u64| -> Option<usize> {
        if let Some(name) = imports.plt.get(&target) {
            return rank(name);
        }
        let at = parts
            .binary_search_by_key(&target, |&(start, _, _)| start)
            .ok()?;
        ranks[parts[at].2]
    };
    // Each function is swept on its own; the edges are merged, sorted and made unique after.
    let mut edges: Vec<(u32, u32)> = functions
        .par_iter()
        .zip(ranks.par_iter())
        .flat_map_iter(|(f, &caller)| {
            let mut out: Vec<(u32, u32)> = Vec::new();
            let Some(caller) = caller.and_then(|r| u32::try_from(r).ok()) else {
                return out;
            };
            let parts = std::iter::once((f.start.0, f.end.0))
                .chain(f.fragments.iter().map(|g| (g.start.0, g.end.0)));
            for (start, end) in parts {
                let Some(bytes) = map.bytes(data, start, end) else {
                    continue;
                };
                for target in branch_targets(arch, bytes, start, end, &imports) {
                    let callee = match target {
                        Target::Address(addr) => name_of(addr),
                        Target::Entry(addr) => entry_of(addr),
                        Target::Import(name) => rank(name),
                    };
                    let callee = callee.and_then(|r| u32::try_from(r).ok());
                    if let Some(callee) = callee.filter(|&c| c != caller) {
                        out.push((caller, callee));
                    }
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        })
        .collect();
    edges.par_sort_unstable();
    edges.dedup();
    // A name is stored once however many edges it is on.
    let mut interned: Vec<Option<Arc<str>>> = vec![None; names.len()];
    let mut name = |r: u32| -> Arc<str> {
        let i = r as usize;
        interned[i].get_or_insert_with(|| names[i].into()).clone()
    };
    let out = edges.into_iter().map(|(a, b)| (name(a), name(b))).collect();
    CallGraph { edges: out }
}

/// Where a branch that makes an edge leads.
enum Target<'i> {
    /// Into the function (or PLT entry) that holds this address.
    Address(u64),
    /// To this address only if a function (or PLT entry) starts there: aarch64's conditional
    /// branches leaving a function (see [`aarch64`]).
    Entry(u64),
    /// To the import whose GOT slot was read.
    Import(&'i str),
}

/// Direct calls, and jumps that leave `[start, end)` (tail calls).
fn branch_targets<'i>(
    arch: Architecture,
    bytes: &[u8],
    start: u64,
    end: u64,
    imports: &'i ImportNames,
) -> Vec<Target<'i>> {
    let mut out = Vec::new();
    match arch {
        Architecture::X86_64 => {
            let mut decoder = Decoder::with_ip(64, bytes, start, DecoderOptions::NONE);
            for insn in &mut decoder {
                let call = insn.is_call_near() || insn.is_call_near_indirect();
                let jump = insn.is_jmp_short_or_near()
                    || insn.is_jcc_short_or_near()
                    || insn.is_jmp_near_indirect();
                if !call && !jump {
                    continue;
                }
                match insn.op0_kind() {
                    OpKind::NearBranch64 => {
                        let target = insn.near_branch_target();
                        if call || !(start..end).contains(&target) {
                            out.push(Target::Address(target));
                        }
                    }
                    // `call [rip+x]` / `jmp [rip+x]` through a GOT slot (-fno-plt).
                    OpKind::Memory if insn.is_ip_rel_memory_operand() => {
                        if let Some(name) = imports.got.get(&insn.ip_rel_memory_address()) {
                            out.push(Target::Import(name));
                        }
                    }
                    _ => {}
                }
            }
        }
        Architecture::Aarch64 => aarch64::branch_targets(bytes, start, end, imports, &mut out),
        _ => {}
    }
    out
}

/// Names of imported functions by PLT entry and by GOT slot.
#[derive(Default)]
struct ImportNames {
    plt: BTreeMap<u64, String>,
    got: BTreeMap<u64, String>,
}

impl ImportNames {
    fn new(file: &object::File<'_>, data: &[u8], map: &AddressMap) -> Self {
        let mut names = ImportNames::default();
        let dynamic: HashMap<usize, &str> = file
            .dynamic_symbols()
            .filter_map(|s| Some((s.index().0, s.name().ok()?)))
            .collect();
        if let Some(relocations) = file.dynamic_relocations() {
            for (offset, relocation) in relocations {
                if let RelocationTarget::Symbol(index) = relocation.target() {
                    let name = dynamic.get(&index.0).copied().filter(|n| !n.is_empty());
                    if let Some(name) = name {
                        names.got.insert(offset, name.to_owned());
                    }
                }
            }
        }
        let arch = file.architecture();
        if !matches!(arch, Architecture::X86_64 | Architecture::Aarch64) {
            return names;
        }
        for section in file.sections() {
            let is_plt = section.name().is_ok_and(|n| n.starts_with(".plt"));
            let Some(bytes) = is_plt
                .then(|| map.bytes(data, section.address(), section.address() + section.size()))
                .flatten()
            else {
                continue;
            };
            let base = section.address();
            if arch == Architecture::Aarch64 {
                for (entry, slot) in aarch64::plt_slots(bytes, base) {
                    if let Some(name) = names.got.get(&slot) {
                        names.plt.insert(entry, name.clone());
                    }
                }
                continue;
            }
            let decoder = Decoder::with_ip(64, bytes, base, DecoderOptions::NONE);
            for insn in decoder {
                if insn.is_jmp_near_indirect()
                    && insn.is_ip_rel_memory_operand()
                    && let Some(name) = names.got.get(&insn.ip_rel_memory_address())
                {
                    let entry = base + (insn.ip() - base) / PLT_ENTRY * PLT_ENTRY;
                    names.plt.insert(entry, name.clone());
                }
            }
        }
        names
    }
}

/// BLAKE3 of a path's edge list.
pub fn path_hash(path: &[String]) -> String {
    let mut edges = String::new();
    for pair in path.windows(2) {
        edges.push_str(&pair[0]);
        edges.push('\t');
        edges.push_str(&pair[1]);
        edges.push('\n');
    }
    crate::functions::blake3_hex(edges.as_bytes())
}

/// One trace per (entry, sink) pair of matching names: the shortest path, or an empty path when
/// there is none. An entry or sink glob that matches no node yields traces naming the glob, with
/// empty paths: absence is an answer too.
pub fn traces(
    graph: &CallGraph,
    entries: &[globset::GlobMatcher],
    sinks: &[globset::GlobMatcher],
) -> Vec<Trace> {
    let (adjacency, nodes) = adjacency(graph);
    let matching = |globs: &[globset::GlobMatcher]| -> Vec<&str> {
        nodes
            .iter()
            .copied()
            .filter(|n| globs.iter().any(|g| g.is_match(n)))
            .collect()
    };
    let (entry_nodes, sink_nodes) = (matching(entries), matching(sinks));
    let mut out = Vec::new();
    for entry in entries {
        if !nodes.iter().any(|n| entry.is_match(n)) {
            for sink in sinks {
                out.push(trace(entry.glob().glob(), sink.glob().glob(), Vec::new()));
            }
        }
    }
    for sink in sinks {
        if !nodes.iter().any(|n| sink.is_match(n)) {
            for entry in &entry_nodes {
                out.push(trace(entry, sink.glob().glob(), Vec::new()));
            }
        }
    }
    for entry in &entry_nodes {
        let parents = bfs(&adjacency, entry);
        for sink in &sink_nodes {
            let path = if entry == sink {
                vec![(*entry).to_owned()]
            } else {
                walk_back(&parents, entry, sink)
            };
            out.push(trace(entry, sink, path));
        }
    }
    out.sort_by(|a, b| (&a.entry, &a.sink).cmp(&(&b.entry, &b.sink)));
    out
}

/// Callees by caller, and every name on an edge.
type Adjacency<'g> = (BTreeMap<&'g str, Vec<&'g str>>, BTreeSet<&'g str>);

fn adjacency(graph: &CallGraph) -> Adjacency<'_> {
    let mut adjacency: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut nodes: BTreeSet<&str> = BTreeSet::new();
    for (from, to) in &graph.edges {
        let (from, to) = (&**from, &**to);
        adjacency.entry(from).or_default().push(to);
        nodes.insert(from);
        nodes.insert(to);
    }
    (adjacency, nodes)
}

/// For each stored trace, the path [`traces`] stores for its `(entry, sink)` on `graph`; `None`
/// when no entry and sink globs make [`traces`] store that pair at all. A pair is either two
/// nodes of the graph, or names a glob that matches no node (the unmatched entry with every
/// sink glob, or every entry node with the unmatched sink), whose path is empty.
pub(crate) fn retrace(graph: &CallGraph, stored: &[Trace]) -> Vec<Option<Vec<String>>> {
    let (adjacency, nodes) = adjacency(graph);
    let matches_nothing = |pattern: &str| {
        crate::proof::glob(pattern).is_ok_and(|g| !nodes.iter().any(|n| g.is_match(n)))
    };
    let is_glob = |pattern: &str| crate::proof::glob(pattern).is_ok();
    // Traces are sorted by entry: one breadth-first search per entry.
    let mut searched: Option<(&str, BTreeMap<&str, &str>)> = None;
    stored
        .iter()
        .map(|t| {
            let (entry, sink) = (t.entry.as_str(), t.sink.as_str());
            match (nodes.get(entry), nodes.get(sink)) {
                (Some(&entry), Some(_)) if entry == sink => Some(vec![entry.to_owned()]),
                (Some(&entry), Some(_)) => {
                    if searched.as_ref().is_none_or(|(e, _)| *e != entry) {
                        searched = Some((entry, bfs(&adjacency, entry)));
                    }
                    let parents = searched.as_ref().map(|(_, p)| p)?;
                    Some(walk_back(parents, entry, sink))
                }
                (Some(_), None) => matches_nothing(sink).then(Vec::new),
                (None, _) => (matches_nothing(entry) && is_glob(sink)).then(Vec::new),
            }
        })
        .collect()
}

fn trace(entry: &str, sink: &str, path: Vec<String>) -> Trace {
    Trace {
        entry: entry.to_owned(),
        sink: sink.to_owned(),
        hash: path_hash(&path),
        path,
    }
}

fn bfs<'a>(
    adjacency: &BTreeMap<&'a str, Vec<&'a str>>,
    entry: &'a str,
) -> BTreeMap<&'a str, &'a str> {
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([entry]);
    while let Some(node) = queue.pop_front() {
        for &next in adjacency.get(node).into_iter().flatten() {
            if next != entry && !parent.contains_key(next) {
                parent.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    parent
}

fn walk_back(parent: &BTreeMap<&str, &str>, entry: &str, sink: &str) -> Vec<String> {
    let mut path = vec![sink.to_owned()];
    let mut node = sink;
    while node != entry {
        match parent.get(node) {
            Some(&p) => {
                path.push(p.to_owned());
                node = p;
            }
            None => return Vec::new(),
        }
    }
    path.reverse();
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str) -> globset::GlobMatcher {
        globset::Glob::new(p).expect("glob").compile_matcher()
    }

    #[test]
    fn shortest_paths_and_stated_absence() {
        let graph = CallGraph {
            edges: [
                ("main", "a"),
                ("a", "b"),
                ("b", "sink"),
                ("main", "c"),
                ("c", "sink"),
                ("x", "y"),
            ]
            .iter()
            .map(|(a, b)| ((*a).into(), (*b).into()))
            .collect(),
        };
        let t = traces(
            &graph,
            &[glob("main")],
            &[glob("sink"), glob("y"), glob("nowhere")],
        );
        let by_sink: BTreeMap<&str, &Trace> = t.iter().map(|t| (t.sink.as_str(), t)).collect();
        assert_eq!(by_sink["sink"].path, vec!["main", "c", "sink"]);
        assert!(by_sink["y"].path.is_empty());
        assert!(by_sink["nowhere"].path.is_empty());
        assert_eq!(by_sink["sink"].hash, path_hash(&by_sink["sink"].path));
        assert_ne!(by_sink["sink"].hash, by_sink["y"].hash);
    }
}
