//! Stella's binary evidence merged into an SBOM another tool wrote (cyclonedx-py, cdxgen,
//! cargo-cyclonedx, syft, …), CycloneDX 1.4–1.7 in, the same version out (or a later one, asked
//! for).
//!
//! Each binary (in path order) is matched to a component of the document, first match wins:
//! 1. **path** — a component's `evidence.occurrences[].location`, or a property whose name ends
//!    in `:path` (syft's `syft:location:N:path`) or is `SrcFile` (cdxgen), normalised to an
//!    absolute path, equals one of the binary's paths. Occurrences and `:path` properties are
//!    trusted over `SrcFile` (cdxgen writes the manifest a package was found in there, shared by
//!    many components); a path claimed by several components of the same strength matches none,
//!    and a component whose SHA-256 differs from the binary's is a different file, not a match.
//! 2. **hash** — the component's SHA-256 equals the binary's.
//! 3. **purl** — the component's purl names the package owning the binary in the inventory, or
//!    the binary's root crate from its `cargo auditable` list: type, namespace, name and version
//!    compared, qualifiers and subpath ignored, case folded where the purl type says names are
//!    case-insensitive, Python names PEP 503-normalised.
//!
//! A path or hash match enriches the component itself: missing SHA-256/BLAKE3 hashes, the
//! `stella:*` properties (replacing earlier ones), identity and occurrence evidence, the FuncProof
//! reference. A purl match means the component is the package, not the file: the binary is added
//! inside it as a nested component, as [`crate::generate()`] writes it. An unmatched binary is added
//! top-level, or inside its inventory package, which is appended when the SBOM lacks it. Crates
//! of `cargo auditable` lists are found by purl (name and version) or appended, and the edges of
//! the embedded dependency graph are merged into `dependencies`. The components found inside a
//! binary (Go modules, crates named by registry paths) are nested in its component, enriched or
//! new, as [`crate::generate()`] nests them, each with its dependency edge.
//!
//! The rest of the document is kept verbatim (timestamps, unknown members), except: Stella joins
//! `metadata.tools` in the form the document already uses (the legacy array form is still valid
//! 1.5–1.7), `metadata.component` is added from the subject when missing, components Stella must
//! refer to get a `bom-ref` when they lack one, `dependencies` gains entries (new refs: appended
//! sorted; existing entries: new targets appended sorted), and the spec version, `serialNumber`
//! and `version` follow the two rules below.
//!
//! **Spec version.** The document keeps its own `specVersion` (and `$schema`) unless a later one
//! is asked for, and everything Stella adds is written as that version's schema allows:
//! - 1.6 and 1.7: identity evidence as a list (a 1.5-style single identity object becomes the
//!   list's first entry), each with its `concludedValue`;
//! - 1.5: one identity object per component and no `concludedValue` (both 1.6 additions): a
//!   component that already has an identity keeps it, and the binary's hash and build id stay in
//!   its hashes and `stella:*` properties; otherwise Stella's identity is written without the
//!   concluded value (the SHA-256 it would repeat is among the hashes). Occurrences, the
//!   `evidence` external reference to the FuncProof and tool components are 1.5 members;
//! - 1.4 has none of the evidence Stella writes about a binary (`evidence.identity`,
//!   `evidence.occurrences`, `evidence` external references all came with 1.5), so enriching a
//!   1.4 document with any binary is refused ([`SbomError::SpecVersionCannotHold`]) rather than
//!   dropping the evidence; asking for 1.5 or later upgrades it. With no binaries, a 1.4 document
//!   gets Stella in the legacy tools form and stays 1.4.
//!
//! Asking for a later version upgrades the document by its markers (`specVersion`, `$schema`):
//! every member of 1.4–1.6 is still valid in 1.7. An earlier version than the document's is
//! refused ([`SbomError::SpecVersionDowngrade`]): members the newer version added would have to
//! be dropped.
//!
//! **Serial number and version.** CycloneDX says a modified BOM keeps its `serialNumber` and
//! increments its `version` by 1, and that a consumer shown several BOMs with one serial number
//! takes the latest version (cyclonedx-cli and Dependency-Track key on the pair). Stella's
//! enrichment is such a modification when it changes the content, so: when the enriched
//! document's [`SbomDocument::content_id`] (which leaves out `serialNumber` and
//! `metadata.timestamp`) differs from the input's, `version` becomes the input's version + 1 (a
//! missing `version` is 1, the schema's default) and the `serialNumber` is kept; a document
//! without one gets a serial derived from the enriched content (as [`crate::generate()`] derives
//! its own: a version-5-shaped UUID from the SHA-256 of the canonical document without the
//! serial), so the same input and facts give the same bytes. When nothing changed (enriching
//! Stella's own output again with the same facts), the document is returned untouched, version
//! and serial included. Not here: fetching SBOMs, analysing binaries.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value, json};
use stella_core::Digest;
use stella_core::jcs::Limits;

use crate::SbomError;
use crate::document::{SbomDocument, content_id_of};
use crate::generate::{
    self, BinaryFacts, CrateGraph, GenerateOptions, Subject, binary_component, binary_hashes,
    binary_properties, binary_ref, crate_component, funcproof_reference, identity_evidence,
    occurrences, package_component, package_targets,
};
use crate::model::SpecVersion;
use crate::rootfs::{Inventory, Package, pep503_normalise};

/// How one binary was matched to a component of the external SBOM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The binary's path.
    pub path: String,
    /// The component it was matched to (for `purl`: the package component it was nested in).
    pub bom_ref: String,
    /// `path`, `hash` or `purl`.
    pub by: &'static str,
}

/// What [`enrich()`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrichReport {
    /// Matched binaries, by path.
    pub matched: Vec<Match>,
    /// Paths of the binaries added as new components (matched by nothing), sorted.
    pub added: Vec<String>,
}

/// Merges the binaries' evidence into the SBOM `external`.
///
/// `subject` is used only when the document has no `metadata.component`; `options` gives the
/// tool version Stella is listed with (`options.timestamp` is not used: the document keeps its
/// own). The inventory supplies owners for purl matches and packages to append. `spec_version`
/// is the CycloneDX version to write, `None` for the document's own (see the module docs for
/// what each version holds, and for the new `version` and `serialNumber`).
///
/// # Errors
/// What [`SbomDocument::read`] reports for a document that is not CycloneDX 1.4–1.7;
/// [`SbomError::InvalidInput`] for unusable facts (as [`generate::generate`]);
/// [`SbomError::SpecVersionDowngrade`] for a `spec_version` earlier than the document's;
/// [`SbomError::SpecVersionCannotHold`] for binaries to write into CycloneDX 1.4;
/// [`SbomError::NotCycloneDx`] for a changed document whose `version` is not an integer the next
/// revision can follow.
pub fn enrich(
    external: &[u8],
    inventory: &Inventory,
    binaries: &[BinaryFacts],
    subject: &Subject,
    options: &GenerateOptions,
    spec_version: Option<SpecVersion>,
) -> Result<(Value, EnrichReport), SbomError> {
    generate::check_binaries(binaries)?;
    generate::check_subject(subject)?;
    let document = SbomDocument::read(external, Limits::default())?;
    let target = written_version(document.spec_version(), spec_version, binaries)?;
    let mut doc = document.value().to_serde();
    let Some(root) = doc.as_object_mut() else {
        return Err(SbomError::NotCycloneDx {
            pointer: String::new(),
            expected: "an object",
            found: "something else".to_owned(),
        });
    };
    if target != document.spec_version() {
        root.insert("specVersion".to_owned(), json!(target.as_str()));
        if root.contains_key("$schema") {
            root.insert("$schema".to_owned(), json!(target.schema_uri()));
        }
    }

    let mut refs = Refs::collect(&doc);
    let candidates = Candidate::collect(&doc);
    let plans = plan(&candidates, inventory, binaries);

    // Bom-refs: of enriched components (assigned when missing), of new binary components.
    let mut binary_refs = vec![String::new(); binaries.len()];
    let mut candidate_refs: HashMap<usize, String> = HashMap::new();
    for (b, plan) in &plans {
        binary_refs[*b] = match plan {
            Plan::Enrich { candidate, .. } => refs.of_candidate(
                &mut doc,
                &candidates[*candidate],
                &binary_ref(&binaries[*b]),
            ),
            _ => refs.fresh(&binary_ref(&binaries[*b])),
        };
        if let Plan::Enrich { candidate, .. } | Plan::Nest { candidate, .. } = plan {
            let c = &candidates[*candidate];
            let fallback = c
                .purl_text
                .clone()
                .unwrap_or_else(|| binary_refs[*b].clone());
            let r = refs.of_candidate(&mut doc, c, &fallback);
            candidate_refs.insert(*candidate, r);
        }
    }

    let mut report = EnrichReport::default();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut new_top: Vec<(String, Value)> = Vec::new();
    let mut nest: BTreeMap<usize, Vec<(String, Value)>> = BTreeMap::new();
    let mut new_packages: BTreeMap<usize, AppendedPackage> = BTreeMap::new();
    let mut parent_of: HashMap<usize, String> = HashMap::new();

    for (b, plan) in &plans {
        let facts = &binaries[*b];
        let bom_ref = binary_refs[*b].clone();
        let inside = generate::nested_refs(facts, &bom_ref);
        for r in &inside {
            graph.entry(r.clone()).or_default();
        }
        graph.entry(bom_ref.clone()).or_default().extend(inside);
        match plan {
            Plan::Enrich { candidate, by } => {
                if let Some(Value::Object(c)) = doc.pointer_mut(&candidates[*candidate].pointer) {
                    enrich_component(c, facts);
                    // Components found inside the binary, unless a document Stella wrote
                    // already nests them.
                    let inside = generate::nested_components(facts, &bom_ref)
                        .into_iter()
                        .filter_map(|n| {
                            let r = n.get("bom-ref").and_then(Value::as_str)?.to_owned();
                            (!refs.0.contains(&r)).then_some((r, n))
                        })
                        .collect();
                    append_components(c, inside);
                }
                report.matched.push(Match {
                    path: facts.path.clone(),
                    bom_ref,
                    by,
                });
            }
            Plan::Nest { candidate } => {
                let component = Value::Object(binary_component(facts, &bom_ref));
                nest.entry(*candidate)
                    .or_default()
                    .push((bom_ref.clone(), component));
                let parent = candidate_refs.get(candidate).cloned().unwrap_or_default();
                parent_of.insert(*b, parent.clone());
                report.matched.push(Match {
                    path: facts.path.clone(),
                    bom_ref: parent,
                    by: "purl",
                });
            }
            Plan::WithPackage { package } => {
                let entry = new_packages
                    .entry(*package)
                    .or_insert_with(|| AppendedPackage {
                        bom_ref: refs.fresh(&inventory.packages[*package].purl),
                        children: Vec::new(),
                    });
                parent_of.insert(*b, entry.bom_ref.clone());
                let component = Value::Object(binary_component(facts, &bom_ref));
                entry.children.push((bom_ref.clone(), component));
                report.added.push(facts.path.clone());
            }
            Plan::TopLevel => {
                let component = Value::Object(binary_component(facts, &bom_ref));
                new_top.push((bom_ref.clone(), component));
                report.added.push(facts.path.clone());
            }
        }
    }

    // Packages appended from the inventory, and their dependencies among the packages present.
    let package_refs_in_doc = package_refs_in_document(&candidates, inventory, &new_packages);
    let targets = package_targets(inventory);
    for (package, appended) in new_packages {
        let mut component = package_component(&inventory.packages[package], &appended.bom_ref);
        component.insert(
            "components".to_owned(),
            sorted_components(appended.children),
        );
        new_top.push((appended.bom_ref.clone(), Value::Object(component)));
        let deps = targets[package]
            .iter()
            .filter_map(|t| package_refs_in_doc.get(t).cloned())
            .collect();
        graph.insert(appended.bom_ref, deps);
    }

    // Crates: found by Stella's own bom-ref (in a document Stella wrote), by purl, else appended.
    let crates = CrateGraph::new(binaries);
    let mut crate_refs: BTreeMap<String, String> = BTreeMap::new();
    for (own_ref, node) in &crates.nodes {
        let key = node
            .package
            .match_purl()
            .as_deref()
            .and_then(PurlKey::parse);
        let existing = candidates
            .iter()
            .find(|c| c.bom_ref.as_ref() == Some(own_ref))
            .or_else(|| {
                let key = key?;
                candidates.iter().find(|c| c.purl.as_ref() == Some(&key))
            })
            .map(|c| {
                let fallback = c.purl_text.clone().unwrap_or_else(|| own_ref.clone());
                refs.of_candidate(&mut doc, c, &fallback)
            });
        let r = match existing {
            Some(r) => r,
            None => {
                let r = refs.fresh(own_ref);
                let mut component = crate_component(node);
                component.insert("bom-ref".to_owned(), json!(r));
                new_top.push((r.clone(), Value::Object(component)));
                r
            }
        };
        crate_refs.insert(own_ref.clone(), r);
    }
    for (own_ref, node) in &crates.nodes {
        if let Some(r) = crate_refs.get(own_ref) {
            let deps = node
                .deps
                .iter()
                .filter_map(|d| crate_refs.get(d).cloned())
                .filter(|d| d != r);
            graph.entry(r.clone()).or_default().extend(deps);
        }
    }

    // Binaries: DT_NEEDED links and root crates (not the component a binary is nested in).
    let links = generate::needed_links(binaries);
    for (b, needed) in links.iter().enumerate() {
        let mut deps: BTreeSet<String> = needed.iter().map(|&n| binary_refs[n].clone()).collect();
        deps.extend(
            crates.roots[b]
                .iter()
                .filter_map(|r| crate_refs.get(r).cloned()),
        );
        if let Some(parent) = parent_of.get(&b) {
            deps.remove(parent);
        }
        deps.remove(&binary_refs[b]);
        graph
            .entry(binary_refs[b].clone())
            .or_default()
            .extend(deps);
    }

    // Write the new components.
    for (candidate, children) in nest {
        if let Some(Value::Object(c)) = doc.pointer_mut(&candidates[candidate].pointer) {
            append_components(c, children);
        }
    }
    new_top.sort_by(|a, b| a.0.cmp(&b.0));
    let new_top_refs: Vec<String> = new_top.iter().map(|(r, _)| r.clone()).collect();
    if let Some(root) = doc.as_object_mut() {
        append_components(root, new_top);
    }
    for r in &new_top_refs {
        graph.entry(r.clone()).or_default();
    }

    metadata(
        &mut doc,
        &mut refs,
        subject,
        options,
        target,
        &new_top_refs,
        &mut graph,
    )?;
    merge_dependencies(&mut doc, graph);
    if target == SpecVersion::V1_5 {
        identity_as_1_5(&mut doc);
    }
    revise(&mut doc, &document.content_id())?;

    report.matched.sort_by(|a, b| a.path.cmp(&b.path));
    report.added.sort();
    Ok((doc, report))
}

// ---------------------------------------------------------------------------------------------
// Spec version and revision

/// The version to write: the document's own unless a later one is asked for; never an earlier
/// one, and never 1.4 when there are binaries to describe.
fn written_version(
    input: SpecVersion,
    asked: Option<SpecVersion>,
    binaries: &[BinaryFacts],
) -> Result<SpecVersion, SbomError> {
    let target = asked.unwrap_or(input);
    if target < input {
        return Err(SbomError::SpecVersionDowngrade {
            document: input,
            asked: target,
        });
    }
    if target < SpecVersion::V1_5 && !binaries.is_empty() {
        return Err(SbomError::SpecVersionCannotHold {
            version: target,
            what: "a binary's evidence.identity, evidence.occurrences and its FuncProof as an \
                   `evidence` external reference (CycloneDX 1.5 added them)",
        });
    }
    Ok(target)
}

/// Rewrites CycloneDX 1.6 identity evidence as 1.5 holds it: a list becomes its first entry (the
/// document's own identity comes before Stella's), and `concludedValue` (1.6) is left out.
fn identity_as_1_5(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(evidence)) = map.get_mut("evidence") {
                let single = match evidence.remove("identity") {
                    Some(Value::Array(list)) => list.into_iter().next(),
                    other => other,
                };
                if let Some(mut identity) = single {
                    if let Some(fields) = identity.as_object_mut() {
                        fields.remove("concludedValue");
                    }
                    evidence.insert("identity".to_owned(), identity);
                }
            }
            map.values_mut().for_each(identity_as_1_5);
        }
        Value::Array(items) => items.iter_mut().for_each(identity_as_1_5),
        _ => {}
    }
}

/// The largest `version` a document may have for Stella to write the next one: the next must
/// stay an integer every JSON reader keeps exactly (at most 2^53 − 1).
const MAX_REVISED_VERSION: u64 = (1 << 53) - 2;

/// A changed document is the next revision of its BOM: `version` + 1, the `serialNumber` kept,
/// or derived from the content when there is none. An unchanged one is left as it is.
fn revise(doc: &mut Value, input_content: &Digest) -> Result<(), SbomError> {
    if content_id_of(doc)? == *input_content {
        return Ok(());
    }
    let Some(root) = doc.as_object_mut() else {
        return Ok(());
    };
    let version = match root.get("version") {
        None => 1,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_REVISED_VERSION).contains(n))
            .ok_or_else(|| SbomError::NotCycloneDx {
                pointer: "/version".to_owned(),
                expected: "an integer from 1 to 9007199254740990 (2^53 - 2), the BOM's revision",
                found: v.to_string(),
            })?,
    };
    root.insert("version".to_owned(), json!(version + 1));
    if !root.contains_key("serialNumber") {
        let serial = generate::serial_number(doc)?;
        if let Some(root) = doc.as_object_mut() {
            root.insert("serialNumber".to_owned(), json!(serial));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Matching

/// What to do with one binary.
enum Plan {
    /// Enrich the component itself (path or hash match).
    Enrich { candidate: usize, by: &'static str },
    /// Nest a new binary component in the package component (purl match).
    Nest { candidate: usize },
    /// Append the inventory package (once) with the binary inside.
    WithPackage { package: usize },
    /// Append the binary top-level.
    TopLevel,
}

/// An inventory package appended to the document, with the binaries it owns.
struct AppendedPackage {
    bom_ref: String,
    /// `(bom-ref, component)` of its binaries.
    children: Vec<(String, Value)>,
}

/// How much a path claim is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PathSource {
    /// `evidence.occurrences` or a `…:path` property.
    Strong,
    /// cdxgen's `SrcFile`.
    Weak,
}

/// A purl reduced to what identifies a package.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PurlKey {
    ty: String,
    namespace: Option<String>,
    name: String,
    version: Option<String>,
}

impl PurlKey {
    fn parse(text: &str) -> Option<Self> {
        let purl: packageurl::PackageUrl<'static> = text.parse().ok()?;
        let ty = purl.ty().to_owned();
        let name = if ty == "pypi" {
            pep503_normalise(purl.name())
        } else {
            purl.name().to_owned()
        };
        Some(PurlKey {
            namespace: purl.namespace().map(str::to_owned),
            version: purl.version().map(str::to_owned),
            ty,
            name,
        })
    }
}

/// A component of the external document that a binary may match.
struct Candidate {
    /// JSON pointer to it.
    pointer: String,
    bom_ref: Option<String>,
    purl_text: Option<String>,
    purl: Option<PurlKey>,
    sha256: Option<String>,
    paths: Vec<(String, PathSource)>,
}

impl Candidate {
    /// Every component under `metadata.component` and `components`, in document order.
    fn collect(doc: &Value) -> Vec<Candidate> {
        let mut out = Vec::new();
        if let Some(c) = doc.pointer("/metadata/component") {
            Self::walk(c, "/metadata/component".to_owned(), &mut out);
        }
        if let Some(Value::Array(list)) = doc.get("components") {
            for (i, c) in list.iter().enumerate() {
                Self::walk(c, format!("/components/{i}"), &mut out);
            }
        }
        out
    }

    fn walk(c: &Value, pointer: String, out: &mut Vec<Candidate>) {
        let Some(map) = c.as_object() else {
            return;
        };
        let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
        let purl_text = text("purl");
        let sha256 = map
            .get("hashes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|h| h.get("alg").and_then(Value::as_str) == Some("SHA-256"))
            .and_then(|h| h.get("content").and_then(Value::as_str))
            .map(str::to_ascii_lowercase);
        let mut paths = Vec::new();
        let occurrences = c.pointer("/evidence/occurrences").and_then(Value::as_array);
        for o in occurrences.into_iter().flatten() {
            if let Some(p) = o
                .get("location")
                .and_then(Value::as_str)
                .and_then(normalise_path)
            {
                paths.push((p, PathSource::Strong));
            }
        }
        for p in map
            .get("properties")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            let value = p
                .get("value")
                .and_then(Value::as_str)
                .and_then(normalise_path);
            let source = if name.ends_with(":path") {
                PathSource::Strong
            } else if name == "SrcFile" {
                PathSource::Weak
            } else {
                continue;
            };
            if let Some(v) = value {
                paths.push((v, source));
            }
        }
        out.push(Candidate {
            bom_ref: text("bom-ref").filter(|r| !r.is_empty()),
            purl: purl_text.as_deref().and_then(PurlKey::parse),
            purl_text,
            sha256,
            paths,
            pointer: pointer.clone(),
        });
        if let Some(Value::Array(children)) = map.get("components") {
            for (i, child) in children.iter().enumerate() {
                Self::walk(child, format!("{pointer}/components/{i}"), out);
            }
        }
    }
}

/// `file:///a/./b`, `a/b`, `/a//b/../c` → an absolute, lexically normal path.
fn normalise_path(raw: &str) -> Option<String> {
    let raw = raw.strip_prefix("file://").unwrap_or(raw);
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| format!("/{}", parts.join("/")))
}

/// Decides, for each binary in path order, how it is matched.
fn plan(
    candidates: &[Candidate],
    inventory: &Inventory,
    binaries: &[BinaryFacts],
) -> Vec<(usize, Plan)> {
    let owners = generate::owners(inventory, binaries);
    let mut consumed: HashSet<usize> = HashSet::new();
    let mut out = Vec::new();
    for b in generate::sorted_binaries(binaries) {
        let facts = &binaries[b];
        let owner = owners[b];
        let plan = if let Some(c) = by_path(candidates, facts, &consumed) {
            consumed.insert(c);
            Plan::Enrich {
                candidate: c,
                by: "path",
            }
        } else if let Some(c) = by_hash(candidates, facts, &consumed) {
            consumed.insert(c);
            Plan::Enrich {
                candidate: c,
                by: "hash",
            }
        } else if let Some(c) = by_purl(candidates, owner.map(|p| &inventory.packages[p]), facts) {
            Plan::Nest { candidate: c }
        } else if let Some(p) = owner {
            Plan::WithPackage { package: p }
        } else {
            Plan::TopLevel
        };
        out.push((b, plan));
    }
    out
}

fn by_path(candidates: &[Candidate], b: &BinaryFacts, consumed: &HashSet<usize>) -> Option<usize> {
    let paths = generate::all_paths(b);
    let mut best: Option<(PathSource, Vec<usize>)> = None;
    for (i, c) in candidates.iter().enumerate() {
        if consumed.contains(&i) || c.sha256.as_ref().is_some_and(|h| *h != b.sha256) {
            continue;
        }
        let Some(strength) = c
            .paths
            .iter()
            .filter(|(p, _)| paths.contains(&p.as_str()))
            .map(|(_, s)| *s)
            .min()
        else {
            continue;
        };
        match &mut best {
            Some((s, list)) if *s == strength => list.push(i),
            Some((s, _)) if *s < strength => {}
            _ => best = Some((strength, vec![i])),
        }
    }
    match best {
        Some((_, list)) if list.len() == 1 => list.first().copied(),
        _ => None,
    }
}

fn by_hash(candidates: &[Candidate], b: &BinaryFacts, consumed: &HashSet<usize>) -> Option<usize> {
    candidates
        .iter()
        .enumerate()
        .find(|(i, c)| !consumed.contains(i) && c.sha256.as_deref() == Some(b.sha256.as_str()))
        .map(|(i, _)| i)
}

fn by_purl(candidates: &[Candidate], owner: Option<&Package>, b: &BinaryFacts) -> Option<usize> {
    let owner = owner.map(|p| p.purl.clone());
    let roots = crate::auditable::roots(&b.auditable)
        .into_iter()
        .filter_map(|r| b.auditable.get(r).and_then(|p| p.match_purl()));
    owner
        .into_iter()
        .chain(roots)
        .filter_map(|p| PurlKey::parse(&p))
        .find_map(|key| {
            candidates
                .iter()
                .position(|c| c.purl.as_ref() == Some(&key))
        })
}

/// Inventory package index → the bom-ref of its component in the document (found by purl, or
/// appended).
fn package_refs_in_document(
    candidates: &[Candidate],
    inventory: &Inventory,
    appended: &BTreeMap<usize, AppendedPackage>,
) -> HashMap<usize, String> {
    let mut by_key: HashMap<PurlKey, &str> = HashMap::new();
    for c in candidates {
        if let (Some(k), Some(r)) = (&c.purl, &c.bom_ref) {
            by_key.entry(k.clone()).or_insert(r.as_str());
        }
    }
    let mut out = HashMap::new();
    for (i, p) in inventory.packages.iter().enumerate() {
        if let Some(a) = appended.get(&i) {
            out.insert(i, a.bom_ref.clone());
        } else if let Some(r) = PurlKey::parse(&p.purl).and_then(|k| by_key.get(&k).copied()) {
            out.insert(i, r.to_owned());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Every `bom-ref` in the document, to keep new ones unique.
struct Refs(HashSet<String>);

impl Refs {
    fn collect(doc: &Value) -> Self {
        fn walk(v: &Value, out: &mut HashSet<String>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("bom-ref") {
                        out.insert(r.clone());
                    }
                    map.values().for_each(|v| walk(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = HashSet::new();
        walk(doc, &mut out);
        Refs(out)
    }

    /// `wanted`, or `wanted#2`, `wanted#3`, … whichever is free; reserved.
    fn fresh(&mut self, wanted: &str) -> String {
        let mut candidate = wanted.to_owned();
        let mut n = 2;
        while self.0.contains(&candidate) {
            candidate = format!("{wanted}#{n}");
            n += 1;
        }
        self.0.insert(candidate.clone());
        candidate
    }

    /// The candidate's bom-ref, assigning one (from `wanted`) when it has none.
    fn of_candidate(&mut self, doc: &mut Value, c: &Candidate, wanted: &str) -> String {
        if let Some(r) = &c.bom_ref {
            return r.clone();
        }
        if let Some(Value::Object(map)) = doc.pointer_mut(&c.pointer) {
            if let Some(Value::String(r)) = map.get("bom-ref")
                && !r.is_empty()
            {
                return r.clone();
            }
            let r = self.fresh(wanted);
            map.insert("bom-ref".to_owned(), json!(r));
            return r;
        }
        self.fresh(wanted)
    }
}

/// Adds Stella's facts to a component matched by path or hash.
fn enrich_component(c: &mut Map<String, Value>, b: &BinaryFacts) {
    with_array(c, "hashes", |hashes| {
        for h in binary_hashes(b) {
            let alg = h.get("alg").cloned();
            if !hashes.iter().any(|e| e.get("alg") == alg.as_ref()) {
                hashes.push(h);
            }
        }
    });
    with_array(c, "properties", |properties| {
        properties.retain(|p| {
            !p.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with(generate::PROPERTY_PREFIX))
        });
        properties.extend(binary_properties(b));
    });

    let evidence = c
        .entry("evidence")
        .or_insert_with(|| Value::Object(Map::new()));
    if !evidence.is_object() {
        *evidence = Value::Object(Map::new());
    }
    if let Some(evidence) = evidence.as_object_mut() {
        let identity = identity_evidence(b);
        match evidence.remove("identity") {
            Some(Value::Array(mut list)) => {
                if !list.contains(&identity) {
                    list.push(identity);
                }
                evidence.insert("identity".to_owned(), Value::Array(list));
            }
            Some(single @ Value::Object(_)) => {
                let list = if single == identity {
                    vec![single]
                } else {
                    vec![single, identity]
                };
                evidence.insert("identity".to_owned(), Value::Array(list));
            }
            _ => {
                evidence.insert("identity".to_owned(), json!([identity]));
            }
        }
        with_array(evidence, "occurrences", |list| {
            for o in occurrences(b) {
                let location = o.get("location").cloned();
                if !list.iter().any(|e| e.get("location") == location.as_ref()) {
                    list.push(o);
                }
            }
        });
    }

    if let Some(r) = funcproof_reference(b) {
        with_array(c, "externalReferences", |list| {
            let url = r.get("url").cloned();
            if !list.iter().any(|e| e.get("url") == url.as_ref()) {
                list.push(r);
            }
        });
    }
}

/// Runs `f` on the array member `key` of `map` (created empty when missing; a member of another
/// type is replaced).
fn with_array<R>(
    map: &mut Map<String, Value>,
    key: &str,
    f: impl FnOnce(&mut Vec<Value>) -> R,
) -> R {
    let mut list = match map.remove(key) {
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    let out = f(&mut list);
    map.insert(key.to_owned(), Value::Array(list));
    out
}

fn sorted_components(mut children: Vec<(String, Value)>) -> Value {
    children.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(children.into_iter().map(|(_, c)| c).collect())
}

/// Appends components (already in their final order) to `map.components`.
fn append_components(map: &mut Map<String, Value>, mut children: Vec<(String, Value)>) {
    if children.is_empty() {
        return;
    }
    children.sort_by(|a, b| a.0.cmp(&b.0));
    with_array(map, "components", |list| {
        list.extend(children.into_iter().map(|(_, c)| c));
    });
}

/// Stella in `metadata.tools`; the subject as `metadata.component` when there is none; the
/// metadata component's dependency on the new top-level components.
fn metadata(
    doc: &mut Value,
    refs: &mut Refs,
    subject: &Subject,
    options: &GenerateOptions,
    target: SpecVersion,
    new_top: &[String],
    graph: &mut BTreeMap<String, BTreeSet<String>>,
) -> Result<(), SbomError> {
    let all_top: Vec<String> = doc
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("bom-ref").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let Some(root) = doc.as_object_mut() else {
        return Ok(());
    };
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    let Some(metadata) = metadata.as_object_mut() else {
        return Ok(());
    };

    let tool = generate::tool_component(options);
    // Tool components came with 1.5; a 1.4 document lists tools in the legacy form only.
    if target < SpecVersion::V1_5 && !metadata.contains_key("tools") {
        metadata.insert("tools".to_owned(), json!([]));
    }
    match metadata.get_mut("tools") {
        Some(Value::Array(legacy)) => {
            let mut entry = Map::new();
            entry.insert("name".to_owned(), json!(generate::TOOL_NAME));
            if !options.tool_version.is_empty() {
                entry.insert("version".to_owned(), json!(options.tool_version));
            }
            let entry = Value::Object(entry);
            if !legacy.contains(&entry) {
                legacy.push(entry);
            }
        }
        Some(Value::Object(current)) => with_array(current, "components", |list| {
            if !list.contains(&tool) {
                list.push(tool);
            }
        }),
        _ => {
            metadata.insert("tools".to_owned(), json!({ "components": [tool] }));
        }
    }

    match metadata.get("component") {
        Some(component) => {
            if let Some(r) = component.get("bom-ref").and_then(Value::as_str) {
                graph
                    .entry(r.to_owned())
                    .or_default()
                    .extend(new_top.iter().cloned());
            }
        }
        None => {
            let (wanted, mut component) = generate::metadata_component(subject)?;
            let r = refs.fresh(&wanted);
            component.insert("bom-ref".to_owned(), json!(r));
            metadata.insert("component".to_owned(), Value::Object(component));
            graph.entry(r).or_default().extend(all_top);
        }
    }
    Ok(())
}

/// Merges `graph` into `dependencies`: existing entries keep their targets and gain the new ones
/// (appended, sorted); new refs get entries appended in ref order.
fn merge_dependencies(doc: &mut Value, graph: BTreeMap<String, BTreeSet<String>>) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    if graph.is_empty() {
        return;
    }
    with_array(root, "dependencies", |list| {
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, entry) in list.iter().enumerate() {
            if let Some(r) = entry.get("ref").and_then(Value::as_str) {
                index.entry(r.to_owned()).or_insert(i);
            }
        }
        for (r, targets) in graph {
            let existing = index
                .get(&r)
                .and_then(|&i| list.get_mut(i))
                .and_then(Value::as_object_mut);
            match existing {
                Some(entry) => {
                    if targets.is_empty() {
                        continue;
                    }
                    with_array(entry, "dependsOn", |depends| {
                        for t in targets {
                            let t = Value::String(t);
                            if !depends.contains(&t) {
                                depends.push(t);
                            }
                        }
                    });
                }
                None => {
                    let mut entry = Map::new();
                    entry.insert("ref".to_owned(), json!(r));
                    if !targets.is_empty() {
                        entry.insert("dependsOn".to_owned(), json!(targets));
                    }
                    list.push(Value::Object(entry));
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_written_is_the_documents_or_a_later_one() {
        use SpecVersion::*;
        assert_eq!(written_version(V1_5, None, &[]).unwrap(), V1_5);
        assert_eq!(written_version(V1_5, Some(V1_7), &[]).unwrap(), V1_7);
        assert_eq!(written_version(V1_4, None, &[]).unwrap(), V1_4);
        let err = written_version(V1_6, Some(V1_5), &[]).unwrap_err();
        assert!(
            matches!(
                err,
                SbomError::SpecVersionDowngrade {
                    document: V1_6,
                    asked: V1_5
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn identity_lists_become_one_1_5_identity() {
        let mut doc = json!({"components": [
            {"name": "a", "evidence": {"identity": [
                {"field": "name", "confidence": 0.5},
                {"field": "hash", "concludedValue": "00"}]}},
            {"name": "b", "components": [{"name": "c", "evidence": {
                "identity": [{"field": "hash", "concludedValue": "00"}],
                "occurrences": [{"location": "/c"}]}}]},
            {"name": "d", "evidence": {"identity": [], "occurrences": [{"location": "/d"}]}}
        ]});
        identity_as_1_5(&mut doc);
        assert_eq!(
            doc,
            json!({"components": [
                {"name": "a", "evidence": {"identity": {"field": "name", "confidence": 0.5}}},
                {"name": "b", "components": [{"name": "c", "evidence": {
                    "identity": {"field": "hash"},
                    "occurrences": [{"location": "/c"}]}}]},
                {"name": "d", "evidence": {"occurrences": [{"location": "/d"}]}}
            ]})
        );
    }

    #[test]
    fn paths_normalise() {
        assert_eq!(
            normalise_path("research/x.json").as_deref(),
            Some("/research/x.json")
        );
        assert_eq!(
            normalise_path("file:///usr/./lib//a/../b").as_deref(),
            Some("/usr/lib/b")
        );
        assert_eq!(normalise_path("/"), None);
    }

    #[test]
    fn purl_keys_ignore_qualifiers_and_fold_case() {
        let k = |s| PurlKey::parse(s).unwrap();
        assert_eq!(
            k("pkg:cargo/jcs-check@0.1.0?download_url=file://.#src/main.rs"),
            k("pkg:cargo/jcs-check@0.1.0")
        );
        assert_eq!(
            k("pkg:pypi/Typing_Extensions@4.16.0"),
            k("pkg:pypi/typing-extensions@4.16.0")
        );
        assert_eq!(k("pkg:pypi/boolean.py@5.0"), k("pkg:pypi/boolean-py@5.0"));
        assert_eq!(
            k("pkg:deb/Debian/LibC6@2.36?arch=amd64"),
            k("pkg:deb/debian/libc6@2.36?arch=i386&distro=debian-12")
        );
        assert_ne!(k("pkg:cargo/Serde@1.0.0"), k("pkg:cargo/serde@1.0.0"));
        assert_ne!(k("pkg:cargo/serde@1.0.0"), k("pkg:cargo/serde@1.0.1"));
    }
}
