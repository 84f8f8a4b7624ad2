//! The error kind every crate's errors map to, and the one table that turns a kind into a CLI
//! exit code or an HTTP status.
//!
//! Each library keeps its own typed error (`thiserror`) with the fields a caller needs; it also
//! says which [`ErrorKind`] each variant is, through [`Kinded`]. The CLI (exit codes of DESIGN's
//! contract) and the server (HTTP statuses) read only the kind, so one failure earns the same
//! answer everywhere and no caller re-derives it from a variant name or a message.
//!
//! What this module does not own: messages (they stay with each error), retries, logging.

/// What kind of failure an error is, independent of the crate that raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A check said no: a signature, digest, proof or log inclusion that does not hold.
    /// Exit 1; HTTP 422.
    Rejected,
    /// The input is malformed or the request is wrong: a file, JSON pointer or byte offset
    /// is named with what was expected. Exit 2; HTTP 400.
    Invalid,
    /// Something named does not exist: a file, an image, a tag, a log. Exit 2; HTTP 404.
    NotFound,
    /// The input exceeds a limit Stella enforces. Exit 2; HTTP 413.
    TooLarge,
    /// The state conflicts with the request: a lock held, an entry already there, a store
    /// that changed underneath. Exit 3; HTTP 409.
    Conflict,
    /// The local environment failed: a permission, a full disk, an I/O error. Exit 3; HTTP 500.
    Environment,
    /// A remote service failed or could not be reached: a registry, a log, a symbol server.
    /// Exit 3; HTTP 502.
    Unavailable,
}

impl ErrorKind {
    /// The CLI exit code of DESIGN's contract: 1 a clean "no", 2 bad input or usage, 3 the
    /// environment.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Rejected => 1,
            ErrorKind::Invalid | ErrorKind::NotFound | ErrorKind::TooLarge => 2,
            ErrorKind::Conflict | ErrorKind::Environment | ErrorKind::Unavailable => 3,
        }
    }

    /// The HTTP status a server answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::Rejected => 422,
            ErrorKind::Invalid => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::TooLarge => 413,
            ErrorKind::Conflict => 409,
            ErrorKind::Environment => 500,
            ErrorKind::Unavailable => 502,
        }
    }

    /// A stable lower-case name for machine output (`rejected`, `invalid`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Rejected => "rejected",
            ErrorKind::Invalid => "invalid",
            ErrorKind::NotFound => "not-found",
            ErrorKind::TooLarge => "too-large",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Environment => "environment",
            ErrorKind::Unavailable => "unavailable",
        }
    }

    /// The kind of an I/O error: a missing file is `NotFound`, everything else the environment.
    pub fn of_io(e: &std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                ErrorKind::Invalid
            }
            _ => ErrorKind::Environment,
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that knows its [`ErrorKind`].
pub trait Kinded: std::error::Error {
    /// The kind of this error.
    fn kind(&self) -> ErrorKind;
}

impl Kinded for crate::DigestError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}

impl Kinded for crate::file::OpenError {
    fn kind(&self) -> ErrorKind {
        match self {
            crate::file::OpenError::Io { source, .. } => ErrorKind::of_io(source),
            crate::file::OpenError::NotRegular { .. } => ErrorKind::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_keeps_the_cli_contract() {
        assert_eq!(ErrorKind::Rejected.exit_code(), 1);
        for k in [ErrorKind::Invalid, ErrorKind::NotFound, ErrorKind::TooLarge] {
            assert_eq!(k.exit_code(), 2, "{k}");
        }
        for k in [
            ErrorKind::Conflict,
            ErrorKind::Environment,
            ErrorKind::Unavailable,
        ] {
            assert_eq!(k.exit_code(), 3, "{k}");
        }
        assert_eq!(ErrorKind::NotFound.http_status(), 404);
        assert_eq!(ErrorKind::Rejected.http_status(), 422);
    }

    #[test]
    fn io_errors_split_into_missing_and_environment() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(ErrorKind::of_io(&missing), ErrorKind::NotFound);
        assert_eq!(ErrorKind::of_io(&denied), ErrorKind::Environment);
    }
}
