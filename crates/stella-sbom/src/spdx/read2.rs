//! SPDX 2.2 / 2.3 JSON into the intermediate form of [`super::read`].

use serde_json::{Map, Value, json};
use stella_core::jcs::escape_pointer_segment;

use super::SpdxLimits;
use super::read::{
    Doc, Element, ElementKind, Relationship, actor, component_type, contact, hash, license, text,
    tool, usable_url,
};
use super::write::{CDX_PROPERTY_MARKER, FUNCPROOF_REF_TYPE};
use crate::SbomError;
use crate::generate::FUNCPROOF_URN;

/// A member's pointer.
pub(super) fn at(pointer: &str, member: &str) -> String {
    format!("{pointer}/{}", escape_pointer_segment(member))
}

pub(super) fn shape(pointer: String, expected: &'static str, found: Option<&Value>) -> SbomError {
    let found = match found {
        None => "nothing (the member is missing)".to_owned(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(Value::Null) => "null".to_owned(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(_)) => "a number".to_owned(),
        Some(Value::Array(_)) => "an array".to_owned(),
        Some(Value::Object(_)) => "an object".to_owned(),
    };
    SbomError::SpdxShape {
        pointer,
        expected,
        found,
    }
}

/// A required string member.
pub(super) fn required<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    pointer: &str,
) -> Result<&'a str, SbomError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        other => Err(shape(at(pointer, key), "a string", other)),
    }
}

/// An optional string member.
pub(super) fn optional<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    pointer: &str,
) -> Result<Option<&'a str>, SbomError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        other => Err(shape(at(pointer, key), "a string", other)),
    }
}

/// An optional array member (an empty slice when missing).
pub(super) fn array<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    pointer: &str,
) -> Result<&'a [Value], SbomError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        other => Err(shape(at(pointer, key), "an array", other)),
    }
}

/// An object.
pub(super) fn object<'a>(
    value: &'a Value,
    pointer: &str,
) -> Result<&'a Map<String, Value>, SbomError> {
    value
        .as_object()
        .ok_or_else(|| shape(pointer.to_owned(), "an object", Some(value)))
}

fn too_large(what: &'static str, count: usize, limit: usize) -> SbomError {
    SbomError::SpdxTooLarge { what, count, limit }
}

/// Reads the document.
pub(super) fn read(json: &Value, limits: SpdxLimits) -> Result<Doc, SbomError> {
    let root = object(json, "")?;
    let packages = array(root, "packages", "")?;
    let files = array(root, "files", "")?;
    let snippets = array(root, "snippets", "")?;
    let relationships = array(root, "relationships", "")?;
    let elements = packages.len() + files.len() + snippets.len();
    if elements > limits.max_elements {
        return Err(too_large(
            "elements (packages, files and snippets)",
            elements,
            limits.max_elements,
        ));
    }
    if relationships.len() > limits.max_relationships {
        return Err(too_large(
            "relationships",
            relationships.len(),
            limits.max_relationships,
        ));
    }

    let mut doc = Doc {
        id: required(root, "SPDXID", "")?.to_owned(),
        name: optional(root, "name", "")?.map(str::to_owned),
        ..Doc::default()
    };
    for (key, value) in root {
        match key.as_str() {
            "SPDXID" | "name" | "packages" | "files" | "snippets" | "relationships" => {}
            "creationInfo" => creation_info(value, &mut doc)?,
            "documentDescribes" => {
                for (i, d) in array(root, key, "")?.iter().enumerate() {
                    let pointer = format!("/documentDescribes/{i}");
                    let id = d
                        .as_str()
                        .ok_or_else(|| shape(pointer.clone(), "an SPDX id", Some(d)))?;
                    doc.describes.push((id.to_owned(), pointer));
                }
            }
            "externalDocumentRefs" => {
                for r in array(root, key, "")? {
                    doc.properties
                        .push(("externalDocumentRef".to_owned(), text(r)));
                }
            }
            "hasExtractedLicensingInfos" | "annotations" => {
                for item in array(root, key, "")? {
                    doc.properties.push((key.clone(), text(item)));
                }
            }
            _ => doc.properties.push((key.clone(), text(value))),
        }
    }

    for (i, p) in packages.iter().enumerate() {
        let pointer = format!("/packages/{i}");
        let element = package(p, &pointer, &mut doc)?;
        doc.elements.push(element);
    }
    for (i, f) in files.iter().enumerate() {
        doc.elements.push(file(f, &format!("/files/{i}"))?);
    }
    for (i, s) in snippets.iter().enumerate() {
        doc.elements.push(snippet(s, &format!("/snippets/{i}"))?);
    }
    for (i, r) in relationships.iter().enumerate() {
        let pointer = format!("/relationships/{i}");
        let obj = object(r, &pointer)?;
        doc.relationships.push(Relationship {
            from: required(obj, "spdxElementId", &pointer)?.to_owned(),
            kind: required(obj, "relationshipType", &pointer)?.to_owned(),
            to: required(obj, "relatedSpdxElement", &pointer)?.to_owned(),
            from_pointer: at(&pointer, "spdxElementId"),
            to_pointer: at(&pointer, "relatedSpdxElement"),
            comment: optional(obj, "comment", &pointer)?.map(str::to_owned),
            implicit: false,
        });
    }
    Ok(doc)
}

fn creation_info(value: &Value, doc: &mut Doc) -> Result<(), SbomError> {
    let pointer = "/creationInfo";
    let info = object(value, pointer)?;
    for (key, v) in info {
        match key.as_str() {
            "created" => doc.created = Some(required(info, key, pointer)?.to_owned()),
            "creators" => {
                for (i, c) in array(info, key, pointer)?.iter().enumerate() {
                    let p = format!("{pointer}/creators/{i}");
                    let c = c
                        .as_str()
                        .ok_or_else(|| shape(p, "an actor string", Some(c)))?;
                    match actor(c) {
                        Some(a) if a.kind == "Tool" => doc.tools.push(tool(&a.name)),
                        Some(a) if a.kind == "Person" || a.kind == "Organization" => {
                            doc.authors.push(contact(&a.name, a.email.as_deref()))
                        }
                        _ => doc.properties.push(("creator".to_owned(), c.to_owned())),
                    }
                }
            }
            "comment" => doc.properties.push(("creationComment".to_owned(), text(v))),
            _ => doc.properties.push((key.clone(), text(v))),
        }
    }
    Ok(())
}

/// Checksums into `hashes`; those CycloneDX cannot hold into properties.
fn checksums(
    obj: &Map<String, Value>,
    pointer: &str,
    c: &mut Map<String, Value>,
    props: &mut Vec<(String, String)>,
) -> Result<(), SbomError> {
    let mut hashes = Vec::new();
    for (i, sum) in array(obj, "checksums", pointer)?.iter().enumerate() {
        let p = format!("{pointer}/checksums/{i}");
        let s = object(sum, &p)?;
        let alg = required(s, "algorithm", &p)?;
        let value = required(s, "checksumValue", &p)?;
        match hash(alg, value) {
            Some(h) => hashes.push(h),
            None => props.push(("checksum".to_owned(), format!("{alg}: {value}"))),
        }
    }
    if !hashes.is_empty() {
        hashes.sort_by_key(text);
        hashes.dedup();
        c.insert("hashes".to_owned(), Value::Array(hashes));
    }
    Ok(())
}

/// `licenseConcluded` / `licenseDeclared` into `licenses`, NOASSERTION/NONE into properties.
fn licenses(
    obj: &Map<String, Value>,
    pointer: &str,
    c: &mut Map<String, Value>,
    props: &mut Vec<(String, String)>,
) -> Result<(), SbomError> {
    let mut list = Vec::new();
    for (key, ack) in [
        ("licenseDeclared", "declared"),
        ("licenseConcluded", "concluded"),
    ] {
        if let Some(e) = optional(obj, key, pointer)? {
            match license(e, ack) {
                Some(l) => list.push(l),
                None => props.push((key.to_owned(), e.to_owned())),
            }
        }
    }
    if !list.is_empty() {
        c.insert("licenses".to_owned(), Value::Array(list));
    }
    Ok(())
}

/// Restores a CycloneDX property Stella wrote as an annotation, or keeps the annotation.
fn annotations(
    obj: &Map<String, Value>,
    pointer: &str,
    props: &mut Vec<(String, String)>,
    restored: &mut Vec<Value>,
) -> Result<(), SbomError> {
    for a in array(obj, "annotations", pointer)? {
        let property = a
            .get("comment")
            .and_then(Value::as_str)
            .and_then(|c| c.strip_prefix(CDX_PROPERTY_MARKER))
            .and_then(|json| serde_json::from_str::<Value>(json).ok())
            .filter(|p| p.get("name").and_then(Value::as_str).is_some());
        match property {
            Some(p) => restored.push(p),
            None => props.push(("annotation".to_owned(), text(a))),
        }
    }
    Ok(())
}

fn package(value: &Value, pointer: &str, doc: &mut Doc) -> Result<Element, SbomError> {
    let obj = object(value, pointer)?;
    let id = required(obj, "SPDXID", pointer)?.to_owned();
    let mut c = Map::new();
    let mut props = Vec::new();
    let mut restored = Vec::new();
    c.insert("type".to_owned(), json!("library"));
    c.insert("name".to_owned(), json!(required(obj, "name", pointer)?));
    let mut references: Vec<Value> = Vec::new();
    for (key, v) in obj {
        match key.as_str() {
            "SPDXID" | "name" | "checksums" | "licenseConcluded" | "licenseDeclared" => {}
            "versionInfo" => {
                c.insert("version".to_owned(), json!(required(obj, key, pointer)?));
            }
            "description" => {
                c.insert(
                    "description".to_owned(),
                    json!(required(obj, key, pointer)?),
                );
            }
            "copyrightText" => match required(obj, key, pointer)? {
                "NOASSERTION" | "NONE" => props.push((key.clone(), text(v))),
                t => {
                    c.insert("copyright".to_owned(), json!(t));
                }
            },
            "supplier" => {
                let t = required(obj, key, pointer)?;
                match actor(t) {
                    Some(a) => {
                        let mut s = Map::new();
                        s.insert("name".to_owned(), json!(a.name));
                        if let Some(e) = &a.email {
                            s.insert("contact".to_owned(), json!([contact(&a.name, Some(e))]));
                        }
                        c.insert("supplier".to_owned(), Value::Object(s));
                        if a.kind != "Organization" {
                            props.push((key.clone(), t.to_owned()));
                        }
                    }
                    None => props.push((key.clone(), t.to_owned())),
                }
            }
            "originator" => {
                let t = required(obj, key, pointer)?;
                match actor(t) {
                    Some(a) if a.kind == "Person" => {
                        c.insert(
                            "authors".to_owned(),
                            json!([contact(&a.name, a.email.as_deref())]),
                        );
                    }
                    Some(a) if a.kind == "Organization" => {
                        c.insert("manufacturer".to_owned(), json!({ "name": a.name }));
                    }
                    _ => props.push((key.clone(), t.to_owned())),
                }
            }
            "downloadLocation" | "homepage" => {
                let url = required(obj, key, pointer)?;
                if usable_url(url) {
                    let kind = if key == "homepage" {
                        "website"
                    } else {
                        "distribution"
                    };
                    references.push(json!({ "type": kind, "url": url }));
                } else {
                    props.push((key.clone(), url.to_owned()));
                }
            }
            "primaryPackagePurpose" => {
                let purpose = required(obj, key, pointer)?;
                match component_type(purpose) {
                    Some(t) => {
                        c.insert("type".to_owned(), json!(t));
                    }
                    None => props.push((key.clone(), purpose.to_owned())),
                }
            }
            "externalRefs" => {
                for (i, r) in array(obj, key, pointer)?.iter().enumerate() {
                    let p = format!("{pointer}/externalRefs/{i}");
                    external_ref(r, &p, &mut c, &mut references, &mut props)?;
                }
            }
            "hasFiles" => {
                for (i, f) in array(obj, key, pointer)?.iter().enumerate() {
                    let p = format!("{pointer}/hasFiles/{i}");
                    let f = f
                        .as_str()
                        .ok_or_else(|| shape(p.clone(), "an SPDX id", Some(f)))?;
                    doc.relationships.push(Relationship {
                        from: id.clone(),
                        kind: "CONTAINS".to_owned(),
                        to: f.to_owned(),
                        from_pointer: at(pointer, "SPDXID"),
                        to_pointer: p,
                        comment: None,
                        implicit: true,
                    });
                }
            }
            "annotations" => annotations(obj, pointer, &mut props, &mut restored)?,
            _ => props.push((key.clone(), text(v))),
        }
    }
    checksums(obj, pointer, &mut c, &mut props)?;
    licenses(obj, pointer, &mut c, &mut props)?;
    if !references.is_empty() {
        references.sort_by_key(text);
        references.dedup();
        c.insert("externalReferences".to_owned(), Value::Array(references));
    }
    let properties = with_restored(props, restored, &mut c);
    Ok(Element {
        id,
        kind: ElementKind::Package,
        pointer: pointer.to_owned(),
        component: c,
        properties,
    })
}

/// Properties Stella wrote as annotations come back under their own names (marked so that the
/// assembler does not prefix them); a hash written as an annotation (`cdx:hash`, `ALG: hex`)
/// comes back as a hash.
fn with_restored(
    mut props: Vec<(String, String)>,
    restored: Vec<Value>,
    c: &mut Map<String, Value>,
) -> Vec<(String, String)> {
    for p in restored {
        let Some(name) = p.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = p.get("value").and_then(Value::as_str).unwrap_or_default();
        if name == "cdx:hash"
            && let Some((alg, content)) = value.split_once(": ")
            && let Some(h) = hash(alg, content)
        {
            let hashes = c.entry("hashes").or_insert_with(|| json!([]));
            if let Some(list) = hashes.as_array_mut() {
                list.push(h);
                list.sort_by_key(text);
                list.dedup();
            }
            continue;
        }
        props.push((
            format!("{}{name}", super::read::UNPREFIXED),
            value.to_owned(),
        ));
    }
    props
}

/// One `externalRefs` entry: purl, CPE, FuncProof, or kept as a property.
fn external_ref(
    value: &Value,
    pointer: &str,
    c: &mut Map<String, Value>,
    references: &mut Vec<Value>,
    props: &mut Vec<(String, String)>,
) -> Result<(), SbomError> {
    let r = object(value, pointer)?;
    let category = required(r, "referenceCategory", pointer)?;
    let kind = required(r, "referenceType", pointer)?;
    let locator = required(r, "referenceLocator", pointer)?;
    let category_key = category.replace('_', "-");
    match (category_key.as_str(), kind) {
        ("PACKAGE-MANAGER", "purl") if !c.contains_key("purl") => {
            c.insert("purl".to_owned(), json!(locator));
        }
        ("SECURITY", "cpe23Type" | "cpe22Type") if !c.contains_key("cpe") => {
            c.insert("cpe".to_owned(), json!(locator));
        }
        (_, FUNCPROOF_REF_TYPE) if locator.starts_with(FUNCPROOF_URN) => {
            let mut reference = Map::new();
            reference.insert("type".to_owned(), json!("evidence"));
            reference.insert("url".to_owned(), json!(locator));
            if let Some(comment) = optional(r, "comment", pointer)? {
                reference.insert("comment".to_owned(), json!(comment));
            }
            if let Some(hex) = locator
                .strip_prefix(FUNCPROOF_URN)
                .and_then(|d| d.strip_prefix("sha256:"))
            {
                reference.insert(
                    "hashes".to_owned(),
                    json!([{ "alg": "SHA-256", "content": hex }]),
                );
            }
            references.push(Value::Object(reference));
        }
        _ => props.push(("externalRef".to_owned(), text(value))),
    }
    Ok(())
}

fn file(value: &Value, pointer: &str) -> Result<Element, SbomError> {
    let obj = object(value, pointer)?;
    let id = required(obj, "SPDXID", pointer)?.to_owned();
    let mut c = Map::new();
    let mut props = Vec::new();
    let mut restored = Vec::new();
    c.insert("type".to_owned(), json!("file"));
    c.insert(
        "name".to_owned(),
        json!(required(obj, "fileName", pointer)?),
    );
    for (key, v) in obj {
        match key.as_str() {
            "SPDXID" | "fileName" | "checksums" | "licenseConcluded" | "licenseDeclared" => {}
            "copyrightText" => match required(obj, key, pointer)? {
                "NOASSERTION" | "NONE" => props.push((key.clone(), text(v))),
                t => {
                    c.insert("copyright".to_owned(), json!(t));
                }
            },
            "annotations" => annotations(obj, pointer, &mut props, &mut restored)?,
            _ => props.push((key.clone(), text(v))),
        }
    }
    checksums(obj, pointer, &mut c, &mut props)?;
    licenses(obj, pointer, &mut c, &mut props)?;
    let properties = with_restored(props, restored, &mut c);
    Ok(Element {
        id,
        kind: ElementKind::File,
        pointer: pointer.to_owned(),
        component: c,
        properties,
    })
}

fn snippet(value: &Value, pointer: &str) -> Result<Element, SbomError> {
    let obj = object(value, pointer)?;
    let id = required(obj, "SPDXID", pointer)?.to_owned();
    let mut c = Map::new();
    let mut props = vec![("elementType".to_owned(), "snippet".to_owned())];
    c.insert("type".to_owned(), json!("file"));
    c.insert(
        "name".to_owned(),
        json!(optional(obj, "name", pointer)?.unwrap_or(&id)),
    );
    for (key, v) in obj {
        if key != "SPDXID" && key != "name" {
            props.push((key.clone(), text(v)));
        }
    }
    Ok(Element {
        id,
        kind: ElementKind::File,
        pointer: pointer.to_owned(),
        component: c,
        properties: props,
    })
}
