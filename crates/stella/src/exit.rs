//! Exit codes of the CLI contract and the error that carries one.

use std::fmt::Display;

/// A verification or policy check said no.
pub const FAILED: u8 = 1;
/// Bad input or usage: the message names the file, pointer or offset and what was expected.
pub const USAGE: u8 = 2;
/// The environment failed us: a permission, a server, a full disk.
#[allow(dead_code)]
pub const ENVIRONMENT: u8 = 3;

/// How a command that ran to completion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the answer is a clean "no" (invalid document, failed verification).
    Failed,
}

/// An error on its way to the user, with the exit code it earns.
#[derive(Debug)]
pub struct CliError {
    /// Exit code.
    pub code: u8,
    /// What went wrong, with context.
    pub error: anyhow::Error,
}

impl CliError {
    /// Bad input or usage (exit 2).
    pub fn input(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            code: USAGE,
            error: error.into(),
        }
    }

    /// An environment failure (exit 3).
    pub fn environment(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            code: ENVIRONMENT,
            error: error.into(),
        }
    }

    /// An error from a library crate, with the exit code its kind earns.
    pub fn kinded<E: stella_core::Kinded + Send + Sync + 'static>(error: E) -> Self {
        CliError {
            code: error.kind().exit_code(),
            error: anyhow::Error::new(error),
        }
    }

    /// Adds context (typically the file name) in front of the message.
    pub fn context(mut self, context: impl Display + Send + Sync + 'static) -> Self {
        self.error = self.error.context(context);
        self
    }
}
