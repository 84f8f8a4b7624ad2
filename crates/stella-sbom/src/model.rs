//! The typed CycloneDX model: the parts of a BOM that Stella reads and writes.
//!
//! Stella reads CycloneDX 1.4–1.7, generates 1.7 and enriches in the document's own version. The structs name the fields Stella works with
//! (components, hashes, purls, dependencies, vulnerabilities and their analysis); every other field
//! is kept verbatim in an `extra` map, so a document read and written again loses nothing. The
//! model does not validate: a document that deserialises may still break the schema or refer to
//! things that do not exist — that is [`crate::validate`]'s job.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Fields a struct does not name, kept as they were read.
pub type Extra = BTreeMap<String, Value>;

/// The CycloneDX specification versions Stella reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecVersion {
    /// CycloneDX 1.4
    V1_4,
    /// CycloneDX 1.5
    V1_5,
    /// CycloneDX 1.6
    V1_6,
    /// CycloneDX 1.7, the version Stella generates.
    V1_7,
}

impl SpecVersion {
    /// Every version Stella reads, oldest first.
    pub const READABLE: [SpecVersion; 4] = [
        SpecVersion::V1_4,
        SpecVersion::V1_5,
        SpecVersion::V1_6,
        SpecVersion::V1_7,
    ];

    /// The version Stella generates (and the latest it writes).
    pub const WRITTEN: SpecVersion = SpecVersion::V1_7;

    /// The `specVersion` string.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecVersion::V1_4 => "1.4",
            SpecVersion::V1_5 => "1.5",
            SpecVersion::V1_6 => "1.6",
            SpecVersion::V1_7 => "1.7",
        }
    }

    /// File name of the official JSON schema for this version.
    pub fn schema_file(self) -> String {
        format!("bom-{}.schema.json", self.as_str())
    }

    /// The `$id` of the official JSON schema for this version.
    pub fn schema_uri(self) -> String {
        format!("http://cyclonedx.org/schema/{}", self.schema_file())
    }
}

impl fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SpecVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpecVersion::READABLE
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| s.to_owned())
    }
}

impl Serialize for SpecVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SpecVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|found| {
            serde::de::Error::custom(format!(
                "specVersion {found:?} is not one Stella reads (1.4, 1.5, 1.6, 1.7)"
            ))
        })
    }
}

/// A CycloneDX BOM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bom {
    /// JSON schema reference, when the producer wrote one.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Always `CycloneDX`.
    pub bom_format: BomFormat,
    /// The specification version the document follows.
    pub spec_version: SpecVersion,
    /// `urn:uuid:…` identifying this BOM across versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Revision of the BOM with this serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Who made the BOM, when and about what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// The components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<Component>>,
    /// References outside the BOM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_references: Option<Vec<ExternalReference>>,
    /// The dependency graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependencies: Option<Vec<Dependency>>,
    /// Vulnerabilities and their analysis (CycloneDX VEX).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<Vec<Vulnerability>>,
    /// Name-value properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Vec<Property>>,
    /// Everything else (services, compositions, formulation, …), verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `bomFormat` marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BomFormat {
    /// The only value CycloneDX defines.
    CycloneDX,
}

/// BOM metadata.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Tools that made the BOM, in either the legacy (≤ 1.4) or the current form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Tools>,
    /// What the BOM describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<Box<Component>>,
    /// Name-value properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Vec<Property>>,
    /// Everything else, verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `metadata.tools`: an array of tools (deprecated since 1.5) or components and services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Tools {
    /// The 1.5+ form.
    Current {
        /// Tools as components.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        components: Option<Vec<Component>>,
        /// Tools as services.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        services: Option<Vec<Value>>,
    },
    /// The ≤ 1.4 form.
    Legacy(Vec<LegacyTool>),
}

/// A tool in the legacy (≤ 1.4) form.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyTool {
    /// Who made the tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Tool name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tool version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Hashes of the tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Vec<Hash>>,
    /// References for the tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_references: Option<Vec<ExternalReference>>,
}

/// A component: software, a file, a container, …
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// The component type (`application`, `library`, `file`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Identifier unique within the BOM, target of dependency and vulnerability references.
    #[serde(rename = "bom-ref", default, skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    /// Group, namespace or vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Name.
    pub name: String,
    /// Version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Hashes of the component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Vec<Hash>>,
    /// Package URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// References outside the BOM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_references: Option<Vec<ExternalReference>>,
    /// Name-value properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Vec<Property>>,
    /// Sub-components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<Component>>,
    /// Everything else (licenses, supplier, evidence, …), verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A hash of a component or reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hash {
    /// Algorithm name as CycloneDX spells it (`SHA-256`, `BLAKE3`, …).
    pub alg: String,
    /// Hex digest.
    pub content: String,
}

/// A reference to something outside the BOM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalReference {
    /// Where.
    pub url: String,
    /// What kind of reference (`vcs`, `website`, `evidence`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Hashes of what the URL points to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Vec<Hash>>,
    /// Everything else, verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One node of the dependency graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// The `bom-ref` (or BOM-Link) of the dependent.
    #[serde(rename = "ref")]
    pub reference: String,
    /// What it depends on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// What it provides (1.6+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provides: Option<Vec<String>>,
    /// Everything else, verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A vulnerability and, for VEX, its analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vulnerability {
    /// Identifier unique within the BOM.
    #[serde(rename = "bom-ref", default, skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    /// CVE, GHSA, … identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Affected components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affects: Option<Vec<Affects>>,
    /// The VEX analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
    /// Everything else (source, ratings, advisories, …), verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A component a vulnerability affects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affects {
    /// The `bom-ref` (or BOM-Link) of the component.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Everything else (versions), verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The VEX analysis of a vulnerability.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Analysis {
    /// `resolved`, `exploitable`, `in_triage`, `false_positive`, `not_affected`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why `not_affected` (`code_not_present`, `code_not_reachable`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Everything else (response, timestamps), verbatim.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A name-value property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// Name (taxonomy-qualified, e.g. `stella:buildId`).
    pub name: String,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Bom {
    /// Rewrites the document as CycloneDX 1.7, the version Stella writes.
    ///
    /// 1.7 reads every 1.4–1.6 field; what changes is the version marker, the schema reference,
    /// and the legacy `metadata.tools` array, which becomes tool components (vendor → group).
    pub fn upgrade_to_written_version(&mut self) {
        self.spec_version = SpecVersion::WRITTEN;
        if self.schema.is_some() {
            self.schema = Some(SpecVersion::WRITTEN.schema_uri());
        }
        let Some(metadata) = self.metadata.as_mut() else {
            return;
        };
        metadata.tools = match metadata.tools.take() {
            Some(Tools::Legacy(tools)) => Some(Tools::Current {
                components: Some(tools.into_iter().map(LegacyTool::into_component).collect()),
                services: None,
            }),
            current => current,
        };
    }

    /// Every component, depth first (metadata.component first, then the component tree).
    pub fn all_components(&self) -> Vec<&Component> {
        fn walk<'a>(list: &'a [Component], out: &mut Vec<&'a Component>) {
            for c in list {
                out.push(c);
                walk(c.components.as_deref().unwrap_or_default(), out);
            }
        }
        let mut out = Vec::new();
        if let Some(c) = self.metadata.as_ref().and_then(|m| m.component.as_deref()) {
            out.push(c);
            walk(c.components.as_deref().unwrap_or_default(), &mut out);
        }
        walk(self.components.as_deref().unwrap_or_default(), &mut out);
        out
    }
}

impl LegacyTool {
    fn into_component(self) -> Component {
        Component {
            kind: "application".to_owned(),
            bom_ref: None,
            group: self.vendor,
            name: self.name.unwrap_or_else(|| "unknown".to_owned()),
            version: self.version,
            hashes: self.hashes,
            purl: None,
            external_references: self.external_references,
            properties: None,
            components: None,
            extra: Extra::new(),
        }
    }
}
