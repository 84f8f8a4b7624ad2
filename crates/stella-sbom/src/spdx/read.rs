//! The form both SPDX readers produce (elements, relationships, document facts) and its
//! assembly into a CycloneDX 1.7 document. The mapping is described in the module docs of
//! [`crate::spdx`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::PROPERTY_PREFIX;
use crate::SbomError;
use crate::generate::serial_number;

/// A document read by either reader.
#[derive(Debug, Default)]
pub(super) struct Doc {
    /// The document's own SPDX id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// `creationInfo.created`.
    pub created: Option<String>,
    /// Tools that created it: name, version.
    pub tools: Vec<(String, Option<String>)>,
    /// People and organisations that created it (CycloneDX organizational contacts).
    pub authors: Vec<Value>,
    /// Facts without a CycloneDX field, as (name without prefix, value).
    pub properties: Vec<(String, String)>,
    /// What it describes: id and where it was named.
    pub describes: Vec<(String, String)>,
    /// Packages and files.
    pub elements: Vec<Element>,
    /// Relationships.
    pub relationships: Vec<Relationship>,
    /// Ids that may be referred to without being an element here (other documents' elements).
    pub external: BTreeSet<String>,
}

/// Whether an element is a package (may contain files) or a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ElementKind {
    Package,
    File,
}

/// A package or file, already in CycloneDX component form (less `bom-ref`, `properties` and
/// nested `components`, which assembly adds).
#[derive(Debug)]
pub(super) struct Element {
    pub id: String,
    pub kind: ElementKind,
    /// JSON pointer to the element (for duplicate ids).
    pub pointer: String,
    pub component: Map<String, Value>,
    pub properties: Vec<(String, String)>,
}

/// A relationship between two ids.
#[derive(Debug)]
pub(super) struct Relationship {
    pub from: String,
    /// SPDX 2.x spelling (`DEPENDS_ON`); 3.0 types are converted (`dependsOn` → `DEPENDS_ON`).
    pub kind: String,
    pub to: String,
    /// Pointers to the `from` and `to` values, for errors.
    pub from_pointer: String,
    pub to_pointer: String,
    pub comment: Option<String>,
    /// Stated by a member of the element (2.x `hasFiles`), not by a relationship: no property.
    pub implicit: bool,
}

/// Ids that stand for "no element": always accepted as relationship ends.
const NO_ELEMENT: [&str; 2] = ["NONE", "NOASSERTION"];

/// The dependency kinds SPDX 2.x writes as `X_DEPENDENCY_OF` (reversed into `dependsOn`).
const TYPED_DEPENDENCY_OF: [&str; 6] = [
    "DEV_DEPENDENCY_OF",
    "BUILD_DEPENDENCY_OF",
    "RUNTIME_DEPENDENCY_OF",
    "OPTIONAL_DEPENDENCY_OF",
    "PROVIDED_DEPENDENCY_OF",
    "TEST_DEPENDENCY_OF",
];

/// A property object.
pub(super) fn property(name: &str, value: &str) -> Value {
    json!({ "name": format!("{PROPERTY_PREFIX}{name}"), "value": value })
}

/// A member's value as a property value: strings as they are, anything else as JCS text.
pub(super) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => stella_core::jcs::to_canonical(other)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|_| other.to_string()),
    }
}

/// Marks a property name that is not an SPDX member but a CycloneDX property Stella wrote into
/// SPDX and read back: it keeps its own name, without [`PROPERTY_PREFIX`].
pub(super) const UNPREFIXED: &str = "\u{1}";

/// Sorted, deduplicated property objects.
fn properties(props: &[(String, String)]) -> Vec<Value> {
    let mut list: Vec<Value> = props
        .iter()
        .map(|(n, v)| match n.strip_prefix(UNPREFIXED) {
            Some(own) => json!({ "name": own, "value": v }),
            None => property(n, v),
        })
        .collect();
    list.sort_by_key(|p| (text(&p["name"]), text(&p["value"])));
    list.dedup();
    list
}

/// Assembles the CycloneDX document.
pub(super) fn assemble(mut doc: Doc) -> Result<Value, SbomError> {
    let mut index: HashMap<String, usize> = HashMap::with_capacity(doc.elements.len());
    for (i, e) in doc.elements.iter().enumerate() {
        if e.id == doc.id || index.insert(e.id.clone(), i).is_some() {
            return Err(SbomError::SpdxDuplicateId {
                pointer: e.pointer.clone(),
                id: e.id.clone(),
            });
        }
    }
    let known = |id: &str| {
        id == doc.id
            || index.contains_key(id)
            || NO_ELEMENT.contains(&id)
            || doc.external.contains(id)
            || id.starts_with("DocumentRef-")
    };
    for r in &doc.relationships {
        for (id, pointer) in [(&r.from, &r.from_pointer), (&r.to, &r.to_pointer)] {
            if !known(id) {
                return Err(SbomError::SpdxUnknownId {
                    pointer: pointer.clone(),
                    id: id.clone(),
                });
            }
        }
    }
    for (id, pointer) in &doc.describes {
        if !known(id) {
            return Err(SbomError::SpdxUnknownId {
                pointer: pointer.clone(),
                id: id.clone(),
            });
        }
    }

    // What the document describes.
    let mut described: BTreeSet<String> = doc.describes.iter().map(|(id, _)| id.clone()).collect();
    for r in &doc.relationships {
        match r.kind.as_str() {
            "DESCRIBES" if r.from == doc.id => {
                described.insert(r.to.clone());
            }
            "DESCRIBED_BY" if r.to == doc.id => {
                described.insert(r.from.clone());
            }
            _ => {}
        }
    }
    described.retain(|id| index.contains_key(id));

    // Files nested in the one package that contains them.
    let is =
        |id: &str, kind: ElementKind| index.get(id).is_some_and(|&i| doc.elements[i].kind == kind);
    let mut containers: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for r in &doc.relationships {
        let (package, file) = match r.kind.as_str() {
            "CONTAINS" => (r.from.as_str(), r.to.as_str()),
            "CONTAINED_BY" => (r.to.as_str(), r.from.as_str()),
            _ => continue,
        };
        if is(package, ElementKind::Package) && is(file, ElementKind::File) {
            containers.entry(file).or_default().insert(package);
        }
    }
    let parent: HashMap<String, String> = containers
        .into_iter()
        .filter(|(_, c)| c.len() == 1)
        .filter_map(|(file, c)| Some((file.to_owned(), (*c.iter().next()?).to_owned())))
        .collect();

    // Edges and relationship properties.
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut extra: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for r in &doc.relationships {
        let element = |id: &str| index.contains_key(id) || id == doc.id;
        let both = element(&r.from) && element(&r.to);
        let mut listed = true;
        match r.kind.as_str() {
            "DESCRIBES" if r.from == doc.id => listed = false,
            "DESCRIBED_BY" if r.to == doc.id => listed = false,
            "DEPENDS_ON" if both => {
                edges
                    .entry(r.from.clone())
                    .or_default()
                    .insert(r.to.clone());
                listed = false;
            }
            "DEPENDENCY_OF" if both => {
                edges
                    .entry(r.to.clone())
                    .or_default()
                    .insert(r.from.clone());
                listed = false;
            }
            k if TYPED_DEPENDENCY_OF.contains(&k) && both => {
                edges
                    .entry(r.to.clone())
                    .or_default()
                    .insert(r.from.clone());
            }
            "CONTAINS" if parent.get(&r.to) == Some(&r.from) => listed = false,
            "CONTAINED_BY" if parent.get(&r.from) == Some(&r.to) => listed = false,
            "CONTAINS" if both => {
                edges
                    .entry(r.from.clone())
                    .or_default()
                    .insert(r.to.clone());
            }
            _ => {}
        }
        let on = extra.entry(r.from.clone()).or_default();
        if listed && !r.implicit {
            on.push(("relationship".to_owned(), format!("{} {}", r.kind, r.to)));
        }
        if let Some(comment) = &r.comment {
            on.push((
                "relationshipComment".to_owned(),
                format!("{} {}: {comment}", r.kind, r.to),
            ));
        }
    }

    // Components.
    let mut children: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    let mut top: Vec<(String, Value)> = Vec::new();
    let mut metadata_component: Option<(String, Map<String, Value>)> = None;
    let single = (described.len() == 1)
        .then(|| described.iter().next().cloned())
        .flatten()
        .filter(|id| is(id, ElementKind::Package));
    let mut all_refs: Vec<String> = Vec::with_capacity(doc.elements.len() + 1);
    let mut elements = std::mem::take(&mut doc.elements);
    elements.sort_by(|a, b| a.id.cmp(&b.id));
    for e in elements {
        let mut c = e.component;
        c.insert("bom-ref".to_owned(), json!(e.id));
        let mut props = e.properties;
        props.extend(extra.remove(&e.id).unwrap_or_default());
        if !props.is_empty() {
            c.insert("properties".to_owned(), Value::Array(properties(&props)));
        }
        all_refs.push(e.id.clone());
        if single.as_deref() == Some(e.id.as_str()) {
            metadata_component = Some((e.id, c));
        } else if let Some(p) = parent.get(&e.id) {
            children
                .entry(p.clone())
                .or_default()
                .push((e.id, Value::Object(c)));
        } else {
            top.push((e.id, Value::Object(c)));
        }
    }
    let nest = |id: &str, c: &mut Value, children: &mut BTreeMap<String, Vec<(String, Value)>>| {
        if let (Some(list), Some(obj)) = (children.remove(id), c.as_object_mut()) {
            obj.insert(
                "components".to_owned(),
                Value::Array(list.into_iter().map(|(_, v)| v).collect()),
            );
        }
    };
    for (id, c) in &mut top {
        nest(id, c, &mut children);
    }
    let (subject_ref, mut subject) = match metadata_component {
        Some((id, c)) => (id, Value::Object(c)),
        None => {
            let mut c = Map::new();
            c.insert("type".to_owned(), json!("application"));
            c.insert("bom-ref".to_owned(), json!(doc.id));
            c.insert(
                "name".to_owned(),
                json!(
                    doc.name
                        .clone()
                        .unwrap_or_else(|| "SPDX document".to_owned())
                ),
            );
            let props = extra.remove(&doc.id).unwrap_or_default();
            if !props.is_empty() {
                c.insert("properties".to_owned(), Value::Array(properties(&props)));
            }
            edges
                .entry(doc.id.clone())
                .or_default()
                .extend(described.iter().cloned());
            all_refs.push(doc.id.clone());
            (doc.id.clone(), Value::Object(c))
        }
    };
    nest(&subject_ref, &mut subject, &mut children);
    // Relationships from the document itself when a package is the subject.
    doc.properties
        .extend(extra.remove(&doc.id).unwrap_or_default());

    // Dependencies: one entry per component.
    all_refs.sort();
    let dependencies: Vec<Value> = all_refs
        .iter()
        .map(|r| {
            let targets: Vec<&String> = edges
                .get(r)
                .map(|t| {
                    t.iter()
                        .filter(|t| index.contains_key(*t) || **t == doc.id)
                        .collect()
                })
                .unwrap_or_default();
            if targets.is_empty() {
                json!({ "ref": r })
            } else {
                json!({ "ref": r, "dependsOn": targets })
            }
        })
        .collect();

    let mut metadata = Map::new();
    if let Some(created) = &doc.created {
        metadata.insert("timestamp".to_owned(), json!(created));
    }
    if !doc.tools.is_empty() {
        doc.tools.sort();
        doc.tools.dedup();
        let tools: Vec<Value> = doc
            .tools
            .iter()
            .map(|(name, version)| {
                let mut t = Map::new();
                t.insert("type".to_owned(), json!("application"));
                t.insert("name".to_owned(), json!(name));
                if let Some(v) = version {
                    t.insert("version".to_owned(), json!(v));
                }
                Value::Object(t)
            })
            .collect();
        metadata.insert("tools".to_owned(), json!({ "components": tools }));
    }
    if !doc.authors.is_empty() {
        metadata.insert("authors".to_owned(), Value::Array(doc.authors.clone()));
    }
    metadata.insert("component".to_owned(), subject);
    if !doc.properties.is_empty() {
        metadata.insert(
            "properties".to_owned(),
            Value::Array(properties(&doc.properties)),
        );
    }

    top.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Map::new();
    out.insert("bomFormat".to_owned(), json!("CycloneDX"));
    out.insert("specVersion".to_owned(), json!("1.7"));
    out.insert("version".to_owned(), json!(1));
    out.insert("metadata".to_owned(), Value::Object(metadata));
    out.insert(
        "components".to_owned(),
        Value::Array(top.into_iter().map(|(_, c)| c).collect()),
    );
    out.insert("dependencies".to_owned(), Value::Array(dependencies));
    let serial = serial_number(&Value::Object(out.clone()))?;
    out.insert("serialNumber".to_owned(), json!(serial));
    Ok(Value::Object(out))
}

/// CycloneDX's name for an SPDX checksum algorithm (2.x `SHA256`, 3.0 `sha256`), when it has
/// one.
pub(super) fn hash_algorithm(spdx: &str) -> Option<&'static str> {
    let key: String = spdx
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_uppercase();
    Some(match key.as_str() {
        "MD5" => "MD5",
        "SHA1" => "SHA-1",
        "SHA256" => "SHA-256",
        "SHA384" => "SHA-384",
        "SHA512" => "SHA-512",
        "SHA3256" => "SHA3-256",
        "SHA3384" => "SHA3-384",
        "SHA3512" => "SHA3-512",
        "BLAKE2B256" => "BLAKE2b-256",
        "BLAKE2B384" => "BLAKE2b-384",
        "BLAKE2B512" => "BLAKE2b-512",
        "BLAKE3" => "BLAKE3",
        _ => return None,
    })
}

/// The hex length CycloneDX's schema wants for an algorithm.
fn hex_len(cdx: &str) -> &'static [usize] {
    match cdx {
        "MD5" => &[32],
        "SHA-1" => &[40],
        "SHA-256" | "SHA3-256" | "BLAKE2b-256" => &[64],
        "SHA-384" | "SHA3-384" | "BLAKE2b-384" => &[96],
        "SHA-512" | "SHA3-512" | "BLAKE2b-512" => &[128],
        _ => &[64, 96, 128],
    }
}

/// A checksum as a CycloneDX hash, or `None` when CycloneDX cannot hold it (the caller keeps it
/// as a property).
pub(super) fn hash(algorithm: &str, value: &str) -> Option<Value> {
    let alg = hash_algorithm(algorithm)?;
    let hex = value.to_ascii_lowercase();
    let ok = hex_len(alg).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| json!({ "alg": alg, "content": hex }))
}

/// An SPDX 2.x actor (`Person: Jane (jane@example.com)`, `Organization: ACME`, `Tool: x-1.0`).
pub(super) struct Actor {
    pub kind: String,
    pub name: String,
    pub email: Option<String>,
}

/// Parses an SPDX 2.x actor string.
pub(super) fn actor(text: &str) -> Option<Actor> {
    let (kind, rest) = text.split_once(':')?;
    let rest = rest.trim();
    let (name, email) = match rest.strip_suffix(')').and_then(|r| r.rsplit_once('(')) {
        Some((name, email)) => {
            let email = email.trim();
            (name.trim(), (!email.is_empty()).then(|| email.to_owned()))
        }
        None => (rest, None),
    };
    if name.is_empty() {
        return None;
    }
    Some(Actor {
        kind: kind.trim().to_owned(),
        name: name.to_owned(),
        email,
    })
}

/// A CycloneDX organizational contact.
pub(super) fn contact(name: &str, email: Option<&str>) -> Value {
    let mut c = Map::new();
    c.insert("name".to_owned(), json!(name));
    if let Some(e) = email {
        c.insert("email".to_owned(), json!(e));
    }
    Value::Object(c)
}

/// A tool name split into name and version at the last `-` followed by a digit
/// (`spdx-tools-0.8.5` → `spdx-tools`, `0.8.5`).
pub(super) fn tool(text: &str) -> (String, Option<String>) {
    let split = text
        .char_indices()
        .filter(|(i, c)| *c == '-' && text[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map(|(i, _)| i)
        .next_back();
    match split {
        Some(i) if i > 0 => (text[..i].to_owned(), Some(text[i + 1..].to_owned())),
        _ => (text.to_owned(), None),
    }
}

/// The CycloneDX component type for an SPDX primary purpose (2.x `APPLICATION`, 3.0
/// `application`), when CycloneDX has one.
pub(super) fn component_type(purpose: &str) -> Option<&'static str> {
    Some(
        match purpose.to_ascii_uppercase().replace('_', "-").as_str() {
            "APPLICATION" => "application",
            "FRAMEWORK" => "framework",
            "LIBRARY" => "library",
            "CONTAINER" => "container",
            "OPERATING-SYSTEM" | "OPERATINGSYSTEM" => "operating-system",
            "DEVICE" => "device",
            "FIRMWARE" => "firmware",
            "FILE" => "file",
            _ => return None,
        },
    )
}

/// A licence expression as a CycloneDX licence choice entry, `None` for NONE/NOASSERTION.
pub(super) fn license(expression: &str, acknowledgement: &str) -> Option<Value> {
    let e = expression.trim();
    (!e.is_empty() && !NO_ELEMENT.contains(&e))
        .then(|| json!({ "expression": e, "acknowledgement": acknowledgement }))
}

/// Whether a location is usable as a CycloneDX external reference URL (not NONE/NOASSERTION,
/// no white space).
pub(super) fn usable_url(url: &str) -> bool {
    !url.is_empty() && !NO_ELEMENT.contains(&url) && !url.chars().any(char::is_whitespace)
}
