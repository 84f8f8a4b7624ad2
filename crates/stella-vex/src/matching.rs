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
//! purls parse, for the readers of many documents to share; a purl of the plain shape most
//! documents use (`pkg:deb/debian/openssl@3.0.11-1?arch=amd64`) is known to parse from its
//! bytes alone, without the parser or that memory.
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

    /// Whether `text` is a purl, as [`Purl::is_valid`] says. A purl of the plain shape most
    /// documents use is answered without the shared memory (see [`Purl::is_valid`]).
    pub fn is_valid(&self, text: &str) -> bool {
        if plain_purl(text) {
            return true;
        }
        if let Some(&valid) = self.lock().get(text) {
            return valid;
        }
        let valid = parses(text);
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
    ///
    /// A purl of the plain shape most documents use (see `plain_purl`) is known to parse
    /// without parsing it; anything else is parsed.
    pub fn is_valid(text: &str) -> bool {
        plain_purl(text) || parses(text)
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

/// Whether the `packageurl` parser accepts `text` once `%2F` in its path is `/`.
fn parses(text: &str) -> bool {
    decode_path_slashes(text)
        .parse::<packageurl::PackageUrl<'static>>()
        .is_ok()
}

/// Whether `text` is a purl of the plain shape
/// `pkg:<type>/<segment>/…/<name>[@<version>][?<key>=<value>&…]` that the `packageurl`
/// parser always accepts, checked without parsing:
/// - the type is one whose rules are known here ([`plain_type_namespace`]): a type with
///   extra checks (`chrome-extension`, `cpan`, `julia`, …) or one not listed is left to the
///   parser;
/// - the path's bytes are ASCII letters and digits and `. - _ ~ +`, with `/` between segments
///   and `@` anywhere; no segment is empty, `.` or `..`;
/// - a version, when there is one, is not empty, and holds those bytes, `:` and `%XX` escapes
///   of ASCII other than `/` (`%3A`);
/// - each qualifier has a key the parser accepts and a non-empty value of the version's bytes
///   and `/`; there is no subpath;
/// - the namespace (the segments before the name) is present where the type requires one and
///   absent where it prohibits one.
///
/// `false` means "not known", never "not a purl". A test checks every answer of `true`
/// against the parser on generated purls of every listed type.
fn plain_purl(text: &str) -> bool {
    let Some(rest) = text.as_bytes().strip_prefix(b"pkg:") else {
        return false;
    };
    let (rest, qualifiers) = match rest.iter().position(|&b| b == b'?') {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let Some(slash) = rest.iter().position(|&b| b == b'/') else {
        return false;
    };
    let (ty, path) = (&rest[..slash], &rest[slash + 1..]);
    let Some(namespace) = plain_type_namespace(ty) else {
        return false;
    };
    // The version follows the last `@` that has no `/` after it, as the parser splits it.
    let path = match path.iter().rposition(|&b| b == b'@' || b == b'/') {
        Some(at) if path[at] == b'@' => {
            let version = &path[at + 1..];
            if version.is_empty() || !plain_text(version, b":") {
                return false;
            }
            &path[..at]
        }
        _ => path,
    };
    let mut segments = 0usize;
    for segment in path.split(|&b| b == b'/') {
        if matches!(segment, b"" | b"." | b"..")
            || !segment.iter().all(|&b| plain_byte(b) || b == b'@')
        {
            return false;
        }
        segments += 1;
    }
    let namespaced = segments > 1;
    qualifiers.is_none_or(plain_qualifiers)
        && match namespace {
            Namespace::Optional => true,
            Namespace::Required => namespaced,
            Namespace::Prohibited => !namespaced,
        }
}

/// An ASCII letter or digit or one of `. - _ ~ +`.
fn plain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b'+')
}

/// Whether `text` holds only [`plain_byte`]s, bytes of `more`, and `%XX` escapes of ASCII other
/// than `/` (so the parser decodes it to UTF-8 and [`decode_path_slashes`] leaves it alone).
fn plain_text(text: &[u8], more: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        if b == b'%' {
            let escape = match (text.get(i + 1), text.get(i + 2)) {
                (Some(&high @ b'0'..=b'7'), Some(&low)) if low.is_ascii_hexdigit() => [high, low],
                _ => return false,
            };
            if escape.eq_ignore_ascii_case(b"2f") {
                return false;
            }
            i += 3;
        } else if plain_byte(b) || more.contains(&b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// Whether `qualifiers` (after the `?`) are `key=value` pairs joined by `&`, each key one the
/// parser accepts and each value non-empty [`plain_text`] that may hold `:` and `/`.
fn plain_qualifiers(qualifiers: &[u8]) -> bool {
    qualifiers.split(|&b| b == b'&').all(|pair| {
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            return false;
        };
        let (key, value) = (&pair[..eq], &pair[eq + 1..]);
        key.first().is_some_and(|b| !b.is_ascii_digit())
            && key
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            && !value.is_empty()
            && plain_text(value, b":/")
    })
}

/// Whether a purl type takes a namespace, by the `packageurl` parser's rules.
enum Namespace {
    Optional,
    Required,
    Prohibited,
}

/// The namespace rule of `ty` (as written; the parser lower-cases it) for the types
/// [`plain_purl`] answers for; `None` for every other type, which is left to the parser.
fn plain_type_namespace(ty: &[u8]) -> Option<Namespace> {
    Some(match ty {
        b"apk" | b"bitbucket" | b"conan" | b"deb" | b"docker" | b"generic" | b"github"
        | b"golang" | b"hex" | b"maven" | b"npm" | b"qpkg" | b"rpm" | b"swid" => {
            Namespace::Optional
        }
        b"composer" | b"huggingface" | b"swift" | b"vscode-extension" => Namespace::Required,
        b"bitnami" | b"cargo" | b"cocoapods" | b"conda" | b"cran" | b"gem" | b"hackage"
        | b"nuget" | b"oci" | b"otp" | b"pub" | b"pypi" | b"vcpkg" => Namespace::Prohibited,
        _ => return None,
    })
}

/// The types [`plain_purl`] answers for, for the test that checks it against the parser.
#[cfg(test)]
const PLAIN_TYPES: &[&str] = &[
    "apk",
    "bitbucket",
    "conan",
    "deb",
    "docker",
    "generic",
    "github",
    "golang",
    "hex",
    "maven",
    "npm",
    "qpkg",
    "rpm",
    "swid",
    "composer",
    "huggingface",
    "swift",
    "vscode-extension",
    "bitnami",
    "cargo",
    "cocoapods",
    "conda",
    "cran",
    "gem",
    "hackage",
    "nuget",
    "oci",
    "otp",
    "pub",
    "pypi",
    "vcpkg",
];

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-zA-Z0-9._~+-]{1,8}",
            1 => Just(String::new()),
            1 => Just(".".to_owned()),
            1 => Just("..".to_owned()),
            1 => "@?[a-z]{1,4}",
            2 => "[a-zA-Z0-9._~+@:%?#=&/ -]{0,6}",
            1 => "[a-zA-Z0-9é]{1,4}",
        ]
    }

    fn version() -> impl Strategy<Value = String> {
        prop_oneof![
            segment(),
            "[a-z0-9.:-]{1,6}",
            "sha256%3A[0-9a-f]{4}",
            "[0-9]%[0-9a-fA-F]{2}[a-z]{0,2}",
            "%[0-9a-zA-Z]{0,2}",
        ]
    }

    fn qualifiers() -> impl Strategy<Value = String> {
        let pair = prop_oneof![
            "[a-z][a-z0-9._-]{0,4}=[a-zA-Z0-9./:-]{0,6}",
            "[a-zA-Z0-9._~ -]{0,3}=[a-z0-9]{0,3}",
            "[a-z]{1,3}=[a-z]{0,2}%[0-9a-fA-F]{2}",
            "[a-z]{1,3}=?[a-z?#@&=]{0,3}",
        ];
        proptest::collection::vec(pair, 1..4).prop_map(|pairs| pairs.join("&"))
    }

    fn purl() -> impl Strategy<Value = String> {
        let types = PLAIN_TYPES
            .iter()
            .copied()
            .chain([
                "julia",
                "cpan",
                "chrome-extension",
                "mlflow",
                "Npm",
                "9x",
                "a.b",
                "",
            ])
            .map(str::to_owned)
            .collect::<Vec<_>>();
        (
            proptest::sample::select(types),
            proptest::collection::vec(segment(), 0..4),
            proptest::option::of(version()),
            proptest::option::of(qualifiers()),
        )
            .prop_map(|(ty, segments, version, qualifier)| {
                let mut text = format!("pkg:{ty}/{}", segments.join("/"));
                if let Some(v) = version {
                    text.push('@');
                    text.push_str(&v);
                }
                if let Some(q) = qualifier {
                    text.push('?');
                    text.push_str(&q);
                }
                text
            })
    }

    #[test]
    fn plain_purls_of_every_listed_type_parse_and_others_are_left_to_the_parser() {
        for ty in PLAIN_TYPES {
            for path in ["name", "ns/name", "a/b/name", "@scope/name"] {
                for version in ["", "@1.0.0", "@v0.0.0-2020_1+x~y"] {
                    let text = format!("pkg:{ty}/{path}{version}");
                    if plain_purl(&text) {
                        assert!(parses(&text), "{text} is plain but does not parse");
                    }
                }
            }
        }
        assert!(plain_purl("pkg:npm/@babel/core@7.0.0"));
        assert!(plain_purl("pkg:golang/github.com/gorilla/websocket@v1.5.0"));
        assert!(
            !plain_purl("pkg:cargo/ns/name@1"),
            "cargo prohibits a namespace"
        );
        assert!(!plain_purl("pkg:swift/name@1"), "swift requires one");
        assert!(
            !plain_purl("pkg:julia/Example@1"),
            "julia requires a qualifier"
        );
        assert!(
            !plain_purl("pkg:npm/a%2Fb@1"),
            "percent-encoding is left to the parser"
        );
        assert!(
            !plain_purl("pkg:npm/name@"),
            "an empty version is left to the parser"
        );
    }

    proptest! {
        #[test]
        fn a_plain_purl_always_parses_and_the_checks_agree_with_the_parser(text in purl()) {
            if plain_purl(&text) {
                prop_assert!(parses(&text), "{} is plain but does not parse", text);
            }
            prop_assert_eq!(Purl::is_valid(&text), parses(&text));
            prop_assert_eq!(PurlChecks::default().is_valid(&text), parses(&text));
        }
    }
}
