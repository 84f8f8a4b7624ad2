//! SPDX 2.3 JSON from a CycloneDX document.
//!
//! - Every component (`metadata.component` first, then the component tree, depth first) is a
//!   package. Its `SPDXID` is `SPDXRef-` + its `bom-ref` (else `name-version`) with every
//!   character outside `[A-Za-z0-9.-]` replaced by `-`; a collision gets `-2`, `-3`, … in document
//!   order, so the ids are deterministic and unique.
//! - `name`, `versionInfo`, `supplier` (`Organization: name`), `description`, `copyrightText`;
//!   `hashes` as `checksums` (BLAKE3 as an annotation: see `spdx_algorithm` for why); `purl` as the external reference `PACKAGE-MANAGER purl`, `cpe` as
//!   `SECURITY cpe23Type`/`cpe22Type`; licences as `licenseDeclared` / `licenseConcluded` (by
//!   `acknowledgement`; expressions and ids, several joined with `AND`; `NOASSERTION` otherwise);
//!   a `distribution` reference as `downloadLocation` (else `NOASSERTION`), `website` as
//!   `homepage`; the component type as `primaryPackagePurpose` (`OTHER` when SPDX has no match).
//! - What SPDX 2.3 has no field for — the component's properties, `group`, `evidence`, other
//!   external references and any member not named above — is written as package annotations of
//!   type `OTHER` by `Tool: stella-<version>`, each comment [`CDX_PROPERTY_MARKER`] followed by a
//!   JSON `{"name","value"}` (properties under their own name, other members as `cdx:<member>`
//!   with their RFC 8785 text). Stella's SPDX reader turns them back into properties.
//! - `dependencies` are `DEPENDS_ON` relationships; a nested component is `CONTAINS`ed by its
//!   parent; the document `DESCRIBES` `metadata.component` (or, without one, every top-level
//!   component). A dependency naming a `bom-ref` no component has (a BOM-Link into another BOM)
//!   cannot be a relationship: it is listed in the document `comment`.
//! - **FuncProof.** A component with a FuncProof reference (`urn:stella:funcproof:sha256:…`)
//!   gets the external reference category `OTHER`, type [`FUNCPROOF_REF_TYPE`], locator the URN
//!   (SPDX 2.3 reserves `PERSISTENT-ID` for `swh` and `gitoid`). When the component is a binary
//!   Stella analysed (a `stella:path` property) and carries a `SHA-1` hash, the binary itself is
//!   also written as an SPDX file (`fileName` `./<path>`, every checksum), the package has
//!   `filesAnalyzed: true`, `CONTAINS` that file, and its `packageVerificationCode` is computed
//!   as SPDX 2.3 §7.9 defines it: the SHA-1 of the concatenated, sorted, lower-case SHA-1 hex
//!   values of the package's files (here: the one binary). The verification code is defined over
//!   files and their SHA-1 only, so a binary without a SHA-1 hash gets no file and no code
//!   (`filesAnalyzed: false`), never a made-up one; the FuncProof URN, which names the function
//!   hashes inside that file, is what ties the package to Stella's evidence either way.
//! - `documentNamespace` is [`NAMESPACE_PREFIX`] + `sha256-<hex>` of the CycloneDX document's
//!   canonical id, `created` its `metadata.timestamp` (fraction of a second dropped, `+00:00`
//!   written `Z`; `1970-01-01T00:00:00Z` and a `comment` saying so when it has none SPDX can
//!   hold), `creators` Stella, the document's tools and authors.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};
use sha1::{Digest as _, Sha1};
use stella_core::Digest;

use crate::SbomError;
use crate::generate::{FUNCPROOF_URN, PROPERTY_PREFIX as STELLA_PREFIX};
use crate::model::{Bom, Component};

/// The external reference type of a FuncProof (category `OTHER`).
pub const FUNCPROOF_REF_TYPE: &str = "stella-funcproof";

/// What every `documentNamespace` Stella writes starts with.
pub const NAMESPACE_PREFIX: &str = "https://stella-ops.org/spdxdocs/";

/// How an annotation that carries a CycloneDX property (or member) begins.
pub const CDX_PROPERTY_MARKER: &str = "CycloneDX property: ";

/// Members of a component written as SPDX fields (the rest become annotations).
const MAPPED: [&str; 6] = [
    "supplier",
    "licenses",
    "cpe",
    "copyright",
    "description",
    "author",
];

/// Writes `cyclonedx` (any version Stella reads) as SPDX 2.3 JSON (see the module docs).
///
/// # Errors
/// [`SbomError::Model`] when the document does not fit the CycloneDX model;
/// [`SbomError::Json`] when it cannot be canonicalised.
pub fn to_spdx23(cyclonedx: &Value) -> Result<Value, SbomError> {
    let canonical = stella_core::jcs::to_canonical(cyclonedx)?;
    let id = Digest::sha256(&canonical);
    let bom: Bom = serde_path_to_error::deserialize(cyclonedx).map_err(|e| SbomError::Model {
        pointer: stella_core::jcs::pointer_of(e.path()),
        source: e.into_inner(),
    })?;
    let mut notes: Vec<String> = Vec::new();
    let created = created(&bom, &mut notes);
    let annotator = format!("Tool: stella-{}", env!("CARGO_PKG_VERSION"));
    let mut ids = Ids::default();
    // The document's own id is never a package's.
    ids.taken.insert("SPDXRef-DOCUMENT".to_owned());
    let mut w = Writer {
        ids,
        refs: HashMap::new(),
        packages: Vec::new(),
        files: Vec::new(),
        relationships: BTreeSet::new(),
        created: created.clone(),
        annotator: annotator.clone(),
    };

    let subject = bom.metadata.as_ref().and_then(|m| m.component.as_deref());
    let mut described = Vec::new();
    if let Some(c) = subject {
        described.push(w.component(c, None));
    }
    for c in bom.components.as_deref().unwrap_or_default() {
        let id = w.component(c, None);
        if subject.is_none() {
            described.push(id);
        }
    }
    for d in described {
        w.relationships
            .insert(relationship("SPDXRef-DOCUMENT", "DESCRIBES", &d));
    }
    let mut unresolved = BTreeSet::new();
    for dep in bom.dependencies.as_deref().unwrap_or_default() {
        let Some(from) = w.refs.get(&dep.reference).cloned() else {
            unresolved.insert(dep.reference.clone());
            continue;
        };
        for to in dep.depends_on.as_deref().unwrap_or_default() {
            match w.refs.get(to) {
                Some(to) => {
                    w.relationships
                        .insert(relationship(&from, "DEPENDS_ON", to));
                }
                None => {
                    unresolved.insert(to.clone());
                }
            }
        }
    }
    if !unresolved.is_empty() {
        notes.push(format!(
            "Dependencies on bom-refs no component of this document has (BOM-Links into other BOMs) are not written as relationships: {}.",
            unresolved.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }

    let mut creators = BTreeSet::new();
    creators.insert(annotator);
    if let Some(m) = &bom.metadata {
        match &m.tools {
            Some(crate::model::Tools::Current {
                components: Some(tools),
                ..
            }) => {
                for t in tools {
                    creators.insert(tool_creator(&t.name, t.version.as_deref()));
                }
            }
            Some(crate::model::Tools::Legacy(tools)) => {
                for t in tools {
                    if let Some(name) = &t.name {
                        creators.insert(tool_creator(name, t.version.as_deref()));
                    }
                }
            }
            _ => {}
        }
        for a in m
            .extra
            .get("authors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = a.get("name").and_then(Value::as_str) {
                let email = a.get("email").and_then(Value::as_str);
                creators.insert(person(name, email));
            }
        }
    }

    let name = subject
        .map(|c| match &c.version {
            Some(v) => format!("{}-{v}", c.name),
            None => c.name.clone(),
        })
        .unwrap_or_else(|| "sbom".to_owned());
    let mut doc = Map::new();
    doc.insert("spdxVersion".to_owned(), json!("SPDX-2.3"));
    doc.insert("dataLicense".to_owned(), json!("CC0-1.0"));
    doc.insert("SPDXID".to_owned(), json!("SPDXRef-DOCUMENT"));
    doc.insert("name".to_owned(), json!(name));
    doc.insert(
        "documentNamespace".to_owned(),
        json!(format!("{NAMESPACE_PREFIX}sha256-{}", id.hex())),
    );
    doc.insert(
        "creationInfo".to_owned(),
        json!({ "created": created, "creators": creators.into_iter().collect::<Vec<_>>() }),
    );
    notes.push(format!(
        "Written by Stella from the CycloneDX document {id}."
    ));
    doc.insert("comment".to_owned(), json!(notes.join(" ")));
    doc.insert("packages".to_owned(), Value::Array(w.packages));
    if !w.files.is_empty() {
        doc.insert("files".to_owned(), Value::Array(w.files));
    }
    doc.insert(
        "relationships".to_owned(),
        Value::Array(
            w.relationships
                .into_iter()
                .map(|(a, k, b)| {
                    json!({ "spdxElementId": a, "relationshipType": k, "relatedSpdxElement": b })
                })
                .collect(),
        ),
    );
    Ok(Value::Object(doc))
}

/// The SPDX verification code of files with these SHA-1 values (SPDX 2.3 §7.9): SHA-1 over
/// the lower-case hex values, sorted, concatenated without separators.
pub fn verification_code<'a>(sha1s: impl IntoIterator<Item = &'a str>) -> String {
    let mut list: Vec<String> = sha1s.into_iter().map(str::to_ascii_lowercase).collect();
    list.sort();
    let mut hasher = Sha1::new();
    for s in &list {
        hasher.update(s.as_bytes());
    }
    stella_core::hex::encode(hasher.finalize())
}

/// `SPDXRef-` ids, sanitised and unique.
#[derive(Default)]
struct Ids {
    taken: BTreeSet<String>,
}

impl Ids {
    fn make(&mut self, prefix: &str, base: &str) -> String {
        let clean: String = base
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let clean = clean.trim_matches('-');
        let clean = if clean.is_empty() { "component" } else { clean };
        let first = format!("SPDXRef-{prefix}{clean}");
        let mut id = first.clone();
        let mut n = 2;
        while !self.taken.insert(id.clone()) {
            id = format!("{first}-{n}");
            n += 1;
        }
        id
    }
}

struct Writer {
    ids: Ids,
    refs: HashMap<String, String>,
    packages: Vec<Value>,
    files: Vec<Value>,
    relationships: BTreeSet<(String, &'static str, String)>,
    created: String,
    annotator: String,
}

fn relationship(a: &str, kind: &'static str, b: &str) -> (String, &'static str, String) {
    (a.to_owned(), kind, b.to_owned())
}

impl Writer {
    /// Writes a component and its nested components; returns its SPDXID.
    fn component(&mut self, c: &Component, parent: Option<&str>) -> String {
        let base = c.bom_ref.clone().unwrap_or_else(|| match &c.version {
            Some(v) => format!("{}-{v}", c.name),
            None => c.name.clone(),
        });
        let id = self.ids.make("", &base);
        if let Some(r) = &c.bom_ref {
            self.refs.entry(r.clone()).or_insert_with(|| id.clone());
        }
        if let Some(p) = parent {
            self.relationships.insert(relationship(p, "CONTAINS", &id));
        }
        let package = self.package(c, &id);
        self.packages.push(Value::Object(package));
        for child in c.components.as_deref().unwrap_or_default() {
            self.component(child, Some(&id));
        }
        id
    }

    fn annotation(&self, name: &str, value: &str) -> Value {
        let body = json!({ "name": name, "value": value });
        let body = stella_core::jcs::to_canonical(&body)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        json!({
            "annotationDate": self.created,
            "annotationType": "OTHER",
            "annotator": self.annotator,
            "comment": format!("{CDX_PROPERTY_MARKER}{body}"),
        })
    }

    fn package(&mut self, c: &Component, id: &str) -> Map<String, Value> {
        let mut p = Map::new();
        let mut annotations = Vec::new();
        p.insert("SPDXID".to_owned(), json!(id));
        p.insert("name".to_owned(), json!(c.name));
        if let Some(v) = &c.version {
            p.insert("versionInfo".to_owned(), json!(v));
        }
        p.insert("primaryPackagePurpose".to_owned(), json!(purpose(&c.kind)));
        if let Some(g) = &c.group {
            annotations.push(self.annotation("cdx:group", g));
        }
        if let Some(name) = c
            .extra
            .get("supplier")
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
        {
            p.insert(
                "supplier".to_owned(),
                json!(format!("Organization: {}", actor_name(name))),
            );
        }
        if let Some(d) = c.extra.get("description").and_then(Value::as_str) {
            p.insert("description".to_owned(), json!(d));
        }
        if let Some(t) = c.extra.get("copyright").and_then(Value::as_str) {
            p.insert("copyrightText".to_owned(), json!(t));
        }
        if let Some(a) = c.extra.get("author").and_then(Value::as_str) {
            p.insert(
                "originator".to_owned(),
                json!(format!("Person: {}", actor_name(a))),
            );
        }
        let (declared, concluded, names) = licenses(c.extra.get("licenses"));
        p.insert("licenseDeclared".to_owned(), json!(declared));
        p.insert("licenseConcluded".to_owned(), json!(concluded));
        if !names.is_empty() {
            p.insert(
                "licenseComments".to_owned(),
                json!(format!(
                    "Licences named without an SPDX id: {}",
                    names.join("; ")
                )),
            );
        }

        let mut checksums = Vec::new();
        let mut sha1 = None;
        for h in c.hashes.as_deref().unwrap_or_default() {
            match spdx_algorithm(&h.alg) {
                Some(alg) => {
                    if alg == "SHA1" {
                        sha1 = Some(h.content.to_ascii_lowercase());
                    }
                    checksums.push(json!({ "algorithm": alg, "checksumValue": h.content.to_ascii_lowercase() }));
                }
                None => annotations
                    .push(self.annotation("cdx:hash", &format!("{}: {}", h.alg, h.content))),
            }
        }
        if !checksums.is_empty() {
            p.insert("checksums".to_owned(), Value::Array(checksums.clone()));
        }

        let mut refs = Vec::new();
        if let Some(purl) = &c.purl {
            refs.push(json!({ "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl }));
        }
        if let Some(cpe) = c.extra.get("cpe").and_then(Value::as_str) {
            let kind = if cpe.starts_with("cpe:2.3:") {
                "cpe23Type"
            } else {
                "cpe22Type"
            };
            refs.push(json!({ "referenceCategory": "SECURITY", "referenceType": kind, "referenceLocator": cpe }));
        }
        let mut download = "NOASSERTION".to_owned();
        let mut funcproof = false;
        for r in c.external_references.as_deref().unwrap_or_default() {
            match r.kind.as_str() {
                "evidence" if r.url.starts_with(FUNCPROOF_URN) => {
                    funcproof = true;
                    let mut e = json!({
                        "referenceCategory": "OTHER",
                        "referenceType": FUNCPROOF_REF_TYPE,
                        "referenceLocator": r.url,
                    });
                    if let (Some(comment), Some(obj)) = (&r.comment, e.as_object_mut()) {
                        obj.insert("comment".to_owned(), json!(comment));
                    }
                    refs.push(e);
                }
                "distribution" if download == "NOASSERTION" => download = r.url.clone(),
                "website" if !p.contains_key("homepage") => {
                    p.insert("homepage".to_owned(), json!(r.url));
                }
                _ => {
                    let text = serde_json::to_value(r)
                        .ok()
                        .and_then(|v| stella_core::jcs::to_canonical(&v).ok())
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    annotations.push(self.annotation("cdx:externalReference", &text));
                }
            }
        }
        p.insert("downloadLocation".to_owned(), json!(download));
        if !refs.is_empty() {
            p.insert("externalRefs".to_owned(), Value::Array(refs));
        }

        // The binary itself as the package's one file, when SPDX can hold it (SHA-1 known).
        let path = c
            .properties
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find_map(|p| {
                (p.name == format!("{STELLA_PREFIX}path"))
                    .then_some(p.value.as_deref())
                    .flatten()
            });
        match (path, &sha1) {
            (Some(path), Some(sha1)) if funcproof || c.kind != "file" => {
                let file_id = self.ids.make("File-", path);
                self.files.push(json!({
                    "SPDXID": file_id,
                    "fileName": format!("./{}", path.trim_start_matches('/')),
                    "checksums": checksums,
                }));
                self.relationships
                    .insert(relationship(id, "CONTAINS", &file_id));
                p.insert("filesAnalyzed".to_owned(), json!(true));
                p.insert(
                    "packageVerificationCode".to_owned(),
                    json!({ "packageVerificationCodeValue": verification_code([sha1.as_str()]) }),
                );
            }
            _ => {
                p.insert("filesAnalyzed".to_owned(), json!(false));
            }
        }

        for prop in c.properties.as_deref().unwrap_or_default() {
            annotations
                .push(self.annotation(&prop.name, prop.value.as_deref().unwrap_or_default()));
        }
        for (key, value) in &c.extra {
            if MAPPED.contains(&key.as_str()) {
                continue;
            }
            let text = stella_core::jcs::to_canonical(value)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            annotations.push(self.annotation(&format!("cdx:{key}"), &text));
        }
        if !annotations.is_empty() {
            p.insert("annotations".to_owned(), Value::Array(annotations));
        }
        p
    }
}

/// An actor name SPDX can parse (no parentheses, which delimit the e-mail address).
fn actor_name(name: &str) -> String {
    name.replace(['(', ')'], "")
}

fn person(name: &str, email: Option<&str>) -> String {
    format!("Person: {} ({})", actor_name(name), email.unwrap_or(""))
}

fn tool_creator(name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("Tool: {}-{v}", actor_name(name)),
        None => format!("Tool: {}", actor_name(name)),
    }
}

/// `primaryPackagePurpose` for a CycloneDX component type.
fn purpose(kind: &str) -> &'static str {
    match kind {
        "application" => "APPLICATION",
        "framework" => "FRAMEWORK",
        "library" => "LIBRARY",
        "container" => "CONTAINER",
        "operating-system" => "OPERATING-SYSTEM",
        "device" => "DEVICE",
        "firmware" => "FIRMWARE",
        "file" => "FILE",
        _ => "OTHER",
    }
}

/// SPDX 2.3's name for a CycloneDX hash algorithm, for those written as checksums.
///
/// BLAKE3 is not: PyPI `spdx-tools` (0.8.5), the validator SPDX users run, wants a BLAKE3 value
/// of at least 256 hex digits, which the standard 256-bit BLAKE3 output (64 digits) never has, so
/// a BLAKE3 checksum makes the document invalid to it. BLAKE3 hashes go into an annotation
/// (`cdx:hash`) instead, which Stella's reader turns back into a hash.
fn spdx_algorithm(cdx: &str) -> Option<&'static str> {
    Some(match cdx {
        "MD5" => "MD5",
        "SHA-1" => "SHA1",
        "SHA-256" => "SHA256",
        "SHA-384" => "SHA384",
        "SHA-512" => "SHA512",
        "SHA3-256" => "SHA3-256",
        "SHA3-384" => "SHA3-384",
        "SHA3-512" => "SHA3-512",
        "BLAKE2b-256" => "BLAKE2b-256",
        "BLAKE2b-384" => "BLAKE2b-384",
        "BLAKE2b-512" => "BLAKE2b-512",
        _ => return None,
    })
}

/// Declared and concluded expressions, and licence names that have no SPDX id.
fn licenses(licenses: Option<&Value>) -> (String, String, Vec<String>) {
    let mut declared = Vec::new();
    let mut concluded = Vec::new();
    let mut names = Vec::new();
    for l in licenses.and_then(Value::as_array).into_iter().flatten() {
        let concluded_one = l
            .get("acknowledgement")
            .or_else(|| l.get("license").and_then(|x| x.get("acknowledgement")))
            .and_then(Value::as_str)
            == Some("concluded");
        let expression = l
            .get("expression")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                l.get("license")
                    .and_then(|x| x.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        match expression {
            Some(e) if concluded_one => concluded.push(e),
            Some(e) => declared.push(e),
            None => {
                if let Some(n) = l
                    .get("license")
                    .and_then(|x| x.get("name"))
                    .and_then(Value::as_str)
                {
                    names.push(n.to_owned());
                }
            }
        }
    }
    let join = |mut list: Vec<String>| {
        list.sort();
        list.dedup();
        match list.len() {
            0 => "NOASSERTION".to_owned(),
            1 => list.remove(0),
            _ => list
                .iter()
                .map(|e| format!("({e})"))
                .collect::<Vec<_>>()
                .join(" AND "),
        }
    };
    (join(declared), join(concluded), names)
}

/// `creationInfo.created` from `metadata.timestamp`, in the one form SPDX 2.3 allows.
fn created(bom: &Bom, notes: &mut Vec<String>) -> String {
    const EPOCH: &str = "1970-01-01T00:00:00Z";
    let Some(ts) = bom.metadata.as_ref().and_then(|m| m.timestamp.as_deref()) else {
        notes.push(format!(
            "The CycloneDX document has no metadata.timestamp; created is {EPOCH}."
        ));
        return EPOCH.to_owned();
    };
    let shaped = |s: &str| {
        let b = s.as_bytes();
        b.len() == 19
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            })
    };
    let (head, zone) = if ts.len() >= 19 {
        ts.split_at(19)
    } else {
        (ts, "")
    };
    let zone = match zone.find(|c: char| c != '.' && !c.is_ascii_digit()) {
        Some(i) if zone.starts_with('.') => &zone[i..],
        _ => zone,
    };
    if shaped(head) && matches!(zone, "Z" | "+00:00" | "-00:00") {
        return format!("{head}Z");
    }
    notes.push(format!(
        "metadata.timestamp {ts:?} is not a UTC time SPDX can hold; created is {EPOCH}."
    ));
    EPOCH.to_owned()
}
