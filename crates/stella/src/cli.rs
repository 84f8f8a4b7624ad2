//! The command-line grammar: every command, flag and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::input::parse_size;

const ABOUT: &str = "Symbol-level supply-chain evidence: canonical SBOM identities, proofs of which \
functions are inside a binary, signed and logged attestations.";

const AFTER_HELP: &str = "\
Exit codes: 0 success or verified; 1 verification or policy failed; 2 bad input or usage; \
3 environment (permission, server unreachable). A question (funcproof query, vex query, \
verify --symbol) answers as grep does: 0 when what was asked is there, 1 when it is not (an \
absent symbol, no statement), the output saying which; 2 and 3 as above.
Logs go to stderr: -v, -vv, -vvv, or STELLA_LOG=<filter> (e.g. STELLA_LOG=debug); coloured only \
on a terminal and when NO_COLOR is empty or unset.";

/// Stella's command line.
#[derive(Debug, Parser)]
#[command(name = "stella", version, about = ABOUT, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Where evidence lives: the OCI layout, the transparency log, keys and the index.
    #[arg(
        long,
        global = true,
        env = "STELLA_HOME",
        default_value = ".stella",
        value_name = "DIR"
    )]
    pub home: PathBuf,
    /// More log output on stderr (repeat for more). STELLA_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// The configuration file (YAML: defaults for any option; see `stella config --help`).
    /// Default: ./stella.yaml, else $XDG_CONFIG_HOME/stella/stella.yaml, when present.
    #[arg(long, global = true, env = "STELLA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A PEM file of certificate authorities trusted for registries over HTTPS, besides the
    /// system's roots (SSL_CERT_FILE replaces those). Repeatable.
    #[arg(long, global = true, env = "STELLA_CA_FILE", value_name = "FILE")]
    pub ca_file: Vec<PathBuf>,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Canonicalise, identify, validate and convert CycloneDX SBOMs.
    #[command(subcommand)]
    Sbom(SbomCommand),
    /// Read, validate, convert, merge and query VEX in three formats (OpenVEX, CycloneDX VEX,
    /// CSAF VEX); attach signed VEX to an image.
    #[command(subcommand)]
    Vex(VexCommand),
    /// The advisory database: import OSV records and RustSec advisories, list and show them.
    #[command(subcommand)]
    Advisories(AdvisoriesCommand),
    /// Which advisories affect an image, per binary and per function: matches the components
    /// of every binary against the advisory database, searches the vulnerable functions in the
    /// binary's verified FuncProof, and writes the verdicts as VEX with their evidence.
    #[command(after_help = ASSESS_HELP)]
    Assess(AssessArgs),
    /// Prove which functions, byte for byte, are inside a binary; verify and query proofs.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "\
Without a subcommand: write the FuncProof of BINARY (stella.funcproof/v1, canonical JSON): its \
identity (GNU BuildID or a fallback id, debug-id, code-id), the BLAKE3 of every executable \
section and .rodata, the file's BLAKE3 and SHA-256, and the exact range and BLAKE3 of every \
function, from .symtab, .dynsym, DWARF and .eh_frame, then x86-64 disassembly of what none of \
them covers (stripped binaries keep exact ranges).

Code a BOLT-optimised binary keeps at its original addresses after moving or folding it (an \
executable .bolt.org.* section, a range known only from its FDE, that no live code, dynamic \
relocation or entry point refers to) is not a function of the program: it is proven apart, \
range and BLAKE3, under `inactive` with the role bolt-original (x86-64).

Examples:
  stella funcproof /usr/lib/x86_64-linux-gnu/libz.so.1 -o libz.funcproof.json
  stella funcproof verify libz.funcproof.json /usr/lib/x86_64-linux-gnu/libz.so.1
  stella funcproof query libz.funcproof.json inflateGetHeader"
    )]
    Funcproof(FuncproofArgs),
    /// Generate signing keys and read their public halves (cosign-compatible key files).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign an in-toto Statement about artifacts: a Sigstore bundle v0.3 with a DSSE envelope.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "\
The predicate is any JSON document; one of Stella's own types (see `stella predicates`) is checked \
against its schema before it is signed. Signing is deterministic: the same statement and key give \
the same bundle, byte for byte. The key file's password comes from STELLA_PASSWORD or \
COSIGN_PASSWORD, or is asked for on a terminal.

Examples:
  stella attest --key cosign.key --type https://example.com/review/v1 --predicate review.json \\
      --subject app=sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 -o app.bundle.json
  stella attest --key cosign.key --type https://stella-ops.org/attestations/funcproof/v1 \\
      --predicate app.funcproof.json --subject-file ./app -o app.funcproof.bundle.json
  stella attest sbom --key cosign.key bom.json -o bom.bundle.json"
    )]
    Attest(AttestArgs),
    /// Verify a signed attestation (Sigstore bundle or DSSE envelope) with a public key, or a
    /// keyless one with the signer's identity; exit 1 with the reason when it does not verify.
    #[command(after_help = "\
Checks, in order: the bundle's media type and structure, a signature by KEY over the DSSE \
pre-authentication encoding, the in-toto payloadType and Statement, the predicate type (--type), \
the subject digests (--subject-digest, --subject-file: every one must be a subject), and a \
predicate of one of Stella's types against its schema.

A keyless bundle (a Fulcio certificate, as GitHub artifact attestations and cosign keyless \
carry) is verified as `stella verify-bundle` verifies it, against the Sigstore trusted root \
(--trusted-root, else the one `stella trust update` stored, else the shipped public-good root), \
for the first --subject-digest/--subject-file (else the statement's first sha256 subject), and \
needs the expected identity and issuer (--certificate-identity[-regexp], \
--certificate-oidc-issuer[-regexp]): without them it is refused (exit 1), as cosign refuses it. \
Then its statement is checked as above.

Examples:
  stella verify-attestation --key cosign.pub app.bundle.json
  stella verify-attestation --key cosign.pub --type https://stella-ops.org/attestations/sbom/v1 \\
      --subject-file bom.json --json bom.bundle.json
  stella verify-attestation app.intoto.sigstore.json --subject-file app.tar.gz \\
      --certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.0 \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com")]
    VerifyAttestation(VerifyAttestationArgs),
    /// Verify any Sigstore bundle offline — keyless (a Fulcio certificate, as GitHub artifact
    /// attestations, cosign keyless and npm/PyPI provenance carry) or key-based — for an
    /// artifact, against a Sigstore trusted root; exit 1 with the reason when it does not verify.
    VerifyBundle(crate::verify_bundle::VerifyBundleArgs),
    /// The transparency log: inspect the embedded log, its entries and proofs, export its
    /// trusted root, prove that it only grew.
    #[command(subcommand)]
    Log(LogCommand),
    /// Evidence as OCI artifacts: attach files to an image as referrers, list referrers (as a
    /// tree), pull an artifact, copy an image with all its referrers.
    Oci(OciArgs),
    /// Scan a directory, root filesystem or image: SBOM, FuncProofs and a symbol bundle, signed,
    /// logged and attached to the image as OCI referrers.
    #[command(after_help = SCAN_HELP)]
    Scan(ScanArgs),
    /// The auditor's replay: verify the evidence the newest trusted record of an image binds,
    /// recompute the SBOM's canonical_id and every FuncProof hash against the image's binaries.
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// The auditor's pack: one file holding an image's evidence, its log proofs and the trust
    /// to check them, verified offline on a machine with nothing else.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Sample the stacks of running processes with eBPF (cpu-clock, in-kernel aggregation) and
    /// write them as canonical frames: collapsed stacks, or JSON with --json.
    #[command(after_help = RECORD_HELP)]
    Record(RecordArgs),
    /// Count every call of named functions with uprobes: exact evidence of execution, with the
    /// callers of the first calls.
    #[command(after_help = WITNESS_HELP)]
    Witness(WitnessArgs),
    /// Name frames: raw (BuildID, offset) lines, collapsed stacks or `perf script` output, from
    /// symbol bundles, the local cache, binaries on disk or debuginfod.
    #[command(after_help = SYMBOLIZE_HELP)]
    Symbolize(SymbolizeArgs),
    /// Replay a verdict: run the assessment again from the inputs its micro-witness,
    /// assessment or score names by digest and compare the result with it byte for byte.
    #[command(after_help = REPLAY_HELP)]
    Replay(ReplayArgs),
    /// The evidence report a person reads: one self-contained HTML file with the image, every
    /// finding and the evidence behind it, the human line of every runtime flip and a flame
    /// graph of the recorded stacks, from evidence that verifies only.
    #[command(after_help = REPORT_HELP)]
    Report(ReportArgs),
    /// The fleet's server: agents on every node push runtime evidence, readers query the
    /// hot-symbol index, verdicts and timelines; the embedded log's API beside them.
    #[command(after_help = SERVE_HELP, args_conflicts_with_subcommands = true)]
    Serve(ServeArgs),
    /// The fleet's sampler on one node: samples processes with eBPF every interval, names the
    /// frames, counts them per (image, BuildID, function, window) and pushes the counts to
    /// `stella serve`, keeping in an on-disk spool what the server has not counted yet.
    #[command(after_help = AGENT_HELP)]
    Agent(AgentArgs),
    /// A deterministic score: every verdict of the assessment placed in CERT/CC's SSVC deployer
    /// decision table, Stella's evidence deciding exposure, the policy the rest; a Statement
    /// that can be signed, attached and replayed.
    #[command(after_help = SCORE_HELP)]
    Score(ScoreArgs),
    /// List Stella's predicate types, or print one's JSON schema.
    #[command(after_help = "\
Examples:
  stella predicates
  stella predicates sbom > sbom-v1.schema.json
  stella predicates --json")]
    Predicates {
        /// A predicate type (URI or short name) whose schema to print.
        #[arg(value_name = "TYPE")]
        name: Option<String>,
        /// List as JSON (with the schemas).
        #[arg(long)]
        json: bool,
    },
    /// What this build of stella is: its version, the commit it was built from, the compiler,
    /// the target and the profile, and the predicate types it writes.
    Version {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a man page (roff, section 1) for stella and for every command into a directory:
    /// `stella.1`, `stella-assess.1`, `stella-audit-export.1`, …
    #[command(after_help = "Example: stella man -o /usr/local/share/man/man1 && man stella-assess")]
    Man {
        /// The directory to write them in (made when missing).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
    /// The configuration file: defaults for any option of any command (flags > environment >
    /// file > built-in defaults).
    #[command(subcommand, after_help = CONFIG_HELP)]
    Config(ConfigCommand),
    /// The Sigstore trusted root: update it from Sigstore's TUF repository (only when asked;
    /// nothing is fetched at verify time), show which one commands use.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(after_help = "Example: stella completions bash > /etc/bash_completion.d/stella")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

const CONFIG_HELP: &str = "\
Where: --config FILE or STELLA_CONFIG (it must exist), else the first of ./stella.yaml and \
$XDG_CONFIG_HOME/stella/stella.yaml (~/.config/stella/stella.yaml).

What: a YAML map. A key at the top is a long option name without its dashes and sets that option \
for every command that has it; a command's name holds a map for that command alone (a command's \
own setting wins over a top-level one); a name that is both (key, sbom, record) is the command \
when its value is a map. Values are strings, numbers, booleans, or lists for repeatable options. A key that is no option or command is an error naming it (exit 2), never \
ignored. A value from the file goes through the same checks as one on the command line; the \
command line and then the environment (STELLA_HOME, …) override it.

Example stella.yaml:
  home: /var/lib/stella
  trusted-root: /etc/stella/trusted-root.json
  plain-http: false
  scan:
    push: true
  assess:
    advisories: [/srv/advisories/osv, /srv/advisories/overlay]
  vex:
    merge:
      policy: /etc/stella/vex-policy.json

  stella config show          the file in effect and what it sets
  stella config show --json";

/// `stella config`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// The configuration file in effect and each setting, with the environment variable that
    /// overrides it where one is set.
    Show {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The image a command is about: `--image REF`, or the reference first without the flag, as
/// cosign and oras take it.
#[derive(Debug, Args)]
pub struct ImageTarget {
    /// The image (oci-layout:PATH[:TAG|@DIGEST] or HOST/REPO[:TAG|@DIGEST]).
    #[arg(
        long = "image",
        value_name = "REF",
        required_unless_present = "image_ref"
    )]
    pub image_flag: Option<String>,
    /// The image, as a positional reference (the same as --image).
    #[arg(value_name = "IMAGE", conflicts_with = "image_flag")]
    pub image_ref: Option<String>,
}

impl ImageTarget {
    /// The reference given, whichever way.
    pub fn take(&mut self) -> String {
        self.image_flag
            .take()
            .or_else(|| self.image_ref.take())
            .unwrap_or_default()
    }
}

/// How much of a document to read.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The document: a path, or - for standard input.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
    /// Refuse inputs larger than this (bytes, or with K, M, G suffixes).
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size)]
    pub max_size: usize,
}

/// `stella sbom …`
#[derive(Debug, Subcommand)]
pub enum SbomCommand {
    /// Print the RFC 8785 canonical form (JCS) of a CycloneDX document: no whitespace, members
    /// sorted by UTF-16 code units, numbers as ECMAScript prints them; no trailing newline.
    #[command(long_about = None, after_help = "\
The input must be I-JSON (RFC 7493): duplicate member names, integers that a double cannot hold \
exactly (beyond ±2^53), lone surrogates and invalid UTF-8 are errors (exit 2) naming the JSON \
pointer and byte offset.

Example: stella sbom canon bom.json > bom.canonical.json")]
    Canon {
        /// What to read.
        #[command(flatten)]
        read: ReadArgs,
        /// Accept any JSON document, not only CycloneDX.
        #[arg(long)]
        any_json: bool,
    },
    /// Print the canonical id of a CycloneDX document: sha256:<hex> of its RFC 8785 form.
    #[command(after_help = "\
The canonical id is the subject digest every Stella attestation carries: \
sha256(JCS(document)). It changes whenever any byte of the canonical form does, including the \
random serialNumber and the metadata.timestamp that generators write anew on every run.

--content leaves those two volatile members out (serialNumber and metadata.timestamp), so two \
generations of the same SBOM share one content id. It is not the canonical id: attestations \
still use the default.

Examples:
  stella sbom id bom.json
  syft … -o cyclonedx-json | stella sbom id -
  stella sbom id --content --json bom.json")]
    Id {
        /// What to read.
        #[command(flatten)]
        read: ReadArgs,
        /// Ignore serialNumber and metadata.timestamp (a content id, stable across generations).
        #[arg(long, conflicts_with = "any_json")]
        content: bool,
        /// Accept any JSON document, not only CycloneDX.
        #[arg(long)]
        any_json: bool,
        /// Print a JSON object with both ids and the spec version.
        #[arg(long)]
        json: bool,
    },
    /// Check a CycloneDX 1.4–1.7 document: the official schema plus what no schema expresses.
    /// Exit 1 listing every problem.
    #[command(after_help = "\
Checks:
  schema     the official CycloneDX JSON schema of the document's specVersion, embedded in \
Stella for 1.4, 1.5, 1.6 and 1.7 (with the SPDX licence list, JSF signatures and 1.7's \
cryptography definitions they refer to); no files or network needed.
  semantic   always: bom-refs are unique; every dependencies ref, dependsOn, provides, \
affects[].ref, composition and annotation subject resolves (BOM-Links into this BOM too); \
purls parse; each hash has its algorithm's length.

A JSON document that is not CycloneDX (another bomFormat, no specVersion) is invalid: exit 1 \
with its problems. Each problem is a JSON pointer and a message; --json prints them as a list.
Exit: 0 valid, 1 problems found, 2 not JSON / a CycloneDX version with no schema / an unusable \
--schema-dir.")]
    Validate {
        /// What to read.
        #[command(flatten)]
        read: ReadArgs,
        /// Directory of official CycloneDX JSON schemas, only needed for a version newer than
        /// the embedded 1.4–1.7 (or a revised schema of one of them): bom-<specVersion>.schema.json
        /// there, when present, is used instead of the embedded schema; the schemas it refers to
        /// (spdx.schema.json, jsf-0.82.schema.json, cryptography-defs.schema.json) are read beside
        /// it, or the embedded copies are used.
        #[arg(long, value_name = "DIR", env = "STELLA_CYCLONEDX_SCHEMAS")]
        schema_dir: Option<PathBuf>,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite a CycloneDX 1.4–1.7, SPDX 2.2/2.3 JSON or SPDX 3.0 JSON-LD document as
    /// CycloneDX 1.7 (or, with --to spdx, as SPDX 2.3 JSON), in canonical form.
    #[command(after_help = crate::sbom::CONVERT_HELP)]
    Convert {
        /// What to read.
        #[command(flatten)]
        read: ReadArgs,
        /// Where and how to write: FILE, or FORMAT[=FILE] with FORMAT cyclonedx-json or
        /// spdx-json, as --to (`-o spdx-json=app.spdx.json`).
        #[arg(short, long, value_name = "FORMAT[=FILE]|FILE")]
        output: Option<PathBuf>,
        /// The format to write.
        #[arg(long, value_enum, default_value = "cyclonedx")]
        to: crate::sbom::ConvertTo,
    },
}

/// Where VEX documents come from, for the commands that read several.
#[derive(Debug, Args)]
pub struct VexSources {
    /// VEX documents (OpenVEX, CycloneDX VEX or an SBOM carrying vulnerabilities, CSAF VEX; the
    /// format is recognised from the document), or - for standard input.
    #[arg(value_name = "FILE|-")]
    pub files: Vec<PathBuf>,
    /// Also read the VEX attached to this image as OCI referrers (OpenVEX, CycloneDX VEX and
    /// CSAF documents, and OpenVEX in Sigstore bundles): oci-layout:PATH[:TAG|@DIGEST] or
    /// HOST/REPO[:TAG|@DIGEST]. Repeatable.
    #[arg(long, value_name = "REF")]
    pub image: Vec<String>,
    /// With --image: the public key every signed VEX attached to the image must verify with.
    /// Without it, signed VEX is read but reported as unchecked.
    #[arg(long, value_name = "PUB", requires = "image")]
    pub key: Option<PathBuf>,
    /// With --image: use plain HTTP for the registry (a local test registry).
    #[arg(long, requires = "image", visible_alias = "plain-http")]
    pub insecure: bool,
    #[command(flatten)]
    pub read: VexReadArgs,
}

/// How VEX documents are read.
#[derive(Debug, Args)]
pub struct VexReadArgs {
    /// The SBOM that standalone CycloneDX VEX points into with BOM-Links (urn:cdx:…): its
    /// components give the products their purls and hashes (CycloneDX, or SPDX read as the
    /// CycloneDX it converts to).
    #[arg(long, value_name = "SBOM")]
    pub sbom: Option<PathBuf>,
    /// The time of CycloneDX statements that carry none (no analysis.firstIssued or lastUpdated,
    /// no metadata.timestamp), RFC 3339. Without it such a statement is an error naming it.
    #[arg(long, value_name = "TIME")]
    pub timestamp: Option<String>,
    /// Refuse documents larger than this (bytes, or with K, M, G suffixes).
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size)]
    pub max_size: usize,
}

/// A VEX format, as the commands spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VexFormatArg {
    /// OpenVEX 0.2.0.
    Openvex,
    /// CycloneDX 1.7 VEX.
    #[value(alias = "cyclonedx-json")]
    Cyclonedx,
    /// CSAF 2.0 VEX.
    Csaf,
}

macro_rules! vex_merge_rules {
    () => {
        "\
Merge rules (the same for merge and query): every statement is split into one claim per \
(vulnerability, product, subcomponent). Vulnerability names any statement links as aliases are \
one vulnerability; spellings of one product are one product (purl percent-encoding, %2F and / \
in Go namespaces; tag, digest and pkg:oci forms of one image; escaped and unescaped bom-refs). \
In each group the effective statement is the one with, in order:
  1. the higher source priority (--policy; default: all sources equal),
  2. the later timestamp (a statement without its own takes its document's),
  3. the more conservative status: affected > under_investigation > fixed > not_affected,
  4. the smaller (source canonical id, statement index), so that equal claims still give one answer.
The result does not depend on the order of the inputs. Every effective statement keeps what it \
superseded: source, status, justification label, time, and the rule that decided."
    };
}

macro_rules! vex_policy_help {
    () => {
        "\
Policy file (JSON):
  {\"schema\": \"stella.vex-policy/v1\",
   \"author\": \"ACME Security\",
   \"sources\": [{\"author\": \"ACME\", \"priority\": 10},
               {\"file\": \"vendor.openvex.json\", \"priority\": 20},
               {\"document\": \"sha256:<canonical id>\", \"priority\": 30}]}
A source is named by its document's canonical id, by a FILE given on the command line, or by \
the author (OpenVEX author, CycloneDX metadata author, CSAF publisher); a document's own \
priority wins over its author's. Unnamed sources have priority 0. \"author\" names the merged \
document's author (default Stella)."
    };
}

const VEX_MERGE_HELP: &str = concat!(
    "Reads every FILE and the VEX attached to every --image, merges, and writes one document \
(OpenVEX by default). Its id is derived from the inputs' canonical ids; its timestamp is the \
latest input timestamp (the clock is never read). Files are checked first (a missing one is \
named before any is read), then read and parsed a few ahead of the merge, on every CPU, so \
memory holds the merge and a few documents, not every input.\n\n",
    vex_merge_rules!(),
    "\n\n",
    vex_policy_help!(),
    "\n\nExamples:\n  stella vex merge vendor.openvex.json distro.csaf.json scanner.cdx.json -o merged.json\n  \
stella vex merge --policy policy.json --explain --to csaf *.json"
);

const VEX_QUERY_HELP: &str = concat!(
    "Products match as users expect: a statement about a versionless purl speaks for every \
version; the statement's purl qualifiers must be a subset of the product's; tag, digest and \
pkg:oci forms of one image are one product. When several statements speak about the product \
(one about pkg:cargo/hyper, one about pkg:cargo/hyper@1.4.0), the effective one is chosen by \
the merge rules below. Without --product, every product's effective statement is listed.\n\n",
    vex_merge_rules!(),
    "\n\nExit: 0 an answer, 1 no statement speaks about it, 2 bad input.\n\nExamples:\n  \
stella vex query --vuln CVE-2024-3094 --product pkg:deb/debian/xz-utils@5.6.0 vendor.json distro.csaf.json\n  \
stella vex query --json --vuln GHSA-xxxx-xxxx-xxxx --image registry.example/app:1.2"
);

/// `stella vex …`
#[derive(Debug, Subcommand)]
pub enum VexCommand {
    /// Check VEX documents against their format's official schema and profile rules. Exit 1
    /// listing every problem with its JSON pointer.
    #[command(after_help = "\
The format is recognised from each document: OpenVEX (@context https://openvex.dev/ns…), \
CycloneDX (bomFormat), CSAF (document.csaf_version). Checks:
  schema    the official schema, embedded: OpenVEX 0.2.0 (affected needs action_statement, \
not_affected a justification or impact_statement); CycloneDX 1.4-1.7 with the SBOM checks; \
CSAF 2.0 with the FIRST CVSS schemas.
  profile   what the schema cannot say: OpenVEX statement @ids are unique; CSAF VEX profile \
tests 6.1.27.4-11 (product tree, notes, product status, a VEX status, cve or ids, an impact \
statement for every known_not_affected product, a remediation for every known_affected one) and \
6.1.1/6.1.2 (product ids defined, once).
  read      the document reads into Stella's model (a status no format knows, a relationship \
cycle, a statement with no time).
Warnings (an unknown justification label, a BOM-Link into another SBOM) are listed and do not \
fail a document.
Exit: 0 all valid, 1 problems found, 2 a file that is not JSON or not VEX.

Examples:
  stella vex validate vendor.openvex.json distro.csaf.json
  stella vex validate --json --sbom bom.json scanner.cdx.json")]
    Validate {
        #[command(flatten)]
        sources: VexSources,
        /// Print the reports as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite a VEX document in another format (or its own, canonical).
    #[command(after_help = "\
Status mapping: OpenVEX affected / fixed / under_investigation / not_affected = CycloneDX \
exploitable / resolved / in_triage / not_affected = CSAF known_affected / fixed / \
under_investigation / known_not_affected. Justifications with no counterpart keep their \
original label (CycloneDX properties stella:vex:justification, OpenVEX status_notes, CSAF \
notes), so a round trip keeps every label. The output is RFC 8785 canonical JSON and valid \
against the target format's schema.

With --to cyclonedx and --sbom, the statements are written into that SBOM's vulnerabilities, \
their affects naming the SBOM's own components (by bom-ref); without --sbom, as standalone VEX.

Examples:
  stella vex convert vendor.openvex.json --to csaf -o vendor.csaf.json
  stella vex convert distro.csaf.json --to openvex
  stella vex convert vendor.openvex.json --to cyclonedx --sbom bom.json -o bom+vex.json
  stella vex convert --image oci-layout:img:app --key release.pub --to csaf

Convert takes one document: a FILE, or the one VEX document attached to --image (several are \
merged with stella vex merge).")]
    Convert {
        /// The document: FILE, - for standard input, or --image.
        #[command(flatten)]
        sources: VexSources,
        /// The format to write (or -o FORMAT[=FILE]).
        #[arg(long, value_enum, required_unless_present = "output")]
        to: Option<VexFormatArg>,
        /// Where and how to write: FILE, or FORMAT[=FILE] with FORMAT openvex, cyclonedx
        /// (cyclonedx-json) or csaf, as --to (`-o csaf=vendor.csaf.json`).
        #[arg(short, long, value_name = "FORMAT[=FILE]|FILE")]
        output: Option<PathBuf>,
    },
    /// Merge VEX documents into one: the effective statement per (vulnerability, product,
    /// subcomponent), by documented rules, the same bytes whatever the input order.
    #[command(after_help = VEX_MERGE_HELP)]
    Merge {
        #[command(flatten)]
        sources: VexSources,
        /// Source priorities and the merged document's author (see below).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// The format to write.
        #[arg(long, value_enum, default_value = "openvex")]
        to: VexFormatArg,
        /// Say on stderr, for each effective statement, which statement of which document won
        /// over which, and by which rule.
        #[arg(long)]
        explain: bool,
        /// The merged document's time: RFC 3339, or `now` for the clock. Default: the latest
        /// time of any input, so the same inputs always give the same bytes.
        #[arg(long, value_name = "TIME|now")]
        issued: Option<String>,
        /// Where and how to write: FILE, or FORMAT[=FILE] with FORMAT openvex, cyclonedx
        /// (cyclonedx-json) or csaf, as --to.
        #[arg(short, long, value_name = "FORMAT[=FILE]|FILE")]
        output: Option<PathBuf>,
    },
    /// The effective status of a vulnerability (in a product): which statement of which
    /// document won, and why. Exit 1 when no statement speaks about it.
    #[command(after_help = VEX_QUERY_HELP)]
    Query {
        #[command(flatten)]
        sources: VexSources,
        /// The vulnerability: CVE, GHSA, GO-, RUSTSEC- or any id or alias the documents use.
        #[arg(long, value_name = "ID")]
        vuln: String,
        /// The product: a purl, an image (pkg:oci/…, REPO@sha256:…, REPO:TAG), a BOM-Link or an id.
        #[arg(long, value_name = "P")]
        product: Option<String>,
        /// A subcomponent of the product (a purl, BOM-Link or id).
        #[arg(long, value_name = "S", requires = "product")]
        subcomponent: Option<String>,
        /// Source priorities (as for merge).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Print the answer as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Sign a VEX document as an in-toto Statement, log it and attach it to an image as an OCI
    /// referrer.
    #[command(after_help = "\
The document is validated first (as stella vex validate; a document with problems is refused, \
exit 1). It becomes the predicate of an in-toto Statement whose subject is the image's manifest \
digest: predicate type https://openvex.dev/ns/v0.2.0 for OpenVEX, https://cyclonedx.org/vex \
for CycloneDX, https://docs.oasis-open.org/csaf/csaf/v2.0 for CSAF. The Statement is signed \
(DSSE), logged in the embedded log of --home, and attached beside the document itself as a \
Sigstore bundle referrer. Without --key, the default key $STELLA_HOME/keys/stella.key (made on \
first use, as stella scan does).

Example: stella vex attach --image oci-layout:./img:app vendor.openvex.json")]
    Attach {
        /// The image: oci-layout:PATH[:TAG|@DIGEST] or HOST/REPO[:TAG|@DIGEST].
        #[arg(long, value_name = "REF")]
        image: String,
        /// The signing key (cosign format; password from STELLA_PASSWORD or the terminal).
        #[arg(long, value_name = "KEY")]
        key: Option<PathBuf>,
        /// Use plain HTTP for the registry.
        #[arg(long, visible_alias = "plain-http")]
        insecure: bool,
        /// The VEX document.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        read: VexReadArgs,
        /// Print what was attached as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where the index lives.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// The database: sqlite://PATH (default: $STELLA_HOME/stella.db, made on first use) or
    /// postgres://USER@HOST/DB.
    #[arg(long, value_name = "URL", env = "STELLA_DB")]
    pub db: Option<String>,
}

/// `stella advisories …`
#[derive(Debug, Subcommand)]
pub enum AdvisoriesCommand {
    /// Import advisories: OSV records (.json files, directories of them such as the Go
    /// vulnerability database, or an ecosystem export zip such as OSV's all.zip), RustSec
    /// advisories (RUSTSEC-*.md files, or an advisory-db checkout), Stella's overlay
    /// (advisories/overlay), and http(s) URLs of a file or a zip.
    #[command(after_help = "\
Everything is fetched, unpacked, read and checked before anything is written; the import is one \
transaction, so a malformed record leaves the database as it was (exit 2, naming the file and the \
place), unless --skip-invalid names it and goes on. A zip is refused whole, naming the entry, when \
an entry's name is absolute or has a '..' component, when an entry inflates past 16 MiB or more \
than 100 times its compressed size (above 64 KiB), or when the archive inflates past 2 GiB; a URL \
is refused when its server answers other than 2xx or sends more than 1 GiB. An advisory already \
in the database is replaced only by a later `modified` (RustSec: its date); one imported from \
another source under the same id is kept and the new one skipped by name. RustSec advisories keep \
each vulnerable function's version requirements; records with a STELLA- id are stored as the \
overlay.

Examples:
  stella advisories import ~/src/advisory-db
  stella advisories import osv/GO-2022-0969.json vulndb/data/osv/
  stella advisories import advisories/overlay
  stella advisories import PyPI-all.zip https://mirror.example/osv/Go/all.zip
  stella advisories import --json --skip-invalid feeds/")]
    Import {
        /// Files, directories, zip exports or http(s) URLs.
        #[arg(value_name = "PATH|URL", required = true)]
        paths: Vec<PathBuf>,
        /// Skip (and name) records that cannot be read instead of importing nothing.
        #[arg(long)]
        skip_invalid: bool,
        #[command(flatten)]
        db: DbArgs,
        /// Print what was imported as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List advisories, by id.
    List {
        /// Only those affecting this OSV ecosystem (Go, crates.io, PyPI, Debian, …).
        #[arg(long, value_name = "ECOSYSTEM")]
        ecosystem: Option<String>,
        /// Only those affecting this package (with --ecosystem).
        #[arg(long, value_name = "NAME", requires = "ecosystem")]
        package: Option<String>,
        #[command(flatten)]
        db: DbArgs,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one advisory, by id or alias (CVE, GHSA): its packages, symbols and document.
    Show {
        /// The id or an alias.
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        db: DbArgs,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `stella funcproof …`
#[derive(Debug, Args)]
pub struct FuncproofArgs {
    /// verify or query an existing proof.
    #[command(subcommand)]
    pub command: Option<FuncproofCommand>,
    /// The binary to prove (ELF; PE and Mach-O: identity and sections).
    #[arg(value_name = "BINARY")]
    pub binary: Option<PathBuf>,
    /// Write the proof here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also record the direct call graph (calls and tail jumps; PLT/GOT calls by imported name).
    #[arg(long)]
    pub callgraph: bool,
    /// Trace entry points (glob, repeatable); with --sink, stores the shortest path from each
    /// entry to each sink, or an empty path when there is none. Implies --callgraph.
    #[arg(long, value_name = "GLOB")]
    pub entry: Vec<String>,
    /// Trace sinks (glob, repeatable), e.g. --sink inflateGetHeader. Implies --callgraph.
    #[arg(long, value_name = "GLOB")]
    pub sink: Vec<String>,
    /// Leave out the demangled names (most of the work on a large C++ library); `query` still
    /// matches demangled names, demangling as it reads.
    #[arg(long)]
    pub no_demangle: bool,
}

/// `stella funcproof verify | query`
#[derive(Debug, Subcommand)]
pub enum FuncproofCommand {
    /// Derive PROOF again from BINARY; exit 1 listing everything that differs: identity, file,
    /// sections, and every function's range, hash and names (and the call graph and traces).
    Verify {
        /// The FuncProof JSON.
        proof: PathBuf,
        /// The binary it should describe.
        binary: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Is SYMBOL in the proven binary? Present: its range and hash (exit 0). Absent: exit 1.
    /// The answer is the proof's: without --binary it is only as true as PROOF.
    #[command(after_help = "\
SYMBOL is a glob (*, ?, [...]) or an exact name, matched against the mangled name, every alias \
and the demangled name, which also matches without its generic arguments and parameters \
(openssl::ssl::select_next_proto matches openssl::ssl::select_next_proto<T>(...)).

query trusts the proof it is given: a proof whose names were edited answers for the edited \
names. Run `stella funcproof verify PROOF BINARY` first, or give --binary, which verifies PROOF \
against BINARY before answering and exits 2 without an answer when they differ (exit 1 means \
absent, never unverified).")]
    Query {
        /// The FuncProof JSON.
        proof: PathBuf,
        /// The symbol or glob.
        symbol: String,
        /// Verify PROOF against this binary first (as `funcproof verify` does); answer only if
        /// it matches.
        #[arg(long, value_name = "BINARY")]
        binary: Option<PathBuf>,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `stella key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a key pair: PREFIX.key (cosign's encrypted format) and PREFIX.pub (PEM SPKI).
    #[command(after_help = "\
The password comes from STELLA_PASSWORD or COSIGN_PASSWORD, or is asked for twice on a \
terminal. The private key is encrypted as cosign encrypts it (scrypt N=65536, r=8, p=1; NaCl \
secretbox), so cosign reads it and Stella reads cosign's.

Example: STELLA_PASSWORD=... stella key generate --out release")]
    Generate {
        /// The signature algorithm.
        #[arg(long, default_value = "ecdsa-p256", value_parser = ["ecdsa-p256", "ed25519"])]
        algorithm: String,
        /// Write PREFIX.key and PREFIX.pub.
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
        /// Print the key id and paths as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the public key (PEM) of a private or public key file, with --json its key id too.
    Public {
        /// The key file (PREFIX.key, cosign.key or a .pub).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Print algorithm, key id (bundle hint) and PEM as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The output form of a signed attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignedFormat {
    /// A Sigstore bundle v0.3 (application/vnd.dev.sigstore.bundle.v0.3+json).
    Bundle,
    /// The bare DSSE envelope.
    Dsse,
}

/// Where the signature and its output go.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The private key (cosign encrypted format, or unencrypted PKCS#8). Repeat to sign with
    /// several keys: one envelope, one signature each (they share the password).
    #[arg(long, value_name = "KEY")]
    pub key: Vec<PathBuf>,
    /// Write here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output form.
    #[arg(long, value_enum, default_value = "bundle")]
    pub format: SignedFormat,
    /// Do not append the signature to the transparency log (by default it goes to the embedded
    /// log in $STELLA_HOME/log and the bundle carries the entry with its inclusion proof).
    #[arg(long, conflicts_with = "log_url")]
    pub no_tlog: bool,
    /// Append to this Rekor v2-compatible log (e.g. `stella log serve`) instead of the embedded
    /// one: `POST <URL>/api/v2/log/entries`, with a 30 s timeout and retries when it is busy.
    #[arg(long, value_name = "URL")]
    pub log_url: Option<String>,
}

/// `stella attest`
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// Attest an SBOM with the SBOM wrapper predicate.
    #[command(subcommand)]
    pub command: Option<AttestCommand>,
    /// Key and output.
    #[command(flatten)]
    pub sign: SignArgs,
    /// The predicate type: a URI, or a short name: Stella's (funcproof, micro-witness, record,
    /// sbom, score) or cosign's (cyclonedx, spdx, spdxjson, openvex, vuln, link,
    /// slsaprovenance, slsaprovenance02, slsaprovenance1, custom), meaning what they mean there.
    #[arg(long = "type", value_name = "URI|NAME")]
    pub predicate_type: Option<String>,
    /// The predicate: a JSON file, or - for stdin.
    #[arg(long, value_name = "FILE")]
    pub predicate: Option<PathBuf>,
    /// A subject: NAME=sha256:HEX (repeatable).
    #[arg(long, value_name = "NAME=sha256:HEX")]
    pub subject: Vec<String>,
    /// A subject by file: its name and SHA-256 (repeatable).
    #[arg(long, value_name = "FILE")]
    pub subject_file: Vec<PathBuf>,
}

/// `stella attest sbom`
#[derive(Debug, Subcommand)]
pub enum AttestCommand {
    /// Sign a CycloneDX SBOM in the SBOM wrapper predicate; the subject digest is its
    /// canonical_id.
    #[command(after_help = "\
The predicate is {bom_format, bom, producer, timestamp}; the subject is the SBOM (name from \
--name, else its metadata.component name and version, else the file name) with its canonical_id \
(sha256 of its RFC 8785 form) as digest, so `stella sbom id` finds the attestation of any \
re-serialisation of the same SBOM. timestamp is --timestamp, else SOURCE_DATE_EPOCH, else now.

Example: stella attest sbom --key cosign.key bom.json -o bom.bundle.json")]
    Sbom {
        /// Key and output.
        #[command(flatten)]
        sign: SignArgs,
        /// The SBOM (CycloneDX JSON), or - for stdin.
        #[arg(value_name = "SBOM")]
        bom: PathBuf,
        /// The subject name.
        #[arg(long)]
        name: Option<String>,
        /// The predicate's timestamp (RFC 3339 UTC, e.g. 2026-01-01T00:00:00Z).
        #[arg(long)]
        timestamp: Option<String>,
        /// Refuse SBOMs larger than this.
        #[arg(long, value_name = "SIZE", default_value = "8M", value_parser = parse_size)]
        max_size: usize,
    },
}

/// `stella verify-attestation`
#[derive(Debug, Args)]
pub struct VerifyAttestationArgs {
    /// The public key (PEM SPKI, e.g. cosign.pub) of a key-based bundle or envelope.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
    /// The identity a keyless bundle's certificate must bind.
    #[command(flatten)]
    pub identity: crate::verify_bundle::IdentityArgs,
    /// The Sigstore bundle or DSSE envelope, or - for stdin.
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// Require this predicate type: a URI or a short name, as `stella attest --type` takes
    /// (`cyclonedx`, `openvex` — either OpenVEX URI, versioned or not —, `sbom`, …).
    #[arg(long = "type", value_name = "URI|NAME")]
    pub predicate_type: Option<String>,
    /// Require a subject with this digest (repeatable).
    #[arg(long, value_name = "sha256:HEX")]
    pub subject_digest: Vec<String>,
    /// Require a subject with this file's SHA-256 (repeatable).
    #[arg(long, value_name = "FILE")]
    pub subject_file: Vec<PathBuf>,
    /// The Sigstore trusted root naming the transparency logs whose entries are accepted
    /// (`stella log trusted-root` writes the embedded log's). Default: the embedded log's, when
    /// $STELLA_HOME/log exists. For a keyless bundle, the root of its certificate authorities,
    /// logs and timestamp authorities (default: updated, else shipped public-good).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Fail unless the bundle carries at least one verified log entry.
    #[arg(long)]
    pub require_tlog: bool,
    /// The log server to ask for consistency proofs (its tile API) when a checkpoint must be
    /// compared with the one remembered in $STELLA_HOME/witness; the embedded log answers for
    /// itself.
    #[arg(long, value_name = "URL")]
    pub log_url: Option<String>,
    /// Print the result (and on success the statement) as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `stella log …` (the embedded log in $STELLA_HOME/log)
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Origin, size, root hash, log id and checkpoint key of the log.
    Info {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Append raw entries (each FILE's bytes, at most 64 KiB) as one durable batch; prints the
    /// first index and the new checkpoint. `stella attest` appends signatures itself; this is
    /// for other evidence logged by digest, and for tests.
    Append {
        /// The entries.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the log over HTTP: Rekor v2 `POST /api/v2/log/entries` (batched, durable before
    /// the answer; 409 with x-log-index for an entry already logged; 503 when the queue is
    /// full) and the C2SP tlog-tiles read API (`/checkpoint`, `/tile/...`). Stops cleanly on
    /// Ctrl-C or SIGTERM.
    Serve {
        /// The log directory (default: $STELLA_HOME/log); created when missing.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:3000")]
        addr: String,
        /// The origin (log name) of a log created now: the host name clients reach it by.
        #[arg(long)]
        origin: Option<String>,
        /// Requests waiting to be appended before new ones get 503.
        #[arg(long, default_value = "4096")]
        max_pending: usize,
    },
    /// Print entry N (its logged body: canonical JSON).
    Get {
        /// The entry's index.
        index: u64,
    },
    /// The inclusion proof of entry N in the current tree (or one of --size entries).
    Inclusion {
        /// The entry's index.
        #[arg(long)]
        index: u64,
        /// Tree size (default: the current checkpoint's).
        #[arg(long)]
        size: Option<u64>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the Sigstore trusted root that names this log (for verify-attestation
    /// --trusted-root and for sigstore-js / sigstore-go).
    TrustedRoot {
        /// The log directory (default: $STELLA_HOME/log), e.g. the --dir of `stella log serve`.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Write here instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Check every file of the log against its signed checkpoint (entries → leaf hashes →
    /// tiles → root) and the checkpoint this machine remembers for it; list each damaged or
    /// missing file. Exit 0 when clean (or all repaired), 1 when damage remains.
    Fsck {
        /// The log directory (default: $STELLA_HOME/log), e.g. the --dir of `stella log serve`.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Rebuild what can be recomputed from intact data (hash tiles from the entries, a
        /// partial tile from a wider copy, the origin from the checkpoint), and move a damaged
        /// remembered checkpoint aside; say what needs a backup.
        #[arg(long)]
        repair: bool,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Prove that the log only grew: OLD (a signed checkpoint saved earlier) is a prefix of NEW
    /// (default: the current checkpoint). Exit 1 with the reason when it is not.
    VerifyConsistency {
        /// An earlier signed checkpoint (the note text).
        old: PathBuf,
        /// A later signed checkpoint (default: the log's current one).
        new: Option<PathBuf>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `stella oci …` and its shared options.
#[derive(Debug, Args)]
pub struct OciArgs {
    /// Allow plain HTTP to registries that are not on the loopback interface.
    #[arg(long, global = true, visible_alias = "plain-http")]
    pub insecure: bool,
    /// The command.
    #[command(subcommand)]
    pub command: OciCommand,
}

/// `stella oci …`. REF is `oci-layout:PATH[:TAG|@DIGEST]` (an OCI image layout directory) or
/// `HOST[:PORT]/REPO[:TAG|@DIGEST]` (a registry).
#[derive(Debug, Subcommand)]
pub enum OciCommand {
    /// Attach FILEs to the image REF as one artifact (an OCI 1.1 manifest whose subject is the
    /// image); prints the artifact's digest.
    Attach {
        /// The image the evidence is about.
        #[arg(long, value_name = "REF")]
        image: String,
        /// The artifact type, e.g. application/vnd.stellaops.funcproof+json.
        #[arg(long, value_name = "TYPE")]
        artifact_type: String,
        /// Media type of the files (default: the artifact type).
        #[arg(long, value_name = "TYPE")]
        media_type: Option<String>,
        /// An annotation on the artifact manifest (repeatable).
        #[arg(long, value_name = "KEY=VALUE")]
        annotation: Vec<String>,
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The referrers of REF, and theirs, as a tree.
    Referrers {
        /// The image or artifact.
        reference: String,
        /// Only referrers of this artifact type (at the first level).
        #[arg(long, value_name = "TYPE")]
        artifact_type: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the files of the artifact REF@DIGEST into DIR (named by their title annotation).
    Pull {
        /// The artifact.
        reference: String,
        /// The directory to write into.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
    /// Copy the image SRC with all its referrers, recursively, to DST, byte for byte.
    Copy {
        /// Source.
        src: String,
        /// Destination (its tag, when given, names the copy).
        dst: String,
        /// Print what was copied as JSON.
        #[arg(long)]
        json: bool,
    },
}

const SCAN_HELP: &str = "\
TARGET is a directory or root filesystem, an image in an OCI layout (oci-layout:PATH[:TAG|@DIGEST]) \
or a registry image (HOST[:PORT]/REPO[:TAG|@DIGEST]). A directory is first packed as a \
single-layer image at --image (default oci-layout:$STELLA_HOME/oci:<directory name>), so the \
evidence always refers to an image digest; an image's layers are unpacked safely (whiteouts, no \
path traversal, no device files, size limits) into a temporary directory.

Then every ELF, PE and Mach-O file is found; each distinct binary gets a FuncProof; the SBOM \
(CycloneDX 1.7) lists the OS packages (dpkg, apk), Python distributions, the crates cargo \
auditable embedded, and every binary with its hashes, BuildID and FuncProof; --sbom enriches an \
SBOM from syft, cdxgen or cyclonedx-py instead. The SBOM (subjects: its canonical_id and the \
image) and each FuncProof (subject: the binary) are signed, logged, and attached with a symbol \
bundle and the artifact record as referrers of the image: in the image's own layout, in \
$STELLA_HOME/oci for a registry image (with a copy of the image), or in the registry with --push.

Without --key, $STELLA_HOME/keys/stella.key is used, and created on first use with the password \
from STELLA_PASSWORD or COSIGN_PASSWORD, or asked twice on a terminal (never an empty one). \
$STELLA_HOME and the key files are never packed into a scanned directory's image. Same inputs, \
same key: same bytes.

Examples:
  stella scan /usr/lib/x86_64-linux-gnu
  stella scan ./rootfs --image oci-layout:out:app-1.0 --key cosign.key --json
  stella scan localhost:5000/app:1.0 --push";

const VERIFY_HELP: &str = "\
The artifact record decides what is checked. Every record attached to the image is read and its \
signature checked against the trusted keys (--key, repeatable; default \
$STELLA_HOME/keys/stella.pub). The newest record signed by a trusted key decides (or the one \
--record names); only what it binds by digest is used: its SBOM, the FuncProofs the SBOM names, \
the symbol bundle. Evidence signed by another key is listed as untrusted and ignored, older trusted \
records as superseded: push access to the image can neither block the verification nor stand in \
for the trusted evidence.

For each artifact used: its signature by a trusted key, its transparency-log entry (inclusion in a \
checkpoint signed by a log of --trusted-root, default the embedded log's, consistency with every \
checkpoint seen before, and, when that log is at hand, that it still holds the entry), the \
statement's subjects (the SBOM's recomputed canonical_id and the image digest; each binary's \
sha256), every FuncProof the SBOM names attached and replayed at every path of its binary against \
the image's own layers (or --rootfs), every symbol table belonging to a verified FuncProof. Exit 0 \
only when a trusted record decided and everything it binds holds; nothing checked, an empty \
artifact, or anything that cannot be proven is exit 1, naming the artifact, the binary and the \
function.

--symbol NAME answers whether the symbol is in any binary of the image (binary, BuildID, range, \
BLAKE3, log entry) or absent from all of them (with the FuncProofs that show it). As grep does, \
the exit code is the answer: 0 when the evidence verifies and every symbol asked is present, 1 \
when one is absent or anything fails to verify (the output, and `verified` in --json, say which).

Examples:
  stella verify --image oci-layout:.stella/oci:x86_64-linux-gnu
  stella verify --image oci-layout:image --key cosign.pub --trusted-root log.trustedroot.json --json
  stella verify --image oci-layout:image --rootfs /srv/deployed --symbol inflateGetHeader";

/// `stella scan`
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// A directory or root filesystem, an OCI layout image or a registry image.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Where a scanned directory is packed as an image (oci-layout:PATH:TAG or a registry
    /// reference with --push). Default: oci-layout:$STELLA_HOME/oci:<directory name>.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// The signing key (cosign format). Default: $STELLA_HOME/keys/stella.key, created on first
    /// use.
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Enrich this CycloneDX or SPDX SBOM (from syft, cdxgen, cyclonedx-py, npm sbom, …) instead
    /// of generating one: binaries are matched to its components by path, hash or purl.
    #[arg(long, value_name = "FILE")]
    pub sbom: Option<PathBuf>,
    /// The CycloneDX version of the enriched SBOM: 1.5, 1.6 or 1.7, never earlier than the
    /// --sbom file's (default: the file's own).
    #[arg(long, value_name = "VERSION", requires = "sbom", value_parser = crate::scan::parse_spec_version)]
    pub spec_version: Option<stella_sbom::SpecVersion>,
    /// Attach the evidence in the image's registry (default: in the local layout).
    #[arg(long)]
    pub push: bool,
    /// Allow plain HTTP to registries that are not on the loopback interface.
    #[arg(long, visible_alias = "plain-http")]
    pub insecure: bool,
    /// Append to this Rekor v2-compatible log instead of the embedded one.
    #[arg(long, value_name = "URL")]
    pub log_url: Option<String>,
    /// The SBOM's timestamp (RFC 3339 UTC). Default: SOURCE_DATE_EPOCH, else the image's
    /// creation time (for a directory: its newest file), so a re-scan gives the same bytes.
    #[arg(long)]
    pub timestamp: Option<String>,
    /// Also write the artifact record (canonical JSON) here.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Also write the SBOM (canonical JSON) here (as `-o cyclonedx-json=FILE`).
    #[arg(long, value_name = "FILE")]
    pub sbom_out: Option<PathBuf>,
    /// What to write, as syft takes it (repeatable): `table` or `json` for the summary on
    /// standard output (as --json), `cyclonedx-json=FILE` for the SBOM (as --sbom-out),
    /// `spdx-json=FILE` for the SBOM as SPDX 2.3.
    #[arg(short, long, value_name = "FORMAT[=FILE]")]
    pub output: Vec<PathBuf>,
    /// The SBOM as SPDX 2.3 here (from `-o spdx-json=FILE`).
    #[arg(skip)]
    pub spdx_out: Option<PathBuf>,
    /// Skip files larger than this.
    #[arg(long, value_name = "SIZE", default_value = "2G", value_parser = parse_size)]
    pub max_binary_size: usize,
    /// Worker threads for FuncProofs (default: one per CPU).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `stella assess`
#[derive(Debug, Args)]
pub struct AssessArgs {
    /// The image to assess (its evidence from `stella scan` must verify).
    #[command(flatten)]
    pub target: ImageTarget,
    /// The image (--image or IMAGE), filled in after parsing.
    #[arg(skip)]
    pub image: String,
    /// Where the advisories come from (repeatable): a database URL (sqlite://PATH,
    /// postgres://…), or advisory files and directories (OSV .json, RUSTSEC-*.md) read without
    /// importing. Default: the database of `stella advisories import`.
    #[arg(long, value_name = "DB|PATH")]
    pub advisories: Vec<String>,
    /// Vulnerabilities to answer even when nothing matches (repeatable; any id or alias).
    #[arg(long, value_name = "ID")]
    pub vuln: Vec<String>,
    /// Prior VEX to merge with the verdicts (repeatable; OpenVEX, CycloneDX or CSAF).
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// The policy (stella.vex-policy/v1): the merge's source priorities for --vex, as `stella
    /// vex merge --policy`, and how runtime evidence is weighed and the gate (see below).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Witness reports (`stella witness --json`, repeatable): calls counted → affected; zero
    /// calls on every instance → not_affected (vulnerable_code_not_in_execute_path) until the
    /// zero expires.
    #[arg(long, value_name = "REPORT")]
    pub witness: Vec<PathBuf>,
    /// Profiles (`stella record --json`, repeatable): a vulnerable function in sampled stacks →
    /// affected. Not seeing it proves nothing.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Vec<PathBuf>,
    /// How long after its window a witnessed zero still justifies not_affected. Default: the
    /// policy's runtime.neverExecutedValidFor, else 7d.
    #[arg(long, value_name = "DURATION", value_parser = crate::input::parse_duration)]
    pub zero_valid_for: Option<std::time::Duration>,
    /// Print the effective policy (each setting and where it comes from) and the rule behind
    /// each verdict, on stderr.
    #[arg(long)]
    pub explain: bool,
    /// A public key whose signatures on the image's evidence are trusted (repeatable).
    /// Default: $STELLA_HOME/keys/stella.pub.
    #[arg(long, value_name = "PUB")]
    pub key: Vec<PathBuf>,
    /// The Sigstore trusted root naming the accepted transparency logs.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Also replay every FuncProof against the image's layers before using it.
    #[arg(long)]
    pub replay: bool,
    /// Output: a table, the evidence as JSON, VEX in one of three formats, or SARIF 2.1.0.
    #[arg(long, value_enum, default_value = "table")]
    pub format: AssessFormat,
    /// Where and how to write: FILE, or FORMAT[=FILE] with FORMAT one of table, json, openvex,
    /// cyclonedx (cyclonedx-json), csaf, sarif, as --format (`-o openvex=app.vex.json`).
    #[arg(short, long, value_name = "FORMAT[=FILE]|FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a final statement is at least this severe.
    #[arg(long, value_enum, value_name = "STATUS")]
    pub fail_on: Option<FailOn>,
    /// Sign the VEX (OpenVEX) and the evidence, log them and attach them to the image.
    #[arg(long)]
    pub attach: bool,
    /// The signing key for --attach (cosign format). Default: the key of `stella scan`.
    #[arg(long, value_name = "KEY", requires = "attach")]
    pub sign_key: Option<PathBuf>,
    /// When the statements were made: an RFC 3339 time, or `now`. Default: the SBOM's time.
    #[arg(long, value_name = "TIME")]
    pub issued: Option<String>,
    /// The VEX author.
    #[arg(long, value_name = "NAME", default_value = "Stella")]
    pub author: String,
    /// Allow plain HTTP to registries that are not on the loopback interface.
    #[arg(long, visible_alias = "plain-http")]
    pub insecure: bool,
}

const REPLAY_HELP: &str = "\
TOKEN|FILE is what to make again: a micro-witness (a runtime verdict), an assessment (the evidence \
document behind the VEX verdicts, `stella assess --format json`) or a score (`stella score -o`), \
as a file (the predicate, or an in-toto Statement carrying it), or by its replay token \
(`replayToken`, `sha256:…`), looked up among the micro-witnesses, assessments and scores attached \
to the image (or packed) and signed by a trusted key. Its `replay` record names every input by \
digest: the SBOM, the FuncProofs, the advisory documents, the witness reports, profiles and prior \
VEX, the policy (how long a zero holds, whether samples alone say affected, the score settings) \
and the time it was made; `replayToken` is the SHA-256 of that record's RFC 8785 form, so a \
record changed after the fact is refused first.

Each input is fetched by its digest: the image's evidence from the image (--image) or the pack \
(--from, verified as `stella audit verify` does, on an empty home, without network); the \
advisory documents from --advisories, the pack, or the advisory database; witness reports, \
profiles and prior VEX from the files given or what a trusted key attached. Every input named \
must be found, and nothing else may be given; each missing one is named by digest. The work is \
done again with the recorded policy and time and compared with the original: exit 0 when the \
bytes are identical, 1 naming the first input or field that differs. An assessment's VEX \
document is made again too (with the recorded author and the --policy file whose digest it \
names) and must be the one attached that cites it. With --sign-key (and a token), the document \
made again is also signed and must give the attached DSSE envelope byte for byte, whose log \
entry the original's bundle already carries: the log answers with the same entry, not a new one.

Examples:
  stella replay sha256:4c1f… --from app.pack.tar
  stella replay sha256:4c1f… --image oci-layout:.stella/oci:app --sign-key cosign.key
  stella replay app.score.json --image oci-layout:.stella/oci:app
  stella replay waits.micro-witness.json --image oci-layout:.stella/oci:app \\
      --advisories advisory-db/ --witness prod.witness.json";

/// `stella audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Pack an image's evidence into one deterministic tar: the image's manifests (and with
    /// --with-binaries its layers), every referrer (SBOM, FuncProofs, symbol bundle, records,
    /// VEX, assessments, micro-witnesses, runtime evidence) with its Sigstore bundle, the log's
    /// checkpoint and the hash tiles that prove each entry's checkpoint consistent with it, the
    /// trusted root and the public keys, and a manifest (RFC 8785) listing every member with
    /// its SHA-256 and role. The same inputs give the same bytes.
    #[command(after_help = "\
Examples:
  stella audit export --image oci-layout:.stella/oci:app -o app.pack.tar
  stella audit export --image registry.example/app:1.4 --with-binaries -o app.pack.tar")]
    Export {
        /// The image whose evidence to pack.
        #[arg(long, value_name = "REF")]
        image: String,
        /// Where to write the pack.
        #[arg(short, long, value_name = "PACK.tar")]
        output: PathBuf,
        /// Also pack the image's layers, so FuncProofs replay without the image.
        #[arg(long)]
        with_binaries: bool,
        /// The public keys to pack (repeatable). Default: $STELLA_HOME/keys/stella.pub.
        #[arg(long, value_name = "PUB")]
        key: Vec<PathBuf>,
        /// The trusted root to pack. Default: the embedded log's.
        #[arg(long, value_name = "FILE")]
        trusted_root: Option<PathBuf>,
        /// A checkpoint of the log seen before (a signed note, e.g. the `log/checkpoint` of an
        /// earlier pack): it is packed with the hash tiles that prove the log's checkpoint now
        /// an extension of it, and `audit verify` proves that before anything else. A log that
        /// forked or rolled back since is refused here.
        #[arg(long, value_name = "CHECKPOINT")]
        since: Option<PathBuf>,
        /// Where the advisory documents the packed assessments and micro-witnesses name are
        /// read from, as `stella assess --advisories` (default: the advisory database). Each is
        /// packed, so their verdicts replay from the pack (`stella replay TOKEN --from PACK`);
        /// one that cannot be found stops the export.
        #[arg(long, value_name = "DB|PATH")]
        advisories: Vec<String>,
        /// Allow plain HTTP to registries that are not on the loopback interface.
        #[arg(long, visible_alias = "plain-http")]
        insecure: bool,
    },
    /// Verify a pack offline: every member against the manifest (paths, types, sizes,
    /// SHA-256), then the evidence as `stella verify --image` does — signatures, records,
    /// canonical ids, log entries proven against the packed checkpoint through the packed
    /// tiles, FuncProofs replayed against the packed layers or --rootfs.
    #[command(after_help = "\
Nothing outside the pack is read but the flags' files: the home is a fresh temporary directory, \
and no network is used. A member with `..` or an absolute path, a link, a duplicate, one not \
listed or not hashing to what the manifest says, or a pack over the size limit is refused \
before anything is written, naming the member and the check (exit 1). The keys and the trusted \
root packed are used unless --key and --trusted-root pin others; the output says which. Without \
binaries (export --with-binaries) or --rootfs, FuncProofs cannot be replayed and the pack does \
not verify, unless --signatures-only asks for the signatures alone.

Examples:
  stella audit verify app.pack.tar --key cosign.pub
  stella audit verify app.pack.tar --rootfs ./app-rootfs --json")]
    Verify {
        /// The pack.
        #[arg(value_name = "PACK.tar")]
        pack: PathBuf,
        /// Trust these public keys instead of the packed ones (repeatable).
        #[arg(long, value_name = "PUB")]
        key: Vec<PathBuf>,
        /// Trust this trusted root instead of the packed one.
        #[arg(long, value_name = "FILE")]
        trusted_root: Option<PathBuf>,
        /// Replay FuncProofs against this root filesystem instead of the packed layers.
        #[arg(long, value_name = "DIR")]
        rootfs: Option<PathBuf>,
        /// Check signatures, records and log proofs only; FuncProofs are not replayed.
        #[arg(long, conflicts_with = "rootfs")]
        signatures_only: bool,
        /// Largest pack read (bytes, or with K, M, G suffixes).
        #[arg(long, value_name = "SIZE", default_value = "8G", value_parser = parse_size)]
        max_size: usize,
        /// Print the verdicts as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `stella score`
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The image to score (its evidence from `stella scan` must verify).
    #[command(flatten)]
    pub target: ImageTarget,
    /// The image (--image or IMAGE), filled in after parsing.
    #[arg(skip)]
    pub image: String,
    /// Recorded in the score's inputs and replay record; no number depends on it. At most
    /// 2^53 - 1, the largest integer every JSON reader keeps exactly.
    #[arg(long, value_name = "S", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(..=9_007_199_254_740_991))]
    pub seed: u64,
    /// The policy (stella.vex-policy/v1): its `score` section (see below) and its `runtime`
    /// section, as `stella assess` reads it.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Where the advisories come from, as `stella assess --advisories`.
    #[arg(long, value_name = "DB|PATH")]
    pub advisories: Vec<String>,
    /// Vulnerabilities to answer even when nothing matches (repeatable; any id or alias).
    #[arg(long, value_name = "ID")]
    pub vuln: Vec<String>,
    /// Witness reports (`stella witness --json`, repeatable), as `stella assess --witness`.
    #[arg(long, value_name = "REPORT")]
    pub witness: Vec<PathBuf>,
    /// Prior VEX (repeatable; OpenVEX, CycloneDX or CSAF): a `not_affected` for the component
    /// or the image makes a verdict not applicable, unless its code ran.
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// Profiles (`stella record --json`, repeatable), as `stella assess --profile`.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Vec<PathBuf>,
    /// A public key whose signatures on the image's evidence are trusted (repeatable).
    /// Default: $STELLA_HOME/keys/stella.pub.
    #[arg(long, value_name = "PUB")]
    pub key: Vec<PathBuf>,
    /// The Sigstore trusted root naming the accepted transparency logs.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Sign the score, log it and attach it to the image.
    #[arg(long)]
    pub attach: bool,
    /// The signing key for --attach (cosign format). Default: the key of `stella scan`.
    #[arg(long, value_name = "KEY", requires = "attach")]
    pub sign_key: Option<PathBuf>,
    /// Write the in-toto Statement (RFC 8785) here (`-o json=FILE` alike); `-o json` prints it
    /// instead of the table, `-o table` is the default.
    #[arg(short, long, value_name = "FORMAT[=FILE]|FILE")]
    pub output: Option<PathBuf>,
    /// Print the in-toto Statement (RFC 8785) on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Allow plain HTTP to registries that are not on the loopback interface.
    #[arg(long, visible_alias = "plain-http")]
    pub insecure: bool,
}

const SCORE_HELP: &str = "\
The image is assessed as `stella assess` does; each verdict (vulnerability × binary × component) \
is placed in SSVC's Deployer Patch Application Priority table (CERT/CC, ssvc DT_DP 1.0.0, as \
certcc-ssvc 2026.10.0 ships it): Exploitation (N/P/A) × System Exposure (S/C/O) × Automatable \
(N/Y) × Human Impact (L/M/H/VH) → Defer / Scheduled / Out-of-Cycle / Immediate.

System Exposure, from the evidence (first rule that applies):
  component-not-present        the SBOM: no binary holds the component  S, not applicable
  vulnerable-code-not-present  the FuncProof lacks the vulnerable code  S, not applicable
  witnessed-never-executed     exact witnesses counted zero calls       S
  executed                     the vulnerable code ran                  executedExposure (O)
  vex-not-affected             a --vex document says not_affected       S, not applicable
  present (the baseline)       present, nothing known to have run       presentExposure (C)
Exploitation: A when the vulnerability (any alias) is in score.activeExploitation (e.g. KEV), \
P in score.publicPoc, else N. Automatable: score.automatable (yes). Human Impact: \
score.humanImpact (medium).

Score of a verdict: its outcome's weight, Defer 1, Scheduled 4, Out-of-Cycle 7, Immediate 10; \
0 when not applicable. Score of the image: the highest verdict score. Each verdict's breakdown \
names, per decision point, the rule, the documents it rests on (kind, digest), the baseline and \
`delta`: its score minus the score with that point at the baseline.

Inputs: the seed, the SBOM's canonical_id and the sorted (kind, digest) of every document \
used: SBOM, FuncProofs, advisories, micro-witnesses, witness reports, profiles, VEX, policy. The \
seed changes no number; it is recorded in the inputs and in the replay record, whose RFC 8785 \
SHA-256 is `replayToken`. The same inputs and seed give the same bytes; `stella replay FILE` \
makes the score again and compares.

Policy file section (all optional):
  \"score\": {\"presentExposure\": \"controlled\", \"executedExposure\": \"open\",
            \"automatable\": \"yes\", \"humanImpact\": \"medium\",
            \"activeExploitation\": [\"CVE-…\"], \"publicPoc\": [\"GHSA-…\"]}

Examples:
  stella score --image oci-layout:.stella/oci:app --advisories advisory-db/ -o app.score.json
  stella score --image oci-layout:.stella/oci:app --seed 7 --policy policy.json --attach
  stella replay app.score.json --image oci-layout:.stella/oci:app --advisories advisory-db/";

/// `stella replay`
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The verdict to replay: a micro-witness, assessment or score file, or its replay token
    /// (`sha256:…`), found among the micro-witnesses, assessments and scores attached to the
    /// image (or packed) and signed by a trusted key.
    #[arg(value_name = "TOKEN|FILE")]
    pub target: String,
    /// The image the verdict is about (its evidence must verify).
    #[arg(long, value_name = "REF", required_unless_present = "from")]
    pub image: Option<String>,
    /// Replay from an auditor's pack (`stella audit export`): the image, its evidence, the
    /// log's tiles, the keys and trusted root (unless --key/--trusted-root pin others) and
    /// the advisory documents come from the pack; nothing else is read but the flags' files.
    #[arg(long, value_name = "PACK.tar", conflicts_with_all = ["image", "insecure"])]
    pub from: Option<PathBuf>,
    /// Largest pack read with --from (bytes, or with K, M, G suffixes).
    #[arg(long, value_name = "SIZE", default_value = "8G", value_parser = parse_size)]
    pub max_size: usize,
    /// Sign the verdict made again with this private key and compare the DSSE envelope with
    /// the one attached, byte for byte, and its log entry with the one the log holds
    /// (signatures are deterministic). Only with a replay token.
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    /// Where the advisories come from, as `stella assess --advisories` (with --from, also
    /// the pack's).
    #[arg(long, value_name = "DB|PATH")]
    pub advisories: Vec<String>,
    /// The witness reports the verdict names (repeatable).
    #[arg(long, value_name = "REPORT")]
    pub witness: Vec<PathBuf>,
    /// The profiles the verdict names (repeatable).
    #[arg(long, value_name = "PROFILE")]
    pub profile: Vec<PathBuf>,
    /// The prior VEX documents the verdict names (repeatable).
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// The policy file the assessment was made under (`stella assess --policy`), when its
    /// replay record names one (by digest).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// A public key whose signatures on the image's evidence are trusted (repeatable).
    /// Default: $STELLA_HOME/keys/stella.pub.
    #[arg(long, value_name = "PUB")]
    pub key: Vec<PathBuf>,
    /// The Sigstore trusted root naming the accepted transparency logs.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Allow plain HTTP to registries that are not on the loopback interface.
    #[arg(long, visible_alias = "plain-http")]
    pub insecure: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `stella record --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordFormat {
    /// Collapsed stacks, one line per stack (the default).
    Collapsed,
    /// The JSON profile.
    Json,
    /// A flame graph (SVG).
    Svg,
    /// pprof: the gzipped profile.proto that `go tool pprof`, Parca and Pyroscope read.
    Pprof,
}

/// `stella assess --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AssessFormat {
    /// One line per verdict.
    Table,
    /// The evidence document (stella.assessment/v1) with the final statuses.
    Json,
    /// OpenVEX 0.2.0.
    Openvex,
    /// CycloneDX 1.7 VEX.
    #[value(alias = "cyclonedx-json")]
    Cyclonedx,
    /// CSAF 2.0 VEX.
    Csaf,
    /// SARIF 2.1.0.
    Sarif,
}

/// `stella assess --fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum FailOn {
    /// Any statement (even not_affected).
    #[value(name = "not_affected")]
    NotAffected,
    /// fixed or worse.
    Fixed,
    /// under_investigation or affected.
    #[value(name = "under_investigation")]
    UnderInvestigation,
    /// affected.
    Affected,
}

/// `stella verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The image whose evidence to verify.
    #[command(flatten)]
    pub target: ImageTarget,
    /// The image (--image or IMAGE), filled in after parsing.
    #[arg(skip)]
    pub image: String,
    /// A public key whose signatures are trusted (repeatable). Evidence signed by any other key
    /// is listed as untrusted and never used. Default: $STELLA_HOME/keys/stella.pub.
    #[arg(long, value_name = "PUB")]
    pub key: Vec<PathBuf>,
    /// A cosign public key (repeatable): the image must also carry a cosign signature of its
    /// digest (a `sha256-<hex>.sig` tag, or a Sigstore bundle referrer of cosign's signing
    /// predicate) that one of these keys verifies; none, or only invalid ones, fails the image.
    /// Without it, cosign's signatures and attestations are listed and change nothing.
    #[arg(long, value_name = "PUB")]
    pub cosign_key: Vec<PathBuf>,
    /// The identity a keyless cosign signature's certificate must bind: with the identity and
    /// issuer given, the image must carry a cosign signature by that identity (keyless, its
    /// signing time proven by its Rekor bundle or RFC 3161 timestamp), or one a --cosign-key
    /// verifies.
    #[command(flatten)]
    pub identity: crate::verify_bundle::IdentityArgs,
    /// The Sigstore trusted root keyless cosign signatures are verified against (Fulcio
    /// authorities, Rekor logs, CT logs, timestamp authorities). Default: the one `stella trust
    /// update` stored, else the shipped public-good root.
    #[arg(long, value_name = "FILE")]
    pub cosign_trusted_root: Option<PathBuf>,
    /// Verify the scan whose artifact record has this digest (the record artifact's manifest
    /// digest, or its record.json layer's), instead of the newest record signed by a trusted key.
    #[arg(long, value_name = "DIGEST")]
    pub record: Option<String>,
    /// The Sigstore trusted root naming the accepted transparency logs. Default: the embedded
    /// log's.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Replay the FuncProofs against this directory (the deployed files) instead of the image's
    /// layers.
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// Is this symbol in any binary of the image? (a name, or a glob such as 'inflate*').
    #[arg(long, value_name = "NAME")]
    pub symbol: Vec<String>,
    /// Allow plain HTTP to registries that are not on the loopback interface.
    #[arg(long, visible_alias = "plain-http")]
    pub insecure: bool,
    /// Worker threads for the replay (default: one per CPU).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Print the verdicts as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Output format, as syft and trivy take it: `table` (the default) or `json` (as --json).
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub format: Option<crate::grammar::Report>,
}

const ASSESS_HELP: &str = "\
First the image's evidence is verified as `stella verify` does (signatures, log entries, the \
record's bindings; --replay also recomputes every FuncProof against the image's layers): an image \
whose evidence does not verify is not assessed (exit 1). Then, for every binary of the verified \
SBOM, each of its components (the package that installed it, what was found inside it, the \
crates it links) is matched to the advisories, and one verdict is made per (vulnerability, \
binary, component):

  version outside every affected range    not listed (not_affected when asked with --vuln)
  the advisory names no function          under_investigation, version-level
  a vulnerable function is present        under_investigation, citing its range and BLAKE3
  only an uncertain match (closure,       under_investigation: neither presence nor absence
    inlined helper)                         is proven
  every vulnerable function absent        not_affected (vulnerable_code_not_present), citing
                                            the FuncProof, when it names every function
                                            (symtab, DWARF, Go pclntab); a stripped binary
                                            stays under_investigation
  --vuln ID matching no component         not_affected (component_not_present), citing the SBOM

Runtime evidence then decides what static evidence cannot: a present function that a witness \
(--witness) counted calls of, or that sampled stacks (--profile) hold, makes the verdict \
`affected`, with the counts, CPU share, processes and window; one witnessed with zero calls on \
every instance makes it `not_affected` (vulnerable_code_not_in_execute_path) until \
--zero-valid-for after the window; sampled-but-not-seen proves nothing; frames of a binary that \
nothing names are `unknown_state`. Witness reports and profiles attached to the image (`stella \
witness --attach`, `stella record --attach`) count as if given, when a trusted key signed them; \
others are ignored. Profiles' frames of the image's binaries are named with the image's own \
verified symbol tables. Every function that ran is listed in the hot-symbol index (`hot` in \
--format json, and in the summary), and each flip is printed as one line. Stella writes \
`affected` only with such evidence. Prior VEX (--vex) is merged by the rules of `stella vex \
merge`, so a vendor's `affected` stands. Each VEX statement names the image, \
the binary by its SHA-256 and the component by purl; its @id links the verdict in the evidence \
document (stella.assessment/v1) by that document's canonical id. --attach signs both (DSSE), logs \
them and attaches them to the image.

--fail-on STATUS exits 1 when any final statement is at least that severe, in the order \
not_affected < fixed < under_investigation < affected.

The policy file (--policy; its `sources` rank --vex documents as in `stella vex merge`) also \
says how runtime evidence is weighed; a flag given wins over it, and --explain prints what \
holds and why:
  {\"schema\": \"stella.vex-policy/v1\",
   \"sources\": [{\"file\": \"vendor.openvex.json\", \"priority\": 10}],
   \"runtime\": {\"neverExecutedValidFor\": \"7d\",
               \"sampledWithoutWitness\": \"affected\",
               \"hotShare\": 1.0},
   \"failOn\": \"affected\"}
neverExecutedValidFor: how long a witnessed zero justifies not_affected (as --zero-valid-for). \
sampledWithoutWitness: a function seen in sampled stacks but never witnessed is `affected` \
(default) or stays `under_investigation` until a witness counts it; never not_affected. \
hotShare: the CPU share (percent) from which an executed function is hot in the hot-symbol index \
(`hot` in --format json, listed in the summary). failOn: the gate (as --fail-on).

Examples:
  stella advisories import advisory-db/ go-vulndb/
  stella assess --image oci-layout:.stella/oci:app
  stella assess --image registry.example/app:1.0 --format openvex -o app.vex.json --attach
  stella assess --image oci-layout:out:app --vuln CVE-2022-37434 --fail-on under_investigation
  stella assess --image oci-layout:out:app --witness prod.witness.json --profile prod.profile.json";

const RECORD_HELP: &str = "\
Samples on the cpu-clock software event at --hz per CPU (default 49: about 0.03 % of a CPU), for \
the processes chosen by --pid, --cgroup (a container's cgroup v2 directory, or the path \
/proc/PID/cgroup shows) or --all. User frames come from the kernel as (BuildID, file offset), \
so a process that exits during the recording stays attributable; kernel frames as addresses. \
Only canonical frames and counts are kept: never arguments, registers or memory.

Frames are then named from --symbols (symbol bundles attached by `stella scan`: a file or an \
image reference), the local cache ($STELLA_HOME/symbols), the binaries on disk, and debuginfod \
(--debuginfod, or DEBUGINFOD_URLS). A frame nothing can name stays `[unknown]+0x<offset>` under \
its BuildID: never dropped, never guessed.

Output: collapsed stacks, root first (`<comm>;buildid=<id>;main+0x20;hot+0x9 COUNT`, flame-graph \
tools read it), or with --json the stella.runtime.profile/v1 document (frames leaf first, counts, \
the window, what was lost). Needs CAP_BPF and CAP_PERFMON (or root). Ctrl-C stops early and \
still writes what was recorded.

Examples:
  stella record --pid 1234 --duration 30s -o app.folded
  stella record --cgroup /system.slice/docker-<id>.scope --json -o app.profile.json
  stella record --all --hz 99 --duration 10m --duty 10s/60s --symbols oci-layout:.stella/oci:app";

const WITNESS_HELP: &str = "\
Two ways to say what to watch.

With --binary and --symbol: resolves each --symbol in BINARY (symbol table, dynamic symbols, \
.eh_frame ranges; a mangled or demangled name, or a glob that must match one function).

With --image and --vuln (or --findings): verifies the image's evidence as `stella assess` does, \
assesses it against the advisories, and takes every vulnerable function that a verdict found \
present (under_investigation: present, not known to run) — no symbol to name, mangled or not. It \
then finds the processes on this host that run those binaries, in any container: a mapped file \
whose BuildID is the binary's and whose SHA-256 is the image's. A file with the BuildID but other \
bytes is reported and never watched; its processes are not instances. When no process runs a \
binary of the image, nothing can be witnessed: exit 1.

Either way, a uprobe is attached at each function's first byte and every call is counted, per \
process, in the kernel, for --duration or until Ctrl-C. The first --stacks calls of each function \
keep their caller's stack. The report names what a count covers: the binary and its BuildID, the \
window, and the processes that had the binary mapped or called it (per binary with --image), so a \
zero is an exact statement about those instances in that window, and `stella assess --witness` \
turns it into VEX. With --pid, a process that never maps the binary covers nothing: it is not an \
instance. Needs CAP_BPF and CAP_PERFMON (or root).

Examples:
  stella witness --binary /usr/lib/x86_64-linux-gnu/libz.so.1 --symbol inflateGetHeader --duration 1h
  stella witness --binary ./server --symbol 'vuln_*' --pid 1234 --json
  stella witness --image oci-layout:.stella/oci:app --vuln RUSTSEC-2021-0003 --duration 10m \\
      --json -o app.witness.json
  stella witness --image registry.example/app:1.4 --findings --duration 1h --json -o w.json";

const SYMBOLIZE_HELP: &str = "\
Reads FILE (or stdin) in one of three forms, detected unless --format says: raw frames, one \
`BUILDID 0xOFFSET` per line (file offsets, as BPF_F_USER_BUILD_ID gives them); collapsed stacks \
(Stella's, with buildid= segments and [unknown]+0x frames, or plain ones from other tools); or \
`perf script` output (with --show-mmap-events the addresses become file offsets and Stella names \
them itself). Writes the same stacks with names: raw frames as one line each (or a JSON array), \
stacks as collapsed lines (or the profile JSON).

Examples:
  stella symbolize frames.txt --symbols oci-layout:.stella/oci:app
  perf script --show-mmap-events | stella symbolize --json
  stella symbolize app.folded --debuginfod https://debuginfod.debian.net";

/// Where frames get their names (shared by record, witness and symbolize).
#[derive(Debug, Args)]
pub struct SymbolArgs {
    /// A symbol bundle: a file (symbols.tar) or an image reference whose attached bundle to use.
    /// Repeatable.
    #[arg(long, value_name = "FILE|IMAGE-REF")]
    pub symbols: Vec<String>,
    /// A debuginfod server to ask for unknown BuildIDs. Repeatable. Default: DEBUGINFOD_URLS.
    #[arg(long, value_name = "URL")]
    pub debuginfod: Vec<String>,
    /// The local symbol cache. Default: $STELLA_HOME/symbols.
    #[arg(long, value_name = "DIR")]
    pub symbol_cache: Option<PathBuf>,
    /// A public key trusted to sign the evidence of a --symbols image (repeatable). An image's
    /// symbol tables are used only when a record signed by a trusted key binds them and each
    /// table belongs to a signed FuncProof of the image. Default: $STELLA_HOME/keys/stella.pub.
    #[arg(long, value_name = "PUB")]
    pub symbols_key: Vec<PathBuf>,
    /// The trusted root for the log entries of a --symbols image's evidence. Default: the
    /// embedded log's.
    #[arg(long, value_name = "FILE")]
    pub symbols_trusted_root: Option<PathBuf>,
    /// Keep frames as (BuildID, offset) without names.
    #[arg(long)]
    pub no_symbolize: bool,
    /// Allow plain HTTP to registries that are not on the loopback interface.
    #[arg(long, visible_alias = "plain-http")]
    pub insecure: bool,
}

/// `stella record`
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Sample these processes (all their threads). Repeatable.
    #[arg(long, value_name = "PID", conflicts_with_all = ["cgroup", "all"])]
    pub pid: Vec<u32>,
    /// Sample every process in this cgroup v2 directory or below it (a container).
    #[arg(long, value_name = "PATH", conflicts_with = "all")]
    pub cgroup: Option<String>,
    /// Sample every process on the host.
    #[arg(long)]
    pub all: bool,
    /// Samples per second per CPU.
    #[arg(long, default_value_t = 49, value_name = "HZ",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub hz: u64,
    /// How long to record (e.g. 500ms, 30s, 1m30s, 1.5s, 1h).
    #[arg(long, default_value = "30s", value_parser = crate::input::parse_duration)]
    pub duration: std::time::Duration,
    /// Sample ON out of every PERIOD (e.g. 10s/60s), for long recordings.
    #[arg(long, value_name = "ON/PERIOD", value_parser = crate::input::parse_duty)]
    pub duty: Option<(std::time::Duration, std::time::Duration)>,
    /// Where and how to write: FILE, or FORMAT[=FILE] with FORMAT one of collapsed, json,
    /// svg, pprof (as --format; `-o pprof=host.pb.gz`). Default: collapsed stacks on stdout.
    #[arg(short, long, value_name = "FORMAT[=FILE]|FILE")]
    pub output: Option<PathBuf>,
    /// Write the JSON profile instead of collapsed stacks.
    #[arg(long)]
    pub json: bool,
    /// What to write: `collapsed` stacks (the default: `process;function;… COUNT`, what
    /// flamegraph.pl, inferno and speedscope take as is: one frame per function, kernel frames
    /// as `name_[k]`, unnamed frames as `[unknown in BINARY]`), the `json` profile (as --json),
    /// `svg`, a flame graph (inferno) of those stacks, or `pprof` (gzipped profile.proto: one
    /// mapping per binary with its BuildID, locations at file offsets, samples and CPU time,
    /// pid/comm/container/image labels).
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "json")]
    pub format: Option<RecordFormat>,
    /// Collapsed stacks in Stella's canonical form instead: `buildid=<hex>` before each
    /// binary's frames, `function+0x<offset>`, unnamed frames as `[unknown]+0x<file offset>`;
    /// what `symbolize`, `assess --profile` and `replay` join to FuncProofs.
    #[arg(long)]
    pub offsets: bool,
    /// Sampler: ebpf (in-kernel aggregation, frames as BuildID + offset), or perf-event for
    /// kernels without BPF (every sample read from a ring buffer, frames through
    /// /proc/PID/maps).
    #[arg(long, value_enum, default_value_t = Backend::Ebpf)]
    pub backend: Backend,
    /// The image the processes run from (`sha256:<hex>`), put in front of every stack.
    #[arg(long, value_name = "DIGEST")]
    pub image_digest: Option<String>,
    /// Sign the profile (JSON, whatever the output format), log it and attach it to this image
    /// as runtime evidence that `stella assess` reads.
    #[arg(long, value_name = "REF")]
    pub attach: Option<String>,
    /// The signing key for --attach (cosign format). Default: the key of `stella scan`.
    #[arg(long, value_name = "KEY", requires = "attach")]
    pub sign_key: Option<PathBuf>,
    #[command(flatten)]
    pub symbols: SymbolArgs,
}

/// `stella witness`
#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The binary or shared library holding the functions.
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present = "image",
        requires = "symbol"
    )]
    pub binary: Option<PathBuf>,
    /// A function to count (mangled or demangled name, or a glob matching one). Repeatable.
    #[arg(long, value_name = "NAME", requires = "binary")]
    pub symbol: Vec<String>,
    /// Watch the vulnerable functions present in this image's binaries (its evidence must
    /// verify), wherever a process on this host runs them.
    #[arg(long, value_name = "REF", conflicts_with = "binary")]
    pub image: Option<String>,
    /// The vulnerabilities whose functions to watch (repeatable; any id or alias).
    #[arg(long, value_name = "ID", requires = "image", required_unless_present_any = ["binary", "findings"])]
    pub vuln: Vec<String>,
    /// Watch the functions of every under_investigation verdict of the image's assessment.
    #[arg(long, requires = "image", conflicts_with = "vuln")]
    pub findings: bool,
    /// Where the advisories come from, as `stella assess --advisories`.
    #[arg(long, value_name = "DB|PATH", requires = "image")]
    pub advisories: Vec<String>,
    /// A public key whose signatures on the image's evidence are trusted (repeatable).
    /// Default: $STELLA_HOME/keys/stella.pub.
    #[arg(long, value_name = "PUB", requires = "image")]
    pub key: Vec<PathBuf>,
    /// The Sigstore trusted root naming the accepted transparency logs.
    #[arg(long, value_name = "FILE", requires = "image")]
    pub trusted_root: Option<PathBuf>,
    /// Sign the report, log it and attach it to the image as runtime evidence that `stella
    /// assess` reads.
    #[arg(long, requires = "image")]
    pub attach: bool,
    /// The signing key for --attach (cosign format). Default: the key of `stella scan`.
    #[arg(long, value_name = "KEY", requires = "attach")]
    pub sign_key: Option<PathBuf>,
    /// Only this process (default: every process that maps the binary).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// How long to watch (e.g. 30s, 1m30s, 1h).
    #[arg(long, default_value = "30s", value_parser = crate::input::parse_duration)]
    pub duration: std::time::Duration,
    /// Calls per symbol whose caller stack is kept.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub stacks: u64,
    /// Where and how to write: FILE, or FORMAT[=FILE] with FORMAT text or json (`-o
    /// json=report.json`). Default: text on stdout.
    #[arg(short, long, value_name = "FORMAT[=FILE]|FILE")]
    pub output: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub symbols: SymbolArgs,
}

/// `stella symbolize`
#[derive(Debug, Args)]
pub struct SymbolizeArgs {
    /// The input (`-` or nothing: stdin).
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// The input's form (default: detected).
    #[arg(long, value_enum)]
    pub format: Option<SymbolizeFormat>,
    /// Print JSON (frames, or the profile) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Stacks as Stella's canonical collapsed lines (BuildIDs and `function+0x<offset>`), as
    /// `stella record --offsets` writes them; without it, lines a flame graph tool takes as is.
    #[arg(long)]
    pub offsets: bool,
    /// Where and how to write: FILE, or FORMAT[=FILE] with FORMAT text or json. Default: text
    /// on stdout.
    #[arg(short, long, value_name = "FORMAT[=FILE]|FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub symbols: SymbolArgs,
}

/// Samplers of `stella record`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// eBPF on perf events, aggregated in the kernel.
    Ebpf,
    /// `perf_event_open` ring buffers, aggregated here.
    PerfEvent,
}

/// Input forms of `stella symbolize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SymbolizeFormat {
    /// `BUILDID 0xOFFSET` lines.
    Raw,
    /// Collapsed stacks.
    Collapsed,
    /// `perf script` output.
    PerfScript,
    /// A pprof profile (profile.proto, gzipped or not): Go's, Parca's, Pyroscope's, Stella's.
    Pprof,
}

const SERVE_HELP: &str = "\
State lives in the database: SQLite by default ($STELLA_HOME/stella.db), or PostgreSQL \
(--db postgres://…), which several replicas may share: they then behave as one service, and a \
push retried against another replica counts once.

Every API route needs a token (Authorization: Bearer TOKEN): `stella serve token --agent NAME` \
mints an ingest token that can only push, as that agent; `stella serve token --read` a read \
token that can only read. Tokens are stored as their SHA-256 only: keep the printed text. \
--insecure-loopback serves without tokens, and only on a loopback address.

Routes: POST /api/v1/push (ingest), GET /api/v1/hot-symbols?image=&buildId=&function=a,b&since=\
&until= , GET /api/v1/images/DIGEST/verdicts and /timeline (read), GET /healthz, GET /metrics \
(Prometheus), and with --log DIR the transparency log (POST /api/v2/log/entries, /checkpoint, \
/tile/…). Stops cleanly on Ctrl-C or SIGTERM, finishing requests in progress.

Examples:
  stella serve token --agent node-a > node-a.token
  stella serve token --read > reader.token
  stella serve --addr 0.0.0.0:8080 --db postgres://stella@db/stella --log /var/lib/stella/log
  curl -H \"Authorization: Bearer $(cat reader.token)\" http://127.0.0.1:8080/api/v1/hot-symbols";

const AGENT_HELP: &str = "\
Runs as root (eBPF). Every --interval it samples at --hz (during the --duty part of each period, \
if given), names frames as `stella record` does (--symbols, the local cache, binaries on disk, \
debuginfod), counts them and writes one push to the spool ($STELLA_HOME/agent/spool); then it \
sends every push waiting, oldest first. A push leaves the spool only when the server answered \
that it counted it (a retry after a lost answer is recognised by its batch id, never counted \
twice); a server that is down keeps it there for the next interval. The spool is bounded \
(--spool-max): on a long outage the oldest pushes are dropped, and said so. A push the server \
refuses for what it is (400, 409, 413) is moved to spool/rejected/ with the reason.

With --json, one line per event on stdout: delivered (with the push's sample total), kept, \
dropped, rejected. Ctrl-C or SIGTERM ends the interval early, pushes it and stops.

Examples:
  stella serve token --agent node-a > /etc/stella/agent.token
  stella agent --server http://stella.internal:8080 --token /etc/stella/agent.token
  stella agent --server http://127.0.0.1:8080 --token t --pid 4242 --interval 10s --intervals 6";

/// `stella agent`
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The server (`stella serve`), e.g. http://stella.internal:8080.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The file holding this agent's ingest token (`stella serve token --agent NAME`).
    #[arg(long, value_name = "FILE")]
    pub token: PathBuf,
    /// The agent's name, as its token was minted for (default: the host name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Sample these processes (repeatable) instead of all.
    #[arg(long, value_name = "PID", conflicts_with = "cgroup")]
    pub pid: Vec<u32>,
    /// Sample the processes of this cgroup (a container) instead of all.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,
    /// Samples per second per CPU.
    #[arg(long, default_value_t = 49, value_name = "HZ")]
    pub hz: u64,
    /// How often to push (and how long each recording lasts).
    #[arg(long, default_value = "60s", value_parser = crate::input::parse_duration)]
    pub interval: std::time::Duration,
    /// Sample ON of every PERIOD (e.g. 10s/60s) to bound the overhead further.
    #[arg(long, value_name = "ON/PERIOD", value_parser = crate::input::parse_duty)]
    pub duty: Option<(std::time::Duration, std::time::Duration)>,
    /// Length of the windows counts are kept in on the server.
    #[arg(long, default_value = "60s", value_parser = crate::input::parse_duration)]
    pub window: std::time::Duration,
    /// The image the sampled processes run from (sha256:<hex>), when known.
    #[arg(long, value_name = "DIGEST")]
    pub image_digest: Option<String>,
    /// Stop after N intervals (default: run until stopped); exit 1 when pushes are left in
    /// the spool.
    #[arg(long, value_name = "N")]
    pub intervals: Option<u64>,
    /// The spool directory (default: $STELLA_HOME/agent/spool).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// The most bytes the spool keeps.
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    pub spool_max: u64,
    /// The sampler.
    #[arg(long, value_enum, default_value_t = Backend::Ebpf)]
    pub backend: Backend,
    /// Also count calls of the vulnerable functions the server asks to watch (GET
    /// /api/v1/watch, refreshed every interval), with uprobes on the binaries this node runs
    /// whose BuildID and SHA-256 are the image's: exact calls, pushed with the samples.
    #[arg(long)]
    pub watch_findings: bool,
    /// Events as JSON lines on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub symbols: SymbolArgs,
}

/// `stella serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Tokens instead of serving.
    #[command(subcommand)]
    pub command: Option<ServeCommand>,
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Serve the embedded transparency log in DIR too (created when missing).
    #[arg(long, value_name = "DIR")]
    pub log: Option<PathBuf>,
    /// The origin (log name) of a log created now.
    #[arg(long, requires = "log")]
    pub log_origin: Option<String>,
    /// Serve without tokens (refused unless --addr is a loopback address).
    #[arg(long)]
    pub insecure_loopback: bool,
    /// Largest push body, in bytes (larger pushes get 413).
    #[arg(long, value_name = "BYTES", default_value_t = stella_server::fleet::DEFAULT_MAX_PUSH_BYTES)]
    pub max_push_bytes: usize,
    /// The repository the fleet's images and their evidence are in (a registry repository, or
    /// oci-layout:DIR[:NAME]). With it, every push re-decides the verdicts of the images it
    /// names as `stella assess` does, with the fleet's observations as runtime evidence; when a
    /// verdict changes, the VEX, the evidence, the micro-witnesses and the fleet's profile are
    /// signed, logged and attached to the image, and the change goes into its timeline.
    #[arg(long, value_name = "REF")]
    pub store: Option<String>,
    /// Where the advisories come from, for the reactions (repeatable): as `stella assess
    /// --advisories`. Default: the database of `stella advisories import`.
    #[arg(long, value_name = "DB|PATH", requires = "store")]
    pub advisories: Vec<String>,
    /// A public key whose signatures on the images' evidence are trusted (repeatable).
    /// Default: $STELLA_HOME/keys/stella.pub.
    #[arg(long, value_name = "PUB", requires = "store")]
    pub key: Vec<PathBuf>,
    /// The key the reactions sign with (cosign format). Default: the key of `stella scan`.
    #[arg(long, value_name = "KEY", requires = "store")]
    pub sign_key: Option<PathBuf>,
    /// The Sigstore trusted root naming the accepted transparency logs.
    #[arg(long, value_name = "FILE", requires = "store")]
    pub trusted_root: Option<PathBuf>,
    /// The VEX author of the reactions' statements.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "Stella",
        requires = "store"
    )]
    pub author: String,
    /// Allow plain HTTP to a --store registry that is not on the loopback interface.
    #[arg(long, visible_alias = "plain-http", requires = "store")]
    pub insecure: bool,
}

/// `stella serve token|revoke`
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// Mint a token and print it: an ingest token for an agent (registered now), or a read
    /// token.
    Token {
        /// The agent the ingest token pushes as (registered, or its node updated).
        #[arg(
            long,
            value_name = "NAME",
            required_unless_present = "read",
            conflicts_with = "read"
        )]
        agent: Option<String>,
        /// The node the agent runs on (default: the agent's name).
        #[arg(long, value_name = "NODE", requires = "agent")]
        node: Option<String>,
        /// A read token.
        #[arg(long)]
        read: bool,
        /// Write the token to FILE (mode 0600) instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke the token in FILE (or `-` for standard input).
    Revoke {
        /// The file holding the token.
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
}

const REPORT_HELP: &str = "\
Trust: nothing is shown that does not verify. With --image the image's evidence is verified as \
`stella verify --image` does (signatures by the trusted keys, log entries, the record's \
bindings, every FuncProof replayed against the image's layers or --rootfs); with --pack the pack \
is verified as `stella audit verify` does, offline on a fresh home. Every signed claim's \
citations are then checked (a VEX statement's assessment is present, an absence is searched \
again in its FuncProof, an execution is counted by its micro-witness). If anything fails, no \
report is written and the exit code is 1, naming what failed. Documents signed by other keys are \
ignored, never shown.

Content, all from the verified documents (VEX, assessments, micro-witnesses, witness reports and \
runtime profiles attached to the image):
  the image      reference, digest, the SBOM's canonical_id, the record, its log entries
                 and the log checkpoint
  findings       one row per (vulnerability, binary, component): the VEX status and
                 justification; the FuncProof and whether each vulnerable function is in it;
                 the micro-witness's counts, method and window; the VEX document, its author
                 and time; the claims it superseded
  runtime flips  the human line of every verdict execution decided (as `stella assess`
                 prints it)
  flame graph    the signed profiles' stacks (inferno's SVG), the frames of vulnerable
                 functions marked (class stella-vulnerable, red, with a title); without a
                 profile, the section says that none was recorded
  documents      every signed document the report rests on: kind, referrer, SHA-256
  legend         what the colours and columns mean

The file needs no network to view (no external styles, scripts or fonts). Every name is escaped \
(names come from binaries). The same evidence gives the same bytes: rows are sorted and no \
clock is read. A report made from a pack equals, byte for byte, the one made with the --image \
it was exported from (the pack names the image as export was given it), as long as the log has \
not grown since: the checkpoint shown is the newest one the verification proved. --json prints \
the same model as JSON on stdout (the flame graph's facts, not its SVG).

Examples:
  stella report --image oci-layout:.stella/oci:app -o app.report.html
  stella report --pack app.pack.tar --key cosign.pub -o app.report.html
  stella report --image oci-layout:.stella/oci:app --json";

/// `stella report`
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["image", "pack"])))]
pub struct ReportArgs {
    /// The image whose verified evidence to report.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// An auditor's pack (`stella audit export`), verified offline, to report.
    #[arg(long, value_name = "PACK.tar")]
    pub pack: Option<PathBuf>,
    /// Where to write the HTML report (required unless --json): FILE or `html=FILE`; `-o json`
    /// is --json.
    #[arg(
        short,
        long,
        value_name = "FILE|html=FILE|json",
        required_unless_present = "json"
    )]
    pub output: Option<PathBuf>,
    /// A public key whose signatures are trusted (repeatable). Default: with --image,
    /// $STELLA_HOME/keys/stella.pub; with --pack, the keys in the pack.
    #[arg(long, value_name = "PUB")]
    pub key: Vec<PathBuf>,
    /// The Sigstore trusted root naming the accepted logs. Default: with --image, the embedded
    /// log's; with --pack, the one in the pack.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Replay the FuncProofs against this directory instead of the image's (or the pack's)
    /// layers.
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// Check signatures, records and log proofs only; FuncProofs are not replayed (a pack
    /// exported without its binaries).
    #[arg(long, conflicts_with = "rootfs")]
    pub signatures_only: bool,
    /// Largest pack read (bytes, or with K, M, G suffixes).
    #[arg(long, value_name = "SIZE", default_value = "8G", value_parser = parse_size)]
    pub max_size: usize,
    /// Allow plain HTTP to registries that are not on the loopback interface.
    #[arg(long, visible_alias = "plain-http")]
    pub insecure: bool,
    /// Print the report's model as JSON on stdout (and still write -o when given).
    #[arg(long)]
    pub json: bool,
}

const TRUST_UPDATE_HELP: &str = "\
Fetches the trusted root (the target trusted_root.json, and signing_config.v0.2.json when the \
repository has it) from a TUF repository and stores it in $STELLA_HOME/trust/sigstore after the \
repository's metadata verified: the root rotation chain, signature thresholds, expiry, version \
rollback against what the last update stored, snapshot and timestamp consistency, the target's \
length and hashes. Commands given no --trusted-root use it from then on. A refused update (exit 1, \
saying why; exit 3 when the mirror cannot be reached) leaves the store as it was.

The first update trusts the TUF root given with --root (a private Sigstore instance's; trust on \
first use of that file), else the public-good TUF root this build ships; later updates start from \
the newest root the store already verified, so --root counts only on first use.

Examples:
  stella trust update
  stella trust update --mirror https://tuf.example.internal --root private-tuf-root.json --json";

/// `stella trust …`: the Sigstore trusted root.
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Update the Sigstore trusted root from a TUF repository, verified by its metadata.
    #[command(after_help = TRUST_UPDATE_HELP)]
    Update {
        /// The TUF repository's base URL (metadata at the top, targets under targets/).
        #[arg(long, value_name = "URL", default_value = crate::trust::PUBLIC_GOOD_MIRROR)]
        mirror: String,
        /// The TUF root metadata to trust on first use (default: the public-good root shipped
        /// with this build); for a private Sigstore instance's repository.
        #[arg(long, value_name = "FILE")]
        root: Option<PathBuf>,
        /// Print what changed as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Which trusted root commands use and where it comes from (--trusted-root, the updated
    /// copy, the shipped one), its logs and authorities with their validity, and the stored TUF
    /// metadata's versions and expiry.
    Show {
        /// Describe this trusted root instead, as commands given it would use it.
        #[arg(long, value_name = "FILE")]
        trusted_root: Option<PathBuf>,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}
