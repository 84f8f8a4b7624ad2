//! SPDX 3.0 JSON-LD (the `@graph` serialisation) into the intermediate form of [`super::read`].
//!
//! Elements are found by `spdxId` (or `@id`), their kind by `type` (or `@type`). The
//! `SpdxDocument` gives the document facts and, through `rootElement` (and an `software_Sbom`'s
//! own `rootElement`), what it describes; `CreationInfo` blank nodes give the time and creators;
//! agents give supplier and originator names; `hasDeclaredLicense` / `hasConcludedLicense`
//! relationships give licences (expressions, or listed licences by their
//! `https://spdx.org/licenses/` IRI). Every graph element none of these uses is kept whole as a
//! `spdx:element` property of the metadata.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::SpdxLimits;
use super::read::{
    Doc, Element, ElementKind, Relationship, component_type, contact, hash, license, text, tool,
    usable_url,
};
use super::read2::{array, at, object, optional, shape};
use super::write::FUNCPROOF_REF_TYPE;
use crate::SbomError;
use crate::generate::FUNCPROOF_URN;

/// Where listed licences live; a relationship may point at one without the graph holding it.
const LISTED_LICENSES: &str = "https://spdx.org/licenses/";

fn kind_of(obj: &Map<String, Value>) -> Option<&str> {
    obj.get("type")
        .or_else(|| obj.get("@type"))
        .and_then(Value::as_str)
}

fn id_of(obj: &Map<String, Value>) -> Option<&str> {
    obj.get("spdxId")
        .or_else(|| obj.get("@id"))
        .and_then(Value::as_str)
}

/// `dependsOn` → `DEPENDS_ON`.
fn upper_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Ids as a list: a string or an array of strings.
fn ids(value: Option<&Value>, pointer: &str) -> Result<Vec<(String, String)>, SbomError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![(s.clone(), pointer.to_owned())]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let p = format!("{pointer}/{i}");
                v.as_str()
                    .map(|s| (s.to_owned(), p.clone()))
                    .ok_or_else(|| shape(p, "an element id", Some(v)))
            })
            .collect(),
        Some(other) => Err(shape(
            pointer.to_owned(),
            "an element id or a list of them",
            Some(other),
        )),
    }
}

struct Graph<'a> {
    items: &'a [Value],
    index: HashMap<&'a str, usize>,
    used: Vec<bool>,
}

impl<'a> Graph<'a> {
    fn get(&self, id: &str) -> Option<(usize, &'a Map<String, Value>)> {
        let &i = self.index.get(id)?;
        Some((i, self.items[i].as_object()?))
    }

    /// The name of an agent (or the id itself when the graph does not hold it).
    fn agent(&mut self, id: &str) -> (Option<String>, String) {
        match self.get(id) {
            Some((i, obj)) => {
                self.used[i] = true;
                let name = obj
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(id)
                    .to_owned();
                (kind_of(obj).map(str::to_owned), name)
            }
            None => (None, id.to_owned()),
        }
    }
}

/// Reads the document.
pub(super) fn read(json: &Value, limits: SpdxLimits) -> Result<Doc, SbomError> {
    let root = object(json, "")?;
    let items: &[Value] = match root.get("@graph") {
        Some(Value::Array(items)) => items,
        other => {
            return Err(shape(
                "/@graph".to_owned(),
                "an array of SPDX 3.0 elements (Stella reads the @graph serialisation)",
                other,
            ));
        }
    };
    if items.len() > limits.max_elements {
        return Err(SbomError::SpdxTooLarge {
            what: "elements (@graph entries)",
            count: items.len(),
            limit: limits.max_elements,
        });
    }
    let mut graph = Graph {
        items,
        index: HashMap::with_capacity(items.len()),
        used: vec![false; items.len()],
    };
    let mut relationships = 0usize;
    for (i, item) in items.iter().enumerate() {
        let pointer = format!("/@graph/{i}");
        let obj = object(item, &pointer)?;
        let Some(kind) = kind_of(obj) else {
            return Err(shape(
                at(&pointer, "type"),
                "the element's type",
                obj.get("type"),
            ));
        };
        if kind.ends_with("Relationship") {
            relationships += 1;
        }
        if let Some(id) = id_of(obj)
            && graph.index.insert(id, i).is_some()
        {
            return Err(SbomError::SpdxDuplicateId {
                pointer,
                id: id.to_owned(),
            });
        }
    }
    if relationships > limits.max_relationships {
        return Err(SbomError::SpdxTooLarge {
            what: "relationships",
            count: relationships,
            limit: limits.max_relationships,
        });
    }

    let mut doc = Doc::default();
    for (key, value) in root {
        if key != "@graph" {
            doc.properties.push((key.clone(), text(value)));
        }
    }
    document(&mut graph, &mut doc)?;

    let mut licenses: HashMap<String, Vec<Value>> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let pointer = format!("/@graph/{i}");
        let Some(obj) = item.as_object() else {
            continue;
        };
        let kind = kind_of(obj).unwrap_or_default();
        if kind.ends_with("Relationship") {
            graph.used[i] = true;
            relationship(obj, &pointer, &mut graph, &mut doc, &mut licenses)?;
        }
    }
    for (i, item) in items.iter().enumerate() {
        let pointer = format!("/@graph/{i}");
        let Some(obj) = item.as_object() else {
            continue;
        };
        let kind = kind_of(obj).unwrap_or_default();
        let element_kind = if kind.ends_with("Package") {
            ElementKind::Package
        } else if kind == "software_File" || kind == "software_Snippet" {
            ElementKind::File
        } else {
            continue;
        };
        graph.used[i] = true;
        let mut element = element(obj, kind, element_kind, &pointer, &mut graph)?;
        if let Some(list) = licenses.remove(&element.id) {
            element
                .component
                .insert("licenses".to_owned(), Value::Array(list));
        }
        doc.elements.push(element);
    }
    for (i, item) in items.iter().enumerate() {
        if !graph.used[i] {
            doc.properties.push(("element".to_owned(), text(item)));
        }
    }
    Ok(doc)
}

/// The `SpdxDocument` and its creation information.
fn document(graph: &mut Graph<'_>, doc: &mut Doc) -> Result<(), SbomError> {
    let found = graph.items.iter().enumerate().find(|(_, v)| {
        v.as_object()
            .and_then(kind_of)
            .is_some_and(|k| k == "SpdxDocument")
    });
    let Some((d, value)) = found else {
        return Err(shape(
            "/@graph".to_owned(),
            "an SpdxDocument element among the elements",
            None,
        ));
    };
    graph.used[d] = true;
    let pointer = format!("/@graph/{d}");
    let obj = object(value, &pointer)?;
    doc.id = id_of(obj).unwrap_or("SpdxDocument").to_owned();
    doc.name = optional(obj, "name", &pointer)?.map(str::to_owned);
    for (key, v) in obj {
        match key.as_str() {
            "type" | "@type" | "spdxId" | "@id" | "name" => {}
            "creationInfo" => creation_info(v, &at(&pointer, key), graph, doc)?,
            "rootElement" => {
                for (id, p) in ids(Some(v), &at(&pointer, key))? {
                    // An Sbom root stands for what it is about.
                    match graph.get(&id) {
                        Some((s, sbom))
                            if kind_of(sbom).is_some_and(|k| k.ends_with("Sbom") || k == "Bom") =>
                        {
                            let sp = format!("/@graph/{s}/rootElement");
                            doc.describes.extend(ids(sbom.get("rootElement"), &sp)?);
                        }
                        _ => doc.describes.push((id, p)),
                    }
                }
            }
            "import" => {
                for (i, import) in array(obj, key, &pointer)?.iter().enumerate() {
                    let p = format!("{pointer}/import/{i}");
                    let import = object(import, &p)?;
                    if let Some(id) = optional(import, "externalSpdxId", &p)? {
                        doc.external.insert(id.to_owned());
                    }
                    doc.properties
                        .push(("import".to_owned(), text(&Value::Object(import.clone()))));
                }
            }
            _ => doc.properties.push((key.clone(), text(v))),
        }
    }
    Ok(())
}

/// `created`, `createdBy` (people, organisations) and `createdUsing` (tools).
fn creation_info(
    value: &Value,
    pointer: &str,
    graph: &mut Graph<'_>,
    doc: &mut Doc,
) -> Result<(), SbomError> {
    let (info, pointer) = match value {
        Value::String(id) => match graph.get(id) {
            Some((i, obj)) => {
                graph.used[i] = true;
                (obj, format!("/@graph/{i}"))
            }
            None => {
                return Err(SbomError::SpdxUnknownId {
                    pointer: pointer.to_owned(),
                    id: id.clone(),
                });
            }
        },
        other => (object(other, pointer)?, pointer.to_owned()),
    };
    for (key, v) in info {
        match key.as_str() {
            "type" | "@type" | "@id" => {}
            "created" => doc.created = Some(text(v)),
            "createdBy" | "createdUsing" => {
                for (id, _) in ids(Some(v), &at(&pointer, key))? {
                    let (kind, name) = graph.agent(&id);
                    if key == "createdUsing" || kind.as_deref() == Some("Tool") {
                        doc.tools.push(tool(&name));
                    } else {
                        doc.authors.push(contact(&name, None));
                    }
                }
            }
            _ => doc.properties.push((key.clone(), text(v))),
        }
    }
    Ok(())
}

/// A relationship: licences onto their element, the rest into the document's list.
fn relationship(
    obj: &Map<String, Value>,
    pointer: &str,
    graph: &mut Graph<'_>,
    doc: &mut Doc,
    licenses: &mut HashMap<String, Vec<Value>>,
) -> Result<(), SbomError> {
    let from = match obj.get("from") {
        Some(Value::String(s)) => s.clone(),
        other => return Err(shape(at(pointer, "from"), "an element id", other)),
    };
    let kind = match obj.get("relationshipType") {
        Some(Value::String(s)) => s.clone(),
        other => {
            return Err(shape(
                at(pointer, "relationshipType"),
                "a relationship type",
                other,
            ));
        }
    };
    let targets = ids(obj.get("to"), &at(pointer, "to"))?;
    let mut notes: Vec<String> = obj
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "type"
                    | "@type"
                    | "spdxId"
                    | "@id"
                    | "from"
                    | "to"
                    | "relationshipType"
                    | "creationInfo"
            )
        })
        .map(|(k, v)| format!("{k}: {}", text(v)))
        .collect();
    notes.sort();
    let comment = (!notes.is_empty()).then(|| notes.join("; "));
    let acknowledgement = match kind.as_str() {
        "hasDeclaredLicense" => Some("declared"),
        "hasConcludedLicense" => Some("concluded"),
        _ => None,
    };
    if let Some(ack) = acknowledgement {
        if graph.get(&from).is_none() {
            return Err(SbomError::SpdxUnknownId {
                pointer: at(pointer, "from"),
                id: from,
            });
        }
        for (to, p) in targets {
            let expression = match graph.get(&to) {
                Some((i, l)) => {
                    graph.used[i] = true;
                    l.get("simplelicensing_licenseExpression")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .or_else(|| to.strip_prefix(LISTED_LICENSES).map(str::to_owned))
                        .unwrap_or_else(|| {
                            l.get("name")
                                .and_then(Value::as_str)
                                .unwrap_or(&to)
                                .to_owned()
                        })
                }
                None => match to.strip_prefix(LISTED_LICENSES) {
                    Some(id) => id.to_owned(),
                    None => return Err(SbomError::SpdxUnknownId { pointer: p, id: to }),
                },
            };
            if let Some(l) = license(&expression, ack) {
                licenses.entry(from.clone()).or_default().push(l);
            }
        }
        return Ok(());
    }
    for (to, p) in targets {
        doc.relationships.push(Relationship {
            from: from.clone(),
            kind: upper_snake(&kind),
            to,
            from_pointer: at(pointer, "from"),
            to_pointer: p,
            comment: comment.clone(),
            implicit: false,
        });
    }
    Ok(())
}

/// A package, file or snippet.
fn element(
    obj: &Map<String, Value>,
    kind: &str,
    element_kind: ElementKind,
    pointer: &str,
    graph: &mut Graph<'_>,
) -> Result<Element, SbomError> {
    let Some(id) = id_of(obj) else {
        return Err(shape(at(pointer, "spdxId"), "the element's id", None));
    };
    let mut c = Map::new();
    let mut props: Vec<(String, String)> = Vec::new();
    let mut references: Vec<Value> = Vec::new();
    let default_type = match element_kind {
        ElementKind::Package => "library",
        ElementKind::File => "file",
    };
    c.insert("type".to_owned(), json!(default_type));
    c.insert(
        "name".to_owned(),
        json!(optional(obj, "name", pointer)?.unwrap_or(id)),
    );
    if kind != "software_Package" && kind != "software_File" {
        props.push(("elementType".to_owned(), kind.to_owned()));
    }
    for (key, v) in obj {
        match key.as_str() {
            "type" | "@type" | "spdxId" | "@id" | "name" | "creationInfo" => {}
            "software_packageVersion" => {
                c.insert("version".to_owned(), json!(text(v)));
            }
            "software_packageUrl" => {
                c.insert("purl".to_owned(), json!(text(v)));
            }
            "description" => {
                c.insert("description".to_owned(), json!(text(v)));
            }
            "software_copyrightText" => match text(v).as_str() {
                "NOASSERTION" | "NONE" => props.push((key.clone(), text(v))),
                t => {
                    c.insert("copyright".to_owned(), json!(t));
                }
            },
            "software_downloadLocation" | "software_homePage" => {
                let url = text(v);
                if usable_url(&url) {
                    let kind = if key == "software_homePage" {
                        "website"
                    } else {
                        "distribution"
                    };
                    references.push(json!({ "type": kind, "url": url }));
                } else {
                    props.push((key.clone(), url));
                }
            }
            "software_primaryPurpose" => match component_type(&text(v)) {
                Some(t) => {
                    c.insert("type".to_owned(), json!(t));
                }
                None => props.push((key.clone(), text(v))),
            },
            "suppliedBy" => {
                for (agent, _) in ids(Some(v), &at(pointer, key))? {
                    let (_, name) = graph.agent(&agent);
                    c.insert("supplier".to_owned(), json!({ "name": name }));
                }
            }
            "originatedBy" => {
                let mut authors = Vec::new();
                for (agent, _) in ids(Some(v), &at(pointer, key))? {
                    match graph.agent(&agent) {
                        (Some(k), name) if k == "Organization" => {
                            c.insert("manufacturer".to_owned(), json!({ "name": name }));
                        }
                        (_, name) => authors.push(contact(&name, None)),
                    }
                }
                if !authors.is_empty() {
                    c.insert("authors".to_owned(), Value::Array(authors));
                }
            }
            "verifiedUsing" => {
                let mut hashes = Vec::new();
                for (i, h) in array(obj, key, pointer)?.iter().enumerate() {
                    let p = format!("{pointer}/verifiedUsing/{i}");
                    let h = object(h, &p)?;
                    let made = match (h.get("algorithm"), h.get("hashValue")) {
                        (Some(Value::String(a)), Some(Value::String(x))) => hash(a, x),
                        _ => None,
                    };
                    match made {
                        Some(made) => hashes.push(made),
                        None => props.push((key.clone(), text(&Value::Object(h.clone())))),
                    }
                }
                if !hashes.is_empty() {
                    hashes.sort_by_key(text);
                    hashes.dedup();
                    c.insert("hashes".to_owned(), Value::Array(hashes));
                }
            }
            "externalIdentifier" => {
                for (i, e) in array(obj, key, pointer)?.iter().enumerate() {
                    let p = format!("{pointer}/externalIdentifier/{i}");
                    let e = object(e, &p)?;
                    let kind = e.get("externalIdentifierType").and_then(Value::as_str);
                    let identifier = e.get("identifier").and_then(Value::as_str);
                    match (kind, identifier) {
                        (Some("cpe23" | "cpe22"), Some(cpe)) if !c.contains_key("cpe") => {
                            c.insert("cpe".to_owned(), json!(cpe));
                        }
                        (Some("packageUrl"), Some(purl)) if !c.contains_key("purl") => {
                            c.insert("purl".to_owned(), json!(purl));
                        }
                        _ => props.push((key.clone(), text(&Value::Object(e.clone())))),
                    }
                }
            }
            "externalRef" => {
                for (i, r) in array(obj, key, pointer)?.iter().enumerate() {
                    let p = format!("{pointer}/externalRef/{i}");
                    let r = object(r, &p)?;
                    let locators = ids(r.get("locator"), &at(&p, "locator"))?;
                    let funcproof = locators
                        .iter()
                        .find(|(l, _)| l.starts_with(FUNCPROOF_URN))
                        .filter(|_| {
                            r.get("comment")
                                .and_then(Value::as_str)
                                .is_some_and(|c| c.contains(FUNCPROOF_REF_TYPE))
                                || r.get("externalRefType").and_then(Value::as_str) == Some("other")
                        });
                    match funcproof {
                        Some((url, _)) => {
                            references.push(json!({ "type": "evidence", "url": url }))
                        }
                        None => props.push((key.clone(), text(&Value::Object(r.clone())))),
                    }
                }
            }
            _ => props.push((key.clone(), text(v))),
        }
    }
    if !references.is_empty() {
        references.sort_by_key(text);
        references.dedup();
        c.insert("externalReferences".to_owned(), Value::Array(references));
    }
    let mut seen = BTreeSet::new();
    props.retain(|p| seen.insert(p.clone()));
    Ok(Element {
        id: id.to_owned(),
        kind: element_kind,
        pointer: pointer.to_owned(),
        component: c,
        properties: props,
    })
}
