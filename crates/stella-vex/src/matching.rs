//! Matching: does a statement speak about this vulnerability and this product?
//!
//! The rules, in the order [`product_matches`] tries them (the statement's identity on the left,
//! the product asked about on the right):
//!
//! | by | rule |
//! |---|---|
//! | version limit | checked first: a statement limited to some versions (CycloneDX `affects[].versions`: `2.4`, `vers:generic/>=2.9\|<=4.1`) covers a product only when it is named with the same limit, compared as written (`vers:` ranges are not evaluated); a statement without one covers every version |
//! | vulnerability | the id asked for is the statement's name or any of its aliases ([`vulnerability_matches`]); two statements name one vulnerability when their names and aliases share one ([`same_vulnerability`]) |
//! | image | when both sides name an image by digest (a `pkg:oci` purl whose version is the digest, or a reference `repo[:tag]@sha256:…`), the digests decide alone; tag, digest and `pkg:oci` forms of one image are one product. When neither side has a digest, repository and tag must both be equal (`debian` is `docker.io/library/debian`) |
//! | purl | type, namespace and name equal after normalisation; a statement's purl without a version matches every version; the statement's qualifiers must be a subset of the product's; a statement's subpath, when given, must be equal. Percent-encoding is normalised: `%2F` and `/` in a namespace or name (Go modules) are the same purl, `pkg:golang/github.com%2Fgorilla/websocket` is `pkg:golang/github.com/gorilla/websocket` |
//! | BOM-Link | serial number (case-insensitive) and version equal, the `#bom-ref` compared percent-decoded |
//! | hash | at least one algorithm on both sides, and every algorithm on both sides has the same value (hex compared case-insensitively) |
//! | id | the identifiers as written are equal, when nothing above applies |
//! | statement | [`statement_matches`]: the vulnerability by name or alias, one of its products covering the product, and, when a subcomponent is asked about, one of that product's subcomponents covering it (a product listed without subcomponents covers all; a statement without products speaks for any) |
//!
//! Purls are parsed with the `packageurl` crate (the parser `stella-sbom` uses), after `%2F`
//! in the path has been turned into `/`, which that parser refuses inside a namespace segment.
//! A purl that does not parse matches only by its exact text. [`PurlChecks`] remembers which
//! purls parse, for the readers of many documents to share.
//!
//! The same normalisation gives [`ProductKey`]: the canonical key the merge groups statements
//! by, so that spellings of one product fall into one group.
//!
//! What this module does not own: choosing between statements (see [`crate::merge`]) or
//! resolving a tag to a digest (that needs a registry: `stella-oci`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use rustc_hash::FxHashMap;

use stella_core::Digest;

use crate::model::{ProductIdentity, VexStatement, Vulnerability};

/// Whether `id` names `vulnerability`, by its main name or any alias.
pub fn vulnerability_matches(vulnerability: &Vulnerability, id: &str) -> bool {
    vulnerability.is_known_as(id)
}

/// Whether two vulnerabilities share a name or alias (and so are one vulnerability).
pub fn same_vulnerability(a: &Vulnerability, b: &Vulnerability) -> bool {
    std::iter::once(&a.name)
        .chain(&a.aliases)
        .any(|id| b.is_known_as(id))
}

/// Purls already checked, shared by the readers of many documents (and their threads): a
/// merge of documents about the same products checks each distinct purl once instead of once per
/// statement. At most [`PurlChecks::LIMIT`] purls are remembered; past that, purls are checked
/// without being remembered, so the answers never change, only the time.
#[derive(Debug)]
pub struct PurlChecks {
    checked: Mutex<FxHashMap<Box<str>, bool>>,
    limit: usize,
}

impl Default for PurlChecks {
    /// Remembering up to [`PurlChecks::LIMIT`] purls.
    fn default() -> Self {
        PurlChecks::with_limit(Self::LIMIT)
    }
}

impl PurlChecks {
    /// How many distinct purls are remembered at most by default (a few tens of MB).
    pub const LIMIT: usize = 1 << 20;

    /// Checks remembering at most `limit` purls.
    pub fn with_limit(limit: usize) -> Self {
        PurlChecks {
            checked: Mutex::default(),
            limit,
        }
    }

    /// How many purls are remembered.
    pub fn remembered(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FxHashMap<Box<str>, bool>> {
        self.checked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `text` is a purl, as [`Purl::is_valid`] says.
    pub fn is_valid(&self, text: &str) -> bool {
        if let Some(&valid) = self.lock().get(text) {
            return valid;
        }
        let valid = Purl::is_valid(text);
        let mut checked = self.lock();
        if checked.len() < self.limit {
            checked.insert(text.into(), valid);
        }
        valid
    }
}

/// A package URL reduced to what matching compares.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Purl {
    /// The type, lower-case.
    pub ty: String,
    /// Namespace and name joined by `/`, percent-decoded (so `%2F` and `/` agree).
    pub path: String,
    /// The version, percent-decoded.
    pub version: Option<String>,
    /// The qualifiers, keys lower-case, values percent-decoded.
    pub qualifiers: BTreeMap<String, String>,
    /// The subpath.
    pub subpath: Option<String>,
}

impl Purl {
    /// Parses `text` as a purl, `None` if it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let normalised = decode_path_slashes(text);
        let purl: packageurl::PackageUrl<'static> = normalised.parse().ok()?;
        let path = match purl.namespace() {
            Some(ns) => format!("{ns}/{}", purl.name()),
            None => purl.name().to_owned(),
        };
        Some(Purl {
            ty: purl.ty().to_owned(),
            path,
            version: purl.version().map(str::to_owned),
            qualifiers: purl
                .qualifiers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            subpath: purl.subpath().map(str::to_owned),
        })
    }

    /// Whether `text` is a purl: [`Purl::parse`] without building the result.
    pub fn is_valid(text: &str) -> bool {
        decode_path_slashes(text)
            .parse::<packageurl::PackageUrl<'static>>()
            .is_ok()
    }

    /// Whether this purl, as a statement's, covers `product`: same package, version equal or
    /// absent here, qualifiers here a subset of the product's, subpath equal or absent here.
    pub fn covers(&self, product: &Purl) -> bool {
        self.ty == product.ty
            && self.path == product.path
            && self
                .version
                .as_ref()
                .is_none_or(|v| product.version.as_ref() == Some(v))
            && self
                .qualifiers
                .iter()
                .all(|(k, v)| product.qualifiers.get(k) == Some(v))
            && self
                .subpath
                .as_ref()
                .is_none_or(|s| product.subpath.as_ref() == Some(s))
    }

    /// The canonical text: `pkg:type/path[@version][?k=v&…][#subpath]`, qualifiers sorted,
    /// values as decoded (used as a key, not written into documents).
    pub fn canonical(&self) -> String {
        let mut out = format!("pkg:{}/{}", self.ty, self.path);
        if let Some(v) = &self.version {
            out.push('@');
            out.push_str(v);
        }
        for (i, (k, v)) in self.qualifiers.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        if let Some(s) = &self.subpath {
            out.push('#');
            out.push_str(s);
        }
        out
    }
}

/// `%2F` (either case) turned into `/` in the part of a purl before its version, qualifiers and
/// subpath: the spec's namespace is `/`-separated, so an encoded slash there is the same path.
fn decode_path_slashes(text: &str) -> Cow<'_, str> {
    if !text.contains("%2F") && !text.contains("%2f") {
        return Cow::Borrowed(text);
    }
    let end = text.find(['?', '#']).unwrap_or(text.len());
    let (head, tail) = text.split_at(end);
    // The version follows the last '@' that has no '/' after it (npm scopes start with '@').
    let version_at = head
        .rfind('@')
        .filter(|&i| !head[i + 1..].contains('/') && !head[i + 1..].contains("%2F"));
    let (path, version) = match version_at {
        Some(i) => head.split_at(i),
        None => (head, ""),
    };
    let path = path.replace("%2F", "/").replace("%2f", "/");
    Cow::Owned(format!("{path}{version}{tail}"))
}

/// An OCI image as a statement or a product names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageRef {
    /// The repository, normalised (`debian` → `docker.io/library/debian`); for a `pkg:oci` purl
    /// without `repository_url`, only the purl's name (the repository's last segment).
    pub repository: Option<String>,
    /// The tag, when named.
    pub tag: Option<String>,
    /// The manifest digest, when named.
    pub digest: Option<Digest>,
}

impl ImageRef {
    /// The image a `pkg:oci` purl or an image reference (`[registry/]repo[:tag][@digest]`)
    /// names; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        if text.starts_with("pkg:") {
            let purl = Purl::parse(text)?;
            if purl.ty != "oci" {
                return None;
            }
            let digest = purl.version.as_deref().and_then(|v| v.parse().ok());
            let repository = purl
                .qualifiers
                .get("repository_url")
                .map(|r| normalise_repository(r))
                .or(Some(purl.path.to_lowercase()));
            return Some(ImageRef {
                repository,
                tag: purl.qualifiers.get("tag").cloned(),
                digest,
            });
        }
        if text.contains("://") || text.contains(char::is_whitespace) || text.starts_with("urn:") {
            return None;
        }
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(digest.parse::<Digest>().ok()?)),
            None => (text, None),
        };
        // A tag is after the last ':' that follows the last '/' (a registry port comes before).
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (
                &name[..last_slash + i],
                Some(name[last_slash + i + 1..].to_owned()),
            ),
            None => (name, None),
        };
        if repository.is_empty() || (tag.is_none() && digest.is_none()) {
            // A bare word is no image reference we can tell from free text.
            return None;
        }
        Some(ImageRef {
            repository: Some(normalise_repository(repository)),
            tag,
            digest,
        })
    }

    /// Whether two names are one image: equal digests when both have one; else equal
    /// repository and tag, both given.
    pub fn same_image(&self, other: &ImageRef) -> bool {
        match (&self.digest, &other.digest) {
            (Some(a), Some(b)) => a == b,
            (None, None) => {
                self.tag.is_some()
                    && self.tag == other.tag
                    && match (&self.repository, &other.repository) {
                        (Some(a), Some(b)) => repositories_agree(a, b),
                        _ => false,
                    }
            }
            _ => false,
        }
    }
}

/// Docker Hub's defaults made explicit, lower-cased, without a scheme.
fn normalise_repository(repository: &str) -> String {
    let r = repository
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_lowercase();
    let first = r.split('/').next().unwrap_or_default();
    let has_registry = r.contains('/') && (first.contains(['.', ':']) || first == "localhost");
    let r = if has_registry {
        r
    } else if r.contains('/') {
        format!("docker.io/{r}")
    } else {
        format!("docker.io/library/{r}")
    };
    let r = r
        .strip_prefix("index.docker.io/")
        .map_or(r.clone(), |rest| format!("docker.io/{rest}"));
    // Docker Hub's official images live under `library/`.
    match r.strip_prefix("docker.io/") {
        Some(rest) if !rest.contains('/') => format!("docker.io/library/{rest}"),
        _ => r,
    }
}

/// Equal repositories, or one side only a `pkg:oci` name equal to the other's last segment.
fn repositories_agree(a: &str, b: &str) -> bool {
    let last = |s: &str| s.rsplit('/').next().unwrap_or(s).to_owned();
    a == b || (!a.contains('/') && a == last(b)) || (!b.contains('/') && b == last(a))
}

/// A CycloneDX BOM-Link (`urn:cdx:<serial>/<version>[#<bom-ref>]`), normalised.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BomLink {
    /// The BOM's serial number, lower-case.
    pub serial: String,
    /// The BOM's version.
    pub version: String,
    /// The component's bom-ref, percent-decoded; `None` for the whole BOM.
    pub bom_ref: Option<String>,
}

impl BomLink {
    /// Parses a BOM-Link, `None` if `text` is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("urn:cdx:")?;
        let (bom, bom_ref) = match rest.split_once('#') {
            Some((bom, r)) => (bom, Some(percent_decode(r))),
            None => (rest, None),
        };
        let (serial, version) = bom.split_once('/')?;
        if serial.is_empty() || version.is_empty() {
            return None;
        }
        Some(BomLink {
            serial: serial.to_lowercase(),
            version: version.to_owned(),
            bom_ref,
        })
    }
}

/// `%XX` sequences decoded; an invalid sequence or non-UTF-8 result is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// The image a product identity names: its parsed `image_digest`, its purl, or its `@id`.
fn image_of(p: &ProductIdentity) -> Option<ImageRef> {
    let parsed = p
        .purl
        .as_deref()
        .and_then(ImageRef::parse)
        .or_else(|| p.id.as_deref().and_then(ImageRef::parse));
    match (parsed, &p.image_digest) {
        (Some(mut image), Some(d)) => {
            image.digest.get_or_insert_with(|| d.clone());
            Some(image)
        }
        (Some(image), None) => Some(image),
        (None, Some(d)) => Some(ImageRef {
            repository: None,
            tag: None,
            digest: Some(d.clone()),
        }),
        (None, None) => None,
    }
}

fn bom_link_of(p: &ProductIdentity) -> Option<BomLink> {
    p.bom_link
        .as_deref()
        .or(p.id.as_deref())
        .and_then(BomLink::parse)
}

/// Whether the hashes agree: one algorithm at least in common, and no common one differing.
fn hashes_match(a: &ProductIdentity, b: &ProductIdentity) -> Option<bool> {
    let common: Vec<_> = a
        .hashes
        .iter()
        .filter_map(|(alg, va)| b.hashes.get(alg).map(|vb| va.eq_ignore_ascii_case(vb)))
        .collect();
    (!common.is_empty()).then(|| common.iter().all(|&same| same))
}

/// Whether the statement's product identity `statement` covers `product`, by the rules in the
/// module docs: the first kind of name both sides carry decides.
pub fn product_matches(statement: &ProductIdentity, product: &ProductIdentity) -> bool {
    // A statement limited to some versions speaks about a product only when that product is
    // named with the same limit (as written: `vers:` ranges are not evaluated); a statement
    // without a limit covers every version, as a versionless purl does.
    if let Some(version) = &statement.version
        && product.version.as_ref() != Some(version)
    {
        return false;
    }
    if let (Some(a), Some(b)) = (image_of(statement), image_of(product)) {
        let digests = a.digest.is_some() && b.digest.is_some();
        let tags_only =
            a.digest.is_none() && b.digest.is_none() && a.tag.is_some() && b.tag.is_some();
        if digests || tags_only {
            return a.same_image(&b);
        }
    }
    if let (Some(a), Some(b)) = (
        statement.purl.as_deref().and_then(Purl::parse),
        product.purl.as_deref().and_then(Purl::parse),
    ) {
        return a.covers(&b);
    }
    if let (Some(a), Some(b)) = (bom_link_of(statement), bom_link_of(product)) {
        return a == b;
    }
    if let Some(same) = hashes_match(statement, product) {
        return same;
    }
    let purl_text = |p: &ProductIdentity| p.purl.clone().or_else(|| p.id.clone());
    statement.id.is_some() && statement.id == product.id
        || statement.purl.is_some() && purl_text(statement) == purl_text(product)
}

/// Whether `statement` speaks about vulnerability `id` in `product` (and, when asked, in its
/// `subcomponent`): the id by name or alias, a product of the statement covering `product`,
/// and, for a subcomponent, one of that product's subcomponents covering it. A statement that
/// names no product speaks for any product (OpenVEX lets a document name its product
/// elsewhere); a product the statement names without subcomponents covers all of them.
pub fn statement_matches(
    statement: &VexStatement,
    id: &str,
    product: &ProductIdentity,
    subcomponent: Option<&ProductIdentity>,
) -> bool {
    if !vulnerability_matches(&statement.vulnerability, id) {
        return false;
    }
    if statement.products.is_empty() {
        return true;
    }
    statement.products.iter().any(|p| {
        product_matches(&p.identity, product)
            && match subcomponent {
                None => true,
                Some(sub) => {
                    p.subcomponents.is_empty()
                        || p.subcomponents.iter().any(|s| product_matches(s, sub))
                }
            }
    })
}

/// The canonical key of a product identity: spellings of one product (encoded or not, tag and
/// digest forms of one image, escaped or unescaped bom-refs) give one key. Used to group
/// statements in the merge; a key is never written into a document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProductKey(String);

impl ProductKey {
    /// The key of `identity`, by the first name it carries of: image digest, purl, BOM-Link,
    /// hashes, CPE, identifier.
    pub fn of(identity: &ProductIdentity) -> Self {
        let key = Self::unversioned(identity);
        match &identity.version {
            // A version limit makes another product: `product-ABC` 2.4 is not `product-ABC`.
            Some(version) => ProductKey(format!("{}|version={version}", key.0)),
            None => key,
        }
    }

    fn unversioned(identity: &ProductIdentity) -> Self {
        if let Some(digest) = image_of(identity).and_then(|i| i.digest) {
            return ProductKey(format!("oci:{digest}"));
        }
        if let Some(purl) = &identity.purl {
            return ProductKey(Purl::parse(purl).map_or_else(|| purl.clone(), |p| p.canonical()));
        }
        if let Some(link) = bom_link_of(identity) {
            return ProductKey(format!(
                "urn:cdx:{}/{}#{}",
                link.serial,
                link.version,
                link.bom_ref.unwrap_or_default()
            ));
        }
        if let Some((alg, value)) = identity.hashes.iter().next() {
            return ProductKey(format!("hash:{}:{}", alg.label(), value.to_lowercase()));
        }
        if let Some(cpe) = identity.cpe23.as_ref().or(identity.cpe22.as_ref()) {
            return ProductKey(format!("cpe:{cpe}"));
        }
        ProductKey(format!("id:{}", identity.id.as_deref().unwrap_or_default()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
