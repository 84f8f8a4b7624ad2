//! FuncProof: which functions, byte for byte, are inside a binary.
//!
//! When an advisory names a symbol (`inflateGetHeader`, `BN_mod_sqrt`), a package version is not
//! proof. This crate reads a binary and states, in a deterministic JSON document
//! (`stella.funcproof/v1`, DESIGN.md "FuncProof JSON"):
//!
//! - [`identity`]: what the binary is — GNU BuildID (or a documented fallback id when the
//!   toolchain wrote none), the Breakpad/Sentry debug-id and code-id, PE CodeView and Mach-O
//!   `LC_UUID` identities;
//! - the address, size and BLAKE3 of every executable section and `.rodata`, and the SHA-256 of
//!   the whole file;
//! - [`functions`]: every function's exact byte range `[start, end)` and the BLAKE3 of those file
//!   bytes, merged from `.symtab`, `.dynsym` and `.eh_frame` FDEs (so stripped binaries keep exact
//!   ranges), aliases as one range with all names, `.cold` fragments grouped with their parent,
//!   demangled names beside mangled ones; for PE images ([`pe`]), from the exception directory
//!   (`.pdata`, chained parts grouped with their function), the export table and COFF symbols;
//!   for Mach-O ([`macho`]), from `LC_FUNCTION_STARTS`, the symbol table and `__unwind_info`,
//!   with a universal (fat) file proved slice by slice in one document ([`proof`]); the code a
//!   BOLT-optimised binary keeps behind after moving it is proven apart, not as functions
//!   ([`bolt`]).
//!
//! With [`BuildOptions`], [`callgraph`] adds the direct call graph (PLT/GOT calls resolved to
//! the imported name) and shortest entry → sink traces, each with the hash of its edge list.
//!
//! [`FuncProof::verify`] re-derives everything the proof states from the binary — identity,
//! file and section digests, every function's range, hash and names, the call graph and traces —
//! and names what differs (after a one-byte patch, the patched function and section; after a
//! renamed function, the function), and [`FuncProof::query`] answers presence *and absence* of
//! a symbol by glob or demangled name, trusting the proof it is given.
//!
//! Beside the proof: [`inspect`] answers the cheap questions a scanner asks of every file (is it
//! a binary at all, what does it link against, which crates did `cargo auditable` record),
//! [`crate_paths`] names the Rust crates (and versions) whose registry source paths the
//! binary holds, [`gobuild`] reads the Go linker's build information (Go version, modules with versions and
//! checksums) that even stripped Go binaries carry, [`banners`] names the C libraries (zlib,
//! OpenSSL, libpng) whose version banners a static or vendored copy leaves, and [`symbols`] slims a proof down to what turns a runtime `(BuildID, file offset)` frame into a
//! function name, and packs those tables into an image's symbol bundle.
//!
//! What this crate does not own: signing or storing proofs (`stella-attest`, `stella-oci`), or
//! runtime symbolisation (`stella-runtime`).

pub mod banners;
pub mod bolt;
pub mod callgraph;
pub mod crate_paths;
mod dwarf;
pub mod functions;
pub mod gaps;
pub mod gobuild;
pub mod gopclntab;
pub mod identity;
pub mod inspect;
pub mod macho;
pub mod pe;
pub mod proof;
mod snapshot;
pub mod symbols;

pub use inspect::{Format, Linkage};
pub use proof::{
    BuildOptions, FuncProof, Mismatch, MismatchKind, ProofProblem, QueryMatch, Slice, WriteError,
};
pub use snapshot::{FileSnapshot, MappedFile};
pub use symbols::{Segment, SymbolEntry, SymbolTable};

/// Why a binary or a proof could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BinaryError {
    /// The path is not a regular file, or cannot be opened.
    #[error(transparent)]
    Open(#[from] stella_core::file::OpenError),
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file's size changed while it was read (another process is rewriting it).
    #[error("{path}: changed while it was read ({size} bytes when opened, {read} read)")]
    Changed {
        /// The file.
        path: String,
        /// Its size when it was opened.
        size: u64,
        /// How many bytes reading gave (at most one past `size`).
        read: u64,
    },
    /// Not an object file Stella reads, or a structurally broken one.
    #[error("not a readable ELF, PE or Mach-O binary: {reason}")]
    Format {
        /// What the parser said.
        reason: String,
    },
    /// A Mach-O universal file whose header is refused.
    #[error(transparent)]
    Universal(#[from] macho::UniversalError),
    /// A FuncProof that is not JSON (or not the JSON a proof is written in: RFC 8785's
    /// number and string rules, no duplicate member).
    #[error("not a valid FuncProof: {source}")]
    ProofSyntax {
        /// The parser's error, naming the byte offset.
        #[source]
        source: stella_core::jcs::JcsError,
    },
    /// A FuncProof that a consumer refuses although it is well-formed (a document that breaks
    /// the format at one member is [`BinaryError::ProofField`]).
    #[error("not a valid FuncProof: {reason}")]
    Proof {
        /// What is wrong.
        reason: String,
    },
    /// A FuncProof document that breaks the format at one member.
    #[error(
        "not a valid FuncProof: at {}: {problem}",
        if pointer.is_empty() { "the document root" } else { pointer }
    )]
    ProofField {
        /// RFC 6901 JSON pointer of the member (empty for the document root).
        pointer: String,
        /// What is wrong there.
        problem: proof::ProofProblem,
    },
    /// A symbol pattern that is not a valid glob.
    #[error("invalid symbol pattern {pattern:?}: {source}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What the glob parser said.
        #[source]
        source: globset::Error,
    },
    /// The `cargo auditable` dependency list (`.dep-v0`) is present but unreadable.
    #[error("the cargo-auditable dependency list (.dep-v0) is unreadable: {reason}")]
    CargoAuditable {
        /// What is wrong.
        reason: String,
    },
    /// The bytes given are not the file a proof describes.
    #[error("the proof describes the file {expected}, but the bytes given are {actual}")]
    FileMismatch {
        /// The digest the proof names.
        expected: stella_core::Digest,
        /// The digest of the bytes given.
        actual: stella_core::Digest,
    },
    /// A symbol table (`stella.symbols/v1`) that is not valid.
    #[error("not a valid symbol table: {reason}")]
    SymbolTable {
        /// What is wrong.
        reason: String,
    },
    /// A symbol bundle (`stella.symbols-bundle/v1` tar) that is refused.
    #[error("symbol bundle{}: {reason}", member.as_ref().map(|m| format!(" member {m:?}")).unwrap_or_default())]
    Bundle {
        /// The tar member concerned, when the problem is one member's.
        member: Option<String>,
        /// What is wrong.
        reason: String,
    },
}

impl stella_core::Kinded for BinaryError {
    /// A binary or proof that cannot be read as one is bad input (exit 2); a file rewritten
    /// while it was read is the environment's doing (exit 3), as is an I/O failure other than a
    /// missing file; bytes that are not the file a proof describes are a clean "no" (exit 1).
    fn kind(&self) -> stella_core::ErrorKind {
        use stella_core::ErrorKind;
        match self {
            BinaryError::Open(e) => e.kind(),
            BinaryError::Io { source, .. } => ErrorKind::of_io(source),
            BinaryError::Changed { .. } => ErrorKind::Conflict,
            BinaryError::FileMismatch { .. } => ErrorKind::Rejected,
            BinaryError::Format { .. }
            | BinaryError::Universal(_)
            | BinaryError::ProofSyntax { .. }
            | BinaryError::Proof { .. }
            | BinaryError::ProofField { .. }
            | BinaryError::Pattern { .. }
            | BinaryError::CargoAuditable { .. }
            | BinaryError::SymbolTable { .. }
            | BinaryError::Bundle { .. } => ErrorKind::Invalid,
        }
    }
}

impl stella_core::Kinded for WriteError {
    fn kind(&self) -> stella_core::ErrorKind {
        match self {
            WriteError::Io(e) => stella_core::ErrorKind::of_io(e),
            WriteError::Jcs(_) => stella_core::ErrorKind::Invalid,
        }
    }
}
