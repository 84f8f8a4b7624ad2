//! A CycloneDX 1.7 SBOM from what Stella found in a root filesystem: the package
//! [`Inventory`] and the facts about each binary ([`BinaryFacts`],
//! computed by `stella-binary`).
//!
//! The document is deterministic: the same inputs give the same RFC 8785 bytes. Every list is
//! sorted, nothing random or clock-derived goes in unless given (`options.timestamp`), and the
//! `serialNumber` is a UUID made from the SHA-256 of the canonical document without it (the
//! first 16 bytes, version nibble 5 and the RFC 9562 variant bits set), so the serial names the
//! content.
//!
//! What goes in:
//! - `metadata.component`: the subject — a `container` with a `pkg:oci` purl when an image digest
//!   is known, else an `application`; `metadata.tools.components`: Stella itself.
//! - the distribution as an `operating-system` component (bom-ref `os:<id>[@<version_id>]`);
//! - one `library` component per package, bom-ref = purl (a second package with the same purl,
//!   e.g. the same wheel in two virtualenvs, gets `<purl>#<source>`), with `supplier`, `licenses`
//!   and the property `stella:package:source`. Packages are libraries even when they ship
//!   programs, so a package's component does not change with the set of binaries analysed;
//! - one component per binary (bom-ref `file:<path>`), nested in the component of the package
//!   that owns it, else top-level: `application` for executables, `library` for shared
//!   libraries, `file` otherwise; SHA-256, BLAKE3 and (when known) SHA-1 hashes; `stella:*` properties; evidence of
//!   identity (the hash, found by binary analysis through the GNU build id or Stella's file id)
//!   and of every path it occurs at; the FuncProof as an `evidence` external reference;
//! - one component per crate of the `cargo auditable` lists (bom-ref = purl for crates.io, else
//!   `cargo:<source>/<name>@<version>`), `scope: excluded` when only build scripts or proc macros
//!   use it;
//! - inside each binary's component, the components found in it by binary analysis (Go modules
//!   and standard library, crates named by registry paths; see [`crate::embedded`]), bom-ref
//!   `<binary bom-ref>#<purl>`, with identity evidence and the property `stella:found-by`;
//! - `dependencies`, one entry per bom-ref: the subject depends on every top-level component, a
//!   package on its resolved dependencies, a binary on the binaries that satisfy its `DT_NEEDED`
//!   entries, on its root crates and on the components nested in it, a crate on the crates it
//!   depends on.
//!
//! Not here: finding or analysing binaries, reading package databases ([`crate::rootfs`]),
//! merging into another tool's SBOM ([`crate::enrich()`]), signing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};
use stella_core::{Digest, hex};

use crate::SbomError;
use crate::auditable::{self, AuditablePackage};
use crate::embedded::{self as embedded_components, EmbeddedComponent};
use crate::rootfs::{Ecosystem, Inventory, Package};

/// The name Stella gives itself in `metadata.tools`.
pub const TOOL_NAME: &str = "stella";

/// The FuncProof external reference URL prefix (`urn:stella:funcproof:sha256:<hex>`).
pub const FUNCPROOF_URN: &str = "urn:stella:funcproof:";

/// The `stella:` property namespace.
pub const PROPERTY_PREFIX: &str = "stella:";

/// Directories the dynamic loader searches by default; a `DT_NEEDED` match found there is
/// preferred over a copy elsewhere in the image. `/usr/lib/<triplet>` and `/lib/<triplet>` count
/// too (any directory right under them whose name contains `-linux`).
pub const STANDARD_LIBRARY_DIRS: [&str; 4] = ["/lib", "/usr/lib", "/lib64", "/usr/lib64"];

/// A FuncProof about a binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncProofRef {
    /// `sha256:<hex>` of the FuncProof JSON.
    pub digest: String,
    /// How many functions it covers.
    pub functions: usize,
}

/// What `stella-binary` established about one binary in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryFacts {
    /// Absolute path in the image (as a walk that does not follow symlinks finds it).
    pub path: String,
    /// Other absolute paths with the same content (hard links, copies).
    pub other_paths: Vec<String>,
    /// SHA-256 of the file, 64 lower-case hex digits.
    pub sha256: String,
    /// BLAKE3 of the file, 64 lower-case hex digits.
    pub blake3: String,
    /// SHA-1 of the file, 40 lower-case hex digits, when computed: SPDX identifies files by it
    /// (a file's mandatory checksum, the package verification code), so a binary with one
    /// becomes an SPDX file in `stella sbom convert --to spdx`.
    pub sha1: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// `elf`, `pe` or `macho`.
    pub format: String,
    /// Architecture (`x86_64`, `aarch64`, …).
    pub arch: String,
    /// `executable`, `shared-library`, `relocatable`, `core` or `other`.
    pub kind: String,
    /// Build id (hex), when there is one.
    pub build_id: Option<String>,
    /// `gnu-note` (from `NT_GNU_BUILD_ID`) or `fallback` (Stella's file id).
    pub build_id_source: String,
    /// `DT_SONAME`.
    pub soname: Option<String>,
    /// `DT_NEEDED` entries, in order.
    pub needed: Vec<String>,
    /// The binary's FuncProof.
    pub funcproof: Option<FuncProofRef>,
    /// The `cargo auditable` dependency list it embeds.
    pub auditable: Vec<AuditablePackage>,
    /// Components found inside it by binary analysis (Go build information, crate registry
    /// paths), nested in its component; in any order (the document sorts them).
    pub embedded: Vec<EmbeddedComponent>,
}

/// What the SBOM is about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subject {
    /// Name (an image repository, a directory name, …).
    pub name: String,
    /// Version, when known.
    pub version: Option<String>,
    /// `sha256:<hex>` of the image manifest, when the subject is an image.
    pub image_digest: Option<String>,
    /// How the image was referred to (`registry.example/app:1.0`, `oci-layout:dir:tag`, …).
    pub image_ref: Option<String>,
}

/// Generation settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GenerateOptions {
    /// `metadata.timestamp` (RFC 3339, UTC); left out when `None`, which keeps the document a
    /// function of its inputs.
    pub timestamp: Option<String>,
    /// Stella's version, for `metadata.tools`.
    pub tool_version: String,
}

/// Builds the SBOM.
///
/// # Errors
/// [`SbomError::InvalidInput`] for unusable facts (a relative or repeated path, hashes that are
/// not 64 lower-case hex digits, a digest that is not `sha256:<hex>`, a timestamp that is not RFC
/// 3339 UTC, an empty subject name); [`SbomError::Json`] if the document cannot be canonicalised.
pub fn generate(
    inventory: &Inventory,
    binaries: &[BinaryFacts],
    subject: &Subject,
    options: &GenerateOptions,
) -> Result<Value, SbomError> {
    check_inputs(binaries, subject, options)?;
    let order = sorted_binaries(binaries);
    let package_refs = package_refs(inventory);
    let binary_refs: Vec<String> = binaries.iter().map(binary_ref).collect();
    let crates = CrateGraph::new(binaries);

    let owners = owners(inventory, binaries);
    let mut nested: Vec<Vec<usize>> = vec![Vec::new(); inventory.packages.len()];
    let mut top: Vec<(String, Value)> = Vec::new();
    for &b in &order {
        match owners[b] {
            Some(p) => nested[p].push(b),
            None => top.push((
                binary_refs[b].clone(),
                Value::Object(binary_component(&binaries[b], &binary_refs[b])),
            )),
        }
    }
    for (p, package) in inventory.packages.iter().enumerate() {
        let mut component = package_component(package, &package_refs[p]);
        let mut children: Vec<(String, Value)> = nested[p]
            .iter()
            .map(|&b| {
                let c = binary_component(&binaries[b], &binary_refs[b]);
                (binary_refs[b].clone(), Value::Object(c))
            })
            .collect();
        if !children.is_empty() {
            children.sort_by(|a, b| a.0.cmp(&b.0));
            component.insert(
                "components".to_owned(),
                Value::Array(children.into_iter().map(|(_, c)| c).collect()),
            );
        }
        top.push((package_refs[p].clone(), Value::Object(component)));
    }
    if let Some((os_ref, os)) = os_component(inventory) {
        top.push((os_ref, Value::Object(os)));
    }
    for (bom_ref, node) in &crates.nodes {
        top.push((bom_ref.clone(), Value::Object(crate_component(node))));
    }
    top.sort_by(|a, b| a.0.cmp(&b.0));

    let (subject_ref, subject_component) = metadata_component(subject)?;
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.insert(
        subject_ref,
        top.iter().map(|(r, _)| r.clone()).collect::<BTreeSet<_>>(),
    );
    for (r, _) in &top {
        graph.entry(r.clone()).or_default();
    }
    let targets = package_targets(inventory);
    for (p, deps) in targets.iter().enumerate() {
        graph.insert(
            package_refs[p].clone(),
            deps.iter().map(|&d| package_refs[d].clone()).collect(),
        );
    }
    let links = needed_links(binaries);
    for (b, needed) in links.iter().enumerate() {
        let mut deps: BTreeSet<String> = needed.iter().map(|&n| binary_refs[n].clone()).collect();
        deps.extend(crates.roots[b].iter().cloned());
        let inside = nested_refs(&binaries[b], &binary_refs[b]);
        for r in &inside {
            graph.insert(r.clone(), BTreeSet::new());
        }
        deps.extend(inside);
        graph.insert(binary_refs[b].clone(), deps);
    }
    for (r, node) in &crates.nodes {
        graph.insert(r.clone(), node.deps.clone());
    }

    let mut metadata = Map::new();
    if let Some(ts) = &options.timestamp {
        metadata.insert("timestamp".to_owned(), json!(ts));
    }
    metadata.insert(
        "tools".to_owned(),
        json!({ "components": [tool_component(options)] }),
    );
    metadata.insert("component".to_owned(), Value::Object(subject_component));

    let mut doc = Map::new();
    doc.insert("bomFormat".to_owned(), json!("CycloneDX"));
    doc.insert("specVersion".to_owned(), json!("1.7"));
    doc.insert("version".to_owned(), json!(1));
    doc.insert("metadata".to_owned(), Value::Object(metadata));
    doc.insert(
        "components".to_owned(),
        Value::Array(top.into_iter().map(|(_, c)| c).collect()),
    );
    doc.insert("dependencies".to_owned(), dependencies_value(graph));
    let serial = serial_number(&Value::Object(doc.clone()))?;
    doc.insert("serialNumber".to_owned(), json!(serial));
    Ok(Value::Object(doc))
}

/// `urn:uuid:` + a version-5-shaped UUID from the SHA-256 of the canonical document.
///
/// # Errors
/// [`SbomError::Json`] if the document holds an integer JCS cannot represent.
pub(crate) fn serial_number(doc: &Value) -> Result<String, SbomError> {
    let canonical = stella_core::jcs::to_canonical(doc)?;
    let digest = Digest::sha256(&canonical);
    // A SHA-256 digest always has 64 hex digits; the fallback is never taken.
    let digest: [u8; 32] = hex::decode_array(digest.hex()).unwrap_or([0; 32]);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // RFC 9562 §5.5: version 5 in the high nibble of byte 6, the variant in byte 8.
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = hex::encode(bytes);
    Ok(format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

// ---------------------------------------------------------------------------------------------
// Input checks

fn invalid(what: impl Into<String>, expected: &'static str, found: impl Into<String>) -> SbomError {
    SbomError::InvalidInput {
        what: what.into(),
        expected,
        found: found.into(),
    }
}

/// What a file hash handed to [`generate`] looks like.
const HEX64: &str = "64 lower-case hex digits";

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The hex of a `sha256:<hex>` digest.
fn sha256_hex<'a>(what: &str, digest: &'a str) -> Result<&'a str, SbomError> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if is_hex64(hex) => Ok(hex),
        _ => Err(invalid(
            what,
            "sha256:<64 lower-case hex>",
            format!("{digest:?}"),
        )),
    }
}

/// Checks every fact that ends up in the document.
pub(crate) fn check_binaries(binaries: &[BinaryFacts]) -> Result<(), SbomError> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, b) in binaries.iter().enumerate() {
        let at = |field: &str| format!("binaries[{i}].{field}");
        for (j, path) in std::iter::once(&b.path).chain(&b.other_paths).enumerate() {
            let field = if j == 0 {
                at("path")
            } else {
                at(&format!("other_paths[{}]", j - 1))
            };
            if !path.starts_with('/') || path.contains('\0') {
                return Err(invalid(field, "an absolute path", format!("{path:?}")));
            }
            if let Some(first) = seen.insert(path.as_str(), i)
                && first != i
            {
                return Err(invalid(
                    field,
                    "a path no other binary has",
                    format!("{path:?}, also a path of binaries[{first}]"),
                ));
            }
        }
        if !is_hex64(&b.sha256) {
            return Err(invalid(at("sha256"), HEX64, format!("{:?}", b.sha256)));
        }
        if !is_hex64(&b.blake3) {
            return Err(invalid(at("blake3"), HEX64, format!("{:?}", b.blake3)));
        }
        if let Some(sha1) = &b.sha1
            && (sha1.len() != 40 || !sha1.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
        {
            return Err(invalid(
                at("sha1"),
                "40 lower-case hex digits",
                format!("{sha1:?}"),
            ));
        }
        if let Some(fp) = &b.funcproof {
            sha256_hex(&at("funcproof.digest"), &fp.digest)?;
        }
    }
    Ok(())
}

fn check_inputs(
    binaries: &[BinaryFacts],
    subject: &Subject,
    options: &GenerateOptions,
) -> Result<(), SbomError> {
    check_binaries(binaries)?;
    check_subject(subject)?;
    if let Some(ts) = &options.timestamp
        && !stella_core::time::is_rfc3339_utc(ts)
    {
        return Err(invalid(
            "options.timestamp",
            "an RFC 3339 UTC time",
            format!("{ts:?}"),
        ));
    }
    Ok(())
}

pub(crate) fn check_subject(subject: &Subject) -> Result<(), SbomError> {
    if subject.name.is_empty() {
        return Err(invalid("subject.name", "a name", "an empty string"));
    }
    if let Some(d) = &subject.image_digest {
        sha256_hex("subject.image_digest", d)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Components

/// Binary indices ordered by path.
pub(crate) fn sorted_binaries(binaries: &[BinaryFacts]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..binaries.len()).collect();
    order.sort_by(|&a, &b| binaries[a].path.cmp(&binaries[b].path));
    order
}

/// `file:<path>`.
pub(crate) fn binary_ref(b: &BinaryFacts) -> String {
    format!("file:{}", b.path)
}

/// For each binary (input order), the package owning it: the owner of its path, else of the
/// first owned of its other paths (sorted).
pub(crate) fn owners(inventory: &Inventory, binaries: &[BinaryFacts]) -> Vec<Option<usize>> {
    let index = inventory.owners();
    binaries
        .iter()
        .map(|b| {
            let mut others: Vec<&String> = b.other_paths.iter().collect();
            others.sort();
            std::iter::once(&b.path)
                .chain(others)
                .find_map(|p| index.get(p.as_str()).copied())
        })
        .collect()
}

/// Bom-refs of the inventory's packages: the purl, or `<purl>#<source>` for a repeated purl.
pub(crate) fn package_refs(inventory: &Inventory) -> Vec<String> {
    let mut used: BTreeSet<String> = BTreeSet::new();
    inventory
        .packages
        .iter()
        .map(|p| {
            let mut candidate = p.purl.clone();
            if used.contains(&candidate) {
                candidate = format!("{}#{}", p.purl, p.source);
            }
            let base = candidate.clone();
            let mut n = 2;
            while used.contains(&candidate) {
                candidate = format!("{base}#{n}");
                n += 1;
            }
            used.insert(candidate.clone());
            candidate
        })
        .collect()
}

fn property(name: &str, value: impl Into<String>) -> Value {
    json!({ "name": format!("{PROPERTY_PREFIX}{name}"), "value": value.into() })
}

fn sort_properties(props: &mut [Value]) {
    let key = |v: &Value| {
        (
            v.get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            v.get("value")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        )
    };
    props.sort_by_key(key);
}

/// A package's component (without the binaries it owns).
pub(crate) fn package_component(p: &Package, bom_ref: &str) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("type".to_owned(), json!("library"));
    c.insert("bom-ref".to_owned(), json!(bom_ref));
    c.insert("name".to_owned(), json!(p.name));
    c.insert("version".to_owned(), json!(p.version));
    c.insert("purl".to_owned(), json!(p.purl));
    if let Some(s) = &p.supplier {
        c.insert("supplier".to_owned(), supplier(s));
    }
    let mut licenses: Vec<&String> = p.licenses.iter().collect();
    licenses.sort();
    licenses.dedup();
    if !licenses.is_empty() {
        c.insert(
            "licenses".to_owned(),
            Value::Array(licenses.into_iter().map(|l| license(l)).collect()),
        );
    }
    let mut props = vec![
        property("package:source", p.source.clone()),
        property(
            "package:ecosystem",
            match p.ecosystem {
                Ecosystem::Deb => "deb",
                Ecosystem::Apk => "apk",
                Ecosystem::Pypi => "pypi",
            },
        ),
    ];
    sort_properties(&mut props);
    c.insert("properties".to_owned(), Value::Array(props));
    c
}

/// `Name <email>` as an organizational entity; the e-mail goes into a contact only when it is
/// plainly an address (a schema-invalid e-mail would make the whole SBOM invalid).
fn supplier(text: &str) -> Value {
    let parsed = text
        .split_once('<')
        .and_then(|(name, rest)| Some((name.trim(), rest.strip_suffix('>')?.trim())));
    match parsed {
        Some((name, email)) if !name.is_empty() && is_plain_email(email) => {
            json!({ "name": name, "contact": [{ "name": name, "email": email }] })
        }
        _ => json!({ "name": text.trim() }),
    }
}

fn is_plain_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    local_ok && domain_ok
}

/// A licence: an SPDX expression when it parses as one (ids joined by `AND`, `OR`, `WITH`,
/// parentheses), else a named licence with the database's text.
fn license(text: &str) -> Value {
    if is_spdx_expression(text) {
        json!({ "expression": text })
    } else {
        json!({ "license": { "name": text } })
    }
}

/// Whether `text` has the shape of an SPDX licence expression (SPDX 2.3 annex D): license ids
/// (`[A-Za-z0-9.+-]`, `LicenseRef-…`) joined by `AND`/`OR`/`WITH`, with balanced parentheses.
fn is_spdx_expression(text: &str) -> bool {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let mut depth = 0usize;
    let mut expect_id = true;
    let mut tokens = 0;
    for token in spaced.split_whitespace() {
        tokens += 1;
        match token {
            "(" if expect_id => depth += 1,
            ")" if !expect_id && depth > 0 => depth -= 1,
            "AND" | "OR" | "WITH" | "and" | "or" | "with" if !expect_id => expect_id = true,
            "AND" | "OR" | "WITH" | "and" | "or" | "with" => return false,
            id if expect_id
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.+:".contains(&b))
                && id.bytes().any(|b| b.is_ascii_alphabetic()) =>
            {
                expect_id = false;
            }
            _ => return false,
        }
    }
    tokens > 0 && depth == 0 && !expect_id
}

/// The type CycloneDX gives a binary of this kind.
fn binary_type(kind: &str) -> &'static str {
    match kind {
        "executable" => "application",
        "shared-library" => "library",
        _ => "file",
    }
}

/// The file name of a path.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Every path of a binary, sorted.
pub(crate) fn all_paths(b: &BinaryFacts) -> Vec<&str> {
    let mut paths: Vec<&str> = std::iter::once(b.path.as_str())
        .chain(b.other_paths.iter().map(String::as_str))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    paths
}

/// `SHA-256`, `BLAKE3` and (when known) `SHA-1` hash objects, sorted by algorithm name.
pub(crate) fn binary_hashes(b: &BinaryFacts) -> Vec<Value> {
    let mut hashes = vec![json!({ "alg": "BLAKE3", "content": b.blake3 })];
    if let Some(sha1) = &b.sha1 {
        hashes.push(json!({ "alg": "SHA-1", "content": sha1 }));
    }
    hashes.push(json!({ "alg": "SHA-256", "content": b.sha256 }));
    hashes
}

/// The `stella:*` properties of a binary, sorted.
pub(crate) fn binary_properties(b: &BinaryFacts) -> Vec<Value> {
    let mut props = vec![
        property("path", b.path.clone()),
        property("format", b.format.clone()),
        property("arch", b.arch.clone()),
        property("kind", b.kind.clone()),
        property("buildIdSource", b.build_id_source.clone()),
        property("size", b.size.to_string()),
    ];
    if let Some(id) = &b.build_id {
        props.push(property("buildId", id.clone()));
    }
    if let Some(soname) = &b.soname {
        props.push(property("soname", soname.clone()));
    }
    for needed in &b.needed {
        props.push(property("needed", needed.clone()));
    }
    sort_properties(&mut props);
    props.dedup();
    props
}

/// The identity evidence: the file hash, concluded by binary analysis of its build id.
pub(crate) fn identity_evidence(b: &BinaryFacts) -> Value {
    let mut method = Map::new();
    method.insert("technique".to_owned(), json!("binary-analysis"));
    method.insert("confidence".to_owned(), json!(1));
    if let Some(id) = &b.build_id {
        let scheme = if b.build_id_source == "gnu-note" {
            "gnu-build-id"
        } else {
            "file-id"
        };
        method.insert("value".to_owned(), json!(format!("{scheme}:{id}")));
    }
    json!({
        "field": "hash",
        "confidence": 1,
        "concludedValue": b.sha256,
        "methods": [Value::Object(method)],
    })
}

/// One occurrence per path.
pub(crate) fn occurrences(b: &BinaryFacts) -> Vec<Value> {
    all_paths(b)
        .into_iter()
        .map(|p| json!({ "location": p }))
        .collect()
}

/// The FuncProof as an external reference.
pub(crate) fn funcproof_reference(b: &BinaryFacts) -> Option<Value> {
    let fp = b.funcproof.as_ref()?;
    let hex = fp.digest.strip_prefix("sha256:")?;
    Some(json!({
        "type": "evidence",
        "url": format!("{FUNCPROOF_URN}{}", fp.digest),
        "comment": format!("FuncProof ({} functions)", fp.functions),
        "hashes": [{ "alg": "SHA-256", "content": hex }],
    }))
}

/// A binary's component.
pub(crate) fn binary_component(b: &BinaryFacts, bom_ref: &str) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("type".to_owned(), json!(binary_type(&b.kind)));
    c.insert("bom-ref".to_owned(), json!(bom_ref));
    c.insert("name".to_owned(), json!(file_name(&b.path)));
    c.insert("hashes".to_owned(), Value::Array(binary_hashes(b)));
    c.insert("properties".to_owned(), Value::Array(binary_properties(b)));
    c.insert(
        "evidence".to_owned(),
        json!({
            "identity": [identity_evidence(b)],
            "occurrences": occurrences(b),
        }),
    );
    if let Some(r) = funcproof_reference(b) {
        c.insert("externalReferences".to_owned(), json!([r]));
    }
    let inside = nested_components(b, bom_ref);
    if !inside.is_empty() {
        c.insert("components".to_owned(), Value::Array(inside));
    }
    c
}

/// The components found inside a binary that its component nests (not those its `cargo
/// auditable` list gives), sorted by purl.
fn embedded_to_nest(b: &BinaryFacts) -> Vec<&EmbeddedComponent> {
    let auditable_purls: Vec<String> = b
        .auditable
        .iter()
        .filter_map(AuditablePackage::match_purl)
        .collect();
    embedded_components::to_nest(&b.embedded, &auditable_purls)
}

/// The nested components of the binary with bom-ref `bom_ref`.
pub(crate) fn nested_components(b: &BinaryFacts, bom_ref: &str) -> Vec<Value> {
    embedded_to_nest(b)
        .into_iter()
        .map(|e| {
            let r = embedded_components::nested_ref(bom_ref, e);
            Value::Object(embedded_components::component(e, &r))
        })
        .collect()
}

/// The bom-refs of the binary's nested components.
pub(crate) fn nested_refs(b: &BinaryFacts, bom_ref: &str) -> Vec<String> {
    embedded_to_nest(b)
        .into_iter()
        .map(|e| embedded_components::nested_ref(bom_ref, e))
        .collect()
}

fn os_component(inventory: &Inventory) -> Option<(String, Map<String, Value>)> {
    let os = inventory.os.as_ref()?;
    let bom_ref = match &os.version_id {
        Some(v) => format!("os:{}@{v}", os.id),
        None => format!("os:{}", os.id),
    };
    let mut c = Map::new();
    c.insert("type".to_owned(), json!("operating-system"));
    c.insert("bom-ref".to_owned(), json!(bom_ref));
    c.insert("name".to_owned(), json!(os.id));
    if let Some(v) = &os.version_id {
        c.insert("version".to_owned(), json!(v));
    }
    if let Some(p) = &os.pretty_name {
        c.insert("description".to_owned(), json!(p));
    }
    Some((bom_ref, c))
}

/// Stella as a tool component.
pub(crate) fn tool_component(options: &GenerateOptions) -> Value {
    let mut c = Map::new();
    c.insert("type".to_owned(), json!("application"));
    c.insert("name".to_owned(), json!(TOOL_NAME));
    if !options.tool_version.is_empty() {
        c.insert("version".to_owned(), json!(options.tool_version));
    }
    Value::Object(c)
}

/// The subject as `metadata.component`, with its bom-ref.
pub(crate) fn metadata_component(
    subject: &Subject,
) -> Result<(String, Map<String, Value>), SbomError> {
    let mut c = Map::new();
    let bom_ref = match &subject.image_digest {
        Some(digest) => {
            let purl = oci_purl(subject, sha256_hex("subject.image_digest", digest)?)?;
            c.insert("type".to_owned(), json!("container"));
            c.insert("purl".to_owned(), json!(purl));
            purl
        }
        None => {
            c.insert("type".to_owned(), json!("application"));
            match &subject.version {
                Some(v) => format!("subject:{}@{v}", subject.name),
                None => format!("subject:{}", subject.name),
            }
        }
    };
    c.insert("bom-ref".to_owned(), json!(bom_ref));
    c.insert("name".to_owned(), json!(subject.name));
    if let Some(v) = &subject.version {
        c.insert("version".to_owned(), json!(v));
    }
    if let Some(r) = &subject.image_ref {
        c.insert(
            "properties".to_owned(),
            json!([property("image:ref", r.clone())]),
        );
    }
    Ok((bom_ref, c))
}

/// `(repository, tag)` of a registry reference `host[:port]/path[:tag][@digest]`; `None` for
/// anything else (an OCI layout, a path, a reference without a registry host).
pub(crate) fn registry_reference(reference: &str) -> Option<(String, Option<String>)> {
    const NOT_REGISTRY: [&str; 6] = ["oci-layout:", "oci:", "docker-archive:", "dir:", "/", "."];
    if NOT_REGISTRY.iter().any(|p| reference.starts_with(p))
        || reference.contains("://")
        || reference.contains(char::is_whitespace)
    {
        return None;
    }
    let name = reference.split('@').next().unwrap_or(reference);
    let (host, rest) = name.split_once('/')?;
    if rest.is_empty() || !(host.contains('.') || host.contains(':') || host == "localhost") {
        return None;
    }
    let last_slash = name.rfind('/')?;
    match name.rfind(':') {
        Some(colon) if colon > last_slash => Some((
            name[..colon].to_owned(),
            Some(name[colon + 1..].to_owned()).filter(|t| !t.is_empty()),
        )),
        _ => Some((name.to_owned(), None)),
    }
}

/// `name` without `@<digest>` and without a `:<tag>` after its last `/`.
fn without_tag_or_digest(name: &str) -> &str {
    let name = name.split('@').next().unwrap_or(name);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].find(':') {
        Some(colon) => &name[..last_slash + colon],
        None => name,
    }
}

/// Percent-encodes all but RFC 3986 unreserved characters (and `/` when `keep_slash`).
fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `pkg:oci/<name>@sha256%3A<hex>[?repository_url=<repo>&tag=<tag>]` (purl-spec's oci type: the
/// name is the last segment of the repository, lower-cased).
fn oci_purl(subject: &Subject, hex: &str) -> Result<String, SbomError> {
    let registry = subject.image_ref.as_deref().and_then(registry_reference);
    let repository = match &registry {
        Some((repo, _)) => repo.as_str(),
        None => without_tag_or_digest(&subject.name),
    };
    let name = file_name(repository.trim_end_matches('/')).to_lowercase();
    let name = if name.is_empty() {
        "image".to_owned()
    } else {
        name
    };
    let mut purl = format!("pkg:oci/{}@sha256%3A{hex}", percent_encode(&name, false));
    if let Some((repo, tag)) = &registry {
        purl.push_str("?repository_url=");
        purl.push_str(&percent_encode(repo, true));
        if let Some(tag) = tag {
            purl.push_str("&tag=");
            purl.push_str(&percent_encode(tag, false));
        }
    }
    if let Err(source) = purl.parse::<packageurl::PackageUrl<'static>>() {
        return Err(SbomError::SubjectPurl { purl, source });
    }
    Ok(purl)
}

// ---------------------------------------------------------------------------------------------
// Crates from `cargo auditable`

/// One crate, merged over every binary that embeds it.
pub(crate) struct CrateNode {
    pub package: AuditablePackage,
    /// Whether some binary links it (else only build scripts or proc macros use it).
    pub runtime: bool,
    /// Bom-refs of the crates it depends on.
    pub deps: BTreeSet<String>,
}

/// The crates of every binary.
pub(crate) struct CrateGraph {
    /// By bom-ref.
    pub nodes: BTreeMap<String, CrateNode>,
    /// Per binary (input order): bom-refs of its root crates.
    pub roots: Vec<BTreeSet<String>>,
}

impl CrateGraph {
    pub fn new(binaries: &[BinaryFacts]) -> Self {
        let mut nodes: BTreeMap<String, CrateNode> = BTreeMap::new();
        let mut roots = Vec::with_capacity(binaries.len());
        for b in binaries {
            let refs: Vec<String> = b.auditable.iter().map(AuditablePackage::bom_ref).collect();
            for (i, p) in b.auditable.iter().enumerate() {
                let node = nodes.entry(refs[i].clone()).or_insert_with(|| CrateNode {
                    package: AuditablePackage {
                        dependencies: Vec::new(),
                        root: false,
                        ..p.clone()
                    },
                    runtime: false,
                    deps: BTreeSet::new(),
                });
                node.runtime |= p.kind != "build";
                node.deps.extend(
                    p.dependencies
                        .iter()
                        .filter_map(|&d| refs.get(d))
                        .filter(|r| **r != refs[i])
                        .cloned(),
                );
            }
            roots.push(
                auditable::roots(&b.auditable)
                    .into_iter()
                    .filter_map(|r| refs.get(r).cloned())
                    .collect(),
            );
        }
        CrateGraph { nodes, roots }
    }
}

/// A crate's component.
pub(crate) fn crate_component(node: &CrateNode) -> Map<String, Value> {
    let p = &node.package;
    let mut c = Map::new();
    c.insert("type".to_owned(), json!("library"));
    c.insert("bom-ref".to_owned(), json!(p.bom_ref()));
    c.insert("name".to_owned(), json!(p.name));
    c.insert("version".to_owned(), json!(p.version));
    if let Some(purl) = p.purl() {
        c.insert("purl".to_owned(), json!(purl));
    }
    if !node.runtime {
        c.insert("scope".to_owned(), json!("excluded"));
    }
    let kind = if node.runtime { "runtime" } else { "build" };
    let mut props = vec![
        property("cargo:kind", kind),
        property("cargo:source", p.source.clone()),
    ];
    sort_properties(&mut props);
    c.insert("properties".to_owned(), Value::Array(props));
    c
}

// ---------------------------------------------------------------------------------------------
// Dependencies

/// For each package, the packages its resolved `depends` names (same ecosystem; same or
/// architecture-independent architecture preferred).
pub(crate) fn package_targets(inventory: &Inventory) -> Vec<BTreeSet<usize>> {
    let mut by_name: HashMap<(Ecosystem, &str), Vec<usize>> = HashMap::new();
    for (i, p) in inventory.packages.iter().enumerate() {
        by_name
            .entry((p.ecosystem, p.name.as_str()))
            .or_default()
            .push(i);
    }
    let neutral = |a: &Option<String>| {
        a.as_deref()
            .is_none_or(|a| matches!(a, "all" | "noarch" | "any"))
    };
    inventory
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut out = BTreeSet::new();
            for dep in &p.depends {
                let Some(candidates) = by_name.get(&(p.ecosystem, dep.as_str())) else {
                    continue;
                };
                let compatible: Vec<usize> = candidates
                    .iter()
                    .copied()
                    .filter(|&c| {
                        let a = &inventory.packages[c].arch;
                        a == &p.arch || neutral(a) || neutral(&p.arch)
                    })
                    .collect();
                let chosen = if compatible.is_empty() {
                    candidates.clone()
                } else {
                    compatible
                };
                out.extend(chosen.into_iter().filter(|&c| c != i));
            }
            out
        })
        .collect()
}

/// Whether a library at `path` is in a directory the loader searches by default.
fn in_standard_dir(path: &str) -> bool {
    let Some((dir, _)) = path.rsplit_once('/') else {
        return false;
    };
    if STANDARD_LIBRARY_DIRS.contains(&dir) {
        return true;
    }
    ["/usr/lib/", "/lib/"].iter().any(|prefix| {
        dir.strip_prefix(prefix)
            .is_some_and(|t| !t.contains('/') && t.contains("-linux"))
    })
}

/// For each binary (input order), the binaries that satisfy its `DT_NEEDED` entries: by
/// `DT_SONAME`, else by file name; among several, the same architecture first, then a standard
/// library directory, then the smallest path.
pub(crate) fn needed_links(binaries: &[BinaryFacts]) -> Vec<BTreeSet<usize>> {
    let mut by_soname: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_file: HashMap<&str, Vec<(usize, &str)>> = HashMap::new();
    for (i, b) in binaries.iter().enumerate() {
        if let Some(s) = &b.soname {
            by_soname.entry(s.as_str()).or_default().push(i);
        }
        for p in all_paths(b) {
            by_file.entry(file_name(p)).or_default().push((i, p));
        }
    }
    let rank = |from: &BinaryFacts, to: usize, path: &str| {
        (
            binaries[to].arch != from.arch,
            !in_standard_dir(path),
            path.to_owned(),
        )
    };
    binaries
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut out = BTreeSet::new();
            for needed in &b.needed {
                let by_name: Vec<(usize, &str)> = by_soname
                    .get(needed.as_str())
                    .map(|cands| {
                        cands
                            .iter()
                            .flat_map(|&c| all_paths(&binaries[c]).into_iter().map(move |p| (c, p)))
                            .collect()
                    })
                    .filter(|v: &Vec<(usize, &str)>| v.iter().any(|(c, _)| *c != i))
                    .or_else(|| by_file.get(needed.as_str()).cloned())
                    .unwrap_or_default();
                let best = by_name
                    .into_iter()
                    .filter(|(c, _)| *c != i)
                    .min_by_key(|(c, p)| rank(b, *c, p));
                out.extend(best.map(|(c, _)| c));
            }
            out
        })
        .collect()
}

/// The `dependencies` array: one entry per ref, `dependsOn` only when not empty.
fn dependencies_value(graph: BTreeMap<String, BTreeSet<String>>) -> Value {
    Value::Array(
        graph
            .into_iter()
            .map(|(r, deps)| {
                let mut entry = Map::new();
                entry.insert("ref".to_owned(), json!(r));
                if !deps.is_empty() {
                    entry.insert("dependsOn".to_owned(), json!(deps));
                }
                Value::Object(entry)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spdx_expression_shapes() {
        for yes in [
            "MIT",
            "MIT OR Apache-2.0",
            "(MIT AND BSD-2-Clause) OR GPL-2.0-or-later",
            "GPL-2.0-only WITH Classpath-exception-2.0",
            "LicenseRef-foo",
        ] {
            assert!(is_spdx_expression(yes), "{yes}");
        }
        for no in [
            "",
            "Apache Software License",
            "MIT OR",
            "(MIT",
            "MIT)",
            "BSD-3-Clause, MIT",
            "AND",
            "1.0",
        ] {
            assert!(!is_spdx_expression(no), "{no}");
        }
    }

    #[test]
    fn suppliers() {
        assert_eq!(
            supplier("GNU Libc Maintainers <debian-glibc@lists.debian.org>"),
            json!({"name": "GNU Libc Maintainers", "contact": [{"name": "GNU Libc Maintainers", "email": "debian-glibc@lists.debian.org"}]})
        );
        assert_eq!(
            supplier("Someone <not an email>"),
            json!({"name": "Someone <not an email>"})
        );
        assert_eq!(supplier("Just a name"), json!({"name": "Just a name"}));
    }

    #[test]
    fn registry_references() {
        assert_eq!(
            registry_reference("ghcr.io/org/app:1.0@sha256:abc"),
            Some(("ghcr.io/org/app".to_owned(), Some("1.0".to_owned())))
        );
        assert_eq!(
            registry_reference("localhost:5000/app"),
            Some(("localhost:5000/app".to_owned(), None))
        );
        assert_eq!(registry_reference("oci-layout:/tmp/x:tag"), None);
        assert_eq!(registry_reference("debian:12"), None);
        assert_eq!(registry_reference("./dir"), None);
    }

    #[test]
    fn oci_purls() {
        let hex = "a".repeat(64);
        let subject = Subject {
            name: "App".to_owned(),
            image_ref: Some("localhost:5000/team/App:v1".to_owned()),
            ..Subject::default()
        };
        assert_eq!(
            oci_purl(&subject, &hex).unwrap(),
            format!("pkg:oci/app@sha256%3A{hex}?repository_url=localhost%3A5000/team/App&tag=v1")
        );
        assert_eq!(
            without_tag_or_digest("localhost:5000/app:1@sha256:ab"),
            "localhost:5000/app"
        );
        assert_eq!(without_tag_or_digest("app"), "app");
        let subject = Subject {
            name: "localhost:5000/dir/thing:v2".to_owned(),
            ..Subject::default()
        };
        assert_eq!(
            oci_purl(&subject, &hex).unwrap(),
            format!("pkg:oci/thing@sha256%3A{hex}")
        );
    }

    #[test]
    fn standard_dirs() {
        assert!(in_standard_dir("/usr/lib/x86_64-linux-gnu/libc.so.6"));
        assert!(in_standard_dir("/lib64/ld-linux-x86-64.so.2"));
        assert!(in_standard_dir("/usr/lib/libz.so.1"));
        assert!(!in_standard_dir("/opt/app/lib/libc.so.6"));
        assert!(!in_standard_dir("/usr/lib/python3/dist-packages/x.so"));
    }

    #[test]
    fn serial_is_a_version_5_uuid() {
        let s = serial_number(&json!({"a": 1})).unwrap();
        let uuid = s.strip_prefix("urn:uuid:").unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "5");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(s, serial_number(&json!({"a": 1})).unwrap());
        assert_ne!(s, serial_number(&json!({"a": 2})).unwrap());
    }
}
